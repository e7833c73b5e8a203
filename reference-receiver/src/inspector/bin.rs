//! Bins: where captures go, what each answers, and what it checks.
//!
//! A bin's settings arrive as JSON (`POST /api/bins`, `PATCH /api/bins/{token}`) in the same
//! shape as an endpoint's config: `verify`, `envelope`, `mapping`, `ordering`, `ties`,
//! `dedupe`, plus `response` (the answer) and retention. The JSON is kept as given, secrets
//! included, so a restart rebuilds the same verifier; the API shows it with secrets redacted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderName, HeaderValue, StatusCode};
use receiver_sdk::envelope::{Envelope, Mapping};
use receiver_sdk::ordering::{OrderingScope, TiePolicy};
use receiver_sdk::verify::Verifier;
use receiver_sdk::{Assessor, Receiver, Secret};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{
    EnvelopeKind, HandshakeConfig, InspectorConfig, OrderingSetting, VerifyConfig,
};

/// The longest alias or token.
const MAX_TOKEN_LEN: usize = 64;

/// A bin's settings as the API takes them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    response: ResponseSpec,
    #[serde(default, deserialize_with = "crate::config::deserialize_verify")]
    verify: VerifyConfig,
    // Setup handshakes, as an endpoint's.
    #[serde(default = "yes")]
    provider_handshake: bool,
    #[serde(default, rename = "handshake")]
    handshakes: Vec<HandshakeConfig>,
    #[serde(default = "raw")]
    envelope: EnvelopeKind,
    #[serde(default)]
    mapping: Option<Mapping>,
    #[serde(default)]
    ordering: Option<OrderingSetting>,
    #[serde(default)]
    ties: TiePolicy,
    #[serde(default = "yes")]
    dedupe: bool,
    #[serde(default)]
    max_captures: Option<usize>,
    #[serde(default)]
    max_age_secs: Option<u64>,
}

/// The most events of one batch a bin judges: each event judged is kept with its capture (its
/// fields and dedupe keys, so removing the capture forgets them), so a batch must not make a
/// capture many times larger than its body. A larger batch is judged `too_large` (413) with
/// this limit in its message.
const BIN_BATCH_LIMIT: usize = 100;

fn raw() -> EnvelopeKind {
    EnvelopeKind::Raw
}

fn yes() -> bool {
    true
}

/// How a bin answers captures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ResponseSpec {
    /// The status (a `/status/{code}` path overrides it).
    pub(crate) status: u16,
    /// The body; unset: a JSON note naming the capture.
    pub(crate) body: Option<String>,
    /// The body's content type; unset: `application/json` for the default body, else
    /// `text/plain; charset=utf-8`.
    pub(crate) content_type: Option<String>,
    /// Extra headers.
    pub(crate) headers: BTreeMap<String, String>,
    /// Answer CORS preflights and allow any origin.
    pub(crate) cors: bool,
    /// Wait this long after storing the capture before answering.
    pub(crate) delay_ms: u64,
}

impl Default for ResponseSpec {
    fn default() -> Self {
        Self {
            status: 200,
            body: None,
            content_type: None,
            headers: BTreeMap::new(),
            cors: false,
            delay_ms: 0,
        }
    }
}

impl ResponseSpec {
    /// The extra headers, checked.
    pub(crate) fn header_pairs(&self) -> Vec<(HeaderName, HeaderValue)> {
        self.headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::try_from(name.as_str()).ok()?,
                    HeaderValue::try_from(value.as_str()).ok()?,
                ))
            })
            .collect()
    }

    fn check(&self, limits: &InspectorConfig) -> Result<(), String> {
        if !(200..=599).contains(&self.status) || StatusCode::from_u16(self.status).is_err() {
            return Err(format!(
                "response.status {} is not a status from 200 to 599",
                self.status
            ));
        }
        if self.delay_ms > limits.max_delay_ms {
            return Err(format!(
                "response.delay_ms {} is over inspector.max_delay_ms ({})",
                self.delay_ms, limits.max_delay_ms
            ));
        }
        if let Some(content_type) = &self.content_type {
            HeaderValue::try_from(content_type.as_str())
                .map_err(|_| "response.content_type is not a valid header value".to_owned())?;
        }
        for (name, value) in &self.headers {
            HeaderName::try_from(name.as_str())
                .map_err(|_| format!("response.headers: `{name}` is not a header name"))?;
            HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("response.headers: the value of `{name}` is not valid"))?;
        }
        Ok(())
    }
}

/// A bin's settings, compiled. `Debug` shows the redacted view only: `json` holds the bin's
/// secrets in clear.
pub(crate) struct Settings {
    /// As given, secrets included: what is stored.
    pub(crate) json: Value,
    /// The answer.
    pub(crate) response: ResponseSpec,
    /// The scheme's name, for verdicts (`none`, `standard-webhooks`, ...).
    pub(crate) scheme: String,
    /// The checks an endpoint with these settings makes on a request alone: the SDK's own.
    pub(crate) stage: Assessor,
    /// What equal timestamps would do.
    pub(crate) ties: TiePolicy,
    /// What a failed signature is diagnosed with.
    pub(crate) diagnosis: Diagnosis,
    /// Captures kept.
    pub(crate) max_captures: usize,
    /// Age at which captures are pruned.
    pub(crate) max_age: Duration,
    // The settings as the API shows them: secrets redacted.
    view: Value,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("scheme", &self.scheme)
            .field("max_captures", &self.max_captures)
            .field("max_age", &self.max_age)
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

/// What [`receiver_sdk::verify::diagnose`] needs to tell why a capture's signature failed: the
/// bin's verifier, its sender's catalogue name if it is one, and the secrets it was built from.
#[derive(Clone)]
pub(crate) struct Diagnosis {
    /// The bin's verifier.
    pub(crate) verifier: Verifier,
    /// The catalogue name of the bin's sender (`github`, `zoom`), if it is one.
    pub(crate) provider: Option<&'static str>,
    /// The secrets as configured.
    pub(crate) secrets: Vec<Secret>,
}

/// The settings as the API shows them.
#[derive(Serialize)]
struct View<'a> {
    response: &'a ResponseSpec,
    #[serde(serialize_with = "crate::config::serialize_verify")]
    verify: &'a VerifyConfig,
    provider_handshake: bool,
    #[serde(rename = "handshake", skip_serializing_if = "<[_]>::is_empty")]
    handshakes: &'a [HandshakeConfig],
    envelope: EnvelopeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    mapping: Option<&'a Mapping>,
    ordering: &'static str,
    ties: TiePolicy,
    dedupe: bool,
    max_captures: usize,
    max_age_secs: u64,
}

impl Settings {
    /// Compiles settings from their JSON, within the inspector's limits.
    pub(crate) fn from_json(mut json: Value, limits: &InspectorConfig) -> Result<Self, String> {
        // The alias names the bin (see `requested_alias`); it is no setting.
        if let Some(object) = json.as_object_mut() {
            object.remove("alias");
        }
        if json
            .get("verify")
            .is_some_and(crate::config::names_environment)
        {
            return Err(
                "verify: `*_env` keys are not read for bins; give the secret itself".into(),
            );
        }
        let spec: Spec = serde_path_to_error::deserialize(&json).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.inner().to_string()
            } else {
                format!("{path}: {}", e.inner())
            }
        })?;
        spec.response.check(limits)?;
        let verify = &spec.verify;
        match verify {
            VerifyConfig::Basic(basic) if basic.credentials().is_empty() => {
                return Err("verify: kind `basic` needs `user` and `password`".into())
            }
            VerifyConfig::Token(token) if token.secrets.is_empty() => {
                return Err("verify: kind `token` needs `secrets`".into())
            }
            _ => {}
        }
        let verifier = verify.build().map_err(|e| format!("verify: {e}"))?;
        for (i, handshake) in spec.handshakes.iter().enumerate() {
            if matches!(
                handshake,
                HandshakeConfig::Asana {
                    save_to: Some(_),
                    ..
                }
            ) {
                // A file path from the API would let any caller write where the receiver can.
                return Err(format!(
                    "handshake[{i}].save_to: not taken for bins; the capture shows X-Hook-Secret"
                ));
            }
            handshake
                .check(verify)
                .map_err(|(key, message)| format!("handshake[{i}].{key}: {message}"))?;
        }
        let handshakes =
            crate::config::handshakes(verify, &spec.handshakes, spec.provider_handshake);
        let envelope = match (spec.envelope.preset(), &spec.mapping) {
            (Some(preset), None) => preset,
            (None, Some(mapping)) => Envelope::Custom(mapping.clone()),
            _ => {
                return Err(
                    "envelope \"custom\" needs a `mapping`, and only it takes one".to_owned(),
                )
            }
        };
        let ordering = match spec.ordering {
            None => OrderingScope::default_for(&envelope),
            Some(setting) => setting.ordering(),
        };
        let max_captures = spec.max_captures.unwrap_or(limits.max_captures);
        let max_age_secs = spec.max_age_secs.unwrap_or(limits.max_age_secs);
        if max_captures == 0 || max_age_secs == 0 {
            return Err("max_captures and max_age_secs must be above 0".into());
        }
        // The `[inspector]` limits bound every bin: they are what bounds the disk and memory
        // any sender can fill.
        if max_captures > limits.max_captures {
            return Err(format!(
                "max_captures {max_captures} is over inspector.max_captures ({})",
                limits.max_captures
            ));
        }
        if max_age_secs > limits.max_age_secs {
            return Err(format!(
                "max_age_secs {max_age_secs} is over inspector.max_age_secs ({})",
                limits.max_age_secs
            ));
        }
        let scheme = verify.scheme().to_owned();
        let view = serde_json::to_value(View {
            response: &spec.response,
            verify,
            provider_handshake: spec.provider_handshake,
            handshakes: &spec.handshakes,
            envelope: spec.envelope,
            mapping: spec.mapping.as_ref(),
            ordering: match ordering {
                OrderingScope::PerEventType => "per-event-type",
                OrderingScope::PerEntity => "per-entity",
                _ => "off",
            },
            ties: spec.ties,
            dedupe: spec.dedupe,
            max_captures,
            max_age_secs,
        })
        .map_err(|e| e.to_string())?;
        let ties = spec.ties;
        // Named "": the keys it forms are the ones the bin's trees have always held (each bin
        // prefixes its own).
        let diagnosis = Diagnosis {
            verifier: verifier.clone(),
            provider: receiver_sdk::verify::providers().find(|name| *name == verify.scheme()),
            secrets: verify
                .secrets()
                .unwrap_or_default()
                .iter()
                .map(|secret| secret.0.clone())
                .collect(),
        };
        let mut stage = Receiver::builder("").verifier(verifier);
        for handshake in handshakes {
            stage = stage.handshake(handshake);
        }
        let stage = stage
            .envelope(envelope)
            .ordering(ordering)
            .ties(ties)
            .dedupe(spec.dedupe)
            .body_limit(limits.max_body_bytes)
            .batch_limit(BIN_BATCH_LIMIT)
            .assessor();
        Ok(Self {
            json,
            response: spec.response,
            scheme,
            stage,
            ties,
            diagnosis,
            max_captures,
            max_age: Duration::from_secs(max_age_secs),
            view,
        })
    }

    /// The settings with secrets redacted.
    pub(crate) fn view(&self) -> &Value {
        &self.view
    }
}

/// The alias a create request asks for, if any.
pub(crate) fn requested_alias(json: &Value) -> Result<Option<String>, String> {
    match json.get("alias") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(alias)) => {
            check_token(alias)?;
            Ok(Some(alias.clone()))
        }
        Some(_) => Err("alias must be a string".into()),
    }
}

/// Aliases are 3 to 64 letters, digits, `-` or `_`, so they sit in a URL path as they are.
fn check_token(token: &str) -> Result<(), String> {
    let fits = (3..=MAX_TOKEN_LEN).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        Ok(())
    } else {
        Err("alias must be 3 to 64 letters, digits, `-` or `_`".into())
    }
}

/// A new unguessable token: 128 random bits in hex.
pub(crate) fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// One bin. `Debug` by hand, as for [`Settings`]: no secret of the bin is printed.
pub(crate) struct Bin {
    /// The prefix of its captures, marks and delivery ids in the store. Unique per bin ever
    /// made, so a bin re-created under the same alias never sees its predecessor's data.
    pub(crate) key: u64,
    /// Its token or alias: the URL path segment.
    pub(crate) token: String,
    /// Whether the token is a user's alias.
    pub(crate) alias: bool,
    /// When it was made.
    pub(crate) created_at: DateTime<Utc>,
    // Swapped whole by PATCH; a capture uses the settings it started with.
    settings: RwLock<Arc<Settings>>,
    /// How many captures it holds. The lock also serialises one bin's captures, so judging,
    /// storing and pruning see a consistent count and would-be state.
    pub(crate) state: Mutex<BinState>,
}

impl std::fmt::Debug for Bin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bin")
            .field("key", &self.key)
            .field("token", &self.token)
            .field("alias", &self.alias)
            .field("created_at", &self.created_at)
            .field("settings", &self.settings())
            .field("count", &self.count())
            .finish()
    }
}

/// What changes with each capture.
#[derive(Debug, Default)]
pub(crate) struct BinState {
    /// Captures in the store.
    pub(crate) count: usize,
}

impl Bin {
    /// A bin with `count` captures already stored.
    pub(crate) fn new(
        key: u64,
        token: String,
        alias: bool,
        created_at: DateTime<Utc>,
        settings: Settings,
        count: usize,
    ) -> Self {
        Self {
            key,
            token,
            alias,
            created_at,
            settings: RwLock::new(Arc::new(settings)),
            state: Mutex::new(BinState { count }),
        }
    }

    /// The current settings.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the settings.
    pub(crate) fn set_settings(&self, settings: Settings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
    }

    /// The captures it holds.
    pub(crate) fn count(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).count
    }
}

/// Lays `over`'s top-level keys onto `base` (a PATCH).
pub(crate) fn merge(base: &Value, over: Value) -> Result<Value, String> {
    let mut merged = base.clone();
    match (merged.as_object_mut(), over) {
        (Some(base), Value::Object(over)) => {
            for (key, value) in over {
                base.insert(key, value);
            }
            Ok(merged)
        }
        _ => Err("expected a JSON object".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> InspectorConfig {
        InspectorConfig::default()
    }

    #[test]
    fn an_empty_spec_answers_200_and_checks_nothing() {
        let settings = Settings::from_json(json!({}), &limits()).unwrap();
        assert_eq!(settings.response.status, 200);
        assert_eq!(settings.scheme, "none");
        assert_eq!(settings.stage.ordering(), OrderingScope::Off);
        assert_eq!(settings.max_captures, 500);
    }

    #[test]
    fn secrets_are_kept_for_the_store_and_redacted_in_the_view() {
        let spec = json!({"verify": {"kind": "github", "secrets": ["hush-hush"]}});
        let settings = Settings::from_json(spec, &limits()).unwrap();
        assert!(settings.json.to_string().contains("hush-hush"));
        assert!(!settings.view().to_string().contains("hush-hush"));
        assert!(settings.view().to_string().contains("[redacted]"));
    }

    #[test]
    fn regression_debug_of_settings_and_bins_redacts_the_bins_secrets() {
        let spec = json!({"verify": {"kind": "github", "secrets": ["hush-hush"]}});
        let settings = Settings::from_json(spec, &limits()).unwrap();
        assert!(!format!("{settings:?}").contains("hush-hush"));
        let bin = Bin::new(1, "tok".into(), false, Utc::now(), settings, 0);
        let shown = format!("{bin:?}");
        assert!(
            !shown.contains("hush-hush") && shown.contains("[redacted]"),
            "{shown}"
        );
    }

    #[test]
    fn regression_retention_above_the_inspector_limits_is_refused_naming_the_key() {
        let limits = limits();
        let refused = |spec: Value| Settings::from_json(spec, &limits).unwrap_err();
        assert!(refused(json!({"max_age_secs": u64::MAX})).contains("inspector.max_age_secs"));
        assert!(refused(json!({"max_captures": 1_000_000_000})).contains("inspector.max_captures"));
        let at_limit =
            json!({"max_captures": limits.max_captures, "max_age_secs": limits.max_age_secs});
        assert!(Settings::from_json(at_limit, &limits).is_ok());
    }

    #[test]
    fn sonar_orders_by_default_as_endpoints_do() {
        let settings = Settings::from_json(json!({"envelope": "sonar"}), &limits()).unwrap();
        assert_eq!(settings.stage.ordering(), OrderingScope::PerEventType);
    }

    #[test]
    fn bad_settings_are_refused_with_the_key() {
        let limits = limits();
        let refused = |spec: Value| Settings::from_json(spec, &limits).unwrap_err();
        assert!(refused(json!({"response": {"status": 99}})).contains("response.status"));
        assert!(refused(json!({"response": {"delay_ms": 60000}})).contains("max_delay_ms"));
        assert!(refused(json!({"verify": {"kind": "github"}})).contains("no secrets"));
        assert!(
            refused(json!({"verify": {"kind": "github", "secrets_env": "HOME"}})).contains("_env")
        );
        assert!(refused(json!({"envelope": "custom"})).contains("mapping"));
        assert!(refused(json!({"colour": "blue"})).contains("colour"));
    }

    #[test]
    fn aliases_are_url_safe_words() {
        assert!(requested_alias(&json!({"alias": "my-hook_1"})).is_ok());
        assert!(requested_alias(&json!({"alias": "../x"})).is_err());
        assert!(requested_alias(&json!({"alias": "ab"})).is_err());
        assert_eq!(new_token().unwrap().len(), 32);
    }

    #[test]
    fn patch_replaces_top_level_keys_only() {
        let base = json!({"response": {"status": 500}, "envelope": "sonar"});
        let merged = merge(&base, json!({"response": {"status": 201}})).unwrap();
        assert_eq!(
            merged,
            json!({"response": {"status": 201}, "envelope": "sonar"})
        );
    }
}

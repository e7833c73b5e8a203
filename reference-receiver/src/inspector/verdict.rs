//! Verdicts: what a receiver endpoint with a bin's settings would have answered, and why.
//!
//! The checks run in the SDK's order (method, size, signature, content type, JSON, envelope,
//! test delivery, dedupe, ordering) and stop at the first that fails, as an endpoint would;
//! the signature and envelope results are shown whatever the outcome. Dedupe and ordering
//! need state: [`assess`] says what to look up, and the store answers it under the bin's lock
//! ([`Pending`]), in the bin's own trees.

use std::time::SystemTime;

use http::{header, HeaderMap, HeaderValue, Method};
use receiver_sdk::envelope::EventMeta;
use receiver_sdk::ordering::{Ordering, TiePolicy};
use receiver_sdk::store::OrderingKey;
use receiver_sdk::Outcome;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bin::Settings;

/// The verdicts on one capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Verdicts {
    /// The outcome an endpoint would have answered (`handled`, `unauthorized`, `stale`, ...,
    /// or `probe` for HEAD).
    pub(crate) outcome: String,
    /// The status it would have answered with.
    pub(crate) status: u16,
    /// Why.
    pub(crate) message: String,
    /// The signature or credentials check.
    pub(crate) signature: Signature,
    /// The event as the envelope reads it.
    #[serde(default)]
    pub(crate) event: Option<Event>,
    /// `fresh`, `stale` or `duplicate`, when the capture got that far.
    #[serde(default)]
    pub(crate) ordering: Option<String>,
    /// What retries of one delivery share: the sender's delivery id, or `sha256:` of the body.
    pub(crate) delivery: String,
}

/// The signature or credentials check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Signature {
    /// The scheme (`none`, `standard-webhooks`, `basic`, ...).
    pub(crate) scheme: String,
    /// Whether it passed; `None` when not checked (HEAD).
    pub(crate) passed: Option<bool>,
    /// Which check failed.
    #[serde(default)]
    pub(crate) reason: Option<String>,
}

/// The event fields an envelope read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Event {
    /// The event type.
    pub(crate) event_type: String,
    /// The entity's kind.
    pub(crate) entity_type: Option<String>,
    /// The entity.
    pub(crate) entity_id: Option<String>,
    /// When the sender says it happened (RFC 3339).
    pub(crate) created_at: Option<String>,
    /// The sender's delivery id.
    pub(crate) delivery_id: Option<String>,
    /// A sender's connectivity test.
    pub(crate) test: bool,
}

/// The lookups left for the store: dedupe and ordering.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// The delivery key, when dedupe is on.
    pub(crate) delivery: Option<Vec<u8>>,
    /// The ordering key and the event time (ns), when ordering is on.
    pub(crate) mark: Option<(Vec<u8>, i64)>,
    /// What equal times do.
    pub(crate) ties: TiePolicy,
}

/// What the store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judgement {
    /// Neither seen nor older than the mark.
    Fresh,
    /// The delivery was handled before.
    Duplicate,
    /// Older than the newest handled event for its key (the mark, ns).
    Stale(i64),
}

/// The first verdicts on a capture, and what is left to look up.
pub(crate) fn assess(
    settings: &Settings,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    truncated: bool,
    now: SystemTime,
) -> (Verdicts, Option<Pending>) {
    let mut verdicts = Verdicts {
        signature: Signature {
            scheme: settings.scheme.clone(),
            passed: None,
            reason: None,
        },
        delivery: body_hash(body),
        ..Verdicts::default()
    };
    if method == Method::HEAD {
        verdicts.outcome = "probe".into();
        verdicts.status = 200;
        verdicts.message = "a reachability probe: no body, nothing checked".into();
        return (verdicts, None);
    }
    let (outcome, pending) = check(
        settings,
        method,
        headers,
        body,
        truncated,
        now,
        &mut verdicts,
    );
    set_outcome(&mut verdicts, &outcome);
    (verdicts, pending)
}

fn check(
    settings: &Settings,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    truncated: bool,
    now: SystemTime,
    verdicts: &mut Verdicts,
) -> (Outcome, Option<Pending>) {
    if truncated {
        return (Outcome::TooLarge { limit: body.len() }, None);
    }
    let signature = settings.verifier.verify(headers, body, now);
    verdicts.signature.passed = Some(signature.is_ok());
    verdicts.signature.reason = signature.as_ref().err().map(ToString::to_string);
    let parsed = serde_json::from_slice::<serde_json::Value>(body);
    let extracted = parsed
        .as_ref()
        .ok()
        .map(|value| settings.envelope.extract(headers, value));
    if let Some(Ok(event)) = &extracted {
        if let Some(id) = &event.delivery_id {
            verdicts.delivery = id.clone();
        }
        verdicts.event = Some(view(event));
    }
    if method != Method::POST {
        return (Outcome::MethodNotAllowed, None);
    }
    if let Err(failure) = signature {
        let outcome = Outcome::Unauthorized {
            reason: failure.to_string(),
            challenge: None,
        };
        return (outcome, None);
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        if !is_json(content_type) {
            let shown = String::from_utf8_lossy(content_type.as_bytes()).into_owned();
            return (Outcome::UnsupportedMediaType(shown), None);
        }
    }
    if body.is_empty() {
        return (
            Outcome::Malformed("body is empty; expected JSON".into()),
            None,
        );
    }
    if let Err(e) = parsed {
        let outcome = Outcome::Malformed(format!("body is not valid JSON: {e}"));
        return (outcome, None);
    }
    let event = match extracted {
        Some(Ok(event)) => event,
        Some(Err(e)) => return (Outcome::Malformed(e.to_string()), None),
        None => return (Outcome::Malformed("body is not valid JSON".into()), None),
    };
    if event.test {
        return (Outcome::Ignored("test delivery acknowledged".into()), None);
    }
    let mark = match ordering_key(settings, &event) {
        Ok(mark) => mark,
        Err(outcome) => return (outcome, None),
    };
    let delivery = settings
        .dedupe
        .then(|| verdicts.delivery.as_bytes().to_vec());
    (
        Outcome::Handled,
        Some(Pending {
            delivery,
            mark,
            ties: settings.ties,
        }),
    )
}

/// Applies the store's judgement.
pub(crate) fn conclude(verdicts: &mut Verdicts, judgement: &Judgement, created_at: Option<i64>) {
    let outcome = match judgement {
        Judgement::Fresh => {
            verdicts.ordering = Some("fresh".into());
            Outcome::Handled
        }
        Judgement::Duplicate => {
            verdicts.ordering = Some("duplicate".into());
            Outcome::Duplicate
        }
        Judgement::Stale(mark) => {
            verdicts.ordering = Some("stale".into());
            Outcome::Stale {
                created_at: created_at.unwrap_or(*mark),
                mark: receiver_sdk::outcome::Mark::Handled(*mark),
            }
        }
    };
    set_outcome(verdicts, &outcome);
}

fn set_outcome(verdicts: &mut Verdicts, outcome: &Outcome) {
    verdicts.outcome = outcome.name().into();
    verdicts.status = outcome.status().as_u16();
    verdicts.message = match outcome {
        Outcome::Handled => "would be handled".into(),
        Outcome::MethodNotAllowed => "an endpoint answers only HEAD and POST".into(),
        other => other.message(),
    };
}

/// The ordering key and time, as the SDK forms them (its messages too).
fn ordering_key(settings: &Settings, event: &EventMeta) -> Result<Option<(Vec<u8>, i64)>, Outcome> {
    if settings.ordering == Ordering::Off {
        return Ok(None);
    }
    let created_at = event.created_at.ok_or_else(|| {
        Outcome::Malformed(format!(
            "missing field `{}`: the ordering guard needs the event time",
            settings.envelope.created_at_field()
        ))
    })?;
    let nanos = created_at
        .timestamp_nanos_opt()
        .ok_or_else(|| Outcome::Malformed("event time is outside the supported range".into()))?;
    let entity_id = event.entity_id.clone().ok_or_else(|| {
        Outcome::Malformed("missing entity id: the ordering guard needs it".into())
    })?;
    let key = OrderingKey {
        endpoint: String::new(),
        event_type: match settings.ordering {
            Ordering::PerEventType => event.event_type.clone(),
            _ => String::new(),
        },
        entity_type: event.entity_type.clone().unwrap_or_default(),
        entity_id,
    };
    Ok(Some((key.encode(), nanos)))
}

fn view(event: &EventMeta) -> Event {
    Event {
        event_type: event.event_type.clone(),
        entity_type: event.entity_type.clone(),
        entity_id: event.entity_id.clone(),
        created_at: event.created_at.map(|t| t.to_rfc3339()),
        delivery_id: event.delivery_id.clone(),
        test: event.test,
    }
}

/// JSON content types, as the SDK accepts them: `application/json`, `text/json`, `*+json`.
fn is_json(content_type: &HeaderValue) -> bool {
    let essence = content_type
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application" | "text", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

fn body_hash(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InspectorConfig;
    use receiver_sdk::verify::sign;
    use serde_json::json;

    fn settings(spec: serde_json::Value) -> Settings {
        Settings::from_json(spec, &InspectorConfig::default()).unwrap()
    }

    fn post(settings: &Settings, headers: &HeaderMap, body: &[u8]) -> (Verdicts, Option<Pending>) {
        assess(
            settings,
            &Method::POST,
            headers,
            body,
            false,
            SystemTime::now(),
        )
    }

    #[test]
    fn a_valid_standard_webhooks_delivery_would_be_handled_and_a_forged_one_not() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let settings = settings(json!({
            "verify": {"kind": "standard-webhooks", "secrets": [secret]},
            "envelope": "standard-webhooks"
        }));
        let body =
            br#"{"type":"invoice.paid","timestamp":"2024-01-01T00:00:00Z","data":{"id":"in_1"}}"#;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        let signature = sign::standard_webhooks(secret, "msg_1", now, body).unwrap();
        headers.insert("webhook-signature", signature.parse().unwrap());

        let (verdicts, pending) = post(&settings, &headers, body);
        assert_eq!(verdicts.outcome, "handled");
        assert_eq!(verdicts.signature.passed, Some(true));
        let event = verdicts.event.unwrap();
        assert_eq!(
            (event.event_type.as_str(), event.entity_id.as_deref()),
            ("invoice.paid", Some("in_1"))
        );
        assert_eq!(verdicts.delivery, "msg_1");
        assert!(pending.unwrap().delivery.is_some());

        let (verdicts, pending) = post(&settings, &headers, b"{\"type\":\"forged\"}");
        assert_eq!(
            (verdicts.outcome.as_str(), verdicts.status),
            ("unauthorized", 401)
        );
        assert_eq!(
            verdicts.signature.reason.as_deref(),
            Some("no signature matches")
        );
        assert!(pending.is_none());
    }

    #[test]
    fn form_posts_would_be_refused_as_an_endpoint_refuses_them() {
        let settings = settings(json!({}));
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let (verdicts, _) = post(&settings, &headers, b"a=1&b=2");
        assert_eq!(
            (verdicts.outcome.as_str(), verdicts.status),
            ("unsupported_media_type", 415)
        );
        assert!(verdicts.delivery.starts_with("sha256:"));
    }

    #[test]
    fn ordering_needs_the_event_time() {
        let settings = settings(json!({"envelope": "sonar"}));
        let (verdicts, _) = post(
            &settings,
            &HeaderMap::new(),
            br#"{"event":"a.b","object_id":1}"#,
        );
        assert_eq!(verdicts.outcome, "malformed");
        assert!(
            verdicts.message.contains("current.created_at"),
            "{}",
            verdicts.message
        );
    }

    #[test]
    fn head_is_a_probe_and_other_methods_are_not_endpoint_traffic() {
        let settings = settings(json!({}));
        let outcome = |method: Method| {
            let now = SystemTime::now();
            assess(&settings, &method, &HeaderMap::new(), b"{}", false, now)
                .0
                .outcome
        };
        assert_eq!(outcome(Method::HEAD), "probe");
        assert_eq!(outcome(Method::PUT), "method_not_allowed");
    }

    #[test]
    fn stale_verdicts_name_both_times() {
        let mut verdicts = Verdicts::default();
        conclude(
            &mut verdicts,
            &Judgement::Stale(2_000_000_000),
            Some(1_000_000_000),
        );
        assert_eq!(verdicts.outcome, "stale");
        assert!(
            verdicts.message.contains("1970-01-01T00:00:01"),
            "{}",
            verdicts.message
        );
    }
}

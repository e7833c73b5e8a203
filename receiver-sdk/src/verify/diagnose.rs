//! Why a signature failed, where that can be told: the checks an integration engineer would
//! make by hand, made by trying the delivery again a few other ways.
//!
//! A diagnosis is for the people configuring an endpoint (the inspector shows it beside a
//! refused delivery); it is never sent to the sender. It names forms and distances, never a
//! secret or an expected signature.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{providers, FailureKind, SignedRequest, Verifier};
use crate::Secret;

/// The largest body diagnosed, in bytes. Each diagnosis verifies the delivery a few dozen times;
/// the bound keeps a stream of bad deliveries from costing more than a millisecond or so each.
pub const MAX_DIAGNOSED_BODY: usize = 16 * 1024;

/// The widest tolerance tried when looking for how far outside it a timestamp is.
const WIDEST: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The likely cause of a failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The signature is right, but its timestamp is outside the tolerance.
    Timestamp {
        /// Whether the timestamp is in the past (a late delivery or a replay) rather than the
        /// future (a clock running ahead).
        late: bool,
        /// How far the timestamp is from now, to the second.
        off_by: Duration,
        /// The tolerance it was judged by.
        tolerance: Duration,
    },
    /// The delivery verifies with the body's JSON written another way: something between the
    /// sender and here re-serialised it (a framework's body parser, a proxy, a test tool).
    Reserialised {
        /// The form that verifies, such as "compact JSON".
        form: &'static str,
    },
    /// A configured secret verifies when written another way.
    SecretForm {
        /// Its position in the configured list, from 0.
        index: usize,
        /// How, such as "without its `whsec_` prefix".
        how: &'static str,
    },
    /// The delivery verifies as another sender of the catalogue, with the same secrets.
    OtherProvider {
        /// That sender's name.
        name: &'static str,
    },
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timestamp {
                late,
                off_by,
                tolerance,
            } => write!(
                f,
                "the signature is valid, but its timestamp is {}s {} (the tolerance is {}s): {}",
                off_by.as_secs(),
                if *late { "old" } else { "in the future" },
                tolerance.as_secs(),
                if *late {
                    "a late delivery, a replay, or a sender resending an old signed request"
                } else {
                    "the sender's clock or this machine's is wrong"
                }
            ),
            Self::Reserialised { form } => write!(
                f,
                "the body verifies when written as {form}: it was re-serialised on the way; \
                 verify the raw bytes as received, before any JSON parsing"
            ),
            Self::SecretForm { index, how } => {
                write!(f, "secret {index} verifies when used {how}")
            }
            Self::OtherProvider { name } => write!(
                f,
                "the delivery verifies as `{name}` with these secrets: is the endpoint set \
                 for the right sender?"
            ),
        }
    }
}

/// What `verifier` (built for the catalogue sender `provider`, when it is one, from `secrets`)
/// would say is wrong with a delivery it refuses; `None` when it accepts it or no cause is found.
///
/// Tried in order: the timestamp alone (the signature verifies with a wider tolerance), the
/// secrets written another way (with or without `whsec_`, base64 decoded or encoded, trimmed),
/// the body's JSON re-encoded, and every other sender of the catalogue. Bodies over
/// [`MAX_DIAGNOSED_BODY`] get only the timestamp check.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::{HeaderMap, Method};
/// use receiver_sdk::verify::{diagnose, sign, SignedRequest, Verifier};
///
/// let body = br#"{"type":"invoice.paid"}"#;
/// let mut headers = HeaderMap::new();
/// headers.insert("x-hub-signature", sign::bitbucket("s3cret", body).parse()?);
/// // The endpoint was set up as GitHub, which signs the same way under another header.
/// let github = Verifier::provider("github", ["s3cret"])?;
/// let request = SignedRequest::new(&Method::POST, "https://hooks.example.com/in", &headers, body);
/// let cause = diagnose(&github, Some("github"), &["s3cret".into()], &request, UNIX_EPOCH);
/// assert_eq!(cause.map(|c| c.to_string()).as_deref(), Some(
///     "the delivery verifies as `bitbucket` with these secrets: is the endpoint set for the right sender?"
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diagnose(
    verifier: &Verifier,
    provider: Option<&str>,
    secrets: &[Secret],
    request: &SignedRequest<'_>,
    now: SystemTime,
) -> Option<Cause> {
    let body = request.body;
    let failure = verifier.verify_request(request, now).err()?;
    if let late @ (FailureKind::TimestampExpired | FailureKind::TimestampInFuture) = failure.kind()
    {
        let late = matches!(late, FailureKind::TimestampExpired);
        return timestamp(verifier, request, now, late);
    }
    if body.len() > MAX_DIAGNOSED_BODY {
        return None;
    }
    let verifies = |candidate: &Verifier, body: &[u8]| {
        let request = SignedRequest { body, ..*request };
        candidate.verify_request(&request, now).is_ok()
    };
    if let Some(name) = provider {
        if let Some(cause) = secret_forms(name, secrets, |v| {
            verifies(&v.with_tolerance(verifier.tolerance), body)
        }) {
            return Some(cause);
        }
    }
    if let Some(form) = reserialised(body).find(|(_, candidate)| verifies(verifier, candidate)) {
        return Some(Cause::Reserialised { form: form.0 });
    }
    // Catalogue names are public: comparing them tells nothing.
    providers()
        .filter(|other| Some(*other) != provider) // a public provider name
        .find(|other| {
            Verifier::provider(other, secrets.iter().cloned())
                .is_ok_and(|candidate| verifies(&candidate, body))
        })
        .map(|name| Cause::OtherProvider { name })
}

/// How far outside the tolerance the timestamp is, if the signature verifies at all: the
/// smallest tolerance that accepts it, found by bisection to the second.
fn timestamp(
    verifier: &Verifier,
    request: &SignedRequest<'_>,
    now: SystemTime,
    late: bool,
) -> Option<Cause> {
    let accepts = |secs: u64| {
        verifier
            .clone()
            .with_tolerance(Duration::from_secs(secs))
            .verify_request(request, now)
            .is_ok()
    };
    let (mut low, mut high) = (verifier.tolerance.as_secs(), WIDEST.as_secs());
    if !accepts(high) {
        return None;
    }
    // `low` refuses, `high` accepts.
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if accepts(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(Cause::Timestamp {
        late,
        off_by: Duration::from_secs(high),
        tolerance: verifier.tolerance,
    })
}

/// The first secret that verifies written another way, by `verifies` of a verifier of the
/// sender `name` holding that form alone.
fn secret_forms(
    name: &str,
    secrets: &[Secret],
    verifies: impl Fn(Verifier) -> bool,
) -> Option<Cause> {
    for (index, secret) in secrets.iter().enumerate() {
        let text = String::from_utf8_lossy(secret.expose());
        let decoded = STANDARD.decode(text.trim()).ok();
        let forms: [(&'static str, Option<Vec<u8>>); 5] = [
            (
                "without surrounding whitespace",
                // Trimming only removes bytes: a shorter result is a different secret.
                Some(text.trim().as_bytes().to_vec()).filter(|t| t.len() < secret.expose().len()),
            ),
            (
                "without its `whsec_` prefix",
                text.strip_prefix("whsec_")
                    .map(|rest| rest.as_bytes().to_vec()),
            ),
            (
                "with a `whsec_` prefix",
                (!text.starts_with("whsec_")).then(|| format!("whsec_{text}").into_bytes()),
            ),
            ("base64-decoded", decoded),
            (
                "base64-encoded",
                Some(STANDARD.encode(secret.expose()).into_bytes()),
            ),
        ];
        for (how, form) in forms {
            let Some(form) = form.filter(|form| !form.is_empty()) else {
                continue;
            };
            if Verifier::provider(name, [Secret::from(form)]).is_ok_and(&verifies) {
                return Some(Cause::SecretForm { index, how });
            }
        }
    }
    None
}

/// The body's JSON written the ways senders and frameworks write it, each with its name;
/// nothing when the body is not JSON. Keys keep their order and strings their escapes: only
/// the whitespace between tokens changes, as it does when a parser re-encodes.
fn reserialised(body: &[u8]) -> impl Iterator<Item = (&'static str, Vec<u8>)> {
    let json = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
    let forms = json.then(|| {
        let compact = minify(body);
        let two = indent(&compact, 2);
        let four = indent(&compact, 4);
        let mut newline = compact.clone();
        newline.push(b'\n');
        vec![
            ("compact JSON", compact),
            ("JSON indented by two spaces", two),
            ("JSON indented by four spaces", four),
            ("compact JSON with a final newline", newline),
        ]
    });
    let trimmed = body
        .strip_suffix(b"\n")
        .map(|rest| ("the body without its final newline", rest.to_vec()));
    forms.into_iter().flatten().chain(trimmed)
}

/// Each byte of valid JSON with whether it is inside a string (quotes included).
fn tokens(json: &[u8]) -> impl Iterator<Item = (u8, bool)> + '_ {
    let (mut inside, mut escaped) = (false, false);
    json.iter().map(move |&byte| {
        let was = inside;
        if inside {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => inside = false,
                _ => {}
            }
        } else if byte == b'"' {
            inside = true;
        }
        (byte, was || inside)
    })
}

/// Valid JSON without the whitespace between tokens.
fn minify(json: &[u8]) -> Vec<u8> {
    tokens(json)
        .filter(|&(byte, string)| string || !byte.is_ascii_whitespace())
        .map(|(byte, _)| byte)
        .collect()
}

/// Compact JSON indented as `JSON.stringify(value, null, width)` and serde_json's pretty
/// printer write it: one member per line, `": "` between key and value, empty containers
/// kept as `{}` and `[]`.
fn indent(compact: &[u8], width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let line = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.resize(out.len() + depth * width, b' ');
    };
    let mut bytes = tokens(compact).peekable();
    while let Some((byte, string)) = bytes.next() {
        if string {
            out.push(byte);
            continue;
        }
        match byte {
            b'{' | b'[' => {
                out.push(byte);
                let empty =
                    |&(next, _): &(u8, bool)| matches!((byte, next), (b'{', b'}') | (b'[', b']'));
                if let Some((next, _)) = bytes.next_if(empty) {
                    out.push(next);
                } else {
                    depth += 1;
                    line(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                line(&mut out, depth);
                out.push(byte);
            }
            b',' => {
                out.push(byte);
                line(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use http::{HeaderMap, HeaderValue, Method};

    use super::*;
    use crate::verify::sign;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                let value = HeaderValue::from_str(value).expect("visible ASCII");
                (http::HeaderName::from_static(name), value)
            })
            .collect()
    }

    fn provider(name: &str, secret: &str) -> Verifier {
        Verifier::provider(name, [secret]).expect("known")
    }

    /// The diagnosis of the catalogue sender `name` holding `secret` alone.
    fn cause_of(
        name: &str,
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Option<Cause> {
        let secrets = [Secret::from(secret)];
        let request = SignedRequest::new(&Method::POST, URL, headers, body);
        diagnose(&provider(name, secret), Some(name), &secrets, &request, now)
    }

    const URL: &str = "https://hooks.example.com/in";

    const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn an_old_timestamp_is_measured_to_the_second() {
        let body = b"{}";
        let signed = headers(&[("stripe-signature", sign::stripe("sk", 1_700_000_000, body))]);
        let cause = cause_of("stripe", "sk", &signed, body, at(1_700_000_000 + 4000));
        assert_eq!(
            cause,
            Some(Cause::Timestamp {
                late: true,
                off_by: Duration::from_secs(4000),
                tolerance: Duration::from_secs(300)
            })
        );
        let future = cause_of("stripe", "sk", &signed, body, at(1_700_000_000 - 301));
        assert!(
            matches!(future, Some(Cause::Timestamp { late: false, off_by, .. }) if off_by.as_secs() == 301)
        );
    }

    #[test]
    fn an_old_timestamp_with_a_bad_signature_is_not_blamed_on_the_clock() {
        let body = b"{}";
        let signed = headers(&[(
            "stripe-signature",
            sign::stripe("other", 1_700_000_000, body),
        )]);
        let cause = cause_of("stripe", "sk", &signed, body, at(1_800_000_000));
        assert_eq!(cause, None);
    }

    #[test]
    fn a_reserialised_body_is_told_apart() {
        let signed_body = br#"{"type":"invoice.paid","data":{"id":"in_1"}}"#;
        let received =
            b"{\n  \"type\": \"invoice.paid\",\n  \"data\": {\n    \"id\": \"in_1\"\n  }\n}";
        let signed = headers(&[("x-hub-signature-256", sign::github("s", signed_body))]);
        let cause = cause_of("github", "s", &signed, received, at(0));
        assert_eq!(
            cause,
            Some(Cause::Reserialised {
                form: "compact JSON"
            })
        );
    }

    #[test]
    fn a_standard_webhooks_secret_pasted_to_stripe_is_told_apart() {
        // Stripe's secret is `whsec_...` used as text; a user who strips the prefix breaks it.
        let body = b"{}";
        let signed = headers(&[("stripe-signature", sign::stripe(WHSEC, 1_700_000_000, body))]);
        let stripped = WHSEC.strip_prefix("whsec_").unwrap();
        let cause = cause_of("stripe", stripped, &signed, body, at(1_700_000_000));
        assert_eq!(
            cause,
            Some(Cause::SecretForm {
                index: 0,
                how: "with a `whsec_` prefix"
            })
        );
    }

    #[test]
    fn a_secret_with_a_trailing_newline_is_told_apart() {
        let body = b"{}";
        let signed = headers(&[("x-hub-signature-256", sign::github("s3cret", body))]);
        let pasted = "s3cret\n";
        let cause = cause_of("github", pasted, &signed, body, at(0));
        assert_eq!(
            cause,
            Some(Cause::SecretForm {
                index: 0,
                how: "without surrounding whitespace"
            })
        );
    }

    #[test]
    fn the_wrong_sender_chosen_is_named() {
        let body = b"{}";
        let signed = headers(&[("x-hub-signature", sign::bitbucket("s", body))]);
        let cause = cause_of("github-sha1", "s", &signed, body, at(0));
        assert_eq!(cause, Some(Cause::OtherProvider { name: "bitbucket" }));
    }

    #[test]
    fn a_forgery_has_no_cause_and_an_accepted_delivery_none_either() {
        let body = b"{}";
        let forged = headers(&[("x-hub-signature-256", sign::github("guess", body))]);
        assert_eq!(cause_of("github", "s", &forged, body, at(0)), None);
        let signed = headers(&[("x-hub-signature-256", sign::github("s", body))]);
        assert_eq!(cause_of("github", "s", &signed, body, at(0)), None);
    }

    #[test]
    fn a_large_body_gets_only_the_timestamp_check() {
        // Under the bound this would be named as Bitbucket's (see the test above).
        let body = vec![b' '; MAX_DIAGNOSED_BODY + 1];
        let signed = headers(&[("x-hub-signature", sign::bitbucket("s", &body))]);
        let cause = cause_of("github-sha1", "s", &signed, &body, at(0));
        assert_eq!(cause, None);
        let small = &body[..MAX_DIAGNOSED_BODY];
        let signed = headers(&[("x-hub-signature", sign::bitbucket("s", small))]);
        let cause = cause_of("github-sha1", "s", &signed, small, at(0));
        assert_eq!(cause, Some(Cause::OtherProvider { name: "bitbucket" }));
    }

    #[test]
    fn re_encodings_keep_key_order_and_string_contents() {
        let body = br#"{ "b": [1, {}], "a": "x, \"y\": {z}", "c": [] }"#;
        let compact = minify(body);
        assert_eq!(compact, br#"{"b":[1,{}],"a":"x, \"y\": {z}","c":[]}"#);
        let two = String::from_utf8(indent(&compact, 2)).unwrap();
        assert_eq!(
            two,
            "{\n  \"b\": [\n    1,\n    {}\n  ],\n  \"a\": \"x, \\\"y\\\": {z}\",\n  \"c\": []\n}"
        );
        // serde_json's own pretty printer agrees on what it can order the same way.
        let value: serde_json::Value =
            serde_json::from_slice(br#"{"a":[1,{"b":null}],"c":{}}"#).unwrap();
        let ours = indent(br#"{"a":[1,{"b":null}],"c":{}}"#, 2);
        assert_eq!(ours, serde_json::to_vec_pretty(&value).unwrap());
    }

    #[test]
    fn messages_name_forms_and_distances_never_a_secret() {
        let message = Cause::SecretForm {
            index: 1,
            how: "base64-decoded",
        }
        .to_string();
        assert_eq!(message, "secret 1 verifies when used base64-decoded");
        let late = Cause::Timestamp {
            late: true,
            off_by: Duration::from_secs(3700),
            tolerance: Duration::from_secs(300),
        };
        assert!(late.to_string().starts_with(
            "the signature is valid, but its timestamp is 3700s old (the tolerance is 300s)"
        ));
    }
}

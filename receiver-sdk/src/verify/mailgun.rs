//! Mailgun: the signature travels in the body, not in a header, as Mailgun's "Securing
//! Webhooks" page describes.
//!
//! Webhooks post JSON `{"signature": {"timestamp", "token", "signature"}, "event-data": ..}`;
//! routes and legacy webhooks post the same three as form fields (`timestamp`, `token`,
//! `signature`), URL-encoded or `multipart/form-data`. The signature is the hex HMAC-SHA256 of
//! `timestamp` and `token` concatenated, keyed with the domain's webhook signing key. An event
//! of a subaccount also carries `parent-signature`, the same keyed with the primary account's
//! key: either one matching a configured key passes.
//!
//! The signature covers the timestamp and the token, not the event: Mailgun's scheme proves a
//! delivery came from Mailgun recently, and the token is unique per delivery, so a receiver
//! keeps tokens it has seen (the endpoint's dedupe, keyed on the token) to refuse replays.

use std::borrow::Cow;

use http::{header::CONTENT_TYPE, HeaderMap};
use serde::Deserialize;

use super::{decode_hex_tag, Clock, FailureKind, MacKeys};

/// What the clock names should the timestamp not parse; Mailgun sends it in no header, so any
/// such failure is reported as [`MALFORMED`] instead.
const TIMESTAMP_PLACE: http::HeaderName = http::HeaderName::from_static("timestamp");

const NO_SIGNATURE: FailureKind = FailureKind::Other {
    check: "no Mailgun signature (timestamp, token, signature) in the body",
};
const MALFORMED: FailureKind = FailureKind::Other {
    check: "malformed Mailgun signature in the body",
};

/// The three signed fields, as sent.
#[derive(Debug, Deserialize)]
struct Signed<'b> {
    #[serde(borrow)]
    timestamp: Cow<'b, str>,
    #[serde(borrow)]
    token: Cow<'b, str>,
    #[serde(borrow)]
    signature: Cow<'b, str>,
    #[serde(borrow, rename = "parent-signature", default)]
    parent_signature: Option<Cow<'b, str>>,
}

#[derive(Debug, Deserialize)]
struct Envelope<'b> {
    #[serde(borrow)]
    signature: Signed<'b>,
}

#[derive(Debug, Clone)]
pub(super) struct Mailgun {
    keys: MacKeys,
}

impl Mailgun {
    pub(super) fn new(keys: MacKeys) -> Self {
        Self { keys }
    }

    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        clock: Clock,
    ) -> Result<(), FailureKind> {
        let signed = signed_fields(headers, body).ok_or(NO_SIGNATURE)?;
        let timestamp = signed.timestamp.as_ref();
        if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MALFORMED);
        }
        clock
            .check(&TIMESTAMP_PLACE, timestamp)
            .map_err(|failure| match failure {
                FailureKind::MalformedHeader { .. } => MALFORMED,
                other => other,
            })?;
        // A garbled parent signature cannot veto a valid signature beside it.
        let tags: Vec<_> = std::iter::once(&signed.signature)
            .chain(signed.parent_signature.as_ref())
            .filter_map(|signature| decode_hex_tag(signature))
            .collect();
        if tags.is_empty() {
            return Err(MALFORMED);
        }
        let message = [timestamp.as_bytes(), signed.token.as_bytes()];
        if self.keys.any_matches(&message, tags.iter().copied()) {
            Ok(())
        } else {
            Err(FailureKind::SignatureMismatch)
        }
    }
}

/// The signed fields from the body, read as its `Content-Type` says: form fields for
/// URL-encoded and multipart posts, the `signature` object of JSON otherwise.
fn signed_fields<'b>(headers: &HeaderMap, body: &'b [u8]) -> Option<Signed<'b>> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => {
            let field = |name: &str| {
                form_urlencoded::parse(body)
                    .find(|(key, _)| key == name) // a public field name: "timestamp", "token", ..
                    .map(|(_, value)| value)
            };
            Some(Signed {
                timestamp: field("timestamp")?,
                token: field("token")?,
                signature: field("signature")?,
                parent_signature: field("parent-signature"),
            })
        }
        "multipart/form-data" => {
            let boundary = content_type.split(';').find_map(|parameter| {
                let (key, value) = parameter.trim().split_once('=')?;
                key.eq_ignore_ascii_case("boundary")
                    .then(|| value.trim_matches('"'))
            })?;
            let field = |name: &str| multipart_field(body, boundary, name).map(Cow::Borrowed);
            Some(Signed {
                timestamp: field("timestamp")?,
                token: field("token")?,
                signature: field("signature")?,
                parent_signature: field("parent-signature"),
            })
        }
        _ => serde_json::from_slice::<Envelope<'b>>(body)
            .ok()
            .map(|envelope| envelope.signature),
    }
}

/// The value of the text part `name` of a `multipart/form-data` body (RFC 7578), if it is
/// there once or more (the first is taken) and is UTF-8.
fn multipart_field<'b>(body: &'b [u8], boundary: &str, name: &str) -> Option<&'b str> {
    let delimiter = format!("--{boundary}");
    let wanted = format!("name=\"{name}\"");
    // A body with attachments need not be UTF-8: then only the text before the first byte
    // that is not is searched, which holds the signature fields (Mailgun sends them first).
    let end = match std::str::from_utf8(body) {
        Ok(_) => body.len(),
        Err(error) => error.valid_up_to(),
    };
    let text = std::str::from_utf8(&body[..end]).ok()?;
    text.split(delimiter.as_str()).find_map(|part| {
        let (head, value) = part.split_once("\r\n\r\n")?;
        let named = head.lines().any(|line| {
            let (header, rest) = line.split_once(':').unwrap_or(("", ""));
            header.trim().eq_ignore_ascii_case("content-disposition")
                && rest.split(';').any(|item| item.trim() == wanted)
        });
        named.then(|| value.strip_suffix("\r\n").unwrap_or(value))
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use http::HeaderValue;

    use crate::verify::test_support::{at, kind};
    use crate::verify::{sign, FailureKind, Verifier};

    use super::*;

    const KEY: &str = "key-7b9fd8e7a2f6c1b4e0d3";
    const TOKEN: &str = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";

    fn json_body(timestamp: u64, token: &str, signature: &str) -> Vec<u8> {
        serde_json::json!({
            "signature": {"timestamp": timestamp.to_string(), "token": token, "signature": signature},
            "event-data": {"event": "delivered", "id": "CPgfbmQMTCKtHW6uIWtuVe"},
        })
        .to_string()
        .into_bytes()
    }

    fn typed(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        headers
    }

    fn verifier() -> Verifier {
        Verifier::provider("mailgun", ["key-rotated-out", KEY]).expect("valid keys")
    }

    #[test]
    fn a_json_webhook_signed_with_the_key_verifies() {
        let signature = sign::mailgun(KEY, 1_700_000_000, TOKEN);
        let body = json_body(1_700_000_000, TOKEN, &signature);
        let headers = typed("application/json");
        assert_eq!(
            verifier().verify(&headers, &body, at(1_700_000_010)),
            Ok(())
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_then_token() {
        // Python: hmac.new(b"key-7b9fd8e7a2f6c1b4e0d3", b"1700000000" + token, sha256)
        assert_eq!(
            sign::mailgun(KEY, 1_700_000_000, TOKEN),
            "16290b447ccad3b1c1b6717b4b03e11a640432e37b8133949094194191053214"
        );
    }

    #[test]
    fn a_changed_token_or_timestamp_fails() {
        let signature = sign::mailgun(KEY, 1_700_000_000, TOKEN);
        let headers = typed("application/json");
        let other_token = json_body(1_700_000_000, &TOKEN.replacen('a', "b", 1), &signature);
        assert_eq!(
            kind(&verifier(), &headers, &other_token, at(1_700_000_000)),
            FailureKind::SignatureMismatch
        );
        let other_time = json_body(1_700_000_001, TOKEN, &signature);
        assert_eq!(
            kind(&verifier(), &headers, &other_time, at(1_700_000_000)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn an_old_timestamp_fails_within_the_tolerance_set() {
        let signature = sign::mailgun(KEY, 1_700_000_000, TOKEN);
        let body = json_body(1_700_000_000, TOKEN, &signature);
        let headers = typed("application/json");
        assert_eq!(
            kind(&verifier(), &headers, &body, at(1_700_000_000 + 301)),
            FailureKind::TimestampExpired
        );
        let lenient = verifier().with_tolerance(Duration::from_secs(900));
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 600);
        assert_eq!(lenient.verify(&headers, &body, now), Ok(()));
    }

    #[test]
    fn form_fields_of_a_route_post_verify_urlencoded_or_multipart() {
        let signature = sign::mailgun(KEY, 1_700_000_000, TOKEN);
        let form = format!(
            "recipient=bob%40example.com&timestamp=1700000000&token={TOKEN}&signature={signature}&body-plain=Hi"
        );
        let urlencoded = typed("application/x-www-form-urlencoded");
        assert_eq!(
            verifier().verify(&urlencoded, form.as_bytes(), at(1_700_000_000)),
            Ok(())
        );
        let multipart = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"timestamp\"\r\n\r\n1700000000\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{TOKEN}\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\n{signature}\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"body-plain\"\r\n\r\nHi\r\n--XyZ--\r\n"
        );
        let headers = typed("multipart/form-data; boundary=XyZ");
        assert_eq!(
            verifier().verify(&headers, multipart.as_bytes(), at(1_700_000_000)),
            Ok(())
        );
    }

    #[test]
    fn a_body_without_the_fields_or_with_a_garbled_signature_fails() {
        let headers = typed("application/json");
        let none = kind(&verifier(), &headers, br#"{"event-data":{}}"#, at(0));
        assert_eq!(none, NO_SIGNATURE);
        let garbled = json_body(1_700_000_000, TOKEN, "zz");
        assert_eq!(
            kind(&verifier(), &headers, &garbled, at(1_700_000_000)),
            MALFORMED
        );
        let bad_time = br#"{"signature":{"timestamp":"+1700000000","token":"t","signature":"00"}}"#;
        assert_eq!(
            kind(&verifier(), &headers, bad_time, at(1_700_000_000)),
            MALFORMED
        );
    }

    #[test]
    fn a_subaccount_event_verifies_with_the_parent_signature_of_the_primary_key() {
        let body = serde_json::json!({
            "signature": {
                "timestamp": "1700000000",
                "token": TOKEN,
                "signature": sign::mailgun("key-of-the-subaccount", 1_700_000_000, TOKEN),
                "parent-signature": sign::mailgun(KEY, 1_700_000_000, TOKEN),
            },
            "event-data": {"event": "delivered"},
        })
        .to_string();
        let headers = typed("application/json");
        assert_eq!(
            verifier().verify(&headers, body.as_bytes(), at(1_700_000_000)),
            Ok(())
        );
        let neither = body.replace(&sign::mailgun(KEY, 1_700_000_000, TOKEN), &"0".repeat(64));
        assert_eq!(
            kind(&verifier(), &headers, neither.as_bytes(), at(1_700_000_000)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn it_authenticates_no_body() {
        assert!(!verifier().authenticates_only_the_body());
    }
}

//! Twilio: `X-Twilio-Signature`, the base64 HMAC-SHA1 (keyed with the auth token) of the URL
//! followed by the sorted form parameters. A JSON body is not a form: Twilio then adds
//! `bodySHA256=<hex SHA-256 of the body>` to the URL it signs, the signature covers the URL
//! alone, and the body must have that hash.
//!
//! Twilio's own library (`twilio` 6.3.1 on npm, `validateRequest`) accepts the signature for
//! the URL as received, with the scheme's default port added, or with the port removed, since
//! Twilio signs the URL as configured and proxies add or drop the port; this does the same.
//! (It also re-encodes the query in two legacy forms, which this does not.) A webhook signed
//! with a SharedKey names its algorithm in `X-Twilio-Webhooks-Signature-Settings`
//! (`key=..,algorithm=HMAC_SHA256`); without that header, or without `algorithm=` in it, the
//! signature is HMAC-SHA1, as the library reads it.

use std::borrow::Cow;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use http::{HeaderMap, HeaderName};

use super::engine::{HmacAlgorithm, HmacScheme, SchemeHmac};
use crate::verify::{Clock, Delivery, FailureKind, SecretError, SignedRequest};
use crate::Secret;

/// The header a SharedKey-signed webhook names its algorithm in.
const SETTINGS: HeaderName = HeaderName::from_static("x-twilio-webhooks-signature-settings");

/// The Twilio verifier: the engine's scheme ([`super::schemes::twilio`]), run at each URL form
/// Twilio's library accepts, and the body hash for JSON bodies.
#[derive(Debug, Clone)]
pub(in crate::verify) struct Twilio {
    // The same secrets keyed for each algorithm a delivery may name.
    sha1: SchemeHmac,
    sha256: SchemeHmac,
}

impl Twilio {
    pub(in crate::verify) fn new(
        scheme: impl Fn() -> HmacScheme,
        secrets: Vec<Secret>,
    ) -> Result<Self, SecretError> {
        let keyed = |algorithm| {
            let scheme = HmacScheme {
                algorithm,
                ..scheme()
            };
            SchemeHmac::new(scheme, secrets.iter().cloned())
        };
        Ok(Self {
            sha1: keyed(HmacAlgorithm::Sha1)?,
            sha256: keyed(HmacAlgorithm::Sha256)?,
        })
    }

    pub(in crate::verify) fn verify(
        &self,
        delivery: &Delivery<'_>,
        clock: Clock,
    ) -> Result<(), FailureKind> {
        let request = delivery.request.ok_or(FailureKind::UrlNotGiven)?;
        let scheme = match algorithm(delivery.headers)? {
            HmacAlgorithm::Sha256 => &self.sha256,
            _ => &self.sha1,
        };
        let body_hash = body_hash(request.url);
        // With the body's hash in the signed URL, the form part is empty: the body is
        // authenticated through its hash instead.
        let signed_body = if body_hash.is_some() {
            &b""[..]
        } else {
            delivery.body
        };
        let at = |url: &str| {
            let request = SignedRequest { url, ..*request };
            let delivery = Delivery {
                body: signed_body,
                request: Some(&request),
                ..*delivery
            };
            scheme.verify(&delivery, clock)
        };
        // The URL as received first; the other forms only when it does not match.
        let mut result = at(request.url);
        if matches!(result, Err(FailureKind::UrlSignatureMismatch)) {
            for url in url_forms(request.url).iter().skip(1) {
                result = at(url);
                if !matches!(result, Err(FailureKind::UrlSignatureMismatch)) {
                    break;
                }
            }
        }
        result?;
        match body_hash {
            None => Ok(()),
            Some(sent) => {
                let actual = hex::encode(Sha256::digest(delivery.body));
                let matches: bool = actual.as_bytes().ct_eq(sent.as_bytes()).into();
                matches.then_some(()).ok_or(FailureKind::BodyHashMismatch)
            }
        }
    }
}

/// The algorithm `X-Twilio-Webhooks-Signature-Settings` names: HMAC-SHA1 when the header or
/// its `algorithm=` is absent or empty, as `getSignatureAlgorithm` reads it; a name other than
/// `HMAC_SHA1` or `HMAC_SHA256` (either case) makes the header malformed.
fn algorithm(headers: &HeaderMap) -> Result<HmacAlgorithm, FailureKind> {
    let malformed = || FailureKind::MalformedHeader { header: SETTINGS };
    let mut values = headers.get_all(SETTINGS).iter();
    let Some(value) = values.next() else {
        return Ok(HmacAlgorithm::Sha1);
    };
    if values.next().is_some() {
        return Err(FailureKind::DuplicateHeader { header: SETTINGS });
    }
    let value = value.to_str().map_err(|_| malformed())?;
    let named = value
        .split(',')
        .filter_map(|part| part.split_once('='))
        .find(|(key, value)| key.trim() == "algorithm" && !value.trim().is_empty())
        .map(|(_, value)| value.trim().to_ascii_uppercase());
    match named.as_deref() {
        None | Some("HMAC_SHA1") => Ok(HmacAlgorithm::Sha1),
        Some("HMAC_SHA256") => Ok(HmacAlgorithm::Sha256),
        Some(_) => Err(malformed()),
    }
}

/// The `bodySHA256` query parameter of `url`, decoded, if it has one.
pub(in crate::verify) fn body_hash(url: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    let query = query.split('#').next().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value.into_owned())
}

/// `url` as received, with the scheme's default port (`:443` for https, `:80` otherwise) if it
/// has none, and without its port: the forms Twilio's library tries, each once.
fn url_forms(url: &str) -> Vec<Cow<'_, str>> {
    let mut forms = vec![Cow::Borrowed(url)];
    if let Some(parts) = split(url) {
        let rest = &url[parts.rest..];
        let host = &url[..parts.host_end];
        let without = format!("{host}{rest}");
        let with = if parts.host_end < parts.rest {
            url.to_owned()
        } else {
            let port = if url[..parts.scheme_end].eq_ignore_ascii_case("https://") {
                ":443"
            } else {
                ":80"
            };
            format!("{host}{port}{rest}")
        };
        for form in [with, without].map(Cow::Owned) {
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    forms
}

/// Where a URL's parts begin, as Twilio's library splits it (without normalising anything).
struct Split {
    /// The end of `scheme://`.
    scheme_end: usize,
    /// Where the host ends: where its port (`:443`) begins, or `rest` when it has none.
    host_end: usize,
    /// Where the path (or query) begins.
    rest: usize,
}

fn split(url: &str) -> Option<Split> {
    let scheme_end = url.find("://")? + 3;
    let scheme = &url[..scheme_end - 3];
    let valid_scheme = scheme.chars().next()?.is_ascii_alphabetic()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    if !valid_scheme {
        return None;
    }
    let rest = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| scheme_end + at);
    let authority = &url[scheme_end..rest];
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_and_port = &authority[host_start..];
    // A colon begins the port only after the closing bracket of an IPv6 literal.
    let search_from = host_and_port.rfind(']').map_or(0, |at| at + 1);
    let host_end = host_and_port[search_from..]
        .find(':')
        .map_or(rest, |at| scheme_end + host_start + search_from + at);
    Some(Split {
        scheme_end,
        host_end,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms_add_the_default_port_or_remove_the_port() {
        let forms = |url| {
            url_forms(url)
                .into_iter()
                .map(Cow::into_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            forms("https://example.com/sms?x=1"),
            [
                "https://example.com/sms?x=1",
                "https://example.com:443/sms?x=1"
            ]
        );
        assert_eq!(
            forms("http://example.com:8080/sms"),
            ["http://example.com:8080/sms", "http://example.com/sms"]
        );
        assert_eq!(
            forms("http://user:pw@[::1]/voice"),
            [
                "http://user:pw@[::1]/voice",
                "http://user:pw@[::1]:80/voice"
            ]
        );
        assert_eq!(forms("/relative"), ["/relative"]);
    }

    #[test]
    fn the_settings_header_names_the_algorithm_as_twilios_library_reads_it() {
        let read = |value: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(SETTINGS, http::HeaderValue::from_static(value));
            }
            algorithm(&headers)
        };
        assert_eq!(read(None), Ok(HmacAlgorithm::Sha1));
        assert_eq!(read(Some("key=k1")), Ok(HmacAlgorithm::Sha1));
        assert_eq!(read(Some("key=k1, algorithm=")), Ok(HmacAlgorithm::Sha1));
        assert_eq!(
            read(Some("key=webhooks_sharedkey_1, algorithm = hmac_sha256")),
            Ok(HmacAlgorithm::Sha256)
        );
        assert_eq!(
            read(Some("algorithm=HMAC_MD5")),
            Err(FailureKind::MalformedHeader { header: SETTINGS })
        );
    }

    #[test]
    fn body_hash_is_read_from_the_query() {
        assert_eq!(
            body_hash("https://x.test/hook?a=1&bodySHA256=ab%63").as_deref(),
            Some("abc")
        );
        assert_eq!(body_hash("https://x.test/hook?a=1"), None);
        assert_eq!(body_hash("https://x.test/bodySHA256"), None);
    }
}

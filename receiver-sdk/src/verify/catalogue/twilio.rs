//! Twilio: `X-Twilio-Signature`, the base64 HMAC-SHA1 (keyed with the auth token) of the URL
//! followed by the sorted form parameters. A JSON body is not a form: Twilio then adds
//! `bodySHA256=<hex SHA-256 of the body>` to the URL it signs, the signature covers the URL
//! alone, and the body must have that hash.
//!
//! Twilio's own library (`twilio` 6.3.1 on npm, `validateRequest`) accepts the signature for
//! more than the URL as received, since Twilio signs the URL as configured while proxies add
//! or drop the port and back ends sign an escaped form of it; this accepts the same forms, in
//! the library's order, and tries them only when the URL as received does not match:
//!
//! 1. the URL as received, without its port, and with the scheme's default port added;
//! 2. the URL as `new URL()` normalises it (the WHATWG URL standard: scheme and host
//!    lower-cased, the default port dropped, dot segments resolved, `'` and other characters
//!    percent-encoded in the query), without its port and with the default port;
//! 3. each of those two with its query re-encoded as Node's legacy `querystring` module
//!    would (`stringify(parse(query))`): names and values decoded, `+` as a space, and
//!    encoded again as `encodeURIComponent` does, every value of a repeated name written
//!    together, and names that are array indices first, in numeric order, as JavaScript
//!    orders an object's keys.
//!
//! Node's `querystring.parse` reads only the first thousand parameters; this reads them all,
//! so a signature over a query cut short is not taken for a URL with more parameters after
//! the cut.
//!
//! A webhook signed with a SharedKey names its algorithm in
//! `X-Twilio-Webhooks-Signature-Settings` (`key=..,algorithm=HMAC_SHA256`); without that
//! header, or without `algorithm=` in it, the signature is HMAC-SHA1, as the library reads it.

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
        match at(request.url) {
            Err(FailureKind::UrlSignatureMismatch) => at_other_forms(request.url, &at)?,
            result => result?,
        }
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

/// The first answer of `at` other than a URL mismatch over the other forms of `url`, each
/// tried once; kept out of line, as a delivery that matches never needs it.
#[cold]
fn at_other_forms(
    url: &str,
    at: &dyn Fn(&str) -> Result<(), FailureKind>,
) -> Result<(), FailureKind> {
    let mut tried = vec![Cow::Borrowed(url)];
    for form in other_url_forms(url) {
        if tried.contains(&form) {
            continue;
        }
        match at(&form) {
            Err(FailureKind::UrlSignatureMismatch) => tried.push(form),
            result => return result,
        }
    }
    Err(FailureKind::UrlSignatureMismatch)
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

/// The forms of `url` Twilio's library tries besides `url` itself, in its order (see the
/// module docs), perhaps some twice; the normalised ones are made only if the first two are
/// used up.
fn other_url_forms(url: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let received = [without_port(url), with_port(url)];
    received
        .into_iter()
        .chain(std::iter::once_with(|| normalised_forms(url)).flatten())
}

/// `url` as `new URL()` normalises it, without its port and with the default one, then each
/// of those with its query re-encoded as Node's legacy `querystring` would; none if it is not
/// a URL `new URL()` takes (the library then throws, accepting nothing).
fn normalised_forms(url: &str) -> Vec<Cow<'static, str>> {
    let Ok(normalised) = url::Url::parse(url).map(String::from) else {
        return Vec::new();
    };
    let ported = [without_port(&normalised), with_port(&normalised)].map(Cow::into_owned);
    let legacy = ported.clone().map(|url| legacy_query(&url).into_owned());
    ported.into_iter().chain(legacy).map(Cow::Owned).collect()
}

/// `url` without its port (`removePort`).
fn without_port(url: &str) -> Cow<'_, str> {
    match split(url) {
        Some(parts) if parts.host_end < parts.rest => {
            Cow::Owned(format!("{}{}", &url[..parts.host_end], &url[parts.rest..]))
        }
        _ => Cow::Borrowed(url),
    }
}

/// `url` with the scheme's default port (`:443` for https, `:80` otherwise) if it has none
/// (`addPort`).
fn with_port(url: &str) -> Cow<'_, str> {
    match split(url) {
        // Offsets into the URL, a public value: no port between the host and the rest.
        Some(parts) if parts.host_end == parts.rest /* a public URL offset */ => {
            let port = if url[..parts.scheme_end].eq_ignore_ascii_case("https://") {
                ":443"
            } else {
                ":80"
            };
            let (host, rest) = url.split_at(parts.host_end);
            Cow::Owned(format!("{host}{port}{rest}"))
        }
        _ => Cow::Borrowed(url),
    }
}

/// What `encodeURIComponent` (and so Node's `querystring.escape`) leaves as it is.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `url` with everything after its first `?` re-encoded as `querystring.stringify(
/// querystring.parse(..))` writes it (`withLegacyQuerystring`), but over every parameter.
fn legacy_query(url: &str) -> Cow<'_, str> {
    let Some((base, query)) = url.split_once('?').filter(|(_, query)| !query.is_empty()) else {
        return Cow::Borrowed(url);
    };
    // A JavaScript object: one entry per name, in the order first seen, holding its values.
    let mut entries: Vec<(Cow<'_, str>, Vec<Cow<'_, str>>)> = Vec::new();
    let mut index: std::collections::HashMap<Cow<'_, str>, usize> =
        std::collections::HashMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match index.get(&name) {
            Some(&at) => entries[at].1.push(value),
            None => {
                index.insert(name.clone(), entries.len());
                entries.push((name, vec![value]));
            }
        }
    }
    // `Object.keys` lists array indices first, ascending; the sort is stable for the rest.
    entries.sort_by_key(|(name, _)| array_index(name).map_or((1, 0), |at| (0, at)));
    let mut out = format!("{base}?");
    let pairs = entries
        .iter()
        .flat_map(|(name, values)| values.iter().map(move |value| (name, value)));
    for (at, (name, value)) in pairs.enumerate() {
        if at > 0 {
            out.push('&');
        }
        out.extend(percent_encoding::utf8_percent_encode(name, URI_COMPONENT));
        out.push('=');
        out.extend(percent_encoding::utf8_percent_encode(value, URI_COMPONENT));
    }
    Cow::Owned(out)
}

/// `name` as a JavaScript array index: the canonical decimal of an integer below 2³² − 1.
fn array_index(name: &str) -> Option<u32> {
    let canonical = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_digit())
        && (name == "0" || !name.starts_with('0'));
    let at: u32 = name.parse().ok().filter(|_| canonical)?;
    (at < u32::MAX).then_some(at)
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
    fn the_received_url_loses_its_port_or_gains_the_default_one() {
        let forms = |url| [without_port(url), with_port(url)].map(Cow::into_owned);
        assert_eq!(
            forms("https://example.com/sms?x=1"),
            [
                "https://example.com/sms?x=1",
                "https://example.com:443/sms?x=1"
            ]
        );
        assert_eq!(
            forms("http://example.com:8080/sms"),
            ["http://example.com/sms", "http://example.com:8080/sms"]
        );
        assert_eq!(
            forms("http://user:pw@[::1]/voice"),
            [
                "http://user:pw@[::1]/voice",
                "http://user:pw@[::1]:80/voice"
            ]
        );
        assert_eq!(forms("/relative"), ["/relative", "/relative"]);
    }

    #[test]
    fn the_legacy_query_is_what_nodes_querystring_writes_back() {
        // Each expected query is `querystring.stringify(querystring.parse(query))` in Node 20.
        let cases = [
            ("b=2&a=1&b=3&10=x&2=y&02=z", "2=y&10=x&b=2&b=3&a=1&02=z"),
            (
                "name=Jane+Doe&return=https%3a//x.test/a?b",
                "name=Jane%20Doe&return=https%3A%2F%2Fx.test%2Fa%3Fb",
            ),
            ("e=%E9&bad=%ZZ%41&x", "e=%EF%BF%BD&bad=%25ZZA&x="),
            (
                "=v&&k=&4294967295=m&4294967294=n",
                "4294967294=n&=v&k=&4294967295=m",
            ),
            ("q=~!*()%27%20", "q=~!*()'%20"),
        ];
        for (query, legacy) in cases {
            let url = format!("https://x.test/h?{query}");
            assert_eq!(legacy_query(&url), format!("https://x.test/h?{legacy}"));
        }
        assert_eq!(legacy_query("https://x.test/h?"), "https://x.test/h?");
        assert_eq!(legacy_query("https://x.test/h"), "https://x.test/h");
    }

    #[test]
    fn the_normalised_forms_follow_the_received_ones_and_only_for_a_url() {
        let forms: Vec<_> = other_url_forms("HTTPS://Example.com:443/a/../sms?n=O'Brien+Jr")
            .map(Cow::into_owned)
            .collect();
        assert_eq!(
            forms,
            [
                "HTTPS://Example.com/a/../sms?n=O'Brien+Jr",
                "HTTPS://Example.com:443/a/../sms?n=O'Brien+Jr",
                "https://example.com/sms?n=O%27Brien+Jr",
                "https://example.com:443/sms?n=O%27Brien+Jr",
                "https://example.com/sms?n=O'Brien%20Jr",
                "https://example.com:443/sms?n=O'Brien%20Jr",
            ]
        );
        assert_eq!(other_url_forms("/relative?a=1").count(), 2);
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

//! One captured request, as stored and as the API shows it.
//!
//! Stored as `[received_at: i64 ms BE][meta length: u32 BE][meta JSON][body bytes]`: the time
//! up front lets pruning judge age without parsing, and the body stays the raw bytes, never
//! re-encoded.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::verdict::Verdicts;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One header as received. Names are lower case (as HTTP/2 sends them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    /// The name.
    pub(crate) name: String,
    /// The value as text (lossy when it is not UTF-8; then `value_base64` has the bytes).
    pub(crate) value: String,
    /// The exact bytes, only when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) value_base64: Option<String>,
}

impl Header {
    /// The value's exact bytes.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        match &self.value_base64 {
            Some(encoded) => BASE64.decode(encoded).unwrap_or_default(),
            None => self.value.as_bytes().to_vec(),
        }
    }
}

/// Every header in arrival order: names in the order they first appear, each name's values
/// in the order sent (a `HeaderMap` keeps no more than that).
pub(crate) fn headers_of(map: &HeaderMap) -> Vec<Header> {
    map.iter()
        .map(|(name, value)| header(name.as_str(), value.as_bytes()))
        .collect()
}

/// The headers of a request to a bin, as they are kept: [`headers_of`] without the
/// inspector's own cookie (see [`without_own_cookie`]).
pub(crate) fn captured_headers(map: &HeaderMap) -> Vec<Header> {
    without_own_cookie(headers_of(map))
}

/// The cookie the inspector's UI session travels in. It is scoped to `/ui` and `/api`, but a
/// cookie set by an older version (`Path=/`) or by another service on the same host name can
/// still reach `/in/...`; it is ours, not the sender's, so it is never kept, shown, exported,
/// replayed or forwarded.
pub(crate) use crate::access::SESSION_COOKIE as OWN_COOKIE;

/// Whether a cookie name is [`OWN_COOKIE`], in any case and with or without a `__Host-` or
/// `__Secure-` prefix (so a renamed session cookie is still caught).
fn is_own_cookie(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    let bare = name
        .strip_prefix("__host-")
        .or_else(|| name.strip_prefix("__secure-"))
        .unwrap_or(&name);
    bare == OWN_COOKIE
}

/// `headers` with [`OWN_COOKIE`] taken out of every `Cookie` header: the other cookies stay,
/// in order, and a header left empty goes. Applied when a capture is taken and again when a
/// stored one is read, so captures kept before this rule show no trace of it either.
pub(crate) fn without_own_cookie(headers: Vec<Header>) -> Vec<Header> {
    headers
        .into_iter()
        .filter_map(|h| {
            if h.name != "cookie" {
                return Some(h);
            }
            let bytes = h.bytes();
            let kept: Vec<&[u8]> = bytes
                .split(|b| *b == b';')
                .filter(|pair| {
                    let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
                    !is_own_cookie(&String::from_utf8_lossy(name)) && !pair.trim_ascii().is_empty()
                })
                .map(<[u8]>::trim_ascii)
                .collect();
            (!kept.is_empty()).then(|| header("cookie", &kept.join(&b"; "[..])))
        })
        .collect()
}

/// A header map of `headers` (in order, repeats kept), leaving out names in `skip` and any
/// pair that is not a valid header.
pub(crate) fn header_map(headers: &[Header], skip: &[&str]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for header in headers {
        if skip.contains(&header.name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(header.name.as_str()),
            HeaderValue::from_bytes(&header.bytes()),
        ) {
            map.append(name, value);
        }
    }
    map
}

fn header(name: &str, bytes: &[u8]) -> Header {
    match std::str::from_utf8(bytes) {
        Ok(text) => Header {
            name: name.to_owned(),
            value: text.to_owned(),
            value_base64: None,
        },
        Err(_) => Header {
            name: name.to_owned(),
            value: String::from_utf8_lossy(bytes).into_owned(),
            value_base64: Some(BASE64.encode(bytes)),
        },
    }
}

/// Everything about a capture but its body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// Unique across bins, increasing: later captures have larger ids.
    pub(crate) id: u64,
    /// The bin's token.
    pub(crate) bin: String,
    /// The method.
    pub(crate) method: String,
    /// The path as received (`/in/{token}/...`).
    pub(crate) path: String,
    /// The query string as received, without `?`.
    pub(crate) query: String,
    /// The headers, in order.
    pub(crate) headers: Vec<Header>,
    /// The peer's address.
    pub(crate) remote_addr: Option<String>,
    /// When it arrived.
    pub(crate) received_at: DateTime<Utc>,
    /// The body's size in bytes (as declared or counted when it was too large to keep).
    pub(crate) size: u64,
    /// Whether the body was over the limit and not kept.
    pub(crate) truncated: bool,
    /// The status the bin answered.
    pub(crate) answer_status: u16,
    /// What an endpoint with the bin's settings would have done.
    pub(crate) verdicts: Verdicts,
}

impl Meta {
    /// The value of the first header with this (lower-case) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.as_str())
    }
}

/// A capture as the API and streams show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct View {
    /// The capture.
    #[serde(flatten)]
    pub(crate) meta: Meta,
    /// The body, base64 of the exact bytes.
    pub(crate) body_base64: String,
}

impl View {
    /// The view of a stored capture.
    pub(crate) fn new(meta: Meta, body: &[u8]) -> Self {
        Self {
            meta,
            body_base64: BASE64.encode(body),
        }
    }

    /// The body's bytes.
    pub(crate) fn body(&self) -> Result<Vec<u8>, base64::DecodeError> {
        BASE64.decode(&self.body_base64)
    }
}

/// The length of a stored capture's meta JSON, read without parsing it: what a listing
/// entry of it weighs, give or take.
pub(crate) fn meta_len(record: &[u8]) -> usize {
    record
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .map_or(0, |b| u32::from_be_bytes(b) as usize)
}

/// The stored form.
pub(crate) fn encode(meta: &Meta, body: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_vec(meta)?;
    let mut record = Vec::with_capacity(12 + json.len() + body.len());
    record.extend_from_slice(&meta.received_at.timestamp_millis().to_be_bytes());
    record.extend_from_slice(&(json.len() as u32).to_be_bytes());
    record.extend_from_slice(&json);
    record.extend_from_slice(body);
    Ok(record)
}

/// When a stored capture arrived (Unix ms), read without parsing it.
pub(crate) fn received_ms(record: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(record.get(..8)?.try_into().ok()?))
}

/// A stored capture's meta and body.
pub(crate) fn decode(record: &[u8]) -> Option<(Meta, &[u8])> {
    let len = u32::from_be_bytes(record.get(8..12)?.try_into().ok()?) as usize;
    let json = record.get(12..12 + len)?;
    let mut meta: Meta = serde_json::from_slice(json).ok()?;
    meta.headers = without_own_cookie(meta.headers);
    Some((meta, record.get(12 + len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_keep_their_order_and_odd_bytes_survive() {
        let mut map = HeaderMap::new();
        map.append("x-a", HeaderValue::from_static("1"));
        map.append("x-b", HeaderValue::from_static("2"));
        map.append("x-a", HeaderValue::from_static("3"));
        map.append("x-odd", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let headers = headers_of(&map);
        let pairs: Vec<_> = headers
            .iter()
            .map(|h| (h.name.as_str(), h.bytes()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("x-a", b"1".to_vec()),
                ("x-a", b"3".to_vec()),
                ("x-b", b"2".to_vec()),
                ("x-odd", b"caf\xe9".to_vec())
            ]
        );
        assert!(headers[3].value_base64.is_some());
    }

    #[test]
    fn regression_the_inspector_cookie_is_taken_out_of_cookie_headers_and_the_rest_kept() {
        let mut map = HeaderMap::new();
        map.append(
            "cookie",
            HeaderValue::from_static("a=1; receiver_inspector=f4ca; b=2"),
        );
        map.append(
            "cookie",
            HeaderValue::from_static("__Host-Receiver_Inspector=x"),
        );
        map.append(
            "x-other",
            HeaderValue::from_static("receiver_inspector=kept"),
        );
        let kept = captured_headers(&map);
        let pairs: Vec<_> = kept
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("cookie", "a=1; b=2"),
                ("x-other", "receiver_inspector=kept")
            ]
        );
    }

    #[test]
    fn a_record_gives_back_its_meta_and_exact_body() {
        let meta = Meta {
            id: 7,
            bin: "b".into(),
            method: "POST".into(),
            path: "/in/b".into(),
            query: String::new(),
            headers: Vec::new(),
            remote_addr: None,
            received_at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            size: 3,
            truncated: false,
            answer_status: 200,
            verdicts: Verdicts::default(),
        };
        let record = encode(&meta, b"\x00\xff\n").unwrap();
        assert_eq!(meta_len(&record), serde_json::to_vec(&meta).unwrap().len());
        assert_eq!(received_ms(&record), Some(1_700_000_000_123));
        let (back, body) = decode(&record).unwrap();
        assert_eq!((back.id, body), (7, &b"\x00\xff\n"[..]));
    }
}

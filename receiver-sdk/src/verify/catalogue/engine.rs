//! One HMAC verifier for every sender whose scheme is "an HMAC of some parts of the request, in
//! a header": the scheme is data ([`HmacScheme`]), so a provider is an entry, not code.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ::hmac::digest::{Key, KeyInit};
use ::hmac::{Hmac, Mac};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::{HeaderMap, HeaderName};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use crate::verify::{check_secret, single_header, Clock, Delivery, FailureKind, SecretError};
use crate::verify::{SignatureEncoding, MAX_HEADER_LEN};
use crate::Secret;

/// The hash an [`HmacScheme`] is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HmacAlgorithm {
    /// HMAC-SHA1 (20-byte tags), still used by older senders (GitHub's legacy header, Intercom,
    /// Vercel).
    Sha1,
    /// HMAC-SHA256 (32-byte tags).
    Sha256,
    /// HMAC-SHA512 (64-byte tags).
    Sha512,
}

impl HmacAlgorithm {
    /// The length of this algorithm's tag, in bytes.
    fn tag_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// One piece of the string a sender signs; the pieces are fed to the MAC in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedPart {
    /// The raw body, exactly as received.
    Body,
    /// The timestamp exactly as sent, from wherever [`HmacScheme::timestamp`] says.
    Timestamp,
    /// The value of a header that must appear once (a delivery id, for example).
    Header(HeaderName),
    /// Fixed text, such as a separator (`.`, `:`) or a version (`v0`).
    Literal(Cow<'static, str>),
    /// The request's method, upper case as sent (`POST`).
    Method,
    /// The full URL the sender posted to, query included
    /// ([`SignedRequest::url`](crate::verify::SignedRequest)), with the percent-escapes of the
    /// ASCII characters in `decoded` decoded first (HubSpot signs `%3A` as `:`); with `decoded`
    /// empty, exactly as received.
    Url {
        /// The characters whose escapes (`%3A`, `%3a`) are decoded before signing.
        decoded: Cow<'static, str>,
    },
    /// The parameters of an `application/x-www-form-urlencoded` body, decoded, sorted by name,
    /// each written as its name then its value with nothing between (Twilio's form). A name
    /// sent several times has its distinct values sorted, each after the name. A body that is
    /// not a form gives whatever pairs it parses to, so it is never left unsigned.
    SortedFormParams,
}

impl SignedPart {
    /// The URL exactly as the sender posted to it.
    pub const URL: Self = Self::Url {
        decoded: Cow::Borrowed(""),
    };

    /// Whether the part needs the request's method or URL.
    fn needs_request_line(&self) -> bool {
        matches!(self, Self::Method | Self::Url { .. })
    }
}

/// How the signature header's value is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureLayout {
    /// The whole value is one signature, after an optional prefix matched exactly (`sha256=`,
    /// `v0=`).
    Plain {
        /// Text before the encoded signature.
        prefix: Option<Cow<'static, str>>,
    },
    /// A list of `key=value` items split on `separator` (spaces around items ignored), such as
    /// `t=..,v1=..` or `ts=..;h1=..`. Every item under `signature_key` is a candidate (senders
    /// rotating secrets send several); items under other keys are ignored.
    List {
        /// What separates the items (`,` or `;`).
        separator: char,
        /// The key of the signature items (`v1`, `h1`).
        signature_key: Cow<'static, str>,
    },
}

/// Where a signed timestamp comes from, and its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTimestamp {
    /// Where the sender puts it.
    pub source: TimestampSource,
    /// How it is written: seconds or milliseconds since the unix epoch, or an RFC 3339 date.
    pub unit: TimestampUnit,
}

/// Where a signed timestamp is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampSource {
    /// In a header of its own, which must appear once.
    Header(HeaderName),
    /// As an item of the signature header's [`SignatureLayout::List`] (`t`, `ts`), which
    /// must appear exactly once.
    Key(Cow<'static, str>),
    /// As a top-level number of the JSON body (Linear's `webhookTimestamp`), so the signature
    /// over the body covers it. It is read only once a signature matches, so an unsigned body
    /// is never parsed; it is not a [`SignedPart::Timestamp`] of its own.
    BodyField(Cow<'static, str>),
}

/// How a signed timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampUnit {
    /// Seconds since the unix epoch (most senders).
    Seconds,
    /// Milliseconds since the unix epoch (WorkOS, Linear); judged against the tolerance to the
    /// second.
    Milliseconds,
    /// An RFC 3339 date and time, fractional seconds allowed (Twitch EventSub:
    /// `2023-07-19T10:11:12.123456789Z`); judged against the tolerance to the second.
    Rfc3339,
}

/// An HMAC scheme described as data: what is signed, with which hash, and how the sender writes
/// the signature (and perhaps a timestamp) into headers.
///
/// [`Verifier::hmac`](crate::verify::Verifier::hmac) verifies deliveries signed this way; the
/// [provider catalogue](crate::verify::providers) is a list of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacScheme {
    /// The hash the MAC is built on.
    pub algorithm: HmacAlgorithm,
    /// The signed string, in order.
    pub message: Cow<'static, [SignedPart]>,
    /// The header carrying the signature.
    pub header: HeaderName,
    /// How that header's value is laid out.
    pub layout: SignatureLayout,
    /// How each signature is encoded.
    pub encoding: SignatureEncoding,
    /// The signed timestamp, if the scheme has one; it is checked against the verifier's
    /// tolerance.
    pub timestamp: Option<SignedTimestamp>,
}

/// The keyed state of one secret, pads already absorbed, so a request only clones it.
#[derive(Clone)]
enum MacState {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

/// An HMAC keyed with `key` through the block-sized constructor, which cannot fail: RFC 2104
/// §2 hashes a key longer than the block and zero-pads a shorter one, as done here.
macro_rules! keyed {
    ($hash:ty, $key:expr) => {{
        let key: &[u8] = $key;
        let mut block = Key::<Hmac<$hash>>::default();
        if key.len() > block.len() {
            let digest = <$hash>::digest(key);
            block[..digest.len()].copy_from_slice(&digest);
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        <Hmac<$hash> as KeyInit>::new(&block)
    }};
}

impl MacState {
    fn new(algorithm: HmacAlgorithm, key: &[u8]) -> Self {
        match algorithm {
            HmacAlgorithm::Sha1 => Self::Sha1(keyed!(Sha1, key)),
            HmacAlgorithm::Sha256 => Self::Sha256(keyed!(Sha256, key)),
            HmacAlgorithm::Sha512 => Self::Sha512(keyed!(Sha512, key)),
        }
    }

    /// The tag over the concatenation of `parts`, fed piece by piece so the body is not copied.
    fn tag(&self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + Clone>(mac: &M, parts: &[&[u8]]) -> Vec<u8> {
            let mut mac = mac.clone();
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Self::Sha1(mac) => run(mac, parts),
            Self::Sha256(mac) => run(mac, parts),
            Self::Sha512(mac) => run(mac, parts),
        }
    }
}

impl fmt::Debug for MacState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What the signature header (and the timestamp's source) carried, borrowed from the request.
struct Sent<'r> {
    signatures: Vec<&'r str>,
    timestamp: Option<&'r str>,
}

/// [`HmacScheme`] with its keys: the verifier the catalogue's HMAC entries share.
#[derive(Debug, Clone)]
pub(in crate::verify) struct SchemeHmac {
    scheme: HmacScheme,
    // Never empty: a verifier without keys could verify nothing.
    keys: Vec<MacState>,
}

impl SchemeHmac {
    pub(in crate::verify) fn new(
        scheme: HmacScheme,
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let keys = secrets
            .into_iter()
            .map(Into::into)
            .enumerate()
            .map(|(index, secret)| {
                check_secret(index, secret.expose())?;
                Ok(MacState::new(scheme.algorithm, secret.expose()))
            })
            .collect::<Result<Vec<_>, SecretError>>()?;
        if keys.is_empty() {
            return Err(SecretError::NoSecrets);
        }
        Ok(Self { scheme, keys })
    }

    pub(in crate::verify) fn verify(
        &self,
        delivery: &Delivery<'_>,
        clock: Clock,
    ) -> Result<(), FailureKind> {
        let scheme = &self.scheme;
        let (headers, body) = (delivery.headers, delivery.body);
        let sent = self.parse(headers)?;
        if let Some(timestamp) = &scheme.timestamp {
            let header = match &timestamp.source {
                TimestampSource::Header(header) => Some(header),
                TimestampSource::Key(_) => Some(&scheme.header),
                TimestampSource::BodyField(_) => None,
            };
            if let Some(header) = header {
                let raw = sent.timestamp.unwrap_or_default();
                check_timestamp(clock, header, raw, timestamp.unit)?;
            }
        }
        let line = match delivery.request {
            Some(request) => (request.method.as_str(), request.url),
            None if scheme.message.iter().any(SignedPart::needs_request_line) => {
                return Err(FailureKind::UrlNotGiven)
            }
            None => ("", ""),
        };
        let mut owned = Vec::new();
        let mut pieces = Vec::with_capacity(scheme.message.len());
        for part in scheme.message.iter() {
            pieces.push(match part {
                SignedPart::Body => Piece::Borrowed(body),
                SignedPart::Timestamp => {
                    Piece::Borrowed(sent.timestamp.unwrap_or_default().as_bytes())
                }
                SignedPart::Header(header) => {
                    Piece::Borrowed(single_header(headers, header)?.as_bytes())
                }
                SignedPart::Literal(text) => Piece::Borrowed(text.as_bytes()),
                SignedPart::Method => Piece::Borrowed(line.0.as_bytes()),
                SignedPart::Url { decoded } => match decode_escapes(line.1, decoded) {
                    Cow::Borrowed(url) => Piece::Borrowed(url.as_bytes()),
                    Cow::Owned(url) => Piece::owned(&mut owned, url.into_bytes()),
                },
                SignedPart::SortedFormParams => Piece::owned(&mut owned, sorted_form_params(body)),
            });
        }
        let message: Vec<&[u8]> = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Borrowed(bytes) => *bytes,
                Piece::Owned(index) => owned[*index].as_slice(),
            })
            .collect();
        if sent.signatures.is_empty() {
            return Err(FailureKind::NoSupportedSignature {
                header: scheme.header.clone(),
            });
        }
        let tag_len = scheme.algorithm.tag_len();
        // A garbled entry is skipped rather than failing the delivery, so it cannot veto a valid
        // one beside it; only when none decodes is the header malformed.
        let candidates: Vec<Vec<u8>> = sent
            .signatures
            .iter()
            .filter_map(|encoded| decode(scheme.encoding, encoded, tag_len))
            .collect();
        if candidates.is_empty() {
            return Err(self.malformed());
        }
        // Every key against every candidate, without stopping at a match, so the time taken
        // does not tell which (or whether one) matched.
        let mut matched = Choice::from(0);
        for key in &self.keys {
            let tag = key.tag(&message);
            for candidate in &candidates {
                matched |= tag.ct_eq(candidate);
            }
        }
        if !bool::from(matched) {
            let signs_url = scheme
                .message
                .iter()
                .any(|part| matches!(part, SignedPart::Url { .. }));
            return Err(if signs_url {
                FailureKind::UrlSignatureMismatch
            } else {
                FailureKind::SignatureMismatch
            });
        }
        match &scheme.timestamp {
            Some(SignedTimestamp {
                source: TimestampSource::BodyField(field),
                unit,
            }) => check_body_timestamp(clock, &scheme.header, body, field, *unit),
            _ => Ok(()),
        }
    }

    /// Whether the signed string holds nothing from the request but the body and a timestamp:
    /// a scheme that signs a header (Twitch's message id) authenticates that header too.
    pub(in crate::verify) fn authenticates_only_the_body(&self) -> bool {
        !self
            .scheme
            .message
            .iter()
            .any(|part| matches!(part, SignedPart::Header(_)))
    }

    /// The headers the signed string takes parts of.
    pub(in crate::verify) fn signed_headers(&self) -> Vec<HeaderName> {
        self.scheme
            .message
            .iter()
            .filter_map(|part| match part {
                SignedPart::Header(name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    fn malformed(&self) -> FailureKind {
        FailureKind::MalformedHeader {
            header: self.scheme.header.clone(),
        }
    }

    /// The signatures and the timestamp as the sender wrote them.
    fn parse<'r>(&self, headers: &'r HeaderMap) -> Result<Sent<'r>, FailureKind> {
        let scheme = &self.scheme;
        let value = single_header(headers, &scheme.header)?;
        let timestamp_key = match &scheme.timestamp {
            Some(SignedTimestamp {
                source: TimestampSource::Key(key),
                ..
            }) => Some(key.as_ref()),
            _ => None,
        };
        let mut delivery = Sent {
            signatures: Vec::new(),
            timestamp: None,
        };
        match &scheme.layout {
            SignatureLayout::Plain { prefix } => {
                let encoded = match prefix {
                    Some(prefix) => value
                        .strip_prefix(prefix.as_ref())
                        .ok_or_else(|| self.malformed())?,
                    None => value,
                };
                delivery.signatures.push(encoded);
            }
            SignatureLayout::List {
                separator,
                signature_key,
            } => {
                for item in value.split(*separator) {
                    let (key, item_value) = item
                        .trim()
                        .split_once('=')
                        .ok_or_else(|| self.malformed())?;
                    if key == signature_key.as_ref() {
                        delivery.signatures.push(item_value);
                    // A second timestamp would leave it ambiguous which one is signed.
                    } else if Some(key) == timestamp_key
                        && delivery.timestamp.replace(item_value).is_some()
                    {
                        return Err(self.malformed());
                    }
                }
            }
        }
        match &scheme.timestamp {
            Some(SignedTimestamp {
                source: TimestampSource::Header(header),
                ..
            }) => delivery.timestamp = Some(single_header(headers, header)?),
            Some(SignedTimestamp {
                source: TimestampSource::Key(_),
                ..
            }) if delivery.timestamp.is_none() => return Err(self.malformed()),
            _ => {}
        }
        Ok(delivery)
    }
}

/// Checks a timestamp in `unit` against the clock; milliseconds and RFC 3339 dates are judged
/// to the second.
fn check_timestamp(
    clock: Clock,
    header: &HeaderName,
    raw: &str,
    unit: TimestampUnit,
) -> Result<(), FailureKind> {
    let malformed = || FailureKind::MalformedHeader {
        header: header.clone(),
    };
    match unit {
        TimestampUnit::Seconds => clock.check(header, raw),
        TimestampUnit::Milliseconds => {
            if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            let millis = raw.parse::<u64>().map_err(|_| malformed())?;
            clock.check(header, &(millis / 1000).to_string())
        }
        TimestampUnit::Rfc3339 => {
            let sent = chrono::DateTime::parse_from_rfc3339(raw).map_err(|_| malformed())?;
            let seconds = u64::try_from(sent.timestamp()).map_err(|_| malformed())?;
            clock.check(header, &seconds.to_string())
        }
    }
}

/// What a body without a usable timestamp field fails with: the body is the sender's (its
/// signature matched), but it does not say when it was sent.
const NO_BODY_TIMESTAMP: FailureKind = FailureKind::Other {
    check: "the signed body has no valid timestamp field",
};

/// Checks the timestamp a signed JSON body carries in its top-level `field`: a whole number in
/// `unit` (seconds or milliseconds).
fn check_body_timestamp(
    clock: Clock,
    header: &HeaderName,
    body: &[u8],
    field: &str,
    unit: TimestampUnit,
) -> Result<(), FailureKind> {
    let sent = top_level_number(body, field).ok_or(NO_BODY_TIMESTAMP)?;
    let seconds = match unit {
        TimestampUnit::Seconds => sent,
        TimestampUnit::Milliseconds => sent / 1000,
        TimestampUnit::Rfc3339 => return Err(NO_BODY_TIMESTAMP),
    };
    // Digits only, so the clock can fail it only as too old or too new, never as malformed.
    clock.check(header, &seconds.to_string())
}

/// The whole number at the top-level key `field` of a JSON object body (the last, if the key
/// repeats), read without building the body's tree: every other value is only skipped, so a
/// dated body costs little more to verify than an undated one. `None` when the body is not a
/// JSON object or the value is not such a number.
fn top_level_number(body: &[u8], field: &str) -> Option<u64> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};

    /// Whether a key is `field`, compared where it lies in the body.
    struct IsField<'f>(&'f str);

    impl<'de> DeserializeSeed<'de> for IsField<'_> {
        type Value = bool;
        fn deserialize<D: serde::Deserializer<'de>>(self, keys: D) -> Result<bool, D::Error> {
            keys.deserialize_str(self)
        }
    }

    impl Visitor<'_> for IsField<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
            Ok(key == self.0) // a public field name, such as `webhookTimestamp`
        }
    }

    /// The object's value at `field`.
    struct Find<'f>(&'f str);

    impl<'de> DeserializeSeed<'de> for Find<'_> {
        type Value = Option<u64>;
        fn deserialize<D: serde::Deserializer<'de>>(
            self,
            body: D,
        ) -> Result<Self::Value, D::Error> {
            body.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(is_field) = map.next_key_seed(IsField(self.0))? {
                if is_field {
                    found = Some(map.next_value::<serde_json::Value>()?.as_u64());
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found.flatten())
        }
    }

    let mut json = serde_json::Deserializer::from_slice(body);
    let found = Find(field).deserialize(&mut json).ok()?;
    json.end().ok()?;
    found
}

/// One piece of the signed message: borrowed from the request, or computed from it (a decoded
/// URL, the sorted form), kept by index in a list the message then borrows from.
enum Piece<'r> {
    Borrowed(&'r [u8]),
    Owned(usize),
}

impl Piece<'_> {
    fn owned(store: &mut Vec<Vec<u8>>, bytes: Vec<u8>) -> Self {
        store.push(bytes);
        Self::Owned(store.len() - 1)
    }
}

/// `url` with the percent-escapes of the ASCII characters in `decoded` decoded (either hex
/// case); every other escape, and every other byte, as it was.
fn decode_escapes<'u>(url: &'u str, decoded: &str) -> Cow<'u, str> {
    if decoded.is_empty() || !url.contains('%') {
        return Cow::Borrowed(url);
    }
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|byte| byte.is_ascii() && decoded.contains(char::from(*byte)));
        match escaped {
            Some(byte) => {
                out.push(char::from(byte));
                index += 3;
            }
            None => {
                // Up to the next `%` (past this one, if it is one): `index` is always at a
                // character boundary, since `%` and decoded escapes are single bytes.
                let from = index + usize::from(bytes[index] == b'%');
                let next = url[from..].find('%').map_or(url.len(), |at| from + at);
                out.push_str(&url[index..next]);
                index = next;
            }
        }
    }
    Cow::Owned(out)
}

/// The [`SignedPart::SortedFormParams`] of `body`: names sorted, each name's distinct values
/// sorted, every value written after its name.
fn sorted_form_params(body: &[u8]) -> Vec<u8> {
    let mut params: BTreeMap<Cow<'_, str>, BTreeSet<Cow<'_, str>>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        params.entry(name).or_default().insert(value);
    }
    let mut out = Vec::with_capacity(body.len());
    for (name, values) in &params {
        for value in values {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(value.as_bytes());
        }
    }
    out
}

/// A signature decoded, only if it is exactly a tag's length; the encoded length is checked
/// first, which bounds the work on hostile input.
fn decode(encoding: SignatureEncoding, text: &str, tag_len: usize) -> Option<Vec<u8>> {
    if text.len() > MAX_HEADER_LEN {
        return None;
    }
    let decoded = match encoding {
        SignatureEncoding::Hex if text.len() == 2 * tag_len => hex::decode(text).ok()?,
        SignatureEncoding::Base64 if Some(text.len()) == base64::encoded_len(tag_len, true) => {
            STANDARD.decode(text).ok()?
        }
        _ => return None,
    };
    (decoded.len() == tag_len).then_some(decoded)
}

/// The signature header's value for `body` keyed with `secret`, sent with `method` to `url`, as
/// the scheme's sender writes it: `timestamp` as sent (placed in the list where the scheme keeps it there), a signed
/// header's value from `header_value`. What the [`sign`](crate::verify::sign) helpers return.
pub(in crate::verify) fn signature_value(
    scheme: &HmacScheme,
    secret: &[u8],
    (method, url): (&str, &str),
    body: &[u8],
    timestamp: Option<&str>,
    header_value: impl Fn(&HeaderName) -> String,
) -> String {
    let owned: Vec<Vec<u8>> = scheme
        .message
        .iter()
        .map(|part| match part {
            SignedPart::Body => body.to_vec(),
            SignedPart::Timestamp => timestamp.unwrap_or_default().as_bytes().to_vec(),
            SignedPart::Header(header) => header_value(header).into_bytes(),
            SignedPart::Literal(text) => text.as_bytes().to_vec(),
            SignedPart::Method => method.as_bytes().to_vec(),
            SignedPart::Url { decoded } => decode_escapes(url, decoded).as_bytes().to_vec(),
            SignedPart::SortedFormParams => sorted_form_params(body),
        })
        .collect();
    let parts: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let tag = MacState::new(scheme.algorithm, secret).tag(&parts);
    let encoded = match scheme.encoding {
        SignatureEncoding::Hex => hex::encode(tag),
        SignatureEncoding::Base64 => STANDARD.encode(tag),
    };
    match &scheme.layout {
        SignatureLayout::Plain { prefix } => {
            format!("{}{encoded}", prefix.as_deref().unwrap_or(""))
        }
        SignatureLayout::List {
            separator,
            signature_key,
        } => {
            let signature = format!("{signature_key}={encoded}");
            match (&scheme.timestamp, timestamp) {
                (
                    Some(SignedTimestamp {
                        source: TimestampSource::Key(key),
                        ..
                    }),
                    Some(timestamp),
                ) => format!("{key}={timestamp}{separator}{signature}"),
                _ => signature,
            }
        }
    }
}

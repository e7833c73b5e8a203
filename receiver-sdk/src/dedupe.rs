//! Which deliveries are the same delivery: the keys an endpoint records once a handler
//! succeeds, and checks before running it again.
//!
//! Retries of one delivery share the sender's delivery id, or the body's hash where the sender
//! sends none. An id the signature does not cover (a header beside a body-only signature)
//! could be fresh on every replay of one signed body, so such deliveries are also known by
//! their body's hash: the *replay key*.

use sha2::{Digest, Sha256};

use crate::envelope::EventMeta;
use crate::store::DeliveryKey;

/// The dedupe keys of one delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryKeys {
    /// The sender's delivery id (or the body's hash when it sends none); `None` when dedupe
    /// is off.
    pub id: Option<DeliveryKey>,
    /// The body's hash as well, where the id is not covered by the signature.
    pub replay: Option<DeliveryKey>,
}

impl DeliveryKeys {
    /// The keys of `event` with this `body` at `endpoint`. `unsigned_id` says whether a
    /// delivery id would be unauthenticated (a body-only verifier and an envelope that takes
    /// the id from a header), which adds the replay key.
    pub fn of(endpoint: &str, event: &EventMeta, body: &[u8], unsigned_id: bool) -> Self {
        Self::of_message(endpoint, event, body, unsigned_id.then(|| body_hash(body)))
    }

    /// The keys of `event` with this `body` at `endpoint`, where `replay` (when the delivery
    /// id is unauthenticated) is the hash of what the signature covers: [`message_hash`].
    pub fn of_message(
        endpoint: &str,
        event: &EventMeta,
        body: &[u8],
        replay: Option<String>,
    ) -> Self {
        let key = |id: String| DeliveryKey {
            endpoint: endpoint.to_owned(),
            id,
        };
        let id = key(delivery_id(event, body));
        let replay = replay
            .filter(|_| event.delivery_id.is_some())
            .map(key)
            .filter(|replay| *replay != id);
        Self {
            id: Some(id),
            replay,
        }
    }
}

/// What retries of one delivery share: the sender's delivery id, or the body's hash when it
/// sends none.
pub fn delivery_id(event: &EventMeta, body: &[u8]) -> String {
    event.delivery_id.clone().unwrap_or_else(|| body_hash(body))
}

/// What one signed message is known by: the body's hash ([`body_hash`]) where the signature
/// covers the body alone, else the hash of the body and the signed headers' values, so two
/// messages with one body but other signed ids (Standard Webhooks' `webhook-id`) are two.
pub fn message_hash<'h>(
    body: &[u8],
    signed: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> String {
    let mut signed = signed.into_iter().peekable();
    if signed.peek().is_none() {
        return body_hash(body);
    }
    let mut digest = Sha256::new();
    digest.update(body);
    for (name, value) in signed {
        // Lengths first, so no name or value can run into the next.
        for part in [name.as_bytes(), value] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
    }
    format!("sha256:{}", hex::encode(digest.finalize()))
}

/// `sha256:` and the hex SHA-256 of the body.
pub fn body_hash(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(delivery_id: Option<&str>) -> EventMeta {
        let mut event = crate::envelope::Envelope::Raw
            .extract(&http::HeaderMap::new(), &serde_json::json!({}))
            .unwrap();
        event.delivery_id = delivery_id.map(str::to_owned);
        event
    }

    #[test]
    fn a_delivery_without_an_id_is_known_by_its_body_hash() {
        let keys = DeliveryKeys::of("e", &event(None), b"{}", true);
        let hash = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        assert_eq!(keys.id.unwrap().id, hash);
        assert_eq!(keys.replay, None, "the id is the body hash already");
    }

    #[test]
    fn an_unsigned_id_adds_the_replay_key_and_a_signed_one_does_not() {
        let unsigned = DeliveryKeys::of("e", &event(Some("d1")), b"{}", true);
        assert_eq!(unsigned.id.unwrap().id, "d1");
        assert_eq!(unsigned.replay.unwrap().id, body_hash(b"{}"));
        let signed = DeliveryKeys::of("e", &event(Some("d1")), b"{}", false);
        assert_eq!(signed.replay, None);
    }
}

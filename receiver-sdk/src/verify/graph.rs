//! Microsoft Graph change notifications: no signature, but a `clientState` in every
//! notification.
//!
//! A subscription is created with a `clientState` secret of the receiver's choosing, and Graph
//! echoes it in each item of the notification batch (`{"value": [{"clientState": .., ..}]}`),
//! lifecycle notifications included. Every item must carry one of the configured values: a
//! batch with any item that does not is refused whole, since Graph would never have sent it.
//! Values are kept as SHA-256 digests and compared digest to digest in constant time.
//!
//! The value proves the sender knows the secret; it does not cover the body, so, like a token,
//! it authenticates no body.

use serde::Deserialize;
use subtle::{Choice, ConstantTimeEq};

use super::{check_secret, credential_digest, FailureKind, SecretError};
use crate::Secret;

const NO_NOTIFICATIONS: FailureKind = FailureKind::Other {
    check: "the body holds no Microsoft Graph notifications (a non-empty value array)",
};
const NO_CLIENT_STATE: FailureKind = FailureKind::Other {
    check: "a Microsoft Graph notification has no clientState",
};

#[derive(Deserialize)]
struct Batch {
    value: Vec<Notification>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "clientState")]
    client_state: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct ClientState {
    // Digests of the configured values; never empty.
    digests: Vec<[u8; 32]>,
}

impl ClientState {
    pub(super) fn new(
        states: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let digests = states
            .into_iter()
            .map(Into::into)
            .enumerate()
            .map(|(index, state)| {
                check_secret(index, state.expose())?;
                Ok(credential_digest(state.expose()))
            })
            .collect::<Result<Vec<_>, SecretError>>()?;
        if digests.is_empty() {
            return Err(SecretError::NoSecrets);
        }
        Ok(Self { digests })
    }

    pub(super) fn verify(&self, body: &[u8]) -> Result<(), FailureKind> {
        let batch: Batch = serde_json::from_slice(body).map_err(|_| NO_NOTIFICATIONS)?;
        if batch.value.is_empty() {
            return Err(NO_NOTIFICATIONS);
        }
        // Every item is compared against every value, without stopping at the first that
        // fails, so the time taken does not tell which item (or value) was wrong.
        let mut all = Choice::from(1);
        for notification in &batch.value {
            let sent = notification
                .client_state
                .as_deref()
                .ok_or(NO_CLIENT_STATE)?;
            let sent = credential_digest(sent.as_bytes());
            let mut any = Choice::from(0);
            for digest in &self.digests {
                any |= sent.ct_eq(digest);
            }
            all &= any;
        }
        if bool::from(all) {
            Ok(())
        } else {
            Err(FailureKind::BadCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use crate::verify::test_support::{at, kind};
    use crate::verify::{sign, FailureKind, Verifier};

    use super::*;

    fn verifier() -> Verifier {
        Verifier::provider(
            "microsoft-graph",
            ["state-rotated-out", "secretClientValue"],
        )
        .expect("valid client states")
    }

    fn verify(body: &[u8]) -> Result<(), FailureKind> {
        verifier()
            .verify(&HeaderMap::new(), body, at(0))
            .map_err(|failure| failure.kind().clone())
    }

    #[test]
    fn a_batch_whose_every_item_carries_a_configured_client_state_verifies() {
        let body = sign::microsoft_graph("secretClientValue", &["Users/1", "Users/2"]);
        assert_eq!(verify(body.as_bytes()), Ok(()));
        let old = sign::microsoft_graph("state-rotated-out", &["Users/3"]);
        assert_eq!(verify(old.as_bytes()), Ok(()));
    }

    #[test]
    fn the_documented_notification_shape_verifies() {
        // A notification with every property of the changeNotification resource Microsoft
        // documents (resourceData and its OData annotations included), as Graph posts it.
        let body = br##"{"value":[{"id":"lsgTZMr9KwAAA","subscriptionId":"{subscription_guid}","subscriptionExpirationDateTime":"2016-03-19T22:11:09.952Z","clientState":"secretClientValue","changeType":"created","resource":"users/{user_guid}@{tenant_guid}/messages/{long_id_string}","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/{user_guid}@{tenant_guid}/Messages/{long_id_string}","@odata.etag":"W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"","id":"{long_id_string}"}}]}"##;
        assert_eq!(verify(body), Ok(()));
    }

    #[test]
    fn one_item_with_another_client_state_fails_the_batch() {
        let body = r#"{"value":[{"clientState":"secretClientValue"},{"clientState":"secretClientValuf"}]}"#;
        assert_eq!(verify(body.as_bytes()), Err(FailureKind::BadCredentials));
    }

    #[test]
    fn an_item_without_client_state_or_no_items_fails() {
        let missing = br#"{"value":[{"clientState":"secretClientValue"},{"id":"2"}]}"#;
        assert_eq!(verify(missing), Err(NO_CLIENT_STATE));
        for body in [&br#"{"value":[]}"#[..], b"{}", b"not json"] {
            assert_eq!(verify(body), Err(NO_NOTIFICATIONS));
        }
    }

    #[test]
    fn client_states_are_secrets_checked_like_any() {
        let none: [&str; 0] = [];
        assert!(Verifier::microsoft_graph(none).is_err());
        assert_eq!(
            Verifier::microsoft_graph(["ok", " "]).unwrap_err(),
            SecretError::EmptySecret { index: 1 }
        );
        let shown = format!("{:?}", verifier());
        assert!(!shown.contains("secretClientValue"), "{shown}");
        assert!(!verifier().authenticates_only_the_body());
        let forged = sign::microsoft_graph("guessedClientValue", &["Users/1"]);
        assert_eq!(
            kind(&verifier(), &HeaderMap::new(), forged.as_bytes(), at(0)),
            FailureKind::BadCredentials
        );
    }
}

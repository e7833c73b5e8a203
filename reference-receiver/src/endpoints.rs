//! Turning `[[endpoint]]` entries into SDK receivers.

use std::sync::Arc;
use std::time::Duration;

use receiver_sdk::envelope::Envelope;
use receiver_sdk::store::Store;
use receiver_sdk::{Delivery, OnDeadline, Receiver};

use crate::config::{EndpointConfig, RelayMode, ServerConfig};
use crate::relay::{Relay, RelayEvent};

/// How much of a payload an endpoint without a relay logs.
const LOGGED_PAYLOAD: usize = 1024;

fn envelope(config: &EndpointConfig) -> Envelope {
    match (config.envelope.preset(), &config.mapping) {
        (Some(preset), _) => preset,
        (None, Some(mapping)) => Envelope::Custom(mapping.clone()),
        // Validation guarantees a mapping for custom; raw is the safe reading otherwise.
        (None, None) => Envelope::Raw,
    }
}

/// What handles an endpoint's accepted events.
pub(crate) enum Sink {
    /// Log the event and answer 200.
    Log,
    /// Call downstream while the sender waits; answer with the outcome.
    Sync(Arc<Relay>),
    /// Persist to the outbox; answer 200; deliver in the background.
    Queued(Arc<crate::outbox::Outbox>),
}

/// Builds the SDK receiver of one endpoint.
pub(crate) fn receiver(
    config: &EndpointConfig,
    server: &ServerConfig,
    store: Arc<dyn Store>,
    sink: Sink,
) -> Result<Receiver, String> {
    let mut builder = Receiver::builder(config.name.clone())
        .verifier(config.verify.build().map_err(|e| format!("verify: {e}"))?)
        .envelope(envelope(config))
        .ties(config.ties)
        .dedupe(config.dedupe)
        .retention(Duration::from_secs(config.retention_secs))
        .body_limit(server.body_limit_bytes)
        .batch_limit(config.max_batch_events)
        .body_timeout(Duration::from_secs(server.request_timeout_secs))
        .store(store);
    let handshakes = crate::config::handshakes(
        &config.verify,
        &config.handshakes,
        config.provider_handshake,
    );
    for handshake in handshakes {
        builder = builder.handshake(handshake);
    }
    if let Some(setting) = config.ordering {
        builder = builder.ordering(setting.ordering());
    }
    if let Some(secs) = config.ordering_horizon_secs {
        builder = builder.ordering_horizon(Duration::from_secs(secs));
    }
    if let Some(events) = &config.events {
        builder = builder.events(events.clone());
    }
    if config.acknowledge_unsigned_tests {
        builder = builder.acknowledge_unsigned_tests();
    }
    if config.accept_form_bodies {
        builder = builder.accept_form_bodies();
    }
    if config.accept_unsigned_cloudevents_attributes {
        builder = builder.accept_unsigned_cloudevents_attributes();
    }
    if let Some(url) = &config.public_url {
        builder = builder.public_url(url.clone());
    }
    if let Some(ms) = config.deadline_ms {
        builder = builder.deadline(Duration::from_millis(ms));
        // A queued relay's 2xx promises the outbox entry, the mark and the delivery id are
        // durable; past the deadline they may not be yet, so the sender is asked to retry (its
        // retry finds the delivery handled). Sync relays and log endpoints keep the 202.
        if matches!(sink, Sink::Queued(_)) {
            builder = builder.on_deadline(OnDeadline::Retry);
        }
    }
    let name: Arc<str> = Arc::from(config.name.as_str());
    let builder = match sink {
        Sink::Log => builder.handler(|delivery: Delivery| async move {
            // An endpoint without a relay is for watching what senders post: show the payload
            // (cut, so one huge body cannot flood the log).
            let shown = &delivery.body[..delivery.body.len().min(LOGGED_PAYLOAD)];
            tracing::info!(
                endpoint = %delivery.endpoint,
                event = %delivery.event.event_type,
                entity = delivery.event.entity_id.as_deref(),
                delivery = delivery.event.delivery_id.as_deref(),
                bytes = delivery.body.len(),
                payload = %String::from_utf8_lossy(shown),
                "event received"
            );
            Ok(())
        }),
        Sink::Sync(relay) => builder.handler(move |delivery: Delivery| {
            let relay = Arc::clone(&relay);
            let name = Arc::clone(&name);
            async move {
                let event = RelayEvent::new(&delivery.event, &delivery.body);
                let key = event.idempotency_key(&name);
                let attempt = relay.deliver(&event, Some(&key)).await;
                crate::metrics::relay_attempt(&name, attempt.verdict.name(), attempt.duration_ms);
                tracing::info!(
                    endpoint = %name,
                    entity = event.entity.as_deref(),
                    verdict = ?attempt.verdict,
                    status = attempt.status,
                    duration_ms = attempt.duration_ms,
                    message = %attempt.message,
                    "relayed"
                );
                attempt.answer()
            }
        }),
        Sink::Queued(outbox) => builder.handler(move |delivery: Delivery| {
            let outbox = Arc::clone(&outbox);
            async move {
                let event = RelayEvent::new(&delivery.event, &delivery.body);
                outbox.accept(event).await
            }
        }),
    };
    builder.build().map_err(|e| e.to_string())
}

/// The relay mode of an endpoint, if it relays.
pub(crate) fn relay_mode(config: &EndpointConfig) -> Option<RelayMode> {
    config.relay.as_ref().map(|r| r.mode)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

    use receiver_sdk::store::{
        Commit, DeliveryKey, EventTime, OrderingKey, SledStore, StoreError, UnixSeconds,
    };

    use super::*;

    fn config(extra: &str) -> crate::config::Config {
        let text = format!("[[endpoint]]\nname = \"e\"\npath = \"/e\"\n{extra}");
        crate::config::from_parts(Some(("test.toml", &text)), vec![], |_| None)
            .expect("the config parses")
    }

    fn endpoint(extra: &str) -> EndpointConfig {
        config(extra).endpoints[0].clone()
    }

    #[test]
    fn regression_an_empty_token_or_password_does_not_build_a_verifier() {
        // `kind = "token"` with `secrets = [""]` built, and answered 200 to `Bearer ` over h2c.
        for verify in [
            "kind = \"token\"\nsecrets = [\"\"]",
            "kind = \"token\"\nsecrets = [\"good-token\", \"   \"]",
            "kind = \"basic\"\nuser = \"hooks\"\npassword = \"\"",
            "kind = \"github\"\nsecrets = [\" \"]",
        ] {
            let config = endpoint(&format!("[endpoint.verify]\n{verify}"));
            let error = config.verify.build().expect_err(verify).to_string();
            assert!(
                error.contains("empty or only whitespace"),
                "{verify}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn a_configured_public_url_is_the_base_of_the_url_a_sender_signed() {
        let whole = config(
            "public_url = \"https://hooks.example.com/inbound\"\n\
             [endpoint.verify]\nkind = \"square\"\nsecrets = [\"sq-key\"]",
        );
        let store = Arc::new(receiver_sdk::store::MemoryStore::new());
        let receiver = receiver(&whole.endpoints[0], &whole.server, store, Sink::Log).unwrap();
        let body = r#"{"type":"payment.updated"}"#;
        let post = |signed_for: &str| {
            let signature =
                receiver_sdk::verify::sign::square("sq-key", signed_for, body.as_bytes());
            http::Request::post("/e?x=1")
                .header("host", "10.0.0.5:8080")
                .header("content-type", "application/json")
                .header("x-square-hmacsha256-signature", signature)
                .body(axum::body::Body::from(body))
                .unwrap()
        };
        let public = receiver
            .handle(post("https://hooks.example.com/inbound/e?x=1"))
            .await;
        assert_eq!(public.status(), 200);
        let seen = receiver.handle(post("http://10.0.0.5:8080/e?x=1")).await;
        assert_eq!(seen.status(), 401);
    }

    /// A sled store whose commit takes a while, and which says when one has completed.
    struct SlowCommit {
        store: SledStore,
        delay: Duration,
        committed: Arc<AtomicBool>,
    }

    #[async_trait::async_trait]
    impl Store for SlowCommit {
        async fn mark(&self, key: &OrderingKey) -> Result<Option<EventTime>, StoreError> {
            self.store.mark(key).await
        }
        async fn is_handled(
            &self,
            key: &DeliveryKey,
            now: UnixSeconds,
        ) -> Result<bool, StoreError> {
            self.store.is_handled(key, now).await
        }
        async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
            tokio::time::sleep(self.delay).await;
            self.store.commit(commit).await?;
            self.committed.store(true, AtomicOrdering::SeqCst);
            Ok(())
        }
        async fn purge_expired(&self, now: UnixSeconds, limit: usize) -> Result<usize, StoreError> {
            self.store.purge_expired(now, limit).await
        }
        async fn purge_marks(&self, before: EventTime, limit: usize) -> Result<usize, StoreError> {
            self.store.purge_marks(before, limit).await
        }
    }

    #[tokio::test]
    async fn regression_a_queued_relay_never_answers_2xx_before_its_commit_is_durable() {
        // `deadline_ms` answered 202 while the outbox entry, mark and delivery id were still being
        // committed: a crash then lost an event the sender would never retry.
        let whole = config(
            "envelope = \"integration\"\ndeadline_ms = 1\n[endpoint.relay]\nmode = \"queued\"\n\
         url = \"http://127.0.0.1:9/x\"",
        );
        let store = SledStore::temporary().unwrap();
        let client = reqwest::Client::new();
        let relay = Relay::new(
            "e",
            whole.endpoints[0].relay.as_ref().unwrap(),
            client.clone(),
        )
        .unwrap();
        let outbox =
            Arc::new(crate::outbox::Outbox::sled(store.db(), "e", Arc::new(relay)).unwrap());
        let committed = Arc::new(AtomicBool::new(false));
        let slow = SlowCommit {
            store,
            delay: Duration::from_millis(300),
            committed: Arc::clone(&committed),
        };
        let receiver = receiver(
            &whole.endpoints[0],
            &whole.server,
            Arc::new(slow),
            Sink::Queued(outbox),
        )
        .unwrap();
        let app = axum::Router::new().route_service("/e", receiver);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/e", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let body = r#"{"id":"7","eventType":"contact.updated","timestamp":1700000000}"#;
        let post = || {
            client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let mut answers = Vec::new();
        loop {
            let response = post().await.unwrap();
            let status = response.status();
            let outcome = response.headers()["x-webhook-outcome"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                !status.is_success() || committed.load(AtomicOrdering::SeqCst),
                "answered {status} {outcome} before the commit completed"
            );
            answers.push(outcome);
            if status.is_success() {
                break;
            }
            assert_eq!(status, 503, "{answers:?}");
        }
        assert_eq!(answers.first().map(String::as_str), Some("pending"));
        assert_eq!(answers.last().map(String::as_str), Some("duplicate"));
    }
}

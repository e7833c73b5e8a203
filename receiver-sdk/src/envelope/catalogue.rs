//! The senders' envelopes by name: for each sender of the verify catalogue whose payload says
//! what happened, to what and when, where it says so.
//!
//! Most are a [`Mapping`] written as data, one entry each, in the configuration form of its
//! fields (`/pointer` or `header:NAME`); the senders with a preset of their own (Stripe,
//! GitHub, SuperOffice, Standard Webhooks and the senders built on it) are that preset.
//!
//! Senders that batch several events into one delivery (HubSpot, LINE, Meta, SendGrid, Asana,
//! Dropbox) are not here: one delivery is one event to ordering and dedupe, so they are read
//! with [`Envelope::Raw`] (or a custom mapping of what the whole batch shares).

use super::{Envelope, Field, Mapping};

/// Why [`Envelope::provider`] found no envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no envelope for {name:?}; senders with one: {known}", known = known())]
pub struct UnknownEnvelope {
    /// The name asked for.
    pub name: String,
}

fn known() -> String {
    envelopes().collect::<Vec<_>>().join(", ")
}

/// The sender names [`Envelope::provider`] knows, alphabetically: the names of the verify
/// catalogue ([`providers`](crate::verify::providers)) whose payloads carry an envelope.
///
/// ```
/// let names: Vec<_> = receiver_sdk::envelope::envelopes().collect();
/// assert!(names.contains(&"zoom") && names.contains(&"stripe"));
/// ```
pub fn envelopes() -> impl Iterator<Item = &'static str> {
    CATALOGUE.iter().map(|entry| entry.name)
}

impl Envelope {
    /// The envelope of the sender `name` (one of [`envelopes`]), so ordering and dedupe work
    /// without a hand-written mapping.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use receiver_sdk::envelope::Envelope;
    /// use serde_json::json;
    ///
    /// let zoom = Envelope::provider("zoom")?;
    /// let body = json!({
    ///     "event": "meeting.started",
    ///     "event_ts": 1700000000123u64,
    ///     "payload": {"account_id": "AAAA", "object": {"id": "85432", "topic": "Stand-up"}},
    /// });
    /// let meta = zoom.extract(&HeaderMap::new(), &body)?;
    /// assert_eq!(meta.event_type, "meeting.started");
    /// assert_eq!(meta.entity_id.as_deref(), Some("85432"));
    /// assert_eq!(zoom.name(), "zoom");
    /// assert_eq!(Envelope::provider("stripe")?, Envelope::Stripe);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provider(name: &str) -> Result<Self, UnknownEnvelope> {
        let entry = CATALOGUE
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| UnknownEnvelope { name: name.into() })?;
        Ok(match &entry.shape {
            Shape::Preset(preset) => preset(),
            Shape::Fields(fields) => Self::Provider {
                name: entry.name,
                mapping: fields.mapping(),
            },
        })
    }
}

/// One sender's envelope.
struct Entry {
    name: &'static str,
    shape: Shape,
}

enum Shape {
    /// A preset with rules of its own (a function: presets are not constants).
    Preset(fn() -> Envelope),
    /// A mapping, as in configuration.
    Fields(Fields),
}

/// A mapping in its configuration form: each source `/pointer` or `header:NAME`.
struct Fields {
    event_type: &'static str,
    entity_type: Option<&'static str>,
    entity_id: Option<&'static str>,
    created_at: Option<&'static str>,
    delivery_id: Option<&'static str>,
}

impl Fields {
    fn mapping(&self) -> Mapping {
        let field = Field::from_static;
        let mut mapping = Mapping::new(field(self.event_type));
        if let Some(spec) = self.entity_type {
            mapping = mapping.entity_type(field(spec));
        }
        if let Some(spec) = self.entity_id {
            mapping = mapping.entity_id(field(spec));
        }
        if let Some(spec) = self.created_at {
            mapping = mapping.created_at(field(spec));
        }
        if let Some(spec) = self.delivery_id {
            mapping = mapping.delivery_id(field(spec));
        }
        mapping
    }
}

const fn preset(name: &'static str, envelope: fn() -> Envelope) -> Entry {
    Entry {
        name,
        shape: Shape::Preset(envelope),
    }
}

/// A sender whose event type is at `event_type`; the other fields are set with the methods
/// below, each a `/pointer` or `header:NAME`.
const fn fields(name: &'static str, event_type: &'static str) -> Entry {
    Entry {
        name,
        shape: Shape::Fields(Fields {
            event_type,
            entity_type: None,
            entity_id: None,
            created_at: None,
            delivery_id: None,
        }),
    }
}

impl Entry {
    const fn entity(mut self, entity_type: Option<&'static str>, id: &'static str) -> Self {
        if let Shape::Fields(fields) = &mut self.shape {
            fields.entity_type = entity_type;
            fields.entity_id = Some(id);
        }
        self
    }

    const fn at(mut self, created_at: &'static str) -> Self {
        if let Shape::Fields(fields) = &mut self.shape {
            fields.created_at = Some(created_at);
        }
        self
    }

    const fn id(mut self, delivery_id: &'static str) -> Self {
        if let Shape::Fields(fields) = &mut self.shape {
            fields.delivery_id = Some(delivery_id);
        }
        self
    }
}

/// Every sender with an envelope, alphabetically, each as its documentation describes its
/// payload and headers. The delivery id is what the sender keeps across retries of one event.
const CATALOGUE: &[Entry] = &[
    // `X-Event-Key: repo:push`; `X-Request-UUID` per event, kept by retries.
    fields("bitbucket", "header:x-event-key").id("header:x-request-uuid"),
    // `{"event": "invitee.created", "created_at", "payload": {"uri": ...}}`.
    fields("calendly", "/event")
        .entity(None, "/payload/uri")
        .at("/created_at"),
    preset("clerk", || Envelope::StandardWebhooks),
    // `{"event": {"id", "type", "created_at", "data": {"id", ...}}}`.
    fields("coinbase-commerce", "/event/type")
        .entity(None, "/event/data/id")
        .at("/event/created_at")
        .id("/event/id"),
    preset("github", || Envelope::GitHub),
    preset("github-sha1", || Envelope::GitHub),
    // `object_kind` names the event; `Idempotency-Key` is kept across retries.
    fields("gitlab", "/object_kind")
        .entity(None, "/object_attributes/id")
        .id("header:idempotency-key"),
    // A notification: `{"type": "notification_event", "id", "topic", "created_at", "data":
    // {"item": {"type", "id"}}}`.
    fields("intercom", "/topic")
        .entity(Some("/data/item/type"), "/data/item/id")
        .at("/created_at")
        .id("/id"),
    // `{"meta": {"event_name"}, "data": {"type", "id", "attributes": {"updated_at"}}}`.
    fields("lemon-squeezy", "/meta/event_name")
        .entity(Some("/data/type"), "/data/id")
        .at("/data/attributes/updated_at"),
    // `{"action": "create", "type": "Issue", "data": {"id"}, "createdAt"}`, one delivery id
    // in `Linear-Delivery`. The event type is the entity's type, so one issue's creates,
    // updates and removes are ordered together.
    fields("linear", "/type")
        .entity(Some("/type"), "/data/id")
        .at("/createdAt")
        .id("header:linear-delivery"),
    // `{"signature": {...}, "event-data": {"event", "id", "timestamp", "message": ...}}`.
    fields("mailgun", "/event-data/event")
        .entity(None, "/event-data/message/headers/message-id")
        .at("/event-data/timestamp")
        .id("/event-data/id"),
    // `{"type": "video.asset.ready", "object": {"type": "asset", "id"}, "id", "created_at"}`.
    fields("mux", "/type")
        .entity(Some("/object/type"), "/object/id")
        .at("/created_at")
        .id("/id"),
    // An event hook: `{"eventType", "eventId", "eventTime", "data": {"events": [...]}}`.
    fields("okta", "/eventType").at("/eventTime").id("/eventId"),
    // `{"object": "event", "id", "type", "created_at", "data": {"id"}}`; `webhook-id` is the
    // Standard Webhooks delivery id.
    fields("openai", "/type")
        .entity(None, "/data/id")
        .at("/created_at")
        .id("header:webhook-id"),
    // `{"event_id", "event_type", "occurred_at", "notification_id", "data": {"id"}}`.
    fields("paddle", "/event_type")
        .entity(None, "/data/id")
        .at("/occurred_at")
        .id("/event_id"),
    // v3: `{"event": {"id", "event_type", "resource_type", "occurred_at", "data": {"id"}}}`.
    fields("pagerduty", "/event/event_type")
        .entity(Some("/event/resource_type"), "/event/data/id")
        .at("/event/occurred_at")
        .id("/event/id"),
    preset("polar", || Envelope::StandardWebhooks),
    // `{"entity": "event", "event": "payment.captured", "created_at"}`; `X-Razorpay-Event-Id`
    // is kept across retries.
    fields("razorpay", "/event")
        .at("/created_at")
        .id("header:x-razorpay-event-id"),
    // `{"type": "email.delivered", "created_at", "data": {"email_id"}}` under Svix headers.
    fields("resend", "/type")
        .entity(None, "/data/email_id")
        .at("/created_at")
        .id("header:svix-id"),
    // The resource is in `Sentry-Hook-Resource`, the time in `Sentry-Hook-Timestamp`.
    fields("sentry", "header:sentry-hook-resource")
        .at("header:sentry-hook-timestamp")
        .id("header:request-id"),
    // `X-Shopify-Topic: orders/create`; the entity's typed global id; `X-Shopify-Event-Id` is
    // the same on every duplicate of one event.
    fields("shopify", "header:x-shopify-topic")
        .entity(None, "/admin_graphql_api_id")
        .at("header:x-shopify-triggered-at")
        .id("header:x-shopify-event-id"),
    // The Events API: `{"type": "event_callback", "event_id", "event_time", "event": {"type"}}`.
    fields("slack", "/event/type")
        .at("/event_time")
        .id("/event_id"),
    // `{"type": "payment.updated", "event_id", "created_at", "data": {"type", "id"}}`.
    fields("square", "/type")
        .entity(Some("/data/type"), "/data/id")
        .at("/created_at")
        .id("/event_id"),
    preset("standard-webhooks", || Envelope::StandardWebhooks),
    preset("stripe", || Envelope::Stripe),
    preset("superoffice", || Envelope::SuperOffice),
    preset("svix", || Envelope::StandardWebhooks),
    // `{"action": {"id", "type", "date"}, "model": {"id"}}`.
    fields("trello", "/action/type")
        .entity(None, "/model/id")
        .at("/action/date")
        .id("/action/id"),
    // EventSub: the subscription type, message id and time are headers.
    fields("twitch", "header:twitch-eventsub-subscription-type")
        .at("header:twitch-eventsub-message-timestamp")
        .id("header:twitch-eventsub-message-id"),
    // `{"event_id", "event_type": "form_response", "form_response": {"token", "submitted_at"}}`.
    fields("typeform", "/event_type")
        .entity(None, "/form_response/token")
        .at("/form_response/submitted_at")
        .id("/event_id"),
    // `{"id", "type": "deployment.created", "createdAt" (ms), "payload": {...}}`.
    fields("vercel", "/type").at("/createdAt").id("/id"),
    // `{"id", "event": "dsync.user.created", "data": {"id", "object"}, "created_at"}`.
    fields("workos", "/event")
        .entity(Some("/data/object"), "/data/id")
        .at("/created_at")
        .id("/id"),
    // `{"event": "meeting.started", "event_ts" (ms), "payload": {"object": {"id"}}}`.
    fields("zoom", "/event")
        .entity(None, "/payload/object/id")
        .at("/event_ts"),
];

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderName, HeaderValue};
    use serde_json::{json, Value};

    use super::*;
    use crate::envelope::EventMeta;

    /// What a sender's documented example reads as: event type, entity type and id, time
    /// (RFC 3339), delivery id.
    struct Expect {
        event_type: &'static str,
        entity: (Option<&'static str>, Option<&'static str>),
        at: Option<&'static str>,
        id: Option<&'static str>,
    }

    fn read(name: &str, headers: &[(&'static str, &str)], body: Value) -> EventMeta {
        let headers: HeaderMap = headers
            .iter()
            .map(|(name, value)| {
                let value = HeaderValue::from_str(value).expect("visible ASCII");
                (HeaderName::from_static(name), value)
            })
            .collect();
        let envelope = Envelope::provider(name).expect("a catalogue envelope");
        envelope
            .extract(&headers, &body)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn check(name: &str, headers: &[(&'static str, &str)], body: Value, expect: Expect) {
        let meta = read(name, headers, body);
        assert_eq!(meta.event_type, expect.event_type, "{name}");
        assert_eq!(meta.entity_type.as_deref(), expect.entity.0, "{name}");
        assert_eq!(meta.entity_id.as_deref(), expect.entity.1, "{name}");
        let at = meta.created_at.map(|t| t.to_rfc3339());
        assert_eq!(at.as_deref(), expect.at, "{name}");
        assert_eq!(meta.delivery_id.as_deref(), expect.id, "{name}");
    }

    // Each body is the shape of the sender's documented example, cut to the fields read.

    #[test]
    fn zoom_reads_event_payload_object_and_event_ts_in_milliseconds() {
        let body = json!({"event": "meeting.started", "event_ts": 1_700_000_000_123_u64,
            "payload": {"account_id": "D8cJuqWVQ623CI4Q8yQK0Q",
                "object": {"id": "85432", "uuid": "4444AAAiAAAAAiAiAiiAii==", "topic": "Stand-up"}}});
        let expect = Expect {
            event_type: "meeting.started",
            entity: (None, Some("85432")),
            at: Some("2023-11-14T22:13:20.123+00:00"),
            id: None,
        };
        check("zoom", &[], body, expect);
    }

    #[test]
    fn paddle_reads_event_id_occurred_at_and_data_id() {
        let body = json!({"event_id": "evt_01h8bzakzx3hm2fmen703n5q45",
            "event_type": "transaction.completed", "occurred_at": "2023-08-21T11:57:47.390028Z",
            "notification_id": "ntf_01h8bzam1z32agrxjwhjgqk8w6",
            "data": {"id": "txn_01h8bx69629a16wwm9z8rjmak3", "status": "completed"}});
        let expect = Expect {
            event_type: "transaction.completed",
            entity: (None, Some("txn_01h8bx69629a16wwm9z8rjmak3")),
            at: Some("2023-08-21T11:57:47.390028+00:00"),
            id: Some("evt_01h8bzakzx3hm2fmen703n5q45"),
        };
        check("paddle", &[], body, expect);
    }

    #[test]
    fn linear_orders_one_entity_type_and_takes_the_delivery_header() {
        let body = json!({"action": "update", "type": "Issue",
            "createdAt": "2024-04-02T12:00:00.000Z",
            "data": {"id": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9", "title": "Fix it"},
            "url": "https://linear.app/acme/issue/ENG-1", "webhookTimestamp": 1_712_059_200_000_u64});
        let delivery = ("linear-delivery", "234d1a4e-b617-4388-90fe-adc3633d6b72");
        let expect = Expect {
            event_type: "Issue",
            entity: (Some("Issue"), Some("2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9")),
            at: Some("2024-04-02T12:00:00+00:00"),
            id: Some("234d1a4e-b617-4388-90fe-adc3633d6b72"),
        };
        check("linear", &[delivery], body, expect);
    }

    #[test]
    fn shopify_reads_its_headers_and_the_typed_global_id() {
        let headers = [
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-triggered-at", "2023-03-29T18:00:27.877041743Z"),
            ("x-shopify-event-id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
        ];
        let body = json!({"id": 820982911946154508_u64,
            "admin_graphql_api_id": "gid://shopify/Order/820982911946154508"});
        let expect = Expect {
            event_type: "orders/create",
            entity: (None, Some("gid://shopify/Order/820982911946154508")),
            at: Some("2023-03-29T18:00:27.877041743+00:00"),
            id: Some("98880550-7158-44d4-b7cd-2c97c8a091b5"),
        };
        check("shopify", &headers, body, expect);
    }

    #[test]
    fn mux_reads_the_object_and_the_event_id() {
        let body = json!({"type": "video.asset.ready", "id": "3a56ac3d-33da-4366-855b-f592d898409d",
            "created_at": "2024-01-01T00:00:00.000000Z",
            "object": {"type": "asset", "id": "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002"},
            "data": {"status": "ready"}});
        let expect = Expect {
            event_type: "video.asset.ready",
            entity: (Some("asset"), Some("0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002")),
            at: Some("2024-01-01T00:00:00+00:00"),
            id: Some("3a56ac3d-33da-4366-855b-f592d898409d"),
        };
        check("mux", &[], body, expect);
    }

    #[test]
    fn twitch_reads_everything_from_its_headers() {
        let headers = [
            (
                "twitch-eventsub-message-id",
                "befa7b53-d79d-478f-86b9-120f112b044e",
            ),
            (
                "twitch-eventsub-message-timestamp",
                "2019-11-16T10:11:12.634234626Z",
            ),
            ("twitch-eventsub-subscription-type", "channel.follow"),
        ];
        let body =
            json!({"subscription": {"type": "channel.follow"}, "event": {"user_id": "1337"}});
        let expect = Expect {
            event_type: "channel.follow",
            entity: (None, None),
            at: Some("2019-11-16T10:11:12.634234626+00:00"),
            id: Some("befa7b53-d79d-478f-86b9-120f112b044e"),
        };
        check("twitch", &headers, body, expect);
    }

    #[test]
    fn pagerduty_reads_the_nested_event() {
        let body = json!({"event": {"id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
            "event_type": "incident.priority_updated", "resource_type": "incident",
            "occurred_at": "2020-10-02T18:45:22.169Z",
            "data": {"id": "PGR0VU2", "type": "incident"}}});
        let expect = Expect {
            event_type: "incident.priority_updated",
            entity: (Some("incident"), Some("PGR0VU2")),
            at: Some("2020-10-02T18:45:22.169+00:00"),
            id: Some("5ac64822-4adc-4fda-ade0-410becf0de4f"),
        };
        check("pagerduty", &[], body, expect);
    }

    #[test]
    fn mailgun_reads_event_data_with_fractional_unix_seconds() {
        let body = json!({"signature": {"timestamp": "1529006854", "token": "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0", "signature": "d2271d12299f6592d9d44cd9d250f0704e4674c30d79d07c47a66f95ce71cf55"},
            "event-data": {"event": "delivered", "id": "CPgfbmQMTCKtHW6uIWtuVe", "timestamp": 1_521_472_262.908_181,
                "message": {"headers": {"message-id": "20130503182626.18666.16540@example.com"}}}});
        let meta = read("mailgun", &[], body);
        assert_eq!(meta.event_type, "delivered");
        assert_eq!(
            meta.entity_id.as_deref(),
            Some("20130503182626.18666.16540@example.com")
        );
        assert_eq!(meta.delivery_id.as_deref(), Some("CPgfbmQMTCKtHW6uIWtuVe"));
        let at = meta.created_at.expect("a time").timestamp_millis();
        assert_eq!(at, 1_521_472_262_908);
    }

    #[test]
    fn senders_with_presets_read_as_those_presets() {
        assert_eq!(Envelope::provider("stripe"), Ok(Envelope::Stripe));
        assert_eq!(Envelope::provider("github-sha1"), Ok(Envelope::GitHub));
        assert_eq!(Envelope::provider("superoffice"), Ok(Envelope::SuperOffice));
        for alias in ["clerk", "polar", "standard-webhooks", "svix"] {
            assert_eq!(
                Envelope::provider(alias),
                Ok(Envelope::StandardWebhooks),
                "{alias}"
            );
        }
    }

    #[test]
    fn a_header_delivery_id_counts_as_unauthenticated_by_a_body_only_scheme() {
        let shopify = Envelope::provider("shopify").expect("known");
        let paddle = Envelope::provider("paddle").expect("known");
        assert!(shopify.delivery_id_from_headers());
        assert!(!paddle.delivery_id_from_headers());
        assert_eq!(paddle.created_at_field(), "/occurred_at");
    }

    #[test]
    fn a_required_event_type_that_is_missing_is_named() {
        let envelope = Envelope::provider("zoom").expect("known");
        let error = envelope.extract(&HeaderMap::new(), &json!({"payload": {}}));
        assert_eq!(
            error,
            Err(crate::envelope::EnvelopeError::Missing {
                field: "/event".into()
            })
        );
    }

    #[test]
    fn every_entry_builds_and_the_names_are_sorted_and_unique() {
        let names: Vec<_> = envelopes().collect();
        assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "{names:?}");
        for name in names {
            let envelope = Envelope::provider(name).expect("a catalogue envelope");
            if let Envelope::Provider { name: own, .. } = &envelope {
                assert_eq!(*own, name);
                assert_eq!(envelope.name(), name);
            }
        }
    }

    #[test]
    fn every_field_of_the_table_is_well_formed_as_configuration() {
        for entry in CATALOGUE {
            let Shape::Fields(fields) = &entry.shape else {
                continue;
            };
            let specs = [
                fields.entity_type,
                fields.entity_id,
                fields.created_at,
                fields.delivery_id,
            ];
            for spec in specs.into_iter().flatten().chain([fields.event_type]) {
                let parsed: Field = spec
                    .parse()
                    .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
                assert_eq!(parsed, Field::from_static(spec), "{}", entry.name);
            }
        }
    }

    #[test]
    fn every_envelope_is_a_sender_of_the_verify_catalogue() {
        let senders: Vec<_> = crate::verify::providers().collect();
        let strays: Vec<_> = envelopes()
            .filter(|name| !senders.contains(name) && !PENDING.contains(name))
            .collect();
        assert!(
            strays.is_empty(),
            "envelopes for unknown senders: {strays:?}"
        );
    }

    /// Senders whose verifiers are not in the catalogue yet; each leaves this list when its
    /// verifier lands.
    const PENDING: &[&str] = &["square", "trello"];

    #[test]
    fn an_unknown_name_lists_the_senders_with_an_envelope() {
        let error = Envelope::provider("pigeon-post").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("no envelope for \"pigeon-post\"; senders with one: "));
        assert!(message.contains("zoom") && message.contains("paddle"));
    }
}

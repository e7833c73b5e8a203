//! The senders' envelopes by name: for each sender of the verify catalogue whose payload says
//! what happened, to what and when, where it says so.
//!
//! Most are a [`Mapping`] written as data, one entry each, in the configuration form of its
//! fields (`/pointer` or `header:NAME`); the senders with a preset of their own (Stripe,
//! GitHub, SuperOffice, Standard Webhooks and the senders built on it) are that preset.
//!
//! Senders that batch several events into one delivery (Asana's `events`, HubSpot's array,
//! LINE's `events`, SendGrid's array) say where the events are, and their fields point into
//! each event: the endpoint handles such a delivery event by event (see [`Envelope::batch`]),
//! each with its own ordering mark and dedupe record. Where a sender documents an id unique to
//! each event and kept by its retries (LINE's `webhookEventId`, SendGrid's `sg_event_id`) that
//! is the delivery id; elsewhere an event is known by the hash of its bytes.
//!
//! Two batching senders are left out, because what they batch is not events:
//!
//! * Meta's `entry` items are a page's or account's set of changes (`{"id", "time",
//!   "changes": [{"field", "value"}]}`, or `"messaging": [...]`): an item names no event type
//!   of its own, and the fields that do (`changes[].field`) are an array inside it. Read Meta
//!   with [`Envelope::Raw`], or a custom mapping of what the whole delivery shares (`/object`).
//! * Dropbox's notifications (`{"list_folder": {"accounts": [...]}, "delta": {"users":
//!   [...]}}`) say only which accounts changed, with no event type, time or id: the receiver
//!   is to ask Dropbox's API what changed. Read them with [`Envelope::Raw`].

use super::batch::BatchAt;
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
    /// Where the events are, for a sender whose every delivery is a batch.
    batch: Option<&'static str>,
    /// A field the sender changes on every retry of one event.
    changed_by_retries: Option<&'static str>,
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
        if let Some(pointer) = self.batch {
            mapping = mapping.batch_at_checked(BatchAt::from_static(pointer));
        }
        if let Some(spec) = self.changed_by_retries {
            mapping = mapping.changed_by_retries_checked(field(spec));
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
            batch: None,
            changed_by_retries: None,
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

    /// The sender changes `pointer` on every retry of one event: without a delivery id, the
    /// event is known by the digest of the rest.
    const fn changed_by_retries(mut self, pointer: &'static str) -> Self {
        if let Shape::Fields(fields) = &mut self.shape {
            fields.changed_by_retries = Some(pointer);
        }
        self
    }

    /// Every delivery is a batch whose events are at `pointer` (`""` for a body that is the
    /// array); the other fields then point into each event.
    const fn batch(mut self, pointer: &'static str) -> Self {
        if let Shape::Fields(fields) = &mut self.shape {
            fields.batch = Some(pointer);
        }
        self
    }
}

/// Every sender with an envelope, alphabetically, each as its documentation describes its
/// payload and headers. The delivery id is what the sender keeps across retries of one event.
const CATALOGUE: &[Entry] = &[
    // `{"events": [{"action": "changed", "resource": {"gid", "resource_type"}, "created_at",
    // "user", "parent", "change"}]}`. Asana's events carry no id, so each is known by the hash
    // of its bytes; a heartbeat is an empty `events`.
    fields("asana", "/action")
        .entity(Some("/resource/resource_type"), "/resource/gid")
        .at("/created_at")
        .batch("/events"),
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
    // An array of `{"eventId", "subscriptionId", "portalId", "appId", "occurredAt" (ms),
    // "subscriptionType": "contact.creation", "attemptNumber", "objectId"}`. HubSpot documents
    // `eventId` as "not guaranteed to be unique", so it is no delivery id: each event is known
    // by the hash of its bytes. A retry carries a higher `attemptNumber`, so it hashes apart
    // from the first attempt and is handled again; handlers must tolerate that. The object's
    // type is only the prefix of `subscriptionType`, so the entity is `objectId` alone.
    fields("hubspot", "/subscriptionType")
        .entity(None, "/objectId")
        .at("/occurredAt")
        .batch("")
        .changed_by_retries("/attemptNumber"),
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
    // `{"destination", "events": [{"type", "timestamp" (ms), "webhookEventId", "source",
    // "deliveryContext": {"isRedelivery"}}]}`; `webhookEventId` "uniquely identifies a webhook
    // event", and a redelivery is the same event marked `isRedelivery`. The chat is `source.userId`, `groupId` or `roomId`
    // by the source's type, which no one field names, so no entity. The console's "Verify"
    // sends an empty `events`.
    fields("line", "/type")
        .at("/timestamp")
        .id("/webhookEventId")
        .batch("/events"),
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
    // An array of `{"email", "timestamp" (s), "event": "delivered", "sg_event_id",
    // "sg_message_id"}`; SendGrid recommends deduplicating by `sg_event_id`, "unique for every
    // event". The entity is the message, so one message's events are ordered together.
    fields("sendgrid", "/event")
        .entity(None, "/sg_message_id")
        .at("/timestamp")
        .id("/sg_event_id")
        .batch(""),
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
    // Event Streams: CloudEvents in the structured format, posted as plain JSON, one event or
    // (a sink with `batch_events`) an array of them
    // (https://www.twilio.com/docs/events/event-types/voice/status-callback). Twilio's
    // status callbacks are form posts with no event id or time: read them with a custom
    // mapping (`/MessageStatus`, `/MessageSid`).
    preset("twilio", || Envelope::CloudEvents),
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
        expect.matches(name, &read(name, headers, body));
    }

    impl Expect {
        fn matches(&self, name: &str, meta: &EventMeta) {
            assert_eq!(meta.event_type, self.event_type, "{name}");
            assert_eq!(meta.entity_type.as_deref(), self.entity.0, "{name}");
            assert_eq!(meta.entity_id.as_deref(), self.entity.1, "{name}");
            let at = meta.created_at.map(|t| t.to_rfc3339());
            assert_eq!(at.as_deref(), self.at, "{name}");
            assert_eq!(meta.delivery_id.as_deref(), self.id, "{name}");
        }
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

    /// Each event of a batching sender's delivery `body`, read as the endpoint reads it.
    fn read_batch(name: &str, body: &str) -> Vec<EventMeta> {
        let envelope = Envelope::provider(name).expect("a catalogue envelope");
        let headers = HeaderMap::new();
        let items = envelope
            .batch(&headers, body.as_bytes())
            .unwrap_or_else(|| panic!("{name} batches"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        items
            .into_iter()
            .map(|item| {
                let item: Value = serde_json::from_slice(item).expect("JSON");
                envelope
                    .extract_item(&headers, &item)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            })
            .collect()
    }

    fn check_batch(name: &str, body: Value, expect: &[Expect]) {
        let events = read_batch(name, &body.to_string());
        assert_eq!(events.len(), expect.len(), "{name}");
        for (meta, expect) in events.iter().zip(expect) {
            expect.matches(name, meta);
        }
    }

    /// The request body of LINE's Messaging API reference ("Request body" of the webhook,
    /// https://developers.line.biz/en/reference/messaging-api/#request-body), cut to three
    /// events.
    #[test]
    fn line_reads_each_of_its_events_with_webhook_event_id_and_milliseconds() {
        let body = json!({"destination": "xxxxxxxxxx", "events": [
            {"type": "message", "message": {"type": "text", "id": "14353798921116", "text": "Hello, world"},
                "timestamp": 1_625_665_242_211_u64, "source": {"type": "user", "userId": "U80696558e1aa831..."},
                "replyToken": "757913772c4646b784d4b7ce46d12671", "mode": "active",
                "webhookEventId": "01FZ74A0TDDPYRVKNK77XKC3ZR", "deliveryContext": {"isRedelivery": false}},
            {"type": "follow", "timestamp": 1_625_665_242_214_u64,
                "source": {"type": "user", "userId": "Ufc729a925b3abef..."},
                "replyToken": "bb173f4d9cf64aed9d408ab4e36339ad", "mode": "active",
                "webhookEventId": "01FZ74ASS536FW97EX38NKCZQK", "deliveryContext": {"isRedelivery": false}},
            {"type": "unfollow", "timestamp": 1_625_665_242_215_u64,
                "source": {"type": "user", "userId": "Ubbd4f124aee5113..."}, "mode": "active",
                "webhookEventId": "01FZ74B5Y0F4TNKA5SCAVKPEDM", "deliveryContext": {"isRedelivery": false}}]});
        let expect = [
            (
                "message",
                "2021-07-07T13:40:42.211+00:00",
                "01FZ74A0TDDPYRVKNK77XKC3ZR",
            ),
            (
                "follow",
                "2021-07-07T13:40:42.214+00:00",
                "01FZ74ASS536FW97EX38NKCZQK",
            ),
            (
                "unfollow",
                "2021-07-07T13:40:42.215+00:00",
                "01FZ74B5Y0F4TNKA5SCAVKPEDM",
            ),
        ]
        .map(|(event_type, at, id)| Expect {
            event_type,
            entity: (None, None),
            at: Some(at),
            id: Some(id),
        });
        check_batch("line", body, &expect);
    }

    /// LINE's "Verify" button and its connectivity checks send no events: a batch of none.
    #[test]
    fn an_empty_line_delivery_is_a_batch_of_no_events() {
        let body = json!({"destination": "U0123456789abcdef0123456789abcdef", "events": []});
        assert!(read_batch("line", &body.to_string()).is_empty());
    }

    /// The example of HubSpot's Webhooks API guide (https://developers.hubspot.com/docs/api/webhooks,
    /// "Webhook payloads"): a JSON array, times in milliseconds. `eventId` "is not guaranteed
    /// to be unique" and `attemptNumber` counts the retries, so each event is known by the
    /// digest of the rest of it: the same for every attempt.
    #[test]
    fn hubspot_reads_each_element_of_its_array_known_by_its_digest_without_attempt_number() {
        let events = |attempt: u32| {
            json!([
                {"objectId": 1_246_965, "propertyName": "lifecyclestage", "propertyValue": "subscriber",
                    "changeSource": "ACADEMY", "eventId": 3_816_279_340_u64, "subscriptionId": 25,
                    "portalId": 33, "appId": 1_160_452, "occurredAt": 1_462_216_307_945_u64,
                    "subscriptionType": "contact.propertyChange", "attemptNumber": attempt},
                {"objectId": 1_246_978, "changeSource": "IMPORT", "eventId": 3_816_279_480_u64,
                    "subscriptionId": 22, "portalId": 33, "appId": 1_160_452,
                    "occurredAt": 1_462_216_307_945_u64, "subscriptionType": "contact.creation",
                    "attemptNumber": attempt}])
        };
        let first = read_batch("hubspot", &events(0).to_string());
        let shape: Vec<_> = first
            .iter()
            .map(|meta| (meta.event_type.as_str(), meta.entity_id.as_deref()))
            .collect();
        assert_eq!(
            shape,
            [
                ("contact.propertyChange", Some("1246965")),
                ("contact.creation", Some("1246978"))
            ]
        );
        let at = first[0].created_at.map(|t| t.to_rfc3339());
        assert_eq!(at.as_deref(), Some("2016-05-02T19:11:47.945+00:00"));
        let ids = |metas: &[EventMeta]| -> Vec<Option<String>> {
            metas.iter().map(|meta| meta.delivery_id.clone()).collect()
        };
        let retry = read_batch("hubspot", &events(1).to_string());
        assert_eq!(ids(&first), ids(&retry), "a retry is the same events");
        assert_ne!(ids(&first)[0], ids(&first)[1], "two events, two ids");
        assert!(ids(&first)[0]
            .as_deref()
            .is_some_and(|id| id.starts_with("sha256:")));
    }

    /// The example of SendGrid's Event Webhook reference
    /// (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event), with its
    /// placeholder ids made distinct: an array, unix seconds, `sg_event_id` per event.
    #[test]
    fn sendgrid_reads_each_event_with_its_sg_event_id_and_message() {
        let body = json!([
            {"email": "example@test.com", "timestamp": 1_513_299_569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
                "event": "processed", "category": "cat facts", "sg_event_id": "sg_event_id_1",
                "sg_message_id": "sg_message_id"},
            {"email": "example@test.com", "timestamp": 1_513_299_569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
                "event": "deferred", "category": "cat facts", "sg_event_id": "sg_event_id_2",
                "sg_message_id": "sg_message_id", "response": "400 try again later", "attempt": "5"},
            {"email": "example@test.com", "timestamp": 1_513_299_569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
                "event": "delivered", "category": "cat facts", "sg_event_id": "sg_event_id_3",
                "sg_message_id": "sg_message_id", "response": "250 OK"}]);
        let expect = [
            ("processed", "sg_event_id_1"),
            ("deferred", "sg_event_id_2"),
            ("delivered", "sg_event_id_3"),
        ]
        .map(|(event_type, id)| Expect {
            event_type,
            entity: (None, Some("sg_message_id")),
            at: Some("2017-12-15T00:59:29+00:00"),
            id: Some(id),
        });
        check_batch("sendgrid", body, &expect);
    }

    /// The Event example of Asana's API reference
    /// (https://developers.asana.com/reference/events, "EventResponse"), in a webhook's
    /// `events`: no id, so no delivery id.
    #[test]
    fn asana_reads_each_event_as_its_action_on_its_resource() {
        let event = json!({"action": "changed",
            "change": {"action": "changed", "field": "assignee",
                "new_value": {"gid": "12345", "resource_type": "user"}},
            "created_at": "2012-02-22T02:06:58.147Z",
            "parent": {"gid": "12345", "resource_type": "task", "name": "Bug Task"},
            "resource": {"gid": "12345", "resource_type": "task", "name": "Bug Task"},
            "type": "task",
            "user": {"gid": "12345", "resource_type": "user", "name": "Greg Sanchez"}});
        let added = json!({"action": "added", "created_at": "2012-02-22T02:07:01.000Z",
            "parent": {"gid": "67890", "resource_type": "project"},
            "resource": {"gid": "12345", "resource_type": "task"},
            "user": {"gid": "12345", "resource_type": "user"}});
        let expect = [
            ("changed", "2012-02-22T02:06:58.147+00:00"),
            ("added", "2012-02-22T02:07:01+00:00"),
        ]
        .map(|(event_type, at)| Expect {
            event_type,
            entity: (Some("task"), Some("12345")),
            at: Some(at),
            id: None,
        });
        check_batch("asana", json!({"events": [event, added]}), &expect);
        assert!(
            read_batch("asana", r#"{"events":[]}"#).is_empty(),
            "a heartbeat"
        );
    }

    #[test]
    fn a_batching_sender_refuses_to_read_the_whole_delivery_as_one_event() {
        let line = Envelope::provider("line").expect("known");
        let body = json!({"destination": "U1", "events": [{"type": "follow"}]});
        assert!(matches!(
            line.extract(&HeaderMap::new(), &body),
            Err(crate::envelope::EnvelopeError::Unsupported { .. })
        ));
        let hubspot = Envelope::provider("hubspot").expect("known");
        let not_an_array = hubspot.batch(&HeaderMap::new(), br#"{"subscriptionType":"x"}"#);
        assert!(matches!(
            not_an_array,
            Some(Err(crate::envelope::EnvelopeError::NotABatch { .. }))
        ));
        let zoom = Envelope::provider("zoom").expect("known");
        assert_eq!(zoom.batch(&HeaderMap::new(), b"[]"), None);
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
            if let Some(pointer) = fields.batch {
                let parsed =
                    BatchAt::new(pointer).unwrap_or_else(|e| panic!("{}: {e}", entry.name));
                assert_eq!(parsed, BatchAt::from_static(pointer), "{}", entry.name);
            }
        }
    }

    #[test]
    fn every_envelope_is_a_sender_of_the_verify_catalogue() {
        let senders: Vec<_> = crate::verify::providers().collect();
        let strays: Vec<_> = envelopes().filter(|name| !senders.contains(name)).collect();
        assert!(
            strays.is_empty(),
            "envelopes for unknown senders: {strays:?}"
        );
    }

    #[test]
    fn an_unknown_name_lists_the_senders_with_an_envelope() {
        let error = Envelope::provider("pigeon-post").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("no envelope for \"pigeon-post\"; senders with one: "));
        assert!(message.contains("zoom") && message.contains("paddle"));
    }
}

//! The built-in envelopes, one function per sender.

use http::HeaderMap;
use serde_json::Value;

use super::read::{get, header, id, object, optional, optional_key, required_key, text, time};
use super::{EnvelopeError, EventMeta};

/// Sonar: `{"event": ..., "object_id": ..., "current": {"created_at": ...}}`.
pub(super) fn sonar(body: &Value) -> Result<EventMeta, EnvelopeError> {
    let body = object(body)?;
    let event_type = required_key(body, "event", text)?;
    let entity_id = required_key(body, "object_id", id)?;
    // Sonar: "The `current` array may or may not contain data", and an empty PHP array arrives
    // as `[]`; only an object can hold `created_at`, anything else means "no data".
    let created_at = match get(body, "current") {
        Some(Value::Object(current)) => {
            optional(get(current, "created_at"), "current.created_at", time)?
        }
        _ => None,
    };
    // `object_id` is the id of the top-level entity, which Sonar names first in the event.
    let entity_type = event_type
        .split_once('.')
        .map(|(entity, _)| entity)
        .filter(|entity| !entity.is_empty())
        .map(str::to_owned);
    Ok(EventMeta {
        event_type,
        entity_type,
        entity_id: Some(entity_id),
        created_at,
        delivery_id: None,
        test: false,
    })
}

/// The integration pattern: `{"id", "entityType", "eventType", "timestamp"}`.
pub(super) fn integration(body: &Value) -> Result<EventMeta, EnvelopeError> {
    let body = object(body)?;
    Ok(EventMeta {
        event_type: required_key(body, "eventType", text)?,
        entity_type: optional_key(body, "entityType", text)?,
        entity_id: Some(required_key(body, "id", id)?),
        created_at: optional_key(body, "timestamp", time)?,
        delivery_id: None,
        test: false,
    })
}

const SUPEROFFICE_EVENT: &str = "X-SuperOffice-Event";
const SUPEROFFICE_EVENT_ID: &str = "X-SuperOffice-EventId";
const SUPEROFFICE_TEST: &str = "X-Hook-Test";

/// SuperOffice: body fields first, its headers as fallbacks, and a lenient test delivery.
pub(super) fn superoffice(headers: &HeaderMap, body: &Value) -> Result<EventMeta, EnvelopeError> {
    let test_header = matches!(
        header(headers, SUPEROFFICE_TEST),
        Ok(Some(value)) if value.eq_ignore_ascii_case("true")
    );
    let test_event = body.get("Event").and_then(Value::as_str) == Some("test");
    if test_header || test_event {
        return Ok(superoffice_test(headers, body));
    }

    let body = object(body)?;
    let event_type = match get(body, "Event") {
        Some(event) => text(event, "Event")?,
        None => header(headers, SUPEROFFICE_EVENT)?
            .map(str::to_owned)
            .ok_or_else(|| EnvelopeError::Missing {
                field: "Event".to_owned(),
            })?,
    };
    let delivery_id = match get(body, "EventId") {
        Some(event_id) => Some(id(event_id, "EventId")?),
        None => header(headers, SUPEROFFICE_EVENT_ID)?.map(str::to_owned),
    };
    Ok(EventMeta {
        event_type,
        entity_type: optional_key(body, "Entity", text)?,
        entity_id: optional_key(body, "PrimaryKey", id)?,
        created_at: optional_key(body, "Timestamp", time)?,
        delivery_id,
        test: false,
    })
}

/// A SuperOffice registration test: take what can be read, ignore the rest.
fn superoffice_test(headers: &HeaderMap, body: &Value) -> EventMeta {
    let field = |key: &str| body.get(key).filter(|value| !value.is_null());
    let header = |name: &str| header(headers, name).ok().flatten().map(str::to_owned);
    EventMeta {
        event_type: field("Event")
            .and_then(|event| text(event, "Event").ok())
            .or_else(|| header(SUPEROFFICE_EVENT))
            .unwrap_or_else(|| "test".to_owned()),
        entity_type: field("Entity").and_then(|entity| text(entity, "Entity").ok()),
        entity_id: field("PrimaryKey").and_then(|key| id(key, "PrimaryKey").ok()),
        created_at: field("Timestamp").and_then(|at| time(at, "Timestamp").ok()),
        delivery_id: field("EventId")
            .and_then(|event_id| id(event_id, "EventId").ok())
            .or_else(|| header(SUPEROFFICE_EVENT_ID)),
        test: true,
    }
}

/// Standard Webhooks: `{"type", "timestamp", "data"}` with the id in `webhook-id`.
pub(super) fn standard_webhooks(
    headers: &HeaderMap,
    body: &Value,
) -> Result<EventMeta, EnvelopeError> {
    let body = object(body)?;
    let delivery_id = match header(headers, "webhook-id")? {
        Some(value) => Some(value),
        // Svix sends the same scheme under its older header names.
        None => header(headers, "svix-id")?,
    };
    let entity_id = body
        .get("data")
        .and_then(|data| data.get("id"))
        .and_then(|value| id(value, "data.id").ok());
    Ok(EventMeta {
        event_type: required_key(body, "type", text)?,
        entity_type: None,
        entity_id,
        created_at: optional_key(body, "timestamp", time)?,
        delivery_id: delivery_id.map(str::to_owned),
        test: false,
    })
}

const GITHUB_EVENT: &str = "X-GitHub-Event";

/// GitHub: everything the envelope needs is in headers.
pub(super) fn github(headers: &HeaderMap) -> Result<EventMeta, EnvelopeError> {
    let event_type = header(headers, GITHUB_EVENT)?
        .ok_or_else(|| EnvelopeError::MissingHeader {
            header: GITHUB_EVENT.to_owned(),
        })?
        .to_owned();
    Ok(EventMeta {
        // GitHub sends `ping` when a hook is created, to check the URL.
        test: event_type == "ping",
        event_type,
        entity_type: None,
        entity_id: None,
        created_at: None,
        delivery_id: header(headers, "X-GitHub-Delivery")?.map(str::to_owned),
    })
}

/// Stripe: the Event object (`id`, `type`, `created`, `data.object`).
pub(super) fn stripe(body: &Value) -> Result<EventMeta, EnvelopeError> {
    let body = object(body)?;
    let (entity_type, entity_id) = match get(body, "data").and_then(|data| data.get("object")) {
        // Some objects have no id (the `balance` of `balance.available`): no entity then.
        Some(Value::Object(object)) => (
            optional(get(object, "object"), "data.object.object", text)?,
            optional(get(object, "id"), "data.object.id", id)?,
        ),
        _ => (None, None),
    };
    Ok(EventMeta {
        event_type: required_key(body, "type", text)?,
        entity_type,
        entity_id,
        created_at: Some(required_key(body, "created", time)?),
        // Stripe retries an event under its own `id`.
        delivery_id: Some(required_key(body, "id", id)?),
        test: false,
    })
}

/// No envelope at all.
pub(super) fn raw() -> EventMeta {
    EventMeta {
        event_type: "webhook".to_owned(),
        entity_type: None,
        entity_id: None,
        created_at: None,
        delivery_id: None,
        test: false,
    }
}

//! Envelopes: where each sender puts the event type, entity, time and delivery id. (Interface
//! stub; the implementation lands from the envelope branch.)

use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde_json::Value;

/// What the pipeline needs to know about one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The event type, e.g. `account.status`.
    pub event_type: String,
    /// The kind of entity, where the sender says (`contact`, `USER`).
    pub entity_type: Option<String>,
    /// The entity the event is about.
    pub entity_id: Option<String>,
    /// When the sender says the event happened.
    pub created_at: Option<DateTime<Utc>>,
    /// The sender's id for this delivery; retries carry the same id.
    pub delivery_id: Option<String>,
    /// A sender's connectivity test (SuperOffice `X-Hook-Test`, GitHub `ping`).
    pub test: bool,
}

/// A known payload format, or a custom mapping.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Envelope {
    /// Sonar: `event`, `object_id`, `current.created_at`.
    Sonar,
}

impl Envelope {
    /// Reads the envelope fields from headers and the parsed body.
    pub fn extract(&self, _headers: &HeaderMap, body: &Value) -> Result<EventMeta, EnvelopeError> {
        let event_type =
            body.get("event")
                .and_then(Value::as_str)
                .ok_or(EnvelopeError::Missing {
                    field: "event".into(),
                })?;
        let entity_id = match body.get("object_id") {
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) => Some(s.clone()),
            _ => {
                return Err(EnvelopeError::Missing {
                    field: "object_id".into(),
                })
            }
        };
        let created_at = body
            .pointer("/current/created_at")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        Ok(EventMeta {
            event_type: event_type.to_owned(),
            entity_type: None,
            entity_id,
            created_at,
            delivery_id: None,
            test: false,
        })
    }

    /// The name of the field that holds `created_at`, for messages.
    pub fn created_at_field(&self) -> &str {
        "current.created_at"
    }
}

/// A delivery whose envelope could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// A required field is absent.
    #[error("missing field `{field}`")]
    Missing {
        /// The field, as the sender's documentation names it.
        field: String,
    },
}

//! What a handler gets and gives back, and the type erasure that lets one pipeline run a
//! typed handler ([`Receiver`](super::Receiver)) or a wrapped service
//! ([`ReceiverLayer`](super::ReceiverLayer)).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::envelope::EventMeta;
use crate::outcome::Outcome;

/// One delivery, as handed to a handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery<T = Value> {
    /// The body deserialised into the handler's own type.
    pub payload: T,
    /// The envelope fields: event type, entity, time, delivery id.
    pub event: EventMeta,
    /// The request headers, as received.
    pub headers: HeaderMap,
    /// The raw body, byte for byte; for an event of a batch, that event's own bytes as they
    /// are in the body.
    pub body: Bytes,
    /// The name of the endpoint that received it.
    pub endpoint: Arc<str>,
    /// The event's place in its [batch](crate::envelope::Envelope::batch), if it came in one:
    /// the handler is called once per event, in order.
    pub batch: Option<InBatch>,
}

/// An event's place in the batch it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InBatch {
    /// Its position, from 0.
    pub index: usize,
    /// How many events the batch holds.
    pub len: usize,
}

/// A handler's refusal: answered with its status and message so the sender can show it.
///
/// A 4xx tells the sender the event is wrong and retrying will not help (the integration
/// pattern displays the message to its users); a 5xx asks it to retry later. Either way the
/// ordering mark and dedupe entry are not recorded, so a retry is handled afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    status: StatusCode,
    message: String,
}

impl HandlerError {
    /// A refusal with this status (anything not 4xx or 5xx becomes 500) and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the event cannot be applied; retrying will not help.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422: the event is understood but refused.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 503: a dependency is down; the sender should retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// The status the sender gets.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message the sender gets.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for HandlerError {}

pub(super) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What running a handler gives: success (with the response to send, for the layer form) or
/// a refusal.
pub(super) type RunOutput = Result<Option<Response>, Refusal>;
pub(super) type Run = Box<dyn FnOnce() -> BoxFuture<RunOutput> + Send>;
pub(super) type ErasedHandler = Arc<dyn Fn(Parsed) -> Result<Run, String> + Send + Sync>;

pub(super) enum Refusal {
    Handler(HandlerError),
    // The layer form passes the inner service's own non-2xx answer through unchanged.
    Response(Response),
}

/// What the pipeline knows once a delivery is verified and parsed.
pub(super) struct Parsed {
    pub(super) value: Value,
    pub(super) event: EventMeta,
    pub(super) parts: http::request::Parts,
    pub(super) body: Bytes,
    pub(super) endpoint: Arc<str>,
    pub(super) batch: Option<InBatch>,
}

/// Erases a typed handler: the payload is deserialised when the delivery is prepared (a
/// payload that does not fit is refused before anything else happens), the call runs later.
pub(super) fn erase<T, F, Fut>(handler: F) -> ErasedHandler
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(Delivery<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |parsed: Parsed| {
        let payload: T = into_payload(parsed.value)?;
        let delivery = Delivery {
            payload,
            event: parsed.event,
            headers: parsed.parts.headers,
            body: parsed.body,
            endpoint: parsed.endpoint,
            batch: parsed.batch,
        };
        let handler = Arc::clone(&handler);
        Ok(Box::new(move || {
            Box::pin(async move {
                handler(delivery)
                    .await
                    .map(|()| None)
                    .map_err(Refusal::Handler)
            }) as BoxFuture<RunOutput>
        }) as Run)
    })
}

/// What the pipeline answers for a handler's refusal.
pub(super) fn refused(refusal: Refusal) -> (Outcome, Option<Response>) {
    match refusal {
        Refusal::Handler(e) => (Outcome::Rejected(e.status, e.message), None),
        Refusal::Response(response) => (
            Outcome::Rejected(response.status(), "refused by the handler".into()),
            Some(response),
        ),
    }
}

/// The handler's payload from the parsed body. A handler that takes `serde_json::Value` gets
/// the parsed value itself, not a rebuilt copy.
pub(super) fn into_payload<T: DeserializeOwned + 'static>(value: Value) -> Result<T, String> {
    let value: Box<dyn std::any::Any> = Box::new(value);
    match value.downcast::<T>() {
        Ok(same) => Ok(*same),
        Err(value) => {
            let value = value
                .downcast::<Value>()
                .map_err(|_| "the parsed body is not JSON".to_owned())?;
            serde_path_to_error::deserialize(*value).map_err(|e| {
                format!(
                    "payload does not have the expected shape at `{}`: {}",
                    e.path(),
                    e.inner()
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_payload_is_the_parsed_value_and_a_typed_one_names_the_bad_field() {
        let value = serde_json::json!({"current": {"status": "active"}});
        assert_eq!(into_payload::<Value>(value.clone()), Ok(value.clone()));
        #[derive(Debug, serde::Deserialize)]
        struct Typed {
            #[allow(dead_code)]
            current: Current,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Current {
            #[allow(dead_code)]
            status: u32,
        }
        let error = into_payload::<Typed>(value).unwrap_err();
        assert!(error.contains("`current.status`"), "{error}");
    }

    #[test]
    fn handler_errors_are_always_errors() {
        assert_eq!(
            HandlerError::new(StatusCode::OK, "x").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(HandlerError::bad_request("x").status(), 400);
    }
}

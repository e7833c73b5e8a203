//! Receive webhooks correctly.
#![warn(missing_docs)]

pub mod envelope;
mod secret;
pub mod verify;

pub use secret::Secret;
pub mod store;
pub mod ordering;
pub mod outcome;
mod endpoint;
pub use endpoint::{
    BuildError, Delivery, HandlerError, Receiver, ReceiverBuilder, ReceiverLayer, ReceiverService,
    WebhookEvent, DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT, DEFAULT_RETENTION,
};
pub use outcome::Outcome;

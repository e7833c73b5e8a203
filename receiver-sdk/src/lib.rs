//! Receive webhooks correctly.
#![warn(missing_docs)]

pub mod envelope;
mod secret;
pub mod verify;

pub use secret::Secret;
mod endpoint;
pub mod ordering;
pub mod outcome;
pub mod store;
pub use endpoint::{
    BuildError, Delivery, HandlerError, Receiver, ReceiverBuilder, ReceiverLayer, ReceiverService,
    WebhookEvent, DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT, DEFAULT_RETENTION,
};
pub use outcome::Outcome;

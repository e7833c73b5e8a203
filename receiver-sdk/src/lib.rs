//! Receive webhooks correctly.
#![warn(missing_docs)]

pub mod envelope;
mod secret;
pub mod verify;

pub use secret::Secret;
pub mod store;

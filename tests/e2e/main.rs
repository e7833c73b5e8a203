//! End-to-end tests: every test drives a real server over loopback HTTP.

mod asymmetric;
mod batch_review;
mod batch_review2;
mod batch_senders;
mod batches;
mod catalogue_interop;
mod cloudevents;
mod crash;
mod custom_verifier;
mod endpoint;
mod examples;
mod handshakes;
mod hostile;
mod hostile_connections;
mod logging;
mod ordering;
mod providers;
mod scenarios;
mod security;
mod senders;
mod signatures;
mod twilio_urls;

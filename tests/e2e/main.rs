//! End-to-end tests: every test drives a real server over loopback HTTP.

mod asymmetric;
mod crash;
mod custom_verifier;
mod endpoint;
mod examples;
mod hostile;
mod hostile_connections;
mod logging;
mod ordering;
mod scenarios;
mod security;
mod senders;
mod signatures;

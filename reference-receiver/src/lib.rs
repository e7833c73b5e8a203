//! The reference receiver: webhook endpoints from a config file, built on `receiver-sdk`.
//!
//! # Layout
//!
//! * [`config`]: the TOML config, its embedded defaults and environment overrides.
//! * [`relay`]: rendering and sending an accepted event to a downstream API.
//! * [`outbox`]: the durable queue of `queued` relays, with backoff and dead letters, and its
//!   background worker.
//! * [`admin`]: the admin API under `/admin` (outboxes: counts, events, retry, purge) and the
//!   `outbox` CLI commands that call it.
//! * `endpoints`: turning `[[endpoint]]` entries into SDK receivers.
//! * [`inspector`]: inspection bins at `/in/{token}`, their JSON API and web UI, and the
//!   `inspect` CLI.
//! * [`send`]: the `send` subcommand, which signs test deliveries as real senders do.
//! * [`serve`]: the whole service on an already-bound listener, until a shutdown future
//!   resolves, so tests bind port 0 and stop it at will.
//! * `server`: the accept loop and every connection-level limit (timeouts, connection caps,
//!   the budget of request bodies in flight, HTTP/2 settings).
//! * `tls`: HTTPS with rustls when `server.tls_cert` and `server.tls_key` are set.
//! * `access`: the one gate in front of `/admin`, `/api` and `/ui` (admin token, inspector
//!   sessions, loopback host names, cross-site refusals).
//! * `metrics`: the Prometheus metrics served at `/metrics`.
//!
//! How to run and configure the binary is the operator's guide in `reference-receiver/docs/`
//! (start with `getting-started.md`).

mod access;
pub mod admin;
mod app;
pub mod config;
mod endpoints;
mod health;
pub mod inspector;
mod logging;
mod metrics;
pub mod outbox;
pub mod relay;
pub mod send;
mod server;
mod stores;
mod tls;

pub use app::check;
pub use logging::init_logging;
pub use server::{serve, shutdown_signal};

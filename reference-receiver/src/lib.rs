//! The reference receiver: webhook endpoints from a config file, built on `receiver-sdk`.
//!
//! # Layout
//!
//! From the composition root down; each module uses only modules listed below it:
//!
//! * [`serve`] (in `server`): the whole service on an already-bound listener, until a
//!   shutdown future resolves, so tests bind port 0 and stop it at will; with the accept loop
//!   and every connection-level limit (timeouts, connection caps, the budget of request bodies
//!   in flight, HTTP/2 settings), and [`shutdown_signal`].
//! * `logging`: [`init_logging`], as `[log]` says.
//! * [`App`] (`app`): the composition root. Builds the router (endpoints, health, metrics,
//!   admin API, inspector) from a [`config::Config`] and opened [`Stores`]; tests send it
//!   requests with `oneshot`, no socket needed. [`check`] validates what it would build.
//! * [`Stores`] (`stores`): opening the sled store and what replicas share (sled or
//!   PostgreSQL), and closing them once nothing holds them.
//! * `health`: `/healthz` and `/readyz`.
//! * [`admin`]: the admin API under `/admin` (outboxes: counts, events, retry, purge) and the
//!   `outbox` CLI commands that call it.
//! * [`inspector`]: inspection bins at `/in/{token}`, their JSON API and web UI, and the
//!   `inspect` CLI.
//! * `access`: the one gate in front of `/admin`, `/api` and `/ui` (admin token, inspector
//!   sessions, loopback host names, cross-site refusals).
//! * `endpoints`: turning `[[endpoint]]` entries into SDK receivers.
//! * [`outbox`]: the durable queue of `queued` relays, with backoff and dead letters, and its
//!   background worker.
//! * [`relay`]: rendering and sending an accepted event to a downstream API.
//! * [`config`]: the TOML config, its embedded defaults and environment overrides.
//! * [`send`]: the `send` subcommand, which signs test deliveries as real senders do.
//! * `tls`: HTTPS with rustls when `server.tls_cert` and `server.tls_key` are set.
//! * `metrics`: the Prometheus metrics served at `/metrics`; a leaf that is handed plain
//!   labels and counts.
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

pub use app::{check, App};
pub use logging::init_logging;
pub use server::{serve, shutdown_signal};
pub use stores::Stores;

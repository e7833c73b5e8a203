//! The reference receiver's integration tests, compiled as one binary: the built binary as
//! users run it, and the receiver served in this process, against real servers on loopback
//! ports. Run one area with `cargo test -p reference-receiver --test it <module>::`.
//!
//! Two helper modules serve the rest: `common` runs the built binary and plays the APIs around
//! it; `inspector_support` serves the receiver in process and shortcuts the inspector's API.
//! The queued relay's tests (`outbox`) bring their own helpers in `outbox::support`.
//!
//! Everything here shares one process: the receivers served in process share one metrics
//! recorder (so only gauges read at scrape time and counters' presence are asserted, never a
//! counter's value), and no test sets environment variables or the working directory of this
//! process (children get theirs).

mod common;
mod inspector_support;

mod access;
mod app;
mod cli;
mod handshakes;
mod inspector_api;
mod inspector_browser;
mod inspector_cli;
mod inspector_hostile;
mod outbox;
mod providers;
mod relay;
mod replicas;
mod send;
mod shutdown;
mod tls;

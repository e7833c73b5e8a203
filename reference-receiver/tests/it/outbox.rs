//! The `queued` relay end to end: a real receiver (in process, or the built binary), a real
//! downstream on loopback, sled in temp dirs.

mod admin;
mod bounds;
mod crash;
mod dead_letters;
mod delivery;
mod migrations;
mod shutdown;
mod support;

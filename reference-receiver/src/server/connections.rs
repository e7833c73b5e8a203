//! Which connections are open, from whom, and which one to close when a cap is reached.
//!
//! A sender that opens connections and never completes a request (slow-loris), or keeps them
//! idle, holds a file descriptor and a buffer each while giving us nothing. So at a cap
//! (`max_connections`, or `max_connections_per_peer` for the new connection's peer) the
//! connection that has gone longest without a request in flight is closed to make room: an
//! attacker's half-open connections go before a sender's fresh one, and a connection with a
//! request in flight is never cut. Only when every connection in scope has a request in flight
//! is the new one refused; those requests are themselves bounded by the body deadline and the
//! body budget. The per-peer cap keeps one address (or IPv6 /64) from taking every slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// File descriptors kept free of connections: the store's files, PostgreSQL pools and the
/// relays' outgoing calls.
const RESERVED_FDS: usize = 128;

/// Whose connections and bodies share a per-peer cap: an IPv4 address, or an IPv6 /64 (one
/// subscriber's usual allocation, which a single sender can spread over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Peer(IpAddr);

impl Peer {
    /// The peer an address belongs to.
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => Self(IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into())),
            },
        }
    }
}

/// One open connection, shared by its task and the guards of its requests in flight.
#[derive(Debug)]
pub(crate) struct Conn {
    // Requests whose response has not finished. 0: the connection holds nothing of a sender's.
    in_flight: AtomicUsize,
    // When `in_flight` last dropped to 0 (or the connection opened), in ms since the registry's
    // epoch: how long it has given us nothing, to pick whom to close.
    quiet_since_ms: AtomicU64,
    // Set once a request head has been read: until then the header deadline applies.
    started: AtomicBool,
    // Set when the registry closes it to make room.
    shed: AtomicBool,
    // Wakes the connection's task: a request started or ended, or the connection was shed.
    changed: Notify,
}

impl Conn {
    /// Counts a request in flight until the guard is dropped (when its response has been sent).
    pub(crate) fn request(self: &Arc<Self>, epoch: Instant) -> RequestGuard {
        self.started.store(true, Ordering::Release);
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.changed.notify_one();
        }
        RequestGuard {
            conn: Arc::clone(self),
            epoch,
        }
    }

    /// Whether a request is in flight.
    pub(crate) fn is_busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Whether the registry closed this connection to make room.
    pub(crate) fn is_shed(&self) -> bool {
        self.shed.load(Ordering::Acquire)
    }

    /// Resolves when a request starts or ends, or the connection is shed.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// When the connection should be closed for giving us nothing, if it has no request in
    /// flight: the header deadline before its first request, the idle timeout after.
    pub(crate) fn quiet_deadline(
        &self,
        epoch: Instant,
        opened: Instant,
        header: Duration,
        idle: Duration,
    ) -> Option<Instant> {
        if self.is_busy() {
            return None;
        }
        if !self.started.load(Ordering::Acquire) {
            return Some(opened + header);
        }
        let quiet = Duration::from_millis(self.quiet_since_ms.load(Ordering::Acquire));
        Some(epoch + quiet + idle)
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    conn: Arc<Conn>,
    epoch: Instant,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.conn
            .quiet_since_ms
            .store(millis_since(self.epoch), Ordering::Release);
        if self.conn.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.conn.changed.notify_one();
        }
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The open connections, counted against the caps.
#[derive(Debug)]
pub(crate) struct Registry {
    max: usize,
    per_peer: usize,
    epoch: Instant,
    // One lock for both maps: admitting (and choosing whom to shed) must see them agree.
    // Held only to count or scan, never across an await.
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    conns: HashMap<u64, (Peer, Arc<Conn>)>,
    per_peer: HashMap<Peer, usize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every connection in scope has a request in flight.
    AllBusy,
}

impl Registry {
    /// A registry for at most `max` connections, `per_peer` from one peer.
    pub(crate) fn new(max: usize, per_peer: usize) -> Self {
        Self {
            max,
            per_peer: per_peer.min(max),
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
        }
    }

    /// The instant the connections' quiet times are counted from.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The cap in force.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Admits a connection from `peer`, closing the quietest one in scope first if a cap is
    /// reached.
    pub(crate) fn admit(self: &Arc<Self>, peer: Peer) -> Result<Ticket, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.per_peer.get(&peer).copied().unwrap_or(0) >= self.per_peer
            && !open.shed_quietest(Some(peer))
        {
            return Err(Refusal::AllBusy);
        }
        if open.conns.len() >= self.max && !open.shed_quietest(None) {
            return Err(Refusal::AllBusy);
        }
        let id = open.next_id;
        open.next_id += 1;
        let conn = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            quiet_since_ms: AtomicU64::new(millis_since(self.epoch)),
            started: AtomicBool::new(false),
            shed: AtomicBool::new(false),
            changed: Notify::new(),
        });
        open.conns.insert(id, (peer, Arc::clone(&conn)));
        *open.per_peer.entry(peer).or_default() += 1;
        Ok(Ticket {
            registry: Arc::clone(self),
            id,
            conn,
        })
    }

    /// Closes the quietest connection of all (when the process is out of file descriptors).
    pub(crate) fn shed_quietest(&self) -> bool {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .shed_quietest(None)
    }

    /// Connections open now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .conns
            .len()
    }
}

impl Open {
    /// Closes the connection (of `peer`, or of anyone) that has gone longest without a request
    /// in flight, and stops counting it. False when every one has a request in flight.
    fn shed_quietest(&mut self, peer: Option<Peer>) -> bool {
        let quietest = self
            .conns
            .iter()
            .filter(|(_, (of, conn))| {
                peer.is_none_or(|p| p == *of) && !conn.is_busy() && !conn.is_shed()
            })
            .min_by_key(|(_, (_, conn))| conn.quiet_since_ms.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        let Some(id) = quietest else {
            return false;
        };
        if let Some((of, conn)) = self.remove(id) {
            conn.shed.store(true, Ordering::Release);
            conn.changed.notify_one();
            tracing::debug!(peer = %of.0, "closed a quiet connection to make room");
            metrics::counter!("server_connections_shed_total").increment(1);
        }
        true
    }

    fn remove(&mut self, id: u64) -> Option<(Peer, Arc<Conn>)> {
        let (peer, conn) = self.conns.remove(&id)?;
        if let Some(count) = self.per_peer.get_mut(&peer) {
            *count -= 1;
            if *count == 0 {
                self.per_peer.remove(&peer);
            }
        }
        Some((peer, conn))
    }
}

/// A connection's place in the registry, given back when dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    registry: Arc<Registry>,
    id: u64,
    /// The connection's shared state.
    pub(crate) conn: Arc<Conn>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Already gone if it was shed.
        self.registry
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(self.id);
    }
}

/// `configured`, or less when the process may open too few files to hold that many
/// connections besides what the receiver itself needs (`RESERVED_FDS`).
pub(crate) fn fit_to_fd_limit(configured: usize) -> usize {
    let Some(soft) = open_files_limit() else {
        return configured;
    };
    let room = soft.saturating_sub(RESERVED_FDS).max(1);
    if configured > room {
        tracing::warn!(
            "server.max_connections {configured} is above what the open-files limit of {soft} \
             leaves room for; using {room}"
        );
        return room;
    }
    configured
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); None elsewhere or when
/// unlimited.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(max: usize, per_peer: usize) -> Arc<Registry> {
        Arc::new(Registry::new(max, per_peer))
    }

    fn peer(last: u8) -> Peer {
        Peer::of(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn at_the_cap_the_quiet_connection_is_closed_not_the_busy_one() {
        let registry = registry(2, 2);
        let busy = registry.admit(peer(1)).unwrap();
        let _request = busy.conn.request(registry.epoch());
        let quiet = registry.admit(peer(1)).unwrap();
        let _new = registry.admit(peer(2)).unwrap();
        assert!(quiet.conn.is_shed());
        assert!(!busy.conn.is_shed());
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn a_new_connection_is_refused_when_every_one_is_busy() {
        let registry = registry(1, 1);
        let busy = registry.admit(peer(1)).unwrap();
        let _request = busy.conn.request(registry.epoch());
        assert_eq!(registry.admit(peer(2)).unwrap_err(), Refusal::AllBusy);
    }

    #[test]
    fn the_per_peer_cap_sheds_only_that_peers_connections() {
        let registry = registry(10, 1);
        let other = registry.admit(peer(2)).unwrap();
        let first = registry.admit(peer(1)).unwrap();
        let _second = registry.admit(peer(1)).unwrap();
        assert!(first.conn.is_shed());
        assert!(!other.conn.is_shed());
    }

    #[test]
    fn a_dropped_ticket_frees_its_place() {
        let registry = registry(1, 1);
        let ticket = registry.admit(peer(1)).unwrap();
        drop(ticket);
        assert_eq!(registry.len(), 0);
    }

    #[test]
    fn ipv6_peers_are_grouped_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Peer::of(a), Peer::of(b));
        assert_ne!(Peer::of(a), Peer::of(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(Peer::of(mapped), Peer::of(IpAddr::from([10, 0, 0, 1])));
    }
}

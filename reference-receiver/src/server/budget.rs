//! What request bodies may make the receiver hold, and for how long.
//!
//! Every route buffers its body before acting on it, so bodies in flight are memory a sender
//! chooses: 600 connections each sending most of a 1 MiB body and stalling held 600 MB. The
//! [`Budget`] caps the bytes held at once, in all and per peer. A request reserves its declared
//! `Content-Length` (up to the largest body any route keeps) before a byte of it is read, and
//! is answered 503 with `Retry-After` when that cannot be had; a body without a length
//! (chunked, or HTTP/2 without the header) reserves as it arrives. [`Metered`] does the
//! reserving and enforces one deadline on the whole body, on every route.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderValue};
use http_body::{Frame, SizeHint};
use receiver_sdk::Outcome;
use tokio::time::{Instant, Sleep};

use super::connections::Peer;

/// Seconds a sender refused for the budget is asked to wait: bodies in flight finish or hit
/// their deadline meanwhile.
const RETRY_AFTER_SECS: &str = "5";

/// The bytes of request bodies held at once.
#[derive(Debug)]
pub(crate) struct Budget {
    total: usize,
    per_peer: usize,
    // The most one request reserves: beyond it the route refuses the body (413) or drops it.
    per_request: usize,
    // One lock for both counts, so a reservation is taken from both or neither.
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    per_peer: HashMap<Peer, usize>,
}

impl Budget {
    /// A budget of `total` bytes, `per_peer` of them for one peer, `per_request` for one request.
    pub(crate) fn new(total: usize, per_peer: usize, per_request: usize) -> Self {
        Self {
            total,
            per_peer,
            per_request,
            held: Mutex::new(Held::default()),
        }
    }

    fn take(&self, peer: Peer, bytes: usize) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let of_peer = held.per_peer.get(&peer).copied().unwrap_or(0);
        if held.total + bytes > self.total || of_peer + bytes > self.per_peer {
            return false;
        }
        held.total += bytes;
        *held.per_peer.entry(peer).or_default() += bytes;
        true
    }

    fn give_back(&self, peer: Peer, bytes: usize) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.total -= bytes;
        if let Some(of_peer) = held.per_peer.get_mut(&peer) {
            *of_peer -= bytes;
            if *of_peer == 0 {
                held.per_peer.remove(&peer);
            }
        }
    }

    /// Bytes held now, in all.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// Reserves what a request from `peer` that declares `declared` bytes needs up front.
    /// None when the budget cannot hold it: answer [`over_budget`] without reading the body.
    pub(crate) fn reserve(
        self: &Arc<Self>,
        peer: Peer,
        declared: Option<u64>,
    ) -> Option<Arc<Reservation>> {
        let up_front = declared.map_or(0, |len| {
            usize::try_from(len).map_or(self.per_request, |len| len.min(self.per_request))
        });
        if up_front > 0 && !self.take(peer, up_front) {
            return None;
        }
        Some(Arc::new(Reservation {
            budget: Arc::clone(self),
            peer,
            held: AtomicUsize::new(up_front),
            failure: AtomicU8::new(Failure::None as u8),
        }))
    }
}

/// One request's share of the budget, held until both the request's body and its handler are
/// done with it.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<Budget>,
    peer: Peer,
    held: AtomicUsize,
    // Why the body stopped early, if it did: the answer is decided by it.
    failure: AtomicU8,
}

impl Reservation {
    /// Makes sure `received` bytes of body are covered. False when the budget is spent.
    fn cover(&self, received: usize) -> bool {
        let wanted = received.min(self.budget.per_request);
        let held = self.held.load(Ordering::Acquire);
        if wanted <= held {
            return true;
        }
        if !self.budget.take(self.peer, wanted - held) {
            return false;
        }
        self.held.store(wanted, Ordering::Release);
        true
    }

    fn fail(&self, failure: Failure) {
        self.failure.store(failure as u8, Ordering::Release);
    }

    /// The answer a request whose body failed gets instead of the route's own (which only saw
    /// a body error), if its body failed.
    pub(crate) fn answer_instead(&self) -> Option<Response> {
        match self.failure.load(Ordering::Acquire) {
            x if x == Failure::OverBudget as u8 => Some(over_budget()),
            x if x == Failure::TimedOut as u8 => Some(Outcome::Timeout.into_response()),
            _ => None,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        if held > 0 {
            self.budget.give_back(self.peer, held);
        }
    }
}

/// Why a body stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Failure {
    None,
    OverBudget,
    TimedOut,
}

/// A body that stopped early: the error a route sees while reading it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum BodyError {
    /// The bodies in flight hold the whole budget.
    #[error("the receiver holds too many request bodies at once; retry later")]
    OverBudget,
    /// The body did not arrive by its deadline.
    #[error("the request body did not arrive in time")]
    TimedOut,
    /// The connection failed.
    #[error("{0}")]
    Read(axum::BoxError),
}

/// The answer to a request refused for the budget: 503, `Retry-After`, a JSON body.
pub(crate) fn over_budget() -> Response {
    let mut response = Outcome::Unavailable(BodyError::OverBudget.to_string()).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    response
}

/// A request body that reserves budget for what arrives and ends at a deadline.
pub(crate) struct Metered {
    inner: Body,
    reservation: Arc<Reservation>,
    received: usize,
    deadline: Pin<Box<Sleep>>,
    done: bool,
}

impl Metered {
    /// `inner`, covered by `reservation`, to be read completely by `deadline`.
    pub(crate) fn new(inner: Body, reservation: Arc<Reservation>, deadline: Instant) -> Self {
        Self {
            inner,
            reservation,
            received: 0,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            done: false,
        }
    }

    fn stop(
        &mut self,
        failure: Failure,
        error: BodyError,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.done = true;
        self.reservation.fail(failure);
        Poll::Ready(Some(Err(error)))
    }
}

impl http_body::Body for Metered {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.stop(Failure::TimedOut, BodyError::TimedOut);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len());
                    if !this.reservation.cover(this.received) {
                        return this.stop(Failure::OverBudget, BodyError::OverBudget);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(BodyError::Read(e.into()))))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use http_body_util::BodyExt;

    use super::*;

    fn peer(last: u8) -> Peer {
        Peer::of(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn a_declared_length_is_reserved_up_front_and_given_back() {
        let budget = Arc::new(Budget::new(100, 60, 50));
        let reservation = budget.reserve(peer(1), Some(40)).unwrap();
        assert_eq!(budget.held(), 40);
        drop(reservation);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn a_length_the_peers_share_cannot_hold_is_refused() {
        let budget = Arc::new(Budget::new(100, 60, 50));
        let _first = budget.reserve(peer(1), Some(40)).unwrap();
        assert!(budget.reserve(peer(1), Some(40)).is_none());
        assert!(budget.reserve(peer(2), Some(40)).is_some());
    }

    #[test]
    fn a_declared_length_above_the_largest_body_reserves_only_the_largest() {
        let budget = Arc::new(Budget::new(100, 100, 50));
        let _reservation = budget.reserve(peer(1), Some(u64::MAX)).unwrap();
        assert_eq!(budget.held(), 50);
    }

    #[tokio::test]
    async fn a_chunked_body_past_the_budget_fails_and_asks_for_503() {
        let budget = Arc::new(Budget::new(10, 10, 100));
        let reservation = budget.reserve(peer(1), None).unwrap();
        let body = Body::from(vec![b'x'; 20]);
        let deadline = Instant::now() + Duration::from_secs(60);
        let metered = Metered::new(body, Arc::clone(&reservation), deadline);
        assert!(metered.collect().await.is_err());
        let answer = reservation.answer_instead().unwrap();
        assert_eq!(answer.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS);
    }

    /// A body whose sender never sends anything.
    struct Stalled;

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_body_past_its_deadline_fails_and_asks_for_408() {
        let budget = Arc::new(Budget::new(10, 10, 10));
        let reservation = budget.reserve(peer(1), None).unwrap();
        let deadline = Instant::now() + Duration::from_millis(50);
        let metered = Metered::new(Body::new(Stalled), Arc::clone(&reservation), deadline);
        assert!(metered.collect().await.is_err());
        let answer = reservation.answer_instead().unwrap();
        assert_eq!(answer.status(), http::StatusCode::REQUEST_TIMEOUT);
    }
}

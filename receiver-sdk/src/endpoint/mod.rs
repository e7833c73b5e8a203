//! The axum/tower face of the SDK: [`Receiver`] answers HEAD and POST (and the setup
//! [handshakes](crate::handshake) it is configured for) and runs the pipeline.
//!
//! * `builder`: [`ReceiverBuilder`] and the one `Options` value it fills.
//! * `assess`: the pure stage ([`Assessor`]), every check a request alone can fail.
//! * `pipeline`: reading the body, then the store's checks, the handler and the commit.
//! * `handler`: [`Delivery`], [`HandlerError`] and the handler's type erasure.
//! * `layer`: the pipeline in front of your own service ([`ReceiverLayer`]).
//! * `public_url`: the URL a sender signed, rebuilt from the request ([`PublicUrl`]).
//! * `purge`: forgetting expired delivery ids and marks past the horizon.
//!
//! ```text
//! HEAD -> 200, no body, no store access
//! POST (or a method a configured handshake takes) -> read body (limit, timeout)
//!      -> verify raw bytes (and the public URL) -> a configured handshake: its reply, no handler, no store
//!      -> JSON -> envelope
//!      -> dedupe -> lock key -> ordering guard -> handler -> durable commit -> answer
//! ```

use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method};
use tower::Service;

use crate::ordering::KeyLocks;
use crate::outcome::Outcome;
use crate::store::{Store, StoreError};

mod assess;
mod builder;
mod handler;
mod layer;
mod pipeline;
mod public_url;
mod purge;

pub use assess::{Assessment, Assessor, Batch, BatchEvent, Checks, Decision};
pub use builder::ReceiverBuilder;
pub use handler::{Delivery, HandlerError, InBatch};
pub use layer::{ReceiverLayer, ReceiverService, WebhookEvent};
pub use public_url::{request_url, InvalidPublicUrl, PublicUrl};

use builder::Options;
use handler::{BoxFuture, ErasedHandler};

/// The default largest number of events in one [batch](crate::envelope::Envelope::batch):
/// HubSpot sends at most 100, SendGrid and LINE fewer than this; each event is handled and
/// recorded in turn, so the limit bounds how long one delivery can keep the endpoint busy.
pub const DEFAULT_BATCH_LIMIT: usize = 1000;
/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default time a sender has to deliver the whole body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The default longest event type and entity type, in bytes: senders use short dotted names
/// (`account.service.add`); the limit bounds what a sender can make the store keep per key.
pub const DEFAULT_MAX_TYPE_BYTES: usize = 256;
/// The default longest entity id and delivery id, in bytes: room for UUIDs, URNs and composite
/// ids, while every stored key stays a few KiB at most.
pub const DEFAULT_MAX_ID_BYTES: usize = 1024;
/// The default dedupe retention: 4 days, past the longest retry window of the senders we
/// serve: Sonar retries for 4 hours, Standard Webhooks / Svix for about 27.6 hours, Stripe for
/// up to 3 days. A retry that arrives after its delivery id was forgotten is handled again.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(4 * 24 * 60 * 60);

/// What an endpoint with a [deadline](ReceiverBuilder::deadline) answers when its handler
/// outlives it. Either way the handler goes on, and its mark and delivery id are committed
/// when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnDeadline {
    /// 202 `accepted` (the default): the sender stops waiting and never retries. This is the
    /// one 2xx sent before anything is durable: if the process dies before the handler and
    /// its commit finish, the event is lost.
    #[default]
    Accept,
    /// 503 `pending`: the sender retries, and a retry after the commit is answered
    /// `duplicate` (one arriving while the handler still runs waits behind it). Nothing is
    /// lost to a crash; the price is a retry per slow delivery.
    Retry,
}

/// Why a [`ReceiverBuilder`] could not build.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `build` was called without a handler.
    #[error("no handler: call ReceiverBuilder::handler")]
    MissingHandler,
    /// Ordering or dedupe is on but no store was chosen.
    #[error("no store: call ReceiverBuilder::store")]
    MissingStore,
    /// The store could not be opened: `?` on a store's `open` in a function that returns a
    /// `BuildError` lands here.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A webhook endpoint: a tower service to mount in an axum `Router` at any path.
///
/// Built with [`Receiver::builder`]. Cloning is cheap; clones share state.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    handler: ErasedHandler,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.inner.options().name)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Starts building an endpoint; `name` scopes its ordering marks and delivery ids in the
    /// store and appears in logs.
    pub fn builder(name: impl Into<String>) -> ReceiverBuilder {
        ReceiverBuilder::new(name.into())
    }

    /// The endpoint's pure stage on one request: what it decides without its store (see
    /// [`Assessor::assess`]; every POST the endpoint answers goes through it).
    pub fn assess(
        &self,
        method: &Method,
        headers: &HeaderMap,
        body: &[u8],
        truncated: bool,
        now: SystemTime,
    ) -> Assessment {
        self.inner
            .stage
            .assess(method, headers, body, truncated, now)
    }

    /// Runs one request through the endpoint.
    pub async fn handle(&self, request: Request) -> Response {
        let handler = Arc::clone(&self.handler);
        Arc::clone(&self.inner)
            .respond(request, move |parsed| {
                handler(parsed).map_err(Outcome::Unprocessable)
            })
            .await
    }
}

impl<B> Service<http::Request<B>> for Receiver
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let receiver = self.clone();
        Box::pin(async move { Ok(receiver.handle(request.map(Body::new)).await) })
    }
}

/// Endpoint state shared by every request.
struct Inner {
    // The user's settings, inside the pure stage that decides by them alone.
    stage: Assessor,
    store: Arc<dyn Store>,
    // Serialises deliveries per ordering key (or per delivery id when ordering is off), so the
    // check of the mark and its advance cannot interleave with another delivery's.
    locks: Arc<KeyLocks>,
    // Unix seconds of the last purge of expired delivery ids.
    last_purge: AtomicI64,
    // Set while a purge runs, so a purge that takes longer than a minute is not doubled.
    purging: AtomicBool,
}

impl Inner {
    fn options(&self) -> &Options {
        &self.stage.options
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{SignedRequest, Verify, VerifyFailure};

    /// A scheme of its own that signs the URL: it passes only the one URL it was given.
    #[derive(Debug)]
    struct OnlyAt(&'static str);

    impl Verify for OnlyAt {
        fn verify(&self, _: &HeaderMap, _: &[u8], _: SystemTime) -> Result<(), VerifyFailure> {
            Err(VerifyFailure::other("needs the URL"))
        }

        fn verify_request(
            &self,
            request: &SignedRequest<'_>,
            _: SystemTime,
        ) -> Result<(), VerifyFailure> {
            (request.method == Method::POST && request.url == self.0)
                .then_some(())
                .ok_or(VerifyFailure::other("another URL"))
        }
    }

    async fn status(receiver: &Receiver, uri: &str) -> u16 {
        let request = http::Request::post(uri)
            .header(http::header::HOST, "10.0.0.5:8080")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"type":"t"}"#))
            .expect("a request");
        receiver.handle(request).await.status().as_u16()
    }

    fn receiver(verifier: OnlyAt, public_url: Option<&str>) -> Receiver {
        let mut builder = Receiver::builder("url")
            .verifier(verifier)
            .envelope(crate::envelope::Envelope::Raw)
            .dedupe(false)
            .handler(|_: Delivery| async { Ok(()) });
        if let Some(url) = public_url {
            builder = builder.public_url(PublicUrl::parse(url).expect("a base"));
        }
        builder.build().expect("an endpoint")
    }

    #[tokio::test]
    async fn the_endpoint_verifies_the_request_at_its_public_url_or_its_host() {
        let behind = receiver(
            OnlyAt("https://hooks.example.com/in/hook?a=%2B1"),
            Some("https://hooks.example.com/in"),
        );
        assert_eq!(status(&behind, "/hook?a=%2B1").await, 200);
        assert_eq!(status(&behind, "/hook?a=%2B2").await, 401);
        let direct = receiver(OnlyAt("http://10.0.0.5:8080/hook"), None);
        assert_eq!(status(&direct, "/hook").await, 200);
    }

    #[test]
    fn regression_default_retention_outlasts_every_senders_retry_window() {
        // The longest documented windows: Standard Webhooks' schedule adds up to 27 h 35 min
        // 5 s; Stripe retries for up to 3 days. 24 hours was shorter than both.
        let standard_webhooks =
            Duration::from_secs(5 + 5 * 60 + 30 * 60 + (2 + 5 + 10 + 10) * 3600);
        let stripe = Duration::from_secs(3 * 24 * 3600);
        assert!(DEFAULT_RETENTION > standard_webhooks);
        assert!(DEFAULT_RETENTION > stripe);
    }
}

//! The pipeline in front of your own service: [`ReceiverLayer`] and [`ReceiverService`], and
//! the [`WebhookEvent`] extractor for what is behind them.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tower::util::ServiceExt;
use tower::{Layer, Service};

use super::handler::{BoxFuture, Refusal, Run, RunOutput};
use super::Inner;
use crate::envelope::EventMeta;
use crate::outcome::Outcome;

/// The pipeline as a tower layer in front of your own service. See [`ReceiverBuilder::layer`](super::ReceiverBuilder::layer).
#[derive(Clone)]
pub struct ReceiverLayer {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for ReceiverLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverLayer")
            .field("name", &self.inner.stage.options.name)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for ReceiverLayer {
    type Service = ReceiverService<S>;

    fn layer(&self, service: S) -> Self::Service {
        ReceiverService {
            inner: Arc::clone(&self.inner),
            service,
        }
    }
}

/// Your service behind the receiver pipeline; made by [`ReceiverLayer`].
#[derive(Clone)]
pub struct ReceiverService<S> {
    inner: Arc<Inner>,
    service: S,
}

impl<S: fmt::Debug> fmt::Debug for ReceiverService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverService")
            .field("name", &self.inner.stage.options.name)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<S> ReceiverService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.service
    }
}

impl<S, B> Service<http::Request<B>> for ReceiverService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The wrapped service is called on a clone, once the delivery has passed the
        // pipeline; its readiness is awaited there by `oneshot`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        let service = self.service.clone();
        Box::pin(async move {
            let response = inner
                .respond(request.map(Body::new), move |parsed| {
                    let service = service.clone();
                    // An event of a batch comes with the head of a delivery of its own.
                    let mut request = Request::from_parts(parsed.parts, Body::from(parsed.body));
                    request.extensions_mut().insert(WebhookEvent(parsed.event));
                    if let Some(place) = parsed.batch {
                        request.extensions_mut().insert(place);
                    }
                    Ok(Box::new(move || {
                        Box::pin(async move {
                            let response = match service.oneshot(request).await {
                                Ok(response) => response,
                                Err(never) => match never {},
                            };
                            if response.status().is_success() {
                                Ok(Some(response))
                            } else {
                                Err(Refusal::Response(response))
                            }
                        }) as BoxFuture<RunOutput>
                    }) as Run)
                })
                .await;
            Ok(response)
        })
    }
}

/// The envelope of a delivery that passed the [`ReceiverLayer`] pipeline: an extractor for
/// handlers behind the layer. The wrapped service is called once per event of a
/// [batch](crate::envelope::Envelope::batch), with that event's bytes as the body (and its
/// length, framing and, for a CloudEvents batch, `application/cloudevents+json` as its content
/// type) and its [`InBatch`](crate::InBatch) place in the request's extensions: take it with
/// `Option<Extension<InBatch>>`, which is `None` for a delivery of one event.
#[derive(Debug, Clone)]
pub struct WebhookEvent(pub EventMeta);

impl<S: Send + Sync> FromRequestParts<S> for WebhookEvent {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<WebhookEvent>()
            .cloned()
            .ok_or_else(|| {
                Outcome::Internal(
                    "WebhookEvent needs the ReceiverLayer in front of this handler".into(),
                )
                .into_response()
            })
    }
}

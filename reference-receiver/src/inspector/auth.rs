//! The inspector's side of the receiver's access gate ([`crate::access`]): `/api` and `/ui`
//! answer only what the gate admits, and a browser signs in to the UI here.
//!
//! * With `admin.token` set, a request needs `Authorization: Bearer <token>` or a session
//!   cookie. A browser gets one by posting the token to `POST /ui/login` (the form `/ui` shows):
//!   the server checks it, starts a session (a random id kept server-side, never derived from
//!   the token), sets it as an `HttpOnly`, `SameSite=Strict` cookie scoped to `/ui` and `/api`
//!   (so bins at `/in/...` never see it) and redirects to `/ui`. The token never travels in a
//!   URL, so it stays out of access logs and history. Sessions expire, their ids rotate, and
//!   `POST /ui/logout` ends one. `EventSource` cannot send headers; the cookie is what lets the
//!   live list work.
//! * On loopback with no token the API and UI are open to requests addressed to a loopback
//!   name; requests from another site are refused in every mode (see the gate).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{header, StatusCode};

use super::Inspector;
use crate::access::{Admitted, Credentials, Refusal};

/// The most a sign-in form may weigh.
const MAX_FORM_BYTES: usize = 4 * 1024;

/// The middleware in front of `/api` and `/ui`.
pub(crate) async fn require(
    State(inspector): State<Arc<Inspector>>,
    request: Request,
    next: Next,
) -> Response {
    match inspector.gate.check(&request, Credentials::BearerOrSession) {
        Ok(Admitted::Session(Some(fresh))) => {
            let mut response = next.run(request).await;
            set_session(&inspector, &mut response, Some(&fresh));
            response
        }
        Ok(_) => next.run(request).await,
        Err(refusal @ (Refusal::MissingToken | Refusal::WrongToken))
            if request.uri().path() == "/ui" =>
        {
            let problem = (refusal == Refusal::WrongToken)
                .then_some("That session has ended: sign in again.");
            login(problem)
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST /ui/login`: a form with the admin token starts a session and opens the UI.
pub(crate) async fn sign_in(State(inspector): State<Arc<Inspector>>, request: Request) -> Response {
    let gate = &inspector.gate;
    if let Err(refusal) = gate.check_site(&request) {
        return refusal.into_response();
    }
    if gate.is_open() {
        return Redirect::to("/ui").into_response();
    }
    let body = request.into_body();
    let Ok(form) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return login(Some("The form was too large."));
    };
    let token = form_urlencoded::parse(&form)
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if !gate.token_matches(token.as_bytes()) {
        tracing::warn!("inspector sign-in refused: wrong admin token");
        return login(Some("That token is not the admin token."));
    }
    let Some(id) = gate.sessions().start() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "no random source to start a session",
        )
            .into_response();
    };
    let mut response = Redirect::to("/ui").into_response();
    set_session(&inspector, &mut response, Some(&id));
    response
}

/// `POST /ui/logout`: ends the session and takes the cookie away.
pub(crate) async fn sign_out(
    State(inspector): State<Arc<Inspector>>,
    request: Request<Body>,
) -> Response {
    inspector.gate.sessions().end(request.headers());
    let mut response = Redirect::to("/ui").into_response();
    set_session(&inspector, &mut response, None);
    response
}

fn set_session(inspector: &Inspector, response: &mut Response, id: Option<&str>) {
    let secure = inspector.scheme == "https";
    for cookie in inspector.gate.sessions().cookies(id, secure) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// The sign-in page: a form that posts the token to `/ui/login`.
fn login(problem: Option<&str>) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"problem\">{p}</p>"))
        .unwrap_or_default();
    let page = include_str!("ui/login.html").replace("<!--problem-->", &problem);
    (StatusCode::UNAUTHORIZED, Html(page)).into_response()
}

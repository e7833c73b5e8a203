//! The web UI: plain HTML, CSS and JavaScript compiled into the binary (no CDN, no build step).

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use http::{header, StatusCode};

const INDEX: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/app.css");

/// Everything comes from this server, and nothing inline runs: captured bodies are shown as
/// text, and this makes sure a body that slipped through could not run anyway.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; script-src 'self'; \
                      style-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
                      base-uri 'none'; form-action 'self'";

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// `GET /ui`.
pub(crate) async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

/// `GET /ui/app.js`, `GET /ui/app.css`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "app.js" => file("text/javascript; charset=utf-8", SCRIPT),
        "app.css" => file("text/css; charset=utf-8", STYLE),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /`: to the UI.
pub(crate) async fn root() -> Redirect {
    Redirect::to("/ui")
}

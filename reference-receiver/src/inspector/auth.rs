//! The admin token in front of `/api` and `/ui`.
//!
//! * With `admin.token` set (required when the server is bound beyond loopback), every request
//!   needs `Authorization: Bearer <token>` or the UI's cookie. A browser gets the cookie by
//!   opening `/ui?token=<token>` once (or typing the token into the UI's prompt, which does
//!   the same): the server checks it, sets an `HttpOnly`, `SameSite=Strict` cookie holding a
//!   digest of the token (never the token), and redirects to `/ui`, so the token leaves the
//!   address bar and history. `EventSource` cannot send headers; the cookie is what lets the
//!   live list work.
//! * On loopback with no token, both are open, but only to requests whose `Host` is a
//!   loopback name (so a web page cannot reach them by DNS rebinding).
//! * Either way a request whose `Origin` is not the server's own is refused, so another site
//!   open in the same browser cannot drive the API (or its replay) through it.
//!
//! Tokens are compared as SHA-256 digests in constant time (`subtle`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use receiver_sdk::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Inspector;

/// The UI's cookie.
const COOKIE: &str = "receiver_inspector";

/// Who may use the API and UI.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Loopback and no token: anyone on this machine.
    Open,
    /// Whoever shows the token.
    Token {
        /// SHA-256 of the token.
        digest: [u8; 32],
        /// What the cookie holds: a digest of the token under another label.
        cookie: [u8; 32],
    },
    /// Bound beyond loopback with no token (config validation prevents it): nobody.
    Closed,
}

fn cookie_value(token: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"reference-receiver inspector cookie\0");
    hasher.update(token);
    hasher.finalize().into()
}

impl Gate {
    /// The gate for a server on `addr` with this admin token.
    pub(crate) fn new(token: Option<&Secret>, addr: SocketAddr) -> Self {
        match token {
            Some(token) => Self::Token {
                digest: crate::access::digest(token.expose()),
                cookie: cookie_value(token.expose()),
            },
            None if addr.ip().is_loopback() => Self::Open,
            None => Self::Closed,
        }
    }

    fn token_matches(&self, given: &str) -> bool {
        match self {
            Self::Token { digest, .. } => crate::access::matches(digest, given.as_bytes()),
            Self::Open | Self::Closed => false,
        }
    }

    fn admits(&self, headers: &HeaderMap) -> bool {
        let Self::Token { cookie, .. } = self else {
            return matches!(self, Self::Open);
        };
        let bearer = crate::access::bearer(headers).is_some_and(|given| {
            std::str::from_utf8(given).is_ok_and(|given| self.token_matches(given))
        });
        bearer
            || cookies(headers)
                .filter(|(name, _)| *name == COOKIE)
                .filter_map(|(_, value)| hex::decode(value).ok())
                .any(|value| bool::from(value.as_slice().ct_eq(cookie.as_slice())))
    }
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The host part of a `Host` value (`[::1]:8080` -> `::1`).
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

fn is_loopback_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `Origin`, when sent, names the server the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = origin.to_str().ok().and_then(|o| o.split_once("://"));
    matches!((origin, host), (Some((_, authority)), Some(host)) if authority.eq_ignore_ascii_case(host))
}

/// The middleware.
pub(crate) async fn require(
    State(inspector): State<Arc<Inspector>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if !same_origin(headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "requests from another origin are refused",
        );
    }
    let gate = &inspector.gate;
    match gate {
        Gate::Open => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            if host.is_some_and(|h| !is_loopback_name(host_name(h))) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "without admin.token the inspector answers only to loopback host names \
                     (localhost, 127.0.0.1, [::1])",
                );
            }
            next.run(request).await
        }
        Gate::Closed => refuse(
            StatusCode::UNAUTHORIZED,
            "set admin.token: the server is bound beyond loopback",
        ),
        Gate::Token { cookie, .. } => {
            let is_ui = request.uri().path().starts_with("/ui");
            let offered = request.uri().query().and_then(|q| {
                super::har::pairs(q)
                    .find(|(name, _)| name == "token")
                    .map(|(_, value)| value)
            });
            match offered {
                Some(token) if is_ui && gate.token_matches(&token) => {
                    let secure = if inspector.scheme == "https" {
                        "; Secure"
                    } else {
                        ""
                    };
                    let set = format!(
                        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
                        hex::encode(cookie)
                    );
                    let mut response = Redirect::to("/ui").into_response();
                    if let Ok(value) = HeaderValue::try_from(set) {
                        response.headers_mut().insert(header::SET_COOKIE, value);
                    }
                    response
                }
                Some(_) if is_ui => login(Some("That token is not the admin token.")),
                _ if gate.admits(headers) => next.run(request).await,
                _ if is_ui && request.uri().path() == "/ui" => login(None),
                _ => refuse(
                    StatusCode::UNAUTHORIZED,
                    "send Authorization: Bearer <admin token>",
                ),
            }
        }
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"inspector\""),
        );
    }
    response
}

/// The token prompt: a form that opens `/ui?token=...`, which sets the cookie.
fn login(problem: Option<&str>) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"problem\">{p}</p>"))
        .unwrap_or_default();
    let page = include_str!("ui/login.html").replace("<!--problem-->", &problem);
    (StatusCode::UNAUTHORIZED, Html(page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_token_opens_by_bearer_or_by_the_cookie_it_set() {
        let gate = Gate::new(Some(&Secret::from("s3cret")), "0.0.0.0:80".parse().unwrap());
        assert!(gate.admits(&headers(&[("authorization", "Bearer s3cret")])));
        assert!(!gate.admits(&headers(&[("authorization", "Bearer s3cre")])));
        assert!(!gate.admits(&headers(&[])));
        let cookie = format!("a=b; {COOKIE}={}", hex::encode(cookie_value(b"s3cret")));
        assert!(gate.admits(&headers(&[("cookie", &cookie)])));
        assert!(!gate.admits(&headers(&[("cookie", "receiver_inspector=00")])));
    }

    #[test]
    fn loopback_without_a_token_is_open_and_beyond_it_closed() {
        let open = Gate::new(None, "127.0.0.1:8080".parse().unwrap());
        assert!(open.admits(&headers(&[])));
        let closed = Gate::new(None, "0.0.0.0:8080".parse().unwrap());
        assert!(!closed.admits(&headers(&[("authorization", "Bearer x")])));
    }

    #[test]
    fn only_loopback_host_names_pass_the_open_gate() {
        for host in [
            "localhost:8080",
            "127.0.0.1:1",
            "[::1]:8080",
            "app.localhost",
        ] {
            assert!(is_loopback_name(host_name(host)), "{host}");
        }
        for host in ["evil.example:8080", "10.0.0.1", "[2001:db8::1]:80"] {
            assert!(!is_loopback_name(host_name(host)), "{host}");
        }
    }

    #[test]
    fn another_origin_is_refused() {
        let own = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(same_origin(&own));
        let other = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(!same_origin(&other));
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080")])));
    }
}

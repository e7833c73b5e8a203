//! The one gate in front of everything the receiver serves to its operators: the admin API
//! (`/admin`), the inspector's API (`/api`) and its UI (`/ui`). Every route family asks the same
//! [`Gate`], so a rule added here holds for all of them.
//!
//! The rules, in the order they are checked:
//!
//! 1. **Cross-site requests are refused.** A browser marks requests from other sites with
//!    `Sec-Fetch-Site` and, for anything but a plain GET, `Origin`. A request whose `Origin` is
//!    not this server's own (scheme and authority), or `null`, is refused, and so is one a
//!    browser marks `cross-site` or `same-site` (another port of the same host is the same
//!    *site*), except a top-level GET navigation, which cannot read what it opens. So a page the
//!    operator visits cannot drive the APIs, whatever the mode.
//! 2. **Open mode** (loopback listener, no `[admin] token`): only requests addressed to a
//!    loopback name (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`) pass, so a web page
//!    cannot reach them through DNS rebinding. The name is read from the request's authority
//!    (HTTP/2's `:authority`, in the URI) and else from `Host`; a request with neither is
//!    refused.
//! 3. **Token mode**: `Authorization: Bearer <token>`, or for the inspector a session cookie
//!    ([`Sessions`]) that signing in with the token gave. An empty credential counts as none.
//! 4. **Closed** (bound beyond loopback without a token, which config validation refuses):
//!    nobody.
//!
//! The token is kept only as a SHA-256 digest and compared in constant time (`subtle`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use receiver_sdk::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What is kept of a token: its digest, so comparisons take the same time whatever its length.
fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Whether `given` is the token whose digest is `expected`, in constant time.
fn matches(expected: &[u8; 32], given: &[u8]) -> bool {
    digest(given).ct_eq(expected).into()
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive). An empty
/// token is no token: HTTP/1 parsers trim `Bearer ` to `Bearer`, HTTP/2 keeps the space.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(header::AUTHORIZATION)?
        .as_bytes()
        .split_at_checked(7)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|(_, token)| token.trim_ascii())
        .filter(|token| !token.is_empty())
}

/// Who may pass.
#[derive(Debug)]
enum Rule {
    /// Loopback and no token: requests addressed to a loopback name.
    Open,
    /// Whoever shows the token (SHA-256 of it).
    Token([u8; 32]),
    /// Bound beyond loopback with no token: nobody.
    Closed,
}

/// Which credentials a route family takes besides the bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// Only `Authorization: Bearer` (the admin API, used by the CLI and scripts).
    Bearer,
    /// The bearer token or the inspector's session cookie (the UI cannot send headers on
    /// `EventSource`).
    BearerOrSession,
}

/// Why a request was let through.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// Open mode.
    Open,
    /// The bearer token.
    Token,
    /// A live session; with a new id when the old one was due for rotation, which the answer
    /// must hand the browser.
    Session(Option<String>),
}

/// Why a request was refused. Each is answered with its status and `{"error": message}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Refusal {
    /// `Origin` names another site, or `null` (403).
    #[error("requests from another origin are refused")]
    ForeignOrigin,
    /// The browser says the request comes from another site (403).
    #[error("requests from another site are refused")]
    CrossSite,
    /// Open mode, and the request names no host at all (403).
    #[error("without admin.token requests must name a loopback host (Host or :authority)")]
    NoAuthority,
    /// Open mode, and the request names a host that is not a loopback name (403).
    #[error(
        "without admin.token the receiver's APIs answer only to loopback host names \
         (localhost, 127.0.0.1, [::1])"
    )]
    NotLoopbackName,
    /// Bound beyond loopback without a token (403).
    #[error("the admin API and inspector are off: set admin.token to use them on a non-loopback address")]
    Closed,
    /// No credential (401).
    #[error("admin token missing: send Authorization: Bearer <token>")]
    MissingToken,
    /// A credential that is not the token or a live session (401).
    #[error("admin token wrong")]
    WrongToken,
}

impl Refusal {
    /// The status it is answered with.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::MissingToken | Self::WrongToken => StatusCode::UNAUTHORIZED,
            Self::ForeignOrigin
            | Self::CrossSite
            | Self::NoAuthority
            | Self::NotLoopbackName
            | Self::Closed => StatusCode::FORBIDDEN,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({ "error": self.to_string() }).to_string();
        let mut response =
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The gate: one per server, shared by `/admin`, `/api` and `/ui`.
#[derive(Debug)]
pub(crate) struct Gate {
    rule: Rule,
    // The scheme browsers reach us by, for comparing `Origin`.
    scheme: &'static str,
    // `inspector.public_url`'s origin (behind a proxy the browser's origin is the proxy's).
    public_origin: Option<String>,
    sessions: Sessions,
}

impl Gate {
    /// The gate for a server listening on `addr` (over TLS if `tls`), with this admin token and
    /// the public URL it is reached at behind a proxy, if any.
    pub(crate) fn new(
        token: Option<&Secret>,
        addr: SocketAddr,
        tls: bool,
        public_url: Option<&str>,
    ) -> Self {
        let rule = match token {
            Some(token) => Rule::Token(digest(token.expose())),
            None if addr.ip().is_loopback() => Rule::Open,
            None => Rule::Closed,
        };
        Self {
            rule,
            scheme: if tls { "https" } else { "http" },
            public_origin: public_url.and_then(origin_of),
            sessions: Sessions::new(SESSION_LIFETIME, SESSION_ROTATION, MAX_SESSIONS),
        }
    }

    /// Whether the gate is open without a token (loopback, no token configured).
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.rule, Rule::Open)
    }

    /// Whether `given` is the admin token.
    pub(crate) fn token_matches(&self, given: &[u8]) -> bool {
        match &self.rule {
            Rule::Token(expected) => !given.is_empty() && matches(expected, given),
            Rule::Open | Rule::Closed => false,
        }
    }

    /// The inspector's sign-in sessions.
    pub(crate) fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Checks a request against every rule (see the module docs).
    pub(crate) fn check<B>(
        &self,
        request: &Request<B>,
        credentials: Credentials,
    ) -> Result<Admitted, Refusal> {
        self.check_site(request)?;
        match &self.rule {
            Rule::Closed => Err(Refusal::Closed),
            Rule::Open => match authority(request) {
                None => Err(Refusal::NoAuthority),
                Some(authority) if !is_loopback_name(host_name(authority)) => {
                    Err(Refusal::NotLoopbackName)
                }
                Some(_) => Ok(Admitted::Open),
            },
            Rule::Token(_) => {
                let headers = request.headers();
                if let Some(token) = bearer(headers) {
                    return if self.token_matches(token) {
                        Ok(Admitted::Token)
                    } else {
                        Err(Refusal::WrongToken)
                    };
                }
                if credentials == Credentials::BearerOrSession
                    && session_cookies(headers).next().is_some()
                {
                    return match self.sessions.check(headers) {
                        SessionCheck::None => Err(Refusal::WrongToken),
                        SessionCheck::Live => Ok(Admitted::Session(None)),
                        SessionCheck::Rotate(fresh) => Ok(Admitted::Session(Some(fresh))),
                    };
                }
                Err(Refusal::MissingToken)
            }
        }
    }

    /// Rule 1: the request does not come from another site.
    pub(crate) fn check_site<B>(&self, request: &Request<B>) -> Result<(), Refusal> {
        let headers = request.headers();
        let navigation = matches!(*request.method(), Method::GET | Method::HEAD)
            && headers
                .get("sec-fetch-mode")
                .is_some_and(|mode| mode.as_bytes().eq_ignore_ascii_case(b"navigate"));
        let site = headers.get("sec-fetch-site").map(HeaderValue::as_bytes);
        if !navigation
            && site.is_some_and(|site| {
                site.eq_ignore_ascii_case(b"cross-site") || site.eq_ignore_ascii_case(b"same-site")
            })
        {
            return Err(Refusal::CrossSite);
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().map_err(|_| Refusal::ForeignOrigin)?;
        let own = authority(request).map(|authority| format!("{}://{authority}", self.scheme));
        let same = |candidate: &str| origin.eq_ignore_ascii_case(candidate);
        if own.as_deref().is_some_and(same) || self.public_origin.as_deref().is_some_and(same) {
            Ok(())
        } else {
            Err(Refusal::ForeignOrigin)
        }
    }
}

/// The authority a request is addressed to: HTTP/2's `:authority` (hyper puts it in the URI),
/// else the `Host` header.
fn authority<B>(request: &Request<B>) -> Option<&str> {
    request
        .uri()
        .authority()
        .map(|authority| authority.as_str())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
        })
        .filter(|authority| !authority.is_empty())
}

/// `scheme://host[:port]` of a URL, lower-case, without a path.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// The host part of an authority (`[::1]:8080` -> `::1`, `localhost:80` -> `localhost`).
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

/// The inspector's session cookie.
pub(crate) const SESSION_COOKIE: &str = "receiver_inspector";
/// How long a session lasts after signing in.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// How old a session id may get before the next request is given a fresh one.
const SESSION_ROTATION: Duration = Duration::from_secs(60 * 60);
/// How long a rotated-out id still works, for requests already on their way with it.
const ROTATION_GRACE: Duration = Duration::from_secs(60);
/// Sessions kept at once; signing in beyond it ends the oldest.
const MAX_SESSIONS: usize = 256;

/// Session ids offered in `Cookie` headers under [`SESSION_COOKIE`].
fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Sign-in sessions of the inspector's UI, kept in memory: a random id per sign-in, never a
/// function of the token, so a cookie that leaks (a capture, a log) expires, can be ended, and
/// tells nothing about the token. Ids are stored as SHA-256 digests. A restart ends every
/// session.
#[derive(Debug)]
pub(crate) struct Sessions {
    // digest of the id -> when it stops working. One lock: sign-ins are rare, checks are a
    // hash lookup.
    live: Mutex<HashMap<[u8; 32], Session>>,
    lifetime: Duration,
    rotation: Duration,
    max: usize,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    issued: Instant,
    expires: Instant,
    // Set once a newer id replaced this one: it works until `expires`, then goes.
    rotated: bool,
}

/// What a request's session cookie says.
#[derive(Debug, PartialEq, Eq)]
enum SessionCheck {
    /// No live session.
    None,
    /// A live session.
    Live,
    /// A live session old enough to be replaced: send the client this new id.
    Rotate(String),
}

impl Sessions {
    fn new(lifetime: Duration, rotation: Duration, max: usize) -> Self {
        Self {
            live: Mutex::new(HashMap::new()),
            lifetime,
            rotation,
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session; the id to hand the browser. `None` if the system's random source fails.
    pub(crate) fn start(&self) -> Option<String> {
        self.start_at(Instant::now())
    }

    fn start_at(&self, now: Instant) -> Option<String> {
        let mut id = [0u8; 32];
        getrandom::getrandom(&mut id).ok()?;
        let id = hex::encode(id);
        let mut live = self.lock();
        live.retain(|_, session| session.expires > now);
        while live.len() >= self.max {
            let oldest = live
                .iter()
                .min_by_key(|(_, session)| session.issued)
                .map(|(key, _)| *key);
            match oldest {
                Some(key) => live.remove(&key),
                None => break,
            };
        }
        live.insert(
            digest(id.as_bytes()),
            Session {
                issued: now,
                expires: now + self.lifetime,
                rotated: false,
            },
        );
        Some(id)
    }

    fn lookup(&self, id: &str, now: Instant) -> Option<Session> {
        let mut live = self.lock();
        let key = digest(id.as_bytes());
        match live.get(&key) {
            Some(session) if session.expires > now => Some(*session),
            Some(_) => {
                live.remove(&key);
                None
            }
            None => None,
        }
    }

    /// What the session cookies in `headers` say, rotating an old id.
    fn check(&self, headers: &HeaderMap) -> SessionCheck {
        self.check_at(headers, Instant::now())
    }

    fn check_at(&self, headers: &HeaderMap, now: Instant) -> SessionCheck {
        let Some((id, session)) = session_cookies(headers)
            .find_map(|id| self.lookup(id, now).map(|session| (id, session)))
        else {
            return SessionCheck::None;
        };
        if session.rotated || now.duration_since(session.issued) < self.rotation {
            return SessionCheck::Live;
        }
        let Some(fresh) = self.start_at(now) else {
            return SessionCheck::Live;
        };
        if let Some(old) = self.lock().get_mut(&digest(id.as_bytes())) {
            old.rotated = true;
            old.expires = old.expires.min(now + ROTATION_GRACE);
        }
        SessionCheck::Rotate(fresh)
    }

    /// Ends the sessions named in `headers` (sign-out).
    pub(crate) fn end(&self, headers: &HeaderMap) {
        let mut live = self.lock();
        for id in session_cookies(headers) {
            live.remove(&digest(id.as_bytes()));
        }
    }

    /// The `Set-Cookie` values that hand a browser session `id` (or, with `None`, take it
    /// away): one cookie for `/ui` and one for `/api`, so the browser never sends it anywhere
    /// else (not to `/in/...`, where bins would capture it, nor to endpoints).
    pub(crate) fn cookies(&self, id: Option<&str>, secure: bool) -> Vec<HeaderValue> {
        let (value, max_age) = match id {
            Some(id) => (id, self.lifetime.as_secs()),
            None => ("", 0),
        };
        let secure = if secure { "; Secure" } else { "" };
        ["/ui", "/api"]
            .into_iter()
            .filter_map(|path| {
                HeaderValue::try_from(format!(
                    "{SESSION_COOKIE}={value}; Path={path}; Max-Age={max_age}; HttpOnly; \
                     SameSite=Strict{secure}"
                ))
                .ok()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&'static str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri("/api/bins");
        for (name, value) in pairs {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn token_gate() -> Gate {
        Gate::new(
            Some(&Secret::from("s3cret-s3cret-s3cret")),
            "0.0.0.0:80".parse().unwrap(),
            false,
            None,
        )
    }

    fn open_gate() -> Gate {
        Gate::new(None, "127.0.0.1:8080".parse().unwrap(), false, None)
    }

    #[test]
    fn the_token_opens_by_bearer_and_a_session_only_where_sessions_count() {
        let gate = token_gate();
        let bearer = request(&[("authorization", "Bearer s3cret-s3cret-s3cret")]);
        assert_eq!(
            gate.check(&bearer, Credentials::Bearer),
            Ok(Admitted::Token)
        );
        let wrong = request(&[("authorization", "Bearer s3cret-s3cret-s3cre")]);
        assert_eq!(
            gate.check(&wrong, Credentials::Bearer),
            Err(Refusal::WrongToken)
        );
        assert_eq!(
            gate.check(&request(&[]), Credentials::Bearer),
            Err(Refusal::MissingToken)
        );
        let id = gate.sessions().start().unwrap();
        let cookie = format!("a=b; {SESSION_COOKIE}={id}");
        let with_session = request(&[("cookie", &cookie)]);
        assert_eq!(
            gate.check(&with_session, Credentials::BearerOrSession),
            Ok(Admitted::Session(None))
        );
        assert_eq!(
            gate.check(&with_session, Credentials::Bearer),
            Err(Refusal::MissingToken)
        );
        let forged = request(&[("cookie", "receiver_inspector=00")]);
        assert_eq!(
            gate.check(&forged, Credentials::BearerOrSession),
            Err(Refusal::WrongToken)
        );
    }

    #[test]
    fn regression_an_empty_bearer_token_is_no_token() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&headers), None);
        headers.insert("authorization", HeaderValue::from_static("Bearer    "));
        assert_eq!(bearer(&headers), None);
        let gate = token_gate();
        assert!(!gate.token_matches(b""));
    }

    #[test]
    fn regression_open_mode_reads_the_http2_authority_and_refuses_requests_naming_no_host() {
        let gate = open_gate();
        let h2 = Request::builder()
            .uri("http://evil.example:8080/api/bins")
            .body(())
            .unwrap();
        assert_eq!(
            gate.check(&h2, Credentials::Bearer),
            Err(Refusal::NotLoopbackName)
        );
        let own = Request::builder()
            .uri("http://127.0.0.1:8080/api/bins")
            .header("host", "evil.example")
            .body(())
            .unwrap();
        assert_eq!(
            gate.check(&own, Credentials::Bearer),
            Ok(Admitted::Open),
            "the URI wins"
        );
        assert_eq!(
            gate.check(&request(&[]), Credentials::Bearer),
            Err(Refusal::NoAuthority)
        );
        let host = request(&[("host", "localhost:8080")]);
        assert_eq!(gate.check(&host, Credentials::Bearer), Ok(Admitted::Open));
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
        for host in [
            "evil.example:8080",
            "10.0.0.1",
            "[2001:db8::1]:80",
            "localhost.",
            "127.0.0.1.evil",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(!is_loopback_name(host_name(host)), "{host}");
        }
    }

    #[test]
    fn another_origin_or_site_is_refused_in_every_mode() {
        for gate in [open_gate(), token_gate()] {
            let own = request(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
            ]);
            assert_ne!(gate.check_site(&own), Err(Refusal::ForeignOrigin));
            for origin in ["http://evil.example", "null", "https://127.0.0.1:8080"] {
                let other = request(&[("host", "127.0.0.1:8080"), ("origin", origin)]);
                assert_eq!(
                    gate.check_site(&other),
                    Err(Refusal::ForeignOrigin),
                    "{origin}"
                );
            }
            let same_site = request(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-site")]);
            assert_eq!(gate.check_site(&same_site), Err(Refusal::CrossSite));
            let navigation = request(&[
                ("host", "127.0.0.1:8080"),
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "navigate"),
            ]);
            assert_eq!(gate.check_site(&navigation), Ok(()));
        }
    }

    #[test]
    fn behind_a_proxy_the_public_origin_is_the_own_one() {
        let gate = Gate::new(
            None,
            "127.0.0.1:8080".parse().unwrap(),
            false,
            Some("https://hooks.example.com/base"),
        );
        let proxied = request(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://hooks.example.com"),
        ]);
        assert_eq!(gate.check_site(&proxied), Ok(()));
    }

    #[test]
    fn sessions_expire_rotate_and_end() {
        let sessions = Sessions::new(Duration::from_secs(100), Duration::from_secs(10), 2);
        let start = Instant::now();
        let id = sessions.start_at(start).unwrap();
        let headers = |id: &str| {
            let mut map = HeaderMap::new();
            map.insert(
                header::COOKIE,
                HeaderValue::try_from(format!("{SESSION_COOKIE}={id}")).unwrap(),
            );
            map
        };
        assert_eq!(sessions.check_at(&headers(&id), start), SessionCheck::Live);
        let SessionCheck::Rotate(fresh) =
            sessions.check_at(&headers(&id), start + Duration::from_secs(11))
        else {
            panic!("an old id is rotated");
        };
        assert_ne!(fresh, id);
        assert_eq!(
            sessions.check_at(&headers(&id), start + Duration::from_secs(12)),
            SessionCheck::Live,
            "the old id still works during the grace"
        );
        assert_eq!(
            sessions.check_at(
                &headers(&id),
                start + Duration::from_secs(11) + ROTATION_GRACE
            ),
            SessionCheck::None,
            "and not after it"
        );
        assert_eq!(
            sessions.check_at(&headers(&fresh), start + Duration::from_secs(120)),
            SessionCheck::None,
            "sessions expire"
        );
        let a = sessions.start_at(start).unwrap();
        sessions.end(&headers(&a));
        assert_eq!(sessions.check_at(&headers(&a), start), SessionCheck::None);
    }

    #[test]
    fn signing_in_beyond_the_cap_ends_the_oldest_session() {
        let sessions = Sessions::new(Duration::from_secs(100), Duration::from_secs(100), 2);
        let start = Instant::now();
        let first = sessions.start_at(start).unwrap();
        sessions.start_at(start + Duration::from_secs(1)).unwrap();
        sessions.start_at(start + Duration::from_secs(2)).unwrap();
        assert_eq!(sessions.lock().len(), 2);
        assert!(sessions
            .lookup(&first, start + Duration::from_secs(3))
            .is_none());
    }

    #[test]
    fn session_cookies_are_scoped_to_the_ui_and_the_api() {
        let sessions = Sessions::new(Duration::from_secs(100), Duration::from_secs(10), 2);
        let cookies = sessions.cookies(Some("abc"), true);
        let texts: Vec<&str> = cookies.iter().map(|c| c.to_str().unwrap()).collect();
        assert_eq!(texts.len(), 2);
        assert!(texts[0].contains("Path=/ui;") && texts[1].contains("Path=/api;"));
        for text in texts {
            assert!(text.contains("HttpOnly") && text.contains("SameSite=Strict"));
            assert!(text.contains("Secure") && text.contains("Max-Age=100"));
        }
    }
}

//! The URL a sender signs, rebuilt from the request: senders that sign the URL (Twilio, Square,
//! HubSpot, Trello) sign the one they were given, and behind a proxy the receiver sees another
//! host, scheme, port and perhaps path.

use std::fmt;

use http::{header, HeaderMap, Uri};

/// The public base of an endpoint's URLs: the scheme, host and any path prefix that the sender
/// was given and a proxy in front removes (`https://hooks.example.com`,
/// `https://example.com/hooks` when the proxy forwards `/hooks/...` as `/...`).
///
/// The URL a delivery is verified against is this base, then the request's path and query as
/// the receiver sees them (still percent-encoded, as the sender wrote them): a sender given
/// `https://example.com/hooks/twilio?account=7` whose requests reach the receiver as
/// `/twilio?account=7` verifies with the base `https://example.com/hooks`. The path is the one
/// the endpoint is called with: an endpoint nested in an axum `Router` (`nest_service`) sees
/// its path without the nesting prefix, so the base holds that prefix too.
///
/// Without one, the URL is `http://` (or the scheme of an absolute request URI, as HTTP/2
/// sends), the `Host` header, then the path and query. That is right only when nothing stands
/// between the sender and the receiver; `X-Forwarded-*` headers are not trusted, since anyone
/// can send them.
///
/// ```
/// use receiver_sdk::PublicUrl;
///
/// let base = PublicUrl::parse("https://example.com/hooks/")?;
/// assert_eq!(base.as_str(), "https://example.com/hooks");
/// assert!(PublicUrl::parse("example.com/hooks").is_err());
/// assert!(PublicUrl::parse("https://example.com/hooks?x=1").is_err());
/// # Ok::<(), receiver_sdk::InvalidPublicUrl>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PublicUrl {
    // `http(s)://authority[/prefix]`, without a trailing slash, query or fragment.
    base: String,
}

/// Why a [`PublicUrl`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPublicUrl {
    /// It does not begin with `http://` or `https://`.
    #[error("a public URL begins with http:// or https://")]
    Scheme,
    /// It has no host after the scheme.
    #[error("a public URL names a host")]
    Host,
    /// It has a query or fragment, or characters a URL cannot hold (spaces, control
    /// characters): the request's own query is what is appended.
    #[error("a public URL has no query, fragment, spaces or control characters")]
    Characters,
}

impl PublicUrl {
    /// Checks `url`: `http://` or `https://`, a host, an optional path; no query or fragment.
    /// A trailing `/` is dropped, since the request's path begins with one.
    pub fn parse(url: &str) -> Result<Self, InvalidPublicUrl> {
        let lower = url.to_ascii_lowercase();
        let after_scheme = ["https://", "http://"]
            .iter()
            .find(|scheme| lower.starts_with(*scheme))
            .map(|scheme| &url[scheme.len()..])
            .ok_or(InvalidPublicUrl::Scheme)?;
        if after_scheme.is_empty() || after_scheme.starts_with('/') {
            return Err(InvalidPublicUrl::Host);
        }
        if url
            .bytes()
            .any(|b| !b.is_ascii_graphic() || b == b'?' || b == b'#')
        {
            return Err(InvalidPublicUrl::Characters);
        }
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
        })
    }

    /// The base, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.base
    }
}

impl fmt::Debug for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicUrl").field(&self.base).finish()
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// The URL the sender posted to, as [`PublicUrl`] describes: `base` (or the request's own
/// scheme and `Host`) joined with the path and query of `uri`. The endpoint verifies with this
/// URL; a tool judging a request the way an endpoint would (the inspector) builds it the same
/// way.
///
/// ```
/// use http::{HeaderMap, Uri};
/// use receiver_sdk::{request_url, PublicUrl};
///
/// let base = PublicUrl::parse("https://hooks.example.com/in")?;
/// let uri: Uri = "/twilio?x=1".parse()?;
/// assert_eq!(request_url(Some(&base), &uri, &HeaderMap::new()), "https://hooks.example.com/in/twilio?x=1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn request_url(base: Option<&PublicUrl>, uri: &Uri, headers: &HeaderMap) -> String {
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    match base {
        Some(base) => format!("{}{path}", base.as_str()),
        None => {
            let scheme = uri.scheme_str().unwrap_or("http");
            let host = headers
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
                .or_else(|| uri.authority().map(|authority| authority.as_str()))
                .unwrap_or_default();
            format!("{scheme}://{host}{path}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(base: Option<&str>, uri: &str, host: Option<&str>) -> String {
        let base = base.map(|base| PublicUrl::parse(base).expect("a valid base"));
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(header::HOST, host.parse().expect("a host"));
        }
        let uri: Uri = uri.parse().expect("a URI");
        request_url(base.as_ref(), &uri, &headers)
    }

    #[test]
    fn the_base_replaces_scheme_and_host_and_keeps_path_and_query_as_sent() {
        assert_eq!(
            url(
                Some("https://example.com/hooks/"),
                "/twilio?To=%2B1&x=a%27b",
                Some("10.0.0.5:8080")
            ),
            "https://example.com/hooks/twilio?To=%2B1&x=a%27b"
        );
    }

    #[test]
    fn without_a_base_the_host_header_and_http_are_used() {
        assert_eq!(
            url(None, "/square?a=1", Some("127.0.0.1:3000")),
            "http://127.0.0.1:3000/square?a=1"
        );
        assert_eq!(
            url(None, "https://h2.example/hook", None),
            "https://h2.example/hook"
        );
    }

    #[test]
    fn a_base_needs_a_scheme_and_host_and_no_query() {
        assert_eq!(PublicUrl::parse("ftp://x"), Err(InvalidPublicUrl::Scheme));
        assert_eq!(PublicUrl::parse("https://"), Err(InvalidPublicUrl::Host));
        assert_eq!(
            PublicUrl::parse("https://x/a b"),
            Err(InvalidPublicUrl::Characters)
        );
        assert_eq!(
            PublicUrl::parse("https://x/#f"),
            Err(InvalidPublicUrl::Characters)
        );
        assert_eq!(
            PublicUrl::parse("HTTPS://Example.com").map(|url| url.to_string()),
            Ok("HTTPS://Example.com".to_owned())
        );
    }
}

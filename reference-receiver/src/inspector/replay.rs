//! Sending a capture again: the API's replay and `inspect forward`.
//!
//! The method, every header but the hop-by-hop ones (and `Host` and `Content-Length`, which
//! belong to the new connection), and the body's exact bytes: a signature over the body still
//! verifies at the target.
//!
//! Two things a capture cannot make a replay do: change what kind of request it is (only
//! methods of capital letters are sent, and never `CONNECT`), or reach link-local and
//! cloud-metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, in any spelling:
//! decimal, hex, IPv4-mapped or NAT64 IPv6, or a name that resolves there) unless
//! `inspector.allow_link_local` (`inspect forward --allow-link-local`) says so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::capture::{header_map, headers_of, Header, View};

/// Headers that describe one connection, not the request.
const NOT_FORWARDED: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// What the target answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Answer {
    /// Its status.
    pub(crate) status: u16,
    /// Its headers, in order.
    pub(crate) headers: Vec<Header>,
    /// Its body (at most the inspector's body limit), base64.
    pub(crate) body_base64: String,
    /// Whether the body was longer than that and cut.
    pub(crate) truncated: bool,
    /// How long it took.
    pub(crate) duration_ms: u64,
}

/// Why a capture was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Refusal {
    /// Not a URL a capture may go to (not http or https, or a link-local address).
    Target(String),
    /// The capture cannot be sent as it is (its method, its stored body).
    Capture(String),
    /// The target could not be reached or its answer read.
    Unreachable(String),
}

impl Refusal {
    /// The message, for people.
    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Target(m) | Self::Capture(m) | Self::Unreachable(m) => m,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// Whether `ip` is link-local or a cloud metadata address, also when an IPv6 address carries
/// such an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64
/// `64:ff9b::a.b.c.d`).
pub(crate) fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => {
            let aws = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            let [a, b, c, d, e, f, ..] = v6.segments();
            let embedded = match [a, b, c, d, e, f] {
                [0, 0, 0, 0, 0, 0xffff] | [0, 0, 0, 0, 0, 0] | [0x64, 0xff9b, 0, 0, 0, 0] => {
                    let [.., w, x, y, z] = v6.octets();
                    Some(Ipv4Addr::new(w, x, y, z))
                }
                _ => None,
            };
            (a & 0xffc0) == 0xfe80 || v6 == aws || embedded.is_some_and(|v4| v4.is_link_local())
        }
    }
}

/// A URL captures can be sent to: http or https, and not at a link-local address unless
/// `allow_link_local`. (Names are checked when they are resolved: see [`guard`].)
pub(crate) fn target(url: &str, allow_link_local: bool) -> Result<reqwest::Url, Refusal> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Refusal::Target(format!("`{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Refusal::Target(format!(
            "`{url}` is not an http or https URL"
        )));
    }
    // The URL parser has already read every IPv4 spelling (decimal, hex, short) as dotted.
    let ip = parsed.host_str().and_then(|host| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
    });
    if !allow_link_local && ip.is_some_and(is_link_local) {
        return Err(Refusal::Target(link_local(url)));
    }
    Ok(parsed)
}

fn link_local(target: &str) -> String {
    format!(
        "`{target}` is a link-local or cloud-metadata address; captures are not sent there \
         unless inspector.allow_link_local is set"
    )
}

/// A resolver that refuses names with a link-local or metadata address among their answers.
struct Guarded;

/// The error a [`Guarded`] lookup ends with, found again in reqwest's error chain.
#[derive(Debug)]
struct LinkLocalName(String);

impl std::fmt::Display for LinkLocalName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&link_local(&self.0))
    }
}

impl std::error::Error for LinkLocalName {}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if found.iter().any(|addr| is_link_local(addr.ip())) {
                return Err(Box::new(LinkLocalName(host)) as Box<_>);
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// `builder` with names checked as they are resolved, unless `allow_link_local`.
pub(crate) fn guard(
    builder: reqwest::ClientBuilder,
    allow_link_local: bool,
) -> reqwest::ClientBuilder {
    if allow_link_local {
        builder
    } else {
        builder.dns_resolver(Arc::new(Guarded))
    }
}

/// The request that sends `capture` to `url`.
pub(crate) fn request(
    client: &reqwest::Client,
    capture: &View,
    url: &str,
    allow_link_local: bool,
) -> Result<reqwest::RequestBuilder, Refusal> {
    let url = target(url, allow_link_local)?;
    let method = &capture.meta.method;
    // Any other token (`M-SEARCH`, `PROPFIND;x`) is a method HTTP allows and a sender may
    // pick; `CONNECT` would ask the target for a tunnel instead of sending the capture.
    let plain = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if !plain || method == "CONNECT" {
        return Err(Refusal::Capture(format!(
            "method `{}` is not sent again: only methods of capital letters, and not CONNECT",
            method.escape_debug()
        )));
    }
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| Refusal::Capture(format!("method `{method}` cannot be sent")))?;
    let body = capture
        .body()
        .map_err(|_| Refusal::Capture("the captured body is not valid base64".to_owned()))?;
    let headers = header_map(&capture.meta.headers, NOT_FORWARDED);
    Ok(client.request(method, url).headers(headers).body(body))
}

/// Sends `capture` to `url`; what the target answered, its body cut at `limit` bytes.
pub(crate) async fn send(
    client: &reqwest::Client,
    capture: &View,
    url: &str,
    limit: usize,
    allow_link_local: bool,
) -> Result<Answer, Refusal> {
    let started = Instant::now();
    let mut response = request(client, capture, url, allow_link_local)?
        .send()
        .await
        .map_err(|e| unreachable(url, e))?;
    let status = response.status().as_u16();
    let headers = headers_of(response.headers());
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Refusal::Unreachable(format!("reading the answer from {url}: {}", chain(e))))?
    {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            truncated = true;
            break;
        }
    }
    Ok(Answer {
        status,
        headers,
        body_base64: base64::engine::general_purpose::STANDARD.encode(&body),
        truncated,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// Why `url` could not be reached: a name resolving to a link-local address is a refusal of
/// the target, anything else the network's doing.
pub(crate) fn unreachable(url: &str, error: reqwest::Error) -> Refusal {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<LinkLocalName>() {
            return Refusal::Target(refused.to_string());
        }
        cause = e.source();
    }
    Refusal::Unreachable(format!("cannot reach {url}: {}", chain(error)))
}

/// An error and its causes on one line (reqwest's own message is only the outermost).
pub(crate) fn chain(error: reqwest::Error) -> String {
    format!("{:#}", anyhow::Error::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_metadata_addresses_are_known_in_every_spelling() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/",
            "http://0xA9FEA9FE/",
            "http://169.254.1/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[64:ff9b::169.254.169.254]/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
        ] {
            let refused = target(url, false).unwrap_err();
            assert!(matches!(refused, Refusal::Target(_)), "{url}: {refused:?}");
            assert!(target(url, true).is_ok(), "{url}");
        }
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://192.168.1.1/",
            "https://example.com/",
        ] {
            assert!(target(url, false).is_ok(), "{url}");
        }
    }
}

//! Sending a capture again: the API's replay and `inspect forward`.
//!
//! The method, every header but the hop-by-hop ones (and `Host` and `Content-Length`, which
//! belong to the new connection), and the body's exact bytes: a signature over the body still
//! verifies at the target.

use std::time::Instant;

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::capture::{headers_of, Header, View};

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

/// A URL captures can be sent to.
pub(crate) fn target(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if matches!(parsed.scheme(), "http" | "https") {
        Ok(parsed)
    } else {
        Err(format!("`{url}` is not an http or https URL"))
    }
}

/// The request that sends `capture` to `url`.
pub(crate) fn request(
    client: &reqwest::Client,
    capture: &View,
    url: &str,
) -> Result<reqwest::RequestBuilder, String> {
    let url = target(url)?;
    let method = reqwest::Method::from_bytes(capture.meta.method.as_bytes())
        .map_err(|_| format!("method `{}` cannot be sent", capture.meta.method))?;
    let body = capture
        .body()
        .map_err(|_| "the captured body is not valid base64".to_owned())?;
    let mut headers = http::HeaderMap::new();
    for header in &capture.meta.headers {
        if NOT_FORWARDED.contains(&header.name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(header.name.as_str()),
            HeaderValue::from_bytes(&header.bytes()),
        ) {
            headers.append(name, value);
        }
    }
    Ok(client.request(method, url).headers(headers).body(body))
}

/// Sends `capture` to `url`; what the target answered, its body cut at `limit` bytes.
pub(crate) async fn send(
    client: &reqwest::Client,
    capture: &View,
    url: &str,
    limit: usize,
) -> Result<Answer, String> {
    let started = Instant::now();
    let mut response = request(client, capture, url)?
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", chain(e)))?;
    let status = response.status().as_u16();
    let headers = headers_of(response.headers());
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the answer from {url}: {}", chain(e)))?
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

/// An error and its causes on one line (reqwest's own message is only the outermost).
pub(crate) fn chain(error: reqwest::Error) -> String {
    format!("{:#}", anyhow::Error::new(error))
}

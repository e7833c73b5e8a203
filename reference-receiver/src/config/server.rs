//! `[server]`, `[log]`, `[admin]` and `[inspector]`: the receiver's own service.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigSecret;

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Largest body accepted.
    pub body_limit_bytes: usize,
    /// Time a whole request may take.
    pub request_timeout_secs: u64,
    /// Time in-flight work may take to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// TLS certificate chain (PEM).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// From accept to a complete first request head (TLS handshake included); for HTTP/1 also
    /// from the end of one response to the next request's complete head.
    pub header_read_timeout_secs: u64,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout_secs: u64,
    /// Connections open at once; at the cap the quietest one is closed to make room.
    pub max_connections: usize,
    /// Connections open at once from one peer (an IPv4 address or an IPv6 /64).
    pub max_connections_per_peer: usize,
    /// Request-body bytes held at once across all requests.
    pub body_budget_bytes: usize,
    /// Request-body bytes held at once by one peer's requests.
    pub body_budget_per_peer_bytes: usize,
    /// The largest request head (HTTP/1 buffer, HTTP/2 header list).
    pub max_header_bytes: usize,
    /// HTTP/2 streams open at once on one connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2: how often an idle-looking connection is pinged.
    pub h2_keep_alive_interval_secs: u64,
    /// HTTP/2: how long a ping may go unanswered before the connection is closed.
    pub h2_keep_alive_timeout_secs: u64,
    /// HTTP/2: streams the client reset before we accepted them, at once (rapid reset).
    pub h2_max_pending_accept_reset_streams: usize,
    /// HTTP/2: streams we reset for the client's protocol errors before the connection is
    /// closed.
    pub h2_max_local_error_reset_streams: usize,
}

impl ServerConfig {
    /// The most body bytes one request may make the receiver hold: the larger of the
    /// endpoints' and the inspector's limits.
    pub fn largest_body(&self, inspector: &InspectorConfig) -> usize {
        self.body_limit_bytes.max(inspector.max_body_bytes)
    }
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Text or JSON lines.
    pub format: LogFormat,
    /// A tracing filter directive.
    pub level: String,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[admin]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token for the admin API (or `token_env`, resolved before this is read).
    #[serde(default)]
    pub token: Option<ConfigSecret>,
}

/// `[inspector]`: inspection bins at `/in/{token}`, the JSON API at `/api` and the UI at `/ui`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InspectorConfig {
    /// Serve the inspector at all.
    pub enabled: bool,
    /// How many bins may exist at once.
    pub max_bins: usize,
    /// Captures kept per bin unless the bin asks for another number.
    pub max_captures: usize,
    /// Age after which captures are pruned unless the bin asks for another age.
    pub max_age_secs: u64,
    /// The largest body captured; larger ones are answered 413 and recorded without a body.
    pub max_body_bytes: usize,
    /// The longest answer delay a bin may ask for.
    pub max_delay_ms: u64,
    /// How often captures past their age are pruned.
    pub prune_interval_secs: u64,
    /// The most captures one pruning pass removes (bounded work; the next pass goes on).
    pub prune_batch: usize,
    /// The base URL bins are reached at from outside (behind a proxy); unset: the request's
    /// own scheme and `Host`.
    pub public_url: Option<String>,
    /// Let replays reach link-local and cloud-metadata addresses (169.254.0.0/16, fe80::/10,
    /// fd00:ec2::254), directly or by a name resolving there. Off: such a replay is refused.
    pub allow_link_local: bool,
}

impl Default for InspectorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bins: 100,
            max_captures: 500,
            max_age_secs: 7 * 24 * 60 * 60,
            max_body_bytes: 1_048_576,
            max_delay_ms: 10_000,
            prune_interval_secs: 60,
            prune_batch: 1_000,
            public_url: None,
            allow_link_local: false,
        }
    }
}

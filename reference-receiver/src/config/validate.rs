//! The checks serde cannot make: values in range, keys that depend on each other, unique
//! names and paths.

use std::collections::HashSet;

use super::{Config, ConfigError, EnvelopeKind, InspectorConfig, ServerConfig};

impl Config {
    pub(super) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let error = |key: String, message: &str| ConfigError {
            origin: origin.to_owned(),
            key,
            message: message.to_owned(),
        };
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(error(
                "server.tls_cert".into(),
                "set both tls_cert and tls_key, or neither",
            ));
        }
        if let Some(token) = &self.admin.token {
            check_admin_token(token.0.expose()).map_err(|m| error("admin.token".into(), m))?;
        }
        if !self.server.bind.ip().is_loopback() && self.admin.token.is_none() {
            return Err(error(
                "admin.token".into(),
                "required when server.bind is not a loopback address (the admin API must not \
                 be open to the network); set admin.token or admin.token_env",
            ));
        }
        if self.store.pool_size == 0 {
            return Err(error("store.pool_size".into(), "must be at least 1"));
        }
        let inspector = &self.inspector;
        for (key, value) in [
            ("max_bins", inspector.max_bins),
            ("max_captures", inspector.max_captures),
            ("max_body_bytes", inspector.max_body_bytes),
            ("prune_batch", inspector.prune_batch),
        ] {
            if value == 0 {
                return Err(error(format!("inspector.{key}"), "must be above 0"));
            }
        }
        if inspector.max_age_secs == 0 || inspector.prune_interval_secs == 0 {
            return Err(error(
                "inspector.max_age_secs".into(),
                "max_age_secs and prune_interval_secs must be above 0",
            ));
        }
        if let Some(url) = &inspector.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(error(
                    "inspector.public_url".into(),
                    "must start with http:// or https://",
                ));
            }
        }
        if self.server.body_limit_bytes == 0 {
            return Err(error("server.body_limit_bytes".into(), "must be above 0"));
        }
        self.server
            .validate_limits(inspector)
            .map_err(|(key, message)| error(key, &message))?;
        let mut names = HashSet::new();
        let mut paths = HashSet::new();
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let at = |key: &str| format!("endpoint[{i}].{key}");
            if endpoint.name.trim().is_empty() {
                return Err(error(at("name"), "must not be empty"));
            }
            if !names.insert(endpoint.name.as_str()) {
                return Err(error(at("name"), "another endpoint has this name"));
            }
            if !endpoint.path.starts_with('/') || endpoint.path.contains("{") {
                return Err(error(
                    at("path"),
                    "must start with `/` and be a plain path (no `{` captures)",
                ));
            }
            if is_reserved(&endpoint.path) {
                return Err(error(at("path"), "is reserved by the receiver itself"));
            }
            if !paths.insert(endpoint.path.as_str()) {
                return Err(error(at("path"), "another endpoint has this path"));
            }
            if (endpoint.envelope == EnvelopeKind::Custom) != endpoint.mapping.is_some() {
                return Err(error(
                    at("mapping"),
                    "envelope = \"custom\" needs an [endpoint.mapping], and only it takes one",
                ));
            }
            endpoint
                .verify
                .check()
                .map_err(|(key, message)| error(at(&format!("verify.{key}")), &message))?;
            for (j, handshake) in endpoint.handshakes.iter().enumerate() {
                handshake
                    .check(&endpoint.verify)
                    .map_err(|(key, message)| {
                        error(at(&format!("handshake[{j}].{key}")), &message)
                    })?;
            }
            if let Some(relay) = &endpoint.relay {
                if !["POST", "PUT", "PATCH"].contains(&relay.method.to_ascii_uppercase().as_str()) {
                    return Err(error(at("relay.method"), "must be PATCH, POST or PUT"));
                }
                if relay.max_attempts == 0 {
                    return Err(error(at("relay.max_attempts"), "must be at least 1"));
                }
                if relay.concurrency == 0 {
                    return Err(error(at("relay.concurrency"), "must be at least 1"));
                }
                if relay.max_pending == 0 {
                    return Err(error(at("relay.max_pending"), "must be at least 1"));
                }
                if relay.fetch.as_ref().is_some_and(|f| f.max_body_bytes == 0) {
                    return Err(error(
                        at("relay.fetch.max_body_bytes"),
                        "must be at least 1",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The shortest admin token accepted: it opens `/admin` and the inspector, so it must not be
/// guessable.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 16;

/// An admin token must be long enough, and be what a client can send: no surrounding
/// whitespace (HTTP trims it) and no control characters.
fn check_admin_token(token: &[u8]) -> Result<(), &'static str> {
    if token.trim_ascii().is_empty() {
        return Err("must not be empty or whitespace (leave it unset instead)");
    }
    if token.len() < MIN_ADMIN_TOKEN_BYTES {
        return Err("must be at least 16 bytes long");
    }
    if token.trim_ascii().len() != token.len() || token.iter().any(u8::is_ascii_control) {
        return Err("must not start or end with whitespace or hold control characters");
    }
    Ok(())
}

/// Paths the receiver serves itself, and the prefixes of its own APIs.
pub const RESERVED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];
const RESERVED_PREFIXES: &[&str] = &["/admin", "/api", "/in", "/ui"];

fn is_reserved(path: &str) -> bool {
    RESERVED_PATHS.contains(&path)
        || RESERVED_PREFIXES
            .iter()
            .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

impl ServerConfig {
    /// The connection limits must be usable: nothing at 0, per-peer caps within the totals,
    /// and a per-peer body budget that holds at least one largest body.
    fn validate_limits(&self, inspector: &InspectorConfig) -> Result<(), (String, String)> {
        let key = |name: &str| format!("server.{name}");
        for (name, value) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            (
                "h2_keep_alive_interval_secs",
                self.h2_keep_alive_interval_secs,
            ),
            (
                "h2_keep_alive_timeout_secs",
                self.h2_keep_alive_timeout_secs,
            ),
            (
                "h2_max_concurrent_streams",
                self.h2_max_concurrent_streams.into(),
            ),
        ] {
            if value == 0 {
                return Err((key(name), "must be above 0".into()));
            }
        }
        if self.max_connections_per_peer == 0
            || self.max_connections_per_peer > self.max_connections
        {
            return Err((
                key("max_connections_per_peer"),
                "must be between 1 and server.max_connections".into(),
            ));
        }
        if self.body_budget_per_peer_bytes > self.body_budget_bytes {
            return Err((
                key("body_budget_per_peer_bytes"),
                "must not be above server.body_budget_bytes".into(),
            ));
        }
        let largest = self.largest_body(inspector);
        if self.body_budget_per_peer_bytes < largest {
            return Err((
                key("body_budget_per_peer_bytes"),
                format!(
                    "must hold at least one largest body ({largest} bytes: body_limit_bytes or \
                     inspector.max_body_bytes)"
                ),
            ));
        }
        // hyper's HTTP/1 read buffer cannot be smaller than 8 KiB.
        if self.max_header_bytes < 8192 {
            return Err((key("max_header_bytes"), "must be at least 8192".into()));
        }
        Ok(())
    }
}

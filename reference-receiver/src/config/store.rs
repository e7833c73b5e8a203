//! `[store]`: where state lives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigSecret;

/// `[store]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The sled directory.
    pub path: PathBuf,
    /// sled's background fsync interval.
    pub flush_every_ms: u64,
    /// sled's page cache, in MiB: bounds the memory the store's hot pages take.
    #[serde(default = "default_cache_mib")]
    pub cache_mib: u64,
    /// Under concurrent load, how long sled's committer waits for more commits to share one
    /// flush, in microseconds.
    #[serde(default = "default_commit_delay_us")]
    pub commit_delay_us: u64,
    /// A PostgreSQL URL: ordering marks and delivery ids go there, shared by every replica (or
    /// `url_env`, resolved before this is read).
    #[serde(default)]
    pub url: Option<ConfigSecret>,
    /// PostgreSQL connections per pool (statements and key leases each have one).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
}

fn default_cache_mib() -> u64 {
    receiver_sdk::store::DEFAULT_SLED_CACHE_BYTES / (1024 * 1024)
}

fn default_commit_delay_us() -> u64 {
    u64::try_from(receiver_sdk::store::DEFAULT_COMMIT_DELAY.as_micros()).unwrap_or(u64::MAX)
}

fn default_pool_size() -> usize {
    receiver_sdk::store::DEFAULT_POOL_SIZE
}

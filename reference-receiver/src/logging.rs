//! Logging, as `[log]` says.

use anyhow::Context;

use crate::config::{self, LogFormat};

/// Starts logging as `[log]` says.
pub fn init_logging(config: &config::LogConfig) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.level)
        .with_context(|| format!("log.level `{}` is not a valid filter", config.level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))
}

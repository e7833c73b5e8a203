//! Where the source API and the downstream system are: from the environment, or from code.

use example_support::{var, SetupError};
use receiver_sdk::Secret;
use reqwest::Url;

/// Where entities are read from and written to.
///
/// `Debug` shows the URLs but never the token.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) source_api_url: Url,
    pub(crate) source_api_token: Option<Secret>,
    pub(crate) downstream_url: Url,
}

impl Config {
    /// Entities are read with GET `{source_api_url}/{entityType}/{id}` and written with PATCH
    /// `{downstream_url}/{entityType}/{id}`. Both must be http or https URLs.
    pub fn new(source_api_url: &str, downstream_url: &str) -> Result<Self, SetupError> {
        Ok(Self {
            source_api_url: base_url("SOURCE_API_URL", source_api_url)?,
            source_api_token: None,
            downstream_url: base_url("DOWNSTREAM_URL", downstream_url)?,
        })
    }

    /// Sends `Authorization: Bearer <token>` with every request to the source API.
    pub fn with_source_api_token(mut self, token: impl Into<Secret>) -> Self {
        self.source_api_token = Some(token.into());
        self
    }

    /// Reads `SOURCE_API_URL` and `DOWNSTREAM_URL` (required) and `SOURCE_API_TOKEN`
    /// (optional) from the environment.
    pub fn from_env() -> Result<Self, SetupError> {
        let required = |name, purpose| var(name).ok_or(SetupError::Missing { name, purpose });
        let config = Self::new(
            &required(
                "SOURCE_API_URL",
                "the base URL of the API the entities are read from",
            )?,
            &required(
                "DOWNSTREAM_URL",
                "the base URL of the system the entities are written to",
            )?,
        )?;
        Ok(match var("SOURCE_API_TOKEN") {
            Some(token) => config.with_source_api_token(token),
            None => config,
        })
    }
}

fn base_url(name: &'static str, raw: &str) -> Result<Url, SetupError> {
    let invalid = |reason: String| SetupError::Invalid { name, reason };
    // The value itself stays out of the message: a URL can carry credentials.
    let url = Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme is `{}`; use http or https",
            url.scheme()
        )));
    }
    Ok(url)
}

//! `reference-receiver send`: sign and POST a test delivery the way a given sender does.

use clap::Args;

/// Options of `send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The endpoint URL to deliver to.
    pub url: String,
}

/// Sends one delivery and prints the answer.
pub async fn run(args: SendArgs) -> anyhow::Result<()> {
    anyhow::bail!("send is not available yet (to {})", args.url)
}

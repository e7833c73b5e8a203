//! `reference-receiver`: run a webhook endpoint with no code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// A webhook receiver: verifies, orders, dedupes and answers webhooks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the receiver. With no options: 127.0.0.1:8080, data in ./data, one catch-all
    /// endpoint at /webhook.
    Serve {
        /// The address to listen on.
        #[arg(long, env = "RECEIVER_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// The sled directory for ordering marks and delivery ids.
        #[arg(long, env = "RECEIVER_DATA", default_value = "./data")]
        data: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reference-receiver: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { bind, data } => {
            let app = reference_receiver::default_app(&data)?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind}"))?;
            let addr = listener.local_addr().context("listener address")?;
            tracing::info!(
                "listening on http://{addr}/webhook on embedded defaults (data in {}); \
                 HEAD and POST answered, any JSON accepted",
                data.display()
            );
            reference_receiver::run(app, listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
        }
    }
}

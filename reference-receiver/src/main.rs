//! `reference-receiver`: run webhook endpoints from a config file, with no code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use reference_receiver::config;

/// Receive webhooks: verify signatures, drop out-of-order events, dedupe retries, relay to
/// downstream APIs, answer every sender with a clear status and reason.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the receiver. With no config: 127.0.0.1:8080, data in ./data, one catch-all
    /// endpoint at /webhook.
    Serve {
        /// A TOML config file, laid over the embedded defaults.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen here instead of server.bind.
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Keep data here instead of store.path.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Validate a config and print the effective config (secrets redacted).
    CheckConfig {
        /// The TOML config file.
        file: PathBuf,
    },
    /// Sign and POST a test delivery the way a given sender does, and print the answer.
    Send(reference_receiver::send::SendArgs),
    /// Inspect and steer the relay outboxes of a running receiver (via its admin API).
    Outbox(reference_receiver::admin::cli::OutboxArgs),
    /// Inspection bins from the terminal: create one, tail it, forward it to a local service.
    Inspect(reference_receiver::inspector::cli::InspectArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
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
        Command::Serve { config, bind, data } => {
            let mut flags = Vec::new();
            if let Some(bind) = bind {
                flags.push(("RECEIVER_SERVER__BIND".to_owned(), bind.to_string()));
            }
            if let Some(data) = data {
                flags.push((
                    "RECEIVER_STORE__PATH".to_owned(),
                    data.display().to_string(),
                ));
            }
            let loaded = config::load_with(config.as_deref(), flags)?;
            reference_receiver::init_logging(&loaded.log)?;
            if config.is_none() {
                tracing::info!("no --config given: running on the embedded defaults");
            }
            let listener = tokio::net::TcpListener::bind(loaded.server.bind)
                .await
                .with_context(|| format!("cannot listen on {}", loaded.server.bind))?;
            reference_receiver::serve(loaded, listener, reference_receiver::shutdown_signal()).await
        }
        Command::CheckConfig { file } => {
            let loaded = config::load(Some(&file))?;
            reference_receiver::check(&loaded)?;
            print!("{loaded}");
            eprintln!("{}: config is valid", file.display());
            Ok(())
        }
        Command::Send(args) => reference_receiver::send::run(args).await,
        Command::Outbox(args) => reference_receiver::admin::cli::run(args).await,
        Command::Inspect(args) => reference_receiver::inspector::cli::run(args).await,
    }
}

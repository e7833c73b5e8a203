//! What every example shares, so each example's own code is only its receiver.
//!
//! Every example serves its endpoint at `/webhook` on `BIND` (default `127.0.0.1:3000`),
//! reads its secret from `WEBHOOK_SECRET` (Basic auth: `WEBHOOK_USER`, `WEBHOOK_PASSWORD`),
//! keeps its sled data in `DATA_DIR` (default: a folder under the system temp dir), and prints
//! one JSON line on stdout per event handed to its handler.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use receiver_sdk::envelope::FieldError;
use receiver_sdk::store::StoreError;
use receiver_sdk::verify::SecretError;
use receiver_sdk::{BuildError, Delivery, HandlerError, Receiver, Secret};

/// Where an example prints its event lines: stdout when run, a buffer in tests.
pub type EventSink = Arc<dyn Fn(String) + Send + Sync>;

/// Why an example could not start. Messages name the setting, never its value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A required environment variable is unset or empty.
    #[error("set {name} to {purpose}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it should hold.
        purpose: &'static str,
    },
    /// An environment variable is set but cannot be used.
    #[error("{name} is not usable: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `WEBHOOK_SECRET` is set but the sender's scheme cannot use it.
    #[error("WEBHOOK_SECRET is not usable: {0}")]
    Secret(#[from] SecretError),
    /// A custom envelope names a field that cannot be read.
    #[error("envelope mapping: {0}")]
    Envelope(#[from] FieldError),
    /// Something the example needs could not be set up (an HTTP client, for one).
    #[error("cannot set up {what}: {reason}")]
    Resource {
        /// What could not be set up.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The sled directory could not be opened (another process holds it, for one).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The receiver could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// An example's settings, read from the environment.
///
/// `Debug` shows whether the secret and password are set, never their values.
#[derive(Clone)]
pub struct Settings {
    /// `BIND`: the address to serve on.
    pub bind: SocketAddr,
    /// `WEBHOOK_SECRET`: the signing secret, where the sender signs.
    pub secret: Option<String>,
    /// `WEBHOOK_USER`: the Basic auth user.
    pub user: Option<String>,
    /// `WEBHOOK_PASSWORD`: the Basic auth password.
    pub password: Option<String>,
    /// `DATA_DIR`: the sled directory.
    pub data_dir: PathBuf,
}

impl Settings {
    /// Reads the settings of the example called `name` from the environment.
    pub fn from_env(name: &str) -> Result<Self, String> {
        let bind = var("BIND").unwrap_or_else(|| "127.0.0.1:3000".into());
        let bind = bind
            .parse()
            .map_err(|e| format!("BIND `{bind}` is not a socket address: {e}"))?;
        Ok(Self {
            bind,
            secret: var("WEBHOOK_SECRET"),
            user: var("WEBHOOK_USER"),
            password: var("WEBHOOK_PASSWORD"),
            data_dir: var("DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join(format!("receiver-example-{name}"))),
        })
    }

    /// The secret, for senders that sign: it must be set.
    pub fn require_secret(&self) -> Result<&str, SetupError> {
        self.secret.as_deref().ok_or(SetupError::Missing {
            name: "WEBHOOK_SECRET",
            purpose: "the signing secret configured at the sender",
        })
    }

    /// The Basic auth user and password, for senders that log in: both must be set.
    pub fn require_basic(&self) -> Result<(String, Secret), SetupError> {
        let user = self.user.clone().ok_or(SetupError::Missing {
            name: "WEBHOOK_USER",
            purpose: "the Basic auth user configured at the sender",
        })?;
        let password = self.password.as_deref().ok_or(SetupError::Missing {
            name: "WEBHOOK_PASSWORD",
            purpose: "the Basic auth password configured at the sender",
        })?;
        Ok((user, Secret::from(password)))
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "[redacted]");
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("secret", &redacted(&self.secret))
            .field("user", &self.user)
            .field("password", &redacted(&self.password))
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// The environment variable `name`, if it is set and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The JSON line printed for each handled event.
pub fn event_line<T>(delivery: &Delivery<T>) -> String {
    serde_json::json!({
        "event": delivery.event.event_type,
        "entity": delivery.event.entity_id,
        "created_at": delivery.event.created_at.map(|t| t.to_rfc3339()),
        "delivery": delivery.event.delivery_id,
    })
    .to_string()
}

/// A handler that only prints each event's line: where an example has nothing else to do, a
/// real integration would act on the event.
pub fn print_events(
    sink: EventSink,
) -> impl Fn(Delivery) -> std::future::Ready<Result<(), HandlerError>> + Send + Sync + 'static {
    move |delivery: Delivery| {
        sink(event_line(&delivery));
        std::future::ready(Ok(()))
    }
}

/// The router every example serves: `receiver` at `/webhook`.
pub fn webhook_router(receiver: Receiver) -> Router {
    Router::new().route_service("/webhook", receiver)
}

/// A sink that prints each line on stdout.
pub fn stdout_sink() -> EventSink {
    Arc::new(|line| {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not fail the delivery; the event was handled.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    })
}

/// Serves `router` on `settings.bind` until Ctrl-C, logging to stderr.
pub async fn serve(router: Router, settings: &Settings) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .map_err(|e| format!("cannot bind {}: {e}", settings.bind))?;
    eprintln!(
        "listening on http://{}/webhook (data in {})",
        settings.bind,
        settings.data_dir.display()
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server failed: {e}"))
}

/// An example's whole `main`: read settings, build the app, serve it; on failure print why
/// and exit non-zero.
pub async fn main<E: std::fmt::Display>(
    name: &str,
    app: impl FnOnce(&Settings, EventSink) -> Result<Router, E>,
) -> std::process::ExitCode {
    let run = async {
        let settings = Settings::from_env(name)?;
        let router = app(&settings, stdout_sink()).map_err(|e| e.to_string())?;
        serve(router, &settings).await
    };
    match run.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("example-{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

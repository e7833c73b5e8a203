//! `reference-receiver outbox ...`: the admin API of a running receiver, from the command line.
//!
//! The receiver's URL comes from `--url` or the config's `server.bind`; the token from
//! `--token`, `RECEIVER_ADMIN_TOKEN` or the config's `[admin]`. Output is text for people, or
//! the API's JSON with `--json`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;

use super::{Count, ErrorBody, EventList, Overview};
use crate::config;
use crate::outbox::{EventView, OutboxStats, Shelf};
use crate::relay::Attempt;

/// What a path segment may hold unescaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `reference-receiver outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: OutboxCommand,
    /// Which receiver, and how to print.
    #[command(flatten)]
    pub target: Target,
}

/// Which receiver to talk to.
// The field docs are clap's `--help` text, where `[admin]` names the config section; escaping
// it for rustdoc would print the backslashes there.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Args)]
pub struct Target {
    /// The receiver's config file: the URL comes from server.bind, the token from [admin].
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    /// The receiver's base URL, e.g. http://127.0.0.1:8080 (instead of server.bind).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// The admin token (instead of the config's [admin] token).
    #[arg(
        long,
        global = true,
        env = "RECEIVER_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Print the API's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The `outbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Per queued endpoint: pending, in flight, dead and delivered events.
    List,
    /// An endpoint's events and how their last attempt went.
    Events {
        /// The endpoint's name.
        endpoint: String,
        /// pending, dead or delivered.
        #[arg(long, default_value = "pending")]
        state: Shelf,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One event with every attempt: status, headers, body excerpt.
    Show {
        /// The endpoint's name.
        endpoint: String,
        /// The event's id.
        id: u64,
    },
    /// Send a dead letter (or all of them) back to the queue, with a fresh set of attempts.
    Retry {
        /// The endpoint's name.
        endpoint: String,
        /// The dead letter's id.
        #[arg(required_unless_present = "all")]
        id: Option<u64>,
        /// Every dead letter of the endpoint.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Remove the dead letters or the delivered history.
    Purge {
        /// The endpoint's name.
        endpoint: String,
        /// Remove the dead letters.
        #[arg(
            long,
            required_unless_present = "delivered",
            conflicts_with = "delivered"
        )]
        dead: bool,
        /// Remove the delivered history.
        #[arg(long)]
        delivered: bool,
    },
}

/// Runs one `outbox` subcommand and prints its result.
pub async fn run(args: OutboxArgs) -> anyhow::Result<()> {
    let admin = Client::new(&args.target)?;
    let segment = |text: &str| utf8_percent_encode(text, SEGMENT).to_string();
    let text = match args.command {
        OutboxCommand::List => {
            let render = |overview: Overview| render_overview(&overview.outboxes, Utc::now());
            admin.show(Method::GET, "outbox", render).await?
        }
        OutboxCommand::Events {
            endpoint,
            state,
            limit,
        } => {
            let state = serde_json::to_value(state)?;
            let path = format!(
                "outbox/{}/events?state={}&limit={limit}",
                segment(&endpoint),
                state.as_str().unwrap_or("pending"),
            );
            let render = |list: EventList| render_events(&list.events);
            admin.show(Method::GET, &path, render).await?
        }
        OutboxCommand::Show { endpoint, id } => {
            let path = format!("outbox/{}/events/{id}", segment(&endpoint));
            let render = |event: EventView| render_event(&endpoint, &event);
            admin.show(Method::GET, &path, render).await?
        }
        OutboxCommand::Retry {
            endpoint,
            id: Some(id),
            all: false,
        } => {
            let path = format!("outbox/{}/dead/{id}/retry", segment(&endpoint));
            let render =
                |event: EventView| format!("event {} of {endpoint} is pending again\n", event.id);
            admin.show(Method::POST, &path, render).await?
        }
        OutboxCommand::Retry { endpoint, .. } => {
            let path = format!("outbox/{}/dead/retry", segment(&endpoint));
            let render = |count: Count| {
                let n = count.retried.unwrap_or_default();
                format!("{n} dead letter(s) of {endpoint} sent back to the queue\n")
            };
            admin.show(Method::POST, &path, render).await?
        }
        OutboxCommand::Purge {
            endpoint,
            dead: _,
            delivered,
        } => {
            let (shelf, what) = if delivered {
                ("delivered", "delivered event(s)")
            } else {
                ("dead", "dead letter(s)")
            };
            let path = format!("outbox/{}/{shelf}", segment(&endpoint));
            let render = |count: Count| {
                let n = count.purged.unwrap_or_default();
                format!("purged {n} {what} of {endpoint}\n")
            };
            admin.show(Method::DELETE, &path, render).await?
        }
    };
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(())
}

/// An HTTP client for one receiver's admin API.
struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    // Print the API's JSON as it came rather than text.
    json: bool,
}

impl Client {
    fn new(target: &Target) -> anyhow::Result<Self> {
        // The config is only needed for what the flags do not say.
        let loaded = if target.url.is_some() && target.token.is_some() {
            None
        } else {
            Some(config::load(target.config.as_deref()).context(
                "cannot read the receiver's config (pass --config, or --url and --token)",
            )?)
        };
        let base = target
            .url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_owned())
            .or_else(|| loaded.as_ref().map(|config| base_url(&config.server)))
            .context("no receiver URL: pass --url or --config")?;
        let token = target.token.clone().or_else(|| {
            loaded
                .as_ref()
                .and_then(|config| config.admin.token.as_ref().map(|t| t.text()))
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .user_agent(concat!("reference-receiver/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            base,
            token,
            json: target.json,
        })
    }

    /// Calls `/admin/{path}` and gives its JSON, or with `render` its text for people.
    async fn show<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        render: impl FnOnce(T) -> String,
    ) -> anyhow::Result<String> {
        let (parsed, raw) = self.call(method, path).await?;
        Ok(if self.json { raw } else { render(parsed) })
    }

    /// Calls `/admin/{path}` and returns the answer, parsed and as text.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> anyhow::Result<(T, String)> {
        let url = format!("{}/admin/{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the receiver at {}", self.base))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("the receiver at {} broke off its answer", self.base))?;
        if !status.is_success() {
            let error = serde_json::from_slice::<ErrorBody>(text.as_bytes())
                .map(|body| body.error)
                .unwrap_or(text);
            let hint = if status == http::StatusCode::UNAUTHORIZED {
                " (pass --token, set RECEIVER_ADMIN_TOKEN, or --config with [admin] token)"
            } else {
                ""
            };
            bail!("{} {error}{hint}", status.as_u16());
        }
        let parsed =
            serde_json::from_str(&text).with_context(|| format!("unexpected answer from {url}"))?;
        Ok((parsed, text))
    }
}

/// The URL a client on this machine reaches a receiver bound to `server.bind` at.
fn base_url(server: &config::ServerConfig) -> String {
    let bind = server.bind;
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if server.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{}", SocketAddr::new(ip, bind.port()))
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `95` -> `1m 35s`.
fn age(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m {}s", secs / 60, secs % 60),
        3_600..86_400 => format!("{}h {}m", secs / 3_600, secs % 3_600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3_600),
    }
}

/// Lines up `rows` under `header` in columns two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn render_overview(outboxes: &[OutboxStats], now: DateTime<Utc>) -> String {
    if outboxes.is_empty() {
        return "no outboxes: no endpoint has relay.mode = \"queued\"\n".into();
    }
    let rows: Vec<Vec<String>> = outboxes
        .iter()
        .map(|o| {
            vec![
                o.endpoint.clone(),
                o.pending.to_string(),
                o.in_flight.to_string(),
                o.dead.to_string(),
                o.delivered.to_string(),
                o.oldest_pending_age_secs.map_or("-".into(), age),
                o.next_attempt_at.map_or("-".into(), |at| {
                    let wait = (at - now).num_milliseconds().max(0) as f64 / 1_000.0;
                    format!("in {}", age(wait))
                }),
            ]
        })
        .collect();
    table(
        &[
            "ENDPOINT",
            "PENDING",
            "IN FLIGHT",
            "DEAD",
            "DELIVERED",
            "OLDEST PENDING",
            "NEXT ATTEMPT",
        ],
        &rows,
    )
}

fn entity(event: &EventView) -> String {
    match (&event.entity_type, &event.entity) {
        (Some(kind), Some(id)) => format!("{kind}/{id}"),
        (None, Some(id)) => id.clone(),
        (_, None) => "-".into(),
    }
}

fn state_name(event: &EventView) -> String {
    serde_json::to_value(event.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn render_events(events: &[EventView]) -> String {
    if events.is_empty() {
        return "no events\n".into();
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let last = e
                .attempts
                .last()
                .map_or("-".into(), |a| format!("{} {}", time(a.at), a.message));
            vec![
                e.id.to_string(),
                state_name(e),
                entity(e),
                e.event.clone(),
                e.attempts.len().to_string(),
                last,
            ]
        })
        .collect();
    table(
        &["ID", "STATE", "ENTITY", "EVENT", "ATTEMPTS", "LAST ATTEMPT"],
        &rows,
    )
}

fn render_event(endpoint: &str, event: &EventView) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "event {} of {endpoint}: {}",
        event.id,
        state_name(event)
    );
    let mut field = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            let _ = writeln!(out, "  {:<16} {value}", format!("{name}:"));
        }
    };
    field("event", Some(event.event.clone()));
    field("entity", Some(entity(event)));
    field("delivery", event.delivery.clone());
    field("created", event.created_at.map(time));
    field("idempotency key", Some(event.idempotency_key.clone()));
    field("enqueued", Some(time(event.enqueued_at)));
    field("next attempt", event.next_attempt_at.map(time));
    field("finished", event.finished_at.map(time));
    let payload = serde_json::to_string_pretty(&event.payload).unwrap_or_default();
    let _ = writeln!(out, "payload:");
    for line in payload.lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "attempts: {}", event.attempts.len());
    for (number, attempt) in event.attempts.iter().enumerate() {
        render_attempt(&mut out, number + 1, attempt);
    }
    out
}

fn render_attempt(out: &mut String, number: usize, attempt: &Attempt) {
    let status = attempt.status.map_or("no answer".into(), |s| s.to_string());
    let verdict = serde_json::to_value(attempt.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  #{number} {} {verdict} {status} ({} ms)",
        time(attempt.at),
        attempt.duration_ms
    );
    let _ = writeln!(out, "     {}", attempt.message);
    if !attempt.headers.is_empty() {
        let _ = writeln!(out, "     headers:");
        for (name, value) in &attempt.headers {
            let _ = writeln!(out, "       {name}: {value}");
        }
    }
    if !attempt.body_excerpt.is_empty() {
        let _ = writeln!(out, "     body:");
        for line in attempt.body_excerpt.lines() {
            let _ = writeln!(out, "       {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_useful_units() {
        assert_eq!(age(0.4), "0s");
        assert_eq!(age(95.0), "1m 35s");
        assert_eq!(age(7_260.0), "2h 1m");
        assert_eq!(age(90_000.0), "1d 1h");
    }

    #[test]
    fn tables_line_up_their_columns() {
        let text = table(
            &["A", "LONGER"],
            &[
                vec!["wide cell".into(), "x".into()],
                vec!["b".into(), "y".into()],
            ],
        );
        assert_eq!(text, "A          LONGER\nwide cell  x\nb          y\n");
    }

    #[test]
    fn an_unspecified_bind_is_reached_on_loopback() {
        let mut server = config::from_parts(None, vec![], |_| None).unwrap().server;
        server.bind = "0.0.0.0:9000".parse().unwrap();
        assert_eq!(base_url(&server), "http://127.0.0.1:9000");
        server.bind = "[::]:9000".parse().unwrap();
        assert_eq!(base_url(&server), "http://[::1]:9000");
    }
}

//! `reference-receiver inspect`: bins from the terminal, over the inspector's JSON API.
//!
//! * `inspect new [--alias NAME]` creates a bin and prints its URL.
//! * `inspect tail TOKEN` prints each capture as it arrives.
//! * `inspect forward TOKEN --to URL` sends each capture on to a local service, like
//!   `stripe listen --forward-to`: same method, headers and exact body bytes. It follows the
//!   bin's event stream and remembers the id of the last capture it forwarded; when the
//!   connection drops it reconnects with that id (`?after=`) and the server replays what it
//!   missed, oldest first, so nothing is skipped and nothing is sent twice. A capture is
//!   forwarded once the service answers at all (any status); while the service cannot be
//!   reached the same capture is retried, in order.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::capture::View;
use super::replay;

/// A stream with no bytes for this long is taken as dropped (the server sends a keep-alive
/// every 15 s).
const IDLE: Duration = Duration::from_secs(45);

/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Options of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The receiver's base URL.
    #[arg(
        long,
        global = true,
        env = "RECEIVER_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// The receiver's admin token, when it has one.
    #[arg(
        long,
        global = true,
        env = "RECEIVER_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: InspectCommand,
}

/// The `inspect` subcommands.
#[derive(Debug, Subcommand)]
pub enum InspectCommand {
    /// Create a bin and print its URL.
    New {
        /// A readable name to use instead of a random token (3 to 64 letters, digits, - or _).
        #[arg(long)]
        alias: Option<String>,
    },
    /// Print a bin's captures as they arrive.
    Tail {
        /// The bin's token or alias.
        #[arg(value_name = "TOKEN")]
        bin: String,
        /// Print each capture as one JSON line (body included) instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Send a bin's captures on to another URL as they arrive, byte for byte.
    Forward {
        /// The bin's token or alias.
        #[arg(value_name = "TOKEN")]
        bin: String,
        /// Where to send them.
        #[arg(long)]
        to: String,
        /// Start after this capture id (replaying the ones since), instead of from now.
        #[arg(long)]
        after: Option<u64>,
        /// Also send to link-local and cloud-metadata addresses (169.254.0.0/16, fe80::/10,
        /// fd00:ec2::254), which are refused otherwise.
        #[arg(long)]
        allow_link_local: bool,
    },
}

/// Runs an `inspect` subcommand.
pub async fn run(args: InspectArgs) -> anyhow::Result<()> {
    let api = Api {
        base: args.server.trim_end_matches('/').to_owned(),
        token: args.admin_token.clone(),
        client: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?,
    };
    match args.command {
        InspectCommand::New { alias } => {
            let bin = api.create(alias).await?;
            let url = bin["url"].as_str().unwrap_or_default();
            let token = bin["token"].as_str().unwrap_or_default();
            println!("{url}");
            eprintln!("bin {token}: watch it at {}/ui#/{token}", api.base);
            Ok(())
        }
        InspectCommand::Tail { bin, json } => {
            follow(&api, &bin, None, |view| {
                if json {
                    println!(
                        "{}",
                        inert_json(&serde_json::to_string(&view).unwrap_or_default())
                    );
                } else {
                    println!("{}", summary(&view));
                }
                async { Ok(()) }
            })
            .await
        }
        InspectCommand::Forward {
            bin,
            to,
            after,
            allow_link_local,
        } => {
            replay::target(&to, allow_link_local).map_err(|e| anyhow::anyhow!("{e}"))?;
            let sender = replay::guard(
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(30)),
                allow_link_local,
            )
            .build()?;
            eprintln!("forwarding captures of {bin} to {to}");
            follow(&api, &bin, after, |view| {
                let (sender, to) = (sender.clone(), to.clone());
                async move { deliver(&sender, &view, &to, allow_link_local).await }
            })
            .await
        }
    }
}

struct Api {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

impl Api {
    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn create(&self, alias: Option<String>) -> anyhow::Result<Value> {
        let body = match alias {
            Some(alias) => json!({ "alias": alias }),
            None => json!({}),
        };
        let response = self
            .authorised(self.client.post(format!("{}/api/bins", self.base)))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach the receiver at {}", self.base))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!(
                "the receiver answered {status}: {}",
                inert(&answer["error"].to_string())
            );
        }
        Ok(answer)
    }

    /// Opens a bin's event stream, after `after` if given.
    async fn stream(&self, bin: &str, after: Option<u64>) -> Result<Events, Connect> {
        let mut url = format!("{}/api/bins/{bin}/stream", self.base);
        if let Some(after) = after {
            url.push_str(&format!("?after={after}"));
        }
        let response = self
            .authorised(self.client.get(&url))
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| Connect::Retry(replay::chain(e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Events {
                response,
                buffer: Vec::new(),
            });
        }
        let answer: Value = response.json().await.unwrap_or_default();
        let message = format!(
            "the receiver answered {status}: {}",
            inert(&answer["error"].to_string())
        );
        if status.is_server_error() {
            Err(Connect::Retry(message))
        } else {
            Err(Connect::Fatal(message))
        }
    }
}

enum Connect {
    /// Worth trying again (the receiver is down or restarting).
    Retry(String),
    /// Not (no such bin, wrong token).
    Fatal(String),
}

/// Follows a bin's captures, resuming after the last one handled whenever the stream drops.
async fn follow<F, Fut>(
    api: &Api,
    bin: &str,
    after: Option<u64>,
    mut handle: F,
) -> anyhow::Result<()>
where
    F: FnMut(View) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut resume = after;
    let mut backoff = Duration::from_millis(500);
    loop {
        match api.stream(bin, resume).await {
            Ok(mut events) => {
                backoff = Duration::from_millis(500);
                eprintln!("connected to {} (bin {bin})", api.base);
                loop {
                    match events.next().await {
                        Ok(Some(event)) if event.name == "ready" => {
                            if resume.is_none() {
                                let latest: Value =
                                    serde_json::from_str(&event.data).unwrap_or_default();
                                resume = Some(latest["latest"].as_u64().unwrap_or(0));
                            }
                        }
                        Ok(Some(event)) if event.name == "capture" => {
                            let view: View = serde_json::from_str(&event.data)
                                .context("the receiver sent a capture this client cannot read")?;
                            if resume.is_some_and(|last| view.meta.id <= last) {
                                continue;
                            }
                            let id = view.meta.id;
                            handle(view).await?;
                            resume = Some(id);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            eprintln!("the receiver closed the stream; reconnecting");
                            break;
                        }
                        Err(e) => {
                            eprintln!("connection lost ({e}); reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(Connect::Fatal(message)) => bail!(message),
            Err(Connect::Retry(message)) => {
                eprintln!("cannot follow {bin}: {message}; retrying in {backoff:?}");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Sends one capture on, retrying (in order, nothing after it first) until the target answers.
async fn deliver(
    client: &reqwest::Client,
    view: &View,
    to: &str,
    allow_link_local: bool,
) -> anyhow::Result<()> {
    let mut backoff = Duration::from_millis(500);
    loop {
        let request = match replay::request(client, view, to, allow_link_local) {
            Ok(request) => request,
            Err(refusal) => {
                // This capture cannot go (its method); the ones after it still can.
                eprintln!(
                    "not forwarding #{}: {}",
                    view.meta.id,
                    inert(refusal.message())
                );
                return Ok(());
            }
        };
        match request.send().await {
            Ok(response) => {
                println!(
                    "#{} {} {} -> {}",
                    view.meta.id,
                    inert(&view.meta.method),
                    inert(&view.meta.path),
                    response.status().as_u16()
                );
                let _ = response.bytes().await;
                return Ok(());
            }
            Err(e) => {
                let why = match replay::unreachable(to, e) {
                    replay::Refusal::Target(why) => bail!(why),
                    other => other,
                };
                eprintln!(
                    "forwarding #{} to {to} failed ({why}); retrying in {backoff:?}",
                    view.meta.id
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One line per capture. Every captured field goes through [`inert`]: a sender chooses them.
fn summary(view: &View) -> String {
    let meta = &view.meta;
    let verdicts = &meta.verdicts;
    let mut line = format!(
        "#{} {} {} {}{} {} B from {} -> {}: {}",
        meta.id,
        meta.received_at.format("%H:%M:%S%.3f"),
        inert(&meta.method),
        inert(&meta.path),
        if meta.query.is_empty() {
            String::new()
        } else {
            format!("?{}", inert(&meta.query))
        },
        meta.size,
        inert(meta.remote_addr.as_deref().unwrap_or("?")),
        meta.answer_status,
        inert(&verdicts.outcome),
    );
    if verdicts.outcome != "handled" && verdicts.outcome != "probe" {
        line.push_str(&format!(" ({})", inert(&verdicts.message)));
    }
    if let Some(event) = &verdicts.event {
        line.push_str(&format!(" event={}", inert(&event.event_type)));
        if let Some(entity) = &event.entity_id {
            line.push_str(&format!(" entity={}", inert(entity)));
        }
    }
    line
}

/// Whether a terminal could act on `c` instead of showing it: C0 and C1 controls and DEL
/// (escape sequences, OSC 52 clipboard writes, screen clears, carriage returns that fake a
/// line), and the Unicode bidi controls that reorder what is shown (U+202E and friends).
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` safe to print to a terminal: every character a terminal would act on is written as
/// `\u{..}` (and `\` as `\\`, so an escape cannot be faked).
pub(crate) fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if acts_on_terminal(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON text safe to print to a terminal and still the same JSON: serde_json escapes C0
/// controls already; DEL, C1 and bidi controls become `\uXXXX` escapes too.
fn inert_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if acts_on_terminal(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// One server-sent event.
struct Event {
    name: String,
    data: String,
}

/// A server-sent event stream, read line by line.
struct Events {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Events {
    /// The next event; `None` when the server ends the stream.
    async fn next(&mut self) -> Result<Option<Event>, String> {
        let mut name = String::new();
        let mut data: Vec<String> = Vec::new();
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\n', '\r']);
                if line.is_empty() {
                    if !data.is_empty() || !name.is_empty() {
                        let name = if name.is_empty() {
                            "message".into()
                        } else {
                            name
                        };
                        return Ok(Some(Event {
                            name,
                            data: data.join("\n"),
                        }));
                    }
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => name = value.to_owned(),
                    "data" => data.push(value.to_owned()),
                    _ => {}
                }
                continue;
            }
            match tokio::time::timeout(IDLE, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Ok(None)) => return Ok(None),
                Ok(Err(e)) => return Err(replay::chain(e)),
                Err(_) => return Err(format!("nothing received for {IDLE:?}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_terminal_controls_in_captured_text_are_printed_as_escapes() {
        let payload =
            "42\u{1b}]0;OWNED\u{7}\u{1b}[2J\u{1b}[31mfake line\u{1b}[0m\r\u{9b}\u{7f}\u{202e}txt";
        let shown = inert(payload);
        assert!(!shown.chars().any(acts_on_terminal), "{shown:?}");
        assert_eq!(
            shown,
            "42\\u{1b}]0;OWNED\\u{7}\\u{1b}[2J\\u{1b}[31mfake line\\u{1b}[0m\\u{d}\\u{9b}\\u{7f}\\u{202e}txt"
        );
        assert_eq!(inert("a\\u{1b}"), "a\\\\u{1b}");
    }

    #[test]
    fn regression_json_lines_carry_no_terminal_controls_and_stay_the_same_json() {
        let value =
            serde_json::json!({"event": "x\u{1b}]52;c;ZWNobyBoaQ==\u{7}\u{9b}\u{7f}\u{202e}"});
        let line = inert_json(&serde_json::to_string(&value).unwrap());
        assert!(!line.chars().any(acts_on_terminal), "{line:?}");
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), value);
    }
}

//! `reference-receiver send`: sign and POST a test delivery the way a given sender does.
//!
//! # Layout
//!
//! * `mod.rs`: the options, checking them against the chosen sender, sending, and printing
//!   the answer.
//! * `sender`: what a sender is, as data (a `Profile`), and its headers, signed with the SDK's
//!   [`sign`](receiver_sdk::verify::sign) helpers.
//! * `senders`: every sender, one `Profile` each: the catalogue's providers
//!   ([`providers`](receiver_sdk::verify::providers)) and the senders without a scheme.
//! * `sample`: sample payloads rendered from the templates in `samples/`, and fresh ids.
//! * `handshake`: `--handshake`, each sender's setup handshake and the answer it requires.
//!
//! What was sent goes to stderr as `> ` lines and the answer's status and outcome as `< `
//! lines, as `curl -v` does; stdout gets only the answer's body, so it can be piped to `jq`.

mod handshake;
mod sample;
mod sender;
mod senders;
#[cfg(test)]
mod tests;

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use clap::Args;
use http::header::{AUTHORIZATION, PROXY_AUTHORIZATION};
use http::{HeaderName, HeaderValue, Method};
use receiver_sdk::outcome::OUTCOME_HEADER;
use receiver_sdk::Secret;

use self::handshake::{Expect, Inputs};
use self::sender::{Credentials, Facts, Headers, SecretUse};

pub use self::sender::Sender;

/// How long one attempt may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(30);

const EXAMPLES: &str = "\
Examples:
  # A Sonar account.status event, then Sonar's HEAD probe
  reference-receiver send https://hooks.example.com/sonar --as sonar
  reference-receiver send https://hooks.example.com/sonar --as sonar --head

  # A GitHub issues event, signed, sent twice to see the second answered `duplicate`
  reference-receiver send http://127.0.0.1:8080/github --as github \\
      --secret-env GITHUB_WEBHOOK_SECRET --repeat 2

  # A Zoom meeting.started event, then Zoom's endpoint.url_validation handshake, whose
  # encryptedToken is checked against the secret token
  reference-receiver send http://127.0.0.1:8080/zoom --as zoom --secret-env ZOOM_SECRET_TOKEN
  reference-receiver send http://127.0.0.1:8080/zoom --as zoom --secret-env ZOOM_SECRET_TOKEN \\
      --handshake

  # Meta's verification GET, with the verify token set in the app's webhook settings
  reference-receiver send http://127.0.0.1:8080/meta --as meta --handshake \\
      --verify-token-env META_VERIFY_TOKEN

  # A Discord interaction signed with your own Ed25519 key (a 32-byte seed in hex); the
  # public key to configure the endpoint with is printed
  reference-receiver send http://127.0.0.1:8080/discord --as discord --secret-env DISCORD_SEED

  # SuperOffice's registration test, which must be answered 200 before it saves a webhook
  reference-receiver send http://127.0.0.1:8080/superoffice --as superoffice \\
      --secret-env SUPEROFFICE_SECRET --test

  # A Twilio Event Streams delivery: a JSON body, its SHA-256 (bodySHA256) in the signed URL
  reference-receiver send https://hooks.example.com/twilio --as twilio \\
      --secret-env TWILIO_AUTH_TOKEN --json

  # Your own payload as Standard Webhooks, signed ten minutes ago (outside the tolerance)
  reference-receiver send http://127.0.0.1:8080/hooks --as standard-webhooks \\
      --secret-env WEBHOOK_SECRET --body event.json --timestamp $(( $(date +%s) - 600 ))

  # Basic auth, as the field-service platform sends it, with a payload from stdin
  reference-receiver send https://hooks.example.com/jobs --as basic \\
      --user hooks --password-env HOOK_PASSWORD --body - < job-created.json

Every provider of [endpoint.verify] kind is a sender (--as <kind>), with its documented
sample event, headers and signature. --handshake works for cloudevents, dropbox, meta,
microsoft-graph, okta, slack and zoom.

Prefer --secret-env, --password-env and --verify-token-env: values on the command line end up
in shell history. Secrets are never printed; credential headers show as [redacted].

Exit status: 0 when every answer is 2xx (for --handshake: the answer the sender requires); 1
when one is not, nothing answered, or the options do not fit the sender; 2 when the command
line cannot be parsed.";

/// Options of `send`.
///
/// The groups are boxed so that `send` costs its enum variant in `main` no more than `serve`
/// does (they also give `--help` its headings).
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct SendArgs {
    /// The endpoint URL to deliver to.
    pub url: reqwest::Url,

    /// The sender to imitate: its headers, signature and sample payload.
    ///
    /// Every catalogue provider, by its `[endpoint.verify] kind`, and the senders without a
    /// scheme of their own.
    #[arg(long = "as", value_name = "SENDER", value_parser = Sender::parser(), default_value = "plain")]
    pub sender: Sender,

    /// What the delivery says.
    #[command(flatten)]
    pub delivery: Box<DeliveryArgs>,

    /// How the delivery is signed or authenticated.
    #[command(flatten)]
    pub credentials: Box<CredentialArgs>,

    /// How it is sent.
    #[command(flatten)]
    pub sending: Box<SendingArgs>,
}

/// What a delivery says: its body, event, id and time.
#[derive(Debug, Args)]
#[command(next_help_heading = "Delivery")]
pub struct DeliveryArgs {
    /// Send this file as the body instead of the sample payload (`-` reads stdin).
    ///
    /// The bytes are sent and signed exactly as they are in the file.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    pub body: Option<PathBuf>,

    /// Send this text as the body instead of the sample payload.
    #[arg(long, value_name = "JSON")]
    pub data: Option<String>,

    /// The event type [default: the sender's documented example event].
    ///
    /// It goes where the sender puts it: a header (X-GitHub-Event, X-Shopify-Topic,
    /// X-Gitlab-Event, ce-type) and the sample payload's event field. GitHub's samples are its
    /// `issues` and `ping` events; other events need --body or --data.
    #[arg(long, value_name = "TYPE")]
    pub event: Option<String>,

    /// The delivery id [default: a fresh one, in the sender's form].
    ///
    /// It goes where the sender puts it: webhook-id, svix-id, X-GitHub-Delivery,
    /// X-Shopify-Webhook-Id, Stripe's and Slack's event id, ... Senders that send none (Sonar,
    /// Dropbox, the basic, token and plain senders) refuse it.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// The delivery's time, in unix seconds [default: now].
    ///
    /// It is the signed timestamp (webhook-timestamp, Stripe's t=, X-Slack-Request-Timestamp,
    /// WorkOS's milliseconds, ...) and dates the sample payload, so an old one tries the
    /// receiver's tolerance, or, for unsigned senders, its ordering guard.
    #[arg(long, value_name = "UNIX")]
    pub timestamp: Option<i64>,

    /// Send SuperOffice's registration test (X-Hook-Test: true, "Event": "test").
    #[arg(long, conflicts_with = "event")]
    pub test: bool,

    /// Send the sender's JSON form instead of its form-encoded one (twilio).
    ///
    /// Twilio posts JSON (an Event Streams delivery is the sample) to the URL with the body's
    /// hex SHA-256 added as `bodySHA256` to its query, and signs that URL alone.
    #[arg(long, conflicts_with_all = ["head", "handshake"])]
    pub json: bool,
}

/// The secret, token or password a delivery is signed or authenticated with.
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials")]
pub struct CredentialArgs {
    /// The signing secret, or the token (--as token, gitlab, okta).
    ///
    /// For the senders that sign with a private key it is that key, and the public key to
    /// configure is printed: a 32-byte Ed25519 seed in hex for discord, a whsk_ key for
    /// standard-webhooks-v1a, a PKCS#8 P-256 key (base64 DER or PEM) for sendgrid.
    #[arg(long, value_name = "SECRET", value_parser = parse_secret, conflicts_with = "secret_env")]
    pub secret: Option<Secret>,

    /// Read the signing secret or token from this environment variable.
    #[arg(long, value_name = "NAME")]
    pub secret_env: Option<String>,

    /// The user for --as basic.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The password for --as basic.
    #[arg(long, value_name = "PASSWORD", value_parser = parse_secret, conflicts_with = "password_env")]
    pub password: Option<Secret>,

    /// Read the password for --as basic from this environment variable.
    #[arg(long, value_name = "NAME")]
    pub password_env: Option<String>,

    /// Meta's verify token, for --as meta --handshake.
    #[arg(long, value_name = "TOKEN", value_parser = parse_secret, conflicts_with = "verify_token_env")]
    pub verify_token: Option<Secret>,

    /// Read Meta's verify token from this environment variable.
    #[arg(long, value_name = "NAME")]
    pub verify_token_env: Option<String>,

    /// The header that carries the token for --as token.
    ///
    /// In Authorization the token is sent as `Bearer <token>`, in any other header as it is.
    #[arg(long, value_name = "NAME", default_value = "authorization")]
    pub header: HeaderName,
}

/// How a delivery is sent.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sending")]
pub struct SendingArgs {
    /// Send a bare HEAD instead, the reachability probe Sonar makes.
    ///
    /// It carries no body and no signature.
    #[arg(long, conflicts_with_all = ["body", "data"])]
    pub head: bool,

    /// Send the sender's setup handshake instead of a delivery, and check its answer.
    ///
    /// Slack's signed url_verification, Zoom's signed endpoint.url_validation (the answer's
    /// encryptedToken is checked against --secret), Meta's hub.challenge GET (with
    /// --verify-token), Microsoft Graph's ?validationToken=, Dropbox's ?challenge=, Okta's
    /// X-Okta-Verification-Challenge, the CloudEvents OPTIONS (with --origin), Discord's signed
    /// PING (the answer must be {"type": 1}), Twitch's signed webhook_callback_verification
    /// (the challenge back as text/plain), Asana's X-Hook-Secret (echoed back) and Trello's
    /// HEAD (a 200). Exits 0 only when the answer is the one the sender requires.
    #[arg(long, conflicts_with_all = ["body", "data", "head", "test"])]
    pub handshake: bool,

    /// The origin a CloudEvents handshake asks consent for (WebHook-Request-Origin).
    #[arg(long, value_name = "HOST", default_value = "eventemitter.example.com")]
    pub origin: String,

    /// Send the same signed delivery this many times, as a sender's retries would.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Add a header, as `Name: value` (repeatable).
    ///
    /// It replaces any header of that name the sender would send, so `Content-Type: text/plain`
    /// tries how the endpoint answers a wrong content type.
    #[arg(long, value_name = "NAME: VALUE", value_parser = parse_extra_header)]
    pub header_extra: Vec<ExtraHeader>,
}

/// A header given with `--header-extra`.
#[derive(Debug, Clone)]
pub struct ExtraHeader {
    /// The header's name.
    pub name: HeaderName,
    /// Its value.
    pub value: HeaderValue,
}

fn parse_secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::from(text))
}

fn parse_extra_header(text: &str) -> Result<ExtraHeader, String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| "expected `Name: value`".to_owned())?;
    let name = HeaderName::try_from(name.trim())
        .map_err(|_| format!("`{}` is not a valid header name", name.trim()))?;
    let mut value = HeaderValue::try_from(value.trim())
        .map_err(|_| format!("the value of {name} is not a valid header value"))?;
    // Credentials given this way are kept out of the output like the senders' own.
    value.set_sensitive(name == AUTHORIZATION || name == PROXY_AUTHORIZATION);
    Ok(ExtraHeader { name, value })
}

/// One request, ready to send as often as asked.
#[derive(Debug)]
struct Prepared {
    method: Method,
    /// The endpoint URL, with a handshake's query.
    url: reqwest::Url,
    /// The URL as printed: credentials in the query show as `[redacted]`.
    shown_url: String,
    headers: Headers,
    body: Bytes,
    /// Where the body came from, for the summary.
    origin: &'static str,
    /// For a handshake, the answer the sender requires.
    expect: Option<Expect>,
    /// What the user should know before the answer, such as the public key to configure.
    notes: Vec<String>,
}

/// Sends one delivery (or `--repeat` copies of it, or a handshake) and prints each answer.
///
/// Fails, so the process exits 1, when an answer is not 2xx (for a handshake: not the answer
/// the sender requires) or no answer came.
pub async fn run(args: SendArgs) -> anyhow::Result<()> {
    let prepared = prepare(&args, read_env, Utc::now())?;
    print_request(&args, &prepared);
    let client = reqwest::Client::builder()
        .user_agent(concat!("reference-receiver/", env!("CARGO_PKG_VERSION")))
        // Senders do not follow redirects; the answer shown is the endpoint's own.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;
    let mut refused = None;
    for attempt in 1..=args.sending.repeat {
        let mut request = client.request(prepared.method.clone(), prepared.url.clone());
        for (name, value) in &prepared.headers {
            request = request.header(name, value);
        }
        if prepared.method == Method::POST {
            request = request.body(prepared.body.clone());
        }
        // The errors leave out the URL: a handshake's query can carry Meta's verify token.
        let response = request
            .send()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("no answer from {}", args.url))?;
        let status = response.status();
        let count = if args.sending.repeat > 1 {
            format!(" ({attempt} of {})", args.sending.repeat)
        } else {
            String::new()
        };
        eprintln!("< {status}{count}");
        if let Some(outcome) = response.headers().get(OUTCOME_HEADER) {
            eprintln!(
                "< {OUTCOME_HEADER}: {}",
                String::from_utf8_lossy(outcome.as_bytes())
            );
        }
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("the answer from {} broke off", args.url))?;
        print_body(&body);
        if let Some(expect) = &prepared.expect {
            let name = args.sender.name();
            match expect.check(status, &headers, &body) {
                Ok(()) => eprintln!("< handshake answered as {name} requires"),
                Err(why) => {
                    anyhow::bail!("the handshake answer is not what {name} requires: {why}")
                }
            }
        } else if !status.is_success() {
            refused = Some(status);
        }
    }
    match refused {
        Some(status) => anyhow::bail!("the endpoint answered {status}"),
        None => Ok(()),
    }
}

/// Checks the options against the sender and builds the request, reading the body and any
/// `--*-env` variables (through `env`, so tests need not touch the process environment).
fn prepare(
    args: &SendArgs,
    env: impl Fn(&str) -> anyhow::Result<Secret>,
    now: DateTime<Utc>,
) -> anyhow::Result<Prepared> {
    let sender = if args.delivery.json {
        json_form(args.sender)?
    } else {
        args.sender
    };
    let profile = sender.profile();
    let name = sender.name();
    if args.delivery.test && profile.test.is_none() {
        let ping = matches!(profile.sample, sender::Sample::PerEvent(samples)
            if samples.iter().any(|(event, _)| *event == "ping"));
        let hint = if ping {
            format!("; {name}'s test is `--event ping`")
        } else {
            String::new()
        };
        anyhow::bail!("--test is SuperOffice's registration test, not {name}'s{hint}");
    }
    let id = sample::delivery_id(profile);
    if args.delivery.id.is_some() && id.is_none() {
        anyhow::bail!("{name} sends no delivery id, so --id has nowhere to go");
    }
    let at = match args.delivery.timestamp {
        Some(unix) => DateTime::from_timestamp(unix, 0)
            .with_context(|| format!("--timestamp {unix} is out of range"))?,
        None => now,
    };
    let event = match (&args.delivery.event, args.delivery.test) {
        (Some(event), _) => event.clone(),
        (None, true) => "test".to_owned(),
        (None, false) => profile.default_event().to_owned(),
    };
    let facts = Facts {
        id: args.delivery.id.clone().or(id),
        event,
        at,
        test: args.delivery.test,
    };

    let credentials = credentials(sender, &args.credentials, &env)?;
    let plain = |method, headers, body: Bytes, origin| Prepared {
        method,
        url: args.url.clone(),
        shown_url: args.url.to_string(),
        headers: with_extras(headers, &args.sending.header_extra),
        body,
        origin,
        expect: None,
        notes: Vec::new(),
    };
    if args.sending.head {
        return Ok(plain(
            Method::HEAD,
            sender.probe_headers(),
            Bytes::new(),
            "no body",
        ));
    }
    let missing = match (profile.secret, &credentials) {
        (_, Credentials::None) if profile.is_basic() => {
            Some("--user and --password (or --password-env)".to_owned())
        }
        (SecretUse::Required, Credentials::None) => Some(format!(
            "--secret or --secret-env ({})",
            profile.secret_kind()
        )),
        _ => None,
    };
    let notes = match &credentials {
        Credentials::Secret(secret) => profile
            .public_key(secret)?
            .map(|key| format!("configure the endpoint with the public key {key}"))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    if args.sending.handshake {
        let mut prepared = prepare_handshake(args, &facts, &credentials, &env)?;
        prepared.notes = notes;
        return Ok(prepared);
    }
    if let Some(missing) = missing {
        anyhow::bail!("--as {name} needs {missing}");
    }
    let (body, origin) = match (&args.delivery.body, &args.delivery.data) {
        (Some(path), _) => (read_body(path)?, "from --body"),
        (None, Some(data)) => (data.clone().into_bytes(), "from --data"),
        (None, None) => (sample::payload(profile, &facts)?, "sample payload"),
    };
    let body = sender.seal(&credentials, body)?;
    let mut url = args.url.clone();
    if let Some(alter) = profile.url {
        alter(&mut url, &body);
    }
    let headers = sender.headers(
        &facts,
        &credentials,
        &args.credentials.header,
        url.as_str(),
        &body,
    )?;
    Ok(Prepared {
        shown_url: url.to_string(),
        url,
        notes,
        ..plain(Method::POST, headers, Bytes::from(body), origin)
    })
}

/// `sender` posting its JSON form, for `--json`; refused for a sender that has none.
fn json_form(sender: Sender) -> anyhow::Result<Sender> {
    sender.json().ok_or_else(|| {
        let with: Vec<_> = Sender::all()
            .filter(|sender| sender.json().is_some())
            .map(Sender::name)
            .collect();
        anyhow::anyhow!(
            "{} has no other JSON form; --json is for {}",
            sender.name(),
            with.join(", ")
        )
    })
}

/// The sender's setup handshake, signed as its deliveries are when it is a POST.
fn prepare_handshake(
    args: &SendArgs,
    facts: &Facts,
    credentials: &Credentials,
    env: &impl Fn(&str) -> anyhow::Result<Secret>,
) -> anyhow::Result<Prepared> {
    let sender = args.sender;
    let name = sender.name();
    let Some(handshake) = sender.profile().handshake else {
        let with: Vec<_> = Sender::all()
            .filter(|sender| sender.has_handshake())
            .map(Sender::name)
            .collect();
        anyhow::bail!(
            "{name} has no setup handshake; --handshake is for {}",
            with.join(", ")
        );
    };
    let verify_token = match (
        &args.credentials.verify_token,
        &args.credentials.verify_token_env,
    ) {
        (Some(token), _) => Some(token.clone()),
        (None, Some(variable)) => Some(env(variable)?),
        (None, None) => None,
    };
    let secret = match credentials {
        Credentials::Secret(secret) => Some(secret),
        _ => None,
    };
    let challenge = handshake.challenge(&Inputs {
        secret,
        verify_token: verify_token.as_ref(),
        origin: &args.sending.origin,
        unix_ms: facts.at.timestamp_millis(),
    })?;
    let mut url = args.url.clone();
    let mut shown = args.url.clone();
    for (key, value, credential) in &challenge.query {
        url.query_pairs_mut().append_pair(key, value);
        let shown_value = if *credential { "[redacted]" } else { value };
        shown.query_pairs_mut().append_pair(key, shown_value);
    }
    let mut headers = if challenge.signed {
        if secret.is_none() && sender.profile().secret == SecretUse::Required {
            anyhow::bail!("{name}'s handshake is signed, so it needs --secret or --secret-env");
        }
        let mut headers = sender.headers(
            facts,
            credentials,
            &args.credentials.header,
            url.as_str(),
            &challenge.body,
        )?;
        headers.retain(|(header, _)| header != http::header::CONTENT_TYPE);
        headers.insert(
            0,
            (
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(challenge.content_type),
            ),
        );
        headers
    } else {
        sender.probe_headers()
    };
    // The handshake's own headers stand in for the sender's of the same name (Twitch's message
    // type); none of them is signed.
    headers.retain(|(name, _)| challenge.headers.iter().all(|(own, _)| own != name));
    headers.extend(challenge.headers);
    Ok(Prepared {
        method: challenge.method,
        url,
        shown_url: shown.to_string(),
        headers: with_extras(headers, &args.sending.header_extra),
        body: Bytes::from(challenge.body),
        origin: "handshake",
        expect: Some(challenge.expect),
        notes: Vec::new(),
    })
}

/// The credentials `options` give, checked against what `sender` uses; whether the sender
/// needs them is checked only for a POST, as a HEAD probe carries none.
fn credentials(
    sender: Sender,
    options: &CredentialArgs,
    env: &impl Fn(&str) -> anyhow::Result<Secret>,
) -> anyhow::Result<Credentials> {
    let profile = sender.profile();
    let name = sender.name();
    let secret = match (&options.secret, &options.secret_env) {
        (Some(secret), _) => Some(secret.clone()),
        (None, Some(variable)) => Some(env(variable)?),
        (None, None) => None,
    };
    if profile.is_basic() {
        if secret.is_some() {
            anyhow::bail!("--as {name} takes --password (or --password-env), not --secret");
        }
        let password = match (&options.password, &options.password_env) {
            (Some(password), _) => Some(password.clone()),
            (None, Some(variable)) => Some(env(variable)?),
            (None, None) => None,
        };
        return match (options.user.clone(), password) {
            (Some(user), Some(password)) => Ok(Credentials::Basic { user, password }),
            (None, None) => Ok(Credentials::None),
            (Some(_), None) => anyhow::bail!("--user needs --password (or --password-env)"),
            (None, Some(_)) => anyhow::bail!("--password needs --user"),
        };
    }
    let basic_only =
        options.user.is_some() || options.password.is_some() || options.password_env.is_some();
    if basic_only {
        anyhow::bail!("--user and --password are for --as basic, not {name}");
    }
    if options.header != AUTHORIZATION && !profile.takes_token_header() {
        anyhow::bail!("--header is for --as token, not {name}; use --header-extra to add one");
    }
    match (profile.secret, secret) {
        (SecretUse::Unused, Some(_)) => {
            anyhow::bail!("{name} sends no secret; leave out --secret and --secret-env")
        }
        (_, Some(secret)) => Ok(Credentials::Secret(secret)),
        (_, None) => Ok(Credentials::None),
    }
}

/// A secret from the environment variable `name`.
fn read_env(name: &str) -> anyhow::Result<Secret> {
    match std::env::var_os(name) {
        Some(value) if !value.is_empty() => value
            .into_string()
            .map(Secret::from)
            .map_err(|_| anyhow::anyhow!("environment variable {name} is not UTF-8 text")),
        _ => anyhow::bail!("environment variable {name} is not set (or empty)"),
    }
}

fn read_body(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read the body from stdin")?;
        Ok(body)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read the body from {}", path.display()))
    }
}

/// `headers` with every `--header-extra` in place of the sender's header of the same name.
fn with_extras(mut headers: Headers, extras: &[ExtraHeader]) -> Headers {
    headers.retain(|(name, _)| extras.iter().all(|extra| extra.name != name));
    headers.extend(
        extras
            .iter()
            .map(|extra| (extra.name.clone(), extra.value.clone())),
    );
    headers
}

fn print_request(args: &SendArgs, prepared: &Prepared) {
    eprintln!(
        "> {} {} as {}",
        prepared.method,
        prepared.shown_url,
        args.sender.name()
    );
    for (name, value) in &prepared.headers {
        if value.is_sensitive() {
            eprintln!("> {name}: [redacted]");
        } else {
            eprintln!("> {name}: {}", String::from_utf8_lossy(value.as_bytes()));
        }
    }
    if prepared.method == Method::POST {
        eprintln!("> ({} bytes, {})", prepared.body.len(), prepared.origin);
    }
    for note in &prepared.notes {
        eprintln!("* {note}");
    }
}

fn print_body(body: &[u8]) {
    if body.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(body);
    if text.ends_with('\n') {
        print!("{text}");
    } else {
        println!("{text}");
    }
}

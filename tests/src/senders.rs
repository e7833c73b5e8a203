//! Sender simulators: each real sender's delivery policy, on a virtual clock.
//!
//! A [`Simulation`] holds deliveries from any number of [`Sender`]s. It computes when each
//! attempt is due from the sender's schedule, sets the [`VirtualClock`] to that moment and
//! sends it for real over HTTP; nothing sleeps, so four hours of Sonar retries take a few
//! milliseconds per attempt. Attempts due at the same instant are sent concurrently. Every
//! attempt's status and `X-Webhook-Outcome` is recorded; a delivery stops on the sender's own
//! success rule or when its schedule is exhausted.
//!
//! | sender | source | schedule (from the first attempt) | success |
//! | --- | --- | --- | --- |
//! | Sonar | seed 000 | every minute for 4 hours (241 attempts), after a HEAD probe | exactly 200 |
//! | field-service platform | seed 004 | 0, +5 min, +10 min (3 tries), Basic auth | any 2xx |
//! | SuperOffice | seed 002 | test POST at registration; then 0, 1 min, 5 min, 15 min, 1 h (assumed: the seed gives no schedule) | any 2xx (200 for the test) |
//! | Standard Webhooks | standardwebhooks.com | 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (delays between attempts) | any 2xx |

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use receiver_sdk::verify::sign;

/// Virtual time shared by the senders and (through [`VirtualClock::source`]) the receiver:
/// it starts at 2024-01-01T00:00:00Z and only moves when a simulation says so.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    elapsed_ms: Arc<AtomicU64>,
}

/// Where every virtual clock starts: 2024-01-01T00:00:00Z.
pub const EPOCH_SECS: u64 = 1_704_067_200;

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualClock {
    /// A clock at its start.
    pub fn new() -> Self {
        Self {
            elapsed_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms.load(Ordering::SeqCst))
    }

    /// The current virtual time.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(EPOCH_SECS) + self.elapsed()
    }

    /// The virtual time `at` after the start, as a UTC date-time.
    pub fn time_at(at: Duration) -> DateTime<Utc> {
        DateTime::<Utc>::from(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS) + at)
    }

    /// Moves the clock forward to `at` after the start (never backwards).
    pub fn advance_to(&self, at: Duration) {
        let ms = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
        self.elapsed_ms.fetch_max(ms, Ordering::SeqCst);
    }

    /// A clock function for `ReceiverBuilder::clock`.
    pub fn source(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let clock = self.clone();
        move || clock.now()
    }
}

/// A sender with its delivery policy and its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// Sonar: HEAD probe, POSTs retried once a minute for 4 hours until exactly HTTP 200.
    Sonar,
    /// The field-service platform (seed 004): Basic auth, any 2xx, retries after 5 and then
    /// 10 minutes, 3 tries in all.
    FieldService {
        /// The Basic auth user.
        user: String,
        /// The Basic auth password.
        password: String,
    },
    /// SuperOffice: a test POST at registration that must get 200, then signed deliveries.
    SuperOffice {
        /// The webhook's secret (`X-SuperOffice-Signature` is keyed with its UTF-8 bytes).
        secret: String,
    },
    /// A Standard Webhooks (Svix) sender: each attempt re-signed at its own time.
    StandardWebhooks {
        /// The `whsec_` secret.
        secret: String,
    },
}

/// One event a sender has to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The sender's id for the event (and the delivery id where the sender sends one).
    pub id: String,
    /// The entity it is about.
    pub entity: u64,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// A payload field that changes from event to event, so bodies are unique.
    pub status: String,
}

impl Event {
    /// An event about `entity` that happened `at` after the virtual clock's start.
    pub fn new(
        id: impl Into<String>,
        entity: u64,
        at: Duration,
        status: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            entity,
            created_at: VirtualClock::time_at(at),
            status: status.into(),
        }
    }
}

impl Sender {
    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sonar => "sonar",
            Self::FieldService { .. } => "field-service",
            Self::SuperOffice { .. } => "superoffice",
            Self::StandardWebhooks { .. } => "standard-webhooks",
        }
    }

    /// When each attempt is made, counted from the first attempt.
    pub fn schedule(&self) -> Vec<Duration> {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        match self {
            Self::Sonar => (0..=240).map(minutes).collect(),
            Self::FieldService { .. } => vec![minutes(0), minutes(5), minutes(15)],
            Self::SuperOffice { .. } => {
                vec![minutes(0), minutes(1), minutes(5), minutes(15), minutes(60)]
            }
            Self::StandardWebhooks { .. } => {
                let delays = [
                    0,
                    5,
                    5 * 60,
                    30 * 60,
                    2 * 3600,
                    5 * 3600,
                    10 * 3600,
                    10 * 3600,
                ];
                delays
                    .iter()
                    .scan(0, |total, delay| {
                        *total += delay;
                        Some(Duration::from_secs(*total))
                    })
                    .collect()
            }
        }
    }

    /// How long the sender keeps retrying one delivery.
    pub fn window(&self) -> Duration {
        self.schedule().last().copied().unwrap_or_default()
    }

    /// Whether the sender counts this status as delivered.
    pub fn succeeded(&self, status: u16) -> bool {
        match self {
            // "if the endpoint does not return an HTTP 200 response code, Sonar will continue
            // to POST": a 202 is a failure to Sonar.
            Self::Sonar => status == 200,
            Self::FieldService { .. }
            | Self::SuperOffice { .. }
            | Self::StandardWebhooks { .. } => (200..300).contains(&status),
        }
    }

    /// The body this sender sends for `event`.
    pub fn body(&self, event: &Event) -> String {
        let at = event.created_at.to_rfc3339();
        let body = match self {
            Self::Sonar => serde_json::json!({
                "event": "account.status",
                "object_id": event.entity,
                "current": {"created_at": at, "status": event.status, "event_id": event.id},
            }),
            Self::FieldService { .. } => serde_json::json!({
                "id": event.id,
                "event": "job.status_changed",
                "created_at": at,
                "data": {"id": event.entity, "status": event.status},
            }),
            Self::SuperOffice { .. } => serde_json::json!({
                "EventId": event.id,
                "Event": "contact.changed",
                "Entity": "contact",
                "PrimaryKey": event.entity,
                "Timestamp": at,
                "Changes": ["status"],
                "Status": event.status,
            }),
            Self::StandardWebhooks { .. } => serde_json::json!({
                "type": "account.updated",
                "timestamp": at,
                "data": {"id": event.entity, "status": event.status},
            }),
        };
        body.to_string()
    }

    /// The request for one attempt of `event`, made at virtual time `now`.
    fn request(
        &self,
        client: &reqwest::Client,
        url: &str,
        event: &Event,
        now: SystemTime,
    ) -> reqwest::RequestBuilder {
        let body = self.body(event);
        let request = client.post(url).header("content-type", "application/json");
        let request = match self {
            Self::Sonar => request,
            Self::FieldService { user, password } => {
                request.header("authorization", sign::basic(user, password))
            }
            Self::SuperOffice { secret } => request
                .header("x-superoffice-event", "contact.changed")
                .header(
                    "x-superoffice-signature",
                    sign::superoffice(secret, body.as_bytes()),
                ),
            Self::StandardWebhooks { secret } => {
                let timestamp = unix_seconds(now);
                let signature =
                    sign::standard_webhooks(secret, &event.id, timestamp, body.as_bytes())
                        .expect("a valid whsec_ secret");
                request
                    .header("webhook-id", &event.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
            }
        };
        request.body(body)
    }

    /// What the sender does once when its webhook is set up: Sonar probes with HEAD,
    /// SuperOffice POSTs a signed test delivery that must be answered 200. `None` for senders
    /// that do neither.
    fn registration(&self, client: &reqwest::Client, url: &str) -> Option<reqwest::RequestBuilder> {
        match self {
            Self::Sonar => Some(client.head(url)),
            Self::SuperOffice { secret } => {
                let body = serde_json::json!({"Event": "test", "EventId": "test"}).to_string();
                Some(
                    client
                        .post(url)
                        .header("content-type", "application/json")
                        .header("x-hook-test", "true")
                        .header(
                            "x-superoffice-signature",
                            sign::superoffice(secret, body.as_bytes()),
                        )
                        .body(body),
                )
            }
            Self::FieldService { .. } | Self::StandardWebhooks { .. } => None,
        }
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One attempt as the sender logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The sender's name.
    pub sender: &'static str,
    /// The event's id (`registration` for a HEAD probe or test POST).
    pub event: String,
    /// 1 for the first attempt.
    pub number: usize,
    /// Virtual time of the attempt since the clock's start.
    pub at: Duration,
    /// The status, or `None` when no answer arrived (connection refused, closed, reset).
    pub status: Option<u16>,
    /// The `X-Webhook-Outcome` header, or the transport error.
    pub outcome: String,
    /// Whether the sender counted it as delivered.
    pub succeeded: bool,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Still scheduled.
    Pending,
    /// The sender got an answer it counts as success and stopped.
    Acknowledged,
    /// The schedule ran out without success; the sender gave up.
    GaveUp,
}

#[derive(Debug)]
struct Delivery {
    sender: Sender,
    url: String,
    event: Event,
    first_at: Duration,
    attempts: usize,
    fate: Fate,
}

/// What a simulation did, in numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Deliveries scheduled.
    pub deliveries: usize,
    /// HTTP attempts made (registrations excluded).
    pub attempts: usize,
    /// Deliveries the sender counted as delivered.
    pub acknowledged: usize,
    /// Deliveries the sender gave up on.
    pub gave_up: usize,
}

/// Deliveries from any number of senders, run on one virtual clock.
#[derive(Debug)]
pub struct Simulation {
    clock: VirtualClock,
    client: reqwest::Client,
    deliveries: Vec<Delivery>,
    // (due, insertion order, delivery index): earliest first, ties in insertion order.
    queue: BinaryHeap<Reverse<(Duration, usize, usize)>>,
    inserted: usize,
    attempts: Vec<Attempt>,
}

impl Simulation {
    /// An empty simulation on `clock`.
    pub fn new(clock: VirtualClock) -> Self {
        Self {
            clock,
            // A connection per attempt, as senders' retry workers do: no pooled connection
            // outlives a receiver restart.
            client: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            deliveries: Vec::new(),
            queue: BinaryHeap::new(),
            inserted: 0,
            attempts: Vec::new(),
        }
    }

    /// The simulation's clock.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// Runs the sender's registration step now (Sonar's HEAD probe, SuperOffice's test POST)
    /// and returns whether the sender accepted the URL. Senders without one accept it.
    pub async fn register(&mut self, sender: &Sender, url: &str) -> bool {
        let Some(request) = sender.registration(&self.client, url) else {
            return true;
        };
        let (status, outcome) = send(request).await;
        // Both Sonar and SuperOffice want exactly 200 here.
        let succeeded = status == Some(200);
        self.attempts.push(Attempt {
            sender: sender.name(),
            event: "registration".into(),
            number: 1,
            at: self.clock.elapsed(),
            status,
            outcome,
            succeeded,
        });
        succeeded
    }

    /// Schedules `event` from `sender` to `url`, first attempted at virtual time `first_at`.
    pub fn schedule(&mut self, sender: &Sender, url: &str, event: Event, first_at: Duration) {
        let index = self.deliveries.len();
        self.deliveries.push(Delivery {
            sender: sender.clone(),
            url: url.to_owned(),
            event,
            first_at,
            attempts: 0,
            fate: Fate::Pending,
        });
        self.push(first_at, index);
    }

    fn push(&mut self, due: Duration, index: usize) {
        self.queue.push(Reverse((due, self.inserted, index)));
        self.inserted += 1;
    }

    /// When the next attempt is due, or `None` once every sender has stopped.
    pub fn next_due(&self) -> Option<Duration> {
        self.queue.peek().map(|Reverse((due, _, _))| *due)
    }

    /// Sends every attempt due at the earliest pending instant, concurrently, after moving the
    /// clock there; returns them.
    pub async fn step(&mut self) -> Vec<Attempt> {
        let Some(due) = self.next_due() else {
            return Vec::new();
        };
        self.clock.advance_to(due);
        let now = self.clock.now();
        let mut batch = Vec::new();
        while let Some(Reverse((at, _, index))) = self.queue.peek().copied() {
            if at != due {
                break;
            }
            self.queue.pop();
            batch.push(index);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for &index in &batch {
            let delivery = &mut self.deliveries[index];
            delivery.attempts += 1;
            let request =
                delivery
                    .sender
                    .request(&self.client, &delivery.url, &delivery.event, now);
            tasks.spawn(async move { (index, send(request).await) });
        }
        let mut results = Vec::with_capacity(batch.len());
        while let Some(joined) = tasks.join_next().await {
            results.push(joined.expect("attempt task"));
        }
        results.sort_by_key(|(index, _)| *index);
        let mut made = Vec::with_capacity(results.len());
        for (index, (status, outcome)) in results {
            let delivery = &mut self.deliveries[index];
            let succeeded = status.is_some_and(|s| delivery.sender.succeeded(s));
            let attempt = Attempt {
                sender: delivery.sender.name(),
                event: delivery.event.id.clone(),
                number: delivery.attempts,
                at: due,
                status,
                outcome,
                succeeded,
            };
            let schedule = delivery.sender.schedule();
            if succeeded {
                delivery.fate = Fate::Acknowledged;
            } else if let Some(offset) = schedule.get(delivery.attempts) {
                let next = delivery.first_at + *offset;
                self.push(next, index);
            } else {
                self.deliveries[index].fate = Fate::GaveUp;
            }
            made.push(attempt.clone());
            self.attempts.push(attempt);
        }
        made
    }

    /// Runs until every sender has stopped.
    pub async fn run(&mut self) {
        while self.next_due().is_some() {
            self.step().await;
        }
    }

    /// Every attempt so far, registrations included, in the order they were made.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The attempts made for one event.
    pub fn attempts_for(&self, event: &str) -> Vec<&Attempt> {
        self.attempts.iter().filter(|a| a.event == event).collect()
    }

    /// How each event's delivery ended.
    pub fn fates(&self) -> Vec<(&Event, Fate)> {
        self.deliveries.iter().map(|d| (&d.event, d.fate)).collect()
    }

    /// The events scheduled so far.
    pub fn events(&self) -> Vec<&Event> {
        self.deliveries.iter().map(|d| &d.event).collect()
    }

    /// The simulation in numbers.
    pub fn totals(&self) -> Totals {
        Totals {
            deliveries: self.deliveries.len(),
            attempts: self
                .attempts
                .iter()
                .filter(|a| a.event != "registration")
                .count(),
            acknowledged: self
                .deliveries
                .iter()
                .filter(|d| d.fate == Fate::Acknowledged)
                .count(),
            gave_up: self
                .deliveries
                .iter()
                .filter(|d| d.fate == Fate::GaveUp)
                .count(),
        }
    }
}

/// Sends one attempt: its status and `X-Webhook-Outcome`, or `None` and the transport error.
pub async fn send(request: reqwest::RequestBuilder) -> (Option<u16>, String) {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let outcome = response
                .headers()
                .get("x-webhook-outcome")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            // Read the body so the answer is complete, as a sender logging it would.
            let _ = response.bytes().await;
            (Some(status), outcome)
        }
        Err(e) => (None, format!("no answer: {e}")),
    }
}

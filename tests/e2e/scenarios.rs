//! Real sender policies against the real SDK endpoint (sled in a temp dir) while faults are
//! injected: the receiver down for a while, the handler failing with 500 for a while, the 200
//! dropped after the handler ran, and 100 entities with shuffled, interleaved deliveries.
//!
//! Every scenario asserts the same four things: the downstream state is the newest event of
//! each entity; no event is applied twice; nothing newer is ever overwritten by something
//! older; every sender stops (acknowledged, none gave up). Each prints one line of figures
//! (`cargo test -p end-to-end scenarios -- --nocapture`, or `tests/scripts/scenario-totals.sh`).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use axum::Router;
use end_to_end::downstream::Downstream;
use end_to_end::proxy::Proxy;
use end_to_end::senders::{Event, Fate, Sender, Simulation, Totals, VirtualClock};
use end_to_end::Server;
use receiver_sdk::envelope::Envelope;
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::Verifier;
use receiver_sdk::{BuildError, Receiver, ReceiverBuilder, Secret};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn sonar() -> Sender {
    Sender::Sonar
}

fn field_service() -> Sender {
    Sender::FieldService {
        user: "fieldservice".into(),
        password: "b4sic-pa55".into(),
    }
}

fn superoffice() -> Sender {
    Sender::SuperOffice {
        secret: "Something Super Secret".into(),
    }
}

fn standard_webhooks() -> Sender {
    Sender::StandardWebhooks {
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
    }
}

/// The endpoint each sender is configured against, as the examples configure it; ordering is
/// per entity wherever the example leaves it off, because the downstream needs it.
fn builder(sender: &Sender) -> ReceiverBuilder {
    match sender {
        Sender::Sonar => Receiver::builder("sonar").envelope(Envelope::Sonar),
        Sender::FieldService { user, password } => Receiver::builder("field-service")
            .verifier(
                Verifier::basic(
                    example_basic_auth::REALM,
                    [(user.clone(), Secret::from(password.as_str()))],
                )
                .unwrap(),
            )
            .envelope(Envelope::Custom(example_basic_auth::mapping().unwrap()))
            .ordering(OrderingScope::PerEntity),
        Sender::SuperOffice { secret } => Receiver::builder("superoffice")
            .verifier(Verifier::superoffice([secret.as_str()]).unwrap())
            .envelope(Envelope::SuperOffice)
            .events(example_superoffice::EVENTS)
            .ordering(OrderingScope::PerEntity),
        Sender::StandardWebhooks { secret } => Receiver::builder("standard-webhooks")
            .verifier(Verifier::standard_webhooks([secret.as_str()]).unwrap())
            .envelope(Envelope::StandardWebhooks)
            .ordering(OrderingScope::PerEntity),
    }
}

/// A receiver behind a proxy, with its sled directory and downstream; it can be stopped and
/// started again on the same directory while the proxy's address stays the same.
struct Rig {
    sender: Sender,
    clock: VirtualClock,
    dir: tempfile::TempDir,
    downstream: Downstream,
    proxy: Proxy,
    server: Option<Server>,
    customise: fn(ReceiverBuilder) -> ReceiverBuilder,
}

impl Rig {
    async fn new(sender: Sender) -> Self {
        Self::with(sender, |b| b).await
    }

    async fn with(sender: Sender, customise: fn(ReceiverBuilder) -> ReceiverBuilder) -> Self {
        let mut rig = Self {
            sender,
            clock: VirtualClock::new(),
            dir: tempfile::tempdir().unwrap(),
            downstream: Downstream::new(),
            proxy: Proxy::start().await,
            server: None,
            customise,
        };
        rig.start_receiver().await;
        rig
    }

    fn url(&self) -> String {
        self.proxy.url("/webhook")
    }

    async fn start_receiver(&mut self) {
        let receiver = open(&self.dir.path().join("sled"), || {
            (self.customise)(builder(&self.sender))
                .clock(self.clock.source())
                .handler(self.downstream.handler())
        })
        .await;
        let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
        self.proxy.set_backend(Some(server.addr));
        self.server = Some(server);
    }

    async fn stop_receiver(&mut self) {
        self.proxy.set_backend(None);
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Runs `sim` to the end, switching each fault on while the next attempt's time falls in
    /// its window.
    async fn run(&mut self, sim: &mut Simulation, faults: &[(Fault, Duration, Duration)]) {
        while let Some(due) = sim.next_due() {
            for (fault, from, until) in faults {
                let active = (*from..*until).contains(&due);
                match fault {
                    Fault::Down if active && self.server.is_some() => self.stop_receiver().await,
                    Fault::Down if !active && self.server.is_none() => self.start_receiver().await,
                    Fault::Failing => self.downstream.set_failing(active),
                    Fault::Down => {}
                }
            }
            sim.step().await;
        }
        // Every sender has stopped; bring the receiver back for whoever checks it next.
        if self.server.is_none() {
            self.start_receiver().await;
        }
    }
}

/// Opens the sled directory, waiting briefly if the previous server still lets go of it.
async fn open(dir: &Path, build: impl Fn() -> ReceiverBuilder) -> Receiver {
    let mut tries = 0;
    loop {
        let opened = SledStore::open(dir).map_err(BuildError::from);
        match opened.and_then(|store| build().store(store).build()) {
            Ok(receiver) => return receiver,
            Err(e) if tries < 50 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot reopen the store: {e}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The receiver is stopped (the proxy finds nobody) and restarted on the same directory.
    Down,
    /// The downstream answers 500, so the handler fails.
    Failing,
}

/// A deterministic xorshift, so a failing scenario replays the same way.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn id(n: usize) -> String {
    // Fixed width with a terminator, so no id is a substring of another.
    format!("evt{n:06}x")
}

/// 5 entities with 4 events each, one every 30 s over the first 10 minutes.
fn steady_events(sim: &mut Simulation, sender: &Sender, url: &str) {
    for k in 0..4u64 {
        for entity in 0..5u64 {
            let n = (k * 5 + entity) as usize;
            let at = Duration::from_secs(n as u64 * 30);
            let event = Event::new(id(n), entity, at, format!("state-{k}"));
            sim.schedule(sender, url, event, at);
        }
    }
}

/// 100 entities with 5 events each, 100 s apart per entity; each first sent up to 5 minutes
/// late, on whole seconds, so deliveries of one entity overtake each other and many share an
/// instant (sent concurrently).
fn shuffled_events(sim: &mut Simulation, sender: &Sender, url: &str, seed: u64) {
    let mut rng = Rng(seed);
    for k in 0..5u64 {
        for entity in 0..100u64 {
            let n = (k * 100 + entity) as usize;
            let created = Duration::from_secs(k * 100 + entity % 60);
            let first = created + Duration::from_secs(rng.next(300));
            let event = Event::new(id(n), entity, created, format!("state-{k}"));
            sim.schedule(sender, url, event, first);
        }
    }
}

/// The four assertions every scenario makes; prints and returns the figures.
fn assert_reliable(name: &str, rig: &Rig, sim: &Simulation) -> Totals {
    assert_reliable_with(name, &rig.sender, &rig.downstream, &rig.proxy, sim)
}

/// [`assert_reliable`] for a receiver that is not a [`Rig`].
fn assert_reliable_with(
    name: &str,
    sender: &Sender,
    downstream: &Downstream,
    proxy: &Proxy,
    sim: &Simulation,
) -> Totals {
    let totals = sim.totals();
    assert_eq!(sim.next_due(), None, "{name}: a sender is still retrying");
    let schedule_len = sender.schedule().len();
    for (event, fate) in sim.fates() {
        let attempts = sim.attempts_for(&event.id);
        assert_eq!(
            fate,
            Fate::Acknowledged,
            "{name}: {} not acknowledged: {attempts:#?}",
            event.id
        );
        assert!(attempts.len() <= schedule_len, "{name}: {}", event.id);
        assert!(attempts.last().unwrap().succeeded);
    }

    let mut newest: BTreeMap<String, &Event> = BTreeMap::new();
    for event in sim.events() {
        let slot = newest.entry(event.entity.to_string()).or_insert(event);
        if event.created_at > slot.created_at {
            *slot = event;
        }
    }
    let entities = downstream.entities();
    let mut lost = 0;
    for (entity, event) in &newest {
        match entities.get(entity) {
            Some(state) if state.body == sender.body(event).as_bytes() => {}
            other => {
                lost += 1;
                eprintln!("{name}: entity {entity} is {other:?}, expected {event:?}");
            }
        }
    }
    assert_eq!(
        lost, 0,
        "{name}: downstream is not the newest event per entity"
    );
    assert_eq!(entities.len(), newest.len(), "{name}: unexpected entities");
    assert_eq!(
        downstream.applied_twice(),
        vec![],
        "{name}: events applied twice"
    );
    assert_eq!(
        downstream.regressions(),
        Vec::<String>::new(),
        "{name}: newer overwritten by older"
    );
    eprintln!(
        "scenario {name}: deliveries {}, attempts {}, acknowledged {}, gave up {}, lost {lost}, \
         applied {}, handler calls {}, answers dropped {}, connections refused {}",
        totals.deliveries,
        totals.attempts,
        totals.acknowledged,
        totals.gave_up,
        downstream.applied(),
        downstream.calls(),
        proxy.dropped(),
        proxy.refused(),
    );
    totals
}

/// Until when a fault lasts: well inside the sender's retry window, so a sender that keeps
/// its policy gets through.
fn fault_end(sender: &Sender) -> Duration {
    match sender {
        Sender::Sonar => 30 * MINUTE,
        Sender::FieldService { .. } => 7 * MINUTE,
        Sender::SuperOffice { .. } => 20 * MINUTE,
        Sender::StandardWebhooks { .. } => 3 * HOUR,
    }
}

async fn registered(sender: &Sender) -> (Rig, Simulation) {
    let rig = Rig::new(sender.clone()).await;
    let mut sim = Simulation::new(rig.clock.clone());
    assert!(
        sim.register(sender, &rig.url()).await,
        "{}: registration refused: {:?}",
        sender.name(),
        sim.attempts()
    );
    (rig, sim)
}

async fn receiver_down_then_back(sender: Sender) -> Totals {
    let (mut rig, mut sim) = registered(&sender).await;
    steady_events(&mut sim, &sender, &rig.url());
    let faults = [(Fault::Down, 2 * MINUTE, fault_end(&sender))];
    rig.run(&mut sim, &faults).await;
    assert!(rig.proxy.refused() > 0, "the receiver really was down");
    assert_reliable(&format!("{}/receiver-down", sender.name()), &rig, &sim)
}

async fn handler_fails_with_500_for_a_while(sender: Sender) -> Totals {
    let (mut rig, mut sim) = registered(&sender).await;
    steady_events(&mut sim, &sender, &rig.url());
    let faults = [(Fault::Failing, MINUTE, fault_end(&sender))];
    rig.run(&mut sim, &faults).await;
    assert!(
        sim.attempts().iter().any(|a| a.status == Some(500)),
        "the handler really failed"
    );
    assert_reliable(&format!("{}/handler-500", sender.name()), &rig, &sim)
}

async fn answer_dropped_after_the_handler_ran(sender: Sender) -> Totals {
    let (mut rig, mut sim) = registered(&sender).await;
    steady_events(&mut sim, &sender, &rig.url());
    // Every other event's first answer is lost on the way back.
    rig.proxy
        .drop_first_answer_containing((0..20).step_by(2).map(id));
    rig.run(&mut sim, &[]).await;
    assert_eq!(rig.proxy.dropped(), 10);
    // The retry of each dropped answer found the delivery already handled.
    let duplicates = sim
        .attempts()
        .iter()
        .filter(|a| a.outcome == "duplicate")
        .count();
    assert_eq!(duplicates, 10, "{:#?}", sim.attempts());
    assert_reliable(&format!("{}/answer-dropped", sender.name()), &rig, &sim)
}

async fn hundred_entities_shuffled_with_every_fault(sender: Sender) -> Totals {
    let (mut rig, mut sim) = registered(&sender).await;
    shuffled_events(&mut sim, &sender, &rig.url(), 0x2545_f491_4f6c_dd1d);
    // Every tenth delivery loses the answer to its first attempt.
    let mut seen = HashSet::new();
    rig.proxy.drop_answers_when(move |request| {
        let body = request
            .split(|&b| b == b'\n')
            .next_back()
            .unwrap_or_default();
        seen.insert(body.to_vec()) && seen.len() % 10 == 0
    });
    let faults = [
        (Fault::Failing, 3 * MINUTE, 4 * MINUTE),
        (Fault::Down, 6 * MINUTE, 8 * MINUTE),
    ];
    rig.run(&mut sim, &faults).await;
    assert!(
        sim.attempts().iter().any(|a| a.outcome == "stale"),
        "deliveries overtook each other"
    );
    assert_reliable(&format!("{}/100-entities", sender.name()), &rig, &sim)
}

#[tokio::test]
async fn sonar_survives_the_receiver_being_down() {
    receiver_down_then_back(sonar()).await;
}

#[tokio::test]
async fn field_service_survives_the_receiver_being_down() {
    receiver_down_then_back(field_service()).await;
}

#[tokio::test]
async fn superoffice_survives_the_receiver_being_down() {
    receiver_down_then_back(superoffice()).await;
}

#[tokio::test]
async fn standard_webhooks_survives_the_receiver_being_down() {
    receiver_down_then_back(standard_webhooks()).await;
}

#[tokio::test]
async fn sonar_survives_a_failing_handler() {
    handler_fails_with_500_for_a_while(sonar()).await;
}

#[tokio::test]
async fn field_service_survives_a_failing_handler() {
    handler_fails_with_500_for_a_while(field_service()).await;
}

#[tokio::test]
async fn superoffice_survives_a_failing_handler() {
    handler_fails_with_500_for_a_while(superoffice()).await;
}

#[tokio::test]
async fn standard_webhooks_survives_a_failing_handler() {
    handler_fails_with_500_for_a_while(standard_webhooks()).await;
}

#[tokio::test]
async fn sonar_retry_after_a_dropped_200_is_a_duplicate() {
    answer_dropped_after_the_handler_ran(sonar()).await;
}

#[tokio::test]
async fn field_service_retry_after_a_dropped_200_is_a_duplicate() {
    answer_dropped_after_the_handler_ran(field_service()).await;
}

#[tokio::test]
async fn superoffice_retry_after_a_dropped_200_is_a_duplicate() {
    answer_dropped_after_the_handler_ran(superoffice()).await;
}

#[tokio::test]
async fn standard_webhooks_retry_after_a_dropped_200_is_a_duplicate() {
    answer_dropped_after_the_handler_ran(standard_webhooks()).await;
}

#[tokio::test]
async fn sonar_hundred_entities_shuffled() {
    hundred_entities_shuffled_with_every_fault(sonar()).await;
}

#[tokio::test]
async fn field_service_hundred_entities_shuffled() {
    hundred_entities_shuffled_with_every_fault(field_service()).await;
}

#[tokio::test]
async fn superoffice_hundred_entities_shuffled() {
    hundred_entities_shuffled_with_every_fault(superoffice()).await;
}

#[tokio::test]
async fn standard_webhooks_hundred_entities_shuffled() {
    hundred_entities_shuffled_with_every_fault(standard_webhooks()).await;
}

#[tokio::test]
async fn sonar_retries_a_202_and_the_retry_is_a_duplicate_not_a_second_run() {
    // A receiver misconfigured with a deadline answers 202 to a slow handler: Sonar wants
    // exactly 200, so it retries, and the retry must not run the handler again.
    let sender = sonar();
    let mut rig = Rig::with(sender.clone(), |b| b.deadline(Duration::from_millis(20))).await;
    let slow = Downstream::new();
    let handler = slow.handler();
    rig.server.take().unwrap().stop().await;
    let receiver = open(&rig.dir.path().join("sled"), || {
        let handler = handler.clone();
        builder(&sender)
            .deadline(Duration::from_millis(20))
            .clock(rig.clock.source())
            .handler(move |delivery| {
                let handler = handler.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    handler(delivery).await
                }
            })
    })
    .await;
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    rig.proxy.set_backend(Some(server.addr));
    rig.server = Some(server);
    rig.downstream = slow;

    let mut sim = Simulation::new(rig.clock.clone());
    let event = Event::new(id(0), 1, Duration::ZERO, "active");
    sim.schedule(&sender, &rig.url(), event, Duration::ZERO);
    rig.run(&mut sim, &[]).await;
    let outcomes: Vec<_> = sim
        .attempts()
        .iter()
        .map(|a| (a.status, a.outcome.as_str()))
        .collect();
    assert_eq!(outcomes[0], (Some(202), "accepted"), "{outcomes:?}");
    assert_eq!(
        *outcomes.last().unwrap(),
        (Some(200), "duplicate"),
        "{outcomes:?}"
    );
    assert_reliable("sonar/202-then-duplicate", &rig, &sim);
}

#[tokio::test]
async fn regression_default_retention_was_shorter_than_the_standard_webhooks_retry_window() {
    // Standard Webhooks retries for 27.6 hours; if every answer but the last is lost, the
    // last attempt comes more than a day after the delivery was handled. With the old 24-hour
    // default retention its id was forgotten by then and the handler ran a second time.
    let sender = standard_webhooks();
    let (mut rig, mut sim) = registered(&sender).await;
    let event = Event::new(id(0), 1, Duration::ZERO, "active");
    sim.schedule(&sender, &rig.url(), event, Duration::ZERO);
    let mut answers = 0;
    rig.proxy.drop_answers_when(move |_| {
        answers += 1;
        answers < 8
    });
    rig.run(&mut sim, &[]).await;
    assert_eq!(sim.attempts_for(&id(0)).len(), 8);
    assert_reliable("standard-webhooks/answers-lost-27h", &rig, &sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sonar_against_the_reference_receiver_binary_killed_and_restarted() {
    // The downstream API is itself an SDK endpoint with no guard of its own (ordering and
    // dedupe off), so everything the binary relays reaches the checking handler.
    let downstream = Downstream::new();
    let plain = Receiver::builder("downstream")
        .envelope(Envelope::Sonar)
        .ordering(OrderingScope::Off)
        .dedupe(false)
        .handler(downstream.handler())
        .build()
        .unwrap();
    let downstream_server = Server::start(Router::new().route_service("/accounts", plain)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("receiver.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[log]
level = "warn,reference_receiver=info"
[[endpoint]]
name = "sonar"
path = "/webhook"
envelope = "sonar"
[endpoint.relay]
method = "POST"
url = "{}"
"#,
            downstream_server.url("/accounts")
        ),
    )
    .unwrap();
    let binary = end_to_end::binary::reference_receiver();
    let start = || {
        end_to_end::binary::serve(
            &binary,
            dir.path(),
            &config,
            &["--bind", "127.0.0.1:0", "--data", "data"],
            &[],
        )
    };
    let backend = |running: &end_to_end::binary::Running| {
        running.base.trim_start_matches("http://").parse().unwrap()
    };
    let proxy = Proxy::start().await;
    let mut running = Some(start());
    proxy.set_backend(running.as_ref().map(backend));
    proxy.drop_first_answer_containing((1..20).step_by(3).map(id));

    let sender = sonar();
    let mut sim = Simulation::new(VirtualClock::new());
    assert!(sim.register(&sender, &proxy.url("/webhook")).await);
    steady_events(&mut sim, &sender, &proxy.url("/webhook"));
    let mut kills = 0;
    while let Some(due) = sim.next_due() {
        let down = (2 * MINUTE..12 * MINUTE).contains(&due);
        if down && running.is_some() {
            proxy.set_backend(None);
            running.take().unwrap().kill_9();
            kills += 1;
        } else if !down && running.is_none() {
            running = Some(start());
            proxy.set_backend(running.as_ref().map(backend));
        }
        sim.step().await;
    }
    assert_eq!(kills, 1);
    assert!(proxy.refused() > 0 && proxy.dropped() > 0);
    assert_reliable_with("sonar/binary-kill-9", &sender, &downstream, &proxy, &sim);
}

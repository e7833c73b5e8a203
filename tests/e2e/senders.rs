//! The sender simulators keep the real senders' policies: schedules, success rules, headers.
//! Checked against a scripted server, so a wrong policy cannot hide behind a forgiving
//! receiver.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::Router;
use end_to_end::senders::{Event, Fate, Sender, Simulation, VirtualClock, EPOCH_SECS};
use end_to_end::Server;

/// A server that answers the n-th request (from 0) with `script(n)` and keeps the headers.
#[derive(Clone)]
struct Scripted {
    count: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<(Method, HeaderMap)>>>,
    script: fn(usize) -> u16,
}

async fn scripted(script: fn(usize) -> u16) -> (Server, Scripted) {
    async fn answer(State(s): State<Scripted>, method: Method, headers: HeaderMap) -> StatusCode {
        s.seen.lock().unwrap().push((method, headers));
        let n = s.count.fetch_add(1, Ordering::SeqCst);
        StatusCode::from_u16((s.script)(n)).unwrap()
    }
    let state = Scripted {
        count: Arc::default(),
        seen: Arc::default(),
        script,
    };
    let app = Router::new()
        .route("/webhook", axum::routing::any(answer))
        .with_state(state.clone());
    (Server::start(app).await, state)
}

fn minutes(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|m| Duration::from_secs(m * 60)).collect()
}

async fn run_one(sender: &Sender, script: fn(usize) -> u16) -> (Simulation, Scripted) {
    let (server, state) = scripted(script).await;
    let mut sim = Simulation::new(VirtualClock::new());
    let event = Event::new("evt-1", 7, Duration::ZERO, "active");
    sim.schedule(sender, &server.url("/webhook"), event, Duration::ZERO);
    sim.run().await;
    (sim, state)
}

fn times(sim: &Simulation) -> Vec<Duration> {
    sim.attempts_for("evt-1").iter().map(|a| a.at).collect()
}

#[tokio::test]
async fn sonar_probes_with_head_then_retries_once_a_minute_for_four_hours() {
    let (server, state) = scripted(|n| if n == 0 { 200 } else { 500 }).await;
    let mut sim = Simulation::new(VirtualClock::new());
    assert!(sim.register(&Sender::Sonar, &server.url("/webhook")).await);
    let event = Event::new("evt-1", 7, Duration::ZERO, "active");
    sim.schedule(
        &Sender::Sonar,
        &server.url("/webhook"),
        event,
        Duration::ZERO,
    );
    let started = std::time::Instant::now();
    sim.run().await;
    assert_eq!(state.seen.lock().unwrap()[0].0, Method::HEAD);
    let expected: Vec<Duration> = (0..=240).map(|m| Duration::from_secs(m * 60)).collect();
    assert_eq!(times(&sim), expected, "241 attempts, a minute apart");
    assert_eq!(sim.fates()[0].1, Fate::GaveUp);
    assert_eq!(sim.clock().elapsed(), Duration::from_secs(4 * 3600));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "four virtual hours took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sonar_counts_anything_but_200_as_failure_even_202_and_204() {
    let (sim, _) = run_one(&Sender::Sonar, |n| [202, 204, 201, 200][n.min(3)]).await;
    let statuses: Vec<_> = sim
        .attempts_for("evt-1")
        .iter()
        .map(|a| (a.status, a.succeeded))
        .collect();
    assert_eq!(
        statuses,
        [
            (Some(202), false),
            (Some(204), false),
            (Some(201), false),
            (Some(200), true)
        ]
    );
    assert_eq!(sim.fates()[0].1, Fate::Acknowledged);
}

#[tokio::test]
async fn field_service_tries_three_times_after_5_and_10_minutes_with_basic_auth() {
    let sender = Sender::FieldService {
        user: "u".into(),
        password: "p".into(),
    };
    let (sim, state) = run_one(&sender, |_| 503).await;
    assert_eq!(times(&sim), minutes(&[0, 5, 15]));
    assert_eq!(sim.fates()[0].1, Fate::GaveUp);
    for (_, headers) in state.seen.lock().unwrap().iter() {
        assert_eq!(headers["authorization"], "Basic dTpw");
    }

    let (sim, _) = run_one(&sender, |n| if n == 0 { 500 } else { 204 }).await;
    assert_eq!(times(&sim), minutes(&[0, 5]), "any 2xx succeeds");
    assert_eq!(sim.fates()[0].1, Fate::Acknowledged);
}

#[tokio::test]
async fn standard_webhooks_backs_off_exponentially_and_re_signs_each_attempt() {
    let sender = Sender::StandardWebhooks {
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
    };
    let (sim, state) = run_one(&sender, |_| 500).await;
    let expected: Vec<Duration> = [0, 5, 305, 2105, 9305, 27305, 63305, 99305]
        .into_iter()
        .map(Duration::from_secs)
        .collect();
    assert_eq!(times(&sim), expected);
    assert_eq!(sim.fates()[0].1, Fate::GaveUp);
    let seen = state.seen.lock().unwrap();
    for ((_, headers), at) in seen.iter().zip(&expected) {
        assert_eq!(headers["webhook-id"], "evt-1", "the id stays the same");
        assert_eq!(
            headers["webhook-timestamp"],
            (EPOCH_SECS + at.as_secs()).to_string(),
            "each attempt is signed at its own time"
        );
    }
}

#[tokio::test]
async fn superoffice_registers_only_when_its_test_post_gets_200() {
    let sender = Sender::SuperOffice {
        secret: "Something Super Secret".into(),
    };
    for (status, accepted) in [(200, true), (204, false), (500, false)] {
        let (server, state) = match status {
            200 => scripted(|_| 200).await,
            204 => scripted(|_| 204).await,
            _ => scripted(|_| 500).await,
        };
        let mut sim = Simulation::new(VirtualClock::new());
        assert_eq!(
            sim.register(&sender, &server.url("/webhook")).await,
            accepted
        );
        let seen = state.seen.lock().unwrap();
        assert_eq!(seen[0].1["x-hook-test"], "true");
        assert!(seen[0].1.contains_key("x-superoffice-signature"));
    }
    let (sim, _) = run_one(&sender, |_| 500).await;
    assert_eq!(times(&sim), minutes(&[0, 1, 5, 15, 60]));
}

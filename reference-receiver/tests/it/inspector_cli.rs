//! The inspector from the command line: `serve` exposes it, `inspect new|tail|forward` use it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::common::{self, FakeApi};
use crate::inspector_support::{
    self, client, standard_webhooks_bin, standard_webhooks_headers, Command, Served,
};

#[tokio::test]
async fn serve_on_the_embedded_defaults_exposes_the_inspector_and_logs_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let running = common::start(dir.path(), &["serve", "--bind", "127.0.0.1:0"], &[]);
    let wanted = format!("inspector UI at {}/ui", running.base);
    for _ in 0..100 {
        if running.log().contains(&wanted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running.log().contains(&wanted), "{}", running.log());
    let created = client()
        .post(format!("{}/api/bins", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let url = created.json::<serde_json::Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let captured = client().post(&url).body("{}").send().await.unwrap();
    assert_eq!(captured.status(), 200);
    let ui = client().get(&running.base).send().await.unwrap();
    assert_eq!(ui.url().path(), "/ui");
    assert!(ui.text().await.unwrap().contains("New bin"));
}

#[tokio::test]
async fn inspect_new_prints_a_url_that_captures() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let base = served.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
            .args(["inspect", "new", "--alias", "from-cli", "--server", &base])
            .env_remove("RECEIVER_ADMIN_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(url, served.url("/in/from-cli"));
    let captured = client().post(&url).body("hi").send().await.unwrap();
    assert_eq!(captured.status(), 200);
    assert_eq!(served.requests("from-cli", "").await.len(), 1);
}

#[tokio::test]
async fn inspect_tail_prints_each_capture_as_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(standard_webhooks_bin()).await;
    let tail = Command::spawn(&["inspect", "tail", &token, "--server", &served.base]);
    tail.wait_for(&tail.stderr, "connected", |lines| {
        lines.iter().any(|l| l.starts_with("connected"))
    })
    .await;
    let body =
        br#"{"type":"invoice.paid","timestamp":"2024-05-01T10:00:00Z","data":{"id":"in_9"}}"#;
    let mut request = client()
        .post(served.url(&format!("/in/{token}/hooks")))
        .body(body.to_vec());
    for (name, value) in standard_webhooks_headers("msg_t", body) {
        request = request.header(name, value);
    }
    request.send().await.unwrap();
    client()
        .post(served.url(&format!("/in/{token}")))
        .body("unsigned")
        .send()
        .await
        .unwrap();
    tail.wait_for(&tail.stdout, "two capture lines", |lines| lines.len() >= 2)
        .await;
    let lines = tail.stdout.lock().unwrap().clone();
    assert!(
        lines[0].contains(&format!("POST /in/{token}/hooks"))
            && lines[0].contains("handled")
            && lines[0].contains("event=invoice.paid entity=in_9"),
        "{lines:?}"
    );
    assert!(lines[1].contains("unauthorized"), "{lines:?}");
}

#[tokio::test]
async fn regression_inspect_tail_prints_terminal_controls_from_payloads_as_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"envelope": "integration"})).await;
    let tail = Command::spawn(&["inspect", "tail", &token, "--server", &served.base]);
    let json_tail = Command::spawn(&[
        "inspect",
        "tail",
        &token,
        "--json",
        "--server",
        &served.base,
    ]);
    for command in [&tail, &json_tail] {
        command
            .wait_for(&command.stderr, "connected", |lines| {
                lines.iter().any(|l| l.starts_with("connected"))
            })
            .await;
    }
    // The review's payload (OSC 0 title, screen clear, colours, OSC 52 clipboard write), plus
    // a C1 CSI, DEL and a right-to-left override.
    let payload = r#"{"id":"42\u001b]0;OWNED\u0007\u001b[2J\u001b[31mfake line\u001b[0m\u009b\u007f\u202e","entityType":"account","eventType":"account.changed\u001b]52;c;ZWNobyBoaQ==\u0007","timestamp":1700000000}"#;
    client()
        .post(served.url(&format!("/in/{token}")))
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await
        .unwrap();
    for command in [&tail, &json_tail] {
        command
            .wait_for(&command.stdout, "a capture line", |lines| !lines.is_empty())
            .await;
    }
    let line = tail.stdout.lock().unwrap()[0].clone();
    let acts = |c: char| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c);
    assert!(!line.chars().any(acts), "{line:?}");
    assert!(
        line.contains(r"event=account.changed\u{1b}]52;c;ZWNobyBoaQ==\u{7}")
            && line.contains(r"entity=42\u{1b}]0;OWNED"),
        "{line}"
    );
    let json_line = json_tail.stdout.lock().unwrap()[0].clone();
    assert!(!json_line.chars().any(acts), "{json_line:?}");
    let capture: Value = serde_json::from_str(&json_line).unwrap();
    assert!(capture["verdicts"]["event"]["entity_id"]
        .as_str()
        .unwrap()
        .ends_with("\u{9b}\u{7f}\u{202e}"));
}

/// A TCP relay in front of the receiver whose connections the test can cut.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    _accepting: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (gate, tracked) = (Arc::clone(&open), Arc::clone(&connections));
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    // Refused: closed at once.
                    continue;
                }
                tracked.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Self {
            addr,
            open,
            connections,
            _accepting: accepting,
        }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn forward_relays_exact_bytes_and_resumes_after_a_dropped_connection_without_gaps_or_repeats()
{
    let target = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let target_base = target.start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    let upstream: SocketAddr = served.base.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(upstream).await;
    let forward = Command::spawn(&[
        "inspect",
        "forward",
        &token,
        "--to",
        &format!("{target_base}/hook"),
        "--server",
        &format!("http://{}", proxy.addr),
    ]);
    let connections =
        |lines: &[String]| lines.iter().filter(|l| l.starts_with("connected")).count();
    forward
        .wait_for(&forward.stderr, "the first connection", |l| {
            connections(l) >= 1
        })
        .await;

    // Bodies that are not UTF-8, and headers a signature depends on.
    let body = |i: u8| vec![i, 0xff, 0x00, b'\n', i];
    let send = |i: u8| {
        let mut request = client()
            .post(served.url(&format!("/in/{token}")))
            .body(body(i));
        for (name, value) in standard_webhooks_headers(&format!("msg_{i}"), &body(i)) {
            request = request.header(name, value);
        }
        request.send()
    };
    for i in 0..3 {
        send(i).await.unwrap();
    }
    let wait_seen = |count: usize| {
        let target = target.clone();
        async move {
            for _ in 0..400 {
                if target.seen().len() >= count {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the target saw {} of {count}", target.seen().len());
        }
    };
    wait_seen(3).await;

    // The forwarder's connection drops; captures go on arriving meanwhile.
    proxy.cut();
    for i in 3..6 {
        send(i).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(target.seen().len(), 3, "nothing can arrive while cut");
    proxy.restore();
    forward
        .wait_for(&forward.stderr, "a reconnection", |l| connections(l) >= 2)
        .await;
    wait_seen(6).await;
    send(6).await.unwrap();
    wait_seen(7).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let seen = target.seen();
    assert_eq!(seen.len(), 7, "no capture twice");
    for (i, request) in seen.iter().enumerate() {
        assert_eq!(request.path, "/hook");
        assert_eq!(
            request.body.to_vec(),
            body(i as u8),
            "capture {i} in order, exact"
        );
        assert_eq!(request.headers["webhook-id"], format!("msg_{i}").as_str());
    }
    let verifier =
        receiver_sdk::verify::Verifier::standard_webhooks([inspector_support::WHSEC]).unwrap();
    assert!(verifier
        .verify(
            &seen[4].headers,
            &seen[4].body,
            std::time::SystemTime::now()
        )
        .is_ok());
    assert_eq!(forward.stdout.lock().unwrap().len(), 7);
}

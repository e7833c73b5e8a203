//! The connection-level hostile battery: the real `reference-receiver` binary, its open files
//! capped at 1,024 with `prlimit` (a common soft limit), under each attack on the connection
//! layer (slow and never-ending heads, idle connections, stalled bodies, HTTP/2 without TLS
//! that stalls, resets streams at once or floods, floods of tiny requests).
//!
//! Each attack asserts that the attack itself is cut short (its connections closed, its bodies
//! refused or timed out), that a delivery from a well-behaved sender is answered 200 within
//! [`SERVED_WITHIN`] while it runs, and that the server's VmRSS stays under a stated bound. The
//! figures (RSS before, at the peak, after; the delivery's latency) are printed on stderr.
//!
//! The well-behaved sender posts from 127.0.0.1. Attacks that need many connections come from
//! other loopback addresses too, as a real attacker's would, so both caps (all connections, and
//! one peer's) are exercised.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use end_to_end::binary::{self, Running};
use end_to_end::raw::{self, closed_within, status_within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How soon a well-behaved delivery must be answered while an attack runs.
const SERVED_WITHIN: Duration = Duration::from_secs(3);
/// `header_read_timeout_secs` in the config below.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// `request_timeout_secs` in the config below: the deadline of every body.
const BODY_TIMEOUT: Duration = Duration::from_secs(3);
/// `idle_timeout_secs` in the config below.
const IDLE_TIMEOUT: Duration = Duration::from_secs(3);
/// How late past its timeout the server may close a connection (scheduling on a busy machine).
const SLACK: Duration = Duration::from_secs(3);
/// The open-files limit the receiver runs under.
const NOFILE: &str = "--nofile=1024:1024";

/// The receiver's settings: short timeouts so the battery runs in seconds.
const CONFIG: &str = r#"
[server]
body_limit_bytes = 1048576
request_timeout_secs = 3
shutdown_timeout_secs = 1
"#;

/// The connection limits under test (a separate block so the battery can be pointed at a
/// build that predates them: leave this out and the rest still parses).
const LIMITS: &str = r#"
header_read_timeout_secs = 2
idle_timeout_secs = 3
max_connections = 400
max_connections_per_peer = 300
body_budget_bytes = 16777216
body_budget_per_peer_bytes = 8388608
"#;

const ENDPOINT: &str = r#"
[log]
level = "warn,reference_receiver=info"

[[endpoint]]
name = "plain"
path = "/hooks/plain"
[endpoint.verify]
kind = "none"
"#;

/// The receiver under attack.
struct Target {
    running: Running,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Target {
    fn start() -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), "")
    }

    /// Serving HTTPS with a fresh self-signed certificate for `localhost`; returns its PEM.
    fn start_tls() -> (Self, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
        let cert = generated.cert.pem();
        std::fs::write(dir.path().join("cert.pem"), &cert).expect("write cert");
        std::fs::write(
            dir.path().join("key.pem"),
            generated.key_pair.serialize_pem(),
        )
        .expect("write key");
        let tls = "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n";
        (Self::start_in(dir, tls), cert)
    }

    fn start_in(dir: tempfile::TempDir, server_extra: &str) -> Self {
        let config = dir.path().join("receiver.toml");
        std::fs::write(&config, format!("{CONFIG}{LIMITS}{server_extra}{ENDPOINT}"))
            .expect("write config");
        let running = binary::serve_wrapped(
            &["prlimit", NOFILE, "--"],
            &binary::reference_receiver(),
            dir.path(),
            &config,
            &["--bind", "127.0.0.1:0", "--data", "data"],
            &[],
        );
        let addr = running
            .base
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .parse()
            .expect("listening address");
        Self {
            running,
            addr,
            _dir: dir,
        }
    }

    fn rss_mib(&self) -> f64 {
        self.running.rss_kib() as f64 / 1024.0
    }

    /// A delivery from a well-behaved sender, on a fresh connection: answered 200 within
    /// [`SERVED_WITHIN`]. Returns how long it took.
    async fn deliver(&self, during: &str) -> Duration {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(SERVED_WITHIN)
            .build()
            .expect("client");
        let started = Instant::now();
        let answer = client
            .post(format!("http://{}/hooks/plain", self.addr))
            .header("content-type", "application/json")
            .body(r#"{"sender":"well-behaved"}"#)
            .send()
            .await;
        let took = started.elapsed();
        let response = answer.unwrap_or_else(|e| {
            panic!("a well-behaved delivery during {during} failed after {took:?}: {e}")
        });
        assert_eq!(response.status(), 200, "delivery during {during}");
        took
    }

    /// Samples VmRSS until the returned watch is stopped; keeps the peak.
    fn watch_rss(&self) -> RssWatch {
        let pid = self.running.child.id();
        let peak = Arc::new(AtomicU64::new(self.running.rss_kib()));
        let sampler = {
            let peak = Arc::clone(&peak);
            tokio::spawn(async move {
                loop {
                    if let Some(kib) = binary::rss_kib_of(pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        RssWatch { peak, sampler }
    }
}

struct RssWatch {
    peak: Arc<AtomicU64>,
    sampler: tokio::task::JoinHandle<()>,
}

impl RssWatch {
    fn peak_mib(self) -> f64 {
        self.sampler.abort();
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

/// Prints one attack's figures and checks its memory bound.
fn report(attack: &str, before: f64, peak: f64, after: f64, latency: Duration, bound_mib: f64) {
    eprintln!(
        "figures: {attack}: VmRSS before {before:.1} MiB, peak {peak:.1} MiB, after \
         {after:.1} MiB; well-behaved delivery answered in {latency:?}"
    );
    assert!(
        peak - before < bound_mib,
        "{attack}: VmRSS grew from {before:.1} to {peak:.1} MiB (bound: +{bound_mib} MiB)"
    );
}

/// A connection to `addr` from the loopback address `127.0.0.<from>`.
async fn connect_from(from: u8, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::from([127, 0, 0, from]), 0))?;
    socket.connect(addr).await
}

const PARTIAL_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty HTTP/2 SETTINGS frame.
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// An HTTP/2 HEADERS frame on stream 1 for `GET /` that ends the stream but not the header
/// block: the server waits for a CONTINUATION that never comes.
fn h2_headers_without_end() -> Vec<u8> {
    // :method GET, :scheme http, :path /, :authority "x" (HPACK, literal with indexing).
    let block = [0x82, 0x86, 0x84, 0x41, 0x01, b'x'];
    let mut frame = vec![0, 0, block.len() as u8, 1, 0x01, 0, 0, 0, 1];
    frame.extend_from_slice(&block);
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_request_heads_that_never_end_are_closed_at_the_header_timeout() {
    let target = Target::start();
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("HTTP/1 head without its blank line", PARTIAL_HEAD.to_vec()),
        ("nothing at all", Vec::new()),
        ("half an HTTP/2 preface", H2_PREFACE[..10].to_vec()),
        (
            "HTTP/2 preface and SETTINGS, no request",
            [H2_PREFACE, H2_SETTINGS].concat(),
        ),
        (
            "HTTP/2 HEADERS without END_HEADERS",
            [H2_PREFACE, H2_SETTINGS, &h2_headers_without_end()].concat(),
        ),
    ];
    let mut waits = Vec::new();
    for (name, bytes) in variants {
        let addr = target.addr;
        waits.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.write_all(&bytes).await.expect("write");
            (
                name,
                closed_within(&mut stream, HEADER_TIMEOUT + SLACK).await,
            )
        }));
    }
    let latency = target.deliver("slow heads").await;
    for wait in waits {
        let (name, closed) = wait.await.expect("variant");
        let took = closed.unwrap_or_else(|| {
            panic!(
                "{name}: still open {:?} after connecting",
                HEADER_TIMEOUT + SLACK
            )
        });
        assert!(
            took >= HEADER_TIMEOUT - Duration::from_millis(500),
            "{name}: closed early ({took:?})"
        );
        eprintln!("figures: slow head ({name}): closed after {took:?}");
    }
    eprintln!("figures: slow heads: well-behaved delivery answered in {latency:?}");
}

/// A TLS client that trusts `cert_pem` only.
fn tls_client(cert_pem: &str) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let cert = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .expect("certificate PEM");
    roots.add(cert).expect("trust the certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_tls_handshakes_and_heads_that_never_end_are_closed_at_the_header_timeout() {
    let (target, cert) = Target::start_tls();
    // A connection that never starts TLS, and one that sends half a ClientHello.
    let mut silent = TcpStream::connect(target.addr).await.expect("connect");
    let mut half_hello = TcpStream::connect(target.addr).await.expect("connect");
    half_hello
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .expect("write");
    // A connection that completes TLS, then sends a head without its blank line.
    let tcp = TcpStream::connect(target.addr).await.expect("connect");
    let server_name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = tls_client(&cert)
        .connect(server_name, tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(PARTIAL_HEAD).await.expect("write");
    let within = HEADER_TIMEOUT + SLACK;
    let (silent, half_hello) = tokio::join!(
        closed_within(&mut silent, within),
        closed_within(&mut half_hello, within)
    );
    let mut buffer = [0u8; 1024];
    let slow_head = tokio::time::timeout(within, async {
        while let Ok(n) = tls.read(&mut buffer).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(
        silent.is_some(),
        "a connection that never starts TLS stayed open"
    );
    assert!(
        half_hello.is_some(),
        "half a ClientHello kept the connection open"
    );
    assert!(slow_head.is_ok(), "a slow head over TLS stayed open");
    eprintln!(
        "figures: TLS: silent closed after {silent:?}, half ClientHello after {half_hello:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_half_open_connections_past_the_open_files_limit_do_not_lock_out_a_sender() {
    let target = Target::start();
    let before = target.rss_mib();
    let rss = target.watch_rss();
    // 1,100 requests that never finish their head, from four addresses (one of them the
    // well-behaved sender's own): more than the 1,024 files the process may open.
    let mut held = Vec::new();
    for i in 0..1100u32 {
        let from = 1 + (i % 4) as u8;
        if let Ok(mut stream) = connect_from(from, target.addr).await {
            let _ = stream.write_all(PARTIAL_HEAD).await;
            held.push(stream);
        }
    }
    let latency = target.deliver("1,100 half-open requests").await;
    let fds = target.running.open_fds();
    assert!(fds < 1024, "the receiver holds {fds} files, at its limit");
    let peak = rss.peak_mib();
    drop(held);
    let after_latency = target.deliver("after the half-open requests").await;
    report(
        "1,100 half-open requests",
        before,
        peak,
        target.rss_mib(),
        latency.max(after_latency),
        48.0,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_idle_connections_are_closed() {
    let target = Target::start();
    // HTTP/1: one request, then nothing.
    let mut stream = TcpStream::connect(target.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(status_within(&mut stream, SERVED_WITHIN).await, Some(200));
    let h1 = closed_within(&mut stream, IDLE_TIMEOUT.max(HEADER_TIMEOUT) + SLACK).await;
    // HTTP/2 without TLS: one request, then nothing (the client answers pings, so only the
    // idle timeout ends it).
    let tcp = TcpStream::connect(target.addr).await.expect("connect");
    let (mut h2, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
    let driven = tokio::spawn(async move {
        let started = Instant::now();
        let _ = connection.await;
        started.elapsed()
    });
    let request = http::Request::get(format!("http://{}/healthz", target.addr))
        .body(())
        .expect("request");
    let (response, _) = h2.send_request(request, true).expect("send");
    let response = response.await.expect("h2c answer");
    assert_eq!(response.status(), 200);
    let h2_closed = tokio::time::timeout(IDLE_TIMEOUT + SLACK, driven).await;
    let h1 = h1.expect("an idle HTTP/1 connection stayed open");
    let h2_took = h2_closed
        .expect("an idle HTTP/2 connection stayed open")
        .expect("h2 driver");
    eprintln!("figures: idle connections: HTTP/1 closed after {h1:?}, HTTP/2 after {h2_took:?}");
    drop(h2);
}

/// `count` connections from 127.0.0.2, each sending 1,000,000 bytes of a 1,048,576-byte body
/// (`chunked`: in chunks, without a length) and stalling. Returns how they were answered.
async fn stalled_bodies(addr: SocketAddr, count: usize, chunked: bool) -> Vec<Option<u16>> {
    let mut attackers = Vec::new();
    for _ in 0..count {
        attackers.push(tokio::spawn(async move {
            let Ok(mut stream) = connect_from(2, addr).await else {
                return None;
            };
            let head = if chunked {
                "POST /hooks/plain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Transfer-Encoding: chunked\r\n\r\n"
                    .to_owned()
            } else {
                "POST /hooks/plain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 1048576\r\n\r\n"
                    .to_owned()
            };
            if stream.write_all(head.as_bytes()).await.is_err() {
                return status_within(&mut stream, BODY_TIMEOUT + SLACK).await;
            }
            let piece = vec![b' '; 50_000];
            for _ in 0..20 {
                let sent = if chunked {
                    stream.write_all(&raw::chunk(&piece)).await
                } else {
                    stream.write_all(&piece).await
                };
                if sent.is_err() {
                    break;
                }
            }
            status_within(&mut stream, BODY_TIMEOUT + SLACK).await
        }));
    }
    let mut answers = Vec::new();
    for attacker in attackers {
        answers.push(attacker.await.expect("attacker"));
    }
    answers
}

async fn stalled_bodies_battery(chunked: bool) {
    let attack = if chunked {
        "600 stalled chunked bodies"
    } else {
        "600 stalled 1 MiB bodies"
    };
    let target = Target::start();
    let before = target.rss_mib();
    let rss = target.watch_rss();
    let attack_run = tokio::spawn(stalled_bodies(target.addr, 600, chunked));
    // Let the attack fill the budget before the sender comes.
    let mut latency = Duration::ZERO;
    for _ in 0..3 {
        latency = latency.max(target.deliver(attack).await);
    }
    let answers = attack_run.await.expect("attack");
    let peak = rss.peak_mib();
    let refused = answers.iter().filter(|a| **a == Some(503)).count();
    let timed_out = answers.iter().filter(|a| **a == Some(408)).count();
    eprintln!(
        "figures: {attack}: {refused} answered 503, {timed_out} answered 408, {} otherwise",
        answers.len() - refused - timed_out
    );
    report(attack, before, peak, target.rss_mib(), latency, 96.0);
    assert!(
        refused > 0,
        "{attack}: none was refused for the body budget"
    );
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, None | Some(503) | Some(408))),
        "{attack}: unexpected answers {answers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_stalled_bodies_hold_at_most_the_body_budget() {
    stalled_bodies_battery(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_stalled_chunked_bodies_hold_at_most_the_body_budget() {
    stalled_bodies_battery(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_stalled_api_body_over_h2c_is_answered_408() {
    let target = Target::start();
    let tcp = TcpStream::connect(target.addr).await.expect("connect");
    let (mut h2, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
    tokio::spawn(connection);
    // `/api` bodies had no time limit at all: a JSON body announced and never sent.
    let request = http::Request::post(format!("http://{}/api/bins", target.addr))
        .header("content-type", "application/json")
        .header("content-length", "100")
        .body(())
        .expect("request");
    let started = Instant::now();
    let (response, _body) = h2.send_request(request, false).expect("send");
    let response = tokio::time::timeout(BODY_TIMEOUT + SLACK, response)
        .await
        .expect("no answer to a stalled /api body")
        .expect("h2c answer");
    assert_eq!(response.status(), 408);
    let latency = target.deliver("a stalled /api body").await;
    eprintln!(
        "figures: stalled /api body over h2c: 408 after {:?}; delivery in {latency:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_h2c_rapid_reset_does_not_starve_others() {
    let target = Target::start();
    let before = target.rss_mib();
    let rss = target.watch_rss();
    let addr = target.addr;
    let attack = tokio::spawn(async move {
        let tcp = connect_from(3, addr).await.expect("connect");
        let (h2, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
        let driven = tokio::spawn(connection);
        let mut sent = 0u32;
        for _ in 0..50_000u32 {
            let Ok(mut ready) = h2.clone().ready().await else {
                break;
            };
            let request = http::Request::post(format!("http://{addr}/hooks/plain"))
                .body(())
                .expect("request");
            let Ok((_, mut stream)) = ready.send_request(request, false) else {
                break;
            };
            stream.send_reset(h2::Reason::CANCEL);
            sent += 1;
            // A real attacker has its own machine: leave this runtime's other tasks their turn.
            tokio::task::yield_now().await;
        }
        let ended = tokio::time::timeout(SLACK, driven).await;
        (sent, ended.is_ok())
    });
    let latency = target.deliver("an h2c rapid-reset flood").await;
    let (sent, closed) = attack.await.expect("attack");
    let peak = rss.peak_mib();
    eprintln!("figures: h2c rapid reset: {sent} streams opened and reset; connection closed by the server: {closed}");
    report(
        "h2c rapid reset",
        before,
        peak,
        target.rss_mib(),
        latency,
        48.0,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_floods_of_tiny_requests_do_not_starve_others() {
    let target = Target::start();
    let before = target.rss_mib();
    let rss = target.watch_rss();
    let addr = target.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // HTTP/1: pipelined GETs on one keep-alive connection, as fast as it takes them.
    let h1 = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let stream = connect_from(4, addr).await.expect("connect");
            let (mut read, mut write) = stream.into_split();
            let drain = tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut bytes = 0usize;
                while let Ok(n) = read.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    bytes += n;
                }
                bytes
            });
            let batch = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
            while !stop.load(Ordering::Relaxed) {
                if write.write_all(&batch).await.is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            drop(write);
            drain.abort();
        })
    };
    // HTTP/2 without TLS: as many tiny requests at once as the server allows, again and again.
    let h2_flood = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let tcp = connect_from(5, addr).await.expect("connect");
            let (h2, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
            tokio::spawn(connection);
            let mut answered = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut pending = Vec::new();
                for _ in 0..64 {
                    let Ok(mut ready) = h2.clone().ready().await else {
                        return answered;
                    };
                    let request = http::Request::get(format!("http://{addr}/healthz"))
                        .body(())
                        .expect("request");
                    let Ok((response, _)) = ready.send_request(request, true) else {
                        return answered;
                    };
                    pending.push(response);
                }
                for response in pending {
                    if response.await.is_ok() {
                        answered += 1;
                    }
                }
            }
            answered
        })
    };
    let mut latency = Duration::ZERO;
    for _ in 0..5 {
        latency = latency.max(target.deliver("floods of tiny requests").await);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = h1.await;
    let answered = h2_flood.await.unwrap_or(0);
    let peak = rss.peak_mib();
    eprintln!("figures: tiny-request floods: {answered} h2c requests answered meanwhile");
    report(
        "floods of tiny requests",
        before,
        peak,
        target.rss_mib(),
        latency,
        48.0,
    );
}

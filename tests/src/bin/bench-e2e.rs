//! The end-to-end load benchmark. Run with `tests/bench/e2e.sh` (release build).
//!
//! `bench-e2e [--rounds N] [--secs S] [--connections C] [--size BYTES]` measures, round after
//! round on this machine, each server under test in its own process against the same load
//! generator (this process): requests/s, p50 and p99 latency, and the server's peak RSS. It
//! prints a table of medians with each figure's ratio to the bare axum ceiling, and writes it
//! as JSON to `target/bench/e2e.json`.
//!
//! `--only a,b` measures only the named targets (`bare`, `sdk-memory`, `sdk-sled`, `sdk-fjall`,
//! `receiver-queued`).
//!
//! `bench-e2e serve <target> <dir>` is the server side (used by the benchmark itself);
//! `bench-e2e load <addr>` only drives load at a server started elsewhere (under a profiler, say)
//! and prints what it measured as JSON.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use end_to_end::bench::{self, Measured};
use end_to_end::bench_process::{
    arg, median, peak_rss_kib, serve_command, spawn_server, write_json,
};

/// The reference receiver binary is measured too, beside the in-process servers.
const RECEIVER: &str = "receiver-queued";
const ALL: &[&str] = &["bare", "sdk-memory", "sdk-sled", "sdk-fjall", RECEIVER];

/// The reference receiver: the same endpoint in config, relaying through its durable outbox
/// to a bare downstream on `downstream`.
fn receiver_config(dir: &std::path::Path, downstream: std::net::SocketAddr) -> String {
    format!(
        r#"
[store]
path = "{}"
[log]
level = "warn"
[[endpoint]]
name = "bench"
path = "/webhook"
envelope = "standard-webhooks"
ordering = "per-event-type"
[endpoint.verify]
kind = "standard-webhooks"
secrets = ["{}"]
[endpoint.relay]
mode = "queued"
method = "POST"
url = "http://{downstream}/webhook"
concurrency = 16
"#,
        dir.join("data").display(),
        bench::SECRET
    )
}

/// Starts the reference receiver (built beside this binary) and its downstream.
fn spawn_receiver(dir: &std::path::Path) -> (Vec<Child>, std::net::SocketAddr) {
    let (downstream, downstream_addr) = spawn_server("bare", dir);
    let file = dir.join("receiver.toml");
    std::fs::write(&file, receiver_config(dir, downstream_addr)).expect("write config");
    let binary = std::env::current_exe()
        .expect("own path")
        .with_file_name("reference-receiver");
    // Its log is quiet at `warn`, so it cannot announce a port 0 address: take a free port.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let child = Command::new(&binary)
        .args([
            "serve",
            "--config",
            file.to_str().expect("utf-8"),
            "--bind",
            &addr.to_string(),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e} (build it with --release)", binary.display()));
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the reference receiver did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (vec![child, downstream], addr)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        serve_command(&args[1..]).await;
        return;
    }
    let secs = arg(&args, "--secs", 10);
    let connections = arg(&args, "--connections", 64) as usize;
    let size = arg(&args, "--size", 1024) as usize;
    if args.first().map(String::as_str) == Some("load") {
        // Load only, against a server started elsewhere (e.g. under a profiler).
        let Some(addr) = args.get(1).and_then(|a| a.parse().ok()) else {
            eprintln!("usage: bench-e2e load <addr> [--secs S] [--connections C] [--size BYTES]");
            std::process::exit(2);
        };
        let (measured, outcomes) =
            bench::load(addr, connections, Duration::from_secs(secs), size).await;
        let line = serde_json::json!({ "measured": measured, "outcomes": outcomes });
        println!("{line}");
        return;
    }
    let rounds = arg(&args, "--rounds", 3);
    let only: Vec<&str> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').collect())
        .unwrap_or_default();
    let mut results: BTreeMap<&str, Vec<(Measured, u64)>> = BTreeMap::new();
    for round in 1..=rounds {
        // Alternate the ceiling with the others every round: the machine is shared and noisy.
        for name in ALL.iter().filter(|n| only.is_empty() || only.contains(n)) {
            let dir = tempfile::tempdir().expect("temp dir");
            let (mut children, addr) = if *name == RECEIVER {
                spawn_receiver(dir.path())
            } else {
                let (child, addr) = spawn_server(name, dir.path());
                (vec![child], addr)
            };
            // Warm up connections and caches before measuring.
            bench::load(addr, connections, Duration::from_secs(1), size).await;
            let (measured, outcomes) =
                bench::load(addr, connections, Duration::from_secs(secs), size).await;
            // Every delivery is new: a stale or duplicate answer would mean the shortcut was
            // timed, not the pipeline.
            assert_eq!(
                outcomes.stale + outcomes.duplicate,
                0,
                "{name}: deliveries answered stale or duplicate: {outcomes:?}"
            );
            let rss_kib = peak_rss_kib(children[0].id());
            for child in &mut children {
                let _ = child.kill();
                let _ = child.wait();
            }
            eprintln!(
                "round {round} {name:>12}: {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  non-2xx {}  peak RSS {} MiB",
                measured.requests_per_sec,
                measured.p50_ms,
                measured.p99_ms,
                measured.non_2xx,
                rss_kib / 1024
            );
            results.entry(name).or_default().push((measured, rss_kib));
        }
    }
    report(&results, rounds, secs, connections, size);
}

fn report(
    results: &BTreeMap<&str, Vec<(Measured, u64)>>,
    rounds: u64,
    secs: u64,
    connections: usize,
    size: usize,
) {
    let summary = |name: &str| {
        let runs = results.get(name).cloned().unwrap_or_default();
        (
            median(runs.iter().map(|(m, _)| m.requests_per_sec).collect()),
            median(runs.iter().map(|(m, _)| m.p50_ms).collect()),
            median(runs.iter().map(|(m, _)| m.p99_ms).collect()),
            runs.iter().map(|(_, rss)| *rss).max().unwrap_or(0),
            runs.iter().map(|(m, _)| m.non_2xx).sum::<u64>(),
        )
    };
    let (ceiling, ..) = summary("bare");
    println!(
        "\n{rounds} rounds x {secs} s, {connections} connections, {size}-byte bodies, medians:\n"
    );
    println!("| target | req/s | ratio to bare | p50 ms | p99 ms | peak RSS MiB | non-2xx |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut json = Vec::new();
    for name in ALL.iter().filter(|n| results.contains_key(*n)) {
        let (rps, p50, p99, rss, non_2xx) = summary(name);
        let ratio = if ceiling > 0.0 { rps / ceiling } else { 0.0 };
        println!(
            "| {name} | {rps:.0} | {ratio:.2} | {p50:.2} | {p99:.2} | {:.1} | {non_2xx} |",
            rss as f64 / 1024.0
        );
        json.push(serde_json::json!({
            "target": name, "requests_per_sec": rps, "ratio_to_bare": ratio,
            "p50_ms": p50, "p99_ms": p99, "peak_rss_mib": rss as f64 / 1024.0, "non_2xx": non_2xx,
        }));
    }
    let document = serde_json::json!({
        "rounds": rounds, "secs": secs, "connections": connections, "body_bytes": size,
        "results": json,
    });
    write_json("e2e.json", &document);
}

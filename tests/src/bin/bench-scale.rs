//! How cost grows: the scale benchmark. Run with `tests/bench/scale.sh` (release build).
//!
//! `bench-scale [--rounds N] [--secs S] [--connections C] [--only LIST]` measures, each
//! server under test in its own process (this binary's `serve` mode) against the load
//! generator in this process, as `bench-e2e` does:
//!
//! 1. `sizes`: throughput against body size (`--sizes 1024,16384,65536,262144,1000000`; the
//!    SDK's default body limit is 1 MiB) on bare axum, the SDK on memory and the SDK on sled:
//!    req/s, MB/s of bodies, p50, p99, ratio to bare at the same size, peak RSS.
//! 2. `entities`: throughput against the number of distinct entities (ordering keys) already in
//!    the store (`--entities 1,1000,100000,1000000`, bodies of `--size 1024` bytes) on the SDK
//!    on sled (prepopulated straight into its directory before the server starts) and on memory
//!    (prepopulated over HTTP after it starts). A probe older than a prepopulated mark must be
//!    answered `stale` (the keys match); then every delivery is newer than its entity's mark,
//!    and the answers are counted by outcome.
//! 3. `disk`: the sled directory's size after committing `--marks 1000000` marks with their
//!    delivery ids, after reopening it and after purging every delivery id; and the memory
//!    store's RSS growth for as many commits (in a child process).
//!
//! Figures are medians over rounds (outcomes are summed). Tables on stdout, progress on stderr,
//! JSON in `target/bench/scale.json`.
//!
//! Modes used by the benchmark itself: `bench-scale serve <target> <dir>` is a server under
//! test; `bench-scale memory-growth <commits>` prints its RSS before and after committing that
//! many deliveries into a memory store, as JSON.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use end_to_end::bench::{Measured, Outcomes};
use end_to_end::bench_process::{
    arg, median, own_rss_kib, peak_rss_kib, serve_command, spawn_server, write_json,
};
use end_to_end::scale::{self, KeyedLoad};
use receiver_sdk::store::{MemoryStore, SledStore, Store};
use serde_json::{json, Value};

const SIZE_TARGETS: &[&str] = &["bare", "sdk-memory", "sdk-sled"];
const ENTITY_TARGETS: &[&str] = &["sdk-memory", "sdk-sled"];
/// Concurrent commits when prepopulating a store, so sled's group commit shares its flushes.
const PREPOPULATE_CONCURRENCY: usize = 512;
const WARM_UP: Duration = Duration::from_secs(1);

/// The benchmark's options.
struct Options {
    rounds: u64,
    duration: Duration,
    connections: usize,
    size: usize,
    sizes: Vec<u64>,
    entities: Vec<u64>,
    marks: u64,
}

fn list(args: &[String], name: &str, default: &[u64]) -> Vec<u64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => return serve_command(&args[1..]).await,
        Some("memory-growth") => {
            let commits = args
                .get(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(1_000_000);
            return println!("{}", memory_growth(commits).await);
        }
        _ => {}
    }
    let options = Options {
        rounds: arg(&args, "--rounds", 1),
        duration: Duration::from_secs(arg(&args, "--secs", 6)),
        connections: arg(&args, "--connections", 64) as usize,
        size: arg(&args, "--size", 1024) as usize,
        sizes: list(
            &args,
            "--sizes",
            &[1024, 16 * 1024, 64 * 1024, 256 * 1024, 1_000_000],
        ),
        entities: list(&args, "--entities", &[1, 1_000, 100_000, 1_000_000]),
        marks: arg(&args, "--marks", 1_000_000),
    };
    let only: Vec<&str> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').collect())
        .unwrap_or_else(|| vec!["sizes", "entities", "disk"]);
    let mut document = json!({
        "rounds": options.rounds, "secs": options.duration.as_secs(),
        "connections": options.connections,
    });
    if only.contains(&"sizes") {
        document["body_size"] = body_sizes(&options).await;
    }
    if only.contains(&"entities") {
        document["entities"] = entities(&options).await;
    }
    if only.contains(&"disk") {
        document["disk"] = disk(options.marks).await;
    }
    write_json("scale.json", &document);
}

/// A server process, killed when dropped (also when a measurement fails).
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server `name` on `dir`, runs `measure` against it, and returns what it measured
/// with the server's peak RSS in KiB.
async fn with_server<T, F>(
    name: &str,
    dir: &Path,
    measure: impl FnOnce(SocketAddr) -> F,
) -> (T, u64)
where
    F: Future<Output = T>,
{
    let (child, addr) = spawn_server(name, dir);
    let server = ServerProcess(child);
    let measured = measure(addr).await;
    (measured, peak_rss_kib(server.0.id()))
}

/// One measured point: what the load measured, its outcomes and the server's peak RSS (KiB).
#[derive(Debug, Clone)]
struct Point {
    measured: Measured,
    outcomes: Outcomes,
    rss_kib: u64,
    prepopulate_secs: f64,
}

/// Medians of the points of one row over rounds; outcomes summed, RSS the highest.
struct Row {
    rps: f64,
    p50: f64,
    p99: f64,
    rss_mib: f64,
    non_2xx: u64,
    outcomes: Outcomes,
    prepopulate_secs: f64,
}

impl Row {
    fn of(points: &[Point]) -> Self {
        let pick = |f: fn(&Point) -> f64| median(points.iter().map(f).collect());
        let mut outcomes = Outcomes::default();
        for point in points {
            outcomes.add(point.outcomes);
        }
        Self {
            rps: pick(|p| p.measured.requests_per_sec),
            p50: pick(|p| p.measured.p50_ms),
            p99: pick(|p| p.measured.p99_ms),
            rss_mib: points.iter().map(|p| p.rss_kib).max().unwrap_or(0) as f64 / 1024.0,
            non_2xx: points.iter().map(|p| p.measured.non_2xx).sum(),
            outcomes,
            prepopulate_secs: pick(|p| p.prepopulate_secs),
        }
    }
}

fn progress(round: u64, what: &str, point: &Point) {
    let (m, o) = (&point.measured, &point.outcomes);
    eprintln!(
        "round {round} {what:>24}: {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  non-2xx {}  \
         handled {} stale {} duplicate {} other {}  peak RSS {} MiB",
        m.requests_per_sec,
        m.p50_ms,
        m.p99_ms,
        m.non_2xx,
        o.handled,
        o.stale,
        o.duplicate,
        o.other,
        point.rss_kib / 1024
    );
}

async fn body_sizes(options: &Options) -> Value {
    let connections = options.connections;
    let mut points: BTreeMap<(u64, &str), Vec<Point>> = BTreeMap::new();
    for round in 1..=options.rounds {
        for &size in &options.sizes {
            for &name in SIZE_TARGETS {
                let dir = tempfile::tempdir().expect("temp dir");
                let size = size as usize;
                let ((measured, outcomes), rss_kib) =
                    with_server(name, dir.path(), |addr| async move {
                        // One counter for the warm-up and the measurement: no id is sent twice.
                        let load = KeyedLoad::unique(size);
                        load.drive(addr, connections, WARM_UP).await;
                        load.drive(addr, connections, options.duration).await
                    })
                    .await;
                assert_eq!(outcomes.duplicate + outcomes.stale, 0, "{outcomes:?}");
                let point = Point {
                    measured,
                    outcomes,
                    rss_kib,
                    prepopulate_secs: 0.0,
                };
                progress(round, &format!("{name} {size} B"), &point);
                points.entry((size as u64, name)).or_default().push(point);
            }
        }
    }
    println!(
        "\n## Throughput against body size\n\n{} round(s) x {} s, {connections} connections, \
         medians:\n",
        options.rounds,
        options.duration.as_secs()
    );
    println!("| body bytes | target | req/s | MB/s of bodies | ratio to bare | p50 ms | p99 ms | peak RSS MiB | non-2xx |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for &size in &options.sizes {
        let bare = Row::of(points.get(&(size, "bare")).map_or(&[], Vec::as_slice)).rps;
        for &name in SIZE_TARGETS {
            let row = Row::of(points.get(&(size, name)).map_or(&[], Vec::as_slice));
            let mb_per_sec = row.rps * size as f64 / 1e6;
            let ratio = if bare > 0.0 { row.rps / bare } else { 0.0 };
            println!(
                "| {size} | {name} | {:.0} | {mb_per_sec:.1} | {ratio:.2} | {:.2} | {:.2} | {:.1} | {} |",
                row.rps, row.p50, row.p99, row.rss_mib, row.non_2xx
            );
            rows.push(json!({
                "body_bytes": size, "target": name, "requests_per_sec": row.rps,
                "mb_per_sec": mb_per_sec, "ratio_to_bare": ratio, "p50_ms": row.p50,
                "p99_ms": row.p99, "peak_rss_mib": row.rss_mib, "non_2xx": row.non_2xx,
            }));
        }
    }
    json!({ "connections": connections, "results": rows })
}

/// Prepopulates a sled directory with deliveries `0..entities` over `entities` entities and
/// returns how long it took, in seconds.
async fn prepopulate_sled(dir: &Path, entities: u64) -> f64 {
    let started = Instant::now();
    let store = Arc::new(SledStore::open(dir).expect("open sled"));
    scale::prepopulate(store, entities, entities, PREPOPULATE_CONCURRENCY)
        .await
        .expect("prepopulate sled");
    // Every task has ended, so the store is dropped here and its directory released.
    started.elapsed().as_secs_f64()
}

/// One point of the entities sweep on `name` with `entities` entities already in the store.
async fn entity_point(options: &Options, name: &str, entities: u64) -> Point {
    let dir = tempfile::tempdir().expect("temp dir");
    let sled = name == "sdk-sled";
    let mut prepopulate_secs = if sled {
        prepopulate_sled(dir.path(), entities).await
    } else {
        0.0
    };
    let (connections, size) = (options.connections, options.size);
    let ((measured, outcomes, over_http), rss_kib) =
        with_server(name, dir.path(), |addr| async move {
            let mut over_http = 0.0;
            if !sled {
                // The memory store lives in the server: prepopulate it with the same deliveries.
                let started = Instant::now();
                let prepopulating = KeyedLoad::new(entities, size, 0).until(entities);
                let (_, outcomes) = prepopulating
                    .drive(addr, connections, Duration::from_secs(3_600))
                    .await;
                assert_eq!(
                    outcomes.handled, entities,
                    "prepopulating over HTTP: {outcomes:?}"
                );
                over_http = started.elapsed().as_secs_f64();
            }
            let probe = scale::probe_stale(addr).await;
            assert_eq!(
                (probe.stale, probe.handled),
                (1, 0),
                "a delivery older than a prepopulated mark must be stale: the keys do not match"
            );
            let load = KeyedLoad::new(entities, size, entities);
            let (_, warm) = load.drive(addr, connections, WARM_UP).await;
            // With fewer entities than connections, deliveries for one entity overtake each
            // other on their way to its lock, and the overtaken ones are rightly stale.
            assert!(
                warm.handled > 0
                    && (entities <= connections as u64 || warm.stale * 10 < warm.handled),
                "deliveries newer than their marks must be handled: {warm:?}"
            );
            let (measured, outcomes) = load.drive(addr, connections, options.duration).await;
            (measured, outcomes, over_http)
        })
        .await;
    prepopulate_secs += over_http;
    Point {
        measured,
        outcomes,
        rss_kib,
        prepopulate_secs,
    }
}

async fn entities(options: &Options) -> Value {
    let mut points: BTreeMap<(u64, &str), Vec<Point>> = BTreeMap::new();
    for round in 1..=options.rounds {
        for &entities in &options.entities {
            for &name in ENTITY_TARGETS {
                let point = entity_point(options, name, entities).await;
                progress(round, &format!("{name} {entities} entities"), &point);
                points.entry((entities, name)).or_default().push(point);
            }
        }
    }
    println!(
        "\n## Throughput against distinct entities in the store\n\n{} round(s) x {} s, {} \
         connections, {}-byte bodies, medians (outcomes summed); sled prepopulated in its \
         directory, memory over HTTP:\n",
        options.rounds,
        options.duration.as_secs(),
        options.connections,
        options.size
    );
    println!("| entities | target | prepopulate s | req/s | p50 ms | p99 ms | peak RSS MiB | handled | stale | duplicate | other |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for &entities in &options.entities {
        for &name in ENTITY_TARGETS {
            let row = Row::of(points.get(&(entities, name)).map_or(&[], Vec::as_slice));
            let o = row.outcomes;
            println!(
                "| {entities} | {name} | {:.1} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} |",
                row.prepopulate_secs,
                row.rps,
                row.p50,
                row.p99,
                row.rss_mib,
                o.handled,
                o.stale,
                o.duplicate,
                o.other
            );
            rows.push(json!({
                "entities": entities, "target": name, "prepopulate_secs": row.prepopulate_secs,
                "requests_per_sec": row.rps, "p50_ms": row.p50, "p99_ms": row.p99,
                "peak_rss_mib": row.rss_mib, "outcomes": o,
            }));
        }
    }
    json!({ "connections": options.connections, "body_bytes": options.size, "results": rows })
}

/// This process's RSS before and after committing `commits` deliveries (over as many
/// entities) into a memory store, as JSON.
async fn memory_growth(commits: u64) -> Value {
    let before = own_rss_kib();
    let store = Arc::new(MemoryStore::new());
    scale::prepopulate(Arc::clone(&store), commits, commits, 64)
        .await
        .expect("memory store");
    let after = own_rss_kib();
    let last = store.mark(&scale::ordering_key(commits - 1)).await;
    assert!(matches!(last, Ok(Some(_))), "the last mark is in the store");
    json!({ "commits": commits, "rss_before_kib": before, "rss_after_kib": after })
}

async fn disk(marks: u64) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut states = Vec::new();
    let mut measure = |state: &str, secs: f64| {
        let (files, allocated) = scale::dir_size(dir.path()).expect("directory size");
        eprintln!("disk {state}: {files} bytes in files, {allocated} allocated ({secs:.1} s)");
        states.push((state.to_owned(), files, allocated, secs));
    };
    let secs = prepopulate_sled(dir.path(), marks).await;
    measure("committed", secs);
    let started = Instant::now();
    {
        let store = SledStore::open(dir.path()).expect("reopen");
        let last = store.mark(&scale::ordering_key(marks - 1)).await;
        assert!(
            matches!(last, Ok(Some(_))),
            "the last mark survives reopening"
        );
    }
    measure("reopened", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let purged = {
        let store = SledStore::open(dir.path()).expect("reopen");
        let later = scale::unix_now().saturating_add(Duration::from_secs(10 * 24 * 60 * 60));
        store.purge_expired(later, usize::MAX).await.expect("purge")
    };
    assert_eq!(purged as u64, marks, "every delivery id purged");
    measure("delivery ids purged", started.elapsed().as_secs_f64());

    let output = Command::new(std::env::current_exe().expect("own path"))
        .args(["memory-growth", &marks.to_string()])
        .output()
        .expect("memory-growth child");
    let memory: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let kib = |field: &str| memory[field].as_u64().unwrap_or(0);
    let growth = kib("rss_after_kib").saturating_sub(kib("rss_before_kib")) * 1024;
    let per_million = |bytes: u64| bytes as f64 / marks as f64 * 1e6 / (1024.0 * 1024.0);

    println!(
        "\n## Disk per million ordering marks\n\n{marks} marks with their delivery ids committed \
         into a fresh sled store ({PREPOPULATE_CONCURRENCY} concurrent commits):\n"
    );
    println!("| sled directory | bytes in files | du bytes | bytes per mark (files) | bytes per mark (du) | MiB per million (du) | took s |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for (state, files, allocated, secs) in &states {
        let (per_file, per_du) = (
            *files as f64 / marks as f64,
            *allocated as f64 / marks as f64,
        );
        println!(
            "| {state} | {files} | {allocated} | {per_file:.0} | {per_du:.0} | {:.1} | {secs:.1} |",
            per_million(*allocated)
        );
        rows.push(json!({
            "state": state, "file_bytes": files, "du_bytes": allocated,
            "bytes_per_mark_files": per_file, "bytes_per_mark_du": per_du, "secs": secs,
        }));
    }
    println!(
        "\nMemory store, {marks} commits in a fresh process: RSS {:.1} -> {:.1} MiB, {:.1} MiB \
         per million ({:.0} bytes per commit)",
        kib("rss_before_kib") as f64 / 1024.0,
        kib("rss_after_kib") as f64 / 1024.0,
        per_million(growth),
        growth as f64 / marks as f64
    );
    json!({
        "marks": marks, "sled": rows, "purged": purged, "memory_store": memory,
        "memory_growth_mib_per_million": per_million(growth),
    })
}

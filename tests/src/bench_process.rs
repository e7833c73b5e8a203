//! The benchmark binaries' process plumbing: each server under test runs in its own process
//! (the benchmark binary itself, in its `serve <target> <dir>` mode), and is measured from
//! outside: its address on its first stdout line, its peak RSS from `/proc`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::bench::{self, Target};

/// The in-process servers by the names the benchmarks use on their command lines.
pub const TARGETS: &[(&str, Target)] = &[
    ("bare", Target::Bare),
    ("sdk-memory", Target::SdkMemory),
    ("sdk-sled", Target::SdkSled),
    ("sdk-fjall", Target::SdkFjall),
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The `serve <target> <dir>` mode, given the arguments after `serve`: prints the address on
/// stdout and serves until killed. Exits with status 2 on a bad command line.
pub async fn serve_command(args: &[String]) {
    let (Some(name), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: serve <target> <dir>");
        std::process::exit(2);
    };
    let Some(target) = target(name) else {
        eprintln!("unknown target {name}");
        std::process::exit(2);
    };
    let app = bench::app(target, Path::new(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("{}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}

/// Starts this binary's `serve name dir` in a child process and returns it with its address.
pub fn spawn_server(name: &str, dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["serve", name, dir.to_str().expect("utf-8 dir")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server address");
    (child, line.trim().parse().expect("address"))
}

/// The process's peak resident set (VmHWM), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(&format!("/proc/{pid}/status"), "VmHWM:")
}

/// This process's current resident set (VmRSS), in KiB.
pub fn own_rss_kib() -> u64 {
    status_kib("/proc/self/status", "VmRSS:")
}

fn status_kib(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The median of `values` (the upper one of an even count; 0 when empty).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The number after the option `name` in `args`, or `default`.
pub fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `document` as pretty JSON to `target/bench/<file>` and says where on stdout.
pub fn write_json(file: &str, document: &serde_json::Value) {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let _ = std::fs::create_dir_all(&out);
    let path = out.join(file);
    match std::fs::write(
        &path,
        serde_json::to_vec_pretty(document).unwrap_or_default(),
    ) {
        Ok(()) => println!("\nwritten to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

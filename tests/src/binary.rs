//! The `reference-receiver` binary as a child process: find it, start it, read its log, kill it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary to run: `$REFERENCE_RECEIVER_BIN` if set, else the one cargo builds beside this
/// test or binary. `cargo build -p reference-receiver` runs once per process first (a no-op when
/// it is up to date), so `cargo test -p end-to-end` alone never runs a stale binary.
pub fn reference_receiver() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(path) = std::env::var_os("REFERENCE_RECEIVER_BIN") {
        return PathBuf::from(path);
    }
    BUILT.get_or_init(build_reference_receiver).clone()
}

fn build_reference_receiver() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    // Tests run from target/<profile>/deps/, binaries from target/<profile>/.
    let mut profile_dir = exe.parent().expect("executable in a directory");
    if profile_dir.file_name().is_some_and(|name| name == "deps") {
        profile_dir = profile_dir.parent().expect("target/<profile>");
    }
    let binary = profile_dir.join(format!(
        "reference-receiver{}",
        std::env::consts::EXE_SUFFIX
    ));
    {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.args([
            "build",
            "-p",
            "reference-receiver",
            "--bin",
            "reference-receiver",
        ]);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            command.arg("--release");
        }
        let status = command.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p reference-receiver failed");
    }
    binary
}

/// A running receiver; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Running {
    /// The child process.
    pub child: Child,
    /// `http://127.0.0.1:<port>` from its `listening on` line.
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// Everything it printed so far, stdout and stderr, one line each.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// The process's resident memory now, in KiB (`VmRSS` in `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        rss_kib_of(self.child.id()).expect("a VmRSS line in /proc/<pid>/status")
    }

    /// Its open file descriptors now (`/proc/<pid>/fd`).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }

    /// `kill -9`: the process gets no chance to flush or clean up.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// The resident memory of process `pid` in KiB (`VmRSS` in `/proc/<pid>/status`); None once it
/// has exited.
pub fn rss_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs the binary with `args` in `dir` to completion: exit success, stdout, stderr.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(reference_receiver())
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("run the binary");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts `<binary> serve --config <config>` plus `extra` args in `dir`, and waits for its
/// `listening on` line.
pub fn serve(
    binary: &Path,
    dir: &Path,
    config: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Running {
    serve_wrapped(&[], binary, dir, config, extra, env)
}

/// Like [`serve`], run through `wrapper` (a command that execs the rest, such as
/// `prlimit --nofile=1024:1024 --`), so the child's pid is the receiver's own.
pub fn serve_wrapped(
    wrapper: &[&str],
    binary: &Path,
    dir: &Path,
    config: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Running {
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    let mut child = command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .args(extra)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let streams: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("stdout")),
        Box::new(child.stderr.take().expect("stderr")),
    ];
    for stream in streams {
        let (log, tx) = (Arc::clone(&log), tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on ") {
                    let url = line[at + "listening on ".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default();
                    let _ = tx.send(url.to_owned());
                }
                log.lock().expect("log lock").push(line);
            }
        });
    }
    let started = Instant::now();
    loop {
        if let Ok(base) = rx.recv_timeout(Duration::from_millis(50)) {
            return Running { child, base, log };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "reference-receiver exited with {status}: {}",
                log.lock().expect("log lock").join("\n")
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no `listening on` line: {}",
            log.lock().expect("log lock").join("\n")
        );
    }
}

//! The binary as users run it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `reference-receiver serve` with no config in `dir` and returns the base URL it
/// announces.
fn serve_on_defaults(dir: &std::path::Path) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RECEIVER_DATA")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read log line");
        if let Some(at) = line.find("http://") {
            let url = line[at..].split_whitespace().next().expect("url");
            return (running, url.to_owned());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no listening line"
        );
    }
    panic!("the binary exited without announcing its address");
}

#[tokio::test]
async fn serve_with_no_config_answers_head_and_post_and_keeps_data_in_dot_data() {
    let dir = tempfile::tempdir().unwrap();
    let (_running, base) = serve_on_defaults(dir.path());
    let url = format!("{base}/webhook");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    assert_eq!(client.head(&url).send().await.unwrap().status(), 200);
    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"hello":"world"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-webhook-outcome"], "handled");
    let retry = client
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"hello":"world"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.headers()["x-webhook-outcome"], "duplicate");
    assert!(
        dir.path().join("data").is_dir(),
        "sled data lives in ./data"
    );
}

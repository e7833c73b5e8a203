//! SIGTERM under load: what was acknowledged stays acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::common::{self, post, serve_config, FakeApi};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_load_loses_nothing_acknowledged_and_refuses_new_connections() {
    let downstream = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let base = downstream.start().await;
    let config = format!(
        r#"
[[endpoint]]
name = "jobs"
path = "/hooks/jobs"
envelope = "integration"
[endpoint.relay]
url = "{base}/jobs/{{{{ entity }}}}"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let mut running = serve_config(dir.path(), &config, &[]);
    let url = format!("{}/hooks/jobs", running.base);
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..8)
        .map(|sender| {
            let (url, stop) = (url.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let id = format!("job-{sender}-{n}");
                    let body = format!(
                        r#"{{"id":"{id}","entityType":"JOB","eventType":"UPDATE","timestamp":"2024-01-01T00:00:00Z"}}"#
                    );
                    match common::client()
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                    {
                        Ok(response) if response.status().is_success() => acknowledged.push(body),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = running.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = running.child.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::SeqCst);
    assert!(exit.success(), "exit status {exit}: {}", running.log());
    assert!(running.log().contains("store flushed"), "{}", running.log());

    let mut acknowledged = Vec::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    assert!(acknowledged.len() > 10, "load ran: {}", acknowledged.len());
    let relayed: std::collections::HashSet<Vec<u8>> = downstream
        .seen()
        .into_iter()
        .map(|s| s.body.to_vec())
        .collect();
    for body in &acknowledged {
        assert!(
            relayed.contains(body.as_bytes()),
            "acknowledged but not relayed: {body}"
        );
    }
    // New connections are refused once it has stopped.
    assert!(common::client().head(&url).send().await.is_err());

    // Restarted on the same data, every acknowledged delivery is known: none runs twice.
    drop(running);
    let running = serve_config(dir.path(), &config, &[]);
    let url = format!("{}/hooks/jobs", running.base);
    let before = downstream.seen().len();
    for body in acknowledged.iter().take(50) {
        let (status, outcome, _) = post(&url, body, &[]).await;
        assert_eq!((status, outcome.as_str()), (200, "duplicate"), "{body}");
    }
    assert_eq!(downstream.seen().len(), before);
    eprintln!(
        "sigterm: {} acknowledged, {} relayed, 0 lost",
        acknowledged.len(),
        relayed.len()
    );
}

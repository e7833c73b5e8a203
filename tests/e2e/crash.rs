//! The short crash test (two SIGKILLs under load against the debug binary); the long one is
//! `tests/scripts/crash-test.sh`.

use std::time::Duration;

use end_to_end::crash::{run, CrashConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_delivery() {
    let report = run(CrashConfig {
        binary: end_to_end::binary::reference_receiver(),
        workers: 8,
        kills: 2,
        alive_ms: (300, 800),
        seed: 0x5eed,
    })
    .await;
    eprintln!("{report}");
    assert!(report.acknowledged > 50, "load ran: {report}");
    assert_eq!(report.kills, 3);
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.out_of_order, 0, "{report}");
    assert_eq!(report.duplicates_confirmed, report.acknowledged);
}

/// The SDK endpoint on the fjall store (`bench-e2e serve sdk-fjall`, the debug build): every
/// delivery answered 2xx before a `kill -9` under load is answered `duplicate` after a restart
/// on the same directory, so each 2xx came after its commit was on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fjall_keeps_every_acknowledged_delivery_through_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = serve_fjall(dir.path());
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for n in 1.. {
                    match send(&client, addr, worker, n).await {
                        Some((200, outcome)) => {
                            assert_eq!(outcome, "handled");
                            acknowledged.push(n);
                        }
                        Some((status, outcome)) => panic!("answered {status} {outcome}"),
                        // The server is gone.
                        None => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let mut acknowledged = Vec::new();
    for (worker, task) in workers.into_iter().enumerate() {
        acknowledged.extend(task.await.unwrap().into_iter().map(|n| (worker, n)));
    }
    eprintln!(
        "fjall: {} deliveries acknowledged before kill -9",
        acknowledged.len()
    );
    assert!(acknowledged.len() > 50, "load ran: {}", acknowledged.len());

    let (mut server, addr) = serve_fjall(dir.path());
    let mut lost = Vec::new();
    for &(worker, n) in &acknowledged {
        let answer = send(&client, addr, worker, n).await;
        if answer != Some((200, "duplicate".into())) {
            lost.push((worker, n, answer));
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged deliveries lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
}

/// Starts `bench-e2e serve sdk-fjall <dir>` and reads the address it prints.
fn serve_fjall(dir: &std::path::Path) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bench-e2e"))
        .args(["serve", "sdk-fjall"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start bench-e2e serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server address");
    let addr = line.trim().parse().expect("address");
    (child, addr)
}

/// Sends delivery `n` of `worker` (the load benchmark's signed Standard Webhooks delivery):
/// its status and outcome, or `None` when no answer came.
async fn send(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    worker: usize,
    n: u64,
) -> Option<(u16, String)> {
    let (id, timestamp, signature, body) = end_to_end::bench::delivery(0, worker, n, 256);
    let request = client
        .post(format!("http://{addr}/webhook"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body);
    match end_to_end::senders::send(request).await {
        (Some(status), outcome) => Some((status, outcome)),
        (None, _) => None,
    }
}

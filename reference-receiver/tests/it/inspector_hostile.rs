//! The inspector against what any sender who knows a bin URL can send: odd methods, the
//! operator's own cookie, big bodies and headers, and retention settings past the limits.

use axum::http::StatusCode;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::common::FakeApi;
use crate::inspector_support::{self, client, header_pairs, plant, Served, EVIL_METHOD};

async fn replay(served: &Served, token: &str, id: u64, url: &str) -> (u16, Value) {
    let response = client()
        .post(served.url(&format!("/api/bins/{token}/requests/{id}/replay")))
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn text(served: &Served, path: &str) -> (reqwest::header::HeaderMap, String) {
    let response = client().get(served.url(path)).send().await.unwrap();
    assert!(response.status().is_success(), "GET {path}");
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

#[tokio::test]
async fn regression_replay_refuses_a_method_outside_capital_letters() {
    let target = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let target_base = target.start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    let id = plant(&served.base, &token, EVIL_METHOD, b"{}").await;
    let (status, answer) = replay(&served, &token, id, &format!("{target_base}/x")).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("capital letters"),
        "{answer}"
    );
    assert!(target.seen().is_empty());
}

#[tokio::test]
async fn regression_replay_refuses_link_local_and_metadata_addresses_in_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    let id = plant(&served.base, &token, "POST", b"{}").await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
    ] {
        let (status, answer) = replay(&served, &token, id, url).await;
        assert_eq!(status, 403, "{url}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("link-local"),
            "{url}: {answer}"
        );
    }
}

#[tokio::test]
async fn regression_the_inspector_cookie_is_never_captured_shown_exported_or_replayed() {
    const SESSION: &str = "f4ca4186f14eb54ef27d98a8f1a0bcf4";
    let target = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let target_base = target.start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    let stream = client()
        .get(served.url(&format!("/api/bins/{token}/stream")))
        .send()
        .await
        .unwrap();
    let answer = client()
        .post(served.url(&format!("/in/{token}")))
        .header(
            "cookie",
            format!("theme=dark; receiver_inspector={SESSION}; lang=en"),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    let id: u64 = answer.headers()["x-inspector-capture"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();

    let capture = served.capture(&token, id).await;
    let cookies: Vec<_> = header_pairs(&capture)
        .into_iter()
        .filter(|(name, _)| name == "cookie")
        .collect();
    assert_eq!(cookies, [("cookie".into(), "theme=dark; lang=en".into())]);
    for path in [
        format!("/api/bins/{token}/requests"),
        format!("/api/bins/{token}/requests/{id}"),
        format!("/api/bins/{token}/har"),
        format!("/api/bins/{token}/har?id={id}"),
    ] {
        let (_, shown) = text(&served, &path).await;
        assert!(!shown.contains(SESSION), "{path}: {shown}");
    }
    let mut live = stream.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("event: capture") || !seen.contains("\n\n") {
        seen.push_str(&String::from_utf8_lossy(
            &live.next().await.unwrap().unwrap(),
        ));
    }
    assert!(!seen.contains(SESSION), "{seen}");

    let (status, _) = replay(&served, &token, id, &format!("{target_base}/third-party")).await;
    assert_eq!(status, 200);
    let got = target.seen();
    assert_eq!(got[0].headers["cookie"], "theme=dark; lang=en");
}

#[tokio::test]
async fn regression_listings_carry_no_bodies_and_stop_at_a_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    // Heads of 160 KiB need more than the server's default header limit.
    let config = inspector_support::config(
        dir.path(),
        "[server]\nbind = \"127.0.0.1:0\"\nmax_header_bytes = 262144\n",
    );
    let served = Served::config(config).await;
    let token = served.new_bin(json!({})).await;
    let url = served.url(&format!("/in/{token}"));
    // About 160 KiB of headers each: 30 of them weigh more than a page may carry.
    let big = "h".repeat(8 * 1024);
    for i in 0..30 {
        let mut request = client().post(&url).body(format!("{{\"n\":{i}}}"));
        for h in 0..20 {
            request = request.header(format!("x-big-{h}"), &big);
        }
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
    let mut listed = Vec::new();
    let mut pages = 0;
    let mut before = String::new();
    loop {
        let (_, body) = text(
            &served,
            &format!("/api/bins/{token}/requests?limit=500{before}"),
        )
        .await;
        assert!(
            body.len() < 5 * 1024 * 1024,
            "a page of {} bytes",
            body.len()
        );
        let page: Value = serde_json::from_str(&body).unwrap();
        pages += 1;
        for capture in page["requests"].as_array().unwrap() {
            assert!(capture.get("body_base64").is_none(), "a body in a listing");
            listed.push(capture["id"].as_u64().unwrap());
        }
        match page["next_before"].as_u64() {
            Some(next) => before = format!("&before={next}"),
            None => break,
        }
    }
    assert!(pages > 1);
    listed.dedup();
    assert_eq!(listed.len(), 30);
    let one = served.capture(&token, listed[0]).await;
    assert!(one["body_base64"].is_string());
}

#[tokio::test]
async fn regression_the_stream_can_send_metadata_without_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    let stream = client()
        .get(served.url(&format!("/api/bins/{token}/stream?body=false")))
        .send()
        .await
        .unwrap();
    client()
        .post(served.url(&format!("/in/{token}")))
        .body(vec![b'x'; 100_000])
        .send()
        .await
        .unwrap();
    let mut live = stream.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("event: capture") || !seen.ends_with("\n\n") {
        seen.push_str(&String::from_utf8_lossy(
            &live.next().await.unwrap().unwrap(),
        ));
    }
    let data = seen
        .lines()
        .find_map(|l| l.strip_prefix("data: ").filter(|d| d.contains("\"size\"")))
        .unwrap();
    let capture: Value = serde_json::from_str(data).unwrap();
    assert_eq!(capture["size"], 100_000);
    assert!(capture.get("body_base64").is_none());
    assert!(seen.len() < 10_000, "{} bytes", seen.len());
}

#[tokio::test]
async fn regression_har_export_is_streamed_and_holds_every_capture() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    for i in 0..40 {
        client()
            .post(served.url(&format!("/in/{token}")))
            .body(format!("{{\"n\":{i}}}"))
            .send()
            .await
            .unwrap();
    }
    let (headers, body) = text(&served, &format!("/api/bins/{token}/har")).await;
    // Streamed: no length is known before the last entry is written.
    assert!(headers.get("content-length").is_none(), "{headers:?}");
    let har: Value = serde_json::from_str(&body).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 40);
    assert_eq!(entries[0]["request"]["postData"]["text"], "{\"n\":39}");
    assert_eq!(entries[39]["request"]["postData"]["text"], "{\"n\":0}");
}

#[tokio::test]
async fn regression_retention_above_the_inspector_limits_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    for (spec, key) in [
        (
            json!({"alias": "forever", "max_age_secs": u64::MAX}),
            "inspector.max_age_secs",
        ),
        (
            json!({"alias": "huge", "max_captures": 1_000_000_000u64}),
            "inspector.max_captures",
        ),
    ] {
        let response = client()
            .post(served.url("/api/bins"))
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let answer: Value = response.json().await.unwrap();
        assert!(answer["error"].as_str().unwrap().contains(key), "{answer}");
    }
    let token = served.new_bin(json!({})).await;
    let patched = client()
        .patch(served.url(&format!("/api/bins/{token}")))
        .json(&json!({"max_age_secs": u64::MAX}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 400);
}

/// A Sonar event for entity 42 at `at`.
fn sonar(at: &str) -> String {
    json!({"event": "account.status", "object_id": 42,
           "current": {"created_at": at, "status": "x"}})
    .to_string()
}

async fn post_sonar(served: &Served, token: &str, at: &str) -> u64 {
    let answer = client()
        .post(served.url(&format!("/in/{token}")))
        .header("content-type", "application/json")
        .body(sonar(at))
        .send()
        .await
        .unwrap();
    answer.headers()["x-inspector-capture"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn outcome(served: &Served, token: &str, id: u64) -> String {
    let capture = served.capture(token, id).await;
    capture["verdicts"]["outcome"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn regression_would_be_ordering_marks_go_when_their_captures_are_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served
        .new_bin(json!({"envelope": "sonar", "max_captures": 2}))
        .await;
    post_sonar(&served, &token, "2024-05-01T10:00:00Z").await;
    for _ in 0..2 {
        client()
            .post(served.url(&format!("/in/{token}")))
            .body("not sonar")
            .send()
            .await
            .unwrap();
    }
    // The capture that set the mark is gone, and its mark with it.
    let late = post_sonar(&served, &token, "2024-05-01T09:00:00Z").await;
    assert_eq!(outcome(&served, &token, late).await, "handled");
}

#[tokio::test]
async fn regression_would_be_ordering_marks_go_when_their_capture_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"envelope": "sonar"})).await;
    let first = post_sonar(&served, &token, "2024-05-01T10:00:00Z").await;
    let stale = post_sonar(&served, &token, "2024-05-01T09:00:00Z").await;
    assert_eq!(outcome(&served, &token, stale).await, "stale");
    let deleted = client()
        .delete(served.url(&format!("/api/bins/{token}/requests/{first}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let again = post_sonar(&served, &token, "2024-05-01T09:00:00Z").await;
    assert_eq!(outcome(&served, &token, again).await, "handled");
}

#[tokio::test]
async fn regression_would_be_ordering_marks_go_when_their_captures_age_out() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "[inspector]\nprune_interval_secs = 1\n").await;
    let token = served
        .new_bin(json!({"envelope": "sonar", "max_age_secs": 1}))
        .await;
    post_sonar(&served, &token, "2024-05-01T10:00:00Z").await;
    // Waits for the pruner to take the capture (it runs every second).
    while !served.requests(&token, "").await.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Kept long enough now to be read back.
    let patched = client()
        .patch(served.url(&format!("/api/bins/{token}")))
        .json(&json!({"max_age_secs": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let late = post_sonar(&served, &token, "2024-05-01T09:00:00Z").await;
    assert_eq!(outcome(&served, &token, late).await, "handled");
}

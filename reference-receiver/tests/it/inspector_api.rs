//! The inspector's JSON API over loopback: capture, exact bytes, answers, retention, the event
//! stream, replay and the admin token.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::common::FakeApi;
use crate::inspector_support::{
    self, client, header_pairs, standard_webhooks_bin, standard_webhooks_headers, Served,
};

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn json_form_multipart_and_binary_bodies_come_back_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    let url = served.url(&format!("/in/{token}"));
    let multipart: &[u8] =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\x00\x01\xfe\xff\r\n--XyZ--\r\n";
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        // Odd spacing and key order, which a re-serialisation would lose.
        (
            "application/json",
            b"{ \"b\":1,  \"a\":[1.50, 2e3] }\n".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"name=Ada+L&lang=en%2Fgb".to_vec(),
        ),
        ("multipart/form-data; boundary=XyZ", multipart.to_vec()),
        ("application/octet-stream", (0..=255u8).rev().collect()),
    ];
    for (content_type, body) in &bodies {
        let response = client()
            .post(&url)
            .header("content-type", *content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let captures = served.requests(&token, "").await;
    assert_eq!(captures.len(), 4);
    for (capture, (content_type, body)) in captures.iter().rev().zip(&bodies) {
        let id = capture["id"].as_u64().unwrap();
        assert_eq!(&served.raw(&token, id).await, body, "{content_type}");
        let one = served.capture(&token, id).await;
        assert_eq!(one["body_base64"], base64(body), "{content_type}");
        assert_eq!(capture["size"], body.len() as u64);
    }
}

#[tokio::test]
async fn method_path_query_repeated_headers_remote_address_and_time_are_captured() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"alias": "my-hook"})).await;
    assert_eq!(token, "my-hook");
    let before = chrono::Utc::now();
    let response = client()
        .put(served.url("/in/my-hook/orders/7?x=1&x=2"))
        .header("x-trace", "first")
        .header("x-other", "between")
        .header("x-trace", "second")
        .header("x-trace", "third")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-inspector-capture"]
        .to_str()
        .unwrap()
        .to_owned();
    let capture: Value = served
        .get_json(&format!("/api/bins/my-hook/requests/{id}"))
        .await;
    assert_eq!(capture["method"], "PUT");
    assert_eq!(capture["path"], "/in/my-hook/orders/7");
    assert_eq!(capture["query"], "x=1&x=2");
    let traces: Vec<String> = header_pairs(&capture)
        .into_iter()
        .filter(|(name, _)| name == "x-trace")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(traces, ["first", "second", "third"]);
    assert!(capture["remote_addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    let at: chrono::DateTime<chrono::Utc> =
        capture["received_at"].as_str().unwrap().parse().unwrap();
    assert!(at >= before && at <= chrono::Utc::now());
    assert_eq!(capture["verdicts"]["outcome"], "method_not_allowed");
}

#[tokio::test]
async fn head_is_answered_200_and_unknown_bins_404() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"response": {"status": 500}})).await;
    let head = client()
        .head(served.url(&format!("/in/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let missing = client()
        .post(served.url("/in/no-such-bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        served.requests(&token, "").await[0]["verdicts"]["outcome"],
        "probe"
    );
}

#[tokio::test]
async fn a_status_path_overrides_the_bins_answer() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"response": {"status": 202}})).await;
    let post = |path: String| client().post(served.url(&path)).body("{}").send();
    assert_eq!(post(format!("/in/{token}")).await.unwrap().status(), 202);
    assert_eq!(
        post(format!("/in/{token}/status/503"))
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        post(format!("/in/{token}/status/418/deeper"))
            .await
            .unwrap()
            .status(),
        418
    );
    let captures = served.requests(&token, "").await;
    let answered: Vec<u64> = captures
        .iter()
        .map(|c| c["answer_status"].as_u64().unwrap())
        .collect();
    assert_eq!(answered, [418, 503, 202]);
    assert_eq!(captures[1]["path"], format!("/in/{token}/status/503"));
}

#[tokio::test]
async fn the_configured_answer_is_sent_after_the_delay_with_cors() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served
        .new_bin(json!({"response": {
            "status": 201,
            "body": "<ok/>",
            "content_type": "application/xml",
            "headers": {"X-Custom": "yes"},
            "cors": true,
            "delay_ms": 300
        }}))
        .await;
    let url = served.url(&format!("/in/{token}"));
    let started = Instant::now();
    let response = client().post(&url).body("x").send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), 201);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/xml");
    assert_eq!(headers["x-custom"], "yes");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(response.text().await.unwrap(), "<ok/>");

    let preflight = client()
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-signature")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "x-signature"
    );

    // A delay above inspector.max_delay_ms is refused.
    let refused = client()
        .patch(served.url(&format!("/api/bins/{token}")))
        .json(&json!({"response": {"delay_ms": 600000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn bodies_over_the_limit_are_answered_413_and_recorded_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "[inspector]\nmax_body_bytes = 1000\n").await;
    let token = served.new_bin(json!({})).await;
    let response = client()
        .post(served.url(&format!("/in/{token}")))
        .body(vec![b'x'; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let captures = served.requests(&token, "").await;
    assert_eq!(captures[0]["truncated"], true);
    assert_eq!(captures[0]["size"], 5000);
    let id = captures[0]["id"].as_u64().unwrap();
    assert_eq!(served.capture(&token, id).await["body_base64"], "");
    assert_eq!(captures[0]["verdicts"]["outcome"], "too_large");
    assert_eq!(
        captures[0]["verdicts"]["message"],
        "body is larger than the limit of 1000 bytes"
    );
}

#[tokio::test]
async fn a_bin_keeps_only_its_newest_max_captures() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"max_captures": 5})).await;
    for i in 0..12 {
        client()
            .post(served.url(&format!("/in/{token}")))
            .body(format!("{{\"n\":{i}}}"))
            .send()
            .await
            .unwrap();
    }
    let captures = served.requests(&token, "").await;
    let mut kept = Vec::new();
    for capture in &captures {
        let body = served.raw(&token, capture["id"].as_u64().unwrap()).await;
        kept.push(base64(&body));
    }
    let expected: Vec<String> = (7..12)
        .rev()
        .map(|i| base64(format!("{{\"n\":{i}}}").as_bytes()))
        .collect();
    assert_eq!(kept, expected);
    let bin: Value = served.get_json(&format!("/api/bins/{token}")).await;
    assert_eq!(bin["requests"], 5);
}

#[tokio::test]
async fn captures_past_their_max_age_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "[inspector]\nprune_interval_secs = 1\n").await;
    let token = served.new_bin(json!({"max_age_secs": 1})).await;
    client()
        .post(served.url(&format!("/in/{token}")))
        .body("old")
        .send()
        .await
        .unwrap();
    assert_eq!(served.requests(&token, "").await.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served.requests(&token, "").await.is_empty() {
        assert!(Instant::now() < deadline, "the capture was never pruned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn listing_pages_newest_first_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"envelope": "integration"})).await;
    let url = served.url(&format!("/in/{token}"));
    for (i, entity) in ["a", "b", "a", "c"].iter().enumerate() {
        client()
            .post(&url)
            .header("content-type", "application/json")
            .body(
                json!({"id": entity, "entityType": "order", "eventType": format!("order.e{i}"),
                       "timestamp": format!("2024-01-01T00:00:0{i}Z")})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
    }
    client().get(&url).send().await.unwrap();
    let page: Value = served
        .get_json(&format!("/api/bins/{token}/requests?limit=2"))
        .await;
    assert_eq!(page["requests"].as_array().unwrap().len(), 2);
    assert_eq!(page["requests"][0]["method"], "GET");
    let next = page["next_before"].as_u64().unwrap();
    let older = served
        .requests(&token, &format!("before={next}&limit=10"))
        .await;
    assert_eq!(older.len(), 3);
    assert_eq!(older[2]["verdicts"]["event"]["event_type"], "order.e0");

    assert_eq!(served.requests(&token, "entity=a").await.len(), 2);
    assert_eq!(served.requests(&token, "method=GET").await.len(), 1);
    assert_eq!(
        served.requests(&token, "event_type=order.e3").await.len(),
        1
    );
    assert_eq!(served.requests(&token, "outcome=handled").await.len(), 4);
    assert_eq!(served.requests(&token, "q=order.e2").await.len(), 1);
}

#[tokio::test]
async fn verdicts_tell_a_valid_signature_from_a_forged_one_and_spot_retries() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(standard_webhooks_bin()).await;
    let url = served.url(&format!("/in/{token}"));
    let body =
        br#"{"type":"invoice.paid","timestamp":"2024-05-01T10:00:00Z","data":{"id":"in_1"}}"#;
    let send = |headers: Vec<(String, String)>, body: Vec<u8>| {
        let mut request = client().post(&url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    send(standard_webhooks_headers("msg_1", body), body.to_vec())
        .await
        .unwrap();
    send(standard_webhooks_headers("msg_1", body), body.to_vec())
        .await
        .unwrap();
    let mut forged = standard_webhooks_headers("msg_2", body);
    forged[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    send(forged, body.to_vec()).await.unwrap();

    let captures = served.requests(&token, "").await;
    let verdicts: Vec<&Value> = captures.iter().rev().map(|c| &c["verdicts"]).collect();
    assert_eq!(verdicts[0]["outcome"], "handled");
    assert_eq!(verdicts[0]["signature"]["passed"], true);
    assert_eq!(verdicts[0]["event"]["event_type"], "invoice.paid");
    assert_eq!(verdicts[0]["event"]["entity_id"], "in_1");
    assert_eq!(verdicts[0]["event"]["delivery_id"], "msg_1");
    assert_eq!(verdicts[1]["outcome"], "duplicate");
    assert_eq!(verdicts[1]["delivery"], "msg_1");
    assert_eq!(verdicts[2]["outcome"], "unauthorized");
    assert_eq!(verdicts[2]["signature"]["passed"], false);
    assert_eq!(verdicts[2]["signature"]["reason"], "no signature matches");
}

#[tokio::test]
async fn the_would_be_ordering_guard_calls_older_events_stale_and_retries_after_a_500_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"envelope": "sonar"})).await;
    let sonar = |at: &str, status: &str| {
        json!({"event": "account.status", "object_id": 42,
               "current": {"created_at": at, "status": status}})
        .to_string()
    };
    let post = |path: String, body: String| {
        client()
            .post(served.url(&path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Answered 500: an endpoint would not commit, so the retry is handled, not a duplicate.
    let failed = sonar("2024-05-01T10:00:00Z", "active");
    post(format!("/in/{token}/status/500"), failed.clone())
        .await
        .unwrap();
    post(format!("/in/{token}"), failed).await.unwrap();
    post(
        format!("/in/{token}"),
        sonar("2024-05-01T09:00:00Z", "late"),
    )
    .await
    .unwrap();
    let outcomes: Vec<String> = served
        .requests(&token, "")
        .await
        .iter()
        .rev()
        .map(|c| c["verdicts"]["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["handled", "handled", "stale"]);

    // Clearing the bin forgets the would-be marks too.
    let cleared = client()
        .delete(served.url(&format!("/api/bins/{token}/requests")))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    post(
        format!("/in/{token}"),
        sonar("2024-05-01T09:00:00Z", "late"),
    )
    .await
    .unwrap();
    let captures = served.requests(&token, "").await;
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0]["verdicts"]["outcome"], "handled");
}

/// Reads server-sent events until `count` of the named kind arrived.
async fn events(
    response: reqwest::Response,
    name: &str,
    count: usize,
) -> Vec<(Option<u64>, Value)> {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut found = Vec::new();
    while found.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |key: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(key).map(|v| v.trim_start().to_owned()))
            };
            if field("event:").as_deref() == Some(name) {
                let id = field("id:").and_then(|v| v.parse().ok());
                found.push((id, serde_json::from_str(&field("data:").unwrap()).unwrap()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_stream_sends_one_event_per_capture_and_replays_after_an_id() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    let stream_url = served.url(&format!("/api/bins/{token}/stream"));
    let live = client().get(&stream_url).send().await.unwrap();
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    let url = served.url(&format!("/in/{token}"));
    for i in 0..3 {
        client()
            .post(&url)
            .body(format!("#{i}"))
            .send()
            .await
            .unwrap();
    }
    let seen = events(live, "capture", 3).await;
    let bodies: Vec<&str> = seen
        .iter()
        .map(|(_, c)| c["body_base64"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, [base64(b"#0"), base64(b"#1"), base64(b"#2")]);
    for (id, capture) in &seen {
        assert_eq!(*id, capture["id"].as_u64());
    }

    // Resuming after the first replays the other two, then goes on live.
    let first = seen[0].0.unwrap();
    let resumed = client()
        .get(format!("{stream_url}?after={first}"))
        .send()
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(async move {
        let got = events(resumed, "capture", 3).await;
        let _ = stop.send(());
        got
    });
    client().post(&url).body("#3").send().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), stopped).await;
    let got = reader.await.unwrap();
    let ids: Vec<u64> = got.iter().map(|(id, _)| id.unwrap()).collect();
    assert_eq!(ids[..2], [seen[1].0.unwrap(), seen[2].0.unwrap()]);
    assert_eq!(got[2].1["body_base64"], base64(b"#3"));

    // An open stream (a UI left open) does not hold up shutdown.
    let _open = client().get(&stream_url).send().await.unwrap();
    let stopping = Instant::now();
    served.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn replay_sends_the_exact_request_and_answers_with_the_targets_status_headers_and_body() {
    let target = FakeApi::new(|_| (StatusCode::CREATED, r#"{"stored":true}"#.into()));
    let target_base = target.start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(standard_webhooks_bin()).await;
    let body = br#"{"type":"a.b","timestamp":"2024-05-01T10:00:00Z",  "data":{"id":1}}"#;
    let mut request = client()
        .post(served.url(&format!("/in/{token}")))
        .body(body.to_vec());
    let signed = standard_webhooks_headers("msg_r", body);
    for (name, value) in &signed {
        request = request.header(name, value);
    }
    let id = request.send().await.unwrap().headers()["x-inspector-capture"]
        .to_str()
        .unwrap()
        .to_owned();
    let answer: Value = client()
        .post(served.url(&format!("/api/bins/{token}/requests/{id}/replay")))
        .json(&json!({"url": format!("{target_base}/hooks/in")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], 201);
    assert_eq!(answer["body_base64"], base64(br#"{"stored":true}"#));
    assert!(header_pairs(&answer).contains(&("content-type".into(), "application/json".into())));
    let seen = target.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/hooks/in");
    assert_eq!(&seen[0].body[..], body);
    for (name, value) in &signed {
        assert_eq!(seen[0].headers[name.as_str()], value.as_str(), "{name}");
    }
    // So the replay still verifies wherever the secret is known.
    let verifier =
        receiver_sdk::verify::Verifier::standard_webhooks([inspector_support::WHSEC]).unwrap();
    assert!(verifier
        .verify(
            &seen[0].headers,
            &seen[0].body,
            std::time::SystemTime::now()
        )
        .is_ok());

    let unreachable = client()
        .post(served.url(&format!("/api/bins/{token}/requests/{id}/replay")))
        .json(&json!({"url": "http://127.0.0.1:9/nothing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unreachable.status(), 502);
}

#[tokio::test]
async fn har_export_holds_each_capture_with_its_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    client()
        .post(served.url(&format!("/in/{token}/x?a=1")))
        .header("content-type", "application/json")
        .body("{\"k\":1}")
        .send()
        .await
        .unwrap();
    client()
        .post(served.url(&format!("/in/{token}")))
        .body(vec![0xffu8, 0x00])
        .send()
        .await
        .unwrap();
    let har: Value = served.get_json(&format!("/api/bins/{token}/har")).await;
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(entries.len(), 2);
    let json_entry = &entries[1];
    assert!(json_entry["request"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/in/{token}/x?a=1")));
    assert_eq!(json_entry["request"]["postData"]["text"], "{\"k\":1}");
    assert_eq!(json_entry["request"]["queryString"][0]["name"], "a");
    assert_eq!(json_entry["_verdicts"]["outcome"], "handled");
    assert_eq!(entries[0]["request"]["postData"]["encoding"], "base64");
    assert_eq!(
        entries[0]["request"]["postData"]["text"],
        base64(&[0xff, 0])
    );
}

#[tokio::test]
async fn bins_are_listed_deleted_and_their_aliases_unique() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let created = client().post(served.url("/api/bins")).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert_eq!(created["url"], served.url(&format!("/in/{token}")));
    served.new_bin(json!({"alias": "twice"})).await;
    let again = client()
        .post(served.url("/api/bins"))
        .json(&json!({"alias": "twice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let listed: Value = served.get_json("/api/bins").await;
    assert_eq!(listed["bins"].as_array().unwrap().len(), 2);
    let deleted = client()
        .delete(served.url("/api/bins/twice"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = client().post(served.url("/in/twice")).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    // The alias is free again, with nothing of the old bin in it.
    served.new_bin(json!({"alias": "twice"})).await;
    assert!(served.requests("twice", "").await.is_empty());
}

#[tokio::test]
async fn bins_and_captures_persist_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(standard_webhooks_bin()).await;
    client()
        .post(served.url(&format!("/in/{token}")))
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    served.stop().await;

    let served = Served::start(dir.path(), "").await;
    let captures = served.requests(&token, "").await;
    assert_eq!(captures.len(), 1);
    let id = captures[0]["id"].as_u64().unwrap();
    assert_eq!(served.raw(&token, id).await, [1, 2, 3]);
    // The verifier came back with its secret.
    let body = br#"{"type":"a","timestamp":"2024-05-01T10:00:00Z"}"#;
    let mut request = client()
        .post(served.url(&format!("/in/{token}")))
        .body(body.to_vec());
    for (name, value) in standard_webhooks_headers("msg_p", body) {
        request = request.header(name, value);
    }
    request.send().await.unwrap();
    let captures = served.requests(&token, "").await;
    assert_eq!(captures[0]["verdicts"]["signature"]["passed"], true);
    assert!(captures[0]["id"].as_u64() > captures[1]["id"].as_u64());
}

#[tokio::test]
async fn beyond_loopback_the_api_and_ui_need_the_admin_token_and_captures_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = inspector_support::config(
        dir.path(),
        "[server]\nbind = \"0.0.0.0:0\"\n[admin]\ntoken = \"adm1n-t0ken-for-tests\"\n",
    );
    let served = Served::config(config).await;
    let get = |path: &str, auth: Option<&str>| {
        let mut request = client().get(served.url(path));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    assert_eq!(get("/api/bins", None).await.unwrap().status(), 401);
    assert_eq!(
        get("/api/bins", Some("Bearer wrong"))
            .await
            .unwrap()
            .status(),
        401
    );
    let page = get("/ui", None).await.unwrap();
    assert_eq!(page.status(), 401);
    assert!(page.text().await.unwrap().contains("Admin token"));
    assert_eq!(
        get("/ui/app.js", None).await.unwrap().status(),
        401,
        "assets too"
    );
    assert_eq!(
        get("/api/bins", Some("Bearer adm1n-t0ken-for-tests"))
            .await
            .unwrap()
            .status(),
        200
    );

    // Signing in: the token is posted once and a session cookie (not the token, nor anything
    // derived from it) comes back with a redirect to the UI.
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |token: &'static str| {
        no_redirects
            .post(served.url("/ui/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
    };
    let login = sign_in("adm1n-t0ken-for-tests").await.unwrap();
    assert_eq!(login.status(), 303);
    assert_eq!(login.headers()["location"], "/ui");
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for cookie in &cookies {
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains("adm1n-t0ken-for-tests"));
        assert!(
            !cookie.contains("Path=/;"),
            "never sent to /in or endpoints: {cookie}"
        );
    }
    let pair = cookies[0].split(';').next().unwrap().to_owned();
    let again = sign_in("adm1n-t0ken-for-tests").await.unwrap();
    let other = again.headers()["set-cookie"].to_str().unwrap();
    assert_ne!(
        other.split(';').next().unwrap(),
        pair,
        "a new session per sign-in"
    );
    let with_cookie = no_redirects
        .get(served.url("/api/bins"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    assert_eq!(sign_in("nope").await.unwrap().status(), 401);
    // The token in a URL (which access logs keep) opens nothing.
    let by_url = no_redirects
        .get(served.url("/ui?token=adm1n-t0ken-for-tests"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_url.status(), 401);
    assert!(by_url.headers().get("set-cookie").is_none());
    // Signing out ends the session.
    let out = no_redirects
        .post(served.url("/ui/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let ended = no_redirects
        .get(served.url("/api/bins"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 401);

    // Senders need no token.
    let token: Value = client()
        .post(served.url("/api/bins"))
        .bearer_auth("adm1n-t0ken-for-tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let capture = client()
        .post(served.url(&format!("/in/{}", token["token"].as_str().unwrap())))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(capture.status(), 200);
}

#[tokio::test]
async fn on_loopback_without_a_token_the_api_is_open_to_loopback_names_and_its_own_origin_only() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let with = |name: &'static str, value: String| {
        client()
            .get(served.url("/api/bins"))
            .header(name, value)
            .send()
    };
    assert_eq!(
        client()
            .get(served.url("/api/bins"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let port = served.base.rsplit(':').next().unwrap().to_owned();
    assert_eq!(
        with("host", format!("localhost:{port}"))
            .await
            .unwrap()
            .status(),
        200
    );
    // DNS rebinding: a page from evil.example resolved to 127.0.0.1.
    assert_eq!(
        with("host", format!("evil.example:{port}"))
            .await
            .unwrap()
            .status(),
        403
    );
    // Another site's script in the user's browser.
    assert_eq!(
        with("origin", "http://evil.example".into())
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        with("origin", served.base.clone()).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn the_root_redirects_to_the_ui_which_is_served_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = no_redirects.get(served.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/ui");
    for (path, kind) in [
        ("/ui", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let response = client().get(served.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert!(response.headers().contains_key("content-security-policy"));
        let text = response.text().await.unwrap();
        for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
            assert!(
                !text.contains(external),
                "{path} loads something from elsewhere"
            );
        }
    }
}

/// One request of the differential table.
struct Case {
    name: &'static str,
    method: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Case {
    fn new(name: &'static str, method: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            name,
            method,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn json(name: &'static str, body: Value) -> Self {
        Self::new(name, "POST", body.to_string()).header("content-type", "application/json")
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What a real endpoint answers: outcome, status and message, with the inspector's own words
/// for the three answers it does not give as an endpoint (its bin answers the sender).
async fn endpoint_verdict(receiver: &receiver_sdk::Receiver, case: &Case) -> (String, u16, String) {
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::builder()
        .method(case.method)
        .uri("/hooks/differential");
    for (name, value) in &case.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if !case.body.is_empty() {
        request = request.header("content-length", case.body.len().to_string());
    }
    let request = request
        .body(axum::body::Body::from(case.body.clone()))
        .unwrap();
    let response = receiver.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let outcome = response
        .headers()
        .get("x-webhook-outcome")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let Some(outcome) = outcome else {
        // HEAD: 200, no body, nothing checked.
        assert!(body.is_empty(), "{}", case.name);
        return (
            "probe".into(),
            status,
            "a reachability probe: no body, nothing checked".into(),
        );
    };
    let json: Value = serde_json::from_slice(&body).unwrap();
    let message = match outcome.as_str() {
        "handled" => "would be handled".to_owned(),
        "method_not_allowed" => {
            assert_eq!(json["message"], "only HEAD and POST are accepted");
            "an endpoint answers only HEAD and POST".to_owned()
        }
        _ => json["message"].as_str().unwrap().to_owned(),
    };
    (outcome, status, message)
}

/// Sends every case to a bin and to a real endpoint with the same settings, in order, and
/// asserts the bin's verdict is the endpoint's answer.
async fn assert_verdicts_match(spec: Value, receiver: receiver_sdk::Receiver, cases: &[Case]) {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "[inspector]\nmax_body_bytes = 4000\n").await;
    let token = served.new_bin(spec).await;
    for case in cases {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = client().request(method, served.url(&format!("/in/{token}")));
        for (name, value) in &case.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request.body(case.body.clone()).send().await.unwrap();
        let captures = served.requests(&token, "").await;
        let newest = captures
            .iter()
            .max_by_key(|capture| capture["id"].as_u64().unwrap())
            .unwrap();
        let verdicts = &newest["verdicts"];
        let inspector = (
            verdicts["outcome"].as_str().unwrap().to_owned(),
            u16::try_from(verdicts["status"].as_u64().unwrap()).unwrap(),
            verdicts["message"].as_str().unwrap().to_owned(),
        );
        assert_eq!(
            inspector,
            endpoint_verdict(&receiver, case).await,
            "{}",
            case.name
        );
    }
}

fn superoffice_event(id: &str, time: &str) -> Value {
    json!({"Event": "contact.changed", "Entity": "contact", "PrimaryKey": 7,
        "Timestamp": time, "EventId": id})
}

#[tokio::test]
async fn an_unsigned_bins_verdicts_are_what_an_endpoint_with_its_settings_answers() {
    let receiver = receiver_sdk::Receiver::builder("differential")
        .envelope(receiver_sdk::envelope::Envelope::SuperOffice)
        .ties(receiver_sdk::ordering::TiePolicy::Drop)
        .body_limit(4000)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(|_: receiver_sdk::Delivery| async { Ok(()) })
        .build()
        .unwrap();
    let cases = [
        Case::new("head", "HEAD", ""),
        Case::new("get", "GET", "{}"),
        Case::new("oversized", "POST", vec![b'x'; 5000]),
        Case::new("wrong content type", "POST", "{}").header("content-type", "text/plain"),
        Case::new("empty", "POST", ""),
        Case::new("not json", "POST", "{\"Event\":"),
        Case::json("missing field", json!({"Entity": "contact"})),
        Case::json(
            "over-long id",
            json!({"Event": "contact.changed", "EventId": "x".repeat(1100)}),
        ),
        Case::json("test", json!({"Event": "test"})).header("x-hook-test", "true"),
        Case::json(
            "no time",
            json!({"Event": "contact.changed", "PrimaryKey": 7}),
        ),
        Case::json("fresh", superoffice_event("e1", "2024-01-02T00:00:00Z")),
        Case::json("duplicate", superoffice_event("e1", "2024-01-02T00:00:00Z")),
        Case::json("stale", superoffice_event("e2", "2024-01-01T00:00:00Z")),
        Case::json("tie", superoffice_event("e3", "2024-01-02T00:00:00Z")),
        Case::json("newer", superoffice_event("e4", "2024-01-03T00:00:00Z")),
    ];
    assert_verdicts_match(
        json!({"envelope": "superoffice", "ties": "drop"}),
        receiver,
        &cases,
    )
    .await;
}

#[tokio::test]
async fn a_signed_bins_verdicts_are_what_an_endpoint_with_its_settings_answers() {
    let receiver = receiver_sdk::Receiver::builder("differential")
        .verifier(
            receiver_sdk::verify::Verifier::standard_webhooks([inspector_support::WHSEC]).unwrap(),
        )
        .envelope(receiver_sdk::envelope::Envelope::StandardWebhooks)
        .body_limit(4000)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(|_: receiver_sdk::Delivery| async { Ok(()) })
        .build()
        .unwrap();
    let event = |id: &str| {
        let body = json!({"type": "invoice.paid", "timestamp": "2024-01-01T00:00:00Z",
            "data": {"id": id}})
        .to_string();
        let mut case = Case::new("signed", "POST", body.clone());
        case.headers = standard_webhooks_headers(id, body.as_bytes());
        case
    };
    let mut forged = event("msg_0");
    forged.name = "bad signature";
    forged.body = b"{\"type\":\"forged\"}".to_vec();
    let mut get = event("msg_0");
    (get.name, get.method) = ("get", "GET");
    let cases = [
        Case::new("head", "HEAD", ""),
        get,
        Case::json("unsigned", json!({"type": "invoice.paid"})),
        forged,
        Case {
            name: "fresh",
            ..event("msg_1")
        },
        Case {
            name: "duplicate",
            ..event("msg_1")
        },
        Case {
            name: "another",
            ..event("msg_2")
        },
    ];
    assert_verdicts_match(standard_webhooks_bin(), receiver, &cases).await;
}

/// Regression: the inspector looked only at the delivery id, so a signed GitHub body replayed
/// under a fresh `X-GitHub-Delivery` (a header the body-only signature does not cover) was
/// "would be handled" while an endpoint answers it as a duplicate by the body's hash.
#[tokio::test]
async fn a_bin_with_unsigned_delivery_ids_calls_a_replay_under_a_new_id_a_duplicate_as_an_endpoint_does(
) {
    const SECRET: &str = "hush-hush";
    let receiver = receiver_sdk::Receiver::builder("differential")
        .verifier(receiver_sdk::verify::Verifier::github([SECRET]).unwrap())
        .envelope(receiver_sdk::envelope::Envelope::GitHub)
        .body_limit(4000)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(|_: receiver_sdk::Delivery| async { Ok(()) })
        .build()
        .unwrap();
    let push = |name: &'static str, delivery: &str, body: &str| {
        Case::new(name, "POST", body)
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", delivery)
            .header(
                "x-hub-signature-256",
                &receiver_sdk::verify::sign::github(SECRET, body.as_bytes()),
            )
    };
    let cases = [
        push("fresh", "d1", r#"{"ref":"refs/heads/main","after":"a1"}"#),
        push("retry", "d1", r#"{"ref":"refs/heads/main","after":"a1"}"#),
        push(
            "replay under a new id",
            "d2",
            r#"{"ref":"refs/heads/main","after":"a1"}"#,
        ),
        push(
            "another push",
            "d3",
            r#"{"ref":"refs/heads/main","after":"b2"}"#,
        ),
    ];
    assert_verdicts_match(
        json!({"verify": {"kind": "github", "secrets": [SECRET]}, "envelope": "github"}),
        receiver,
        &cases,
    )
    .await;
}

#[tokio::test]
async fn bins_take_every_catalogue_sender_by_name_and_say_why_a_signature_failed() {
    use receiver_sdk::verify::sign;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    // The settings form offers every kind and envelope the receiver knows.
    let kinds = served.get_json("/api/kinds").await;
    for (list, name) in [
        ("verify", "zoom"),
        ("verify", "twilio"),
        ("envelope", "zoom"),
    ] {
        let names = kinds[list].as_array().unwrap();
        assert!(names.contains(&json!(name)), "{list}: {names:?}");
    }
    assert_eq!(kinds["verify"][0], "none");
    let token = served
        .new_bin(json!({"verify": {"kind": "bitbucket", "secrets": ["bb-secret"]}}))
        .await;
    let body = br#"{"push":{"changes":[]}}"#;
    // Signed as GitHub signs, with the same secret: the wrong sender chosen.
    let signature = sign::github("bb-secret", body);
    let extra = format!("X-Hub-Signature-256: {signature}\r\n");
    let id =
        inspector_support::plant_with(&served.base, &format!("/in/{token}"), "POST", &extra, body)
            .await;
    let capture = served.capture(&token, id).await;
    let signature = &capture["verdicts"]["signature"];
    assert_eq!(signature["passed"], false, "{signature}");
    let hint = signature["hint"].as_str().expect("a likely cause");
    assert!(hint.contains("verifies as `github`"), "{hint}");
    served.stop().await;
}

#[tokio::test]
async fn a_batch_is_judged_event_by_event_and_a_trimmed_capture_forgets_each_events_keys() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served
        .new_bin(json!({"envelope": "cloudevents", "ordering": "per-entity", "max_captures": 2}))
        .await;
    let event = |id: &str, subject: &str, time: &str| {
        json!({"specversion": "1.0", "type": "order.updated", "source": "/shop", "id": id,
               "subject": subject, "time": time})
    };
    let batch = json!([
        event("e1", "o1", "2024-01-01T00:00:02Z"),
        event("e2", "o1", "2024-01-01T00:00:01Z"),
        event("e3", "o2", "2024-01-01T00:00:01Z"),
    ])
    .to_string();
    let post = |content_type: &'static str, body: String| {
        client()
            .post(served.url(&format!("/in/{token}")))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let latest = || async { served.requests(&token, "").await[0]["verdicts"].clone() };
    post("application/cloudevents-batch+json", batch.clone())
        .await
        .unwrap();
    let verdicts = latest().await;
    assert_eq!(verdicts["outcome"], "batch");
    assert_eq!(
        verdicts["message"],
        "a batch of 3 events: 2 handled, 1 stale"
    );
    let events = verdicts["events"].as_array().unwrap();
    let outcomes: Vec<_> = events
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["handled", "stale", "handled"]);
    assert_eq!(events[2]["event"]["delivery_id"], "/shop e3");

    // The sender's retry: the handled events were recorded, the stale one is stale again.
    post("application/cloudevents-batch+json", batch.clone())
        .await
        .unwrap();
    assert_eq!(
        latest().await["message"],
        "a batch of 3 events: 2 duplicate, 1 stale"
    );
    // Two more captures trim both batches from the bin, and the first one's keys and marks
    // go with it: the batch is new again.
    for id in ["x1", "x2"] {
        let single = event(id, "o9", "2024-01-01T00:00:00Z").to_string();
        post("application/cloudevents+json", single).await.unwrap();
    }
    post("application/cloudevents-batch+json", batch)
        .await
        .unwrap();
    assert_eq!(
        latest().await["message"],
        "a batch of 3 events: 2 handled, 1 stale"
    );
    served.stop().await;
}

#[tokio::test]
async fn a_bin_judges_batches_of_up_to_100_events_so_a_capture_stays_near_its_bodys_size() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({"envelope": "cloudevents"})).await;
    let batch = |len: usize| {
        let events: Vec<_> = (0..len)
            .map(
                |n| json!({"specversion": "1.0", "type": "t", "source": "/s", "id": n.to_string()}),
            )
            .collect();
        json!(events).to_string()
    };
    for len in [100, 101] {
        client()
            .post(served.url(&format!("/in/{token}")))
            .header("content-type", "application/cloudevents-batch+json")
            .body(batch(len))
            .send()
            .await
            .unwrap();
    }
    let captures = served.requests(&token, "").await;
    let (over, within) = (&captures[0]["verdicts"], &captures[1]["verdicts"]);
    assert_eq!(within["outcome"], "batch");
    assert_eq!(within["events"].as_array().unwrap().len(), 100);
    assert_eq!(
        (over["outcome"].as_str(), over["status"].as_u64()),
        (Some("too_large"), Some(413))
    );
    assert_eq!(
        over["message"],
        "the batch holds more than 100 events, the limit of this endpoint"
    );
    assert!(over.get("events").is_none(), "no event of it is kept");
    served.stop().await;
}

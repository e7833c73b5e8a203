//! What a queued endpoint holds and answers when it is full, when its store fails, and when
//! the downstream answers with something that is not taking the event.

use std::time::Duration;

use serde_json::{json, Value};

use super::support::*;

/// POSTs `body` and returns status, `Retry-After` and the JSON answer.
async fn post_raw(rig: &Rig, body: &Value) -> (u16, Option<String>, Value) {
    let response = rig
        .client
        .post(format!("{}/hooks/orders", rig.receiver.base))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        retry_after,
        response.json().await.unwrap_or_default(),
    )
}

/// Waits until the outbox holds `n` dead letters; returns them.
async fn until_dead(rig: &Rig, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(20), "the dead letters", async || {
        let dead = rig.dead_letters().await;
        (dead.len() == n).then_some(dead)
    })
    .await
}

#[tokio::test]
async fn regression_a_full_outbox_answers_503_with_retry_after_and_stores_nothing() {
    let rig = Rig::start("max_pending = 3", |_, _| Reply::status(503)).await;
    rig.post("a", 0..3).await;
    let (status, retry_after, answer) = post_raw(&rig, &event("a", 3)).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(retry_after.as_deref(), Some("30"));
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("outbox full"),
        "{answer}"
    );
    assert_eq!(
        rig.stats().await["pending"],
        3,
        "the refused event is not stored"
    );

    rig.downstream.answer(|_, _| Reply::ok());
    rig.until_delivered(3).await;
    let ids: Vec<String> = rig
        .downstream
        .accepted()
        .iter()
        .map(|r| r.id().to_owned())
        .collect();
    assert_eq!(
        ids,
        ["a-0", "a-1", "a-2"],
        "every acknowledged event arrives"
    );
    let (status, _, _) = post_raw(&rig, &event("a", 3)).await;
    assert_eq!(
        status, 200,
        "room again once the downstream took the events"
    );
    rig.stop().await;
}

#[tokio::test]
async fn regression_store_errors_reach_senders_as_outbox_unavailable_without_detail() {
    let database = receiver_sdk::store::ScratchDatabase::create()
        .await
        .unwrap();
    let url = database.url().to_owned();
    let rig = Rig::start_with(
        "",
        |text| text.replace("[store]\n", &format!("[store]\nurl = \"{url}\"\n")),
        |_, _| Reply::ok(),
    )
    .await;
    rig.post("a", 0..1).await;
    let store = receiver_sdk::store::PostgresStore::connect(&url)
        .await
        .unwrap();
    store
        .pool()
        .get()
        .await
        .unwrap()
        .batch_execute("DROP TABLE receiver.outbox")
        .await
        .unwrap();
    let (status, retry_after, answer) = post_raw(&rig, &event("a", 1)).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["message"], "outbox unavailable", "{answer}");
    assert!(retry_after.is_some());
    rig.stop().await;
}

#[tokio::test]
async fn regression_a_redirect_is_a_dead_letter_at_once_showing_status_and_location() {
    let rig = Rig::start("", |_, _| {
        Reply::status(307).header("location", "http://127.0.0.2:9/landed")
    })
    .await;
    rig.post("a", 0..1).await;
    let dead = until_dead(&rig, 1).await.remove(0);
    let attempts = dead["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "a redirect is not retried: {dead}");
    assert_eq!(attempts[0]["status"], 307);
    assert_eq!(attempts[0]["verdict"], "refused");
    let location = attempts[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "location")
        .map(|h| h[1].clone());
    assert_eq!(location, Some(json!("http://127.0.0.2:9/landed")));
    assert_eq!(rig.downstream.received().len(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn regression_a_header_template_rendering_crlf_is_a_dead_letter_at_once() {
    let rig = Rig::start(
        r#"headers = { "X-Note" = "{{ payload.note }}" }"#,
        |_, _| Reply::ok(),
    )
    .await;
    let mut body = event("a", 0);
    body["note"] = json!("a\r\nX-Injected: 1");
    assert_eq!(
        send(&rig.client, &rig.receiver.base, &body).await.unwrap(),
        200
    );
    let dead = until_dead(&rig, 1).await.remove(0);
    assert_eq!(dead["attempts"].as_array().unwrap().len(), 1, "{dead}");
    assert!(
        dead["attempts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("invalid header value"),
        "{dead}"
    );
    assert_eq!(rig.downstream.received().len(), 0);
    rig.stop().await;
}

#[tokio::test]
async fn regression_a_steering_value_is_a_dead_letter_at_once_and_reaches_nobody() {
    let rig = Rig::start_with(
        "",
        |text| text.replace("/events\"", "/events/{{ entity }}\""),
        |_, _| Reply::ok(),
    )
    .await;
    for entity in ["..", "%2e", "a%2F..%2Fb"] {
        let mut body = event(entity, 0);
        body["id"] = json!(format!("steer-{entity}"));
        assert_eq!(
            send(&rig.client, &rig.receiver.base, &body).await.unwrap(),
            200
        );
    }
    let dead = until_dead(&rig, 3).await;
    for letter in &dead {
        assert_eq!(letter["attempts"].as_array().unwrap().len(), 1, "{letter}");
        assert!(
            letter["attempts"][0]["message"]
                .as_str()
                .unwrap()
                .contains("template `orders.relay.url`"),
            "{letter}"
        );
    }
    rig.post("fine.1", 0..1).await;
    rig.until_delivered(1).await;
    assert_eq!(
        rig.downstream.received().len(),
        1,
        "only the fine event went out"
    );
    rig.stop().await;
}

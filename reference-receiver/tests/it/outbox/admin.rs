//! The admin API's access rules and errors, and the `outbox` CLI commands over it.

use std::process::Command;

use http::Method;

use super::support::*;

/// A rig whose downstream takes everything: these tests are about the API itself.
async fn rig() -> Rig {
    Rig::start("", |_, _| Reply::ok()).await
}

#[tokio::test]
async fn the_admin_api_refuses_requests_without_or_with_a_wrong_token() {
    let rig = rig().await;
    let base = &rig.receiver.base;
    for (path, token) in [
        ("outbox", None),
        ("outbox", Some("wrong")),
        ("outbox", Some("")),
        ("outbox/orders/events", Some("admin-secret-for-test")),
        ("no/such/route", None),
    ] {
        let (status, body) = admin_as(&rig.client, base, Method::GET, path, token).await;
        assert_eq!(status, 401, "{path} with {token:?}");
        assert!(
            body["error"].as_str().unwrap().starts_with("admin token"),
            "{body}"
        );
        assert!(
            !body.to_string().contains(TOKEN),
            "the answer never shows the token"
        );
    }
    let response = rig
        .client
        .get(format!("{base}/admin/outbox"))
        .basic_auth("admin", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "only a bearer token counts");
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, _) = rig.admin(Method::GET, "outbox").await;
    assert_eq!(status, 200);
    rig.stop().await;
}

#[tokio::test]
async fn unknown_endpoints_events_and_routes_are_json_errors() {
    let rig = rig().await;
    for (method, path, status) in [
        (Method::GET, "outbox/nope/events", 404),
        (Method::GET, "outbox/orders/events/999", 404),
        (Method::GET, "outbox/orders/events/abc", 404),
        (Method::POST, "outbox/orders/dead/999/retry", 404),
        (Method::DELETE, "outbox/nope/dead", 404),
        (Method::GET, "outbox/orders/events?state=lost", 400),
        (Method::GET, "outbox/orders/events?limit=many", 400),
        (Method::GET, "nothing/here", 404),
        (Method::PUT, "outbox", 405),
    ] {
        let (got, body) = rig.admin(method.clone(), path).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert!(body["error"].is_string(), "{method} {path}: {body}");
    }
    rig.stop().await;
}

#[tokio::test]
async fn without_a_token_the_admin_api_answers_only_on_loopback() {
    let client = client();
    let dir = tempfile::tempdir().unwrap();
    let text = config(dir.path(), "http://127.0.0.1:9", "", "");
    let loopback = InProcess::start(&text).await;
    let (status, overview) = admin_as(&client, &loopback.base, Method::GET, "outbox", None).await;
    assert_eq!(status, 200, "{overview}");
    loopback.stop().await;

    let everywhere = InProcess::start_on(&text, "0.0.0.0:0").await;
    let (status, body) = admin_as(&client, &everywhere.base, Method::GET, "outbox", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("admin.token"));
    everywhere.stop().await;
}

/// Runs `reference-receiver outbox {args}` off the async threads (which serve the receiver
/// meanwhile) and returns whether it succeeded, its stdout and its stderr.
async fn outbox(args: &[&str]) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
            .arg("outbox")
            .args(&args)
            .env_remove("RECEIVER_ADMIN_TOKEN")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_commands_list_show_retry_and_purge_through_the_admin_api() {
    let rig = Rig::start("", |_, _| {
        Reply::status(409)
            .header("x-trace", "t-1")
            .body(r#"{"message":"version conflict"}"#)
    })
    .await;
    rig.post("c1", 0..1).await;
    let id = eventually(
        std::time::Duration::from_secs(10),
        "a dead letter",
        async || rig.dead_letters().await.first()?["id"].as_u64(),
    )
    .await
    .to_string();

    // The URL from server.bind and the token from [admin], as an operator would.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cli.toml");
    let port = rig.receiver.base.rsplit(':').next().unwrap();
    let text = format!("[server]\nbind = \"127.0.0.1:{port}\"\n[admin]\ntoken = \"{TOKEN}\"\n");
    std::fs::write(&file, text).unwrap();
    let (ok, out, err) = outbox(&["list", "--config", file.to_str().unwrap()]).await;
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("orders"))
        .unwrap_or_default();
    let cells: Vec<_> = row.split_whitespace().take(5).collect();
    assert_eq!(cells, ["orders", "0", "0", "1", "0"], "{out}");

    let base = rig.receiver.base.as_str();
    // The URL and token as flags.
    let with_flags =
        async |args: &[&str]| outbox(&[args, &["--url", base, "--token", TOKEN]].concat()).await;
    let (ok, out, err) = with_flags(&["show", "orders", &id]).await;
    assert!(ok, "{err}");
    for expected in [
        "dead",
        "orders:c1-0",
        "refused 409",
        "downstream answered 409: version conflict",
        "x-trace: t-1",
        r#"{"message":"version conflict"}"#,
    ] {
        assert!(out.contains(expected), "`{expected}` missing from:\n{out}");
    }
    let (ok, out, _) = with_flags(&["show", "orders", &id, "--json"]).await;
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["attempts"][0]["status"], 409);

    let (ok, out, err) = with_flags(&["events", "orders", "--state", "dead"]).await;
    assert!(ok, "{err}");
    let first = out.lines().nth(1).unwrap_or_default();
    assert!(first.starts_with(&format!("{id} ")), "{out}");

    rig.downstream.answer(|_, _| Reply::ok());
    let (ok, out, err) = with_flags(&["retry", "orders", &id]).await;
    assert!(ok, "{err}");
    assert!(out.contains("pending again"), "{out}");
    rig.until_delivered(1).await;
    let (ok, out, err) = with_flags(&["purge", "orders", "--delivered"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "purged 1 delivered event(s) of orders");

    let (ok, _, err) = outbox(&["list", "--url", base, "--token", "wrong"]).await;
    assert!(!ok);
    assert!(err.contains("401 admin token wrong"), "{err}");
    let (ok, _, err) = with_flags(&["show", "nope", "1"]).await;
    assert!(!ok);
    assert!(err.contains("404 no outbox `nope`"), "{err}");
    rig.stop().await;
}

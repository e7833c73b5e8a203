//! The sync relay, end to end: the built binary, a sender, a source API and a downstream API.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use receiver_sdk::verify::sign;

use crate::common::{post, serve_config, FakeApi, Running, Seen};

fn sonar(object_id: u64, created_at: &str, status: &str) -> String {
    serde_json::json!({
        "event": "account.status",
        "object_id": object_id,
        "current": { "created_at": created_at, "status": status }
    })
    .to_string()
}

fn config(downstream: &str) -> String {
    format!(
        r#"
[[endpoint]]
name = "sonar"
path = "/hooks/sonar"
envelope = "sonar"
ordering = true
[endpoint.relay]
mode = "sync"
method = "PATCH"
url = "{downstream}/accounts/{{{{ entity }}}}"
body = '{{"status": {{{{ payload.current.status | tojson }}}}, "changed_at": "{{{{ created_at }}}}"}}'
headers = {{ "X-Event" = "{{{{ event }}}}" }}
[endpoint.relay.auth]
kind = "bearer"
token_env = "DOWNSTREAM_TOKEN"
"#
    )
}

#[tokio::test]
async fn a_sonar_event_becomes_the_right_patch_and_a_stale_one_calls_nothing() {
    let downstream = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let base = downstream.start().await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(
        dir.path(),
        &config(&base),
        &[("DOWNSTREAM_TOKEN", "d0wnstream-t0ken")],
    );
    let url = format!("{}/hooks/sonar", running.base);

    let (status, outcome, _) =
        post(&url, &sonar(42, "2021-05-25T20:48:40+00:00", "active"), &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    let seen = downstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].path, "/accounts/42");
    assert_eq!(seen[0].headers["authorization"], "Bearer d0wnstream-t0ken");
    assert_eq!(seen[0].headers["x-event"], "account.status");
    assert_eq!(
        seen[0].headers["idempotency-key"].to_str().unwrap().len(),
        "sonar:sha256:".len() + 64
    );
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "active", "changed_at": "2021-05-25T20:48:40+00:00"})
    );

    // Older than what was relayed: answered 200 stale, and downstream is not called.
    let (status, outcome, _) = post(
        &url,
        &sonar(42, "2021-05-25T20:40:00+00:00", "delinquent"),
        &[],
    )
    .await;
    assert_eq!((status, outcome.as_str()), (200, "stale"));
    assert_eq!(downstream.seen().len(), 1);
    assert!(
        !running.log().contains("d0wnstream-t0ken"),
        "the token was logged"
    );
}

#[tokio::test]
async fn downstream_refusals_reach_the_sender_as_4xx_with_the_downstream_message() {
    let downstream = FakeApi::new(|seen| match seen.path.as_str() {
        "/accounts/404" => (
            StatusCode::NOT_FOUND,
            r#"{"message":"no account 404 here"}"#.into(),
        ),
        "/accounts/422" => (
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"errors":[{"message":"status `bogus` is not allowed"}]}"#.into(),
        ),
        "/accounts/500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom".into()),
        _ => (StatusCode::NO_CONTENT, String::new()),
    });
    let base = downstream.start().await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config(&base), &[("DOWNSTREAM_TOKEN", "t")]);
    let url = format!("{}/hooks/sonar", running.base);
    let at = "2021-05-25T20:48:40+00:00";

    let (status, outcome, message) = post(&url, &sonar(404, at, "active"), &[]).await;
    assert_eq!((status, outcome.as_str()), (404, "rejected"));
    assert_eq!(message, "downstream answered 404: no account 404 here");

    let (status, _, message) = post(&url, &sonar(422, at, "bogus"), &[]).await;
    assert_eq!(status, 422);
    assert_eq!(
        message,
        "downstream answered 422: status `bogus` is not allowed"
    );

    let (status, _, message) = post(&url, &sonar(500, at, "active"), &[]).await;
    assert_eq!(status, 502, "a downstream failure asks the sender to retry");
    assert_eq!(message, "downstream answered 500: boom");

    // A refused event did not advance the mark: once the downstream accepts, the retry lands.
    let (status, outcome, _) = post(&url, &sonar(7, at, "active"), &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
}

#[tokio::test]
async fn an_unreachable_downstream_answers_502_and_a_missing_field_names_the_template() {
    // Nothing listens on this port once the listener is dropped.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config(&closed), &[("DOWNSTREAM_TOKEN", "t")]);
    let url = format!("{}/hooks/sonar", running.base);
    let (status, _, message) = post(&url, &sonar(1, "2021-05-25T20:48:40Z", "x"), &[]).await;
    assert_eq!(status, 502);
    assert!(
        message.starts_with("downstream is unreachable"),
        "{message}"
    );

    let no_status = r#"{"event":"account.status","object_id":2,"current":{"created_at":"2021-05-25T20:48:40Z"}}"#;
    let (status, _, message) = post(&url, no_status, &[]).await;
    assert_eq!(status, 422);
    assert!(message.contains("template `sonar.relay.body`"), "{message}");
}

#[tokio::test]
async fn the_entity_is_fetched_from_the_source_api_and_mapped_into_the_patch() {
    let source = FakeApi::new(|seen| match seen.path.as_str() {
        "/api/USER/IDNUMBER1234" => (
            StatusCode::OK,
            r#"{"id":"IDNUMBER1234","email":"new@example.com","name":"Ada"}"#.into(),
        ),
        _ => (StatusCode::NOT_FOUND, r#"{"error":"no such user"}"#.into()),
    });
    let downstream = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let (source_base, downstream_base) = (source.start().await, downstream.start().await);
    let config = format!(
        r#"
[[endpoint]]
name = "identity"
path = "/hooks/identity"
envelope = "integration"
[endpoint.relay]
method = "PATCH"
url = "{downstream_base}/customers/{{{{ entity }}}}"
body = '{{"email": {{{{ source.email | tojson }}}}, "name": {{{{ source.name | tojson }}}}}}'
[endpoint.relay.fetch]
url = "{source_base}/api/{{{{ entity_type }}}}/{{{{ entity }}}}"
[endpoint.relay.fetch.auth]
kind = "header"
header = "X-Api-Key"
token = "source-key"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config, &[]);
    let url = format!("{}/hooks/identity", running.base);
    let event = r#"{"id":"IDNUMBER1234","entityType":"USER","eventType":"UPDATE","timestamp":"2019-01-01T00:00:00Z"}"#;
    let (status, outcome, _) = post(&url, event, &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    assert_eq!(source.seen()[0].headers["x-api-key"], "source-key");
    let patch = &downstream.seen()[0];
    assert_eq!(patch.path, "/customers/IDNUMBER1234");
    let body: serde_json::Value = serde_json::from_slice(&patch.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"email": "new@example.com", "name": "Ada"})
    );

    let missing = r#"{"id":"GONE","entityType":"USER","eventType":"UPDATE","timestamp":"2019-01-01T00:00:01Z"}"#;
    let (status, _, message) = post(&url, missing, &[]).await;
    assert_eq!(status, 404);
    assert_eq!(message, "source API answered 404: no such user");
    assert_eq!(downstream.seen().len(), 1);
}

/// A local server on `ip` that records every request and answers with `answer(path)`: the
/// downstream, source API or redirect target of the hostile cases.
struct Recorder {
    base: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String, axum::http::HeaderMap)>>>,
}

impl Recorder {
    async fn start(
        ip: &str,
        answer: impl Fn(&str) -> axum::response::Response + Send + Sync + 'static,
    ) -> Self {
        use axum::extract::Request;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (log, answer) = (seen.clone(), std::sync::Arc::new(answer));
        let app = axum::Router::new().fallback(move |request: Request| {
            let (log, answer) = (log.clone(), answer.clone());
            async move {
                let path = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                let method = request.method().to_string();
                log.lock()
                    .unwrap()
                    .push((method, path.clone(), request.headers().clone()));
                answer(&path)
            }
        });
        let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, seen }
    }

    /// Method and path (with query) of every request so far.
    fn requests(&self) -> Vec<(String, String)> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect()
    }
}

fn json_ok(body: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_owned(),
    )
        .into_response()
}

fn redirect(status: StatusCode, to: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (status, [("location", to.to_owned())]).into_response()
}

/// The review's `relay.toml`: an integration endpoint PATCHing
/// `/api/v1/accounts/{{ entity }}/status`, the entity fetched from
/// `/src/{{ payload.entityType }}/{{ entity }}`, both with an `X-Api-Key`.
fn steered_config(downstream: &str, source: &str) -> String {
    format!(
        r#"
[[endpoint]]
name = "acct"
path = "/hooks/acct"
envelope = "integration"
[endpoint.relay]
method = "PATCH"
url = "{downstream}/api/v1/accounts/{{{{ entity }}}}/status"
body = '{{"status": {{{{ payload.status | tojson }}}}}}'
[endpoint.relay.auth]
kind = "header"
header = "X-Api-Key"
token = "downstream-api-key-SECRET"
[endpoint.relay.fetch]
url = "{source}/src/{{{{ payload.entityType }}}}/{{{{ entity }}}}"
[endpoint.relay.fetch.auth]
kind = "header"
header = "X-Api-Key"
token = "source-api-key-SECRET"
"#
    )
}

#[tokio::test]
async fn regression_payload_values_cannot_steer_relay_or_fetch_urls() {
    let downstream = Recorder::start("127.0.0.1", |_| json_ok("{}")).await;
    let source = Recorder::start("127.0.0.1", |_| json_ok(r#"{"ok":true}"#)).await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(
        dir.path(),
        &steered_config(&downstream.base, &source.base),
        &[],
    );
    let url = format!("{}/hooks/acct", running.base);
    let hostile = [
        ("..", "account"),
        (".", "account"),
        ("internal", ".."),
        ("internal", "."),
        ("%2e%2e", "account"),
        ("%2E%2e", "account"),
        (".%2E", "account"),
        ("%252e%252e", "account"),
        ("internal", "%2e"),
        ("a/../../x", "account"),
        ("a%2F..%2Fx", "account"),
        ("x?admin=1", "account"),
        ("x#frag", "account"),
        ("..\\..\\x", "account"),
        ("internal", "a\\b"),
    ];
    for (n, (id, entity_type)) in hostile.iter().enumerate() {
        let event = serde_json::json!({
            "id": id, "entityType": entity_type, "eventType": "account.status",
            "timestamp": 1_700_000_000 + n, "status": "pwned"
        });
        let (status, _, message) = post(&url, &event.to_string(), &[]).await;
        assert_eq!(status, 422, "{id:?}/{entity_type:?}: {message}");
        assert!(
            message.contains("template `acct.relay.fetch.url`"),
            "{id:?}/{entity_type:?}: {message}"
        );
    }
    let null_type = r#"{"id":"7","entityType":null,"eventType":"account.status","timestamp":1800000000,"status":"x"}"#;
    let (status, _, message) = post(&url, null_type, &[]).await;
    assert_eq!(status, 422, "{message}");
    assert_eq!(
        source.requests(),
        [],
        "no hostile value reached the source API"
    );
    assert_eq!(downstream.requests(), [], "nor the downstream");

    let fine = r#"{"id":"v1.2_x-~","entityType":"account","eventType":"account.status","timestamp":1900000000,"status":"active"}"#;
    let (status, outcome, message) = post(&url, fine, &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"), "{message}");
    assert_eq!(
        source.requests(),
        [("GET".to_owned(), "/src/account/v1.2_x-~".to_owned())]
    );
    assert_eq!(
        downstream.requests(),
        [(
            "PATCH".to_owned(),
            "/api/v1/accounts/v1.2_x-~/status".to_owned()
        )]
    );
}

#[tokio::test]
async fn regression_empty_or_missing_values_never_reach_the_collection_url() {
    let downstream = Recorder::start("127.0.0.1", |_| json_ok("{}")).await;
    let config = format!(
        r#"
[[endpoint]]
name = "jobs"
path = "/hooks/jobs"
envelope = "custom"
ordering = false
[endpoint.mapping]
event_type = "/type"
entity_id = "/id"
[endpoint.relay]
method = "PUT"
url = "{}/tenants/{{{{ payload.tenant }}}}/jobs/{{{{ entity }}}}?v={{{{ payload.v }}}}"
"#,
        downstream.base
    );
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config, &[]);
    let url = format!("{}/hooks/jobs", running.base);
    for body in [
        r#"{"type":"job","tenant":"acme","v":"1"}"#,
        r#"{"type":"job","tenant":null,"id":"j2","v":"1"}"#,
        r#"{"type":"job","tenant":"","id":"j3","v":"1"}"#,
        r#"{"type":"job","tenant":"..","id":"..","v":"1"}"#,
        r#"{"type":"job","tenant":"acme","id":"j4","v":""}"#,
    ] {
        let (status, _, message) = post(&url, body, &[]).await;
        assert_eq!(status, 422, "{body}: {message}");
        assert!(message.contains("template `jobs.relay.url`"), "{message}");
    }
    assert_eq!(downstream.requests(), []);
    let query = r#"{"type":"job","tenant":"acme","id":"j5","v":"a&admin=1#x"}"#;
    let (status, _, message) = post(&url, query, &[]).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        downstream.requests(),
        [(
            "PUT".to_owned(),
            "/tenants/acme/jobs/j5?v=a%26admin%3D1%23x".to_owned()
        )]
    );
}

#[test]
fn regression_url_templates_that_bypass_the_encoder_fail_check_config() {
    for url in [
        "http://127.0.0.1:9/a/{% raw %}x{% endraw %}",
        "http://127.0.0.1:9/a/{% macro m(v) %}{{ v }}{% endmacro %}{{ m(entity) }}",
        "http://127.0.0.1:9/a/{% filter lower %}{{ entity }}{% endfilter %}",
        "http://127.0.0.1:9/a/{% set x %}{{ entity }}{% endset %}{{ x }}",
        "{{ payload.base }}/a/{{ entity }}",
        "http://{{ payload.host }}/a",
        "http://127.0.0.1:9{{ payload.path }}",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("receiver.toml");
        let config =
            format!("[[endpoint]]\nname = \"e\"\npath = \"/e\"\n[endpoint.relay]\nurl = '{url}'\n");
        std::fs::write(&file, config).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
            .args(["check-config", file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{url} passed check-config");
        assert!(stderr.contains("e.relay.url"), "{url}: {stderr}");
    }
}

fn redirecting_config(downstream: &str, method: &str) -> String {
    format!(
        r#"
[[endpoint]]
name = "redir"
path = "/hooks/redir"
envelope = "integration"
[endpoint.relay]
method = "{method}"
url = "{downstream}/accounts/{{{{ entity }}}}"
[endpoint.relay.auth]
kind = "header"
header = "X-Api-Key"
token = "downstream-api-key-SECRET"
"#
    )
}

#[tokio::test]
async fn regression_a_307_to_another_host_is_not_followed_and_the_key_stays_home() {
    let elsewhere = Recorder::start("127.0.0.2", |_| json_ok("{}")).await;
    let landed = format!("{}/landed", elsewhere.base);
    let downstream = Recorder::start("127.0.0.1", move |_| {
        redirect(StatusCode::TEMPORARY_REDIRECT, &landed)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(
        dir.path(),
        &redirecting_config(&downstream.base, "POST"),
        &[],
    );
    let event = r#"{"id":"9","eventType":"a.b","timestamp":1700000000}"#;
    let (status, outcome, message) =
        post(&format!("{}/hooks/redir", running.base), event, &[]).await;
    assert_eq!(status, 502, "{outcome}: {message}");
    assert!(
        message.contains("307") && message.contains("redirect"),
        "{message}"
    );
    assert_eq!(downstream.requests().len(), 1);
    assert_eq!(elsewhere.requests(), [], "the redirect target got nothing");
}

#[tokio::test]
async fn regression_a_303_does_not_turn_the_patch_into_a_get_that_counts_as_delivered() {
    let downstream = Recorder::start("127.0.0.1", |path| match path {
        "/landed" => json_ok("{}"),
        _ => redirect(StatusCode::SEE_OTHER, "/landed"),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(
        dir.path(),
        &redirecting_config(&downstream.base, "PATCH"),
        &[],
    );
    let event = r#"{"id":"9","eventType":"a.b","timestamp":1700000000}"#;
    let (status, outcome, message) =
        post(&format!("{}/hooks/redir", running.base), event, &[]).await;
    assert_ne!(outcome, "handled", "{message}");
    assert_eq!(status, 502, "{message}");
    assert_eq!(
        downstream.requests(),
        [("PATCH".to_owned(), "/accounts/9".to_owned())]
    );
}

#[tokio::test]
async fn regression_the_fetch_follows_no_redirect_either() {
    let elsewhere = Recorder::start("127.0.0.2", |_| json_ok("{}")).await;
    let landed = format!("{}/internal", elsewhere.base);
    let source = Recorder::start("127.0.0.1", move |_| redirect(StatusCode::FOUND, &landed)).await;
    let downstream = Recorder::start("127.0.0.1", |_| json_ok("{}")).await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(
        dir.path(),
        &steered_config(&downstream.base, &source.base),
        &[],
    );
    let event =
        r#"{"id":"1","entityType":"account","eventType":"a","timestamp":1700000000,"status":"x"}"#;
    let (status, _, message) = post(&format!("{}/hooks/acct", running.base), event, &[]).await;
    assert_eq!(status, 502, "{message}");
    assert_eq!(elsewhere.requests(), []);
    assert_eq!(downstream.requests(), []);
}

#[tokio::test]
async fn regression_a_source_answer_over_the_cap_is_a_clear_refusal() {
    // Over the default relay.fetch.max_body_bytes of 1 MiB.
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(1_100_000));
    let source = Recorder::start("127.0.0.1", move |_| json_ok(&big)).await;
    let downstream = Recorder::start("127.0.0.1", |_| json_ok("{}")).await;
    let config = steered_config(&downstream.base, &source.base);
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config, &[]);
    let event =
        r#"{"id":"1","entityType":"account","eventType":"a","timestamp":1700000000,"status":"x"}"#;
    let (status, _, message) = post(&format!("{}/hooks/acct", running.base), event, &[]).await;
    assert_eq!(status, 422, "{message}");
    assert!(message.contains("relay.fetch.max_body_bytes"), "{message}");
    assert_eq!(downstream.requests(), []);
}

#[tokio::test]
async fn regression_a_header_template_rendering_crlf_is_a_refusal() {
    let downstream = Recorder::start("127.0.0.1", |_| json_ok("{}")).await;
    let config = redirecting_config(&downstream.base, "POST").replace(
        "[endpoint.relay.auth]",
        "headers = { \"X-Note\" = \"{{ payload.note }}\" }\n[endpoint.relay.auth]",
    );
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config, &[]);
    let event =
        r#"{"id":"9","eventType":"a.b","timestamp":1700000000,"note":"a\r\nX-Injected: 1"}"#;
    let (status, _, message) = post(&format!("{}/hooks/redir", running.base), event, &[]).await;
    assert_eq!(status, 422, "{message}");
    assert!(message.contains("redir.relay.headers.x-note"), "{message}");
    assert_eq!(downstream.requests(), []);
}

#[tokio::test]
async fn regression_templates_see_only_the_environment_variables_allowed() {
    let downstream = Recorder::start("127.0.0.1", |_| json_ok("{}")).await;
    let config = |allow: &str| {
        redirecting_config(&downstream.base, "POST").replace(
            "[endpoint.relay.auth]",
            &format!(
                "{allow}\nheaders = {{ \"X-Region\" = \"{{{{ env.RELAY_REGION }}}}\", \
                 \"X-Leak\" = \"{{{{ env.RECEIVER_ADMIN_TOKEN | default('none') }}}}\" }}\n[endpoint.relay.auth]"
            ),
        )
    };
    let env = [
        ("RELAY_REGION", "eu-1"),
        ("RECEIVER_ADMIN_TOKEN", "admin-token-SECRET-0123456789"),
    ];
    let event = r#"{"id":"9","eventType":"a.b","timestamp":1700000000}"#;

    // Nothing allowed by default.
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config(""), &env);
    let (status, _, message) = post(&format!("{}/hooks/redir", running.base), event, &[]).await;
    assert_eq!(status, 422, "not allowed, so undefined: {message}");
    assert!(message.contains("undefined"), "{message}");
    drop(running);

    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config("env_allow = [\"RELAY_REGION\"]"), &env);
    let (status, _, message) = post(&format!("{}/hooks/redir", running.base), event, &[]).await;
    assert_eq!(status, 200, "{message}");
    let seen = downstream.seen.lock().unwrap();
    let headers = &seen.last().unwrap().2;
    assert_eq!(headers["x-region"], "eu-1");
    assert_eq!(
        headers["x-leak"], "none",
        "the admin token is not in templates"
    );
}

/// The binary serving `endpoint` (an `[[endpoint]]` table relaying to `{base}`), and the
/// downstream API at `{base}`, which answers 200.
async fn serve_relaying(dir: &std::path::Path, endpoint: &str) -> (FakeApi, Running) {
    let downstream = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let base = downstream.start().await;
    let running = serve_config(dir, &endpoint.replace("{base}", &base), &[]);
    (downstream, running)
}

/// The paths downstream was called at, in order.
fn paths(seen: &[Seen]) -> Vec<&str> {
    seen.iter().map(|s| s.path.as_str()).collect()
}

#[tokio::test]
async fn a_batch_is_relayed_one_request_per_event_in_order_and_its_retry_relays_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = r#"
[[endpoint]]
name = "line"
path = "/hooks/line"
envelope = "custom"
ordering = "per-entity"
[endpoint.mapping]
batch = "/events"
event_type = "/type"
entity_id = "/source/userId"
created_at = "/timestamp"
delivery_id = "/webhookEventId"
[endpoint.relay]
mode = "sync"
url = "{base}/users/{{ entity }}"
"#;
    let (downstream, running) = serve_relaying(dir.path(), endpoint).await;
    let url = format!("{}/hooks/line", running.base);
    let event = |id: &str, user: &str, at: u64| {
        format!(
            r#"{{"type":"message","webhookEventId":"{id}","timestamp":{at},"source":{{"userId":"{user}"}}}}"#
        )
    };
    let events = [
        event("E1", "U1", 1_700_000_000_000),
        event("E2", "U2", 1_700_000_000_001),
        event("E3", "U1", 1_699_999_999_999),
    ];
    let body = format!(r#"{{"destination":"U0","events":[{}]}}"#, events.join(","));
    let (status, outcome, message) = post(&url, &body, &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{message}");
    assert_eq!(message, "a batch of 3 events: 2 handled, 1 stale");
    let seen = downstream.seen();
    assert_eq!(paths(&seen), ["/users/U1", "/users/U2"]);
    assert_eq!(seen[1].body, events[1].as_bytes(), "each event's own bytes");
    assert_eq!(seen[0].headers["idempotency-key"], "line:E1");

    let (_, _, message) = post(&url, &body, &[]).await;
    assert_eq!(message, "a batch of 3 events: 2 duplicate, 1 stale");
    assert_eq!(downstream.seen().len(), 2);
}

#[tokio::test]
async fn a_catalogue_senders_batch_is_relayed_one_request_per_event_by_its_envelope_name() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = r#"
[[endpoint]]
name = "hubspot"
path = "/hooks/hubspot"
envelope = "hubspot"
ordering = "per-entity"
[endpoint.verify]
kind = "hubspot"
secrets = ["hubspot-client-secret"]
[endpoint.relay]
mode = "sync"
url = "{base}/contacts/{{ entity }}"
"#;
    let (downstream, running) = serve_relaying(dir.path(), endpoint).await;
    let url = format!("{}/hooks/hubspot", running.base);
    // HubSpot's array of events, `occurredAt` in milliseconds, `eventId` not unique.
    let event = |kind: &str, object: u64, at: u64| {
        format!(
            r#"{{"eventId":100,"subscriptionId":25,"portalId":33,"appId":1160452,"occurredAt":{at},"subscriptionType":"{kind}","attemptNumber":0,"objectId":{object}}}"#
        )
    };
    let events = [
        event("contact.propertyChange", 1, 1_700_000_000_000),
        event("contact.creation", 2, 1_700_000_000_001),
        // An earlier change to contact 1, come late: older than what was relayed for it.
        event("contact.propertyChange", 1, 1_699_999_999_999),
    ];
    let body = format!("[{}]", events.join(","));
    let send = |body: String| {
        let url = url.clone();
        async move {
            let at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            let signature =
                sign::hubspot("hubspot-client-secret", "POST", &url, body.as_bytes(), at);
            let at = at.to_string();
            let headers = [
                ("x-hubspot-signature-v3", signature.as_str()),
                ("x-hubspot-request-timestamp", at.as_str()),
            ];
            post(&url, &body, &headers).await
        }
    };
    let (status, outcome, message) = send(body.clone()).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{message}");
    assert_eq!(message, "a batch of 3 events: 2 handled, 1 stale");
    let seen = downstream.seen();
    assert_eq!(paths(&seen), ["/contacts/1", "/contacts/2"]);
    assert_eq!(seen[1].body, events[1].as_bytes(), "each event's own bytes");
    let keys: Vec<_> = seen
        .iter()
        .map(|s| s.headers["idempotency-key"].clone())
        .collect();
    assert_ne!(keys[0], keys[1], "each event is known by its own bytes");

    // The same batch again, freshly signed: nothing is relayed twice.
    let (_, _, message) = send(body).await;
    assert_eq!(message, "a batch of 3 events: 2 duplicate, 1 stale");
    assert_eq!(downstream.seen().len(), 2);
}

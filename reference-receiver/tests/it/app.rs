//! The receiver's app with no socket: built from a config and opened stores, and sent requests
//! with `tower::ServiceExt::oneshot`.

use axum::body::Body;
use http::{Request, StatusCode};
use receiver_sdk::verify::sign;
use reference_receiver::{config, App, Stores};
use tower::ServiceExt as _;

const SECRET: &str = "app-test-secret";

/// An app with one GitHub endpoint at `/gh`, its store in `dir`. The address is where the app
/// says it is reached; nothing listens there.
async fn github_app(dir: &std::path::Path) -> (App, Stores) {
    let text = format!(
        "[store]\npath = {path:?}\n\
         [[endpoint]]\nname = \"gh\"\npath = \"/gh\"\nenvelope = \"github\"\n\
         [endpoint.verify]\nkind = \"github\"\nsecrets = [\"{SECRET}\"]\n",
        path = dir.join("data").display().to_string(),
    );
    let config = config::from_parts(Some(("app.toml", &text)), Vec::new(), |_| None).unwrap();
    let stores = Stores::open(&config.store).await.unwrap();
    let app = App::build(&config, &stores, "127.0.0.1:8080".parse().unwrap(), false).unwrap();
    (app, stores)
}

fn github_delivery(body: &'static str, signature: &str) -> Request<Body> {
    Request::post("/gh")
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", "d-1")
        .header("x-hub-signature-256", signature)
        .body(Body::from(body))
        .unwrap()
}

fn outcome(response: &http::Response<Body>) -> &str {
    response
        .headers()
        .get("x-webhook-outcome")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn shut(app: App, stores: Stores) {
    app.finish().await;
    stores.close().await;
}

#[tokio::test]
async fn a_signed_delivery_oneshot_into_the_app_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let (app, stores) = github_app(dir.path()).await;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let response = app
        .router()
        .oneshot(github_delivery(
            body,
            &sign::github(SECRET, body.as_bytes()),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(outcome(&response), "handled");

    let again = app
        .router()
        .oneshot(github_delivery(
            body,
            &sign::github(SECRET, body.as_bytes()),
        ))
        .await
        .unwrap();
    assert_eq!(
        (again.status(), outcome(&again)),
        (StatusCode::OK, "duplicate"),
        "the app's router shares one store across calls"
    );
    shut(app, stores).await;
}

#[tokio::test]
async fn a_delivery_signed_with_another_secret_is_refused_by_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let (app, stores) = github_app(dir.path()).await;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let response = app
        .router()
        .oneshot(github_delivery(
            body,
            &sign::github("not-it", body.as_bytes()),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(outcome(&response), "unauthorized");
    shut(app, stores).await;
}

#[tokio::test]
async fn the_app_answers_healthz_and_readyz() {
    let dir = tempfile::tempdir().unwrap();
    let (app, stores) = github_app(dir.path()).await;
    for path in ["/healthz", "/readyz"] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    shut(app, stores).await;
}

#[tokio::test]
async fn once_the_app_and_its_stores_are_closed_the_same_directory_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    let (app, stores) = github_app(dir.path()).await;
    shut(app, stores).await;
    let started = std::time::Instant::now();
    let (app, stores) = github_app(dir.path()).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "sled's lock was still held: reopening waited {:?}",
        started.elapsed()
    );
    shut(app, stores).await;
}

//! example-integration: a notification triggers GET at the source API and PATCH downstream;
//! both are real HTTP servers on loopback ports here.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use axum::{Json, Router};
use end_to_end::Server;
use example_integration::{app_with, Config};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::Example;

const WEBHOOK_TOKEN: &str = "webhook-token";
const SOURCE_TOKEN: &str = "source-token";

/// What the two stand-ins saw, and what the downstream answers.
#[derive(Clone)]
struct Systems {
    /// The `Authorization` header of each GET at the source.
    source_auth: Arc<Mutex<Vec<Option<String>>>>,
    /// Each PATCH downstream: path and JSON body.
    patches: Arc<Mutex<Vec<(String, Value)>>>,
    /// The downstream's answer to the next PATCH.
    downstream_answer: Arc<Mutex<(StatusCode, Value)>>,
}

impl Systems {
    fn new() -> Self {
        Self {
            source_auth: Arc::default(),
            patches: Arc::default(),
            downstream_answer: Arc::new(Mutex::new((StatusCode::NO_CONTENT, Value::Null))),
        }
    }

    fn patches(&self) -> Vec<(String, Value)> {
        self.patches.lock().unwrap().clone()
    }

    fn downstream_answers(&self, status: StatusCode, body: Value) {
        *self.downstream_answer.lock().unwrap() = (status, body);
    }
}

/// The source API, under `/api`: one user, IDNUMBER1234; anything else is 404.
fn source_api(systems: Systems) -> Router {
    let entity = |State(systems): State<Systems>,
                  Path((entity_type, id)): Path<(String, String)>,
                  headers: HeaderMap| async move {
        let auth = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        systems.source_auth.lock().unwrap().push(auth);
        if (entity_type.as_str(), id.as_str()) == ("USER", "IDNUMBER1234") {
            Json(json!({"id": "IDNUMBER1234", "email": "ada@example.com", "name": "Ada"}))
                .into_response()
        } else {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"message": "no such entity"})),
            )
                .into_response()
        }
    };
    Router::new()
        .route("/api/{entity_type}/{id}", get(entity))
        .with_state(systems)
}

/// The downstream system: records each PATCH and answers as told.
fn downstream(systems: Systems) -> Router {
    let update = |State(systems): State<Systems>, uri: Uri, Json(body): Json<Value>| async move {
        systems
            .patches
            .lock()
            .unwrap()
            .push((uri.path().to_owned(), body));
        let (status, body) = systems.downstream_answer.lock().unwrap().clone();
        if body.is_null() {
            status.into_response()
        } else {
            (status, Json(body)).into_response()
        }
    };
    Router::new()
        .route("/{entity_type}/{id}", patch(update))
        .with_state(systems)
}

/// The example wired to both stand-ins.
pub(super) struct Integration {
    pub(super) example: Example,
    systems: Systems,
    // Held because dropping a server stops it.
    _stand_ins: Vec<Server>,
}

/// The example wired to both stand-ins, requiring the webhook token.
pub(super) async fn start() -> Integration {
    let systems = Systems::new();
    let downstream = Server::start(downstream(systems.clone())).await;
    // A trailing slash on one base URL and none on the other: both must join the same way.
    let mut integration = start_with(systems, &downstream.url("/")).await;
    integration._stand_ins.push(downstream);
    integration
}

async fn start_with(systems: Systems, downstream_url: &str) -> Integration {
    let source = Server::start(source_api(systems.clone())).await;
    let config = Config::new(&source.url("/api"), downstream_url)
        .expect("loopback URLs are valid")
        .with_source_api_token(SOURCE_TOKEN);
    let example = Example::start(
        |settings| settings.secret = Some(WEBHOOK_TOKEN.into()),
        |settings, sink| app_with(config, settings, sink),
    )
    .await;
    Integration {
        example,
        systems,
        _stand_ins: vec![source],
    }
}

fn notification(id: &str, event_type: &str, timestamp: &str) -> String {
    json!({"id": id, "entityType": "USER", "eventType": event_type, "timestamp": timestamp})
        .to_string()
}

async fn notify(example: &Example, body: &str) -> (u16, String, Value) {
    let authorization = format!("Bearer {WEBHOOK_TOKEN}");
    example
        .post(&[("Authorization", authorization.as_str())], body)
        .await
}

fn update_of_1234() -> String {
    notification("IDNUMBER1234", "UPDATE", "2019-01-01T00:00:00Z")
}

#[tokio::test]
async fn an_update_is_fetched_mapped_patched_downstream_and_answered_200() {
    let it = start().await;
    let (status, outcome, _) = notify(&it.example, &update_of_1234()).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    assert_eq!(
        *it.systems.source_auth.lock().unwrap(),
        [Some(format!("Bearer {SOURCE_TOKEN}"))]
    );
    assert_eq!(
        it.systems.patches(),
        [(
            "/USER/IDNUMBER1234".to_owned(),
            json!({"externalId": "IDNUMBER1234",
                "attributes": {"email": "ada@example.com", "name": "Ada"}})
        )]
    );
    assert_eq!(
        it.example.lines.all(),
        [
            r#"{"created_at":"2019-01-01T00:00:00+00:00","delivery":null,"entity":"IDNUMBER1234","event":"UPDATE"}"#
        ]
    );
}

#[tokio::test]
async fn a_repeated_notification_is_a_duplicate_and_not_patched_again() {
    let it = start().await;
    notify(&it.example, &update_of_1234()).await;
    let (status, outcome, _) = notify(&it.example, &update_of_1234()).await;
    assert_eq!((status, outcome.as_str()), (200, "duplicate"));
    assert_eq!(it.systems.patches().len(), 1);
    assert_eq!(it.example.lines.all().len(), 1);
}

#[tokio::test]
async fn an_older_event_of_any_type_for_an_entity_already_synced_is_stale() {
    let it = start().await;
    notify(&it.example, &update_of_1234()).await;
    let late_create = notification("IDNUMBER1234", "CREATE", "2018-12-31T23:59:00Z");
    let (status, outcome, _) = notify(&it.example, &late_create).await;
    assert_eq!((status, outcome.as_str()), (200, "stale"));
    assert_eq!(it.systems.patches().len(), 1);
}

#[tokio::test]
async fn an_entity_missing_at_the_source_is_422_with_a_message_the_source_can_show() {
    let it = start().await;
    let body = notification("IDNUMBER9999", "UPDATE", "2019-01-01T00:00:00Z");
    let (status, _, json) = notify(&it.example, &body).await;
    assert_eq!(status, 422);
    assert_eq!(
        json["message"],
        "USER IDNUMBER9999 was not found at the source API"
    );
    assert!(it.systems.patches().is_empty());
    assert!(it.example.lines.all().is_empty());
}

#[tokio::test]
async fn a_downstream_refusal_is_422_carrying_the_downstream_message() {
    let it = start().await;
    it.systems.downstream_answers(
        StatusCode::BAD_REQUEST,
        json!({"message": "email ada@example.com is already used by another account"}),
    );
    let (status, _, json) = notify(&it.example, &update_of_1234()).await;
    assert_eq!(status, 422);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.ends_with("email ada@example.com is already used by another account"),
        "{message}"
    );
    assert!(it.example.lines.all().is_empty());
}

#[tokio::test]
async fn an_unreachable_downstream_is_503_so_the_source_retries() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let it = start_with(Systems::new(), &closed).await;
    let (status, _, json) = notify(&it.example, &update_of_1234()).await;
    assert_eq!(status, 503);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.starts_with("the downstream system is unreachable"),
        "{message}"
    );
    assert!(it.example.lines.all().is_empty());
}

#[tokio::test]
async fn a_notification_that_failed_downstream_is_handled_when_retried() {
    let it = start().await;
    it.systems
        .downstream_answers(StatusCode::SERVICE_UNAVAILABLE, Value::Null);
    let (status, _, _) = notify(&it.example, &update_of_1234()).await;
    assert_eq!(status, 503);
    it.systems
        .downstream_answers(StatusCode::NO_CONTENT, Value::Null);
    let (status, outcome, _) = notify(&it.example, &update_of_1234()).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    assert_eq!(it.systems.patches().len(), 2);
    assert_eq!(it.example.lines.all().len(), 1);
}

#[tokio::test]
async fn a_wrong_webhook_token_is_401_and_nothing_is_fetched() {
    let it = start().await;
    let (status, outcome, _) = it
        .example
        .post(
            &[("Authorization", "Bearer not-the-token")],
            &update_of_1234(),
        )
        .await;
    assert_eq!((status, outcome.as_str()), (401, "unauthorized"));
    assert!(it.systems.source_auth.lock().unwrap().is_empty());
}

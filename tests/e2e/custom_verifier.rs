//! A verification scheme the SDK does not know, written here as a user would, plugged into a
//! real endpoint: the `Verify` seam, over loopback HTTP (and through the pure stage the
//! inspector uses).

use std::time::SystemTime;

use axum::Router;
use end_to_end::{answer, client, sonar_body, Recorder, Server};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use receiver_sdk::verify::{FailureKind, Verifier, Verify, VerifyFailure};
use receiver_sdk::{Decision, Outcome, Receiver, Secret};

const HEADER: &str = "x-device-token";

/// A device token in `x-device-token`, compared in constant time.
#[derive(Debug)]
struct DeviceToken(Secret);

impl Verify for DeviceToken {
    fn verify(
        &self,
        headers: &HeaderMap,
        _body: &[u8],
        _now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        let sent = headers.get(HEADER).ok_or_else(|| {
            VerifyFailure::new(FailureKind::MissingHeader {
                header: HeaderName::from_static(HEADER),
            })
        })?;
        if Secret::new(sent.as_bytes()).ct_eq(&self.0) {
            Ok(())
        } else {
            Err(VerifyFailure::other("device token not recognised"))
        }
    }

    fn challenge(&self) -> Option<HeaderValue> {
        Some(HeaderValue::from_static("DeviceToken"))
    }

    fn authenticates_only_the_body(&self) -> bool {
        false
    }
}

fn device_token() -> DeviceToken {
    DeviceToken(Secret::from("dev-7f3a-token"))
}

async fn endpoint(verifier: impl Verify) -> (Server, Recorder) {
    let recorder = Recorder::new();
    let receiver = Receiver::builder("devices")
        .verifier(verifier)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    (server, recorder)
}

async fn post(server: &Server, token: Option<&str>) -> reqwest::Response {
    let body = sonar_body("account.status", 7, "2026-12-02T10:00:00Z", "active");
    let mut request = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.header(HEADER, token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_delivery_with_the_right_token_is_handled() {
    let (server, recorder) = endpoint(device_token()).await;
    let (status, outcome, _) = answer(post(&server, Some("dev-7f3a-token")).await).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    assert_eq!(recorder.applied().len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_answered_401_with_the_schemes_own_reason() {
    let (server, recorder) = endpoint(device_token()).await;
    let response = post(&server, Some("dev-7f3a-tokem")).await;
    let challenge = response.headers().get("www-authenticate").cloned();
    let (status, outcome, body) = answer(response).await;
    assert_eq!((status, outcome.as_str()), (401, "unauthorized"));
    assert_eq!(body["message"], "device token not recognised");
    assert_eq!(challenge, Some(HeaderValue::from_static("DeviceToken")));
    assert!(recorder.applied().is_empty());
}

#[tokio::test]
async fn a_missing_token_is_named_as_a_built_in_scheme_would_name_it() {
    let (server, recorder) = endpoint(device_token()).await;
    let (status, _, body) = answer(post(&server, None).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "missing x-device-token header");
    assert!(recorder.applied().is_empty());
}

#[tokio::test]
async fn a_scheme_wrapped_in_a_verifier_answers_the_same() {
    let (server, recorder) = endpoint(Verifier::custom(device_token())).await;
    let (status, outcome, _) = answer(post(&server, Some("dev-7f3a-token")).await).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    let (status, _, body) = answer(post(&server, Some("wrong")).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "device token not recognised");
    assert_eq!(recorder.applied().len(), 1);
}

#[test]
fn the_pure_stage_reports_the_schemes_verdict() {
    let stage = Receiver::builder("devices")
        .verifier(device_token())
        .assessor();
    let mut headers = HeaderMap::new();
    headers.insert(HEADER, HeaderValue::from_static("wrong"));
    let body = sonar_body("account.status", 7, "2026-12-02T10:00:00Z", "active");
    let assessment = stage.assess(
        &Method::POST,
        &headers,
        body.as_bytes(),
        false,
        SystemTime::now(),
    );
    let failure = assessment.verification.unwrap().unwrap_err();
    assert_eq!(
        failure.kind(),
        &FailureKind::Other {
            check: "device token not recognised"
        }
    );
    assert!(matches!(
        assessment.decision,
        Decision::Answer(Outcome::Unauthorized { .. })
    ));

    headers.insert(HEADER, HeaderValue::from_static("dev-7f3a-token"));
    let assessment = stage.assess(
        &Method::POST,
        &headers,
        body.as_bytes(),
        false,
        SystemTime::now(),
    );
    assert_eq!(assessment.verification, Some(Ok(())));
    assert!(matches!(assessment.decision, Decision::Check(_)));
}

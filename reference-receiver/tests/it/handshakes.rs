//! Setup handshakes over HTTP, as configured in `[endpoint.verify]` and
//! `[[endpoint.handshake]]`, and answered by inspector bins configured the same way.

use std::time::{SystemTime, UNIX_EPOCH};

use receiver_sdk::verify::sign;
use serde_json::{json, Value};

use crate::common::{outcome_of, post_response};
use crate::inspector_support::{client, Served};

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const ZOOM_SECRET: &str = "zoom-secret-token-4f1c";
const META_TOKEN: &str = "meatyhamhock";

/// Three endpoints whose verify kind or handshake list names their sender, and one whose
/// does not.
const ENDPOINTS: &str = r#"
[[endpoint]]
name = "slack"
path = "/slack"
[endpoint.verify]
kind = "slack"
secrets = ["8f742231b10e8888abcd99yyyzzz85a5"]

[[endpoint]]
name = "zoom"
path = "/zoom"
[endpoint.verify]
kind = "zoom"
secrets = ["zoom-secret-token-4f1c"]

[[endpoint]]
name = "whatsapp"
path = "/whatsapp"
[endpoint.verify]
kind = "meta"
secrets = ["app-secret"]
[[endpoint.handshake]]
name = "meta"
verify_token = "meatyhamhock"

[[endpoint]]
name = "github"
path = "/github"
[endpoint.verify]
kind = "github"
secrets = ["gh-secret"]
"#;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The status, `X-Webhook-Outcome` and body (JSON, or the text as a JSON string).
async fn answered(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let outcome = outcome_of(&response);
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, outcome, body)
}

async fn post_json(url: String, headers: &[(&str, String)], body: &str) -> reqwest::Response {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_response(&url, body, &headers).await
}

#[tokio::test]
async fn configured_endpoints_answer_slack_zoom_and_meta_handshakes_and_refuse_wrong_ones() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), ENDPOINTS).await;

    // Slack: a signed url_verification gets its challenge back; an unsigned one is 401.
    let challenge = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let at = now();
    let signed = [
        ("x-slack-request-timestamp", at.to_string()),
        (
            "x-slack-signature",
            sign::slack(SLACK_SECRET, at, challenge.as_bytes()),
        ),
    ];
    let (status, outcome, body) =
        answered(post_json(served.url("/slack"), &signed, challenge).await).await;
    assert_eq!((status, outcome.as_str()), (200, "handshake"));
    assert_eq!(
        body,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    let (status, _, _) = answered(post_json(served.url("/slack"), &[], challenge).await).await;
    assert_eq!(status, 401, "an unsigned challenge");

    // Zoom: the secret token is the verify secret, for the signature and the encrypted token.
    let validation = json!({
        "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
        "event_ts": 1654503849680_u64,
        "event": "endpoint.url_validation"
    })
    .to_string();
    let signed = [
        ("x-zm-request-timestamp", at.to_string()),
        (
            "x-zm-signature",
            sign::zoom(ZOOM_SECRET, at, validation.as_bytes()),
        ),
    ];
    let (status, outcome, body) =
        answered(post_json(served.url("/zoom"), &signed, &validation).await).await;
    assert_eq!((status, outcome.as_str()), (200, "handshake"));
    // Zoom's encryptedToken is the hex HMAC-SHA256 of the plain token, as Dropbox's signature
    // is of a body: the same function.
    let encrypted = sign::dropbox(ZOOM_SECRET, b"qgg8vlvZRS6UYooatFL8Aw");
    assert_eq!(
        body,
        json!({"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": encrypted})
    );
    let forged = [
        ("x-zm-request-timestamp", at.to_string()),
        (
            "x-zm-signature",
            sign::zoom("not-the-token", at, validation.as_bytes()),
        ),
    ];
    let (status, _, _) = answered(post_json(served.url("/zoom"), &forged, &validation).await).await;
    assert_eq!(status, 401, "a forged validation");

    // Meta: the challenge for the configured verify token, 403 for another.
    let subscribe = |token: &str| {
        served.url(&format!(
            "/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}"
        ))
    };
    let response = client().get(subscribe(META_TOKEN)).send().await.unwrap();
    let (status, outcome, body) = answered(response).await;
    assert_eq!((status, outcome.as_str()), (200, "handshake"));
    assert_eq!(body, json!(1158201444), "the challenge, as plain text");
    let response = client().get(subscribe("guessed")).send().await.unwrap();
    let (status, outcome, body) = answered(response).await;
    assert_eq!((status, outcome.as_str()), (403, "handshake_refused"));
    assert!(!body.to_string().contains(META_TOKEN), "{body}");

    // An endpoint configured for none of them answers none of them.
    let response = client()
        .get(served.url("/github?hub.mode=subscribe&hub.challenge=1&hub.verify_token=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let (status, _, _) = answered(post_json(served.url("/github"), &[], challenge).await).await;
    assert_eq!(status, 401);
    served.stop().await;
}

#[tokio::test]
async fn an_inspector_bin_for_a_provider_answers_its_handshake_and_records_it_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served
        .new_bin(json!({
            "verify": {"kind": "meta", "secrets": ["app-secret"]},
            "handshake": [{"name": "meta", "verify_token": META_TOKEN}],
            "response": {"status": 202, "body": "canned"}
        }))
        .await;
    let url = served.url(&format!(
        "/in/{token}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={META_TOKEN}"
    ));
    let response = client().get(url).send().await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "the handshake's answer, not the bin's"
    );
    assert_eq!(response.text().await.unwrap(), "1158201444");
    let captures = served.requests(&token, "").await;
    assert_eq!(captures.len(), 1);
    let verdicts = &captures[0]["verdicts"];
    assert_eq!(verdicts["outcome"], "handshake", "{verdicts}");
    assert!(
        verdicts["message"]
            .as_str()
            .unwrap()
            .contains("meta setup handshake"),
        "{verdicts}"
    );

    // The bin shows its handshake with the verify token redacted.
    let bin = served.get_json(&format!("/api/bins/{token}")).await;
    assert!(!bin.to_string().contains(META_TOKEN), "{bin}");
    assert_eq!(bin["settings"]["handshake"][0]["name"], "meta", "{bin}");

    // A request that is no handshake still gets the bin's own answer.
    let response = client()
        .post(served.url(&format!("/in/{token}")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    served.stop().await;
}

/// The secret of Asana's documented handshake example.
const ASANA_SECRET: &str = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";

async fn asana_handshake(served: &Served, path: &str, secret: &str) -> reqwest::Response {
    client()
        .post(served.url(path))
        .header("X-Hook-Secret", secret)
        .send()
        .await
        .unwrap()
}

fn hook_secret(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("x-hook-secret")
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn asana_setup_saves_the_offered_secret_and_then_answers_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("asana.secret");
    let endpoints = format!(
        "[[endpoint]]\nname = \"asana-setup\"\npath = \"/asana-setup\"\n\
         [[endpoint.handshake]]\nname = \"asana\"\naccept = \"any\"\nsave_to = {saved:?}\n\
         [[endpoint]]\nname = \"asana\"\npath = \"/asana\"\n\
         [endpoint.verify]\nkind = \"asana\"\nsecrets = [\"{ASANA_SECRET}\"]\n\
         [[endpoint]]\nname = \"trello\"\npath = \"/trello\"\n\
         [[endpoint.handshake]]\nname = \"trello\"\n",
        saved = saved.display().to_string(),
    );
    let served = Served::start(dir.path(), &endpoints).await;

    let response = asana_handshake(&served, "/asana-setup", ASANA_SECRET).await;
    assert_eq!(response.status(), 200);
    assert_eq!(hook_secret(&response), Some(ASANA_SECRET));
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        format!("{ASANA_SECRET}\n")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }

    // Configured: the known secret is answered, another is refused and not echoed.
    let known = asana_handshake(&served, "/asana", ASANA_SECRET).await;
    assert_eq!(known.status(), 200);
    assert_eq!(hook_secret(&known), Some(ASANA_SECRET));
    let other = asana_handshake(&served, "/asana", "f00dfeed").await;
    assert_eq!(other.status(), 403);
    assert_eq!(hook_secret(&other), None);

    // Trello's HEAD, and the same HEAD on an endpoint without it: both 200, one a handshake.
    let trello = client().head(served.url("/trello")).send().await.unwrap();
    assert_eq!(trello.status(), 200);
    assert_eq!(outcome_of(&trello), "handshake");
    let probe = client().head(served.url("/asana")).send().await.unwrap();
    assert_eq!(probe.status(), 200);
    assert_eq!(outcome_of(&probe), "", "a probe, no handshake");
    served.stop().await;
}

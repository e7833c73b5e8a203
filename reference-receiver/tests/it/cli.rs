//! The binary as users run it.

use crate::common::{self, client, start};

#[tokio::test]
async fn serve_with_no_config_answers_head_and_post_and_keeps_data_in_dot_data() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &["serve", "--bind", "127.0.0.1:0"], &[]);
    let url = format!("{}/webhook", running.base);
    assert_eq!(client().head(&url).send().await.unwrap().status(), 200);
    let (status, outcome, _) = common::post(&url, r#"{"hello":"world"}"#, &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    let (_, outcome, _) = common::post(&url, r#"{"hello":"world"}"#, &[]).await;
    assert_eq!(outcome, "duplicate");
    assert!(
        dir.path().join("data").is_dir(),
        "sled data lives in ./data"
    );
    assert!(
        running.log().contains("embedded defaults"),
        "{}",
        running.log()
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &["serve", "--bind", "127.0.0.1:0"], &[]);
    let get = |path: &str| client().get(format!("{}{path}", running.base)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let url = format!("{}/webhook", running.base);
    common::post(&url, r#"{"n":1}"#, &[]).await;
    common::post(&url, "not json", &[]).await;
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(
            r#"webhook_requests_total{endpoint="default",outcome="handled",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"webhook_requests_total{endpoint="default",outcome="malformed",status="400"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("webhook_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receiver.toml");
    std::fs::write(
        &file,
        "[[endpoint]]\nname = \"gh\"\npath = \"/gh\"\nenvelope = \"github\"\n\
         [endpoint.verify]\nkind = \"github\"\nsecrets = [\"hush-hush\"]\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
        .args(["check-config", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("[redacted]") && !stdout.contains("hush-hush"),
        "{stdout}"
    );
    assert!(stdout.contains("path = \"/gh\""), "{stdout}");

    std::fs::write(&file, "[server]\nbind = \"nowhere\"\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
        .args(["check-config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("receiver.toml: server.bind: invalid socket address syntax"),
        "{stderr}"
    );
}

/// The configuration guide's example config is the documentation of every key: it must stay
/// valid.
#[test]
fn the_configuration_guide_example_config_passes_check_config() {
    let guide = include_str!("../../docs/configuration.md");
    let start = guide
        .find("<!-- config-example -->\n```toml\n")
        .expect("the configuration guide marks its example config");
    let rest = &guide[start..];
    let body = &rest[rest.find("```toml\n").unwrap() + "```toml\n".len()..];
    let example = &body[..body.find("\n```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receiver.toml");
    std::fs::write(&file, example).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
        .args(["check-config", file.to_str().unwrap()])
        .env("RECEIVER_ADMIN_TOKEN", "admin-token-for-the-readme")
        .env("DOWNSTREAM_TOKEN", "downstream-token")
        .env("SOURCE_API_KEY", "source-key")
        .env("BILLING_SECRETS", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .env("SUPEROFFICE_SECRET", "Something Super Secret")
        .env("JOBS_PASSWORD", "jobs-password")
        .env("SHOPIFY_SECRET", "shopify-secret")
        .env("META_APP_SECRET", "meta-app-secret")
        .env("META_VERIFY_TOKEN", "meta-verify-token")
        .env("ZOOM_SECRET_TOKEN", "zoom-secret-token")
        .env("ACME_SECRET", "acme-secret")
        .env("FEED_SECRET", "feed-secret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for name in [
        "sonar", "billing", "crm", "jobs", "feed", "zoom", "acme", "shop", "whatsapp",
    ] {
        assert!(stdout.contains(&format!("name = \"{name}\"")), "{stdout}");
    }
    assert!(stdout.contains("batch = \"/events\""), "{stdout}");
    for secret in [
        "admin-token-for-the-readme",
        "downstream-token",
        "source-key",
        "jobs-password",
        "meta-verify-token",
        "zoom-secret-token",
        "acme-secret",
        "feed-secret",
    ] {
        assert!(!stdout.contains(secret), "{secret} printed: {stdout}");
    }
}

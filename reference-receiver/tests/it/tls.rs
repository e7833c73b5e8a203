//! HTTPS with a given certificate.

use crate::common;

#[tokio::test]
async fn the_receiver_serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_pem = generated.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        generated.key_pair.serialize_pem(),
    )
    .unwrap();
    let config = r#"
[server]
tls_cert = "cert.pem"
tls_key = "key.pem"
"#;
    let running = common::serve_config(dir.path(), config, &[]);
    assert!(running.base.starts_with("https://"), "{}", running.base);
    let port = running.base.rsplit(':').next().unwrap().to_owned();

    let trusting = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/webhook");
    let response = trusting
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"over":"tls"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-webhook-outcome"], "handled");

    // A client that does not trust the certificate refuses the connection.
    let strict = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(strict.head(&url).send().await.is_err());
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = format!("http://127.0.0.1:{port}/webhook");
    assert!(common::client().head(&plain).send().await.is_err());
}

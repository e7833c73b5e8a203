//! The one access gate in front of `/admin`, `/api` and `/ui`: the same rules for each, over
//! HTTP/1.1, h2c and HTTP/2 over TLS.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::inspector_support::{self, client, Served};

/// One HTTP/2 request on `io` (h2c or TLS with ALPN h2): the status and the body.
async fn h2<IO>(io: IO, method: &str, uri: &str, headers: &[(&str, &str)]) -> (u16, String)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(io),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(connection);
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .expect("h2 response");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn h2c(served: &Served, method: &str, uri: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let addr = served.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    h2(stream, method, uri, headers).await
}

#[tokio::test]
async fn regression_admin_refuses_rebinding_hosts_and_cross_site_requests_like_the_inspector() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let port = served.base.rsplit(':').next().unwrap().to_owned();
    let rebinding = format!("attacker.example:{port}");
    let attacker = format!("http://attacker.example:{port}");
    for path in ["/admin/outbox", "/api/bins"] {
        // DNS rebinding: the page's own origin, but a name that is not loopback.
        let read = client()
            .get(served.url(path))
            .header("host", &rebinding)
            .header("origin", &attacker)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 403, "{path}");
        assert!(read.text().await.unwrap().contains("loopback host names"));
        // A plain cross-site form post (no preflight): refused by its Origin.
        let post = client()
            .post(served.url(path))
            .header("origin", "https://evil.example")
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 403, "{path}");
        // A browser that marks the request as coming from another site of the same host (any
        // other port of 127.0.0.1).
        let same_site = client()
            .get(served.url(path))
            .header("sec-fetch-site", "same-site")
            .header("sec-fetch-mode", "cors")
            .send()
            .await
            .unwrap();
        assert_eq!(same_site.status(), 403, "{path}");
        let own = client().get(served.url(path)).send().await.unwrap();
        assert_eq!(own.status(), 200, "{path}");
    }
    let purge = client()
        .delete(served.url("/admin/outbox/queued/dead"))
        .header("host", &rebinding)
        .send()
        .await
        .unwrap();
    assert_eq!(purge.status(), 403, "checked before any route");
}

#[tokio::test]
async fn regression_over_h2c_the_gate_reads_the_authority_not_a_host_header() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let port = served.base.rsplit(':').next().unwrap().to_owned();
    for path in ["/admin/outbox", "/api/bins", "/ui"] {
        let evil = format!("http://evil.example:{port}{path}");
        let (status, body) = h2c(&served, "GET", &evil, &[]).await;
        assert_eq!(status, 403, "{path}: {body}");
        let own = format!("http://127.0.0.1:{port}{path}");
        let (status, body) = h2c(&served, "GET", &own, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

#[tokio::test]
async fn regression_an_empty_bearer_over_h2c_is_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let config = inspector_support::config(
        dir.path(),
        "[server]\nbind = \"127.0.0.1:0\"\n[admin]\ntoken = \"h2c-admin-token-0123\"\n",
    );
    let served = Served::config(config).await;
    let port = served.base.rsplit(':').next().unwrap().to_owned();
    for path in ["/admin/outbox", "/api/bins"] {
        let uri = format!("http://127.0.0.1:{port}{path}");
        // HTTP/2 keeps the space HTTP/1 parsers trim: the empty token is no token at all (with
        // an empty admin token, which config now refuses, it used to match).
        let (status, body) = h2c(&served, "GET", &uri, &[("authorization", "Bearer ")]).await;
        assert_eq!(status, 401, "{path}");
        assert!(body.contains("admin token missing"), "{path}: {body}");
        let (status, _) = h2c(
            &served,
            "GET",
            &uri,
            &[("authorization", "Bearer h2c-admin-token-0123")],
        )
        .await;
        assert_eq!(status, 200, "{path}");
    }
}

#[tokio::test]
async fn regression_over_https_with_h2_the_uis_own_posts_are_its_own_origin() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_pem = generated.cert.pem();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let config = inspector_support::config(
        dir.path(),
        &format!(
            "[server]\nbind = \"127.0.0.1:0\"\ntls_cert = '{}'\ntls_key = '{}'\n",
            cert.display(),
            key.display()
        ),
    );
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(reference_receiver::serve(config, listener, async {
        let _ = stopped.await;
    }));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            generated.cert.der().to_vec(),
        ))
        .unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
    let origin = format!("https://localhost:{port}");
    let mut answer = None;
    for _ in 0..100 {
        let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let stream = connector.connect(name, tcp).await.unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let uri = format!("{origin}/api/bins");
        answer = Some(h2(stream, "POST", &uri, &[("origin", &origin)]).await);
        break;
    }
    let (status, body) = answer.expect("the server came up");
    assert_eq!(status, 201, "the UI creating a bin over h2: {body}");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

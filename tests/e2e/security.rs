//! Security review points, one test each.
//!
//! * **Constant-time comparisons.** A timing test would be the direct proof, but on a shared
//!   2-core CI machine the noise (microseconds) dwarfs what a byte-by-byte `==` on 32 bytes
//!   leaks (nanoseconds), so such a test either proves nothing or flakes. What we can check
//!   honestly is the construction that makes the comparison constant-time: every signature is
//!   decoded to exactly 32 bytes before it is compared (a wrong length is refused as malformed,
//!   never compared), credentials are compared as SHA-256 digests (so their length never
//!   matters), the comparisons themselves are `subtle::ConstantTimeEq`, and no other equality
//!   in the verification code involves a runtime value on both sides. Plus the functional
//!   half: every wrong length and every single-byte mutation is rejected.
//! * **No secret in logs**: `logging.rs`, for every verifier kind and the binary.
//! * **Replay outside the tolerance** is rejected for every timestamped scheme; inside it, a
//!   replay is a duplicate.
//! * **Admin and inspector APIs** need a token beyond loopback: the binary refuses to start
//!   without one, and those paths never answer 2xx without it.
//! * **TLS** with a given certificate: `reference-receiver/tests/it/tls.rs`
//!   (`the_receiver_serves_https_with_the_configured_certificate`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use base64::Engine;
use end_to_end::senders::VirtualClock;
use end_to_end::{client, Recorder, Server};
use http::{HeaderMap, HeaderValue};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::verify::{sign, FailureKind, Verifier};
use receiver_sdk::{Receiver, Secret};

const SECRET: &str = "security-review-secret";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &[u8] = br#"{"type":"invoice.paid","amount":1200}"#;
const T: u64 = 1_700_000_000;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// How a scheme carries its signature, so one test can mutate all of them.
struct Scheme {
    name: &'static str,
    verifier: Verifier,
    /// The signature header, and how the tag bytes are written in it.
    header: &'static str,
    encode: fn(&[u8]) -> String,
    /// The headers of a valid delivery of `BODY` at `T`.
    valid: HeaderMap,
}

fn hex_encode(tag: &[u8]) -> String {
    hex::encode(tag)
}

fn b64_encode(tag: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(tag)
}

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn schemes() -> Vec<Scheme> {
    vec![
        Scheme {
            name: "standard-webhooks",
            verifier: Verifier::standard_webhooks([WHSEC]).unwrap(),
            header: "webhook-signature",
            encode: |tag| format!("v1,{}", b64_encode(tag)),
            valid: headers(&[
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", T.to_string()),
                (
                    "webhook-signature",
                    sign::standard_webhooks(WHSEC, "msg_1", T, BODY).unwrap(),
                ),
            ]),
        },
        Scheme {
            name: "github",
            verifier: Verifier::github([SECRET]).unwrap(),
            header: "x-hub-signature-256",
            encode: |tag| format!("sha256={}", hex_encode(tag)),
            valid: headers(&[("x-hub-signature-256", sign::github(SECRET, BODY))]),
        },
        Scheme {
            name: "shopify",
            verifier: Verifier::shopify([SECRET]).unwrap(),
            header: "x-shopify-hmac-sha256",
            encode: b64_encode,
            valid: headers(&[("x-shopify-hmac-sha256", sign::shopify(SECRET, BODY))]),
        },
        Scheme {
            name: "superoffice",
            verifier: Verifier::superoffice([SECRET]).unwrap(),
            header: "x-superoffice-signature",
            encode: b64_encode,
            valid: headers(&[("x-superoffice-signature", sign::superoffice(SECRET, BODY))]),
        },
        Scheme {
            name: "stripe",
            verifier: Verifier::stripe([SECRET]).unwrap(),
            header: "stripe-signature",
            encode: |tag| format!("t={T},v1={}", hex_encode(tag)),
            valid: headers(&[("stripe-signature", sign::stripe(SECRET, T, BODY))]),
        },
        Scheme {
            name: "slack",
            verifier: Verifier::slack([SECRET]).unwrap(),
            header: "x-slack-signature",
            encode: |tag| format!("v0={}", hex_encode(tag)),
            valid: headers(&[
                ("x-slack-request-timestamp", T.to_string()),
                ("x-slack-signature", sign::slack(SECRET, T, BODY)),
            ]),
        },
    ]
}

/// The tag bytes inside a valid header value, found by re-encoding candidates: the one tag
/// whose encoding is the valid value.
fn valid_tag(scheme: &Scheme) -> Vec<u8> {
    let value = scheme.valid[scheme.header].to_str().unwrap();
    let encoded = value.rsplit(['=', ',']).find(|part| !part.is_empty());
    let tag = match encoded {
        Some(text) if text.len() == 64 => hex::decode(text).unwrap(),
        _ => {
            let start = value.find(',').map_or(0, |i| i + 1);
            base64::engine::general_purpose::STANDARD
                .decode(&value[start..])
                .unwrap()
        }
    };
    assert_eq!((scheme.encode)(&tag), value, "{}", scheme.name);
    tag
}

fn verify_with(scheme: &Scheme, value: &str, body: &[u8]) -> Result<(), FailureKind> {
    let mut headers = scheme.valid.clone();
    headers.insert(scheme.header, HeaderValue::from_str(value).unwrap());
    scheme
        .verifier
        .verify(&headers, body, at(T))
        .map_err(|e| e.kind().clone())
}

#[test]
fn signatures_of_every_wrong_length_are_refused_before_any_comparison() {
    for scheme in schemes() {
        let tag = valid_tag(&scheme);
        assert_eq!(verify_with(&scheme, &(scheme.encode)(&tag), BODY), Ok(()));
        for len in (0..=96).filter(|&len| len != 32) {
            // The valid tag's own bytes, cut or extended: as close to a match as a wrong
            // length can be.
            let candidate: Vec<u8> = tag.iter().copied().cycle().take(len).collect();
            let result = verify_with(&scheme, &(scheme.encode)(&candidate), BODY);
            assert!(
                matches!(
                    result,
                    Err(FailureKind::MalformedHeader { .. }
                        | FailureKind::NoSupportedSignature { .. })
                ),
                "{} with a {len}-byte signature: {result:?}",
                scheme.name
            );
        }
    }
}

#[test]
fn every_single_bit_flip_of_a_signature_or_the_body_is_refused() {
    for scheme in schemes() {
        let tag = valid_tag(&scheme);
        for byte in 0..tag.len() {
            for bit in 0..8 {
                let mut mutated = tag.clone();
                mutated[byte] ^= 1 << bit;
                assert_eq!(
                    verify_with(&scheme, &(scheme.encode)(&mutated), BODY),
                    Err(FailureKind::SignatureMismatch),
                    "{} tag byte {byte} bit {bit}",
                    scheme.name
                );
            }
        }
        let valid = (scheme.encode)(&tag);
        for byte in 0..BODY.len() {
            let mut body = BODY.to_vec();
            body[byte] ^= 0x01;
            assert_eq!(
                verify_with(&scheme, &valid, &body),
                Err(FailureKind::SignatureMismatch),
                "{} body byte {byte}",
                scheme.name
            );
        }
    }
}

#[test]
fn every_single_character_change_of_the_signature_header_is_refused() {
    for scheme in schemes() {
        let valid = (scheme.encode)(&valid_tag(&scheme));
        for (i, original) in valid.char_indices() {
            for replacement in ['0', 'a', 'F', '+', '/', '='] {
                // Hex is read in either case, so `f` -> `F` is the same signature.
                if replacement.eq_ignore_ascii_case(&original) {
                    continue;
                }
                let mut changed = valid.clone();
                changed.replace_range(i..i + 1, &replacement.to_string());
                assert!(
                    verify_with(&scheme, &changed, BODY).is_err(),
                    "{}: `{changed}` verified",
                    scheme.name
                );
            }
        }
    }
}

#[test]
fn credentials_of_every_length_and_every_mutation_are_refused_as_bad_not_malformed() {
    const PASSWORD: &str = "correct horse battery staple";
    const TOKEN: &str = "tok_5f0a9c2e";
    let basic = Verifier::basic("r", [("user".to_owned(), Secret::from(PASSWORD))]).unwrap();
    let token = Verifier::token(http::header::AUTHORIZATION, [TOKEN]).unwrap();
    let check = |verifier: &Verifier, value: String| {
        let headers = headers(&[("authorization", value)]);
        verifier
            .verify(&headers, b"{}", SystemTime::now())
            .map_err(|e| e.kind().clone())
    };
    assert_eq!(check(&basic, sign::basic("user", PASSWORD)), Ok(()));
    assert_eq!(check(&token, format!("Bearer {TOKEN}")), Ok(()));
    // Any length, including prefixes and extensions of the real one: compared as digests,
    // so every one is simply "bad", found by the same work.
    for len in 0..=64 {
        let guess: String = PASSWORD.chars().cycle().take(len).collect();
        if guess != PASSWORD {
            assert_eq!(
                check(&basic, sign::basic("user", &guess)),
                Err(FailureKind::BadCredentials),
                "password of {len} bytes"
            );
        }
        let guess: String = TOKEN.chars().cycle().take(len.max(1)).collect();
        if guess != TOKEN {
            assert_eq!(
                check(&token, format!("Bearer {guess}")),
                Err(FailureKind::BadCredentials),
                "token of {len} bytes"
            );
        }
    }
    for i in 0..PASSWORD.len() {
        let mut guess = PASSWORD.as_bytes().to_vec();
        guess[i] ^= 0x01;
        let guess = String::from_utf8(guess).unwrap();
        assert_eq!(
            check(&basic, sign::basic("user", &guess)),
            Err(FailureKind::BadCredentials)
        );
    }
    for i in 0..TOKEN.len() {
        let mut guess = TOKEN.as_bytes().to_vec();
        guess[i] ^= 0x01;
        let guess = String::from_utf8(guess).unwrap();
        assert_eq!(
            check(&token, format!("Bearer {guess}")),
            Err(FailureKind::BadCredentials)
        );
    }
    assert_eq!(
        check(&basic, sign::basic("usex", PASSWORD)),
        Err(FailureKind::BadCredentials),
        "a wrong user is the same failure as a wrong password"
    );
}

/// The verification code outside its tests, file by file.
fn verify_sources() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../receiver-sdk/src/verify");
    let mut sources = Vec::new();
    // The module's files and its submodules' (the catalogue's engine), one level down.
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    for sub in paths.clone().iter().filter(|path| path.is_dir()) {
        paths.extend(
            std::fs::read_dir(sub)
                .unwrap()
                .map(|entry| entry.unwrap().path()),
        );
    }
    for path in paths {
        let name = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        // The senders' side and test helpers compare nothing secret on a receiver's behalf.
        if !file.ends_with(".rs")
            || ["sign.rs", "tests.rs", "test_support.rs"].contains(&file.as_str())
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("\n#[cfg(test)]").next().unwrap().to_owned();
        sources.push((name, code));
    }
    sources
}

#[test]
fn secret_material_is_compared_only_with_subtle_and_every_other_equality_has_a_constant_side() {
    let sources = verify_sources();
    assert!(sources.len() >= 6, "read the verify module: {sources:?}");
    let all: String = sources.iter().map(|(_, code)| code.as_str()).collect();
    assert!(all.contains("use subtle::{Choice, ConstantTimeEq};"));
    // The three places secret-derived bytes meet what a sender sent: HMAC tags (every scheme
    // goes through `MacKeys::any_matches`), Basic credential digests, token digests.
    assert!(all.contains("matched |= tag.ct_eq(&candidate);"));
    assert!(all.contains("credential.user.ct_eq(&user) & credential.password.ct_eq(&password)"));
    assert!(all.contains("matched |= token.ct_eq(&candidate);"));
    assert!(
        all.contains("matched |= tag.ct_eq(candidate);"),
        "the catalogue's engine"
    );
    assert!(
        all.contains("Sha256::digest(bytes).into()"),
        "credentials become digests"
    );

    // Any other `==`/`!=` must compare against a literal or a public constant. A new equality
    // between two runtime values (a tag and a candidate, say) fails here and needs a reviewer.
    let constant_side = [
        "b'",
        "'",
        "\"",
        "AUTHORIZATION",
        "VERSION",
        "encoded_len(TAG_LEN",
        // Lengths of what was sent against public sizes, and public names (the catalogue's
        // layout keys, provider names).
        "encoded_len(SIGNATURE_LENGTH",
        "tag_len",
        "signature_key",
        "timestamp_key",
        "entry.name == name",
        "a public provider name",
        "a public field name",
        "a public URL offset",
    ];
    let mut unexplained = Vec::new();
    for (name, code) in &sources {
        for (number, line) in code.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            let compares = line.contains("==") || line.contains("!=") || line.contains(".eq(");
            if compares && !constant_side.iter().any(|c| line.contains(c)) {
                unexplained.push(format!("{name}:{}: {line}", number + 1));
            }
        }
    }
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));
}

#[test]
fn replays_outside_the_tolerance_are_refused_for_every_timestamped_scheme() {
    type SignedAt = fn(u64) -> HeaderMap;
    let cases: [(&str, Verifier, SignedAt); 3] = [
        (
            "standard-webhooks",
            Verifier::standard_webhooks([WHSEC]).unwrap(),
            |t| {
                headers(&[
                    ("webhook-id", "msg_1".into()),
                    ("webhook-timestamp", t.to_string()),
                    (
                        "webhook-signature",
                        sign::standard_webhooks(WHSEC, "msg_1", t, BODY).unwrap(),
                    ),
                ])
            },
        ),
        ("stripe", Verifier::stripe([SECRET]).unwrap(), |t| {
            headers(&[("stripe-signature", sign::stripe(SECRET, t, BODY))])
        }),
        ("slack", Verifier::slack([SECRET]).unwrap(), |t| {
            headers(&[
                ("x-slack-request-timestamp", t.to_string()),
                ("x-slack-signature", sign::slack(SECRET, t, BODY)),
            ])
        }),
    ];
    for (name, verifier, signed) in cases {
        let delivery = signed(T);
        let kind = |verifier: &Verifier, now: u64| {
            verifier
                .verify(&delivery, BODY, at(now))
                .map_err(|e| e.kind().clone())
        };
        // Default tolerance: 5 minutes either way.
        assert_eq!(kind(&verifier, T + 300), Ok(()), "{name}");
        assert_eq!(
            kind(&verifier, T + 301),
            Err(FailureKind::TimestampExpired),
            "{name}"
        );
        assert_eq!(
            kind(&verifier, T + 86_400 * 365),
            Err(FailureKind::TimestampExpired),
            "{name}"
        );
        assert_eq!(
            kind(&verifier, T - 301),
            Err(FailureKind::TimestampInFuture),
            "{name}"
        );
        let strict = verifier.clone().with_tolerance(Duration::from_secs(30));
        assert_eq!(kind(&strict, T + 30), Ok(()), "{name}");
        assert_eq!(
            kind(&strict, T + 31),
            Err(FailureKind::TimestampExpired),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_captured_delivery_replayed_is_a_duplicate_inside_the_tolerance_and_401_after() {
    let clock = VirtualClock::new();
    let recorder = Recorder::new();
    let receiver = Receiver::builder("standard")
        .verifier(Verifier::standard_webhooks([WHSEC]).unwrap())
        .envelope(Envelope::StandardWebhooks)
        .store(receiver_sdk::store::MemoryStore::new())
        .clock(clock.source())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let now = clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let body = r#"{"type":"invoice.paid","timestamp":"2024-01-01T00:00:00Z"}"#;
    let captured = [
        ("webhook-id", "msg_captured".to_owned()),
        ("webhook-timestamp", now.to_string()),
        (
            "webhook-signature",
            sign::standard_webhooks(WHSEC, "msg_captured", now, body.as_bytes()).unwrap(),
        ),
    ];
    let replay = || {
        let mut request = client()
            .post(server.url("/webhook"))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in &captured {
            request = request.header(*name, value);
        }
        async move { end_to_end::answer(request.send().await.unwrap()).await }
    };
    assert_eq!(replay().await.1, "handled");
    clock.advance_to(Duration::from_secs(299));
    assert_eq!(replay().await.1, "duplicate");
    clock.advance_to(Duration::from_secs(301));
    let (status, outcome, json) = replay().await;
    assert_eq!((status, outcome.as_str()), (401, "unauthorized"));
    assert_eq!(
        json["message"],
        "timestamp is older than the accepted tolerance"
    );
    assert_eq!(recorder.applied().len(), 1);
}

fn write_config(dir: &std::path::Path, config: &str) -> std::path::PathBuf {
    let file = dir.join("receiver.toml");
    std::fs::write(&file, config).unwrap();
    file
}

const NEEDS_TOKEN: &str = "admin.token: required when server.bind is not a loopback address";

#[test]
fn check_config_and_serve_refuse_a_non_loopback_bind_without_an_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    for bind in ["0.0.0.0:0", "[::]:0", "192.0.2.1:8080"] {
        let file = write_config(dir.path(), &format!("[server]\nbind = \"{bind}\"\n"));
        let file = file.to_str().unwrap();
        let (ok, _, stderr) = end_to_end::binary::run(dir.path(), &["check-config", file], &[]);
        assert!(
            !ok && stderr.contains(NEEDS_TOKEN),
            "check-config {bind}: {stderr}"
        );
        let (ok, stdout, stderr) =
            end_to_end::binary::run(dir.path(), &["serve", "--config", file], &[]);
        assert!(
            !ok && stderr.contains(NEEDS_TOKEN),
            "serve {bind}: {stderr}"
        );
        assert!(!stdout.contains("listening on"), "{stdout}");
    }
    // The same through the environment override.
    let file = write_config(dir.path(), "");
    let (ok, _, stderr) = end_to_end::binary::run(
        dir.path(),
        &["check-config", file.to_str().unwrap()],
        &[("RECEIVER_SERVER__BIND", "0.0.0.0:0")],
    );
    assert!(!ok && stderr.contains(NEEDS_TOKEN), "{stderr}");
    // With a token it is accepted, and the token is not printed back.
    let file = write_config(
        dir.path(),
        "[server]\nbind = \"0.0.0.0:0\"\n[admin]\ntoken = \"adm-7c3e-never-printed\"\n",
    );
    let (ok, stdout, stderr) =
        end_to_end::binary::run(dir.path(), &["check-config", file.to_str().unwrap()], &[]);
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("adm-7c3e-never-printed"), "{stdout}");
}

/// Regression: `serve --bind` was applied after the config was validated, so
/// `serve --bind 0.0.0.0:PORT` started beyond loopback with no admin token.
#[test]
fn serve_bind_flag_cannot_skip_the_admin_token_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(end_to_end::binary::reference_receiver())
        .args(["serve", "--bind", "0.0.0.0:0", "--data", "data"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        exited.is_some_and(|status| !status.success()),
        "serve --bind 0.0.0.0:0 with no admin token is still running after 5 s"
    );
}

#[tokio::test]
async fn admin_and_inspector_paths_never_answer_2xx_without_the_token_beyond_loopback() {
    const ADMIN_TOKEN: &str = "adm-5b1d-0f3e9a27c4";
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(
        dir.path(),
        &format!("[server]\nbind = \"0.0.0.0:0\"\n[admin]\ntoken = \"{ADMIN_TOKEN}\"\n"),
    );
    let running = end_to_end::binary::serve(
        &end_to_end::binary::reference_receiver(),
        dir.path(),
        &file,
        &["--data", "data"],
        &[],
    );
    // Bound to every interface, reached over loopback only.
    let port = running.base.rsplit(':').next().unwrap().to_owned();
    let base = format!("http://127.0.0.1:{port}");
    for path in [
        "/admin",
        "/admin/endpoints",
        "/admin/outbox",
        "/api/inspections",
        "/ui",
        "/ui/",
    ] {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::POST,
            reqwest::Method::DELETE,
        ] {
            for auth in [
                None,
                Some("Bearer wrong".to_owned()),
                Some(ADMIN_TOKEN.to_owned() + "x"),
            ] {
                let mut request = client().request(method.clone(), format!("{base}{path}"));
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                let status = request.send().await.unwrap().status();
                assert!(
                    !status.is_success(),
                    "{method} {path} with {auth:?} answered {status} without the admin token"
                );
            }
        }
    }
    // The receiver itself is up.
    let health = client()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// Posts `body` over h2c (HTTP/2 with prior knowledge, no TLS) with these headers, as a client
/// that sends every header value exactly as given; returns the status and the body.
async fn post_h2c(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request =
        http::Request::post(server.url(path)).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, HeaderValue::from_str(value).unwrap());
    }
    let request = request
        .body(http_body_util::Full::new(axum::body::Bytes::from(
            body.to_owned(),
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn regression_an_empty_bearer_over_h2c_is_no_credential_and_empty_tokens_do_not_build() {
    // `secrets = [""]` built, and `Authorization: Bearer ` over h2c (untrimmed) matched it:
    // 200 handled for anyone.
    assert!(Verifier::token(http::header::AUTHORIZATION, [""]).is_err());
    assert!(Verifier::token(http::header::AUTHORIZATION, ["  "]).is_err());
    let recorder = Recorder::new();
    let receiver = Receiver::builder("token")
        .verifier(Verifier::token(http::header::AUTHORIZATION, ["tok-real-secret"]).unwrap())
        .envelope(Envelope::Raw)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/hook", receiver)).await;
    for empty in ["Bearer ", "Bearer   ", " "] {
        let (status, body) = post_h2c(&server, "/hook", &[("authorization", empty)], "{}").await;
        assert_eq!(status, 401, "{empty:?}");
        assert_eq!(body["message"], "missing credentials", "{empty:?}");
    }
    let good = [("authorization", "Bearer tok-real-secret")];
    assert_eq!(post_h2c(&server, "/hook", &good, "{}").await.0, 200);
    assert_eq!(recorder.applied().len(), 1);
}

#[tokio::test]
async fn regression_a_signed_github_body_replayed_under_fresh_ids_is_a_duplicate() {
    // X-GitHub-Delivery and X-GitHub-Event are not signed: one captured signed body was
    // handled again under every fresh delivery id (200, 200, 200).
    const SECRET: &str = "It's a Secret to Everybody";
    let recorder = Recorder::new();
    let receiver = Receiver::builder("github")
        .verifier(Verifier::github([SECRET]).unwrap())
        .envelope(Envelope::GitHub)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/github", receiver)).await;
    let body = r#"{"action":"opened","number":1,"repository":{"full_name":"o/r"}}"#;
    let post = |delivery: &'static str, event: &'static str, body: &'static str| {
        client()
            .post(server.url("/github"))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", sign::github(SECRET, body.as_bytes()))
            .body(body)
            .send()
    };
    let mut outcomes = Vec::new();
    for (delivery, event) in [
        ("72d3162e-cc78-11e3-81ab-4c9367dc0958", "pull_request"),
        ("aaaaaaaa-0000-0000-0000-000000000001", "pull_request"),
        ("aaaaaaaa-0000-0000-0000-000000000002", "pull_request"),
        // Relabelled: the event type is the sender's word only.
        ("aaaaaaaa-0000-0000-0000-000000000003", "deployment"),
        // A real redelivery: same id, same body.
        ("72d3162e-cc78-11e3-81ab-4c9367dc0958", "pull_request"),
    ] {
        let response = post(delivery, event, body).await.unwrap();
        let status = response.status().as_u16();
        outcomes.push((
            status,
            response.headers()["x-webhook-outcome"]
                .to_str()
                .unwrap()
                .to_owned(),
        ));
    }
    let expected = [
        (200, "handled"),
        (200, "duplicate"),
        (200, "duplicate"),
        (200, "duplicate"),
        (200, "duplicate"),
    ];
    let outcomes: Vec<(u16, &str)> = outcomes.iter().map(|(s, o)| (*s, o.as_str())).collect();
    assert_eq!(outcomes, expected);
    assert_eq!(recorder.applied().len(), 1, "the handler ran once");
    // A different event (another body) under a new id is handled.
    let other = r#"{"action":"closed","number":1,"repository":{"full_name":"o/r"}}"#;
    let response = post(
        "bbbbbbbb-0000-0000-0000-000000000001",
        "pull_request",
        other,
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["x-webhook-outcome"], "handled");
    assert_eq!(recorder.applied().len(), 2);
}

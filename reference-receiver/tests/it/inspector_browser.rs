//! The inspector's web UI in real headless Chromium, driven over WebDriver (chromedriver).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them these
//! tests fail, saying how to install them: a browser test that skips itself would pass CI
//! without ever having run.
//!
//! Saves a screenshot of the UI with a few captures to `target/inspector-screenshot.png`.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::FakeApi;
use crate::inspector_support::{
    self, client, plant, plant_with, standard_webhooks_headers, Served, EVIL_METHOD, WHSEC,
};

const INSTALL: &str = "run `apt-get update && apt-get install -y chromium chromium-driver` \
                       (as root; `bash .ci/run` does it too)";

/// Chromium and its driver, for one test; both stop on drop.
struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

impl Browser {
    async fn start() -> Self {
        let chromium = program(&["chromium", "chromium-browser"])
            .unwrap_or_else(|| panic!("Chromium is not installed: {INSTALL}"));
        let chromedriver = program(&["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver is not installed: {INSTALL}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = std::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-quic", "--no-first-run",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--window-size=1400,950",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot start Chromium through chromedriver: {e}"),
            }
        };
        Self {
            client: Some(client),
            driver,
            _profile: profile,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }

    /// Runs `script` (a function body) and returns its result.
    async fn js(&self, script: &str) -> Value {
        self.client().execute(script, Vec::new()).await.unwrap()
    }

    /// Waits until `script` returns true.
    async fn until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let body = self.js("return document.body.innerText").await;
                panic!(
                    "waited in vain for {what}; the page shows:\n{}",
                    body.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.client().find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn choose(&self, css: &str, value: &str) {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .text()
            .await
            .unwrap()
    }
}

/// Where test artifacts go: the workspace's target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

async fn post_signed(url: &str, id: &str, body: &[u8], forge: bool) {
    let mut headers = standard_webhooks_headers(id, body);
    if forge {
        headers[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    }
    let mut request = client().post(url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_newcomer_makes_a_bin_watches_webhooks_arrive_with_verdicts_and_replays_one() {
    let target = FakeApi::new(|_| (StatusCode::ACCEPTED, r#"{"queued":true}"#.into()));
    let target_base = target.start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let browser = Browser::start().await;

    browser.client().goto(&served.url("/")).await.unwrap();
    browser
        .until(
            "the welcome page",
            "return !document.querySelector('#welcome').hidden",
        )
        .await;
    browser.click("#new-bin").await;
    browser
        .until(
            "the new bin's URL",
            "return document.querySelector('#bin-url').textContent.includes('/in/')",
        )
        .await;
    let bin_url = browser.text("#bin-url").await;
    let token = bin_url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(bin_url, served.url(&format!("/in/{token}")));

    // Verify as a Standard Webhooks endpoint would.
    browser.click("#settings-toggle").await;
    browser
        .choose("#set-verify-kind", "standard-webhooks")
        .await;
    browser.type_into("#set-secrets", WHSEC).await;
    browser.choose("#set-envelope", "standard-webhooks").await;
    browser.click("#settings-save").await;
    browser
        .until(
            "the settings saved",
            "return document.querySelector('#settings-status').textContent.startsWith('Saved')",
        )
        .await;
    let bin: Value = served.get_json(&format!("/api/bins/{token}")).await;
    assert_eq!(bin["settings"]["verify"]["kind"], "standard-webhooks");
    browser.click("#settings-toggle").await;

    // Captures appear without a reload: the marker set on this page survives.
    browser
        .js("window.__sameDocument = true; return true")
        .await;
    let body = br#"{"type":"invoice.paid","timestamp":"2024-05-01T10:00:00Z","data":{"id":"in_1042","amount":1250,"currency":"EUR"}}"#;
    post_signed(&bin_url, "msg_2Xq9", body, false).await;
    browser
        .until(
            "the first capture in the list",
            "return document.querySelectorAll('#captures li').length === 1",
        )
        .await;
    post_signed(&bin_url, "msg_forged", body, true).await;
    browser
        .until(
            "the second capture in the list",
            "return document.querySelectorAll('#captures li').length === 2",
        )
        .await;
    assert_eq!(
        browser.js("return window.__sameDocument === true").await,
        true
    );

    // The valid one: verdict and pretty JSON.
    browser.click("#captures li[data-outcome='handled']").await;
    browser
        .until(
            "the handled verdict",
            "return document.querySelector('#verdict').dataset.outcome === 'handled'",
        )
        .await;
    let verdict = browser.text("#verdict").await;
    assert!(verdict.contains("standard-webhooks: valid"), "{verdict}");
    assert!(
        verdict.contains("invoice.paid") && verdict.contains("in_1042"),
        "{verdict}"
    );
    assert_eq!(
        browser
            .js("return document.querySelector('#body-view').dataset.view")
            .await,
        "pretty"
    );
    let pretty = browser.text("#body-view pre.json").await;
    assert!(
        pretty.contains("\n  \"type\": \"invoice.paid\","),
        "{pretty}"
    );
    assert!(pretty.contains("\"amount\": 1250"), "{pretty}");

    // The forged one: why an endpoint would refuse it.
    browser
        .click("#captures li[data-outcome='unauthorized']")
        .await;
    browser
        .until(
            "the unauthorized verdict",
            "return document.querySelector('#verdict').dataset.outcome === 'unauthorized'",
        )
        .await;
    let verdict = browser.text("#verdict").await;
    assert!(verdict.contains("no signature matches"), "{verdict}");
    assert!(verdict.contains("401"), "{verdict}");

    // Copy as curl, then replay the valid one to a local service and see its answer.
    browser.click("#captures li[data-outcome='handled']").await;
    browser.click("#copy-curl").await;
    let curl = browser.text("#curl-text").await;
    assert!(
        curl.starts_with(&format!("curl -X 'POST' '{bin_url}'"))
            && curl.contains("webhook-signature"),
        "{curl}"
    );
    browser
        .type_into("#replay-url", &format!("{target_base}/local/hook"))
        .await;
    browser.click("#replay-go").await;
    browser
        .until(
            "the replay's answer",
            "const s = document.querySelector('#replay-result .replay-status'); \
             return !!s && s.textContent === '202'",
        )
        .await;
    let answer = browser.text("#replay-result").await;
    assert!(answer.contains(r#"{"queued":true}"#), "{answer}");
    let seen = target.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(&seen[0].body[..], body);
    assert_eq!(seen[0].headers["webhook-id"], "msg_2Xq9");

    // A few more kinds of capture for the screenshot, then the JSON one selected.
    client()
        .post(format!("{bin_url}/forms?source=crm"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Ada+Lovelace&plan=pro")
        .send()
        .await
        .unwrap();
    client()
        .post(format!("{bin_url}/status/500"))
        .header("content-type", "application/json")
        .body(
            r#"{"type":"invoice.paid","timestamp":"2024-05-01T10:05:00Z","data":{"id":"in_1043"}}"#,
        )
        .send()
        .await
        .unwrap();
    client().head(&bin_url).send().await.unwrap();
    browser
        .until(
            "five rows",
            "return document.querySelectorAll('#captures li').length === 5",
        )
        .await;
    browser.click("#captures li[data-outcome='handled']").await;
    browser
        .until(
            "the JSON capture shown",
            "return !!document.querySelector('#body-view pre.json')",
        )
        .await;
    let png = browser.client().screenshot().await.unwrap();
    let path = target_dir().join("inspector-screenshot.png");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &png).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    browser.close().await;
}

#[tokio::test]
async fn beyond_loopback_the_ui_asks_for_the_token_once_and_then_streams_live() {
    let dir = tempfile::tempdir().unwrap();
    let config = inspector_support::config(
        dir.path(),
        "[server]\nbind = \"0.0.0.0:0\"\n[admin]\ntoken = \"br0wser-t0ken-for-tests\"\n",
    );
    let served = Served::config(config).await;
    let browser = Browser::start().await;
    browser.client().goto(&served.url("/ui")).await.unwrap();
    browser
        .until(
            "the token prompt",
            "return !!document.querySelector('input[name=token]')",
        )
        .await;
    browser
        .type_into("input[name=token]", "br0wser-t0ken-for-tests")
        .await;
    browser.click("button[type=submit]").await;
    browser
        .until(
            "the UI, the token gone from the address",
            "return !!document.querySelector('#new-bin') && !location.search.includes('token')",
        )
        .await;
    browser.click("#new-bin").await;
    browser
        .until(
            "the live stream (EventSource sends the cookie)",
            "return document.querySelector('#live-status').textContent === 'live'",
        )
        .await;
    let bin_url = browser.text("#bin-url").await;
    client()
        .post(&bin_url)
        .body("{\"a\":1}")
        .send()
        .await
        .unwrap();
    browser
        .until(
            "the capture",
            "return document.querySelectorAll('#captures li').length === 1",
        )
        .await;
    browser.close().await;
}

/// Opens capture `id` of `token` in the UI, clicks *Copy as curl* and returns the text shown
/// and whether it is a refusal.
async fn copied_curl(browser: &Browser, served: &Served, token: &str, id: u64) -> (String, bool) {
    browser
        .client()
        .goto(&served.url(&format!("/ui#/{token}")))
        .await
        .unwrap();
    let row = format!("#captures li[data-id='{id}']");
    browser
        .until(
            "the capture in the list",
            &format!("return !!document.querySelector(\"{row}\")"),
        )
        .await;
    browser.click(&row).await;
    browser
        .until(
            "the capture's body loaded",
            &format!(
                "const v = document.querySelector('#body-view').dataset.view; \
                 return !document.querySelector('#detail').hidden && \
                 document.querySelector('#d-facts').textContent.includes('{id}') && \
                 !!v && v !== 'loading'"
            ),
        )
        .await;
    browser.click("#copy-curl").await;
    browser
        .until(
            "the curl text",
            "return !document.querySelector('#curl-text').hidden",
        )
        .await;
    let text = browser
        .js("return document.querySelector('#curl-text').textContent")
        .await;
    let refused = browser
        .js("return document.querySelector('#curl-text').dataset.refused === 'true'")
        .await;
    (text.as_str().unwrap().to_owned(), refused == true)
}

/// Runs `script` with bash in a fresh directory; the names of the files it left there. On the
/// blocking pool: the curl it may run talks to the receiver on this test's runtime.
async fn run_in_bash(script: &str) -> Vec<String> {
    let script = script.to_owned();
    tokio::task::spawn_blocking(move || bash_now(&script))
        .await
        .unwrap()
}

fn bash_now(script: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("bash");
    let _ = status;
    std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn regression_copy_as_curl_is_inert_for_a_planted_method_headers_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served.new_bin(json!({})).await;
    let browser = Browser::start().await;

    // The review's method: refused, and the text shown runs nothing either.
    let evil = plant(&served.base, &token, EVIL_METHOD, br#"{"hello":"world"}"#).await;
    let (text, refused) = copied_curl(&browser, &served, &token, evil).await;
    assert!(refused && text.contains("method"), "{text}");
    let left = run_in_bash(&text).await;
    assert!(left.is_empty(), "the copied text created {left:?}:\n{text}");

    // A plain method with hostile headers, query and body: quoted, so bash runs only curl,
    // which sends the capture again to the bin.
    let hostile = plant_with(
        &served.base,
        &format!("/in/{token}/p$(touch%20PWNED-path)?q='$(touch%20PWNED-query)'"),
        "POST",
        "X-Note: $(touch PWNED-header) `touch PWNED-tick` '; touch PWNED-quote; '\r\n",
        b"@PWNED-file '$(touch PWNED-body)' \"; touch PWNED-dq",
    )
    .await;
    let (text, refused) = copied_curl(&browser, &served, &token, hostile).await;
    assert!(!refused, "{text}");
    assert!(text.starts_with("curl -X 'POST' "), "{text}");
    let before = served.requests(&token, "").await.len();
    let left = run_in_bash(&text).await;
    assert!(
        left.is_empty(),
        "the copied command created {left:?}:\n{text}"
    );
    let again = served.requests(&token, "").await;
    assert_eq!(
        again.len(),
        before + 1,
        "curl did not send it again:\n{text}"
    );
    let resent = again[0]["id"].as_u64().unwrap();
    assert_eq!(
        served.raw(&token, resent).await,
        b"@PWNED-file '$(touch PWNED-body)' \"; touch PWNED-dq"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_batch_capture_lists_each_event_with_what_an_endpoint_would_make_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "").await;
    let token = served
        .new_bin(json!({"envelope": "cloudevents", "ordering": "per-entity"}))
        .await;
    let event = |id: &str, time: &str| {
        json!({"specversion": "1.0", "type": "order.updated", "source": "/shop",
                           "id": id, "subject": "o1", "time": time})
    };
    let batch = json!([
        event("e1", "2024-01-01T00:00:02Z"),
        event("e2", "2024-01-01T00:00:01Z")
    ]);
    client()
        .post(served.url(&format!("/in/{token}")))
        .header("content-type", "application/cloudevents-batch+json")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    let browser = Browser::start().await;
    browser
        .client()
        .goto(&served.url(&format!("/ui#/{token}")))
        .await
        .unwrap();
    browser
        .until(
            "the batch in the list",
            "return !!document.querySelector(\"#captures li[data-outcome='batch']\")",
        )
        .await;
    browser.click("#captures li[data-outcome='batch']").await;
    browser
        .until(
            "the batch verdict",
            "return document.querySelector('#verdict').dataset.outcome === 'batch'",
        )
        .await;
    let verdict = browser.text("#verdict").await;
    for expected in [
        "a batch of 2 events: 1 handled, 1 stale",
        "handled: order.updated /shop o1 (/shop e1)",
        "stale: order.updated /shop o1 (/shop e2)",
    ] {
        assert!(verdict.contains(expected), "{expected:?} not in {verdict}");
    }
    browser.close().await;
}

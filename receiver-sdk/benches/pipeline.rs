//! Micro-benchmarks of each pipeline stage. Run with `cargo bench -p receiver-sdk`.
//!
//! The Standard Webhooks group also runs the `svix` crate's `Webhook::verify` on the same input:
//! the baseline our verifier is compared with.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http::{HeaderMap, HeaderValue, Method};
use receiver_sdk::envelope::{Envelope, Field, Mapping};
#[cfg(feature = "fjall")]
use receiver_sdk::store::FjallStore;
use receiver_sdk::store::{
    Commit, DeliveryKey, EventTime, MemoryStore, OrderingKey, SledStore, Store, UnixSeconds,
};
use receiver_sdk::verify::{sign, SignedRequest, Verifier};

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET: &str = "It's a Secret to Everybody";

fn body(size: usize) -> Vec<u8> {
    let head = br#"{"type":"invoice.paid","timestamp":"2024-03-01T10:00:00Z","data":{"id":"inv_1","pad":""#;
    let tail = br#""}}"#;
    let mut body = head.to_vec();
    body.resize(size - tail.len(), b'x');
    body.extend_from_slice(tail);
    body
}

/// A body of `size` bytes dated as Linear dates its bodies: `webhookTimestamp` (unix
/// milliseconds) at the front, inside what is signed.
fn dated_body(size: usize, ts: u64) -> Vec<u8> {
    let field = format!(r#"{{"webhookTimestamp":{},"#, ts * 1000);
    // `body`'s own `{` gives way to the field's, so the whole is still `size` bytes.
    let rest = body(size - field.len() + 1);
    [field.as_bytes(), &rest[1..]].concat()
}

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).expect("header value"));
    }
    map
}

fn verifiers(c: &mut Criterion) {
    let now = SystemTime::now();
    let ts = now.duration_since(UNIX_EPOCH).expect("clock").as_secs();
    for size in [1024, 64 * 1024] {
        let body = body(size);
        let mut group = c.benchmark_group(format!("verify/{}KiB", size / 1024));
        group.throughput(Throughput::Bytes(size as u64));

        let standard = Verifier::standard_webhooks([WHSEC]).expect("secret");
        let signature = sign::standard_webhooks(WHSEC, "msg_1", ts, &body).expect("sign");
        let std_headers = headers(&[
            ("webhook-id", "msg_1".into()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", signature),
        ]);
        group.bench_function("standard-webhooks (ours)", |b| {
            b.iter(|| standard.verify(&std_headers, &body, now).expect("valid"))
        });
        let svix = svix::webhooks::Webhook::new(WHSEC).expect("svix secret");
        group.bench_function("standard-webhooks (svix crate)", |b| {
            b.iter(|| svix.verify(&body, &std_headers).expect("valid"))
        });

        let github = Verifier::github([SECRET]).expect("secret");
        let gh_headers = headers(&[("x-hub-signature-256", sign::github(SECRET, &body))]);
        group.bench_function("github", |b| {
            b.iter(|| github.verify(&gh_headers, &body, now).expect("valid"))
        });

        let superoffice = Verifier::superoffice([SECRET]).expect("secret");
        let so_headers = headers(&[("x-superoffice-signature", sign::superoffice(SECRET, &body))]);
        group.bench_function("superoffice", |b| {
            b.iter(|| superoffice.verify(&so_headers, &body, now).expect("valid"))
        });

        let stripe = Verifier::stripe([WHSEC]).expect("secret");
        let st_headers = headers(&[("stripe-signature", sign::stripe(WHSEC, ts, &body))]);
        group.bench_function("stripe", |b| {
            b.iter(|| stripe.verify(&st_headers, &body, now).expect("valid"))
        });

        let slack = Verifier::slack([SECRET]).expect("secret");
        let sl_headers = headers(&[
            ("x-slack-signature", sign::slack(SECRET, ts, &body)),
            ("x-slack-request-timestamp", ts.to_string()),
        ]);
        group.bench_function("slack", |b| {
            b.iter(|| slack.verify(&sl_headers, &body, now).expect("valid"))
        });

        let basic = Verifier::basic("r", [("user".to_owned(), "password".into())]).unwrap();
        let ba_headers = headers(&[("authorization", sign::basic("user", "password"))]);
        group.bench_function("basic", |b| {
            b.iter(|| basic.verify(&ba_headers, &body, now).expect("valid"))
        });

        let ed25519 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let discord =
            Verifier::discord([sign::discord_public_key(ed25519).expect("key")]).expect("key");
        let dc_headers = headers(&[
            (
                "x-signature-ed25519",
                sign::discord(ed25519, ts, &body).expect("sign"),
            ),
            ("x-signature-timestamp", ts.to_string()),
        ]);
        group.bench_function("discord (ed25519)", |b| {
            b.iter(|| discord.verify(&dc_headers, &body, now).expect("valid"))
        });

        let whsk = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
        let v1a = Verifier::standard_webhooks_v1a([
            sign::standard_webhooks_public_key(whsk).expect("key")
        ])
        .expect("key");
        let v1a_headers = headers(&[
            ("webhook-id", "msg_1".into()),
            ("webhook-timestamp", ts.to_string()),
            (
                "webhook-signature",
                sign::standard_webhooks_v1a(whsk, "msg_1", ts, &body).expect("sign"),
            ),
        ]);
        group.bench_function("standard-webhooks v1a (ed25519)", |b| {
            b.iter(|| v1a.verify(&v1a_headers, &body, now).expect("valid"))
        });

        let p256 = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQga4e55cDCt9ezOnBV9vAsJOCTr1g+vbHM4FQbfed+9AShRANCAAQV7x5quAVXJfoZrkc3B+N+X1+w8EuQZieYDr5AAV3IFnw1iNGlrEFwJdA+blYjHV6RqOWtw+T9RNfnoRprZxWq";
        let sendgrid =
            Verifier::sendgrid([sign::sendgrid_public_key(p256).expect("key")]).expect("key");
        let sg_headers = headers(&[
            (
                "x-twilio-email-event-webhook-signature",
                sign::sendgrid(p256, ts, &body).expect("sign"),
            ),
            ("x-twilio-email-event-webhook-timestamp", ts.to_string()),
        ]);
        group.bench_function("sendgrid (ecdsa p-256)", |b| {
            b.iter(|| sendgrid.verify(&sg_headers, &body, now).expect("valid"))
        });
        group.finish();
    }
}

/// One catalogue sender, its signed headers for a body at a unix time.
type Signed = fn(&[u8], u64) -> Vec<(&'static str, String)>;

/// One catalogue sender that signs the URL: its signed headers and the URL posted to.
type SignedAt = fn(&[u8], u64) -> (Vec<(&'static str, String)>, String);

/// The URL the URL-signing senders post to.
const URL: &str = "https://hooks.example.com/in/catalogue";

/// Every catalogue sender not in `verifiers`, on a 1 KiB body, with the Standard Webhooks
/// verifier first as the yardstick (the target: within twice its cost).
fn catalogue(c: &mut Criterion) {
    let now = SystemTime::now();
    let ts = now.duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let body = body(1024);
    let mut group = c.benchmark_group("verify catalogue/1KiB");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let senders: &[(&str, Signed)] = &[
        ("standard-webhooks", |body, ts| {
            let signature = sign::standard_webhooks(WHSEC, "msg_1", ts, body).expect("sign");
            vec![
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", ts.to_string()),
                ("webhook-signature", signature),
            ]
        }),
        ("asana", |body, _| {
            vec![("x-hook-signature", sign::asana(SECRET, body))]
        }),
        ("bitbucket", |body, _| {
            vec![("x-hub-signature", sign::bitbucket(SECRET, body))]
        }),
        ("calendly", |body, ts| {
            vec![(
                "calendly-webhook-signature",
                sign::calendly(SECRET, ts, body),
            )]
        }),
        ("coinbase-commerce", |body, _| {
            vec![(
                "x-cc-webhook-signature",
                sign::coinbase_commerce(SECRET, body),
            )]
        }),
        ("dropbox", |body, _| {
            vec![("x-dropbox-signature", sign::dropbox(SECRET, body))]
        }),
        ("github-sha1", |body, _| {
            vec![("x-hub-signature", sign::github_sha1(SECRET, body))]
        }),
        ("gitlab", |_, _| vec![("x-gitlab-token", SECRET.into())]),
        ("intercom", |body, _| {
            vec![("x-hub-signature", sign::intercom(SECRET, body))]
        }),
        ("lemon-squeezy", |body, _| {
            vec![("x-signature", sign::lemon_squeezy(SECRET, body))]
        }),
        ("line", |body, _| {
            vec![("x-line-signature", sign::line(SECRET, body))]
        }),
        ("linear", |body, _| {
            vec![("linear-signature", sign::linear(SECRET, body))]
        }),
        ("meta", |body, _| {
            vec![("x-hub-signature-256", sign::meta(SECRET, body))]
        }),
        ("mux", |body, ts| {
            vec![("mux-signature", sign::mux(SECRET, ts, body))]
        }),
        ("paddle", |body, ts| {
            vec![("paddle-signature", sign::paddle(SECRET, ts, body))]
        }),
        ("pagerduty", |body, _| {
            vec![("x-pagerduty-signature", sign::pagerduty(SECRET, body))]
        }),
        ("razorpay", |body, _| {
            vec![("x-razorpay-signature", sign::razorpay(SECRET, body))]
        }),
        ("sentry", |body, _| {
            vec![("sentry-hook-signature", sign::sentry(SECRET, body))]
        }),
        ("shopify", |body, _| {
            vec![("x-shopify-hmac-sha256", sign::shopify(SECRET, body))]
        }),
        ("twitch", |body, ts| {
            let at = chrono::DateTime::from_timestamp(ts as i64, 0)
                .expect("a time in range")
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            vec![
                ("twitch-eventsub-message-id", "msg_1".into()),
                ("twitch-eventsub-message-timestamp", at.clone()),
                (
                    "twitch-eventsub-message-signature",
                    sign::twitch(SECRET, "msg_1", &at, body),
                ),
            ]
        }),
        ("typeform", |body, _| {
            vec![("typeform-signature", sign::typeform(SECRET, body))]
        }),
        ("vercel", |body, _| {
            vec![("x-vercel-signature", sign::vercel(SECRET, body))]
        }),
        ("workos", |body, ts| {
            vec![("workos-signature", sign::workos(SECRET, ts * 1000, body))]
        }),
        ("zoom", |body, ts| {
            vec![
                ("x-zm-signature", sign::zoom(SECRET, ts, body)),
                ("x-zm-request-timestamp", ts.to_string()),
            ]
        }),
    ];
    for (name, signed) in senders {
        // Standard Webhooks secrets are `whsec_` and base64; every other sender's is text.
        let secret = if *name == "standard-webhooks" {
            WHSEC
        } else {
            SECRET
        };
        let verifier = Verifier::provider(name, [secret]).expect("a catalogue sender");
        // Linear's body carries its own signed time, so its body is dated.
        let body = if *name == "linear" {
            dated_body(body.len(), ts)
        } else {
            body.clone()
        };
        let signed = headers(&signed(&body, ts));
        verifier.verify(&signed, &body, now).expect("valid");
        group.bench_function(*name, |b| {
            b.iter(|| verifier.verify(&signed, &body, now).expect("valid"))
        });
    }
    let url_signers: &[(&str, SignedAt)] = &[
        ("hubspot", |body, ts| {
            let signature = sign::hubspot(SECRET, "POST", URL, body, ts * 1000);
            let headers = vec![
                ("x-hubspot-signature-v3", signature),
                ("x-hubspot-request-timestamp", (ts * 1000).to_string()),
            ];
            (headers, URL.to_owned())
        }),
        ("square", |body, _| {
            let signature = sign::square(SECRET, URL, body);
            (
                vec![("x-square-hmacsha256-signature", signature)],
                URL.to_owned(),
            )
        }),
        ("trello", |body, _| {
            (
                vec![("x-trello-webhook", sign::trello(SECRET, URL, body))],
                URL.to_owned(),
            )
        }),
        ("twilio", |body, _| {
            // A JSON body: the signed URL carries the body's hash.
            let url = format!("{URL}?bodySHA256={}", sign::twilio_body_sha256(body));
            (
                vec![("x-twilio-signature", sign::twilio(SECRET, &url, body))],
                url,
            )
        }),
    ];
    for (name, signed) in url_signers {
        let verifier = Verifier::provider(name, [SECRET]).expect("a catalogue sender");
        let (signed, url) = signed(&body, ts);
        let signed = headers(&signed);
        let request = SignedRequest::new(&Method::POST, &url, &signed, &body);
        verifier.verify_request(&request, now).expect("valid");
        group.bench_function(*name, |b| {
            b.iter(|| verifier.verify_request(&request, now).expect("valid"))
        });
    }
    group.finish();
}

fn envelopes(c: &mut Criterion) {
    let mut group = c.benchmark_group("envelope (parse 1 KiB JSON + extract)");
    let cases: Vec<(&str, Envelope, Vec<u8>, HeaderMap)> = vec![
        (
            "sonar",
            Envelope::Sonar,
            br#"{"event":"account.status","object_id":1,"current":{"created_at":"2021-05-25T20:48:40+00:00","status":"active"}}"#.to_vec(),
            HeaderMap::new(),
        ),
        (
            "integration",
            Envelope::Integration,
            br#"{"id":"IDNUMBER1234","entityType":"USER","eventType":"UPDATE","timestamp":"2019-01-01T00:00:00Z"}"#.to_vec(),
            HeaderMap::new(),
        ),
        (
            "superoffice",
            Envelope::SuperOffice,
            br#"{"EventId":"e-1","Timestamp":"2019-03-05T14:23:05.1234567Z","Event":"contact.changed","PrimaryKey":123,"Entity":"contact"}"#.to_vec(),
            HeaderMap::new(),
        ),
        (
            "standard-webhooks",
            Envelope::StandardWebhooks,
            body(1024),
            headers(&[("webhook-id", "msg_1".into())]),
        ),
        (
            "github",
            Envelope::GitHub,
            body(1024),
            headers(&[
                ("x-github-event", "issues".into()),
                ("x-github-delivery", "d-1".into()),
            ]),
        ),
        (
            "custom",
            Envelope::Custom(
                Mapping::new(Field::pointer("/type").expect("pointer"))
                    .entity_id(Field::pointer("/data/id").expect("pointer"))
                    .created_at(Field::pointer("/timestamp").expect("pointer")),
            ),
            body(1024),
            HeaderMap::new(),
        ),
    ];
    for (name, envelope, body, headers) in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            b.iter(|| {
                let value: serde_json::Value = serde_json::from_slice(body).expect("json");
                envelope.extract(headers, &value).expect("envelope")
            })
        });
    }
    group.finish();
}

/// The pure stage of one endpoint on 100 events: as one CloudEvents batch, and as 100
/// structured deliveries of one event each. Per event, a batch should cost no more than a
/// delivery of its own (it cuts each event out of the body once, then reads it alone).
fn batches(c: &mut Criterion) {
    let now = SystemTime::now();
    let events: Vec<String> = (0..100)
        .map(|n| {
            format!(
                r#"{{"specversion":"1.0","type":"com.example.order.updated","source":"/shop","id":"e{n}","subject":"o{n}","time":"2026-01-01T00:00:00Z","data":{{"order":"o{n}","total":1250,"currency":"EUR","lines":[{{"sku":"A-1","qty":2}}]}}}}"#
            )
        })
        .collect();
    let batch = format!("[{}]", events.join(","));
    let stage = receiver_sdk::Receiver::builder("bench")
        .envelope(Envelope::CloudEvents)
        .assessor();
    let batch_headers = headers(&[("content-type", "application/cloudevents-batch+json".into())]);
    let one_headers = headers(&[("content-type", "application/cloudevents+json".into())]);
    let mut group = c.benchmark_group("assess 100 CloudEvents");
    group.throughput(Throughput::Elements(100));
    group.bench_function("one batch", |b| {
        b.iter(|| {
            let assessment =
                stage.assess(&Method::POST, &batch_headers, batch.as_bytes(), false, now);
            assert!(matches!(
                assessment.decision,
                receiver_sdk::Decision::Batch(_)
            ));
        })
    });
    group.bench_function("100 deliveries", |b| {
        b.iter(|| {
            for event in &events {
                let assessment =
                    stage.assess(&Method::POST, &one_headers, event.as_bytes(), false, now);
                assert!(matches!(
                    assessment.decision,
                    receiver_sdk::Decision::Check(_)
                ));
            }
        })
    });
    group.finish();
}

fn ordering(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    #[cfg(feature = "fjall")]
    let fjall_dir = tempfile::tempdir().expect("temp dir");
    #[allow(unused_mut)] // only with the `fjall` feature does it grow
    let mut stores: Vec<(&str, Box<dyn Store>)> = vec![
        ("memory", Box::new(MemoryStore::new())),
        (
            "sled (flushed)",
            Box::new(SledStore::open(dir.path()).expect("sled")),
        ),
    ];
    #[cfg(feature = "fjall")]
    stores.push((
        "fjall (fsynced)",
        Box::new(FjallStore::open(fjall_dir.path()).expect("fjall")),
    ));
    let mut group = c.benchmark_group("ordering check-and-commit");
    group.measurement_time(Duration::from_secs(5));
    for (name, store) in &stores {
        let mut n = 0i64;
        group.bench_function(*name, |b| {
            b.iter(|| {
                n += 1;
                let key = OrderingKey::new("bench", "account.status", "", (n % 10_000).to_string());
                let delivery = DeliveryKey::new("bench", format!("d{n}"));
                runtime.block_on(async {
                    let (at, never) = (EventTime::from_nanos(n), UnixSeconds::from_secs(i64::MAX));
                    let handled = store
                        .is_handled(&delivery, UnixSeconds::from_secs(0))
                        .await
                        .expect("store");
                    let mark = store.mark(&key).await.expect("store");
                    assert!(!handled && mark.is_none_or(|m| m < at));
                    let mut commit = Commit::default();
                    commit.mark = Some((key, at));
                    commit.delivery = Some((delivery, never));
                    store.commit(commit).await.expect("commit")
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, verifiers, catalogue, envelopes, batches, ordering);
criterion_main!(benches);

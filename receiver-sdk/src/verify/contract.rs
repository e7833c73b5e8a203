//! The behaviour every built-in scheme must show, run against each of them.
//!
//! Like the store's behaviour suite: a scheme is described once (how to build it, how its
//! sender signs, what it covers) in the table at the bottom, and [`contract!`] gives it one
//! test per behaviour, named `verify::contract::<scheme>::<behaviour>`. A new scheme adds one
//! entry; its own file keeps only what is particular to it (published vectors, header quirks).
//! Every check goes through the [`Verify`] trait, as the endpoint calls it: `verify` for the
//! schemes that sign headers and body, `verify_request` with the URL posted to for those that
//! sign the request line too (Twilio, Square, HubSpot, Trello).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::{
    sign, FailureKind, HmacHeader, SignatureEncoding, SignedRequest, Verifier, Verify,
    VerifyFailure,
};
use crate::Secret;

/// The time every delivery is signed at, and verified at unless a behaviour says otherwise.
const SIGNED_AT: u64 = 1_700_000_000;

/// A body with a few structural bytes, so changing any one of them matters.
const BODY: &[u8] = br#"{"event":"account.status","object_id":7}"#;

/// The URL the senders that sign the request line post to.
const URL: &str = "https://hooks.example.com/hooks/contract?tenant=7";

/// One scheme as the suite drives it.
struct Subject {
    /// The verifier that accepts any of `secrets`.
    build: fn(&[&'static str]) -> Verifier,
    /// The headers a sender holding `secret` sends with `body`, signed at `timestamp` (unix
    /// seconds) where the scheme signs one, posted to the channel's URL where it signs that.
    sign: fn(&str, &[u8], u64) -> HeaderMap,
    /// How deliveries reach the verifier.
    channel: Channel,
    /// Two secrets the verifier is configured with (rotation), then one it is not.
    secrets: [&'static str; 3],
    /// What a delivery signed with the wrong secret fails with.
    wrong_secret: FailureKind,
    /// What a delivery whose body was changed after signing fails with.
    changed_body: FailureKind,
    /// Whether the scheme authenticates the body but no delivery id a header carries.
    only_the_body: bool,
    /// The tolerance the verifier is built with: the default, or the sender's own.
    tolerance: Duration,
}

/// How the suite hands a scheme its deliveries.
#[derive(Clone, Copy)]
enum Channel {
    /// Headers and body, through [`Verify::verify`].
    Body,
    /// The request line too, through [`Verify::verify_request`]: a POST to the URL the sender
    /// posts a body to, given that body (Twilio's URL for JSON carries the body's hash).
    Request(fn(&[u8]) -> String),
}

impl Subject {
    /// The verifier configured with both rotated secrets, as the endpoint sees it.
    fn rotated(&self) -> Box<dyn Verify> {
        Box::new((self.build)(&self.secrets[..2]))
    }

    fn signed(&self, secret: usize, body: &[u8]) -> HeaderMap {
        (self.sign)(self.secrets[secret], body, SIGNED_AT)
    }

    /// What `verifier` answers, at `now`, to `headers` with `body` as the sender posted a
    /// signed body (where the URL depends on it: `signed_body`).
    fn deliver(
        &self,
        verifier: &dyn Verify,
        headers: &HeaderMap,
        (signed_body, body): (&[u8], &[u8]),
        now: u64,
    ) -> Result<(), VerifyFailure> {
        match self.channel {
            Channel::Body => verifier.verify(headers, body, at(now)),
            Channel::Request(url) => {
                let url = url(signed_body);
                let request = SignedRequest::new(&Method::POST, &url, headers, body);
                verifier.verify_request(&request, at(now))
            }
        }
    }

    /// What `verifier` answers to `headers` with the very body they were signed for.
    fn check(
        &self,
        verifier: &dyn Verify,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(), VerifyFailure> {
        self.deliver(verifier, headers, (body, body), now)
    }

    /// How `verifier` refuses `headers` with `body`; a panic if it accepts them.
    fn failure(
        &self,
        verifier: &dyn Verify,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> VerifyFailure {
        refused(verifier, self.check(verifier, headers, body, now))
    }

    /// The URL of the request channel, for the behaviours only it has.
    fn url(&self) -> fn(&[u8]) -> String {
        match self.channel {
            Channel::Request(url) => url,
            Channel::Body => panic!("the scheme does not sign the URL"),
        }
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn refused(verifier: &dyn Verify, result: Result<(), VerifyFailure>) -> VerifyFailure {
    match result {
        Ok(()) => panic!("{verifier:?} accepted a delivery it must refuse"),
        Err(failure) => failure,
    }
}

fn signed_delivery_verifies(subject: &Subject) {
    let verifier: Box<dyn Verify> = Box::new((subject.build)(&subject.secrets[..1]));
    let headers = subject.signed(0, BODY);
    assert_eq!(subject.check(&*verifier, &headers, BODY, SIGNED_AT), Ok(()));
}

fn either_rotated_secret_verifies(subject: &Subject) {
    let verifier = subject.rotated();
    for secret in 0..2 {
        let headers = subject.signed(secret, BODY);
        assert_eq!(
            subject.check(&*verifier, &headers, BODY, SIGNED_AT),
            Ok(()),
            "secret {secret}"
        );
    }
}

fn wrong_secret_fails(subject: &Subject) {
    let headers = subject.signed(2, BODY);
    let failure = subject.failure(&*subject.rotated(), &headers, BODY, SIGNED_AT);
    assert_eq!(failure.kind(), &subject.wrong_secret);
}

fn unsigned_delivery_fails(subject: &Subject) {
    subject.failure(&*subject.rotated(), &HeaderMap::new(), BODY, SIGNED_AT);
}

fn failures_never_show_a_secret(subject: &Subject) {
    let headers = subject.signed(2, BODY);
    let failure = subject.failure(&*subject.rotated(), &headers, BODY, SIGNED_AT);
    let shown = format!("{failure} {failure:?} {:?}", subject.rotated());
    for secret in subject.secrets {
        assert!(!shown.contains(secret), "{shown:?} shows {secret:?}");
    }
}

fn says_whether_it_authenticates_only_the_body(subject: &Subject) {
    assert_eq!(
        subject.rotated().authenticates_only_the_body(),
        subject.only_the_body
    );
}

fn any_changed_body_byte_fails(subject: &Subject) {
    let verifier = subject.rotated();
    let headers = subject.signed(1, BODY);
    for index in 0..BODY.len() {
        let mut body = BODY.to_vec();
        body[index] ^= 0x01;
        let result = subject.deliver(&*verifier, &headers, (BODY, &body), SIGNED_AT);
        let failure = refused(&*verifier, result);
        assert_eq!(failure.kind(), &subject.changed_body, "byte {index}");
    }
}

fn body_need_not_be_utf8(subject: &Subject) {
    let body = [0xff, 0xfe, 0x00, 0x80];
    let headers = subject.signed(0, &body);
    assert_eq!(
        subject.check(&*subject.rotated(), &headers, &body, SIGNED_AT),
        Ok(())
    );
}

fn credentials_do_not_cover_the_body(subject: &Subject) {
    let headers = subject.signed(0, BODY);
    let other = b"any other body";
    let result = subject.deliver(&*subject.rotated(), &headers, (BODY, other), SIGNED_AT);
    assert_eq!(result, Ok(()));
}

fn expired_timestamp_fails(subject: &Subject) {
    let headers = subject.signed(0, BODY);
    let late = SIGNED_AT + subject.tolerance.as_secs() + 1;
    let failure = subject.failure(&*subject.rotated(), &headers, BODY, late);
    assert_eq!(failure.kind(), &FailureKind::TimestampExpired);
}

fn future_timestamp_fails(subject: &Subject) {
    let headers = subject.signed(0, BODY);
    let early = SIGNED_AT - subject.tolerance.as_secs() - 1;
    let failure = subject.failure(&*subject.rotated(), &headers, BODY, early);
    assert_eq!(failure.kind(), &FailureKind::TimestampInFuture);
}

fn timestamp_at_the_tolerance_verifies(subject: &Subject) {
    let headers = subject.signed(0, BODY);
    let tolerance = subject.tolerance.as_secs();
    for now in [SIGNED_AT - tolerance, SIGNED_AT + tolerance] {
        assert_eq!(
            subject.check(&*subject.rotated(), &headers, BODY, now),
            Ok(())
        );
    }
}

fn tolerance_is_configurable(subject: &Subject) {
    let verifier = (subject.build)(&subject.secrets[..2]).with_tolerance(Duration::from_secs(10));
    let headers = subject.signed(0, BODY);
    assert_eq!(
        subject.check(&verifier, &headers, BODY, SIGNED_AT + 10),
        Ok(())
    );
    let failure = subject.failure(&verifier, &headers, BODY, SIGNED_AT + 11);
    assert_eq!(failure.kind(), &FailureKind::TimestampExpired);
}

fn a_changed_url_fails(subject: &Subject) {
    let verifier = subject.rotated();
    let headers = subject.signed(0, BODY);
    let posted = (subject.url())(BODY);
    for url in [
        posted.replacen("/hooks/", "/other/", 1),
        posted.replacen("tenant=7", "tenant=8", 1),
        posted.replacen("hooks.example.com", "hooks.example.org", 1),
        posted.replacen("https://", "http://", 1),
    ] {
        assert_ne!(url, posted);
        let request = SignedRequest::new(&Method::POST, &url, &headers, BODY);
        let failure = refused(&*verifier, verifier.verify_request(&request, at(SIGNED_AT)));
        assert_eq!(failure.kind(), &FailureKind::UrlSignatureMismatch, "{url}");
    }
}

fn without_the_url_it_fails(subject: &Subject) {
    let verifier = subject.rotated();
    let headers = subject.signed(0, BODY);
    let failure = refused(&*verifier, verifier.verify(&headers, BODY, at(SIGNED_AT)));
    assert_eq!(failure.kind(), &FailureKind::UrlNotGiven);
}

fn a_changed_method_fails(subject: &Subject) {
    let verifier = subject.rotated();
    let headers = subject.signed(0, BODY);
    let url = (subject.url())(BODY);
    let request = SignedRequest::new(&Method::PUT, &url, &headers, BODY);
    let failure = refused(&*verifier, verifier.verify_request(&request, at(SIGNED_AT)));
    assert_eq!(failure.kind(), &FailureKind::UrlSignatureMismatch);
}

/// `contract!(name, subject, [groups])`: a module `name` with one test per behaviour every
/// scheme shows, and per behaviour of each group named:
///
/// * `signs_body`: the scheme is a MAC over the body (any byte changed fails);
/// * `credentials`: it checks credentials only, whatever the body;
/// * `timestamped`: it signs a timestamp, judged against the tolerance;
/// * `signs_url`: it signs the URL posted to, so it needs it and another URL fails;
/// * `signs_method`: it signs the request's method too.
macro_rules! contract {
    ($scheme:ident, $subject:expr, [$($group:ident),*]) => {
        mod $scheme {
            use super::*;

            fn subject() -> Subject {
                $subject
            }

            contract!(@tests
                signed_delivery_verifies,
                either_rotated_secret_verifies,
                wrong_secret_fails,
                unsigned_delivery_fails,
                failures_never_show_a_secret,
                says_whether_it_authenticates_only_the_body
            );
            $(contract!(@$group);)*
        }
    };
    (@signs_body) => {
        contract!(@tests any_changed_body_byte_fails, body_need_not_be_utf8);
    };
    (@credentials) => {
        contract!(@tests credentials_do_not_cover_the_body);
    };
    (@timestamped) => {
        contract!(@tests
            expired_timestamp_fails,
            future_timestamp_fails,
            timestamp_at_the_tolerance_verifies,
            tolerance_is_configurable
        );
    };
    (@signs_url) => {
        contract!(@tests a_changed_url_fails, without_the_url_it_fails);
    };
    (@signs_method) => {
        contract!(@tests a_changed_method_fails);
    };
    (@tests $($behaviour:ident),*) => {
        $(
            #[test]
            fn $behaviour() {
                super::$behaviour(&subject());
            }
        )*
    };
}

/// Standard Webhooks secrets: the published fixture's, and two more `whsec_` values.
const WHSEC: [&str; 3] = [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_c2Vjb25kLXNlY3JldC1rZXktZm9yLXJvdGF0aW9u",
    "whsec_YS13cm9uZy1zZWNyZXQta2V5",
];

/// Secrets used as they are written (HMAC keys, passwords, tokens).
const PLAIN: [&str; 3] = [
    "hunter2-rotated-out",
    "correct horse battery staple",
    "not-the-secret",
];

fn headers<const N: usize>(pairs: [(&'static str, String); N]) -> HeaderMap {
    pairs
        .into_iter()
        .map(|(name, value)| {
            let value = HeaderValue::from_str(&value).expect("signed values are visible ASCII");
            (HeaderName::from_static(name), value)
        })
        .collect()
}

/// Standard Webhooks under either spelling of its headers, as `sign` writes them.
fn standard_webhooks(sign: fn(&str, &[u8], u64) -> HeaderMap) -> Subject {
    Subject {
        build: |secrets| Verifier::standard_webhooks(secrets.iter()).expect("valid secrets"),
        sign,
        channel: Channel::Body,
        secrets: WHSEC,
        wrong_secret: FailureKind::SignatureMismatch,
        changed_body: FailureKind::SignatureMismatch,
        only_the_body: false,
        tolerance: crate::verify::DEFAULT_TOLERANCE,
    }
}

fn webhook_headers(secret: &str, body: &[u8], timestamp: u64) -> HeaderMap {
    let signature = sign::standard_webhooks(secret, "msg_contract", timestamp, body);
    headers([
        ("webhook-id", "msg_contract".into()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature.expect("a valid secret")),
    ])
}

fn svix_headers(secret: &str, body: &[u8], timestamp: u64) -> HeaderMap {
    let signature = sign::standard_webhooks(secret, "msg_contract", timestamp, body);
    headers([
        ("svix-id", "msg_contract".into()),
        ("svix-timestamp", timestamp.to_string()),
        ("svix-signature", signature.expect("a valid secret")),
    ])
}

/// A MAC over the body (and perhaps a timestamp), keyed with the secrets as written.
fn hmac(
    build: fn(&[&'static str]) -> Verifier,
    sign: fn(&str, &[u8], u64) -> HeaderMap,
) -> Subject {
    Subject {
        build,
        sign,
        channel: Channel::Body,
        secrets: PLAIN,
        wrong_secret: FailureKind::SignatureMismatch,
        changed_body: FailureKind::SignatureMismatch,
        only_the_body: true,
        tolerance: crate::verify::DEFAULT_TOLERANCE,
    }
}

/// The format of the generic HMAC scheme the suite configures: bare hex in `x-signature`.
fn bare_hex() -> HmacHeader {
    HmacHeader {
        header: HeaderName::from_static("x-signature"),
        prefix: None,
        encoding: SignatureEncoding::Hex,
    }
}

/// A scheme from outside the crate, through [`Verifier::custom`]: a built-in one behind the
/// trait object, so the suite shows the wrapper forwards every part of [`Verify`].
#[derive(Debug)]
struct Outside(Verifier);

impl Verify for Outside {
    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        self.0.verify(headers, body, now)
    }

    fn challenge(&self) -> Option<HeaderValue> {
        self.0.challenge()
    }

    fn authenticates_only_the_body(&self) -> bool {
        self.0.authenticates_only_the_body()
    }
}

contract!(
    standard_webhooks,
    standard_webhooks(webhook_headers),
    [signs_body, timestamped]
);
contract!(
    svix,
    standard_webhooks(svix_headers),
    [signs_body, timestamped]
);
contract!(
    github,
    hmac(
        |secrets| Verifier::github(secrets.iter().copied()).expect("valid secrets"),
        |secret, body, _| headers([("x-hub-signature-256", sign::github(secret, body))])
    ),
    [signs_body]
);
contract!(
    shopify,
    hmac(
        |secrets| Verifier::shopify(secrets.iter().copied()).expect("valid secrets"),
        |secret, body, _| headers([("x-shopify-hmac-sha256", sign::shopify(secret, body))])
    ),
    [signs_body]
);
contract!(
    superoffice,
    hmac(
        |secrets| Verifier::superoffice(secrets.iter().copied()).expect("valid secrets"),
        |secret, body, _| headers([("x-superoffice-signature", sign::superoffice(secret, body))])
    ),
    [signs_body]
);
contract!(
    hmac_sha256,
    hmac(
        |secrets| Verifier::hmac_sha256(bare_hex(), secrets.iter().copied())
            .expect("valid secrets"),
        |secret, body, _| headers([("x-signature", sign::hmac_sha256(&bare_hex(), secret, body))])
    ),
    [signs_body]
);
contract!(
    stripe,
    hmac(
        |secrets| Verifier::stripe(secrets.iter().copied()).expect("valid secrets"),
        |secret, body, timestamp| headers([(
            "stripe-signature",
            sign::stripe(secret, timestamp, body)
        )])
    ),
    [signs_body, timestamped]
);
contract!(
    slack,
    hmac(
        |secrets| Verifier::slack(secrets.iter().copied()).expect("valid secrets"),
        |secret, body, timestamp| headers([
            ("x-slack-signature", sign::slack(secret, timestamp, body)),
            ("x-slack-request-timestamp", timestamp.to_string()),
        ])
    ),
    [signs_body, timestamped]
);
contract!(
    basic,
    Subject {
        build: |passwords| {
            let pairs = passwords
                .iter()
                .map(|password| ("relay".to_owned(), Secret::from(*password)));
            Verifier::basic("webhooks", pairs).expect("valid passwords")
        },
        sign: |password, _, _| headers([("authorization", sign::basic("relay", password))]),
        channel: Channel::Body,
        secrets: PLAIN,
        wrong_secret: FailureKind::BadCredentials,
        changed_body: FailureKind::BadCredentials,
        only_the_body: false,
        tolerance: crate::verify::DEFAULT_TOLERANCE,
    },
    [credentials]
);
contract!(
    bearer_token,
    Subject {
        build: |tokens| Verifier::token(AUTHORIZATION, tokens.iter().copied())
            .expect("valid tokens"),
        sign: |token, _, _| headers([("authorization", format!("Bearer {token}"))]),
        channel: Channel::Body,
        secrets: PLAIN,
        wrong_secret: FailureKind::BadCredentials,
        changed_body: FailureKind::BadCredentials,
        only_the_body: false,
        tolerance: crate::verify::DEFAULT_TOLERANCE,
    },
    [credentials]
);
contract!(
    header_token,
    Subject {
        build: |tokens| {
            let header = HeaderName::from_static("x-webhook-token");
            Verifier::token(header, tokens.iter().copied()).expect("valid tokens")
        },
        sign: |token, _, _| headers([("x-webhook-token", token.to_owned())]),
        channel: Channel::Body,
        secrets: PLAIN,
        wrong_secret: FailureKind::BadCredentials,
        changed_body: FailureKind::BadCredentials,
        only_the_body: false,
        tolerance: crate::verify::DEFAULT_TOLERANCE,
    },
    [credentials]
);
contract!(
    custom,
    hmac(
        |secrets| Verifier::custom(Outside(
            Verifier::github(secrets.iter().copied()).expect("valid secrets")
        )),
        |secret, body, _| headers([("x-hub-signature-256", sign::github(secret, body))])
    ),
    [signs_body]
);

/// A sender of the provider catalogue, by name, accepting the secrets as written.
fn provider(name: &'static str, secrets: &[&'static str]) -> Verifier {
    Verifier::provider(name, secrets.iter().copied()).expect("a known provider and valid secrets")
}

contract!(
    provider_asana,
    hmac(
        |secrets| provider("asana", secrets),
        |secret, body, _| headers([("x-hook-signature", sign::asana(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_bitbucket,
    hmac(
        |secrets| provider("bitbucket", secrets),
        |secret, body, _| headers([("x-hub-signature", sign::bitbucket(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_coinbase_commerce,
    hmac(
        |secrets| provider("coinbase-commerce", secrets),
        |secret, body, _| headers([(
            "x-cc-webhook-signature",
            sign::coinbase_commerce(secret, body)
        )])
    ),
    [signs_body]
);
contract!(
    provider_dropbox,
    hmac(
        |secrets| provider("dropbox", secrets),
        |secret, body, _| headers([("x-dropbox-signature", sign::dropbox(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_github_sha1,
    hmac(
        |secrets| provider("github-sha1", secrets),
        |secret, body, _| headers([("x-hub-signature", sign::github_sha1(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_intercom,
    hmac(
        |secrets| provider("intercom", secrets),
        |secret, body, _| headers([("x-hub-signature", sign::intercom(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_lemon_squeezy,
    hmac(
        |secrets| provider("lemon-squeezy", secrets),
        |secret, body, _| headers([("x-signature", sign::lemon_squeezy(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_line,
    hmac(
        |secrets| provider("line", secrets),
        |secret, body, _| headers([("x-line-signature", sign::line(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_meta,
    hmac(
        |secrets| provider("meta", secrets),
        |secret, body, _| headers([("x-hub-signature-256", sign::meta(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_pagerduty,
    hmac(
        |secrets| provider("pagerduty", secrets),
        |secret, body, _| headers([("x-pagerduty-signature", sign::pagerduty(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_razorpay,
    hmac(
        |secrets| provider("razorpay", secrets),
        |secret, body, _| headers([("x-razorpay-signature", sign::razorpay(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_sentry,
    hmac(
        |secrets| provider("sentry", secrets),
        |secret, body, _| headers([("sentry-hook-signature", sign::sentry(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_typeform,
    hmac(
        |secrets| provider("typeform", secrets),
        |secret, body, _| headers([("typeform-signature", sign::typeform(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_vercel,
    hmac(
        |secrets| provider("vercel", secrets),
        |secret, body, _| headers([("x-vercel-signature", sign::vercel(secret, body))])
    ),
    [signs_body]
);
contract!(
    provider_calendly,
    hmac(
        |secrets| provider("calendly", secrets),
        |secret, body, timestamp| headers([(
            "calendly-webhook-signature",
            sign::calendly(secret, timestamp, body)
        )])
    ),
    [signs_body, timestamped]
);
contract!(
    provider_mux,
    hmac(
        |secrets| provider("mux", secrets),
        |secret, body, timestamp| headers([("mux-signature", sign::mux(secret, timestamp, body))])
    ),
    [signs_body, timestamped]
);
contract!(
    provider_paddle,
    hmac(
        |secrets| provider("paddle", secrets),
        |secret, body, timestamp| headers([(
            "paddle-signature",
            sign::paddle(secret, timestamp, body)
        )])
    ),
    [signs_body, timestamped]
);
contract!(
    provider_workos,
    hmac(
        |secrets| provider("workos", secrets),
        |secret, body, timestamp| headers([(
            "workos-signature",
            sign::workos(secret, timestamp * 1000, body)
        )])
    ),
    [signs_body, timestamped]
);
contract!(
    provider_zoom,
    hmac(
        |secrets| provider("zoom", secrets),
        |secret, body, timestamp| headers([
            ("x-zm-signature", sign::zoom(secret, timestamp, body)),
            ("x-zm-request-timestamp", timestamp.to_string()),
        ])
    ),
    [signs_body, timestamped]
);

contract!(
    provider_twitch,
    Subject {
        only_the_body: false,
        tolerance: Duration::from_secs(600),
        ..hmac(
            |secrets| provider("twitch", secrets),
            |secret, body, timestamp| {
                let at = chrono::DateTime::from_timestamp(timestamp as i64, 0)
                    .expect("a time in range")
                    .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
                headers([
                    ("twitch-eventsub-message-id", "msg-contract".into()),
                    ("twitch-eventsub-message-timestamp", at.clone()),
                    (
                        "twitch-eventsub-message-signature",
                        sign::twitch(secret, "msg-contract", &at, body),
                    ),
                ])
            }
        )
    },
    [signs_body, timestamped]
);

/// Ed25519 private keys (seeds) for Discord (hex) and Standard Webhooks `v1a` (`whsk_`): among
/// them RFC 8032's first test key and the Standard Webhooks libraries' asymmetric test keys.
const ED25519_HEX: [&str; 3] = [
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "574542484f4f4b4153594d4d455452494354455354505249564154454b455931",
    "2698bc67ee2a6b285630b944699a96c303651a9d81a589ec1d287343fb51cb52",
];
const WHSK: [&str; 3] = [
    "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
    "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTE=",
    "whsk_Jpi8Z+4qayhWMLlEaZqWwwNlGp2BpYnsHShzQ/tRy1I=",
];
/// Throwaway PKCS#8 P-256 keys (`openssl genpkey -algorithm EC -pkeyopt
/// ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -nocrypt -outform DER | base64`).
const P256: [&str; 3] = [
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQga4e55cDCt9ezOnBV9vAsJOCTr1g+vbHM4FQbfed+9AShRANCAAQV7x5quAVXJfoZrkc3B+N+X1+w8EuQZieYDr5AAV3IFnw1iNGlrEFwJdA+blYjHV6RqOWtw+T9RNfnoRprZxWq",
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYDnBEU783teBwqkZWDGlRFBzE06kAR1yZ6m/6AMT+t+hRANCAARGz5ENyAsYf7fXZ6FEM7RFFkSaHprG0n9VnRe4PyZUZDeEm6pS1eucmpRyUhSacjzIJnAZMYc1524IqGCVUyof",
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghc21TTnw3Jz/Rgfiii226Hr2hcwejT4dQ6T+BFLHw1GhRANCAAQhlPObIkEbyL/zVwYd4d6S7Gb/DSeu4GV2Ra4JmIRRxh0kJEOSoeogncwWSsNMdQMrhVOZxv9uKIPSFQC/mH9i",
];

/// A public-key scheme: the suite's "secrets" are the senders' private keys, and the verifier
/// is built from their public halves, so a key shown in a failure would still be caught.
fn public_key(
    build: fn(&[&'static str]) -> Verifier,
    sign: fn(&str, &[u8], u64) -> HeaderMap,
    secrets: [&'static str; 3],
    only_the_body: bool,
) -> Subject {
    Subject {
        build,
        sign,
        channel: Channel::Body,
        secrets,
        wrong_secret: FailureKind::SignatureMismatch,
        changed_body: FailureKind::SignatureMismatch,
        only_the_body,
        tolerance: crate::verify::DEFAULT_TOLERANCE,
    }
}

contract!(
    discord,
    public_key(
        |keys| Verifier::discord(
            keys.iter()
                .map(|key| sign::discord_public_key(key).expect("a valid key"))
        )
        .expect("valid keys"),
        |key, body, timestamp| headers([
            (
                "x-signature-ed25519",
                sign::discord(key, timestamp, body).expect("a valid key")
            ),
            ("x-signature-timestamp", timestamp.to_string()),
        ]),
        ED25519_HEX,
        true
    ),
    [signs_body, timestamped]
);
contract!(
    standard_webhooks_v1a,
    public_key(
        |keys| Verifier::standard_webhooks_v1a(
            keys.iter()
                .map(|key| sign::standard_webhooks_public_key(key).expect("a valid key"))
        )
        .expect("valid keys"),
        |key, body, timestamp| {
            let signature = sign::standard_webhooks_v1a(key, "msg_contract", timestamp, body);
            headers([
                ("webhook-id", "msg_contract".into()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature.expect("a valid key")),
            ])
        },
        WHSK,
        false
    ),
    [signs_body, timestamped]
);
contract!(
    sendgrid,
    public_key(
        |keys| Verifier::sendgrid(
            keys.iter()
                .map(|key| sign::sendgrid_public_key(key).expect("a valid key"))
        )
        .expect("valid keys"),
        |key, body, timestamp| headers([
            (
                "x-twilio-email-event-webhook-signature",
                sign::sendgrid(key, timestamp, body).expect("a valid key")
            ),
            (
                "x-twilio-email-event-webhook-timestamp",
                timestamp.to_string()
            ),
        ]),
        P256,
        true
    ),
    [signs_body, timestamped]
);

/// A sender that signs the request line: its deliveries go through `verify_request`, posted
/// to [`URL`], and a signature that does not match is the URL's mismatch (whose message asks
/// whether `public_url` is the URL the sender was given).
fn url_signer(
    build: fn(&[&'static str]) -> Verifier,
    sign: fn(&str, &[u8], u64) -> HeaderMap,
) -> Subject {
    Subject {
        channel: Channel::Request(|_| URL.to_owned()),
        wrong_secret: FailureKind::UrlSignatureMismatch,
        changed_body: FailureKind::UrlSignatureMismatch,
        ..hmac(build, sign)
    }
}

/// The URL Twilio posts a JSON `body` to: [`URL`] with the body's hash as `bodySHA256`.
fn twilio_json_url(body: &[u8]) -> String {
    format!("{URL}&bodySHA256={}", sign::twilio_body_sha256(body))
}

contract!(
    provider_twilio,
    url_signer(
        |secrets| provider("twilio", secrets),
        |secret, body, _| headers([("x-twilio-signature", sign::twilio(secret, URL, body))])
    ),
    [signs_body, signs_url]
);
contract!(
    provider_twilio_shared_key,
    url_signer(
        |secrets| provider("twilio", secrets),
        |secret, body, _| headers([
            ("x-twilio-signature", sign::twilio_sha256(secret, URL, body)),
            (
                "x-twilio-webhooks-signature-settings",
                "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256".into()
            ),
        ])
    ),
    [signs_body, signs_url]
);
contract!(
    provider_twilio_json,
    Subject {
        channel: Channel::Request(twilio_json_url),
        // The body is authenticated by its hash in the signed URL.
        changed_body: FailureKind::BodyHashMismatch,
        ..url_signer(
            |secrets| provider("twilio", secrets),
            |secret, body, _| {
                let url = twilio_json_url(body);
                headers([("x-twilio-signature", sign::twilio(secret, &url, body))])
            }
        )
    },
    [signs_body, signs_url]
);
contract!(
    provider_square,
    url_signer(
        |secrets| provider("square", secrets),
        |secret, body, _| headers([(
            "x-square-hmacsha256-signature",
            sign::square(secret, URL, body)
        )])
    ),
    [signs_body, signs_url]
);
contract!(
    provider_trello,
    url_signer(
        |secrets| provider("trello", secrets),
        |secret, body, _| headers([("x-trello-webhook", sign::trello(secret, URL, body))])
    ),
    [signs_body, signs_url]
);
contract!(
    provider_hubspot,
    url_signer(
        |secrets| provider("hubspot", secrets),
        |secret, body, timestamp| {
            let ms = timestamp * 1000;
            headers([
                (
                    "x-hubspot-signature-v3",
                    sign::hubspot(secret, "POST", URL, body, ms),
                ),
                ("x-hubspot-request-timestamp", ms.to_string()),
            ])
        }
    ),
    [signs_body, signs_url, signs_method, timestamped]
);

/// An [`HmacScheme`](super::HmacScheme) of one's own that signs the request line:
/// `{method} {url}.{body}`, hex in `x-signature`.
fn request_line_scheme() -> super::HmacScheme {
    use super::{HmacAlgorithm, SignatureLayout, SignedPart};
    super::HmacScheme {
        algorithm: HmacAlgorithm::Sha256,
        message: vec![
            SignedPart::Method,
            SignedPart::Literal(" ".into()),
            SignedPart::URL,
            SignedPart::Literal(".".into()),
            SignedPart::Body,
        ]
        .into(),
        header: HeaderName::from_static("x-signature"),
        layout: SignatureLayout::Plain { prefix: None },
        encoding: SignatureEncoding::Hex,
        timestamp: None,
    }
}

contract!(
    hmac_request_line,
    url_signer(
        |secrets| Verifier::hmac(request_line_scheme(), secrets.iter().copied())
            .expect("valid secrets"),
        |secret, body, _| {
            let unsigned = HeaderMap::new();
            let request = SignedRequest::new(&Method::POST, URL, &unsigned, body);
            let signature = sign::hmac_request(&request_line_scheme(), secret, None, &request);
            headers([("x-signature", signature)])
        }
    ),
    [signs_body, signs_url, signs_method]
);

//! Vectors the senders published themselves: a secret, a body and the signature the sender
//! computed, copied from its documentation or its own repositories (each test cites where).
//! Unlike the vectors in `tests.rs`, which we computed with Python's `hmac`, these were computed
//! by the sender, so they would also catch a misreading of its documentation that our own
//! computation shared.
//!
//! Of the senders with no verifying library (sentry, vercel, asana, bitbucket, dropbox, meta,
//! intercom, lemon-squeezy, pagerduty, typeform, calendly, mailgun), only PagerDuty was found to
//! publish one: the others document their scheme with code and placeholder secrets only.

use http::{HeaderMap, HeaderValue};

use super::Verifier;
use crate::verify::test_support::{at, kind};
use crate::verify::FailureKind;

fn pagerduty_delivery(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(signature).expect("visible ASCII");
    headers.insert("x-pagerduty-signature", value);
    headers
}

fn pagerduty() -> Verifier {
    Verifier::provider("pagerduty", [PAGERDUTY_SECRET]).expect("a valid secret")
}

// PagerDuty's own Go client, https://github.com/PagerDuty/go-pagerduty, file
// `webhookv3/webhookv3_test.go`: `TestVerifySignature`'s secret, body and its "valid" and
// "mismatch" signatures. PagerDuty's "Verifying Signatures" page
// (https://github.com/PagerDuty/developer-docs, `docs/webhooks/04-Signatures.md`) links this
// client as its Go example.
const PAGERDUTY_SECRET: &str = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK";
const PAGERDUTY_BODY: &str = r#"{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident","occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G","self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE","self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default","type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0","id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM","self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},"resolve_reason":null}}}"#;
const PAGERDUTY_VALID: &str = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd";
const PAGERDUTY_MISMATCH: &str =
    "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5";
// The event's `occurred_at`, 2021-04-26T17:36:27Z. PagerDuty signs no time, so any instant
// would do; this one is the vector's own.
const PAGERDUTY_SENT: u64 = 1_619_458_587;

#[test]
fn pagerduty_verifies_the_vector_of_its_own_go_client() {
    let headers = pagerduty_delivery(PAGERDUTY_VALID);
    let body = PAGERDUTY_BODY.as_bytes();
    assert_eq!(
        pagerduty().verify(&headers, body, at(PAGERDUTY_SENT)),
        Ok(())
    );
}

#[test]
fn pagerduty_vector_with_one_byte_of_its_body_changed_fails() {
    let headers = pagerduty_delivery(PAGERDUTY_VALID);
    let changed = PAGERDUTY_BODY.replacen("P1", "P2", 1);
    assert_ne!(changed, PAGERDUTY_BODY);
    let failure = kind(
        &pagerduty(),
        &headers,
        changed.as_bytes(),
        at(PAGERDUTY_SENT),
    );
    assert_eq!(failure, FailureKind::SignatureMismatch);
}

#[test]
fn pagerduty_refuses_the_signature_its_go_client_expects_to_mismatch() {
    let headers = pagerduty_delivery(PAGERDUTY_MISMATCH);
    let body = PAGERDUTY_BODY.as_bytes();
    let failure = kind(&pagerduty(), &headers, body, at(PAGERDUTY_SENT));
    assert_eq!(failure, FailureKind::SignatureMismatch);
}

#[test]
fn pagerduty_vector_verifies_beside_another_secrets_signature_as_during_a_rotation() {
    // PagerDuty's page shows a header of two comma-separated `v1=` signatures, one per secret
    // while a secret is rotated; the one for the receiver's secret may come second.
    let rotating = format!("{PAGERDUTY_MISMATCH},{PAGERDUTY_VALID}");
    let headers = pagerduty_delivery(&rotating);
    let body = PAGERDUTY_BODY.as_bytes();
    assert_eq!(
        pagerduty().verify(&headers, body, at(PAGERDUTY_SENT)),
        Ok(())
    );
}

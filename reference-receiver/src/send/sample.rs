//! Realistic sample payloads, one per sender, and fresh delivery ids.
//!
//! Each sample has the fields the sender documents, written the way the sender writes them
//! (Sonar's `+00:00` offset, SuperOffice's seven fractional digits, Stripe's unix `created`),
//! so a delivery exercises the same parsing a real one does. Entity ids are fixed and delivery
//! ids fresh: two runs are two deliveries about the same entity, which is what ordering and
//! dedupe are about.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::sender::{Facts, Sender};

/// The sample payload `sender` would send for `facts`.
///
/// Only GitHub's payload depends on the event (each event has its own shape); the others carry
/// the event type in a field and keep the same data.
pub(super) fn payload(sender: Sender, facts: &Facts) -> anyhow::Result<Value> {
    let id = facts.id.as_deref().unwrap_or_default();
    let at = facts.at;
    Ok(match sender {
        Sender::Sonar => json!({
            "event": facts.event,
            "object_id": 1,
            "current": {
                "created_at": at.to_rfc3339_opts(SecondsFormat::Secs, false),
                "id": 1,
                "name": "Jane Doe",
                "account_status_id": 2,
                "account_type_id": 1,
            },
        }),
        Sender::Superoffice => json!({
            "EventId": id,
            "Timestamp": dotnet_time(at),
            "Changes": ["name", "department", "updated"],
            "Event": if facts.test { "test" } else { facts.event.as_str() },
            "PrimaryKey": 123,
            "Entity": facts.event.split('.').next().unwrap_or("contact"),
            "ContextIdentifier": "Cust12345",
            "ChangedByAssociateId": 5,
            "WebhookName": "reference-receiver send",
        }),
        Sender::StandardWebhooks | Sender::Svix => json!({
            "type": facts.event,
            "timestamp": at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "data": { "id": "inv_1", "amount": 1200, "currency": "usd", "status": "paid" },
        }),
        Sender::Github => github(&facts.event, at)?,
        Sender::Stripe => json!({
            "id": id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": at.timestamp(),
            "type": facts.event,
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "data": {
                "object": {
                    "id": "pi_1",
                    "object": "payment_intent",
                    "amount": 2000,
                    "currency": "usd",
                    "status": "succeeded",
                },
            },
        }),
        Sender::Shopify => json!({
            "id": 820982911946154508_u64,
            "email": "jon@example.com",
            "created_at": at.to_rfc3339_opts(SecondsFormat::Secs, false),
            "currency": "USD",
            "total_price": "199.00",
            "financial_status": "paid",
            "line_items": [{ "id": 1, "title": "IPod Nano - 8GB", "quantity": 1, "price": "199.00" }],
        }),
        Sender::Slack => json!({
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event": {
                "type": facts.event,
                "user": "U0001",
                "text": "<@U0LAN0Z89> is it everything a river should be?",
                "ts": format!("{}.000100", at.timestamp()),
                "channel": "C0001",
                "event_ts": format!("{}.000100", at.timestamp()),
            },
            "type": "event_callback",
            "event_id": id,
            "event_time": at.timestamp(),
        }),
        // The integration pattern of the specification (003), also what the field-service
        // platform (004) and token-authenticated senders post.
        Sender::Basic | Sender::Token | Sender::Plain => json!({
            "id": "IDNUMBER1234",
            "entityType": "USER",
            "eventType": facts.event,
            "timestamp": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        }),
    })
}

/// GitHub's `issues` and `ping` payloads, trimmed to the fields receivers usually read.
fn github(event: &str, at: DateTime<Utc>) -> anyhow::Result<Value> {
    let repository = json!({
        "id": 1296269,
        "name": "Hello-World",
        "full_name": "octocat/Hello-World",
        "private": false,
        "owner": { "login": "octocat", "id": 1 },
    });
    let sender = json!({ "login": "octocat", "id": 1, "type": "User" });
    match event {
        "issues" => {
            let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
            Ok(json!({
                "action": "opened",
                "issue": {
                    "id": 1,
                    "number": 1347,
                    "title": "Found a bug",
                    "state": "open",
                    "user": { "login": "octocat", "id": 1 },
                    "created_at": at,
                    "updated_at": at,
                    "html_url": "https://github.com/octocat/Hello-World/issues/1347",
                },
                "repository": repository,
                "sender": sender,
            }))
        }
        "ping" => Ok(json!({
            "zen": "Keep it logically awesome.",
            "hook_id": 1,
            "hook": { "type": "Repository", "id": 1, "active": true, "events": ["issues"] },
            "repository": repository,
            "sender": sender,
        })),
        other => anyhow::bail!(
            "there is no sample payload for GitHub's `{other}` event (only `issues` and \
             `ping`); pass one with --body or --data"
        ),
    }
}

/// A .NET `DateTime` in UTC as SuperOffice writes it: seven fractional digits and `Z`.
pub(super) fn dotnet_time(at: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        at.format("%Y-%m-%dT%H:%M:%S"),
        at.nanosecond() % 1_000_000_000 / 100
    )
}

/// The delivery id format each sender uses, filled with fresh bytes; `None` for senders that
/// send no delivery id.
pub(super) fn delivery_id(sender: Sender) -> Option<String> {
    let bytes = fresh_bytes();
    match sender {
        Sender::Github | Sender::Superoffice | Sender::Shopify => Some(uuid_v4_shape(bytes)),
        Sender::StandardWebhooks | Sender::Svix => {
            Some(format!("msg_{}", hex::encode(&bytes[..12])))
        }
        Sender::Stripe => Some(format!("evt_{}", hex::encode(&bytes[..12]))),
        Sender::Slack => Some(format!("Ev{}", hex::encode_upper(&bytes[..5]))),
        Sender::Sonar | Sender::Basic | Sender::Token | Sender::Plain => None,
    }
}

/// Sixteen bytes that differ between calls and between processes.
///
/// Ids only need to be unique, not unguessable, so a hash of the time, the process id and a
/// counter does (and needs no random number generator).
fn fresh_bytes() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    let mut hash = Sha256::new();
    hash.update(nanos.to_le_bytes());
    hash.update(std::process::id().to_le_bytes());
    hash.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let digest = hash.finalize();
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes
}

/// `bytes` written as a version 4 UUID, the form of GitHub's and SuperOffice's ids.
fn uuid_v4_shape(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

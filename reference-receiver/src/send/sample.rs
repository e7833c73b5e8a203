//! Sample payloads and header values, rendered from templates, and fresh delivery ids.
//!
//! Each sample (in `samples/`) has the fields the sender documents, written the way the sender
//! writes them (Sonar's `+00:00` offset, SuperOffice's seven fractional digits, Stripe's unix
//! `created`), so a delivery exercises the same parsing a real one does. Entity ids are fixed and
//! delivery ids fresh: two runs are two deliveries about the same entity, which is what ordering
//! and dedupe are about.
//!
//! A template is the sender's text with `{{name}}` where a fact of the delivery goes:
//!
//! | name | value |
//! | --- | --- |
//! | `id` | the delivery id |
//! | `event` | the event type |
//! | `unix`, `unix_ms` | the delivery's time in unix seconds, milliseconds |
//! | `iso`, `iso_ms`, `iso_us` | RFC 3339 in UTC with `Z`: whole seconds, milli-, microseconds |
//! | `iso_offset` | RFC 3339 with `+00:00` |
//! | `dotnet` | a .NET `DateTime`: seven fractional digits and `Z` |
//! | `uuid` | a fresh version 4 UUID (another id the sender makes up per delivery) |
//! | `fresh` | 24 fresh hex digits |

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use sha2::{Digest, Sha256};

use super::sender::{Facts, IdForm, Profile, Sample};

/// How a value is written into a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Escape {
    /// As it is (header values).
    None,
    /// As the inside of a JSON string (payloads), so an --event or --id with quotes cannot
    /// break the JSON.
    Json,
}

/// The sample payload `profile` would send for `facts`.
pub(super) fn payload(profile: &Profile, facts: &Facts) -> anyhow::Result<Vec<u8>> {
    let template = match profile.sample {
        Sample::Any { template, .. } => template,
        Sample::PerEvent(samples) => samples
            .iter()
            .find(|(event, _)| *event == facts.event)
            .map(|(_, template)| *template)
            .ok_or_else(|| {
                let known: Vec<_> = samples.iter().map(|(event, _)| *event).collect();
                anyhow::anyhow!(
                    "there is no sample payload for {}'s `{}` event (only `{}`); pass one with \
                     --body or --data",
                    profile.name,
                    facts.event,
                    known.join("`, `"),
                )
            })?,
    };
    Ok(render(template, facts, Escape::Json)?.into_bytes())
}

/// `template` with each `{{name}}` replaced by that fact of the delivery.
pub(super) fn render(template: &str, facts: &Facts, escape: Escape) -> anyhow::Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| anyhow::anyhow!("a template has an unclosed {{{{"))?;
        let value = fact(&after[..end], facts)?;
        match escape {
            Escape::None => out.push_str(&value),
            Escape::Json => {
                let quoted = serde_json::to_string(&value)?;
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn fact(name: &str, facts: &Facts) -> anyhow::Result<String> {
    let at = facts.at;
    Ok(match name {
        "id" => facts.id.clone().unwrap_or_default(),
        "event" => facts.event.clone(),
        "unix" => at.timestamp().to_string(),
        "unix_ms" => at.timestamp_millis().to_string(),
        "iso" => at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "iso_ms" => at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "iso_us" => at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "iso_offset" => at.to_rfc3339_opts(SecondsFormat::Secs, false),
        "dotnet" => dotnet_time(at),
        "uuid" => uuid_v4_shape(fresh_bytes()),
        "fresh" => hex::encode(&fresh_bytes()[..12]),
        other => anyhow::bail!("a template names an unknown fact {{{{{other}}}}}"),
    })
}

/// A .NET `DateTime` in UTC as SuperOffice writes it: seven fractional digits and `Z`.
pub(super) fn dotnet_time(at: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        at.format("%Y-%m-%dT%H:%M:%S"),
        at.nanosecond() % 1_000_000_000 / 100
    )
}

/// A fresh delivery id in the form `profile` uses; `None` for senders that send no delivery id.
pub(super) fn delivery_id(profile: &Profile) -> Option<String> {
    let bytes = fresh_bytes();
    Some(match profile.id? {
        IdForm::Uuid => uuid_v4_shape(bytes),
        IdForm::Hex(prefix, len) => format!("{prefix}{}", hex::encode(&bytes[..len])),
        IdForm::UpperHex(prefix, len) => format!("{prefix}{}", hex::encode_upper(&bytes[..len])),
    })
}

/// A fresh challenge for a handshake: printable, unguessable enough for a test.
pub(super) fn challenge() -> String {
    hex::encode(fresh_bytes())
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

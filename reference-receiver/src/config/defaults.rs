//! The one copy of each default that the code and the commented keys of
//! `config.default.toml` both state: serde's `default = ..` functions and
//! `outbox::Policy::default()` read these consts, and a test checks every commented
//! `# key = value` against what the code fills in when the key is left out.

/// `relay.method`.
pub const RELAY_METHOD: &str = "POST";
/// `relay.timeout_secs` and `relay.fetch.timeout_secs`.
pub const RELAY_TIMEOUT_SECS: u64 = 10;
/// `relay.max_attempts`.
pub const MAX_ATTEMPTS: u32 = 10;
/// `relay.backoff_initial_ms`.
pub const BACKOFF_INITIAL_MS: u64 = 1_000;
/// `relay.backoff_max_secs`.
pub const BACKOFF_MAX_SECS: u64 = 600;
/// `relay.concurrency`.
pub const CONCURRENCY: usize = 4;
/// `relay.history_limit`.
pub const HISTORY_LIMIT: usize = 1_000;
/// `relay.max_pending`.
pub const MAX_PENDING: usize = 100_000;
/// `relay.max_dead`.
pub const MAX_DEAD: usize = 10_000;
/// `relay.fetch.max_body_bytes`.
pub const MAX_SOURCE_BODY_BYTES: usize = 1_048_576;

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::{from_parts, DEFAULT_TOML};

    /// Tables whose commented keys are examples of a choice, not defaults: `[admin]`'s token
    /// (no default: unset means loopback only), the verify schemes' keys (each `kind` takes
    /// its own) and outgoing auth (unset means none).
    const EXAMPLE_TABLES: &[&str] = &[
        "admin",
        "endpoint.verify",
        "endpoint.handshake",
        "endpoint.relay.auth",
    ];

    /// A line of the file, with the table it is in (dotted, as in its header).
    struct Line {
        table: String,
        text: String,
        // `Some(key)` for a commented `# key = value`.
        commented_key: Option<String>,
    }

    fn header(text: &str) -> Option<String> {
        let text = text.trim_start_matches("# ");
        let name = text.strip_prefix("[[").or_else(|| text.strip_prefix('['))?;
        let end = name.find(']')?;
        Some(name[..end].to_owned())
    }

    fn lines() -> Vec<Line> {
        let mut table = String::new();
        DEFAULT_TOML
            .lines()
            .map(|text| {
                if let Some(name) = header(text) {
                    table = name;
                }
                let commented_key = text.strip_prefix("# ").and_then(|rest| {
                    let (key, _) = rest.split_once(" = ")?;
                    let bare =
                        !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                    bare.then(|| key.to_owned())
                });
                Line {
                    table: table.clone(),
                    text: text.to_owned(),
                    commented_key,
                }
            })
            .collect()
    }

    fn is_example(table: &str) -> bool {
        EXAMPLE_TABLES.contains(&table)
    }

    /// The file with its commented keys and table headers uncommented (but those of example
    /// tables), leaving out line `skip`.
    fn uncommented(lines: &[Line], skip: Option<usize>) -> String {
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            let uncomment = !is_example(&line.table)
                && (line.commented_key.is_some()
                    || (line.text.starts_with("# [") && header(&line.text).is_some()));
            out.push_str(if uncomment {
                &line.text[2..]
            } else {
                &line.text
            });
            out.push('\n');
        }
        out
    }

    /// The config a text makes, as JSON, at the path of `table` (`endpoint` is the first).
    fn parsed(text: &str) -> Result<Value, String> {
        let config = from_parts(Some(("uncommented.toml", text)), vec![], |_| None)
            .map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(&config).unwrap())
    }

    fn at<'a>(config: &'a Value, table: &str, key: &str) -> Option<&'a Value> {
        let mut value = config;
        for part in table.split('.') {
            value = value.get(part)?;
            if part == "endpoint" {
                value = value.get(0)?;
            }
        }
        value.get(key)
    }

    #[test]
    fn every_commented_default_in_config_default_toml_is_the_default_the_code_uses() {
        let lines = lines();
        let documented = parsed(&uncommented(&lines, None))
            .unwrap_or_else(|e| panic!("the uncommented defaults do not load: {e}"));
        let mut checked = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let Some(key) = &line.commented_key else {
                continue;
            };
            if is_example(&line.table) {
                continue;
            }
            let stated = at(&documented, &line.table, key)
                .unwrap_or_else(|| panic!("`{}.{key}` is not read from the file", line.table));
            // Left out, a key that makes no config (a relay's url, half of the TLS pair) has no
            // default to disagree with; a default that drifted always loads.
            let Ok(without) = parsed(&uncommented(&lines, Some(i))) else {
                continue;
            };
            let default = at(&without, &line.table, key).unwrap_or(&Value::Null);
            // Unset or empty by default: the commented value shows a choice, not a default.
            let no_default = match default {
                Value::Null => true,
                Value::Array(items) => items.is_empty(),
                Value::Object(fields) => fields.is_empty(),
                _ => false,
            };
            if no_default {
                continue;
            }
            assert_eq!(
                stated, default,
                "config.default.toml says `# {key} = {stated}` in [{}], the code's default is {default}",
                line.table
            );
            checked.push(format!("{}.{key}", line.table));
        }
        for key in [
            "endpoint.relay.method",
            "endpoint.relay.max_attempts",
            "endpoint.relay.backoff_initial_ms",
            "endpoint.relay.backoff_max_secs",
            "endpoint.relay.concurrency",
            "endpoint.relay.history_limit",
            "endpoint.relay.max_pending",
            "endpoint.relay.max_dead",
            "endpoint.relay.fetch.max_body_bytes",
            "store.pool_size",
        ] {
            assert!(
                checked.iter().any(|c| c == key),
                "{key} unchecked: {checked:?}"
            );
        }
    }
}

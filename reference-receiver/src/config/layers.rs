//! Layering: embedded defaults, then the user's file, then environment variables.

use toml::{Table, Value};

use super::ConfigError;

/// The prefix of environment variables that override config keys.
const ENV_PREFIX: &str = "RECEIVER_";

/// Lays `over` onto `base`: tables merge key by key, anything else (arrays included) replaces.
pub(crate) fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base)), Value::Table(over)) => merge(base, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `RECEIVER_A__B__C=value` overrides. Only variables with a `__` count, so plain
/// variables that hold secrets (`RECEIVER_ADMIN_TOKEN`, named by `*_env` keys) are left alone.
/// An endpoint is addressed by index or by name: `RECEIVER_ENDPOINT__SONAR__PATH`.
pub(crate) fn apply_env(
    table: &mut Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    // A map: the same environment always gives the same config (applied in name order), and
    // of two values for one name the later wins (command-line flags come after the process
    // environment).
    let vars: std::collections::BTreeMap<String, String> = vars
        .into_iter()
        .filter(|(name, _)| {
            name.strip_prefix(ENV_PREFIX)
                .is_some_and(|rest| rest.contains("__"))
        })
        .collect();
    for (name, value) in vars {
        let rest = &name[ENV_PREFIX.len()..];
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        set(table, &path, &value).map_err(|message| ConfigError {
            origin: format!("environment variable {name}"),
            key: path.join("."),
            message,
        })?;
    }
    Ok(())
}

fn set(table: &mut Table, path: &[String], raw: &str) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut current = table;
    let mut index = 0;
    while index < parents.len() {
        let segment = &parents[index];
        if segment == "endpoint" {
            let endpoints = current
                .get_mut("endpoint")
                .and_then(Value::as_array_mut)
                .ok_or("no [[endpoint]] to override")?;
            let which = parents
                .get(index + 1)
                .or(Some(last).filter(|_| index + 1 == parents.len()))
                .ok_or("name the endpoint: RECEIVER_ENDPOINT__<index or name>__<key>")?;
            let position = which
                .parse::<usize>()
                .ok()
                .filter(|i| *i < endpoints.len())
                .or_else(|| {
                    endpoints.iter().position(|e| {
                        e.get("name")
                            .and_then(Value::as_str)
                            .is_some_and(|n| normalise(n) == normalise(which))
                    })
                })
                .ok_or_else(|| format!("no endpoint with index or name `{which}`"))?;
            current = endpoints[position]
                .as_table_mut()
                .ok_or("endpoint is not a table")?;
            index += 2;
            if index > parents.len() {
                return Err("name a key inside the endpoint".into());
            }
            continue;
        }
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{segment}` is not a section"))?;
        index += 1;
    }
    // A secret is text whatever it looks like: read as a number it would be echoed back in
    // a type error (`secrets` stays a literal, it is a list).
    let value = if super::SECRET_TEXT_KEYS.contains(&last.as_str()) {
        Value::String(raw.to_owned())
    } else {
        literal(raw, current.get(last.as_str()))
    };
    current.insert(last.clone(), value);
    Ok(())
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// Reads an environment value as the type the key already has; where the key is new, as a
/// TOML literal if it is one (`true`, `30`, `["a","b"]`), else as a string.
fn literal(raw: &str, existing: Option<&Value>) -> Value {
    if matches!(existing, Some(Value::String(_))) {
        return Value::String(raw.to_owned());
    }
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut parsed) => parsed
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_owned())),
        Err(_) => Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn tables_merge_and_arrays_replace() {
        let mut base = table("[a]\nx = 1\ny = 2\n[[e]]\nn = 1\n[[e]]\nn = 2");
        merge(&mut base, table("[a]\ny = 3\n[[e]]\nn = 9"));
        assert_eq!(base, table("[a]\nx = 1\ny = 3\n[[e]]\nn = 9"));
    }

    #[test]
    fn env_overrides_keep_the_type_of_the_key() {
        let mut base = table(
            "[server]\nbind = \"127.0.0.1:1\"\nbody_limit_bytes = 5\n\
             [[endpoint]]\nname = \"sonar-main\"\npath = \"/a\"",
        );
        apply_env(
            &mut base,
            [
                ("RECEIVER_SERVER__BIND".into(), "0.0.0.0:9".into()),
                ("RECEIVER_SERVER__BODY_LIMIT_BYTES".into(), "10".into()),
                ("RECEIVER_ENDPOINT__SONAR_MAIN__PATH".into(), "/b".into()),
                ("RECEIVER_ENDPOINT__0__VERIFY__KIND".into(), "basic".into()),
                ("RECEIVER_ADMIN_TOKEN".into(), "not an override".into()),
                ("OTHER__X".into(), "1".into()),
            ],
        )
        .unwrap();
        assert_eq!(base["server"]["bind"].as_str(), Some("0.0.0.0:9"));
        assert_eq!(base["server"]["body_limit_bytes"].as_integer(), Some(10));
        assert_eq!(base["endpoint"][0]["path"].as_str(), Some("/b"));
        assert_eq!(
            base["endpoint"][0]["verify"]["kind"].as_str(),
            Some("basic")
        );
        assert!(base.get("admin").is_none());
    }

    #[test]
    fn a_string_key_stays_a_string_even_when_the_value_looks_like_a_number() {
        let mut base = table("[admin]\ntoken = \"x\"");
        apply_env(&mut base, [("RECEIVER_ADMIN__TOKEN".into(), "1234".into())]).unwrap();
        assert_eq!(base["admin"]["token"].as_str(), Some("1234"));
    }

    #[test]
    fn an_unknown_endpoint_is_a_precise_error() {
        let mut base = table("[[endpoint]]\nname = \"a\"");
        let error = apply_env(
            &mut base,
            [("RECEIVER_ENDPOINT__NOPE__PATH".into(), "/".into())],
        )
        .unwrap_err();
        assert_eq!(
            error.origin,
            "environment variable RECEIVER_ENDPOINT__NOPE__PATH"
        );
        assert!(error.message.contains("`nope`"), "{}", error.message);
    }
}

//! Jinja templates (minijinja) for relay URLs, bodies and headers.
//!
//! Values printed into a URL template are percent-encoded and checked (see [`super::url`]):
//! a payload value cannot change the host, port or literal path a URL template names, nor
//! turn a path segment into `.`, `..` or nothing. Bodies are left as written (use `| tojson`
//! for JSON). Undefined values are errors, naming the template, so a payload that lacks a
//! field the mapping needs is refused instead of relayed half-empty.

use std::collections::{BTreeMap, HashMap};

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::url::{self, Fixed};

/// Everything but the unreserved characters of RFC 3986.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The compiled templates of one relay.
#[derive(Debug)]
pub(crate) struct Templates {
    env: Environment<'static>,
    // What each URL template (names ending in `.url`) fixes, for the check after rendering.
    urls: HashMap<String, Fixed>,
}

/// A template that failed to compile or render: which one, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("template `{name}`: {message}")]
pub(crate) struct TemplateError {
    pub(crate) name: String,
    pub(crate) message: String,
}

fn is_url(name: &str) -> bool {
    name.ends_with(".url")
}

/// Prints `value` into a URL template: encoded whether marked safe or not, between the marks
/// the check after rendering reads; nothing (none, undefined, empty) is refused.
fn format_url_value(
    out: &mut minijinja::Output<'_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    let text = value.to_string();
    if value.is_none() || value.is_undefined() || text.is_empty() {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "a value printed into the URL is empty or none",
        ));
    }
    let encoded = utf8_percent_encode(&text, URL_VALUE);
    out.write_str(&format!("{}{encoded}{}", url::OPEN, url::CLOSE))?;
    Ok(())
}

impl Templates {
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // minijinja's own `tojson` turns an undefined value into `null`; a mapping that names
        // a field the payload lacks must fail instead of sending null downstream.
        env.add_filter("tojson", strict_tojson);
        env.set_formatter(|out, state, value| {
            if is_url(state.name()) {
                format_url_value(out, value)
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        Self {
            env,
            urls: HashMap::new(),
        }
    }

    /// Compiles `source` as `name`. Names ending in `.url` are URL templates: they must fix
    /// their host and path start, and what they print is encoded and checked.
    pub(crate) fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        if is_url(name) {
            let fixed = url::fixed(source).map_err(|message| TemplateError {
                name: name.to_owned(),
                message,
            })?;
            self.urls.insert(name.to_owned(), fixed);
        }
        self.env
            .add_template_owned(name.to_owned(), source.to_owned())
            .map_err(|e| error(name, &e))
    }

    /// Renders `name` with `context`; a URL template's result is checked (see
    /// [`super::url::checked`]) and comes back as the URL to call.
    pub(crate) fn render(&self, name: &str, context: &Value) -> Result<String, TemplateError> {
        let template = self.env.get_template(name).map_err(|e| error(name, &e))?;
        let rendered = template.render(context).map_err(|e| error(name, &e))?;
        match self.urls.get(name) {
            Some(fixed) => url::checked(&rendered, fixed)
                .map(String::from)
                .map_err(|message| TemplateError {
                    name: name.to_owned(),
                    message,
                }),
            None => Ok(rendered),
        }
    }
}

fn strict_tojson(value: Value) -> Result<Value, minijinja::Error> {
    if value.is_undefined() {
        return Err(minijinja::Error::new(
            ErrorKind::UndefinedError,
            "tojson was given an undefined value",
        ));
    }
    serde_json::to_string(&value)
        .map(Value::from_safe_string)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

fn error(name: &str, e: &minijinja::Error) -> TemplateError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    TemplateError {
        name: name.to_owned(),
        message,
    }
}

/// The variables every relay template sees.
pub(crate) struct Context<'a> {
    pub(crate) event: &'a str,
    pub(crate) entity: Option<&'a str>,
    pub(crate) entity_type: Option<&'a str>,
    pub(crate) created_at: Option<String>,
    pub(crate) delivery: Option<&'a str>,
    pub(crate) payload: &'a serde_json::Value,
    pub(crate) source: Option<&'a serde_json::Value>,
    /// The environment variables the relay's `env_allow` names (and that are set): never
    /// the whole environment, which holds the admin token and the database URL.
    pub(crate) env: &'a BTreeMap<String, String>,
}

impl Context<'_> {
    pub(crate) fn to_value(&self) -> Value {
        minijinja::context! {
            event => self.event,
            entity => self.entity,
            entity_type => self.entity_type,
            created_at => self.created_at,
            delivery => self.delivery,
            payload => Value::from_serialize(self.payload),
            source => self.source.map(Value::from_serialize),
            env => self.env,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_with(
        name: &str,
        source: &str,
        entity: Option<&str>,
        payload: serde_json::Value,
    ) -> Result<String, TemplateError> {
        let mut templates = Templates::new();
        templates.add(name, source)?;
        let env = BTreeMap::from([("REGION".to_owned(), "eu".to_owned())]);
        let context = Context {
            event: "account.status",
            entity,
            entity_type: None,
            created_at: Some("2021-05-25T20:48:40+00:00".into()),
            delivery: None,
            payload: &payload,
            source: None,
            env: &env,
        };
        templates.render(name, &context.to_value())
    }

    fn render(
        name: &str,
        source: &str,
        payload: serde_json::Value,
    ) -> Result<String, TemplateError> {
        render_with(name, source, Some("a b&c=d"), payload)
    }

    #[test]
    fn url_templates_percent_encode_what_they_insert() {
        let url = render(
            "relay.url",
            "http://h/accounts/{{ entity }}?q={{ entity }}",
            serde_json::json!({}),
        );
        assert_eq!(
            url.unwrap(),
            "http://h/accounts/a%20b%26c%3Dd?q=a%20b%26c%3Dd"
        );
    }

    #[test]
    fn regression_url_values_cannot_skip_the_encoder() {
        let payload = serde_json::json!({"v": "b/../../c?d=1&e#f"});
        for filter in ["", "| safe", "| tojson", "| e", "| string", "| safe | e"] {
            let in_query = format!("http://h/a?q={{{{ payload.v {filter} }}}}");
            let url = render_with("x.url", &in_query, None, payload.clone())
                .unwrap_or_else(|e| panic!("{in_query}: {e}"));
            let parsed = reqwest::Url::parse(&url).unwrap();
            assert_eq!(parsed.path(), "/a", "{in_query}: {url}");
            assert_eq!(parsed.query_pairs().count(), 1, "{in_query}: {url}");
            assert_eq!(parsed.fragment(), None, "{in_query}: {url}");
            let in_path = format!("http://h/a/{{{{ payload.v {filter} }}}}");
            let refused = render_with("x.url", &in_path, None, payload.clone());
            assert!(refused.is_err(), "{in_path}: {refused:?}");
        }
    }

    #[test]
    fn regression_url_values_that_are_nothing_or_dots_are_refused() {
        for value in [
            serde_json::json!(""),
            serde_json::json!(null),
            serde_json::json!("."),
            serde_json::json!(".."),
            serde_json::json!("%2e"),
            serde_json::json!("%2E%2e"),
            serde_json::json!(".%2E"),
            serde_json::json!("..%2f"),
            serde_json::json!("a\\b"),
        ] {
            let error = render_with(
                "x.relay.url",
                "http://h/a/{{ payload.v }}/status",
                None,
                serde_json::json!({ "v": value }),
            )
            .unwrap_err();
            assert_eq!(error.name, "x.relay.url", "{value}");
        }
        let missing = render_with(
            "x.relay.url",
            "http://h/a/{{ entity }}",
            None,
            serde_json::json!({}),
        );
        assert!(
            missing.is_err(),
            "a missing entity is not the collection URL"
        );
    }

    #[test]
    fn regression_templates_see_only_the_allowed_environment() {
        let allowed = render("h", "{{ env.REGION }}", serde_json::json!({}));
        assert_eq!(allowed.unwrap(), "eu");
        let other = render("h", "{{ env.PATH }}", serde_json::json!({}));
        assert!(other.unwrap_err().message.contains("undefined"));
    }

    #[test]
    fn body_templates_render_json_with_tojson() {
        let body = render(
            "relay.body",
            r#"{"status": {{ payload.current.status | tojson }}, "at": "{{ created_at }}"}"#,
            serde_json::json!({"current": {"status": "say \"hi\""}}),
        );
        assert_eq!(
            body.unwrap(),
            r#"{"status": "say \"hi\"", "at": "2021-05-25T20:48:40+00:00"}"#
        );
    }

    #[test]
    fn a_missing_field_is_an_error_naming_the_template() {
        for source in [
            "{{ payload.current.status }}",
            "{{ payload.current.status | tojson }}",
        ] {
            let error = render(
                "sonar.relay.body",
                source,
                serde_json::json!({"current": {}}),
            )
            .unwrap_err();
            assert_eq!(error.name, "sonar.relay.body");
            assert!(error.message.contains("undefined"), "{}", error.message);
        }
    }

    #[test]
    fn a_syntax_error_is_reported_when_compiling() {
        let mut templates = Templates::new();
        let error = templates
            .add("x.relay.url", "http://h/{{ entity ")
            .unwrap_err();
        assert_eq!(error.name, "x.relay.url");
        assert!(error.message.contains("syntax error"), "{}", error.message);
    }
}

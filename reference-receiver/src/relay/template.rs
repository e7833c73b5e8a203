//! Jinja templates (minijinja) for relay URLs, bodies and headers.
//!
//! Values interpolated into a URL template are percent-encoded, so an entity id such as
//! `../admin` or `a b` cannot change the path it lands in; bodies are left as written (use
//! `| tojson` for JSON). Undefined values are errors, naming the template, so a payload that
//! lacks a field the mapping needs is refused instead of relayed half-empty.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, Value};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

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
}

/// A template that failed to compile or render: which one, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("template `{name}`: {message}")]
pub(crate) struct TemplateError {
    pub(crate) name: String,
    pub(crate) message: String,
}

impl Templates {
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // minijinja's own `tojson` turns an undefined value into `null`; a mapping that names
        // a field the payload lacks must fail instead of sending null downstream.
        env.add_filter("tojson", strict_tojson);
        env.set_formatter(|out, state, value| {
            if state.name().ends_with(".url") && !value.is_safe() {
                let text = value.to_string();
                let encoded = if value.is_none() || value.is_undefined() {
                    String::new()
                } else {
                    utf8_percent_encode(&text, URL_VALUE).to_string()
                };
                out.write_str(&encoded)?;
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        Self { env }
    }

    /// Compiles `source` as `name` (names ending in `.url` percent-encode what they insert).
    pub(crate) fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.env
            .add_template_owned(name.to_owned(), source.to_owned())
            .map_err(|e| error(name, &e))
    }

    /// Renders `name` with `context`.
    pub(crate) fn render(&self, name: &str, context: &Value) -> Result<String, TemplateError> {
        let template = self.env.get_template(name).map_err(|e| error(name, &e))?;
        template.render(context).map_err(|e| error(name, &e))
    }
}

fn strict_tojson(value: Value) -> Result<Value, minijinja::Error> {
    if value.is_undefined() {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "tojson was given an undefined value",
        ));
    }
    serde_json::to_string(&value)
        .map(Value::from_safe_string)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
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
}

impl Context<'_> {
    pub(crate) fn to_value(&self) -> Value {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        minijinja::context! {
            event => self.event,
            entity => self.entity,
            entity_type => self.entity_type,
            created_at => self.created_at,
            delivery => self.delivery,
            payload => Value::from_serialize(self.payload),
            source => self.source.map(Value::from_serialize),
            env => env,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(
        name: &str,
        source: &str,
        payload: serde_json::Value,
    ) -> Result<String, TemplateError> {
        let mut templates = Templates::new();
        templates.add(name, source)?;
        let context = Context {
            event: "account.status",
            entity: Some("../admin?x=1"),
            entity_type: None,
            created_at: Some("2021-05-25T20:48:40+00:00".into()),
            delivery: None,
            payload: &payload,
            source: None,
        };
        templates.render(name, &context.to_value())
    }

    #[test]
    fn url_templates_percent_encode_what_they_insert() {
        let url = render(
            "relay.url",
            "http://h/accounts/{{ entity }}",
            serde_json::json!({}),
        );
        assert_eq!(url.unwrap(), "http://h/accounts/..%2Fadmin%3Fx%3D1");
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

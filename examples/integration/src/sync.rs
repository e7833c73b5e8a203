//! One event's work: fetch the entity from the source API, map it, PATCH the downstream
//! system, and turn every failure into an answer the source can show or act on.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use axum::http::StatusCode;
use example_support::SetupError;
use receiver_sdk::envelope::EventMeta;
use receiver_sdk::HandlerError;
use reqwest::{redirect, Client, Response, Url};
use serde_json::{Map, Value};

use crate::Config;

/// How long one call to the source API or the downstream system may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take; an unreachable system fails fast and is retried later.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest message passed on from another system's answer, in characters.
const MESSAGE_LIMIT: usize = 300;

const SOURCE: &str = "the source API";
const DOWNSTREAM: &str = "the downstream system";

/// Maps an entity as the source API returns it to the downstream system's update: the
/// source's id becomes `externalId` (how the downstream finds its matching record) and every
/// other field goes under `attributes`.
///
/// ```
/// use serde_json::json;
///
/// let entity = json!({"id": "IDNUMBER1234", "email": "ada@example.com"});
/// let update = example_integration::map_entity("IDNUMBER1234", entity.as_object().unwrap());
/// assert_eq!(
///     update,
///     json!({"externalId": "IDNUMBER1234", "attributes": {"email": "ada@example.com"}})
/// );
/// ```
pub fn map_entity(id: &str, entity: &Map<String, Value>) -> Value {
    let attributes: Map<String, Value> = entity
        .iter()
        .filter(|(key, _)| key.as_str() != "id")
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    serde_json::json!({ "externalId": id, "attributes": attributes })
}

/// The HTTP client and where it goes.
pub(crate) struct Sync {
    client: Client,
    config: Config,
}

impl Sync {
    pub(crate) fn new(config: Config) -> Result<Self, SetupError> {
        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect would turn the PATCH into a GET on some codes and pass for success;
            // a 3xx is reported instead, so a wrong URL gets fixed.
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|e| SetupError::Resource {
                what: "the HTTP client",
                reason: chain(&e),
            })?;
        Ok(Self { client, config })
    }

    /// Fetches, maps and writes the entity the event names.
    pub(crate) async fn run(&self, event: &EventMeta) -> Result<(), HandlerError> {
        let target = Target::of(event)?;
        let entity = self.fetch(&target).await?;
        self.update(&target, &map_entity(target.id, &entity)).await
    }

    async fn fetch(&self, target: &Target<'_>) -> Result<Map<String, Value>, HandlerError> {
        let mut request = self.client.get(target.url(&self.config.source_api_url)?);
        if let Some(token) = &self.config.source_api_token {
            request = request.bearer_auth(String::from_utf8_lossy(token.expose()));
        }
        let response = request.send().await.map_err(|e| unreachable(SOURCE, e))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(HandlerError::unprocessable(format!(
                "{target} was not found at {SOURCE}"
            )));
        }
        if !status.is_success() {
            let message = message(response).await;
            return Err(refused(
                SOURCE,
                &format!("to return {target}"),
                status,
                &message,
            ));
        }
        let body = response.bytes().await.map_err(|e| unreachable(SOURCE, e))?;
        match serde_json::from_slice(&body) {
            Ok(Value::Object(entity)) => Ok(entity),
            Ok(_) => Err(bad_gateway(format!(
                "{SOURCE} returned {target} as JSON that is not an object"
            ))),
            Err(e) => Err(bad_gateway(format!(
                "{SOURCE} returned {target} as something that is not JSON: {e}"
            ))),
        }
    }

    async fn update(&self, target: &Target<'_>, update: &Value) -> Result<(), HandlerError> {
        let response = self
            .client
            .patch(target.url(&self.config.downstream_url)?)
            .json(update)
            .send()
            .await
            .map_err(|e| unreachable(DOWNSTREAM, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let message = message(response).await;
        Err(refused(
            DOWNSTREAM,
            &format!("the update of {target}"),
            status,
            &message,
        ))
    }
}

/// The entity an event names.
struct Target<'e> {
    entity_type: &'e str,
    id: &'e str,
}

impl<'e> Target<'e> {
    fn of(event: &'e EventMeta) -> Result<Self, HandlerError> {
        let entity_type = event.entity_type.as_deref().ok_or_else(|| {
            HandlerError::unprocessable("`entityType` is required: it names the entity's kind")
        })?;
        // The integration envelope requires `id`, so this holds for every delivery it passes.
        let id = event
            .entity_id
            .as_deref()
            .ok_or_else(|| HandlerError::unprocessable("`id` is required"))?;
        for (field, value) in [("entityType", entity_type), ("id", id)] {
            // A URL path cannot hold these as segments: they mean "here" and "up".
            if value == "." || value == ".." {
                return Err(HandlerError::unprocessable(format!(
                    "`{field}` `{value}` cannot name an entity"
                )));
            }
        }
        Ok(Self { entity_type, id })
    }

    /// `{base}/{entityType}/{id}`, each segment percent-encoded so neither can add to the path.
    fn url(&self, base: &Url) -> Result<Url, HandlerError> {
        let mut url = base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                HandlerError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "a configured URL cannot take a path",
                )
            })?
            .pop_if_empty()
            .push(self.entity_type)
            .push(self.id);
        Ok(url)
    }
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.entity_type, self.id)
    }
}

/// The answer when `system` answered `status` to our request for `what`.
///
/// A refusal of the event itself is 422 with the system's message, for the source to display;
/// our own credentials refused, or an answer we did not expect, is 502; a system that is
/// overloaded or failing is 503. Both 5xx ask the source to retry.
fn refused(system: &str, what: &str, status: StatusCode, message: &str) -> HandlerError {
    let text = format!("{system} refused {what} ({status}): {message}");
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => HandlerError::new(
            StatusCode::BAD_GATEWAY,
            format!("{system} refused our credentials ({status}): {message}"),
        ),
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
            HandlerError::unavailable(text)
        }
        status if status.is_server_error() => HandlerError::unavailable(text),
        status if status.is_client_error() => HandlerError::unprocessable(text),
        _ => bad_gateway(text),
    }
}

fn bad_gateway(message: String) -> HandlerError {
    HandlerError::new(StatusCode::BAD_GATEWAY, message)
}

/// The answer when a request to `system` got no answer: 503, so the source retries.
fn unreachable(system: &str, error: reqwest::Error) -> HandlerError {
    // Without the URL: it is configuration, and a URL can carry credentials.
    let error = error.without_url();
    HandlerError::unavailable(format!(
        "{system} is unreachable, retry later: {}",
        chain(&error)
    ))
}

/// The error and its causes, `: `-separated (reqwest's own message alone says only "error
/// sending request").
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The message in another system's error answer: a JSON `message`, `error.message`, `error`,
/// `detail` or `title`, else the body as text, shortened.
async fn message(response: Response) -> String {
    match response.bytes().await {
        Ok(body) => message_in(&body),
        Err(_) => "no message (the answer's body could not be read)".into(),
    }
}

fn message_in(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body).ok().and_then(|json| {
        ["/message", "/error/message", "/error", "/detail", "/title"]
            .into_iter()
            .find_map(|pointer| json.pointer(pointer)?.as_str().map(str::to_owned))
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = text.trim();
    if text.is_empty() {
        "no message".into()
    } else {
        text.chars().take(MESSAGE_LIMIT).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_from_common_error_shapes() {
        assert_eq!(
            message_in(br#"{"message": "email is taken"}"#),
            "email is taken"
        );
        assert_eq!(message_in(br#"{"error": {"message": "no"}}"#), "no");
        assert_eq!(message_in(br#"{"error": "nope"}"#), "nope");
        assert_eq!(message_in(b"  plain text\n"), "plain text");
        assert_eq!(message_in(b""), "no message");
        assert_eq!(message_in("é".repeat(400).as_bytes()).chars().count(), 300);
    }

    #[test]
    fn entity_urls_cannot_escape_their_segments() {
        let mut event = EventMeta::new("UPDATE");
        event.entity_type = Some("USER".into());
        event.entity_id = Some("a/../b?c".into());
        let base = Url::parse("http://api.example/v1/").unwrap();
        let url = Target::of(&event).unwrap().url(&base).unwrap();
        assert_eq!(url.as_str(), "http://api.example/v1/USER/a%2F..%2Fb%3Fc");
    }
}

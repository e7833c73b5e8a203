//! Each preset against realistic payloads, and each way a required field can be wrong.

use chrono::{DateTime, NaiveDate, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_nano_opt(h, mi, s, nanos))
        .map(|naive| naive.and_utc())
        .expect("test dates are valid")
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("test header values are valid"),
            )
        })
        .collect()
}

fn no_headers() -> HeaderMap {
    HeaderMap::new()
}

fn missing(field: &str) -> EnvelopeError {
    EnvelopeError::Missing {
        field: field.to_owned(),
    }
}

fn wrong_type(field: &str, expected: &'static str, found: &'static str) -> EnvelopeError {
    EnvelopeError::WrongType {
        field: field.to_owned(),
        expected,
        found,
    }
}

const TEXT: &str = "a non-empty string";
const ID: &str = "a non-empty string or an integer";

/// Removes `key` from an object body, for "what if this field were absent" tests.
fn without(mut body: Value, key: &str) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.remove(key);
    }
    body
}

/// Replaces `key` in an object body.
fn with(mut body: Value, key: &str, value: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
    body
}

mod sonar {
    use super::*;

    /// Sonar's documented example.
    fn documented() -> Value {
        json!({
            "event": "account.status",
            "object_id": 1,
            "current": {"created_at": "2021-05-25T20:48:40+00:00", "account_status_id": 2}
        })
    }

    fn extract(body: &Value) -> Result<EventMeta, EnvelopeError> {
        Envelope::Sonar.extract(&no_headers(), body)
    }

    #[test]
    fn documented_example_is_read_in_full() {
        assert_eq!(
            extract(&documented()),
            Ok(EventMeta {
                event_type: "account.status".into(),
                entity_type: Some("account".into()),
                entity_id: Some("1".into()),
                created_at: Some(utc(2021, 5, 25, 20, 48, 40, 0)),
                delivery_id: None,
                test: false,
            })
        );
    }

    #[test]
    fn entity_type_is_the_top_level_entity_of_the_event() {
        let body = with(documented(), "event", json!("account.service.add"));
        let meta = extract(&body).expect("valid");
        assert_eq!(meta.entity_type.as_deref(), Some("account"));
    }

    #[test]
    fn event_without_a_dot_has_no_entity_type() {
        let body = with(documented(), "event", json!("ping"));
        assert_eq!(extract(&body).expect("valid").entity_type, None);
    }

    #[test]
    fn string_object_id_is_kept_as_is() {
        let body = with(documented(), "object_id", json!("A-17"));
        assert_eq!(
            extract(&body).expect("valid").entity_id.as_deref(),
            Some("A-17")
        );
    }

    #[test]
    fn current_as_empty_array_means_no_time() {
        let body = with(documented(), "current", json!([]));
        assert_eq!(extract(&body).expect("valid").created_at, None);
    }

    #[test]
    fn absent_current_means_no_time() {
        let body = without(documented(), "current");
        assert_eq!(extract(&body).expect("valid").created_at, None);
    }

    #[test]
    fn current_without_created_at_means_no_time() {
        let body = with(documented(), "current", json!({"status": 1}));
        assert_eq!(extract(&body).expect("valid").created_at, None);
    }

    #[test]
    fn invalid_created_at_is_an_error_not_none() {
        let body = with(documented(), "current", json!({"created_at": "soon"}));
        assert!(matches!(
            extract(&body),
            Err(EnvelopeError::Timestamp { field, reason: TimestampError::Unrecognised { .. } })
                if field == "current.created_at"
        ));
    }

    #[test]
    fn missing_event() {
        assert_eq!(
            extract(&without(documented(), "event")),
            Err(missing("event"))
        );
    }

    #[test]
    fn null_event_counts_as_missing() {
        let body = with(documented(), "event", Value::Null);
        assert_eq!(extract(&body), Err(missing("event")));
    }

    #[test]
    fn numeric_event_is_wrong_type() {
        let body = with(documented(), "event", json!(7));
        assert_eq!(extract(&body), Err(wrong_type("event", TEXT, "a number")));
    }

    #[test]
    fn empty_event_is_wrong_type() {
        let body = with(documented(), "event", json!(""));
        assert_eq!(
            extract(&body),
            Err(wrong_type("event", TEXT, "an empty string"))
        );
    }

    #[test]
    fn missing_object_id() {
        assert_eq!(
            extract(&without(documented(), "object_id")),
            Err(missing("object_id"))
        );
    }

    #[test]
    fn object_id_of_the_wrong_type() {
        for (value, found) in [
            (json!(true), "a boolean"),
            (json!(""), "an empty string"),
            (json!({"id": 1}), "an object"),
            (json!([1]), "an array"),
        ] {
            let body = with(documented(), "object_id", value);
            assert_eq!(extract(&body), Err(wrong_type("object_id", ID, found)));
        }
    }

    #[test]
    fn regression_huge_integer_ids_were_rounded_so_two_entities_shared_one_mark() {
        // serde_json reads integers past 64 bits as f64: both of these were `1.2345678901234568e22`,
        // so entity B's events were judged against entity A's mark and dropped as stale.
        for text in [
            "12345678901234567890123",
            "12345678901234567890124",
            "18446744073709551616",
            "1.5",
            "7.0",
            "1e3",
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let body = with(documented(), "object_id", value);
            assert_eq!(
                extract(&body),
                Err(wrong_type("object_id", ID, "a number")),
                "{text}"
            );
        }
        for (text, id) in [
            ("18446744073709551615", "18446744073709551615"),
            ("-9", "-9"),
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let body = with(documented(), "object_id", value);
            assert_eq!(extract(&body).unwrap().entity_id.as_deref(), Some(id));
        }
    }

    #[test]
    fn body_that_is_not_an_object() {
        assert_eq!(
            extract(&json!([documented()])),
            Err(EnvelopeError::NotAnObject { found: "an array" })
        );
    }
}

mod integration {
    use super::*;

    /// The example from the integration pattern.
    fn example() -> Value {
        json!({"id": "IDNUMBER1234", "entityType": "USER", "eventType": "UPDATE", "timestamp": "2019-01-01T00:00:00Z"})
    }

    fn extract(body: &Value) -> Result<EventMeta, EnvelopeError> {
        Envelope::Integration.extract(&no_headers(), body)
    }

    #[test]
    fn example_is_read_in_full() {
        assert_eq!(
            extract(&example()),
            Ok(EventMeta {
                event_type: "UPDATE".into(),
                entity_type: Some("USER".into()),
                entity_id: Some("IDNUMBER1234".into()),
                created_at: Some(utc(2019, 1, 1, 0, 0, 0, 0)),
                delivery_id: None,
                test: false,
            })
        );
    }

    #[test]
    fn entity_type_and_timestamp_are_optional() {
        let body = without(without(example(), "entityType"), "timestamp");
        let meta = extract(&body).expect("valid");
        assert_eq!(meta.entity_type, None);
        assert_eq!(meta.created_at, None);
    }

    #[test]
    fn numeric_id_renders_as_its_json_text() {
        let body = with(example(), "id", json!(1234));
        assert_eq!(
            extract(&body).expect("valid").entity_id.as_deref(),
            Some("1234")
        );
    }

    #[test]
    fn missing_id() {
        assert_eq!(extract(&without(example(), "id")), Err(missing("id")));
    }

    #[test]
    fn missing_event_type() {
        assert_eq!(
            extract(&without(example(), "eventType")),
            Err(missing("eventType"))
        );
    }

    #[test]
    fn wrong_typed_entity_type() {
        let body = with(example(), "entityType", json!(["USER"]));
        assert_eq!(
            extract(&body),
            Err(wrong_type("entityType", TEXT, "an array"))
        );
    }

    #[test]
    fn wrong_typed_timestamp_names_the_field() {
        let body = with(example(), "timestamp", json!(false));
        assert_eq!(
            extract(&body),
            Err(EnvelopeError::Timestamp {
                field: "timestamp".into(),
                reason: TimestampError::WrongType { found: "a boolean" },
            })
        );
    }

    #[test]
    fn timestamp_error_message_says_which_field_and_why() {
        let body = with(example(), "timestamp", json!("last tuesday"));
        let message = extract(&body).unwrap_err().to_string();
        assert!(
            message.starts_with("field `timestamp` is not a timestamp: `last tuesday`"),
            "{message}"
        );
    }
}

mod superoffice {
    use super::*;

    fn contact_changed() -> Value {
        json!({
            "EventId": "f2a4cd55-3a8f-4f7e-9fb6-5d3c1b0e8a11",
            "Timestamp": "2019-03-05T14:23:05.1234567Z",
            "Changes": ["name", "department"],
            "Event": "contact.changed",
            "PrimaryKey": 123,
            "Entity": "contact",
            "ContextIdentifier": "Cust12345",
            "ChangedByAssociateId": 5,
            "WebhookName": "Contact Handler"
        })
    }

    fn extract(headers: &HeaderMap, body: &Value) -> Result<EventMeta, EnvelopeError> {
        Envelope::SuperOffice.extract(headers, body)
    }

    #[test]
    fn contact_changed_is_read_in_full() {
        assert_eq!(
            extract(&no_headers(), &contact_changed()),
            Ok(EventMeta {
                event_type: "contact.changed".into(),
                entity_type: Some("contact".into()),
                entity_id: Some("123".into()),
                created_at: Some(utc(2019, 3, 5, 14, 23, 5, 123_456_700)),
                delivery_id: Some("f2a4cd55-3a8f-4f7e-9fb6-5d3c1b0e8a11".into()),
                test: false,
            })
        );
    }

    #[test]
    fn timestamp_with_offset_or_without_one() {
        for (timestamp, expected) in [
            (
                "2019-03-05T15:23:05.1234567+01:00",
                utc(2019, 3, 5, 14, 23, 5, 123_456_700),
            ),
            (
                "2019-03-05T14:23:05.1234567",
                utc(2019, 3, 5, 14, 23, 5, 123_456_700),
            ),
        ] {
            let body = with(contact_changed(), "Timestamp", json!(timestamp));
            let meta = extract(&no_headers(), &body).expect("valid");
            assert_eq!(meta.created_at, Some(expected), "{timestamp}");
        }
    }

    #[test]
    fn headers_stand_in_for_absent_event_and_event_id() {
        let body = without(without(contact_changed(), "Event"), "EventId");
        let headers = headers(&[
            ("x-superoffice-event", "contact.changed"),
            ("x-superoffice-eventid", "from-header"),
        ]);
        let meta = extract(&headers, &body).expect("valid");
        assert_eq!(meta.event_type, "contact.changed");
        assert_eq!(meta.delivery_id.as_deref(), Some("from-header"));
    }

    #[test]
    fn body_fields_win_over_headers() {
        let headers = headers(&[
            ("x-superoffice-event", "other.event"),
            ("x-superoffice-eventid", "other-id"),
        ]);
        let meta = extract(&headers, &contact_changed()).expect("valid");
        assert_eq!(meta.event_type, "contact.changed");
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("f2a4cd55-3a8f-4f7e-9fb6-5d3c1b0e8a11")
        );
    }

    #[test]
    fn missing_event_in_body_and_header() {
        assert_eq!(
            extract(&no_headers(), &without(contact_changed(), "Event")),
            Err(missing("Event"))
        );
    }

    #[test]
    fn wrong_typed_event_does_not_fall_back_to_the_header() {
        let body = with(contact_changed(), "Event", json!(42));
        let headers = headers(&[("x-superoffice-event", "contact.changed")]);
        assert_eq!(
            extract(&headers, &body),
            Err(wrong_type("Event", TEXT, "a number"))
        );
    }

    #[test]
    fn other_fields_are_optional() {
        let body = json!({"Event": "contact.created"});
        let meta = extract(&no_headers(), &body).expect("valid");
        assert_eq!(meta.entity_type, None);
        assert_eq!(meta.entity_id, None);
        assert_eq!(meta.created_at, None);
        assert_eq!(meta.delivery_id, None);
    }

    #[test]
    fn wrong_typed_primary_key() {
        let body = with(contact_changed(), "PrimaryKey", json!(true));
        assert_eq!(
            extract(&no_headers(), &body),
            Err(wrong_type("PrimaryKey", ID, "a boolean"))
        );
    }

    #[test]
    fn out_of_range_timestamp_names_the_field() {
        // .NET's DateTime.MinValue, which SuperOffice writes for "never".
        let body = with(contact_changed(), "Timestamp", json!("0001-01-01T00:00:00"));
        assert!(matches!(
            extract(&no_headers(), &body),
            Err(EnvelopeError::Timestamp { field, reason: TimestampError::OutOfRange { .. } })
                if field == "Timestamp"
        ));
    }

    #[test]
    fn test_header_marks_a_test_even_with_an_empty_body() {
        let meta = extract(&headers(&[("x-hook-test", "true")]), &json!({})).expect("test");
        assert!(meta.test);
        assert_eq!(meta.event_type, "test");
    }

    #[test]
    fn test_header_is_case_insensitive() {
        let meta = extract(&headers(&[("x-hook-test", "True")]), &json!({})).expect("test");
        assert!(meta.test);
    }

    #[test]
    fn test_event_in_body_marks_a_test() {
        let meta = extract(&no_headers(), &json!({"Event": "test"})).expect("test");
        assert!(meta.test);
        assert_eq!(meta.event_type, "test");
    }

    #[test]
    fn test_delivery_keeps_what_it_can_read_and_ignores_the_rest() {
        let body = json!({
            "Event": "test",
            "EventId": "abc",
            "PrimaryKey": {"odd": true},
            "Timestamp": "not a time"
        });
        let meta = extract(&headers(&[("x-hook-test", "true")]), &body).expect("test");
        assert_eq!(meta.delivery_id.as_deref(), Some("abc"));
        assert_eq!(meta.entity_id, None);
        assert_eq!(meta.created_at, None);
    }

    #[test]
    fn test_header_succeeds_even_for_a_non_object_body() {
        let meta = extract(&headers(&[("x-hook-test", "true")]), &json!(null)).expect("test");
        assert!(meta.test);
    }

    #[test]
    fn test_header_false_is_not_a_test() {
        assert_eq!(
            extract(&headers(&[("x-hook-test", "false")]), &json!({})),
            Err(missing("Event"))
        );
    }

    #[test]
    fn ordinary_delivery_is_not_a_test() {
        let meta = extract(&no_headers(), &contact_changed()).expect("valid");
        assert!(!meta.test);
    }
}

mod standard_webhooks {
    use super::*;

    fn invoice_paid() -> Value {
        json!({
            "type": "invoice.paid",
            "timestamp": "2022-11-03T20:26:10.344522Z",
            "data": {"id": "inv_1", "amount": 1200}
        })
    }

    fn extract(headers: &HeaderMap, body: &Value) -> Result<EventMeta, EnvelopeError> {
        Envelope::StandardWebhooks.extract(headers, body)
    }

    #[test]
    fn delivery_is_read_in_full() {
        let headers = headers(&[("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")]);
        assert_eq!(
            extract(&headers, &invoice_paid()),
            Ok(EventMeta {
                event_type: "invoice.paid".into(),
                entity_type: None,
                entity_id: Some("inv_1".into()),
                created_at: Some(utc(2022, 11, 3, 20, 26, 10, 344_522_000)),
                delivery_id: Some("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W".into()),
                test: false,
            })
        );
    }

    #[test]
    fn svix_id_is_the_fallback_delivery_id() {
        let meta = extract(&headers(&[("svix-id", "msg_svix")]), &invoice_paid()).expect("valid");
        assert_eq!(meta.delivery_id.as_deref(), Some("msg_svix"));
    }

    #[test]
    fn webhook_id_wins_over_svix_id() {
        let headers = headers(&[("webhook-id", "msg_std"), ("svix-id", "msg_svix")]);
        let meta = extract(&headers, &invoice_paid()).expect("valid");
        assert_eq!(meta.delivery_id.as_deref(), Some("msg_std"));
    }

    #[test]
    fn numeric_data_id_renders_as_text() {
        let body = with(invoice_paid(), "data", json!({"id": 77}));
        let meta = extract(&no_headers(), &body).expect("valid");
        assert_eq!(meta.entity_id.as_deref(), Some("77"));
    }

    #[test]
    fn unusable_or_absent_data_id_is_no_entity() {
        for data in [
            json!({}),
            json!({"id": {"nested": 1}}),
            json!({"id": ""}),
            json!([]),
        ] {
            let body = with(invoice_paid(), "data", data.clone());
            let meta = extract(&no_headers(), &body).expect("valid");
            assert_eq!(meta.entity_id, None, "{data}");
        }
    }

    #[test]
    fn missing_type() {
        assert_eq!(
            extract(&no_headers(), &without(invoice_paid(), "type")),
            Err(missing("type"))
        );
    }

    #[test]
    fn bad_timestamp_names_the_field() {
        let body = with(invoice_paid(), "timestamp", json!(""));
        assert_eq!(
            extract(&no_headers(), &body),
            Err(EnvelopeError::Timestamp {
                field: "timestamp".into(),
                reason: TimestampError::Empty,
            })
        );
    }

    #[test]
    fn empty_webhook_id_header_is_an_error() {
        let headers: HeaderMap = [(
            HeaderName::from_static("webhook-id"),
            HeaderValue::from_static(""),
        )]
        .into_iter()
        .collect();
        assert_eq!(
            extract(&headers, &invoice_paid()),
            Err(EnvelopeError::BadHeader {
                header: "webhook-id".into(),
                problem: "is empty".into(),
            })
        );
    }
}

mod github {
    use super::*;

    fn extract(headers: &HeaderMap) -> Result<EventMeta, EnvelopeError> {
        Envelope::GitHub.extract(headers, &json!({"action": "opened", "number": 1}))
    }

    #[test]
    fn event_and_delivery_come_from_headers() {
        let headers = headers(&[
            ("x-github-event", "pull_request"),
            ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ]);
        assert_eq!(
            extract(&headers),
            Ok(EventMeta {
                event_type: "pull_request".into(),
                entity_type: None,
                entity_id: None,
                created_at: None,
                delivery_id: Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".into()),
                test: false,
            })
        );
    }

    #[test]
    fn ping_is_a_test() {
        let meta = extract(&headers(&[("x-github-event", "ping")])).expect("valid");
        assert!(meta.test);
        assert_eq!(meta.event_type, "ping");
    }

    #[test]
    fn missing_event_header() {
        assert_eq!(
            extract(&headers(&[("x-github-delivery", "1")])),
            Err(EnvelopeError::MissingHeader {
                header: "X-GitHub-Event".into()
            })
        );
    }

    #[test]
    fn non_utf8_event_header_is_an_error() {
        let headers: HeaderMap = [(
            HeaderName::from_static("x-github-event"),
            HeaderValue::from_bytes(b"push\xff").expect("obs-text is a valid header byte"),
        )]
        .into_iter()
        .collect();
        assert_eq!(
            extract(&headers).unwrap_err().to_string(),
            "header `X-GitHub-Event` is not valid UTF-8"
        );
    }
}

mod raw {
    use super::*;

    #[test]
    fn every_delivery_is_a_plain_webhook() {
        let headers = headers(&[("x-event-type", "ignored")]);
        assert_eq!(
            Envelope::Raw.extract(&headers, &json!("anything")),
            Ok(EventMeta {
                event_type: "webhook".into(),
                entity_type: None,
                entity_id: None,
                created_at: None,
                delivery_id: None,
                test: false,
            })
        );
    }
}

mod envelope {
    use super::*;

    fn presets() -> [Envelope; 6] {
        [
            Envelope::Sonar,
            Envelope::Integration,
            Envelope::SuperOffice,
            Envelope::StandardWebhooks,
            Envelope::GitHub,
            Envelope::Raw,
        ]
    }

    #[test]
    fn is_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
        check::<Envelope>();
        check::<EnvelopeError>();
    }

    #[test]
    fn names_are_distinct() {
        let presets = presets();
        let mut names: Vec<&str> = presets.iter().map(Envelope::name).collect();
        names.push("custom");
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
        assert_eq!(Envelope::SuperOffice.name(), "superoffice");
    }

    #[test]
    fn created_at_field_is_the_senders_name() {
        assert_eq!(Envelope::Sonar.created_at_field(), "current.created_at");
        assert_eq!(Envelope::Integration.created_at_field(), "timestamp");
        assert_eq!(Envelope::SuperOffice.created_at_field(), "Timestamp");
        assert_eq!(Envelope::StandardWebhooks.created_at_field(), "timestamp");
        assert_eq!(Envelope::GitHub.created_at_field(), "created_at");
        assert_eq!(Envelope::Raw.created_at_field(), "created_at");
    }

    #[test]
    fn error_messages_name_the_field() {
        assert_eq!(
            missing("object_id").to_string(),
            "missing field `object_id`"
        );
        assert_eq!(
            wrong_type("object_id", ID, "a boolean").to_string(),
            "field `object_id` is a boolean, expected a non-empty string or an integer"
        );
        assert_eq!(
            EnvelopeError::Timestamp {
                field: "timestamp".into(),
                reason: TimestampError::Empty
            }
            .to_string(),
            "field `timestamp` is not a timestamp: the value is an empty string"
        );
        assert_eq!(
            EnvelopeError::NotAnObject { found: "a string" }.to_string(),
            "body is a string, expected a JSON object"
        );
    }
}

mod stripe {
    use super::*;

    /// The example of Stripe's API reference, "The Event object"
    /// (<https://docs.stripe.com/api/events/object>), with its `data.object` cut to the fields
    /// the envelope reads.
    fn body() -> Value {
        json!({
            "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
            "object": "event",
            "api_version": "2019-02-19",
            "created": 1_686_089_970,
            "data": {
                "object": {
                    "id": "seti_1NG8Du2eZvKYlo2C9XMqbR0x",
                    "object": "setup_intent",
                    "livemode": false,
                    "status": "requires_confirmation"
                }
            },
            "livemode": false,
            "pending_webhooks": 0,
            "request": {"id": null, "idempotency_key": null},
            "type": "setup_intent.created"
        })
    }

    #[test]
    fn event_object_fills_every_field() {
        assert_eq!(
            Envelope::Stripe.extract(&no_headers(), &body()),
            Ok(EventMeta {
                event_type: "setup_intent.created".into(),
                entity_type: Some("setup_intent".into()),
                entity_id: Some("seti_1NG8Du2eZvKYlo2C9XMqbR0x".into()),
                created_at: Some(utc(2023, 6, 6, 22, 19, 30, 0)),
                delivery_id: Some("evt_1NG8Du2eZvKYlo2CUI79vXWy".into()),
                test: false,
            })
        );
    }

    #[test]
    fn an_object_without_an_id_has_no_entity() {
        let balance = with(
            body(),
            "data",
            json!({"object": {"object": "balance", "livemode": false}}),
        );
        let meta = Envelope::Stripe
            .extract(&no_headers(), &balance)
            .expect("valid");
        assert_eq!(meta.entity_id, None);
        assert_eq!(meta.entity_type.as_deref(), Some("balance"));
    }

    #[test]
    fn type_id_and_created_are_required() {
        for key in ["type", "id", "created"] {
            assert_eq!(
                Envelope::Stripe.extract(&no_headers(), &without(body(), key)),
                Err(missing(key)),
                "{key}"
            );
        }
    }

    #[test]
    fn a_malformed_entity_id_is_an_error() {
        let odd = with(body(), "data", json!({"object": {"id": true}}));
        assert_eq!(
            Envelope::Stripe.extract(&no_headers(), &odd),
            Err(wrong_type("data.object.id", ID, "a boolean"))
        );
    }

    #[test]
    fn stripe_names_created_and_reads_nothing_from_headers() {
        assert_eq!(Envelope::Stripe.created_at_field(), "created");
        assert_eq!(Envelope::Stripe.name(), "stripe");
        assert!(!Envelope::Stripe.delivery_id_from_headers());
        assert!(!Envelope::Stripe.carries_order());
    }
}

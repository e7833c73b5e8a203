//! Bodies that are not (usable) JSON: 400 malformed, with the parser's reason (broken, deep,
//! huge and non-UTF-8 JSON, times out of range, fields of the wrong type); then two odd but
//! valid bodies, which are handled.

use super::{case, post, sonar, Case, SONAR_OK};

pub(super) fn cases() -> Vec<Case> {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    vec![
        case(
            "truncated JSON",
            post("/sonar", &SONAR_OK[..40]),
            400,
            "not valid JSON",
        ),
        case(
            "invalid JSON",
            post("/sonar", "{not json"),
            400,
            "not valid JSON",
        ),
        case(
            "trailing garbage",
            post("/sonar", format!("{SONAR_OK} x")),
            400,
            "trailing characters",
        ),
        case(
            "10k nested arrays",
            post("/integration", deep(10_000)),
            400,
            "recursion limit exceeded",
        ),
        case(
            "200 nested arrays",
            post("/integration", deep(200)),
            400,
            "recursion limit exceeded",
        ),
        case(
            "10k nested objects",
            post(
                "/integration",
                format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000)),
            ),
            400,
            "recursion limit exceeded",
        ),
        case(
            "huge exponent",
            post("/sonar", sonar("1e999999")),
            400,
            "number out of range",
        ),
        case(
            "huge time number",
            post("/sonar", sonar("1e300")),
            400,
            "outside the supported range",
        ),
        case(
            "huge negative time",
            post("/sonar", sonar("-99999999999999999999")),
            400,
            "outside the supported range",
        ),
        case(
            "time in year 9999",
            post("/sonar", sonar(r#""9999-12-31T23:59:59Z""#)),
            400,
            "outside the supported range",
        ),
        case(
            "time not a time",
            post("/sonar", sonar(r#""yesterday""#)),
            400,
            "not a timestamp",
        ),
        case(
            "time empty",
            post("/sonar", sonar(r#""""#)),
            400,
            "empty string",
        ),
        case(
            "time a boolean",
            post("/sonar", sonar("true")),
            400,
            "expected a string or a number",
        ),
        case(
            "time NaN string",
            post("/sonar", sonar(r#""NaN""#)),
            400,
            "not a timestamp",
        ),
        case(
            "invalid UTF-8",
            post("/sonar", b"{\"event\":\"\xff\xfe\"}".to_vec()),
            400,
            "not valid JSON",
        ),
        case(
            "truncated UTF-8",
            post("/sonar", b"{\"event\":\"\xc3\"}".to_vec()),
            400,
            "not valid JSON",
        ),
        case(
            "lone surrogate escape",
            post("/sonar", r#"{"event":"\ud800","object_id":1}"#),
            400,
            "not valid JSON",
        ),
        case(
            "raw NUL byte",
            post("/sonar", b"{\"event\":\"a\x00b\"}".to_vec()),
            400,
            "not valid JSON",
        ),
        case(
            "only a NUL byte",
            post("/sonar", vec![0u8]),
            400,
            "not valid JSON",
        ),
        case(
            "byte order mark",
            post(
                "/sonar",
                [b"\xef\xbb\xbf".as_slice(), SONAR_OK.as_bytes()].concat(),
            ),
            400,
            "not valid JSON",
        ),
        case("empty body", post("/sonar", ""), 400, "body is empty"),
        case(
            "whitespace body",
            post("/sonar", "  \n\t "),
            400,
            "not valid JSON",
        ),
        case(
            "null body",
            post("/sonar", "null"),
            400,
            "body is null, expected a JSON object",
        ),
        case(
            "string body",
            post("/sonar", r#""hello""#),
            400,
            "body is a string, expected a JSON object",
        ),
        case(
            "number body",
            post("/sonar", "42"),
            400,
            "body is a number, expected a JSON object",
        ),
        case(
            "array instead of object",
            post("/sonar", format!("[{SONAR_OK}]")),
            400,
            "body is an array, expected a JSON object",
        ),
        case(
            "event missing",
            post("/sonar", r#"{"object_id":1}"#),
            400,
            "missing field `event`",
        ),
        case(
            "event a number",
            post("/sonar", r#"{"event":5,"object_id":1}"#),
            400,
            "field `event` is a number",
        ),
        case(
            "event empty",
            post("/sonar", r#"{"event":"","object_id":1}"#),
            400,
            "field `event` is an empty string",
        ),
        case(
            "object_id an object",
            post("/sonar", r#"{"event":"a.b","object_id":{"id":1}}"#),
            400,
            "field `object_id` is an object",
        ),
        case(
            "object_id a boolean",
            post("/sonar", r#"{"event":"a.b","object_id":false}"#),
            400,
            "field `object_id` is a boolean",
        ),
        case(
            "object_id empty",
            post("/sonar", r#"{"event":"a.b","object_id":""}"#),
            400,
            "field `object_id` is an empty string",
        ),
        case(
            "object_id past 64 bits",
            post(
                "/sonar",
                r#"{"event":"a.b","object_id":12345678901234567890123,"current":{"created_at":1}}"#,
            ),
            400,
            "field `object_id` is a number, expected a non-empty string or an integer",
        ),
        case(
            "object_id a fraction",
            post("/sonar", r#"{"event":"a.b","object_id":1.5}"#),
            400,
            "expected a non-empty string or an integer",
        ),
        case(
            "current an array",
            post("/sonar", r#"{"event":"a.b","object_id":1,"current":[]}"#),
            400,
            "current.created_at",
        ),
        case(
            "integration id missing",
            post("/integration", r#"{"eventType":"UPDATE"}"#),
            400,
            "missing field `id`",
        ),
        case(
            "integration timestamp an array",
            post(
                "/integration",
                r#"{"id":"u1","eventType":"UPDATE","timestamp":[1]}"#,
            ),
            400,
            "field `timestamp` is not a timestamp",
        ),
        // Duplicate keys: serde_json keeps the last one; the MAC covered the raw bytes anyway.
        case(
            "duplicate keys, last wins",
            post(
                "/sonar",
                r#"{"event":"x.y","event":"account.status","object_id":70,"current":{"created_at":"2021-05-25T20:48:40Z"}}"#,
            ),
            200,
            "event handled",
        ),
        case(
            "escaped NUL is valid JSON",
            post(
                "/sonar",
                r#"{"event":"account.st\u0000atus","object_id":71,"current":{"created_at":"2021-05-25T20:48:40Z"}}"#,
            ),
            200,
            "event handled",
        ),
    ]
}

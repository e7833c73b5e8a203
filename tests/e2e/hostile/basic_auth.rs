//! Basic auth (missing, malformed, wrong and repeated credentials; a lower-case scheme without
//! padding is accepted), and the bearer token endpoint.

use super::{b64, case, post, post_with, Case, PASSWORD, TOKEN, USER};

pub(super) fn cases() -> Vec<Case> {
    let basic = |credentials: &[u8]| format!("Basic {}", b64(credentials)).into_bytes();
    vec![
        case(
            "basic missing",
            post("/basic", "{}"),
            401,
            "missing credentials",
        ),
        case(
            "basic not base64",
            post_with(
                "/basic",
                vec![("authorization", b"Basic !!!!".to_vec())],
                "{}",
            ),
            401,
            "malformed credentials",
        ),
        case(
            "basic without colon",
            post_with("/basic", vec![("authorization", basic(b"nocolon"))], "{}"),
            401,
            "malformed credentials",
        ),
        case(
            "basic scheme only",
            post_with("/basic", vec![("authorization", b"Basic".to_vec())], "{}"),
            401,
            "missing credentials",
        ),
        case(
            "bearer instead of basic",
            post_with(
                "/basic",
                vec![("authorization", b"Bearer abc".to_vec())],
                "{}",
            ),
            401,
            "malformed credentials",
        ),
        case(
            "basic invalid UTF-8 credentials",
            post_with(
                "/basic",
                vec![("authorization", basic(b"\xff\xfe:\xfd"))],
                "{}",
            ),
            401,
            "bad credentials",
        ),
        case(
            "basic wrong password",
            post_with(
                "/basic",
                vec![(
                    "authorization",
                    basic(format!("{USER}:{PASSWORD}x").as_bytes()),
                )],
                "{}",
            ),
            401,
            "bad credentials",
        ),
        case(
            "basic password split at the wrong colon",
            post_with(
                "/basic",
                vec![("authorization", basic(b"fieldservice:pa55"))],
                "{}",
            ),
            401,
            "bad credentials",
        ),
        case(
            "basic 9 KiB",
            post_with(
                "/basic",
                vec![(
                    "authorization",
                    format!("Basic {}", "QUFB".repeat(2400)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "malformed credentials",
        ),
        case(
            "basic twice",
            post_with(
                "/basic",
                vec![
                    (
                        "authorization",
                        basic(format!("{USER}:{PASSWORD}").as_bytes()),
                    ),
                    (
                        "authorization",
                        basic(format!("{USER}:{PASSWORD}").as_bytes()),
                    ),
                ],
                "{}",
            ),
            401,
            "malformed credentials",
        ),
        case(
            "basic lower-case scheme, unpadded",
            post_with(
                "/basic",
                vec![(
                    "authorization",
                    format!(
                        "basic {}",
                        b64(format!("{USER}:{PASSWORD}").as_bytes()).trim_end_matches('=')
                    )
                    .into_bytes(),
                )],
                r#"{"n":1}"#,
            ),
            200,
            "event handled",
        ),
        case(
            "token wrong",
            post_with(
                "/token",
                vec![("authorization", format!("Bearer {TOKEN}x").into_bytes())],
                "{}",
            ),
            401,
            "bad credentials",
        ),
        case(
            "token empty bearer",
            post_with("/token", vec![("authorization", b"Bearer ".to_vec())], "{}"),
            401,
            "missing credentials",
        ),
    ]
}

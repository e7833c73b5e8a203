//! GitHub's hex HMAC: the signature header missing, not hex, of the wrong length or prefix;
//! upper-case hex is accepted.

use receiver_sdk::verify::sign;

use super::{case, post_with, Case, GITHUB_SECRET};

pub(super) fn cases() -> Vec<Case> {
    let github_ok = sign::github(GITHUB_SECRET, b"{}");
    vec![
        case(
            "github signature missing",
            post_with("/github", vec![("x-github-event", b"push".to_vec())], "{}"),
            401,
            "missing x-hub-signature-256 header",
        ),
        case(
            "github signature not hex",
            post_with(
                "/github",
                vec![
                    ("x-github-event", b"push".to_vec()),
                    (
                        "x-hub-signature-256",
                        format!("sha256={}", "zz".repeat(32)).into_bytes(),
                    ),
                ],
                "{}",
            ),
            401,
            "malformed x-hub-signature-256 header",
        ),
        case(
            "github signature 31 bytes",
            post_with(
                "/github",
                vec![
                    ("x-github-event", b"push".to_vec()),
                    (
                        "x-hub-signature-256",
                        format!("sha256={}", "ab".repeat(31)).into_bytes(),
                    ),
                ],
                "{}",
            ),
            401,
            "malformed x-hub-signature-256 header",
        ),
        case(
            "github sha1 prefix",
            post_with(
                "/github",
                vec![
                    ("x-github-event", b"push".to_vec()),
                    (
                        "x-hub-signature-256",
                        github_ok.replace("sha256=", "sha1=").into_bytes(),
                    ),
                ],
                "{}",
            ),
            401,
            "malformed x-hub-signature-256 header",
        ),
        case(
            "github upper-case hex",
            post_with(
                "/github",
                vec![
                    ("x-github-event", b"push".to_vec()),
                    ("x-github-delivery", b"gh-1".to_vec()),
                    (
                        "x-hub-signature-256",
                        format!("sha256={}", github_ok[7..].to_uppercase()).into_bytes(),
                    ),
                ],
                "{}",
            ),
            200,
            "event handled",
        ),
        case(
            "github event header missing",
            post_with(
                "/github",
                vec![("x-hub-signature-256", github_ok.clone().into_bytes())],
                "{}",
            ),
            400,
            "missing header `X-GitHub-Event`",
        ),
    ]
}

//! Sizes and framing: bodies over the limit (413), cut short or too slow (400, 408), and
//! heads that hyper refuses itself (400, 431, without a body).

use std::time::Duration;

use end_to_end::raw::chunked;

use super::{case, hyper_case, post, raw_post, Case, Request, LIMIT};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "body over the limit, declared",
            post("/sonar", vec![b' '; LIMIT + 1]),
            413,
            "larger than the limit of 65536 bytes",
        ),
        case(
            "body over the limit, chunked",
            Request::Raw(raw_post(
                "/sonar",
                "Transfer-Encoding: chunked\r\n",
                &chunked(&[&vec![b' '; LIMIT], b"x"]),
            )),
            413,
            "larger than the limit",
        ),
        case(
            "declared length of a terabyte",
            Request::Raw(raw_post(
                "/sonar",
                "Content-Length: 1099511627776\r\n",
                b"{}",
            )),
            413,
            "larger than the limit",
        ),
        case(
            "body shorter than declared",
            Request::Truncated(raw_post(
                "/sonar",
                "Content-Length: 100\r\n",
                b"{\"event\":",
            )),
            400,
            "could not read the body",
        ),
        case(
            "bad chunk size",
            Request::Raw(raw_post(
                "/sonar",
                "Transfer-Encoding: chunked\r\n",
                b"zz\r\n{}\r\n0\r\n\r\n",
            )),
            400,
            "could not read the body",
        ),
        case(
            "slow-loris body",
            Request::Slow {
                head: raw_post("/slow", "Content-Length: 40\r\n", b""),
                chunks: vec![b"{\"a\":".to_vec(); 8],
                pause: Duration::from_millis(100),
            },
            408,
            "did not arrive in time",
        ),
        hyper_case(
            "content length not a number",
            raw_post("/sonar", "Content-Length: ten\r\n", b"{}"),
            400,
        ),
        hyper_case(
            "two content lengths",
            raw_post(
                "/sonar",
                "Content-Length: 2\r\nContent-Length: 3\r\n",
                b"{}x",
            ),
            400,
        ),
        hyper_case(
            "control byte in a header",
            raw_post("/sonar", "X-Evil: a\x01b\r\nContent-Length: 2\r\n", b"{}"),
            400,
        ),
        hyper_case(
            "header without colon",
            raw_post("/sonar", "NoColonHere\r\nContent-Length: 2\r\n", b"{}"),
            400,
        ),
        hyper_case("garbage request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        hyper_case(
            "oversized header",
            raw_post(
                "/sonar",
                &format!("X-Big: {}\r\nContent-Length: 2\r\n", "a".repeat(512 * 1024)),
                b"{}",
            ),
            431,
        ),
        hyper_case(
            "too many headers",
            raw_post(
                "/sonar",
                &format!("{}Content-Length: 2\r\n", "X-H: 1\r\n".repeat(200)),
                b"{}",
            ),
            431,
        ),
    ]
}

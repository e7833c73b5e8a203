//! Content types other than JSON: 415, naming what was sent.

use super::{case, hyper_free_raw, Case, Request, SONAR_OK};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "text/plain",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", b"text/plain".to_vec())],
                body: SONAR_OK.into(),
            },
            415,
            "`text/plain` is not accepted",
        ),
        case(
            "form encoded",
            Request::Post {
                path: "/sonar",
                headers: vec![(
                    "content-type",
                    b"application/x-www-form-urlencoded".to_vec(),
                )],
                body: b"a=1".to_vec(),
            },
            415,
            "send application/json",
        ),
        case(
            "multipart",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", b"multipart/form-data; boundary=x".to_vec())],
                body: SONAR_OK.into(),
            },
            415,
            "multipart/form-data",
        ),
        case(
            "application/jsonp",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", b"application/jsonp".to_vec())],
                body: SONAR_OK.into(),
            },
            415,
            "application/jsonp",
        ),
        case(
            "non-ASCII content type",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", b"application/json\xff".to_vec())],
                body: SONAR_OK.into(),
            },
            415,
            "not accepted",
        ),
        case(
            "empty content type",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", Vec::new())],
                body: SONAR_OK.into(),
            },
            415,
            "not accepted",
        ),
        case(
            "duplicate content types, first decides",
            hyper_free_raw(
                "/sonar",
                "Content-Type: text/plain\r\n",
                SONAR_OK.as_bytes(),
            ),
            415,
            "not accepted",
        ),
    ]
}

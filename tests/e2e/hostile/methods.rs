//! Methods and paths: anything but HEAD and POST is 405, and a path that climbs out of an
//! endpoint finds no route.

use super::{case, hyper_case, raw_method, with_length, Case};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "GET",
            raw_method("GET", "/sonar"),
            405,
            "only HEAD and POST are accepted",
        ),
        case(
            "PUT",
            raw_method("PUT", "/sonar"),
            405,
            "only HEAD and POST are accepted",
        ),
        case(
            "DELETE",
            raw_method("DELETE", "/sonar"),
            405,
            "only HEAD and POST are accepted",
        ),
        case(
            "OPTIONS",
            raw_method("OPTIONS", "/sonar"),
            405,
            "only HEAD and POST are accepted",
        ),
        hyper_case(
            "path traversal",
            with_length("/sonar/../basic", "", b"{}"),
            404,
        ),
        hyper_case(
            "encoded path traversal",
            with_length("/%2e%2e/basic", "", b"{}"),
            404,
        ),
    ]
}

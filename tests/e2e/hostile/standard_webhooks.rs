//! Standard Webhooks signatures: missing, malformed and wrong-length headers, timestamps
//! outside the tolerance, and replays of a handled delivery.

use super::{b64, case, post, post_with, replace, standard, Case, STANDARD_BODY};

pub(super) fn cases(t: u64) -> Vec<Case> {
    let std_ok = standard("msg_battery_1", t, STANDARD_BODY);
    vec![
        case(
            "no signature headers",
            post("/standard", STANDARD_BODY),
            401,
            "missing webhook-id header",
        ),
        case(
            "signature missing",
            post_with("/standard", std_ok[..2].to_vec(), STANDARD_BODY),
            401,
            "missing webhook-signature header",
        ),
        case(
            "timestamp not a number",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-timestamp", "soon"),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-timestamp header",
        ),
        case(
            "timestamp negative",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-timestamp", "-5"),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-timestamp header",
        ),
        case(
            "timestamp with plus sign",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-timestamp", format!("+{t}")),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-timestamp header",
        ),
        case(
            "timestamp past u64",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-timestamp",
                    "99999999999999999999999",
                ),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-timestamp header",
        ),
        case(
            "timestamp a day old",
            post_with(
                "/standard",
                standard("msg_old", t - 86_400, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "older than the accepted tolerance",
        ),
        case(
            "timestamp a day ahead",
            post_with(
                "/standard",
                standard("msg_new", t + 86_400, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "further in the future",
        ),
        case(
            "timestamp at u64::MAX",
            post_with(
                "/standard",
                standard("msg_max", u64::MAX, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "further in the future",
        ),
        case(
            "timestamp zero",
            post_with(
                "/standard",
                standard("msg_zero", 0, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "older than the accepted tolerance",
        ),
        case(
            "signature not base64",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-signature", "v1,!!!!"),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-signature header",
        ),
        case(
            "signature 31 bytes",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1,{}", b64(&[7; 31])),
                ),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-signature header",
        ),
        case(
            "signature 33 bytes",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1,{}", b64(&[7; 33])),
                ),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-signature header",
        ),
        case(
            "signature 32 wrong bytes",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1,{}", b64(&[7; 32])),
                ),
                STANDARD_BODY,
            ),
            401,
            "no signature matches",
        ),
        case(
            "signature of another version",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1a,{}", b64(&[7; 32])),
                ),
                STANDARD_BODY,
            ),
            401,
            "no supported signature version",
        ),
        case(
            "signature header 9 KiB",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1,{}", "A".repeat(9 * 1024)),
                ),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-signature header",
        ),
        case(
            "webhook-id not ASCII",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-id", b"msg_\xff".to_vec()),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-id header",
        ),
        case(
            "signature sent twice",
            post_with(
                "/standard",
                [
                    std_ok.clone(),
                    vec![(
                        "webhook-signature",
                        format!("v1,{}", b64(&[7; 32])).into_bytes(),
                    )],
                ]
                .concat(),
                STANDARD_BODY,
            ),
            401,
            "webhook-signature header sent more than once",
        ),
        case(
            "signed body tampered",
            post_with(
                "/standard",
                std_ok.clone(),
                STANDARD_BODY.replace("inv_1", "inv_2"),
            ),
            401,
            "no signature matches",
        ),
        case(
            "signed delivery",
            post_with("/standard", std_ok.clone(), STANDARD_BODY),
            200,
            "event handled",
        ),
        case(
            "signed delivery replayed",
            post_with("/standard", std_ok.clone(), STANDARD_BODY),
            200,
            "delivery already handled",
        ),
        case(
            "replay re-signed with a new timestamp, same id",
            post_with(
                "/standard",
                standard("msg_battery_1", t + 1, STANDARD_BODY),
                STANDARD_BODY,
            ),
            200,
            "delivery already handled",
        ),
        case(
            "replay of a delivery signed 10 minutes ago",
            post_with(
                "/standard",
                standard("msg_battery_2", t - 600, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "older than the accepted tolerance",
        ),
    ]
}

//! Stripe's header grammar: `t=` missing, repeated or not a number, items without `=`, and no
//! `v1` signature.

use super::{case, post_with, Case};

pub(super) fn cases(t: u64) -> Vec<Case> {
    vec![
        case(
            "stripe t not a number",
            post_with(
                "/stripe",
                vec![(
                    "stripe-signature",
                    format!("t=abc,v1={}", "ab".repeat(32)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "malformed stripe-signature header",
        ),
        case(
            "stripe no t",
            post_with(
                "/stripe",
                vec![(
                    "stripe-signature",
                    format!("v1={}", "ab".repeat(32)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "malformed stripe-signature header",
        ),
        case(
            "stripe two t",
            post_with(
                "/stripe",
                vec![(
                    "stripe-signature",
                    format!("t={t},t={t},v1={}", "ab".repeat(32)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "malformed stripe-signature header",
        ),
        case(
            "stripe item without =",
            post_with(
                "/stripe",
                vec![("stripe-signature", format!("t={t},v1").into_bytes())],
                "{}",
            ),
            401,
            "malformed stripe-signature header",
        ),
        case(
            "stripe only v0",
            post_with(
                "/stripe",
                vec![(
                    "stripe-signature",
                    format!("t={t},v0={}", "ab".repeat(32)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "no supported signature version",
        ),
    ]
}

//! When a failed attempt is tried again: exponential backoff with full jitter, or the
//! downstream's own `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::relay::Attempt;

/// The longest wait after the `tries`-th failure: `initial`, doubled for each earlier
/// failure, capped at `max`.
pub(crate) fn ceiling(initial: Duration, max: Duration, tries: u32) -> Duration {
    let doublings = tries.saturating_sub(1).min(63);
    let factor = 1_u64 << doublings;
    let ms = u64::try_from(initial.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_mul(factor);
    Duration::from_millis(ms).min(max)
}

/// The wait after the `tries`-th failure: the downstream's `Retry-After` if it gave one (up
/// to `max`), otherwise uniformly random up to the [`ceiling`] ("full jitter", so that many
/// events failing together do not come back together). `random(n)` picks from `0..=n`.
pub(crate) fn delay(
    initial: Duration,
    max: Duration,
    tries: u32,
    retry_after: Option<Duration>,
    random: impl FnOnce(u64) -> u64,
) -> Duration {
    if let Some(asked) = retry_after {
        return asked.min(max);
    }
    let ceiling = ceiling(initial, max, tries);
    Duration::from_millis(random(
        u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX),
    ))
}

/// The wait a 429 or 503 answer asks for in `Retry-After` (seconds or an HTTP date).
pub(crate) fn retry_after(attempt: &Attempt, now: DateTime<Utc>) -> Option<Duration> {
    if !matches!(attempt.status, Some(429 | 503)) {
        return None;
    }
    let value = attempt
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .map(|(_, value)| value.trim())?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Verdict;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_ceiling_doubles_from_the_initial_delay_up_to_the_cap() {
        let ceilings: Vec<_> = (1..=6)
            .map(|tries| ceiling(100 * MS, 1_000 * MS, tries))
            .collect();
        assert_eq!(
            ceilings,
            [100, 200, 400, 800, 1_000, 1_000].map(|ms| ms * MS)
        );
        assert_eq!(
            ceiling(100 * MS, Duration::MAX, u32::MAX),
            Duration::from_millis(u64::MAX)
        );
    }

    #[test]
    fn the_delay_is_drawn_up_to_the_ceiling() {
        assert_eq!(delay(100 * MS, 10_000 * MS, 3, None, |n| n), 400 * MS);
        assert_eq!(delay(100 * MS, 10_000 * MS, 3, None, |_| 0), Duration::ZERO);
        assert_eq!(delay(100 * MS, 10_000 * MS, 3, None, |n| n / 2), 200 * MS);
    }

    #[test]
    fn retry_after_wins_over_jitter_but_not_over_the_cap() {
        let asked = Some(Duration::from_secs(30));
        assert_eq!(
            delay(MS, Duration::from_secs(60), 1, asked, |n| n),
            Duration::from_secs(30)
        );
        assert_eq!(
            delay(MS, Duration::from_secs(10), 1, asked, |n| n),
            Duration::from_secs(10)
        );
    }

    fn answer(status: u16, retry_after: &str) -> Attempt {
        Attempt {
            at: Utc::now(),
            duration_ms: 1,
            verdict: Verdict::Failed,
            status: Some(status),
            headers: vec![("retry-after".into(), retry_after.into())],
            body_excerpt: String::new(),
            message: String::new(),
            timed_out: false,
        }
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date_on_429_and_503_only() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            retry_after(&answer(429, "7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&answer(503, "Wed, 21 Oct 2015 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&answer(503, "Wed, 21 Oct 2015 07:27:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&answer(500, "7"), now), None);
        assert_eq!(retry_after(&answer(429, "soon"), now), None);
    }
}

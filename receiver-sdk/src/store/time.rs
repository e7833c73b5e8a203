//! The two clocks a store keeps, as two types so that one cannot be passed for the other.
//!
//! Ordering marks are event times in nanoseconds (senders stamp events to the millisecond or
//! finer, and two events a millisecond apart must not tie); delivery expiry is wall-clock time
//! in whole seconds (a retention window is days long). Both are an `i64` on disk, as before;
//! only the types tell them apart.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

/// An event's time, or an ordering mark: nanoseconds since the Unix epoch.
///
/// ```
/// use receiver_sdk::store::EventTime;
///
/// let created: chrono::DateTime<chrono::Utc> = "2024-01-01T00:00:00Z".parse()?;
/// let at = EventTime::from_datetime(&created).expect("within 1677-2262");
/// assert_eq!(at.as_nanos(), 1_704_067_200_000_000_000);
/// assert_eq!(at.to_datetime(), created);
/// # Ok::<(), chrono::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventTime(i64);

impl EventTime {
    /// The time `nanos` nanoseconds after the Unix epoch (before it, if negative).
    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// `time` in nanoseconds; `None` outside what an `i64` of nanoseconds holds (about the
    /// years 1677 to 2262).
    pub fn from_datetime(time: &DateTime<Utc>) -> Option<Self> {
        time.timestamp_nanos_opt().map(Self)
    }

    /// The time as a date, for messages.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }

    /// `time` in nanoseconds, saturating outside the range an `i64` holds (the epoch for a
    /// time before it).
    pub fn at(time: SystemTime) -> Self {
        let nanos = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    /// This time minus `by`, saturating at the epoch: an earlier time never goes negative.
    pub fn saturating_sub(self, by: Duration) -> Self {
        let nanos = u128::try_from(self.0)
            .unwrap_or(0)
            .saturating_sub(by.as_nanos());
        Self(i64::try_from(nanos).unwrap_or(i64::MAX))
    }
}

/// A wall-clock time in whole seconds since the Unix epoch: when a handled delivery id
/// expires, and the time its expiry is judged at.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use receiver_sdk::store::UnixSeconds;
///
/// let now = UnixSeconds::at(UNIX_EPOCH + Duration::from_millis(1_500));
/// assert_eq!(now, UnixSeconds::from_secs(1));
/// assert_eq!(now.saturating_add(Duration::from_secs(60)).as_secs(), 61);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixSeconds(i64);

impl UnixSeconds {
    /// The time `secs` seconds after the Unix epoch (before it, if negative).
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// `time` in whole seconds (a time before the epoch is negative), saturating outside the
    /// range an `i64` holds.
    pub fn at(time: SystemTime) -> Self {
        Self(match time.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        })
    }

    /// This time plus `by` in whole seconds, saturating at the largest time.
    pub fn saturating_add(self, by: Duration) -> Self {
        let by = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(by))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_before_the_epoch_saturate_for_events_and_go_negative_for_seconds() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(EventTime::at(before), EventTime::from_nanos(0));
        assert_eq!(UnixSeconds::at(before), UnixSeconds::from_secs(-5));
    }

    #[test]
    fn a_cutoff_before_the_epoch_is_the_epoch() {
        let early = EventTime::from_nanos(1_000);
        assert_eq!(
            early.saturating_sub(Duration::from_secs(1)),
            EventTime::from_nanos(0)
        );
        assert_eq!(
            early.saturating_sub(Duration::from_nanos(400)),
            EventTime::from_nanos(600)
        );
    }

    #[test]
    fn an_expiry_past_the_largest_time_saturates() {
        let late = UnixSeconds::from_secs(i64::MAX - 1);
        assert_eq!(
            late.saturating_add(Duration::from_secs(10)),
            UnixSeconds::from_secs(i64::MAX)
        );
    }
}

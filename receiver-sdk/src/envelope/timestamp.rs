//! Event times in the forms senders write them.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Unix values whose magnitude reaches this are milliseconds; smaller ones are seconds.
///
/// 10^11 seconds is past the year 5000, far outside the range we can store, while 10^11
/// milliseconds is 1973-03-03. So the split misreads only millisecond times between 1966-10-31
/// and 1973-03-03, which no webhook sender produces.
const MILLIS_THRESHOLD: u128 = 100_000_000_000;

/// The longest piece of an offending value quoted back in an error, in characters.
const QUOTE_LIMIT: usize = 64;

/// Why a value is not a usable event time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The value is an empty string.
    #[error("the value is an empty string")]
    Empty,
    /// The value is neither a string nor a number (`found` says what it is, e.g. "a boolean").
    #[error("expected a string or a number, found {found}")]
    WrongType {
        /// What the value is instead.
        found: &'static str,
    },
    /// The string is not in any form we read.
    #[error(
        "`{value}` is neither an RFC 3339 date-time, a date-time without offset, \
         nor unix seconds or milliseconds"
    )]
    Unrecognised {
        /// The value, shortened if long.
        value: String,
    },
    /// The format allows only RFC 3339 date-times (CloudEvents `time`), and this is none.
    #[error("`{value}` is not an RFC 3339 date-time")]
    NotRfc3339 {
        /// The value, shortened if long.
        value: String,
    },
    /// The time is valid but outside what `i64` nanoseconds since the epoch can hold.
    #[error(
        "`{value}` is outside the supported range \
         (1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z, i64 nanoseconds since the epoch)"
    )]
    OutOfRange {
        /// The value, shortened if long.
        value: String,
    },
}

/// Reads an event time from a JSON value.
///
/// Accepted forms:
///
/// * RFC 3339 date-times with `Z` or any offset (`2021-05-25T20:48:40+02:00`), converted to
///   UTC. Any number of fractional digits is accepted, as RFC 3339 allows; digits beyond
///   nanoseconds are dropped.
/// * The same date-times without an offset (`2019-03-05T14:23:05.1234567`, as SuperOffice and
///   other .NET senders write them), read as UTC.
/// * Unix time as a JSON number or a string of digits, optionally negative and with a
///   fractional part (`1621975720`, `"1621975720.25"`, `1621975720123`). A magnitude of
///   100 000 000 000 or more is read as milliseconds, anything smaller as seconds: the first
///   value that counts as milliseconds is 1973-03-03, while as seconds it would be past the
///   year 5000.
///
/// The result must fit in `i64` nanoseconds since the epoch, because that is how the store
/// keeps ordering marks: roughly 1677-09-21 to 2262-04-11. Anything else, including empty
/// strings, `NaN` or `inf` spelled as strings, and booleans, is rejected with an error that
/// says why.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use receiver_sdk::envelope::{parse_timestamp, TimestampError};
/// use serde_json::json;
///
/// let expected = Utc.with_ymd_and_hms(2021, 5, 25, 20, 48, 40).unwrap();
/// assert_eq!(parse_timestamp(&json!("2021-05-25T20:48:40+00:00")), Ok(expected));
/// assert_eq!(parse_timestamp(&json!("2021-05-25T22:48:40+02:00")), Ok(expected));
/// assert_eq!(parse_timestamp(&json!("2021-05-25T20:48:40")), Ok(expected));
/// assert_eq!(parse_timestamp(&json!(1621975720)), Ok(expected));
/// assert_eq!(parse_timestamp(&json!("1621975720000")), Ok(expected));
///
/// assert_eq!(parse_timestamp(&json!("")), Err(TimestampError::Empty));
/// assert!(matches!(
///     parse_timestamp(&json!("0001-01-01T00:00:00")),
///     Err(TimestampError::OutOfRange { .. })
/// ));
/// ```
pub fn parse_timestamp(value: &Value) -> Result<DateTime<Utc>, TimestampError> {
    match value {
        Value::String(text) => parse_timestamp_str(text),
        // Going through the number's JSON text keeps every digit an integer has and avoids
        // binary rounding of fractions; it also works if `arbitrary_precision` is enabled.
        Value::Number(number) => {
            let text = number.to_string();
            let decimal = Decimal::parse(&text, true).ok_or_else(|| unrecognised(&text))?;
            from_unix(&decimal, &text)
        }
        other => Err(TimestampError::WrongType {
            found: describe(other),
        }),
    }
}

/// [`parse_timestamp`] for text that is not inside JSON, such as a header value.
pub(crate) fn parse_timestamp_str(text: &str) -> Result<DateTime<Utc>, TimestampError> {
    if text.is_empty() {
        return Err(TimestampError::Empty);
    }
    // Exponents are a JSON-number spelling; in a string they are more likely garbage.
    if let Some(decimal) = Decimal::parse(text, false) {
        return from_unix(&decimal, text);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return in_range(time.with_timezone(&Utc), text);
    }
    // A date-time without an offset is RFC 3339 minus its last part; re-using the strict
    // RFC 3339 parser keeps us from accepting the looser shapes of chrono's format parser.
    if let Ok(time) = DateTime::parse_from_rfc3339(&format!("{text}Z")) {
        return in_range(time.with_timezone(&Utc), text);
    }
    Err(unrecognised(text))
}

/// An RFC 3339 date-time and no other form, for formats that allow only it.
pub(crate) fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, TimestampError> {
    if text.is_empty() {
        return Err(TimestampError::Empty);
    }
    match DateTime::parse_from_rfc3339(text) {
        Ok(time) => in_range(time.with_timezone(&Utc), text),
        Err(_) => Err(TimestampError::NotRfc3339 { value: quote(text) }),
    }
}

/// What kind of JSON value this is, for error messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn in_range(time: DateTime<Utc>, text: &str) -> Result<DateTime<Utc>, TimestampError> {
    match time.timestamp_nanos_opt() {
        Some(_) => Ok(time),
        None => Err(out_of_range(text)),
    }
}

fn unrecognised(text: &str) -> TimestampError {
    TimestampError::Unrecognised { value: quote(text) }
}

fn out_of_range(text: &str) -> TimestampError {
    TimestampError::OutOfRange { value: quote(text) }
}

/// Shortens a value for an error message, so a huge field cannot bloat logs and responses.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A decimal number as written, kept as text so no digit is lost before we scale it.
struct Decimal<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    exponent: i64,
}

impl<'a> Decimal<'a> {
    /// Parses `-?DIGITS(.DIGITS)?`, plus `[eE][+-]?DIGITS` when `exponent` is allowed.
    fn parse(text: &'a str, exponent: bool) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, power) = match rest.find(['e', 'E']) {
            Some(at) if exponent => (&rest[..at], Some(&rest[at + 1..])),
            Some(_) => return None,
            None => (rest, None),
        };
        let (integer, fraction) = match mantissa.split_once('.') {
            Some((integer, fraction)) => (integer, fraction),
            None => (mantissa, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if integer.is_empty() || !all_digits(integer) || !all_digits(fraction) {
            return None;
        }
        if mantissa.contains('.') && fraction.is_empty() {
            return None;
        }
        let exponent = match power {
            Some(power) => parse_exponent(power)?,
            None => 0,
        };
        Some(Self {
            negative,
            integer,
            fraction,
            exponent,
        })
    }
}

/// Parses an exponent, saturating: anything beyond a few dozen is out of range either way.
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.bytes().fold(0_i64, |acc, b| {
        (acc * 10 + i64::from(b - b'0')).min(1_000_000)
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// Turns unix seconds or milliseconds into a time, with the range checks the store needs.
fn from_unix(decimal: &Decimal<'_>, text: &str) -> Result<DateTime<Utc>, TimestampError> {
    // Work in billionths of the written unit (nanoseconds if the value is seconds), as an
    // integer, so that no step rounds through floating point.
    let digits: Vec<u8> = decimal
        .integer
        .bytes()
        .chain(decimal.fraction.bytes())
        .map(|b| b - b'0')
        .skip_while(|&d| d == 0)
        .collect();
    let fraction_len = i64::try_from(decimal.fraction.len()).map_err(|_| out_of_range(text))?;
    let digit_count = i64::try_from(digits.len()).map_err(|_| out_of_range(text))?;
    // value = digits * 10^scale billionths.
    let scale = decimal.exponent - fraction_len + 9;
    // At 10^25 billionths even milliseconds are 10^22 ns, beyond i64; stopping here also keeps
    // the arithmetic below inside u128.
    if !digits.is_empty() && digit_count + scale > 25 {
        return Err(out_of_range(text));
    }
    // Digits below a billionth cannot change the nanosecond, so they are dropped.
    let kept = usize::try_from((digit_count + scale.min(0)).max(0)).unwrap_or(0);
    let mut billionths = digits
        .iter()
        .take(kept)
        .fold(0_u128, |acc, &d| acc * 10 + u128::from(d));
    for _ in 0..scale.max(0) {
        billionths *= 10;
    }
    let nanos = if billionths >= MILLIS_THRESHOLD * 1_000_000_000 {
        // Billionths of a millisecond are thousandths of a nanosecond.
        billionths / 1000
    } else {
        billionths
    };
    let nanos = i128::try_from(nanos).map_err(|_| out_of_range(text))?;
    let nanos = if decimal.negative { -nanos } else { nanos };
    let nanos = i64::try_from(nanos).map_err(|_| out_of_range(text))?;
    Ok(DateTime::from_timestamp_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use serde_json::json;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_nano_opt(h, mi, s, nanos))
            .map(|naive| naive.and_utc())
            .expect("test dates are valid")
    }

    fn sonar_example() -> DateTime<Utc> {
        utc(2021, 5, 25, 20, 48, 40, 0)
    }

    fn parse(value: Value) -> Result<DateTime<Utc>, TimestampError> {
        parse_timestamp(&value)
    }

    fn is_unrecognised(value: Value) -> bool {
        matches!(parse(value), Err(TimestampError::Unrecognised { .. }))
    }

    fn is_out_of_range(value: Value) -> bool {
        matches!(parse(value), Err(TimestampError::OutOfRange { .. }))
    }

    #[test]
    fn rfc3339_with_z_or_zero_offset_is_utc() {
        assert_eq!(parse(json!("2021-05-25T20:48:40Z")), Ok(sonar_example()));
        assert_eq!(
            parse(json!("2021-05-25T20:48:40+00:00")),
            Ok(sonar_example())
        );
        assert_eq!(parse(json!("2021-05-25t20:48:40z")), Ok(sonar_example()));
    }

    #[test]
    fn rfc3339_offsets_are_converted_to_utc() {
        assert_eq!(
            parse(json!("2021-05-25T22:48:40+02:00")),
            Ok(sonar_example())
        );
        assert_eq!(
            parse(json!("2021-05-25T15:18:40-05:30")),
            Ok(sonar_example())
        );
        assert_eq!(
            parse(json!("2021-05-26T20:47:40+23:59")),
            Ok(sonar_example())
        );
    }

    #[test]
    fn offset_can_move_the_date() {
        assert_eq!(
            parse(json!("2021-12-31T23:30:00-01:00")),
            Ok(utc(2022, 1, 1, 0, 30, 0, 0))
        );
    }

    #[test]
    fn seven_fractional_digits_keep_their_precision_in_every_offset_form() {
        let expected = utc(2019, 3, 5, 14, 23, 5, 123_456_700);
        assert_eq!(parse(json!("2019-03-05T14:23:05.1234567Z")), Ok(expected));
        assert_eq!(
            parse(json!("2019-03-05T15:23:05.1234567+01:00")),
            Ok(expected)
        );
        assert_eq!(parse(json!("2019-03-05T14:23:05.1234567")), Ok(expected));
    }

    #[test]
    fn nine_fractional_digits_are_nanoseconds() {
        assert_eq!(
            parse(json!("2021-05-25T20:48:40.123456789Z")),
            Ok(utc(2021, 5, 25, 20, 48, 40, 123_456_789))
        );
    }

    #[test]
    fn digits_beyond_nanoseconds_are_dropped_not_rejected() {
        assert_eq!(
            parse(json!("2021-05-25T20:48:40.123456789999Z")),
            Ok(utc(2021, 5, 25, 20, 48, 40, 123_456_789))
        );
    }

    #[test]
    fn date_time_without_offset_is_utc() {
        assert_eq!(parse(json!("2021-05-25T20:48:40")), Ok(sonar_example()));
        assert_eq!(parse(json!("2021-05-25 20:48:40")), Ok(sonar_example()));
    }

    #[test]
    fn unix_seconds_as_number_or_string() {
        assert_eq!(parse(json!(1_621_975_720)), Ok(sonar_example()));
        assert_eq!(parse(json!("1621975720")), Ok(sonar_example()));
    }

    #[test]
    fn unix_milliseconds_as_number_or_string() {
        let expected = utc(2021, 5, 25, 20, 48, 40, 123_000_000);
        assert_eq!(parse(json!(1_621_975_720_123_u64)), Ok(expected));
        assert_eq!(parse(json!("1621975720123")), Ok(expected));
    }

    #[test]
    fn fractional_unix_seconds_are_exact() {
        assert_eq!(
            parse(json!("1621975720.123456789")),
            Ok(utc(2021, 5, 25, 20, 48, 40, 123_456_789))
        );
        assert_eq!(
            parse(json!(1_621_975_720.5)),
            Ok(utc(2021, 5, 25, 20, 48, 40, 500_000_000))
        );
        // 0.1 is not exact in binary; reading the JSON text still gives exactly 100 ms.
        assert_eq!(parse(json!(0.1)), Ok(utc(1970, 1, 1, 0, 0, 0, 100_000_000)));
    }

    #[test]
    fn fractional_unix_milliseconds() {
        assert_eq!(
            parse(json!("1621975720123.5")),
            Ok(utc(2021, 5, 25, 20, 48, 40, 123_500_000))
        );
    }

    #[test]
    fn float_numbers_with_exponents_are_read() {
        assert_eq!(parse(json!(1.6e9)), Ok(utc(2020, 9, 13, 12, 26, 40, 0)));
        assert_eq!(parse(json!(1.6e12)), Ok(utc(2020, 9, 13, 12, 26, 40, 0)));
    }

    #[test]
    fn exponents_in_strings_are_rejected() {
        assert!(is_unrecognised(json!("1.6e9")));
    }

    #[test]
    fn milliseconds_start_at_one_hundred_billion() {
        assert_eq!(
            parse(json!(100_000_000_000_u64)),
            Ok(utc(1973, 3, 3, 9, 46, 40, 0))
        );
        // One less is seconds, in the year 5138, which the store cannot hold.
        assert!(is_out_of_range(json!(99_999_999_999_u64)));
        assert_eq!(
            parse(json!(-100_000_000_000_i64)),
            Ok(utc(1966, 10, 31, 14, 13, 20, 0))
        );
    }

    #[test]
    fn zero_is_the_epoch() {
        assert_eq!(parse(json!(0)), Ok(utc(1970, 1, 1, 0, 0, 0, 0)));
        assert_eq!(parse(json!("-0")), Ok(utc(1970, 1, 1, 0, 0, 0, 0)));
        assert_eq!(parse(json!("0000")), Ok(utc(1970, 1, 1, 0, 0, 0, 0)));
    }

    #[test]
    fn negative_unix_times_are_before_the_epoch() {
        assert_eq!(parse(json!(-1)), Ok(utc(1969, 12, 31, 23, 59, 59, 0)));
        assert_eq!(
            parse(json!("-1.25")),
            Ok(utc(1969, 12, 31, 23, 59, 58, 750_000_000))
        );
        assert_eq!(
            parse(json!(-123_456_789_000_i64)),
            Ok(utc(1966, 2, 2, 2, 26, 51, 0))
        );
    }

    #[test]
    fn pre_epoch_date_times_are_fine() {
        assert_eq!(
            parse(json!("1900-01-01T00:00:00Z")),
            Ok(utc(1900, 1, 1, 0, 0, 0, 0))
        );
    }

    #[test]
    fn range_ends_where_i64_nanoseconds_end() {
        let earliest = DateTime::from_timestamp_nanos(i64::MIN);
        let latest = DateTime::from_timestamp_nanos(i64::MAX);
        assert_eq!(parse(json!(earliest.to_rfc3339())), Ok(earliest));
        assert_eq!(parse(json!(latest.to_rfc3339())), Ok(latest));
        assert_eq!(
            parse(json!("2262-04-11T23:47:16Z")),
            Ok(utc(2262, 4, 11, 23, 47, 16, 0))
        );
        assert!(is_out_of_range(json!("2262-04-11T23:47:17Z")));
        assert!(is_out_of_range(json!("1677-09-21T00:12:43Z")));
        assert_eq!(
            parse(json!("1677-09-21T00:12:44Z")),
            Ok(utc(1677, 9, 21, 0, 12, 44, 0))
        );
    }

    #[test]
    fn unix_values_past_the_range_are_rejected() {
        assert_eq!(
            parse(json!(9_223_372_036_854_u64)),
            Ok(Utc.timestamp_millis_opt(9_223_372_036_854).unwrap())
        );
        assert!(is_out_of_range(json!(9_223_372_036_855_u64)));
        assert!(is_out_of_range(json!(-9_223_372_036_855_i64)));
        assert!(is_out_of_range(json!(u64::MAX)));
        assert!(is_out_of_range(json!(i64::MIN)));
        assert!(is_out_of_range(json!(1e300)));
        assert!(is_out_of_range(json!(-1.7e308)));
        assert!(is_out_of_range(json!("9".repeat(500))));
    }

    #[test]
    fn far_dates_are_out_of_range_not_panics() {
        assert!(is_out_of_range(json!("0001-01-01T00:00:00")));
        assert!(is_out_of_range(json!("9999-12-31T23:59:59Z")));
        assert!(is_out_of_range(json!("1600-01-01T00:00:00+01:00")));
    }

    #[test]
    fn tiny_values_round_to_the_epoch() {
        assert_eq!(parse(json!(5e-324)), Ok(utc(1970, 1, 1, 0, 0, 0, 0)));
        assert_eq!(
            parse(json!("0.0000000001")),
            Ok(utc(1970, 1, 1, 0, 0, 0, 0))
        );
    }

    #[test]
    fn empty_string_is_its_own_error() {
        assert_eq!(parse(json!("")), Err(TimestampError::Empty));
    }

    #[test]
    fn garbage_strings_are_unrecognised() {
        for garbage in [
            "yesterday",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "Infinity",
            "0x10",
            "+1621975720",
            " 1621975720",
            "1621975720 ",
            "1.",
            ".5",
            "-",
            "1_000",
            "2021-05-25",
            "20:48:40",
            "2021-05-25T20:48",
            "2021-13-01T00:00:00Z",
            "2021-02-30T00:00:00Z",
            "2021-05-25T20:48:40+24:00",
            "2021-05-25T20:48:40ZZ",
            "2021-05-25T20:48:40 +00:00",
            "Tue, 25 May 2021 20:48:40 GMT",
        ] {
            assert!(is_unrecognised(json!(garbage)), "{garbage:?} was accepted");
        }
    }

    #[test]
    fn non_string_non_number_values_are_wrong_type() {
        for (value, found) in [
            (json!(null), "null"),
            (json!(true), "a boolean"),
            (json!([]), "an array"),
            (json!({}), "an object"),
        ] {
            assert_eq!(parse(value), Err(TimestampError::WrongType { found }));
        }
    }

    #[test]
    fn errors_quote_the_value_but_not_all_of_a_long_one() {
        let message = parse(json!("soon")).unwrap_err().to_string();
        assert!(message.contains("`soon`"), "{message}");

        let long = "x".repeat(10_000);
        let message = parse(json!(long)).unwrap_err().to_string();
        assert!(message.len() < 300, "{message}");
        assert!(message.contains("..."), "{message}");
    }

    #[test]
    fn out_of_range_message_names_the_range() {
        let message = parse(json!("9999-01-01T00:00:00Z"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("1677-09-21"), "{message}");
        assert!(message.contains("2262-04-11"), "{message}");
    }
}

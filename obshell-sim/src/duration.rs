//! obshell's duration grammar (`system.ParseTime`) and OceanBase's, with both eras' error texts.

use std::time::Duration;

/// Why `system.ParseTime` refused a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not `<digits><letters>`.
    InvalidFormat,
    /// The number does not fit an integer.
    InvalidNumber,
    /// The letters are not one of ns, us, ms, s, m, h, d.
    InvalidUnit(String),
    /// Below 1ns (that is, zero).
    LessThanMin,
    /// Above 365d.
    GreaterThanMax,
}

const NANOS_PER_DAY: u128 = 86_400 * 1_000_000_000;
const MAX_NANOS: u128 = 365 * NANOS_PER_DAY;

/// Parses like obshell's `system.ParseTime`: one integer and one case-insensitive unit, 1ns..365d.
pub(crate) fn parse_obshell_duration(text: &str) -> Result<Duration, DurationError> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() || unit.is_empty() || !unit.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(DurationError::InvalidFormat);
    }
    // Go's strconv.Atoi accepts what fits in an int64.
    let value: i64 = number.parse().map_err(|_| DurationError::InvalidNumber)?;
    let unit = unit.to_ascii_lowercase();
    let nanos_per_unit: u128 = match unit.as_str() {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        "d" => NANOS_PER_DAY,
        _ => return Err(DurationError::InvalidUnit(unit)),
    };
    let nanos = value as u128 * nanos_per_unit;
    if nanos < 1 {
        return Err(DurationError::LessThanMin);
    }
    if nanos > MAX_NANOS {
        return Err(DurationError::GreaterThanMax);
    }
    Ok(Duration::from_nanos(nanos as u64))
}

impl DurationError {
    /// The message of `Common.InvalidTimeDuration` (obshell ≥ 4.3.1) for `text`.
    pub(crate) fn message(&self, text: &str) -> String {
        let reason = match self {
            Self::InvalidFormat => "invalid format".to_owned(),
            Self::InvalidNumber => "invalid number".to_owned(),
            Self::InvalidUnit(_) => "invalid time unit".to_owned(),
            Self::LessThanMin => "time duration is less than min unit".to_owned(),
            Self::GreaterThanMax => "time duration is greater than max unit".to_owned(),
        };
        format!("Time duration '{text}' is invalid: {reason}")
    }

    /// The error text of obshell ≤ 4.3.0 (`agent/lib/system/time.go`) for `text`.
    pub(crate) fn legacy_message(&self, text: &str) -> String {
        match self {
            Self::InvalidFormat | Self::InvalidNumber => format!("invalid time duration {text}"),
            Self::InvalidUnit(unit) => format!("invalid time unit {unit}"),
            Self::LessThanMin => format!("time duration {text} is less than min unit 1ns"),
            Self::GreaterThanMax => {
                format!("time duration {text} is greater than max unit 8760h0m0s")
            }
        }
    }
}

/// Formats a duration the way Go's `time.Duration.String` does for whole units ("24h0m0s", "1m0s").
pub(crate) fn go_duration_string(duration: Duration) -> String {
    let total = duration.as_secs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// Parses an OceanBase time-config value (`<digits>[us|ms|s|m|h|d]`, seconds without a unit) to
/// microseconds, as `ALTER SYSTEM SET` would; `None` when OceanBase would reject the text.
pub(crate) fn parse_oceanbase_time_micros(text: &str) -> Option<u64> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let value: u64 = number.parse().ok()?;
    let micros_per_unit: u64 = match unit.to_ascii_lowercase().as_str() {
        "us" => 1,
        "ms" => 1_000,
        "" | "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return None,
    };
    value.checked_mul(micros_per_unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_ok(text: &str, seconds: u64) {
        assert_eq!(
            parse_obshell_duration(text),
            Ok(Duration::from_secs(seconds)),
            "{text}"
        );
    }

    #[track_caller]
    fn check_err(text: &str, expected: DurationError) {
        assert_eq!(parse_obshell_duration(text), Err(expected), "{text}");
    }

    #[test]
    fn obshell_grammar() {
        check_ok("1d", 86_400);
        check_ok("24h", 86_400);
        check_ok("86400s", 86_400);
        check_ok("2H", 7_200);
        check_ok("2m", 120);
        check_ok("365d", 365 * 86_400);
        assert_eq!(parse_obshell_duration("1ns"), Ok(Duration::from_nanos(1)));
        assert_eq!(
            parse_obshell_duration("1500ms"),
            Ok(Duration::from_millis(1500))
        );
        check_err("0s", DurationError::LessThanMin);
        check_err("0ms", DurationError::LessThanMin);
        check_err("366d", DurationError::GreaterThanMax);
        check_err("1h30m", DurationError::InvalidFormat);
        check_err("1.5h", DurationError::InvalidFormat);
        check_err(" 1h", DurationError::InvalidFormat);
        check_err("-1h", DurationError::InvalidFormat);
        check_err("10", DurationError::InvalidFormat);
        check_err("h", DurationError::InvalidFormat);
        check_err("", DurationError::InvalidFormat);
        check_err("99999999999999999999d", DurationError::InvalidNumber);
        check_err("3w", DurationError::InvalidUnit("w".into()));
        check_err("3MIN", DurationError::InvalidUnit("min".into()));
    }

    #[test]
    fn error_texts_of_both_eras() {
        assert_eq!(
            DurationError::LessThanMin.message("0s"),
            "Time duration '0s' is invalid: time duration is less than min unit"
        );
        assert_eq!(
            DurationError::InvalidFormat.legacy_message("1h30m"),
            "invalid time duration 1h30m"
        );
        assert_eq!(
            DurationError::InvalidUnit("w".into()).legacy_message("3w"),
            "invalid time unit w"
        );
    }

    #[test]
    fn go_strings() {
        assert_eq!(go_duration_string(Duration::from_secs(86_400)), "24h0m0s");
        assert_eq!(
            go_duration_string(Duration::from_secs(7 * 86_400)),
            "168h0m0s"
        );
        assert_eq!(go_duration_string(Duration::from_secs(7_200)), "2h0m0s");
        assert_eq!(go_duration_string(Duration::from_secs(60)), "1m0s");
    }

    #[test]
    fn oceanbase_grammar() {
        assert_eq!(parse_oceanbase_time_micros("120s"), Some(120_000_000));
        assert_eq!(parse_oceanbase_time_micros("0ms"), Some(0));
        assert_eq!(parse_oceanbase_time_micros("2H"), Some(7_200_000_000));
        assert_eq!(parse_oceanbase_time_micros("30"), Some(30_000_000));
        assert_eq!(parse_oceanbase_time_micros("1h30m"), None);
        assert_eq!(parse_oceanbase_time_micros("abc"), None);
    }
}

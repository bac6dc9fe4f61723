//! Duration syntaxes this resource accepts: obshell's `ParseTime` form (`"2m"`, `"120s"`, `"1d"`,
//! one integer and one unit), OceanBase's `recovery_window` form, and Go durations plus `d` for
//! `timeouts` (`"70m"`, `"1h30m"`, `"1.5h"`, `"1d"`).
//!
//! See obshell `ob/agent/lib/system/time.go` (`ParseTime`) and Go's `time.ParseDuration`.

use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text is not a number followed by a unit.
    #[error("{0:?} is not a duration: write a whole number and a unit, such as \"2m\" or \"1d\" (units ns, us, ms, s, m, h, d)")]
    Format(String),
    /// The unit is not one obshell knows.
    #[error("{0:?} has an unknown time unit: use ns, us, ms, s, m, h or d")]
    Unit(String),
    /// The duration is zero.
    #[error("{0:?} is zero: a duration must be greater than zero")]
    Zero(String),
    /// The duration is longer than obshell accepts.
    #[error("{0:?} is longer than 365d")]
    TooLong(String),
    /// A `recovery_window` that is not a whole number and one of its four units.
    #[error("{0:?} is not a recovery window: write a whole number greater than zero and one of the units d, h, m or s, such as \"7d\"")]
    RecoveryWindow(String),
}

const NANOS_PER_UNIT: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
    ("d", 86_400 * 1_000_000_000),
];

fn unit_nanos(unit: &str) -> Option<u128> {
    NANOS_PER_UNIT
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, nanos)| *nanos)
}

/// The longest duration obshell's `ParseTime` accepts.
const OBSHELL_MAX: Duration = Duration::from_secs(365 * 86_400);

/// Parses an obshell duration (`^\d+[a-zA-Z]+$`, units case-insensitive), rejecting zero and
/// anything above 365 days as obshell does.
pub fn parse_obshell_duration(text: &str) -> Result<Duration, DurationError> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| DurationError::Format(text.to_owned()))?;
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() || unit.is_empty() || !unit.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(DurationError::Format(text.to_owned()));
    }
    let unit_lower = unit.to_ascii_lowercase();
    let nanos_per_unit =
        unit_nanos(&unit_lower).ok_or_else(|| DurationError::Unit(text.to_owned()))?;
    let value: u128 = number
        .parse()
        .map_err(|_| DurationError::TooLong(text.to_owned()))?;
    let nanos = value
        .checked_mul(nanos_per_unit)
        .ok_or_else(|| DurationError::TooLong(text.to_owned()))?;
    if nanos == 0 {
        return Err(DurationError::Zero(text.to_owned()));
    }
    if nanos > OBSHELL_MAX.as_nanos() {
        return Err(DurationError::TooLong(text.to_owned()));
    }
    Ok(nanos_to_duration(nanos))
}

/// The obshell duration with lower-case units, as obshell normalises `archive_lag_target` and as
/// this provider sends `piece_switch_interval`.
pub fn lower_case_unit(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// True when two obshell duration strings mean the same length of time ("2m" and "120s").
/// Strings that do not parse are compared verbatim.
pub fn obshell_durations_equal(left: &str, right: &str) -> bool {
    match (parse_obshell_duration(left), parse_obshell_duration(right)) {
        (Ok(left), Ok(right)) => left == right,
        _ => left == right,
    }
}

/// Parses a `recovery_window`: a positive whole number and one of the units d, h, m, s, which
/// OceanBase keeps verbatim.
pub fn parse_recovery_window(text: &str) -> Result<Duration, DurationError> {
    let unit = text
        .chars()
        .last()
        .ok_or_else(|| DurationError::RecoveryWindow(text.to_owned()))?;
    let number = &text[..text.len() - unit.len_utf8()];
    if !matches!(unit, 'd' | 'h' | 'm' | 's')
        || number.is_empty()
        || !number.chars().all(|c| c.is_ascii_digit())
    {
        return Err(DurationError::RecoveryWindow(text.to_owned()));
    }
    parse_obshell_duration(text)
}

/// Parses a Go duration with the extra unit `d` (24h): a sequence of decimal numbers, each with a
/// unit, such as `"70m"`, `"1h30m"`, `"1.5h"` or `"1d"`. Signs are not allowed; zero is rejected.
pub fn parse_timeout(text: &str) -> Result<Duration, DurationError> {
    let format_error = || DurationError::Format(text.to_owned());
    if text.is_empty() {
        return Err(format_error());
    }
    let mut rest = text;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(format_error)?;
        let (number, after_number) = rest.split_at(number_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(format_error());
        }
        let unit_end = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_end);
        if unit.is_empty() {
            return Err(format_error());
        }
        let nanos_per_unit =
            unit_nanos(unit).ok_or_else(|| DurationError::Unit(text.to_owned()))?;
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| DurationError::TooLong(text.to_owned()))?
        };
        let mut nanos = whole
            .checked_mul(nanos_per_unit)
            .ok_or_else(|| DurationError::TooLong(text.to_owned()))?;
        let mut scale = nanos_per_unit;
        for digit in fraction.chars() {
            scale /= 10;
            // `digit` passed the ASCII-digit scan above, so it is 0..=9.
            nanos += u128::from(digit.to_digit(10).unwrap_or(0)) * scale;
        }
        total_nanos = total_nanos
            .checked_add(nanos)
            .ok_or_else(|| DurationError::TooLong(text.to_owned()))?;
        rest = after_unit;
    }
    if total_nanos == 0 {
        return Err(DurationError::Zero(text.to_owned()));
    }
    if total_nanos > u128::from(u64::MAX) {
        return Err(DurationError::TooLong(text.to_owned()));
    }
    Ok(nanos_to_duration(total_nanos))
}

fn nanos_to_duration(nanos: u128) -> Duration {
    let seconds = (nanos / 1_000_000_000) as u64;
    let subsec = (nanos % 1_000_000_000) as u32;
    Duration::new(seconds, subsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_obshell(text: &str, expected: Result<u64, &str>) {
        let actual = parse_obshell_duration(text);
        match expected {
            Ok(seconds) => assert_eq!(actual, Ok(Duration::from_secs(seconds)), "{text}"),
            Err(kind) => {
                let error = actual.expect_err(text);
                let name = match error {
                    DurationError::Format(_) => "format",
                    DurationError::Unit(_) => "unit",
                    DurationError::Zero(_) => "zero",
                    DurationError::RecoveryWindow(_) => "recovery window",
                    DurationError::TooLong(_) => "long",
                };
                assert_eq!(name, kind, "{text}");
            }
        }
    }

    #[test]
    fn obshell_durations() {
        check_obshell("2m", Ok(120));
        check_obshell("120s", Ok(120));
        check_obshell("2H", Ok(7200));
        check_obshell("1d", Ok(86_400));
        check_obshell("7d", Ok(7 * 86_400));
        check_obshell("365d", Ok(365 * 86_400));
        check_obshell("366d", Err("long"));
        check_obshell("0s", Err("zero"));
        check_obshell("0ms", Err("zero"));
        check_obshell("1h30m", Err("format"));
        check_obshell("1.5h", Err("format"));
        check_obshell("-1s", Err("format"));
        check_obshell("", Err("format"));
        check_obshell("10", Err("format"));
        check_obshell("s", Err("format"));
        check_obshell("5 s", Err("format"));
        check_obshell("5y", Err("unit"));
        check_obshell("99999999999999999999999999999999999999999d", Err("long"));
    }

    #[test]
    fn semantic_equality_of_obshell_durations() {
        assert!(obshell_durations_equal("2m", "120s"));
        assert!(obshell_durations_equal("1d", "24h"));
        assert!(obshell_durations_equal("2M", "2m"));
        assert!(!obshell_durations_equal("2m", "121s"));
        assert!(obshell_durations_equal("bogus", "bogus"));
        assert!(!obshell_durations_equal("bogus", "2m"));
    }

    #[test]
    fn timeouts_are_go_durations_plus_days() {
        assert_eq!(parse_timeout("70m"), Ok(Duration::from_secs(4200)));
        assert_eq!(parse_timeout("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_timeout("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_timeout("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_timeout("1d2h"), Ok(Duration::from_secs(93_600)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout(".5s"), Ok(Duration::from_millis(500)));
        assert!(matches!(parse_timeout("0s"), Err(DurationError::Zero(_))));
        assert!(matches!(parse_timeout(""), Err(DurationError::Format(_))));
        assert!(matches!(parse_timeout("10"), Err(DurationError::Format(_))));
        assert!(matches!(
            parse_timeout("-1m"),
            Err(DurationError::Format(_))
        ));
        assert!(matches!(parse_timeout("1w"), Err(DurationError::Unit(_))));
        assert!(matches!(
            parse_timeout("1..5h"),
            Err(DurationError::Format(_))
        ));
        assert!(matches!(parse_timeout("1H"), Err(DurationError::Unit(_))));
    }

    #[test]
    fn recovery_windows() {
        assert_eq!(
            parse_recovery_window("7d"),
            Ok(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(
            parse_recovery_window("12h"),
            Ok(Duration::from_secs(43_200))
        );
        assert!(parse_recovery_window("0d").is_err());
        assert!(parse_recovery_window("7").is_err());
        // The message lists the four units a recovery window takes, not obshell's seven.
        assert_eq!(
            parse_recovery_window("7ms").map_err(|error| error.to_string()),
            Err("\"7ms\" is not a recovery window: write a whole number greater than zero and one of the units d, h, m or s, such as \"7d\"".to_owned())
        );
        assert!(parse_recovery_window("7D").is_err());
        assert!(parse_recovery_window("").is_err());
    }
}

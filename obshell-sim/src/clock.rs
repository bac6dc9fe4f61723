//! The two clocks of an obshell cluster (obshell-api.md §10.5).
//!
//! `/api/v1/time`, the envelope's `timestamp` and authentication use the agent host's clock.
//! DAG, node and sub-task times come from OceanBase: `SELECT NOW(6)` and `CURRENT_TIMESTAMP(6)`
//! column defaults, in OceanBase's session time zone (+08:00 unless changed), microseconds. The
//! database server's clock can be skewed from the agent host's by any amount, and an agent host in
//! another zone than the session reads the wall clock with its own offset (`loc=Local`), which
//! shifts every DAG time by the difference: [`DbClock::offset_ms`] models both.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// OceanBase's clock relative to the agent host's, and its session time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DbClock {
    /// OceanBase's clock minus the agent host's, in milliseconds.
    pub(crate) offset_ms: i64,
    /// The session time zone, minutes east of UTC.
    pub(crate) zone_minutes: i32,
}

impl DbClock {
    /// OceanBase's `NOW(6)` when the agent host's clock reads `host`: shifted by the offset and
    /// cut to microseconds.
    pub(crate) fn at(self, host: SystemTime) -> SystemTime {
        let shifted = shift(host, self.offset_ms);
        let micros = shifted
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        UNIX_EPOCH + Duration::from_micros(micros)
    }

    /// Formats a database time as obshell's JSON does (Go RFC3339Nano, trailing zeros trimmed),
    /// in the session zone. The Unix epoch (a reset row) reads `1970-01-01T08:00:00+08:00`.
    pub(crate) fn format(self, time: SystemTime) -> String {
        let offset =
            UtcOffset::from_whole_seconds(self.zone_minutes * 60).unwrap_or(UtcOffset::UTC);
        OffsetDateTime::from(time)
            .to_offset(offset)
            .format(&Rfc3339)
            .unwrap_or_default()
    }
}

/// `time` moved by `offset_ms` (either sign).
pub(crate) fn shift(time: SystemTime, offset_ms: i64) -> SystemTime {
    let by = Duration::from_millis(offset_ms.unsigned_abs());
    if offset_ms >= 0 {
        time + by
    } else {
        time.checked_sub(by).unwrap_or(UNIX_EPOCH)
    }
}

/// Parses a UTC offset as OceanBase writes a time zone: `+08:00`, `-05:30`, `+00:00` (or `Z`),
/// into minutes east of UTC. OceanBase accepts -12:59..+13:00; so does this.
///
/// # Errors
/// A message naming the accepted form.
pub fn parse_utc_offset(text: &str) -> Result<i32, String> {
    let bad = || format!("{text:?} is not a UTC offset such as +08:00, -05:30 or +00:00");
    if text.eq_ignore_ascii_case("z") {
        return Ok(0);
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(bad)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: i32 = hours.parse().map_err(|_| bad())?;
    let minutes: i32 = minutes.parse().map_err(|_| bad())?;
    let total = sign * (hours * 60 + minutes);
    if minutes > 59 || !(-(12 * 60 + 59)..=13 * 60).contains(&total) {
        return Err(format!(
            "{text:?} is outside OceanBase's time zone range -12:59..+13:00"
        ));
    }
    Ok(total)
}

/// Formats minutes east of UTC as `+08:00`.
pub fn format_utc_offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Parses a signed offset between clocks: an optional `+` or `-`, an integer and a unit (`ms`,
/// `s`, `m` or `h`), e.g. `-3h`, `+90m`, `-97s`, `0`; into milliseconds.
///
/// # Errors
/// A message naming the accepted form.
pub fn parse_clock_offset(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a clock offset such as -3h, +90m, -97s or 0");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => (1, text),
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (number, unit) = rest.split_at(digits_end);
    let value: i64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" if value == 0 => 0,
        _ => return Err(bad()),
    };
    value
        .checked_mul(scale)
        .filter(|ms| ms.unsigned_abs() <= 366 * 86_400_000)
        .map(|ms| sign * ms)
        .ok_or_else(|| format!("{text:?} is more than a year"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_zones_parse() {
        assert_eq!(parse_clock_offset("-3h"), Ok(-3 * 3_600_000));
        assert_eq!(parse_clock_offset("+90m"), Ok(90 * 60_000));
        assert_eq!(parse_clock_offset("97s"), Ok(97_000));
        assert_eq!(parse_clock_offset("-250ms"), Ok(-250));
        assert_eq!(parse_clock_offset("0"), Ok(0));
        for bad in ["", "-", "3", "1d", "h", "--3h", "3 h", "9999999h"] {
            assert!(parse_clock_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_utc_offset("+08:00"), Ok(480));
        assert_eq!(parse_utc_offset("-05:30"), Ok(-330));
        assert_eq!(parse_utc_offset("+00:00"), Ok(0));
        assert_eq!(parse_utc_offset("Z"), Ok(0));
        for bad in [
            "08:00",
            "+8:00",
            "+08",
            "+14:00",
            "-13:00",
            "+08:60",
            "Asia/Shanghai",
        ] {
            assert!(parse_utc_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(format_utc_offset(480), "+08:00");
        assert_eq!(format_utc_offset(-330), "-05:30");
    }

    #[test]
    fn database_times_are_skewed_microseconds_in_the_session_zone() {
        let clock = DbClock {
            offset_ms: -3 * 3_600_000,
            zone_minutes: 480,
        };
        let host = UNIX_EPOCH + Duration::from_nanos(1_780_000_000_123_456_789);
        let db = clock.at(host);
        assert_eq!(
            host.duration_since(db).unwrap(),
            Duration::from_nanos(3 * 3_600_000_000_000 + 789)
        );
        assert_eq!(clock.format(db), "2026-05-29T01:26:40.123456+08:00");
        assert_eq!(clock.format(UNIX_EPOCH), "1970-01-01T08:00:00+08:00");
        let utc = DbClock {
            offset_ms: 0,
            zone_minutes: 0,
        };
        assert_eq!(utc.format(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}

//! Logging to stderr in hclog's JSON line format, which Terraform reads from a plugin's stderr
//! and re-emits under `TF_LOG`:
//! `{"@level":"debug","@message":"...","@module":"provider.NAME","@timestamp":"...Z", fields...}`.
//!
//! The level comes from `TF_LOG_PROVIDER_<NAME>`, then `TF_LOG_PROVIDER`, then `TF_LOG`, as
//! terraform-plugin-log reads them; with none set (or `off`) nothing is installed and logging
//! costs nothing. Nothing is ever written to stdout, which belongs to the handshake.

use std::fmt;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Installs the stderr logger for the provider called `name` (e.g. `oceanbase`), when the
/// environment asks for logs.
pub(crate) fn init(name: &str) {
    let specific = format!(
        "TF_LOG_PROVIDER_{}",
        name.to_ascii_uppercase().replace('-', "_")
    );
    let setting = [specific.as_str(), "TF_LOG_PROVIDER", "TF_LOG"]
        .iter()
        .find_map(|variable| {
            std::env::var(variable)
                .ok()
                .filter(|value| !value.is_empty())
        });
    let Some(max_level) = setting.as_deref().and_then(parse_level) else {
        return;
    };
    let layer = HclogLayer {
        max_level,
        module: format!("provider.{name}"),
    };
    // Only `run` installs a subscriber, once; if one exists already, keeping it is right.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
}

/// Terraform's level names; `json` is Terraform's "trace, as JSON".
fn parse_level(setting: &str) -> Option<Level> {
    match setting.to_ascii_lowercase().as_str() {
        "trace" | "json" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" => Some(Level::WARN),
        "error" => Some(Level::ERROR),
        _ => None,
    }
}

struct HclogLayer {
    max_level: Level,
    module: String,
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _context: Context<'_, S>) -> bool {
        // The libraries underneath (h2, hyper, rustls) log every frame at debug; only their
        // warnings and errors are worth a Terraform user's attention.
        let max_level = if metadata.target().starts_with(env!("CARGO_CRATE_NAME")) {
            self.max_level
        } else {
            self.max_level.min(Level::WARN)
        };
        *metadata.level() <= max_level
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max_level))
    }

    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut line = serde_json::Map::new();
        let level = match *event.metadata().level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        };
        line.insert("@level".into(), level.into());
        line.insert("@module".into(), self.module.clone().into());
        line.insert("@timestamp".into(), timestamp(SystemTime::now()).into());
        let mut fields = FieldVisitor(&mut line);
        event.record(&mut fields);
        line.entry("@message").or_insert_with(|| "".into());
        let mut text = serde_json::Value::Object(line).to_string();
        text.push('\n');
        // A failed write to stderr has nowhere else to be reported.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

struct FieldVisitor<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl FieldVisitor<'_> {
    fn insert(&mut self, field: &Field, value: serde_json::Value) {
        let name = if field.name() == "message" {
            "@message"
        } else {
            field.name()
        };
        self.0.insert(name.to_owned(), value);
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        self.insert(field, text.into());
    }
}

/// hclog's timestamp: RFC 3339 in UTC with microseconds, `2026-01-02T15:04:05.000000Z`.
fn timestamp(now: SystemTime) -> String {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        since_epoch.subsec_micros()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_hclog_utc() {
        let at = |seconds: u64, micros: u64| {
            timestamp(UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(at(1_795_311_296, 123_456), "2026-11-22T01:34:56.123456Z");
    }

    #[test]
    fn levels_follow_terraform_names() {
        assert_eq!(parse_level("DEBUG"), Some(Level::DEBUG));
        assert_eq!(parse_level("json"), Some(Level::TRACE));
        assert_eq!(parse_level("off"), None);
        assert_eq!(parse_level("nonsense"), None);
    }
}

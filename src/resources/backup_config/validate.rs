//! Plan-time validation (design §3): every rule obshell checks synchronously, the ones it only
//! finds inside its DAG, no quote or whitespace in anything obshell puts into SQL, no zero
//! duration. Unknown values are skipped; every error carries its attribute path; all errors are
//! collected.

use std::time::Duration;

use crate::tf::{AttributePath, Diagnostic, Diagnostics, Number};

use super::duration::{parse_obshell_duration, parse_recovery_window, parse_timeout};
use super::model::{BackupConfigModel, Field};
use super::uri::{parse_backup_base_uri, StorageScheme};

/// The largest `archive_lag_target` obshell accepts.
const ARCHIVE_LAG_TARGET_MAX: Duration = Duration::from_secs(2 * 3600);
/// The smallest `archive_lag_target` obshell accepts for s3://.
const ARCHIVE_LAG_TARGET_S3_MIN: Duration = Duration::from_secs(60);
/// The range of `piece_switch_interval`.
const PIECE_SWITCH_INTERVAL_MIN: Duration = Duration::from_secs(86_400);
const PIECE_SWITCH_INTERVAL_MAX: Duration = Duration::from_secs(7 * 86_400);

fn invalid(path: AttributePath, detail: impl Into<String>) -> Diagnostic {
    let summary = format!("Invalid {path}");
    Diagnostic::error(summary, detail).at(path)
}

fn check_whole_number(field: &Field<Number>, name: &str, diagnostics: &mut Diagnostics) {
    let Field::Known(number) = field else { return };
    let in_range = number.as_i64().filter(|n| (0..=100).contains(n));
    if in_range.is_none() {
        diagnostics.push(invalid(
            AttributePath::root(name),
            format!("{name} must be a whole number from 0 to 100, got {number}."),
        ));
    }
}

fn sql_safe(text: &str) -> bool {
    !text.contains('\'') && !text.chars().any(char::is_whitespace)
}

/// Checks a resource configuration (or plan); returns every problem found.
pub fn validate_backup_config(config: &BackupConfigModel) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();

    let scheme = match &config.backup_base_uri {
        Field::Known(uri) => match parse_backup_base_uri(uri) {
            Ok(parsed) => Some(parsed.scheme),
            Err(error) => {
                diagnostics.push(invalid(
                    AttributePath::root("backup_base_uri"),
                    format!("{error}. obshell would reject it, or fail later inside its task."),
                ));
                None
            }
        },
        _ => None,
    };

    if let Field::Known(credentials) = &config.storage_credentials {
        if scheme == Some(StorageScheme::File) {
            diagnostics.push(invalid(
                AttributePath::root("storage_credentials"),
                "storage_credentials is only used with oss://, cos:// and s3:// storage; remove it for a file:// backup_base_uri.",
            ));
        }
        for (name, field) in [
            ("access_id", &credentials.access_id),
            ("access_key", &credentials.access_key),
        ] {
            let Field::Known(text) = field else { continue };
            let bad = text.is_empty() || !sql_safe(text) || text.contains(['&', '?', '=', '#']);
            if bad {
                // Never repeat the value: it is a secret.
                diagnostics.push(invalid(
                    AttributePath::root("storage_credentials").attribute(name),
                    format!("{name} must be non-empty and contain no quote, whitespace, '&', '?' or '#', because obshell puts it into the storage URI and into SQL."),
                ));
            }
        }
    }

    check_whole_number(
        &config.log_archive_concurrency,
        "log_archive_concurrency",
        &mut diagnostics,
    );
    check_whole_number(
        &config.ha_low_thread_score,
        "ha_low_thread_score",
        &mut diagnostics,
    );

    if let Field::Known(text) = &config.archive_lag_target {
        let path = AttributePath::root("archive_lag_target");
        match parse_obshell_duration(text) {
            Err(error) => diagnostics.push(invalid(path, format!("{error}."))),
            Ok(lag) if lag > ARCHIVE_LAG_TARGET_MAX => diagnostics.push(invalid(
                path,
                format!("archive_lag_target must be at most 2h, got {text:?}."),
            )),
            Ok(lag) if scheme == Some(StorageScheme::S3) && lag < ARCHIVE_LAG_TARGET_S3_MIN => {
                diagnostics.push(invalid(
                    path,
                    format!(
                        "archive_lag_target must be at least 1m for s3:// storage, got {text:?}."
                    ),
                ))
            }
            Ok(_) => {}
        }
    }

    if let Field::Known(text) = &config.binding {
        let upper = text.to_ascii_uppercase();
        if upper != "OPTIONAL" && upper != "MANDATORY" {
            diagnostics.push(invalid(
                AttributePath::root("binding"),
                format!(
                    "binding must be \"optional\" or \"mandatory\" (in any case), got {text:?}."
                ),
            ));
        }
    }

    if let Field::Known(text) = &config.piece_switch_interval {
        let path = AttributePath::root("piece_switch_interval");
        match parse_obshell_duration(text) {
            Err(error) => diagnostics.push(invalid(path, format!("{error}."))),
            Ok(interval)
                if !(PIECE_SWITCH_INTERVAL_MIN..=PIECE_SWITCH_INTERVAL_MAX).contains(&interval) =>
            {
                diagnostics.push(invalid(
                    path,
                    format!("piece_switch_interval must be from 1d to 7d, got {text:?}."),
                ))
            }
            Ok(_) => {}
        }
    }

    if let Field::Known(policy) = &config.delete_policy {
        if let Field::Known(name) = &policy.policy {
            if !name.eq_ignore_ascii_case("default") {
                diagnostics.push(invalid(
                    AttributePath::root("delete_policy").attribute("policy"),
                    format!("OceanBase supports only the delete policy \"default\", got {name:?}."),
                ));
            }
        }
        if let Field::Known(window) = &policy.recovery_window {
            if let Err(error) = parse_recovery_window(window) {
                diagnostics.push(invalid(
                    AttributePath::root("delete_policy").attribute("recovery_window"),
                    format!("{error}. recovery_window is a whole number greater than zero with the unit d, h, m or s, such as \"7d\"."),
                ));
            }
        }
    }

    if let Field::Known(timeouts) = &config.timeouts {
        for (name, field) in [
            ("create", &timeouts.create),
            ("update", &timeouts.update),
            ("read", &timeouts.read),
        ] {
            let Field::Known(text) = field else { continue };
            if let Err(error) = parse_timeout(text) {
                diagnostics.push(invalid(
                    AttributePath::root("timeouts").attribute(name),
                    format!("{error}. Timeouts are Go durations, with d for days: \"70m\", \"1h30m\", \"1d\"."),
                ));
            }
        }
    }

    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::backup_config::model::{
        DeletePolicyModel, StorageCredentialsModel, TimeoutsModel,
    };

    fn base() -> BackupConfigModel {
        let mut model = BackupConfigModel::empty();
        model.backup_base_uri = Field::Known("file:///data/backup".to_owned());
        model
    }

    fn known(text: &str) -> Field<String> {
        Field::Known(text.to_owned())
    }

    #[track_caller]
    fn check(model: BackupConfigModel, expected_paths: &[&str]) {
        let diagnostics = validate_backup_config(&model);
        let paths: Vec<String> = diagnostics
            .0
            .iter()
            .map(|d| {
                d.attribute
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(paths, expected_paths, "{diagnostics:?}");
    }

    #[test]
    fn a_full_valid_config_passes() {
        let mut model = base();
        model.log_archive_concurrency = Field::Known(Number::Int(4));
        model.ha_low_thread_score = Field::Known(Number::Float(100.0));
        model.archive_lag_target = known("2m");
        model.binding = known("Optional");
        model.piece_switch_interval = known("1D");
        model.delete_policy = Field::Known(DeletePolicyModel {
            policy: known("DEFAULT"),
            recovery_window: known("7d"),
        });
        model.timeouts = Field::Known(TimeoutsModel {
            create: known("1h30m"),
            update: known("1d"),
            read: Field::Null,
        });
        check(model, &[]);
    }

    #[test]
    fn validation_table() {
        type Edit = Box<dyn Fn(&mut BackupConfigModel)>;
        let cases: Vec<(Edit, Vec<&str>)> = vec![
            (
                Box::new(|m| m.backup_base_uri = known("file://rel")),
                vec!["backup_base_uri"],
            ),
            (
                Box::new(|m| m.backup_base_uri = known("oss://b/k?host=h&access_key=x")),
                vec!["backup_base_uri"],
            ),
            (Box::new(|m| m.backup_base_uri = Field::Unknown), vec![]),
            (
                Box::new(|m| m.log_archive_concurrency = Field::Known(Number::Int(101))),
                vec!["log_archive_concurrency"],
            ),
            (
                Box::new(|m| m.log_archive_concurrency = Field::Known(Number::Int(-1))),
                vec!["log_archive_concurrency"],
            ),
            (
                Box::new(|m| m.log_archive_concurrency = Field::Known(Number::Float(1.5))),
                vec!["log_archive_concurrency"],
            ),
            (
                Box::new(|m| m.log_archive_concurrency = Field::Unknown),
                vec![],
            ),
            (
                Box::new(|m| m.ha_low_thread_score = Field::Known(Number::Int(0))),
                vec![],
            ),
            (
                Box::new(|m| m.ha_low_thread_score = Field::Known(Number::Int(200))),
                vec!["ha_low_thread_score"],
            ),
            (
                Box::new(|m| m.archive_lag_target = known("0s")),
                vec!["archive_lag_target"],
            ),
            (Box::new(|m| m.archive_lag_target = known("7200s")), vec![]),
            (
                Box::new(|m| m.archive_lag_target = known("7201s")),
                vec!["archive_lag_target"],
            ),
            (
                Box::new(|m| m.archive_lag_target = known("2 m")),
                vec!["archive_lag_target"],
            ),
            (
                Box::new(|m| m.archive_lag_target = known("1h30m")),
                vec!["archive_lag_target"],
            ),
            (
                Box::new(|m| {
                    m.backup_base_uri = known("s3://b/k?host=h");
                    m.archive_lag_target = known("30s");
                }),
                vec!["archive_lag_target"],
            ),
            (
                Box::new(|m| {
                    m.backup_base_uri = known("oss://b/k?host=h");
                    m.archive_lag_target = known("30s");
                }),
                vec![],
            ),
            (
                Box::new(|m| m.binding = known("sometimes")),
                vec!["binding"],
            ),
            (Box::new(|m| m.binding = known("MANDATORY")), vec![]),
            (
                Box::new(|m| m.piece_switch_interval = known("23h")),
                vec!["piece_switch_interval"],
            ),
            (
                Box::new(|m| m.piece_switch_interval = known("8d")),
                vec!["piece_switch_interval"],
            ),
            (
                Box::new(|m| m.piece_switch_interval = known("168h")),
                vec![],
            ),
            (
                Box::new(|m| m.piece_switch_interval = known("0d")),
                vec!["piece_switch_interval"],
            ),
            (
                Box::new(|m| {
                    m.delete_policy = Field::Known(DeletePolicyModel {
                        policy: known("keep"),
                        recovery_window: known("0d"),
                    })
                }),
                vec!["delete_policy.policy", "delete_policy.recovery_window"],
            ),
            (
                Box::new(|m| {
                    m.delete_policy = Field::Known(DeletePolicyModel {
                        policy: Field::Null,
                        recovery_window: known("7d'"),
                    })
                }),
                vec!["delete_policy.recovery_window"],
            ),
            (
                Box::new(|m| {
                    m.timeouts = Field::Known(TimeoutsModel {
                        create: known("0s"),
                        update: known("soon"),
                        read: known("10s"),
                    })
                }),
                vec!["timeouts.create", "timeouts.update"],
            ),
            (
                Box::new(|m| {
                    m.storage_credentials = Field::Known(StorageCredentialsModel {
                        access_id: known("a"),
                        access_key: known("b"),
                    })
                }),
                vec!["storage_credentials"],
            ),
            (
                Box::new(|m| {
                    m.backup_base_uri = known("oss://b/k?host=h");
                    m.storage_credentials = Field::Known(StorageCredentialsModel {
                        access_id: known("a b"),
                        access_key: known("x&y"),
                    })
                }),
                vec![
                    "storage_credentials.access_id",
                    "storage_credentials.access_key",
                ],
            ),
        ];
        for (mutate, expected) in cases {
            let mut model = base();
            mutate(&mut model);
            check(model, &expected);
        }
    }

    #[test]
    fn every_error_is_collected() {
        let mut model = base();
        model.backup_base_uri = known("nfs://x");
        model.log_archive_concurrency = Field::Known(Number::Int(500));
        model.binding = known("x");
        check(
            model,
            &["backup_base_uri", "log_archive_concurrency", "binding"],
        );
    }

    #[test]
    fn secrets_are_not_echoed() {
        let mut model = base();
        model.backup_base_uri = known("oss://b/k?host=h");
        model.storage_credentials = Field::Known(StorageCredentialsModel {
            access_id: known("ok"),
            access_key: known("TOP SECRET"),
        });
        let diagnostics = validate_backup_config(&model);
        assert!(diagnostics.has_errors());
        for diagnostic in diagnostics.0 {
            assert!(!diagnostic.detail.contains("TOP SECRET"));
            assert!(!diagnostic.summary.contains("TOP SECRET"));
        }
    }
}

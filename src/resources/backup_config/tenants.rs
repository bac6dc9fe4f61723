//! Per-tenant comparison of the configuration with the `tenants` the state last read: which
//! tenants have each configured setting and which do not.
//!
//! The top-level read-back attributes fold the tenants into one value (the lowest tenant that
//! differs from state, see [`super::read`]). When tenants disagree among themselves, that value
//! can equal the configuration while another tenant still differs: a change that obshell stopped
//! part-way (node 2 runs tenant by tenant and aborts at the first error, obshell-api.md §10.2),
//! or a DBA's change on one tenant. The plan uses [`compare_tenants`] to send such a setting
//! again, and a failed apply uses it to say how far the change got.

use super::duration::obshell_durations_equal;
use super::model::{BackupConfigModel, Field, TenantModel};
use super::plan::ChangeSet;
use super::read::same_piece_switch_interval;
use super::uri::{base_from_tenant_dest, uris_equivalent, DestKind};

/// One configured setting compared on every tenant whose value could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantComparison {
    /// The attribute name.
    pub attribute: &'static str,
    /// Tenants whose value means the configured one.
    pub matching: Vec<String>,
    /// Tenants whose value differs, with the value read (`none` for a missing one).
    pub differing: Vec<(String, String)>,
}

impl TenantComparison {
    /// The request group that carries this attribute.
    fn mark(&self, changes: &mut ChangeSet) {
        match self.attribute {
            "log_archive_concurrency" => changes.log_archive_concurrency = true,
            "ha_low_thread_score" => changes.ha_low_thread_score = true,
            "archive_lag_target" => changes.archive_lag_target = true,
            "delete_policy" => changes.delete_policy = true,
            _ => changes.location = true,
        }
    }
}

/// The change set that sends every compared setting some tenant does not have.
pub fn left_behind_changes(comparisons: &[TenantComparison]) -> ChangeSet {
    let mut changes = ChangeSet::default();
    for comparison in comparisons.iter().filter(|c| !c.differing.is_empty()) {
        comparison.mark(&mut changes);
    }
    changes
}

/// Compares each setting `config` manages with every tenant in `tenants` whose value was read.
/// `cluster_id` is needed to recover a base URI from a tenant's destinations. `sql_read` says
/// the tenants' binding, piece interval and delete policy came from the sys tenant's views (a
/// missing policy is then known to be missing).
pub fn compare_tenants(
    tenants: &Field<std::collections::BTreeMap<String, TenantModel>>,
    cluster_id: Option<&str>,
    config: &BackupConfigModel,
    sql_read: bool,
) -> Vec<TenantComparison> {
    let Some(tenants) = tenants.known() else {
        return Vec::new();
    };
    let mut ordered: Vec<(&String, &TenantModel)> = tenants.iter().collect();
    ordered.sort_by_key(|(name, tenant)| (tenant.tenant_id.known().copied(), (*name).clone()));
    let mut comparisons = Vec::new();
    let mut compare =
        |attribute: &'static str, read: &dyn Fn(&TenantModel) -> Option<(bool, String)>| {
            let mut comparison = TenantComparison {
                attribute,
                matching: Vec::new(),
                differing: Vec::new(),
            };
            for (name, tenant) in &ordered {
                match read(tenant) {
                    Some((true, _)) => comparison.matching.push((*name).clone()),
                    Some((false, value)) => comparison.differing.push(((*name).clone(), value)),
                    None => {}
                }
            }
            if !comparison.matching.is_empty() || !comparison.differing.is_empty() {
                comparisons.push(comparison);
            }
        };
    let integer = |configured: &Field<crate::tf::Number>, live: Option<i64>| {
        let configured = configured.known()?.as_i64()?;
        let live = live?;
        Some((configured == live, live.to_string()))
    };
    compare("log_archive_concurrency", &|t| {
        integer(
            &config.log_archive_concurrency,
            t.log_archive_concurrency.known().copied(),
        )
    });
    compare("ha_low_thread_score", &|t| {
        integer(
            &config.ha_low_thread_score,
            t.ha_low_thread_score.known().copied(),
        )
    });
    compare("archive_lag_target", &|t| {
        let configured = config.archive_lag_target.known()?;
        let live = t.archive_lag_target.known()?;
        Some((obshell_durations_equal(configured, live), live.clone()))
    });
    if let (Some(uri), Some(cluster_id)) = (config.backup_base_uri.known(), cluster_id) {
        compare("backup_base_uri", &|t| {
            let tenant_id = *t.tenant_id.known()?;
            let mut shown = None;
            for (dest, kind) in [
                (t.archive_dest.known()?, DestKind::Archive),
                (t.data_dest.known()?, DestKind::Data),
            ] {
                let base = if dest.is_empty() {
                    String::new()
                } else {
                    base_from_tenant_dest(dest, cluster_id, tenant_id, kind)
                };
                if !uris_equivalent(uri, &base) && shown.is_none() {
                    shown = Some(if base.is_empty() {
                        "none".to_owned()
                    } else {
                        base
                    });
                }
            }
            Some(match shown {
                Some(base) => (false, base),
                None => (true, String::new()),
            })
        });
    }
    if sql_read {
        compare("binding", &|t| {
            let configured = match &config.binding {
                Field::Known(binding) => binding.to_ascii_uppercase(),
                Field::Null => "OPTIONAL".to_owned(),
                Field::Unknown => return None,
            };
            let live = t.binding.known()?;
            Some((configured.eq_ignore_ascii_case(live), live.clone()))
        });
        compare("piece_switch_interval", &|t| {
            let configured = match &config.piece_switch_interval {
                Field::Known(interval) => interval.clone(),
                Field::Null => "1d".to_owned(),
                Field::Unknown => return None,
            };
            let live = t.piece_switch_interval.known()?;
            Some((same_piece_switch_interval(&configured, live), live.clone()))
        });
        compare("delete_policy", &|t| {
            let window = config.delete_policy.known()?.recovery_window.known()?;
            // A tenant without a destination has no row in the views at all.
            t.archive_dest.known().filter(|d| !d.is_empty())?;
            Some(match t.delete_policy_recovery_window.known() {
                Some(live) => (
                    obshell_durations_equal(window, live),
                    format!("recovery_window {live}"),
                ),
                None => (false, "none".to_owned()),
            })
        });
    }
    comparisons
}

/// "t2 (2m), t3 (none)".
pub fn describe_differing(differing: &[(String, String)]) -> String {
    differing
        .iter()
        .map(|(tenant, value)| format!("{tenant} ({value})"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::Number;
    use std::collections::BTreeMap;

    fn tenant(id: i64, lag: &str, base: &str) -> TenantModel {
        TenantModel {
            tenant_id: Field::Known(id),
            log_archive_concurrency: Field::Known(4),
            ha_low_thread_score: Field::Null,
            archive_lag_target: Field::Known(lag.to_owned()),
            archive_dest: Field::Known(format!("{base}/1726/{id}/clog")),
            data_dest: Field::Known(format!("{base}/1726/{id}/data")),
            binding: Field::Null,
            piece_switch_interval: Field::Null,
            delete_policy_recovery_window: Field::Null,
            archive_log: Field::Null,
        }
    }

    fn config() -> BackupConfigModel {
        let mut config = BackupConfigModel::empty();
        config.backup_base_uri = Field::Known("file:///b".to_owned());
        config.log_archive_concurrency = Field::Known(Number::Int(4));
        config.archive_lag_target = Field::Known("3m".to_owned());
        config
    }

    #[test]
    fn a_tenant_left_behind_is_named_and_planned() {
        let tenants = Field::Known(BTreeMap::from([
            ("t1".to_owned(), tenant(1002, "180s", "file:///b")),
            ("t2".to_owned(), tenant(1004, "2m", "file:///old")),
        ]));
        let comparisons = compare_tenants(&tenants, Some("1726"), &config(), false);
        let lag = comparisons
            .iter()
            .find(|c| c.attribute == "archive_lag_target")
            .expect("compared");
        assert_eq!(lag.matching, ["t1"]);
        assert_eq!(lag.differing, [("t2".to_owned(), "2m".to_owned())]);
        let changes = left_behind_changes(&comparisons);
        assert!(changes.archive_lag_target && changes.location);
        assert!(!changes.log_archive_concurrency && !changes.delete_policy);
        // Unmanaged (null) settings and settings nobody could read are not compared.
        assert!(comparisons
            .iter()
            .all(|c| c.attribute != "ha_low_thread_score" && c.attribute != "binding"));
    }

    #[test]
    fn with_the_sql_read_a_missing_delete_policy_differs() {
        let mut config = config();
        config.delete_policy = Field::Known(super::super::model::DeletePolicyModel {
            policy: Field::Known("default".to_owned()),
            recovery_window: Field::Known("7d".to_owned()),
        });
        let mut with_policy = tenant(1002, "3m", "file:///b");
        with_policy.delete_policy_recovery_window = Field::Known("168h".to_owned());
        let tenants = Field::Known(BTreeMap::from([
            ("t1".to_owned(), with_policy),
            ("t2".to_owned(), tenant(1004, "3m", "file:///b")),
        ]));
        assert!(
            left_behind_changes(&compare_tenants(&tenants, Some("1726"), &config, false))
                .is_empty()
        );
        let comparisons = compare_tenants(&tenants, Some("1726"), &config, true);
        let policy = comparisons
            .iter()
            .find(|c| c.attribute == "delete_policy")
            .expect("compared");
        assert_eq!(policy.matching, ["t1"]);
        assert_eq!(describe_differing(&policy.differing), "t2 (none)");
        assert!(left_behind_changes(&comparisons).delete_policy);
    }
}

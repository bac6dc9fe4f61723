//! New tenants (design §3, "Read"): which user tenants the last location write covered (private
//! state, [`LocationWrite`]), which NORMAL tenants appeared since, and whether a change is only
//! "configure those", which apply does with obshell's tenant-level call, one tenant at a time,
//! so that archive log on the other tenants keeps running. Pure functions.

use std::collections::BTreeMap;

use crate::tf::Number;

use super::duration::obshell_durations_equal;
use super::model::{BackupConfigModel, Field, TenantModel};
use super::plan::{plan_update_verified, same_whole_number, ChangeSet};
use super::private::LocationWrite;
use super::read::{LiveCluster, LiveStorage};
use super::uri::{base_from_tenant_dest, uris_equivalent, DestKind};

/// A user tenant by name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTenant {
    /// The tenant name.
    pub name: String,
    /// The tenant id.
    pub id: i64,
}

impl NamedTenant {
    /// `name (id)`, for messages.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }
}

/// The NORMAL user tenants that `live` read and `covered` did not reach, whose destinations
/// obshell cannot show (before 4.3.2, without `sql_endpoint`): nothing tells that they have one,
/// and obshell's cluster DAG only configures the tenants that exist when it runs, so they are
/// taken as unconfigured. (Where destinations are readable, the read itself shows the gap.)
pub fn unreadable_new_tenants(live: &LiveCluster, covered: &LocationWrite) -> Vec<NamedTenant> {
    let mut tenants: Vec<NamedTenant> = live
        .tenants
        .iter()
        .filter(|tenant| !covered.covers(tenant.tenant_id))
        .filter(|tenant| matches!(tenant.storage, LiveStorage::NotReadable))
        .map(|tenant| NamedTenant {
            name: tenant.name.clone(),
            id: tenant.tenant_id,
        })
        .collect();
    tenants.sort_by_key(|tenant| tenant.id);
    tenants
}

/// True when what `tenant` reports means what `planned` configures, for every attribute it
/// reports: the destinations (when readable) and the three parameters that `planned` sets.
fn tenant_matches(
    tenant: &TenantModel,
    tenant_id: i64,
    cluster_id: &str,
    planned: &BackupConfigModel,
) -> bool {
    let Some(uri) = planned.backup_base_uri.known() else {
        return false;
    };
    let dest_ok = |dest: Option<&String>, kind| match dest {
        None => true,
        Some(dest) => {
            !dest.is_empty()
                && uris_equivalent(
                    &base_from_tenant_dest(dest, cluster_id, tenant_id, kind),
                    uri,
                )
        }
    };
    let number_ok = |planned: &Field<Number>, live: Option<i64>| match planned {
        Field::Known(number) => live.is_some_and(|n| same_whole_number(number, &Number::Int(n))),
        _ => true,
    };
    let lag_ok = match &planned.archive_lag_target {
        Field::Known(lag) => tenant
            .archive_lag_target
            .known()
            .is_some_and(|live| obshell_durations_equal(lag, live)),
        _ => true,
    };
    dest_ok(tenant.archive_dest.known(), DestKind::Archive)
        && dest_ok(tenant.data_dest.known(), DestKind::Data)
        && number_ok(
            &planned.log_archive_concurrency,
            tenant.log_archive_concurrency.known().copied(),
        )
        && number_ok(
            &planned.ha_low_thread_score,
            tenant.ha_low_thread_score.known().copied(),
        )
        && lag_ok
}

/// The tenants that appeared since `covered` was written and do not report the planned
/// configuration (a destination obshell cannot show counts as missing), lowest id first.
pub fn new_tenants_to_configure(
    tenants: &BTreeMap<String, TenantModel>,
    covered: &LocationWrite,
    cluster_id: &str,
    planned: &BackupConfigModel,
) -> Vec<NamedTenant> {
    let mut found: Vec<NamedTenant> = tenants
        .iter()
        .filter_map(|(name, tenant)| Some((name, tenant, *tenant.tenant_id.known()?)))
        .filter(|(_, _, id)| !covered.covers(*id))
        .filter(|(_, tenant, id)| {
            tenant.archive_dest.known().is_none()
                || tenant.data_dest.known().is_none()
                || !tenant_matches(tenant, *id, cluster_id, planned)
        })
        .map(|(name, _, id)| NamedTenant {
            name: name.clone(),
            id,
        })
        .collect();
    found.sort_by_key(|tenant| tenant.id);
    found
}

/// Whether the change from `prior` to `config` is only "configure the new tenants": the tenants
/// `covered` reached all report the planned configuration (as far as they can be read), and once
/// the state is given back what those tenants hold (the location last written, the planned
/// parameters, only their own `tenants` entries), nothing is left to send. Then the answer is the new tenants to configure, each
/// with obshell's tenant-level call; `None` means the cluster call is needed.
#[allow(clippy::too_many_arguments)]
pub fn tenants_only_change(
    prior: &BackupConfigModel,
    config: &BackupConfigModel,
    planned: &BackupConfigModel,
    tenants: &BTreeMap<String, TenantModel>,
    covered: &LocationWrite,
    cluster_id: &str,
    imported: bool,
    sql_read: bool,
) -> Option<Vec<NamedTenant>> {
    let covered_match = tenants
        .values()
        .all(|tenant| match tenant.tenant_id.known().copied() {
            Some(id) if covered.covers(id) => tenant_matches(tenant, id, cluster_id, planned),
            _ => true,
        });
    if !covered_match {
        return None;
    }
    let mut restored = prior.clone();
    restored.backup_base_uri = Field::Known(covered.backup_base_uri.clone());
    // The new tenants are what the tenant-level calls are for: only the covered ones may leave
    // a setting behind that needs the cluster call.
    restored.tenants = Field::Known(
        tenants
            .iter()
            .filter(|(_, tenant)| {
                tenant
                    .tenant_id
                    .known()
                    .is_some_and(|id| covered.covers(*id))
            })
            .map(|(name, tenant)| (name.clone(), tenant.clone()))
            .collect(),
    );
    for (field, planned_field) in [
        (
            &mut restored.log_archive_concurrency,
            &planned.log_archive_concurrency,
        ),
        (
            &mut restored.ha_low_thread_score,
            &planned.ha_low_thread_score,
        ),
    ] {
        if planned_field.known().is_some() {
            *field = planned_field.clone();
        }
    }
    if planned.archive_lag_target.known().is_some() {
        restored.archive_lag_target = planned.archive_lag_target.clone();
    }
    let remaining = plan_update_verified(&restored, config, imported, sql_read).changes;
    if remaining != ChangeSet::default() {
        return None;
    }
    Some(new_tenants_to_configure(
        tenants, covered, cluster_id, planned,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::backup_config::plan::with_defaults;

    fn tenant(id: i64, dest: Option<&str>, lac: i64) -> TenantModel {
        TenantModel {
            tenant_id: Field::Known(id),
            log_archive_concurrency: Field::Known(lac),
            ha_low_thread_score: Field::Known(0),
            archive_lag_target: Field::Known("120s".to_owned()),
            archive_dest: Field::from(dest.map(|base| {
                if base.is_empty() {
                    String::new()
                } else {
                    format!("{base}/1726/{id}/clog")
                }
            })),
            data_dest: Field::from(dest.map(|base| {
                if base.is_empty() {
                    String::new()
                } else {
                    format!("{base}/1726/{id}/data")
                }
            })),
            binding: Field::Null,
            piece_switch_interval: Field::Null,
            delete_policy_recovery_window: Field::Null,
            archive_log: Field::Null,
        }
    }

    fn config() -> BackupConfigModel {
        let mut config = BackupConfigModel::empty();
        config.backup_base_uri = Field::Known("file:///data/backup".to_owned());
        config.log_archive_concurrency = Field::Known(Number::Int(4));
        config
    }

    fn prior_after_drift() -> BackupConfigModel {
        let mut prior = with_defaults(config());
        prior.id = Field::Known("1726".to_owned());
        prior.backup_base_uri = Field::Known(String::new());
        prior.log_archive_concurrency = Field::Known(Number::Int(0));
        prior.ha_low_thread_score = Field::Known(Number::Int(0));
        prior.archive_lag_target = Field::Known("120s".to_owned());
        prior
    }

    fn covered() -> LocationWrite {
        LocationWrite {
            backup_base_uri: "file:///data/backup".to_owned(),
            tenant_ids: vec![1002, 1004],
        }
    }

    fn decide(tenants: &BTreeMap<String, TenantModel>) -> Option<Vec<NamedTenant>> {
        let prior = prior_after_drift();
        let planned = plan_update_verified(&prior, &config(), false, false).planned;
        tenants_only_change(
            &prior,
            &config(),
            &planned,
            tenants,
            &covered(),
            "1726",
            false,
            false,
        )
    }

    fn t3() -> NamedTenant {
        NamedTenant {
            name: "t3".to_owned(),
            id: 1006,
        }
    }

    #[test]
    fn only_new_tenants_lacking_the_destination_go_through_the_tenant_call() {
        let base = "file:///data/backup";
        // Before 4.3.2: destinations unreadable; the new tenant has default parameters.
        let tenants = BTreeMap::from([
            ("t1".to_owned(), tenant(1002, None, 4)),
            ("t2".to_owned(), tenant(1004, None, 4)),
            ("t3".to_owned(), tenant(1006, None, 0)),
        ]);
        assert_eq!(decide(&tenants), Some(vec![t3()]));
        // From 4.3.2: readable, the new tenant has none.
        let tenants = BTreeMap::from([
            ("t1".to_owned(), tenant(1002, Some(base), 4)),
            ("t2".to_owned(), tenant(1004, Some(base), 4)),
            ("t3".to_owned(), tenant(1006, Some(""), 0)),
        ]);
        assert_eq!(decide(&tenants), Some(vec![t3()]));
        // A covered tenant that drifted needs the cluster call.
        let tenants = BTreeMap::from([
            ("t1".to_owned(), tenant(1002, Some("file:///elsewhere"), 4)),
            ("t2".to_owned(), tenant(1004, Some(base), 4)),
            ("t3".to_owned(), tenant(1006, Some(""), 0)),
        ]);
        assert_eq!(decide(&tenants), None);
        let tenants = BTreeMap::from([
            ("t1".to_owned(), tenant(1002, None, 7)),
            ("t3".to_owned(), tenant(1006, None, 0)),
        ]);
        assert_eq!(decide(&tenants), None);
    }

    #[test]
    fn a_configuration_change_beside_new_tenants_needs_the_cluster_call() {
        let tenants = BTreeMap::from([
            ("t1".to_owned(), tenant(1002, None, 4)),
            ("t3".to_owned(), tenant(1006, None, 0)),
        ]);
        let prior = prior_after_drift();
        for edit in [
            |c: &mut BackupConfigModel| {
                c.backup_base_uri = Field::Known("file:///other".to_owned())
            },
            |c: &mut BackupConfigModel| c.binding = Field::Known("mandatory".to_owned()),
            |c: &mut BackupConfigModel| c.ha_low_thread_score = Field::Known(Number::Int(9)),
        ] {
            let mut config = config();
            edit(&mut config);
            let planned = plan_update_verified(&prior, &config, false, false).planned;
            assert_eq!(
                tenants_only_change(
                    &prior,
                    &config,
                    &planned,
                    &tenants,
                    &covered(),
                    "1726",
                    false,
                    false
                ),
                None,
                "{config:?}"
            );
        }
    }

    #[test]
    fn a_new_tenant_already_configured_needs_nothing() {
        let tenants = BTreeMap::from([
            (
                "t1".to_owned(),
                tenant(1002, Some("file:///data/backup"), 4),
            ),
            // Configured by the tenant-level call: one more '/'.
            (
                "t3".to_owned(),
                TenantModel {
                    archive_dest: Field::Known("file:///data/backup/1726/1006/clog/".to_owned()),
                    data_dest: Field::Known("file:///data/backup/1726/1006/data/".to_owned()),
                    ..tenant(1006, None, 4)
                },
            ),
        ]);
        assert_eq!(
            new_tenants_to_configure(&tenants, &covered(), "1726", &with_defaults(config())),
            vec![]
        );
    }
}

//! Folding what the cluster reports into state (design §3, "Read"), as pure functions over
//! [`LiveCluster`], which [`super::ops`] fills from obshell.
//!
//! - Read-back attributes report the live value; when tenants disagree, the value of the lowest
//!   tenant id that differs from state; a live value that means the same as the state keeps the
//!   state's spelling, so an unchanged cluster plans empty.
//! - `backup_base_uri` (obshell ≥ 4.3.2) is recovered from each tenant's destinations; a hidden
//!   destination (`data: null`) is not drift. Before 4.3.2 the state is kept.
//! - When no user tenant has a destination any more, the resource is gone.

use std::collections::BTreeMap;

use crate::tf::Number;

use super::duration::obshell_durations_equal;
use super::model::{BackupConfigModel, Field, TenantModel};
use super::plan::with_defaults;
use super::uri::{base_from_tenant_dest, uris_equivalent, DestKind};

/// A tenant's destinations as obshell reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStorage {
    /// obshell before 4.3.2 cannot report destinations.
    NotReadable,
    /// obshell answered `data: null`: it could not show the destination without credentials.
    Hidden,
    /// The destinations without credentials; empty strings mean "not configured".
    Known {
        /// The archive-log destination.
        archive_dest: String,
        /// The data-backup destination.
        data_dest: String,
    },
}

/// One NORMAL user tenant as read from obshell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTenant {
    /// The tenant name.
    pub name: String,
    /// The tenant id.
    pub tenant_id: i64,
    /// `log_archive_concurrency` as stored.
    pub log_archive_concurrency: Option<String>,
    /// `ha_low_thread_score` as stored.
    pub ha_low_thread_score: Option<String>,
    /// `archive_lag_target` as stored.
    pub archive_lag_target: Option<String>,
    /// The destinations.
    pub storage: LiveStorage,
}

/// What Read learned about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCluster {
    /// The cluster id.
    pub cluster_id: String,
    /// The NORMAL user tenants, in any order.
    pub tenants: Vec<LiveTenant>,
}

/// The outcome of folding live data into state.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadOutcome {
    /// The resource still exists; this is its refreshed state.
    Present(Box<BackupConfigModel>),
    /// No user tenant has a backup destination: the resource is gone.
    Gone,
}

impl LiveCluster {
    fn sorted_tenants(&self) -> Vec<&LiveTenant> {
        let mut tenants: Vec<&LiveTenant> = self.tenants.iter().collect();
        tenants.sort_by_key(|tenant| tenant.tenant_id);
        tenants
    }

    /// True when obshell shows that no tenant has a destination (all destinations readable and
    /// empty, at least one tenant).
    pub fn has_no_destination(&self) -> bool {
        !self.tenants.is_empty()
            && self.tenants.iter().all(|tenant| {
                matches!(&tenant.storage, LiveStorage::Known { archive_dest, data_dest }
                    if archive_dest.is_empty() && data_dest.is_empty())
            })
    }

    /// The `backup_base_uri` values the tenants' destinations imply, lowest tenant id first;
    /// `None` when no tenant's destinations are readable.
    fn base_uris(&self) -> Option<Vec<String>> {
        let mut bases = Vec::new();
        for tenant in self.sorted_tenants() {
            if let LiveStorage::Known {
                archive_dest,
                data_dest,
            } = &tenant.storage
            {
                for (dest, kind) in [
                    (archive_dest, DestKind::Archive),
                    (data_dest, DestKind::Data),
                ] {
                    let base = if dest.is_empty() {
                        String::new()
                    } else {
                        base_from_tenant_dest(dest, &self.cluster_id, tenant.tenant_id, kind)
                    };
                    bases.push(base);
                }
            }
        }
        (!bases.is_empty()).then_some(bases)
    }

    /// The tenants map of the state.
    pub fn tenants_map(&self) -> BTreeMap<String, TenantModel> {
        self.tenants
            .iter()
            .map(|tenant| {
                let (archive_dest, data_dest) = match &tenant.storage {
                    LiveStorage::Known {
                        archive_dest,
                        data_dest,
                    } => (Some(archive_dest.clone()), Some(data_dest.clone())),
                    _ => (None, None),
                };
                (
                    tenant.name.clone(),
                    TenantModel {
                        tenant_id: Some(tenant.tenant_id),
                        log_archive_concurrency: parse_integer(&tenant.log_archive_concurrency),
                        ha_low_thread_score: parse_integer(&tenant.ha_low_thread_score),
                        archive_lag_target: tenant.archive_lag_target.clone(),
                        archive_dest,
                        data_dest,
                    },
                )
            })
            .collect()
    }
}

fn parse_integer(text: &Option<String>) -> Option<i64> {
    text.as_deref().and_then(|text| text.trim().parse().ok())
}

/// The value to report for one read-back attribute: the state's value when every live value means
/// the same, otherwise the first live value (lowest tenant id) that differs.
fn fold_values<T: Clone>(
    state: &Field<T>,
    live: impl IntoIterator<Item = T>,
    same: impl Fn(&T, &T) -> bool,
) -> Field<T> {
    let mut live = live.into_iter().peekable();
    if live.peek().is_none() {
        return state.clone();
    }
    match state {
        Field::Known(current) => match live.find(|value| !same(current, value)) {
            Some(differing) => Field::Known(differing),
            None => state.clone(),
        },
        _ => live.next().map_or_else(|| state.clone(), Field::Known),
    }
}

fn same_number(left: &Number, right: &Number) -> bool {
    left.as_i64().is_some() && left.as_i64() == right.as_i64()
}

/// Folds live data into `state`.
pub fn fold_live(state: &BackupConfigModel, live: &LiveCluster) -> ReadOutcome {
    if live.has_no_destination() {
        return ReadOutcome::Gone;
    }
    let mut new_state = with_defaults(state.clone());
    new_state.id = Field::Known(live.cluster_id.clone());
    let tenants = live.sorted_tenants();

    if let Some(bases) = live.base_uris() {
        new_state.backup_base_uri = fold_values(&state.backup_base_uri, bases, |left, right| {
            uris_equivalent(left, right)
        });
    }
    let integers = |pick: fn(&LiveTenant) -> &Option<String>| {
        tenants
            .iter()
            .filter_map(|tenant| parse_integer(pick(tenant)))
            .map(Number::Int)
            .collect::<Vec<_>>()
    };
    new_state.log_archive_concurrency = fold_values(
        &state.log_archive_concurrency,
        integers(|tenant| &tenant.log_archive_concurrency),
        same_number,
    );
    new_state.ha_low_thread_score = fold_values(
        &state.ha_low_thread_score,
        integers(|tenant| &tenant.ha_low_thread_score),
        same_number,
    );
    new_state.archive_lag_target = fold_values(
        &state.archive_lag_target,
        tenants
            .iter()
            .filter_map(|tenant| tenant.archive_lag_target.clone()),
        |left, right| obshell_durations_equal(left, right),
    );
    new_state.tenants = Field::Known(live.tenants_map());
    ReadOutcome::Present(Box::new(new_state))
}

/// After a successful apply: the planned state with its unknown read-back attributes, `id` and
/// `tenants` filled from the cluster. Known planned values are returned as planned.
pub fn fill_unknowns_from_live(
    planned: &BackupConfigModel,
    live: &LiveCluster,
) -> BackupConfigModel {
    let mut state = planned.clone();
    let tenants = live.sorted_tenants();
    let first_integer = |pick: fn(&LiveTenant) -> &Option<String>| {
        tenants
            .iter()
            .find_map(|tenant| parse_integer(pick(tenant)))
            .map(Number::Int)
    };
    if state.id.is_unknown() {
        state.id = Field::Known(live.cluster_id.clone());
    }
    if state.log_archive_concurrency.is_unknown() {
        state.log_archive_concurrency =
            first_integer(|tenant| &tenant.log_archive_concurrency).into();
    }
    if state.ha_low_thread_score.is_unknown() {
        state.ha_low_thread_score = first_integer(|tenant| &tenant.ha_low_thread_score).into();
    }
    if state.archive_lag_target.is_unknown() {
        state.archive_lag_target = tenants
            .iter()
            .find_map(|tenant| tenant.archive_lag_target.clone())
            .into();
    }
    if state.tenants.is_unknown() {
        state.tenants = Field::Known(live.tenants_map());
    }
    state.without_unknowns()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str, id: i64, lac: &str, lag: &str, base: Option<&str>) -> LiveTenant {
        LiveTenant {
            name: name.to_owned(),
            tenant_id: id,
            log_archive_concurrency: Some(lac.to_owned()),
            ha_low_thread_score: Some("0".to_owned()),
            archive_lag_target: Some(lag.to_owned()),
            storage: match base {
                Some(base) => {
                    let (location, query) = base.split_once('?').unwrap_or((base, ""));
                    let query = if query.is_empty() {
                        String::new()
                    } else {
                        format!("?{query}")
                    };
                    LiveStorage::Known {
                        archive_dest: format!("{location}/1726/{id}/clog{query}"),
                        data_dest: format!("{location}/1726/{id}/data{query}"),
                    }
                }
                None => LiveStorage::Known {
                    archive_dest: String::new(),
                    data_dest: String::new(),
                },
            },
        }
    }

    fn cluster(tenants: Vec<LiveTenant>) -> LiveCluster {
        LiveCluster {
            cluster_id: "1726".to_owned(),
            tenants,
        }
    }

    fn state() -> BackupConfigModel {
        let mut state = BackupConfigModel::empty();
        state.id = Field::Known("1726".to_owned());
        state.backup_base_uri = Field::Known("file:///data/backup/".to_owned());
        state.log_archive_concurrency = Field::Known(Number::Int(4));
        state.ha_low_thread_score = Field::Known(Number::Int(0));
        state.archive_lag_target = Field::Known("2m".to_owned());
        with_defaults(state)
    }

    fn present(outcome: ReadOutcome) -> BackupConfigModel {
        match outcome {
            ReadOutcome::Present(model) => *model,
            ReadOutcome::Gone => panic!("expected the resource to be present"),
        }
    }

    #[test]
    fn same_meaning_keeps_the_state_spelling() {
        let live = cluster(vec![
            tenant("t1", 1002, "4", "120s", Some("file:///data/backup")),
            tenant("t2", 1004, "4", "2m", Some("file:///data//backup")),
        ]);
        let new_state = present(fold_live(&state(), &live));
        assert_eq!(new_state.backup_base_uri, state().backup_base_uri);
        assert_eq!(new_state.archive_lag_target, Field::Known("2m".to_owned()));
        assert_eq!(
            new_state.log_archive_concurrency,
            Field::Known(Number::Int(4))
        );
        let tenants = new_state.tenants.known().expect("tenants");
        assert_eq!(tenants.len(), 2);
        assert_eq!(tenants["t1"].archive_lag_target.as_deref(), Some("120s"));
        assert_eq!(
            tenants["t2"].archive_dest.as_deref(),
            Some("file:///data//backup/1726/1004/clog")
        );
    }

    #[test]
    fn drift_reports_the_lowest_differing_tenant() {
        let live = cluster(vec![
            tenant("t3", 1006, "9", "2m", Some("file:///data/backup")),
            tenant("t2", 1004, "7", "5m", Some("file:///data/backup")),
            tenant("t1", 1002, "4", "2m", Some("file:///elsewhere")),
        ]);
        let new_state = present(fold_live(&state(), &live));
        assert_eq!(
            new_state.log_archive_concurrency,
            Field::Known(Number::Int(7))
        );
        assert_eq!(new_state.archive_lag_target, Field::Known("5m".to_owned()));
        assert_eq!(
            new_state.backup_base_uri,
            Field::Known("file:///elsewhere".to_owned())
        );
    }

    #[test]
    fn an_unconfigured_new_tenant_is_drift_in_the_uri() {
        let live = cluster(vec![
            tenant("t1", 1002, "4", "2m", Some("file:///data/backup")),
            tenant("t9", 1010, "0", "120s", None),
        ]);
        let new_state = present(fold_live(&state(), &live));
        assert_eq!(new_state.backup_base_uri, Field::Known(String::new()));
    }

    #[test]
    fn no_destination_anywhere_means_gone() {
        let live = cluster(vec![tenant("t1", 1002, "4", "2m", None)]);
        assert_eq!(fold_live(&state(), &live), ReadOutcome::Gone);
        // No readable tenant at all is not proof of absence.
        assert!(matches!(
            fold_live(&state(), &cluster(vec![])),
            ReadOutcome::Present(_)
        ));
    }

    #[test]
    fn unreadable_or_hidden_destinations_keep_the_state() {
        for storage in [LiveStorage::NotReadable, LiveStorage::Hidden] {
            let mut live_tenant = tenant("t1", 1002, "4", "2m", None);
            live_tenant.storage = storage;
            let new_state = present(fold_live(&state(), &cluster(vec![live_tenant])));
            assert_eq!(new_state.backup_base_uri, state().backup_base_uri);
            let tenants = new_state.tenants.known().expect("tenants");
            assert_eq!(tenants["t1"].archive_dest, None);
        }
    }

    #[test]
    fn import_fills_read_back_attributes_and_defaults() {
        let mut imported = BackupConfigModel::empty();
        imported.id = Field::Known("1726".to_owned());
        let live = cluster(vec![tenant(
            "t1",
            1002,
            "4",
            "2m",
            Some("oss://b/k?host=h"),
        )]);
        let new_state = present(fold_live(&imported, &live));
        assert_eq!(
            new_state.backup_base_uri,
            Field::Known("oss://b/k?host=h".to_owned())
        );
        assert_eq!(
            new_state.log_archive_concurrency,
            Field::Known(Number::Int(4))
        );
        assert_eq!(new_state.restore_archive_log, Field::Known(true));
        assert!(new_state.timeouts.known().is_some());
        assert!(new_state.binding.is_null() && new_state.delete_policy.is_null());
    }

    #[test]
    fn apply_fills_only_unknowns() {
        let mut planned = state();
        planned.archive_lag_target = Field::Known("2m".to_owned());
        planned.ha_low_thread_score = Field::Unknown;
        planned.tenants = Field::Unknown;
        let live = cluster(vec![tenant(
            "t1",
            1002,
            "4",
            "120s",
            Some("file:///data/backup"),
        )]);
        let applied = fill_unknowns_from_live(&planned, &live);
        assert_eq!(applied.archive_lag_target, Field::Known("2m".to_owned()));
        assert_eq!(applied.ha_low_thread_score, Field::Known(Number::Int(0)));
        assert!(applied.tenants.known().is_some_and(|t| t.len() == 1));
    }
}

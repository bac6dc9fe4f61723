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

use crate::resources::backup_config_data::ARCHIVE_LOG_OFF;
use crate::sql::{oceanbase_interval_rendering, BackupViews, TenantBackupSql};

use super::duration::{obshell_durations_equal, parse_obshell_duration};
use super::model::{BackupConfigModel, DeletePolicyModel, Field, TenantModel};
use super::plan::with_defaults;
use super::private::ReadReferences;
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
    /// What the sys tenant's backup views say (`sql_endpoint`); `None` without it.
    pub sql: Option<TenantBackupSql>,
    /// The status of the active archive-log round (`OFF` when none) as obshell lists it
    /// (4.3.2 or later) or the views say; `None` when not read.
    pub archive_log: Option<String>,
    /// The parameters its servers disagree on (a change spreading), with every value, sorted;
    /// the field above holds one of them until [`super::lag::settle`] picks the one to report.
    pub disagreeing: BTreeMap<String, Vec<String>>,
}

/// What Read learned about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCluster {
    /// The cluster id.
    pub cluster_id: String,
    /// The NORMAL user tenants, in any order.
    pub tenants: Vec<LiveTenant>,
    /// The user tenants listed but not read (not NORMAL, or not readable now), by name.
    pub skipped: Vec<String>,
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
    fn base_uris(&self) -> Option<Vec<(String, String)>> {
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
                    let label = match kind {
                        DestKind::Archive => format!("{} (archive)", tenant.name),
                        DestKind::Data => format!("{} (data)", tenant.name),
                    };
                    bases.push((label, base));
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
                    } => (
                        Field::Known(archive_dest.clone()),
                        Field::Known(data_dest.clone()),
                    ),
                    _ => (Field::Null, Field::Null),
                };
                let sql_dest = tenant
                    .sql
                    .as_ref()
                    .and_then(|sql| sql.archive_dest.as_ref());
                (
                    tenant.name.clone(),
                    TenantModel {
                        tenant_id: Field::Known(tenant.tenant_id),
                        log_archive_concurrency: parse_integer(&tenant.log_archive_concurrency)
                            .into(),
                        ha_low_thread_score: parse_integer(&tenant.ha_low_thread_score).into(),
                        archive_lag_target: tenant.archive_lag_target.clone().into(),
                        archive_dest,
                        data_dest,
                        binding: sql_dest.and_then(|d| d.binding.clone()).into(),
                        piece_switch_interval: sql_dest
                            .and_then(|d| d.piece_switch_interval.clone())
                            .into(),
                        delete_policy_recovery_window: tenant
                            .sql
                            .as_ref()
                            .and_then(|sql| sql.delete_policy.as_ref())
                            .map(|p| p.recovery_window.clone())
                            .into(),
                        archive_log: tenant.archive_log.clone().into(),
                    },
                )
            })
            .collect()
    }

    /// Joins the sys tenant's backup views to the tenants obshell listed (by tenant id). A
    /// destination obshell cannot show (before 4.3.2, or `data: null`, or one it cannot parse) is
    /// taken from the views, unless the views show an object-store path without its `host`
    /// ([`sql_path_verifiable`]): that tenant's destination stays unverifiable, and its name is
    /// returned for the warning.
    pub fn join_sql(&mut self, views: &BackupViews) -> Vec<String> {
        let mut unverifiable = Vec::new();
        for tenant in &mut self.tenants {
            let sql = views.tenant(tenant.tenant_id);
            let paths_verifiable = sql
                .archive_dest
                .as_ref()
                .is_none_or(|d| sql_path_verifiable(&d.path))
                && sql
                    .data_backup_dest
                    .as_deref()
                    .is_none_or(sql_path_verifiable);
            let unknown = matches!(
                tenant.storage,
                LiveStorage::NotReadable | LiveStorage::Hidden
            );
            if unknown && !paths_verifiable {
                unverifiable.push(tenant.name.clone());
            } else if unknown {
                tenant.storage = LiveStorage::Known {
                    archive_dest: sql
                        .archive_dest
                        .as_ref()
                        .map(|d| d.path.clone())
                        .unwrap_or_default(),
                    data_dest: sql.data_backup_dest.clone().unwrap_or_default(),
                };
            }
            if tenant.archive_log.is_none() {
                tenant.archive_log = Some(match &sql.archive_log {
                    Some(round)
                        if !matches!(round.status.as_str(), "STOP" | "INTERRUPTED" | "INVALID") =>
                    {
                        round.status.clone()
                    }
                    _ => ARCHIVE_LOG_OFF.to_owned(),
                });
            }
            tenant.sql = Some(sql);
        }
        unverifiable
    }
}

/// True when a destination path from the sys tenant's views can stand for the destination: a
/// file path, or an object-store path that kept its `host`. OceanBase may keep an object-store
/// path without its query string (obshell-api.md §10.6); the base URI such a path gives cannot be
/// compared with the configuration, which must carry a host.
pub fn sql_path_verifiable(path: &str) -> bool {
    if path.is_empty() || path.starts_with("file://") {
        return true;
    }
    let query = path.split_once('?').map_or("", |(_, query)| query);
    query.split('&').any(|pair| {
        pair.split_once('=')
            .is_some_and(|(key, value)| key.eq_ignore_ascii_case("host") && !value.is_empty())
    })
}

/// OceanBase's `binding` when none is set.
const DEFAULT_BINDING: &str = "OPTIONAL";
/// OceanBase's `piece_switch_interval` when none is set.
const DEFAULT_PIECE_SWITCH_INTERVAL: &str = "1d";

/// True when a configured `piece_switch_interval` and the one OceanBase stores mean the same:
/// equal durations, or the stored text is OceanBase's rendering of the configured one (`36h` is
/// stored as `1d`).
pub fn same_piece_switch_interval(configured: &str, stored: &str) -> bool {
    obshell_durations_equal(configured, stored)
        || parse_obshell_duration(configured)
            .is_ok_and(|d| oceanbase_interval_rendering(d).eq_ignore_ascii_case(stored.trim()))
}

/// The value to report for an attribute whose null means OceanBase's default: the state's value
/// when every live value means the same as it (null meaning `default`), else the first live value
/// that differs.
fn fold_defaulted(
    state: &Field<String>,
    live: Vec<String>,
    default: &str,
    same: impl Fn(&str, &str) -> bool,
) -> Field<String> {
    let meaning = match state {
        Field::Known(value) => value.clone(),
        Field::Null => default.to_owned(),
        Field::Unknown => return Field::Unknown,
    };
    match live.into_iter().find(|value| !same(&meaning, value)) {
        Some(differing) => Field::Known(differing),
        None => state.clone(),
    }
}

fn same_policy(state: &DeletePolicyModel, live: &Option<crate::sql::DeletePolicy>) -> bool {
    let Some(live) = live else {
        return false;
    };
    let name = state.policy.known().map_or("default", String::as_str);
    name.eq_ignore_ascii_case(&live.policy)
        && state
            .recovery_window
            .known()
            .is_some_and(|window| obshell_durations_equal(window, &live.recovery_window))
}

/// Folds what the sys tenant's views say into a refreshed state (only when the cluster was read
/// with `sql_endpoint`): `binding` and `piece_switch_interval` (null meaning OceanBase's
/// defaults) and `delete_policy`. A policy the configuration does not manage (null in state) is
/// left alone, except right after an import (`adopt`), which takes it from the cluster.
pub fn fold_sql(
    mut new_state: BackupConfigModel,
    live: &LiveCluster,
    adopt: bool,
) -> BackupConfigModel {
    let tenants = live.sorted_tenants();
    let read: Vec<&TenantBackupSql> = tenants.iter().filter_map(|t| t.sql.as_ref()).collect();
    if read.is_empty() {
        return new_state;
    }
    let dests = || read.iter().filter_map(|sql| sql.archive_dest.as_ref());
    new_state.binding = fold_defaulted(
        &new_state.binding,
        dests().filter_map(|d| d.binding.clone()).collect(),
        DEFAULT_BINDING,
        |left, right| left.eq_ignore_ascii_case(right),
    );
    new_state.piece_switch_interval = fold_defaulted(
        &new_state.piece_switch_interval,
        dests()
            .filter_map(|d| d.piece_switch_interval.clone())
            .collect(),
        DEFAULT_PIECE_SWITCH_INTERVAL,
        same_piece_switch_interval,
    );
    let to_model = |policy: &crate::sql::DeletePolicy| DeletePolicyModel {
        policy: Field::Known(policy.policy.clone()),
        recovery_window: Field::Known(policy.recovery_window.clone()),
    };
    new_state.delete_policy = match &new_state.delete_policy {
        Field::Known(policy) => {
            match read
                .iter()
                .find(|sql| !same_policy(policy, &sql.delete_policy))
            {
                Some(differing) => differing.delete_policy.as_ref().map(to_model).into(),
                None => new_state.delete_policy.clone(),
            }
        }
        Field::Null if adopt => read
            .iter()
            .find_map(|sql| sql.delete_policy.as_ref())
            .map(to_model)
            .into(),
        other => other.clone(),
    };
    new_state
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

/// Tenants that disagree on a read-back attribute: its name and each tenant's value, lowest
/// tenant id first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// The attribute.
    pub attribute: &'static str,
    /// `(tenant, value)`, lowest tenant id first.
    pub values: Vec<(String, String)>,
    /// The value the refreshed state reports.
    pub reported: String,
}

/// One read-back attribute folded stably: when every tenant means the same, as [`fold_values`]
/// does; when they disagree, the value of the lowest tenant id that differs from the reference
/// (kept in private state while the disagreement lasts), so saving the refreshed state does not
/// change what the next refresh reports.
fn fold_stable<T: Clone + ToString>(
    attribute: &'static str,
    state: &Field<T>,
    reference: &mut Option<T>,
    live: Vec<(String, T)>,
    same: impl Fn(&T, &T) -> bool,
    disagreements: &mut Vec<Disagreement>,
) -> Field<T> {
    let Some((_, first)) = live.first() else {
        return state.clone();
    };
    if live.iter().all(|(_, value)| same(first, value)) {
        *reference = None;
        return fold_values(state, live.into_iter().map(|(_, value)| value), same);
    }
    let values = live
        .iter()
        .map(|(tenant, value)| (tenant.clone(), value.to_string()))
        .collect();
    let anchor = reference
        .clone()
        .or_else(|| state.known().cloned())
        .unwrap_or_else(|| first.clone());
    *reference = Some(anchor.clone());
    let differing = live
        .into_iter()
        .map(|(_, value)| value)
        .find(|value| !same(&anchor, value));
    let folded = match differing {
        // The state's spelling when it means the reported value.
        Some(value) if state.known().is_some_and(|current| same(current, &value)) => state.clone(),
        Some(value) => Field::Known(value),
        None => state.clone(),
    };
    disagreements.push(Disagreement {
        attribute,
        values,
        reported: folded
            .known()
            .map_or_else(|| "null".to_owned(), ToString::to_string),
    });
    folded
}

fn integer_field(field: &Field<Number>) -> Field<i64> {
    match field {
        Field::Known(n) => n.as_i64().map_or(Field::Null, Field::Known),
        Field::Null => Field::Null,
        Field::Unknown => Field::Unknown,
    }
}

/// The state's number, kept when the folded value is the same whole number (`4.0` stays `4.0`).
fn keep_number(prior: &Field<Number>, folded: Field<i64>) -> Field<Number> {
    match (integer_field(prior), folded) {
        (Field::Known(a), Field::Known(b)) if a == b => prior.clone(),
        (_, Field::Known(n)) => Field::Known(Number::Int(n)),
        (_, Field::Null) => Field::Null,
        (_, Field::Unknown) => Field::Unknown,
    }
}

/// Folds live data into `state`. `references` holds, per attribute the tenants disagree on, the
/// value they are compared with (from private state); it is updated for the next private state.
/// Also returns where the tenants disagree, for the warning.
pub fn fold_live(
    state: &BackupConfigModel,
    live: &LiveCluster,
    references: &mut ReadReferences,
) -> (ReadOutcome, Vec<Disagreement>) {
    if live.has_no_destination() {
        return (ReadOutcome::Gone, Vec::new());
    }
    let mut disagreements = Vec::new();
    let mut new_state = with_defaults(state.clone());
    new_state.id = Field::Known(live.cluster_id.clone());
    let tenants = live.sorted_tenants();

    if let Some(bases) = live.base_uris() {
        new_state.backup_base_uri = fold_stable(
            "backup_base_uri",
            &state.backup_base_uri,
            &mut references.backup_base_uri,
            bases,
            |left, right| uris_equivalent(left, right),
            &mut disagreements,
        );
    }
    let integers = |pick: fn(&LiveTenant) -> &Option<String>| {
        tenants
            .iter()
            .filter_map(|tenant| parse_integer(pick(tenant)).map(|n| (tenant.name.clone(), n)))
            .collect::<Vec<_>>()
    };
    new_state.log_archive_concurrency = keep_number(
        &state.log_archive_concurrency,
        fold_stable(
            "log_archive_concurrency",
            &integer_field(&state.log_archive_concurrency),
            &mut references.log_archive_concurrency,
            integers(|tenant| &tenant.log_archive_concurrency),
            |a, b| a == b,
            &mut disagreements,
        ),
    );
    new_state.ha_low_thread_score = keep_number(
        &state.ha_low_thread_score,
        fold_stable(
            "ha_low_thread_score",
            &integer_field(&state.ha_low_thread_score),
            &mut references.ha_low_thread_score,
            integers(|tenant| &tenant.ha_low_thread_score),
            |a, b| a == b,
            &mut disagreements,
        ),
    );
    new_state.archive_lag_target = fold_stable(
        "archive_lag_target",
        &state.archive_lag_target,
        &mut references.archive_lag_target,
        tenants
            .iter()
            .filter_map(|tenant| {
                tenant
                    .archive_lag_target
                    .clone()
                    .map(|lag| (tenant.name.clone(), lag))
            })
            .collect(),
        |left, right| obshell_durations_equal(left, right),
        &mut disagreements,
    );
    new_state.tenants = Field::Known(live.tenants_map());
    (ReadOutcome::Present(Box::new(new_state)), disagreements)
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
    state.tenants = match state.tenants {
        Field::Unknown => Field::Known(live.tenants_map()),
        Field::Known(planned) => Field::Known(fill_planned_tenants(planned, &live.tenants_map())),
        Field::Null => Field::Null,
    };
    state.without_unknowns()
}

/// The planned `tenants` (a known map: the plan kept its keys and the fields the change cannot
/// alter) with each unknown field filled from `read`. Terraform requires every known planned
/// value back unchanged, so the map keeps exactly its planned keys: a tenant created since the
/// plan is left out and a dropped one keeps its planned fields (the next refresh shows both, see
/// [`tenants_outside_plan`]); a tenant read under a planned name but with another id (dropped
/// and created again) is not taken for the planned one, so its unknown fields become null.
pub fn fill_planned_tenants(
    planned: BTreeMap<String, TenantModel>,
    read: &BTreeMap<String, TenantModel>,
) -> BTreeMap<String, TenantModel> {
    planned
        .into_iter()
        .map(|(name, tenant)| {
            let same = read.get(&name).filter(|read| match &tenant.tenant_id {
                Field::Known(id) => read.tenant_id.known() == Some(id),
                _ => true,
            });
            let filled = match same {
                Some(read) => tenant.filled_from(read),
                None => tenant.without_unknowns(),
            };
            (name, filled)
        })
        .collect()
}

/// The user tenants that the applied `tenants` cannot show because the planned map fixed its
/// keys: `(created since the plan, gone since the plan)`, by name. Empty when the planned map was
/// unknown (apply then reports the tenants as read).
pub fn tenants_outside_plan(
    planned: &Field<BTreeMap<String, TenantModel>>,
    live: &LiveCluster,
) -> (Vec<String>, Vec<String>) {
    let Field::Known(planned) = planned else {
        return (Vec::new(), Vec::new());
    };
    let read = live.tenants_map();
    let same = |name: &String, tenant: &TenantModel| {
        read.get(name).is_some_and(|read| {
            tenant.tenant_id.known().is_none() || read.tenant_id == tenant.tenant_id
        })
    };
    let created = read
        .iter()
        .filter(|(name, read)| {
            planned.get(*name).is_none_or(|tenant| {
                tenant
                    .tenant_id
                    .known()
                    .is_some_and(|id| read.tenant_id.known() != Some(id))
            })
        })
        .map(|(name, _)| name.clone())
        .collect();
    let gone = planned
        .iter()
        .filter(|(name, tenant)| !same(name, tenant))
        .map(|(name, _)| name.clone())
        .collect();
    (created, gone)
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
            sql: None,
            archive_log: Some("DOING".to_owned()),
            disagreeing: BTreeMap::new(),
        }
    }

    fn cluster(tenants: Vec<LiveTenant>) -> LiveCluster {
        LiveCluster {
            cluster_id: "1726".to_owned(),
            tenants,
            skipped: Vec::new(),
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

    fn fold_live(state: &BackupConfigModel, live: &LiveCluster) -> ReadOutcome {
        super::fold_live(state, live, &mut ReadReferences::default()).0
    }

    fn present(outcome: ReadOutcome) -> BackupConfigModel {
        match outcome {
            ReadOutcome::Present(model) => *model,
            ReadOutcome::Gone => panic!("expected the resource to be present"),
        }
    }

    #[test]
    fn tenants_outside_the_plan_are_only_those_created_or_gone_since() {
        let live = cluster(vec![
            tenant("t1", 1002, "4", "2m", None),
            tenant("t2", 1004, "4", "2m", None),
        ]);
        let planned = |tenants: &[(&str, i64)]| {
            Field::Known(
                tenants
                    .iter()
                    .map(|(name, id)| {
                        let mut planned = live.tenants_map()["t1"].clone();
                        planned.tenant_id = Field::Known(*id);
                        ((*name).to_owned(), planned)
                    })
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let none = (Vec::<String>::new(), Vec::<String>::new());
        assert_eq!(
            tenants_outside_plan(&planned(&[("t1", 1002), ("t2", 1004)]), &live),
            none
        );
        assert_eq!(tenants_outside_plan(&Field::Unknown, &live), none);
        assert_eq!(
            tenants_outside_plan(&planned(&[("t1", 1002)]), &live),
            (vec!["t2".to_owned()], vec![])
        );
        assert_eq!(
            tenants_outside_plan(&planned(&[("t1", 1002), ("t2", 1004), ("t3", 1006)]), &live),
            (vec![], vec!["t3".to_owned()])
        );
        // t2 dropped and created again: gone as planned, created as read.
        assert_eq!(
            tenants_outside_plan(&planned(&[("t1", 1002), ("t2", 1008)]), &live),
            (vec!["t2".to_owned()], vec!["t2".to_owned()])
        );
    }

    #[test]
    fn a_whole_number_keeps_the_states_spelling() {
        let four = Field::Known(Number::Float(4.0));
        assert_eq!(keep_number(&four, Field::Known(4)), four);
        assert_eq!(
            keep_number(&four, Field::Known(5)),
            Field::Known(Number::Int(5))
        );
        assert_eq!(keep_number(&four, Field::Null), Field::Null);
    }

    #[test]
    fn a_planned_tenant_is_filled_only_from_the_tenant_with_its_id() {
        let tenant = |id: i64, log_archive_concurrency: Field<i64>| TenantModel {
            log_archive_concurrency,
            ..TenantModel::null_with_id(id)
        };
        let planned_tenant = |id: i64| tenant(id, Field::Unknown);
        let read_tenant = |id: i64| tenant(id, Field::Known(8));
        let planned = BTreeMap::from([("t1".to_owned(), planned_tenant(1002))]);
        // The same tenant: its unknown fields are what was read.
        let same = BTreeMap::from([("t1".to_owned(), read_tenant(1002))]);
        let filled = fill_planned_tenants(planned.clone(), &same);
        assert_eq!(filled["t1"].log_archive_concurrency, Field::Known(8));
        assert_eq!(filled["t1"].tenant_id, Field::Known(1002));
        // Dropped and created again under the name: not the planned tenant, nothing is taken.
        let recreated = BTreeMap::from([("t1".to_owned(), read_tenant(1003))]);
        let filled = fill_planned_tenants(planned, &recreated);
        assert_eq!(filled["t1"].log_archive_concurrency, Field::Null);
        assert_eq!(filled["t1"].tenant_id, Field::Known(1002));
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
        assert_eq!(
            tenants["t1"].archive_lag_target.known().map(String::as_str),
            Some("120s")
        );
        assert_eq!(
            tenants["t2"].archive_dest.known().map(String::as_str),
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
            assert_eq!(tenants["t1"].archive_dest, Field::Null);
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

    fn with_sql(
        mut live_tenant: LiveTenant,
        binding: &str,
        interval: &str,
        window: Option<&str>,
    ) -> LiveTenant {
        let path = match &live_tenant.storage {
            LiveStorage::Known { archive_dest, .. } => archive_dest.clone(),
            _ => String::new(),
        };
        live_tenant.sql = Some(TenantBackupSql {
            archive_dest: Some(crate::sql::ArchiveDest {
                path,
                binding: Some(binding.to_owned()),
                piece_switch_interval: Some(interval.to_owned()),
                state: Some("ENABLE".to_owned()),
            }),
            data_backup_dest: None,
            delete_policy: window.map(|w| crate::sql::DeletePolicy {
                policy: "default".to_owned(),
                recovery_window: w.to_owned(),
            }),
            archive_log: None,
        });
        live_tenant
    }

    fn managed_state() -> BackupConfigModel {
        let mut state = state();
        state.binding = Field::Known("optional".to_owned());
        state.piece_switch_interval = Field::Known("36h".to_owned());
        state.delete_policy = Field::Known(DeletePolicyModel {
            policy: Field::Known("default".to_owned()),
            recovery_window: Field::Known("7d".to_owned()),
        });
        state
    }

    #[test]
    fn sql_values_that_mean_the_state_keep_its_spelling() {
        let live = cluster(vec![
            with_sql(
                tenant("t1", 1002, "4", "2m", Some("file:///data/backup")),
                "OPTIONAL",
                "1d",
                Some("168h"),
            ),
            with_sql(
                tenant("t2", 1004, "4", "2m", Some("file:///data/backup")),
                "OPTIONAL",
                "1d",
                Some("7d"),
            ),
        ]);
        assert_eq!(fold_sql(managed_state(), &live, false), managed_state());
        // Null means OceanBase's defaults; a cluster at the defaults keeps null.
        let live = cluster(vec![with_sql(
            tenant("t1", 1002, "4", "2m", Some("file:///data/backup")),
            "OPTIONAL",
            "1d",
            None,
        )]);
        let folded = fold_sql(state(), &live, false);
        assert!(folded.binding.is_null() && folded.piece_switch_interval.is_null());
        // Without the SQL read nothing changes.
        let plain = cluster(vec![tenant(
            "t1",
            1002,
            "4",
            "2m",
            Some("file:///data/backup"),
        )]);
        let mut drifted = managed_state();
        drifted.binding = Field::Known("mandatory".to_owned());
        assert_eq!(fold_sql(drifted.clone(), &plain, false), drifted);
    }

    #[test]
    fn sql_drift_reports_the_lowest_differing_tenant() {
        let live = cluster(vec![
            with_sql(
                tenant("t2", 1004, "4", "2m", Some("file:///data/backup")),
                "MANDATORY",
                "3d",
                None,
            ),
            with_sql(
                tenant("t1", 1002, "4", "2m", Some("file:///data/backup")),
                "OPTIONAL",
                "2d",
                Some("3d"),
            ),
        ]);
        let folded = fold_sql(managed_state(), &live, false);
        assert_eq!(folded.binding, Field::Known("MANDATORY".to_owned()));
        assert_eq!(folded.piece_switch_interval, Field::Known("2d".to_owned()));
        assert_eq!(
            folded
                .delete_policy
                .known()
                .and_then(|p| p.recovery_window.known().cloned()),
            Some("3d".to_owned())
        );
        // A dropped policy is null in state (apply sends it again).
        let dropped = cluster(vec![with_sql(
            tenant("t1", 1002, "4", "2m", Some("file:///data/backup")),
            "OPTIONAL",
            "1d",
            None,
        )]);
        assert!(fold_sql(managed_state(), &dropped, false)
            .delete_policy
            .is_null());
        // A MANDATORY cluster against a configuration that leaves binding unset is drift too.
        let mandatory = cluster(vec![with_sql(
            tenant("t1", 1002, "4", "2m", Some("file:///data/backup")),
            "MANDATORY",
            "1d",
            None,
        )]);
        assert_eq!(
            fold_sql(state(), &mandatory, false).binding,
            Field::Known("MANDATORY".to_owned())
        );
    }

    #[test]
    fn an_unmanaged_policy_is_adopted_only_on_import() {
        let live = cluster(vec![with_sql(
            tenant("t1", 1002, "4", "2m", Some("file:///data/backup")),
            "OPTIONAL",
            "1d",
            Some("7d"),
        )]);
        assert!(fold_sql(state(), &live, false).delete_policy.is_null());
        let adopted = fold_sql(state(), &live, true);
        assert_eq!(
            adopted
                .delete_policy
                .known()
                .and_then(|p| p.recovery_window.known().cloned()),
            Some("7d".to_owned())
        );
    }

    #[test]
    fn tenants_that_disagree_report_the_differing_value_in_the_states_spelling() {
        let same = |a: &String, b: &String| obshell_durations_equal(a, b);
        let live = || {
            vec![
                ("t1".to_owned(), "1m".to_owned()),
                ("t2".to_owned(), "120s".to_owned()),
            ]
        };
        let mut reference = Some("1m".to_owned());
        let mut disagreements = Vec::new();
        let mut fold = |state: &Field<String>, disagreements: &mut Vec<_>| {
            fold_stable(
                "archive_lag_target",
                state,
                &mut reference,
                live(),
                same,
                disagreements,
            )
        };
        // t2 differs from the reference; the state says the same as t2 in its own spelling.
        let state = Field::Known("2m".to_owned());
        assert_eq!(fold(&state, &mut disagreements), state);
        assert_eq!(disagreements[0].reported, "2m");
        // A state that means something else reports t2's value as read.
        let other = Field::Known("5m".to_owned());
        assert_eq!(
            fold(&other, &mut disagreements),
            Field::Known("120s".to_owned())
        );
    }

    #[test]
    fn an_ended_archive_log_round_in_the_views_reads_as_off() {
        for (status, expected) in [
            ("DOING", "DOING"),
            ("STOPPING", "STOPPING"),
            ("STOP", ARCHIVE_LOG_OFF),
            ("INTERRUPTED", ARCHIVE_LOG_OFF),
            ("INVALID", ARCHIVE_LOG_OFF),
        ] {
            let mut unread = tenant("t1", 1002, "4", "2m", Some("file:///data/backup"));
            unread.archive_log = None;
            let mut live = cluster(vec![unread]);
            let mut views = BackupViews::default();
            views.tenants.insert(
                1002,
                TenantBackupSql {
                    archive_dest: None,
                    data_backup_dest: None,
                    delete_policy: None,
                    archive_log: Some(crate::sql::ArchiveLog {
                        status: status.to_owned(),
                    }),
                },
            );
            live.join_sql(&views);
            assert_eq!(
                live.tenants[0].archive_log.as_deref(),
                Some(expected),
                "{status}"
            );
        }
    }

    /// Tenant t1 (id 1002), whose destination obshell hides, and views showing it at these
    /// archive and data paths.
    fn hidden_with_views(archive: &str, data: &str) -> (LiveCluster, BackupViews) {
        let mut hidden = tenant("t1", 1002, "4", "2m", None);
        hidden.storage = LiveStorage::Hidden;
        let mut views = BackupViews::default();
        views.tenants.insert(
            1002,
            TenantBackupSql {
                archive_dest: Some(crate::sql::ArchiveDest {
                    path: archive.to_owned(),
                    binding: Some("OPTIONAL".to_owned()),
                    piece_switch_interval: Some("1d".to_owned()),
                    state: None,
                }),
                data_backup_dest: Some(data.to_owned()),
                delete_policy: None,
                archive_log: None,
            },
        );
        (cluster(vec![hidden]), views)
    }

    #[test]
    fn one_query_less_object_store_path_in_the_views_leaves_the_destination_unverifiable() {
        let with_host = "oss://b/k/1726/1002/clog?host=h";
        let without = "oss://b/k/1726/1002/data";
        for (archive, data, unverifiable) in [
            (with_host, without, true),
            (without, "oss://b/k/1726/1002/data?host=h", true),
            (with_host, "oss://b/k/1726/1002/data?host=h", false),
        ] {
            let (mut live, views) = hidden_with_views(archive, data);
            let expected: &[&str] = if unverifiable { &["t1"] } else { &[] };
            assert_eq!(live.join_sql(&views), expected, "{archive} {data}");
        }
    }

    #[test]
    fn a_query_less_object_store_path_in_the_views_is_unverifiable_not_drift() {
        let (mut live, views) = hidden_with_views(
            "oss://b/k/1726/1002/clog?checksum_type=md5",
            "oss://b/k/1726/1002/data",
        );
        assert_eq!(live.join_sql(&views), ["t1"]);
        assert_eq!(live.tenants[0].storage, LiveStorage::Hidden);
        let mut configured = state();
        configured.backup_base_uri = Field::Known("oss://b/k?host=h".to_owned());
        let new_state = present(fold_live(&configured, &live));
        assert_eq!(new_state.backup_base_uri, configured.backup_base_uri);
        assert!(sql_path_verifiable(
            "oss://b/k/1726/1002/clog?host=h&checksum_type=md5"
        ));
        assert!(sql_path_verifiable("file:///data/backup/1726/1002/clog"));
        assert!(!sql_path_verifiable("s3://b/k/1726/1002/clog?host="));
    }

    #[test]
    fn sql_fills_destinations_obshell_cannot_show() {
        let mut old = tenant("t1", 1002, "4", "2m", None);
        old.storage = LiveStorage::NotReadable;
        let mut live = cluster(vec![old]);
        let mut views = BackupViews::default();
        views.tenants.insert(
            1002,
            TenantBackupSql {
                archive_dest: Some(crate::sql::ArchiveDest {
                    path: "file:///elsewhere/1726/1002/clog".to_owned(),
                    binding: Some("OPTIONAL".to_owned()),
                    piece_switch_interval: Some("1d".to_owned()),
                    state: None,
                }),
                data_backup_dest: Some("file:///elsewhere/1726/1002/data".to_owned()),
                delete_policy: None,
                archive_log: None,
            },
        );
        live.join_sql(&views);
        let new_state = present(fold_live(&state(), &live));
        assert_eq!(
            new_state.backup_base_uri,
            Field::Known("file:///elsewhere".to_owned())
        );
        let tenants = new_state.tenants.known().expect("tenants");
        assert_eq!(
            tenants["t1"].binding.known().map(String::as_str),
            Some("OPTIONAL")
        );
        assert!(same_piece_switch_interval("36h", "1d") && same_piece_switch_interval("24H", "1d"));
        assert!(!same_piece_switch_interval("2d", "1d"));
    }
}

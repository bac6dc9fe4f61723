//! Read-after-write lag (obshell-api.md §10.4), as pure functions over [`LiveCluster`];
//! [`super::ops`] drives the re-reads.
//!
//! OceanBase spreads a tenant parameter change to its servers asynchronously, and obshell reads
//! parameters with `SELECT DISTINCT ... FROM GV$OB_PARAMETERS` (one row per server, made
//! distinct). For a while after a change a read shows one row per value (the servers disagree),
//! or, before any server has it, the old value only. Neither is drift:
//!
//! - **Servers that disagree** are always a change on its way: a tenant parameter has one value
//!   in OceanBase, and servers differ only until it has spread. A refresh reads again (with
//!   backoff, bounded by `timeouts.read`); if they still disagree, it keeps the value the state
//!   holds for that tenant when some server shows it, and warns with every value. When no server
//!   shows the state's value, every server differs from the state: drift, reported with the first
//!   value in sorted order (so the same answer always gives the same state).
//! - **A write that reached no server yet**: after a write that succeeded, the apply's read-back
//!   records each parameter that a tenant showed on no server ([`UnarrivedWrite`], with the
//!   values it showed instead). A refresh within [`SETTLE_WINDOW`] of that write which still
//!   sees only those old values reads again, then, if the window has not closed, keeps the
//!   written value and warns. Any other value (someone set it since), or the old value after the
//!   window, is drift. A parameter that showed the written value on some server at read-back
//!   needs no record: servers never go back to the old value by themselves.
//!
//! After a successful write the apply reports what it sent for the tenants the write reached
//! ([`after_write`]), never the old values its read-back may still show.

use std::time::Duration;

use crate::obshell::BACKUP_PARAMETER_NAMES;
use crate::tf::{Diagnostic, Number};

use super::duration::obshell_durations_equal;
use super::model::{BackupConfigModel, Field};
use super::private::UnarrivedWrite;
use super::read::{LiveCluster, LiveTenant};

/// How long after a write an old value on every server of a tenant is still taken for the write
/// on its way rather than for drift. OceanBase spreads a parameter change within seconds; this
/// leaves room for a loaded cluster without hiding a real change for long.
pub const SETTLE_WINDOW: Duration = Duration::from_secs(60);
/// The first pause between re-reads; it doubles up to [`MAX_PAUSE`].
pub const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between re-reads.
pub const MAX_PAUSE: Duration = Duration::from_secs(2);
/// How long a refresh waits for lag to end when `timeouts.read` is not set.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// How long a refresh may spend re-reading while lag lasts: three quarters of a configured
/// `timeouts.read` (the rest is for the last read), else [`DEFAULT_WAIT`].
pub fn wait_bound(configured_read_timeout: Option<Duration>) -> Duration {
    configured_read_timeout.map_or(DEFAULT_WAIT, |limit| limit * 3 / 4)
}

/// One parameter of one tenant that a read shows unsettled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsettled {
    /// The tenant name.
    pub tenant: String,
    /// The tenant id.
    pub tenant_id: i64,
    /// The parameter, as obshell names it.
    pub parameter: &'static str,
    /// Every value its servers showed, sorted.
    pub values: Vec<String>,
    /// For a write that reached no server yet: the value written. `None`: the servers disagree.
    pub unarrived: Option<String>,
}

/// What a settled parameter reports, for the warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// What was unsettled.
    pub unsettled: Unsettled,
    /// The value the read now reports for the tenant.
    pub reported: String,
    /// The state keeps its value (lag); false when every server differs from the state (drift).
    pub kept: bool,
}

fn value_of<'a>(tenant: &'a LiveTenant, name: &str) -> &'a Option<String> {
    match name {
        "log_archive_concurrency" => &tenant.log_archive_concurrency,
        "ha_low_thread_score" => &tenant.ha_low_thread_score,
        _ => &tenant.archive_lag_target,
    }
}

fn value_mut<'a>(tenant: &'a mut LiveTenant, name: &str) -> &'a mut Option<String> {
    match name {
        "log_archive_concurrency" => &mut tenant.log_archive_concurrency,
        "ha_low_thread_score" => &mut tenant.ha_low_thread_score,
        _ => &mut tenant.archive_lag_target,
    }
}

/// Whether two stored values mean the same: whole numbers for the integer parameters, durations
/// for `archive_lag_target` (`2m` is `120s`).
pub fn same_value(name: &str, left: &str, right: &str) -> bool {
    if name == "archive_lag_target" {
        return obshell_durations_equal(left, right);
    }
    match (left.trim().parse::<i64>(), right.trim().parse::<i64>()) {
        (Ok(left), Ok(right)) => left == right,
        _ => left.trim() == right.trim(),
    }
}

/// Every value the tenant's servers showed for `name`, sorted; empty when it has no such
/// parameter.
fn values_shown(tenant: &LiveTenant, name: &str) -> Vec<String> {
    tenant
        .disagreeing
        .get(name)
        .cloned()
        .unwrap_or_else(|| value_of(tenant, name).iter().cloned().collect())
}

/// True while `now_unix_ms` is within [`SETTLE_WINDOW`] of the write (a provider clock that went
/// back counts as within).
pub fn within_window(record: &UnarrivedWrite, now_unix_ms: i64) -> bool {
    now_unix_ms.saturating_sub(record.at_unix_ms) < SETTLE_WINDOW.as_millis() as i64
}

/// What `live` shows unsettled, in tenant-id order: parameters the servers disagree on, and
/// written parameters (`records`, within [`SETTLE_WINDOW`] at `now_unix_ms`) that a tenant
/// still shows on no server, with only the values it showed before.
pub fn unsettled(
    live: &LiveCluster,
    records: &[UnarrivedWrite],
    now_unix_ms: i64,
) -> Vec<Unsettled> {
    let mut tenants: Vec<&LiveTenant> = live.tenants.iter().collect();
    tenants.sort_by_key(|tenant| tenant.tenant_id);
    let mut found = Vec::new();
    for tenant in tenants {
        for name in BACKUP_PARAMETER_NAMES {
            let unsettled = |values: Vec<String>, unarrived: Option<String>| Unsettled {
                tenant: tenant.name.clone(),
                tenant_id: tenant.tenant_id,
                parameter: name,
                values,
                unarrived,
            };
            if let Some(values) = tenant.disagreeing.get(name) {
                found.push(unsettled(values.clone(), None));
                continue;
            }
            let Some(shown) = value_of(tenant, name) else {
                continue;
            };
            let record = records.iter().find(|record| {
                record.tenant_id == tenant.tenant_id
                    && record.parameter == name
                    && within_window(record, now_unix_ms)
            });
            if let Some(record) = record {
                let old = !same_value(name, &record.written, shown)
                    && record
                        .before
                        .iter()
                        .any(|before| same_value(name, before, shown));
                if old {
                    found.push(unsettled(vec![shown.clone()], Some(record.written.clone())));
                }
            }
        }
    }
    found
}

/// The records that `found` (the last read's [`unsettled`]) still shows unarrived: the rest
/// arrived, were overwritten since, or are out of the window, and are forgotten.
pub fn still_unarrived(found: &[Unsettled], records: &[UnarrivedWrite]) -> Vec<UnarrivedWrite> {
    records
        .iter()
        .filter(|record| {
            found.iter().any(|u| {
                u.unarrived.is_some()
                    && u.tenant_id == record.tenant_id
                    && u.parameter == record.parameter
            })
        })
        .cloned()
        .collect()
}

/// The value `state` holds for `name` on `tenant`: its `tenants` entry, else the top-level value.
fn state_values(state: &BackupConfigModel, tenant: &str, name: &str) -> Vec<String> {
    let mut values = Vec::new();
    if let Some(entry) = state
        .tenants
        .known()
        .and_then(|tenants| tenants.get(tenant))
    {
        let value = match name {
            "log_archive_concurrency" => entry.log_archive_concurrency.known().map(i64::to_string),
            "ha_low_thread_score" => entry.ha_low_thread_score.known().map(i64::to_string),
            _ => entry.archive_lag_target.known().cloned(),
        };
        values.extend(value);
    }
    let number = |field: &Field<Number>| {
        field
            .known()
            .and_then(Number::as_i64)
            .map(|n| n.to_string())
    };
    let top = match name {
        "log_archive_concurrency" => number(&state.log_archive_concurrency),
        "ha_low_thread_score" => number(&state.ha_low_thread_score),
        _ => state.archive_lag_target.known().cloned(),
    };
    values.extend(top);
    values
}

/// Settles what [`unsettled`] found in `live`, so that the fold sees one value per tenant and
/// parameter: a write that reached no server yet reports the written value; servers that
/// disagree report the state's value for the tenant when one of them shows it, else the first
/// value in sorted order (drift). Every other disagreement left in `live` (none, when `found`
/// came from it) is settled the same way.
pub fn settle(
    live: &mut LiveCluster,
    found: &[Unsettled],
    state: &BackupConfigModel,
) -> Vec<Settled> {
    let mut settled = Vec::new();
    for u in found {
        let Some(tenant) = live.tenants.iter_mut().find(|t| t.tenant_id == u.tenant_id) else {
            continue;
        };
        let (reported, kept) = match &u.unarrived {
            Some(written) => (written.clone(), true),
            None => pick(
                &u.values,
                &state_values(state, &u.tenant, u.parameter),
                u.parameter,
            ),
        };
        *value_mut(tenant, u.parameter) = Some(reported.clone());
        tenant.disagreeing.remove(u.parameter);
        settled.push(Settled {
            unsettled: u.clone(),
            reported,
            kept,
        });
    }
    // Disagreements `found` did not come from (it is empty when the caller does not wait).
    let rest = unsettled(live, &[], 0);
    if !rest.is_empty() {
        settled.extend(settle(live, &rest, state));
    }
    settled
}

/// The state's value among `values` (kept), else the first value (sorted: drift).
fn pick(values: &[String], state: &[String], name: &str) -> (String, bool) {
    for wanted in state {
        if let Some(value) = values.iter().find(|v| same_value(name, wanted, v)) {
            return (value.clone(), true);
        }
    }
    (values.first().cloned().unwrap_or_default(), false)
}

/// After a write that succeeded: each tenant it reached (`reached`, by id; `None`: every tenant
/// read) reports the values it sent (`sent`: parameter and value as sent), whatever its servers
/// show yet. Returns the records of the parameters no server of a tenant showed yet, written at
/// `now_unix_ms`. A tenant without the parameter (an OceanBase release that lacks it) is left
/// as read.
pub fn after_write(
    live: &mut LiveCluster,
    reached: Option<&[i64]>,
    sent: &[(&'static str, String)],
    now_unix_ms: i64,
) -> Vec<UnarrivedWrite> {
    let mut records = Vec::new();
    for tenant in &mut live.tenants {
        if reached.is_some_and(|ids| !ids.contains(&tenant.tenant_id)) {
            continue;
        }
        for (name, written) in sent {
            let shown = values_shown(tenant, name);
            if shown.is_empty() {
                continue;
            }
            if !shown.iter().any(|value| same_value(name, written, value)) {
                records.push(UnarrivedWrite {
                    tenant_id: tenant.tenant_id,
                    parameter: (*name).to_owned(),
                    written: written.clone(),
                    before: shown,
                    at_unix_ms: now_unix_ms,
                });
            }
            *value_mut(tenant, name) = Some(written.clone());
            tenant.disagreeing.remove(*name);
        }
    }
    records
}

/// The warning for what [`settle`] settled after a refresh's re-reads: every tenant, parameter
/// and value seen, and what the state reports.
pub fn still_settling_warning(
    settled: &[Settled],
    waited: Duration,
    bound: Duration,
) -> Option<Diagnostic> {
    if settled.is_empty() {
        return None;
    }
    let lines: Vec<String> = settled
        .iter()
        .map(|s| {
            let u = &s.unsettled;
            let shown = u
                .values
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(" and ");
            match (&u.unarrived, s.kept) {
                (Some(written), _) => format!(
                    "{} {}: every server still shows {shown}; the last apply wrote {written:?}, which the state keeps",
                    u.tenant, u.parameter
                ),
                (None, true) => format!(
                    "{} {}: servers show {shown}; the state keeps {:?}",
                    u.tenant, u.parameter, s.reported
                ),
                (None, false) => format!(
                    "{} {}: servers show {shown}, none the state's value; the state reports {:?}",
                    u.tenant, u.parameter, s.reported
                ),
            }
        })
        .collect();
    Some(Diagnostic::warning(
        "Parameter change still spreading",
        format!(
            "OceanBase has not applied these tenant parameters on every server yet (obshell reads one row per server):\n  {}\nThe refresh read the cluster again for {:.1} s (at most {:.0} s, from timeouts.read) and the servers did not settle. Where a server still shows the state's value, or the last apply's write has not reached any server within {} s of it, the state keeps its value instead of reporting drift; refresh again later to compare settled values. A value that still differs once the servers agree is drift.",
            lines.join("\n  "),
            waited.as_secs_f64(),
            bound.as_secs_f64(),
            SETTLE_WINDOW.as_secs(),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::resources::backup_config::read::LiveStorage;

    fn tenant(name: &str, id: i64, lag: &str, disagreeing: &[(&str, &[&str])]) -> LiveTenant {
        LiveTenant {
            name: name.to_owned(),
            tenant_id: id,
            log_archive_concurrency: Some("4".to_owned()),
            ha_low_thread_score: Some("10".to_owned()),
            archive_lag_target: Some(lag.to_owned()),
            storage: LiveStorage::NotReadable,
            sql: None,
            archive_log: None,
            disagreeing: disagreeing
                .iter()
                .map(|(name, values)| {
                    (
                        (*name).to_owned(),
                        values.iter().map(|v| (*v).to_owned()).collect(),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn cluster(tenants: Vec<LiveTenant>) -> LiveCluster {
        LiveCluster {
            cluster_id: "1".to_owned(),
            tenants,
            skipped: Vec::new(),
        }
    }

    fn record(tenant_id: i64, written: &str, before: &str) -> UnarrivedWrite {
        UnarrivedWrite {
            tenant_id,
            parameter: "archive_lag_target".to_owned(),
            written: written.to_owned(),
            before: vec![before.to_owned()],
            at_unix_ms: 1_000_000,
        }
    }

    fn state(lag: &str) -> BackupConfigModel {
        let mut state = BackupConfigModel::empty();
        state.archive_lag_target = Field::Known(lag.to_owned());
        state.log_archive_concurrency = Field::Known(Number::Int(4));
        state
    }

    #[test]
    fn the_apply_reports_what_it_sent_and_records_what_reached_no_server() {
        let mut live = cluster(vec![
            tenant("t1", 1002, "120s", &[]),
            tenant(
                "t2",
                1004,
                "120s",
                &[("archive_lag_target", &["120s", "5m"])],
            ),
            tenant("t9", 1010, "120s", &[]),
        ]);
        let sent = [("archive_lag_target", "5m".to_owned())];
        let records = after_write(&mut live, Some(&[1002, 1004]), &sent, 7);
        assert_eq!(
            records,
            [UnarrivedWrite {
                at_unix_ms: 7,
                ..record(1002, "5m", "120s")
            }]
        );
        let shown: Vec<_> = live
            .tenants
            .iter()
            .map(|t| (t.archive_lag_target.as_deref(), t.disagreeing.is_empty()))
            .collect();
        // t9 was not reached: what it shows stays.
        assert_eq!(
            shown,
            [(Some("5m"), true), (Some("5m"), true), (Some("120s"), true)]
        );
        // A value shown in another spelling arrived.
        let mut live = cluster(vec![tenant("t1", 1002, "300s", &[])]);
        assert!(after_write(&mut live, None, &sent, 7).is_empty());
    }

    #[test]
    fn an_old_value_within_the_window_is_lag_and_anything_else_is_not() {
        let records = [record(1002, "5m", "120s")];
        let old = cluster(vec![tenant("t1", 1002, "2m", &[])]);
        let found = unsettled(&old, &records, 1_000_000 + 59_000);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].unarrived.as_deref(), Some("5m"));
        assert_eq!(still_unarrived(&found, &records), records);
        // After the window, the old value is drift.
        assert!(unsettled(&old, &records, 1_000_000 + 60_000).is_empty());
        // A value nobody showed before the write was set since: drift at once.
        let other = cluster(vec![tenant("t1", 1002, "9m", &[])]);
        assert!(unsettled(&other, &records, 1_000_000).is_empty());
        // Arrived: settled, and the record is forgotten.
        let arrived = cluster(vec![tenant("t1", 1002, "5m", &[])]);
        let found = unsettled(&arrived, &records, 1_000_000);
        assert!(found.is_empty());
        assert!(still_unarrived(&found, &records).is_empty());
    }

    #[test]
    fn disagreeing_servers_keep_the_state_value_when_one_shows_it_else_report_drift() {
        let mut live = cluster(vec![
            tenant(
                "t1",
                1002,
                "120s",
                &[("archive_lag_target", &["120s", "5m"])],
            ),
            tenant("t2", 1004, "1m", &[("archive_lag_target", &["1m", "9m"])]),
        ]);
        let found = unsettled(&live, &[], 0);
        assert_eq!(found.len(), 2);
        let settled = settle(&mut live, &found, &state("2m"));
        assert_eq!(live.tenants[0].archive_lag_target.as_deref(), Some("120s"));
        assert_eq!(live.tenants[1].archive_lag_target.as_deref(), Some("1m"));
        assert_eq!(
            settled.iter().map(|s| s.kept).collect::<Vec<_>>(),
            [true, false]
        );
        assert!(live.tenants.iter().all(|t| t.disagreeing.is_empty()));
        // The state's entry for the tenant counts before the top-level value.
        let mut with_entry = state("9m");
        with_entry.tenants =
            Field::Known(cluster(vec![tenant("t2", 1004, "9m", &[])]).tenants_map());
        let mut live = cluster(vec![tenant(
            "t2",
            1004,
            "1m",
            &[("archive_lag_target", &["1m", "9m"])],
        )]);
        settle(&mut live, &[], &with_entry);
        assert_eq!(live.tenants[0].archive_lag_target.as_deref(), Some("9m"));
        let warning =
            still_settling_warning(&settled, Duration::from_secs(3), Duration::from_secs(30))
                .expect("a warning");
        assert!(
            warning
                .detail
                .contains("t1 archive_lag_target: servers show \"120s\" and \"5m\""),
            "{}",
            warning.detail
        );
        assert!(
            warning
                .detail
                .contains("none the state's value; the state reports \"1m\""),
            "{}",
            warning.detail
        );
    }

    #[test]
    fn the_wait_is_bounded_by_timeouts_read() {
        assert_eq!(wait_bound(None), DEFAULT_WAIT);
        assert_eq!(
            wait_bound(Some(Duration::from_secs(4))),
            Duration::from_secs(3)
        );
    }
}

//! Archive log that this resource's own write left stopped stays visible (issue 8 item 9).
//!
//! obshell stops archive log on every user tenant when a change carries `backup_base_uri` or
//! `log_archive_concurrency`. The provider reopens it on the tenants that were archiving before,
//! unless `restore_archive_log` is false, the reopen fails, or the write was not seen to succeed.
//! Those tenants are recorded in private state ([`StoppedArchiveLog`]) and every refresh (so every
//! plan) warns, naming them with the SQL that reopens archive log, until a read shows them
//! archiving again (`BEGINNING` or `DOING`; `PREPARE` is still opening) or they are gone.
//!
//! Which tenants were archiving: obshell 4.3.2 or later reports it before the write. Before
//! 4.3.2 the provider uses what the last refresh read into `tenants[*].archive_log` (with
//! `sql_endpoint`, from `CDB_OB_ARCHIVELOG`); without `sql_endpoint` nothing says, so nothing is
//! recorded and only the apply's own warning says that archive log may be stopped.

use crate::tf::Diagnostic;

use super::model::BackupConfigModel;
use super::private::StoppedArchiveLog;
use super::read::LiveCluster;

/// Statuses of a round that mean "archiving" when asking which tenants were archiving before a
/// write (obshell's own check, `PATCH .../backup/log`, treats these as open).
const ARCHIVING: [&str; 3] = ["PREPARE", "BEGINNING", "DOING"];
/// Statuses that end the record: the round has begun again.
const ARCHIVING_AGAIN: [&str; 2] = ["BEGINNING", "DOING"];

/// Adds `stopped` to `record` (keeping its order, without duplicates).
pub fn record(record: &mut Option<StoppedArchiveLog>, stopped: &[String]) {
    if stopped.is_empty() {
        return;
    }
    let entry = record.get_or_insert_with(StoppedArchiveLog::default);
    for tenant in stopped {
        if !entry.tenants.contains(tenant) {
            entry.tenants.push(tenant.clone());
        }
    }
}

/// The tenants that were archiving before a write, as the prior state's `tenants[*].archive_log`
/// last read them, lowest tenant id first; `None` when it read no tenant's status (obshell before
/// 4.3.2 without `sql_endpoint`).
pub fn archiving_in_state(prior: Option<&BackupConfigModel>) -> Option<Vec<String>> {
    let tenants = prior?.tenants.known()?;
    let mut read: Vec<(i64, &String, &String)> = tenants
        .iter()
        .filter_map(|(name, tenant)| {
            let status = tenant.archive_log.known()?;
            Some((*tenant.tenant_id.known().unwrap_or(&i64::MAX), name, status))
        })
        .collect();
    if read.is_empty() {
        return None;
    }
    read.sort();
    Some(
        read.into_iter()
            .filter(|(_, _, status)| ARCHIVING.contains(&status.as_str()))
            .map(|(_, name, _)| name.clone())
            .collect(),
    )
}

/// After a read of the cluster: forgets the tenants read archiving again and the tenants no longer
/// listed (dropped); keeps the tenants skipped (not NORMAL) or whose status cannot be read.
pub fn after_read(record: &mut Option<StoppedArchiveLog>, live: &LiveCluster) {
    let Some(entry) = record.as_mut() else {
        return;
    };
    entry.tenants.retain(
        |name| match live.tenants.iter().find(|tenant| tenant.name == *name) {
            Some(tenant) => !tenant
                .archive_log
                .as_deref()
                .is_some_and(|status| ARCHIVING_AGAIN.contains(&status)),
            None => live.skipped.contains(name),
        },
    );
    if entry.tenants.is_empty() {
        *record = None;
    }
}

/// The warning while the record names tenants: each with its status as read, and the SQL that
/// reopens archive log on exactly them.
pub fn still_stopped_warning(
    record: &Option<StoppedArchiveLog>,
    live: &LiveCluster,
) -> Option<Diagnostic> {
    let entry = record.as_ref().filter(|entry| !entry.tenants.is_empty())?;
    let described: Vec<String> = entry
        .tenants
        .iter()
        .map(|name| {
            let status = live
                .tenants
                .iter()
                .find(|tenant| tenant.name == *name)
                .and_then(|tenant| tenant.archive_log.as_deref());
            match status {
                Some(status) => format!("{name} ({status})"),
                None if live.skipped.contains(name) => format!("{name} (not NORMAL, not read)"),
                None => format!(
                    "{name} (status not readable: obshell before 4.3.2 without sql_endpoint)"
                ),
            }
        })
        .collect();
    Some(Diagnostic::warning(
        "Archive log left stopped by this resource",
        format!(
            "An apply of this resource stopped archive log on these tenants, which were archiving before it, and archive log has not been reopened there: {}. Until it is, their new logs are not archived, so they cannot be restored past that point. {} This warning is repeated on every plan and refresh until a read shows archive log BEGINNING or DOING on them, or they are dropped.",
            described.join(", "),
            super::ops::reopen_sql(Some(&entry.tenants)),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::backup_config::read::{LiveStorage, LiveTenant};

    fn live(statuses: &[(&str, Option<&str>)], skipped: &[&str]) -> LiveCluster {
        LiveCluster {
            cluster_id: "1726".to_owned(),
            tenants: statuses
                .iter()
                .enumerate()
                .map(|(index, (name, status))| LiveTenant {
                    name: (*name).to_owned(),
                    tenant_id: 1002 + 2 * index as i64,
                    log_archive_concurrency: None,
                    ha_low_thread_score: None,
                    archive_lag_target: None,
                    storage: LiveStorage::NotReadable,
                    sql: None,
                    archive_log: status.map(str::to_owned),
                    disagreeing: std::collections::BTreeMap::new(),
                })
                .collect(),
            skipped: skipped.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    fn names(record: &Option<StoppedArchiveLog>) -> Vec<&str> {
        record
            .as_ref()
            .map(|r| r.tenants.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_record_lasts_until_archive_log_has_begun_again_or_the_tenant_is_gone() {
        let mut stopped = None;
        record(&mut stopped, &[]);
        assert_eq!(stopped, None);
        record(
            &mut stopped,
            &["t1".to_owned(), "t2".to_owned(), "t3".to_owned()],
        );
        record(&mut stopped, &["t2".to_owned(), "t4".to_owned()]);
        assert_eq!(names(&stopped), ["t1", "t2", "t3", "t4"]);
        // t1 is still off, t2 opening, t3 skipped, t4 unreadable: all stay.
        let cluster = live(
            &[("t1", Some("OFF")), ("t2", Some("PREPARE")), ("t4", None)],
            &["t3"],
        );
        after_read(&mut stopped, &cluster);
        assert_eq!(names(&stopped), ["t1", "t2", "t3", "t4"]);
        let warning = still_stopped_warning(&stopped, &cluster).expect("a warning");
        assert!(
            warning
                .detail
                .contains("t1 (OFF), t2 (PREPARE), t3 (not NORMAL")
                && warning
                    .detail
                    .contains("ALTER SYSTEM ARCHIVELOG TENANT = t1, t2, t3, t4;"),
            "{}",
            warning.detail
        );
        // t2 has begun, t1 is doing, t3 was dropped; t4 still cannot be read.
        after_read(
            &mut stopped,
            &live(
                &[
                    ("t1", Some("DOING")),
                    ("t2", Some("BEGINNING")),
                    ("t4", None),
                ],
                &[],
            ),
        );
        assert_eq!(names(&stopped), ["t4"]);
        after_read(&mut stopped, &live(&[("t4", Some("DOING"))], &[]));
        assert_eq!(stopped, None);
        assert!(still_stopped_warning(&stopped, &live(&[], &[])).is_none());
    }

    #[test]
    fn before_4_3_2_the_last_refresh_says_which_tenants_were_archiving() {
        use crate::resources::backup_config::model::{Field, TenantModel};
        let tenant = |id: i64, status: Field<String>| TenantModel {
            archive_log: status,
            ..TenantModel::null_with_id(id)
        };
        let mut prior = BackupConfigModel::empty();
        prior.tenants = Field::Known(
            [
                (
                    "b".to_owned(),
                    tenant(1004, Field::Known("DOING".to_owned())),
                ),
                (
                    "a".to_owned(),
                    tenant(1006, Field::Known("PREPARE".to_owned())),
                ),
                ("c".to_owned(), tenant(1002, Field::Known("OFF".to_owned()))),
            ]
            .into(),
        );
        assert_eq!(
            archiving_in_state(Some(&prior)),
            Some(vec!["b".to_owned(), "a".to_owned()])
        );
        prior.tenants = Field::Known([("c".to_owned(), tenant(1002, Field::Null))].into());
        assert_eq!(archiving_in_state(Some(&prior)), None);
        assert_eq!(archiving_in_state(None), None);
    }
}

//! The four sys-tenant views the SQL read uses, as pure functions: the query text of each, and
//! the parsing of their rows (text cells) into typed per-tenant results. Credentials in stored
//! paths are stripped here, so nothing outside this module ever holds them.
//!
//! The facts (columns, value formats, which rows exist when) are written down with their sources
//! in `development/oceanbase-sql.md`.

use std::collections::BTreeMap;
use std::time::Duration;

/// One view the read queries: its name (for messages) and its query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The qualified view name, as messages show it.
    pub name: &'static str,
    /// The query, one for the whole cluster.
    pub query: &'static str,
    /// How many columns the query selects.
    pub columns: usize,
}

/// `LOG_ARCHIVE_DEST` (dest_no 0) of every tenant: one row per setting name.
pub const ARCHIVE_DEST: View = View {
    name: "oceanbase.CDB_OB_ARCHIVE_DEST",
    query: "SELECT TENANT_ID, NAME, VALUE FROM oceanbase.CDB_OB_ARCHIVE_DEST WHERE DEST_NO = 0",
    columns: 3,
};

/// `DATA_BACKUP_DEST` of every tenant.
pub const BACKUP_PARAMETER: View = View {
    name: "oceanbase.CDB_OB_BACKUP_PARAMETER",
    query: "SELECT TENANT_ID, NAME, VALUE FROM oceanbase.CDB_OB_BACKUP_PARAMETER WHERE NAME = 'data_backup_dest'",
    columns: 3,
};

/// The delete policy of every tenant (no row: no policy).
pub const DELETE_POLICY: View = View {
    name: "oceanbase.CDB_OB_BACKUP_DELETE_POLICY",
    query:
        "SELECT TENANT_ID, POLICY_NAME, RECOVERY_WINDOW FROM oceanbase.CDB_OB_BACKUP_DELETE_POLICY",
    columns: 3,
};

/// The archive-log round of every tenant that ever archived (dest_no 0).
pub const ARCHIVELOG: View = View {
    name: "oceanbase.CDB_OB_ARCHIVELOG",
    query: "SELECT TENANT_ID, STATUS, PATH FROM oceanbase.CDB_OB_ARCHIVELOG WHERE DEST_NO = 0",
    columns: 3,
};

/// Every view, in the order they are read.
pub const VIEWS: [View; 4] = [ARCHIVE_DEST, BACKUP_PARAMETER, DELETE_POLICY, ARCHIVELOG];

/// Query parameters of a stored path that carry credentials: Community Edition stores
/// `access_key` in plain text, Enterprise Edition `encrypt_key`; `sts_token` is a credential too.
const CREDENTIAL_KEYS: [&str; 4] = ["access_id", "access_key", "encrypt_key", "sts_token"];

/// One result row: text cells, `None` for SQL NULL.
pub type RawRow = Vec<Option<String>>;

/// A row that does not have the shape the view documents. The message never contains a stored
/// value (it may hold credentials), only positions and column names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{view}: row {row}: {reason}")]
pub struct RowError {
    /// The view.
    pub view: &'static str,
    /// The 1-based row number.
    pub row: usize,
    /// What is wrong.
    pub reason: String,
}

/// `LOG_ARCHIVE_DEST` of one tenant, from `CDB_OB_ARCHIVE_DEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveDest {
    /// The `path` row without credentials (`checksum_type` and other parameters kept).
    pub path: String,
    /// The `binding` row, upper case (OceanBase stores OPTIONAL or MANDATORY).
    pub binding: Option<String>,
    /// The `piece_switch_interval` row as OceanBase renders it (`1d`...`7d`).
    pub piece_switch_interval: Option<String>,
    /// The `state` row, upper case (ENABLE or DEFER).
    pub state: Option<String>,
}

/// The delete policy of one tenant, from `CDB_OB_BACKUP_DELETE_POLICY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePolicy {
    /// `POLICY_NAME` (only `default` exists today).
    pub policy: String,
    /// `RECOVERY_WINDOW`, as the DBA typed it (`7d`, `168h`).
    pub recovery_window: String,
}

/// The archive-log round of one tenant, from `CDB_OB_ARCHIVELOG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLog {
    /// `STATUS`, upper case (PREPARE, BEGINNING, DOING, STOPPING, STOP, SUSPENDING, SUSPEND,
    /// INTERRUPTED).
    pub status: String,
}

impl ArchiveLog {
    /// True when the round is archiving (what obshell's status check counts as open).
    pub fn is_archiving(&self) -> bool {
        matches!(self.status.as_str(), "PREPARE" | "BEGINNING" | "DOING")
    }
}

/// What the four views say about one tenant. A field is `None` when the view has no row for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantBackupSql {
    /// `LOG_ARCHIVE_DEST`; `None` when never set or cleared.
    pub archive_dest: Option<ArchiveDest>,
    /// `DATA_BACKUP_DEST` without credentials; `Some("")` when cleared, `None` when never set.
    pub data_backup_dest: Option<String>,
    /// The delete policy; `None` when there is none.
    pub delete_policy: Option<DeletePolicy>,
    /// The archive-log round; `None` when the tenant never archived.
    pub archive_log: Option<ArchiveLog>,
}

/// The four views, read once for the whole cluster, keyed by tenant id. Tenants without any row
/// are absent; use [`BackupViews::tenant`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackupViews {
    /// Per tenant id.
    pub tenants: BTreeMap<i64, TenantBackupSql>,
}

impl BackupViews {
    /// What the views say about `tenant_id` (all `None` when they have no row for it).
    pub fn tenant(&self, tenant_id: i64) -> TenantBackupSql {
        self.tenants.get(&tenant_id).cloned().unwrap_or_default()
    }
}

/// A stored destination without its credential parameters; the rest (root path, `host`,
/// `checksum_type`, extension parameters) is kept in order.
pub fn strip_credentials(path: &str) -> String {
    let Some((location, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(key, _)| key);
            !key.is_empty()
                && !CREDENTIAL_KEYS
                    .iter()
                    .any(|secret| key.trim().eq_ignore_ascii_case(secret))
        })
        .collect();
    if kept.is_empty() {
        location.to_owned()
    } else {
        format!("{location}?{}", kept.join("&"))
    }
}

fn cell<'a>(
    view: &View,
    index: usize,
    row: &'a RawRow,
    column: usize,
    name: &str,
) -> Result<&'a str, RowError> {
    if row.len() != view.columns {
        return Err(RowError {
            view: view.name,
            row: index + 1,
            reason: format!("expected {} columns, got {}", view.columns, row.len()),
        });
    }
    row[column].as_deref().ok_or_else(|| RowError {
        view: view.name,
        row: index + 1,
        reason: format!("{name} is NULL"),
    })
}

fn tenant_id(view: &View, index: usize, row: &RawRow) -> Result<i64, RowError> {
    let text = cell(view, index, row, 0, "TENANT_ID")?;
    text.trim().parse().map_err(|_| RowError {
        view: view.name,
        row: index + 1,
        reason: "TENANT_ID is not an integer".to_owned(),
    })
}

/// Parses the rows of the four views (in [`VIEWS`] order).
pub fn parse_views(
    archive_dest: &[RawRow],
    backup_parameter: &[RawRow],
    delete_policy: &[RawRow],
    archivelog: &[RawRow],
) -> Result<BackupViews, RowError> {
    let mut views = BackupViews::default();
    // CDB_OB_ARCHIVE_DEST: one row per (tenant, name); the dest exists when `path` does.
    let mut dest_rows: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
    for (index, row) in archive_dest.iter().enumerate() {
        let tenant = tenant_id(&ARCHIVE_DEST, index, row)?;
        let name = cell(&ARCHIVE_DEST, index, row, 1, "NAME")?;
        let value = cell(&ARCHIVE_DEST, index, row, 2, "VALUE")?;
        dest_rows
            .entry(tenant)
            .or_default()
            .insert(name.trim().to_ascii_lowercase(), value.to_owned());
    }
    for (tenant, mut names) in dest_rows {
        let Some(path) = names.remove("path") else {
            continue;
        };
        let upper = |value: Option<String>| value.map(|v| v.trim().to_ascii_uppercase());
        views.tenants.entry(tenant).or_default().archive_dest = Some(ArchiveDest {
            path: strip_credentials(path.trim()),
            binding: upper(names.remove("binding")),
            piece_switch_interval: names
                .remove("piece_switch_interval")
                .map(|v| v.trim().to_owned()),
            state: upper(names.remove("state")),
        });
    }
    for (index, row) in backup_parameter.iter().enumerate() {
        let tenant = tenant_id(&BACKUP_PARAMETER, index, row)?;
        let name = cell(&BACKUP_PARAMETER, index, row, 1, "NAME")?;
        if !name.trim().eq_ignore_ascii_case("data_backup_dest") {
            continue;
        }
        // longtext; an empty string is a cleared destination.
        let value = row[2].as_deref().unwrap_or_default();
        views.tenants.entry(tenant).or_default().data_backup_dest =
            Some(strip_credentials(value.trim()));
    }
    for (index, row) in delete_policy.iter().enumerate() {
        let tenant = tenant_id(&DELETE_POLICY, index, row)?;
        let policy = cell(&DELETE_POLICY, index, row, 1, "POLICY_NAME")?.trim();
        // RECOVERY_WINDOW may be empty (a policy created without one); NULL is treated alike.
        let window = row[2].as_deref().unwrap_or_default().trim();
        let entry = views.tenants.entry(tenant).or_default();
        // Only `default` exists today; should several appear, `default` wins, else the first
        // by name, so the choice does not depend on row order.
        let replace = match &entry.delete_policy {
            None => true,
            Some(current) => {
                !current.policy.eq_ignore_ascii_case("default")
                    && (policy.eq_ignore_ascii_case("default") || policy < current.policy.as_str())
            }
        };
        if replace {
            entry.delete_policy = Some(DeletePolicy {
                policy: policy.to_owned(),
                recovery_window: window.to_owned(),
            });
        }
    }
    for (index, row) in archivelog.iter().enumerate() {
        let tenant = tenant_id(&ARCHIVELOG, index, row)?;
        let status = cell(&ARCHIVELOG, index, row, 1, "STATUS")?;
        views.tenants.entry(tenant).or_default().archive_log = Some(ArchiveLog {
            status: status.trim().to_ascii_uppercase(),
        });
    }
    Ok(views)
}

/// How OceanBase renders a `piece_switch_interval` it stores (`convert_timestamp_to_timestr`):
/// the largest unit that is at most the value, by integer division, so `24h` is `1d` and `36h`
/// is also `1d`.
pub fn oceanbase_interval_rendering(interval: Duration) -> String {
    let micros = interval.as_micros();
    const UNITS: [(u128, &str); 6] = [
        (86_400_000_000, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1_000, "ms"),
        (1, "us"),
    ];
    for (size, unit) in UNITS {
        if micros >= size {
            return format!("{}{unit}", micros / size);
        }
    }
    "0us".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> RawRow {
        cells.iter().map(|c| Some((*c).to_owned())).collect()
    }

    #[test]
    fn archive_dest_rows_fold_per_tenant_and_lose_credentials() {
        let rows = vec![
            row(&[
                "1002",
                "path",
                "oss://b/k/1/1002/clog?host=h&access_id=AK&access_key=SECRET&checksum_type=md5",
            ]),
            row(&["1002", "binding", "MANDATORY"]),
            row(&["1002", "dest_id", "1001"]),
            row(&["1002", "piece_switch_interval", "2d"]),
            row(&["1002", "state", "defer"]),
            row(&["1004", "BINDING", "optional"]),
            row(&["1004", "PATH", "file:///data/1/1004/clog"]),
            // A tenant with settings but no path has no destination.
            row(&["1006", "binding", "OPTIONAL"]),
        ];
        let views = parse_views(&rows, &[], &[], &[]).expect("parsed");
        let t1 = views.tenant(1002).archive_dest.expect("dest");
        assert_eq!(t1.path, "oss://b/k/1/1002/clog?host=h&checksum_type=md5");
        assert_eq!(t1.binding.as_deref(), Some("MANDATORY"));
        assert_eq!(t1.piece_switch_interval.as_deref(), Some("2d"));
        assert_eq!(t1.state.as_deref(), Some("DEFER"));
        let t2 = views.tenant(1004).archive_dest.expect("dest");
        assert_eq!(t2.binding.as_deref(), Some("OPTIONAL"));
        assert_eq!(t2.path, "file:///data/1/1004/clog");
        assert_eq!(views.tenant(1006).archive_dest, None);
        assert_eq!(views.tenant(9999), TenantBackupSql::default());
        assert!(!format!("{views:?}").contains("SECRET"));
    }

    #[test]
    fn data_dest_policy_and_archivelog() {
        let data = vec![
            row(&[
                "1002",
                "data_backup_dest",
                "s3://b/k/1/1002/data?host=h&s3_region=r&access_id=A&access_key=K",
            ]),
            vec![Some("1004".into()), Some("data_backup_dest".into()), None],
        ];
        let policies = vec![
            row(&["1002", "zz", "1d"]),
            row(&["1002", "default", "168h"]),
            row(&["1002", "aa", "2d"]),
            row(&["1004", "default", ""]),
        ];
        let archivelog = vec![
            row(&["1002", "doing", "oss://b/k?host=h"]),
            row(&["1004", "STOP", ""]),
        ];
        let views = parse_views(&[], &data, &policies, &archivelog).expect("parsed");
        assert_eq!(
            views.tenant(1002).data_backup_dest.as_deref(),
            Some("s3://b/k/1/1002/data?host=h&s3_region=r")
        );
        assert_eq!(views.tenant(1004).data_backup_dest.as_deref(), Some(""));
        assert_eq!(
            views.tenant(1002).delete_policy,
            Some(DeletePolicy {
                policy: "default".into(),
                recovery_window: "168h".into()
            })
        );
        assert_eq!(
            views.tenant(1004).delete_policy.map(|p| p.recovery_window),
            Some(String::new())
        );
        assert!(views
            .tenant(1002)
            .archive_log
            .expect("round")
            .is_archiving());
        assert!(!views
            .tenant(1004)
            .archive_log
            .expect("round")
            .is_archiving());
    }

    #[test]
    fn malformed_rows_are_errors_without_values() {
        let bad_id = vec![row(&["x", "path", "oss://b?access_key=SECRET"])];
        let error = parse_views(&bad_id, &[], &[], &[]).expect_err("bad id");
        assert_eq!(error.view, "oceanbase.CDB_OB_ARCHIVE_DEST");
        assert!(!error.to_string().contains("SECRET"));
        let short = vec![row(&["1002", "path"])];
        assert!(parse_views(&short, &[], &[], &[]).is_err());
        let null_name = vec![vec![Some("1002".into()), None, Some("v".into())]];
        assert!(parse_views(&null_name, &[], &[], &[])
            .expect_err("null")
            .to_string()
            .contains("NAME is NULL"));
        let null_status = vec![vec![Some("1002".into()), None, None]];
        assert!(parse_views(&[], &[], &[], &null_status).is_err());
    }

    #[test]
    fn credentials_are_stripped_case_insensitively() {
        assert_eq!(
            strip_credentials("oss://b/k?Access_Key=s&host=h&encrypt_key=e&ACCESS_ID=i"),
            "oss://b/k?host=h"
        );
        assert_eq!(strip_credentials("oss://b/k?access_key=s"), "oss://b/k");
        assert_eq!(strip_credentials("file:///x"), "file:///x");
        assert_eq!(
            strip_credentials("cos://b/k?host=h&appid=1&sts_token=t&delete_mode=tagging"),
            "cos://b/k?host=h&appid=1&delete_mode=tagging"
        );
    }

    #[test]
    fn interval_rendering_follows_oceanbase() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(oceanbase_interval_rendering(hours(24)), "1d");
        assert_eq!(oceanbase_interval_rendering(hours(36)), "1d");
        assert_eq!(oceanbase_interval_rendering(hours(168)), "7d");
        assert_eq!(oceanbase_interval_rendering(hours(23)), "23h");
        assert_eq!(oceanbase_interval_rendering(Duration::from_secs(90)), "1m");
        assert_eq!(
            oceanbase_interval_rendering(Duration::from_millis(5)),
            "5ms"
        );
    }

    #[test]
    fn every_query_reads_its_view_once_for_the_cluster() {
        for view in VIEWS {
            assert!(view.query.contains(view.name), "{}", view.name);
            assert!(!view.query.to_ascii_uppercase().contains("TENANT_ID ="));
        }
    }
}

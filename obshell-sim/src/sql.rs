//! The MySQL-protocol listener (`--sql-listen`): the sys tenant's MySQL port, as far as the
//! provider's optional SQL read needs it. It answers exactly the four backup-view queries
//! (whitespace and letter case aside) from the same in-memory state the HTTP API serves, so a
//! change made through `/sim/v1` shows in both; anything else is a MySQL error.
//!
//! Harsh where OceanBase is (development/oceanbase-sql.md): `mysql_native_password` with a fresh
//! scramble per connection; `root` and `root@sys` with the cluster's password, plus users made
//! through `/sim/v1/sql/users` with SELECT on some views only (error 1142 on the others); stored
//! paths carry the credentials in plain text and `checksum_type=md5`, reordered as OceanBase
//! serialises them; `piece_switch_interval` re-rendered by integer division; rows in no useful
//! order.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use opensrv_mysql::{
    AsyncMysqlIntermediary, AsyncMysqlShim, Column, ColumnFlags, ColumnType, ErrorKind, InitWriter,
    ParamParser, QueryResultWriter, StatementMetaWriter,
};
use rand::RngCore;
use sha1::{Digest, Sha1};
use tokio::io::AsyncWrite;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::duration::parse_obshell_duration;
use crate::state::{Shared, State};

/// The views the listener serves, by upper-case name.
pub(crate) const VIEWS: [&str; 4] = [
    "CDB_OB_ARCHIVE_DEST",
    "CDB_OB_BACKUP_PARAMETER",
    "CDB_OB_BACKUP_DELETE_POLICY",
    "CDB_OB_ARCHIVELOG",
];

/// A user made through the control API: password and the views it may SELECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SqlUser {
    pub(crate) password: String,
    pub(crate) views: Vec<String>,
}

/// The extra SQL users, keyed by name (root is implicit).
pub(crate) type SqlUsers = BTreeMap<String, SqlUser>;

/// `PUT /sim/v1/sql/users/{name}` with `{"password": "...", "views": ["CDB_OB_ARCHIVE_DEST", ...]}`:
/// a sys-tenant user with SELECT on those views only (all four for a read-only user as the docs
/// grant it).
pub(crate) fn put_user(
    shared: &Shared,
    name: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use serde_json::{json, Value};
    let bad = |message: &str| (400, json!({ "error": message }));
    if name.is_empty() || name == "root" || name.contains('@') {
        return bad("the user name must be non-empty, not root, and without '@'");
    }
    let Some(password) = body.get("password").and_then(Value::as_str) else {
        return bad("\"password\" must be a string");
    };
    let views = match body.get("views") {
        None => VIEWS.iter().map(|v| (*v).to_owned()).collect(),
        Some(Value::Array(items)) => {
            let mut views = Vec::new();
            for item in items {
                match item.as_str().map(str::to_ascii_uppercase) {
                    Some(view) if VIEWS.contains(&view.as_str()) => views.push(view),
                    _ => return bad("\"views\" must list CDB_OB_ARCHIVE_DEST, CDB_OB_BACKUP_PARAMETER, CDB_OB_BACKUP_DELETE_POLICY or CDB_OB_ARCHIVELOG"),
                }
            }
            views
        }
        Some(_) => return bad("\"views\" must be a list of view names"),
    };
    shared.sql_users().insert(
        name.to_owned(),
        SqlUser {
            password: password.to_owned(),
            views: views.clone(),
        },
    );
    (200, json!({ "name": name, "views": views }))
}

/// Accepts MySQL connections until `shutdown` changes.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next_connection: u32 = 1;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "sql accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut scramble = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut scramble);
        for byte in &mut scramble {
            // Printable, never NUL or '$', as MySQL servers send it.
            *byte = b'0' + (*byte % 75);
            if *byte == b'$' {
                *byte = b'#';
            }
        }
        let session = SqlSession {
            shared: shared.clone(),
            scramble,
            connection_id: next_connection,
            user: std::sync::Mutex::new(None),
        };
        next_connection = next_connection.wrapping_add(1);
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let (reader, writer) = stream.into_split();
            tokio::select! {
                result = AsyncMysqlIntermediary::run_on(session, reader, writer) => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "sql connection ended with an error");
                    }
                }
                _ = shutdown.changed() => {}
            }
        });
    }
}

/// One client connection.
struct SqlSession {
    shared: Arc<Shared>,
    scramble: [u8; 20],
    connection_id: u32,
    /// The logged-in user: `None` for root, else the control API's user name.
    user: std::sync::Mutex<Option<String>>,
}

/// `mysql_native_password`: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))).
fn native_password_token(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha1::digest(password.as_bytes());
    let stage2 = Sha1::digest(stage1);
    let mut hasher = Sha1::new();
    hasher.update(scramble);
    hasher.update(stage2);
    let mix = hasher.finalize();
    stage1.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect()
}

/// The query with runs of whitespace collapsed, no trailing `;`, upper case.
fn normalised(query: &str) -> String {
    query
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// The queries served, normalised, and the view each reads.
fn served_view(query: &str) -> Option<&'static str> {
    match normalised(query).as_str() {
        "SELECT TENANT_ID, NAME, VALUE FROM OCEANBASE.CDB_OB_ARCHIVE_DEST WHERE DEST_NO = 0" => {
            Some(VIEWS[0])
        }
        "SELECT TENANT_ID, NAME, VALUE FROM OCEANBASE.CDB_OB_BACKUP_PARAMETER WHERE NAME = 'DATA_BACKUP_DEST'" => {
            Some(VIEWS[1])
        }
        "SELECT TENANT_ID, POLICY_NAME, RECOVERY_WINDOW FROM OCEANBASE.CDB_OB_BACKUP_DELETE_POLICY" => {
            Some(VIEWS[2])
        }
        "SELECT TENANT_ID, STATUS, PATH FROM OCEANBASE.CDB_OB_ARCHIVELOG WHERE DEST_NO = 0" => {
            Some(VIEWS[3])
        }
        _ => None,
    }
}

/// A stored destination as OceanBase (4.2.3 and later) serialises it: trailing `/` trimmed;
/// for object stores `host`, `access_id`, `access_key`, `checksum_type` (md5 unless given), then
/// the other parameters in input order.
pub(crate) fn stored_path(path: &str) -> String {
    let (location, query) = path.split_once('?').unwrap_or((path, ""));
    let location = {
        let (scheme, rest) = location.split_once("://").unwrap_or(("", location));
        let trimmed = rest.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        format!("{scheme}://{trimmed}")
    };
    if location.starts_with("file://") {
        return location;
    }
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_ascii_lowercase(), value.to_owned())
        })
        .collect();
    let mut out = Vec::new();
    for key in ["host", "access_id", "access_key"] {
        if let Some((_, value)) = pairs.iter().find(|(k, _)| k == key) {
            out.push(format!("{key}={value}"));
        }
    }
    let checksum = pairs
        .iter()
        .find(|(k, _)| k == "checksum_type")
        .map_or("md5", |(_, v)| v.as_str());
    out.push(format!("checksum_type={checksum}"));
    for (key, value) in &pairs {
        if !["host", "access_id", "access_key", "checksum_type"].contains(&key.as_str()) {
            out.push(format!("{key}={value}"));
        }
    }
    format!("{location}?{}", out.join("&"))
}

/// `convert_timestamp_to_timestr`: the largest unit that fits, by integer division.
pub(crate) fn rendered_interval(text: &str) -> String {
    let Ok(duration) = parse_obshell_duration(text) else {
        return text.to_owned();
    };
    let micros = duration.as_micros();
    for (size, unit) in [
        (86_400_000_000u128, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1_000, "ms"),
        (1, "us"),
    ] {
        if micros >= size {
            return format!("{}{unit}", micros / size);
        }
    }
    text.to_owned()
}

/// A cell: an integer or text (NULL never occurs in these views' selected columns).
enum Cell {
    Int(i64),
    Text(String),
}

/// The rows of `view` from the state, in descending tenant order (no view promises an order).
fn rows(state: &State, view: &str) -> Vec<Vec<Cell>> {
    let mut tenants: Vec<_> = state.tenants.iter().collect();
    tenants.sort_by_key(|t| std::cmp::Reverse(t.id));
    let mut out = Vec::new();
    for tenant in tenants {
        let id = Cell::Int(tenant.id);
        let text = |s: &str| Cell::Text(s.to_owned());
        match view {
            "CDB_OB_ARCHIVE_DEST" => {
                if let Some(dest) = &tenant.archive_dest {
                    // gen_config_items order: path, binding, dest_id, piece_switch_interval, state.
                    for (name, value) in [
                        ("path", stored_path(&dest.path)),
                        ("binding", dest.binding.to_ascii_uppercase()),
                        ("dest_id", "1001".to_owned()),
                        (
                            "piece_switch_interval",
                            rendered_interval(&dest.piece_switch_interval),
                        ),
                        // LOG_ARCHIVE_DEST_STATE keeps the case it was typed in.
                        ("state", dest.state.clone()),
                    ] {
                        out.push(vec![Cell::Int(tenant.id), text(name), Cell::Text(value)]);
                    }
                }
            }
            "CDB_OB_BACKUP_PARAMETER" => {
                if !tenant.data_dest.is_empty() {
                    out.push(vec![
                        id,
                        text("data_backup_dest"),
                        Cell::Text(stored_path(&tenant.data_dest)),
                    ]);
                }
            }
            "CDB_OB_BACKUP_DELETE_POLICY" => {
                if let Some((policy, window)) = &tenant.delete_policy {
                    out.push(vec![id, text(policy), text(window)]);
                }
            }
            _ => {
                if !tenant.archive_log_status.is_empty() {
                    let path = tenant
                        .archive_dest
                        .as_ref()
                        .map(|d| {
                            let stored = stored_path(&d.path);
                            let (location, query) = stored.split_once('?').unwrap_or((&stored, ""));
                            let host: Vec<&str> = query
                                .split('&')
                                .filter(|p| p.starts_with("host="))
                                .collect();
                            if host.is_empty() {
                                location.to_owned()
                            } else {
                                format!("{location}?{}", host.join("&"))
                            }
                        })
                        .unwrap_or_default();
                    out.push(vec![id, text(&tenant.archive_log_status), Cell::Text(path)]);
                }
            }
        }
    }
    out
}

fn columns(view: &str) -> Vec<Column> {
    let names: [&str; 3] = match view {
        "CDB_OB_BACKUP_DELETE_POLICY" => ["TENANT_ID", "POLICY_NAME", "RECOVERY_WINDOW"],
        "CDB_OB_ARCHIVELOG" => ["TENANT_ID", "STATUS", "PATH"],
        _ => ["TENANT_ID", "NAME", "VALUE"],
    };
    names
        .iter()
        .enumerate()
        .map(|(index, name)| Column {
            table: view.to_owned(),
            column: (*name).to_owned(),
            coltype: if index == 0 {
                ColumnType::MYSQL_TYPE_LONGLONG
            } else {
                ColumnType::MYSQL_TYPE_VAR_STRING
            },
            colflags: if index == 0 {
                ColumnFlags::NOT_NULL_FLAG
            } else {
                ColumnFlags::empty()
            },
        })
        .collect()
}

#[async_trait::async_trait]
impl<W: AsyncWrite + Send + Unpin> AsyncMysqlShim<W> for SqlSession {
    type Error = io::Error;

    fn version(&self) -> String {
        "5.7.25-OceanBase_CE-v4.3.5.0".to_owned()
    }

    fn connect_id(&self) -> u32 {
        self.connection_id
    }

    fn salt(&self) -> [u8; 20] {
        self.scramble
    }

    async fn authenticate(
        &self,
        auth_plugin: &str,
        username: &[u8],
        salt: &[u8],
        auth_data: &[u8],
    ) -> bool {
        if auth_plugin != "mysql_native_password" {
            return false;
        }
        let user = String::from_utf8_lossy(username);
        let password = if user == "root" || user == "root@sys" {
            self.shared.lock().password.clone()
        } else {
            match self.shared.sql_users().get(user.as_ref()) {
                Some(extra) => extra.password.clone(),
                None => return false,
            }
        };
        let accepted = native_password_token(&password, salt) == auth_data;
        if !accepted {
            tracing::info!(user = %user, "sql login refused");
        } else if user != "root" && user != "root@sys" {
            *self
                .user
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(user.into_owned());
        }
        accepted
    }

    async fn on_prepare<'a>(
        &'a mut self,
        _query: &'a str,
        info: StatementMetaWriter<'a, W>,
    ) -> io::Result<()> {
        info.error(
            ErrorKind::ER_NOT_SUPPORTED_YET,
            b"obshell-sim serves only the provider's backup-view queries, as plain queries",
        )
        .await
    }

    async fn on_execute<'a>(
        &'a mut self,
        _id: u32,
        _params: ParamParser<'a>,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        results
            .error(
                ErrorKind::ER_UNKNOWN_STMT_HANDLER,
                b"unknown prepared statement",
            )
            .await
    }

    async fn on_close<'a>(&'a mut self, _stmt: u32)
    where
        W: 'async_trait,
    {
    }

    async fn on_init<'a>(
        &'a mut self,
        database: &'a str,
        writer: InitWriter<'a, W>,
    ) -> io::Result<()> {
        if database.eq_ignore_ascii_case("oceanbase") {
            writer.ok().await
        } else {
            writer
                .error(
                    ErrorKind::ER_BAD_DB_ERROR,
                    format!("Unknown database '{database}'").as_bytes(),
                )
                .await
        }
    }

    async fn on_query<'a>(
        &'a mut self,
        query: &'a str,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        let Some(view) = served_view(query) else {
            tracing::info!(query = %query, "sql query not served");
            return results
                .error(
                    ErrorKind::ER_NOT_SUPPORTED_YET,
                    b"obshell-sim serves only the provider's four backup-view queries",
                )
                .await;
        };
        let user = self
            .user
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(user) = &user {
            let allowed = self
                .shared
                .sql_users()
                .get(user)
                .is_some_and(|u| u.views.iter().any(|v| v.eq_ignore_ascii_case(view)));
            if !allowed {
                let message =
                    format!("SELECT command denied to user '{user}'@'%' for table '{view}'");
                return results
                    .error(ErrorKind::ER_TABLEACCESS_DENIED_ERROR, message.as_bytes())
                    .await;
            }
        }
        let table = {
            let state = self.shared.lock();
            rows(&state, view)
        };
        tracing::debug!(view, rows = table.len(), "sql query served");
        let columns = columns(view);
        let mut writer = results.start(&columns).await?;
        for row in table {
            for cell in row {
                match cell {
                    Cell::Int(n) => writer.write_col(n)?,
                    Cell::Text(s) => writer.write_col(s.as_str())?,
                }
            }
            writer.end_row().await?;
        }
        writer.finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_password_matches_the_known_vector() {
        // MySQL's documented formula, checked against a token computed independently.
        let scramble = b"01234567890123456789";
        let token = native_password_token("secret", scramble);
        assert_eq!(token.len(), 20);
        assert_ne!(token, native_password_token("secreT", scramble));
        assert!(native_password_token("", scramble).is_empty());
    }

    #[test]
    fn only_the_four_queries_are_served() {
        assert_eq!(
            served_view("select tenant_id, name, value\n from oceanbase.cdb_ob_archive_dest where dest_no = 0;"),
            Some("CDB_OB_ARCHIVE_DEST")
        );
        assert_eq!(served_view("SELECT 1"), None);
        assert_eq!(
            served_view("SELECT TENANT_ID, NAME, VALUE FROM oceanbase.CDB_OB_ARCHIVE_DEST"),
            None
        );
    }

    #[test]
    fn stored_paths_look_like_oceanbase() {
        assert_eq!(
            stored_path("oss://b/k/1/1002/clog/?delete_mode=tagging&access_key=S&host=h&access_id=A"),
            "oss://b/k/1/1002/clog?host=h&access_id=A&access_key=S&checksum_type=md5&delete_mode=tagging"
        );
        assert_eq!(stored_path("file:///data/x/"), "file:///data/x");
        assert_eq!(rendered_interval("36h"), "1d");
        assert_eq!(rendered_interval("48H"), "2d");
        assert_eq!(rendered_interval("1d"), "1d");
    }
}

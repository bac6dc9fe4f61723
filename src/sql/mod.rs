//! The optional SQL read (provider setting `sql_endpoint`): what obshell's API cannot report
//! (`binding`, `piece_switch_interval`, the delete policy, and before obshell 4.3.2 the
//! destinations and archive-log status), read from the sys tenant's `CDB_OB_*` views over
//! OceanBase's MySQL port. It knows nothing of Terraform.
//!
//! - [`SqlClient`] holds the settings and connects lazily: building it makes no network call.
//!   Each [`SqlClient::read_backup_views`] opens one connection, runs one query per view for the
//!   whole cluster ([`views::VIEWS`]), and closes it.
//! - The client is `mysql_async` over rustls (ring), without OpenSSL or any system library. The
//!   connection sends nothing but the handshake and the four queries (no `SELECT @@...` probes).
//! - [`views`] holds the query texts and the row parsing, as pure functions; stored credentials
//!   are stripped there, so [`BackupViews`] never holds them.
//! - [`SqlError`] names the endpoint and the view, never the password.
//!
//! The facts behind it are in `development/oceanbase-sql.md`.

pub mod views;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use views::{
    oceanbase_interval_rendering, ArchiveDest, ArchiveLog, BackupViews, DeletePolicy,
    TenantBackupSql,
};

use views::{RawRow, View, ARCHIVELOG, ARCHIVE_DEST, BACKUP_PARAMETER, DELETE_POLICY};

/// The default `sql_user`: the sys tenant's root (a direct connection to an observer logs in to
/// sys when the user names no tenant).
pub const DEFAULT_SQL_USER: &str = "root";

/// How the SQL connection is secured.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SqlTls {
    /// Refuse to connect without TLS.
    pub required: bool,
    /// PEM certificate(s) of the CA that signed the server's certificate; implies TLS.
    pub ca_certificate_pem: Option<String>,
}

impl SqlTls {
    /// True when the connection must use TLS.
    pub fn enabled(&self) -> bool {
        self.required || self.ca_certificate_pem.is_some()
    }
}

/// The SQL settings of a configured provider. `Debug` never shows the password.
#[derive(Clone)]
pub struct SqlSettings {
    /// `host:port`, as configured (for messages).
    pub endpoint: String,
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The user name (`root` = root@sys on a direct connection).
    pub user: String,
    /// The password.
    pub password: String,
    /// TLS.
    pub tls: SqlTls,
    /// The limit of connecting and of each query.
    pub timeout: Duration,
}

impl fmt::Debug for SqlSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlSettings")
            .field("endpoint", &self.endpoint)
            .field("user", &self.user)
            .field("tls", &self.tls.enabled())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why an `sql_endpoint` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlEndpointError {
    /// Not `host:port`.
    #[error("sql_endpoint must be host:port (the MySQL port of an observer, usually 2881, or of OBProxy, 2883), without a scheme, user or path")]
    Shape,
}

/// Splits `host:port` (IPv6 in brackets), port 1..65535, no scheme, user, path or whitespace.
pub fn parse_sql_endpoint(text: &str) -> Result<(String, u16), SqlEndpointError> {
    let text = text.trim();
    if text.is_empty()
        || text.contains(['/', '@', '?', '#'])
        || text.chars().any(char::is_whitespace)
    {
        return Err(SqlEndpointError::Shape);
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(SqlEndpointError::Shape)?;
        let port = after.strip_prefix(':').ok_or(SqlEndpointError::Shape)?;
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(SqlEndpointError::Shape);
        }
        (host, port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or(SqlEndpointError::Shape)?;
        if host.is_empty() || host.contains(':') {
            return Err(SqlEndpointError::Shape);
        }
        (host, port)
    };
    let port: u16 = port.parse().map_err(|_| SqlEndpointError::Shape)?;
    if port == 0 {
        return Err(SqlEndpointError::Shape);
    }
    Ok((host.to_owned(), port))
}

/// Why the SQL read failed. Every variant names the endpoint; none holds the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// No connection (refused, unreachable, DNS, TLS handshake, TLS required but not offered).
    #[error("cannot connect to the SQL endpoint {endpoint} to read {view}: {reason}")]
    Connect {
        /// `host:port`.
        endpoint: String,
        /// The first view the read needed.
        view: &'static str,
        /// The cause.
        reason: String,
    },
    /// The server refused the user or password.
    #[error("the SQL endpoint {endpoint} refused the login of user {user:?} needed to read {view}: {reason}")]
    Login {
        /// `host:port`.
        endpoint: String,
        /// The user name.
        user: String,
        /// The first view the read needed.
        view: &'static str,
        /// The server's message.
        reason: String,
    },
    /// A query failed (a missing privilege, a missing view).
    #[error("reading {view} at the SQL endpoint {endpoint} failed: {reason}")]
    Query {
        /// `host:port`.
        endpoint: String,
        /// The view.
        view: &'static str,
        /// The server's error code, when it sent one.
        code: Option<u16>,
        /// The server's message.
        reason: String,
    },
    /// Connecting or a query took longer than the limit.
    #[error("reading {view} at the SQL endpoint {endpoint} took longer than {limit:?}")]
    Timeout {
        /// `host:port`.
        endpoint: String,
        /// The view being read.
        view: &'static str,
        /// The limit.
        limit: Duration,
    },
    /// A row without the documented shape.
    #[error("the SQL endpoint {endpoint} answered rows this provider cannot read: {source}")]
    Rows {
        /// `host:port`.
        endpoint: String,
        /// What is wrong.
        #[source]
        source: views::RowError,
    },
}

impl SqlError {
    /// The endpoint the error is about.
    pub fn endpoint(&self) -> &str {
        match self {
            SqlError::Connect { endpoint, .. }
            | SqlError::Login { endpoint, .. }
            | SqlError::Query { endpoint, .. }
            | SqlError::Timeout { endpoint, .. }
            | SqlError::Rows { endpoint, .. } => endpoint,
        }
    }

    /// What to do about it, for diagnostics.
    pub fn advice(&self) -> &'static str {
        match self {
            SqlError::Connect { .. } => "Check sql_endpoint (the MySQL port of an observer or OBProxy), that the sys tenant's allowlist (ob_tcp_invited_nodes) admits this machine, and the TLS settings (sql_tls_required, sql_ca_certificate).",
            SqlError::Login { .. } => "Check sql_user and sql_password (without sql_password, the provider's password is used, which is root@sys's).",
            SqlError::Query { code: Some(1142 | 1044 | 1045 | 1227 | 1370), .. } => "The SQL user lacks a privilege: grant it SELECT on the oceanbase database of the sys tenant (GRANT SELECT ON oceanbase.* TO '<user>'), as the provider's documentation shows.",
            SqlError::Query { .. } => "The view must exist in the sys tenant (OceanBase 4.x); check that sql_endpoint reaches the sys tenant of the cluster obshell manages.",
            SqlError::Timeout { .. } => "Check that the SQL endpoint is reachable and responsive.",
            SqlError::Rows { .. } => "This OceanBase version may present the view differently; please report it.",
        }
    }
}

/// Turns raw results into typed ones.
fn text_cell(value: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value;
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        // Dates and times are never selected.
        other => Some(format!("{other:?}")),
    }
}

/// The SQL reader. Cloning is cheap; building it makes no network call.
#[derive(Clone)]
pub struct SqlClient {
    settings: Arc<SqlSettings>,
}

impl fmt::Debug for SqlClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

/// Access denied, as MySQL and OceanBase report a refused login.
const LOGIN_ERRORS: [u16; 3] = [1045, 1698, 1044];

impl SqlClient {
    /// A client for `settings`.
    pub fn new(settings: SqlSettings) -> SqlClient {
        SqlClient {
            settings: Arc::new(settings),
        }
    }

    /// `host:port`, for messages.
    pub fn endpoint(&self) -> &str {
        &self.settings.endpoint
    }

    fn options(&self) -> mysql_async::Opts {
        let settings = &*self.settings;
        let mut builder = mysql_async::OptsBuilder::default()
            .ip_or_hostname(settings.host.clone())
            .tcp_port(settings.port)
            .user(Some(settings.user.clone()))
            .pass(Some(settings.password.clone()))
            // No probing queries: only the four views are ever read.
            .prefer_socket(false)
            .max_allowed_packet(Some(16 * 1024 * 1024))
            .wait_timeout(Some(28_800))
            .stmt_cache_size(0)
            .tcp_nodelay(true);
        if settings.tls.enabled() {
            let mut ssl = mysql_async::SslOpts::default();
            if let Some(pem) = &settings.tls.ca_certificate_pem {
                ssl = ssl.with_root_certs(vec![pem.clone().into_bytes().into()]);
            }
            builder = builder.ssl_opts(Some(ssl));
        }
        builder.into()
    }

    fn connect_error(&self, error: mysql_async::Error) -> SqlError {
        let view = ARCHIVE_DEST.name;
        match error {
            mysql_async::Error::Server(server) if LOGIN_ERRORS.contains(&server.code) => {
                SqlError::Login {
                    endpoint: self.settings.endpoint.clone(),
                    user: self.settings.user.clone(),
                    view,
                    reason: format!(
                        "ERROR {} ({}): {}",
                        server.code, server.state, server.message
                    ),
                }
            }
            mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
                SqlError::Connect {
                    endpoint: self.settings.endpoint.clone(),
                    view,
                    reason: "TLS is required, but the server does not offer it".to_owned(),
                }
            }
            other => SqlError::Connect {
                endpoint: self.settings.endpoint.clone(),
                view,
                reason: other.to_string(),
            },
        }
    }

    async fn query(
        &self,
        connection: &mut mysql_async::Conn,
        view: View,
    ) -> Result<Vec<RawRow>, SqlError> {
        use mysql_async::prelude::Queryable;
        let limit = self.settings.timeout;
        let rows: Vec<mysql_async::Row> =
            match tokio::time::timeout(limit, connection.query(view.query)).await {
                Err(_) => {
                    return Err(SqlError::Timeout {
                        endpoint: self.settings.endpoint.clone(),
                        view: view.name,
                        limit,
                    })
                }
                Ok(Err(mysql_async::Error::Server(server))) => {
                    return Err(SqlError::Query {
                        endpoint: self.settings.endpoint.clone(),
                        view: view.name,
                        code: Some(server.code),
                        reason: format!(
                            "ERROR {} ({}): {}",
                            server.code, server.state, server.message
                        ),
                    })
                }
                Ok(Err(other)) => {
                    return Err(SqlError::Query {
                        endpoint: self.settings.endpoint.clone(),
                        view: view.name,
                        code: None,
                        reason: other.to_string(),
                    })
                }
                Ok(Ok(rows)) => rows,
            };
        Ok(rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|index| row.as_ref(index).and_then(text_cell))
                    .collect()
            })
            .collect())
    }

    /// Reads the four views for the whole cluster: one connection, one query per view.
    pub async fn read_backup_views(&self) -> Result<BackupViews, SqlError> {
        let limit = self.settings.timeout;
        tracing::debug!(endpoint = %self.settings.endpoint, "reading the backup views over SQL");
        let mut connection =
            match tokio::time::timeout(limit, mysql_async::Conn::new(self.options())).await {
                Err(_) => {
                    return Err(SqlError::Timeout {
                        endpoint: self.settings.endpoint.clone(),
                        view: ARCHIVE_DEST.name,
                        limit,
                    })
                }
                Ok(Err(error)) => return Err(self.connect_error(error)),
                Ok(Ok(connection)) => connection,
            };
        let result = async {
            let archive_dest = self.query(&mut connection, ARCHIVE_DEST).await?;
            let backup_parameter = self.query(&mut connection, BACKUP_PARAMETER).await?;
            let delete_policy = self.query(&mut connection, DELETE_POLICY).await?;
            let archivelog = self.query(&mut connection, ARCHIVELOG).await?;
            views::parse_views(
                &archive_dest,
                &backup_parameter,
                &delete_policy,
                &archivelog,
            )
            .map_err(|source| SqlError::Rows {
                endpoint: self.settings.endpoint.clone(),
                source,
            })
        }
        .await;
        // A polite COM_QUIT; its failure changes nothing.
        let _ = tokio::time::timeout(Duration::from_secs(2), connection.disconnect()).await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_sql_endpoint("10.0.0.1:2881"),
            Ok(("10.0.0.1".to_owned(), 2881))
        );
        assert_eq!(
            parse_sql_endpoint(" ob.example:2883 "),
            Ok(("ob.example".to_owned(), 2883))
        );
        assert_eq!(
            parse_sql_endpoint("[::1]:2881"),
            Ok(("::1".to_owned(), 2881))
        );
        for bad in [
            "",
            "host",
            "host:0",
            "host:65536",
            "mysql://host:2881",
            "root:pw@host:2881",
            "host:2881/db",
            "::1:2881",
            "[::1]",
            "a b:1",
        ] {
            assert!(parse_sql_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let settings = SqlSettings {
            endpoint: "h:2881".into(),
            host: "h".into(),
            port: 2881,
            user: "root".into(),
            password: "TOPSECRET".into(),
            tls: SqlTls::default(),
            timeout: Duration::from_secs(1),
        };
        let client = SqlClient::new(settings.clone());
        assert!(!format!("{settings:?}").contains("TOPSECRET"));
        assert!(!format!("{client:?}").contains("TOPSECRET"));
    }

    #[test]
    fn privilege_errors_get_grant_advice() {
        let error = SqlError::Query {
            endpoint: "h:1".into(),
            view: DELETE_POLICY.name,
            code: Some(1142),
            reason: "denied".into(),
        };
        assert!(error.advice().contains("GRANT SELECT"));
        assert!(error.to_string().contains("CDB_OB_BACKUP_DELETE_POLICY"));
        assert!(error.to_string().contains("h:1"));
    }
}

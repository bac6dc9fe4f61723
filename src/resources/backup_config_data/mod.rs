//! The `oceanbase_backup_config` data source: the live backup configuration of every user tenant
//! as obshell reports it, for users who want to check or compare without managing it.
//!
//! It reads through the same [`crate::obshell::Client`] calls as the resource's Read: the tenant
//! list (sys dropped), three tenant parameters, and, from obshell 4.3.2, each tenant's backup
//! destinations (credentials stripped) and archive-log rounds. Tenants that are not NORMAL are
//! listed with their status and null settings, with a warning. Reading never writes to obshell.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::obshell::{Client, Error};
use crate::resources::backup_config::ops::Session;
use crate::resources::diagnostics::obshell_error;
use crate::resources::in_tenant_order;
use crate::tf::{
    Attribute, Block, Diagnostic, Diagnostics, Nesting, Presence, ReadDataSourceRequest,
    ReadDataSourceResponse, Schema, Type, Value,
};

/// The type name of the data source.
pub const BACKUP_CONFIG_DATA_TYPE: &str = "oceanbase_backup_config";

/// What `archive_log_status` reports when obshell lists no active archive-log round.
pub const ARCHIVE_LOG_OFF: &str = "OFF";

const SUMMARY_READ: &str = "Unable to read data source oceanbase_backup_config";

/// The data source's schema, version 0. Every attribute is computed: the data source takes no
/// arguments and reads the cluster the provider block points at.
pub fn backup_config_data_schema() -> Schema {
    use Presence::Computed;
    let tenant = vec![
        Attribute::new("tenant_id", Type::Number, Computed, "The tenant's id."),
        Attribute::new(
            "status",
            Type::String,
            Computed,
            "The tenant's status as obshell reports it: NORMAL, CREATING, RESTORE, DROPPING. Settings are read only from NORMAL tenants; for the others they are null.",
        ),
        Attribute::new(
            "log_archive_concurrency",
            Type::Number,
            Computed,
            "The tenant parameter log_archive_concurrency; null when the tenant is not NORMAL.",
        ),
        Attribute::new(
            "ha_low_thread_score",
            Type::Number,
            Computed,
            "The tenant parameter ha_low_thread_score; null when the tenant is not NORMAL.",
        ),
        Attribute::new(
            "archive_lag_target",
            Type::String,
            Computed,
            "The tenant parameter archive_lag_target as OceanBase stores it, such as \"120s\"; null when the tenant is not NORMAL.",
        ),
        Attribute::new(
            "archive_dest",
            Type::String,
            Computed,
            "The tenant's archive-log destination without credentials (\"\" when none is configured); null before obshell 4.3.2, when the tenant is not NORMAL, or when obshell does not show it.",
        ),
        Attribute::new(
            "data_dest",
            Type::String,
            Computed,
            "The tenant's data-backup destination without credentials (\"\" when none is configured); null before obshell 4.3.2, when the tenant is not NORMAL, or when obshell does not show it.",
        ),
        Attribute::new(
            "archive_log_status",
            Type::String,
            Computed,
            "The status of the tenant's active archive-log round (PREPARE, BEGINNING, DOING, STOPPING or SUSPEND), or OFF when there is none (never started, stopped or interrupted: obshell does not tell these apart); null before obshell 4.3.2 (unless sql_endpoint is set) or when the tenant is not NORMAL.",
        ),
        Attribute::new(
            "binding",
            Type::String,
            Computed,
            "The tenant's archive binding (OPTIONAL or MANDATORY) from CDB_OB_ARCHIVE_DEST; null without sql_endpoint, without an archive destination, or when the tenant is not NORMAL.",
        ),
        Attribute::new(
            "piece_switch_interval",
            Type::String,
            Computed,
            "The tenant's piece switch interval as OceanBase stores it (\"1d\"...\"7d\"); null without sql_endpoint, without an archive destination, or when the tenant is not NORMAL.",
        ),
        Attribute::new(
            "delete_policy_recovery_window",
            Type::String,
            Computed,
            "The recovery window of the tenant's delete policy as stored (\"7d\"); null without sql_endpoint, without a policy, or when the tenant is not NORMAL.",
        ),
    ];
    let attributes = vec![
        Attribute::new(
            "id",
            Type::String,
            Computed,
            "The id of the OceanBase cluster (from obshell's cluster info), the same id oceanbase_backup_config uses.",
        ),
        Attribute::new(
            "cluster_name",
            Type::String,
            Computed,
            "The name of the OceanBase cluster.",
        ),
        Attribute::new(
            "obshell_version",
            Type::String,
            Computed,
            "The version of the obshell agent that answered, such as \"4.3.2.0\". What can be read depends on it.",
        ),
        Attribute::nested(
            "tenants",
            Nesting::Map,
            tenant,
            Computed,
            "Every user tenant (sys excluded), keyed by tenant name, with its backup settings as obshell reports them.",
        ),
    ];
    let description = "The live backup configuration of every user tenant of one OceanBase cluster, as obshell reports it: tenant parameters, archive and data destinations without credentials, and archive-log status. Reading it changes nothing.";
    Schema {
        version: 0,
        block: Block {
            attributes,
            description: description.to_owned(),
            markdown_description: description.to_owned(),
            deprecated: false,
        },
    }
}

/// One user tenant as the data source reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TenantReport {
    tenant_id: i64,
    status: String,
    log_archive_concurrency: Option<i64>,
    ha_low_thread_score: Option<i64>,
    archive_lag_target: Option<String>,
    archive_dest: Option<String>,
    data_dest: Option<String>,
    archive_log_status: Option<String>,
    binding: Option<String>,
    piece_switch_interval: Option<String>,
    delete_policy_recovery_window: Option<String>,
}

impl TenantReport {
    fn unread(tenant_id: i64, status: String) -> TenantReport {
        TenantReport {
            tenant_id,
            status,
            log_archive_concurrency: None,
            ha_low_thread_score: None,
            archive_lag_target: None,
            archive_dest: None,
            data_dest: None,
            archive_log_status: None,
            binding: None,
            piece_switch_interval: None,
            delete_policy_recovery_window: None,
        }
    }

    /// Adds what the sys tenant's views say (`sql_endpoint`); what obshell could not show
    /// (destinations and archive status before 4.3.2) is taken from them.
    fn apply_sql(&mut self, sql: crate::sql::TenantBackupSql) {
        if let Some(dest) = &sql.archive_dest {
            self.binding = dest.binding.clone();
            self.piece_switch_interval = dest.piece_switch_interval.clone();
        }
        self.delete_policy_recovery_window = sql.delete_policy.map(|p| p.recovery_window);
        if self.archive_dest.is_none() {
            self.archive_dest = Some(sql.archive_dest.map(|d| d.path).unwrap_or_default());
        }
        if self.data_dest.is_none() {
            self.data_dest = Some(sql.data_backup_dest.unwrap_or_default());
        }
        if self.archive_log_status.is_none() {
            self.archive_log_status = Some(match sql.archive_log {
                Some(round)
                    if !matches!(round.status.as_str(), "STOP" | "INTERRUPTED" | "INVALID") =>
                {
                    round.status
                }
                _ => ARCHIVE_LOG_OFF.to_owned(),
            });
        }
    }

    fn to_value(&self) -> Value {
        let string = |text: &Option<String>| text.clone().map_or(Value::Null, Value::String);
        let number = |n: Option<i64>| n.map_or(Value::Null, Value::from);
        Value::Object(BTreeMap::from([
            ("tenant_id".to_owned(), Value::from(self.tenant_id)),
            ("status".to_owned(), Value::String(self.status.clone())),
            (
                "log_archive_concurrency".to_owned(),
                number(self.log_archive_concurrency),
            ),
            (
                "ha_low_thread_score".to_owned(),
                number(self.ha_low_thread_score),
            ),
            (
                "archive_lag_target".to_owned(),
                string(&self.archive_lag_target),
            ),
            ("archive_dest".to_owned(), string(&self.archive_dest)),
            ("data_dest".to_owned(), string(&self.data_dest)),
            (
                "archive_log_status".to_owned(),
                string(&self.archive_log_status),
            ),
            ("binding".to_owned(), string(&self.binding)),
            (
                "piece_switch_interval".to_owned(),
                string(&self.piece_switch_interval),
            ),
            (
                "delete_policy_recovery_window".to_owned(),
                string(&self.delete_policy_recovery_window),
            ),
        ]))
    }
}

/// Whether an error says the tenant cannot be read now (not NORMAL, or dropped meanwhile).
fn tenant_not_readable(error: &Error) -> bool {
    matches!(
        error.err_code(),
        Some("OB.Tenant.StatusNotNormal" | "OB.Tenant.NotExist")
    ) || error.legacy_code() == Some(1010)
}

/// The outcome of reading one NORMAL tenant: its report, or `None` when it stopped being readable.
async fn read_tenant(
    client: &Client,
    name: &str,
    tenant_id: i64,
    backup_reads: bool,
) -> Result<Option<TenantReport>, Error> {
    let mut report = TenantReport::unread(tenant_id, "NORMAL".to_owned());
    // Every request of the tenant is sent together; the client bounds how many run at once.
    let backup = async {
        if backup_reads {
            let (storage, tasks) = tokio::join!(
                client.tenant_backup_storage(name),
                client.tenant_archive_log_tasks(name)
            );
            Some((storage, tasks))
        } else {
            None
        }
    };
    let (parameters, backup) = tokio::join!(client.tenant_backup_parameters(name), backup);
    let parameters = match parameters {
        Ok(parameters) => parameters,
        Err(error) if tenant_not_readable(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    let integer = |text: Option<String>| text.and_then(|text| text.trim().parse::<i64>().ok());
    report.log_archive_concurrency = integer(parameters.log_archive_concurrency);
    report.ha_low_thread_score = integer(parameters.ha_low_thread_score);
    report.archive_lag_target = parameters.archive_lag_target;
    if let Some((storage, tasks)) = backup {
        match storage {
            Ok(Some(storage)) => {
                report.archive_dest = Some(storage.archive_base_uri.without_credentials());
                report.data_dest = Some(storage.data_base_uri.without_credentials());
            }
            // A destination obshell cannot show, or cannot parse (kept without its query
            // string): reported as unknown.
            Ok(None) => {}
            Err(error) if error.is_unparsable_destination() => {}
            Err(error) if tenant_not_readable(&error) => return Ok(None),
            Err(error) => return Err(error),
        }
        match tasks {
            Ok(tasks) => {
                report.archive_log_status = Some(
                    tasks
                        .into_iter()
                        .next()
                        .map_or_else(|| ARCHIVE_LOG_OFF.to_owned(), |task| task.status),
                );
            }
            Err(error) if tenant_not_readable(&error) => return Ok(None),
            Err(error) => return Err(error),
        }
    }
    Ok(Some(report))
}

/// Reads the cluster: its state value and warnings.
async fn read_cluster(
    client: &Client,
    views: Option<&crate::sql::BackupViews>,
) -> Result<(Value, Diagnostics), Error> {
    let info = client.agent_info().await?;
    let (cluster, mut tenants) =
        tokio::try_join!(client.cluster_info(), client.tenants_overview())?;
    tenants.retain(|tenant| !tenant.is_sys());
    tenants.sort_by_key(|tenant| tenant.id);
    let backup_reads = info.version.supports_backup_reads();
    let read = in_tenant_order(
        tenants,
        client.max_parallel_requests(),
        |tenant| async move {
            let report = if tenant.status == "NORMAL" {
                read_tenant(client, &tenant.name, tenant.id, backup_reads).await?
            } else {
                None
            };
            Ok::<_, Error>((tenant, report))
        },
    )
    .await?;
    let mut reports = BTreeMap::new();
    let mut unread = Vec::new();
    for (tenant, report) in read {
        let report = report.map(|mut report| {
            if let Some(views) = views {
                report.apply_sql(views.tenant(tenant.id));
            }
            report
        });
        let report = report.unwrap_or_else(|| {
            unread.push(format!("{} ({})", tenant.name, tenant.status));
            TenantReport::unread(tenant.id, tenant.status.clone())
        });
        reports.insert(tenant.name, report.to_value());
    }
    let mut diagnostics = Diagnostics::new();
    if !unread.is_empty() {
        diagnostics.push(Diagnostic::warning(
            "Tenants not read",
            format!(
                "These user tenants are not NORMAL (being created, restored or dropped), or stopped being readable while they were read, so their backup settings are null: {}. Read again once they are NORMAL.",
                unread.join(", ")
            ),
        ));
    }
    let state = Value::Object(BTreeMap::from([
        ("id".to_owned(), Value::String(cluster.id.to_string())),
        ("cluster_name".to_owned(), Value::String(cluster.name)),
        (
            "obshell_version".to_owned(),
            Value::String(info.version.to_string()),
        ),
        ("tenants".to_owned(), Value::Map(reports)),
    ]));
    Ok((state, diagnostics))
}

/// `ReadDataSource`: reads the cluster; on failure, an error naming the endpoint. Stops at once
/// when Terraform asks the provider to stop.
pub async fn read(
    session: Option<&Session>,
    request: ReadDataSourceRequest,
) -> ReadDataSourceResponse {
    let failed = |diagnostic: Diagnostic| ReadDataSourceResponse {
        state: Value::Null,
        diagnostics: diagnostic.into(),
    };
    if request.type_name != BACKUP_CONFIG_DATA_TYPE {
        return failed(Diagnostic::error(
            "Unknown data source",
            format!(
                "This provider has no data source called {:?}.",
                request.type_name
            ),
        ));
    }
    let Some(session) = session else {
        return failed(Diagnostic::error(
            "Provider not configured",
            "The oceanbase provider has no usable endpoint and password yet (a value in the provider block is unknown until apply). Set them to known values.",
        ));
    };
    let result = tokio::select! {
        biased;
        () = session.cancel.cancelled() => {
            return failed(Diagnostic::error(SUMMARY_READ, "Terraform asked the provider to stop while it was reading the cluster."));
        }
        result = async {
            let views = match &session.sql {
                Some(sql) => Some(sql.read_backup_views().await.map_err(Err)?),
                None => None,
            };
            read_cluster(&session.client, views.as_ref()).await.map_err(Ok)
        } => result,
    };
    match result {
        Ok((state, diagnostics)) => ReadDataSourceResponse { state, diagnostics },
        Err(Ok(error)) => failed(obshell_error(SUMMARY_READ, &error, &session.endpoint)),
        Err(Err(error)) => failed(Diagnostic::error(
            SUMMARY_READ,
            format!("{error}. {}", error.advice()),
        )),
    }
}

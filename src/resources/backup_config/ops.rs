//! The operations of `oceanbase_backup_config` that talk to obshell: plan (create checks and
//! warnings), apply (create, update, delete), read and import. Each takes the Terraform request,
//! calls the pure rules of the sibling modules, and builds diagnostics only here.
//!
//! Delete and the destroy plan never contact obshell (design §3): a dead cluster can still be
//! destroyed, and the cluster keeps its settings.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::obshell::{
    wait_for_dag, ArchiveLogStatus, BackupConfigRequest, Client, Dag, DeletePolicy, Error,
    ObshellVersion, StorageUri, TenantOverview, WaitOptions,
};
use crate::resources::diagnostics::obshell_error;
use crate::tf::{
    ApplyRequest, ApplyResponse, AttributePath, Diagnostic, Diagnostics, ImportRequest,
    ImportResponse, ImportedResource, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Value,
};

use super::adoption::{
    means_what_was_sent, remember_from_tainted, AdoptCreate, SucceededCreate, SucceededCreates,
};
use super::archive_log;
use super::coverage::{
    new_tenants_to_configure, tenants_only_change, unreadable_new_tenants, NamedTenant,
};
use super::duration::parse_timeout;
use super::lag;
use super::model::{BackupConfigModel, Field, TimeoutsModel};
use super::plan::{
    build_request, create_changes, plan_create, plan_update_verified, with_defaults, ChangeSet,
    ConfigRequest, RequestError,
};
use super::private::{
    state_keeping_prior_sent_fields, LocationWrite, PendingUpdate, PrivateState, SentValues,
    UnarrivedWrite,
};
use super::read::{
    fill_unknowns_from_live, fold_live, fold_sql, Disagreement, LiveCluster, LiveStorage,
    LiveTenant, ReadOutcome,
};
use super::schema::{DEFAULT_CREATE_TIMEOUT, DEFAULT_READ_TIMEOUT, DEFAULT_UPDATE_TIMEOUT};
use super::stop::{nothing_sent, until_stopped, write_until_stopped, Stopped};
use super::uri::{parse_backup_base_uri, tenant_dest, DestKind};
use super::{model_from_value, validate::validate_backup_config};
use crate::resources::{all_in_tenant_order, in_tenant_order, BACKUP_CONFIG_TYPE};

/// What the operations need from the configured provider.
#[derive(Debug, Clone)]
pub struct Session {
    /// The obshell client.
    pub client: Client,
    /// Cancelled by StopProvider: every DAG wait watches it.
    pub cancel: CancellationToken,
    /// The endpoint, for messages.
    pub endpoint: String,
    /// The optional SQL reader of the sys tenant's backup views (`sql_endpoint`).
    pub sql: Option<crate::sql::SqlClient>,
    /// The creates that Reads in this provider process found succeeded after their apply
    /// stopped following them, for the replacement's plan to adopt (see `adoption.rs`).
    pub succeeded_creates: SucceededCreates,
}

/// obshell's name of the cluster backup-config DAG.
const BACKUP_CONFIG_DAG: &str = "Set obcluster backup config";
/// The first node of the backup-config DAG, which only checks the destinations.
const CHECK_NODE: &str = "Check backup config";
/// The cluster backup-config call.
const CONFIG_PATH: &str = "/api/v1/obcluster/backup/config";
/// Archive-log round statuses that mean "archiving".
const ARCHIVING_STATUSES: [&str; 3] = ["PREPARE", "BEGINNING", "DOING"];

/// The warning's summary when a tenant's destination cannot be compared.
const UNVERIFIABLE_DESTINATION: &str = "Backup destination not verifiable";
const SUMMARY_PLAN: &str = "Unable to plan oceanbase_backup_config";
const SUMMARY_CREATE: &str = "Unable to create oceanbase_backup_config";
const SUMMARY_UPDATE: &str = "Unable to update oceanbase_backup_config";
const SUMMARY_READ: &str = "Unable to read oceanbase_backup_config";
const SUMMARY_IMPORT: &str = "Unable to import oceanbase_backup_config";

fn not_configured() -> Diagnostic {
    Diagnostic::error(
        "Provider not configured",
        "The oceanbase provider has no usable endpoint and password yet (a value in the provider block is unknown until apply). Set them to known values.",
    )
}

fn delete_warning() -> Diagnostic {
    Diagnostic::warning(
        "The cluster keeps its backup settings",
        "Removing oceanbase_backup_config only removes it from Terraform's state: obshell has no call that clears a backup configuration, and turning backup off silently would endanger the cluster's data protection. Every tenant keeps its destinations, parameters and archive log. To stop managing the cluster without this warning, use a removed block with lifecycle { destroy = false }.",
    )
}

fn timeout(
    timeouts: &Field<TimeoutsModel>,
    pick: fn(&TimeoutsModel) -> &Field<String>,
    default: &str,
) -> Duration {
    let configured = timeouts
        .known()
        .and_then(|timeouts| pick(timeouts).known().cloned());
    configured
        .and_then(|text| parse_timeout(&text).ok())
        .or_else(|| parse_timeout(default).ok())
        .unwrap_or(Duration::from_secs(120))
}

fn is_object_store(uri: &Field<String>) -> bool {
    uri.known()
        .and_then(|uri| parse_backup_base_uri(uri).ok())
        .is_some_and(|uri| uri.scheme.is_object_store())
}

fn credentials_required(planned: &BackupConfigModel, changes: &ChangeSet) -> Option<Diagnostic> {
    (changes.location && is_object_store(&planned.backup_base_uri) && planned.credentials().1.is_null()).then(|| {
        Diagnostic::error(
            "Missing storage_credentials_wo",
            "This change sends backup_base_uri to an object store, which needs access_id and access_key. Set storage_credentials_wo (write-only, Terraform 1.11 or later: never stored), or storage_credentials on older Terraform (sensitive, but stored in the state); they are merged into the URI obshell receives.",
        )
        // storage_credentials is absent from the configuration, so Terraform could only point at
        // the resource block; the URI's line is what makes the credentials necessary.
        .at(AttributePath::root("backup_base_uri"))
    })
}

fn archive_log_warning(planned: &BackupConfigModel, changes: &ChangeSet) -> Option<Diagnostic> {
    if !changes.stops_archive_log() {
        return None;
    }
    let carried = [
        (changes.location, "backup_base_uri"),
        (changes.log_archive_concurrency, "log_archive_concurrency"),
    ]
    .iter()
    .filter(|(sent, _)| *sent)
    .map(|(_, name)| *name)
    .collect::<Vec<_>>()
    .join(" and ");
    let restore = match planned.restore_archive_log {
        Field::Known(false) => format!("restore_archive_log is false, so archive log stays stopped until you reopen it: {}", reopen_sql(None)),
        _ => "With restore_archive_log = true, the provider reopens archive log afterwards on the tenants that were archiving, where obshell (4.3.2 or later) can report that.".to_owned(),
    };
    Some(Diagnostic::warning(
        "Archive log will stop on every tenant",
        format!("This change sends {carried}. obshell then stops archive log on every user tenant{} while it applies the change. {restore}",
            if changes.location { " and cancels running data backups" } else { "" }),
    ))
}

fn adopted_warning(adopted: &[&str]) -> Option<Diagnostic> {
    (!adopted.is_empty()).then(|| {
        Diagnostic::warning(
            "Imported settings adopted without verification",
            format!(
                "obshell cannot report {}, so the values in the configuration are recorded in state without a request and without checking the cluster. To apply them for certain, run terraform apply -replace on this resource, which sends the full configuration.",
                adopted.join(", ")
            ),
        )
    })
}

/// The warning when a change sends the location group while `binding` or
/// `piece_switch_interval` is null in state because an import could not read it: OceanBase sets
/// `LOG_ARCHIVE_DEST` as a whole, so what the request leaves out becomes OceanBase's default,
/// whatever the cluster had.
fn unverified_location_warning(
    prior: &BackupConfigModel,
    planned: &BackupConfigModel,
    changes: &ChangeSet,
) -> Option<Diagnostic> {
    if !changes.location {
        return None;
    }
    let defaults: Vec<&str> = [
        (&prior.binding, &planned.binding, "binding = \"OPTIONAL\""),
        (
            &prior.piece_switch_interval,
            &planned.piece_switch_interval,
            "piece_switch_interval = \"1d\"",
        ),
    ]
    .into_iter()
    .filter(|(prior, planned, _)| prior.is_null() && planned.is_null())
    .map(|(_, _, default)| default)
    .collect();
    (!defaults.is_empty()).then(|| {
        Diagnostic::warning(
            "Archive destination settings will be reset to OceanBase's defaults",
            format!(
                "This change sends backup_base_uri, and OceanBase replaces the whole archive destination (LOG_ARCHIVE_DEST) with what the request carries. The configuration does not set {}, and the cluster's current values were never read (this resource was imported, and obshell cannot report them), so the request leaves them out and OceanBase sets {}. If the cluster uses other values, set them in the configuration before applying (with sql_endpoint the provider reads them).",
                defaults
                    .iter()
                    .map(|d| d.split(' ').next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" or "),
                defaults.join(" and "),
            ),
        )
        .at(AttributePath::root("backup_base_uri"))
    })
}

async fn running_config_dag(client: &Client) -> Result<Option<Dag>, Error> {
    let dags = client.unfinished_dags().await?;
    Ok(dags
        .into_iter()
        .find(|dag| dag.name.starts_with(BACKUP_CONFIG_DAG) && !dag.is_finished()))
}

fn running_dag_warning(dag: &Dag) -> Diagnostic {
    Diagnostic::warning(
        "A backup-config task is running on obshell",
        format!(
            "DAG {} ({}) is {} on obshell, started by another client or an earlier run. Apply waits for it to finish (within the timeout) before sending this change.",
            dag.id, dag.name, dag.state
        ),
    )
}

fn user_tenants(tenants: Vec<TenantOverview>) -> Vec<TenantOverview> {
    let mut tenants: Vec<TenantOverview> = tenants.into_iter().filter(|t| !t.is_sys()).collect();
    tenants.sort_by_key(|tenant| tenant.id);
    tenants
}

fn tenant_not_readable(error: &Error) -> bool {
    matches!(
        error.err_code(),
        Some("OB.Tenant.StatusNotNormal" | "OB.Tenant.NotExist")
    ) || (error.legacy_code() == Some(1010))
}

/// What reading one user tenant gave.
enum TenantRead {
    /// Read; `destination_unparsable` when obshell could not parse the stored destination
    /// (OB.Storage.URI.Invalid), so the tenant's storage is [`LiveStorage::Hidden`].
    Read {
        tenant: Box<LiveTenant>,
        destination_unparsable: bool,
    },
    /// Not readable now: the text for the "Tenants skipped" warning.
    Skipped(String),
}

/// Reads one user tenant: its three parameters and (obshell ≥ 4.3.2) its destinations, all
/// requests sent together.
async fn read_tenant(
    client: &Client,
    tenant: TenantOverview,
    backup_reads: bool,
) -> Result<TenantRead, Error> {
    if tenant.status != "NORMAL" {
        return Ok(TenantRead::Skipped(format!(
            "{} ({})",
            tenant.name, tenant.status
        )));
    }
    let storage = async {
        if backup_reads {
            client.tenant_backup_storage(&tenant.name).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let archive_log = async {
        if backup_reads {
            client
                .tenant_archive_log_tasks(&tenant.name)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    };
    let (parameters, storage, archive_log) = tokio::join!(
        client.tenant_backup_parameters(&tenant.name),
        storage,
        archive_log
    );
    // The active round's status, OFF when obshell lists none (stopped, interrupted or never
    // started: obshell filters those out).
    let archive_log = match archive_log {
        Ok(Some(tasks)) => Some(tasks.into_iter().next().map_or_else(
            || crate::resources::backup_config_data::ARCHIVE_LOG_OFF.to_owned(),
            |task| task.status,
        )),
        Ok(None) => None,
        Err(error) if tenant_not_readable(&error) => {
            return Ok(TenantRead::Skipped(format!("{} ({})", tenant.name, error)));
        }
        Err(error) => return Err(error),
    };
    let mut destination_unparsable = false;
    let storage = match storage {
        Ok(Some(Some(storage))) => LiveStorage::Known {
            archive_dest: storage.archive_base_uri.without_credentials(),
            data_dest: storage.data_base_uri.without_credentials(),
        },
        Ok(Some(None)) => LiveStorage::Hidden,
        Ok(None) => LiveStorage::NotReadable,
        Err(error) if tenant_not_readable(&error) => {
            return Ok(TenantRead::Skipped(format!("{} ({})", tenant.name, error)));
        }
        Err(error) if error.is_unparsable_destination() => {
            tracing::warn!(tenant = %tenant.name, %error, "the stored destination cannot be parsed by obshell");
            destination_unparsable = true;
            LiveStorage::Hidden
        }
        Err(error) => return Err(error),
    };
    let parameters = match parameters {
        Ok(parameters) => parameters,
        Err(error) if tenant_not_readable(&error) => {
            return Ok(TenantRead::Skipped(format!(
                "{} (its parameters cannot be read now)",
                tenant.name
            )));
        }
        Err(error) => return Err(error),
    };
    Ok(TenantRead::Read {
        tenant: Box::new(LiveTenant {
            name: tenant.name,
            tenant_id: tenant.id,
            log_archive_concurrency: parameters.log_archive_concurrency,
            ha_low_thread_score: parameters.ha_low_thread_score,
            archive_lag_target: parameters.archive_lag_target,
            storage,
            sql: None,
            archive_log,
            disagreeing: parameters.disagreeing,
        }),
        destination_unparsable,
    })
}

/// Reads every NORMAL user tenant's settings, up to the client's bound of requests at once, and
/// folds them in tenant-id order. Tenants that are not NORMAL are skipped with a warning.
/// `cluster_id` is the cluster id when this process has just read it (apply, before its request);
/// otherwise it is read here. `tenants` is the overview when this process has already read it.
async fn read_live(
    client: &Client,
    cluster_id: Option<i64>,
    tenants: Option<Vec<TenantOverview>>,
) -> Result<(LiveCluster, Diagnostics), Error> {
    let info = client.agent_info().await?;
    let (cluster_id, tenants) = match (cluster_id, tenants) {
        (Some(id), Some(tenants)) => (id, tenants),
        (Some(id), None) => (id, user_tenants(client.tenants_overview().await?)),
        (None, tenants) => {
            let overview = async {
                match tenants {
                    Some(tenants) => Ok(tenants),
                    None => client.tenants_overview().await.map(user_tenants),
                }
            };
            let (cluster, tenants) = tokio::try_join!(client.cluster_info(), overview)?;
            (cluster.id, tenants)
        }
    };
    let backup_reads = info.version.supports_backup_reads();
    let listed: Vec<String> = tenants.iter().map(|tenant| tenant.name.clone()).collect();
    let reads = in_tenant_order(tenants, client.max_parallel_requests(), |tenant| {
        read_tenant(client, tenant, backup_reads)
    })
    .await?;
    let mut warnings = Diagnostics::new();
    let mut live_tenants = Vec::new();
    let mut skipped = Vec::new();
    let mut unverifiable = Vec::new();
    for read in reads {
        match read {
            TenantRead::Read {
                tenant,
                destination_unparsable,
            } => {
                if destination_unparsable {
                    unverifiable.push(tenant.name.clone());
                }
                live_tenants.push(*tenant);
            }
            TenantRead::Skipped(text) => skipped.push(text),
        }
    }
    if !unverifiable.is_empty() {
        warnings.push(Diagnostic::warning(
            UNVERIFIABLE_DESTINATION,
            format!(
                "obshell cannot parse the backup destination OceanBase stores for these tenants (it answered OB.Storage.URI.Invalid: an object-store path kept without its query string), so backup_base_uri could not be compared on them: {}. The state keeps its value; a destination changed outside Terraform on these tenants is not detected.",
                unverifiable.join(", ")
            ),
        ));
    }
    if !skipped.is_empty() {
        warnings.push(Diagnostic::warning(
            "Tenants skipped",
            format!(
                "These user tenants are not NORMAL (being created, restored or dropped), so their backup settings were not read or compared: {}. A change applied while they are not NORMAL will fail: obshell's configuration task runs its statements on every user tenant, OceanBase refuses them on these tenants, and the tenants before them in obshell's order keep what was already applied. Apply once they are NORMAL, or dropped and purged from the recycle bin; they are compared again then.",
                skipped.join(", ")
            ),
        ));
    }
    Ok((
        LiveCluster {
            cluster_id: cluster_id.to_string(),
            skipped: listed
                .into_iter()
                .filter(|name| !live_tenants.iter().any(|tenant| tenant.name == *name))
                .collect(),
            tenants: live_tenants,
        },
        warnings,
    ))
}

/// Why reading the cluster failed: obshell, or the optional SQL read.
enum ReadFailure {
    Obshell(Error),
    Sql(crate::sql::SqlError),
}

impl ReadFailure {
    fn diagnostic(&self, summary: &str, session: &Session) -> Diagnostic {
        match self {
            ReadFailure::Obshell(error) => obshell_error(summary, error, &session.endpoint),
            ReadFailure::Sql(error) => sql_error(summary, error),
        }
    }
}

/// A failed SQL read: names the endpoint and the view, says what to do; never the password.
fn sql_error(summary: &str, error: &crate::sql::SqlError) -> Diagnostic {
    Diagnostic::error(
        summary,
        format!(
            "{}. {} The SQL read runs because sql_endpoint is set; without it, binding, piece_switch_interval and delete_policy would not be checked for drift.",
            capitalised(&error.to_string()),
            error.advice()
        ),
    )
}

/// [`read_live`], joined with the sys tenant's backup views when `sql_endpoint` is set (read at
/// the same time; one query per view for the whole cluster).
async fn read_cluster(
    session: &Session,
    cluster_id: Option<i64>,
    tenants: Option<Vec<TenantOverview>>,
) -> Result<(LiveCluster, Diagnostics), ReadFailure> {
    let Some(sql) = &session.sql else {
        return read_live(&session.client, cluster_id, tenants)
            .await
            .map_err(ReadFailure::Obshell);
    };
    let (live, views) = tokio::join!(
        read_live(&session.client, cluster_id, tenants),
        sql.read_backup_views()
    );
    let (mut live, mut warnings) = live.map_err(ReadFailure::Obshell)?;
    let unverifiable = live.join_sql(&views.map_err(ReadFailure::Sql)?);
    let warned = warnings
        .0
        .iter()
        .any(|d| d.summary == UNVERIFIABLE_DESTINATION);
    if !unverifiable.is_empty() && !warned {
        warnings.push(Diagnostic::warning(
            UNVERIFIABLE_DESTINATION,
            format!(
                "The sys tenant's views show these tenants' object-store destination without its query string (OceanBase may keep it so), and obshell cannot show it either, so backup_base_uri could not be compared on them: {}. The state keeps its value; a destination changed outside Terraform on these tenants is not detected.",
                unverifiable.join(", ")
            ),
        ));
    }
    Ok((live, warnings))
}

/// The plan of a create contacts obshell once (authenticated), so a wrong password or an
/// unreachable endpoint shows at plan, and warns about destinations the create overwrites.
async fn create_plan_checks(client: &Client) -> Result<Diagnostics, Error> {
    let mut warnings = Diagnostics::new();
    let info = client.agent_info().await?;
    let tenants = user_tenants(client.tenants_overview().await?);
    if info.version.supports_backup_reads() {
        let normal: Vec<TenantOverview> = tenants
            .into_iter()
            .filter(|t| t.status == "NORMAL")
            .collect();
        let found = in_tenant_order(
            normal,
            client.max_parallel_requests(),
            |tenant| async move {
                match client.tenant_backup_storage(&tenant.name).await {
                    Ok(Some(storage)) => {
                        let dest = storage.archive_base_uri.without_credentials();
                        let data = storage.data_base_uri.without_credentials();
                        Ok((!dest.is_empty() || !data.is_empty()).then(|| {
                            format!(
                                "{}: {}",
                                tenant.name,
                                if dest.is_empty() { data } else { dest }
                            )
                        }))
                    }
                    Ok(None) => Ok(Some(format!(
                        "{}: a destination obshell does not show",
                        tenant.name
                    ))),
                    Err(error) if error.is_unparsable_destination() => Ok(Some(format!(
                        "{}: a destination obshell cannot parse",
                        tenant.name
                    ))),
                    Err(error) if tenant_not_readable(&error) => Ok(None),
                    Err(error) => Err(error),
                }
            },
        )
        .await?;
        let existing: Vec<String> = found.into_iter().flatten().collect();
        if !existing.is_empty() {
            warnings.push(Diagnostic::warning(
                "Existing backup destinations will be overwritten",
                format!(
                    "The cluster already has backup destinations, which this create replaces on every user tenant: {}. If another configuration manages this cluster, import it instead (terraform import with the cluster id).",
                    existing.join("; ")
                ),
            ));
        }
    }
    if let Some(dag) = running_config_dag(client).await? {
        warnings.push(running_dag_warning(&dag));
    }
    Ok(warnings)
}

/// A create's plan: whether it adopts a create that a Read of this process found succeeded on the
/// same cluster (`adoption.rs`), with the marker for the planned private state and the warning
/// that says so. obshell is asked for the cluster id only when something is remembered for this
/// endpoint.
async fn adoptable_create(
    session: &Session,
    config: &BackupConfigModel,
) -> Result<Option<(AdoptCreate, Diagnostic)>, Error> {
    if !session.succeeded_creates.any_for(&session.endpoint) {
        return Ok(None);
    }
    let cluster_id = session.client.cluster_info().await?.id.to_string();
    let Some(created) = session
        .succeeded_creates
        .get(&session.endpoint, &cluster_id)
    else {
        return Ok(None);
    };
    if !means_what_was_sent(&created.sent, config, session.sql.is_some()) {
        tracing::info!(dag_id = %created.dag_id, "the configuration differs from what the earlier create sent; not adopting it");
        return Ok(None);
    }
    let warning = Diagnostic::warning(
        "Replacement adopts the earlier create",
        format!("DAG {} of the create that an earlier apply stopped following succeeded on cluster {cluster_id}, and this configuration means what it sent. This replacement adopts that create: apply reads the cluster again and, if every user tenant still has those values, records them in the state without sending anything to obshell (no POST, archive log is not stopped again). If the cluster has changed by then, apply sends the create as usual, which stops archive log on every user tenant. Alternatively, terraform untaint keeps the tainted resource without any replacement.", created.dag_id),
    );
    Ok(Some((
        AdoptCreate {
            dag_id: created.dag_id,
            cluster_id,
            archiving_tenants: created.archiving_tenants,
            stops_archive_log: created.stops_archive_log,
            sent: created.sent,
        },
        warning,
    )))
}

/// The plan's warning naming the tenants whose last-read value differs from the configuration:
/// the top-level attributes show one folded value, so without it a plan that sends a setting
/// again for one tenant would not say why.
fn tenants_differ_warning(
    prior: &BackupConfigModel,
    config: &BackupConfigModel,
    sql_read: bool,
) -> Option<Diagnostic> {
    use super::tenants::{compare_tenants, describe_differing};
    let lines: Vec<String> = compare_tenants(
        &prior.tenants,
        prior.id.known().map(String::as_str),
        config,
        sql_read,
    )
    .iter()
    .filter(|c| !c.differing.is_empty())
    .map(|c| format!("{}: {}", c.attribute, describe_differing(&c.differing)))
    .collect();
    (!lines.is_empty()).then(|| {
        Diagnostic::warning(
            "Tenants differ from the configuration",
            format!(
                "As last read, these tenants do not have the configured value (a change that stopped part-way, or a change made outside Terraform): {}. Apply sends these settings to every user tenant again.",
                lines.join("; ")
            ),
        )
    })
}

/// `PlanResourceChange`.
pub async fn plan(session: Option<&Session>, request: PlanRequest) -> PlanResponse {
    let mut response = PlanResponse {
        planned_state: request.proposed_new_state.clone(),
        requires_replace: Vec::new(),
        planned_private: request.prior_private.clone(),
        diagnostics: Diagnostics::new(),
    };
    if request.proposed_new_state.is_null() {
        if let Some(session) = session {
            remember_from_tainted(
                &session.succeeded_creates,
                &session.endpoint,
                &request.prior_state,
                &PrivateState::decode(&request.prior_private),
            );
        }
        response.diagnostics.push(delete_warning());
        return response;
    }
    let config = match model_from_value(&request.config) {
        Ok(config) => config,
        Err(diagnostics) => {
            response.diagnostics = diagnostics;
            return response;
        }
    };
    response.diagnostics = validate_backup_config(&config);
    if response.diagnostics.has_errors() {
        return response;
    }
    if request.prior_state.is_null() {
        let planned = plan_create(&config);
        let changes = create_changes(&planned);
        response.planned_state = planned.to_value();
        response.planned_private = Vec::new();
        if let Some(error) = credentials_required(&planned, &changes) {
            response.diagnostics.push(error);
            return response;
        }
        if let Some(session) = session {
            match adoptable_create(session, &config).await {
                Ok(Some((marker, warning))) => {
                    response.planned_private = PrivateState {
                        adopt_create: Some(marker),
                        ..PrivateState::default()
                    }
                    .encode();
                    response.diagnostics.push(warning);
                    return response;
                }
                Ok(None) => {}
                Err(error) => {
                    response.diagnostics.push(obshell_error(
                        SUMMARY_PLAN,
                        &error,
                        &session.endpoint,
                    ));
                    return response;
                }
            }
        }
        if let Some(warning) = archive_log_warning(&planned, &changes) {
            response.diagnostics.push(warning);
        }
        match session {
            Some(session) => match create_plan_checks(&session.client).await {
                Ok(warnings) => response.diagnostics.extend(warnings),
                Err(error) => response.diagnostics.push(obshell_error(
                    SUMMARY_PLAN,
                    &error,
                    &session.endpoint,
                )),
            },
            None => tracing::debug!(
                "provider configuration unknown; create plan not checked against obshell"
            ),
        }
        return response;
    }
    let prior = match model_from_value(&request.prior_state) {
        Ok(prior) => prior,
        Err(diagnostics) => {
            response.diagnostics = diagnostics;
            return response;
        }
    };
    let mut private = PrivateState::decode(&request.prior_private);
    let sql_read = session.is_some_and(|session| session.sql.is_some());
    let update = plan_update_verified(&prior, &config, private.imported, sql_read);
    response.planned_state = update.planned.to_value();
    if let Some(error) = credentials_required(&update.planned, &update.changes) {
        response.diagnostics.push(error);
        return response;
    }
    let new_tenants = plan_new_tenants(&prior, &config, &update, &private, sql_read);
    private.configure_tenants = None;
    match new_tenants {
        Some(NewTenantsPlan::TenantCalls(tenants)) => {
            response
                .diagnostics
                .push(new_tenants_warning(&tenants, true, &update.planned));
            private.configure_tenants = Some(tenants.iter().map(|tenant| tenant.id).collect());
        }
        Some(NewTenantsPlan::WithClusterCall(tenants)) => {
            response
                .diagnostics
                .push(new_tenants_warning(&tenants, false, &update.planned));
        }
        None => {}
    }
    response.planned_private = private.encode();
    if private.configure_tenants.is_some() || private.pending.is_some() {
        // Tenant-level calls (which tenants get them is checked again at apply), or an earlier
        // task that apply resolves first and that may change any tenant: the whole map is
        // known only after apply, as for a create.
        let mut planned = update.planned.clone();
        planned.tenants = Field::Unknown;
        response.planned_state = planned.to_value();
    }
    if private.configure_tenants.is_none() {
        if let Some(warning) = archive_log_warning(&update.planned, &update.changes) {
            response.diagnostics.push(warning);
        }
    }
    if let Some(warning) = adopted_warning(&update.adopted) {
        response.diagnostics.push(warning);
    }
    if private.location_unverified && !sql_read {
        if let Some(warning) = unverified_location_warning(&prior, &update.planned, &update.changes)
        {
            response.diagnostics.push(warning);
        }
    }
    // With tenant-level calls only the new tenants differ, and the warning above names them.
    if private.configure_tenants.is_none() {
        if let Some(warning) = tenants_differ_warning(&prior, &config, sql_read) {
            response.diagnostics.push(warning);
        }
    }
    if !update.changes.is_empty() {
        if let Some(session) = session {
            match running_config_dag(&session.client).await {
                Ok(Some(dag)) => response.diagnostics.push(running_dag_warning(&dag)),
                Ok(None) => {}
                Err(error) => response.diagnostics.push(obshell_error(
                    SUMMARY_PLAN,
                    &error,
                    &session.endpoint,
                )),
            }
        }
    }
    response
}

/// What a plan does about user tenants that the last location write did not reach.
enum NewTenantsPlan {
    /// Only they need configuring: apply sends obshell's tenant-level call for each.
    TenantCalls(Vec<NamedTenant>),
    /// The change needs the cluster call anyway, which configures them too.
    WithClusterCall(Vec<NamedTenant>),
}

/// The new tenants an update's plan sees (from the refreshed state's `tenants` and the private
/// record of the last location write), and how apply configures them; `None` when there are
/// none, nothing is recorded, or the change does not send the location.
fn plan_new_tenants(
    prior: &BackupConfigModel,
    config: &BackupConfigModel,
    update: &super::plan::UpdatePlan,
    private: &PrivateState,
    sql_read: bool,
) -> Option<NewTenantsPlan> {
    let covered = private.location.as_ref()?;
    let tenants = prior.tenants.known()?;
    let cluster_id = prior.id.known()?;
    if !update.changes.location {
        return None;
    }
    let only = tenants_only_change(
        prior,
        config,
        &update.planned,
        tenants,
        covered,
        cluster_id,
        private.imported,
        sql_read,
    );
    match only {
        Some(tenants) if !tenants.is_empty() => Some(NewTenantsPlan::TenantCalls(tenants)),
        _ => {
            let tenants = new_tenants_to_configure(tenants, covered, cluster_id, &update.planned);
            (!tenants.is_empty()).then_some(NewTenantsPlan::WithClusterCall(tenants))
        }
    }
}

fn new_tenants_warning(
    tenants: &[NamedTenant],
    tenant_calls: bool,
    planned: &BackupConfigModel,
) -> Diagnostic {
    let names: Vec<String> = tenants.iter().map(NamedTenant::label).collect();
    let why = format!(
        "These user tenants appeared after the last backup_base_uri write, which reached only the tenants that existed then (obshell configures no tenant created later), and do not report this configuration: {}. So backup_base_uri shows as changed.",
        names.join(", ")
    );
    let how = if tenant_calls {
        let archive = match planned.restore_archive_log {
            Field::Known(false) => {
                "restore_archive_log is false, so the provider does not reopen it"
            }
            _ => "the provider reopens it where it was on (obshell 4.3.2 or later can tell)",
        };
        format!(
            "Apply configures just them, one at a time, with obshell's tenant-level call (POST /api/v1/tenant/{{name}}/backup/config, with the destinations <backup_base_uri>/<cluster_id>/<tenant_id>/clog and /data that the cluster call makes) and the configured settings, so archive log keeps running on the other tenants; it stops on each new tenant while that one is configured, and {archive}. An obshell without the tenant-level call gets the cluster call instead, which stops archive log on every user tenant."
        )
    } else {
        "This change needs obshell's cluster call anyway, which configures them along with every other user tenant.".to_owned()
    };
    Diagnostic::warning(
        "New tenants without this backup configuration",
        format!("{why} {how}"),
    )
}

fn to_obshell_request(request: ConfigRequest) -> BackupConfigRequest {
    BackupConfigRequest {
        backup_base_uri: request.backup_base_uri.map(StorageUri::new),
        log_archive_concurrency: request.log_archive_concurrency,
        binding: request.binding,
        ha_low_thread_score: request.ha_low_thread_score,
        piece_switch_interval: request.piece_switch_interval,
        archive_lag_target: request.archive_lag_target,
        delete_policy: request
            .delete_policy
            .map(|(policy, recovery_window)| DeletePolicy {
                policy,
                recovery_window,
            }),
    }
}

/// Which of `tenants` (the user tenants) are archiving now, in tenant-id order; `None` when
/// obshell cannot tell (before 4.3.2). The tenants are read up to the client's bound at once.
///
/// PREPARE and BEGINNING are archive log on its way to DOING: archiving. STOPPING is on its way
/// to STOP: not archiving (someone stopped it, so it is not reopened), and OceanBase cannot
/// change a destination or reopen archive log until it has stopped. So while some tenant is
/// STOPPING this reads again ([`archive_statuses`]) for at most half the time left before the
/// apply's deadline, and the write goes after; a STOPPING that outlasts that is left to
/// obshell's answer.
async fn archiving_tenants(
    client: &Client,
    version: ObshellVersion,
    tenants: &[TenantOverview],
    options: &WaitOptions,
) -> Result<Option<Vec<String>>, Error> {
    if !version.supports_backup_reads() {
        return Ok(None);
    }
    let names: Vec<String> = tenants.iter().map(|tenant| tenant.name.clone()).collect();
    let give_up = Instant::now() + options.deadline.saturating_duration_since(Instant::now()) / 2;
    let statuses = archive_statuses(client, names, give_up, &options.cancel).await?;
    Ok(Some(
        statuses
            .into_iter()
            .filter(|(_, statuses)| {
                statuses
                    .iter()
                    .any(|s| ARCHIVING_STATUSES.contains(&s.as_str()))
            })
            .map(|(name, _)| name)
            .collect(),
    ))
}

/// Each tenant's archive-log round statuses (obshell ≥ 4.3.2), in tenant order; a tenant that
/// cannot be read now has none. While some tenant is STOPPING, reads again with backoff until
/// `give_up` (or StopProvider), since nothing can be sent to it before it has stopped.
async fn archive_statuses(
    client: &Client,
    names: Vec<String>,
    give_up: Instant,
    cancel: &CancellationToken,
) -> Result<Vec<(String, Vec<String>)>, Error> {
    let mut pause = lag::FIRST_PAUSE;
    loop {
        let statuses = in_tenant_order(
            names.clone(),
            client.max_parallel_requests(),
            |name| async move {
                match client.tenant_archive_log_tasks(&name).await {
                    Ok(tasks) => Ok((name, tasks.into_iter().map(|task| task.status).collect())),
                    Err(error) if tenant_not_readable(&error) => Ok((name, Vec::new())),
                    Err(error) => Err(error),
                }
            },
        )
        .await?;
        let stopping: Vec<&String> = statuses
            .iter()
            .filter(|(_, statuses): &&(String, Vec<String>)| is_stopping(statuses))
            .map(|(name, _)| name)
            .collect();
        if stopping.is_empty() || cancel.is_cancelled() || Instant::now() + pause > give_up {
            if !stopping.is_empty() {
                tracing::warn!(tenants = ?stopping, "archive log still stopping after the wait");
            }
            return Ok(statuses);
        }
        tracing::info!(tenants = ?stopping, "archive log is stopping; waiting for it to stop");
        tokio::select! {
            () = cancel.cancelled() => {}
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(lag::MAX_PAUSE);
    }
}

fn is_stopping(statuses: &[String]) -> bool {
    statuses.iter().any(|status| status == "STOPPING")
}

/// How a request that obshell accepted ended, as far as the provider saw.
enum Outcome {
    /// Applied.
    Succeeded,
    /// The DAG ended without applying the change.
    Failed(Error),
    /// The provider stopped waiting (timeout, StopProvider, a read error); the DAG may go on.
    /// With whether the DAG was found by the lost-write search ([`Dag::found_by_search`]).
    Unfinished(crate::obshell::DagId, Error, bool),
    /// The request may have reached obshell, but no DAG could be identified.
    Unknown(Error),
}

impl Outcome {
    /// False only when the DAG failed in its first node, which checks the destinations and never
    /// touches archive log.
    fn may_have_stopped_archive_log(&self) -> bool {
        match self {
            Outcome::Succeeded => false,
            Outcome::Failed(Error::DagFailed { failure, .. }) => {
                failure.node.as_deref() != Some(CHECK_NODE)
            }
            _ => true,
        }
    }
}

/// What happened when sending a change.
enum SendResult {
    /// A stop or the timeout came before the request was sent: nothing was sent.
    NotSent(Stopped),
    /// obshell refused or could not be reached before accepting: nothing changed.
    Refused(Error),
    /// obshell accepted (or may have accepted) the request.
    Accepted(Outcome),
    /// The answer was lost and the search found one DAG that started after the request, which
    /// then succeeded; it may be another client's ([`crate::obshell::Dag::found_by_search`]), so
    /// its effect is checked ([`check_found_dag`]) before its outcome is taken for the request's.
    FoundSucceeded(Dag),
}

/// Sends the request and waits for its DAG. A stop or the timeout before the request goes out
/// sends nothing; once it is on its way, the answer gets `stop::WRITE_ANSWER_GRACE` to come (so
/// the DAG is known and recorded), else the outcome is unknown.
async fn send_and_wait(
    client: &Client,
    request: &BackupConfigRequest,
    is_create: bool,
    options: &WaitOptions,
) -> SendResult {
    if let Some(stopped) = Stopped::now(options) {
        return SendResult::NotSent(stopped);
    }
    tracing::info!(?request, create = is_create, "sending backup config");
    let (method, write) = if is_create {
        (
            "POST",
            futures_util::future::Either::Left(client.post_backup_config(request)),
        )
    } else {
        (
            "PATCH",
            futures_util::future::Either::Right(client.patch_backup_config(request)),
        )
    };
    let sent = write_until_stopped(write, options, method, CONFIG_PATH).await;
    let dag = match sent {
        Ok(dag) => dag,
        Err(error @ Error::WriteOutcomeUnknown { .. }) => {
            return SendResult::Accepted(Outcome::Unknown(error))
        }
        Err(error) => return SendResult::Refused(error),
    };
    tracing::info!(dag_id = %dag.id, found_by_search = dag.found_by_search, "obshell accepted the backup config");
    match wait_for_dag(client, &dag.id, options).await {
        Ok(_) if dag.found_by_search => SendResult::FoundSucceeded(dag),
        Ok(_) => SendResult::Accepted(Outcome::Succeeded),
        Err(error @ Error::DagFailed { .. }) if dag.found_by_search => {
            // Whoever's it was, it did not apply; whether this request started anything at all
            // cannot be told.
            SendResult::Accepted(Outcome::Unknown(Error::WriteOutcomeUnknown {
                method: method.to_owned(),
                path: CONFIG_PATH.to_owned(),
                cause: "its answer was lost".to_owned(),
                finding: format!("DAG {} ({}), the only one that started after it and so perhaps its task (or another client's), failed: {error}", dag.id, dag.name),
                candidates: Vec::new(),
            }))
        }
        Err(error @ Error::DagFailed { .. }) => SendResult::Accepted(Outcome::Failed(error)),
        Err(error) => SendResult::Accepted(Outcome::Unfinished(
            dag.id.clone(),
            error,
            dag.found_by_search,
        )),
    }
}

/// Checks the effect of a DAG that the lost-write search found and that succeeded: it is this
/// request's only if the cluster now has what the request sent. Reads the tenants the request
/// reached, again with backoff while a sent parameter may still be spreading (servers that
/// disagree, or a tenant still showing its value from before the write), within the apply's
/// deadline and [`lag::SETTLE_WINDOW`]. `Ok` holds a warning naming the sent attributes no read
/// can show (without `sql_endpoint`), when some could be compared and all of those matched;
/// otherwise the outcome is unknown, naming the DAG. Nothing is recorded as pending: the DAG has
/// ended, and a refresh reads what the cluster has.
async fn check_found_dag(
    session: &Session,
    apply: &ApplyChange,
    checked: &Checked,
    (dag, write): (&Dag, FoundWrite<'_>),
    options: &WaitOptions,
) -> Result<Diagnostics, Error> {
    use super::tenants::{compare_tenants, describe_differing};
    let unknown = |finding: String| {
        let finding = format!("DAG {} ({}), the only one that started after it, succeeded, but it may be another client's task: {finding}", dag.id, dag.name);
        Error::WriteOutcomeUnknown {
            method: write.method.to_owned(),
            path: write.path.to_owned(),
            cause: "its answer was lost".to_owned(),
            finding,
            candidates: Vec::new(),
        }
    };
    let sent = write.changes.attribute_names();
    let bound = Instant::now() + lag::SETTLE_WINDOW;
    let mut pause = lag::FIRST_PAUSE;
    loop {
        let live = match read_cluster(
            session,
            Some(checked.cluster_number),
            checked.tenants.clone(),
        )
        .await
        {
            Ok((live, _)) => live,
            Err(ReadFailure::Obshell(error)) => {
                return Err(unknown(format!(
                    "reading the cluster to check what it has failed: {error}"
                )))
            }
            Err(ReadFailure::Sql(error)) => {
                return Err(unknown(format!(
                    "reading the cluster to check what it has failed: {error}"
                )))
            }
        };
        let comparisons: Vec<_> = compare_tenants(
            &Field::Known(live.tenants_map()),
            Some(&live.cluster_id),
            &apply.planned,
            apply.sql_read,
        )
        .into_iter()
        .filter(|c| sent.contains(&c.attribute))
        .filter_map(|mut c| {
            // A tenant-level call reached its tenant only.
            if let Some(tenant) = write.tenant {
                c.matching.retain(|name| name == tenant);
                c.differing.retain(|(name, _)| name == tenant);
            }
            (!c.matching.is_empty() || !c.differing.is_empty()).then_some(c)
        })
        .collect();
        let differing: Vec<_> = comparisons
            .iter()
            .filter(|c| !c.differing.is_empty())
            .collect();
        if differing.is_empty() && !comparisons.is_empty() {
            let unverified: Vec<&str> = sent
                .iter()
                .filter(|name| !comparisons.iter().any(|c| c.attribute == **name))
                .copied()
                .collect();
            tracing::info!(dag_id = %dag.id, "the cluster has what the lost write sent; taking the dag found for it");
            let mut warnings = Diagnostics::new();
            if !unverified.is_empty() {
                warnings.push(Diagnostic::warning(
                    "Lost answer: some values not verified",
                    format!("The answer to this change was lost, and DAG {}, the only task that started after it, succeeded. The cluster shows what this change sent, so the provider took that task for this change's, but it cannot read {} (set sql_endpoint to read them), so those are recorded as sent.", dag.id, unverified.join(", ")),
                ));
            }
            return Ok(warnings);
        }
        if comparisons.is_empty() {
            return Err(unknown(format!(
                "no read can show what this request sent ({}), so it cannot be told whether the cluster has it",
                sent.join(", ")
            )));
        }
        let may_be_lag = differing.iter().all(|c| {
            c.differing.iter().all(|(tenant, value)| {
                still_spreading(&live, apply.prior.as_ref(), c.attribute, tenant, value)
            })
        });
        let now = Instant::now();
        if !may_be_lag || now + pause > bound.min(options.deadline) || options.cancel.is_cancelled()
        {
            let lines: Vec<String> = differing
                .iter()
                .map(|c| format!("{} is {}", c.attribute, describe_differing(&c.differing)))
                .collect();
            return Err(unknown(format!(
                "the cluster does not have what this request sent: {}",
                lines.join("; ")
            )));
        }
        tracing::info!(dag_id = %dag.id, pause_ms = pause.as_millis() as u64, "the cluster does not show the lost write's values yet; reading again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(lag::MAX_PAUSE);
    }
}

/// The write whose lost answer led to a DAG found by the search: its call, what it sent, and, for
/// a tenant-level call, the one tenant it reaches.
#[derive(Clone, Copy)]
struct FoundWrite<'a> {
    method: &'a str,
    path: &'a str,
    changes: &'a ChangeSet,
    tenant: Option<&'a str>,
}

/// Whether a tenant's `value` of `attribute`, read right after a write of it, may be the write
/// still spreading to its servers (obshell-api.md §10.4): a parameter its servers disagree on,
/// or still its value from before the write (any value, for a create).
fn still_spreading(
    live: &LiveCluster,
    prior: Option<&BackupConfigModel>,
    attribute: &str,
    tenant: &str,
    value: &str,
) -> bool {
    if !crate::obshell::BACKUP_PARAMETER_NAMES.contains(&attribute) {
        return false;
    }
    let disagreeing = live
        .tenants
        .iter()
        .any(|t| t.name == tenant && t.disagreeing.contains_key(attribute));
    let Some(prior) = prior else {
        return true;
    };
    let before = prior
        .tenants
        .known()
        .and_then(|tenants| tenants.get(tenant))
        .and_then(|t| match attribute {
            "log_archive_concurrency" => t.log_archive_concurrency.known().map(i64::to_string),
            "ha_low_thread_score" => t.ha_low_thread_score.known().map(i64::to_string),
            _ => t.archive_lag_target.known().cloned(),
        });
    disagreeing || before.is_none_or(|before| lag::same_value(attribute, &before, value))
}

/// Reopens archive log on `tenants`; failures become warnings, and the tenants where it failed
/// are recorded in `stopped` (see `archive_log.rs`). A tenant whose archive log is still
/// STOPPING (stopped by someone else meanwhile) is waited for, within half the time left before
/// `options`' deadline: OceanBase refuses ARCHIVELOG until it has stopped, so `DOING` is never
/// sent to it while it is STOPPING.
async fn reopen_archive_log(
    client: &Client,
    tenants: &[String],
    stopped: &mut Option<super::private::StoppedArchiveLog>,
    options: &WaitOptions,
) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    if tenants.is_empty() {
        return diagnostics;
    }
    let give_up = Instant::now() + options.deadline.saturating_duration_since(Instant::now()) / 2;
    let still_stopping: Vec<String> =
        match archive_statuses(client, tenants.to_vec(), give_up, &options.cancel).await {
            Ok(statuses) => statuses
                .into_iter()
                .filter(|(_, statuses)| is_stopping(statuses))
                .map(|(name, _)| name)
                .collect(),
            // Unknown: send DOING and let obshell's answer tell.
            Err(error) => {
                tracing::warn!(%error, "reading archive-log status before reopening failed");
                Vec::new()
            }
        };
    let names: Vec<String> = tenants
        .iter()
        .filter(|tenant| !still_stopping.contains(tenant))
        .cloned()
        .collect();
    let results = all_in_tenant_order(names, client.max_parallel_requests(), |tenant| async move {
        let result = client
            .set_tenant_archive_log(&tenant, ArchiveLogStatus::Doing)
            .await;
        (tenant, result)
    })
    .await;
    let mut failed = Vec::new();
    let mut failed_detail = Vec::new();
    for tenant in &still_stopping {
        failed_detail.push(format!("{tenant}: its archive log is still STOPPING (stopped by someone else), and OceanBase cannot reopen it before it has stopped"));
        failed.push(tenant.clone());
    }
    for (tenant, result) in results {
        if let Err(error) = result {
            tracing::warn!(tenant = %tenant, %error, "reopening archive log failed");
            failed_detail.push(format!("{tenant}: {error}"));
            failed.push(tenant.clone());
        }
    }
    archive_log::record(stopped, &failed);
    if !failed.is_empty() {
        diagnostics.push(Diagnostic::warning(
            "Archive log not reopened",
            format!("The backup configuration was applied, but archive log could not be reopened on every tenant that was archiving before: {}. {}", failed_detail.join("; "), reopen_sql(Some(&failed))),
        ));
    }
    diagnostics
}

fn request_error(error: RequestError) -> Diagnostics {
    Diagnostics::from(Diagnostic::error(
        "Unable to build the obshell request",
        format!("The planned configuration is incomplete at apply: {error}. Set the attribute and apply again."),
    ))
}

/// `ApplyResourceChange`: a short sequence of phases. Delete never contacts obshell; every other
/// apply decodes the request, resolves what it means ([`plan_the_request`]), and, when something
/// must be sent, runs the pre-write checks, writes and waits, reopens archive log and reads back.
pub async fn apply(session: Option<&Session>, request: ApplyRequest) -> ApplyResponse {
    if request.planned_state.is_null() {
        if let Some(session) = session {
            remember_from_tainted(
                &session.succeeded_creates,
                &session.endpoint,
                &request.prior_state,
                &PrivateState::decode(&request.planned_private),
            );
        }
        return ApplyResponse {
            new_state: Value::Null,
            private: Vec::new(),
            diagnostics: Diagnostics::from(delete_warning()),
        };
    }
    let failed = |diagnostics: Diagnostics| ApplyResponse {
        new_state: request.prior_state.clone(),
        private: request.planned_private.clone(),
        diagnostics,
    };
    let sql_read = session.is_some_and(|session| session.sql.is_some());
    let mut apply = match ApplyChange::decode(&request, sql_read) {
        Ok(apply) => apply,
        Err(diagnostics) => return failed(diagnostics),
    };
    if let Some(warning) = adopted_warning(&apply.adopted) {
        apply.diagnostics.push(warning);
    }
    if apply.is_noop() {
        return apply.without_request();
    }
    let Some(session) = session else {
        return failed(Diagnostics::from(not_configured()));
    };
    let options = WaitOptions::new(Instant::now() + apply.time_limit(), session.cancel.clone());
    let adopt = apply.private.adopt_create.take();
    if let (true, Some(marker)) = (apply.is_create, adopt) {
        match adopt_earlier_create(session, &mut apply, &marker, &options).await {
            Ok(Some(response)) => return response,
            // The cluster no longer has what that create sent: the create below, as planned.
            Ok(None) => {}
            Err(diagnostics) => return failed(diagnostics),
        }
    }
    if let Err(response) = resolve_pending_before_write(session, &mut apply, &options).await {
        return *response;
    }
    if apply.is_noop() {
        return apply.without_request();
    }
    if let Some(planned_tenants) = apply.private.configure_tenants.take() {
        match configure_new_tenants(session, &mut apply, &options, &planned_tenants).await {
            Ok(Some(response)) => return response,
            // The agent has no tenant-level call: the cluster call below, as the plan warned.
            Ok(None) => {}
            Err(diagnostics) => return failed(diagnostics),
        }
    }
    let obshell_request = match plan_the_request(&apply) {
        Ok(request) => request,
        Err(diagnostics) => return failed(diagnostics),
    };
    let mut checked = match pre_write_checks(session, &apply, &options).await {
        Ok(checked) => checked,
        Err(diagnostics) => return failed(diagnostics),
    };
    apply
        .diagnostics
        .extend(std::mem::take(&mut checked.warnings));
    match send_and_wait(&session.client, &obshell_request, apply.is_create, &options).await {
        SendResult::NotSent(stopped) => failed(
            apply
                .nothing_sent(stopped, "about to send the change", session)
                .into(),
        ),
        SendResult::Refused(error) => {
            let mut response =
                failed(obshell_error(apply.summary(), &error, &session.endpoint).into());
            if apply.is_create {
                response.new_state = Value::Null;
            }
            response
        }
        SendResult::Accepted(Outcome::Succeeded) => {
            reopen_archive_log_after_success(session, &mut apply, &checked, &options).await;
            read_back(session, apply, &checked).await
        }
        SendResult::FoundSucceeded(dag) => {
            let write = FoundWrite {
                method: if apply.is_create { "POST" } else { "PATCH" },
                path: CONFIG_PATH,
                changes: &apply.changes,
                tenant: None,
            };
            match check_found_dag(session, &apply, &checked, (&dag, write), &options).await {
                Ok(unverified) => {
                    apply.diagnostics.extend(unverified);
                    reopen_archive_log_after_success(session, &mut apply, &checked, &options).await;
                    read_back(session, apply, &checked).await
                }
                Err(error) => {
                    after_unsuccessful_write(session, apply, checked, Outcome::Unknown(error)).await
                }
            }
        }
        SendResult::Accepted(outcome) => {
            after_unsuccessful_write(session, apply, checked, outcome).await
        }
    }
}

/// The decoded apply: what was planned, against which prior state, and what the request carries.
struct ApplyChange {
    is_create: bool,
    /// Whether the plan compared the SQL-readable fields (see `plan_update_verified`).
    sql_read: bool,
    prior: Option<BackupConfigModel>,
    /// The configuration (updates only), to recompute the change set against a prior state that
    /// an earlier update's outcome changed.
    config: Option<BackupConfigModel>,
    planned: BackupConfigModel,
    changes: ChangeSet,
    adopted: Vec<&'static str>,
    private: PrivateState,
    diagnostics: Diagnostics,
}

impl ApplyChange {
    /// Decodes the request and recomputes the change set from the prior state and configuration
    /// (the plan's private state says whether an import's adoption still applies).
    fn decode(request: &ApplyRequest, sql_read: bool) -> Result<Self, Diagnostics> {
        let mut planned = model_from_value(&request.planned_state)?;
        let config = model_from_value(&request.config)?;
        // Write-only credentials reach apply in the configuration only.
        planned.storage_credentials_wo = config.storage_credentials_wo.clone();
        let is_create = request.prior_state.is_null();
        let private = PrivateState::decode(&request.planned_private);
        let (prior, config, changes, adopted) = if is_create {
            (None, None, create_changes(&planned), Vec::new())
        } else {
            let prior = model_from_value(&request.prior_state)?;
            let update = plan_update_verified(&prior, &config, private.imported, sql_read);
            (Some(prior), Some(config), update.changes, update.adopted)
        };
        Ok(Self {
            is_create,
            sql_read,
            prior,
            config,
            planned,
            changes,
            adopted,
            private,
            diagnostics: Diagnostics::new(),
        })
    }

    /// The error when a stop or the timeout ended this apply during `phase`, before its write.
    fn nothing_sent(&self, stopped: Stopped, phase: &str, session: &Session) -> Diagnostic {
        nothing_sent(
            self.summary(),
            stopped,
            phase,
            &session.endpoint,
            self.is_create,
            self.time_limit(),
        )
    }

    fn summary(&self) -> &'static str {
        if self.is_create {
            SUMMARY_CREATE
        } else {
            SUMMARY_UPDATE
        }
    }

    fn time_limit(&self) -> Duration {
        if self.is_create {
            timeout(
                &self.planned.timeouts,
                |t| &t.create,
                DEFAULT_CREATE_TIMEOUT,
            )
        } else {
            timeout(
                &self.planned.timeouts,
                |t| &t.update,
                DEFAULT_UPDATE_TIMEOUT,
            )
        }
    }

    /// An update that changes nothing in meaning sends no request (PATCH {} would still run a
    /// DAG).
    fn is_noop(&self) -> bool {
        !self.is_create && self.changes.is_empty()
    }

    /// The answer of an update that sends nothing: the planned state, with the prior tenants
    /// where the plan left them unknown; a pending earlier update stays recorded.
    fn without_request(self) -> ApplyResponse {
        let mut state = self.planned;
        let prior_tenants = self
            .prior
            .as_ref()
            .map_or(Field::Null, |p| p.tenants.clone());
        state.tenants = match (state.tenants, prior_tenants) {
            (Field::Unknown, prior) => prior,
            (Field::Known(planned), Field::Known(prior)) => {
                Field::Known(super::read::fill_planned_tenants(planned, &prior))
            }
            (planned, _) => planned,
        };
        let private = PrivateState {
            pending: self.private.pending.clone(),
            ..self.private.after_apply(false)
        };
        ApplyResponse {
            new_state: state.without_unknowns().to_value(),
            private: private.encode(),
            diagnostics: self.diagnostics,
        }
    }
}

/// Resolve pending: an earlier update that obshell accepted but no run saw finish is resolved
/// before this change is computed, so its outcome is never dropped. A DAG still running is waited
/// for (within this apply's timeout); its outcome is folded into the prior state, and the change
/// set is computed again from that. When the earlier task changed what this change must send
/// beyond what the plan showed, nothing is sent: the answer records the earlier task's values and
/// asks for a new plan.
async fn resolve_pending_before_write(
    session: &Session,
    apply: &mut ApplyChange,
    options: &WaitOptions,
) -> Result<(), Box<ApplyResponse>> {
    let time_limit = apply.time_limit();
    let (Some(prior), Some(config)) = (apply.prior.as_mut(), apply.config.as_ref()) else {
        return Ok(());
    };
    let Some(pending) = apply.private.pending.take() else {
        return Ok(());
    };
    let client = &session.client;
    let kept = apply.private.clone();
    let dag_id = crate::obshell::DagId::new(pending.dag_id.clone());
    let unresolved = prior.clone();
    let resolving = async {
        let waited = match client.get_dag(&dag_id).await {
            Ok(dag) if !dag.is_finished() => {
                tracing::info!(dag_id = %dag.id, "waiting for an earlier update's dag before this change");
                match wait_for_dag(client, &dag_id, options).await {
                    Ok(_) | Err(Error::DagFailed { .. }) => Ok(()),
                    Err(error) => Err(error),
                }
            }
            Ok(_) | Err(Error::Api { status: 404, .. }) => Ok(()),
            Err(error) => Err(error),
        };
        match waited {
            Ok(()) => resolve_pending(session, pending.clone(), prior, &mut false).await,
            Err(error) => Err(error),
        }
    };
    let stopped = match until_stopped(resolving, options).await {
        Ok(Err(error)) => Stopped::from_wait(&error).ok_or(Err(error)),
        Ok(resolved) => Err(resolved),
        Err(stopped) => Ok(stopped),
    };
    let resolved = match stopped {
        Err(resolved) => resolved,
        Ok(stopped) => {
            // The earlier task is still unresolved: it stays recorded, the state as it was.
            let phase = format!(
                "waiting for DAG {} from an earlier apply to end",
                pending.dag_id
            );
            apply.diagnostics.push(nothing_sent(
                SUMMARY_UPDATE,
                stopped,
                &phase,
                &session.endpoint,
                false,
                time_limit,
            ));
            return Err(Box::new(ApplyResponse {
                new_state: unresolved.to_value(),
                private: PrivateState {
                    pending: Some(pending),
                    ..kept
                }
                .encode(),
                diagnostics: std::mem::take(&mut apply.diagnostics),
            }));
        }
    };
    let still_pending = match resolved {
        Ok((still_pending, warning)) => {
            if let Some(warning) = warning {
                apply.diagnostics.push(warning);
            }
            if still_pending.is_none() && pending.stops_archive_log {
                archive_log::record(
                    &mut apply.private.archive_log_stopped,
                    pending.archiving_tenants.as_deref().unwrap_or_default(),
                );
            }
            still_pending
        }
        Err(error) => {
            apply
                .diagnostics
                .push(obshell_error(SUMMARY_UPDATE, &error, &session.endpoint));
            Some(pending.clone())
        }
    };
    if let Some(still_pending) = still_pending {
        // The earlier task's outcome is still unknown: sending now could undo or repeat it.
        apply.diagnostics.push(Diagnostic::error(
            SUMMARY_UPDATE,
            format!("DAG {} from an earlier apply has not ended (or its outcome could not be read), so this change was not sent: nothing was sent. The state keeps the values from before that update; apply again once the task has ended.", still_pending.dag_id),
        ));
        return Err(Box::new(ApplyResponse {
            new_state: prior.to_value(),
            private: PrivateState {
                pending: Some(still_pending),
                ..kept
            }
            .encode(),
            diagnostics: std::mem::take(&mut apply.diagnostics),
        }));
    }
    let recomputed = plan_update_verified(prior, config, kept.imported, apply.sql_read).changes;
    let shown = apply.changes.attribute_names();
    let beyond_plan: Vec<&str> = recomputed
        .attribute_names()
        .into_iter()
        .filter(|name| !shown.contains(name))
        .collect();
    if !beyond_plan.is_empty() {
        apply.diagnostics.push(Diagnostic::error(
            SUMMARY_UPDATE,
            format!("DAG {} from an earlier apply ended after this plan was made, and after its outcome this change would also have to send {}, which the plan did not show. Nothing was sent; the state now records what that task did. Run terraform plan or apply again to see what still differs.", pending.dag_id, beyond_plan.join(", ")),
        ));
        return Err(Box::new(ApplyResponse {
            new_state: prior.to_value(),
            private: PrivateState {
                pending: None,
                archive_log_stopped: apply.private.archive_log_stopped.clone(),
                ..kept
            }
            .encode(),
            diagnostics: std::mem::take(&mut apply.diagnostics),
        }));
    }
    apply.changes = recomputed;
    Ok(())
}

/// Adopt an earlier create, when the create's plan chose to (`adopt_create` in the planned
/// private state): read the cluster again; when it is the same cluster and every user tenant
/// still has the planned values, answer the planned state filled from the cluster, with no
/// request. `Ok(None)` (with a warning): the cluster differs, and the caller sends the create.
async fn adopt_earlier_create(
    session: &Session,
    apply: &mut ApplyChange,
    marker: &AdoptCreate,
    options: &WaitOptions,
) -> Result<Option<ApplyResponse>, Diagnostics> {
    let (live, warnings) = until_stopped(read_cluster(session, None, None), options)
        .await
        .map_err(|stopped| {
            Diagnostics::from(apply.nothing_sent(
                stopped,
                "reading the cluster to adopt the earlier create",
                session,
            ))
        })?
        .map_err(|error| Diagnostics::from(error.diagnostic(apply.summary(), session)))?;
    let differing = if live.cluster_id == marker.cluster_id {
        differing_attributes(&apply.planned, &live, apply.sql_read)
    } else {
        Some(vec![format!(
            "the endpoint now serves cluster {}",
            live.cluster_id
        )])
    };
    match differing {
        Some(differing) if differing.is_empty() => {}
        differing => {
            let why = differing.map_or_else(
                || "no user tenant could be read".to_owned(),
                |d| d.join(", "),
            );
            apply.diagnostics.push(Diagnostic::warning(
                "Earlier create not adopted",
                format!("The plan adopted DAG {}, the create an earlier apply stopped following, but the cluster no longer has what it sent ({why}), so this apply sends the create.", marker.dag_id),
            ));
            return Ok(None);
        }
    }
    session
        .succeeded_creates
        .forget(&session.endpoint, &live.cluster_id);
    let mut state = apply.planned.clone();
    state.id = Field::Known(live.cluster_id.clone());
    let state = fill_unknowns_from_live(&state, &live);
    apply.diagnostics.extend(warnings);
    apply.diagnostics.push(Diagnostic::warning(
        "Earlier create adopted",
        format!("DAG {}, the create an earlier apply stopped following, succeeded, and every user tenant still has what it sent, so this replacement sent nothing to obshell (no POST, archive log not stopped again) and records that create. It does not reopen archive log where that create stopped it.", marker.dag_id),
    ));
    // Where that create stopped archive log and nothing reopened it, the record (and the warning
    // on every refresh) goes on in the replacement's private state.
    let mut archive_log_stopped = None;
    if marker.stops_archive_log {
        if let Some(tenants) = &marker.archiving_tenants {
            archive_log::record(&mut archive_log_stopped, tenants);
        }
    }
    archive_log::after_read(&mut archive_log_stopped, &live);
    if let Some(warning) = archive_log::still_stopped_warning(&archive_log_stopped, &live) {
        apply.diagnostics.push(warning);
    }
    // The user tenants that hold the destination now are the ones that create reached; where
    // obshell cannot show destinations (before 4.3.2) that is not known, so nothing is recorded.
    let location = live
        .tenants
        .iter()
        .all(|tenant| matches!(tenant.storage, LiveStorage::Known { .. }))
        .then(|| {
            LocationWrite {
                backup_base_uri: apply
                    .planned
                    .backup_base_uri
                    .known()
                    .cloned()
                    .unwrap_or_default(),
                tenant_ids: Vec::new(),
            }
            .with_tenants(live.tenants.iter().map(|tenant| tenant.tenant_id))
        });
    Ok(Some(ApplyResponse {
        new_state: state.to_value(),
        private: PrivateState {
            location,
            archive_log_stopped,
            ..PrivateState::default()
        }
        .encode(),
        diagnostics: std::mem::take(&mut apply.diagnostics),
    }))
}

/// Plan the request: the obshell body for the change set, before anything is contacted.
fn plan_the_request(apply: &ApplyChange) -> Result<BackupConfigRequest, Diagnostics> {
    build_request(&apply.planned, &apply.changes)
        .map(to_obshell_request)
        .map_err(request_error)
}

/// What the pre-write checks learnt about the cluster.
struct Checked {
    /// The cluster id as obshell reports it.
    cluster_number: i64,
    /// The user tenants archiving before the write (after any other client's config DAG);
    /// `None` when obshell cannot tell; empty when the change does not stop archive log.
    archiving: Option<Vec<String>>,
    /// The user tenants, when this apply read them (a change that stops archive log, obshell
    /// ≥ 4.3.2): the archive-log reads and the read-back share them, as a backup-config DAG does
    /// not change which tenants exist.
    tenants: Option<Vec<TenantOverview>>,
    /// Warnings for the apply's answer.
    warnings: Diagnostics,
    /// The obshell version, for reads after a failure.
    version: ObshellVersion,
}

/// Pre-write checks: the endpoint still serves the resource's cluster, which tenants are
/// archiving, and no other backup-config DAG runs (apply waits for one that does). Which tenants
/// are archiving is taken after that wait (the other DAG may stop archive log itself); the
/// tenants it stopped are named in a warning. Every step runs under [`until_stopped`]: a stop or
/// the timeout here ends the apply with nothing sent.
async fn pre_write_checks(
    session: &Session,
    apply: &ApplyChange,
    options: &WaitOptions,
) -> Result<Checked, Diagnostics> {
    let client = &session.client;
    let fail =
        |error: Error| Diagnostics::from(obshell_error(apply.summary(), &error, &session.endpoint));
    let stop = |phase: &'static str| {
        move |stopped: Stopped| Diagnostics::from(apply.nothing_sent(stopped, phase, session))
    };
    let stop_waiting = |dag: &Dag, stopped: Stopped| {
        let phase = format!(
            "waiting for DAG {} ({}), which another client or an earlier run started, to end",
            dag.id, dag.name
        );
        Diagnostics::from(apply.nothing_sent(stopped, &phase, session))
    };
    let info = until_stopped(client.agent_info(), options)
        .await
        .map_err(stop("reading obshell's version"))?
        .map_err(fail)?;
    let stops_archive_log = apply.changes.stops_archive_log();
    // A location write records the tenants it reaches (the ones that exist before it is sent).
    let tenants = async {
        if apply.changes.location || (stops_archive_log && info.version.supports_backup_reads()) {
            client
                .tenants_overview()
                .await
                .map(|tenants| Some(user_tenants(tenants)))
        } else {
            Ok(None)
        }
    };
    let (cluster, tenants) = until_stopped(
        async { tokio::try_join!(client.cluster_info(), tenants) },
        options,
    )
    .await
    .map_err(stop("reading the cluster id and its tenants"))?
    .map_err(fail)?;
    let cluster_id = cluster.id.to_string();
    if let Some(prior_id) = apply.prior.as_ref().and_then(|p| p.id.known()) {
        if *prior_id != cluster_id {
            return Err(Diagnostic::error(
                apply.summary(),
                format!("The endpoint {} now serves cluster {cluster_id}, but this resource manages cluster {prior_id}. Point the provider at the right cluster, or remove the resource from state and import the other cluster.", session.endpoint),
            ).into());
        }
    }
    let version = info.version;
    let archiving_now = || async {
        if stops_archive_log {
            archiving_tenants(
                client,
                version,
                tenants.as_deref().unwrap_or_default(),
                options,
            )
            .await
        } else {
            Ok(Some(Vec::new()))
        }
    };
    let archiving_before = until_stopped(archiving_now(), options)
        .await
        .map_err(stop("reading which tenants are archiving"))?
        .map_err(fail)?;
    let running = until_stopped(running_config_dag(client), options)
        .await
        .map_err(stop("checking obshell for a running backup-config task"))?
        .map_err(fail)?;
    let mut warnings = Diagnostics::new();
    let archiving = match running {
        None => archiving_before,
        Some(other) => {
            tracing::info!(dag_id = %other.id, "waiting for a running backup-config dag before sending");
            let waited = until_stopped(wait_for_dag(client, &other.id, options), options)
                .await
                .map_err(|stopped| stop_waiting(&other, stopped))?;
            // A DAG that ended without applying its change is as good as finished.
            match waited {
                Ok(_) | Err(Error::DagFailed { .. }) => {}
                Err(error) => {
                    return Err(match Stopped::from_wait(&error) {
                        Some(stopped) => stop_waiting(&other, stopped),
                        None => fail(error),
                    })
                }
            }
            let archiving = until_stopped(archiving_now(), options)
                .await
                .map_err(stop("reading which tenants are archiving"))?
                .map_err(fail)?;
            if let Some(warning) = stopped_by_other_dag_warning(
                &other,
                archiving_before.as_deref(),
                archiving.as_deref(),
            ) {
                warnings.push(warning);
            }
            archiving
        }
    };
    Ok(Checked {
        cluster_number: cluster.id,
        archiving,
        tenants,
        warnings,
        version,
    })
}

/// Reopen archive log, after a change that stopped it succeeded: on the tenants that were
/// archiving before, unless `restore_archive_log` is false.
async fn reopen_archive_log_after_success(
    session: &Session,
    apply: &mut ApplyChange,
    checked: &Checked,
    options: &WaitOptions,
) {
    let stops_archive_log = apply.changes.stops_archive_log();
    let restore = apply
        .planned
        .restore_archive_log
        .known()
        .copied()
        .unwrap_or(true);
    if stops_archive_log && restore {
        match &checked.archiving {
            Some(tenants) => {
                let reopened = reopen_archive_log(
                    &session.client,
                    tenants,
                    &mut apply.private.archive_log_stopped,
                    options,
                )
                .await;
                apply.diagnostics.extend(reopened);
            }
            None => apply.diagnostics.push(Diagnostic::warning(
                "Archive log may be stopped",
                format!("obshell at {} is older than 4.3.2 and cannot report which tenants were archiving, so the provider did not reopen archive log, which obshell stopped on every user tenant. {}", session.endpoint, reopen_sql(None)),
            )),
        }
    }
    if stops_archive_log && (!restore || checked.archiving.is_none()) {
        // Not reopened: where the tenants that were archiving are known, every refresh warns
        // until they archive again.
        let archiving = checked
            .archiving
            .clone()
            .or_else(|| archive_log::archiving_in_state(apply.prior.as_ref()));
        archive_log::record(
            &mut apply.private.archive_log_stopped,
            archiving.as_deref().unwrap_or_default(),
        );
    }
    if !restore && stops_archive_log {
        apply.diagnostics.push(Diagnostic::warning(
            "Archive log is stopped",
            format!("obshell stopped archive log on every user tenant, and restore_archive_log is false, so it stays stopped until you reopen it: {}", reopen_sql(None)),
        ));
    }
}

/// The tenant parameters `changes` sends, as obshell names them, with their planned values.
fn sent_parameters(
    planned: &BackupConfigModel,
    changes: &ChangeSet,
) -> Vec<(&'static str, String)> {
    let integer =
        |field: &Field<crate::tf::Number>| field.known().and_then(crate::tf::Number::as_i64);
    let mut sent = Vec::new();
    if changes.log_archive_concurrency {
        sent.extend(
            integer(&planned.log_archive_concurrency)
                .map(|n| ("log_archive_concurrency", n.to_string())),
        );
    }
    if changes.ha_low_thread_score {
        sent.extend(
            integer(&planned.ha_low_thread_score).map(|n| ("ha_low_thread_score", n.to_string())),
        );
    }
    if changes.archive_lag_target {
        sent.extend(
            planned
                .archive_lag_target
                .known()
                .map(|lag| ("archive_lag_target", lag.clone())),
        );
    }
    sent
}

/// Read back, after a successful write: the planned state with the cluster id, its unknowns
/// filled from the cluster; a failed read leaves them null with a warning. The write reached
/// the user tenants listed before it was sent (every tenant read back when they were not).
async fn read_back(session: &Session, apply: ApplyChange, checked: &Checked) -> ApplyResponse {
    let reached: Option<Vec<i64>> = checked
        .tenants
        .as_ref()
        .map(|tenants| tenants.iter().map(|tenant| tenant.id).collect());
    let sent = sent_parameters(&apply.planned, &apply.changes);
    read_back_written(session, apply, checked, reached, sent).await
}

/// [`read_back`] for a write that sent the tenant parameters `sent` to the tenants `reached`
/// (`None`: every tenant read back). Those tenants report what was sent, whatever their servers
/// show yet; the parameters no server showed yet are recorded in private state, so that a
/// refresh soon after takes their old value for lag ([`lag::after_write`]).
async fn read_back_written(
    session: &Session,
    mut apply: ApplyChange,
    checked: &Checked,
    reached: Option<Vec<i64>>,
    sent: Vec<(&'static str, String)>,
) -> ApplyResponse {
    let mut state = apply.planned.clone();
    state.id = Field::Known(checked.cluster_number.to_string());
    // A write of a parameter supersedes what an earlier write of it left on its way.
    let mut unarrived: Vec<UnarrivedWrite> = apply
        .private
        .unarrived
        .iter()
        .filter(|record| !sent.iter().any(|(name, _)| *name == record.parameter))
        .cloned()
        .collect();
    let state = match read_cluster(
        session,
        Some(checked.cluster_number),
        checked.tenants.clone(),
    )
    .await
    {
        Ok((mut live, warnings)) => {
            apply.diagnostics.extend(warnings);
            unarrived.extend(lag::after_write(
                &mut live,
                reached.as_deref(),
                &sent,
                unix_now_ms(),
            ));
            lag::settle(&mut live, &[], &state);
            if let Some(note) = tenants_outside_plan_warning(&state.tenants, &live) {
                apply.diagnostics.push(note);
            }
            fill_unknowns_from_live(&state, &live)
        }
        Err(error) => {
            let mut warning = error.diagnostic("Unable to read the cluster after apply", session);
            warning.severity = crate::tf::Severity::Warning;
            apply.diagnostics.push(warning);
            state.without_unknowns()
        }
    };
    // The location write reached every user tenant listed before it was sent.
    let location = match (&checked.tenants, apply.planned.backup_base_uri.known()) {
        (Some(tenants), Some(uri)) if apply.changes.location => Some(
            LocationWrite {
                backup_base_uri: uri.clone(),
                tenant_ids: Vec::new(),
            }
            .with_tenants(tenants.iter().map(|tenant| tenant.id)),
        ),
        _ => apply.private.location.clone(),
    };
    ApplyResponse {
        new_state: state.to_value(),
        private: {
            let mut private = PrivateState {
                location,
                unarrived,
                ..apply.private.after_apply(apply.changes.location)
            };
            private.references.forget_sent(&apply.changes);
            private.encode()
        },
        diagnostics: apply.diagnostics,
    }
}

/// The warning when the user tenants read after apply are not the ones the plan listed (a tenant
/// created or dropped meanwhile): the planned `tenants` map fixed its keys, so the state shows
/// the change at the next refresh.
fn tenants_outside_plan_warning(
    planned: &Field<std::collections::BTreeMap<String, super::model::TenantModel>>,
    live: &LiveCluster,
) -> Option<Diagnostic> {
    let (created, gone) = super::read::tenants_outside_plan(planned, live);
    if created.is_empty() && gone.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !created.is_empty() {
        parts.push(format!("created since the plan: {}", created.join(", ")));
    }
    if !gone.is_empty() {
        parts.push(format!("no longer listed as NORMAL: {}", gone.join(", ")));
    }
    Some(Diagnostic::warning(
        "User tenants changed since the plan",
        format!(
            "The user tenants read after apply differ from the plan's ({}). Terraform accepts only the tenants the plan showed in the tenants attribute, so this apply's state keeps those; the next refresh (terraform plan or apply) reads every tenant again and shows the difference.",
            parts.join("; ")
        ),
    ))
}

/// The plan chose to configure only the tenants the last location write did not reach: check that
/// this still holds on a fresh read (nothing is sent otherwise), then send obshell's tenant-level
/// call for each planned tenant that still needs it, one at a time, reopen archive log where it
/// was on, and read back. `Ok(None)`: the agent has no tenant-level call; nothing was sent, and
/// the caller sends the cluster call. A failure part-way keeps the tenants already configured in
/// the private record, so none is configured twice.
async fn configure_new_tenants(
    session: &Session,
    apply: &mut ApplyChange,
    options: &WaitOptions,
    planned_tenants: &[i64],
) -> Result<Option<ApplyResponse>, Diagnostics> {
    let (Some(prior), Some(config), Some(covered)) = (
        apply.prior.clone(),
        apply.config.clone(),
        apply.private.location.clone(),
    ) else {
        return Ok(None);
    };
    let client = &session.client;
    let checked = pre_write_checks(session, apply, options).await?;
    let cluster_id = checked.cluster_number.to_string();
    let (mut live, _) = until_stopped(
        read_cluster(
            session,
            Some(checked.cluster_number),
            checked.tenants.clone(),
        ),
        options,
    )
    .await
    .map_err(|stopped| {
        Diagnostics::from(apply.nothing_sent(stopped, "reading the tenants' settings", session))
    })?
    .map_err(|error| Diagnostics::from(error.diagnostic(SUMMARY_UPDATE, session)))?;
    // A change still spreading from an earlier write is not a tenant that changed.
    let unsettled = lag::unsettled(&live, &apply.private.unarrived, unix_now_ms());
    lag::settle(&mut live, &unsettled, &prior);
    let decided = tenants_only_change(
        &prior,
        &config,
        &apply.planned,
        &live.tenants_map(),
        &covered,
        &cluster_id,
        apply.private.imported,
        apply.sql_read,
    );
    let Some(todo) = decided else {
        return Err(Diagnostic::error(
            SUMMARY_UPDATE,
            "The plan configured only the tenants created since the last backup_base_uri write, but the cluster no longer matches that plan (a tenant it reached now reports other settings). Nothing was sent. Run terraform plan or apply again to see what differs.",
        )
        .into());
    };
    let todo: Vec<NamedTenant> = todo
        .into_iter()
        .filter(|tenant| planned_tenants.contains(&tenant.id))
        .collect();
    let changes = ChangeSet {
        location: true,
        log_archive_concurrency: apply.planned.log_archive_concurrency.known().is_some(),
        ha_low_thread_score: apply.planned.ha_low_thread_score.known().is_some(),
        archive_lag_target: apply.planned.archive_lag_target.known().is_some(),
        delete_policy: apply.planned.delete_policy.known().is_some(),
    };
    let request = build_request(&apply.planned, &changes)
        .map(to_obshell_request)
        .map_err(request_error)?;
    let base = request
        .backup_base_uri
        .clone()
        .expect("a location request carries the URI");
    let mut done: Vec<NamedTenant> = Vec::new();
    let mut failure = None;
    for tenant in &todo {
        let dest = |kind| StorageUri::new(tenant_dest(base.expose(), &cluster_id, tenant.id, kind));
        let (archive, data) = (dest(DestKind::Archive), dest(DestKind::Data));
        if let Some(stopped) = Stopped::now(options) {
            let phase = format!("about to configure {}", tenant.label());
            if done.is_empty() {
                return Err(apply.nothing_sent(stopped, &phase, session).into());
            }
            let why = match stopped {
                Stopped::Cancelled => "Terraform asked the provider to stop",
                Stopped::TimedOut => "timeouts.update passed",
            };
            failure = Some(Diagnostic::error(
                SUMMARY_UPDATE,
                format!("{why} before the tenant-level call for {} was sent: nothing was sent for it or the tenants after it.", tenant.label()),
            ));
            break;
        }
        tracing::info!(tenant = %tenant.name, %archive, "configuring a new tenant with the tenant-level call");
        let path = format!("/api/v1/tenant/{}/backup/config", tenant.name);
        let posted = write_until_stopped(
            client.post_tenant_backup_config(&tenant.name, &archive, &data, &request),
            options,
            "POST",
            &path,
        );
        let dag = match posted.await {
            Ok(dag) => dag,
            Err(error) if error.is_no_route() && done.is_empty() => {
                apply.diagnostics.push(Diagnostic::warning(
                    "Cluster call sent instead of the tenant-level call",
                    format!("obshell at {} has no tenant-level backup-config call (POST /api/v1/tenant/{{name}}/backup/config), so the new tenants were configured with the cluster call, which stopped archive log on every user tenant.", session.endpoint),
                ));
                return Ok(None);
            }
            Err(error) => {
                failure = Some(obshell_error(SUMMARY_UPDATE, &error, &session.endpoint));
                break;
            }
        };
        match wait_for_dag(client, &dag.id, options).await {
            Ok(_) if dag.found_by_search => {
                // The DAG the search found may be another client's for this tenant (obshell's
                // tenant lock refuses a second one while it runs, and that refusal was lost).
                let write = FoundWrite {
                    method: "POST",
                    path: &path,
                    changes: &changes,
                    tenant: Some(&tenant.name),
                };
                match check_found_dag(session, apply, &checked, (&dag, write), options).await {
                    Ok(unverified) => {
                        apply.diagnostics.extend(unverified);
                        done.push(tenant.clone());
                    }
                    Err(error) => {
                        failure = Some(obshell_error(SUMMARY_UPDATE, &error, &session.endpoint));
                        break;
                    }
                }
            }
            Ok(_) => done.push(tenant.clone()),
            Err(error @ Error::DagFailed { .. }) => {
                failure = Some(obshell_error(SUMMARY_UPDATE, &error, &session.endpoint));
                break;
            }
            Err(error) => {
                failure = Some(unfinished_error(
                    SUMMARY_UPDATE,
                    &dag.id,
                    &error,
                    false,
                    &session.endpoint,
                ));
                break;
            }
        }
    }
    let location = covered.with_tenants(done.iter().map(|tenant| tenant.id));
    if let Some(mut error) = failure {
        let configured: Vec<String> = done.iter().map(NamedTenant::label).collect();
        let pending: Vec<String> = todo
            .iter()
            .filter(|tenant| !done.contains(tenant))
            .map(NamedTenant::label)
            .collect();
        error.detail.push_str(&format!(
            " Configured by this apply: {}. Still without this configuration: {}; the next plan shows them again.",
            if configured.is_empty() { "none".to_owned() } else { configured.join(", ") },
            pending.join(", ")
        ));
        apply.diagnostics.push(error);
        return Ok(Some(ApplyResponse {
            new_state: prior.to_value(),
            private: PrivateState {
                imported: apply.private.imported,
                location: Some(location),
                archive_log_stopped: apply.private.archive_log_stopped.clone(),
                ..PrivateState::default()
            }
            .encode(),
            diagnostics: std::mem::take(&mut apply.diagnostics),
        }));
    }
    let restore = apply
        .planned
        .restore_archive_log
        .known()
        .copied()
        .unwrap_or(true);
    let names: Vec<String> = done.iter().map(|tenant| tenant.name.clone()).collect();
    if restore && !names.is_empty() {
        match &checked.archiving {
            Some(archiving) => {
                let reopen: Vec<String> = archiving
                    .iter()
                    .filter(|name| names.contains(name))
                    .cloned()
                    .collect();
                let reopened = reopen_archive_log(
                    client,
                    &reopen,
                    &mut apply.private.archive_log_stopped,
                    options,
                )
                .await;
                apply.diagnostics.extend(reopened);
            }
            None => apply.diagnostics.push(Diagnostic::warning(
                "Archive log may be stopped on the new tenants",
                format!("obshell at {} is older than 4.3.2 and cannot report whether {} were archiving, so the provider did not reopen archive log on them (the tenant-level call stops it on its tenant only). If they should archive: {}", session.endpoint, names.join(", "), lower_first(&reopen_sql(Some(&names)))),
            )),
        }
    }
    let mut apply_done = ApplyChange {
        is_create: false,
        sql_read: apply.sql_read,
        prior: apply.prior.clone(),
        config: apply.config.clone(),
        planned: apply.planned.clone(),
        changes: ChangeSet::default(),
        adopted: Vec::new(),
        private: PrivateState {
            location: Some(location),
            archive_log_stopped: apply.private.archive_log_stopped.clone(),
            ..PrivateState::default()
        },
        diagnostics: std::mem::take(&mut apply.diagnostics),
    };
    apply_done.private.imported = false;
    // The overview read before the writes still lists the tenants: read the cluster afresh.
    let checked = Checked {
        tenants: None,
        ..checked
    };
    let reached = done.iter().map(|tenant| tenant.id).collect();
    let sent = sent_parameters(&apply_done.planned, &changes);
    Ok(Some(
        read_back_written(session, apply_done, &checked, Some(reached), sent).await,
    ))
}

/// The answer when obshell accepted (or may have accepted) the write but the provider did not
/// see it succeed: the error, a warning when archive log may stay stopped, and the state and
/// pending record of [`accepted_but_failed`].
async fn after_unsuccessful_write(
    session: &Session,
    mut apply: ApplyChange,
    checked: Checked,
    outcome: Outcome,
) -> ApplyResponse {
    let partial = match &outcome {
        Outcome::Failed(Error::DagFailed { failure, .. })
            if failure.node.as_deref() != Some(CHECK_NODE) =>
        {
            Some(read_after_partial_failure(session, &apply, &checked).await)
        }
        _ => None,
    };
    let summary = apply.summary();
    let pending_dags = match &outcome {
        Outcome::Unknown(error) => {
            apply
                .diagnostics
                .push(obshell_error(summary, error, &session.endpoint));
            // The DAGs that may be this request's, when the search found several: the next Read
            // resolves them.
            match error {
                Error::WriteOutcomeUnknown { candidates, .. } => candidates.clone(),
                _ => Vec::new(),
            }
        }
        Outcome::Failed(error) => {
            apply
                .diagnostics
                .push(obshell_error(summary, error, &session.endpoint));
            Vec::new()
        }
        Outcome::Unfinished(dag_id, error, _) => {
            apply.diagnostics.push(unfinished_error(
                summary,
                dag_id,
                error,
                apply.is_create,
                &session.endpoint,
            ));
            vec![dag_id.clone()]
        }
        Outcome::Succeeded => Vec::new(),
    };
    let stops_archive_log = apply.changes.stops_archive_log();
    if stops_archive_log && outcome.may_have_stopped_archive_log() {
        let stopped_now = partial.as_ref().and_then(|p| p.stopped_now.as_deref());
        if let Some(warning) =
            archive_log_left_stopped_warning(&outcome, checked.archiving.as_deref(), stopped_now)
        {
            apply.diagnostics.push(warning);
        }
    }
    if stops_archive_log && outcome.may_have_stopped_archive_log() {
        // Stopped as read after the failure, else whatever was archiving before.
        let stopped = partial
            .as_ref()
            .and_then(|p| p.stopped_now.clone())
            .or_else(|| checked.archiving.clone())
            .or_else(|| archive_log::archiving_in_state(apply.prior.as_ref()));
        archive_log::record(
            &mut apply.private.archive_log_stopped,
            stopped.as_deref().unwrap_or_default(),
        );
    }
    let archive_log = stops_archive_log.then_some(checked.archiving);
    if let Some(partial) = &partial {
        apply.diagnostics.extend(partial.warnings.clone());
    }
    let found_by_search = matches!(
        outcome,
        Outcome::Unknown(Error::WriteOutcomeUnknown { .. }) | Outcome::Unfinished(_, _, true)
    );
    let (is_create, changes) = (apply.is_create, apply.changes);
    let mut response = accepted_but_failed(
        apply,
        checked.cluster_number.to_string(),
        (pending_dags, found_by_search),
        archive_log,
    );
    if let (Some(partial), false) = (partial, is_create) {
        response.new_state = partial.fold_into(&response.new_state, &changes);
    }
    response
}

/// What the provider learnt by reading the cluster after a DAG failed in node 2.
struct PartialFailure {
    /// The tenants as read after the failure; `None` when the read failed.
    tenants: Option<std::collections::BTreeMap<String, super::model::TenantModel>>,
    /// How far the change got, and what could not be read.
    warnings: Diagnostics,
    /// Tenants that were archiving before the change and are not now; `None` when not read.
    stopped_now: Option<Vec<String>>,
}

impl PartialFailure {
    /// The failed update's state with the tenants as read after the failure; a delete policy
    /// the change sent may have been dropped on some tenant, so the state stops claiming one
    /// (null), and the next plan sends it again whatever the configuration says.
    fn fold_into(&self, state: &Value, changes: &ChangeSet) -> Value {
        let Ok(mut model) = BackupConfigModel::from_value(state) else {
            return state.clone();
        };
        if let Some(tenants) = &self.tenants {
            model.tenants = Field::Known(tenants.clone());
        }
        if changes.delete_policy {
            model.delete_policy = Field::Null;
        }
        model.to_value()
    }
}

/// After a DAG that failed in node 2 ("Set backup config"): obshell closed archive log, then ran
/// its steps tenant by tenant and stopped at the first error, so earlier steps and tenants stay
/// applied (obshell-api.md §10.2). Reads the tenants back to say how far the change got, and,
/// for a change that stops archive log, which tenants it left stopped.
async fn read_after_partial_failure(
    session: &Session,
    apply: &ApplyChange,
    checked: &Checked,
) -> PartialFailure {
    use super::tenants::{compare_tenants, describe_differing};
    let mut warnings = Diagnostics::new();
    let sent = apply.changes.attribute_names();
    let mut lines = Vec::new();
    let tenants = match read_cluster(
        session,
        Some(checked.cluster_number),
        checked.tenants.clone(),
    )
    .await
    {
        Ok((live, _)) => {
            let map = live.tenants_map();
            let comparisons = compare_tenants(
                &Field::Known(map.clone()),
                Some(&live.cluster_id),
                &apply.planned,
                apply.sql_read,
            );
            for comparison in comparisons
                .iter()
                .filter(|c| sent.contains(&c.attribute) && !c.matching.is_empty())
            {
                lines.push(if comparison.differing.is_empty() {
                    format!(
                        "{} reached every tenant read ({})",
                        comparison.attribute,
                        comparison.matching.join(", ")
                    )
                } else {
                    format!(
                        "{} reached {} but not {}",
                        comparison.attribute,
                        comparison.matching.join(", "),
                        describe_differing(&comparison.differing)
                    )
                });
            }
            if apply.changes.delete_policy {
                let without: Vec<String> = comparisons
                    .iter()
                    .filter(|c| c.attribute == "delete_policy")
                    .flat_map(|c| c.differing.iter())
                    .filter(|(_, value)| value == "none")
                    .map(|(tenant, _)| tenant.clone())
                    .collect();
                lines.push(if apply.sql_read {
                    format!("delete_policy: obshell drops a tenant's delete policy before it adds the new one; tenants left without a delete policy: {}", if without.is_empty() { "none".to_owned() } else { without.join(", ") })
                } else {
                    "delete_policy: obshell drops each tenant's delete policy before it adds the new one, so tenants it reached may be left without a delete policy; without sql_endpoint the provider cannot read which".to_owned()
                });
            }
            Some(map)
        }
        Err(error) => {
            let mut warning =
                error.diagnostic("Unable to read the cluster after the failure", session);
            warning.severity = crate::tf::Severity::Warning;
            warnings.push(warning);
            if apply.changes.delete_policy {
                lines.push("delete_policy: obshell drops each tenant's delete policy before it adds the new one, so tenants may be left without a delete policy".to_owned());
            }
            None
        }
    };
    if !lines.is_empty() {
        let delete_policy = if apply.changes.delete_policy {
            " The state no longer records a delete policy, so the next apply sends it again."
        } else {
            ""
        };
        warnings.push(Diagnostic::warning(
            "Change partly applied",
            format!(
                "obshell runs \"Set backup config\" step by step and tenant by tenant and stops at the first error, leaving the earlier steps and tenants applied. The state keeps the values from before this change; its tenants show what each tenant has now. {}.{delete_policy} The next plan sends whatever some tenant still lacks.",
                lines.join("; ")
            ),
        ));
    }
    let stopped_now = match (&checked.archiving, &checked.tenants) {
        (Some(before), Some(tenants))
            if apply.changes.stops_archive_log() && !before.is_empty() =>
        {
            // What it is now, without waiting for a STOPPING tenant.
            let now = WaitOptions::new(Instant::now(), session.cancel.clone());
            archiving_tenants(&session.client, checked.version, tenants, &now)
                .await
                .ok()
                .flatten()
                .map(|now| {
                    before
                        .iter()
                        .filter(|tenant| !now.contains(tenant))
                        .cloned()
                        .collect()
                })
        }
        _ => None,
    };
    PartialFailure {
        tenants,
        warnings,
        stopped_now,
    }
}

/// The error when the provider stopped following a DAG that obshell accepted: whatever the
/// cause, the DAG continues on obshell and the next refresh reads its outcome.
fn unfinished_error(
    summary: &str,
    dag_id: &crate::obshell::DagId,
    error: &Error,
    is_create: bool,
    endpoint: &str,
) -> Diagnostic {
    let mut diagnostic = match error {
        // These say it already, with advice about timeouts.
        Error::DagWaitCancelled { .. }
        | Error::DagWaitTimedOut { .. }
        | Error::DagUnreachable { .. } => obshell_error(summary, error, endpoint),
        _ => {
            // The client's DagWaitFailed already says the DAG continues; say it once, below.
            let cause = match error {
                Error::DagWaitFailed { cause, .. } => cause.as_ref(),
                other => other,
            };
            let cause = capitalised(&cause.to_string());
            Diagnostic::error(
                summary,
                format!("obshell at {endpoint} accepted the change as DAG {dag_id}, but following it failed: {cause}.\n\nDAG {dag_id} continues on obshell; the next refresh reads its outcome."),
            )
        }
    };
    diagnostic.detail.push_str(if is_create {
        " This resource is tainted: once the DAG is done, terraform apply replaces it, which sends the whole configuration again."
    } else {
        " Until then the state keeps the values from before this change."
    });
    diagnostic
}

fn capitalised(text: &str) -> String {
    if text.starts_with("obshell") {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// How to reopen archive log, as commands an SRE can run: SQL in the sys tenant, for `tenants`
/// when they are known, else for whichever tenants should archive.
pub(crate) fn reopen_sql(tenants: Option<&[String]>) -> String {
    match tenants {
        Some(tenants) if !tenants.is_empty() => format!(
            "To reopen it, connect to the sys tenant as root@sys and run `ALTER SYSTEM ARCHIVELOG TENANT = {};` (a data backup also opens archive log first).",
            tenants.join(", ")
        ),
        _ => "To reopen it, connect to the sys tenant as root@sys, see which tenants archive with `SELECT TENANT_NAME, LOG_MODE FROM oceanbase.DBA_OB_TENANTS WHERE TENANT_TYPE = 'USER';`, and run `ALTER SYSTEM ARCHIVELOG TENANT = <name>;` for each tenant that should archive, or `ALTER SYSTEM ARCHIVELOG;` for every tenant (a data backup also opens archive log first).".to_owned(),
    }
}

/// How to reopen archive log once a task has ended, for warnings.
fn reopen_advice(tenants: Option<&[String]>) -> String {
    format!(
        "Once the task has ended: {}",
        lower_first(&reopen_sql(tenants))
    )
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn tenant_list(archiving: Option<&[String]>) -> String {
    match archiving {
        None => "unknown (obshell before 4.3.2 cannot report archive status; check every tenant)"
            .to_owned(),
        Some([]) => "none".to_owned(),
        Some(tenants) => tenants.join(", "),
    }
}

/// The warning when a change that stops archive log was not seen to succeed: archive log may
/// stay stopped, and the provider did not reopen it.
fn archive_log_left_stopped_warning(
    outcome: &Outcome,
    archiving: Option<&[String]>,
    stopped_now: Option<&[String]>,
) -> Option<Diagnostic> {
    if archiving.is_some_and(<[String]>::is_empty) {
        // No tenant was archiving: there is nothing to reopen.
        return None;
    }
    let what = match outcome {
        Outcome::Unfinished(dag_id, ..) => format!("DAG {dag_id} was still running when the provider stopped following it; it stops archive log on every user tenant, and the provider reopens archive log only after it has seen the task succeed, which it did not"),
        Outcome::Unknown(_) => "obshell may have started a task that stops archive log on every user tenant, and the provider, which could not identify it, did not reopen archive log".to_owned(),
        _ => "obshell may have stopped archive log on every user tenant before the task failed, and the provider did not reopen it".to_owned(),
    };
    let now = match stopped_now {
        Some([]) => " Read after the failure, archive log still runs on every tenant that was archiving before.".to_owned(),
        Some(stopped) => format!(
            " Read after the failure, archive log is now stopped on {}.",
            stopped.join(", ")
        ),
        None => String::new(),
    };
    Some(Diagnostic::warning(
        "Archive log may have been stopped",
        format!(
            "This change carried backup_base_uri or log_archive_concurrency. {what}. Tenants that were archiving before this apply: {}.{now} {}",
            tenant_list(archiving),
            reopen_advice(archiving)
        ),
    ))
}

/// The warning when another client's config DAG, which apply waited for, stopped archive log on
/// tenants that were archiving before: this apply does not reopen them.
fn stopped_by_other_dag_warning(
    other: &Dag,
    before: Option<&[String]>,
    after: Option<&[String]>,
) -> Option<Diagnostic> {
    let (Some(before), Some(after)) = (before, after) else {
        return None;
    };
    let stopped: Vec<&str> = before
        .iter()
        .filter(|tenant| !after.contains(tenant))
        .map(String::as_str)
        .collect();
    (!stopped.is_empty()).then(|| {
        Diagnostic::warning(
            "Archive log stopped by another task",
            format!(
                "Apply waited for DAG {} ({}), started by another client or an earlier run, and archive log stopped meanwhile on {}. The provider reopens archive log only where it was archiving when this change was sent, so it left these tenants as that task left them. If they should archive: {}",
                other.id,
                other.name,
                stopped.join(", "),
                lower_first(&reopen_sql(Some(&stopped.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())))
            ),
        )
    })
}

/// The answer when obshell accepted a request that the provider did not see succeed. A create
/// returns the planned state with its id (Terraform taints it); an update keeps the prior values
/// of the fields it sent and records the DAG, when one may still run, for the next Read.
fn accepted_but_failed(
    apply: ApplyChange,
    cluster_id: String,
    (pending_dags, found_by_search): (Vec<crate::obshell::DagId>, bool),
    archive_log: Option<Option<Vec<String>>>,
) -> ApplyResponse {
    let (pending_dag, other_candidates) = match pending_dags.split_first() {
        Some((first, others)) => (
            Some(first.clone()),
            others.iter().map(|id| id.as_str().to_owned()).collect(),
        ),
        None => (None, Vec::new()),
    };
    let ApplyChange {
        private: kept,
        prior,
        planned,
        changes,
        diagnostics,
        ..
    } = apply;
    let (planned, changes) = (&planned, &changes);
    let Some(prior) = prior else {
        let mut state = planned.clone();
        state.id = Field::Known(cluster_id);
        // Like an update, the DAG that may still run is recorded: the next Read resolves it and,
        // when it succeeded, says how to keep the tainted resource without a second request.
        let private = PrivateState {
            pending: pending_dag.map(|dag_id| PendingUpdate {
                dag_id: dag_id.as_str().to_owned(),
                sent: SentValues::from_plan(planned, changes),
                stops_archive_log: archive_log.is_some(),
                archiving_tenants: archive_log.clone().flatten(),
                create: true,
                other_candidates: other_candidates.clone(),
                found_by_search,
            }),
            ..PrivateState::default()
        };
        return ApplyResponse {
            new_state: state.without_unknowns().to_value(),
            private: private.encode(),
            diagnostics,
        };
    };
    let state = state_keeping_prior_sent_fields(&prior, planned, changes);
    let private = PrivateState {
        pending: pending_dag.map(|dag_id| PendingUpdate {
            dag_id: dag_id.as_str().to_owned(),
            sent: SentValues::from_plan(planned, changes),
            stops_archive_log: archive_log.is_some(),
            archiving_tenants: archive_log.flatten(),
            create: false,
            other_candidates,
            found_by_search,
        }),
        // The outcome is unknown: the location may not have been written.
        ..kept.after_apply(false)
    };
    ApplyResponse {
        new_state: state.to_value(),
        private: private.encode(),
        diagnostics,
    }
}

/// Resolves an update whose DAG outlived its apply: SUCCEED (RUN/RETRY) adopts the sent values,
/// still running keeps waiting (warning), anything else drops it.
async fn resolve_pending(
    session: &Session,
    mut pending: PendingUpdate,
    state: &mut BackupConfigModel,
    succeeded: &mut bool,
) -> Result<(Option<PendingUpdate>, Option<Diagnostic>), Error> {
    let client = &session.client;
    if !pending.other_candidates.is_empty() {
        match settle_candidates(client, &pending).await? {
            Settled::As(dag_id) => {
                pending.dag_id = dag_id;
                pending.other_candidates.clear();
            }
            Settled::Not(still_pending, warning) => {
                return Ok((still_pending.map(|p| *p), Some(warning)))
            }
        }
    }
    let dag_id = crate::obshell::DagId::new(pending.dag_id.clone());
    let dag = match client.get_dag(&dag_id).await {
        Ok(dag) => dag,
        Err(error @ Error::Api { status: 404, .. }) => {
            tracing::warn!(%error, "pending dag not found; dropping it");
            return Ok((None, Some(Diagnostic::warning(
                "Earlier update not found",
                format!("obshell no longer knows DAG {}, which an earlier apply left running. The state keeps the values from before that update; the next plan shows what still differs.", pending.dag_id),
            ))));
        }
        Err(error) => return Err(error),
    };
    if dag.is_success() && pending.found_by_search {
        match pending_effect_shown(session, &pending, state).await? {
            Shown::Yes => {}
            Shown::No(what) => {
                return Ok((
                    None,
                    Some(Diagnostic::warning(
                        "Outcome of an earlier update unknown",
                        format!("An earlier apply's answer was lost, and DAG {}, which the provider found after it, succeeded, but the cluster does not have what that apply sent: {what}. That task may have been another client's. The state keeps the values from before that update; the next plan shows what differs from the configuration and sends it again.", dag.id),
                    )),
                ));
            }
        }
    }
    if dag.is_success() {
        *succeeded = true;
        pending.sent.adopt_into(state);
        // The tenants were read before the DAG applied the sent values: stale for those, so they
        // are not compared with the configuration (a read fills them again).
        state.tenants = Field::Null;
        tracing::info!(dag_id = %dag.id, "pending update succeeded; adopting its values");
        // A refresh never writes to the cluster, so archive log stays as the DAG left it.
        let archived_before = pending.archiving_tenants.as_deref();
        let nothing_to_reopen = archived_before.is_some_and(<[String]>::is_empty);
        let warning = (pending.stops_archive_log && !nothing_to_reopen).then(|| {
            Diagnostic::warning(
                "Archive log is still stopped",
                format!(
                    "DAG {} from an earlier apply succeeded after that apply stopped waiting, so the provider did not reopen archive log, which the change stopped on every user tenant. Tenants that were archiving before that apply: {}. {}",
                    dag.id,
                    tenant_list(archived_before),
                    reopen_advice(archived_before),
                ),
            )
        });
        return Ok((None, warning));
    }
    if !dag.is_finished() {
        return Ok((
            Some(pending),
            Some(Diagnostic::warning(
                "An earlier update is still running",
                format!("DAG {} ({}) from an earlier apply is still {} on obshell. Until it finishes, the state keeps the values from before that update.", dag.id, dag.name, dag.state),
            )),
        ));
    }
    let archived_before = pending.archiving_tenants.as_deref();
    let archive_log = if pending.stops_archive_log
        && !archived_before.is_some_and(<[String]>::is_empty)
    {
        format!(
            " Archive log may have been stopped by that task on every user tenant and is not reopened by a refresh; tenants that were archiving before that apply: {}. {}",
            tenant_list(archived_before),
            reopen_advice(archived_before),
        )
    } else {
        String::new()
    };
    Ok((
        None,
        Some(Diagnostic::warning(
            "An earlier update did not apply",
            format!("DAG {} from an earlier apply ended {} with operator {}, so its change was not applied. The next plan sends it again.{archive_log}", dag.id, dag.state, dag.operator),
        )),
    ))
}

/// Whether the cluster shows what a pending update sent, for one whose DAG the lost-write search
/// found (see [`check_found_dag`]).
enum Shown {
    Yes,
    /// What the cluster has instead, or why that cannot be told. A value that may still be the
    /// change spreading counts as not shown: the state then keeps the values from before, which
    /// is never a claim the cluster cannot back, and the next plan sends the change again.
    No(String),
}

async fn pending_effect_shown(
    session: &Session,
    pending: &PendingUpdate,
    state: &BackupConfigModel,
) -> Result<Shown, Error> {
    use super::tenants::{compare_tenants, describe_differing};
    let mut expected = state.clone();
    pending.sent.adopt_into(&mut expected);
    let sent = ChangeSet {
        location: pending.sent.location,
        log_archive_concurrency: pending.sent.log_archive_concurrency.is_some(),
        ha_low_thread_score: pending.sent.ha_low_thread_score.is_some(),
        archive_lag_target: pending.sent.archive_lag_target.is_some(),
        delete_policy: pending.sent.delete_policy.is_some(),
    }
    .attribute_names();
    let live = match read_cluster(session, None, None).await {
        Ok((live, _)) => live,
        Err(ReadFailure::Obshell(error)) => return Err(error),
        Err(ReadFailure::Sql(error)) => {
            return Ok(Shown::No(format!(
                "the SQL read failed ({error}), so it cannot be told"
            )))
        }
    };
    let comparisons: Vec<_> = compare_tenants(
        &Field::Known(live.tenants_map()),
        Some(&live.cluster_id),
        &expected,
        session.sql.is_some(),
    )
    .into_iter()
    .filter(|c| sent.contains(&c.attribute))
    .collect();
    if comparisons.is_empty() {
        return Ok(Shown::No(format!(
            "no read can show what it sent ({}), so it cannot be told",
            sent.join(", ")
        )));
    }
    let differing: Vec<String> = comparisons
        .iter()
        .filter(|c| !c.differing.is_empty())
        .map(|c| format!("{} is {}", c.attribute, describe_differing(&c.differing)))
        .collect();
    Ok(if differing.is_empty() {
        Shown::Yes
    } else {
        Shown::No(differing.join("; "))
    })
}

/// The provider's clock in Unix milliseconds (for records kept in private state).
fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// [`read_cluster`], again with backoff while the read shows lag ([`lag::unsettled`]: servers
/// that disagree, or a recent write (`unarrived`) that no server shows yet), until it settles or
/// the next pause would pass `bound`. Returns the last read, what is still unsettled in it, and
/// how long the re-reads took.
async fn read_settled(
    session: &Session,
    unarrived: &[UnarrivedWrite],
    bound: Duration,
) -> Result<(LiveCluster, Diagnostics, Vec<lag::Unsettled>, Duration), ReadFailure> {
    let started = Instant::now();
    let mut pause = lag::FIRST_PAUSE;
    loop {
        let (live, warnings) = read_cluster(session, None, None).await?;
        let found = lag::unsettled(&live, unarrived, unix_now_ms());
        if found.is_empty() || started.elapsed() + pause > bound {
            return Ok((live, warnings, found, started.elapsed()));
        }
        tracing::info!(
            unsettled = found.len(),
            pause_ms = pause.as_millis() as u64,
            "tenant parameters not settled on every server yet; reading again"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(lag::MAX_PAUSE);
    }
}

enum Settled {
    /// Every candidate that obshell still knows ended alike (all applied, or none did): resolve
    /// the update as that DAG.
    As(String),
    /// Still running, or they ended differently; with the record to keep, if any.
    Not(Option<Box<PendingUpdate>>, Diagnostic),
}

/// An update whose answer was lost while several same-name DAGs started after it: any of them may
/// be its. Whichever it is, the update applied when all of them did and did not when none did;
/// when they differ, nobody can tell, and the state keeps the values from before it.
async fn settle_candidates(client: &Client, pending: &PendingUpdate) -> Result<Settled, Error> {
    let ids: Vec<&String> = std::iter::once(&pending.dag_id)
        .chain(&pending.other_candidates)
        .collect();
    let list = ids
        .iter()
        .map(|id| id.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut dags = Vec::new();
    for id in &ids {
        match client
            .get_dag(&crate::obshell::DagId::new(id.as_str()))
            .await
        {
            Ok(dag) => dags.push(dag),
            Err(Error::Api { status: 404, .. }) => {}
            Err(error) => return Err(error),
        }
    }
    let Some(first) = dags.first() else {
        // None is known any more: the single-DAG path says so.
        return Ok(Settled::As(pending.dag_id.clone()));
    };
    if let Some(running) = dags.iter().find(|dag| !dag.is_finished()) {
        return Ok(Settled::Not(
            Some(Box::new(pending.clone())),
            Diagnostic::warning(
                "An earlier update is still running",
                format!("An earlier apply's answer was lost and any of DAGs {list} may be the task it started; DAG {} ({}) is still {} on obshell. Until they end, the state keeps the values from before that update.", running.id, running.name, running.state),
            ),
        ));
    }
    let applied = dags.iter().filter(|dag| dag.is_success()).count();
    if applied == dags.len() || applied == 0 {
        return Ok(Settled::As(first.id.as_str().to_owned()));
    }
    let ended = dags
        .iter()
        .map(|dag| format!("{} {} ({})", dag.id, dag.state, dag.operator))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Settled::Not(
        None,
        Diagnostic::warning(
            "Outcome of an earlier update unknown",
            format!("An earlier apply's answer was lost and any of DAGs {list} may be the task it started. They ended differently ({ended}), so whether that update applied cannot be told. The state keeps the values from before it; the next plan shows what differs from the configuration and sends it again."),
        ),
    ))
}

/// `ReadResource`.
pub async fn read(session: Option<&Session>, request: ReadRequest) -> ReadResponse {
    let unchanged = |diagnostics: Diagnostics| ReadResponse {
        new_state: request.current_state.clone(),
        private: request.private.clone(),
        diagnostics,
    };
    if request.current_state.is_null() {
        return unchanged(Diagnostics::new());
    }
    let mut state = match model_from_value(&request.current_state) {
        Ok(state) => state,
        Err(diagnostics) => return unchanged(diagnostics),
    };
    let Some(session) = session else {
        return unchanged(Diagnostics::from(Diagnostic::warning(
            "Backup configuration not refreshed",
            "The oceanbase provider's endpoint or password is not known yet, so the state was kept as it is without reading the cluster.",
        )));
    };
    let mut private = PrivateState::decode(&request.private);
    // A record of a succeeded create lasts for the refresh that wrote it (see `adoption.rs`).
    private.succeeded_create = None;
    let limit = timeout(&state.timeouts, |t| &t.read, DEFAULT_READ_TIMEOUT);
    let configured_limit = state
        .timeouts
        .known()
        .and_then(|timeouts| timeouts.read.known().cloned())
        .and_then(|text| parse_timeout(&text).ok());
    let lag_bound = lag::wait_bound(configured_limit);
    let unarrived = private.unarrived.clone();
    let mut diagnostics = Diagnostics::new();
    let mut succeeded_create = None;
    let work = async {
        if let Some(pending) = private.pending.take() {
            let mut succeeded = false;
            let record = pending.clone();
            let (still_pending, warning) =
                resolve_pending(session, pending, &mut state, &mut succeeded)
                    .await
                    .map_err(ReadFailure::Obshell)?;
            private.pending = still_pending;
            if private.pending.is_none() && record.stops_archive_log {
                // The task ended (or is gone) after its apply stopped following it, so archive
                // log was not reopened where it ran.
                archive_log::record(
                    &mut private.archive_log_stopped,
                    record.archiving_tenants.as_deref().unwrap_or_default(),
                );
            }
            if succeeded && record.create {
                succeeded_create = Some(record);
            }
            if let Some(warning) = warning {
                diagnostics.push(warning);
            }
        }
        read_settled(session, &unarrived, lag_bound).await
    };
    let result = tokio::select! {
        biased;
        () = session.cancel.cancelled() => {
            return unchanged(Diagnostic::error(SUMMARY_READ, "Terraform asked the provider to stop while it was reading the cluster.").into());
        }
        result = tokio::time::timeout(limit, work) => result,
    };
    let (mut live, warnings, unsettled, waited) = match result {
        Ok(Ok(read)) => read,
        Ok(Err(error)) => return unchanged(error.diagnostic(SUMMARY_READ, session).into()),
        Err(_) => {
            return unchanged(Diagnostic::error(
                SUMMARY_READ,
                format!("Reading the cluster from obshell at {} took longer than timeouts.read ({limit:?}). Check obshell, or raise timeouts.read.", session.endpoint),
            ).into())
        }
    };
    diagnostics.extend(warnings);
    // What is still lag after the re-reads: the state keeps its value, with a warning.
    let settled = lag::settle(&mut live, &unsettled, &state);
    if let Some(warning) = lag::still_settling_warning(&settled, waited, lag_bound) {
        diagnostics.push(warning);
    }
    private.unarrived = lag::still_unarrived(&unsettled, &unarrived);
    if let Field::Known(id) = &state.id {
        if *id != live.cluster_id {
            diagnostics.push(Diagnostic::error(
                "Endpoint serves another cluster",
                format!("obshell at {} serves cluster {}, but this resource manages cluster {id}. Point the provider at the right cluster, or remove the resource from state (terraform state rm) and import the other one.", session.endpoint, live.cluster_id),
            ));
            return unchanged(diagnostics);
        }
    }
    let imported = private.imported;
    private.after_refresh();
    if session.sql.is_some() {
        // The sys tenant's views report binding and piece_switch_interval: null in state now
        // means OceanBase's defaults.
        private.location_unverified = false;
    }
    archive_log::after_read(&mut private.archive_log_stopped, &live);
    if let Some(warning) = archive_log::still_stopped_warning(&private.archive_log_stopped, &live) {
        diagnostics.push(warning);
    }
    let (outcome, disagreements) = fold_live(&state, &live, &mut private.references);
    if let Some(warning) = disagreement_warning(&disagreements) {
        diagnostics.push(warning);
    }
    match outcome {
        ReadOutcome::Gone => {
            diagnostics.push(Diagnostic::warning(
                "Backup configuration gone",
                "No user tenant of the cluster has a backup destination any more, so the resource is removed from state; the next plan creates it again.",
            ));
            ReadResponse {
                new_state: Value::Null,
                private: Vec::new(),
                diagnostics,
            }
        }
        ReadOutcome::Present(new_state) => {
            let mut new_state = fold_sql(*new_state, &live, imported);
            if let Some(covered) = &private.location {
                let new_tenants = unreadable_new_tenants(&live, covered);
                if !new_tenants.is_empty() {
                    // obshell configured no tenant created after the last location write, and
                    // cannot show these tenants' destinations: the URI is not what they hold.
                    tracing::info!(tenants = ?new_tenants, "user tenants the last location write did not cover");
                    new_state.backup_base_uri = Field::Known(String::new());
                }
            }
            if let Some(record) = succeeded_create {
                let (warning, adoptable) =
                    succeeded_create_warning(session, record, &new_state, &live);
                diagnostics.push(warning);
                private.succeeded_create = adoptable;
            }
            ReadResponse {
                new_state: new_state.to_value(),
                private: private.encode(),
                diagnostics,
            }
        }
    }
}

/// The warning when tenants disagree on read-back attributes: each tenant's value, and which one
/// the state reports.
fn disagreement_warning(disagreements: &[Disagreement]) -> Option<Diagnostic> {
    if disagreements.is_empty() {
        return None;
    }
    let lines: Vec<String> = disagreements
        .iter()
        .map(|disagreement| {
            let values: Vec<String> = disagreement
                .values
                .iter()
                .map(|(tenant, value)| format!("{tenant} = {value:?}"))
                .collect();
            format!(
                "{}: {} (the state reports {:?})",
                disagreement.attribute,
                values.join(", "),
                disagreement.reported
            )
        })
        .collect();
    Some(Diagnostic::warning(
        "Tenants disagree on backup settings",
        format!(
            "The user tenants do not all have the same value for:\n  {}\nFor each, the state reports the value of the lowest tenant id that differs from the value the state held when the tenants were first seen to disagree, so refreshing again reports the same. A plan sends the configured value to every tenant that lacks it.",
            lines.join("\n  ")
        ),
    ))
}

/// The attributes on which some tenant read differs from `model` (every readable one compared);
/// `None` when no tenant was read, so nothing could be checked.
fn differing_attributes(
    model: &BackupConfigModel,
    live: &LiveCluster,
    sql_read: bool,
) -> Option<Vec<String>> {
    if live.tenants.is_empty() {
        return None;
    }
    Some(
        super::tenants::compare_tenants(
            &Field::Known(live.tenants_map()),
            Some(&live.cluster_id),
            model,
            sql_read,
        )
        .into_iter()
        .filter(|c| !c.differing.is_empty())
        .map(|c| c.attribute.to_owned())
        .collect(),
    )
}

/// The warning when a Read sees that a create an earlier apply stopped following succeeded. The
/// resource is tainted, and Terraform plans its replacement without the private state. When every
/// tenant has what the create sent, this process remembers it, so that the replacement planned in
/// the same run adopts it and sends nothing (`adoption.rs`); the warning says so, and that
/// `terraform untaint` keeps it without any replacement. Otherwise it forgets any earlier record.
fn succeeded_create_warning(
    session: &Session,
    record: PendingUpdate,
    state: &BackupConfigModel,
    live: &LiveCluster,
) -> (Diagnostic, Option<SucceededCreate>) {
    let dag_id = record.dag_id.clone();
    // Compared with what the create sent, not with the refreshed state, which folds the tenants.
    let mut sent = state.clone();
    record.sent.adopt_into(&mut sent);
    let differing = differing_attributes(&sent, live, session.sql.is_some());
    let mut adoptable = None;
    let detail = if differing.as_ref().is_some_and(Vec::is_empty) {
        let created = SucceededCreate {
            dag_id: record.dag_id,
            sent: record.sent,
            stops_archive_log: record.stops_archive_log,
            archiving_tenants: record.archiving_tenants,
        };
        session
            .succeeded_creates
            .remember(&session.endpoint, &live.cluster_id, created.clone());
        adoptable = Some(created);
        format!("DAG {dag_id} of the create that an earlier apply stopped following has succeeded, and every user tenant now has the values it sent. Terraform still holds this resource as tainted and plans to replace it: when that replacement is planned in this same run (terraform plan or apply, refreshing first) with a configuration that means what DAG {dag_id} sent, the replacement adopts that create and sends nothing (no second POST, archive log not stopped again), and its plan says so. Alternatively, to keep the resource without any replacement, run terraform untaint on it (for example terraform untaint oceanbase_backup_config.this); the next plan is then empty.")
    } else {
        session
            .succeeded_creates
            .forget(&session.endpoint, &live.cluster_id);
        let differing =
            differing.unwrap_or_else(|| vec!["no user tenant could be read".to_owned()]);
        format!("DAG {dag_id} of the create that an earlier apply stopped following has succeeded, but the tenants no longer all have what it sent ({}). Terraform holds this resource as tainted: the next apply replaces it, which sends the configuration again.", differing.join(", "))
    };
    (
        Diagnostic::warning("Earlier create succeeded", detail),
        adoptable,
    )
}

/// `ImportResourceState`: by cluster id, checked against `GET /api/v1/obcluster/info`. The
/// imported state holds the id and the defaults; the Read that follows fills the read-back
/// attributes.
pub async fn import(session: Option<&Session>, request: ImportRequest) -> ImportResponse {
    let failed = |diagnostic: Diagnostic| ImportResponse {
        imported: Vec::new(),
        diagnostics: diagnostic.into(),
    };
    let Some(session) = session else {
        return failed(not_configured());
    };
    let wanted = request.id.trim();
    let cluster = match session.client.cluster_info().await {
        Ok(cluster) => cluster,
        Err(error) => return failed(obshell_error(SUMMARY_IMPORT, &error, &session.endpoint)),
    };
    if cluster.id.to_string() != wanted {
        return failed(Diagnostic::error(
            SUMMARY_IMPORT,
            format!("The import id must be the id of the cluster obshell at {} serves, which is {} ({}); got {wanted:?}.", session.endpoint, cluster.id, cluster.name),
        ));
    }
    let mut state = BackupConfigModel::empty();
    state.id = Field::Known(cluster.id.to_string());
    let state = with_defaults(state);
    ImportResponse {
        imported: vec![ImportedResource {
            type_name: BACKUP_CONFIG_TYPE.to_owned(),
            state: state.to_value(),
            private: PrivateState::imported().encode(),
        }],
        diagnostics: Diagnostics::new(),
    }
}

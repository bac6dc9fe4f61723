//! Typed obshell calls: the cluster backup config (`POST`/`PATCH /api/v1/obcluster/backup/config`),
//! DAG reads and operations, cluster and tenant reads, per-tenant backup reads (≥ 4.3.2) and
//! archive-log status. Wire DTOs are private; the public types are plain domain structs.
//!
//! See `obshell-api.md` §1 and §9 for every endpoint named here.

use std::fmt;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::client::{Call, Client, Contents, ObshellVersion, RetryClass, BACKUP_CONFIG_DAG_NAME};
use super::dag::{Dag, DagDto, DagId, DagOperator};
use super::error::{redact_secrets, Error};

/// A storage URI (`file://`, `oss://`, `cos://`, `s3://`) that may carry `access_id` and
/// `access_key` query parameters. `Debug` and `Display` mask them; [`StorageUri::expose`] gives
/// the real URI for the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageUri(String);

/// Query parameters whose values are credentials.
const SECRET_PARAMETERS: [&str; 2] = ["access_id", "access_key"];

impl StorageUri {
    /// Wraps a URI.
    pub fn new(uri: impl Into<String>) -> Self {
        StorageUri(uri.into())
    }

    /// The real URI, credentials included: only for the request body.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URI with credential values replaced by `***`, for messages (see [`redact_secrets`]).
    pub fn redacted(&self) -> String {
        redact_secrets(&self.0)
    }

    /// The URI with the credential parameters removed altogether.
    pub fn without_credentials(&self) -> String {
        let Some((base, query)) = self.0.split_once('?') else {
            return self.0.clone();
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_secret_parameter(parameter_name(pair)))
            .collect();
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    }

    /// Whether the URI carries `access_id` or `access_key`.
    pub fn has_credentials(&self) -> bool {
        self.0.split_once('?').is_some_and(|(_, query)| {
            query
                .split('&')
                .any(|pair| is_secret_parameter(parameter_name(pair)))
        })
    }
}

/// The name of a `name=value` query pair.
fn parameter_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(name, _)| name)
}

fn is_secret_parameter(name: &str) -> bool {
    SECRET_PARAMETERS
        .iter()
        .any(|secret| secret.eq_ignore_ascii_case(name))
}

impl fmt::Debug for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageUri({:?})", self.redacted())
    }
}

impl fmt::Display for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The body of `POST`/`PATCH /api/v1/obcluster/backup/config`. Every field is optional: a `None`
/// is omitted from the JSON (never sent as `""` or `null`), and obshell leaves that setting alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupConfigRequest {
    /// `backup_base_uri`: required by POST; obshell appends `/<cluster_id>/<tenant_id>/{clog,data}`.
    pub backup_base_uri: Option<StorageUri>,
    /// `log_archive_concurrency`, 0..100.
    pub log_archive_concurrency: Option<i64>,
    /// `binding`: `OPTIONAL` or `MANDATORY`.
    pub binding: Option<String>,
    /// `ha_low_thread_score`, 0..100.
    pub ha_low_thread_score: Option<i64>,
    /// `piece_switch_interval`, an obshell duration in 1d..7d.
    pub piece_switch_interval: Option<String>,
    /// `archive_lag_target`, an obshell duration ≤ 2h.
    pub archive_lag_target: Option<String>,
    /// `delete_policy`.
    pub delete_policy: Option<DeletePolicy>,
}

/// The backup delete policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePolicy {
    /// The policy name; obshell accepts only `default`.
    pub policy: String,
    /// The recovery window, a duration with a unit such as `7d`.
    pub recovery_window: String,
}

#[derive(Serialize)]
struct BackupConfigBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_base_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_archive_concurrency: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binding: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ha_low_thread_score: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    piece_switch_interval: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    archive_lag_target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_policy: Option<DeletePolicyBody<'a>>,
}

/// The body of `POST /api/v1/tenant/{name}/backup/config` (`TenantBackupConfigParam`): the
/// tenant's two destinations, used by obshell as given, and the other fields as in the cluster
/// call (its `backup_base_uri` is never sent here).
#[derive(Serialize)]
struct TenantBackupConfigBody<'a> {
    archive_base_uri: &'a str,
    data_base_uri: &'a str,
    #[serde(flatten)]
    rest: BackupConfigBody<'a>,
}

#[derive(Serialize)]
struct DeletePolicyBody<'a> {
    policy: &'a str,
    recovery_window: &'a str,
}

impl BackupConfigRequest {
    fn body(&self) -> BackupConfigBody<'_> {
        BackupConfigBody {
            backup_base_uri: self.backup_base_uri.as_ref().map(StorageUri::expose),
            log_archive_concurrency: self.log_archive_concurrency,
            binding: self.binding.as_deref(),
            ha_low_thread_score: self.ha_low_thread_score,
            piece_switch_interval: self.piece_switch_interval.as_deref(),
            archive_lag_target: self.archive_lag_target.as_deref(),
            delete_policy: self.delete_policy.as_ref().map(|policy| DeletePolicyBody {
                policy: &policy.policy,
                recovery_window: &policy.recovery_window,
            }),
        }
    }
}

/// The cluster, from `GET /api/v1/obcluster/info` (obshell ≥ 4.3.0) or `GET /api/v1/ob/info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `cluster_id`.
    pub id: i64,
    /// `cluster_name`.
    pub name: String,
}

/// One tenant of `GET /api/v1/tenants/overview` (sys included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantOverview {
    /// `tenant_id`.
    pub id: i64,
    /// `tenant_name`.
    pub name: String,
    /// `status`: `NORMAL`, `CREATING`, `RESTORE`, `DROPPING`, ...
    pub status: String,
    /// `mode`: `MYSQL` or `ORACLE`.
    pub mode: String,
}

impl TenantOverview {
    /// Whether this is the sys tenant (id 1).
    pub fn is_sys(&self) -> bool {
        self.id == 1 || self.name == "sys"
    }
}

/// One tenant, from `GET /api/v1/tenant/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantInfo {
    /// `tenant_id`.
    pub id: i64,
    /// `tenant_name`.
    pub name: String,
    /// `status`.
    pub status: String,
    /// `mode`.
    pub mode: String,
}

/// A tenant parameter, from `GET /api/v1/tenant/{name}/parameter/{para}`. Values are strings as
/// OceanBase stores them (`"4"`, `"2m"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The parameter name.
    pub name: String,
    /// The value as stored.
    pub value: String,
    /// `INT`, `TIME`, ...
    pub data_type: String,
    /// The description.
    pub info: String,
    /// The edit level.
    pub edit_level: String,
}

/// The three tenant parameters the cluster backup config sets, as stored; `None` when the tenant
/// has no such parameter (an OceanBase release without it).
///
/// obshell reads them with `SELECT DISTINCT NAME, VALUE ... FROM GV$OB_PARAMETERS`, one row per
/// server made distinct, so while a change spreads to the servers a parameter comes back once
/// per value, in no fixed order (obshell-api.md §10.4). Such a parameter is in
/// [`Self::disagreeing`] with every value; its field holds the first of them in sorted order, so
/// one answer gives one value whatever order its rows came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupParameters {
    /// `log_archive_concurrency`.
    pub log_archive_concurrency: Option<String>,
    /// `ha_low_thread_score`.
    pub ha_low_thread_score: Option<String>,
    /// `archive_lag_target`.
    pub archive_lag_target: Option<String>,
    /// The parameters the servers disagree on: the name (lower case) and every distinct value,
    /// sorted. Empty when every server shows one value.
    pub disagreeing: std::collections::BTreeMap<String, Vec<String>>,
}

/// The tenant parameters the cluster backup config sets, as obshell names them.
pub const BACKUP_PARAMETER_NAMES: [&str; 3] = [
    "log_archive_concurrency",
    "ha_low_thread_score",
    "archive_lag_target",
];

impl BackupParameters {
    /// Folds parameter rows (any order, a parameter listed once per distinct value) into the
    /// three values; rows of other parameters are ignored.
    pub fn from_rows(rows: &[Parameter]) -> BackupParameters {
        let mut parameters = BackupParameters::default();
        for name in BACKUP_PARAMETER_NAMES {
            let mut values: Vec<String> = rows
                .iter()
                .filter(|row| row.name.eq_ignore_ascii_case(name))
                .map(|row| row.value.clone())
                .collect();
            values.sort();
            values.dedup();
            let first = values.first().cloned();
            if values.len() > 1 {
                parameters.disagreeing.insert(name.to_owned(), values);
            }
            match name {
                "log_archive_concurrency" => parameters.log_archive_concurrency = first,
                "ha_low_thread_score" => parameters.ha_low_thread_score = first,
                _ => parameters.archive_lag_target = first,
            }
        }
        parameters
    }
}

/// The `LIKE` filter that lists `log_archive_concurrency` and `archive_lag_target` in one request.
///
/// Chosen from obshell's source at 4.5.0.0 and OceanBase's `ob_parameter_seed.ipp` (answer sizes
/// computed from them, not measured on a cluster; docs/benchmarks.md, "Requests per tenant"):
/// reading a tenant's three parameters one by one costs three requests, each an RSA-decrypted
/// header and a `GV$OB_PARAMETERS` query on obshell's side.
/// - `GET /tenant/{t}/parameters?filter=%archive%` matches exactly these two tenant-scope
///   parameters, so its answer is the two single answers in one envelope: one round trip and one
///   SQL query less per tenant. `ha_low_thread_score` shares no such substring with them: a `LIKE`
///   pattern covering all three (such as `%a%\_%r%e%`) matches dozens of other parameters, so it
///   stays a request of its own (a list filtered by its name, which shows every server's value).
/// - `filter=%` (one request per tenant) answers ~190 rows with descriptions, roughly 40 KB per
///   tenant, against about 2 KB for the two requests it would replace.
/// - `GET /api/v1/obcluster/parameters` (one request per cluster, ≥ 4.3.0) answers every
///   parameter of the cluster with a value per server and per tenant: roughly 90 KB per tenant
///   on a 3-server cluster, 40 times the bytes of the reads it replaces, at every tenant count.
pub(crate) const ARCHIVE_PARAMETERS_FILTER: &str = "%archive%";

/// A tenant's backup destinations, from `GET /api/v1/tenant/{name}/backup/config/storage`
/// (≥ 4.3.2). obshell strips credentials; empty strings mean "not configured".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupStorage {
    /// The tenant id.
    pub tenant_id: i64,
    /// The archive destination, e.g. `file:///data/backup/<cluster_id>/<tenant_id>/clog`.
    pub archive_base_uri: StorageUri,
    /// The data destination, e.g. `file:///data/backup/<cluster_id>/<tenant_id>/data`.
    pub data_base_uri: StorageUri,
}

/// A running archive-log round, from `GET /api/v1/tenant/{name}/backup/log/tasks` (≥ 4.3.2). Only
/// `PREPARE`, `BEGINNING`, `DOING`, `STOPPING` and `SUSPEND` rounds are listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveLogTask {
    /// The tenant id.
    pub tenant_id: i64,
    /// The round id.
    pub round_id: i64,
    /// The round's status.
    pub status: String,
    /// The archive path.
    pub path: StorageUri,
    /// The archive delay in seconds, when reported.
    pub delay_seconds: Option<f64>,
}

/// The archive-log status to set with `PATCH .../backup/log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveLogStatus {
    /// Open archive log (`DOING`).
    Doing,
    /// Stop archive log (`STOP`).
    Stop,
    /// Defer archive log (`SUSPEND`, obshell ≥ 4.3.2).
    Suspend,
}

impl ArchiveLogStatus {
    /// obshell's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveLogStatus::Doing => "DOING",
            ArchiveLogStatus::Stop => "STOP",
            ArchiveLogStatus::Suspend => "SUSPEND",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Wire DTOs.

/// The route that reports the cluster id.
fn cluster_info_path(obcluster_info: bool) -> &'static str {
    if obcluster_info {
        "/api/v1/obcluster/info"
    } else {
        "/api/v1/ob/info"
    }
}

/// `param.ObInfoResp` of `GET /api/v1/ob/info`; only the cluster part is used.
#[derive(Deserialize)]
struct ObInfoDto {
    obcluster_info: ObClusterConfigDto,
}

#[derive(Deserialize)]
struct ObClusterConfigDto {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct ClusterInfoDto {
    cluster_id: i64,
    #[serde(default)]
    cluster_name: String,
}

#[derive(Deserialize)]
struct TenantDto {
    tenant_id: i64,
    tenant_name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    mode: String,
}

#[derive(Deserialize)]
struct ParameterDto {
    name: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    data_type: Option<String>,
    #[serde(default)]
    info: Option<String>,
    #[serde(default)]
    edit_level: Option<String>,
}

impl From<ParameterDto> for Parameter {
    fn from(dto: ParameterDto) -> Self {
        Parameter {
            name: dto.name,
            value: dto.value,
            data_type: dto.data_type.unwrap_or_default(),
            info: dto.info.unwrap_or_default(),
            edit_level: dto.edit_level.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct BackupStorageDto {
    tenant_id: i64,
    #[serde(default)]
    archive_base_uri: String,
    #[serde(default)]
    data_base_uri: String,
}

#[derive(Deserialize)]
struct ArchiveLogTaskDto {
    tenant_id: i64,
    #[serde(default)]
    round_id: i64,
    #[serde(default)]
    status: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    delay: Option<f64>,
}

#[derive(Serialize)]
struct OperatorBody<'a> {
    operator: &'a str,
}

#[derive(Serialize)]
struct StatusBody<'a> {
    status: &'a str,
}

/// Percent-encodes one path segment or query value (everything but RFC 3986 unreserved bytes).
pub(crate) fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn tenant_target(tenant: &str, rest: &str) -> String {
    format!("/api/v1/tenant/{}{rest}", encode_component(tenant))
}

impl Client {
    /// `POST /api/v1/obcluster/backup/config`: sets every user tenant's backup config; returns the
    /// new DAG (`Set obcluster backup config`). Wait for it with [`super::wait_for_dag`].
    ///
    /// The request is resent only when the connection failed before it was sent. When its answer
    /// is lost afterwards (a reset, a timeout, a 502/503/504), the client lists the unfinished
    /// DAGs (and, from obshell 4.3.0, all DAGs) for one named `Set obcluster backup config` that
    /// started after the request, and returns that DAG instead of sending the request again.
    ///
    /// # Errors
    /// [`Error::Api`] for obshell's validation (e.g. 400 `OB.Backup.BaseUriEmpty`),
    /// [`Error::WriteOutcomeUnknown`] when the answer was lost and no single DAG it started can be
    /// found.
    ///
    /// # Caveats
    /// The lost-answer search matches by name and start time (with 2 s of slack for clock
    /// precision); a config DAG that another client starts in that window makes the outcome
    /// ambiguous, which is reported as [`Error::WriteOutcomeUnknown`] when both are seen. Callers
    /// should not write while another backup-config DAG runs.
    pub async fn post_backup_config(&self, request: &BackupConfigRequest) -> Result<Dag, Error> {
        let call = Call::write(
            Method::POST,
            "/api/v1/obcluster/backup/config",
            &request.body(),
            RetryClass::Write,
        );
        self.write_dag(&call, BACKUP_CONFIG_DAG_NAME).await
    }

    /// `PATCH /api/v1/obcluster/backup/config`: changes only the fields present; returns the DAG.
    ///
    /// # Errors
    /// As [`Client::post_backup_config`].
    pub async fn patch_backup_config(&self, request: &BackupConfigRequest) -> Result<Dag, Error> {
        let call = Call::write(
            Method::PATCH,
            "/api/v1/obcluster/backup/config",
            &request.body(),
            RetryClass::Write,
        );
        self.write_dag(&call, BACKUP_CONFIG_DAG_NAME).await
    }

    /// `POST /api/v1/tenant/{name}/backup/config`: sets one tenant's backup config, with its
    /// archive and data destinations as given (obshell appends no `/<cluster_id>/<tenant_id>/...`);
    /// `request.backup_base_uri` is not sent. Returns the new DAG, `Set obcluster backup config for
    /// <tenant>`, a tenant-maintenance DAG that touches (and stops archive log on) that tenant
    /// only. Lost answers are handled as in [`Client::post_backup_config`], by that DAG name.
    ///
    /// # Errors
    /// [`Error::Api`]: obshell's validation, 400 `OB.Tenant.NotExist`, 500
    /// `OB.Tenant.UnderMaintenance` while an earlier tenant-level DAG on the tenant runs or has
    /// failed without being retried or passed; obshell's `NoRoute` on an agent without the call
    /// ([`Error::is_no_route`]); [`Error::WriteOutcomeUnknown`].
    pub async fn post_tenant_backup_config(
        &self,
        tenant: &str,
        archive_dest: &StorageUri,
        data_dest: &StorageUri,
        request: &BackupConfigRequest,
    ) -> Result<Dag, Error> {
        let mut rest = request.body();
        rest.backup_base_uri = None;
        let call = Call::write(
            Method::POST,
            tenant_target(tenant, "/backup/config"),
            &TenantBackupConfigBody {
                archive_base_uri: archive_dest.expose(),
                data_base_uri: data_dest.expose(),
                rest,
            },
            RetryClass::Write,
        );
        self.write_dag(&call, &format!("{BACKUP_CONFIG_DAG_NAME} for {tenant}"))
            .await
    }

    /// `GET /api/v1/task/dag/{id}` with details (nodes, sub-tasks, task logs).
    ///
    /// # Errors
    /// 404 `Task.NotFound` for an unknown id, transport and decode errors.
    pub async fn get_dag(&self, dag_id: &DagId) -> Result<Dag, Error> {
        let call = Call::get(format!(
            "/api/v1/task/dag/{}?show_details=true",
            encode_component(dag_id.as_str())
        ));
        let dag = Dag::from(self.call_decoded::<DagDto>(&call).await?);
        self.saw_dag_id(dag.dag_id);
        Ok(dag)
    }

    /// `GET /api/v1/task/dag/ob/unfinish`: the cluster DAGs that have not finished, with details.
    ///
    /// # Errors
    /// Transport, API and decode errors.
    pub async fn unfinished_dags(&self) -> Result<Vec<Dag>, Error> {
        let call = Call::get("/api/v1/task/dag/ob/unfinish?show_details=true");
        let list: Contents<DagDto> = self.call_decoded(&call).await?;
        let dags: Vec<Dag> = list
            .contents
            .unwrap_or_default()
            .into_iter()
            .map(Dag::from)
            .collect();
        for dag in &dags {
            self.saw_dag_id(dag.dag_id);
        }
        Ok(dags)
    }

    /// `POST /api/v1/task/dag/{id}` with `{"operator": ...}`: retry, roll back, cancel or pass a DAG.
    /// Not resent once sent.
    ///
    /// # Errors
    /// 400 `Task.Dag.Operator.*` when the DAG's state does not allow it;
    /// [`Error::WriteOutcomeUnknown`] when the answer was lost.
    pub async fn operate_dag(&self, dag_id: &DagId, operator: DagOperator) -> Result<(), Error> {
        let operator = operator.to_string();
        let call = Call::write(
            Method::POST,
            format!("/api/v1/task/dag/{}", encode_component(dag_id.as_str())),
            &OperatorBody {
                operator: &operator,
            },
            RetryClass::Write,
        );
        self.write_once(&call).await.map(|_| ())
    }

    /// The cluster's id and name: `GET /api/v1/obcluster/info` from obshell 4.3.0, `GET
    /// /api/v1/ob/info` (`obcluster_info`) before, which is the only place 4.2.x reports them.
    /// When the agent answers that the route it should have does not exist (a build whose
    /// version says otherwise), the other route is asked.
    ///
    /// # Errors
    /// Transport, API and decode errors; [`Error::Decode`] when obshell reports no cluster id
    /// (`0`, which `ob/info` answers when it cannot read the cluster's configuration).
    pub async fn cluster_info(&self) -> Result<ClusterInfo, Error> {
        let info = self.agent_info().await?;
        let first = info.version.has_obcluster_info();
        let cluster = match self.cluster_info_from(first).await {
            Err(error) if error.is_no_route() => self.cluster_info_from(!first).await?,
            other => other?,
        };
        if cluster.id <= 0 {
            return Err(Error::Decode {
                method: "GET".to_owned(),
                path: cluster_info_path(first).to_owned(),
                reason: format!(
                    "obshell reported cluster id {} (it could not read the cluster's configuration); try again once the cluster is up",
                    cluster.id
                ),
            });
        }
        Ok(cluster)
    }

    async fn cluster_info_from(&self, obcluster_info: bool) -> Result<ClusterInfo, Error> {
        let call = Call::get(cluster_info_path(obcluster_info));
        if obcluster_info {
            let dto: ClusterInfoDto = self.call_decoded(&call).await?;
            Ok(ClusterInfo {
                id: dto.cluster_id,
                name: dto.cluster_name,
            })
        } else {
            let dto: ObInfoDto = self.call_decoded(&call).await?;
            Ok(ClusterInfo {
                id: dto.obcluster_info.id,
                name: dto.obcluster_info.name,
            })
        }
    }

    /// `GET /api/v1/tenants/overview`: every tenant, sys included (see [`TenantOverview::is_sys`]).
    ///
    /// # Errors
    /// Transport, API and decode errors.
    pub async fn tenants_overview(&self) -> Result<Vec<TenantOverview>, Error> {
        let list: Contents<TenantDto> = self
            .call_decoded(&Call::get("/api/v1/tenants/overview"))
            .await?;
        Ok(list
            .contents
            .unwrap_or_default()
            .into_iter()
            .map(|dto| TenantOverview {
                id: dto.tenant_id,
                name: dto.tenant_name,
                status: dto.status,
                mode: dto.mode,
            })
            .collect())
    }

    /// `GET /api/v1/tenant/{name}`.
    ///
    /// # Errors
    /// 400 `OB.Tenant.NotExist` for an unknown tenant; transport, API and decode errors.
    pub async fn tenant_info(&self, tenant: &str) -> Result<TenantInfo, Error> {
        let dto: TenantDto = self
            .call_decoded(&Call::get(tenant_target(tenant, "")))
            .await?;
        Ok(TenantInfo {
            id: dto.tenant_id,
            name: dto.tenant_name,
            status: dto.status,
            mode: dto.mode,
        })
    }

    /// `GET /api/v1/tenant/{name}/parameter/{para}`.
    ///
    /// # Errors
    /// 400 `OB.Tenant.StatusNotNormal` (≤ 4.3.0: 500 code 1010) for a tenant that is not NORMAL,
    /// 400 `OB.Tenant.Parameter.NotExist`; transport and decode errors.
    pub async fn tenant_parameter(&self, tenant: &str, name: &str) -> Result<Parameter, Error> {
        let target = tenant_target(tenant, &format!("/parameter/{}", encode_component(name)));
        self.call_decoded::<ParameterDto>(&Call::get(target))
            .await
            .map(Parameter::from)
    }

    /// `GET /api/v1/tenant/{name}/parameters?filter=...` (a SQL LIKE pattern; `None` lists all).
    ///
    /// # Errors
    /// As [`Client::tenant_parameter`].
    pub async fn tenant_parameters(
        &self,
        tenant: &str,
        filter: Option<&str>,
    ) -> Result<Vec<Parameter>, Error> {
        let query = filter
            .map(|filter| format!("?filter={}", encode_component(filter)))
            .unwrap_or_default();
        let target = tenant_target(tenant, &format!("/parameters{query}"));
        let list: Contents<ParameterDto> = self.call_decoded(&Call::get(target)).await?;
        Ok(list
            .contents
            .unwrap_or_default()
            .into_iter()
            .map(Parameter::from)
            .collect())
    }

    /// The tenant's `log_archive_concurrency`, `ha_low_thread_score` and `archive_lag_target` in two
    /// list requests sent together: `GET .../parameters?filter=%archive%` for the first and last
    /// (see [`ARCHIVE_PARAMETERS_FILTER`] for why) and `GET .../parameters?filter=ha_low_thread_score`.
    /// Lists, not `GET .../parameter/{name}`, which answers whichever server's row comes first:
    /// a list shows every value the servers hold (see [`BackupParameters`]).
    ///
    /// # Errors
    /// As [`Client::tenant_parameter`].
    pub async fn tenant_backup_parameters(&self, tenant: &str) -> Result<BackupParameters, Error> {
        let (archive, score) = tokio::join!(
            self.tenant_parameters(tenant, Some(ARCHIVE_PARAMETERS_FILTER)),
            self.tenant_parameters(tenant, Some("ha_low_thread_score")),
        );
        let mut rows = archive?;
        rows.extend(score?);
        Ok(BackupParameters::from_rows(&rows))
    }

    /// `GET /api/v1/tenant/{name}/backup/config/storage` (obshell ≥ 4.3.2). `None` when obshell
    /// answers `data: null` (it could not show the destination without credentials).
    ///
    /// # Errors
    /// [`Error::Unsupported`] before 4.3.2 (nothing is sent); transport, API and decode errors.
    pub async fn tenant_backup_storage(
        &self,
        tenant: &str,
    ) -> Result<Option<BackupStorage>, Error> {
        self.require_version(ObshellVersion::BACKUP_READS, "reading backup destinations")
            .await?;
        let call = Call::get(tenant_target(tenant, "/backup/config/storage"));
        let dto: Option<BackupStorageDto> = self.call_decoded(&call).await?;
        Ok(dto.map(|dto| BackupStorage {
            tenant_id: dto.tenant_id,
            archive_base_uri: StorageUri::new(dto.archive_base_uri),
            data_base_uri: StorageUri::new(dto.data_base_uri),
        }))
    }

    /// `GET /api/v1/tenant/{name}/backup/log/tasks` (obshell ≥ 4.3.2): the tenant's active
    /// archive-log rounds; empty when archive log is off (or interrupted).
    ///
    /// # Errors
    /// [`Error::Unsupported`] before 4.3.2 (nothing is sent); transport, API and decode errors.
    pub async fn tenant_archive_log_tasks(
        &self,
        tenant: &str,
    ) -> Result<Vec<ArchiveLogTask>, Error> {
        self.require_version(ObshellVersion::BACKUP_READS, "reading archive-log status")
            .await?;
        let call = Call::get(tenant_target(tenant, "/backup/log/tasks"));
        let list: Contents<ArchiveLogTaskDto> = self.call_decoded(&call).await?;
        Ok(list
            .contents
            .unwrap_or_default()
            .into_iter()
            .map(|dto| ArchiveLogTask {
                tenant_id: dto.tenant_id,
                round_id: dto.round_id,
                status: dto.status,
                path: StorageUri::new(dto.path),
                delay_seconds: dto.delay,
            })
            .collect())
    }

    /// `PATCH /api/v1/obcluster/backup/log`: sets archive-log status on every user tenant.
    /// Synchronous (no DAG); setting a status twice changes nothing, so it is retried like a read.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for `Suspend` before 4.3.2; transport and API errors.
    pub async fn set_cluster_archive_log(&self, status: ArchiveLogStatus) -> Result<(), Error> {
        self.check_archive_status(status).await?;
        let call = Call::write(
            Method::PATCH,
            "/api/v1/obcluster/backup/log",
            &StatusBody {
                status: status.as_str(),
            },
            RetryClass::IdempotentWrite,
        );
        self.call_raw(&call).await.map(|_| ())
    }

    /// `PATCH /api/v1/tenant/{name}/backup/log`: sets one tenant's archive-log status. Synchronous;
    /// obshell does not wait for the new state. Retried like a read (see
    /// [`Client::set_cluster_archive_log`]).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for `Suspend` before 4.3.2; transport and API errors.
    pub async fn set_tenant_archive_log(
        &self,
        tenant: &str,
        status: ArchiveLogStatus,
    ) -> Result<(), Error> {
        self.check_archive_status(status).await?;
        let call = Call::write(
            Method::PATCH,
            tenant_target(tenant, "/backup/log"),
            &StatusBody {
                status: status.as_str(),
            },
            RetryClass::IdempotentWrite,
        );
        self.call_raw(&call).await.map(|_| ())
    }

    async fn check_archive_status(&self, status: ArchiveLogStatus) -> Result<(), Error> {
        if status == ArchiveLogStatus::Suspend {
            self.require_version(ObshellVersion::BACKUP_READS, "archive-log SUSPEND")
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check_body(request: &BackupConfigRequest, expected: serde_json::Value) {
        assert_eq!(serde_json::to_value(request.body()).unwrap(), expected);
    }

    fn row(name: &str, value: &str) -> Parameter {
        Parameter {
            name: name.to_owned(),
            value: value.to_owned(),
            data_type: String::new(),
            info: String::new(),
            edit_level: String::new(),
        }
    }

    #[test]
    fn servers_that_disagree_give_every_value_and_one_answer_in_any_row_order() {
        let rows = [
            row("archive_lag_target", "5m"),
            row("log_archive_concurrency", "8"),
            row("ARCHIVE_LAG_TARGET", "120s"),
            row("ha_low_thread_score", "10"),
            row("log_archive_concurrency", "8"),
            row("archive_lag_target_extra", "1s"),
        ];
        let forward = BackupParameters::from_rows(&rows);
        let mut reversed = rows.to_vec();
        reversed.reverse();
        assert_eq!(forward, BackupParameters::from_rows(&reversed));
        assert_eq!(forward.archive_lag_target.as_deref(), Some("120s"));
        assert_eq!(forward.log_archive_concurrency.as_deref(), Some("8"));
        assert_eq!(forward.ha_low_thread_score.as_deref(), Some("10"));
        // One value from several servers is no disagreement.
        assert_eq!(
            forward.disagreeing.into_iter().collect::<Vec<_>>(),
            [(
                "archive_lag_target".to_owned(),
                vec!["120s".to_owned(), "5m".to_owned()]
            )]
        );
        let missing = BackupParameters::from_rows(&[row("archive_lag_target", "5m")]);
        assert_eq!(missing.ha_low_thread_score, None);
        assert!(missing.disagreeing.is_empty());
    }

    #[test]
    fn absent_fields_are_omitted() {
        check_body(&BackupConfigRequest::default(), json!({}));
        check_body(
            &BackupConfigRequest {
                log_archive_concurrency: Some(0),
                ..Default::default()
            },
            json!({"log_archive_concurrency": 0}),
        );
        check_body(
            &BackupConfigRequest {
                backup_base_uri: Some(StorageUri::new("file:///data/backup")),
                log_archive_concurrency: Some(4),
                binding: Some("optional".into()),
                ha_low_thread_score: Some(10),
                piece_switch_interval: Some("1d".into()),
                archive_lag_target: Some("120s".into()),
                delete_policy: Some(DeletePolicy {
                    policy: "default".into(),
                    recovery_window: "7d".into(),
                }),
            },
            json!({"backup_base_uri":"file:///data/backup","log_archive_concurrency":4,"binding":"optional",
                   "ha_low_thread_score":10,"piece_switch_interval":"1d","archive_lag_target":"120s",
                   "delete_policy":{"policy":"default","recovery_window":"7d"}}),
        );
    }

    #[test]
    fn storage_uri_hides_credentials() {
        let uri = StorageUri::new(
            "oss://bucket/backup?host=oss.example.com&access_id=AKID&access_key=SECRET",
        );
        assert!(uri.has_credentials());
        assert_eq!(
            uri.redacted(),
            "oss://bucket/backup?host=oss.example.com&access_id=***&access_key=***"
        );
        assert_eq!(
            uri.without_credentials(),
            "oss://bucket/backup?host=oss.example.com"
        );
        assert_eq!(uri.to_string(), uri.redacted());
        let debug = format!("{uri:?}");
        assert!(
            !debug.contains("AKID") && !debug.contains("SECRET"),
            "{debug}"
        );
        let request = BackupConfigRequest {
            backup_base_uri: Some(uri.clone()),
            ..Default::default()
        };
        assert!(!format!("{request:?}").contains("SECRET"));
        assert_eq!(
            uri.expose(),
            "oss://bucket/backup?host=oss.example.com&access_id=AKID&access_key=SECRET"
        );
        check_body(&request, json!({"backup_base_uri": uri.expose()}));

        let plain = StorageUri::new("file:///data/backup");
        assert!(!plain.has_credentials());
        assert_eq!(plain.redacted(), "file:///data/backup");
        assert_eq!(
            StorageUri::new("s3://b/k?access_key=x").without_credentials(),
            "s3://b/k"
        );
    }

    #[test]
    fn path_components_are_percent_encoded() {
        assert_eq!(encode_component("t1"), "t1");
        assert_eq!(encode_component("%"), "%25");
        assert_eq!(encode_component("archive_%"), "archive_%25");
        assert_eq!(encode_component("a b/c"), "a%20b%2Fc");
        assert_eq!(
            tenant_target("t 1", "/parameters?filter=%25"),
            "/api/v1/tenant/t%201/parameters?filter=%25"
        );
    }

    #[test]
    fn wire_shapes_decode() {
        let storage: Option<BackupStorageDto> = serde_json::from_value(json!(null)).unwrap();
        assert!(storage.is_none());
        let storage: Option<BackupStorageDto> = serde_json::from_value(
            json!({"tenant_id": 1002, "archive_base_uri": "file:///b/1/1002/clog", "data_base_uri": "file:///b/1/1002/data"}),
        )
        .unwrap();
        assert_eq!(storage.unwrap().tenant_id, 1002);
        let tasks: Contents<ArchiveLogTaskDto> = serde_json::from_value(json!({"contents": [
            {"tenant_id": 1002, "tenant_name": "", "round_id": 3, "status": "DOING", "path": "file:///b/1/1002/clog",
             "delay": 1.25, "checkpoint": "2026-05-08T10:11:12+08:00", "start_time": "2026-05-08T10:00:00+08:00"}]}))
        .unwrap();
        assert_eq!(tasks.contents.unwrap()[0].round_id, 3);
        let parameter: ParameterDto = serde_json::from_value(
            json!({"name": "archive_lag_target", "value": "2m", "data_type": "TIME", "info": "", "edit_level": "DYNAMIC_EFFECTIVE"}),
        )
        .unwrap();
        assert_eq!(Parameter::from(parameter).value, "2m");
        let empty: Contents<TenantDto> = serde_json::from_value(json!({"contents": null})).unwrap();
        assert!(empty.contents.is_none());
    }
}

#[cfg(test)]
mod hostile_input {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

    proptest! {
        /// Any JSON where cluster info, tenant lists, parameters, storage answers or archive-log
        /// tasks belong: decoded or refused, never a panic.
        #[test]
        fn arbitrary_answers_never_panic(json in hostile::json()) {
            let _ = serde_json::from_value::<ClusterInfoDto>(json.clone());
            let _ = serde_json::from_value::<Contents<TenantDto>>(json.clone());
            let _ = serde_json::from_value::<TenantDto>(json.clone());
            if let Ok(list) = serde_json::from_value::<Vec<ParameterDto>>(json.clone()) {
                let _: Vec<Parameter> = list.into_iter().map(Parameter::from).collect();
            }
            if let Ok(Some(storage)) = serde_json::from_value::<Option<BackupStorageDto>>(json.clone()) {
                for uri in [storage.archive_base_uri, storage.data_base_uri] {
                    let uri = StorageUri::new(uri);
                    let _ = (uri.without_credentials(), uri.has_credentials(), uri.redacted());
                }
            }
            let _ = serde_json::from_value::<Contents<ArchiveLogTaskDto>>(json);
        }
    }
}

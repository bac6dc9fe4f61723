//! The obshell API: the authentication pipeline (header decrypt, body decrypt, verify) and the
//! handlers of every emulated route, answering in obshell's envelope.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::api_error::{envelope, ApiError, Era};
use crate::backup_param::{self, parse_storage_uri, ConfigMethod};
use crate::crypto::{self, json_kind, BodyDecryptError};
use crate::dag;
use crate::faults::{AuthFault, OTHER_CLOCK_AHEAD};
use crate::routes;
use crate::state::{default_parameters, format_time, Shared, State, Tenant, PARAMETERS};
use crate::version::ObshellVersion;

/// The result of one obshell request, for the response and the request log.
pub(crate) struct Outcome {
    /// HTTP status.
    pub(crate) status: u16,
    /// The envelope.
    pub(crate) body: Value,
    /// True when the request passed `Verify()`.
    pub(crate) authenticated: bool,
    /// The decrypted request body, or null.
    pub(crate) log_body: Value,
    /// The errCode of an error answer.
    pub(crate) error_code: Option<String>,
    /// The decrypted header's `ts` as sent, when a header could be decrypted.
    pub(crate) ts: Option<String>,
    /// The server's clock (Unix seconds) when `Verify()` checked the header.
    pub(crate) checked_at: Option<i64>,
}

/// The furthest ahead of the server's clock that a header's `ts` (its expiry) may be. obshell
/// itself sets no upper bound; a careful server does, so that a client whose headers never
/// expire (a lifetime in milliseconds, say) is caught. The longest lifetime a real client uses
/// is the web UI's 1800 s; a day also leaves room for clients whose clocks run ahead.
pub(crate) const MAX_TS_AHEAD_SECONDS: i64 = 86_400;

/// What a handler produced: data (or none) or an error; DAGs to start once the lock is released.
type Handled = Result<Option<Value>, ApiError>;

/// Handles one obshell request. `target` is the raw request-target (`path[?query]`).
pub(crate) fn handle(
    shared: &Arc<Shared>,
    method: &str,
    target: &str,
    header: Option<(&str, &str)>,
    body: &[u8],
) -> Outcome {
    let started = std::time::Instant::now();
    let mut to_spawn = Vec::new();
    let mut state = shared.lock();
    let received = state.now();
    let version = state.version;
    let mut authenticated = false;
    let mut log_body = Value::Null;
    let mut ts = None;
    let mut checked_at = None;
    // A request with a header may be checked by another agent behind the same address.
    let auth_fault = header.and_then(|_| state.auth_faults.pop_front());
    let result = (|| -> Handled {
        // HeaderDecrypt runs on every route whenever a header is present.
        let decoded = match header {
            None => None,
            Some((name, value)) => match decrypt_as_checked(&state, value, auth_fault) {
                Ok(decoded) => Some((name, decoded)),
                Err(text) => {
                    let message = format!("Decrypt http header failed: {text}");
                    // Before 4.3.1 obshell answered every failure of its auth middleware with
                    // ErrUnauthorized (code 10008), an undecryptable header included.
                    let legacy_message = legacy_unauthorized_message(version, "header");
                    return Err(ApiError::of(
                        version,
                        Era {
                            new: (
                                401,
                                "Security.Authentication.Header.DecryptFailed",
                                1,
                                &message,
                            ),
                            old: (401, 10008, &legacy_message),
                        },
                    ));
                }
            },
        };
        ts = decoded.as_ref().map(|(_, header)| header.ts.clone());
        // BodyDecrypt, then PaddingBody (an empty body is `{}`).
        let plain = match (&decoded, body.is_empty()) {
            (Some((_, header)), false) => {
                crypto::decrypt_body(&header.keys, body).map_err(|e| body_error(version, e))?
            }
            _ => body.to_vec(),
        };
        if !plain.is_empty() {
            log_body = serde_json::from_slice(&plain)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&plain).into_owned()));
        }
        let json_body: Result<Value, String> = if plain.is_empty() {
            Ok(json!({}))
        } else {
            serde_json::from_slice(&plain)
                .map_err(|e| format!("invalid character in request body: {e}"))
        };
        let path = target.split('?').next().unwrap_or("");
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
        let Some(route) = Route::parse(version, method, path) else {
            return Err(no_route(version));
        };
        if route.needs_auth() {
            let checked = match auth_fault {
                Some(AuthFault::ClockAhead) => received + OTHER_CLOCK_AHEAD,
                _ => received,
            };
            checked_at = Some(unix_seconds(checked));
            verify(
                &state,
                version,
                decoded.as_ref().map(|(n, h)| (*n, h)),
                target,
                checked,
            )?;
            authenticated = true;
        }
        route.handle(shared, &mut state, query, json_body, &mut to_spawn)
    })();
    let duration_ms = started.elapsed().as_millis() as u64;
    let trace_id = state.trace_id();
    let timestamp = format_time(Some(state.now()));
    drop(state);
    for dag_id in to_spawn {
        dag::spawn_run(shared.clone(), dag_id);
    }
    match result {
        Ok(data) => Outcome {
            status: 200,
            body: envelope(200, &timestamp, duration_ms, &trace_id, data, None),
            authenticated,
            log_body,
            error_code: None,
            ts,
            checked_at,
        },
        Err(error) => Outcome {
            status: error.status,
            body: envelope(
                error.status,
                &timestamp,
                duration_ms,
                &trace_id,
                None,
                Some(&error),
            ),
            authenticated,
            log_body,
            error_code: Some(error.err_code.to_owned()),
            ts,
            checked_at,
        },
    }
}

/// The envelope of an injected status fault.
pub(crate) fn fault_envelope(state: &mut State, status: u16) -> Value {
    let error = ApiError::of(
        state.version,
        Era {
            new: (
                status,
                "Common.Unexpected",
                0,
                "Unexpected error: injected fault",
            ),
            old: (status, 1002, "Unexpected error: injected fault"),
        },
    );
    let trace_id = state.trace_id();
    envelope(
        status,
        &format_time(Some(state.now())),
        0,
        &trace_id,
        None,
        Some(&error),
    )
}

/// The status and envelope of an injected `no_route` fault: the emulated version's `NoRoute`.
pub(crate) fn no_route_envelope(state: &mut State) -> (u16, Value, &'static str) {
    let error = no_route(state.version);
    let trace_id = state.trace_id();
    let body = envelope(
        error.status,
        &format_time(Some(state.now())),
        0,
        &trace_id,
        None,
        Some(&error),
    );
    (error.status, body, error.err_code)
}

/// A stored destination as `CDB_OB_ARCHIVELOG_SUMMARY.path` shows it: without the storage
/// credentials (`access_id`, `access_key`), every other part (host, region, ...) kept.
fn path_without_credentials(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
            key != "access_id" && key != "access_key"
        })
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// The legacy (≤ 4.3.0) message of ErrUnauthorized for a `part` ("header" or "body") that could
/// not be decrypted: 4.2.x says only "Verification failed"; 4.3.0 adds what failed.
fn legacy_unauthorized_message(version: ObshellVersion, part: &str) -> String {
    if version >= ObshellVersion::new(4, 3, 0, 0) {
        format!("Verification failed: {part} decrypt failed")
    } else {
        "Verification failed".to_owned()
    }
}

fn body_error(version: ObshellVersion, error: BodyDecryptError) -> ApiError {
    // Before 4.3.1 every body decryption failure was ErrUnauthorized (401, code 10008), like an
    // undecryptable header; the ≥ 4.3.1 errCode is kept for the request log.
    let legacy_message = legacy_unauthorized_message(version, "body");
    let legacy = (401, 10008, legacy_message.as_str());
    match error {
        BodyDecryptError::KeyAndIvInvalid => ApiError::of(
            version,
            Era {
                new: (
                    500,
                    "Request.Body.Decrypt.AES.KeyAndIv.Invalid",
                    0,
                    "AES key and IV size error",
                ),
                old: legacy,
            },
        ),
        BodyDecryptError::ContentLength => ApiError::of(
            version,
            Era {
                new: (
                    500,
                    "Request.Body.Decrypt.AES.ContentLength.Invalid",
                    0,
                    "Decrypted string length is not a multiple of the block size",
                ),
                old: legacy,
            },
        ),
        BodyDecryptError::Other(text) => {
            let message = format!("Unexpected error: {text}");
            ApiError::of(
                version,
                Era {
                    new: (500, "Common.Unexpected", 0, &message),
                    old: legacy,
                },
            )
        }
    }
}

fn not_found(version: ObshellVersion, what: &str) -> ApiError {
    let message = format!("Element not found: {what}");
    ApiError::of(
        version,
        Era {
            new: (404, "Common.NotFound", 0, &message),
            old: (404, 1000, &message),
        },
    )
}

/// gin's `NoRoute` answer: 400/1000 "Bad request: 404 not found" up to 4.3.0.x (`ErrBadRequest`),
/// 404 `Common.NotFound` from 4.3.1.0 (obshell-api.md §10.1).
fn no_route(version: ObshellVersion) -> ApiError {
    ApiError::of(
        version,
        Era {
            new: (
                404,
                "Common.NotFound",
                0,
                "Element not found: 404 not found",
            ),
            old: (400, 1000, "Bad request: 404 not found"),
        },
    )
}

/// `HeaderDecrypt` as done by the agent that checks the request: one with another key (an
/// [`AuthFault::OtherKey`]) cannot decrypt a header encrypted with this agent's public key.
fn decrypt_as_checked(
    state: &State,
    value: &str,
    auth_fault: Option<AuthFault>,
) -> Result<crypto::AuthHeader, String> {
    match auth_fault {
        Some(AuthFault::OtherKey) => Err("crypto/rsa: decryption error".to_owned()),
        _ => crypto::decrypt_header(&state.key, value),
    }
}

fn unauthorized(version: ObshellVersion, err_code: &'static str, message: &str) -> ApiError {
    ApiError::of(
        version,
        Era {
            new: (401, err_code, 10008, message),
            old: (401, 10008, "Verification failed"),
        },
    )
}

/// obshell's `Verify()` for a cluster agent: header present, uri, timestamp, password.
fn verify(
    state: &State,
    version: ObshellVersion,
    header: Option<(&str, &crypto::AuthHeader)>,
    target: &str,
    received: SystemTime,
) -> Result<(), ApiError> {
    let Some((name, header)) = header else {
        let message = "X-OCS-Agent-Header or X-OCS-Header not found in http request header";
        return Err(ApiError::of(
            version,
            Era {
                new: (400, "Request.Header.NotFound", 0, message),
                old: (401, 10008, "Verification failed"),
            },
        ));
    };
    if header.uri != target {
        return Err(unauthorized(
            version,
            "Security.Authentication.Header.UriMismatch",
            "URI mismatch",
        ));
    }
    if !header.auth.is_empty() {
        let ts: i64 = header.ts.parse().map_err(|e| {
            unauthorized(
                version,
                "Security.Authentication.Timestamp.Invalid",
                &format!("Invalid timestamp: {}, err: {e}", header.ts),
            )
        })?;
        let now = unix_seconds(received);
        if now > ts {
            return Err(unauthorized(
                version,
                "Security.Authentication.Expired",
                "Authentication expired",
            ));
        }
        if ts - now > MAX_TS_AHEAD_SECONDS {
            return Err(unauthorized(
                version,
                "Security.Authentication.Timestamp.Invalid",
                &format!(
                    "Invalid timestamp: {ts} is more than {MAX_TS_AHEAD_SECONDS} s ahead of the server's clock ({now})"
                ),
            ));
        }
    }
    if name.eq_ignore_ascii_case("X-OCS-Agent-Header") {
        return Err(unauthorized(
            version,
            "Security.Authentication.AgentPasswordNotInitialized",
            "Agent password is not initialized",
        ));
    }
    if header.auth != state.password {
        return Err(unauthorized(
            version,
            "Security.Authentication.IncorrectOceanbasePassword",
            "Unauthorized: OceanBase password is incorrect",
        ));
    }
    Ok(())
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Every emulated route.
enum Route {
    Info,
    Secret,
    Time,
    Status,
    GitInfo,
    ObInfo,
    BackupConfig(ConfigMethod),
    TenantBackupConfig(String, ConfigMethod),
    UnfinishedDags,
    AllDags,
    GetDag(String),
    OperateDag(String),
    ClusterInfo,
    TenantsOverview,
    Tenant(String),
    TenantParameter(String, String),
    TenantParameters(String),
    TenantStorage(String),
    TenantArchiveTasks(String),
    ClusterArchiveLog,
    TenantArchiveLog(String),
    StartBackup,
    BackupOverview,
}

impl Route {
    /// The route `version` serves for `method` and `path`; `None` is obshell's `NoRoute`.
    fn parse(version: ObshellVersion, method: &str, path: &str) -> Option<Self> {
        let (route, parameters) = routes::find(version, method, path)?;
        let p = |i: usize| parameters[i].clone();
        Some(match (route.method, route.path) {
            ("GET", "/api/v1/info") => Self::Info,
            ("GET", "/api/v1/secret") => Self::Secret,
            ("GET", "/api/v1/time") => Self::Time,
            ("GET" | "POST", "/api/v1/status") => Self::Status,
            ("GET", "/api/v1/git-info") => Self::GitInfo,
            ("GET", "/api/v1/ob/info") => Self::ObInfo,
            ("GET", "/api/v1/obcluster/info") => Self::ClusterInfo,
            ("POST", "/api/v1/obcluster/backup/config") => Self::BackupConfig(ConfigMethod::Post),
            ("PATCH", "/api/v1/obcluster/backup/config") => Self::BackupConfig(ConfigMethod::Patch),
            ("PATCH", "/api/v1/obcluster/backup/log") => Self::ClusterArchiveLog,
            ("POST", "/api/v1/obcluster/backup") => Self::StartBackup,
            ("GET", "/api/v1/obcluster/backup/overview") => Self::BackupOverview,
            ("GET", "/api/v1/task/dag/ob/unfinish") => Self::UnfinishedDags,
            ("GET", "/api/v1/task/dags/ob") => Self::AllDags,
            ("GET", "/api/v1/task/dag/{id}") => Self::GetDag(p(0)),
            ("POST", "/api/v1/task/dag/{id}") => Self::OperateDag(p(0)),
            ("GET", "/api/v1/tenants/overview") => Self::TenantsOverview,
            ("GET", "/api/v1/tenant/{name}") => Self::Tenant(p(0)),
            ("GET", "/api/v1/tenant/{name}/parameter/{parameter}") => {
                Self::TenantParameter(p(0), p(1))
            }
            ("GET", "/api/v1/tenant/{name}/parameters") => Self::TenantParameters(p(0)),
            ("PATCH", "/api/v1/tenant/{name}/backup/log") => Self::TenantArchiveLog(p(0)),
            ("POST", "/api/v1/tenant/{name}/backup/config") => {
                Self::TenantBackupConfig(p(0), ConfigMethod::Post)
            }
            ("PATCH", "/api/v1/tenant/{name}/backup/config") => {
                Self::TenantBackupConfig(p(0), ConfigMethod::Patch)
            }
            ("GET", "/api/v1/tenant/{name}/backup/config/storage") => Self::TenantStorage(p(0)),
            ("GET", "/api/v1/tenant/{name}/backup/log/tasks") => Self::TenantArchiveTasks(p(0)),
            (method, path) => {
                unreachable!("routes::ROUTES lists {method} {path} without a handler")
            }
        })
    }

    fn needs_auth(&self) -> bool {
        !matches!(
            self,
            Self::Info | Self::Secret | Self::Time | Self::Status | Self::GitInfo
        )
    }

    fn handle(
        self,
        shared: &Shared,
        state: &mut State,
        query: &str,
        body: Result<Value, String>,
        to_spawn: &mut Vec<i64>,
    ) -> Handled {
        let version = state.version;
        let db_clock = state.db_clock;
        let bind_failed = |text: String| {
            let message = format!("Bind JSON failed: {text}");
            let legacy = format!("Illegal argument: {text}");
            ApiError::of(
                version,
                Era {
                    new: (400, "Common.BindJsonFailed", 0, &message),
                    old: (400, 1001, &legacy),
                },
            )
        };
        match self {
            Self::Info => Ok(Some(info_json(state, shared.port))),
            Self::Secret => Ok(Some(json!({
                "ip": "127.0.0.1", "port": shared.port, "public_key": crypto::public_key_base64(&state.key),
            }))),
            Self::Time => Ok(Some(json!(format_time(Some(state.now()))))),
            Self::Status => Ok(Some(json!({
                "agent": {"ip": "127.0.0.1", "port": shared.port, "identity": "CLUSTER AGENT"},
                "state": 2, "version": version.to_string(), "pid": std::process::id(),
                "startAt": 0, "port": shared.port, "obState": 3, "under_maintenance": false,
            }))),
            Self::GitInfo => Ok(Some(
                json!({"git_branch": "obshell-sim", "git_commit_id": "", "git_short_commit_id": ""}),
            )),
            Self::BackupConfig(method) => {
                let body = body.map_err(bind_failed)?;
                let param = backup_param::bind(&body).map_err(bind_failed)?;
                let valid =
                    backup_param::validate(version, method, param, !state.tenants.is_empty())?;
                let dag_id = dag::create_backup_config_dag(state, valid, body, None, false);
                to_spawn.push(dag_id);
                Ok(Some(state.dag_mut(dag_id).expect("created").to_json(
                    false,
                    shared.port,
                    db_clock,
                )))
            }
            Self::TenantBackupConfig(name, method) => {
                // checkTenantAndGetName, then BindJSON, then the variant's checks (§9.6).
                let tenant = find_backup_tenant(state, version, &name)?;
                let body = body.map_err(bind_failed)?;
                let param = backup_param::bind_tenant(&body).map_err(bind_failed)?;
                let valid = backup_param::validate_tenant(version, method, &tenant.name, param)?;
                // CreateDagInstanceByTemplate takes the tenant's maintenance lock.
                if state.dags.iter().any(|d| d.locks_tenant(&tenant.name)) {
                    return Err(tenant_under_maintenance(version, &tenant.name));
                }
                let dag_id = dag::create_backup_config_dag(state, valid, body, None, false);
                to_spawn.push(dag_id);
                Ok(Some(state.dag_mut(dag_id).expect("created").to_json(
                    false,
                    shared.port,
                    db_clock,
                )))
            }
            Self::UnfinishedDags => {
                let details = show_details(query);
                let list: Vec<Value> = state
                    .dags
                    .iter()
                    .filter(|d| d.listed_as_unfinished())
                    .map(|d| d.to_json(details, shared.port, db_clock))
                    .collect();
                Ok(Some(Value::Array(list)))
            }
            Self::AllDags => {
                let details = show_details(query);
                Ok(Some(Value::Array(
                    state
                        .dags
                        .iter()
                        .map(|d| d.to_json(details, shared.port, db_clock))
                        .collect(),
                )))
            }
            Self::GetDag(id) => {
                let dag_id = parse_generic_id(version, &id)?;
                let details = show_details(query);
                let dag = state
                    .dag_mut(dag_id)
                    .ok_or_else(|| dag::task_not_found(version))?;
                Ok(Some(dag.to_json(details, shared.port, db_clock)))
            }
            Self::OperateDag(id) => {
                let dag_id = parse_generic_id(version, &id)?;
                let body = body.map_err(bind_failed)?;
                let operator = match body.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("operator"))) {
                    None | Some((_, Value::Null)) => String::new(),
                    Some((_, Value::String(s))) => s.to_uppercase(),
                    Some((_, other)) => {
                        return Err(bind_failed(format!(
                            "json: cannot unmarshal {} into Go struct field DagOperator.operator of type string",
                            json_kind(other)
                        )))
                    }
                };
                if dag::operate(state, dag_id, &operator)? {
                    to_spawn.push(dag_id);
                }
                shared.wakeup.notify_waiters();
                Ok(None)
            }
            Self::ClusterInfo => Ok(Some(cluster_info_json(state, shared.port))),
            Self::ObInfo => Ok(Some(ob_info_json(state, shared.port))),
            Self::TenantsOverview => {
                let mode = query_param(query, "mode")
                    .unwrap_or_default()
                    .to_uppercase();
                if !mode.is_empty() && mode != "MYSQL" && mode != "ORACLE" {
                    let message = format!("Tenant mode '{mode}' is not supported.");
                    return Err(ApiError::illegal_argument(
                        version,
                        "OB.Tenant.Mode.NotSupported",
                        &message,
                        &message,
                    ));
                }
                if mode == "ORACLE" {
                    return Ok(Some(json!([])));
                }
                let list: Vec<Value> = all_tenants(state)
                    .iter()
                    .map(|t| overview_json(version, t))
                    .collect();
                Ok(Some(Value::Array(list)))
            }
            Self::Tenant(name) => {
                let tenant = find_any_tenant(state, version, &name, 1000)?;
                if version.tenant_get_checks_status() && tenant.status != "NORMAL" {
                    return Err(status_not_normal(version, &tenant));
                }
                Ok(Some(tenant_info_json(version, &tenant)))
            }
            Self::TenantParameter(name, parameter) => {
                let tenant = find_any_tenant(state, version, &name, 1001)?;
                if tenant.status != "NORMAL" {
                    return Err(status_not_normal(version, &tenant));
                }
                let wanted = parameter.to_lowercase();
                // obshell answers the first row its DISTINCT query returns: any server's.
                state
                    .parameter_rows(&tenant, &wanted)
                    .first()
                    .map(|value| Some(parameter_json(&wanted, value)))
                    .ok_or_else(|| {
                        let message = format!("Tenant parameter '{parameter}' does not exist.");
                        ApiError::of(
                            version,
                            Era {
                                new: (400, "OB.Tenant.Parameter.NotExist", 0, &message),
                                old: (400, 1001, "Illegal argument: parameter not found"),
                            },
                        )
                    })
            }
            Self::TenantParameters(name) => {
                let tenant = find_any_tenant(state, version, &name, 1001)?;
                if tenant.status != "NORMAL" {
                    return Err(status_not_normal(version, &tenant));
                }
                let filter = query_param(query, "filter")
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| "%".to_owned());
                let mut list: Vec<Value> = Vec::new();
                for name in tenant.parameters.keys() {
                    if like(&filter.to_lowercase(), name) {
                        for value in state.parameter_rows(&tenant, name) {
                            list.push(parameter_json(name, &value));
                        }
                    }
                }
                Ok(Some(Value::Array(list)))
            }
            Self::TenantStorage(name) => {
                let tenant = find_backup_tenant(state, version, &name)?;
                let strip = |uri: &str| {
                    if uri.is_empty() {
                        Ok(String::new())
                    } else if !uri.starts_with("file://") && !uri.contains('?') {
                        // obshell's parseParams wants `bucket/key?query`.
                        let text = "invalid url format, missing query params";
                        Err(ApiError::illegal_argument(
                            version,
                            "OB.Storage.URI.Invalid",
                            &format!("Invalid storage URI: {text}"),
                            text,
                        ))
                    } else {
                        parse_storage_uri(uri)
                            .map(|u| u.without_secrets())
                            .map_err(|text| {
                                ApiError::illegal_argument(
                                    version,
                                    "OB.Storage.URI.Invalid",
                                    &format!("Invalid storage URI: {text}"),
                                    &text,
                                )
                            })
                    }
                };
                let archive = tenant
                    .archive_dest
                    .as_ref()
                    .map(|d| d.path.clone())
                    .unwrap_or_default();
                Ok(Some(json!({
                    "tenant_id": tenant.id,
                    "archive_base_uri": strip(&archive)?,
                    "data_base_uri": strip(&tenant.data_dest)?,
                })))
            }
            Self::TenantArchiveTasks(name) => {
                let now = state.now();
                let tenant = find_backup_tenant(state, version, &name)?;
                let listed = ["PREPARE", "BEGINNING", "DOING", "STOPPING", "SUSPEND"];
                let mut rows = Vec::new();
                if listed.contains(&tenant.archive_log_status.as_str()) {
                    rows.push(json!({
                        "tenant_id": tenant.id,
                        "tenant_name": "",
                        "round_id": 1,
                        "status": tenant.archive_log_status,
                        "path": tenant.archive_dest.as_ref().map(|d| path_without_credentials(&d.path)).unwrap_or_default(),
                        "delay": 0.5,
                        "checkpoint": format_time(Some(now)),
                        "start_time": format_time(Some(tenant.created_time)),
                    }));
                }
                Ok(Some(Value::Array(rows)))
            }
            Self::ClusterArchiveLog => {
                let status =
                    archive_status_param(version, body.map_err(bind_failed)?, &bind_failed)?;
                let names: Vec<String> = state.tenants.iter().map(|t| t.name.clone()).collect();
                for name in names {
                    set_archive_log(state, version, &name, &status)?;
                }
                Ok(None)
            }
            Self::TenantArchiveLog(name) => {
                find_backup_tenant(state, version, &name)?;
                let status =
                    archive_status_param(version, body.map_err(bind_failed)?, &bind_failed)?;
                set_archive_log(state, version, &name, &status)?;
                Ok(None)
            }
            Self::StartBackup => {
                let body = body.map_err(bind_failed)?;
                let mode = match body.get("mode") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.to_lowercase(),
                    Some(other) => {
                        return Err(bind_failed(format!(
                            "json: cannot unmarshal {} into Go struct field BackupParam.mode of type string",
                            json_kind(other)
                        )))
                    }
                };
                let mode = if mode.is_empty() {
                    "full".to_owned()
                } else {
                    mode
                };
                if mode != "full" && mode != "incremental" {
                    return Err(ApiError::illegal_argument(
                        version,
                        "OB.Backup.Mode.Invalid",
                        &format!("Invalid backup mode: {mode}, must be full or incremental"),
                        &format!("invalid backup mode: {mode}, must be full or incremental"),
                    ));
                }
                if state.tenants.is_empty() {
                    return Err(ApiError::no_user_tenants(version));
                }
                let dag_id = dag::create_start_backup_dag(state, &mode, body);
                to_spawn.push(dag_id);
                Ok(Some(state.dag_mut(dag_id).expect("created").to_json(
                    false,
                    shared.port,
                    db_clock,
                )))
            }
            Self::BackupOverview => {
                let mut statuses = Vec::new();
                for tenant in &state.tenants {
                    if let Some(task) = state
                        .backup_tasks
                        .iter()
                        .rev()
                        .find(|t| t.tenant_id == tenant.id)
                    {
                        statuses.push(backup_task_json(task));
                    }
                }
                if statuses.is_empty() {
                    return Err(not_found(version, "backup task"));
                }
                Ok(Some(json!({ "statuses": statuses })))
            }
        }
    }
}

fn info_json(state: &State, port: u16) -> Value {
    let mut info = json!({
        "version": state.version.to_string(),
        "obVersion": "4.2.5.1",
        "identity": "CLUSTER AGENT",
        "ip": "127.0.0.1",
        "port": port,
        "zone": "zone1",
        "isObproxyAgent": false,
        "security": false,
        "supportedAuth": ["v2"],
        "state": 2,
        "pid": std::process::id(),
        "startAt": 0,
        "homePath": "/home/admin/oceanbase",
    });
    if !state.version.info_has_auth_fields() {
        let object = info.as_object_mut().expect("a json object");
        object.remove("isObproxyAgent");
        object.remove("security");
        object.remove("supportedAuth");
    }
    info
}

fn cluster_info_json(state: &State, port: u16) -> Value {
    json!({
        "cluster_id": state.cluster_id,
        "cluster_name": state.cluster_name,
        "ob_version": "4.2.5.1",
        "is_community_edition": true,
        "status": "AVAILABLE",
        "zones": [{
            "name": "zone1", "idc_name": "", "region_name": "sys_region", "status": "ACTIVE",
            "servers": [{"ip": "127.0.0.1", "svr_port": 2882, "sql_port": 2881, "agent_port": port, "status": "ACTIVE", "with_rootserver": "YES"}],
        }],
        "tenants": all_tenants(state).iter().map(|t| json!({
            "tenant_name": t.name, "tenant_id": t.id, "mode": "MYSQL", "status": t.status,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/ob/info` (`param.ObInfoResp`): the agents and the cluster, whose `id` is the only
/// place 4.2.x reports the cluster id.
fn ob_info_json(state: &State, port: u16) -> Value {
    json!({
        "agent_info": [{
            "ip": "127.0.0.1", "port": port, "zone": "zone1", "identity": "CLUSTER AGENT",
            "version": state.version.to_string(),
        }],
        "obcluster_info": {
            "id": state.cluster_id,
            "name": state.cluster_name,
            "version": "4.2.5.1",
            "topology": {"zone1": [{
                "svr_ip": "127.0.0.1", "svr_port": 2882, "sql_port": 2881, "agent_port": port,
                "with_rootserver": "YES", "status": "ACTIVE", "build_version": "4.2.5.1_101000012024120711",
            }]},
        },
    })
}

/// The sys tenant followed by the user tenants outside the recycle bin (`IN_RECYCLEBIN='NO'`).
fn all_tenants(state: &State) -> Vec<Tenant> {
    let mut tenants = vec![sys_tenant(state)];
    tenants.extend(state.tenants.iter().filter(|t| !t.in_recyclebin).cloned());
    tenants
}

fn sys_tenant(state: &State) -> Tenant {
    Tenant {
        name: "sys".to_owned(),
        id: 1,
        status: "NORMAL".to_owned(),
        parameters: default_parameters(),
        archive_dest: None,
        data_dest: String::new(),
        delete_policy: None,
        archive_log_status: String::new(),
        created_time: state.tenants.first().map_or(UNIX_EPOCH, |t| t.created_time),
        in_recyclebin: false,
        spreading: std::collections::BTreeMap::new(),
        archive_transition: None,
    }
}

fn tenant_not_exist(version: ObshellVersion, name: &str, legacy_code: i64) -> ApiError {
    let message = format!("Tenant '{name}' does not exist.");
    ApiError::of(
        version,
        Era {
            new: (400, "OB.Tenant.NotExist", 0, &message),
            old: (400, legacy_code, &message),
        },
    )
}

/// A second tenant-maintenance DAG on a locked tenant: 500 `OB.Tenant.UnderMaintenance` (a `known`
/// error), before 4.3.1 the unexpected error (1002) wrapping the status maintainer's text.
fn tenant_under_maintenance(version: ObshellVersion, name: &str) -> ApiError {
    let message = format!("Tenant '{name}' is under maintenance, please try again later.");
    let legacy = if version < ObshellVersion::new(4, 3, 0, 0) {
        format!(
            "Unexpected error: failed to start maintenance: {name} is already under maintenance"
        )
    } else {
        format!("Unexpected error: failed to start maintenance: {name} is under maintenance")
    };
    ApiError::of(
        version,
        Era {
            new: (500, "OB.Tenant.UnderMaintenance", 0, &message),
            old: (500, 1002, &legacy),
        },
    )
}

fn status_not_normal(version: ObshellVersion, tenant: &Tenant) -> ApiError {
    let message = format!("Tenant '{}' status is '{}'.", tenant.name, tenant.status);
    ApiError::of(
        version,
        Era {
            new: (400, "OB.Tenant.StatusNotNormal", 0, &message),
            old: (500, 1010, &message),
        },
    )
}

/// A tenant for the read routes, which accept `sys`.
fn find_any_tenant(
    state: &State,
    version: ObshellVersion,
    name: &str,
    legacy_code: i64,
) -> Result<Tenant, ApiError> {
    if name == "sys" {
        return Ok(sys_tenant(state));
    }
    state
        .tenant(name)
        .cloned()
        .ok_or_else(|| tenant_not_exist(version, name, legacy_code))
}

/// A tenant for the backup routes, which refuse `sys`.
fn find_backup_tenant(
    state: &State,
    version: ObshellVersion,
    name: &str,
) -> Result<Tenant, ApiError> {
    if name == "sys" {
        let message = "System tenant is not allowed to perform this operation";
        return Err(ApiError::illegal_argument(
            version,
            "OB.Tenant.SysOperationNotAllowed",
            message,
            message,
        ));
    }
    state
        .tenant(name)
        .cloned()
        .ok_or_else(|| tenant_not_exist(version, name, 1001))
}

fn overview_json(version: ObshellVersion, tenant: &Tenant) -> Value {
    let mut value = json!({
        "tenant_id": tenant.id,
        "tenant_name": tenant.name,
        "mode": "MYSQL",
        "status": tenant.status,
        "locked": "NO",
        "primary_zone": "RANDOM",
        "locality": "FULL{1}@zone1",
        "in_recyclebin": if tenant.in_recyclebin { "YES" } else { "NO" },
        "created_time": format_time(Some(tenant.created_time)),
    });
    if version >= ObshellVersion::new(4, 3, 0, 0) {
        let object = value.as_object_mut().expect("a json object");
        object.insert("read_only".into(), json!(false));
        object.insert("comment".into(), json!(""));
        object.insert("connection_strings".into(), json!([]));
    }
    value
}

fn tenant_info_json(version: ObshellVersion, tenant: &Tenant) -> Value {
    let mut value = json!({
        "tenant_name": tenant.name,
        "tenant_id": tenant.id,
        "created_time": format_time(Some(tenant.created_time)),
        "mode": "MYSQL",
        "status": tenant.status,
        "locked": "NO",
        "primary_zone": "RANDOM",
        "locality": "FULL{1}@zone1",
        "in_recyclebin": if tenant.in_recyclebin { "YES" } else { "NO" },
        "charset": "utf8mb4",
        "collation": "utf8mb4_general_ci",
        "whitelist": "%",
        "pools": [],
    });
    if version >= ObshellVersion::new(4, 3, 0, 0) {
        let object = value.as_object_mut().expect("a json object");
        for (key, field) in [
            ("read_only", json!(false)),
            ("time_zone", json!("+08:00")),
            ("lower_case_table_names", json!(1)),
            ("dead_lock_detection_enabled", json!(true)),
            ("connection_strings", json!([])),
            ("comment", json!("")),
        ] {
            object.insert(key.into(), field);
        }
    }
    value
}

fn parameter_json(name: &str, value: &str) -> Value {
    let (data_type, info) = PARAMETERS
        .iter()
        .find(|(n, _, _, _)| *n == name)
        .map(|(_, _, t, i)| (*t, *i))
        .unwrap_or(("STRING", ""));
    json!({"name": name, "value": value, "data_type": data_type, "info": info, "edit_level": "DYNAMIC_EFFECTIVE"})
}

fn backup_task_json(task: &crate::state::BackupTask) -> Value {
    json!({
        "tenant_id": task.tenant_id, "task_id": task.task_id, "job_id": task.task_id, "incarnation": 1,
        "backup_set_id": task.task_id, "start_timestamp": format_time(Some(task.start)),
        "end_timestamp": format_time(task.end), "status": task.status, "start_scn": 0, "end_scn": 0,
        "user_ls_start_scn": 0, "encryption_mode": "NONE", "input_bytes": 0, "output_bytes": 0,
        "output_rate_bytes": 0, "extra_meta_bytes": 0, "tablet_count": 0, "finish_tablet_count": 0,
        "macro_block_count": 0, "finish_macro_block_count": 0, "file_count": 0, "meta_turn_id": 1,
        "data_turn_id": 1, "result": 0, "comment": "", "path": task.path,
    })
}

/// `{"status": ...}` of the archive-log PATCH routes, upper-cased, "" and absent meaning STOP.
fn archive_status_param(
    version: ObshellVersion,
    body: Value,
    bind_failed: &dyn Fn(String) -> ApiError,
) -> Result<String, ApiError> {
    let status = match body.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("status"))) {
        None | Some((_, Value::Null)) => String::new(),
        Some((_, Value::String(s))) => s.to_uppercase(),
        Some((_, other)) => {
            return Err(bind_failed(format!(
                "json: cannot unmarshal {} into Go struct field ArchiveLogStatusParam.status of type string",
                json_kind(other)
            )))
        }
    };
    let status = if status.is_empty() {
        "STOP".to_owned()
    } else {
        status
    };
    let suspend_ok = version.has_backup_reads() && status == "SUSPEND";
    if status != "STOP" && status != "DOING" && !suspend_ok {
        return Err(ApiError::illegal_argument(
            version,
            "OB.Backup.ArchiveLogStatus.Invalid",
            &format!("Invalid archive log status: '{status}', must be 'STOP' or 'DOING'"),
            &format!("invalid archive log status: {status}, must be STOP or DOING"),
        ));
    }
    Ok(status)
}

/// One tenant's archive-log change, per obshell-api.md §9.3.
fn set_archive_log(
    state: &mut State,
    version: ObshellVersion,
    name: &str,
    requested: &str,
) -> Result<(), ApiError> {
    let tenant = state.tenant_mut(name).expect("checked by the caller");
    let current = tenant.archive_log_status.clone();
    if current == "INTERRUPTED" && requested != "SUSPEND" {
        return Err(ApiError::unexpected(
            version,
            &format!("tenant {name} archive log is interrupted"),
        ));
    }
    let delay = state.archive_log_delay;
    let tenant = state.tenant_mut(name).expect("checked by the caller");
    match (requested, current.as_str()) {
        ("DOING", "STOP" | "STOPPING")
            if tenant
                .archive_dest
                .as_ref()
                .is_none_or(|d| d.path.is_empty()) =>
        {
            // LOG_ARCHIVE_DEST_STATE='ENABLE' and ARCHIVELOG need a destination (inferred).
            return Err(ApiError::unexpected(
                version,
                &format!("Error 4018 (HY000): Entry not exist: tenant {name} has no LOG_ARCHIVE_DEST, archive log cannot be opened"),
            ));
        }
        ("DOING", "STOPPING") => {
            return Err(ApiError::unexpected(
                version,
                &format!("Error 4179 (HY000): Operation not allowed now: archive log of tenant {name} is still stopping"),
            ));
        }
        ("DOING", "STOP") => {
            if let Some(dest) = &mut tenant.archive_dest {
                dest.state = "ENABLE".to_owned();
            }
            tenant.open_archive_log(delay);
        }
        ("DOING", "SUSPEND" | "SUSPENDING") => {
            if let Some(dest) = &mut tenant.archive_dest {
                dest.state = "ENABLE".to_owned();
            }
            tenant.archive_log_status = "DOING".to_owned();
        }
        ("STOP", "DOING" | "PREPARE" | "BEGINNING" | "SUSPEND" | "SUSPENDING") => {
            tenant.close_archive_log(delay);
        }
        ("SUSPEND", _) => {
            if let Some(dest) = &mut tenant.archive_dest {
                dest.state = "DEFER".to_owned();
            }
            if matches!(current.as_str(), "DOING" | "PREPARE" | "BEGINNING") {
                tenant.archive_log_status = "SUSPEND".to_owned();
            }
        }
        // DOING on a tenant that never archived has no CDB_OB_ARCHIVELOG row: a silent no-op.
        _ => {}
    }
    Ok(())
}

/// The cluster DAG id of a generic id (`"1" + dag_id`).
fn parse_generic_id(version: ObshellVersion, id: &str) -> Result<i64, ApiError> {
    let invalid = || {
        let message = format!("Invalid ID: {id}");
        ApiError::of(
            version,
            Era {
                new: (400, "Task.GenericID.Invalid", 0, &message),
                old: (400, 1001, &message),
            },
        )
    };
    if id.len() < 2 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match &id[..1] {
        "1" => id[1..].parse().map_err(|_| invalid()),
        "2" | "3" | "4" | "5" => Err(dag::task_not_found(version)),
        _ => Err(invalid()),
    }
}

/// `show_details`, default true, parsed as Go's `strconv.ParseBool`.
fn show_details(query: &str) -> bool {
    !matches!(
        query_param(query, "show_details").as_deref(),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False")
    )
}

/// One query parameter, percent-decoded.
fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| {
                std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .flatten();
        match (decoded, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// SQL `LIKE` with `%` and `_`, case-insensitive.
fn like(pattern: &str, text: &str) -> bool {
    fn matches(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| matches(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && matches(rest, &t[1..]),
            Some((c, rest)) => {
                t.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && matches(rest, &t[1..])
            }
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("%", "archive_lag_target"));
        assert!(like("archive%", "archive_lag_target"));
        assert!(like("%LAG%", "archive_lag_target"));
        assert!(like("ha_low_thread_scor_", "ha_low_thread_score"));
        assert!(!like("log%", "archive_lag_target"));
    }

    #[test]
    fn queries_and_ids() {
        assert!(show_details("show_details=True"));
        assert!(!show_details("show_details=false"));
        assert!(show_details(""));
        assert_eq!(
            query_param("filter=%25lag%25&x=1", "filter").as_deref(),
            Some("%lag%")
        );
        let v = ObshellVersion::new(4, 5, 0, 0);
        assert_eq!(parse_generic_id(v, "112").unwrap(), 12);
        assert_eq!(
            parse_generic_id(v, "abc").unwrap_err().err_code,
            "Task.GenericID.Invalid"
        );
        assert_eq!(
            parse_generic_id(v, "9").unwrap_err().err_code,
            "Task.GenericID.Invalid"
        );
        assert_eq!(
            parse_generic_id(v, "21234").unwrap_err().err_code,
            "Task.NotFound"
        );
    }
}

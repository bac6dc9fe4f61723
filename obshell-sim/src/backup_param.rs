//! The body of `POST`/`PATCH /api/v1/obcluster/backup/config` and of the tenant-level
//! `POST`/`PATCH /api/v1/tenant/{name}/backup/config`: Go-style binding, obshell's synchronous
//! validation in its order, and the checks obshell only makes inside the DAG.

#[cfg(test)]
use serde_json::json;
use serde_json::Value;

use crate::api_error::ApiError;
use crate::crypto::json_kind;
use crate::duration::{
    go_duration_string, parse_obshell_duration, parse_oceanbase_time_micros, DurationError,
};
use crate::version::ObshellVersion;

/// Which of the two config routes received the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfigMethod {
    /// `POST`: `backup_base_uri` is required.
    Post,
    /// `PATCH`: binding and piece_switch_interval need the URI.
    Patch,
}

/// `delete_policy` after binding (null fields become "").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeletePolicy {
    /// The policy name; only `default` exists.
    pub(crate) policy: String,
    /// The recovery window, passed to OceanBase unchecked.
    pub(crate) recovery_window: String,
}

/// The bound body: `None` for a field that was absent or null (obshell's nil pointer).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BackupConfigParam {
    pub(crate) backup_base_uri: Option<String>,
    /// Tenant-level body only: the tenant's archive destination, used as given.
    pub(crate) archive_base_uri: Option<String>,
    /// Tenant-level body only: the tenant's data destination, used as given.
    pub(crate) data_base_uri: Option<String>,
    pub(crate) binding: Option<String>,
    pub(crate) piece_switch_interval: Option<String>,
    pub(crate) log_archive_concurrency: Option<i64>,
    pub(crate) archive_lag_target: Option<String>,
    pub(crate) ha_low_thread_score: Option<i64>,
    pub(crate) delete_policy: Option<DeletePolicy>,
}

/// Binds JSON the way gin's `BindJSON` fills `ClusterBackupConfigParam`: unknown keys ignored,
/// keys matched case-insensitively, a type mismatch is an error with Go's text.
pub(crate) fn bind(body: &Value) -> Result<BackupConfigParam, String> {
    bind_as(body, "ClusterBackupConfigParam")
}

/// Binds JSON as gin fills `TenantBackupConfigParam`: `data_base_uri` and `archive_base_uri`
/// instead of `backup_base_uri`, which this struct does not have (so it is ignored).
pub(crate) fn bind_tenant(body: &Value) -> Result<BackupConfigParam, String> {
    bind_as(body, "TenantBackupConfigParam")
}

fn bind_as(body: &Value, go_struct: &str) -> Result<BackupConfigParam, String> {
    let tenant_level = go_struct == "TenantBackupConfigParam";
    let mut param = BackupConfigParam::default();
    let fields = match body {
        Value::Null => return Ok(param),
        Value::Object(fields) => fields,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type param.{go_struct}",
                json_kind(other)
            ))
        }
    };
    let string = |name: &str, value: &Value| bind_string(go_struct, name, value);
    let int = |name: &str, value: &Value| bind_int(go_struct, name, value);
    for (name, value) in fields {
        match name.to_ascii_lowercase().as_str() {
            "backup_base_uri" if !tenant_level => param.backup_base_uri = string(name, value)?,
            "archive_base_uri" if tenant_level => param.archive_base_uri = string(name, value)?,
            "data_base_uri" if tenant_level => param.data_base_uri = string(name, value)?,
            "binding" => param.binding = string(name, value)?,
            "piece_switch_interval" => param.piece_switch_interval = string(name, value)?,
            "archive_lag_target" => param.archive_lag_target = string(name, value)?,
            "log_archive_concurrency" => param.log_archive_concurrency = int(name, value)?,
            "ha_low_thread_score" => param.ha_low_thread_score = int(name, value)?,
            "delete_policy" => param.delete_policy = bind_delete_policy(go_struct, name, value)?,
            _ => {}
        }
    }
    Ok(param)
}

fn field_error(go_struct: &str, name: &str, value: &Value, go_type: &str) -> String {
    let shown = match value {
        Value::Number(number) => format!("number {number}"),
        other => json_kind(other).to_owned(),
    };
    format!(
        "json: cannot unmarshal {shown} into Go struct field {go_struct}.{name} of type {go_type}"
    )
}

fn bind_string(go_struct: &str, name: &str, value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        other => Err(field_error(go_struct, name, other, "string")),
    }
}

fn bind_int(go_struct: &str, name: &str, value: &Value) -> Result<Option<i64>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => number
            .as_i64()
            .map(Some)
            .ok_or_else(|| field_error(go_struct, name, value, "int")),
        other => Err(field_error(go_struct, name, other, "int")),
    }
}

fn bind_delete_policy(
    go_struct: &str,
    name: &str,
    value: &Value,
) -> Result<Option<DeletePolicy>, String> {
    let fields = match value {
        Value::Null => return Ok(None),
        Value::Object(fields) => fields,
        other => {
            return Err(field_error(
                go_struct,
                name,
                other,
                "param.BackupDeletePolicy",
            ))
        }
    };
    let mut policy = DeletePolicy {
        policy: String::new(),
        recovery_window: String::new(),
    };
    for (key, value) in fields {
        let slot = match key.to_ascii_lowercase().as_str() {
            "policy" => &mut policy.policy,
            "recovery_window" => &mut policy.recovery_window,
            _ => continue,
        };
        match value {
            Value::Null => {}
            Value::String(text) => *slot = text.clone(),
            other => {
                return Err(field_error(
                    go_struct,
                    &format!("delete_policy.{key}"),
                    other,
                    "string",
                ))
            }
        }
    }
    Ok(Some(policy))
}

/// A request that passed the synchronous checks, normalised as obshell's `Format()` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ValidConfig {
    /// The fields as obshell will apply them.
    pub(crate) param: BackupConfigParam,
    /// The non-empty URI, when one was sent.
    pub(crate) base_uri: Option<String>,
    /// True when `archive_lag_target` was range-checked synchronously (the URI key was present).
    pub(crate) lag_target_checked: bool,
    /// The tenant-level variant: the one tenant and its destinations; `None` for the cluster call.
    pub(crate) tenant: Option<TenantTarget>,
}

/// What the tenant-level call configures: one tenant, with destinations used as given (obshell
/// appends no `/<cluster_id>/<tenant_id>/...`, only the `/` of `NewWithObjectKey("")`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TenantTarget {
    /// The tenant's name.
    pub(crate) name: String,
    /// The non-empty `archive_base_uri`, when sent.
    pub(crate) archive_uri: Option<String>,
    /// The non-empty `data_base_uri`, when sent.
    pub(crate) data_uri: Option<String>,
}

fn is_empty(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(str::is_empty)
}

/// Runs obshell's checks after binding, in its order (obshell-api.md §2, steps 3-12).
/// `has_user_tenants` is step 4.
pub(crate) fn validate(
    version: ObshellVersion,
    method: ConfigMethod,
    mut param: BackupConfigParam,
    has_user_tenants: bool,
) -> Result<ValidConfig, ApiError> {
    let base_uri_empty = is_empty(&param.backup_base_uri);
    match method {
        ConfigMethod::Patch if base_uri_empty => {
            for (field, value) in [
                ("binding", &param.binding),
                ("piece_switch_interval", &param.piece_switch_interval),
            ] {
                if !is_empty(value) {
                    let text = format!("If {field} is set, backup_base_uri must be set");
                    return Err(ApiError::illegal_argument(
                        version,
                        "OB.Backup.BaseUriEmpty",
                        &format!("backup_base_uri cannot be empty: {text}"),
                        &text,
                    ));
                }
            }
        }
        ConfigMethod::Post if base_uri_empty => {
            let text = "backup_base_uri cannot be empty";
            return Err(ApiError::illegal_argument(
                version,
                "OB.Backup.BaseUriEmpty",
                text,
                text,
            ));
        }
        _ => {}
    }
    if !has_user_tenants {
        return Err(ApiError::no_user_tenants(version));
    }
    check_param(version, &mut param)?;
    let base_uri = param.backup_base_uri.clone().filter(|s| !s.is_empty());
    let scheme = match &base_uri {
        Some(uri) => Some(checked_scheme(version, uri)?),
        None => None,
    };
    let lag_target_checked = param.backup_base_uri.is_some();
    if lag_target_checked {
        check_lag_target(version, &param, scheme)?;
    }
    Ok(ValidConfig {
        param,
        base_uri,
        lag_target_checked,
        tenant: None,
    })
}

/// The tenant-level call's checks after binding, in obshell's order (`PostTenantBackupConfig` /
/// `PatchTenantBackupConfig`, then `BackupConfigParam.Check()`): both URIs for POST (data first),
/// the archive URI for binding or piece_switch_interval on PATCH, the shared range checks, the
/// storage type of the archive then the data URI, and `archive_lag_target` only when an archive
/// URI is given. There is no user-tenant check. `tenant` has passed `checkTenantAndGetName`.
pub(crate) fn validate_tenant(
    version: ObshellVersion,
    method: ConfigMethod,
    tenant: &str,
    mut param: BackupConfigParam,
) -> Result<ValidConfig, ApiError> {
    let legacy_post = "data_base_uri or archive_base_uri cannot be empty";
    match method {
        ConfigMethod::Post => {
            for (value, code, text) in [
                (
                    &param.data_base_uri,
                    "OB.Backup.DataBaseUriEmpty",
                    "data_base_uri cannot be empty",
                ),
                (
                    &param.archive_base_uri,
                    "OB.Backup.ArchiveBaseUriEmpty",
                    "archive_base_uri cannot be empty",
                ),
            ] {
                if is_empty(value) {
                    return Err(ApiError::illegal_argument(version, code, text, legacy_post));
                }
            }
        }
        ConfigMethod::Patch if is_empty(&param.archive_base_uri) => {
            for (field, value) in [
                ("binding", &param.binding),
                ("piece_switch_interval", &param.piece_switch_interval),
            ] {
                if !is_empty(value) {
                    let text = format!("If {field} is set, archive_base_uri must be set");
                    return Err(ApiError::illegal_argument(
                        version,
                        "OB.Backup.ArchiveBaseUriEmpty",
                        &format!("archive_base_uri cannot be empty: {text}"),
                        &text,
                    ));
                }
            }
        }
        ConfigMethod::Patch => {}
    }
    check_param(version, &mut param)?;
    let archive_uri = param.archive_base_uri.clone().filter(|s| !s.is_empty());
    let data_uri = param.data_base_uri.clone().filter(|s| !s.is_empty());
    let archive_scheme = match &archive_uri {
        Some(uri) => Some(checked_scheme(version, uri)?),
        None => None,
    };
    if let Some(uri) = &data_uri {
        checked_scheme(version, uri)?;
    }
    let lag_target_checked = archive_uri.is_some();
    if lag_target_checked {
        check_lag_target(version, &param, archive_scheme)?;
    }
    Ok(ValidConfig {
        param,
        base_uri: None,
        lag_target_checked,
        tenant: Some(TenantTarget {
            name: tenant.to_owned(),
            archive_uri,
            data_uri,
        }),
    })
}

/// `Format()` and the checks both variants share: the two ranges, binding, piece_switch_interval
/// and the delete policy.
fn check_param(version: ObshellVersion, param: &mut BackupConfigParam) -> Result<(), ApiError> {
    // Format().
    if let Some(binding) = &mut param.binding {
        *binding = if binding.is_empty() {
            "OPTIONAL".to_owned()
        } else {
            binding.to_uppercase()
        };
    }
    if let Some(lag) = &mut param.archive_lag_target {
        *lag = lag.to_lowercase();
    }
    if let Some(policy) = &mut param.delete_policy {
        policy.policy = policy.policy.to_lowercase();
    }
    for (field, code, value) in [
        (
            "log_archive_concurrency",
            "OB.Backup.LogArchiveConcurrency.Invalid",
            param.log_archive_concurrency,
        ),
        (
            "ha_low_thread_score",
            "OB.Backup.HaLowThreadScore.Invalid",
            param.ha_low_thread_score,
        ),
    ] {
        if value.is_some_and(|n| !(0..=100).contains(&n)) {
            let text = format!("{field} must be between 0 and 100");
            return Err(ApiError::illegal_argument(version, code, &text, &text));
        }
    }
    if let Some(binding) = &param.binding {
        if binding != "OPTIONAL" && binding != "MANDATORY" {
            return Err(ApiError::illegal_argument(
                version,
                "OB.Backup.Binding.Invalid",
                &format!("Invalid binding mode: {binding}, must be OPTIONAL or MANDATORY"),
                &format!("invalid binding mode: {binding}, must be OPTIONAL or MANDATORY"),
            ));
        }
    }
    if let Some(interval) = param
        .piece_switch_interval
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let duration =
            parse_obshell_duration(interval).map_err(|e| duration_error(version, interval, &e))?;
        let (low, high) = (
            std::time::Duration::from_secs(86_400),
            std::time::Duration::from_secs(7 * 86_400),
        );
        if duration < low || duration > high {
            let legacy = if duration < low {
                format!(
                    "piece_switch_interval must be greater than {}",
                    go_duration_string(low)
                )
            } else {
                format!(
                    "piece_switch_interval must be less than {}",
                    go_duration_string(high)
                )
            };
            return Err(ApiError::illegal_argument(
                version,
                "OB.Backup.PieceSwitchInterval.Invalid",
                &format!(
                    "piece_switch_interval must be between {} and {}",
                    go_duration_string(low),
                    go_duration_string(high)
                ),
                &legacy,
            ));
        }
    }
    if let Some(policy) = &mut param.delete_policy {
        if policy.policy.is_empty() {
            policy.policy = "default".to_owned();
        } else if policy.policy != "default" {
            let name = policy.policy.clone();
            return Err(ApiError::illegal_argument(
                version,
                "OB.Backup.DeletePolicy.Invalid",
                &format!("Invalid delete policy: '{name}', must be 'default'"),
                &format!("invalid delete policy: '{name}', must be 'default'"),
            ));
        }
    }
    Ok(())
}

/// The storage type of a non-empty URI, by prefix: 400 `OB.Storage.URI.Invalid` otherwise.
fn checked_scheme(version: ObshellVersion, uri: &str) -> Result<StorageScheme, ApiError> {
    storage_scheme(uri).ok_or_else(|| {
        ApiError::illegal_argument(
            version,
            "OB.Storage.URI.Invalid",
            "Invalid storage URI: invalid path type",
            "invalid path type",
        )
    })
}

/// `checkArchiveLagTarget`: ≤ 2h, and ≥ 1m for an s3 archive destination.
fn check_lag_target(
    version: ObshellVersion,
    param: &BackupConfigParam,
    scheme: Option<StorageScheme>,
) -> Result<(), ApiError> {
    if let Some(lag) = param
        .archive_lag_target
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let duration = parse_obshell_duration(lag).map_err(|e| duration_error(version, lag, &e))?;
        let high = std::time::Duration::from_secs(7_200);
        if duration > high {
            let text = format!(
                "archive_lag_target must be less than {}",
                go_duration_string(high)
            );
            return Err(ApiError::illegal_argument(
                version,
                "OB.Backup.ArchiveLagTarget.Invalid",
                &text,
                &text,
            ));
        }
        let low_s3 = std::time::Duration::from_secs(60);
        if scheme == Some(StorageScheme::S3) && duration < low_s3 {
            let low = go_duration_string(low_s3);
            return Err(ApiError::illegal_argument(
                version,
                "OB.Backup.ArchiveLagTargetForS3.Invalid",
                &format!("archive_lag_target must be greater than {low} for S3"),
                &format!("archive_lag_target must be greater than {low} for s3"),
            ));
        }
    }
    Ok(())
}

fn duration_error(version: ObshellVersion, text: &str, error: &DurationError) -> ApiError {
    ApiError::illegal_argument(
        version,
        "Common.InvalidTimeDuration",
        &error.message(text),
        &error.legacy_message(text),
    )
}

/// The storage types obshell accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StorageScheme {
    /// `file://`
    File,
    /// `oss://`
    Oss,
    /// `cos://`
    Cos,
    /// `s3://`
    S3,
}

/// The scheme of a URI by prefix, as obshell's synchronous check reads it.
pub(crate) fn storage_scheme(uri: &str) -> Option<StorageScheme> {
    [
        ("file://", StorageScheme::File),
        ("oss://", StorageScheme::Oss),
        ("cos://", StorageScheme::Cos),
        ("s3://", StorageScheme::S3),
    ]
    .into_iter()
    .find(|(prefix, _)| uri.starts_with(prefix))
    .map(|(_, scheme)| scheme)
}

/// Query parameters obshell re-emits on object-store destinations, in its order.
const QUERY_KEYS: [&str; 6] = [
    "host",
    "access_id",
    "access_key",
    "delete_mode",
    "appid",
    "s3_region",
];

/// A parsed storage URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StorageUri {
    /// The storage type.
    pub(crate) scheme: StorageScheme,
    /// For file: the path; for object stores: `bucket/key`.
    pub(crate) path: String,
    /// Recognised query parameters (object stores only), by name.
    pub(crate) query: Vec<(String, String)>,
}

impl StorageUri {
    fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// This URI with `/<sub>` appended to the path, as obshell builds per-tenant destinations.
    pub(crate) fn join(&self, sub: &str) -> String {
        match self.scheme {
            StorageScheme::File => format!("file://{}/{sub}", self.path),
            _ => {
                let prefix = match self.scheme {
                    StorageScheme::Oss => "oss://",
                    StorageScheme::Cos => "cos://",
                    _ => "s3://",
                };
                let mut out = format!("{prefix}{}/{sub}", self.path.trim_end_matches('/'));
                let query: Vec<String> = QUERY_KEYS
                    .iter()
                    .filter_map(|k| self.query_value(k).map(|v| format!("{k}={v}")))
                    .collect();
                if !query.is_empty() {
                    out.push('?');
                    out.push_str(&query.join("&"));
                }
                out
            }
        }
    }

    /// The URI without `access_id`/`access_key`, as `GET .../backup/config/storage` shows it.
    pub(crate) fn without_secrets(&self) -> String {
        let prefix = match self.scheme {
            StorageScheme::File => return format!("file://{}", self.path),
            StorageScheme::Oss => "oss://",
            StorageScheme::Cos => "cos://",
            StorageScheme::S3 => "s3://",
        };
        let mut out = format!("{prefix}{}", self.path);
        let mut query = Vec::new();
        for key in ["host", "appid", "s3_region", "delete_mode"] {
            if let Some(value) = self.query_value(key) {
                query.push(format!("{key}={value}"));
            }
        }
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query.join("&"));
        }
        out
    }
}

/// Parses a storage URI as obshell does inside the DAG; the error is the text after
/// "Invalid storage URI: ".
pub(crate) fn parse_storage_uri(uri: &str) -> Result<StorageUri, String> {
    let scheme = storage_scheme(uri).ok_or_else(|| "invalid path type".to_owned())?;
    let rest = &uri[uri.find("://").map_or(0, |i| i + 3)..];
    if scheme == StorageScheme::File {
        if !rest.starts_with('/') {
            return Err("invalid file path, must start with '/'".to_owned());
        }
        if rest.contains('?') {
            return Err("invalid file path, must not contain '?'".to_owned());
        }
        return Ok(StorageUri {
            scheme,
            path: rest.to_owned(),
            query: Vec::new(),
        });
    }
    let (path, query_text) = rest.split_once('?').unwrap_or((rest, ""));
    let bucket = path.split('/').next().unwrap_or("");
    if bucket.is_empty() {
        return Err("bucket is required".to_owned());
    }
    let query: Vec<(String, String)> = query_text
        .split('&')
        .filter(|part| !part.is_empty())
        .filter_map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            QUERY_KEYS
                .contains(&key)
                .then(|| (key.to_owned(), value.to_owned()))
        })
        .collect();
    let parsed = StorageUri {
        scheme,
        path: path.to_owned(),
        query,
    };
    for key in ["host", "access_id", "access_key"] {
        if parsed.query_value(key).is_none() {
            return Err(format!("{key} is required"));
        }
    }
    if scheme == StorageScheme::Cos && parsed.query_value("appid").is_none() {
        return Err("appid is required for cos".to_owned());
    }
    Ok(parsed)
}

/// OceanBase's `archive_lag_target` range check (`[0ms, 7200s]`), as `ALTER SYSTEM SET` applies it.
pub(crate) fn oceanbase_accepts_lag_target(value: &str) -> bool {
    parse_oceanbase_time_micros(value).is_some_and(|micros| micros <= 7_200_000_000)
}

/// Whether OceanBase accepts a `RECOVERY_WINDOW` (a positive duration with a unit).
pub(crate) fn oceanbase_accepts_recovery_window(value: &str) -> bool {
    let has_unit = value.ends_with(|c: char| c.is_ascii_alphabetic());
    has_unit && parse_oceanbase_time_micros(value).is_some_and(|micros| micros > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new() -> ObshellVersion {
        "4.5.0.0".parse().unwrap()
    }
    fn old() -> ObshellVersion {
        "4.2.4.0".parse().unwrap()
    }

    /// Binds and validates `body` for both eras; returns (new errCode, new message, old message)
    /// or the valid config.
    #[track_caller]
    fn check_rejected(
        method: ConfigMethod,
        body: Value,
        err_code: &str,
        message: &str,
        legacy_message: &str,
    ) {
        let param = bind(&body).unwrap();
        let error = validate(new(), method, param.clone(), true).unwrap_err();
        assert_eq!(
            (error.status, error.err_code, error.message.as_str()),
            (400, err_code, message),
            "{body}"
        );
        assert_eq!(
            error.to_json(),
            json!({"errCode": err_code, "message": message})
        );
        let error = validate(old(), method, param, true).unwrap_err();
        assert_eq!(
            error.to_json(),
            json!({"code": 1001, "message": format!("Illegal argument: {legacy_message}")}),
            "{body}"
        );
        assert_eq!(error.status, 400);
    }

    #[track_caller]
    fn check_accepted(method: ConfigMethod, body: Value) -> ValidConfig {
        let param = bind(&body).unwrap();
        let valid = validate(new(), method, param.clone(), true).unwrap();
        assert_eq!(validate(old(), method, param, true).unwrap(), valid);
        valid
    }

    const URI: &str = "file:///data/backup";

    #[test]
    fn binding_go_style() {
        assert_eq!(bind(&json!({})).unwrap(), BackupConfigParam::default());
        assert_eq!(bind(&Value::Null).unwrap(), BackupConfigParam::default());
        let p = bind(
            &json!({"Backup_Base_URI": URI, "binding": null, "x": 1, "log_archive_concurrency": 4}),
        )
        .unwrap();
        assert_eq!(p.backup_base_uri.as_deref(), Some(URI));
        assert_eq!(p.binding, None);
        assert_eq!(p.log_archive_concurrency, Some(4));
        for bad in [
            json!({"log_archive_concurrency": "4"}),
            json!({"log_archive_concurrency": 4.0}),
            json!({"ha_low_thread_score": 1.5}),
            json!({"backup_base_uri": 1}),
            json!({"delete_policy": "x"}),
            json!({"delete_policy": {"policy": 1}}),
            json!([1]),
            json!("x"),
        ] {
            assert!(bind(&bad).is_err(), "{bad}");
        }
        let p = bind(&json!({"delete_policy": {"policy": null, "recovery_window": "7d"}})).unwrap();
        assert_eq!(
            p.delete_policy,
            Some(DeletePolicy {
                policy: String::new(),
                recovery_window: "7d".into()
            })
        );
    }

    #[test]
    fn every_rule_in_order_with_both_shapes() {
        use ConfigMethod::{Patch, Post};
        check_rejected(
            Post,
            json!({}),
            "OB.Backup.BaseUriEmpty",
            "backup_base_uri cannot be empty",
            "backup_base_uri cannot be empty",
        );
        check_rejected(
            Post,
            json!({"backup_base_uri": ""}),
            "OB.Backup.BaseUriEmpty",
            "backup_base_uri cannot be empty",
            "backup_base_uri cannot be empty",
        );
        check_rejected(
            Patch,
            json!({"binding": "optional"}),
            "OB.Backup.BaseUriEmpty",
            "backup_base_uri cannot be empty: If binding is set, backup_base_uri must be set",
            "If binding is set, backup_base_uri must be set",
        );
        check_rejected(
            Patch,
            json!({"backup_base_uri": "", "piece_switch_interval": "1d"}),
            "OB.Backup.BaseUriEmpty",
            "backup_base_uri cannot be empty: If piece_switch_interval is set, backup_base_uri must be set",
            "If piece_switch_interval is set, backup_base_uri must be set",
        );
        // The pre-check comes before the range checks.
        check_rejected(
            Patch,
            json!({"binding": "x", "log_archive_concurrency": 101}),
            "OB.Backup.BaseUriEmpty",
            "backup_base_uri cannot be empty: If binding is set, backup_base_uri must be set",
            "If binding is set, backup_base_uri must be set",
        );
        for n in [-1, 101] {
            check_rejected(
                Patch,
                json!({"log_archive_concurrency": n, "ha_low_thread_score": 101}),
                "OB.Backup.LogArchiveConcurrency.Invalid",
                "log_archive_concurrency must be between 0 and 100",
                "log_archive_concurrency must be between 0 and 100",
            );
            check_rejected(
                Patch,
                json!({"ha_low_thread_score": n, "binding": "bad", "backup_base_uri": URI}),
                "OB.Backup.HaLowThreadScore.Invalid",
                "ha_low_thread_score must be between 0 and 100",
                "ha_low_thread_score must be between 0 and 100",
            );
        }
        check_rejected(
            Post,
            json!({"backup_base_uri": URI, "binding": "sometimes", "piece_switch_interval": "1h"}),
            "OB.Backup.Binding.Invalid",
            "Invalid binding mode: SOMETIMES, must be OPTIONAL or MANDATORY",
            "invalid binding mode: SOMETIMES, must be OPTIONAL or MANDATORY",
        );
        check_rejected(
            Post,
            json!({"backup_base_uri": URI, "piece_switch_interval": "23h", "delete_policy": {"policy": "x"}}),
            "OB.Backup.PieceSwitchInterval.Invalid",
            "piece_switch_interval must be between 24h0m0s and 168h0m0s",
            "piece_switch_interval must be greater than 24h0m0s",
        );
        check_rejected(
            Post,
            json!({"backup_base_uri": URI, "piece_switch_interval": "8d"}),
            "OB.Backup.PieceSwitchInterval.Invalid",
            "piece_switch_interval must be between 24h0m0s and 168h0m0s",
            "piece_switch_interval must be less than 168h0m0s",
        );
        check_rejected(
            Post,
            json!({"backup_base_uri": URI, "piece_switch_interval": "1h30m"}),
            "Common.InvalidTimeDuration",
            "Time duration '1h30m' is invalid: invalid format",
            "invalid time duration 1h30m",
        );
        check_rejected(
            Post,
            json!({"backup_base_uri": "ftp://x", "delete_policy": {"policy": "keep"}}),
            "OB.Backup.DeletePolicy.Invalid",
            "Invalid delete policy: 'keep', must be 'default'",
            "invalid delete policy: 'keep', must be 'default'",
        );
        check_rejected(
            Post,
            json!({"backup_base_uri": "ftp://x", "archive_lag_target": "9h"}),
            "OB.Storage.URI.Invalid",
            "Invalid storage URI: invalid path type",
            "invalid path type",
        );
        check_rejected(
            Post,
            json!({"backup_base_uri": URI, "archive_lag_target": "7201s"}),
            "OB.Backup.ArchiveLagTarget.Invalid",
            "archive_lag_target must be less than 2h0m0s",
            "archive_lag_target must be less than 2h0m0s",
        );
        check_rejected(
            Patch,
            json!({"backup_base_uri": "", "archive_lag_target": "0s"}),
            "Common.InvalidTimeDuration",
            "Time duration '0s' is invalid: time duration is less than min unit",
            "time duration 0s is less than min unit 1ns",
        );
        check_rejected(
            Post,
            json!({"backup_base_uri": "s3://b/k?host=h&access_id=a&access_key=k", "archive_lag_target": "30S"}),
            "OB.Backup.ArchiveLagTargetForS3.Invalid",
            "archive_lag_target must be greater than 1m0s for S3",
            "archive_lag_target must be greater than 1m0s for s3",
        );
    }

    #[test]
    fn each_struct_binds_only_its_own_uri_keys_and_names_itself_in_type_errors() {
        let body = json!({"backup_base_uri": URI, "Archive_Base_URI": "file:///a", "data_base_uri": "file:///d"});
        let cluster = bind(&body).unwrap();
        assert_eq!(
            (
                cluster.backup_base_uri.as_deref(),
                cluster.archive_base_uri,
                cluster.data_base_uri
            ),
            (Some(URI), None, None)
        );
        let tenant = bind_tenant(&body).unwrap();
        assert_eq!(
            (
                tenant.backup_base_uri,
                tenant.archive_base_uri.as_deref(),
                tenant.data_base_uri.as_deref()
            ),
            (None, Some("file:///a"), Some("file:///d"))
        );
        assert_eq!(
            bind(&json!({"binding": 5})).unwrap_err(),
            "json: cannot unmarshal number 5 into Go struct field ClusterBackupConfigParam.binding of type string"
        );
        assert_eq!(
            bind_tenant(&json!({"archive_base_uri": true})).unwrap_err(),
            "json: cannot unmarshal bool into Go struct field TenantBackupConfigParam.archive_base_uri of type string"
        );
    }

    #[test]
    fn tenant_level_patch_needs_the_archive_uri_only_for_binding_and_piece_switch_interval() {
        let patch = |body: Value| {
            let param = bind_tenant(&body).unwrap();
            validate_tenant(new(), ConfigMethod::Patch, "t1", param)
        };
        for field in ["binding", "piece_switch_interval"] {
            let value = if field == "binding" { "optional" } else { "2d" };
            let error = patch(json!({ field: value })).unwrap_err();
            assert_eq!(
                (error.err_code, error.message.as_str()),
                (
                    "OB.Backup.ArchiveBaseUriEmpty",
                    format!("archive_base_uri cannot be empty: If {field} is set, archive_base_uri must be set").as_str()
                )
            );
            let valid = patch(json!({ field: value, "archive_base_uri": "file:///a" })).unwrap();
            assert_eq!(
                valid.tenant.unwrap().archive_uri.as_deref(),
                Some("file:///a")
            );
        }
        let valid = patch(json!({"log_archive_concurrency": 2})).unwrap();
        assert_eq!(
            valid.tenant,
            Some(TenantTarget {
                name: "t1".into(),
                archive_uri: None,
                data_uri: None
            })
        );
        // Empty URIs are as good as absent: not checked, not applied.
        let valid = patch(json!({"archive_base_uri": "", "data_base_uri": ""})).unwrap();
        assert_eq!(valid.tenant.unwrap().data_uri, None);
        let valid = patch(json!({"data_base_uri": "file:///d"})).unwrap();
        assert_eq!(valid.tenant.unwrap().data_uri.as_deref(), Some("file:///d"));
        assert_eq!(
            patch(json!({"data_base_uri": "ftp://d"}))
                .unwrap_err()
                .err_code,
            "OB.Storage.URI.Invalid"
        );
    }

    #[test]
    fn piece_switch_interval_takes_both_ends_of_its_range() {
        for interval in ["1d", "24h", "7d", "168h"] {
            check_accepted(
                ConfigMethod::Patch,
                json!({"backup_base_uri": URI, "piece_switch_interval": interval}),
            );
        }
    }

    #[test]
    fn accepted_and_normalised() {
        let valid = check_accepted(
            ConfigMethod::Post,
            json!({"backup_base_uri": URI, "binding": "Mandatory", "piece_switch_interval": "7d",
                   "archive_lag_target": "2M", "delete_policy": {"policy": "", "recovery_window": "7d"},
                   "log_archive_concurrency": 0, "ha_low_thread_score": 100}),
        );
        assert_eq!(valid.param.binding.as_deref(), Some("MANDATORY"));
        assert_eq!(valid.param.archive_lag_target.as_deref(), Some("2m"));
        assert_eq!(valid.param.delete_policy.unwrap().policy, "default");
        assert!(valid.lag_target_checked);
        // Without the URI key, archive_lag_target is not checked at all (the DAG fails instead).
        let valid = check_accepted(ConfigMethod::Patch, json!({"archive_lag_target": "9h"}));
        assert!(!valid.lag_target_checked);
        // An empty binding becomes OPTIONAL.
        let valid = check_accepted(
            ConfigMethod::Post,
            json!({"backup_base_uri": URI, "binding": ""}),
        );
        assert_eq!(valid.param.binding.as_deref(), Some("OPTIONAL"));
        // recovery_window is not validated synchronously; PATCH {} is valid.
        check_accepted(
            ConfigMethod::Patch,
            json!({"delete_policy": {"recovery_window": "soon"}}),
        );
        check_accepted(ConfigMethod::Patch, json!({}));
        // s3 at exactly 1m passes; file at 1ns passes.
        check_accepted(
            ConfigMethod::Post,
            json!({"backup_base_uri": "s3://b/k?host=h", "archive_lag_target": "1m"}),
        );
        check_accepted(
            ConfigMethod::Post,
            json!({"backup_base_uri": URI, "archive_lag_target": "7200s"}),
        );
    }

    #[test]
    fn no_user_tenants_differs_by_era() {
        let param = bind(&json!({"backup_base_uri": URI})).unwrap();
        let error = validate(new(), ConfigMethod::Post, param.clone(), false).unwrap_err();
        assert_eq!(
            (error.status, error.err_code),
            (400, "OB.Backup.NoUserTenants")
        );
        let error = validate(old(), ConfigMethod::Post, param, false).unwrap_err();
        assert_eq!(error.status, 500);
        assert_eq!(
            error.to_json(),
            json!({"code": 1010, "message": "No user tenants found"})
        );
    }

    #[test]
    fn storage_uris() {
        let file = parse_storage_uri("file:///data/backup").unwrap();
        assert_eq!(file.join("1/1002/clog"), "file:///data/backup/1/1002/clog");
        assert_eq!(
            parse_storage_uri("file:///b/").unwrap().join("1/2/data"),
            "file:///b//1/2/data"
        );
        assert_eq!(
            parse_storage_uri("file://data").unwrap_err(),
            "invalid file path, must start with '/'"
        );
        assert!(parse_storage_uri("file:///a?b").is_err());
        let oss =
            parse_storage_uri("oss://bucket/key/?access_key=k&host=h&access_id=i&other=1").unwrap();
        assert_eq!(
            oss.join("1/1002/clog"),
            "oss://bucket/key/1/1002/clog?host=h&access_id=i&access_key=k"
        );
        let stored = parse_storage_uri(&oss.join("1/1002/clog")).unwrap();
        assert_eq!(
            stored.without_secrets(),
            "oss://bucket/key/1/1002/clog?host=h"
        );
        assert_eq!(
            parse_storage_uri("oss://b/k?access_id=i&access_key=k").unwrap_err(),
            "host is required"
        );
        assert_eq!(
            parse_storage_uri("oss://b/k?host=h&access_key=k").unwrap_err(),
            "access_id is required"
        );
        assert_eq!(
            parse_storage_uri("s3://b/k?host=h&access_id=i").unwrap_err(),
            "access_key is required"
        );
        assert_eq!(
            parse_storage_uri("cos://b/k?host=h&access_id=i&access_key=k").unwrap_err(),
            "appid is required for cos"
        );
        let cos = parse_storage_uri("cos://b/k?host=h&access_id=i&access_key=k&appid=1").unwrap();
        assert_eq!(
            cos.join("1/1002/clog"),
            "cos://b/k/1/1002/clog?host=h&access_id=i&access_key=k&appid=1"
        );
        let s3 = parse_storage_uri("s3://b/k?host=h&access_id=i&access_key=k").unwrap();
        assert_eq!(
            s3.join("1/1002/data"),
            "s3://b/k/1/1002/data?host=h&access_id=i&access_key=k"
        );
        assert_eq!(
            parse_storage_uri("oss:///k?host=h").unwrap_err(),
            "bucket is required"
        );
    }

    #[test]
    fn oceanbase_side_checks() {
        assert!(oceanbase_accepts_lag_target("0ms"));
        assert!(oceanbase_accepts_lag_target("7200s"));
        assert!(!oceanbase_accepts_lag_target("3h"));
        assert!(!oceanbase_accepts_lag_target("1h30m"));
        assert!(oceanbase_accepts_recovery_window("7d"));
        assert!(!oceanbase_accepts_recovery_window("7"));
        assert!(!oceanbase_accepts_recovery_window("0d"));
        assert!(!oceanbase_accepts_recovery_window("soon"));
    }
}

//! `BackupConfigModel`: the resource's state, plan or configuration as typed Rust, converted
//! explicitly from and to [`Value`]. Every attribute may be null or unknown, so each is a
//! [`Field`].

use std::collections::BTreeMap;
use std::fmt;

use crate::tf::{AttributePath, Number, Value};

/// One attribute's value: null, unknown (known after apply), or known.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    /// Null: absent from configuration or state.
    Null,
    /// Not known until apply.
    Unknown,
    /// Known.
    Known(T),
}

impl<T> Field<T> {
    /// The value when known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Field::Known(value) => Some(value),
            _ => None,
        }
    }

    /// True when null.
    pub fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }

    /// True when unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Field::Unknown)
    }

    /// Maps a known value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Null => Field::Null,
            Field::Unknown => Field::Unknown,
            Field::Known(value) => Field::Known(f(value)),
        }
    }

    /// A reference to the value.
    pub fn as_ref(&self) -> Field<&T> {
        match self {
            Field::Null => Field::Null,
            Field::Unknown => Field::Unknown,
            Field::Known(value) => Field::Known(value),
        }
    }

    /// This field, or `default` when null.
    pub fn or_default_value(self, default: T) -> Field<T> {
        match self {
            Field::Null => Field::Known(default),
            other => other,
        }
    }

    /// Unknown turned into null, as a state after a failed apply needs.
    pub fn unknown_to_null(self) -> Field<T> {
        match self {
            Field::Unknown => Field::Null,
            other => other,
        }
    }
}

impl<T> From<Option<T>> for Field<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Field::Null, Field::Known)
    }
}

/// `storage_credentials`. `Debug` never shows the values.
#[derive(Clone, PartialEq)]
pub struct StorageCredentialsModel {
    /// `access_id`.
    pub access_id: Field<String>,
    /// `access_key`.
    pub access_key: Field<String>,
}

impl fmt::Debug for StorageCredentialsModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageCredentialsModel")
            .finish_non_exhaustive()
    }
}

/// `delete_policy`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletePolicyModel {
    /// `policy`.
    pub policy: Field<String>,
    /// `recovery_window`.
    pub recovery_window: Field<String>,
}

/// `timeouts`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeoutsModel {
    /// `create`.
    pub create: Field<String>,
    /// `update`.
    pub update: Field<String>,
    /// `read`.
    pub read: Field<String>,
}

/// One element of `tenants`: what a tenant reports. In a state every field is known or null; in
/// a plan a field the request will change is unknown (see `plan::plan_tenants`).
#[derive(Debug, Clone, PartialEq)]
pub struct TenantModel {
    /// `tenant_id`.
    pub tenant_id: Field<i64>,
    /// `log_archive_concurrency`.
    pub log_archive_concurrency: Field<i64>,
    /// `ha_low_thread_score`.
    pub ha_low_thread_score: Field<i64>,
    /// `archive_lag_target`.
    pub archive_lag_target: Field<String>,
    /// `archive_dest`, without credentials.
    pub archive_dest: Field<String>,
    /// `data_dest`, without credentials.
    pub data_dest: Field<String>,
    /// `binding` (with `sql_endpoint`).
    pub binding: Field<String>,
    /// `piece_switch_interval` as OceanBase stores it (with `sql_endpoint`).
    pub piece_switch_interval: Field<String>,
    /// `delete_policy_recovery_window` (with `sql_endpoint`; null without a policy).
    pub delete_policy_recovery_window: Field<String>,
    /// `archive_log`: the status of the tenant's archive-log round, `OFF` when none is active;
    /// null when it cannot be read (obshell before 4.3.2 without `sql_endpoint`).
    pub archive_log: Field<String>,
}

/// The whole resource object.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupConfigModel {
    /// `id`: the cluster id.
    pub id: Field<String>,
    /// `backup_base_uri`.
    pub backup_base_uri: Field<String>,
    /// `storage_credentials`.
    pub storage_credentials: Field<StorageCredentialsModel>,
    /// `storage_credentials_wo`: write-only, so known only in a configuration (and in the model
    /// apply builds from it); [`BackupConfigModel::to_value`] always writes it null.
    pub storage_credentials_wo: Field<StorageCredentialsModel>,
    /// `storage_credentials_wo_version`.
    pub storage_credentials_wo_version: Field<Number>,
    /// `log_archive_concurrency`.
    pub log_archive_concurrency: Field<Number>,
    /// `ha_low_thread_score`.
    pub ha_low_thread_score: Field<Number>,
    /// `archive_lag_target`.
    pub archive_lag_target: Field<String>,
    /// `binding`.
    pub binding: Field<String>,
    /// `piece_switch_interval`.
    pub piece_switch_interval: Field<String>,
    /// `delete_policy`.
    pub delete_policy: Field<DeletePolicyModel>,
    /// `restore_archive_log`.
    pub restore_archive_log: Field<bool>,
    /// `timeouts`.
    pub timeouts: Field<TimeoutsModel>,
    /// `tenants`.
    pub tenants: Field<BTreeMap<String, TenantModel>>,
}

/// A value that does not have the schema's shape (a server bug, never a user error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: expected {expected}")]
pub struct ModelError {
    /// Where.
    pub path: String,
    /// What was expected.
    pub expected: &'static str,
}

fn mismatch(path: &AttributePath, expected: &'static str) -> ModelError {
    ModelError {
        path: path.to_string(),
        expected,
    }
}

fn attribute<'a>(object: &'a BTreeMap<String, Value>, name: &str) -> &'a Value {
    object.get(name).unwrap_or(&Value::Null)
}

fn string_field(value: &Value, path: &AttributePath) -> Result<Field<String>, ModelError> {
    match value {
        Value::Null => Ok(Field::Null),
        Value::Unknown => Ok(Field::Unknown),
        Value::String(text) => Ok(Field::Known(text.clone())),
        _ => Err(mismatch(path, "a string")),
    }
}

fn number_field(value: &Value, path: &AttributePath) -> Result<Field<Number>, ModelError> {
    match value {
        Value::Null => Ok(Field::Null),
        Value::Unknown => Ok(Field::Unknown),
        Value::Number(number) => Ok(Field::Known(*number)),
        _ => Err(mismatch(path, "a number")),
    }
}

fn bool_field(value: &Value, path: &AttributePath) -> Result<Field<bool>, ModelError> {
    match value {
        Value::Null => Ok(Field::Null),
        Value::Unknown => Ok(Field::Unknown),
        Value::Bool(flag) => Ok(Field::Known(*flag)),
        _ => Err(mismatch(path, "a bool")),
    }
}

fn object_field<T>(
    value: &Value,
    path: &AttributePath,
    convert: impl FnOnce(&BTreeMap<String, Value>) -> Result<T, ModelError>,
) -> Result<Field<T>, ModelError> {
    match value {
        Value::Null => Ok(Field::Null),
        Value::Unknown => Ok(Field::Unknown),
        Value::Object(object) => convert(object).map(Field::Known),
        _ => Err(mismatch(path, "an object")),
    }
}

fn integer_field(value: &Value, path: &AttributePath) -> Result<Field<i64>, ModelError> {
    match number_field(value, path)? {
        Field::Known(number) => Ok(number.as_i64().map_or(Field::Null, Field::Known)),
        Field::Null => Ok(Field::Null),
        Field::Unknown => Ok(Field::Unknown),
    }
}

fn string_value(field: &Field<String>) -> Value {
    match field {
        Field::Null => Value::Null,
        Field::Unknown => Value::Unknown,
        Field::Known(text) => Value::String(text.clone()),
    }
}

fn credentials_field(
    object: &BTreeMap<String, Value>,
    name: &str,
) -> Result<Field<StorageCredentialsModel>, ModelError> {
    let path = AttributePath::root(name);
    object_field(attribute(object, name), &path, |credentials| {
        Ok(StorageCredentialsModel {
            access_id: string_field(
                attribute(credentials, "access_id"),
                &path.clone().attribute("access_id"),
            )?,
            access_key: string_field(
                attribute(credentials, "access_key"),
                &path.clone().attribute("access_key"),
            )?,
        })
    })
}

impl BackupConfigModel {
    /// The two credential attributes by name, for rules that hold for both.
    pub fn credential_attributes(&self) -> [(&'static str, &Field<StorageCredentialsModel>); 2] {
        [
            ("storage_credentials", &self.storage_credentials),
            ("storage_credentials_wo", &self.storage_credentials_wo),
        ]
    }

    /// The credentials a request merges into the URI: `storage_credentials`, or else the
    /// write-only `storage_credentials_wo` (validation allows at most one of them), with the
    /// attribute's name.
    pub fn credentials(&self) -> (&'static str, &Field<StorageCredentialsModel>) {
        if self.storage_credentials.is_null() {
            ("storage_credentials_wo", &self.storage_credentials_wo)
        } else {
            ("storage_credentials", &self.storage_credentials)
        }
    }

    /// Converts a resource object. [`Value::Null`] is not a resource object; callers handle it.
    pub fn from_value(value: &Value) -> Result<Self, ModelError> {
        let root = AttributePath::default();
        let Value::Object(object) = value else {
            return Err(mismatch(&root, "the resource object"));
        };
        let path = |name: &str| AttributePath::root(name);
        Ok(BackupConfigModel {
            id: string_field(attribute(object, "id"), &path("id"))?,
            backup_base_uri: string_field(
                attribute(object, "backup_base_uri"),
                &path("backup_base_uri"),
            )?,
            storage_credentials: credentials_field(object, "storage_credentials")?,
            storage_credentials_wo: credentials_field(object, "storage_credentials_wo")?,
            storage_credentials_wo_version: number_field(
                attribute(object, "storage_credentials_wo_version"),
                &path("storage_credentials_wo_version"),
            )?,
            log_archive_concurrency: number_field(
                attribute(object, "log_archive_concurrency"),
                &path("log_archive_concurrency"),
            )?,
            ha_low_thread_score: number_field(
                attribute(object, "ha_low_thread_score"),
                &path("ha_low_thread_score"),
            )?,
            archive_lag_target: string_field(
                attribute(object, "archive_lag_target"),
                &path("archive_lag_target"),
            )?,
            binding: string_field(attribute(object, "binding"), &path("binding"))?,
            piece_switch_interval: string_field(
                attribute(object, "piece_switch_interval"),
                &path("piece_switch_interval"),
            )?,
            delete_policy: object_field(
                attribute(object, "delete_policy"),
                &path("delete_policy"),
                |policy| {
                    let nested = |name: &str| path("delete_policy").attribute(name);
                    Ok(DeletePolicyModel {
                        policy: string_field(attribute(policy, "policy"), &nested("policy"))?,
                        recovery_window: string_field(
                            attribute(policy, "recovery_window"),
                            &nested("recovery_window"),
                        )?,
                    })
                },
            )?,
            restore_archive_log: bool_field(
                attribute(object, "restore_archive_log"),
                &path("restore_archive_log"),
            )?,
            timeouts: object_field(
                attribute(object, "timeouts"),
                &path("timeouts"),
                |timeouts| {
                    let nested = |name: &str| path("timeouts").attribute(name);
                    Ok(TimeoutsModel {
                        create: string_field(attribute(timeouts, "create"), &nested("create"))?,
                        update: string_field(attribute(timeouts, "update"), &nested("update"))?,
                        read: string_field(attribute(timeouts, "read"), &nested("read"))?,
                    })
                },
            )?,
            tenants: tenants_field(attribute(object, "tenants"))?,
        })
    }

    /// Converts back to a resource object with every attribute present, as a plan or state: the
    /// write-only `storage_credentials_wo` is always null (Terraform rejects anything else, and
    /// no credential given write-only may reach a plan or the state).
    pub fn to_value(&self) -> Value {
        let mut value = self.to_value_with_write_only();
        if let Value::Object(object) = &mut value {
            object.insert("storage_credentials_wo".to_owned(), Value::Null);
        }
        value
    }

    /// Converts back to a resource object with every attribute present, write-only ones included:
    /// a configuration, as tests build one.
    pub fn to_value_with_write_only(&self) -> Value {
        let credentials_value = |field: &Field<StorageCredentialsModel>| match field {
            Field::Null => Value::Null,
            Field::Unknown => Value::Unknown,
            Field::Known(credentials) => Value::Object(BTreeMap::from([
                ("access_id".to_owned(), string_value(&credentials.access_id)),
                (
                    "access_key".to_owned(),
                    string_value(&credentials.access_key),
                ),
            ])),
        };
        let mut object = BTreeMap::new();
        object.insert(
            "storage_credentials_wo".to_owned(),
            credentials_value(&self.storage_credentials_wo),
        );
        object.insert("id".to_owned(), string_value(&self.id));
        object.insert(
            "backup_base_uri".to_owned(),
            string_value(&self.backup_base_uri),
        );
        object.insert(
            "storage_credentials".to_owned(),
            credentials_value(&self.storage_credentials),
        );
        let number_value = |field: &Field<Number>| match field {
            Field::Null => Value::Null,
            Field::Unknown => Value::Unknown,
            Field::Known(number) => Value::Number(*number),
        };
        object.insert(
            "storage_credentials_wo_version".to_owned(),
            number_value(&self.storage_credentials_wo_version),
        );
        object.insert(
            "log_archive_concurrency".to_owned(),
            number_value(&self.log_archive_concurrency),
        );
        object.insert(
            "ha_low_thread_score".to_owned(),
            number_value(&self.ha_low_thread_score),
        );
        object.insert(
            "archive_lag_target".to_owned(),
            string_value(&self.archive_lag_target),
        );
        object.insert("binding".to_owned(), string_value(&self.binding));
        object.insert(
            "piece_switch_interval".to_owned(),
            string_value(&self.piece_switch_interval),
        );
        object.insert(
            "delete_policy".to_owned(),
            match &self.delete_policy {
                Field::Null => Value::Null,
                Field::Unknown => Value::Unknown,
                Field::Known(policy) => Value::Object(BTreeMap::from([
                    ("policy".to_owned(), string_value(&policy.policy)),
                    (
                        "recovery_window".to_owned(),
                        string_value(&policy.recovery_window),
                    ),
                ])),
            },
        );
        object.insert(
            "restore_archive_log".to_owned(),
            match self.restore_archive_log {
                Field::Null => Value::Null,
                Field::Unknown => Value::Unknown,
                Field::Known(flag) => Value::Bool(flag),
            },
        );
        object.insert(
            "timeouts".to_owned(),
            match &self.timeouts {
                Field::Null => Value::Null,
                Field::Unknown => Value::Unknown,
                Field::Known(timeouts) => Value::Object(BTreeMap::from([
                    ("create".to_owned(), string_value(&timeouts.create)),
                    ("update".to_owned(), string_value(&timeouts.update)),
                    ("read".to_owned(), string_value(&timeouts.read)),
                ])),
            },
        );
        object.insert(
            "tenants".to_owned(),
            match &self.tenants {
                Field::Null => Value::Null,
                Field::Unknown => Value::Unknown,
                Field::Known(tenants) => Value::Map(
                    tenants
                        .iter()
                        .map(|(name, tenant)| (name.clone(), tenant.to_value()))
                        .collect(),
                ),
            },
        );
        Value::Object(object)
    }

    /// A model with every attribute null.
    pub fn empty() -> Self {
        BackupConfigModel {
            id: Field::Null,
            backup_base_uri: Field::Null,
            storage_credentials: Field::Null,
            storage_credentials_wo: Field::Null,
            storage_credentials_wo_version: Field::Null,
            log_archive_concurrency: Field::Null,
            ha_low_thread_score: Field::Null,
            archive_lag_target: Field::Null,
            binding: Field::Null,
            piece_switch_interval: Field::Null,
            delete_policy: Field::Null,
            restore_archive_log: Field::Null,
            timeouts: Field::Null,
            tenants: Field::Null,
        }
    }

    /// The same model with every unknown attribute (at any depth) replaced by null, as a state
    /// returned after a failed apply must be wholly known.
    pub fn without_unknowns(mut self) -> Self {
        self.id = self.id.unknown_to_null();
        self.backup_base_uri = self.backup_base_uri.unknown_to_null();
        self.storage_credentials = self
            .storage_credentials
            .unknown_to_null()
            .map(|credentials| StorageCredentialsModel {
                access_id: credentials.access_id.unknown_to_null(),
                access_key: credentials.access_key.unknown_to_null(),
            });
        // Never part of a state.
        self.storage_credentials_wo = Field::Null;
        self.storage_credentials_wo_version = self.storage_credentials_wo_version.unknown_to_null();
        self.log_archive_concurrency = self.log_archive_concurrency.unknown_to_null();
        self.ha_low_thread_score = self.ha_low_thread_score.unknown_to_null();
        self.archive_lag_target = self.archive_lag_target.unknown_to_null();
        self.binding = self.binding.unknown_to_null();
        self.piece_switch_interval = self.piece_switch_interval.unknown_to_null();
        self.delete_policy = self
            .delete_policy
            .unknown_to_null()
            .map(|policy| DeletePolicyModel {
                policy: policy.policy.unknown_to_null(),
                recovery_window: policy.recovery_window.unknown_to_null(),
            });
        self.restore_archive_log = self.restore_archive_log.unknown_to_null();
        self.timeouts = self
            .timeouts
            .unknown_to_null()
            .map(|timeouts| TimeoutsModel {
                create: timeouts.create.unknown_to_null(),
                update: timeouts.update.unknown_to_null(),
                read: timeouts.read.unknown_to_null(),
            });
        self.tenants = self.tenants.unknown_to_null().map(|tenants| {
            tenants
                .into_iter()
                .map(|(name, tenant)| (name, tenant.without_unknowns()))
                .collect()
        });
        self
    }
}

impl TenantModel {
    /// A tenant with this id and every other field null, for tests to build on.
    #[cfg(test)]
    pub(crate) fn null_with_id(tenant_id: i64) -> TenantModel {
        TenantModel {
            tenant_id: Field::Known(tenant_id),
            log_archive_concurrency: Field::Null,
            ha_low_thread_score: Field::Null,
            archive_lag_target: Field::Null,
            archive_dest: Field::Null,
            data_dest: Field::Null,
            binding: Field::Null,
            piece_switch_interval: Field::Null,
            delete_policy_recovery_window: Field::Null,
            archive_log: Field::Null,
        }
    }

    /// The element as a Terraform object.
    pub fn to_value(&self) -> Value {
        let integer = |field: &Field<i64>| match field {
            Field::Null => Value::Null,
            Field::Unknown => Value::Unknown,
            Field::Known(number) => Value::from(*number),
        };
        Value::Object(BTreeMap::from([
            ("tenant_id".to_owned(), integer(&self.tenant_id)),
            (
                "log_archive_concurrency".to_owned(),
                integer(&self.log_archive_concurrency),
            ),
            (
                "ha_low_thread_score".to_owned(),
                integer(&self.ha_low_thread_score),
            ),
            (
                "archive_lag_target".to_owned(),
                string_value(&self.archive_lag_target),
            ),
            ("archive_dest".to_owned(), string_value(&self.archive_dest)),
            ("data_dest".to_owned(), string_value(&self.data_dest)),
            ("binding".to_owned(), string_value(&self.binding)),
            (
                "piece_switch_interval".to_owned(),
                string_value(&self.piece_switch_interval),
            ),
            (
                "delete_policy_recovery_window".to_owned(),
                string_value(&self.delete_policy_recovery_window),
            ),
            ("archive_log".to_owned(), string_value(&self.archive_log)),
        ]))
    }

    /// True when no field is unknown.
    pub fn is_wholly_known(&self) -> bool {
        !self.to_value().contains_unknown()
    }

    /// The same tenant with every unknown field null, as a state needs.
    pub fn without_unknowns(self) -> TenantModel {
        TenantModel {
            tenant_id: self.tenant_id.unknown_to_null(),
            log_archive_concurrency: self.log_archive_concurrency.unknown_to_null(),
            ha_low_thread_score: self.ha_low_thread_score.unknown_to_null(),
            archive_lag_target: self.archive_lag_target.unknown_to_null(),
            archive_dest: self.archive_dest.unknown_to_null(),
            data_dest: self.data_dest.unknown_to_null(),
            binding: self.binding.unknown_to_null(),
            piece_switch_interval: self.piece_switch_interval.unknown_to_null(),
            delete_policy_recovery_window: self.delete_policy_recovery_window.unknown_to_null(),
            archive_log: self.archive_log.unknown_to_null(),
        }
    }

    /// This planned tenant with each unknown field taken from `read` (the same tenant as read
    /// after apply); known planned fields stay as planned, as Terraform requires.
    pub fn filled_from(self, read: &TenantModel) -> TenantModel {
        fn fill<T: Clone>(planned: Field<T>, read: &Field<T>) -> Field<T> {
            match planned {
                Field::Unknown => read.clone().unknown_to_null(),
                other => other,
            }
        }
        TenantModel {
            tenant_id: fill(self.tenant_id, &read.tenant_id),
            log_archive_concurrency: fill(
                self.log_archive_concurrency,
                &read.log_archive_concurrency,
            ),
            ha_low_thread_score: fill(self.ha_low_thread_score, &read.ha_low_thread_score),
            archive_lag_target: fill(self.archive_lag_target, &read.archive_lag_target),
            archive_dest: fill(self.archive_dest, &read.archive_dest),
            data_dest: fill(self.data_dest, &read.data_dest),
            binding: fill(self.binding, &read.binding),
            piece_switch_interval: fill(self.piece_switch_interval, &read.piece_switch_interval),
            delete_policy_recovery_window: fill(
                self.delete_policy_recovery_window,
                &read.delete_policy_recovery_window,
            ),
            archive_log: fill(self.archive_log, &read.archive_log),
        }
    }
}

fn tenants_field(value: &Value) -> Result<Field<BTreeMap<String, TenantModel>>, ModelError> {
    let path = AttributePath::root("tenants");
    match value {
        Value::Null => Ok(Field::Null),
        Value::Unknown => Ok(Field::Unknown),
        Value::Map(entries) => {
            let mut tenants = BTreeMap::new();
            for (name, entry) in entries {
                let entry_path = path.clone().key(name);
                let Value::Object(tenant) = entry else {
                    return Err(mismatch(&entry_path, "an object"));
                };
                let nested = |field: &str| entry_path.clone().attribute(field);
                tenants.insert(
                    name.clone(),
                    TenantModel {
                        tenant_id: integer_field(
                            attribute(tenant, "tenant_id"),
                            &nested("tenant_id"),
                        )?,
                        log_archive_concurrency: integer_field(
                            attribute(tenant, "log_archive_concurrency"),
                            &nested("log_archive_concurrency"),
                        )?,
                        ha_low_thread_score: integer_field(
                            attribute(tenant, "ha_low_thread_score"),
                            &nested("ha_low_thread_score"),
                        )?,
                        archive_lag_target: string_field(
                            attribute(tenant, "archive_lag_target"),
                            &nested("archive_lag_target"),
                        )?,
                        archive_dest: string_field(
                            attribute(tenant, "archive_dest"),
                            &nested("archive_dest"),
                        )?,
                        data_dest: string_field(
                            attribute(tenant, "data_dest"),
                            &nested("data_dest"),
                        )?,
                        binding: string_field(attribute(tenant, "binding"), &nested("binding"))?,
                        piece_switch_interval: string_field(
                            attribute(tenant, "piece_switch_interval"),
                            &nested("piece_switch_interval"),
                        )?,
                        delete_policy_recovery_window: string_field(
                            attribute(tenant, "delete_policy_recovery_window"),
                            &nested("delete_policy_recovery_window"),
                        )?,
                        archive_log: string_field(
                            attribute(tenant, "archive_log"),
                            &nested("archive_log"),
                        )?,
                    },
                );
            }
            Ok(Field::Known(tenants))
        }
        _ => Err(mismatch(&path, "a map")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_model() -> BackupConfigModel {
        BackupConfigModel {
            id: Field::Known("1726".to_owned()),
            backup_base_uri: Field::Known("oss://b/k?host=h".to_owned()),
            storage_credentials: Field::Known(StorageCredentialsModel {
                access_id: Field::Known("AK".to_owned()),
                access_key: Field::Known("SECRET".to_owned()),
            }),
            storage_credentials_wo: Field::Null,
            storage_credentials_wo_version: Field::Known(Number::Int(3)),
            log_archive_concurrency: Field::Known(Number::Int(4)),
            ha_low_thread_score: Field::Unknown,
            archive_lag_target: Field::Known("2m".to_owned()),
            binding: Field::Known("optional".to_owned()),
            piece_switch_interval: Field::Null,
            delete_policy: Field::Known(DeletePolicyModel {
                policy: Field::Known("default".to_owned()),
                recovery_window: Field::Known("7d".to_owned()),
            }),
            restore_archive_log: Field::Known(true),
            timeouts: Field::Known(TimeoutsModel {
                create: Field::Known("70m".to_owned()),
                update: Field::Unknown,
                read: Field::Null,
            }),
            tenants: Field::Known(BTreeMap::from([(
                "t1".to_owned(),
                TenantModel {
                    tenant_id: Field::Known(1002),
                    log_archive_concurrency: Field::Unknown,
                    ha_low_thread_score: Field::Null,
                    archive_lag_target: Field::Known("2m".to_owned()),
                    archive_dest: Field::Known("file:///x/1/1002/clog".to_owned()),
                    data_dest: Field::Unknown,
                    binding: Field::Known("MANDATORY".to_owned()),
                    piece_switch_interval: Field::Null,
                    delete_policy_recovery_window: Field::Known("7d".to_owned()),
                    archive_log: Field::Known("DOING".to_owned()),
                },
            )])),
        }
    }

    #[test]
    fn model_round_trips_through_value() {
        let model = full_model();
        let value = model.to_value();
        assert_eq!(BackupConfigModel::from_value(&value), Ok(model));
        let empty = BackupConfigModel::empty();
        assert_eq!(BackupConfigModel::from_value(&empty.to_value()), Ok(empty));
    }

    #[test]
    fn value_has_every_attribute_of_the_schema_type() {
        let value = full_model().to_value();
        let schema_type = super::super::schema::backup_config_schema()
            .block
            .value_type();
        let crate::tf::Type::Object(attributes) = schema_type else {
            panic!("the schema is an object")
        };
        let Value::Object(object) = value else {
            panic!("the model is an object")
        };
        assert_eq!(
            attributes.keys().collect::<Vec<_>>(),
            object.keys().collect::<Vec<_>>()
        );
    }

    #[test]
    fn wrong_shapes_name_the_attribute() {
        let mut value = full_model().to_value();
        if let Value::Object(object) = &mut value {
            object.insert("binding".to_owned(), Value::Bool(true));
        }
        let error = BackupConfigModel::from_value(&value).expect_err("a bool binding");
        assert_eq!(error.path, "binding");
    }

    #[test]
    fn write_only_credentials_reach_no_plan_or_state_value() {
        let mut model = full_model();
        model.storage_credentials = Field::Null;
        model.storage_credentials_wo = Field::Known(StorageCredentialsModel {
            access_id: Field::Known("WOID".to_owned()),
            access_key: Field::Known("WOSECRET".to_owned()),
        });
        let config = model.to_value_with_write_only();
        assert_eq!(
            BackupConfigModel::from_value(&config)
                .expect("a configuration")
                .storage_credentials_wo,
            model.storage_credentials_wo
        );
        for value in [
            model.to_value(),
            model.clone().without_unknowns().to_value(),
        ] {
            assert_eq!(value.get("storage_credentials_wo"), Some(&Value::Null));
            let text = format!("{value:?}");
            assert!(
                !text.contains("WOSECRET") && !text.contains("WOID"),
                "{text}"
            );
        }
        let debug = format!("{model:?}");
        assert!(!debug.contains("WOSECRET"), "{debug}");
    }

    #[test]
    fn debug_hides_credentials() {
        let debug = format!("{:?}", full_model());
        assert!(
            !debug.contains("SECRET") && !debug.contains("AK"),
            "{debug}"
        );
    }

    #[test]
    fn without_unknowns_nulls_every_unknown() {
        let known = full_model().without_unknowns();
        assert!(!known.to_value().contains_unknown());
        assert_eq!(known.ha_low_thread_score, Field::Null);
    }
}

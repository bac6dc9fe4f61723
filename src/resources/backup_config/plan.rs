//! Plan rules as pure functions (design §3, "Plan and apply"): the planned state of a create or
//! an update, and which fields the request will carry.
//!
//! - A create sends every configured field.
//! - An update sends what changed in meaning between prior state and plan, and nothing at all
//!   for a respelling or a timeouts edit. `backup_base_uri`, `binding` and
//!   `piece_switch_interval` form obshell's one `LOG_ARCHIVE_DEST` setting, so they are sent
//!   together whenever one of them (or the credentials) changes.
//! - After an import, an update that only fills fields obshell cannot read adopts them without a
//!   request.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::tf::Number;

use super::duration::{lower_case_unit, obshell_durations_equal, parse_obshell_duration};
use super::model::{BackupConfigModel, DeletePolicyModel, Field, TenantModel, TimeoutsModel};
use super::schema::{
    DEFAULT_CREATE_TIMEOUT, DEFAULT_DELETE_POLICY, DEFAULT_READ_TIMEOUT,
    DEFAULT_RESTORE_ARCHIVE_LOG, DEFAULT_UPDATE_TIMEOUT,
};
use super::uri::{merge_credentials, uris_equivalent};

/// Which fields a request carries. `location` is the compound `LOG_ARCHIVE_DEST` group:
/// `backup_base_uri` (with credentials), `binding` and `piece_switch_interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeSet {
    /// `backup_base_uri`, `binding`, `piece_switch_interval`.
    pub location: bool,
    /// `log_archive_concurrency`.
    pub log_archive_concurrency: bool,
    /// `ha_low_thread_score`.
    pub ha_low_thread_score: bool,
    /// `archive_lag_target`.
    pub archive_lag_target: bool,
    /// `delete_policy`.
    pub delete_policy: bool,
}

impl ChangeSet {
    /// True when nothing will be sent.
    pub fn is_empty(&self) -> bool {
        *self == ChangeSet::default()
    }

    /// True when obshell will stop archive log on every tenant (design §3, "Archive log").
    pub fn stops_archive_log(&self) -> bool {
        self.location || self.log_archive_concurrency
    }

    /// The attribute names the request carries, for messages and private state.
    pub fn attribute_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.location {
            names.extend(["backup_base_uri", "binding", "piece_switch_interval"]);
        }
        if self.log_archive_concurrency {
            names.push("log_archive_concurrency");
        }
        if self.ha_low_thread_score {
            names.push("ha_low_thread_score");
        }
        if self.archive_lag_target {
            names.push("archive_lag_target");
        }
        if self.delete_policy {
            names.push("delete_policy");
        }
        names
    }
}

/// The fields of a backup-config request, in the form obshell receives them. `Debug` hides the
/// URI, which carries credentials.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConfigRequest {
    /// The URI with credentials merged in.
    pub backup_base_uri: Option<String>,
    /// `log_archive_concurrency`.
    pub log_archive_concurrency: Option<i64>,
    /// `binding`, upper-case.
    pub binding: Option<String>,
    /// `ha_low_thread_score`.
    pub ha_low_thread_score: Option<i64>,
    /// `piece_switch_interval`, with a lower-case unit.
    pub piece_switch_interval: Option<String>,
    /// `archive_lag_target`.
    pub archive_lag_target: Option<String>,
    /// `delete_policy` as (policy, recovery_window).
    pub delete_policy: Option<(String, String)>,
}

impl fmt::Debug for ConfigRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigRequest")
            .field(
                "backup_base_uri",
                &self.backup_base_uri.as_ref().map(|_| "<set>"),
            )
            .field("log_archive_concurrency", &self.log_archive_concurrency)
            .field("binding", &self.binding)
            .field("ha_low_thread_score", &self.ha_low_thread_score)
            .field("piece_switch_interval", &self.piece_switch_interval)
            .field("archive_lag_target", &self.archive_lag_target)
            .field("delete_policy", &self.delete_policy)
            .finish()
    }
}

/// The outcome of planning an update.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    /// The planned state.
    pub planned: BackupConfigModel,
    /// What the request will carry.
    pub changes: ChangeSet,
    /// Fields an import left null that the plan fills without a request (unverified).
    pub adopted: Vec<&'static str>,
}

fn default_timeouts(config: &Field<TimeoutsModel>) -> Field<TimeoutsModel> {
    match config {
        Field::Null => Field::Known(TimeoutsModel {
            create: Field::Known(DEFAULT_CREATE_TIMEOUT.to_owned()),
            update: Field::Known(DEFAULT_UPDATE_TIMEOUT.to_owned()),
            read: Field::Known(DEFAULT_READ_TIMEOUT.to_owned()),
        }),
        Field::Unknown => Field::Unknown,
        Field::Known(timeouts) => Field::Known(TimeoutsModel {
            create: timeouts
                .create
                .clone()
                .or_default_value(DEFAULT_CREATE_TIMEOUT.to_owned()),
            update: timeouts
                .update
                .clone()
                .or_default_value(DEFAULT_UPDATE_TIMEOUT.to_owned()),
            read: timeouts
                .read
                .clone()
                .or_default_value(DEFAULT_READ_TIMEOUT.to_owned()),
        }),
    }
}

fn default_delete_policy(config: &Field<DeletePolicyModel>) -> Field<DeletePolicyModel> {
    config.clone().map(|policy| DeletePolicyModel {
        policy: policy
            .policy
            .or_default_value(DEFAULT_DELETE_POLICY.to_owned()),
        recovery_window: policy.recovery_window,
    })
}

/// The attributes whose defaults are planned when the configuration leaves them null:
/// `restore_archive_log`, `timeouts.*` and `delete_policy.policy`.
pub fn with_defaults(mut model: BackupConfigModel) -> BackupConfigModel {
    model.restore_archive_log = model
        .restore_archive_log
        .or_default_value(DEFAULT_RESTORE_ARCHIVE_LOG);
    model.timeouts = default_timeouts(&model.timeouts);
    model.delete_policy = default_delete_policy(&model.delete_policy);
    model
}

/// The planned state of a create: the configuration with defaults; unset read-back attributes,
/// `id` and `tenants` are unknown until apply reads them from the cluster.
pub fn plan_create(config: &BackupConfigModel) -> BackupConfigModel {
    let mut planned = with_defaults(config.clone());
    planned.id = Field::Unknown;
    planned.tenants = Field::Unknown;
    if planned.log_archive_concurrency.is_null() {
        planned.log_archive_concurrency = Field::Unknown;
    }
    if planned.ha_low_thread_score.is_null() {
        planned.ha_low_thread_score = Field::Unknown;
    }
    if planned.archive_lag_target.is_null() {
        planned.archive_lag_target = Field::Unknown;
    }
    planned
}

/// What a create sends: every configured field.
pub fn create_changes(planned: &BackupConfigModel) -> ChangeSet {
    ChangeSet {
        location: true,
        log_archive_concurrency: planned.log_archive_concurrency.known().is_some(),
        ha_low_thread_score: planned.ha_low_thread_score.known().is_some(),
        archive_lag_target: planned.archive_lag_target.known().is_some(),
        delete_policy: planned.delete_policy.known().is_some(),
    }
}

fn binding_meaning(field: &Field<String>) -> Option<Option<String>> {
    match field {
        Field::Null => Some(Some("OPTIONAL".to_owned())),
        Field::Unknown => None,
        Field::Known(text) => Some(Some(text.to_ascii_uppercase())),
    }
}

/// OceanBase's default piece switch interval.
const DEFAULT_PIECE_SWITCH_INTERVAL: Duration = Duration::from_secs(86_400);

fn interval_meaning(field: &Field<String>) -> Option<Result<Duration, String>> {
    match field {
        Field::Null => Some(Ok(DEFAULT_PIECE_SWITCH_INTERVAL)),
        Field::Unknown => None,
        Field::Known(text) => Some(parse_obshell_duration(text).map_err(|_| text.clone())),
    }
}

/// True when two numbers are the same whole number (`4` and `4.0`).
pub fn same_whole_number(left: &Number, right: &Number) -> bool {
    left.as_i64().is_some() && left.as_i64() == right.as_i64()
}

fn same_integer(prior: &Field<Number>, planned: &Field<Number>) -> bool {
    match (prior, planned) {
        (Field::Known(prior), Field::Known(planned)) => same_whole_number(prior, planned),
        _ => false,
    }
}

/// Equal as numbers: `1` and `1.0` are the same version.
fn same_number(prior: &Number, planned: &Number) -> bool {
    let as_f64 = |number: &Number| match *number {
        Number::Int(n) => n as f64,
        Number::Float(f) => f,
    };
    match (prior.as_i64(), planned.as_i64()) {
        (Some(prior), Some(planned)) => prior == planned,
        _ => as_f64(prior) == as_f64(planned),
    }
}

fn same_duration(prior: &Field<String>, planned: &Field<String>) -> bool {
    match (prior, planned) {
        (Field::Known(prior), Field::Known(planned)) => obshell_durations_equal(prior, planned),
        _ => false,
    }
}

fn same_delete_policy(prior: &DeletePolicyModel, planned: &DeletePolicyModel) -> bool {
    let policy_name = |field: &Field<String>| match field {
        Field::Null => Some(DEFAULT_DELETE_POLICY.to_owned()),
        Field::Unknown => None,
        Field::Known(text) => Some(text.to_ascii_lowercase()),
    };
    let name_prior = policy_name(&prior.policy);
    name_prior.is_some()
        && name_prior == policy_name(&planned.policy)
        && same_duration(&prior.recovery_window, &planned.recovery_window)
}

/// When the configured value means the same as the prior state's (`"2m"` and `"120s"`,
/// `file:///b` and `file:///b/`, `"Optional"` and `"OPTIONAL"`), plan the prior value: Terraform
/// accepts a planned value equal to a non-null prior one in place of the configuration's (the
/// semantic equality of terraform-plugin-framework), so a respelling plans no change at all.
fn keep_prior_spelling<T: Clone + PartialEq>(
    prior: &Field<T>,
    planned: &mut Field<T>,
    same: impl Fn(&T, &T) -> bool,
) {
    if let (Field::Known(prior_value), Field::Known(planned_value)) = (prior, &*planned) {
        if prior_value != planned_value && same(prior_value, planned_value) {
            *planned = prior.clone();
        }
    }
}

fn keep_prior_spellings(prior: &BackupConfigModel, planned: &mut BackupConfigModel) {
    let same_text_case = |a: &String, b: &String| a.eq_ignore_ascii_case(b);
    let same_duration_text = |a: &String, b: &String| obshell_durations_equal(a, b);
    keep_prior_spelling(
        &prior.backup_base_uri,
        &mut planned.backup_base_uri,
        |a, b| uris_equivalent(a, b),
    );
    keep_prior_spelling(&prior.binding, &mut planned.binding, same_text_case);
    keep_prior_spelling(
        &prior.piece_switch_interval,
        &mut planned.piece_switch_interval,
        same_duration_text,
    );
    keep_prior_spelling(
        &prior.archive_lag_target,
        &mut planned.archive_lag_target,
        same_duration_text,
    );
    keep_prior_spelling(
        &prior.log_archive_concurrency,
        &mut planned.log_archive_concurrency,
        same_whole_number,
    );
    keep_prior_spelling(
        &prior.ha_low_thread_score,
        &mut planned.ha_low_thread_score,
        same_whole_number,
    );
    if let (Field::Known(prior_policy), Field::Known(planned_policy)) =
        (&prior.delete_policy, &mut planned.delete_policy)
    {
        keep_prior_spelling(
            &prior_policy.policy,
            &mut planned_policy.policy,
            same_text_case,
        );
        keep_prior_spelling(
            &prior_policy.recovery_window,
            &mut planned_policy.recovery_window,
            same_duration_text,
        );
    }
}

/// The planned state and request of an update. `imported` is true while the state still holds
/// fields an import could not read (until the first apply after the import).
pub fn plan_update(
    prior: &BackupConfigModel,
    config: &BackupConfigModel,
    imported: bool,
) -> UpdatePlan {
    plan_update_verified(prior, config, imported, false)
}

/// [`plan_update`] when the prior state was read with `sql_endpoint` (`sql_read`): then
/// `binding`, `piece_switch_interval` and `delete_policy` in it are the cluster's, null meaning
/// OceanBase's default or no policy, so an import never adopts them from configuration; they are
/// compared and sent like the others.
pub fn plan_update_verified(
    prior: &BackupConfigModel,
    config: &BackupConfigModel,
    imported: bool,
    sql_read: bool,
) -> UpdatePlan {
    let adopt_unreadable = imported && !sql_read;
    let mut planned = with_defaults(config.clone());
    planned.id = prior.id.clone();
    // Optional + computed read-back attributes: unset in configuration means "not managed";
    // keep what the cluster last reported.
    if planned.log_archive_concurrency.is_null() {
        planned.log_archive_concurrency = prior.log_archive_concurrency.clone();
    }
    if planned.ha_low_thread_score.is_null() {
        planned.ha_low_thread_score = prior.ha_low_thread_score.clone();
    }
    if planned.archive_lag_target.is_null() {
        planned.archive_lag_target = prior.archive_lag_target.clone();
    }

    keep_prior_spellings(prior, &mut planned);

    let mut adopted = Vec::new();
    let mut location = false;

    // backup_base_uri: compared by meaning; null in prior state only after an import from an
    // obshell that cannot report it.
    match (&prior.backup_base_uri, &planned.backup_base_uri) {
        (Field::Known(prior_uri), Field::Known(planned_uri)) => {
            location |= !uris_equivalent(prior_uri, planned_uri);
        }
        (Field::Null, Field::Known(_)) if adopt_unreadable => adopted.push("backup_base_uri"),
        _ => location = true,
    }
    // Credentials are never read back: any edit re-sends the URI, except filling them in after
    // an import.
    match (&prior.storage_credentials, &planned.storage_credentials) {
        (Field::Null, Field::Known(_)) if imported => adopted.push("storage_credentials"),
        (prior_credentials, planned_credentials) => {
            location |=
                prior_credentials != planned_credentials || planned_credentials.is_unknown();
        }
    }
    // Write-only credentials are never seen at plan (nor ever stored): their version number is
    // what says to send them again. Switching between the two credential attributes changes
    // storage_credentials, so it re-sends the location above.
    match (
        &prior.storage_credentials_wo_version,
        &planned.storage_credentials_wo_version,
    ) {
        (Field::Null, Field::Known(_)) if imported => {
            adopted.push("storage_credentials_wo_version")
        }
        (Field::Known(prior_version), Field::Known(planned_version)) => {
            location |= !same_number(prior_version, planned_version);
        }
        (Field::Null, Field::Null) => {}
        _ => location = true,
    }
    if adopt_unreadable && prior.binding.is_null() && planned.binding.known().is_some() {
        adopted.push("binding");
    } else {
        let planned_binding = binding_meaning(&planned.binding);
        location |= planned_binding.is_none() || binding_meaning(&prior.binding) != planned_binding;
    }
    if adopt_unreadable
        && prior.piece_switch_interval.is_null()
        && planned.piece_switch_interval.known().is_some()
    {
        adopted.push("piece_switch_interval");
    } else {
        let planned_interval = interval_meaning(&planned.piece_switch_interval);
        location |= planned_interval.is_none()
            || interval_meaning(&prior.piece_switch_interval) != planned_interval;
    }

    let log_archive_concurrency = match &planned.log_archive_concurrency {
        Field::Null => false,
        Field::Unknown => true,
        Field::Known(_) => !same_integer(
            &prior.log_archive_concurrency,
            &planned.log_archive_concurrency,
        ),
    };
    let ha_low_thread_score = match &planned.ha_low_thread_score {
        Field::Null => false,
        Field::Unknown => true,
        Field::Known(_) => !same_integer(&prior.ha_low_thread_score, &planned.ha_low_thread_score),
    };
    let archive_lag_target = match &planned.archive_lag_target {
        Field::Null => false,
        Field::Unknown => true,
        Field::Known(_) => !same_duration(&prior.archive_lag_target, &planned.archive_lag_target),
    };
    let delete_policy = match (&prior.delete_policy, &planned.delete_policy) {
        (_, Field::Null) => false,
        (Field::Null, Field::Known(_)) if adopt_unreadable => {
            adopted.push("delete_policy");
            false
        }
        (Field::Known(prior_policy), Field::Known(planned_policy)) => {
            !same_delete_policy(prior_policy, planned_policy)
        }
        _ => true,
    };

    if location {
        // The request sends the whole location group with the planned values, so none of them
        // is adopted without verification.
        adopted.retain(|name| {
            !matches!(
                *name,
                "backup_base_uri"
                    | "storage_credentials"
                    | "storage_credentials_wo_version"
                    | "binding"
                    | "piece_switch_interval"
            )
        });
    }

    // A setting some tenant still lacks is sent again, even when the folded value equals the
    // configuration (a change obshell stopped part-way; see `tenants.rs`).
    let behind = super::tenants::left_behind_changes(&super::tenants::compare_tenants(
        &prior.tenants,
        prior.id.known().map(String::as_str),
        config,
        sql_read,
    ));
    let changes = ChangeSet {
        location: location || behind.location,
        log_archive_concurrency: log_archive_concurrency || behind.log_archive_concurrency,
        ha_low_thread_score: ha_low_thread_score || behind.ha_low_thread_score,
        archive_lag_target: archive_lag_target || behind.archive_lag_target,
        delete_policy: delete_policy || behind.delete_policy,
    };
    planned.tenants = plan_tenants(&prior.tenants, &changes, sql_read);
    UpdatePlan {
        planned,
        changes,
        adopted,
    }
}

/// The planned `tenants` of an update that sends `changes`: the prior map with, on every tenant,
/// the fields the request can change unknown (known after apply) and everything else as the
/// refresh read it, so a plan shows only what changes. Keys and tenant ids stay known: a
/// backup-config request never creates or drops a tenant. (A tenant created or dropped by someone
/// else between plan and apply shows at the next refresh, see `read::fill_unknowns_from_live`.)
/// Without a prior map (a state from an older provider, or one an earlier update's outcome
/// cleared) the whole map is unknown.
///
/// What each part of the request can change on every user tenant:
/// - the location: `archive_dest` and `data_dest`, and with `sql_endpoint` (`sql_read`) the
///   `binding` and `piece_switch_interval` OceanBase stores (without it they are never read and
///   stay as they are);
/// - the location or `log_archive_concurrency`: archive log (obshell stops it; the provider may
///   reopen it), so `archive_log`;
/// - `log_archive_concurrency`, `ha_low_thread_score`, `archive_lag_target`: that parameter;
/// - `delete_policy`: `delete_policy_recovery_window` (read only with `sql_endpoint`).
pub fn plan_tenants(
    prior: &Field<BTreeMap<String, TenantModel>>,
    changes: &ChangeSet,
    sql_read: bool,
) -> Field<BTreeMap<String, TenantModel>> {
    if changes.is_empty() {
        return prior.clone();
    }
    let Field::Known(tenants) = prior else {
        return Field::Unknown;
    };
    Field::Known(
        tenants
            .iter()
            .map(|(name, tenant)| {
                let mut planned = tenant.clone();
                if changes.location {
                    planned.archive_dest = Field::Unknown;
                    planned.data_dest = Field::Unknown;
                    if sql_read {
                        planned.binding = Field::Unknown;
                        planned.piece_switch_interval = Field::Unknown;
                    }
                }
                if changes.stops_archive_log() {
                    planned.archive_log = Field::Unknown;
                }
                if changes.log_archive_concurrency {
                    planned.log_archive_concurrency = Field::Unknown;
                }
                if changes.ha_low_thread_score {
                    planned.ha_low_thread_score = Field::Unknown;
                }
                if changes.archive_lag_target {
                    planned.archive_lag_target = Field::Unknown;
                }
                if changes.delete_policy && sql_read {
                    planned.delete_policy_recovery_window = Field::Unknown;
                }
                (name.clone(), planned)
            })
            .collect(),
    )
}

/// Why a request cannot be built from a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A field the request needs is unknown or null.
    #[error("{0} is not known")]
    Missing(&'static str),
    /// An object store without credentials.
    #[error("storage_credentials_wo (or storage_credentials) is required because the request sends backup_base_uri to an object store")]
    CredentialsRequired,
}

/// The request for `changes`, built from the planned state (every value the request needs must be
/// known, as it is at apply).
pub fn build_request(
    planned: &BackupConfigModel,
    changes: &ChangeSet,
) -> Result<ConfigRequest, RequestError> {
    let mut request = ConfigRequest::default();
    if changes.location {
        let uri = planned
            .backup_base_uri
            .known()
            .ok_or(RequestError::Missing("backup_base_uri"))?;
        let object_store = !uri.starts_with("file://");
        let (attribute, credentials) = planned.credentials();
        let write_only = attribute == "storage_credentials_wo";
        request.backup_base_uri =
            Some(match credentials {
                Field::Known(credentials) => {
                    let access_id = credentials.access_id.known().ok_or(RequestError::Missing(
                        if write_only {
                            "storage_credentials_wo.access_id"
                        } else {
                            "storage_credentials.access_id"
                        },
                    ))?;
                    let access_key = credentials.access_key.known().ok_or(
                        RequestError::Missing(if write_only {
                            "storage_credentials_wo.access_key"
                        } else {
                            "storage_credentials.access_key"
                        }),
                    )?;
                    merge_credentials(uri, access_id, access_key)
                }
                Field::Null if object_store => return Err(RequestError::CredentialsRequired),
                Field::Null => uri.clone(),
                Field::Unknown => return Err(RequestError::Missing(attribute)),
            });
        request.binding = planned
            .binding
            .known()
            .map(|text| text.to_ascii_uppercase());
        request.piece_switch_interval = planned
            .piece_switch_interval
            .known()
            .map(|text| lower_case_unit(text));
    }
    if changes.log_archive_concurrency {
        request.log_archive_concurrency = Some(
            planned
                .log_archive_concurrency
                .known()
                .and_then(Number::as_i64)
                .ok_or(RequestError::Missing("log_archive_concurrency"))?,
        );
    }
    if changes.ha_low_thread_score {
        request.ha_low_thread_score = Some(
            planned
                .ha_low_thread_score
                .known()
                .and_then(Number::as_i64)
                .ok_or(RequestError::Missing("ha_low_thread_score"))?,
        );
    }
    if changes.archive_lag_target {
        request.archive_lag_target = Some(
            planned
                .archive_lag_target
                .known()
                .ok_or(RequestError::Missing("archive_lag_target"))?
                .clone(),
        );
    }
    if changes.delete_policy {
        let policy = planned
            .delete_policy
            .known()
            .ok_or(RequestError::Missing("delete_policy"))?;
        let name = policy.policy.known().map_or_else(
            || DEFAULT_DELETE_POLICY.to_owned(),
            |name| name.to_ascii_lowercase(),
        );
        let window = policy
            .recovery_window
            .known()
            .ok_or(RequestError::Missing("delete_policy.recovery_window"))?;
        request.delete_policy = Some((name, window.clone()));
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::backup_config::model::StorageCredentialsModel;
    use std::collections::BTreeMap;

    fn known(text: &str) -> Field<String> {
        Field::Known(text.to_owned())
    }

    fn config() -> BackupConfigModel {
        let mut model = BackupConfigModel::empty();
        model.backup_base_uri = known("file:///data/backup");
        model.log_archive_concurrency = Field::Known(Number::Int(4));
        model.archive_lag_target = known("2m");
        model.binding = known("optional");
        model.piece_switch_interval = known("1d");
        model.delete_policy = Field::Known(DeletePolicyModel {
            policy: Field::Null,
            recovery_window: known("7d"),
        });
        model
    }

    /// The state after applying `config` on a cluster with one tenant.
    fn state_of(config: &BackupConfigModel) -> BackupConfigModel {
        let mut state = plan_create(config);
        state.id = known("1726");
        state.tenants = Field::Known(BTreeMap::new());
        if state.ha_low_thread_score.is_unknown() {
            state.ha_low_thread_score = Field::Known(Number::Int(0));
        }
        if state.log_archive_concurrency.is_unknown() {
            state.log_archive_concurrency = Field::Known(Number::Int(0));
        }
        if state.archive_lag_target.is_unknown() {
            state.archive_lag_target = known("120s");
        }
        state
    }

    #[track_caller]
    fn check_update(edit: impl FnOnce(&mut BackupConfigModel), expected: &[&str]) {
        let prior = state_of(&config());
        let mut new_config = config();
        edit(&mut new_config);
        let plan = plan_update(&prior, &new_config, false);
        assert_eq!(plan.changes.attribute_names(), expected);
        assert!(plan.adopted.is_empty());
        // The tenants map keeps its keys (here none) whatever is sent.
        assert_eq!(plan.planned.tenants, prior.tenants);
    }

    fn read_tenant(id: i64) -> TenantModel {
        TenantModel {
            tenant_id: Field::Known(id),
            log_archive_concurrency: Field::Known(4),
            ha_low_thread_score: Field::Known(0),
            archive_lag_target: known("2m"),
            archive_dest: Field::Known(format!("file:///data/backup/1726/{id}/clog")),
            data_dest: Field::Known(format!("file:///data/backup/1726/{id}/data")),
            binding: known("OPTIONAL"),
            piece_switch_interval: known("1d"),
            delete_policy_recovery_window: known("7d"),
            archive_log: known("DOING"),
        }
    }

    /// The names of the fields left unknown on every planned tenant, which must be the same on
    /// each; everything else must be as read.
    #[track_caller]
    fn unknown_tenant_fields(
        edit: impl FnOnce(&mut BackupConfigModel),
        sql_read: bool,
    ) -> Vec<&'static str> {
        let mut prior = state_of(&config());
        let read = BTreeMap::from([
            ("t1".to_owned(), read_tenant(1002)),
            ("t2".to_owned(), read_tenant(1004)),
        ]);
        prior.tenants = Field::Known(read.clone());
        let mut new_config = config();
        edit(&mut new_config);
        let plan = plan_update_verified(&prior, &new_config, false, sql_read);
        let planned = plan.planned.tenants.known().expect("a known map").clone();
        assert_eq!(
            planned.keys().collect::<Vec<_>>(),
            read.keys().collect::<Vec<_>>()
        );
        let mut unknown_sets = planned.iter().map(|(name, tenant)| {
            let crate::tf::Value::Object(fields) = tenant.to_value() else {
                panic!("an object")
            };
            let crate::tf::Value::Object(read_fields) = read[name].to_value() else {
                panic!("an object")
            };
            let mut unknown = Vec::new();
            for (field, value) in &fields {
                if *value == crate::tf::Value::Unknown {
                    unknown.push(
                        *[
                            "archive_dest",
                            "data_dest",
                            "binding",
                            "piece_switch_interval",
                            "archive_log",
                            "log_archive_concurrency",
                            "ha_low_thread_score",
                            "archive_lag_target",
                            "delete_policy_recovery_window",
                        ]
                        .iter()
                        .find(|n| **n == field.as_str())
                        .expect("a field that may be unknown"),
                    );
                } else {
                    assert_eq!(Some(value), read_fields.get(field), "{name}.{field}");
                }
            }
            unknown.sort_unstable();
            unknown
        });
        let first = unknown_sets.next().expect("two tenants");
        assert!(unknown_sets.all(|set| set == first));
        first
    }

    #[test]
    fn an_update_leaves_unknown_only_the_tenant_fields_it_can_change() {
        assert!(unknown_tenant_fields(|_| {}, true).is_empty());
        // A respelling sends nothing and changes nothing.
        assert!(unknown_tenant_fields(|c| c.archive_lag_target = known("120s"), true).is_empty());
        assert_eq!(
            unknown_tenant_fields(|c| c.archive_lag_target = known("3m"), true),
            ["archive_lag_target"]
        );
        assert_eq!(
            unknown_tenant_fields(
                |c| c.ha_low_thread_score = Field::Known(Number::Int(7)),
                true
            ),
            ["ha_low_thread_score"]
        );
        assert_eq!(
            unknown_tenant_fields(
                |c| c.log_archive_concurrency = Field::Known(Number::Int(8)),
                true
            ),
            ["archive_log", "log_archive_concurrency"]
        );
        let moved = |c: &mut BackupConfigModel| c.backup_base_uri = known("file:///other");
        assert_eq!(
            unknown_tenant_fields(moved, true),
            [
                "archive_dest",
                "archive_log",
                "binding",
                "data_dest",
                "piece_switch_interval"
            ]
        );
        // Without sql_endpoint binding and piece_switch_interval are never read: they stay.
        assert_eq!(
            unknown_tenant_fields(moved, false),
            ["archive_dest", "archive_log", "data_dest"]
        );
        let policy = |c: &mut BackupConfigModel| {
            c.delete_policy = Field::Known(DeletePolicyModel {
                policy: Field::Null,
                recovery_window: known("8d"),
            })
        };
        assert_eq!(
            unknown_tenant_fields(policy, true),
            ["delete_policy_recovery_window"]
        );
        assert!(unknown_tenant_fields(policy, false).is_empty());
    }

    #[test]
    fn without_a_prior_tenants_map_a_change_plans_it_unknown() {
        let mut prior = state_of(&config());
        prior.tenants = Field::Null;
        let mut new_config = config();
        new_config.archive_lag_target = known("3m");
        assert!(plan_update(&prior, &new_config, false)
            .planned
            .tenants
            .is_unknown());
        assert!(plan_update(&prior, &config(), false)
            .planned
            .tenants
            .is_null());
    }

    #[test]
    fn which_fields_each_change_sends() {
        let location = ["backup_base_uri", "binding", "piece_switch_interval"];
        check_update(|_| {}, &[]);
        check_update(|c| c.archive_lag_target = known("120s"), &[]);
        check_update(
            |c| c.archive_lag_target = known("3m"),
            &["archive_lag_target"],
        );
        check_update(|c| c.backup_base_uri = known("file:///data//backup/"), &[]);
        check_update(|c| c.backup_base_uri = known("file:///other"), &location);
        check_update(|c| c.binding = known("OPTIONAL"), &[]);
        check_update(|c| c.binding = Field::Null, &[]);
        check_update(|c| c.binding = known("mandatory"), &location);
        check_update(|c| c.piece_switch_interval = known("24h"), &[]);
        check_update(|c| c.piece_switch_interval = Field::Null, &[]);
        check_update(|c| c.piece_switch_interval = known("2d"), &location);
        check_update(
            |c| c.log_archive_concurrency = Field::Known(Number::Float(4.0)),
            &[],
        );
        check_update(
            |c| c.log_archive_concurrency = Field::Known(Number::Int(5)),
            &["log_archive_concurrency"],
        );
        check_update(|c| c.log_archive_concurrency = Field::Null, &[]);
        check_update(
            |c| c.ha_low_thread_score = Field::Known(Number::Int(0)),
            &[],
        );
        check_update(
            |c| c.ha_low_thread_score = Field::Known(Number::Int(7)),
            &["ha_low_thread_score"],
        );
        check_update(
            |c| {
                c.timeouts = Field::Known(TimeoutsModel {
                    create: known("2h"),
                    update: Field::Null,
                    read: Field::Null,
                })
            },
            &[],
        );
        check_update(|c| c.restore_archive_log = Field::Known(false), &[]);
        check_update(
            |c| {
                c.delete_policy = Field::Known(DeletePolicyModel {
                    policy: known("DEFAULT"),
                    recovery_window: known("168h"),
                })
            },
            &[],
        );
        check_update(
            |c| {
                c.delete_policy = Field::Known(DeletePolicyModel {
                    policy: Field::Null,
                    recovery_window: known("8d"),
                })
            },
            &["delete_policy"],
        );
        check_update(|c| c.delete_policy = Field::Null, &[]);
        check_update(|c| c.backup_base_uri = Field::Unknown, &location);
        check_update(
            |c| {
                c.archive_lag_target = known("1m");
                c.log_archive_concurrency = Field::Known(Number::Int(8));
            },
            &["log_archive_concurrency", "archive_lag_target"],
        );
    }

    #[test]
    fn credentials_edits_resend_the_location() {
        let mut with_credentials = config();
        with_credentials.backup_base_uri = known("oss://b/k?host=h");
        with_credentials.storage_credentials = Field::Known(StorageCredentialsModel {
            access_id: known("a"),
            access_key: known("b"),
        });
        let prior = state_of(&with_credentials);
        let mut rotated = with_credentials.clone();
        rotated.storage_credentials = Field::Known(StorageCredentialsModel {
            access_id: known("a"),
            access_key: known("c"),
        });
        let plan = plan_update(&prior, &rotated, false);
        assert!(plan.changes.location);
        let plan = plan_update(&prior, &with_credentials, false);
        assert!(plan.changes.is_empty());
    }

    #[test]
    fn write_only_credentials_resend_the_location_when_their_version_changes() {
        let mut write_only = config();
        write_only.backup_base_uri = known("oss://b/k?host=h");
        write_only.storage_credentials_wo = Field::Known(StorageCredentialsModel {
            access_id: known("a"),
            access_key: known("b"),
        });
        write_only.storage_credentials_wo_version = Field::Known(Number::Int(1));
        // The state never holds write-only values.
        let prior = state_of(&write_only).without_unknowns();
        assert_eq!(prior.storage_credentials_wo, Field::Null);
        // Same version, other (unseeable) credentials: nothing to send.
        let mut new_key = write_only.clone();
        new_key.storage_credentials_wo = Field::Known(StorageCredentialsModel {
            access_id: known("a"),
            access_key: known("c"),
        });
        assert!(plan_update(&prior, &new_key, false).changes.is_empty());
        // 1 and 1.0 are the same version.
        let mut same = new_key.clone();
        same.storage_credentials_wo_version = Field::Known(Number::Float(1.0));
        assert!(plan_update(&prior, &same, false).changes.is_empty());
        // A new version sends the location, with the configuration's credentials.
        let mut bumped = new_key.clone();
        bumped.storage_credentials_wo_version = Field::Known(Number::Int(2));
        let plan = plan_update(&prior, &bumped, false);
        assert!(plan.changes.location);
        let request = build_request(&plan.planned, &plan.changes).expect("a request");
        assert!(request
            .backup_base_uri
            .expect("the URI")
            .contains("access_key=c"));
        // Moving from storage_credentials to the write-only form sends the location once.
        let mut sensitive = write_only.clone();
        sensitive.storage_credentials = sensitive.storage_credentials_wo.clone();
        sensitive.storage_credentials_wo = Field::Null;
        sensitive.storage_credentials_wo_version = Field::Null;
        let prior_sensitive = state_of(&sensitive);
        assert!(
            plan_update(&prior_sensitive, &write_only, false)
                .changes
                .location
        );
        // After an import, a version in the configuration is adopted, not sent.
        let mut imported_prior = prior.clone();
        imported_prior.storage_credentials_wo_version = Field::Null;
        let plan = plan_update(&imported_prior, &write_only, true);
        assert!(plan.changes.is_empty());
        assert_eq!(plan.adopted, vec!["storage_credentials_wo_version"]);
    }

    #[test]
    fn unset_read_back_attributes_keep_the_prior_value() {
        let prior = state_of(&config());
        let mut new_config = config();
        new_config.archive_lag_target = Field::Null;
        let plan = plan_update(&prior, &new_config, false);
        assert_eq!(plan.planned.archive_lag_target, known("2m"));
        assert!(plan.changes.is_empty());
    }

    #[test]
    fn respellings_plan_the_prior_value_and_changes_plan_the_configuration() {
        let prior = state_of(&config());
        let mut new_config = config();
        new_config.archive_lag_target = known("120s");
        new_config.binding = known("OPTIONAL");
        let plan = plan_update(&prior, &new_config, false);
        assert_eq!(plan.planned.archive_lag_target, known("2m"));
        assert_eq!(plan.planned.binding, prior.binding);
        assert!(plan.changes.is_empty());
        new_config.archive_lag_target = known("3m");
        new_config.binding = known("MANDATORY");
        let plan = plan_update(&prior, &new_config, false);
        assert_eq!(plan.planned.archive_lag_target, known("3m"));
        assert_eq!(plan.planned.binding, known("MANDATORY"));
        assert_eq!(plan.planned.id, known("1726"));
        assert_eq!(plan.planned.restore_archive_log, Field::Known(true));
    }

    #[test]
    fn after_import_unreadable_fields_are_adopted_without_a_request() {
        let mut prior = state_of(&BackupConfigModel {
            binding: Field::Null,
            piece_switch_interval: Field::Null,
            delete_policy: Field::Null,
            ..config()
        });
        prior.restore_archive_log = Field::Known(true);
        let plan = plan_update(&prior, &config(), true);
        assert!(plan.changes.is_empty(), "{:?}", plan.changes);
        assert_eq!(
            plan.adopted,
            ["binding", "piece_switch_interval", "delete_policy"]
        );
        // Without the import marker, setting a delete policy is a real change.
        let plan = plan_update(&prior, &config(), false);
        assert_eq!(plan.changes.attribute_names(), ["delete_policy"]);
        // When the location group is sent anyway (here a new URI), binding and
        // piece_switch_interval go with it and are not adopted; delete_policy still is.
        let mut moved = config();
        moved.backup_base_uri = known("file:///elsewhere");
        let plan = plan_update(&prior, &moved, true);
        assert_eq!(
            plan.changes.attribute_names(),
            ["backup_base_uri", "binding", "piece_switch_interval"]
        );
        assert_eq!(plan.adopted, ["delete_policy"]);
        // An import that fills fields and changes another sends the change only.
        let mut changed = config();
        changed.log_archive_concurrency = Field::Known(Number::Int(9));
        let plan = plan_update(&prior, &changed, true);
        assert_eq!(plan.changes.attribute_names(), ["log_archive_concurrency"]);
    }

    #[test]
    fn a_missing_destination_is_sent_not_adopted_unless_an_import_could_not_read_it() {
        let mut prior = state_of(&config());
        prior.backup_base_uri = Field::Null;
        // An import without `sql_endpoint` cannot read the URI: the configuration's is adopted.
        let plan = plan_update_verified(&prior, &config(), true, false);
        assert_eq!(plan.adopted, ["backup_base_uri"]);
        assert!(!plan.changes.location, "{:?}", plan.changes);
        // Read through SQL (the cluster has no destination) or after the first apply, null is what
        // the cluster has: the configured URI is sent.
        for (imported, sql_read) in [(true, true), (false, false), (false, true)] {
            let plan = plan_update_verified(&prior, &config(), imported, sql_read);
            assert!(
                plan.changes.location,
                "imported {imported}, sql_read {sql_read}"
            );
            assert!(plan.adopted.is_empty(), "{:?}", plan.adopted);
        }
    }

    #[test]
    fn storage_credentials_are_adopted_only_after_an_import() {
        let mut with_credentials = config();
        with_credentials.backup_base_uri = known("oss://b/k?host=h");
        with_credentials.storage_credentials = Field::Known(StorageCredentialsModel {
            access_id: known("a"),
            access_key: known("b"),
        });
        // An import cannot read credentials: the configured ones are taken as the cluster's.
        let mut imported = state_of(&with_credentials);
        imported.storage_credentials = Field::Null;
        let plan = plan_update(&imported, &with_credentials, true);
        assert_eq!(plan.adopted, ["storage_credentials"]);
        assert!(plan.changes.is_empty(), "{:?}", plan.changes);
        // Otherwise credentials new to the state (e.g. moved from storage_credentials_wo) are
        // sent with the location.
        let plan = plan_update(&imported, &with_credentials, false);
        assert!(plan.changes.location, "{:?}", plan.changes);
        assert!(plan.adopted.is_empty(), "{:?}", plan.adopted);
    }

    #[test]
    fn an_unknown_access_id_names_the_credentials_attribute_in_use() {
        let changes = ChangeSet {
            location: true,
            ..ChangeSet::default()
        };
        let unknown_id = Field::Known(StorageCredentialsModel {
            access_id: Field::Unknown,
            access_key: known("k"),
        });
        let mut planned = config();
        planned.backup_base_uri = known("oss://b/k?host=h");
        planned.storage_credentials = unknown_id.clone();
        let error = build_request(&planned, &changes).expect_err("an unknown access_id");
        assert_eq!(
            error.to_string(),
            "storage_credentials.access_id is not known"
        );
        planned.storage_credentials = Field::Null;
        planned.storage_credentials_wo = unknown_id;
        let error = build_request(&planned, &changes).expect_err("an unknown access_id");
        assert_eq!(
            error.to_string(),
            "storage_credentials_wo.access_id is not known"
        );
    }

    #[test]
    fn create_plan_and_request() {
        let mut create_config = config();
        create_config.ha_low_thread_score = Field::Null;
        let planned = plan_create(&create_config);
        assert!(planned.id.is_unknown() && planned.tenants.is_unknown());
        assert!(planned.ha_low_thread_score.is_unknown());
        assert_eq!(planned.restore_archive_log, Field::Known(true));
        assert_eq!(
            planned.delete_policy.known().map(|p| p.policy.clone()),
            Some(known("default"))
        );
        let changes = create_changes(&planned);
        assert!(!changes.ha_low_thread_score && changes.location && changes.delete_policy);
        let request = build_request(&planned, &changes).expect("request");
        assert_eq!(
            request,
            ConfigRequest {
                backup_base_uri: Some("file:///data/backup".to_owned()),
                log_archive_concurrency: Some(4),
                binding: Some("OPTIONAL".to_owned()),
                ha_low_thread_score: None,
                piece_switch_interval: Some("1d".to_owned()),
                archive_lag_target: Some("2m".to_owned()),
                delete_policy: Some(("default".to_owned(), "7d".to_owned())),
            }
        );
    }

    #[test]
    fn object_store_requests_need_credentials_and_hide_them() {
        let mut object_config = config();
        object_config.backup_base_uri = known("oss://b/k?host=h");
        object_config.piece_switch_interval = known("2D");
        let planned = plan_create(&object_config);
        let changes = create_changes(&planned);
        assert_eq!(
            build_request(&planned, &changes),
            Err(RequestError::CredentialsRequired)
        );
        object_config.storage_credentials = Field::Known(StorageCredentialsModel {
            access_id: known("AKID"),
            access_key: known("SECRETKEY"),
        });
        let planned = plan_create(&object_config);
        let request = build_request(&planned, &changes).expect("request");
        assert_eq!(
            request.backup_base_uri.as_deref(),
            Some("oss://b/k?host=h&access_id=AKID&access_key=SECRETKEY")
        );
        assert_eq!(request.piece_switch_interval.as_deref(), Some("2d"));
        assert!(!format!("{request:?}").contains("SECRETKEY"));
    }
}

//! The resource's private state: bytes Terraform keeps beside the state and hands back on the
//! next plan, apply and read. JSON of [`PrivateState`].
//!
//! It records that the state came from an import (so the first update may adopt fields obshell
//! cannot read), and an update whose DAG outlived its apply, with the values it sent (design §3,
//! "Failures after obshell accepted a request"). It is stored in the state file, like the
//! sensitive `storage_credentials`.
//!
//! When that update sent the location with the sensitive `storage_credentials`,
//! [`SentValues::storage_credentials`] holds them in clear JSON: the Read that sees the DAG
//! succeed needs them to adopt what obshell now uses (obshell never returns credentials). The
//! state file holds them in clear anyway, as the sensitive attribute's value; the resource docs
//! say so. `Debug` never shows them. With the write-only `storage_credentials_wo` nothing of the
//! credentials is recorded: only [`SentValues::write_only_credentials`], that the location needs
//! them, which the configuration gives again on the next apply, and the version number sent.

use serde::{Deserialize, Serialize};

use crate::tf::Number;

use super::model::{BackupConfigModel, DeletePolicyModel, Field, StorageCredentialsModel};
use super::plan::ChangeSet;

/// The private state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PrivateState {
    /// The state came from an import, and neither an apply nor a second refresh has been saved
    /// since: the plan may still adopt fields obshell cannot read (see [`Self::after_refresh`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
    /// Refreshes read since the import (the import's own refresh is the first).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub import_refreshes: u8,
    /// `binding` and `piece_switch_interval`, when null in state, are not known to be the
    /// cluster's: the state came from an import, obshell cannot report them, and no location
    /// write has succeeded since. A change that sends the location then warns what it sends for
    /// them. Unlike `imported`, this outlives the end of adoption.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub location_unverified: bool,
    /// An update whose DAG was still running (or unknown) when apply returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingUpdate>,
    /// While tenants disagree on a read-back attribute, the value Read compares them with, so a
    /// refresh reports the same value every time (see [`ReadReferences`]).
    #[serde(default, skip_serializing_if = "ReadReferences::is_empty")]
    pub references: ReadReferences,
    /// The last successful location write and the user tenants it covered; `None` before the
    /// first one this provider version saw (an older state, an import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationWrite>,
    /// Set by a plan (and only seen by its apply): the tenants that plan configures with obshell's
    /// tenant-level call instead of the cluster call, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configure_tenants: Option<Vec<i64>>,
    /// Tenants that were archiving before a write of this resource stopped archive log and that
    /// the provider did not (successfully) reopen; kept until a read shows them archiving again
    /// or gone (see `archive_log.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_log_stopped: Option<StoppedArchiveLog>,
    /// Set by a create's plan (and only seen by its apply): the create adopts an earlier create
    /// that obshell applied after its apply stopped following it, and sends nothing if the
    /// cluster still matches at apply (see `adoption.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt_create: Option<super::adoption::AdoptCreate>,
    /// Parameters a successful write sent that some tenant showed on no server yet when the
    /// apply read back (OceanBase spreads a change to its servers asynchronously); a refresh
    /// soon after takes that old value for lag, not drift (see `super::lag`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unarrived: Vec<UnarrivedWrite>,
    /// Written by the refresh that found this tainted object's create succeeded with every tenant
    /// holding what it sent, and dropped by the next refresh: the destroy of the tainted object
    /// in that run's apply hands it to the apply's provider process (see `adoption.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_create: Option<super::adoption::SucceededCreate>,
}

/// Tenants whose archive log this resource's write left stopped, by name, in tenant-id order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoppedArchiveLog {
    /// The tenant names.
    pub tenants: Vec<String>,
}

/// A parameter a successful write sent to a tenant whose servers all still showed another value
/// when the apply read it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnarrivedWrite {
    /// The tenant id.
    pub tenant_id: i64,
    /// The parameter, as obshell names it.
    pub parameter: String,
    /// The value sent, as obshell received it.
    pub written: String,
    /// The values the tenant's servers showed instead: only these can still be lag.
    pub before: Vec<String>,
    /// When the write was seen to succeed: the provider's clock, Unix milliseconds.
    pub at_unix_ms: i64,
}

/// For each read-back attribute on which the tenants disagree, the value the state held when the
/// disagreement was first read (or the lowest tenant id's value when the state held none). Read
/// reports the value of the lowest tenant id that differs from it, which does not change when the
/// refreshed state is saved: a second `terraform plan -refresh-only` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReadReferences {
    /// `backup_base_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_base_uri: Option<String>,
    /// `log_archive_concurrency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_archive_concurrency: Option<i64>,
    /// `ha_low_thread_score`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha_low_thread_score: Option<i64>,
    /// `archive_lag_target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_lag_target: Option<String>,
}

impl ReadReferences {
    /// True when no attribute is in disagreement.
    pub fn is_empty(&self) -> bool {
        *self == ReadReferences::default()
    }

    /// Forgets the attributes a successful write sent to every tenant: they agree now.
    pub fn forget_sent(&mut self, changes: &ChangeSet) {
        if changes.location {
            self.backup_base_uri = None;
        }
        if changes.log_archive_concurrency {
            self.log_archive_concurrency = None;
        }
        if changes.ha_low_thread_score {
            self.ha_low_thread_score = None;
        }
        if changes.archive_lag_target {
            self.archive_lag_target = None;
        }
    }
}

/// A location write (`backup_base_uri` with binding and piece_switch_interval) that succeeded,
/// and the user tenants it reached: those that existed before it was sent (obshell's DAG configures
/// every user tenant that exists when it runs, so none of them was missed). A NORMAL user tenant
/// not in `tenant_ids` appeared since and has no destination from this resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationWrite {
    /// `backup_base_uri` as the state held it (never credentials).
    pub backup_base_uri: String,
    /// The tenant ids it covered, ascending.
    pub tenant_ids: Vec<i64>,
}

impl LocationWrite {
    /// Whether the write covered `tenant_id`.
    pub fn covers(&self, tenant_id: i64) -> bool {
        self.tenant_ids.binary_search(&tenant_id).is_ok()
    }

    /// The same write, now also covering `more`.
    pub fn with_tenants(&self, more: impl IntoIterator<Item = i64>) -> LocationWrite {
        let mut tenant_ids = self.tenant_ids.clone();
        tenant_ids.extend(more);
        tenant_ids.sort_unstable();
        tenant_ids.dedup();
        LocationWrite {
            backup_base_uri: self.backup_base_uri.clone(),
            tenant_ids,
        }
    }
}

/// An update that obshell accepted but the provider did not see finish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingUpdate {
    /// The DAG's generic id.
    pub dag_id: String,
    /// The values the request carried, in the state's spelling.
    pub sent: SentValues,
    /// The request stops archive log on every user tenant (it carries the URI or
    /// `log_archive_concurrency`), so a Read that sees the DAG succeed must say that archive log
    /// was not reopened.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stops_archive_log: bool,
    /// The user tenants that were archiving when the apply sent the request; `None` when obshell
    /// (before 4.3.2) could not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archiving_tenants: Option<Vec<String>>,
    /// The request was a create (POST), which Terraform tainted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
    /// When the request's answer was lost and several DAGs may be the one it started: the others
    /// beside `dag_id` (generic ids). Read resolves them together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_candidates: Vec<String>,
    /// The DAG(s) were found by the lost-write search, not named by the request's answer: any of
    /// them may be another client's while the request started nothing, so a Read that sees them
    /// succeed adopts `sent` only when the cluster shows it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub found_by_search: bool,
}

/// The state values of the fields an update sent; `None` for fields it did not send.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SentValues {
    /// The location group was sent.
    #[serde(default)]
    pub location: bool,
    /// `backup_base_uri`.
    #[serde(default)]
    pub backup_base_uri: Option<String>,
    /// `storage_credentials` as (access_id, access_key).
    #[serde(default)]
    pub storage_credentials: Option<(String, String)>,
    /// The location went with the write-only `storage_credentials_wo`, which are never recorded:
    /// re-sending the location needs them from the configuration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write_only_credentials: bool,
    /// `storage_credentials_wo_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_credentials_wo_version: Option<f64>,
    /// `binding`.
    #[serde(default)]
    pub binding: Option<String>,
    /// `piece_switch_interval`.
    #[serde(default)]
    pub piece_switch_interval: Option<String>,
    /// `log_archive_concurrency`.
    #[serde(default)]
    pub log_archive_concurrency: Option<i64>,
    /// `ha_low_thread_score`.
    #[serde(default)]
    pub ha_low_thread_score: Option<i64>,
    /// `archive_lag_target`.
    #[serde(default)]
    pub archive_lag_target: Option<String>,
    /// `delete_policy` as (policy, recovery_window).
    #[serde(default)]
    pub delete_policy: Option<(String, String)>,
}

impl std::fmt::Debug for SentValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentValues")
            .field("location", &self.location)
            .field("backup_base_uri", &self.backup_base_uri)
            .field("write_only_credentials", &self.write_only_credentials)
            .field(
                "storage_credentials_wo_version",
                &self.storage_credentials_wo_version,
            )
            .field("log_archive_concurrency", &self.log_archive_concurrency)
            .field("ha_low_thread_score", &self.ha_low_thread_score)
            .field("archive_lag_target", &self.archive_lag_target)
            .field("delete_policy", &self.delete_policy)
            .finish_non_exhaustive()
    }
}

fn is_zero(count: &u8) -> bool {
    *count == 0
}

/// The refreshes after which an import's adoption ends: the import's own refresh, and the one
/// the first plan after it reads. A third refresh can only come from a state Terraform saved
/// after a second refresh (`terraform apply` with no changes, `apply -refresh-only`, `refresh`),
/// which is where design §3 ends adoption.
const IMPORT_REFRESHES: u8 = 2;

impl PrivateState {
    /// The private state of a fresh import.
    pub fn imported() -> PrivateState {
        PrivateState {
            imported: true,
            location_unverified: true,
            ..PrivateState::default()
        }
    }

    /// Counts one refresh. An import's adoption (`imported`) lasts for the import's own refresh
    /// and the refresh of the first plan after it; Terraform hands a later refresh only the
    /// private state of a saved refresh, and from that one on edits are sent like any other.
    pub fn after_refresh(&mut self) {
        if !self.imported {
            return;
        }
        self.import_refreshes = self.import_refreshes.saturating_add(1);
        if self.import_refreshes > IMPORT_REFRESHES {
            self.imported = false;
            self.import_refreshes = 0;
        }
    }

    /// What stays recorded after a successful apply that sent the location group (`location`)
    /// or did not: the import's adoption ends, whether binding and piece_switch_interval are
    /// unverified stays as it was unless the location was sent, the references of tenants that
    /// disagree stay (see [`ReadReferences::forget_sent`] for a write that succeeded), and the
    /// last location write's record is kept (and replaced by the caller when this apply's write
    /// succeeded, see `ops::read_back`), as are the record of archive log left stopped and the
    /// parameters still on their way to the servers (`unarrived`, updated by `ops::read_back`
    /// after a write).
    pub fn after_apply(&self, location: bool) -> PrivateState {
        PrivateState {
            location_unverified: self.location_unverified && !location,
            references: self.references.clone(),
            location: self.location.clone(),
            archive_log_stopped: self.archive_log_stopped.clone(),
            unarrived: self.unarrived.clone(),
            ..PrivateState::default()
        }
    }

    /// Decodes private bytes; empty or unreadable bytes mean "nothing recorded".
    pub fn decode(bytes: &[u8]) -> PrivateState {
        if bytes.is_empty() {
            return PrivateState::default();
        }
        serde_json::from_slice(bytes).unwrap_or_else(|error| {
            tracing::warn!(%error, "ignoring unreadable private state");
            PrivateState::default()
        })
    }

    /// Encodes to bytes; nothing recorded is empty.
    pub fn encode(&self) -> Vec<u8> {
        if *self == PrivateState::default() {
            return Vec::new();
        }
        // Serialising plain strings, numbers and bools to JSON cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl SentValues {
    /// The planned values of the fields `changes` sends.
    pub fn from_plan(planned: &BackupConfigModel, changes: &ChangeSet) -> SentValues {
        let mut sent = SentValues::default();
        if changes.location {
            sent.location = true;
            sent.backup_base_uri = planned.backup_base_uri.known().cloned();
            sent.storage_credentials = planned
                .storage_credentials
                .known()
                .and_then(|c| Some((c.access_id.known()?.clone(), c.access_key.known()?.clone())));
            sent.write_only_credentials =
                planned.storage_credentials.is_null() && !planned.storage_credentials_wo.is_null();
            sent.storage_credentials_wo_version = planned
                .storage_credentials_wo_version
                .known()
                .map(|number| match *number {
                    Number::Int(n) => n as f64,
                    Number::Float(f) => f,
                });
            sent.binding = planned.binding.known().cloned();
            sent.piece_switch_interval = planned.piece_switch_interval.known().cloned();
        }
        if changes.log_archive_concurrency {
            sent.log_archive_concurrency = planned
                .log_archive_concurrency
                .known()
                .and_then(Number::as_i64);
        }
        if changes.ha_low_thread_score {
            sent.ha_low_thread_score = planned.ha_low_thread_score.known().and_then(Number::as_i64);
        }
        if changes.archive_lag_target {
            sent.archive_lag_target = planned.archive_lag_target.known().cloned();
        }
        if changes.delete_policy {
            sent.delete_policy = planned.delete_policy.known().and_then(|p| {
                Some((
                    p.policy.known()?.clone(),
                    p.recovery_window.known()?.clone(),
                ))
            });
        }
        sent
    }

    /// Writes the sent values into `state`, as when the DAG is known to have applied them.
    pub fn adopt_into(&self, state: &mut BackupConfigModel) {
        if self.location {
            if let Some(uri) = &self.backup_base_uri {
                state.backup_base_uri = Field::Known(uri.clone());
            }
            state.storage_credentials = match &self.storage_credentials {
                Some((access_id, access_key)) => Field::Known(StorageCredentialsModel {
                    access_id: Field::Known(access_id.clone()),
                    access_key: Field::Known(access_key.clone()),
                }),
                None => Field::Null,
            };
            state.storage_credentials_wo_version = self
                .storage_credentials_wo_version
                .map(|version| match Number::Float(version).as_i64() {
                    Some(whole) => Number::Int(whole),
                    None => Number::Float(version),
                })
                .into();
            state.binding = self.binding.clone().into();
            state.piece_switch_interval = self.piece_switch_interval.clone().into();
        }
        if let Some(n) = self.log_archive_concurrency {
            state.log_archive_concurrency = Field::Known(Number::Int(n));
        }
        if let Some(n) = self.ha_low_thread_score {
            state.ha_low_thread_score = Field::Known(Number::Int(n));
        }
        if let Some(lag) = &self.archive_lag_target {
            state.archive_lag_target = Field::Known(lag.clone());
        }
        if let Some((policy, window)) = &self.delete_policy {
            state.delete_policy = Field::Known(DeletePolicyModel {
                policy: Field::Known(policy.clone()),
                recovery_window: Field::Known(window.clone()),
            });
        }
    }
}

/// The state after an update whose outcome is unknown: the planned state, except that every
/// field the request carried keeps its prior value (obshell may not have applied it, and cannot
/// show us), and `tenants` stays as before.
pub fn state_keeping_prior_sent_fields(
    prior: &BackupConfigModel,
    planned: &BackupConfigModel,
    changes: &ChangeSet,
) -> BackupConfigModel {
    let mut state = planned.clone();
    if changes.location {
        state.backup_base_uri = prior.backup_base_uri.clone();
        state.storage_credentials = prior.storage_credentials.clone();
        state.storage_credentials_wo_version = prior.storage_credentials_wo_version.clone();
        state.binding = prior.binding.clone();
        state.piece_switch_interval = prior.piece_switch_interval.clone();
    }
    if changes.log_archive_concurrency {
        state.log_archive_concurrency = prior.log_archive_concurrency.clone();
    }
    if changes.ha_low_thread_score {
        state.ha_low_thread_score = prior.ha_low_thread_score.clone();
    }
    if changes.archive_lag_target {
        state.archive_lag_target = prior.archive_lag_target.clone();
    }
    if changes.delete_policy {
        state.delete_policy = prior.delete_policy.clone();
    }
    state.tenants = prior.tenants.clone();
    state.without_unknowns()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_only_credentials_are_recorded_as_needed_never_as_values() {
        let mut planned = BackupConfigModel::empty();
        planned.backup_base_uri = Field::Known("oss://b/k?host=h".to_owned());
        planned.storage_credentials_wo = Field::Known(StorageCredentialsModel {
            access_id: Field::Known("WO-ID-1".to_owned()),
            access_key: Field::Known("WO-KEY-2".to_owned()),
        });
        planned.storage_credentials_wo_version = Field::Known(Number::Int(7));
        let changes = ChangeSet {
            location: true,
            ..ChangeSet::default()
        };
        let sent = SentValues::from_plan(&planned, &changes);
        assert!(sent.write_only_credentials);
        assert_eq!(sent.storage_credentials, None);
        let bytes = PrivateState {
            pending: Some(PendingUpdate {
                found_by_search: false,
                dag_id: "9".to_owned(),
                sent: sent.clone(),
                stops_archive_log: true,
                archiving_tenants: None,
                create: false,
                other_candidates: Vec::new(),
            }),
            ..PrivateState::default()
        }
        .encode();
        let text = String::from_utf8(bytes).expect("JSON");
        assert!(
            !text.contains("WO-ID-1") && !text.contains("WO-KEY-2"),
            "{text}"
        );
        assert!(text.contains("\"write_only_credentials\":true"), "{text}");
        // The task succeeded: the state takes the version, and no credential at all.
        let mut state = BackupConfigModel::empty();
        sent.adopt_into(&mut state);
        assert_eq!(state.storage_credentials, Field::Null);
        assert_eq!(state.storage_credentials_wo, Field::Null);
        assert_eq!(
            state.storage_credentials_wo_version,
            Field::Known(Number::Int(7))
        );
        // Its outcome unknown: the prior version stays, so the next plan sends them again.
        let mut prior = BackupConfigModel::empty();
        prior.storage_credentials_wo_version = Field::Known(Number::Int(6));
        let kept = state_keeping_prior_sent_fields(&prior, &planned, &changes);
        assert_eq!(
            kept.storage_credentials_wo_version,
            Field::Known(Number::Int(6))
        );
        assert_eq!(kept.storage_credentials_wo, Field::Null);
    }

    #[test]
    fn an_apply_keeps_the_last_location_writes_record_for_the_caller_to_replace() {
        let private = PrivateState {
            location: Some(LocationWrite {
                backup_base_uri: "file:///data/backup".to_owned(),
                tenant_ids: vec![1002, 1004],
            }),
            ..PrivateState::default()
        };
        // Which tenants the last location write covered decides which new tenants need the
        // tenant-level call: an apply that does not replace it must not forget it.
        for location_sent in [false, true] {
            assert_eq!(
                private.after_apply(location_sent).location,
                private.location
            );
        }
        // The encoding leaves out what is at its default (an import count of zero included).
        let encoded = String::from_utf8(private.encode()).expect("JSON");
        assert!(
            encoded.contains("1004") && !encoded.contains("import_refreshes"),
            "{encoded}"
        );
    }

    #[test]
    fn import_adoption_ends_at_the_third_refresh_but_the_location_stays_unverified() {
        let mut private = PrivateState::imported();
        // The import's own refresh, then the first plan's.
        for _ in 0..2 {
            private.after_refresh();
            assert!(private.imported);
        }
        // A refresh of a saved refresh.
        private.after_refresh();
        assert!(!private.imported);
        assert!(private.location_unverified);
        private.after_refresh();
        assert!(!private.imported);
        assert!(private.after_apply(false).location_unverified);
        assert_eq!(private.after_apply(true), PrivateState::default());
        // Private states written before the count existed start counting from the import.
        let mut old = PrivateState::decode(br#"{"imported":true}"#);
        old.after_refresh();
        assert!(old.imported);
    }

    #[test]
    fn private_state_round_trips_and_empty_is_default() {
        assert_eq!(PrivateState::decode(b""), PrivateState::default());
        assert!(PrivateState::default().encode().is_empty());
        let state = PrivateState {
            imported: true,
            import_refreshes: 1,
            location_unverified: true,
            references: ReadReferences {
                archive_lag_target: Some("2m".to_owned()),
                ..ReadReferences::default()
            },
            location: Some(LocationWrite {
                backup_base_uri: "file:///a".to_owned(),
                tenant_ids: vec![1002, 1004],
            }),
            configure_tenants: Some(vec![1006]),
            archive_log_stopped: Some(StoppedArchiveLog {
                tenants: vec!["t2".to_owned()],
            }),
            adopt_create: Some(super::super::adoption::AdoptCreate {
                dag_id: "11".to_owned(),
                cluster_id: "1726000000".to_owned(),
                archiving_tenants: Some(vec!["t1".to_owned()]),
                stops_archive_log: true,
                sent: SentValues {
                    backup_base_uri: Some("file:///a".to_owned()),
                    location: true,
                    ..SentValues::default()
                },
            }),
            succeeded_create: None,
            pending: Some(PendingUpdate {
                found_by_search: false,
                dag_id: "142".to_owned(),
                sent: SentValues {
                    archive_lag_target: Some("3m".to_owned()),
                    ..SentValues::default()
                },
                stops_archive_log: true,
                archiving_tenants: Some(vec!["t1".to_owned()]),
                create: false,
                other_candidates: vec!["143".to_owned()],
            }),
            unarrived: vec![UnarrivedWrite {
                tenant_id: 1002,
                parameter: "archive_lag_target".to_owned(),
                written: "3m".to_owned(),
                before: vec!["2m".to_owned()],
                at_unix_ms: 1_764_500_000_000,
            }],
        };
        assert_eq!(PrivateState::decode(&state.encode()), state);
        assert_eq!(PrivateState::decode(b"not json"), PrivateState::default());
    }

    #[test]
    fn prior_values_are_kept_for_sent_fields_and_adopted_later() {
        let mut prior = BackupConfigModel::empty();
        prior.backup_base_uri = Field::Known("file:///a".to_owned());
        prior.archive_lag_target = Field::Known("2m".to_owned());
        prior.ha_low_thread_score = Field::Known(Number::Int(1));
        let mut planned = prior.clone();
        planned.archive_lag_target = Field::Known("3m".to_owned());
        planned.binding = Field::Known("mandatory".to_owned());
        planned.tenants = Field::Unknown;
        let changes = ChangeSet {
            archive_lag_target: true,
            ..ChangeSet::default()
        };
        let state = state_keeping_prior_sent_fields(&prior, &planned, &changes);
        assert_eq!(state.archive_lag_target, Field::Known("2m".to_owned()));
        assert_eq!(state.binding, Field::Known("mandatory".to_owned()));
        assert_eq!(state.tenants, Field::Null);
        let sent = SentValues::from_plan(&planned, &changes);
        let mut adopted = state.clone();
        sent.adopt_into(&mut adopted);
        assert_eq!(adopted.archive_lag_target, Field::Known("3m".to_owned()));
        assert_eq!(adopted.backup_base_uri, prior.backup_base_uri);
    }
}

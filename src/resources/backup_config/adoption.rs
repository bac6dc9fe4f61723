//! The replacement of a tainted create that obshell applied after all sends nothing.
//!
//! A create that obshell accepted but the apply stopped following is tainted, and its record
//! (`PendingUpdate` with `create`) lives in the tainted object's private state. Terraform plans
//! the replacement with no prior state and no private state, so the record cannot reach it that
//! way. But within one `terraform plan` or `apply` run, one provider process serves the tainted
//! object's ReadResource and then the replacement's PlanResourceChange. So when Read resolves
//! the create as succeeded, with every tenant read holding what it sent, it remembers that in
//! this process ([`SucceededCreates`], keyed by obshell endpoint and cluster id). The create's
//! plan on the same cluster whose values mean what that DAG sent puts [`AdoptCreate`] into its
//! planned private state (which saved plan files keep), and its apply reads the cluster again
//! and, when it still matches, returns the state without a request.
//!
//! Nothing here holds a secret beyond what the tainted object's private state already holds
//! ([`SentValues`], whose `Debug` hides credentials); the memory is never logged or persisted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::model::{BackupConfigModel, Field};
use super::plan::{plan_update_verified, with_defaults};
use super::private::SentValues;

/// A create that obshell applied after its apply stopped following it, as the Read that resolved
/// it saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SucceededCreate {
    /// The DAG's generic id.
    pub dag_id: String,
    /// What the create sent, in the state's spelling.
    pub sent: SentValues,
    /// The create stopped archive log on every user tenant (see `PendingUpdate`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stops_archive_log: bool,
    /// The user tenants that were archiving before it; `None` when obshell could not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archiving_tenants: Option<Vec<String>>,
}

/// Remembers the create a tainted object's private state records (`succeeded_create`, written by
/// the refresh that resolved it) for that object's cluster. Terraform's apply runs in a new
/// provider process, which plans and applies the tainted object's destroy before the
/// replacement's create (and plans that create again): the destroy is where the record reaches
/// this process.
pub fn remember_from_tainted(
    memory: &SucceededCreates,
    endpoint: &str,
    prior_state: &crate::tf::Value,
    private: &super::private::PrivateState,
) {
    // Terraform applies a replacement's destroy with the replacement's planned private state,
    // which holds the plan's marker; a destroy planned on its own gets the object's private state.
    if let Some(marker) = &private.adopt_create {
        memory.remember(
            endpoint,
            &marker.cluster_id,
            SucceededCreate {
                dag_id: marker.dag_id.clone(),
                sent: marker.sent.clone(),
                stops_archive_log: marker.stops_archive_log,
                archiving_tenants: marker.archiving_tenants.clone(),
            },
        );
        return;
    }
    let Some(created) = &private.succeeded_create else {
        return;
    };
    let Ok(prior) = BackupConfigModel::from_value(prior_state) else {
        return;
    };
    if let Some(cluster_id) = prior.id.known() {
        memory.remember(endpoint, cluster_id, created.clone());
    }
}

/// The succeeded creates Read resolved in this provider process, by (obshell endpoint, cluster
/// id). Cloning shares the memory.
#[derive(Clone, Default)]
pub struct SucceededCreates(Arc<Mutex<HashMap<(String, String), SucceededCreate>>>);

impl std::fmt::Debug for SucceededCreates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SucceededCreates")
            .field("clusters", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl SucceededCreates {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), SucceededCreate>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers that `create` succeeded on `cluster_id` behind `endpoint`.
    pub fn remember(&self, endpoint: &str, cluster_id: &str, create: SucceededCreate) {
        self.lock()
            .insert((endpoint.to_owned(), cluster_id.to_owned()), create);
    }

    /// Forgets what was remembered for `cluster_id` behind `endpoint`.
    pub fn forget(&self, endpoint: &str, cluster_id: &str) {
        self.lock()
            .remove(&(endpoint.to_owned(), cluster_id.to_owned()));
    }

    /// Whether anything is remembered for `endpoint` (so a create's plan reads the cluster id
    /// only when it could matter).
    pub fn any_for(&self, endpoint: &str) -> bool {
        self.lock().keys().any(|(known, _)| known == endpoint)
    }

    /// The create remembered for `cluster_id` behind `endpoint`.
    pub fn get(&self, endpoint: &str, cluster_id: &str) -> Option<SucceededCreate> {
        self.lock()
            .get(&(endpoint.to_owned(), cluster_id.to_owned()))
            .cloned()
    }
}

/// The planned private state's marker: this create adopts the earlier create's DAG instead of
/// sending, if the cluster still matches at apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdoptCreate {
    /// The earlier create's DAG.
    pub dag_id: String,
    /// The cluster it ran on.
    pub cluster_id: String,
    /// The tenants that were archiving before it (for the archive-log advice); `None` when
    /// unknown or when it did not stop archive log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archiving_tenants: Option<Vec<String>>,
    /// It stopped archive log on every user tenant.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stops_archive_log: bool,
    /// What it sent: the apply's provider process is another one, which learns the create from
    /// this marker when Terraform applies the tainted object's destroy (see
    /// [`remember_from_tainted`]) and plans the create again.
    #[serde(default)]
    pub sent: SentValues,
}

/// Whether a create of `config` would send what the earlier create sent, by meaning (`"2m"` and
/// `"120s"`, `file:///b` and `file:///b/`, the write-only credentials' version included): planned
/// as an update over a state holding exactly what was sent, it changes nothing. `sql_read` as in
/// `plan_update_verified`.
pub fn means_what_was_sent(sent: &SentValues, config: &BackupConfigModel, sql_read: bool) -> bool {
    let write_only =
        config.storage_credentials.is_null() && !config.storage_credentials_wo.is_null();
    if !sent.location || sent.write_only_credentials != write_only {
        return false;
    }
    let mut prior = with_defaults(BackupConfigModel::empty());
    prior.id = Field::Known(String::new());
    prior.tenants = Field::Null;
    sent.adopt_into(&mut prior);
    // A field the configuration sets now but the create did not send is a change below; one the
    // create sent but the configuration no longer sets is not (an update would not send it
    // either), and the adopted state reads it from the cluster.
    plan_update_verified(&prior, config, false, sql_read)
        .changes
        .is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::backup_config::model::DeletePolicyModel;
    use crate::resources::backup_config::plan::{create_changes, plan_create};
    use crate::tf::Number;

    fn config() -> BackupConfigModel {
        let mut config = BackupConfigModel::empty();
        config.backup_base_uri = Field::Known("file:///data/backup".to_owned());
        config.binding = Field::Known("optional".to_owned());
        config.archive_lag_target = Field::Known("2m".to_owned());
        config.log_archive_concurrency = Field::Known(Number::Int(4));
        config.delete_policy = Field::Known(DeletePolicyModel {
            policy: Field::Known("default".to_owned()),
            recovery_window: Field::Known("7d".to_owned()),
        });
        config
    }

    fn sent_by(config: &BackupConfigModel) -> SentValues {
        let planned = plan_create(config);
        SentValues::from_plan(&planned, &create_changes(&planned))
    }

    #[test]
    fn the_same_meaning_is_what_was_sent_and_any_other_value_is_not() {
        let sent = sent_by(&config());
        assert!(means_what_was_sent(&sent, &config(), false));
        let mut respelt = config();
        respelt.backup_base_uri = Field::Known("file:///data/backup/".to_owned());
        respelt.binding = Field::Known("OPTIONAL".to_owned());
        respelt.archive_lag_target = Field::Known("120s".to_owned());
        assert!(means_what_was_sent(&sent, &respelt, false));
        let edits: [fn(&mut BackupConfigModel); 5] = [
            |c| c.backup_base_uri = Field::Known("file:///other".to_owned()),
            |c| c.binding = Field::Known("mandatory".to_owned()),
            |c| c.archive_lag_target = Field::Known("3m".to_owned()),
            |c| c.ha_low_thread_score = Field::Known(Number::Int(7)),
            |c| c.storage_credentials_wo_version = Field::Known(Number::Int(2)),
        ];
        for edit in edits {
            let mut changed = config();
            edit(&mut changed);
            assert!(!means_what_was_sent(&sent, &changed, false), "{changed:?}");
        }
    }

    #[test]
    fn write_only_credentials_must_match_by_version() {
        use crate::resources::backup_config::model::StorageCredentialsModel;
        let mut with_wo = config();
        with_wo.backup_base_uri = Field::Known("s3://bucket/backup?host=h".to_owned());
        with_wo.storage_credentials_wo = Field::Known(StorageCredentialsModel {
            access_id: Field::Known("AK".to_owned()),
            access_key: Field::Known("SK".to_owned()),
        });
        with_wo.storage_credentials_wo_version = Field::Known(Number::Int(1));
        let sent = sent_by(&with_wo);
        assert!(means_what_was_sent(&sent, &with_wo, false));
        let mut bumped = with_wo.clone();
        bumped.storage_credentials_wo_version = Field::Known(Number::Int(2));
        assert!(!means_what_was_sent(&sent, &bumped, false));
        let mut sensitive = with_wo.clone();
        sensitive.storage_credentials = sensitive.storage_credentials_wo.clone();
        sensitive.storage_credentials_wo = Field::Null;
        sensitive.storage_credentials_wo_version = Field::Null;
        assert!(!means_what_was_sent(&sent, &sensitive, false));
    }

    #[test]
    fn remembers_by_endpoint_and_cluster_and_hides_what_was_sent() {
        let memory = SucceededCreates::default();
        let shared = memory.clone();
        assert!(!memory.any_for("http://a:2886"));
        shared.remember(
            "http://a:2886",
            "1",
            SucceededCreate {
                dag_id: "11".to_owned(),
                sent: SentValues {
                    storage_credentials: Some(("ID-SECRET".to_owned(), "KEY-SECRET".to_owned())),
                    ..SentValues::default()
                },
                stops_archive_log: true,
                archiving_tenants: None,
            },
        );
        assert!(memory.any_for("http://a:2886"));
        assert!(!memory.any_for("http://b:2886"));
        assert_eq!(
            memory.get("http://a:2886", "1").map(|c| c.dag_id),
            Some("11".to_owned())
        );
        assert_eq!(memory.get("http://a:2886", "2"), None);
        let debug = format!("{memory:?} {:?}", memory.get("http://a:2886", "1"));
        assert!(!debug.contains("SECRET"), "{debug}");
        memory.forget("http://a:2886", "1");
        assert!(!shared.any_for("http://a:2886"));
    }
}

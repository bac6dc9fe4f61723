//! `oceanbase_backup_config` driven through the `ProviderHandler` methods (no gRPC) against an
//! in-process obshell-sim, the way Terraform calls them: configure, read (refresh), plan, apply,
//! import, stop. The sim's request log shows what the provider sent.

use std::sync::Arc;
use std::time::Duration;

use obshell_sim::{ObshellVersion, SimConfig, SimHandle};
use serde_json::{json, Value as Json};
use terraform_provider_oceanbase::provider::Provider;
use terraform_provider_oceanbase::resources::backup_config::model::{
    BackupConfigModel, DeletePolicyModel, Field, TenantModel, TimeoutsModel,
};
use terraform_provider_oceanbase::resources::backup_config::private::PrivateState;
use terraform_provider_oceanbase::resources::BACKUP_CONFIG_TYPE;
use terraform_provider_oceanbase::tf::{
    ApplyRequest, ApplyResponse, ClientCapabilities, ConfigureRequest, Diagnostics, ImportRequest,
    Number, PlanRequest, PlanResponse, ProviderHandler, ReadRequest, ReadResponse, Severity, Value,
};

const PASSWORD: &str = "sim-root-password";
const CLUSTER_ID: i64 = 1_726_000_000;
/// A Terraform (1.11+) that supports write-only attributes.
const MODERN_TERRAFORM: ClientCapabilities = ClientCapabilities {
    deferral_allowed: true,
    write_only_attributes_allowed: true,
};

/// Update-path failures that once passed every test; found by mutation testing.
mod data_protection;
/// Issue 8: the state, the plan and CI's exit code never disagree with the cluster.
mod state_truth;

/// Tenants created after the last location write (issue 8, item 2).
mod new_tenants;
/// Node 2 failing part-way: state, warnings, refresh and convergence.
mod partial_failures;

/// Archive log the provider left stopped stays visible (issue 8, item 9).
mod stopped_archive_log;

/// The seeded chaos run (issue 9 item 8).
mod chaos;
/// Read-after-write lag: parameters spreading to servers, archive log in transition (issue 9
/// item 4).
mod lag;
/// A lost answer with two candidate DAGs under a skewed database clock (issue 9, item 5).
mod lost_write;
/// StopProvider and timeouts before and during the write (issue 8, item 3).
mod stop;

/// The replacement of a tainted create that obshell applied sends nothing (issue 8, item 4).
mod adoption;

struct Harness {
    sim: SimHandle,
    provider: Arc<Provider>,
    http: reqwest::Client,
}

/// A resource's stored state and private bytes, as Terraform keeps them.
#[derive(Clone, Debug)]
struct Stored {
    state: Value,
    private: Vec<u8>,
}

fn provider_block(endpoint: &str, password: &str) -> Value {
    let mut object = std::collections::BTreeMap::new();
    for name in [
        "ca_certificate",
        "client_certificate",
        "client_key",
        "request_timeout",
    ] {
        object.insert(name.to_owned(), Value::Null);
    }
    object.insert("endpoint".to_owned(), endpoint.into());
    object.insert("password".to_owned(), password.into());
    Value::Object(object)
}

impl Harness {
    async fn start(version: ObshellVersion) -> Harness {
        let sim = obshell_sim::spawn(
            SimConfig::new(PASSWORD)
                .with_obshell_version(version)
                .with_task_duration(Duration::from_millis(20)),
        )
        .await
        .expect("the sim starts");
        let harness = Harness {
            sim,
            provider: Arc::new(Provider::new("test")),
            http: reqwest::Client::new(),
        };
        let diagnostics = harness.configure(PASSWORD).await;
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        harness
    }

    async fn configure(&self, password: &str) -> Diagnostics {
        self.provider
            .configure(ConfigureRequest {
                terraform_version: "1.15.5".to_owned(),
                config: provider_block(&self.sim.base_url(), password),
            })
            .await
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Json) -> Json {
        let response = self
            .http
            .request(method, format!("{}/sim/v1/{path}", self.sim.base_url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("control request");
        let status = response.status();
        let bytes = response.bytes().await.expect("control answer");
        let body: Json = serde_json::from_slice(&bytes).expect("control answers JSON");
        assert!(status.is_success(), "control {path}: {status} {body}");
        body
    }

    async fn sim_state(&self) -> Json {
        self.control(reqwest::Method::GET, "state", json!({})).await
    }

    /// One tenant of the sim's state.
    async fn sim_tenant(&self, name: &str) -> Json {
        let state = self.sim_state().await;
        state["tenants"]
            .as_array()
            .expect("tenants")
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no tenant {name} in {state}"))
    }

    /// `PATCH /sim/v1/tenants/{name}`: what a DBA could set with SQL.
    async fn patch_tenant(&self, name: &str, patch: Json) -> Json {
        let path = format!("tenants/{name}");
        self.control(reqwest::Method::PATCH, &path, patch).await
    }

    /// Waits (at most 10 s) until no DAG on the sim is running.
    async fn wait_until_no_dag_runs(&self) {
        for _ in 0..500 {
            let dags = self.sim_state().await["dags"].clone();
            if dags
                .as_array()
                .is_some_and(|dags| dags.iter().all(|d| d["state"] != "RUNNING"))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("a DAG still runs on the sim after 10 s");
    }

    /// The backup-config writes the sim received since the last clear, as (method, body).
    async fn config_writes(&self) -> Vec<(String, Json)> {
        let log = self
            .control(reqwest::Method::GET, "requests", json!({}))
            .await;
        log.as_array()
            .expect("a list")
            .iter()
            .filter(|entry| entry["uri"] == "/api/v1/obcluster/backup/config")
            .map(|entry| {
                (
                    entry["method"].as_str().unwrap_or_default().to_owned(),
                    entry["body"].clone(),
                )
            })
            .collect()
    }

    async fn request_count(&self) -> usize {
        let log = self
            .control(reqwest::Method::GET, "requests", json!({}))
            .await;
        log.as_array().expect("a list").len()
    }

    async fn clear_requests(&self) {
        self.control(reqwest::Method::DELETE, "requests", json!({}))
            .await;
    }

    async fn plan(&self, prior: &Stored, config: &Value) -> PlanResponse {
        self.provider
            .plan_resource_change(PlanRequest {
                type_name: BACKUP_CONFIG_TYPE.to_owned(),
                prior_state: prior.state.clone(),
                proposed_new_state: config.clone(),
                config: config.clone(),
                prior_private: prior.private.clone(),
                client_capabilities: ClientCapabilities::default(),
            })
            .await
    }

    async fn apply(&self, prior: &Stored, plan: &PlanResponse, config: &Value) -> ApplyResponse {
        self.provider
            .apply_resource_change(ApplyRequest {
                type_name: BACKUP_CONFIG_TYPE.to_owned(),
                prior_state: prior.state.clone(),
                planned_state: plan.planned_state.clone(),
                config: config.clone(),
                planned_private: plan.planned_private.clone(),
            })
            .await
    }

    async fn read(&self, stored: &Stored) -> ReadResponse {
        self.provider
            .read_resource(ReadRequest {
                type_name: BACKUP_CONFIG_TYPE.to_owned(),
                current_state: stored.state.clone(),
                private: stored.private.clone(),
            })
            .await
    }

    /// Refresh, as `terraform plan` does first.
    async fn refresh(&self, stored: &Stored) -> Stored {
        let read = self.read(stored).await;
        check_no_errors(&read.diagnostics);
        Stored {
            state: read.new_state,
            private: read.private,
        }
    }

    /// Import by the cluster id, as `terraform import` does, and the refresh that follows; both
    /// must succeed.
    async fn import_ok(&self) -> Stored {
        let imported = self
            .provider
            .import_resource_state(ImportRequest {
                type_name: BACKUP_CONFIG_TYPE.to_owned(),
                id: CLUSTER_ID.to_string(),
            })
            .await;
        check_no_errors(&imported.diagnostics);
        let imported = &imported.imported[0];
        self.refresh(&Stored {
            state: imported.state.clone(),
            private: imported.private.clone(),
        })
        .await
    }

    /// Plans `config` over `prior`, a plan that must have no error, and applies it.
    async fn plan_and_apply(
        &self,
        prior: &Stored,
        config: &Value,
    ) -> (PlanResponse, ApplyResponse) {
        let plan = self.plan(prior, config).await;
        check_no_errors(&plan.diagnostics);
        let applied = self.apply(prior, &plan, config).await;
        (plan, applied)
    }

    /// Plan and apply a change that must succeed; returns the new stored state.
    async fn apply_ok(&self, prior: &Stored, config: &Value) -> Stored {
        let (plan, applied) = self.plan_and_apply(prior, config).await;
        check_no_errors(&applied.diagnostics);
        check_apply_matches_plan(&plan.planned_state, &applied.new_state);
        Stored {
            state: applied.new_state,
            private: applied.private,
        }
    }
}

fn empty() -> Stored {
    Stored {
        state: Value::Null,
        private: Vec::new(),
    }
}

fn text(value: &str) -> Field<String> {
    Field::Known(value.to_owned())
}

/// The design's example configuration, on file storage.
fn base_config() -> BackupConfigModel {
    let mut model = BackupConfigModel::empty();
    model.backup_base_uri = text("file:///data/backup");
    model.log_archive_concurrency = Field::Known(Number::Int(4));
    model.binding = text("optional");
    model.ha_low_thread_score = Field::Known(Number::Int(10));
    model.piece_switch_interval = text("1d");
    model.archive_lag_target = text("2m");
    model.delete_policy = Field::Known(DeletePolicyModel {
        policy: text("default"),
        recovery_window: text("7d"),
    });
    model
}

fn config_with(edit: impl FnOnce(&mut BackupConfigModel)) -> Value {
    let mut model = base_config();
    edit(&mut model);
    // A configuration: write-only values included.
    model.to_value_with_write_only()
}

fn model(value: &Value) -> BackupConfigModel {
    BackupConfigModel::from_value(value).expect("a resource object")
}

#[track_caller]
fn check_no_errors(diagnostics: &Diagnostics) {
    assert!(!diagnostics.has_errors(), "{diagnostics:#?}");
}

#[track_caller]
fn check_error_containing(diagnostics: &Diagnostics, needles: &[&str]) {
    let found = diagnostics.0.iter().any(|d| {
        d.severity == Severity::Error
            && needles
                .iter()
                .all(|needle| d.summary.contains(needle) || d.detail.contains(needle))
    });
    assert!(found, "no error containing {needles:?} in {diagnostics:#?}");
}

#[track_caller]
fn check_warning(diagnostics: &Diagnostics, summary_part: &str) {
    assert!(
        diagnostics
            .0
            .iter()
            .any(|d| d.severity == Severity::Warning && d.summary.contains(summary_part)),
        "no warning {summary_part:?} in {diagnostics:#?}"
    );
}

/// Terraform's rule: every known planned value must come back unchanged from apply.
#[track_caller]
fn check_apply_matches_plan(planned: &Value, applied: &Value) {
    match (planned, applied) {
        (Value::Unknown, applied) => assert!(!applied.contains_unknown()),
        (Value::Object(planned), Value::Object(applied)) => {
            for (name, planned_value) in planned {
                check_apply_matches_plan(planned_value, &applied[name]);
            }
        }
        // A known planned map (tenants) must come back with exactly its keys, as Terraform
        // requires, each element matching its plan.
        (Value::Map(planned), Value::Map(applied)) => {
            assert_eq!(
                planned.keys().collect::<Vec<_>>(),
                applied.keys().collect::<Vec<_>>(),
                "the applied map's keys differ from the plan's"
            );
            for (key, planned_value) in planned {
                check_apply_matches_plan(planned_value, &applied[key]);
            }
        }
        (planned, applied) => assert_eq!(planned, applied),
    }
}

/// A plan that Terraform shows as "no changes": planned equals prior.
#[track_caller]
fn check_empty_plan(prior: &Stored, plan: &PlanResponse) {
    check_no_errors(&plan.diagnostics);
    assert_eq!(plan.planned_state, prior.state, "the plan is not empty");
}

/// A plan that shows a change (`why` says which), without errors: planned differs from prior.
#[track_caller]
fn check_changes_planned(prior: &Stored, plan: &PlanResponse, why: &str) {
    check_no_errors(&plan.diagnostics);
    assert_ne!(plan.planned_state, prior.state, "{why}");
}

/// The user tenant ids the last successful location write covered, from a private state.
fn covered_ids(private: &[u8]) -> Option<Vec<i64>> {
    PrivateState::decode(private)
        .location
        .map(|location| location.tenant_ids)
}

async fn create_base(harness: &Harness) -> Stored {
    harness.apply_ok(&empty(), &base_config().to_value()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_refresh_plans_empty() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = base_config().to_value();
    let plan = harness.plan(&empty(), &config).await;
    check_no_errors(&plan.diagnostics);
    check_warning(&plan.diagnostics, "Archive log will stop");
    let planned = model(&plan.planned_state);
    assert!(planned.id.is_unknown() && planned.tenants.is_unknown());
    assert_eq!(planned.restore_archive_log, Field::Known(true));

    harness.clear_requests().await;
    let applied = harness.apply(&empty(), &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    let state = model(&applied.new_state);
    assert_eq!(state.id, text(&CLUSTER_ID.to_string()));
    assert_eq!(state.tenants.known().map(|t| t.len()), Some(2));
    let writes = harness.config_writes().await;
    assert_eq!(
        writes,
        [(
            "POST".to_owned(),
            json!({
                "backup_base_uri": "file:///data/backup",
                "log_archive_concurrency": 4,
                "binding": "OPTIONAL",
                "ha_low_thread_score": 10,
                "piece_switch_interval": "1d",
                "archive_lag_target": "2m",
                "delete_policy": {"policy": "default", "recovery_window": "7d"},
            })
        )]
    );

    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let refreshed = harness.refresh(&stored).await;
    assert_eq!(refreshed.state, stored.state, "refresh changed the state");
    harness.clear_requests().await;
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);
    assert!(harness.config_writes().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_over_existing_destinations_warns() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let plan = harness.plan(&empty(), &base_config().to_value()).await;
    assert!(
        !plan
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("overwritten")),
        "a fresh cluster has nothing to overwrite"
    );
    create_base(&harness).await;
    // The state was lost (or the resource tainted): the next create warns but is not refused.
    let config = config_with(|c| c.backup_base_uri = text("file:///other"));
    let plan = harness.plan(&empty(), &config).await;
    check_no_errors(&plan.diagnostics);
    check_warning(
        &plan.diagnostics,
        "Existing backup destinations will be overwritten",
    );
    let warning = plan
        .diagnostics
        .0
        .iter()
        .find(|d| d.summary.contains("overwritten"))
        .expect("the warning");
    assert!(
        warning.detail.contains("file:///data/backup"),
        "{}",
        warning.detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_sends_only_what_changed() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.clear_requests().await;
    let config = config_with(|c| c.archive_lag_target = text("3m"));
    let plan = harness.plan(&stored, &config).await;
    check_no_errors(&plan.diagnostics);
    assert!(
        !plan
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("Archive log")),
        "archive_lag_target does not stop archive log"
    );
    // Only what the request changes is unknown in tenants: the keys, ids and other fields stay.
    let planned_tenants = model(&plan.planned_state).tenants;
    let prior_tenants = model(&stored.state).tenants;
    let (planned_tenants, prior_tenants) = (
        planned_tenants.known().expect("a known map"),
        prior_tenants.known().expect("tenants"),
    );
    assert_eq!(
        planned_tenants.keys().collect::<Vec<_>>(),
        prior_tenants.keys().collect::<Vec<_>>()
    );
    for (name, tenant) in planned_tenants {
        let prior = &prior_tenants[name];
        assert!(tenant.archive_lag_target.is_unknown(), "{name}");
        assert_eq!(
            TenantModel {
                archive_lag_target: prior.archive_lag_target.clone(),
                ..tenant.clone()
            },
            *prior,
            "{name}"
        );
    }
    let applied = harness.apply(&stored, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    assert_eq!(
        harness.config_writes().await,
        [("PATCH".to_owned(), json!({"archive_lag_target": "3m"}))]
    );

    // Changing binding re-sends the whole LOG_ARCHIVE_DEST group.
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    harness.clear_requests().await;
    let config = config_with(|c| {
        c.archive_lag_target = text("3m");
        c.binding = text("MANDATORY");
    });
    harness.apply_ok(&stored, &config).await;
    assert_eq!(
        harness.config_writes().await,
        [(
            "PATCH".to_owned(),
            json!({"backup_base_uri": "file:///data/backup", "binding": "MANDATORY", "piece_switch_interval": "1d"})
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn respellings_and_timeouts_send_nothing() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    // The cluster reports the same value in another spelling.
    harness
        .patch_tenant("t1", json!({"parameters": {"archive_lag_target": "120s"}}))
        .await;
    let refreshed = harness.refresh(&stored).await;
    assert_eq!(model(&refreshed.state).archive_lag_target, text("2m"));
    let plan = harness.plan(&refreshed, &base_config().to_value()).await;
    check_empty_plan(&refreshed, &plan);

    // A respelled configuration plans no change at all: the plan keeps the prior spelling of
    // every attribute that means the same (Terraform accepts a planned value equal to the prior
    // one), so `plan -detailed-exitcode` exits 0.
    harness.clear_requests().await;
    let respelled = config_with(|c| {
        c.backup_base_uri = text("file:///data/backup/");
        c.archive_lag_target = text("120s");
        c.binding = text("OPTIONAL");
        c.piece_switch_interval = text("24h");
        c.delete_policy = Field::Known(DeletePolicyModel {
            policy: text("DEFAULT"),
            recovery_window: text("168h"),
        });
    });
    let plan = harness.plan(&refreshed, &respelled).await;
    check_empty_plan(&refreshed, &plan);
    let applied = harness.apply(&refreshed, &plan, &respelled).await;
    check_no_errors(&applied.diagnostics);
    assert_eq!(applied.new_state, refreshed.state);

    // A timeouts edit: an update without any request.
    let config = config_with(|c| {
        c.archive_lag_target = text("120s");
        c.timeouts = Field::Known(TimeoutsModel {
            create: text("2h"),
            update: Field::Null,
            read: Field::Null,
        });
    });
    let updated = harness.apply_ok(&refreshed, &config).await;
    assert_eq!(model(&updated.state).archive_lag_target, text("2m"));
    assert!(harness.config_writes().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_detected_and_corrected() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .patch_tenant(
            "t2",
            json!({"parameters": {"log_archive_concurrency": "9"}}),
        )
        .await;
    let refreshed = harness.refresh(&stored).await;
    let refreshed_model = model(&refreshed.state);
    assert_eq!(
        refreshed_model.log_archive_concurrency,
        Field::Known(Number::Int(9))
    );
    let plan = harness.plan(&refreshed, &base_config().to_value()).await;
    check_no_errors(&plan.diagnostics);
    assert_ne!(plan.planned_state, refreshed.state);
    check_warning(&plan.diagnostics, "Archive log will stop");
    harness.clear_requests().await;
    let applied = harness
        .apply(&refreshed, &plan, &base_config().to_value())
        .await;
    check_no_errors(&applied.diagnostics);
    assert_eq!(
        harness.config_writes().await,
        [("PATCH".to_owned(), json!({"log_archive_concurrency": 4}))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_drift_and_a_cleared_cluster() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .patch_tenant(
            "t1",
            json!({"data_dest": format!("file:///elsewhere/{CLUSTER_ID}/1002/data")}),
        )
        .await;
    let refreshed = harness.refresh(&stored).await;
    assert_eq!(
        model(&refreshed.state).backup_base_uri,
        text("file:///elsewhere")
    );

    for tenant in ["t1", "t2"] {
        harness
            .patch_tenant(tenant, json!({"archive_dest": null, "data_dest": ""}))
            .await;
    }
    let read = harness.read(&refreshed).await;
    check_no_errors(&read.diagnostics);
    assert_eq!(
        read.new_state,
        Value::Null,
        "no destination left: the resource is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_by_cluster_id_then_adopt_unreadable_fields() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    create_base(&harness).await;

    let wrong = harness
        .provider
        .import_resource_state(ImportRequest {
            type_name: BACKUP_CONFIG_TYPE.to_owned(),
            id: "42".to_owned(),
        })
        .await;
    check_error_containing(&wrong.diagnostics, &["1726000000"]);

    let stored = harness.import_ok().await;
    let state = model(&stored.state);
    assert_eq!(state.backup_base_uri, text("file:///data/backup"));
    assert_eq!(state.archive_lag_target, text("2m"));
    assert_eq!(state.log_archive_concurrency, Field::Known(Number::Int(4)));
    assert!(state.binding.is_null() && state.delete_policy.is_null());

    // A configuration generated from the state validates and plans empty.
    let mut generated = state.clone();
    generated.id = Field::Null;
    generated.tenants = Field::Null;
    let generated = generated.to_value();
    check_no_errors(&harness.provider.validate_resource_config(
        BACKUP_CONFIG_TYPE,
        &generated,
        MODERN_TERRAFORM,
    ));
    let plan = harness.plan(&stored, &generated).await;
    check_empty_plan(&stored, &plan);

    // The full configuration only fills unreadable fields: adopted without a request.
    harness.clear_requests().await;
    let config = base_config().to_value();
    let plan = harness.plan(&stored, &config).await;
    check_warning(&plan.diagnostics, "adopted without verification");
    let applied = harness.apply(&stored, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    assert!(harness.config_writes().await.is_empty());
    assert!(
        !terraform_provider_oceanbase::resources::backup_config::private::PrivateState::decode(
            &applied.private
        )
        .imported,
        "the import marker is cleared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_dag_keeps_the_prior_values() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .control(
            reqwest::Method::POST,
            "faults/dag",
            json!({"node": "Set backup config", "message": "set archive lag target failed", "code": "MySQL.Error"}),
        )
        .await;
    let config = config_with(|c| c.archive_lag_target = text("3m"));
    let plan = harness.plan(&stored, &config).await;
    let applied = harness.apply(&stored, &plan, &config).await;
    check_error_containing(
        &applied.diagnostics,
        &["Set backup config", "set archive lag target failed"],
    );
    let state = model(&applied.new_state);
    assert_eq!(state.archive_lag_target, text("2m"));
    assert!(
        PrivateState::decode(&applied.private).pending.is_none(),
        "a failed DAG leaves nothing pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_timeout_is_tainted_with_its_id() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = with_create_timeout(|_| {});
    let applied = harness.apply_held(&empty(), &config).await;
    let state = model(&applied.new_state);
    assert_eq!(state.id, text(&CLUSTER_ID.to_string()));
    assert!(!applied.new_state.contains_unknown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_timeout_is_resolved_by_the_next_read() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let config = with_update_timeout(|c| c.archive_lag_target = text("3m"));
    let applied = harness.apply_held(&stored, &config).await;
    let after = Stored {
        state: applied.new_state.clone(),
        private: applied.private.clone(),
    };
    assert_eq!(model(&after.state).archive_lag_target, text("2m"));
    assert!(
        PrivateState::decode(&after.private).pending.is_some(),
        "the DAG is recorded"
    );

    // While it runs, a read warns and keeps the prior values.
    let read = harness.read(&after).await;
    check_warning(&read.diagnostics, "still running");
    assert_eq!(model(&read.new_state).archive_lag_target, text("2m"));

    let dags = harness.sim_state().await["dags"].clone();
    let held = dags
        .as_array()
        .expect("dags")
        .iter()
        .find(|dag| dag["held"] == true)
        .expect("a held dag")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    harness
        .control(
            reqwest::Method::POST,
            &format!("dags/{held}/release"),
            json!({}),
        )
        .await;
    let mut resolved = None;
    for _ in 0..200 {
        let read = harness
            .read(&Stored {
                state: read.new_state.clone(),
                private: read.private.clone(),
            })
            .await;
        check_no_errors(&read.diagnostics);
        if PrivateState::decode(&read.private).pending.is_none() {
            resolved = Some(read);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resolved = resolved.expect("the read resolves the DAG once it ends");
    let state = model(&resolved.new_state);
    assert_eq!(state.archive_lag_target, text("3m"));
    let plan = harness
        .plan(
            &Stored {
                state: resolved.new_state.clone(),
                private: resolved.private.clone(),
            },
            &config,
        )
        .await;
    assert_eq!(plan.planned_state, resolved.new_state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_a_wait() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.hold_next_dag().await;
    let config = config_with(|c| c.ha_low_thread_score = Field::Known(Number::Int(20)));
    let plan = harness.plan(&stored, &config).await;
    let provider = harness.provider.clone();
    let (prior, config_for_apply, plan_for_apply) = (stored.clone(), config.clone(), plan.clone());
    let apply = tokio::spawn(async move {
        provider
            .apply_resource_change(ApplyRequest {
                type_name: BACKUP_CONFIG_TYPE.to_owned(),
                prior_state: prior.state,
                planned_state: plan_for_apply.planned_state,
                config: config_for_apply,
                planned_private: plan_for_apply.planned_private,
            })
            .await
    });
    // Wait until obshell has the held DAG, then stop.
    for _ in 0..500 {
        let state = harness.sim_state().await;
        if state["dags"]
            .as_array()
            .is_some_and(|dags| dags.iter().any(|dag| dag["held"] == true))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    harness.provider.stop();
    let applied = apply.await.expect("apply task");
    check_error_containing(&applied.diagnostics, &["continues on obshell"]);
    assert_eq!(
        model(&applied.new_state).ha_low_thread_score,
        Field::Known(Number::Int(10))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_dag_is_announced_and_awaited() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let running = harness
        .control(reqwest::Method::POST, "dags/hold-running", json!({}))
        .await;
    let running_id = running["id"].as_str().expect("id").to_owned();
    let config = config_with(|c| c.ha_low_thread_score = Field::Known(Number::Int(30)));
    let plan = harness.plan(&stored, &config).await;
    check_no_errors(&plan.diagnostics);
    check_warning(&plan.diagnostics, "backup-config task is running");

    harness.clear_requests().await;
    let apply = harness.spawn_apply(&stored, &plan, &config);
    // The apply waits: it polls the other DAG, and sends nothing while it runs.
    wait_for_polls(&harness, &running_id, 2).await;
    assert!(
        harness.config_writes().await.is_empty(),
        "nothing is sent while another config DAG runs"
    );
    harness.release(&running_id).await;
    let applied = apply.await.expect("apply task");
    check_no_errors(&applied.diagnostics);
    assert_eq!(harness.config_writes().await.len(), 1);
    assert_eq!(
        model(&applied.new_state).ha_low_thread_score,
        Field::Known(Number::Int(30))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_normal_tenants_are_skipped_with_a_warning() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .patch_tenant(
            "t2",
            json!({"status": "RESTORE", "parameters": {"log_archive_concurrency": "50"}}),
        )
        .await;
    let read = harness.read(&stored).await;
    check_no_errors(&read.diagnostics);
    check_warning(&read.diagnostics, "Tenants skipped");
    let detail = warning_detail(&read.diagnostics, "Tenants skipped");
    assert!(
        detail.contains("t2 (RESTORE)") && detail.contains("will fail"),
        "{detail}"
    );
    let state = model(&read.new_state);
    let tenants = state.tenants.known().expect("tenants");
    assert!(tenants.contains_key("t1") && !tenants.contains_key("t2"));
    assert_eq!(state.log_archive_concurrency, Field::Known(Number::Int(4)));

    // As warned: obshell's task reaches t2 and fails there, after t1 took the change.
    let stored = Stored {
        state: read.new_state,
        private: read.private,
    };
    let config = config_with(|c| c.ha_low_thread_score = Field::Known(Number::Int(12)));
    let plan = harness.plan(&stored, &config).await;
    let applied = harness.apply(&stored, &plan, &config).await;
    check_error_containing(&applied.diagnostics, &["t2(1004)", "RESTORE"]);
    assert_eq!(
        model(&applied.new_state).ha_low_thread_score,
        Field::Known(Number::Int(10)),
        "the state keeps the prior value"
    );
    let sim = harness.sim_state().await;
    assert_eq!(sim["tenants"][0]["parameters"]["ha_low_thread_score"], "12");
    // The next refresh reads t1's new value: the plan shows what still differs (t2).
    let refreshed = harness
        .read(&Stored {
            state: applied.new_state,
            private: applied.private,
        })
        .await;
    assert_eq!(
        model(&refreshed.new_state).ha_low_thread_score,
        Field::Known(Number::Int(12))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_shows_at_the_create_plan() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let diagnostics = harness.configure("not-the-password").await;
    assert!(diagnostics.is_empty(), "configure makes no network call");
    let plan = harness.plan(&empty(), &base_config().to_value()).await;
    check_error_containing(&plan.diagnostics, &[&harness.sim.base_url(), "password"]);
    for diagnostic in &plan.diagnostics.0 {
        assert!(!diagnostic.detail.contains("not-the-password"));
        assert!(!diagnostic.summary.contains("not-the-password"));
    }
    assert!(harness.config_writes().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configurations_send_nothing() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    harness.clear_requests().await;
    let config = config_with(|c| {
        c.backup_base_uri = text("oss://bucket/backup?host=h&access_key=SECRET");
        c.piece_switch_interval = text("8d");
    });
    let validation =
        harness
            .provider
            .validate_resource_config(BACKUP_CONFIG_TYPE, &config, MODERN_TERRAFORM);
    let paths: Vec<String> = validation
        .0
        .iter()
        .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(paths, ["backup_base_uri", "piece_switch_interval"]);
    let plan = harness.plan(&empty(), &config).await;
    assert!(plan.diagnostics.has_errors());
    assert_eq!(harness.request_count().await, 0);
    // Object storage without credentials is refused at plan.
    let config = config_with(|c| c.backup_base_uri = text("oss://bucket/backup?host=h"));
    let plan = harness.plan(&empty(), &config).await;
    check_error_containing(&plan.diagnostics, &["storage_credentials"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_never_contacts_obshell() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.clear_requests().await;
    let plan = harness.plan(&stored, &Value::Null).await;
    check_warning(&plan.diagnostics, "keeps its backup settings");
    assert_eq!(plan.planned_state, Value::Null);
    let applied = harness.apply(&stored, &plan, &Value::Null).await;
    check_no_errors(&applied.diagnostics);
    check_warning(&applied.diagnostics, "keeps its backup settings");
    assert_eq!(applied.new_state, Value::Null);
    assert_eq!(harness.request_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_log_is_reopened_where_it_was_running() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .patch_tenant("t1", json!({"archive_log_status": "DOING"}))
        .await;
    let config = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(6)));
    harness.apply_ok(&stored, &config).await;
    assert_eq!(harness.archive_log_status("t1").await, "DOING");
    assert_ne!(harness.archive_log_status("t2").await, "DOING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_era_keeps_what_it_cannot_read() {
    let harness = Harness::start(ObshellVersion::new(4, 2, 4, 0)).await;
    let config = base_config().to_value();
    let plan = harness.plan(&empty(), &config).await;
    check_no_errors(&plan.diagnostics);
    let applied = harness.apply(&empty(), &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_warning(&applied.diagnostics, "Archive log may be stopped");
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let refreshed = harness.refresh(&stored).await;
    let state = model(&refreshed.state);
    assert_eq!(state.backup_base_uri, text("file:///data/backup"));
    let tenants = state.tenants.known().expect("tenants");
    assert!(tenants.values().all(|t| t.archive_dest.is_null()));
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);

    // Legacy errors carry the legacy code.
    harness
        .control(
            reqwest::Method::POST,
            "faults/dag",
            json!({"node": "Check backup config", "message": "cannot write to /data/backup"}),
        )
        .await;
    let config = config_with(|c| c.ha_low_thread_score = Field::Known(Number::Int(11)));
    let plan = harness.plan(&refreshed, &config).await;
    let applied = harness.apply(&refreshed, &plan, &config).await;
    check_error_containing(
        &applied.diagnostics,
        &["Check backup config", "cannot write"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_shows_at_the_create_plan() {
    // A port that was free a moment ago and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let provider = Provider::new("test");
    let diagnostics = provider
        .configure(ConfigureRequest {
            terraform_version: "1.15.5".to_owned(),
            config: provider_block(&endpoint, PASSWORD),
        })
        .await;
    assert!(diagnostics.is_empty(), "configure makes no network call");
    let plan = provider
        .plan_resource_change(PlanRequest {
            type_name: BACKUP_CONFIG_TYPE.to_owned(),
            prior_state: Value::Null,
            proposed_new_state: base_config().to_value(),
            config: base_config().to_value(),
            prior_private: Vec::new(),
            client_capabilities: ClientCapabilities::default(),
        })
        .await;
    check_error_containing(&plan.diagnostics, &[&endpoint]);
    for diagnostic in &plan.diagnostics.0 {
        assert!(!diagnostic.detail.contains(PASSWORD));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_import_adopts_the_unreadable_uri() {
    let harness = Harness::start(ObshellVersion::new(4, 2, 4, 0)).await;
    create_base(&harness).await;
    let stored = harness.import_ok().await;
    let state = model(&stored.state);
    assert!(
        state.backup_base_uri.is_null(),
        "obshell 4.2.4 cannot report it"
    );
    assert_eq!(state.ha_low_thread_score, Field::Known(Number::Int(10)));

    harness.clear_requests().await;
    let config = base_config().to_value();
    let plan = harness.plan(&stored, &config).await;
    check_warning(&plan.diagnostics, "adopted without verification");
    let warning = plan
        .diagnostics
        .0
        .iter()
        .find(|d| d.summary.contains("adopted"))
        .expect("the warning");
    assert!(
        warning.detail.contains("backup_base_uri"),
        "{}",
        warning.detail
    );
    let applied = harness.apply(&stored, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    assert!(harness.config_writes().await.is_empty());
}

fn object_store_config(uri: &str) -> Value {
    use terraform_provider_oceanbase::resources::backup_config::model::StorageCredentialsModel;
    config_with(|c| {
        c.backup_base_uri = text(uri);
        c.storage_credentials = Field::Known(StorageCredentialsModel {
            access_id: text("AKID"),
            access_key: text("SECRETKEY"),
        });
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_parameter_obshell_drops_is_rejected_and_never_drifts() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    const PLAIN: &str = "oss://bucket/backup?host=oss.example.com";
    const EXTRA: &str = "oss://bucket/backup?host=oss.example.com&checksum_type=md5";

    // obshell re-emits only host and delete_mode for oss://, so a URI with another parameter
    // could never match the cluster: it is rejected at plan, with the attribute path.
    for uri in [
        EXTRA,
        "oss://bucket/backup?host=oss.example.com&delete_mode=",
    ] {
        let config = object_store_config(uri);
        let validation = harness.provider.validate_resource_config(
            BACKUP_CONFIG_TYPE,
            &config,
            MODERN_TERRAFORM,
        );
        check_error_containing(&validation, &["backup_base_uri", "drops"]);
        assert!(validation.0.iter().all(|d| d
            .attribute
            .as_ref()
            .is_some_and(|path| path.to_string() == "backup_base_uri")));
        let plan = harness.plan(&empty(), &config).await;
        check_error_containing(&plan.diagnostics, &["drops"]);
    }
    let rejected = harness.provider.validate_resource_config(
        BACKUP_CONFIG_TYPE,
        &object_store_config(EXTRA),
        MODERN_TERRAFORM,
    );
    check_error_containing(&rejected, &["checksum_type"]);
    assert!(harness.config_writes().await.is_empty());

    // A state that still carries such a parameter (written before this check) means the same
    // as the cluster's destinations: refresh keeps it, and the plan sends nothing.
    let stored = harness
        .apply_ok(&empty(), &object_store_config(PLAIN))
        .await;
    let mut old = model(&stored.state);
    old.backup_base_uri = text(EXTRA);
    let old = Stored {
        state: old.to_value(),
        private: Vec::new(),
    };
    let refreshed = harness.refresh(&old).await;
    assert_eq!(model(&refreshed.state).backup_base_uri, text(EXTRA));
    harness.clear_requests().await;
    let config = object_store_config(PLAIN);
    let plan = harness.plan(&refreshed, &config).await;
    check_no_errors(&plan.diagnostics);
    let applied = harness.apply(&refreshed, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    assert!(
        harness.config_writes().await.is_empty(),
        "the URI is not sent again"
    );
    let again = harness
        .refresh(&Stored {
            state: applied.new_state,
            private: applied.private,
        })
        .await;
    check_empty_plan(&again, &harness.plan(&again, &config).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_attributes_set_to_null_fail_at_plan_not_at_apply() {
    use terraform_provider_oceanbase::resources::backup_config::model::StorageCredentialsModel;
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let cases = [
        (
            config_with(|c| c.backup_base_uri = Field::Null),
            "backup_base_uri",
        ),
        (
            config_with(|c| {
                c.backup_base_uri = text("oss://bucket/backup?host=oss.example.com");
                c.storage_credentials = Field::Known(StorageCredentialsModel {
                    access_id: Field::Null,
                    access_key: text("SECRETKEY"),
                });
            }),
            "storage_credentials.access_id",
        ),
        (
            config_with(|c| {
                c.delete_policy = Field::Known(DeletePolicyModel {
                    policy: text("default"),
                    recovery_window: Field::Null,
                })
            }),
            "delete_policy.recovery_window",
        ),
    ];
    for (config, path) in cases {
        let validation = harness.provider.validate_resource_config(
            BACKUP_CONFIG_TYPE,
            &config,
            MODERN_TERRAFORM,
        );
        check_error_containing(&validation, &[path, "cannot be null"]);
        assert!(validation
            .0
            .iter()
            .any(|d| d.attribute.as_ref().is_some_and(|p| p.to_string() == path)));
        let plan = harness.plan(&empty(), &config).await;
        check_error_containing(&plan.diagnostics, &[path]);
    }
    assert_eq!(harness.request_count().await, 0, "nothing reached obshell");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_generated_after_a_legacy_import_says_to_set_the_uri() {
    let harness = Harness::start(ObshellVersion::new(4, 2, 4, 0)).await;
    create_base(&harness).await;
    let stored = harness.import_ok().await;
    // What plan -generate-config-out writes: the state without the computed-only attributes.
    let mut generated = model(&stored.state);
    assert!(generated.backup_base_uri.is_null());
    generated.id = Field::Null;
    generated.tenants = Field::Null;
    let generated = generated.to_value();
    let validation =
        harness
            .provider
            .validate_resource_config(BACKUP_CONFIG_TYPE, &generated, MODERN_TERRAFORM);
    check_error_containing(
        &validation,
        &["backup_base_uri", "before 4.3.2", "current base URI"],
    );
    // Setting the URI is all it takes: the plan adopts it without a request.
    let mut completed = model(&generated);
    completed.backup_base_uri = text("file:///data/backup");
    let completed = completed.to_value();
    check_no_errors(&harness.provider.validate_resource_config(
        BACKUP_CONFIG_TYPE,
        &completed,
        MODERN_TERRAFORM,
    ));
    harness.clear_requests().await;
    let plan = harness.plan(&stored, &completed).await;
    check_no_errors(&plan.diagnostics);
    let applied = harness.apply(&stored, &plan, &completed).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    assert!(harness.config_writes().await.is_empty());
}

// ---- changes obshell accepted but the provider did not see succeed ----

impl Harness {
    /// Every obshell request the sim received since the last clear.
    async fn requests(&self) -> Vec<Json> {
        let log = self
            .control(reqwest::Method::GET, "requests", json!({}))
            .await;
        log.as_array().expect("a list").clone()
    }

    /// Waits until the sim holds the answer to a `method` request to `path` (a `status` fault
    /// with `"hold": true`): the request is on its way and its answer has not come.
    async fn wait_until_held(&self, method: &str, path: &str) {
        wait_for(&format!("the sim to hold a {method} {path}"), async || {
            let held = self
                .control(reqwest::Method::GET, "faults/held", json!({}))
                .await;
            held.as_array()
                .is_some_and(|held| held.iter().any(|entry| is_request_to(entry, method, path)))
        })
        .await;
    }

    /// Waits until the sim has answered a `method` request to `path`.
    async fn wait_for_request(&self, method: &str, path: &str) {
        wait_for(
            &format!("the sim to answer a {method} {path}"),
            async || {
                self.requests()
                    .await
                    .iter()
                    .any(|entry| is_request_to(entry, method, path))
            },
        )
        .await;
    }

    /// The id of the backup-config DAG that `faults/hold` keeps running, once it exists.
    async fn wait_for_held_dag(&self) -> String {
        for _ in 0..1000 {
            let state = self.sim_state().await;
            let held = state["dags"].as_array().and_then(|dags| {
                dags.iter()
                    .find(|dag| dag["held"] == true)
                    .and_then(|dag| dag["id"].as_str().map(str::to_owned))
            });
            if let Some(id) = held {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no held DAG appeared");
    }

    /// `faults/http`: the sim answers the next matching requests with this fault (obshell-sim's
    /// CONTROL.md lists the kinds).
    async fn http_fault(&self, fault: Json) {
        self.control(reqwest::Method::POST, "faults/http", fault)
            .await;
    }

    /// `faults/hold`: the next backup-config DAG stays RUNNING in node 2 until released.
    async fn hold_next_dag(&self) {
        self.control(reqwest::Method::POST, "faults/hold", json!({}))
            .await;
    }

    /// Applies `config` over `prior` while the sim holds its DAG, so the wait runs out (the
    /// configuration's timeout, [`HELD_DAG_TIMEOUT`] through `with_create_timeout` or
    /// `with_update_timeout`, must outlast the steps before the send) and the apply says the DAG
    /// continues on obshell.
    async fn apply_held(&self, prior: &Stored, config: &Value) -> ApplyResponse {
        self.hold_next_dag().await;
        let (_, applied) = self.plan_and_apply(prior, config).await;
        check_error_containing(&applied.diagnostics, &["continues on obshell"]);
        applied
    }

    async fn release(&self, dag_id: &str) {
        self.control(
            reqwest::Method::POST,
            &format!("dags/{dag_id}/release"),
            json!({}),
        )
        .await;
    }

    async fn set_archive_log(&self, tenant: &str, status: &str) {
        self.patch_tenant(tenant, json!({"archive_log_status": status}))
            .await;
    }

    async fn archive_log_status(&self, tenant: &str) -> Json {
        self.sim_tenant(tenant).await["archive_log_status"].clone()
    }

    fn spawn_apply(
        &self,
        prior: &Stored,
        plan: &PlanResponse,
        config: &Value,
    ) -> tokio::task::JoinHandle<ApplyResponse> {
        let provider = self.provider.clone();
        let request = ApplyRequest {
            type_name: BACKUP_CONFIG_TYPE.to_owned(),
            prior_state: prior.state.clone(),
            planned_state: plan.planned_state.clone(),
            config: config.clone(),
            planned_private: plan.planned_private.clone(),
        };
        tokio::spawn(async move { provider.apply_resource_change(request).await })
    }

    /// Reads until the pending DAG is resolved (the private state is empty).
    async fn read_until_resolved(&self, stored: &Stored) -> ReadResponse {
        for _ in 0..500 {
            let read = self.read(stored).await;
            check_no_errors(&read.diagnostics);
            if PrivateState::decode(&read.private).pending.is_none() {
                return read;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the pending DAG was never resolved");
    }
}

/// Whether a request-log or held-request entry is a `method` request to `path` (query aside).
fn is_request_to(entry: &Json, method: &str, path: &str) -> bool {
    entry["method"] == method
        && entry["uri"]
            .as_str()
            .is_some_and(|uri| uri.split('?').next() == Some(path))
}

/// Polls `ready` every 10 ms until it is true; fails the test naming `what` after 30 s.
async fn wait_for(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited 30 s for {what}");
}

/// How long an apply waits on a DAG the sim holds before it says the DAG continues on obshell.
/// The held DAG never finishes first, so the value only has to outlast what the apply does before
/// it sends the change (reads of the cluster, the running-task check, the DAG high-water): a few
/// hundred milliseconds alone, more than 300 ms with 16 test threads on a busy 2-core machine,
/// where a shorter timeout runs out before anything is sent and the test fails for the wrong
/// reason. Three seconds leaves a wide margin and costs each held apply that long.
const HELD_DAG_TIMEOUT: &str = "3s";

/// A configuration whose create stops waiting after [`HELD_DAG_TIMEOUT`]: for a create whose DAG
/// the sim holds.
fn with_create_timeout(edit: impl FnOnce(&mut BackupConfigModel)) -> Value {
    config_with(|c| {
        edit(c);
        c.timeouts = Field::Known(TimeoutsModel {
            create: text(HELD_DAG_TIMEOUT),
            update: Field::Null,
            read: Field::Null,
        });
    })
}

/// A configuration whose update stops waiting after [`HELD_DAG_TIMEOUT`]: for an update whose DAG
/// the sim holds (or keeps running longer than that).
fn with_update_timeout(edit: impl FnOnce(&mut BackupConfigModel)) -> Value {
    with_update_timeout_of(edit, HELD_DAG_TIMEOUT)
}

fn with_update_timeout_of(edit: impl FnOnce(&mut BackupConfigModel), update: &str) -> Value {
    config_with(|c| {
        edit(c);
        c.timeouts = Field::Known(TimeoutsModel {
            create: Field::Null,
            update: text(update),
            read: Field::Null,
        });
    })
}

fn pending_of(
    private: &[u8],
) -> terraform_provider_oceanbase::resources::backup_config::private::PendingUpdate {
    terraform_provider_oceanbase::resources::backup_config::private::PrivateState::decode(private)
        .pending
        .expect("a pending update")
}

#[track_caller]
fn warning_detail(diagnostics: &Diagnostics, summary_part: &str) -> String {
    check_warning(diagnostics, summary_part);
    diagnostics
        .0
        .iter()
        .find(|d| d.severity == Severity::Warning && d.summary.contains(summary_part))
        .map(|d| d.detail.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_change_that_stops_archive_log_names_the_archiving_tenants() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "DOING").await;
    harness.set_archive_log("t2", "").await;
    let config = with_update_timeout(|c| {
        c.log_archive_concurrency = Field::Known(Number::Int(6));
    });
    let applied = harness.apply_held(&stored, &config).await;
    let detail = warning_detail(&applied.diagnostics, "Archive log may have been stopped");
    assert!(
        detail.contains("archiving before this apply: t1."),
        "{detail}"
    );
    assert!(!detail.contains("t2"), "{detail}");
    // A remedy an SRE can run as written: SQL in the sys tenant, for exactly those tenants.
    assert!(
        detail.contains("`ALTER SYSTEM ARCHIVELOG TENANT = t1;`"),
        "{detail}"
    );
    assert!(!detail.contains("PATCH /api"), "{detail}");
    let pending = pending_of(&applied.private);
    assert!(pending.stops_archive_log);
    assert_eq!(pending.archiving_tenants, Some(vec!["t1".to_owned()]));

    // The DAG succeeds later: the read that learns it says archive log is still stopped, and
    // writes nothing.
    let held = harness.wait_for_held_dag().await;
    harness.release(&held).await;
    harness.clear_requests().await;
    let resolved = harness
        .read_until_resolved(&Stored {
            state: applied.new_state.clone(),
            private: applied.private.clone(),
        })
        .await;
    let detail = warning_detail(&resolved.diagnostics, "Archive log is still stopped");
    assert!(detail.contains(&held) && detail.contains("t1"), "{detail}");
    assert!(
        harness
            .requests()
            .await
            .iter()
            .all(|r| r["method"] == "GET"),
        "a read never writes"
    );
    assert_eq!(
        model(&resolved.new_state).log_archive_concurrency,
        Field::Known(Number::Int(6))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_archive_log_warning_when_no_tenant_was_archiving() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "").await;
    harness.set_archive_log("t2", "").await;
    let config = with_update_timeout(|c| {
        c.log_archive_concurrency = Field::Known(Number::Int(6));
    });
    let applied = harness.apply_held(&stored, &config).await;
    assert!(
        !applied
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("Archive log")),
        "nothing to reopen, nothing said: {:#?}",
        applied.diagnostics
    );
    assert_eq!(
        pending_of(&applied.private).archiving_tenants,
        Some(Vec::new())
    );
    // The DAG succeeds later: the read that learns it has no archive log to talk about either.
    let held = harness.wait_for_held_dag().await;
    harness.release(&held).await;
    let resolved = harness
        .read_until_resolved(&Stored {
            state: applied.new_state.clone(),
            private: applied.private.clone(),
        })
        .await;
    assert!(
        !resolved
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("Archive log")),
        "{:#?}",
        resolved.diagnostics
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_archive_log_stopped_says_how_to_reopen_it() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "DOING").await;
    let config = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(7)));

    // Node 2 stops archive log before it fails.
    harness
        .control(
            reqwest::Method::POST,
            "faults/dag",
            json!({"node": "Set backup config", "message": "set log_archive_concurrency failed"}),
        )
        .await;
    let plan = harness.plan(&stored, &config).await;
    let applied = harness.apply(&stored, &plan, &config).await;
    check_error_containing(
        &applied.diagnostics,
        &["set log_archive_concurrency failed"],
    );
    let detail = warning_detail(&applied.diagnostics, "Archive log may have been stopped");
    assert!(
        detail.contains("`ALTER SYSTEM ARCHIVELOG TENANT = t1;`")
            && detail.contains("were archiving before this apply: t1.")
            && !detail.contains("will stop"),
        "{detail}"
    );

    // Node 1 only checks the destinations: nothing to reopen, nothing said.
    harness
        .control(
            reqwest::Method::POST,
            "faults/dag",
            json!({"node": "Check backup config", "message": "cannot write"}),
        )
        .await;
    let applied = harness.apply(&stored, &plan, &config).await;
    check_error_containing(&applied.diagnostics, &["cannot write"]);
    assert!(
        !applied
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("Archive log may have been stopped")),
        "{:#?}",
        applied.diagnostics
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_failure_after_acceptance_says_the_dag_continues_on_obshell() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    for is_create in [false, true] {
        harness.hold_next_dag().await;
        let (prior, config) = if is_create {
            (empty(), config_with(|c| c.archive_lag_target = text("4m")))
        } else {
            (
                stored.clone(),
                config_with(|c| c.archive_lag_target = text("3m")),
            )
        };
        let plan = harness.plan(&prior, &config).await;
        check_no_errors(&plan.diagnostics);
        let apply = harness.spawn_apply(&prior, &plan, &config);
        let held = harness.wait_for_held_dag().await;
        // obshell accepted the change; now every poll of its DAG fails with a 500.
        harness.http_fault(json!({"kind": "status", "status": 500, "count": 1000, "method": "GET", "path_prefix": format!("/api/v1/task/dag/{held}")})).await;
        let applied = apply.await.expect("apply task");
        let sentence =
            format!("DAG {held} continues on obshell; the next refresh reads its outcome");
        check_error_containing(&applied.diagnostics, &[&sentence]);
        let said = applied
            .diagnostics
            .0
            .iter()
            .map(|d| d.detail.matches("continues on obshell").count())
            .sum::<usize>();
        assert_eq!(said, 1, "said more than once: {:?}", applied.diagnostics);
        if is_create {
            check_error_containing(
                &applied.diagnostics,
                &["tainted", "terraform apply replaces it"],
            );
            assert!(!applied.new_state.is_null());
        } else {
            assert_eq!(pending_of(&applied.private).dag_id, held);
            assert_eq!(model(&applied.new_state).archive_lag_target, text("2m"));
        }
        harness
            .control(reqwest::Method::DELETE, "faults", json!({}))
            .await;
        harness.release(&held).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_update_of_unreadable_fields_is_adopted_by_the_next_read() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    // obshell cannot report binding or delete_policy: only the pending update can tell.
    let config = with_update_timeout(|c| {
        c.binding = text("mandatory");
        c.delete_policy = Field::Known(DeletePolicyModel {
            policy: text("default"),
            recovery_window: text("14d"),
        });
    });
    let applied = harness.apply_held(&stored, &config).await;
    let kept = model(&applied.new_state);
    assert_eq!(kept.binding, text("optional"));
    assert_eq!(
        kept.delete_policy
            .known()
            .map(|p| p.recovery_window.clone()),
        Some(text("7d"))
    );

    let held = harness.wait_for_held_dag().await;
    harness.release(&held).await;
    let resolved = harness
        .read_until_resolved(&Stored {
            state: applied.new_state.clone(),
            private: applied.private.clone(),
        })
        .await;
    let state = model(&resolved.new_state);
    assert_eq!(state.binding, text("mandatory"));
    assert_eq!(
        state
            .delete_policy
            .known()
            .map(|p| p.recovery_window.clone()),
        Some(text("14d"))
    );
    let resolved = Stored {
        state: resolved.new_state,
        private: resolved.private,
    };
    check_empty_plan(&resolved, &harness.plan(&resolved, &config).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_log_stopped_by_another_clients_dag_is_named() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "DOING").await;
    harness.set_archive_log("t2", "DOING").await;
    let running = harness
        .control(reqwest::Method::POST, "dags/hold-running", json!({}))
        .await;
    let running_id = running["id"].as_str().expect("id").to_owned();
    let config = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(5)));
    let plan = harness.plan(&stored, &config).await;
    harness.clear_requests().await;
    let apply = harness.spawn_apply(&stored, &plan, &config);
    wait_for_polls(&harness, &running_id, 1).await;
    // Meanwhile the other client's task stops archive log on t2.
    harness.set_archive_log("t2", "STOP").await;
    harness.release(&running_id).await;
    let applied = apply.await.expect("apply task");
    check_no_errors(&applied.diagnostics);
    let detail = warning_detail(&applied.diagnostics, "Archive log stopped by another task");
    assert!(
        detail.contains(&running_id) && detail.contains("t2"),
        "{detail}"
    );
    assert!(!detail.contains("t1"), "{detail}");
    assert_eq!(harness.archive_log_status("t1").await, "DOING");
    assert_ne!(harness.archive_log_status("t2").await, "DOING");
}

/// Waits until the provider has polled DAG `dag_id` at least `times` times.
async fn wait_for_polls(harness: &Harness, dag_id: &str, times: usize) {
    let path = format!("/api/v1/task/dag/{dag_id}");
    for _ in 0..2000 {
        let polls = harness
            .requests()
            .await
            .iter()
            .filter(|r| {
                r["method"] == "GET" && r["uri"].as_str().is_some_and(|u| u.starts_with(&path))
            })
            .count();
        if polls >= times {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("DAG {dag_id} was not polled {times} times");
}

/// Write-only credentials through an update that outlives its apply: obshell gets them in the
/// URI, while the state, the plan and the private state recording the unfinished update hold
/// only that credentials were sent write-only, and their version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_only_credentials_stay_out_of_state_plan_and_private_state() {
    use terraform_provider_oceanbase::resources::backup_config::model::StorageCredentialsModel;
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let write_only = |version: i64, key: &str, update: Option<&str>| {
        let key = key.to_owned();
        let update = update.map(str::to_owned);
        config_with(move |c| {
            c.backup_base_uri = text("oss://bucket/backup?host=oss.example.com");
            c.storage_credentials_wo = Field::Known(StorageCredentialsModel {
                access_id: text("WO-AKID-51"),
                access_key: text(&key),
            });
            c.storage_credentials_wo_version = Field::Known(Number::Int(version));
            if let Some(update) = update {
                c.timeouts = Field::Known(TimeoutsModel {
                    create: Field::Null,
                    update: text(&update),
                    read: Field::Null,
                });
            }
        })
    };
    let config = write_only(1, "WO-KEY-FIRST-77", None);
    let plan = harness.plan(&empty(), &config).await;
    check_no_errors(&plan.diagnostics);
    let created = harness.apply(&empty(), &plan, &config).await;
    check_no_errors(&created.diagnostics);
    let stored = Stored {
        state: created.new_state.clone(),
        private: created.private.clone(),
    };

    harness.hold_next_dag().await;
    let rotated = write_only(2, "WO-KEY-SECOND-88", Some(HELD_DAG_TIMEOUT));
    let plan = harness.plan(&stored, &rotated).await;
    check_no_errors(&plan.diagnostics);
    let applied = harness.apply(&stored, &plan, &rotated).await;
    check_error_containing(&applied.diagnostics, &["continues on obshell"]);
    let writes = harness.config_writes().await;
    let uris: Vec<&str> = writes
        .iter()
        .filter_map(|(_, body)| body["backup_base_uri"].as_str())
        .collect();
    assert_eq!(uris.len(), 2, "{writes:?}");
    assert!(uris[0].contains("access_key=WO-KEY-FIRST-77"), "{uris:?}");
    assert!(uris[1].contains("access_key=WO-KEY-SECOND-88"), "{uris:?}");
    let private = String::from_utf8(applied.private.clone()).expect("JSON private state");
    assert!(
        private.contains("\"write_only_credentials\":true"),
        "{private}"
    );
    for secret in ["WO-AKID-51", "WO-KEY-FIRST-77", "WO-KEY-SECOND-88"] {
        for (what, text) in [
            (
                "create plan",
                format!("{:?}", harness.plan(&empty(), &config).await.planned_state),
            ),
            ("created state", format!("{:?}", created.new_state)),
            ("update plan", format!("{:?}", plan.planned_state)),
            (
                "state after the timeout",
                format!("{:?}", applied.new_state),
            ),
            ("private state", private.clone()),
            ("diagnostics", format!("{:?}", applied.diagnostics)),
        ] {
            assert!(!text.contains(secret), "the {what} holds {secret}: {text}");
        }
    }
    // The unfinished update keeps the prior version, so the next plan sends the credentials again.
    assert_eq!(
        model(&applied.new_state).storage_credentials_wo_version,
        Field::Known(Number::Int(1))
    );
}

/// An earlier update timed out and its DAG was still running when the next plan was made; it
/// succeeds before the next apply. That apply resolves it first: it never drops its outcome
/// (state null while the cluster is MANDATORY), and it never sends more than its plan showed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_update_is_resolved_before_the_next_change_is_sent() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    // The update setting binding times out; its DAG goes on.
    let mandatory = with_update_timeout(|c| c.binding = text("mandatory"));
    let applied = harness.apply_held(&stored, &mandatory).await;
    let after = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let pending = pending_of(&after.private);
    assert_eq!(model(&after.state).binding, text("optional"));

    // The user reverts binding and changes ha_low_thread_score; the plan (its refresh sees the
    // DAG still running) shows only ha_low_thread_score.
    let reverted = config_with(|c| c.ha_low_thread_score = Field::Known(Number::Int(30)));
    let refreshed = harness.refresh(&after).await;
    let plan = harness.plan(&refreshed, &reverted).await;
    check_no_errors(&plan.diagnostics);
    harness
        .control(
            reqwest::Method::POST,
            &format!("dags/{}/release", pending.dag_id),
            json!({}),
        )
        .await;
    harness.clear_requests().await;
    let applied = harness.apply(&refreshed, &plan, &reverted).await;
    // The earlier DAG set MANDATORY: reverting it needs the location group, which the plan did
    // not show, so nothing is sent and the state records MANDATORY.
    check_error_containing(
        &applied.diagnostics,
        &[&pending.dag_id, "binding", "Nothing was sent"],
    );
    assert!(harness.config_writes().await.is_empty());
    let state = model(&applied.new_state);
    assert_eq!(state.binding, text("mandatory"));
    assert!(
        terraform_provider_oceanbase::resources::backup_config::private::PrivateState::decode(
            &applied.private
        )
        .pending
        .is_none()
    );
    // The next plan shows the revert.
    let resolved = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let plan = harness.plan(&resolved, &reverted).await;
    assert_eq!(model(&plan.planned_state).binding, text("optional"));

    // When the earlier task's outcome leaves the plan's change set as it was, the change is sent
    // after it, and the state holds both.
    let lag = with_update_timeout(|c| c.archive_lag_target = text("5m"));
    let applied = harness.apply_held(&stored, &lag).await;
    let after = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let pending = pending_of(&after.private);
    let both = config_with(|c| {
        c.archive_lag_target = text("5m");
        c.ha_low_thread_score = Field::Known(Number::Int(30));
    });
    let plan = harness.plan(&after, &both).await;
    harness
        .control(
            reqwest::Method::POST,
            &format!("dags/{}/release", pending.dag_id),
            json!({}),
        )
        .await;
    harness.clear_requests().await;
    let applied = harness.apply(&after, &plan, &both).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    assert_eq!(
        harness.config_writes().await,
        [("PATCH".to_owned(), json!({"ha_low_thread_score": 30}))]
    );
}

/// OceanBase may keep an object-store destination without its query string; obshell's storage
/// read then answers 400 OB.Storage.URI.Invalid. Refresh warns and keeps the state's URI, the
/// plan stays empty, and the data source reports the destination as unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_obshell_cannot_parse_warns_and_keeps_the_state() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    harness
        .control(
            reqwest::Method::PATCH,
            "config",
            json!({"query_less_object_paths": true}),
        )
        .await;
    const URI: &str = "oss://bucket/backup?host=oss.example.com";
    let config = object_store_config(URI);
    let plan = harness.plan(&empty(), &config).await;
    check_no_errors(&plan.diagnostics);
    let applied = harness.apply(&empty(), &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_warning(&applied.diagnostics, "Backup destination not verifiable");
    let sim = harness.sim_state().await;
    let stored_path = sim["tenants"][0]["archive_dest"]["path"].as_str().unwrap();
    assert!(!stored_path.contains('?'), "{stored_path}");
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let read = harness.read(&stored).await;
    check_no_errors(&read.diagnostics);
    let detail = warning_detail(&read.diagnostics, "Backup destination not verifiable");
    assert!(detail.contains("t1") && detail.contains("t2"), "{detail}");
    assert!(!detail.contains("SECRETKEY"), "{detail}");
    assert_eq!(model(&read.new_state).backup_base_uri, text(URI));
    let refreshed = Stored {
        state: read.new_state,
        private: read.private,
    };
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);
}

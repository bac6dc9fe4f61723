//! Issue 8 item 4: a create that obshell accepted but the provider stopped following is tainted;
//! once the refresh sees its DAG succeed and every tenant holds what it sent, the replacement
//! that Terraform plans in the same run (same provider process, no private state) adopts it: its
//! plan says so, and its apply re-reads the cluster and sends nothing. When the cluster or the
//! configuration no longer matches, the replacement sends the create.

use super::*;

/// The create's timeout: its DAG is held, so [`HELD_DAG_TIMEOUT`] runs out while the apply waits
/// on it, never before the create is sent.
fn create_timeout(model: &mut BackupConfigModel) {
    model.timeouts = Field::Known(TimeoutsModel {
        create: text(HELD_DAG_TIMEOUT),
        update: Field::Null,
        read: Field::Null,
    });
}

/// The configuration of the replacement: the same values, a timeout that a loaded machine cannot
/// miss (timeouts are not sent, so they do not stop an adoption).
fn replacement_config() -> Value {
    config_with(|c| {
        c.timeouts = Field::Known(TimeoutsModel {
            create: text("5m"),
            update: Field::Null,
            read: Field::Null,
        })
    })
}

/// A create whose apply stops following its held DAG, which is then released; returns the
/// tainted object as Terraform keeps it.
async fn tainted_create(harness: &Harness, config: &Value) -> Stored {
    let applied = harness.apply_held(&empty(), config).await;
    let pending = pending_of(&applied.private);
    assert!(pending.create, "{pending:?}");
    harness.release(&pending.dag_id).await;
    Stored {
        state: applied.new_state,
        private: applied.private,
    }
}

/// The refresh of the tainted object once its DAG has succeeded.
async fn resolved(harness: &Harness, tainted: &Stored) -> ReadResponse {
    let read = harness.read_until_resolved(tainted).await;
    check_no_errors(&read.diagnostics);
    read
}

/// Everything obshell received that is not a read.
async fn writes(harness: &Harness) -> Vec<Json> {
    harness
        .requests()
        .await
        .into_iter()
        .filter(|entry| entry["method"] != "GET")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replacement_of_a_succeeded_create_sends_nothing() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = config_with(create_timeout);
    let tainted = tainted_create(&harness, &config).await;
    let config = replacement_config();
    let read = resolved(&harness, &tainted).await;
    let detail = warning_detail(&read.diagnostics, "Earlier create succeeded");
    assert!(
        detail.contains("adopts that create and sends nothing")
            && detail.contains("terraform untaint"),
        "{detail}"
    );

    // terraform plan/apply, same process: the replacement is planned with no prior state and no
    // private state.
    harness.clear_requests().await;
    let plan = harness.plan(&empty(), &config).await;
    check_no_errors(&plan.diagnostics);
    let dag_id = pending_of(&tainted.private).dag_id;
    let detail = warning_detail(&plan.diagnostics, "Replacement adopts the earlier create");
    assert!(detail.contains(&format!("DAG {dag_id}")), "{detail}");
    assert!(
        !plan
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("Archive log will stop")),
        "{:#?}",
        plan.diagnostics
    );
    let marker = PrivateState::decode(&plan.planned_private)
        .adopt_create
        .expect("the plan's marker");
    assert_eq!(marker.dag_id, dag_id);

    let applied = harness.apply(&empty(), &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    let detail = warning_detail(&applied.diagnostics, "Earlier create adopted");
    assert!(detail.contains(&format!("DAG {dag_id}")), "{detail}");
    let sent = writes(&harness).await;
    assert!(sent.is_empty(), "the replacement sent {sent:#?}");
    let state = model(&applied.new_state);
    assert_eq!(state.id, text(&CLUSTER_ID.to_string()));
    assert_eq!(state.tenants.known().map(|t| t.len()), Some(2));
    // Only one create ever reached obshell.
    let creates = harness.sim_state().await["dags"]
        .as_array()
        .expect("dags")
        .iter()
        .filter(|dag| dag["request"]["backup_base_uri"].is_string())
        .count();
    assert_eq!(creates, 1);

    // The adopted resource is like any other: refresh and plan are empty, the location's tenants
    // recorded.
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    assert!(PrivateState::decode(&stored.private).location.is_some());
    let refreshed = harness.refresh(&stored).await;
    assert_eq!(refreshed.state, stored.state);
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);
}

/// `terraform apply` runs its apply in a new provider process, which applies the tainted object's
/// destroy (with the replacement's planned private state, as Terraform does) and plans the
/// create again before applying it: that process learns the create from the destroy, and the
/// apply sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apply_in_a_new_provider_process_sends_nothing() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = config_with(create_timeout);
    let tainted = tainted_create(&harness, &config).await;
    let config = replacement_config();
    let read = resolved(&harness, &tainted).await;
    let refreshed = Stored {
        state: read.new_state,
        private: read.private,
    };
    let plan = harness.plan(&empty(), &config).await;
    check_warning(&plan.diagnostics, "Replacement adopts the earlier create");

    let apply_process = Provider::new("test");
    let configured = apply_process
        .configure(ConfigureRequest {
            terraform_version: "1.15.5".to_owned(),
            config: provider_block(&harness.sim.base_url(), PASSWORD),
        })
        .await;
    assert!(configured.is_empty(), "{configured:?}");
    harness.clear_requests().await;
    let destroyed = apply_process
        .apply_resource_change(ApplyRequest {
            type_name: BACKUP_CONFIG_TYPE.to_owned(),
            prior_state: refreshed.state.clone(),
            planned_state: Value::Null,
            config: Value::Null,
            planned_private: plan.planned_private.clone(),
        })
        .await;
    check_no_errors(&destroyed.diagnostics);
    let replanned = apply_process
        .plan_resource_change(PlanRequest {
            type_name: BACKUP_CONFIG_TYPE.to_owned(),
            prior_state: Value::Null,
            proposed_new_state: config.clone(),
            config: config.clone(),
            prior_private: Vec::new(),
            client_capabilities: ClientCapabilities::default(),
        })
        .await;
    check_warning(
        &replanned.diagnostics,
        "Replacement adopts the earlier create",
    );
    let applied = apply_process
        .apply_resource_change(ApplyRequest {
            type_name: BACKUP_CONFIG_TYPE.to_owned(),
            prior_state: Value::Null,
            planned_state: replanned.planned_state.clone(),
            config: config.clone(),
            planned_private: replanned.planned_private.clone(),
        })
        .await;
    check_no_errors(&applied.diagnostics);
    check_warning(&applied.diagnostics, "Earlier create adopted");
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    let sent = writes(&harness).await;
    assert!(sent.is_empty(), "the replacement sent {sent:#?}");
}

/// Drift between the plan and the apply (a DBA changes a tenant): the apply sees it and sends the
/// create after all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_after_the_plan_makes_the_replacement_send_the_create() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = config_with(create_timeout);
    let tainted = tainted_create(&harness, &config).await;
    let config = replacement_config();
    resolved(&harness, &tainted).await;
    let plan = harness.plan(&empty(), &config).await;
    check_warning(&plan.diagnostics, "Replacement adopts the earlier create");
    harness
        .patch_tenant("t2", json!({"parameters": {"ha_low_thread_score": "3"}}))
        .await;
    harness.clear_requests().await;
    let applied = harness.apply(&empty(), &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    let detail = warning_detail(&applied.diagnostics, "Earlier create not adopted");
    assert!(detail.contains("ha_low_thread_score"), "{detail}");
    assert_eq!(
        harness
            .config_writes()
            .await
            .iter()
            .filter(|(method, _)| method == "POST")
            .count(),
        1
    );
}

/// Drift before the refresh, or a configuration that no longer means what the create sent: the
/// replacement is a plain create, planned and applied as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_adoption_when_the_cluster_or_the_configuration_differs() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = config_with(create_timeout);
    let tainted = tainted_create(&harness, &config).await;
    let config = replacement_config();
    // The DBA changes t2 before the refresh.
    harness.wait_until_no_dag_runs().await;
    harness
        .patch_tenant("t2", json!({"parameters": {"archive_lag_target": "5m"}}))
        .await;
    let read = resolved(&harness, &tainted).await;
    let detail = warning_detail(&read.diagnostics, "Earlier create succeeded");
    assert!(!detail.contains("adopts"), "{detail}");
    let plan = harness.plan(&empty(), &config).await;
    check_no_errors(&plan.diagnostics);
    assert!(PrivateState::decode(&plan.planned_private)
        .adopt_create
        .is_none());
    check_warning(&plan.diagnostics, "Archive log will stop");

    // A refresh that sees the tenants match again remembers the create, but a configuration
    // that means something else is not adopted.
    harness
        .patch_tenant("t2", json!({"parameters": {"archive_lag_target": "2m"}}))
        .await;
    let read = resolved(&harness, &tainted).await;
    let detail = warning_detail(&read.diagnostics, "Earlier create succeeded");
    assert!(detail.contains("adopts"), "{detail}");
    let other = config_with(|c| {
        c.timeouts = model(&replacement_config()).timeouts;
        c.archive_lag_target = text("3m");
    });
    let plan = harness.plan(&empty(), &other).await;
    check_no_errors(&plan.diagnostics);
    assert!(PrivateState::decode(&plan.planned_private)
        .adopt_create
        .is_none());
    harness.clear_requests().await;
    let applied = harness.apply(&empty(), &plan, &other).await;
    check_no_errors(&applied.diagnostics);
    assert_eq!(harness.config_writes().await.len(), 1);
}

//! Issue 8, item 2: a NORMAL user tenant created after the last location write is drift on
//! `backup_base_uri` on every obshell version, the plan names it, and when only new tenants lack
//! the configuration apply configures just them with obshell's tenant-level call, so archive log
//! on the other tenants keeps running.

use super::*;

use terraform_provider_oceanbase::obshell::{BackupConfigRequest, Client, DagOperator, StorageUri};

/// Every backup-config write the sim received since the last clear: (method, uri, body).
async fn all_config_writes(harness: &Harness) -> Vec<(String, String, Json)> {
    let log = harness
        .control(reqwest::Method::GET, "requests", json!({}))
        .await;
    log.as_array()
        .expect("a list")
        .iter()
        .filter(|entry| {
            entry["method"] != "GET"
                && entry["uri"]
                    .as_str()
                    .is_some_and(|uri| uri.ends_with("/backup/config"))
        })
        .map(|entry| {
            (
                entry["method"].as_str().unwrap_or_default().to_owned(),
                entry["uri"].as_str().unwrap_or_default().to_owned(),
                entry["body"].clone(),
            )
        })
        .collect()
}

fn warning_naming(diagnostics: &Diagnostics, needle: &str) -> String {
    diagnostics
        .0
        .iter()
        .find(|d| d.severity == Severity::Warning && d.summary.contains("New tenants"))
        .filter(|d| d.detail.contains(needle))
        .map(|d| d.detail.clone())
        .unwrap_or_else(|| panic!("no new-tenants warning naming {needle} in {diagnostics:#?}"))
}

/// Create, then t1 archives and a tenant t3 is added through the sim's control API.
async fn created_then_new_tenant(harness: &Harness) -> Stored {
    let stored = create_base(harness).await;
    assert_eq!(covered_ids(&stored.private), Some(vec![1002, 1004]));
    harness
        .patch_tenant("t1", json!({"archive_log_status": "DOING"}))
        .await;
    let added = harness
        .control(reqwest::Method::POST, "tenants", json!({"name": "t3"}))
        .await;
    assert_eq!(added["id"], 1006);
    stored
}

async fn a_new_tenant_is_drift_and_gets_only_the_tenant_level_call(version: ObshellVersion) {
    let harness = Harness::start(version).await;
    let stored = created_then_new_tenant(&harness).await;
    let config = base_config().to_value();

    // Refresh: the URI no longer holds for every tenant.
    let refreshed = harness.refresh(&stored).await;
    assert_eq!(
        model(&refreshed.state).backup_base_uri,
        text(""),
        "{version}"
    );
    let plan = harness.plan(&refreshed, &config).await;
    check_no_errors(&plan.diagnostics);
    assert_ne!(plan.planned_state, refreshed.state, "{version}: no drift");
    assert_eq!(
        model(&plan.planned_state).backup_base_uri,
        text("file:///data/backup")
    );
    let detail = warning_naming(&plan.diagnostics, "t3 (1006)");
    assert!(detail.contains("tenant-level call"), "{detail}");
    assert!(
        !plan
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("Archive log will stop on every tenant")),
        "{:#?}",
        plan.diagnostics
    );

    harness.clear_requests().await;
    let applied = harness.apply(&refreshed, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    // Exactly one tenant-level POST, for t3, with the destinations the cluster call makes and
    // the configured settings; no cluster-level write.
    let writes = all_config_writes(&harness).await;
    assert_eq!(writes.len(), 1, "{version}: {writes:?}");
    let (method, uri, body) = &writes[0];
    assert_eq!(
        (method.as_str(), uri.as_str()),
        ("POST", "/api/v1/tenant/t3/backup/config")
    );
    assert_eq!(
        body["archive_base_uri"],
        format!("file:///data/backup/{CLUSTER_ID}/1006/clog")
    );
    assert_eq!(
        body["data_base_uri"],
        format!("file:///data/backup/{CLUSTER_ID}/1006/data")
    );
    assert_eq!(body["binding"], "OPTIONAL");
    assert_eq!(body["piece_switch_interval"], "1d");
    assert_eq!(body["log_archive_concurrency"], 4);
    assert!(body.get("backup_base_uri").is_none(), "{body}");
    // The other tenants' archive log was never stopped; t3 got its destinations.
    assert_eq!(
        harness.sim_tenant("t1").await["archive_log_status"],
        "DOING"
    );
    let t3 = harness.sim_tenant("t3").await;
    assert_eq!(
        t3["archive_dest"]["path"],
        format!("file:///data/backup/{CLUSTER_ID}/1006/clog/")
    );
    assert_eq!(t3["parameters"]["log_archive_concurrency"], "4");
    // The private record now covers t3: the next refresh and plan are empty.
    assert_eq!(covered_ids(&applied.private), Some(vec![1002, 1004, 1006]));
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let refreshed = harness.refresh(&stored).await;
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tenant_on_4_2_is_drift_and_gets_only_the_tenant_level_call() {
    a_new_tenant_is_drift_and_gets_only_the_tenant_level_call(ObshellVersion::new(4, 2, 4, 0))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tenant_on_4_5_is_drift_and_gets_only_the_tenant_level_call() {
    a_new_tenant_is_drift_and_gets_only_the_tenant_level_call(ObshellVersion::new(4, 5, 0, 0))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_tenants_beside_a_configuration_change_go_with_the_cluster_call() {
    let harness = Harness::start(ObshellVersion::new(4, 2, 4, 0)).await;
    let stored = created_then_new_tenant(&harness).await;
    let refreshed = harness.refresh(&stored).await;
    let config = config_with(|c| c.binding = text("mandatory"));
    let plan = harness.plan(&refreshed, &config).await;
    check_no_errors(&plan.diagnostics);
    let detail = warning_naming(&plan.diagnostics, "t3 (1006)");
    assert!(detail.contains("cluster call"), "{detail}");
    check_warning(&plan.diagnostics, "Archive log will stop on every tenant");
    harness.clear_requests().await;
    let applied = harness.apply(&refreshed, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    let writes = all_config_writes(&harness).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].1, "/api/v1/obcluster/backup/config");
    assert_eq!(covered_ids(&applied.private), Some(vec![1002, 1004, 1006]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_level_call_failing_part_way_keeps_what_was_configured() {
    let harness = Harness::start(ObshellVersion::new(4, 2, 4, 0)).await;
    let stored = created_then_new_tenant(&harness).await;
    harness
        .control(reqwest::Method::POST, "tenants", json!({"name": "t4"}))
        .await;
    let refreshed = harness.refresh(&stored).await;
    let config = base_config().to_value();
    let plan = harness.plan(&refreshed, &config).await;
    warning_naming(&plan.diagnostics, "t3 (1006), t4 (1008)");
    // Another client's tenant-level DAG on t4 failed and still holds t4's maintenance lock.
    let obshell = Client::builder(harness.sim.base_url())
        .password(PASSWORD)
        .build()
        .expect("a client");
    harness
        .control(
            reqwest::Method::POST,
            "faults/dag",
            json!({"node": "Set backup config", "message": "disk full"}),
        )
        .await;
    let dest = |leaf: &str| StorageUri::new(format!("file:///other/{leaf}"));
    let dag = obshell
        .post_tenant_backup_config(
            "t4",
            &dest("clog"),
            &dest("data"),
            &BackupConfigRequest::default(),
        )
        .await
        .expect("accepted");
    while !obshell.get_dag(&dag.id).await.expect("dag").is_finished() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    harness.clear_requests().await;
    let applied = harness.apply(&refreshed, &plan, &config).await;
    // t3 was configured, t4 refused: the error names both, the state keeps the drift, and the
    // record covers t3 so it is not configured twice.
    check_error_containing(
        &applied.diagnostics,
        &[
            "under maintenance",
            "Configured by this apply: t3 (1006)",
            "t4 (1008)",
        ],
    );
    assert_eq!(model(&applied.new_state).backup_base_uri, text(""));
    assert_eq!(covered_ids(&applied.private), Some(vec![1002, 1004, 1006]));
    let writes = all_config_writes(&harness).await;
    let uris: Vec<&str> = writes.iter().map(|(_, uri, _)| uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "/api/v1/tenant/t3/backup/config",
            "/api/v1/tenant/t4/backup/config"
        ]
    );
    assert_eq!(
        harness.sim_tenant("t1").await["archive_log_status"],
        "DOING"
    );
    // Once t4's DAG is passed, the next plan configures t4 alone.
    obshell
        .operate_dag(&dag.id, DagOperator::Pass)
        .await
        .expect("passed");
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let refreshed = harness.refresh(&stored).await;
    let plan = harness.plan(&refreshed, &config).await;
    let detail = warning_naming(&plan.diagnostics, "t4 (1008)");
    assert!(!detail.contains("t3 (1006)"), "{detail}");
    harness.clear_requests().await;
    let applied = harness.apply(&refreshed, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    let writes = all_config_writes(&harness).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].1, "/api/v1/tenant/t4/backup/config");
    assert_eq!(
        covered_ids(&applied.private),
        Some(vec![1002, 1004, 1006, 1008])
    );
}

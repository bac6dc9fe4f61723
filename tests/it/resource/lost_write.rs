//! Issue 9 item 5: an update whose answer was lost while another client started the same task,
//! with OceanBase's clock hours behind the agent's. The apply cannot tell which DAG is its own: it
//! says the outcome is unknown, names both, and records them; the next Read resolves them.
//!
//! With one DAG found after a lost answer, ids cannot tell either: obshell does not refuse a second
//! backup-config DAG, and the request may have started nothing. The apply takes the DAG for its own
//! only when the cluster then has what it sent.

use super::*;

const CONFIG_PATH: &str = "/api/v1/obcluster/backup/config";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_candidate_dags_after_a_lost_answer_are_named_recorded_and_resolved_by_read() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .control(
            reqwest::Method::POST,
            "clock",
            json!({"db_clock_offset": "-8h"}),
        )
        .await;
    // A short request timeout, so the client gives up on the answer that never ends.
    let Value::Object(mut block) = provider_block(&harness.sim.base_url(), PASSWORD) else {
        unreachable!()
    };
    block.insert("request_timeout".to_owned(), "1500ms".into());
    let diagnostics = harness
        .provider
        .configure(ConfigureRequest {
            terraform_version: "1.15.5".to_owned(),
            config: Value::Object(block),
        })
        .await;
    check_no_errors(&diagnostics);
    harness.http_fault(json!({"kind": "trickle_after_read", "every_ms": 100, "endless": true, "method": "PATCH", "path_prefix": CONFIG_PATH})).await;
    let config = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(6)));
    let plan = harness.plan(&stored, &config).await;
    let dags_before = harness.sim_state().await["dags"].as_array().unwrap().len();
    let apply = harness.apply(&stored, &plan, &config);
    // While the answer trickles, another client starts a backup-config task too.
    let other = async {
        for _ in 0..500 {
            if harness.sim_state().await["dags"].as_array().unwrap().len() > dags_before {
                let held = harness
                    .control(reqwest::Method::POST, "dags/hold-running", json!({}))
                    .await;
                return held["id"].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the PATCH started no DAG");
    };
    let (applied, other) = tokio::join!(apply, other);
    let dags = harness.sim_state().await["dags"].clone();
    let ours = dags[dags_before]["id"].as_str().unwrap().to_owned();
    check_error_containing(&applied.diagnostics, &["outcome is unknown", &ours, &other]);
    let pending = pending_of(&applied.private);
    assert_eq!(pending.dag_id, ours);
    assert_eq!(pending.other_candidates, vec![other.clone()]);
    let writes = harness.config_writes().await;
    assert_eq!(
        writes.iter().filter(|(m, _)| m == "PATCH").count(),
        1,
        "sent once: {writes:?}"
    );

    // The other task still runs: the Read keeps both and says so.
    let stored = Stored {
        state: applied.new_state.clone(),
        private: applied.private.clone(),
    };
    let read = harness.read(&stored).await;
    check_no_errors(&read.diagnostics);
    let detail = warning_detail(&read.diagnostics, "still running");
    assert!(
        detail.contains(&ours) && detail.contains(&other),
        "{detail}"
    );
    assert_eq!(pending_of(&read.private), pending);

    // Both end applied: whichever was this update's, it applied.
    harness.release(&other).await;
    let resolved = harness.read_until_resolved(&stored).await;
    assert_eq!(
        model(&resolved.new_state).log_archive_concurrency,
        Field::Known(Number::Int(6))
    );
}

const ERAS: [ObshellVersion; 2] = [
    ObshellVersion::new(4, 2, 4, 0),
    ObshellVersion::new(4, 5, 0, 0),
];

/// Another obshell client, with the provider's password.
async fn other_client(harness: &Harness) -> terraform_provider_oceanbase::obshell::Client {
    let client = terraform_provider_oceanbase::obshell::Client::builder(harness.sim.base_url())
        .password(PASSWORD)
        .build()
        .expect("the client builds");
    client
        .agent_info()
        .await
        .expect("the other client reaches obshell");
    client
}

/// Lets the held answer go out.
async fn release_held_answer(harness: &Harness) {
    let released = harness
        .control(reqwest::Method::POST, "faults/release", json!({}))
        .await;
    assert_eq!(released, json!({"released": 1}));
}

/// Nodes long enough that a DAG is still unfinished when the search looks (4.2.x lists only
/// unfinished DAGs).
async fn slow_dags(harness: &Harness) {
    harness
        .control(
            reqwest::Method::PATCH,
            "config",
            json!({"task_duration_ms": 1500}),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clients_dag_after_a_lost_answer_is_not_taken_for_this_change() {
    for version in ERAS {
        let harness = Harness::start(version).await;
        let stored = create_base(&harness).await;
        slow_dags(&harness).await;
        let other_client = other_client(&harness).await;
        // The PATCH never reaches obshell: a proxy answers 503, which may also come after obshell
        // has processed it, so the provider looks for a DAG it may have started. The answer is
        // held until the other client's DAG exists, so no machine is too slow for what follows.
        harness.http_fault(json!({"kind": "status", "status": 503, "hold": true, "method": "PATCH", "path_prefix": CONFIG_PATH})).await;
        // The other client's DAG runs until the provider has found it (4.2.x lists only the
        // unfinished ones).
        harness.hold_next_dag().await;
        let config = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(6)));
        let plan = harness.plan(&stored, &config).await;
        check_no_errors(&plan.diagnostics);
        let apply = harness.apply(&stored, &plan, &config);
        // While the provider waits for the answer, another client changes the same setting to
        // something else.
        let other = async {
            harness.wait_until_held("PATCH", CONFIG_PATH).await;
            let request = terraform_provider_oceanbase::obshell::BackupConfigRequest {
                log_archive_concurrency: Some(3),
                ..Default::default()
            };
            let dag = other_client
                .patch_backup_config(&request)
                .await
                .expect("the other client's change");
            let id = dag.id.as_str().to_owned();
            release_held_answer(&harness).await;
            harness
                .wait_for_request("GET", &format!("/api/v1/task/dag/{id}"))
                .await;
            harness.release(&id).await;
            id
        };
        let (applied, other) = tokio::join!(apply, other);
        check_error_containing(
            &applied.diagnostics,
            &["outcome is unknown", &other, "log_archive_concurrency"],
        );
        // Neither this change's value nor the other client's: the value from before.
        assert_eq!(
            model(&applied.new_state).log_archive_concurrency,
            Field::Known(Number::Int(4)),
            "{version:?}"
        );
        let writes = harness.config_writes().await;
        assert_eq!(
            writes.iter().filter(|(m, _)| m == "PATCH").count(),
            2,
            "the provider's PATCH once, the other client's once: {writes:?}"
        );
        let stored = Stored {
            state: applied.new_state,
            private: applied.private,
        };
        let refreshed = harness.refresh(&stored).await;
        assert_eq!(
            model(&refreshed.state).log_archive_concurrency,
            Field::Known(Number::Int(3)),
            "{version:?}"
        );
        let plan = harness.plan(&refreshed, &config).await;
        check_changes_planned(&refreshed, &plan, "the next plan is not empty");
        assert_eq!(
            model(&plan.planned_state).log_archive_concurrency,
            Field::Known(Number::Int(6))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_only_dag_after_a_lost_answer_is_taken_when_the_cluster_has_what_was_sent() {
    for version in ERAS {
        let harness = Harness::start(version).await;
        let stored = create_base(&harness).await;
        slow_dags(&harness).await;
        // obshell processes the PATCH (its DAG starts) but the answer never comes.
        harness
            .http_fault(
                json!({"kind": "drop_after_read", "method": "PATCH", "path_prefix": CONFIG_PATH}),
            )
            .await;
        let config = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(6)));
        let plan = harness.plan(&stored, &config).await;
        let applied = harness.apply(&stored, &plan, &config).await;
        check_no_errors(&applied.diagnostics);
        check_apply_matches_plan(&plan.planned_state, &applied.new_state);
        assert!(PrivateState::decode(&applied.private).pending.is_none());
        let writes = harness.config_writes().await;
        assert_eq!(
            writes.iter().filter(|(m, _)| m == "PATCH").count(),
            1,
            "sent once: {writes:?}"
        );
        let stored = Stored {
            state: applied.new_state,
            private: applied.private,
        };
        let refreshed = harness.refresh(&stored).await;
        let plan = harness.plan(&refreshed, &config).await;
        check_empty_plan(&refreshed, &plan);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_found_dag_still_running_at_the_timeout_is_resolved_by_its_effect() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let other_client = other_client(&harness).await;
    harness.http_fault(json!({"kind": "status", "status": 503, "hold": true, "method": "PATCH", "path_prefix": CONFIG_PATH})).await;
    // The other client's task stays running past this apply's timeout.
    harness.hold_next_dag().await;
    // A parameter every read shows, and a delete policy no read shows without sql_endpoint.
    let config = config_with(|c| {
        c.log_archive_concurrency = Field::Known(Number::Int(6));
        c.delete_policy = Field::Known(DeletePolicyModel {
            policy: text("default"),
            recovery_window: text("14d"),
        });
        c.timeouts = Field::Known(TimeoutsModel {
            create: Field::Null,
            update: text("4s"),
            read: Field::Null,
        });
    });
    let plan = harness.plan(&stored, &config).await;
    check_no_errors(&plan.diagnostics);
    let apply = harness.apply(&stored, &plan, &config);
    // While the provider waits for the answer to its PATCH, another client starts its DAG.
    let other = async {
        harness.wait_until_held("PATCH", CONFIG_PATH).await;
        let request = terraform_provider_oceanbase::obshell::BackupConfigRequest {
            log_archive_concurrency: Some(3),
            ..Default::default()
        };
        let dag = other_client
            .patch_backup_config(&request)
            .await
            .expect("the other client's change");
        release_held_answer(&harness).await;
        dag.id.as_str().to_owned()
    };
    let (applied, other) = tokio::join!(apply, other);
    check_error_containing(&applied.diagnostics, &[&other]);
    let pending = pending_of(&applied.private);
    assert_eq!(pending.dag_id, other);
    assert!(pending.found_by_search);

    harness.release(&other).await;
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let resolved = harness.read_until_resolved(&stored).await;
    let detail = warning_detail(
        &resolved.diagnostics,
        "Outcome of an earlier update unknown",
    );
    assert!(detail.contains(&other), "{detail}");
    let state = model(&resolved.new_state);
    // What the cluster has, and, for what no read shows, the value from before: not what this
    // change sent.
    assert_eq!(state.log_archive_concurrency, Field::Known(Number::Int(3)));
    let window = state
        .delete_policy
        .known()
        .and_then(|policy| policy.recovery_window.known().cloned());
    assert_eq!(window.as_deref(), Some("7d"));
    let refreshed = Stored {
        state: resolved.new_state,
        private: resolved.private,
    };
    let plan = harness.plan(&refreshed, &config).await;
    check_changes_planned(&refreshed, &plan, "the next plan is not empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clients_tenant_level_dag_after_a_lost_answer_does_not_configure_the_tenant() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    // A tenant created after the last location write: the plan configures just it.
    harness
        .control(reqwest::Method::POST, "tenants", json!({"name": "t3"}))
        .await;
    let refreshed = harness.refresh(&stored).await;
    let config = base_config().to_value();
    let plan = harness.plan(&refreshed, &config).await;
    check_no_errors(&plan.diagnostics);
    let other_client = other_client(&harness).await;
    let tenant_path = "/api/v1/tenant/t3/backup/config";
    harness.http_fault(json!({"kind": "status", "status": 503, "hold": true, "method": "POST", "path_prefix": tenant_path})).await;
    let apply = harness.apply(&refreshed, &plan, &config);
    // While the provider waits for the answer to its call, another client points t3 elsewhere.
    let other = async {
        harness.wait_until_held("POST", tenant_path).await;
        let dest = |kind: &str| {
            terraform_provider_oceanbase::obshell::StorageUri::new(format!(
                "file:///elsewhere/{CLUSTER_ID}/1006/{kind}"
            ))
        };
        let dag = other_client
            .post_tenant_backup_config("t3", &dest("clog"), &dest("data"), &Default::default())
            .await
            .expect("the other client's change");
        release_held_answer(&harness).await;
        dag.id.as_str().to_owned()
    };
    let (applied, other) = tokio::join!(apply, other);
    check_error_containing(
        &applied.diagnostics,
        &["outcome is unknown", &other, "backup_base_uri"],
    );
    // t3 is not recorded as configured, and the next plan configures it again.
    assert_eq!(covered_ids(&applied.private), Some(vec![1002, 1004]));
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let refreshed = harness.refresh(&stored).await;
    let tenants = model(&refreshed.state).tenants;
    let t3_dest = tenants
        .known()
        .and_then(|tenants| tenants.get("t3"))
        .and_then(|t3| t3.archive_dest.known().cloned());
    assert!(
        t3_dest
            .as_deref()
            .is_some_and(|dest| dest.contains("elsewhere")),
        "{t3_dest:?}"
    );
    let plan = harness.plan(&refreshed, &config).await;
    check_changes_planned(&refreshed, &plan, "the next plan is not empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_tenant_level_answer_whose_dag_configured_the_tenant_succeeds() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .control(reqwest::Method::POST, "tenants", json!({"name": "t3"}))
        .await;
    let refreshed = harness.refresh(&stored).await;
    let config = base_config().to_value();
    let plan = harness.plan(&refreshed, &config).await;
    harness.http_fault(json!({"kind": "drop_after_read", "method": "POST", "path_prefix": "/api/v1/tenant/t3/backup/config"})).await;
    let applied = harness.apply(&refreshed, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    assert_eq!(covered_ids(&applied.private), Some(vec![1002, 1004, 1006]));
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let refreshed = harness.refresh(&stored).await;
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);
}

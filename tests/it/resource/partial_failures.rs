//! Node 2 "Set backup config" failing part-way (issue 9 item 2, obshell-api.md §10.2): obshell
//! closes archive log on every tenant first, then runs each step tenant by tenant and stops at the
//! first SQL error, leaving earlier steps and tenants applied; the delete policy is dropped before
//! it is added. For each place it can stop: the state after the failed apply claims nothing that
//! was not sent-and-confirmed or read, the warnings say what was left behind, the next refresh and
//! plan show exactly what still differs, and one more apply converges to an empty plan.

use super::*;

/// Makes node 2 of the next config DAG fail at `step` on `tenant`.
async fn fail_at(harness: &Harness, step: &str, tenant: &str, message: &str) {
    harness
        .control(
            reqwest::Method::POST,
            "faults/dag",
            json!({"node": "Set backup config", "step": step, "tenant": tenant, "message": message}),
        )
        .await;
}

/// The warnings' texts, summary and detail, for searching.
fn warnings(diagnostics: &Diagnostics) -> Vec<String> {
    diagnostics
        .0
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect()
}

/// Plan and apply that must fail with `message` in an error; returns the stored result.
async fn apply_failing(
    harness: &Harness,
    prior: &Stored,
    config: &Value,
    message: &str,
) -> (Stored, Diagnostics) {
    let (_, applied) = harness.plan_and_apply(prior, config).await;
    check_error_containing(&applied.diagnostics, &["Set backup config", message]);
    assert!(!applied.new_state.contains_unknown());
    (
        Stored {
            state: applied.new_state,
            private: applied.private,
        },
        applied.diagnostics,
    )
}

/// The attributes whose planned value differs from the prior state.
fn changed_attributes(prior: &Value, planned: &Value) -> Vec<String> {
    let (Value::Object(prior), Value::Object(planned)) = (prior, planned) else {
        panic!("objects expected");
    };
    planned
        .iter()
        .filter(|(name, value)| prior.get(*name) != Some(*value))
        .map(|(name, _)| name.clone())
        .collect()
}

/// From a refreshed state: plan (which must show exactly `expected_changes`, besides the computed
/// `tenants`), apply that plan (which must send exactly `expected_body`), and a last refresh and
/// plan that must be empty.
async fn converge(
    harness: &Harness,
    refreshed: &Stored,
    config: &Value,
    expected_changes: &[&str],
    expected_body: Json,
) -> Stored {
    let refreshed = refreshed.clone();
    let plan = harness.plan(&refreshed, config).await;
    check_no_errors(&plan.diagnostics);
    let mut changed = changed_attributes(&refreshed.state, &plan.planned_state);
    // The computed tenants show (known after apply) whatever fields the request may change, which
    // need not be any that is read (delete_policy without sql_endpoint).
    changed.retain(|name| name != "tenants");
    changed.sort();
    let mut expected: Vec<String> = expected_changes
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    expected.sort();
    assert_eq!(changed, expected, "the plan after the refresh");
    harness.clear_requests().await;
    let applied = harness.apply(&refreshed, &plan, config).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    assert_eq!(
        harness.config_writes().await,
        [("PATCH".to_owned(), expected_body)],
        "the converging apply sends what still differs, once"
    );
    let stored = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let refreshed = harness.refresh(&stored).await;
    let plan = harness.plan(&refreshed, config).await;
    check_empty_plan(&refreshed, &plan);
    refreshed
}

/// (a) The failure comes right after archive log was closed on every tenant: nothing else was
/// applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_archive_log_close_leaves_only_archive_log_stopped() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "DOING").await;
    harness.set_archive_log("t2", "DOING").await;
    let config = config_with(|c| {
        c.log_archive_concurrency = Field::Known(Number::Int(6));
        c.archive_lag_target = text("3m");
    });
    fail_at(
        &harness,
        "log_archive_concurrency",
        "t1",
        "Error 4012 (HY000): Timeout",
    )
    .await;
    let (after, diagnostics) = apply_failing(&harness, &stored, &config, "Timeout").await;

    for name in ["t1", "t2"] {
        let tenant = harness.sim_tenant(name).await;
        assert_eq!(tenant["archive_log_status"], "STOP", "{tenant}");
        assert_eq!(
            tenant["parameters"]["log_archive_concurrency"], "4",
            "{tenant}"
        );
        assert_eq!(tenant["parameters"]["archive_lag_target"], "2m", "{tenant}");
    }
    let state = model(&after.state);
    assert_eq!(state.log_archive_concurrency, Field::Known(Number::Int(4)));
    assert_eq!(state.archive_lag_target, text("2m"));
    let detail = warning_detail(&diagnostics, "Archive log");
    assert!(
        detail.contains("`ALTER SYSTEM ARCHIVELOG TENANT = t1, t2;`"),
        "{detail}"
    );
    assert!(
        detail.contains("archive log is now stopped on t1, t2"),
        "{detail}"
    );
    // Nothing else was applied, so nothing is said to be.
    assert!(
        !warnings(&diagnostics)
            .iter()
            .any(|w| w.contains("partly applied")),
        "{diagnostics:#?}"
    );

    converge(
        &harness,
        &harness.refresh(&after).await,
        &config,
        &["log_archive_concurrency", "archive_lag_target"],
        json!({"log_archive_concurrency": 6, "archive_lag_target": "3m"}),
    )
    .await;
    for name in ["t1", "t2"] {
        let tenant = harness.sim_tenant(name).await;
        assert_eq!(
            tenant["parameters"]["log_archive_concurrency"], "6",
            "{tenant}"
        );
        assert_eq!(tenant["parameters"]["archive_lag_target"], "3m", "{tenant}");
    }
}

/// (b) The failure comes at the second of two tenants: the first one has the new value, the
/// second the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_first_tenant_leaves_it_applied() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let config = config_with(|c| c.archive_lag_target = text("3m"));
    fail_at(
        &harness,
        "archive_lag_target",
        "t2",
        "Error 1105 (HY000): disk full",
    )
    .await;
    let (after, diagnostics) = apply_failing(&harness, &stored, &config, "disk full").await;

    let (t1, t2) = (
        harness.sim_tenant("t1").await,
        harness.sim_tenant("t2").await,
    );
    assert_eq!(t1["parameters"]["archive_lag_target"], "3m", "{t1}");
    assert_eq!(t2["parameters"]["archive_lag_target"], "2m", "{t2}");
    // The state keeps what was read before; the tenants it shows are as read after the failure.
    let state = model(&after.state);
    assert_eq!(state.archive_lag_target, text("2m"));
    let tenants = state.tenants.known().expect("tenants");
    assert_eq!(
        tenants["t1"].archive_lag_target.known().map(String::as_str),
        Some("3m")
    );
    assert_eq!(
        tenants["t2"].archive_lag_target.known().map(String::as_str),
        Some("2m")
    );
    let detail = warning_detail(&diagnostics, "partly applied");
    assert!(
        detail.contains("archive_lag_target reached t1 but not t2"),
        "{detail}"
    );
    assert!(
        !warnings(&diagnostics)
            .iter()
            .any(|w| w.contains("Archive log")),
        "archive_lag_target does not stop archive log: {diagnostics:#?}"
    );

    // Refresh folds the lowest differing tenant (t1: 3m), which equals the configuration; t2 is
    // still 2m, so the plan must still send archive_lag_target.
    converge(
        &harness,
        &harness.refresh(&after).await,
        &config,
        &[],
        json!({"archive_lag_target": "3m"}),
    )
    .await;
    let t2 = harness.sim_tenant("t2").await;
    assert_eq!(t2["parameters"]["archive_lag_target"], "3m", "{t2}");
}

/// (c) The failure comes between dropping a tenant's delete policy and adding the new one: that
/// tenant has no policy at all, the other one keeps the old policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_between_delete_policy_drop_and_add_leaves_no_policy() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let config = config_with(|c| {
        c.delete_policy = Field::Known(DeletePolicyModel {
            policy: text("default"),
            recovery_window: text("3d"),
        })
    });
    fail_at(
        &harness,
        "add_delete_policy",
        "t1",
        "Error 4016 (HY000): Internal error",
    )
    .await;
    let (after, diagnostics) = apply_failing(&harness, &stored, &config, "Internal error").await;

    let (t1, t2) = (
        harness.sim_tenant("t1").await,
        harness.sim_tenant("t2").await,
    );
    assert_eq!(t1["delete_policy"], Json::Null, "{t1}");
    assert_eq!(t2["delete_policy"]["recovery_window"], "7d", "{t2}");
    // The old policy may be gone: the state does not claim it any more (null: no policy known),
    // and never claims the new one.
    assert!(model(&after.state).delete_policy.is_null(), "{after:?}");
    let detail = warning_detail(&diagnostics, "partly applied");
    assert!(
        detail.contains("delete_policy") && detail.contains("without a delete policy"),
        "{detail}"
    );

    // Even a configuration reverted to the old policy sends it again: t1 has none.
    let plan = harness.plan(&after, &base_config().to_value()).await;
    check_no_errors(&plan.diagnostics);
    assert_ne!(plan.planned_state, after.state, "a revert must still send");

    converge(
        &harness,
        &harness.refresh(&after).await,
        &config,
        &["delete_policy"],
        json!({"delete_policy": {"policy": "default", "recovery_window": "3d"}}),
    )
    .await;
    for name in ["t1", "t2"] {
        let tenant = harness.sim_tenant(name).await;
        assert_eq!(tenant["delete_policy"]["recovery_window"], "3d", "{tenant}");
    }
}

/// The same hole without a failure: a DBA set the configured value on one tenant only. The
/// refresh folds that tenant (it is the lowest one that differs from state), which equals the new
/// configuration; the other tenant still has the old value, so the plan must not be empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_one_tenant_lacks_is_planned_even_when_the_fold_matches() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .patch_tenant(
            "t1",
            json!({"parameters": {"archive_lag_target": "3m", "ha_low_thread_score": 20}}),
        )
        .await;
    let config = config_with(|c| c.archive_lag_target = text("3m"));
    let refreshed = harness.refresh(&stored).await;
    assert_eq!(model(&refreshed.state).archive_lag_target, text("3m"));
    let plan = harness.plan(&refreshed, &config).await;
    check_no_errors(&plan.diagnostics);
    let detail = warning_detail(&plan.diagnostics, "Tenants differ from the configuration");
    assert!(
        detail.contains("archive_lag_target: t2 (2m)")
            && detail.contains("ha_low_thread_score: t1 (20)"),
        "{detail}"
    );
    converge(
        &harness,
        &refreshed,
        &config,
        &["ha_low_thread_score"],
        json!({"ha_low_thread_score": 10, "archive_lag_target": "3m"}),
    )
    .await;
}

//! Issue 8's paths where the state, the plan or the exit code could disagree with the cluster:
//! import adoption that never ended, refreshes that flip between tenants, a create obshell
//! accepted, StopProvider before the write, archive log left stopped. Driven through the
//! `ProviderHandler` methods like the rest of `resource.rs`; each test fails with its bug back.

use super::*;

/// A configuration of only `backup_base_uri`, plus `edit`.
fn uri_only(edit: impl FnOnce(&mut BackupConfigModel)) -> Value {
    let mut model = BackupConfigModel::empty();
    model.backup_base_uri = text("file:///data/backup");
    edit(&mut model);
    model.to_value_with_write_only()
}

/// Plans and applies `config` over `prior` as `terraform apply` does when the plan is empty:
/// nothing is applied and the refreshed state is saved.
async fn saved_refresh(harness: &Harness, prior: &Stored, config: &Value) -> Stored {
    let refreshed = harness.refresh(prior).await;
    let plan = harness.plan(&refreshed, config).await;
    check_empty_plan(&refreshed, &plan);
    refreshed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_adoption_ends_once_a_refresh_is_saved() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    create_base(&harness).await;
    // terraform import: the import and its own refresh, saved.
    let imported = harness.import_ok().await;
    let with_binding = uri_only(|c| {
        c.binding = text("mandatory");
        c.delete_policy = Field::Known(DeletePolicyModel {
            policy: Field::Null,
            recovery_window: text("3d"),
        });
    });

    // The first plan after the import still adopts what obshell cannot report.
    let first = harness.refresh(&imported).await;
    let plan = harness.plan(&first, &with_binding).await;
    check_warning(&plan.diagnostics, "adopted without verification");

    // But once a refresh is saved (terraform apply with an empty plan), an edit is an edit.
    let saved = saved_refresh(&harness, &imported, &uri_only(|_| {})).await;
    let refreshed = harness.refresh(&saved).await;
    harness.clear_requests().await;
    let plan = harness.plan(&refreshed, &with_binding).await;
    check_no_errors(&plan.diagnostics);
    assert!(
        !plan
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("adopted")),
        "{:#?}",
        plan.diagnostics
    );
    let applied = harness.apply(&refreshed, &plan, &with_binding).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    let writes = harness.config_writes().await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].1["binding"], "MANDATORY", "{writes:?}");
    assert_eq!(
        writes[0].1["delete_policy"],
        json!({"policy": "default", "recovery_window": "3d"})
    );
    let t1 = harness.sim_state().await["tenants"][0].clone();
    assert_eq!(t1["archive_dest"]["binding"], "MANDATORY", "{t1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uri_change_after_import_says_what_it_sends_for_binding_and_interval() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    // The cluster has a binding and an interval that obshell cannot report.
    let created = create_base(&harness).await;
    let mandatory = config_with(|c| {
        c.binding = text("mandatory");
        c.piece_switch_interval = text("2d");
    });
    harness.apply_ok(&created, &mandatory).await;
    let imported = harness.import_ok().await;
    let saved = saved_refresh(&harness, &imported, &uri_only(|_| {})).await;
    // Well after the import, the first URI change.
    let moved = uri_only(|c| c.backup_base_uri = text("file:///data/elsewhere"));
    let refreshed = harness.refresh(&saved).await;
    let plan = harness.plan(&refreshed, &moved).await;
    check_no_errors(&plan.diagnostics);
    let detail = warning_detail(&plan.diagnostics, "reset to OceanBase's defaults");
    for needle in [
        "binding = \"OPTIONAL\"",
        "piece_switch_interval = \"1d\"",
        "imported",
    ] {
        assert!(detail.contains(needle), "{needle} in {detail}");
    }
    // A configuration that sets them gets no such warning.
    let explicit = uri_only(|c| {
        c.backup_base_uri = text("file:///data/elsewhere");
        c.binding = text("mandatory");
        c.piece_switch_interval = text("2d");
    });
    let plan = harness.plan(&refreshed, &explicit).await;
    assert!(
        !plan
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("defaults")),
        "{:#?}",
        plan.diagnostics
    );
    // Once the location has been written, null means OceanBase's default: no warning.
    let applied = harness.apply_ok(&refreshed, &moved).await;
    let back = uri_only(|_| {});
    let plan = harness.plan(&harness.refresh(&applied).await, &back).await;
    check_no_errors(&plan.diagnostics);
    assert!(
        !plan
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("defaults")),
        "{:#?}",
        plan.diagnostics
    );
    // A resource that was created, not imported, never warns.
    let created = create_base(&harness).await;
    let plan = harness
        .plan(
            &created,
            &config_with(|c| {
                c.backup_base_uri = text("file:///data/third");
                c.binding = Field::Null;
                c.piece_switch_interval = Field::Null;
            }),
        )
        .await;
    assert!(
        !plan
            .diagnostics
            .0
            .iter()
            .any(|d| d.summary.contains("defaults")),
        "{:#?}",
        plan.diagnostics
    );
}

/// Tenants that disagree on a read-back attribute: refreshing again from the saved refreshed
/// state reports the same value (a second `plan -refresh-only` is empty), the warning lists every
/// tenant's value, and a configuration set to one tenant's value still sends it to all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_of_disagreeing_tenants_is_stable() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .patch_tenant(
            "t2",
            json!({"parameters": {"archive_lag_target": "5m", "ha_low_thread_score": "7"}}),
        )
        .await;
    let first = harness.read(&stored).await;
    check_no_errors(&first.diagnostics);
    let detail = warning_detail(&first.diagnostics, "Tenants disagree");
    for needle in [
        "archive_lag_target",
        "t1 = \"2m\"",
        "t2 = \"5m\"",
        "ha_low_thread_score",
        "t1 = \"10\"",
        "t2 = \"7\"",
        "the state reports \"5m\"",
    ] {
        assert!(detail.contains(needle), "{needle} in {detail}");
    }
    let first_state = model(&first.new_state);
    assert_eq!(first_state.archive_lag_target, text("5m"));
    assert_eq!(
        first_state.ha_low_thread_score,
        Field::Known(Number::Int(7))
    );
    // The refreshed state is saved (terraform apply -refresh-only); the next refreshes agree.
    let mut saved = Stored {
        state: first.new_state.clone(),
        private: first.private.clone(),
    };
    for _ in 0..3 {
        let again = harness.refresh(&saved).await;
        assert_eq!(again.state, first.new_state, "the refresh flipped");
        saved = again;
    }
    // A configuration that takes t2's values: the state equals it, but t1 differs, so the plan
    // is not empty and apply sends them to every tenant.
    let t2_values = config_with(|c| {
        c.archive_lag_target = text("5m");
        c.ha_low_thread_score = Field::Known(Number::Int(7));
    });
    let plan = harness.plan(&saved, &t2_values).await;
    check_no_errors(&plan.diagnostics);
    check_warning(&plan.diagnostics, "Tenants differ from the configuration");
    assert_ne!(plan.planned_state, saved.state, "the plan is empty");
    harness.clear_requests().await;
    let applied = harness.apply(&saved, &plan, &t2_values).await;
    check_no_errors(&applied.diagnostics);
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    assert_eq!(
        harness.config_writes().await,
        [(
            "PATCH".to_owned(),
            json!({"ha_low_thread_score": 7, "archive_lag_target": "5m"})
        )]
    );
    let after = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let refreshed = harness.refresh(&after).await;
    let plan = harness.plan(&refreshed, &t2_values).await;
    check_empty_plan(&refreshed, &plan);
}

/// The id of the one held (running) DAG in the sim.
async fn held_dag(harness: &Harness) -> String {
    let dags = harness.sim_state().await["dags"].clone();
    dags.as_array()
        .expect("dags")
        .iter()
        .find(|dag| dag["held"] == true)
        .expect("a held dag")["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// A create obshell accepted but the provider stopped following keeps `{dag_id, sent}` in private
/// state; the next refresh resolves it and, when every tenant has what it sent, says how to keep
/// the tainted resource without sending it again (terraform untaint, after which the plan is
/// empty and nothing is sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_succeeded_after_its_apply_gave_up_is_resolved_by_the_next_refresh() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = with_create_timeout(|_| {});
    let harness = &harness;
    let tainted_create = |config: Value| async move {
        let applied = harness.apply_held(&empty(), &config).await;
        let pending = pending_of(&applied.private);
        assert!(pending.create && pending.sent.location, "{pending:?}");
        let dag_id = held_dag(harness).await;
        assert_eq!(pending.dag_id, dag_id);
        harness.release(&dag_id).await;
        Stored {
            state: applied.new_state,
            private: applied.private,
        }
    };
    let tainted = tainted_create(config.clone()).await;
    let read = harness.read_until_resolved(&tainted).await;
    let detail = warning_detail(&read.diagnostics, "Earlier create succeeded");
    assert!(detail.contains("terraform untaint"), "{detail}");
    // After terraform untaint: an empty plan, nothing sent.
    let refreshed = Stored {
        state: read.new_state,
        private: read.private,
    };
    harness.clear_requests().await;
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);
    assert!(harness.config_writes().await.is_empty());

    // When a tenant no longer has what it sent, the warning says the replacement sends it again.
    // (Another configuration: this one's create would adopt the first, see adoption.rs.)
    let tainted = tainted_create(config_with(|c| {
        c.timeouts = model(&config).timeouts;
        c.archive_lag_target = text("4m");
    }))
    .await;
    harness.wait_until_no_dag_runs().await;
    harness
        .patch_tenant("t2", json!({"parameters": {"ha_low_thread_score": "3"}}))
        .await;
    let read = harness.read(&tainted).await;
    check_no_errors(&read.diagnostics);
    let detail = warning_detail(&read.diagnostics, "Earlier create succeeded");
    assert!(
        !detail.contains("untaint") && detail.contains("ha_low_thread_score"),
        "{detail}"
    );
}

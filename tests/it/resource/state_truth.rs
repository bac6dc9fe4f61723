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

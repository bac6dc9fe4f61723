//! Silent data-protection failures that a mutation run found no test for: each test here fails
//! when its bug is put back (see docs/development/mutants.md). They drive the update path through
//! the `ProviderHandler` methods only, like the rest of `resource.rs`.

use super::*;

use std::time::Instant;

use terraform_provider_oceanbase::obshell::{Client, DagId, DagOperator};
use terraform_provider_oceanbase::resources::backup_config::model::StorageCredentialsModel;

/// The backup-config DAG of `dag_id` from the sim's state.
async fn sim_dag(harness: &Harness, dag_id: &str) -> Json {
    let state = harness.sim_state().await;
    state["dags"]
        .as_array()
        .expect("dags")
        .iter()
        .find(|dag| dag["id"] == dag_id)
        .cloned()
        .unwrap_or_else(|| panic!("no DAG {dag_id} in {state}"))
}

/// Waits until the sim's DAG `dag_id` is in `state` (at most 20 s: a slow check node runs 6 s).
async fn wait_for_dag_state(harness: &Harness, dag_id: &str, state: &str) -> Json {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let dag = sim_dag(harness, dag_id).await;
        if dag["state"] == state {
            return dag;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("DAG {dag_id} never reached {state}");
}

fn located(edit: impl FnOnce(&mut BackupConfigModel)) -> Value {
    config_with(|c| {
        c.binding = text("mandatory");
        c.piece_switch_interval = text("2d");
        edit(c);
    })
}

/// `LOG_ARCHIVE_DEST` is not incremental: a request that carries only the URI resets binding and
/// piece interval to OPTIONAL and 1d, which obshell cannot show. Moving the URI must resend both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_the_uri_resends_binding_and_piece_switch_interval() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = harness.apply_ok(&empty(), &located(|_| {})).await;
    harness.clear_requests().await;

    let moved = located(|c| c.backup_base_uri = text("file:///data/moved"));
    let stored = harness.apply_ok(&stored, &moved).await;
    let writes = harness.config_writes().await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    let (method, body) = &writes[0];
    assert_eq!(method, "PATCH");
    assert_eq!(
        body,
        &json!({"backup_base_uri": "file:///data/moved", "binding": "MANDATORY", "piece_switch_interval": "2d"}),
        "the whole LOG_ARCHIVE_DEST group and nothing else"
    );
    let state = harness.sim_state().await;
    let tenants = state["tenants"].as_array().expect("tenants");
    assert!(!tenants.is_empty());
    for tenant in tenants {
        let dest = &tenant["archive_dest"];
        assert!(
            dest["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("file:///data/moved/")),
            "{tenant}"
        );
        assert_eq!(dest["binding"], "MANDATORY", "{tenant}");
        assert_eq!(dest["piece_switch_interval"], "2d", "{tenant}");
    }
    let refreshed = harness.refresh(&stored).await;
    check_empty_plan(&refreshed, &harness.plan(&refreshed, &moved).await);
}

/// How the DAG of an update that outlived its apply ends, operated through obshell's API.
#[derive(Clone, Copy, Debug)]
enum LaterEnd {
    /// It fails in "Set backup config".
    Failed,
    /// It fails in "Check backup config" and is rolled back (SUCCEED, operator ROLLBACK).
    RolledBack,
    /// It fails in "Set backup config" and is passed (SUCCEED, operator PASS).
    Passed,
}

/// A pending update is adopted only when its DAG applied the change (SUCCEED with RUN or RETRY);
/// failed, rolled back or passed, the refresh says it did not apply and keeps the prior values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_update_whose_dag_did_not_apply_is_not_adopted() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let obshell = Client::builder(harness.sim.base_url())
        .password(PASSWORD)
        .build()
        .expect("a client");
    for end in [LaterEnd::Failed, LaterEnd::RolledBack, LaterEnd::Passed] {
        let node = match end {
            LaterEnd::RolledBack => {
                // Only the check node can roll back; it outlives the apply by being slow: twice
                // the update's timeout (HELD_DAG_TIMEOUT, 3 s), so it is still running when the
                // apply stops following it.
                harness
                    .control(
                        reqwest::Method::PATCH,
                        "config",
                        json!({"task_duration_ms": 6000}),
                    )
                    .await;
                "Check backup config"
            }
            LaterEnd::Failed | LaterEnd::Passed => {
                harness.hold_next_dag().await;
                "Set backup config"
            }
        };
        harness
            .control(
                reqwest::Method::POST,
                "faults/dag",
                json!({"node": node, "message": "cannot set binding", "code": "MySQL.Error"}),
            )
            .await;
        let config = with_update_timeout(|c| c.binding = text("mandatory"));
        let plan = harness.plan(&stored, &config).await;
        check_no_errors(&plan.diagnostics);
        let applied = harness.apply(&stored, &plan, &config).await;
        check_error_containing(&applied.diagnostics, &["continues on obshell"]);
        assert_eq!(
            model(&applied.new_state).binding,
            text("optional"),
            "{end:?}"
        );
        let dag_id = pending_of(&applied.private).dag_id;

        match end {
            LaterEnd::RolledBack => {
                wait_for_dag_state(&harness, &dag_id, "FAILED").await;
                harness
                    .control(
                        reqwest::Method::PATCH,
                        "config",
                        json!({"task_duration_ms": 20}),
                    )
                    .await;
                obshell
                    .operate_dag(&DagId::new(dag_id.clone()), DagOperator::Rollback)
                    .await
                    .expect("rollback");
                let dag = wait_for_dag_state(&harness, &dag_id, "SUCCEED").await;
                assert_eq!(dag["operator"], "ROLLBACK", "{dag}");
            }
            LaterEnd::Failed | LaterEnd::Passed => {
                harness.release(&dag_id).await;
                wait_for_dag_state(&harness, &dag_id, "FAILED").await;
                if matches!(end, LaterEnd::Passed) {
                    obshell
                        .operate_dag(&DagId::new(dag_id.clone()), DagOperator::Pass)
                        .await
                        .expect("pass");
                    let dag = wait_for_dag_state(&harness, &dag_id, "SUCCEED").await;
                    assert_eq!(dag["operator"], "PASS", "{dag}");
                }
            }
        }

        let read = harness
            .read(&Stored {
                state: applied.new_state.clone(),
                private: applied.private.clone(),
            })
            .await;
        check_no_errors(&read.diagnostics);
        let detail = warning_detail(&read.diagnostics, "did not apply");
        assert!(detail.contains(&dag_id), "{end:?}: {detail}");
        assert!(
            PrivateState::decode(&read.private).pending.is_none(),
            "{end:?}: the DAG is resolved"
        );
        assert_eq!(model(&read.new_state).binding, text("optional"), "{end:?}");
        let after = Stored {
            state: read.new_state,
            private: read.private,
        };
        let next = harness.plan(&after, &config).await;
        check_changes_planned(
            &after,
            &next,
            &format!("{end:?}: the next plan sends it again"),
        );
        assert_eq!(model(&next.planned_state).binding, text("mandatory"));
        harness
            .control(reqwest::Method::DELETE, "faults", json!({}))
            .await;
    }
}

/// A credential rotation that obshell did not apply keeps the old key in state, so the next plan
/// sends the new one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_credential_rotation_keeps_the_old_key() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    const URI: &str = "oss://bucket/backup?host=oss.example.com";
    let stored = harness.apply_ok(&empty(), &object_store_config(URI)).await;
    let rotated = config_with(|c| {
        c.backup_base_uri = text(URI);
        c.storage_credentials = Field::Known(StorageCredentialsModel {
            access_id: text("AKID"),
            access_key: text("ROTATEDKEY"),
        });
    });
    harness
        .control(
            reqwest::Method::POST,
            "faults/dag",
            json!({"node": "Set backup config", "message": "set log archive dest failed", "code": "MySQL.Error"}),
        )
        .await;
    let plan = harness.plan(&stored, &rotated).await;
    check_no_errors(&plan.diagnostics);
    let applied = harness.apply(&stored, &plan, &rotated).await;
    check_error_containing(&applied.diagnostics, &["set log archive dest failed"]);
    let credentials = model(&applied.new_state)
        .storage_credentials
        .known()
        .cloned()
        .expect("credentials in state");
    assert_eq!(credentials.access_key, text("SECRETKEY"));

    let after = harness
        .refresh(&Stored {
            state: applied.new_state,
            private: applied.private,
        })
        .await;
    let next = harness.plan(&after, &rotated).await;
    check_changes_planned(&after, &next, "the next plan sends the new key");
    harness.clear_requests().await;
    let applied = harness.apply(&after, &next, &rotated).await;
    check_no_errors(&applied.diagnostics);
    let writes = harness.config_writes().await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(
        writes[0].1["backup_base_uri"]
            .as_str()
            .is_some_and(|uri| uri.contains("access_key=ROTATEDKEY")),
        "{writes:?}"
    );
}

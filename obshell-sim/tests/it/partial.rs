//! Node 2 "Set backup config" failing part-way, and the tenants the DAG touches: what obshell
//! leaves applied when a statement fails (obshell-api.md §10.2, §10.3).

use serde_json::{json, Value};

use crate::support::*;

const FULL: fn() -> Value = || {
    json!({
        "backup_base_uri": URI, "log_archive_concurrency": 4, "archive_lag_target": "3m",
        "ha_low_thread_score": 7,
        "delete_policy": {"policy": "default", "recovery_window": "3d"},
    })
};

async fn set_archiving(sim: &obshell_sim::SimHandle) {
    for name in ["t1", "t2"] {
        patch_tenant(sim, name, json!({"archive_log_status": "DOING", "delete_policy": {"policy": "default", "recovery_window": "7d"}}))
        .await;
    }
}

#[tokio::test]
async fn a_step_fault_leaves_earlier_steps_and_tenants_applied() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    set_archiving(&sim).await;
    // Fails setting the archive destination of t2: archive log is closed everywhere first, the
    // concurrency step is done on both tenants and the destination on t1.
    dag_fault(
        &sim,
        json!({
            "node": "Set backup config", "step": "log_archive_dest", "tenant": "t2",
            "message": "Error 9027 (HY000): storage not reachable",
        }),
    )
    .await;
    let dag = client
        .write_and_wait(
            &sim,
            "POST",
            "/api/v1/obcluster/backup/config",
            Some(FULL()),
        )
        .await;
    assert_eq!(dag["state"], "FAILED");
    let line = failure_line(&dag);
    assert!(
        line.contains("MySQL.Error")
            && line.contains("t2(1004)")
            && line.contains("storage not reachable"),
        "{line}"
    );
    let (t1, t2) = (
        tenant_state(&sim, "t1").await,
        tenant_state(&sim, "t2").await,
    );
    for t in [&t1, &t2] {
        assert_eq!(t["archive_log_status"], "STOP", "{t}");
        assert_eq!(t["parameters"]["log_archive_concurrency"], "4", "{t}");
        assert_eq!(t["parameters"]["archive_lag_target"], "120s", "{t}");
    }
    assert!(t1["archive_dest"]["path"]
        .as_str()
        .unwrap()
        .ends_with("/1002/clog"));
    assert!(t2["archive_dest"].is_null(), "{t2}");
    assert_eq!(t1["data_dest"], "");
}

#[tokio::test]
async fn a_failure_between_drop_and_add_leaves_no_delete_policy() {
    let sim = start("4.3.0.0").await;
    let client = Client::new(&sim).await;
    set_archiving(&sim).await;
    dag_fault(
        &sim,
        json!({
            "node": "Set backup config", "step": "add_delete_policy",
            "message": "Error 4012 (HY000): Timeout",
        }),
    )
    .await;
    let dag = client
        .write_and_wait(
            &sim,
            "POST",
            "/api/v1/obcluster/backup/config",
            Some(FULL()),
        )
        .await;
    assert_eq!(dag["state"], "FAILED");
    // Legacy log line: the wrap chain without the code.
    let line = failure_line(&dag);
    assert!(
        line.starts_with("ERROR: set delete policy: add delete backup policy for t1(1002)"),
        "{line}"
    );
    let (t1, t2) = (
        tenant_state(&sim, "t1").await,
        tenant_state(&sim, "t2").await,
    );
    assert!(
        t1["delete_policy"].is_null(),
        "dropped, never re-added: {t1}"
    );
    assert_eq!(
        t2["delete_policy"]["recovery_window"], "7d",
        "not reached: {t2}"
    );
    // Everything before the policy step is applied on both tenants.
    for t in [&t1, &t2] {
        assert_eq!(t["parameters"]["ha_low_thread_score"], "7", "{t}");
        assert!(t["data_dest"].as_str().unwrap().ends_with("/data"), "{t}");
    }
    // Without a step the whole node fails before changing anything (the default).
    dag_fault(
        &sim,
        json!({
            "node": "Set backup config", "message": "Error 1235 (0A000): not supported",
        }),
    )
    .await;
    let dag = client
        .write_and_wait(
            &sim,
            "PATCH",
            "/api/v1/obcluster/backup/config",
            Some(json!({"ha_low_thread_score": 9})),
        )
        .await;
    assert_eq!(dag["state"], "FAILED");
    assert_eq!(
        tenant_state(&sim, "t1").await["parameters"]["ha_low_thread_score"],
        "7"
    );
}

#[tokio::test]
async fn step_faults_are_checked() {
    let sim = start("4.5.0.0").await;
    for body in [
        json!({"node": "Set backup config", "step": "nope", "message": "x"}),
        json!({"node": "Check backup config", "step": "log_archive_dest", "message": "x"}),
        json!({"node": "Set backup config", "tenant": "t1", "message": "x"}),
    ] {
        let (status, reply) = raw(
            &sim,
            "POST",
            "/sim/v1/faults/dag",
            &[],
            body.to_string().as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(status, 400, "{body}: {reply}");
    }
}

#[tokio::test]
async fn non_normal_and_recycle_bin_tenants_fail_the_dag_where_it_reaches_them() {
    for (patch, why) in [
        (json!({"status": "RESTORE"}), "is RESTORE"),
        (json!({"in_recyclebin": true}), "is in the recycle bin"),
    ] {
        let sim = start("4.5.0.0").await;
        let client = Client::new(&sim).await;
        patch_tenant(&sim, "t2", patch.clone()).await;
        let dag = client
            .write_and_wait(
                &sim,
                "POST",
                "/api/v1/obcluster/backup/config",
                Some(json!({"backup_base_uri": URI, "ha_low_thread_score": 5})),
            )
            .await;
        assert_eq!(dag["state"], "FAILED", "{patch}");
        let line = failure_line(&dag);
        assert!(line.contains("t2(1004)") && line.contains(why), "{line}");
        // t1 got its destination before the statement on t2 failed.
        let t1 = tenant_state(&sim, "t1").await;
        assert!(t1["archive_dest"].is_object(), "{t1}");
        assert_eq!(t1["parameters"]["ha_low_thread_score"], "0");
        assert!(tenant_state(&sim, "t2").await["archive_dest"].is_null());
    }
}

#[tokio::test]
async fn recycle_bin_tenants_are_hidden_from_the_overview_only() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    patch_tenant(&sim, "t2", json!({"in_recyclebin": true})).await;
    assert_eq!(client.overview_names(&sim).await, ["sys", "t1"]);
    let (status, info) = client.call(&sim, "GET", "/api/v1/tenant/t2", None).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["data"]["in_recyclebin"], "YES");
    assert_eq!(tenant_state(&sim, "t2").await["in_recyclebin"], true);
}

#[tokio::test]
async fn cancel_fails_the_dag_at_once_but_node_2_statements_still_land() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    set_sim_config(&sim, json!({"task_duration_ms": 400})).await;
    let (status, reply) = client
        .call(
            &sim,
            "POST",
            "/api/v1/obcluster/backup/config",
            Some(json!({"backup_base_uri": URI, "ha_low_thread_score": 3})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let id = reply["data"]["id"].as_str().unwrap().to_owned();
    client
        .wait_dag_until(&sim, &id, |dag| {
            dag["stage"] == 2 && dag["state"] == "RUNNING"
        })
        .await;
    let (status, reply) = client.dag_operator(&sim, &id, "CANCEL").await;
    assert_eq!(status, 200, "{reply}");
    let dag = client.wait_dag(&sim, &id).await;
    assert_eq!(
        (dag["state"].as_str(), dag["operator"].as_str()),
        (Some("FAILED"), Some("CANCEL"))
    );
    assert_eq!(
        tenant_state(&sim, "t1").await["parameters"]["ha_low_thread_score"],
        "0"
    );
    // The statements already sent finish afterwards.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tenant_state(&sim, "t2").await["parameters"]["ha_low_thread_score"] != "3" {
        assert!(
            std::time::Instant::now() < deadline,
            "node 2's statements never landed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(tenant_state(&sim, "t1").await["archive_dest"].is_object());
}

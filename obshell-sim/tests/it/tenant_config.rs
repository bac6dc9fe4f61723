//! The tenant-level config call, `POST`/`PATCH /api/v1/tenant/{name}/backup/config`
//! (obshell-api.md §9.6): its validation in obshell's order, its DAG ("Set obcluster backup config
//! for <tenant>"), which touches only that tenant, and the tenant-maintenance lock.

use serde_json::{json, Value};

use crate::support::*;

fn dests(tenant_id: i64) -> Value {
    json!({
        "archive_base_uri": format!("{URI}/{CLUSTER_ID}/{tenant_id}/clog"),
        "data_base_uri": format!("{URI}/{CLUSTER_ID}/{tenant_id}/data"),
        "binding": "mandatory",
        "log_archive_concurrency": 4,
    })
}

#[tokio::test]
async fn the_tenant_dag_configures_its_tenant_only_and_leaves_archive_log_elsewhere_running() {
    for version in ["4.2.4.0", "4.5.0.0"] {
        let sim = start(version).await;
        let client = Client::new(&sim).await;
        client
            .write_and_wait(
                &sim,
                "POST",
                "/api/v1/obcluster/backup/config",
                Some(json!({"backup_base_uri": URI, "log_archive_concurrency": 2})),
            )
            .await;
        patch_tenant(&sim, "t1", json!({"archive_log_status": "DOING"})).await;
        let t1_before = tenant_state(&sim, "t1").await;
        let added = control(&sim, "POST", "/sim/v1/tenants", json!({"name": "t3"})).await;
        let id = added["id"].as_i64().unwrap();

        let (status, reply) = client
            .call(
                &sim,
                "POST",
                "/api/v1/tenant/t3/backup/config",
                Some(dests(id)),
            )
            .await;
        assert_eq!(status, 200, "{version}: {reply}");
        let dag = &reply["data"];
        assert_eq!(dag["name"], "Set obcluster backup config for t3");
        assert_eq!(
            (dag["state"].as_str(), dag["max_stage"].as_i64()),
            (Some("READY"), Some(2))
        );
        // A tenant-maintenance DAG keyed by the tenant.
        assert_eq!(
            (
                dag["maintenance_type"].as_i64(),
                dag["maintenance_key"].as_str()
            ),
            (Some(3), Some("t3"))
        );
        let done = client.wait_dag(&sim, dag["id"].as_str().unwrap()).await;
        assert_eq!(
            (done["state"].as_str(), done["operator"].as_str()),
            (Some("SUCCEED"), Some("RUN")),
            "{done}"
        );
        let nodes = done["nodes"].as_array().unwrap();
        assert_eq!(
            nodes.iter().map(|n| n["name"].clone()).collect::<Vec<_>>(),
            [json!("Check backup config"), json!("Set backup config")]
        );
        // The URIs are used as given; joining the empty sub-path adds a '/'.
        let t3 = tenant_state(&sim, "t3").await;
        assert_eq!(
            t3["archive_dest"]["path"],
            format!("{URI}/{CLUSTER_ID}/{id}/clog/")
        );
        assert_eq!(t3["archive_dest"]["binding"], "MANDATORY");
        assert_eq!(t3["data_dest"], format!("{URI}/{CLUSTER_ID}/{id}/data/"));
        assert_eq!(t3["parameters"]["log_archive_concurrency"], "4");
        // The other tenants: untouched, archive log still running.
        let t1 = tenant_state(&sim, "t1").await;
        assert_eq!(t1, t1_before, "{version}");
        assert_eq!(t1["archive_log_status"], "DOING");
        let logs = nodes[1]["sub_tasks"][0]["task_logs"].to_string();
        assert!(logs.contains("Set backup config for 1 tenant(s)"), "{logs}");
        assert!(!logs.contains("t1(1002)"), "{logs}");
        if version == "4.5.0.0" {
            let (_, storage) = client
                .call(&sim, "GET", "/api/v1/tenant/t3/backup/config/storage", None)
                .await;
            assert_eq!(
                storage["data"]["archive_base_uri"],
                format!("{URI}/{CLUSTER_ID}/{id}/clog/")
            );
        }
        // PATCH with the archive URI alone leaves the data destination as it is.
        let archive = format!("file:///elsewhere/{id}/clog");
        let done = client
            .write_and_wait(
                &sim,
                "PATCH",
                "/api/v1/tenant/t3/backup/config",
                Some(json!({"archive_base_uri": archive})),
            )
            .await;
        assert_eq!(done["state"], "SUCCEED");
        let t3 = tenant_state(&sim, "t3").await;
        assert_eq!(t3["archive_dest"]["path"], format!("{archive}/"));
        // LOG_ARCHIVE_DEST is not incremental: binding falls back to OPTIONAL.
        assert_eq!(t3["archive_dest"]["binding"], "OPTIONAL");
        assert_eq!(t3["data_dest"], format!("{URI}/{CLUSTER_ID}/{id}/data/"));
    }
}

#[tokio::test]
async fn tenant_level_validation_in_obshells_order_in_both_eras() {
    let new = start("4.5.0.0").await;
    let old = start("4.2.4.0").await;
    let (new_client, old_client) = (Client::new(&new).await, Client::new(&old).await);
    let full = |extra: Value| {
        let mut body =
            json!({"archive_base_uri": "file:///b/clog", "data_base_uri": "file:///b/data"});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    // (method, tenant, body, status, errCode, message, legacy status, legacy code, legacy message)
    let cases = [
        ("POST", "sys", full(json!({})), 400, "OB.Tenant.SysOperationNotAllowed",
            "System tenant is not allowed to perform this operation", 400, 1001,
            "Illegal argument: System tenant is not allowed to perform this operation"),
        // The tenant is checked before the body is bound.
        ("POST", "nobody", json!({"log_archive_concurrency": "4"}), 400, "OB.Tenant.NotExist",
            "Tenant 'nobody' does not exist.", 400, 1001, "Tenant 'nobody' does not exist."),
        ("POST", "t1", json!({"log_archive_concurrency": "4"}), 400, "Common.BindJsonFailed",
            "Bind JSON failed: json: cannot unmarshal string into Go struct field TenantBackupConfigParam.log_archive_concurrency of type int",
            400, 1001,
            "Illegal argument: json: cannot unmarshal string into Go struct field TenantBackupConfigParam.log_archive_concurrency of type int"),
        // backup_base_uri is not a field of this body: ignored, so the data URI is missing.
        ("POST", "t1", json!({"backup_base_uri": URI, "archive_base_uri": "file:///b/clog"}), 400,
            "OB.Backup.DataBaseUriEmpty", "data_base_uri cannot be empty", 400, 1001,
            "Illegal argument: data_base_uri or archive_base_uri cannot be empty"),
        ("POST", "t1", json!({"data_base_uri": "file:///b/data", "ha_low_thread_score": 101}), 400,
            "OB.Backup.ArchiveBaseUriEmpty", "archive_base_uri cannot be empty", 400, 1001,
            "Illegal argument: data_base_uri or archive_base_uri cannot be empty"),
        ("PATCH", "t1", json!({"data_base_uri": "file:///b/data", "binding": "optional"}), 400,
            "OB.Backup.ArchiveBaseUriEmpty",
            "archive_base_uri cannot be empty: If binding is set, archive_base_uri must be set",
            400, 1001, "Illegal argument: If binding is set, archive_base_uri must be set"),
        ("POST", "t1", full(json!({"ha_low_thread_score": 101, "binding": "x"})), 400,
            "OB.Backup.HaLowThreadScore.Invalid", "ha_low_thread_score must be between 0 and 100",
            400, 1001, "Illegal argument: ha_low_thread_score must be between 0 and 100"),
        ("POST", "t1", full(json!({"piece_switch_interval": "8d"})), 400,
            "OB.Backup.PieceSwitchInterval.Invalid",
            "piece_switch_interval must be between 24h0m0s and 168h0m0s", 400, 1001,
            "Illegal argument: piece_switch_interval must be less than 168h0m0s"),
        // The archive URI's storage type is checked before the data URI's.
        ("POST", "t1", json!({"archive_base_uri": "hdfs://a", "data_base_uri": "ftp://d"}), 400,
            "OB.Storage.URI.Invalid", "Invalid storage URI: invalid path type", 400, 1001,
            "Illegal argument: invalid path type"),
        ("POST", "t1", json!({"archive_base_uri": "file:///a", "data_base_uri": "ftp://d"}), 400,
            "OB.Storage.URI.Invalid", "Invalid storage URI: invalid path type", 400, 1001,
            "Illegal argument: invalid path type"),
        ("POST", "t1", json!({"archive_base_uri": "s3://b/k?host=h", "data_base_uri": "file:///d", "archive_lag_target": "30s"}),
            400, "OB.Backup.ArchiveLagTargetForS3.Invalid",
            "archive_lag_target must be greater than 1m0s for S3", 400, 1001,
            "Illegal argument: archive_lag_target must be greater than 1m0s for s3"),
    ];
    for (method, tenant, body, status, err_code, message, old_status, old_code, old_message) in
        cases
    {
        let target = format!("/api/v1/tenant/{tenant}/backup/config");
        let reply = new_client
            .call(&new, method, &target, Some(body.clone()))
            .await;
        check_error(&reply, status, err_code);
        assert_eq!(reply.1["error"]["message"], message, "{body}");
        let reply = old_client
            .call(&old, method, &target, Some(body.clone()))
            .await;
        check_legacy_error(&reply, old_status, old_code);
        assert_eq!(reply.1["error"]["message"], old_message, "{body}");
    }
    for sim in [&new, &old] {
        assert_eq!(
            sim_state(sim).await["dags"],
            json!([]),
            "a refused call started a DAG"
        );
    }
    // archive_lag_target is checked synchronously only with an archive URI; without one a PATCH
    // is accepted and OceanBase refuses the value inside the DAG.
    let dag = new_client
        .write_and_wait(
            &new,
            "PATCH",
            "/api/v1/tenant/t1/backup/config",
            Some(json!({"archive_lag_target": "3h"})),
        )
        .await;
    assert_eq!(
        (dag["state"].as_str(), dag["stage"].as_i64()),
        (Some("FAILED"), Some(2))
    );
    assert_eq!(
        failure_line(&dag),
        "ERROR: [MySQL.Error]: MySQL error: set archive lag target for t1(1002): Error 1210 (HY000): Incorrect arguments to archive_lag_target"
    );
    // The tenant-level call needs no other user tenant: with t2 gone it still works on t1.
    control(&old, "DELETE", "/sim/v1/tenants/t2", json!({})).await;
    let dag = old_client
        .write_and_wait(
            &old,
            "POST",
            "/api/v1/tenant/t1/backup/config",
            Some(dests(1002)),
        )
        .await;
    assert_eq!(dag["state"], "SUCCEED", "{dag}");
}

#[tokio::test]
async fn the_tenant_maintenance_lock_refuses_a_second_dag_until_the_first_ends() {
    for version in ["4.2.4.0", "4.3.0.0", "4.5.0.0"] {
        let sim = start(version).await;
        let client = Client::new(&sim).await;
        let legacy = version < "4.3.1.0";
        let check_locked = |reply: &Reply| {
            if legacy {
                check_legacy_error(reply, 500, 1002);
                let text = if version < "4.3.0.0" {
                    "is already under maintenance"
                } else {
                    "is under maintenance"
                };
                assert_eq!(
                    reply.1["error"]["message"],
                    format!("Unexpected error: failed to start maintenance: t1 {text}")
                );
            } else {
                check_error(reply, 500, "OB.Tenant.UnderMaintenance");
                assert_eq!(
                    reply.1["error"]["message"],
                    "Tenant 't1' is under maintenance, please try again later."
                );
            }
        };
        // A running tenant DAG holds t1's lock.
        control(&sim, "POST", "/sim/v1/faults/hold", json!({})).await;
        let (status, reply) = client
            .call(
                &sim,
                "POST",
                "/api/v1/tenant/t1/backup/config",
                Some(dests(1002)),
            )
            .await;
        assert_eq!(status, 200, "{reply}");
        let held = reply["data"]["id"].as_str().unwrap().to_owned();
        let second = client
            .call(
                &sim,
                "PATCH",
                "/api/v1/tenant/t1/backup/config",
                Some(json!({"ha_low_thread_score": 1})),
            )
            .await;
        check_locked(&second);
        // Other tenants and the cluster call are not locked.
        let other = client
            .write_and_wait(
                &sim,
                "POST",
                "/api/v1/tenant/t2/backup/config",
                Some(dests(1004)),
            )
            .await;
        assert_eq!(other["state"], "SUCCEED");
        let cluster = client
            .write_and_wait(
                &sim,
                "PATCH",
                "/api/v1/obcluster/backup/config",
                Some(json!({"ha_low_thread_score": 2})),
            )
            .await;
        assert_eq!(cluster["state"], "SUCCEED");
        control(
            &sim,
            "POST",
            &format!("/sim/v1/dags/{held}/release"),
            json!({}),
        )
        .await;
        assert_eq!(client.wait_dag(&sim, &held).await["state"], "SUCCEED");

        // A FAILED tenant DAG keeps the lock, and stays in the unfinished list, until an operator
        // ends it; a failed cluster DAG leaves that list.
        dag_fault(
            &sim,
            json!({"node": "Set backup config", "message": "boom"}),
        )
        .await;
        let failed = client
            .write_and_wait(
                &sim,
                "POST",
                "/api/v1/tenant/t1/backup/config",
                Some(dests(1002)),
            )
            .await;
        assert_eq!(failed["state"], "FAILED");
        let failed_id = failed["id"].as_str().unwrap();
        let (_, unfinished) = client
            .call(&sim, "GET", "/api/v1/task/dag/ob/unfinish", None)
            .await;
        let listed: Vec<&str> = unfinished["data"]["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(listed, [failed_id], "{version}");
        check_locked(
            &client
                .call(
                    &sim,
                    "POST",
                    "/api/v1/tenant/t1/backup/config",
                    Some(dests(1002)),
                )
                .await,
        );
        let (status, reply) = client.dag_operator(&sim, failed_id, "PASS").await;
        assert_eq!(status, 200, "{reply}");
        let again = client
            .write_and_wait(
                &sim,
                "POST",
                "/api/v1/tenant/t1/backup/config",
                Some(dests(1002)),
            )
            .await;
        assert_eq!(again["state"], "SUCCEED", "{version}: {again}");
    }
}

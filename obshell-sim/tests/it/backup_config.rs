//! The backup-config DAG: its effects on every tenant, validation over HTTP, in-DAG failures.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn post_applies_everything_to_every_tenant_and_patch_resets_the_dest() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    // t1 archives; the config stops it.
    patch_tenant(&sim, "t1", json!({"archive_log_status": "DOING"})).await;
    let body = json!({"backup_base_uri": URI, "log_archive_concurrency": 4, "binding": "Mandatory",
        "ha_low_thread_score": 10, "piece_switch_interval": "2d", "archive_lag_target": "2M",
        "delete_policy": {"policy": "default", "recovery_window": "7d"}});
    let (status, reply) = client
        .call(&sim, "POST", "/api/v1/obcluster/backup/config", Some(body))
        .await;
    assert_eq!(status, 200, "{reply}");
    let dag = &reply["data"];
    assert_eq!(
        (
            dag["name"].as_str(),
            dag["state"].as_str(),
            dag["operator"].as_str()
        ),
        (
            Some("Set obcluster backup config"),
            Some("READY"),
            Some("RUN")
        )
    );
    assert_eq!(
        (dag["stage"].as_i64(), dag["max_stage"].as_i64()),
        (Some(1), Some(2))
    );
    assert!(dag["nodes"].is_null());
    let done = client.wait_dag(&sim, dag["id"].as_str().unwrap()).await;
    assert_eq!(
        (done["state"].as_str(), done["operator"].as_str()),
        (Some("SUCCEED"), Some("RUN"))
    );
    let nodes = done["nodes"].as_array().unwrap();
    assert_eq!(
        nodes
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Check backup config", "Set backup config"]
    );
    assert!(nodes
        .iter()
        .all(|n| n["state"] == "SUCCEED" && n["sub_tasks"][0]["task_logs"].is_array()));
    assert!(nodes
        .iter()
        .all(|n| n["sub_tasks"][0]["execute_agent"]["ip"].is_string()));

    for (name, id) in [("t1", 1002), ("t2", 1004)] {
        let tenant = tenant_state(&sim, name).await;
        assert_eq!(
            tenant["archive_dest"],
            json!({"path": format!("{URI}/{CLUSTER_ID}/{id}/clog"), "binding": "MANDATORY", "piece_switch_interval": "2d", "state": "ENABLE"})
        );
        assert_eq!(tenant["data_dest"], format!("{URI}/{CLUSTER_ID}/{id}/data"));
        assert_eq!(
            tenant["parameters"],
            json!({"archive_lag_target": "2m", "ha_low_thread_score": "10", "log_archive_concurrency": "4"})
        );
        assert_eq!(
            tenant["delete_policy"],
            json!({"policy": "default", "recovery_window": "7d"})
        );
        let (_, storage) = client
            .call(
                &sim,
                "GET",
                &format!("/api/v1/tenant/{name}/backup/config/storage"),
                None,
            )
            .await;
        assert_eq!(
            storage["data"],
            json!({"tenant_id": id, "archive_base_uri": format!("{URI}/{CLUSTER_ID}/{id}/clog"), "data_base_uri": format!("{URI}/{CLUSTER_ID}/{id}/data")})
        );
        let (_, parameter) = client
            .call(
                &sim,
                "GET",
                &format!("/api/v1/tenant/{name}/parameter/archive_lag_target"),
                None,
            )
            .await;
        assert_eq!(parameter["data"]["value"], "2m");
        assert_eq!(parameter["data"]["data_type"], "TIME");
    }
    assert_eq!(tenant_state(&sim, "t1").await["archive_log_status"], "STOP");
    assert_eq!(tenant_state(&sim, "t2").await["archive_log_status"], "");

    // PATCH with the URI alone resets binding and piece_switch_interval (LOG_ARCHIVE_DEST is not incremental).
    client
        .write_and_wait(
            &sim,
            "PATCH",
            "/api/v1/obcluster/backup/config",
            Some(json!({"backup_base_uri": "file:///other"})),
        )
        .await;
    let tenant = tenant_state(&sim, "t1").await;
    assert_eq!(tenant["archive_dest"]["binding"], "OPTIONAL");
    assert_eq!(tenant["archive_dest"]["piece_switch_interval"], "1d");
    assert_eq!(tenant["parameters"]["log_archive_concurrency"], "4");
    // An empty body counts as {}: the DAG runs and changes nothing.
    assert_eq!(
        client
            .write_and_wait(&sim, "PATCH", "/api/v1/obcluster/backup/config", None)
            .await["state"],
        "SUCCEED"
    );
    assert_eq!(tenant_state(&sim, "t1").await, tenant);
}

#[tokio::test]
async fn object_store_destinations_keep_credentials_stored_but_not_shown() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let uri = "oss://bucket/backup?host=oss.example.com&access_id=AK&access_key=SK";
    let dag = client
        .write_and_wait(
            &sim,
            "POST",
            "/api/v1/obcluster/backup/config",
            Some(json!({"backup_base_uri": uri})),
        )
        .await;
    assert!(
        !dag.to_string().contains("SK"),
        "task logs must not show the access key"
    );
    let tenant = tenant_state(&sim, "t1").await;
    assert_eq!(tenant["archive_dest"]["path"], format!("oss://bucket/backup/{CLUSTER_ID}/1002/clog?host=oss.example.com&access_id=AK&access_key=SK"));
    let (_, storage) = client
        .call(&sim, "GET", "/api/v1/tenant/t1/backup/config/storage", None)
        .await;
    assert_eq!(
        storage["data"]["archive_base_uri"],
        format!("oss://bucket/backup/{CLUSTER_ID}/1002/clog?host=oss.example.com")
    );
}

#[tokio::test]
async fn validation_over_http_in_both_eras() {
    let new = start("4.5.0.0").await;
    let old = start("4.2.4.0").await;
    let (new_client, old_client) = (Client::new(&new).await, Client::new(&old).await);
    let cases = [
        ("POST", json!({}), "OB.Backup.BaseUriEmpty"),
        (
            "PATCH",
            json!({"piece_switch_interval": "1d"}),
            "OB.Backup.BaseUriEmpty",
        ),
        (
            "PATCH",
            json!({"log_archive_concurrency": "4"}),
            "Common.BindJsonFailed",
        ),
        (
            "PATCH",
            json!({"ha_low_thread_score": 101}),
            "OB.Backup.HaLowThreadScore.Invalid",
        ),
        (
            "POST",
            json!({"backup_base_uri": "hdfs://x"}),
            "OB.Storage.URI.Invalid",
        ),
        (
            "POST",
            json!({"backup_base_uri": URI, "archive_lag_target": "3h"}),
            "OB.Backup.ArchiveLagTarget.Invalid",
        ),
    ];
    for (method, body, err_code) in cases {
        let reply = new_client
            .call(
                &new,
                method,
                "/api/v1/obcluster/backup/config",
                Some(body.clone()),
            )
            .await;
        check_error(&reply, 400, err_code);
        let reply = old_client
            .call(&old, method, "/api/v1/obcluster/backup/config", Some(body))
            .await;
        check_legacy_error(&reply, 400, 1001);
        assert!(reply.1["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Illegal argument: "));
    }
    // No DAG was created by any of them.
    assert_eq!(sim_state(&new).await["dags"], json!([]));
    // No user tenants: 400 now, 500/1010 before 4.3.1.
    for sim in [&new, &old] {
        for name in ["t1", "t2"] {
            control(sim, "DELETE", &format!("/sim/v1/tenants/{name}"), json!({})).await;
        }
    }
    check_error(
        &new_client.post_base_uri(&new).await,
        400,
        "OB.Backup.NoUserTenants",
    );
    check_legacy_error(&old_client.post_base_uri(&old).await, 500, 1010);
}

#[tokio::test]
async fn failures_found_inside_the_dag_carry_obshell_log_lines() {
    for (version, check_line, set_line) in [
        (
            "4.5.0.0",
            "ERROR: [OB.Storage.URI.Invalid]: check archive path: get archive storage interface: Invalid storage URI: invalid file path, must start with '/'",
            "ERROR: [MySQL.Error]: MySQL error: set archive lag target for t1(1002): Error 1210 (HY000): Incorrect arguments to archive_lag_target",
        ),
        (
            "4.2.4.0",
            "ERROR: check archive path: get archive storage interface: invalid file path, must start with '/'",
            "ERROR: set archive lag target for t1(1002): Error 1210 (HY000): Incorrect arguments to archive_lag_target",
        ),
    ] {
        let sim = start(version).await;
        let client = Client::new(&sim).await;
        let dag = client.write_and_wait(&sim, "POST", "/api/v1/obcluster/backup/config", Some(json!({"backup_base_uri": "file://relative"}))).await;
        assert_eq!((dag["state"].as_str(), dag["stage"].as_i64()), (Some("FAILED"), Some(1)));
        assert_eq!(failure_line(&dag), check_line);
        // archive_lag_target is only checked by OceanBase when the PATCH has no URI.
        let dag = client.write_and_wait(&sim, "PATCH", "/api/v1/obcluster/backup/config", Some(json!({"archive_lag_target": "3h", "ha_low_thread_score": 5}))).await;
        assert_eq!((dag["state"].as_str(), dag["stage"].as_i64()), (Some("FAILED"), Some(2)));
        assert_eq!(dag["nodes"][1]["state"], "FAILED");
        assert_eq!(failure_line(&dag), set_line);
        // Steps after the failing one did not run.
        assert_eq!(tenant_state(&sim, "t1").await["parameters"]["ha_low_thread_score"], "0");
        // Object stores without credentials, cos without appid.
        for uri in ["oss://b/k?host=h&access_id=a", "cos://b/k?host=h&access_id=a&access_key=k"] {
            let dag = client.write_and_wait(&sim, "POST", "/api/v1/obcluster/backup/config", Some(json!({"backup_base_uri": uri}))).await;
            assert!(failure_line(&dag).contains("check archive path"), "{}", failure_line(&dag));
        }
        // An injected failure uses the given code and message.
        dag_fault(&sim, json!({"node": "Set backup config", "message": "boom", "code": "OB.Cluster.AsyncOperationTimeout"})).await;
        let dag = client.write_and_wait(&sim, "PATCH", "/api/v1/obcluster/backup/config", None).await;
        let expected = if version == "4.5.0.0" { "ERROR: [OB.Cluster.AsyncOperationTimeout]: boom" } else { "ERROR: boom" };
        assert_eq!(failure_line(&dag), expected);
    }
}

#[tokio::test]
async fn tenants_created_later_are_not_configured() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    client.configure_base_uri(&sim).await;
    let added = control(&sim, "POST", "/sim/v1/tenants", json!({"name": "t3"})).await;
    assert_eq!(added["id"], 1006);
    assert!(added["archive_dest"].is_null());
    let (status, _) = raw(
        &sim,
        "POST",
        "/sim/v1/tenants",
        &[],
        json!({"name": "t3"}).to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(status, 409);
    let (_, storage) = client
        .call(&sim, "GET", "/api/v1/tenant/t3/backup/config/storage", None)
        .await;
    assert_eq!(
        storage["data"],
        json!({"tenant_id": 1006, "archive_base_uri": "", "data_base_uri": ""})
    );
    control(&sim, "POST", "/sim/v1/reset", json!({})).await;
    let state = sim_state(&sim).await;
    assert_eq!(state["tenants"].as_array().unwrap().len(), 2);
    assert!(state["tenants"][0]["archive_dest"].is_null());
    assert_eq!(state["dags"], json!([]));
}

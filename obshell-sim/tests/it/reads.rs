//! Read endpoints: tenants, parameters, archive-log status and its PATCH, backups.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn tenants_parameters_and_status_checks() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    assert_eq!(client.overview_names(&sim).await, ["sys", "t1", "t2"]);
    check_error(
        &client
            .call(&sim, "GET", "/api/v1/tenants/overview?mode=PG", None)
            .await,
        400,
        "OB.Tenant.Mode.NotSupported",
    );
    let (_, info) = client
        .call(&sim, "GET", "/api/v1/obcluster/info", None)
        .await;
    assert_eq!(
        (
            info["data"]["cluster_id"].as_i64(),
            info["data"]["cluster_name"].as_str()
        ),
        (Some(CLUSTER_ID), Some("obcluster"))
    );
    let (_, tenant) = client.call(&sim, "GET", "/api/v1/tenant/t2", None).await;
    assert_eq!(tenant["data"]["tenant_id"], 1004);
    check_error(
        &client.call(&sim, "GET", "/api/v1/tenant/nope", None).await,
        400,
        "OB.Tenant.NotExist",
    );
    let (_, parameters) = client
        .call(
            &sim,
            "GET",
            "/api/v1/tenant/t1/parameters?filter=%25archive%25",
            None,
        )
        .await;
    let listed = parameters["data"]["contents"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{parameters}");
    check_error(
        &client
            .call(&sim, "GET", "/api/v1/tenant/t1/parameter/nope", None)
            .await,
        400,
        "OB.Tenant.Parameter.NotExist",
    );
    patch_tenant(
        &sim,
        "t1",
        json!({"status": "RESTORE", "parameters": {"archive_lag_target": "5m"}}),
    )
    .await;
    let reply = client
        .call(
            &sim,
            "GET",
            "/api/v1/tenant/t1/parameter/archive_lag_target",
            None,
        )
        .await;
    check_error(&reply, 400, "OB.Tenant.StatusNotNormal");
    assert_eq!(
        reply.1["error"]["message"],
        "Tenant 't1' status is 'RESTORE'."
    );
    check_error(
        &client
            .call(&sim, "GET", "/api/v1/tenant/t1/parameters", None)
            .await,
        400,
        "OB.Tenant.StatusNotNormal",
    );
    assert_eq!(
        client.call(&sim, "GET", "/api/v1/tenant/t1", None).await.0,
        200
    );
    patch_tenant(&sim, "t1", json!({"status": "NORMAL"})).await;
    let (_, parameter) = client
        .call(
            &sim,
            "GET",
            "/api/v1/tenant/t1/parameter/archive_lag_target",
            None,
        )
        .await;
    assert_eq!(parameter["data"]["value"], "5m");

    let old = start("4.2.4.0").await;
    let old_client = Client::new(&old).await;
    patch_tenant(&old, "t2", json!({"status": "CREATING"})).await;
    check_legacy_error(
        &old_client
            .call(
                &old,
                "GET",
                "/api/v1/tenant/t2/parameter/archive_lag_target",
                None,
            )
            .await,
        500,
        1010,
    );
    check_legacy_error(
        &old_client
            .call(&old, "GET", "/api/v1/tenant/t2", None)
            .await,
        500,
        1010,
    );
    // Routes newer than the emulated version: see routes.rs.
}

#[tokio::test]
async fn archive_log_patch_and_start_backup() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let tasks = |name: &'static str| {
        let client = &client;
        let sim = &sim;
        async move {
            client
                .call(
                    sim,
                    "GET",
                    &format!("/api/v1/tenant/{name}/backup/log/tasks"),
                    None,
                )
                .await
                .1["data"]["contents"]
                .clone()
        }
    };
    // DOING on a tenant that never archived is a silent no-op.
    let reply = client.set_archive_log(&sim, "t1", "doing").await;
    assert_eq!(reply.0, 200, "{}", reply.1);
    assert_eq!(tasks("t1").await, json!([]));
    check_error(
        &client.set_archive_log(&sim, "sys", "DOING").await,
        400,
        "OB.Tenant.SysOperationNotAllowed",
    );
    check_error(
        &client.set_archive_log(&sim, "t1", "RUN").await,
        400,
        "OB.Backup.ArchiveLogStatus.Invalid",
    );
    check_error(
        &client
            .call(&sim, "GET", "/api/v1/obcluster/backup/overview", None)
            .await,
        404,
        "Common.NotFound",
    );

    // Without destinations a backup fails at its first node.
    let dag = client
        .write_and_wait(&sim, "POST", "/api/v1/obcluster/backup", None)
        .await;
    assert_eq!(
        failure_line(&dag),
        "ERROR: [OB.Backup.ArchiveDestEmpty]: Archive destination is empty, tenant: t1(1002)"
    );
    check_error(
        &client
            .call(
                &sim,
                "POST",
                "/api/v1/obcluster/backup",
                Some(json!({"mode": "differential"})),
            )
            .await,
        400,
        "OB.Backup.Mode.Invalid",
    );

    // A backup opens archive log (after a config gave the tenants destinations).
    client.configure_base_uri(&sim).await;
    let (status, reply) = client
        .call(
            &sim,
            "POST",
            "/api/v1/obcluster/backup",
            Some(json!({"mode": "full"})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["data"]["name"], "Obcluster start full backup");
    let dag = client
        .wait_dag(&sim, reply["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(dag["state"], "SUCCEED");
    let names: Vec<&str> = dag["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Check destination",
            "Open archive log",
            "Start backup",
            "Wait backup Finish"
        ]
    );
    let listed = tasks("t1").await;
    assert_eq!(listed[0]["status"], "DOING");
    assert_eq!(listed[0]["tenant_name"], "");
    let (_, overview) = client
        .call(&sim, "GET", "/api/v1/obcluster/backup/overview", None)
        .await;
    assert_eq!(overview["data"]["statuses"].as_array().unwrap().len(), 2);

    // An empty body means STOP, for the whole cluster.
    assert_eq!(
        client
            .call(&sim, "PATCH", "/api/v1/obcluster/backup/log", None)
            .await
            .0,
        200
    );
    assert_eq!(tasks("t1").await, json!([]));
    assert_eq!(tasks("t2").await, json!([]));
    // DOING now reopens (the tenants have a STOP round).
    assert_eq!(client.set_archive_log(&sim, "t2", "DOING").await.0, 200);
    assert_eq!(tasks("t2").await[0]["status"], "DOING");
    assert_eq!(client.set_archive_log(&sim, "t2", "SUSPEND").await.0, 200);
    assert_eq!(tasks("t2").await[0]["status"], "SUSPEND");
    // INTERRUPTED is an error.
    patch_tenant(&sim, "t1", json!({"archive_log_status": "INTERRUPTED"})).await;
    check_error(
        &client.set_archive_log(&sim, "t1", "DOING").await,
        500,
        "Common.Unexpected",
    );

    // Setting the URI stops archiving again.
    client
        .write_and_wait(
            &sim,
            "PATCH",
            "/api/v1/obcluster/backup/config",
            Some(json!({"backup_base_uri": URI})),
        )
        .await;
    assert_eq!(tasks("t2").await, json!([]));
}

#[tokio::test]
async fn archive_tasks_show_the_path_without_credentials() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let stored = "oss://bucket/backup/1726000000/1002/clog?host=oss.example.com&access_id=AKID&access_key=SECRET&delete_mode=tagging";
    patch_tenant(
        &sim,
        "t1",
        json!({"archive_dest": {"path": stored}, "archive_log_status": "DOING"}),
    )
    .await;
    let (status, reply) = client
        .call(&sim, "GET", "/api/v1/tenant/t1/backup/log/tasks", None)
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["data"]["contents"][0]["path"],
        "oss://bucket/backup/1726000000/1002/clog?host=oss.example.com&delete_mode=tagging"
    );
    // The state still holds what OceanBase stores, credentials included.
    let state = sim_state(&sim).await;
    assert_eq!(state["tenants"][0]["archive_dest"]["path"], stored);
}

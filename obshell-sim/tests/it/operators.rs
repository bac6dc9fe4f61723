//! DAG operators and their preconditions, holds, and the unfinished-DAG list.

use serde_json::json;

use crate::support::*;

async fn failed_dag(sim: &obshell_sim::SimHandle, client: &Client, node: &str) -> String {
    dag_fault(sim, json!({"node": node, "message": "injected"})).await;
    let (_, reply) = client.post_base_uri(sim).await;
    let id = reply["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(client.wait_dag(sim, &id).await["state"], "FAILED");
    id
}

async fn operate(sim: &obshell_sim::SimHandle, client: &Client, id: &str, operator: &str) -> Reply {
    client
        .call(
            sim,
            "POST",
            &format!("/api/v1/task/dag/{id}"),
            Some(json!({"operator": operator})),
        )
        .await
}

#[tokio::test]
async fn retry_reruns_the_failed_node_and_applies_the_config() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let id = failed_dag(&sim, &client, "Set backup config").await;
    let state = sim_state(&sim).await;
    assert!(state["tenants"][0]["archive_dest"].is_null());
    let reply = operate(&sim, &client, &id, "retry").await;
    assert_eq!(reply.0, 200, "{}", reply.1);
    assert!(reply.1.get("data").is_none());
    let dag = client.wait_dag(&sim, &id).await;
    assert_eq!(
        (dag["state"].as_str(), dag["operator"].as_str()),
        (Some("SUCCEED"), Some("RUN"))
    );
    assert_eq!(dag["nodes"][1]["operator"], "RETRY");
    assert_eq!(dag["nodes"][1]["sub_tasks"][0]["execute_times"], 2);
    let state = sim_state(&sim).await;
    assert_eq!(
        state["tenants"][0]["data_dest"],
        format!("{URI}/{CLUSTER_ID}/1002/data")
    );
    // RETRY, ROLLBACK and PASS need a FAILED DAG.
    check_error(
        &operate(&sim, &client, &id, "RETRY").await,
        400,
        "Task.Dag.Operator.RetryNotFailedDag",
    );
    check_error(
        &operate(&sim, &client, &id, "ROLLBACK").await,
        400,
        "Task.Dag.Operator.RollbackNotFailedDag",
    );
    check_error(
        &operate(&sim, &client, &id, "PASS").await,
        400,
        "Task.Dag.Operator.PassNotFailedDag",
    );
    check_error(
        &operate(&sim, &client, &id, "CANCEL").await,
        400,
        "Task.Dag.Operator.CancelFinishedDag",
    );
    check_error(
        &operate(&sim, &client, &id, "JUMP").await,
        400,
        "Task.Dag.Operator.NotSupport",
    );
    check_error(
        &operate(&sim, &client, "1999", "RETRY").await,
        404,
        "Task.NotFound",
    );
    check_error(
        &client
            .call(&sim, "GET", "/api/v1/task/dag/1999", None)
            .await,
        404,
        "Task.NotFound",
    );
    check_error(
        &client.call(&sim, "GET", "/api/v1/task/dag/x1", None).await,
        400,
        "Task.GenericID.Invalid",
    );
}

#[tokio::test]
async fn rollback_only_where_the_node_allows_and_pass_succeeds_with_pass() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let id = failed_dag(&sim, &client, "Set backup config").await;
    check_error(
        &operate(&sim, &client, &id, "ROLLBACK").await,
        400,
        "Task.Dag.Operator.RollbackNotAllowed",
    );
    assert_eq!(operate(&sim, &client, &id, "PASS").await.0, 200);
    let dag = client.wait_dag(&sim, &id).await;
    assert_eq!(
        (dag["state"].as_str(), dag["operator"].as_str()),
        (Some("SUCCEED"), Some("PASS"))
    );

    let id = failed_dag(&sim, &client, "Check backup config").await;
    assert_eq!(operate(&sim, &client, &id, "ROLLBACK").await.0, 200);
    let dag = client
        .wait_dag_until(&sim, &id, |d| d["state"] == "SUCCEED")
        .await;
    assert_eq!(dag["operator"], "ROLLBACK");
}

#[tokio::test]
async fn held_dags_stay_running_are_listed_and_can_be_cancelled_or_released() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    control(&sim, "POST", "/sim/v1/faults/hold", json!({})).await;
    let (_, reply) = client.post_base_uri(&sim).await;
    let id = reply["data"]["id"].as_str().unwrap().to_owned();
    client
        .wait_dag_until(&sim, &id, |d| d["state"] == "RUNNING" && d["stage"] == 2)
        .await;
    let (_, unfinished) = client
        .call(&sim, "GET", "/api/v1/task/dag/ob/unfinish", None)
        .await;
    assert_eq!(unfinished["data"]["contents"][0]["id"], id.as_str());
    // The config is not applied while held.
    let state = sim_state(&sim).await;
    assert!(state["tenants"][0]["archive_dest"].is_null());
    control(
        &sim,
        "POST",
        &format!("/sim/v1/dags/{id}/release"),
        json!({}),
    )
    .await;
    assert_eq!(client.wait_dag(&sim, &id).await["state"], "SUCCEED");
    let (_, unfinished) = client
        .call(&sim, "GET", "/api/v1/task/dag/ob/unfinish", None)
        .await;
    assert_eq!(unfinished["data"]["contents"], json!([]));

    // A DAG started by "another client" runs until cancelled.
    let other = control(&sim, "POST", "/sim/v1/dags/hold-running", json!({})).await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    assert_eq!(other["name"], "Set obcluster backup config");
    client
        .wait_dag_until(&sim, &other_id, |d| d["state"] == "RUNNING")
        .await;
    assert_eq!(operate(&sim, &client, &other_id, "CANCEL").await.0, 200);
    let dag = client.wait_dag(&sim, &other_id).await;
    assert_eq!(
        (dag["state"].as_str(), dag["operator"].as_str()),
        (Some("FAILED"), Some("CANCEL"))
    );
    let node = dag["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["state"] == "FAILED")
        .unwrap();
    assert_eq!(node["operator"], "CANCEL");
    assert_eq!(
        node["sub_tasks"][0]["task_logs"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        "sub task cancelled"
    );
}

//! Read-after-write lag: parameter changes that reach the servers one by one
//! (`--parameter-lag`) and archive log that passes through PREPARE, BEGINNING and STOPPING
//! (`--archive-log-delay`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// The distinct values `GET /tenant/t1/parameters` lists for archive_lag_target, sorted.
async fn lag_rows(client: &Client, sim: &obshell_sim::SimHandle) -> Vec<String> {
    let (status, reply) = client
        .call(
            sim,
            "GET",
            "/api/v1/tenant/t1/parameters?filter=archive_lag_target",
            None,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let mut values: Vec<String> = reply["data"]["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["value"].as_str().unwrap().to_owned())
        .collect();
    values.sort();
    values
}

#[tokio::test]
async fn a_parameter_change_reaches_the_servers_one_by_one() {
    let sim = start("4.5.0.0").await;
    set_sim_config(&sim, json!({"parameter_lag_ms": 3000})).await;
    let client = Client::new(&sim).await;
    let dag = client
        .write_and_wait(
            &sim,
            "PATCH",
            "/api/v1/obcluster/backup/config",
            Some(json!({"archive_lag_target": "5m"})),
        )
        .await;
    assert_eq!(dag["state"], "SUCCEED");
    let changed = Instant::now();
    // The DAG ran the statement: OceanBase keeps the value at once (the state shows it)...
    let state = sim_state(&sim).await;
    assert_eq!(
        state["tenants"][0]["parameters"]["archive_lag_target"],
        "5m"
    );
    assert_eq!(state["parameter_lag_ms"], 3000);
    // ...while the servers take it one by one: first none, then some (two rows), then all.
    let (old, both, new) = (
        vec!["120s".to_owned()],
        vec!["120s".to_owned(), "5m".to_owned()],
        vec!["5m".to_owned()],
    );
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut single_reads = std::collections::BTreeSet::new();
    while changed.elapsed() < Duration::from_secs(6) {
        let rows = lag_rows(&client, &sim).await;
        if seen.last() != Some(&rows) {
            seen.push(rows.clone());
        }
        // The single read answers the first row: any server's value while they disagree.
        if rows == both {
            let (_, single) = client
                .call(
                    &sim,
                    "GET",
                    "/api/v1/tenant/t1/parameter/archive_lag_target",
                    None,
                )
                .await;
            single_reads.insert(single["data"]["value"].as_str().unwrap().to_owned());
        }
        if rows == new {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, [old, both, new.clone()], "reads over time");
    assert_eq!(single_reads.len(), 2, "{single_reads:?}");
    // Once every server has it, the change is forgotten.
    let state = sim_state(&sim).await;
    assert_eq!(state["tenants"][0]["parameters_spreading"], json!([]));
    // A DBA's change through the control API is settled at once.
    patch_tenant(
        &sim,
        "t1",
        json!({"parameters": {"archive_lag_target": "7m"}}),
    )
    .await;
    assert_eq!(lag_rows(&client, &sim).await, ["7m"]);
}

async fn archive_status(client: &Client, sim: &obshell_sim::SimHandle) -> String {
    let (_, reply) = client
        .call(sim, "GET", "/api/v1/tenant/t1/backup/log/tasks", None)
        .await;
    reply["data"]["contents"]
        .as_array()
        .and_then(|rows| rows.first())
        .map_or_else(
            || "none".to_owned(),
            |row| row["status"].as_str().unwrap().to_owned(),
        )
}

/// Polls the archive-log status every 20 ms until `last` (within 5 s); returns every status seen.
async fn statuses_until(client: &Client, sim: &obshell_sim::SimHandle, last: &str) -> Vec<String> {
    let started = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    loop {
        let status = archive_status(client, sim).await;
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == last || started.elapsed() > Duration::from_secs(5) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn archive_log_opens_through_prepare_and_beginning_and_closes_through_stopping() {
    let sim = start("4.5.0.0").await;
    set_sim_config(&sim, json!({"archive_log_delay_ms": 1200})).await;
    let client = Client::new(&sim).await;
    let dag = client.configure_base_uri(&sim).await;
    assert_eq!(dag["state"], "SUCCEED");
    patch_tenant(&sim, "t1", json!({"archive_log_status": "STOP"})).await;
    let open = json!({"status": "DOING"});
    let (status, reply) = client
        .call(
            &sim,
            "PATCH",
            "/api/v1/tenant/t1/backup/log",
            Some(open.clone()),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        statuses_until(&client, &sim, "DOING").await,
        ["PREPARE", "BEGINNING", "DOING"]
    );
    let (status, reply) = client.set_archive_log(&sim, "t1", "STOP").await;
    assert_eq!(status, 200, "{reply}");
    // STOPPING is listed; STOP has no active round.
    assert_eq!(
        statuses_until(&client, &sim, "none").await,
        ["STOPPING", "none"]
    );
    let state = sim_state(&sim).await;
    assert_eq!(state["tenants"][0]["archive_log_status"], "STOP");
    // While it is stopping it cannot be opened again.
    patch_tenant(&sim, "t1", json!({"archive_log_status": "DOING"})).await;
    client.set_archive_log(&sim, "t1", "STOP").await;
    let (status, reply) = client
        .call(&sim, "PATCH", "/api/v1/tenant/t1/backup/log", Some(open))
        .await;
    assert_eq!(status, 500, "{reply}");
    assert!(reply.to_string().contains("still stopping"), "{reply}");
}

#[tokio::test]
async fn doing_without_a_destination_fails() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    // Archived once, stopped, and its destination cleared since.
    patch_tenant(
        &sim,
        "t1",
        json!({"archive_log_status": "STOP", "archive_dest": null}),
    )
    .await;
    let (status, reply): (u16, Value) = client.set_archive_log(&sim, "t1", "DOING").await;
    assert_eq!(status, 500, "{reply}");
    assert!(reply.to_string().contains("LOG_ARCHIVE_DEST"), "{reply}");
    let state = sim_state(&sim).await;
    assert_eq!(state["tenants"][0]["archive_log_status"], "STOP");
}

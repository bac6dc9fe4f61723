//! Two clocks (obshell-api.md §10.5): DAG times are OceanBase's `NOW(6)` in its session zone,
//! `/api/v1/time` is the agent host's; new rows start and end at the insert time; RETRY,
//! ROLLBACK and CANCEL reset start and end to the Unix epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use obshell_sim::{SimConfig, SimHandle};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::support::*;

const HOUR: i64 = 3_600;

/// Seconds since the epoch of an RFC 3339 time.
fn unix(text: &Value) -> i64 {
    let text = text
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {text}"));
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .unix_timestamp()
}

fn host_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn is_epoch(text: &Value) -> bool {
    unix(text) == 0
}

async fn start_with_db_clock(offset_ms: i64, zone_minutes: i32, node: Duration) -> SimHandle {
    let config = SimConfig::new(PASSWORD)
        .with_task_duration(node)
        .with_db_clock(offset_ms, zone_minutes);
    obshell_sim::spawn(config).await.unwrap()
}

/// Every start and end time of the DAG, its nodes and their sub-tasks.
fn all_times(dag: &Value) -> Vec<Value> {
    let mut times = vec![dag["start_time"].clone(), dag["end_time"].clone()];
    for node in dag["nodes"].as_array().into_iter().flatten() {
        times.push(node["start_time"].clone());
        times.push(node["end_time"].clone());
        for task in node["sub_tasks"].as_array().into_iter().flatten() {
            times.push(task["start_time"].clone());
            times.push(task["end_time"].clone());
        }
    }
    times
}

#[tokio::test]
async fn dag_times_come_from_the_database_clock_in_its_zone_and_api_time_from_the_host() {
    for (offset_hours, zone, suffix) in
        [(-3, 480, "+08:00"), (8, 480, "+08:00"), (0, -300, "-05:00")]
    {
        let sim =
            start_with_db_clock(offset_hours * HOUR * 1000, zone, Duration::from_millis(50)).await;
        let client = Client::new(&sim).await;
        let (status, time) = client.call(&sim, "GET", "/api/v1/time", None).await;
        assert_eq!(status, 200, "{time}");
        assert!(
            (unix(&time["data"]) - host_now()).abs() <= 5,
            "/api/v1/time is the host's clock: {time}"
        );
        let (status, reply) = client.post_base_uri(&sim).await;
        assert_eq!(status, 200, "{reply}");
        let created = &reply["data"];
        // A new row: start and end both default to the insert time, on the database's clock.
        assert_eq!(created["start_time"], created["end_time"], "{created}");
        let expected = host_now() + offset_hours * HOUR;
        assert!(
            (unix(&created["start_time"]) - expected).abs() <= 5,
            "offset {offset_hours} h: {created}"
        );
        let done = client.wait_dag(&sim, created["id"].as_str().unwrap()).await;
        assert_eq!(done["state"], "SUCCEED", "{done}");
        for time in all_times(&done) {
            let text = time.as_str().unwrap();
            assert!(text.ends_with(suffix), "{text} is not in {suffix}: {done}");
            assert!(
                (unix(&time) - expected).abs() <= 5,
                "offset {offset_hours} h: {text} in {done}"
            );
        }
        assert!(
            unix(&done["end_time"]) >= unix(&done["start_time"]),
            "{done}"
        );
        // NOW(6): microseconds at most.
        let fraction = done["end_time"].as_str().unwrap().split('.').nth(1);
        if let Some(fraction) = fraction {
            assert!(fraction.len() <= 6 + suffix.len(), "{done}");
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_database_clock_can_move_and_change_zone_at_run_time() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let state = sim_state(&sim).await;
    assert_eq!(state["db_time_zone"], "+08:00", "OceanBase's default zone");
    assert_eq!(state["db_clock_offset_ms"], 0);
    control(
        &sim,
        "POST",
        "/sim/v1/clock",
        json!({"db_clock_offset": "+90m", "db_time_zone": "+00:00"}),
    )
    .await;
    let done = client.configure_base_uri(&sim).await;
    let end = done["end_time"].as_str().unwrap();
    assert!(end.ends_with('Z'), "{end}");
    assert!(
        (unix(&done["end_time"]) - (host_now() + 90 * 60)).abs() <= 5,
        "{end}"
    );
    let (status, refused) = raw(
        &sim,
        "POST",
        "/sim/v1/clock",
        &[("Content-Type", "application/json".to_owned())],
        br#"{"db_time_zone": "Asia/Shanghai"}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn cancel_retry_and_rollback_reset_start_and_end_to_the_epoch() {
    // Nodes of 600 ms: the scheduler's pick-up of a cancelled DAG takes a tenth of that.
    let sim = start_with_db_clock(-3 * HOUR * 1000, 480, Duration::from_millis(600)).await;
    let client = Client::new(&sim).await;

    // CANCEL: READY/CANCEL at the epoch, then picked up (a new start) and failed (a new end).
    let held = control(&sim, "POST", "/sim/v1/dags/hold-running", json!({})).await;
    let id = held["id"].as_str().unwrap().to_owned();
    client
        .wait_dag_until(&sim, &id, |d| d["state"] == "RUNNING")
        .await;
    let (status, reply) = client.dag_operator(&sim, &id, "CANCEL").await;
    assert_eq!(status, 200, "{reply}");
    let (_, cancelling) = client
        .call(&sim, "GET", &format!("/api/v1/task/dag/{id}"), None)
        .await;
    let cancelling = &cancelling["data"];
    assert_eq!(cancelling["operator"], "CANCEL", "{cancelling}");
    assert!(is_epoch(&cancelling["end_time"]), "{cancelling}");
    assert_eq!(cancelling["end_time"], "1970-01-01T08:00:00+08:00");
    let cancelled = client.wait_dag(&sim, &id).await;
    assert_eq!(
        (cancelled["state"].as_str(), cancelled["operator"].as_str()),
        (Some("FAILED"), Some("CANCEL"))
    );
    let db_now = host_now() - 3 * HOUR;
    for key in ["start_time", "end_time"] {
        assert!((unix(&cancelled[key]) - db_now).abs() <= 5, "{cancelled}");
    }

    // RETRY of a failure in node 2, ROLLBACK of a failure in node 1: the DAG's times read the
    // epoch until it runs and ends again.
    for (node, operator) in [
        ("Set backup config", "RETRY"),
        ("Check backup config", "ROLLBACK"),
    ] {
        dag_fault(&sim, json!({"node": node, "message": "injected"})).await;
        let failed = client.configure_base_uri(&sim).await;
        assert_eq!(failed["state"], "FAILED", "{failed}");
        assert!(!is_epoch(&failed["end_time"]), "{failed}");
        let id = failed["id"].as_str().unwrap();
        let (status, reply) = client
            .call(
                &sim,
                "POST",
                &format!("/api/v1/task/dag/{id}"),
                Some(json!({"operator": operator})),
            )
            .await;
        assert_eq!(status, 200, "{operator}: {reply}");
        let (_, again) = client
            .call(&sim, "GET", &format!("/api/v1/task/dag/{id}"), None)
            .await;
        let again = &again["data"];
        assert!(
            !again["state"].as_str().unwrap().ends_with("ED"),
            "{operator}: {again}"
        );
        assert!(is_epoch(&again["end_time"]), "{operator}: {again}");
        let ended = client.wait_dag(&sim, id).await;
        assert_eq!(ended["state"], "SUCCEED", "{operator}: {ended}");
        assert!(!is_epoch(&ended["end_time"]), "{operator}: {ended}");
        assert!(
            unix(&ended["start_time"]) >= unix(&failed["end_time"]),
            "{operator}: the run after the operator starts anew: {failed} then {ended}"
        );
    }
}

//! HTTP faults: injected statuses, hangs and dropped connections.

use obshell_sim::SimHandle;
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn status_faults_answer_without_processing() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    http_fault(&sim, json!({"kind": "status", "status": 503, "count": 2, "method": "POST", "path_prefix": "/api/v1/obcluster/backup/config"})).await;
    // Not matched: a GET.
    assert_eq!(
        client
            .call(&sim, "GET", "/api/v1/tenants/overview", None)
            .await
            .0,
        200
    );
    for _ in 0..2 {
        let reply = client.post_base_uri(&sim).await;
        assert_eq!(reply.0, 503);
        assert_eq!(reply.1["status"], 503);
        assert!(reply.1["error"].is_object());
    }
    assert_eq!(sim_state(&sim).await["dags"], json!([]));
    assert_eq!(client.post_base_uri(&sim).await.0, 200);
    let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
    assert_eq!(
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["fault"] == "status")
            .count(),
        2
    );
}

#[tokio::test]
async fn drops_before_and_after_reading() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    http_fault(
        &sim,
        json!({"kind": "drop_before_read", "path_prefix": "/api/v1/obcluster"}),
    )
    .await;
    let result = client
        .try_call(
            &sim,
            "POST",
            "/api/v1/obcluster/backup/config",
            Some(json!({"backup_base_uri": URI})),
        )
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(sim_state(&sim).await["dags"], json!([]));

    http_fault(&sim, json!({"kind": "drop_after_read", "method": "POST"})).await;
    let result = client
        .try_call(
            &sim,
            "POST",
            "/api/v1/obcluster/backup/config",
            Some(json!({"backup_base_uri": URI})),
        )
        .await;
    assert!(result.is_err(), "{result:?}");
    // The request was processed: its DAG exists and runs to the end.
    let dags = sim_state(&sim).await["dags"].clone();
    assert_eq!(dags.as_array().unwrap().len(), 1);
    assert_eq!(
        client.wait_dag(&sim, dags[0]["id"].as_str().unwrap()).await["state"],
        "SUCCEED"
    );
    let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
    let faults: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["fault"].as_str())
        .collect();
    assert_eq!(faults, ["drop_before_read", "drop_after_read"]);
}

#[tokio::test]
async fn hang_delays_then_answers_and_faults_can_be_cleared() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    http_fault(&sim, json!({"kind": "hang", "ms": 20})).await;
    assert_eq!(
        client
            .call(&sim, "GET", "/api/v1/tenants/overview", None)
            .await
            .0,
        200
    );
    let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
    assert_eq!(log.as_array().unwrap().last().unwrap()["fault"], "hang");
    http_fault(&sim, json!({"kind": "status", "status": 500, "count": 5})).await;
    control(&sim, "DELETE", "/sim/v1/faults", json!({})).await;
    assert_eq!(
        client
            .call(&sim, "GET", "/api/v1/tenants/overview", None)
            .await
            .0,
        200
    );
    // Control requests are never subject to faults, and bad control bodies are 400s.
    http_fault(&sim, json!({"kind": "status", "status": 500})).await;
    sim_state(&sim).await;
    let (status, reply) = raw(
        &sim,
        "POST",
        "/sim/v1/faults/http",
        &[],
        br#"{"kind": "teleport"}"#,
    )
    .await
    .unwrap();
    assert_eq!((status, reply["error"].is_string()), (400, true));
    let (status, _) = raw(&sim, "GET", "/sim/v1/nothing", &[], b"").await.unwrap();
    assert_eq!(status, 404);
    // Task duration is adjustable.
    set_sim_config(&sim, json!({"task_duration_ms": 1})).await;
    assert_eq!(sim_state(&sim).await["task_duration_ms"], 1);
}

#[tokio::test]
async fn a_hung_write_is_processed_after_its_client_has_given_up() {
    // obshell's handlers run to their end when the client goes away: a write read before the
    // client gave up still starts its DAG. A kinder simulator would hide lost-write bugs.
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    http_fault(&sim, json!({"kind": "hang", "ms": 400, "method": "POST", "path_prefix": "/api/v1/obcluster/backup/config"}))
    .await;
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        client.post_base_uri(&sim),
    )
    .await;
    assert!(gave_up.is_err(), "the hang did not outlast the client");
    assert_eq!(
        sim_state(&sim).await["dags"],
        json!([]),
        "processed before the hang ended"
    );
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let dags = sim_state(&sim).await["dags"].clone();
    assert_eq!(
        dags.as_array().map(Vec::len),
        Some(1),
        "the write was not processed once its client had gone: {dags}"
    );
    let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["method"].as_str(), last["fault"].as_str()),
        (Some("POST"), Some("hang"))
    );
}

#[tokio::test]
async fn a_held_status_answer_waits_for_its_release_and_processes_nothing() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let other = Client::new(&sim).await;
    control(&sim, "DELETE", "/sim/v1/requests", json!({})).await;
    http_fault(&sim, json!({"kind": "status", "status": 503, "hold": true, "method": "POST", "path_prefix": "/api/v1/obcluster/backup/config"})).await;
    // Bounded, so an answer never released fails the test instead of hanging it.
    let held = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.post_base_uri(&sim),
    );
    let meanwhile = async {
        // The request is read and its answer held: the test sees it before anything goes out.
        let listed = held_requests_once_any(&sim).await;
        assert_eq!(
            listed,
            json!([{"method": "POST", "uri": "/api/v1/obcluster/backup/config"}])
        );
        // Nothing is answered or logged while it is held, and other requests go on.
        assert_eq!(
            control(&sim, "GET", "/sim/v1/requests", json!({})).await,
            json!([])
        );
        assert_eq!(other.post_base_uri(&sim).await.0, 200);
        let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
        assert_eq!(log.as_array().map(Vec::len), Some(1));
        assert_eq!(
            control(&sim, "POST", "/sim/v1/faults/release", json!({})).await,
            json!({"released": 1})
        );
    };
    let (reply, ()) = tokio::join!(held, meanwhile);
    let reply = reply.expect("the held answer goes out once released");
    assert_eq!((reply.0, reply.1["status"].clone()), (503, json!(503)));
    assert_eq!(
        control(&sim, "GET", "/sim/v1/faults/held", json!({})).await,
        json!([])
    );
    // Only the other client's request started a DAG.
    let dags = sim_state(&sim).await["dags"].clone();
    assert_eq!(dags.as_array().map(Vec::len), Some(1), "{dags}");
    let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["status"].clone(), last["fault"].clone()),
        (json!(503), json!("status"))
    );
    assert_eq!(
        control(&sim, "POST", "/sim/v1/faults/release", json!({})).await,
        json!({"released": 0})
    );
}

#[tokio::test]
async fn a_delayed_status_answer_comes_after_the_delay_and_processes_nothing() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    http_fault(
        &sim,
        json!({"kind": "status", "status": 504, "delay_ms": 400, "method": "POST"}),
    )
    .await;
    let started = std::time::Instant::now();
    let reply = client.post_base_uri(&sim).await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reply.0, 504);
    assert_eq!(sim_state(&sim).await["dags"], json!([]));
    let (status, reply) = raw(
        &sim,
        "POST",
        "/sim/v1/faults/http",
        &[],
        br#"{"kind": "status", "status": 503, "hold": 1}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        (status, reply["error"].as_str()),
        (400, Some("\"hold\" must be a boolean"))
    );
}

/// `GET /sim/v1/faults/held` once it lists a request (or after 10 s of polling, whatever it lists).
async fn held_requests_once_any(sim: &SimHandle) -> Value {
    let mut listed = json!([]);
    for _ in 0..2000 {
        listed = control(sim, "GET", "/sim/v1/faults/held", json!({})).await;
        if listed.as_array().is_some_and(|held| !held.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    listed
}

#[tokio::test]
async fn clearing_the_faults_lets_a_held_answer_go() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    http_fault(&sim, json!({"kind": "status", "status": 502, "hold": true})).await;
    // Bounded, so an answer never let go fails the test instead of hanging it.
    let held = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.call(&sim, "GET", "/api/v1/tenants/overview", None),
    );
    let clear = async {
        let listed = held_requests_once_any(&sim).await;
        assert_eq!(
            listed,
            json!([{"method": "GET", "uri": "/api/v1/tenants/overview"}])
        );
        control(&sim, "DELETE", "/sim/v1/faults", json!({})).await;
    };
    let (reply, ()) = tokio::join!(held, clear);
    assert_eq!(reply.expect("the held answer goes out once cleared").0, 502);
    assert_eq!(
        control(&sim, "GET", "/sim/v1/faults/held", json!({})).await,
        json!([])
    );
}

//! `--latency`: every obshell answer is delayed, the control API never is.

use std::time::{Duration, Instant};

use obshell_sim::{Latency, SimConfig};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn obshell_answers_wait_and_control_answers_do_not() {
    // A delay no test run reaches: an obshell answer cannot come back, a control one must.
    let config = SimConfig::new(PASSWORD).with_latency(Latency::new(
        Duration::from_secs(600),
        Duration::from_secs(1),
    ));
    let sim = obshell_sim::spawn(config).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(30), sim_state(&sim))
        .await
        .expect("control answers are not delayed");
    assert_eq!(state["latency_ms"], 600_000);
    assert_eq!(state["latency_jitter_ms"], 1_000);
    let pending = tokio::time::timeout(
        Duration::from_secs(1),
        raw(&sim, "GET", "/api/v1/info", &[], b""),
    )
    .await;
    assert!(pending.is_err(), "the obshell answer waits: {pending:?}");

    // Changed at run time; the bound below is a minimum, so load cannot make it flaky.
    set_sim_config(&sim, json!({"latency_ms": 300, "latency_jitter_ms": 0})).await;
    let started = Instant::now();
    let (status, _) = raw(&sim, "GET", "/api/v1/info", &[], b"").await.unwrap();
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Injected faults are obshell answers too.
    http_fault(&sim, json!({"kind": "status", "status": 503})).await;
    let started = Instant::now();
    let (status, _) = raw(&sim, "GET", "/api/v1/info", &[], b"").await.unwrap();
    assert_eq!(status, 503);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Reset returns to the command line's latency; bad settings change nothing.
    let (status, _) = raw(
        &sim,
        "PATCH",
        "/sim/v1/config",
        &[],
        br#"{"latency_ms": 10, "latency_jitter_ms": 20}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 400);
    control(&sim, "POST", "/sim/v1/reset", json!({})).await;
    assert_eq!(sim_state(&sim).await["latency_ms"], 600_000);
}

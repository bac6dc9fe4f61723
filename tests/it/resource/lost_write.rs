//! Issue 9 item 5: an update whose answer was lost while another client started the same task,
//! with OceanBase's clock hours behind the agent's. The apply cannot tell which DAG is its own: it
//! says the outcome is unknown, names both, and records them; the next Read resolves them.

use super::*;

const CONFIG_PATH: &str = "/api/v1/obcluster/backup/config";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_candidate_dags_after_a_lost_answer_are_named_recorded_and_resolved_by_read() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness
        .control(
            reqwest::Method::POST,
            "clock",
            json!({"db_clock_offset": "-8h"}),
        )
        .await;
    // A short request timeout, so the client gives up on the answer that never ends.
    let Value::Object(mut block) = provider_block(&harness.sim.base_url(), PASSWORD) else {
        unreachable!()
    };
    block.insert("request_timeout".to_owned(), "1500ms".into());
    let diagnostics = harness
        .provider
        .configure(ConfigureRequest {
            terraform_version: "1.15.5".to_owned(),
            config: Value::Object(block),
        })
        .await;
    check_no_errors(&diagnostics);
    harness
        .control(
            reqwest::Method::POST,
            "faults/http",
            json!({"kind": "trickle_after_read", "every_ms": 100, "endless": true, "method": "PATCH", "path_prefix": CONFIG_PATH}),
        )
        .await;
    let config = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(6)));
    let plan = harness.plan(&stored, &config).await;
    let dags_before = harness.sim_state().await["dags"].as_array().unwrap().len();
    let apply = harness.apply(&stored, &plan, &config);
    // While the answer trickles, another client starts a backup-config task too.
    let other = async {
        for _ in 0..500 {
            if harness.sim_state().await["dags"].as_array().unwrap().len() > dags_before {
                let held = harness
                    .control(reqwest::Method::POST, "dags/hold-running", json!({}))
                    .await;
                return held["id"].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the PATCH started no DAG");
    };
    let (applied, other) = tokio::join!(apply, other);
    let dags = harness.sim_state().await["dags"].clone();
    let ours = dags[dags_before]["id"].as_str().unwrap().to_owned();
    check_error_containing(&applied.diagnostics, &["outcome is unknown", &ours, &other]);
    let pending = pending_of(&applied.private);
    assert_eq!(pending.dag_id, ours);
    assert_eq!(pending.other_candidates, vec![other.clone()]);
    let writes = harness.config_writes().await;
    assert_eq!(
        writes.iter().filter(|(m, _)| m == "PATCH").count(),
        1,
        "sent once: {writes:?}"
    );

    // The other task still runs: the Read keeps both and says so.
    let stored = Stored {
        state: applied.new_state.clone(),
        private: applied.private.clone(),
    };
    let read = harness.read(&stored).await;
    check_no_errors(&read.diagnostics);
    let detail = warning_detail(&read.diagnostics, "still running");
    assert!(
        detail.contains(&ours) && detail.contains(&other),
        "{detail}"
    );
    assert_eq!(pending_of(&read.private), pending);

    // Both end applied: whichever was this update's, it applied.
    harness.release(&other).await;
    let resolved = harness.read_until_resolved(&stored).await;
    assert_eq!(
        model(&resolved.new_state).log_archive_concurrency,
        Field::Known(Number::Int(6))
    );
}

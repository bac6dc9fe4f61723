//! Issue 8 item 3, stop means stop: StopProvider (Ctrl-C) or the apply's timeout coming while a
//! read before the write hangs ends the apply at once, sends nothing, keeps the prior state (a
//! create returns no object) and says that nothing was sent. A stop while the write itself is on
//! its way is "outcome unknown", never "nothing was sent".

use std::time::Instant;

use super::*;

/// How long the sim holds the hung read: far longer than a stopped apply may take.
const HANG_MS: u64 = 8_000;
/// A stopped apply must be back well before the hang ends.
const PROMPT: Duration = Duration::from_millis(HANG_MS / 2);

#[derive(Clone, Copy, PartialEq, Debug)]
enum StopBy {
    /// Terraform sends StopProvider while the read hangs.
    Provider,
    /// The configuration's `timeouts` (1 s) passes while the read hangs.
    Timeout,
}

fn timeouts(create: bool) -> Field<TimeoutsModel> {
    let one_second = text("1s");
    Field::Known(TimeoutsModel {
        create: if create {
            one_second.clone()
        } else {
            Field::Null
        },
        update: if create { Field::Null } else { one_second },
        read: Field::Null,
    })
}

/// Plans `config` over `prior`, then applies it while the sim hangs the first `GET` under
/// `hang_path`, stopped by `stop_by`. Checks that the apply came back promptly with the prior
/// state and an error saying nothing was sent during `phase`, and that, once the hang is over,
/// obshell has received no write at all.
async fn check_stopped_before_write(
    harness: &Harness,
    prior: &Stored,
    config: &Value,
    hang_path: &str,
    stop_by: StopBy,
    phase: &str,
) -> ApplyResponse {
    let plan = harness.plan(prior, config).await;
    check_no_errors(&plan.diagnostics);
    harness.clear_requests().await;
    // A stop comes once the read is on its way: its answer is held until the test releases it,
    // so the stop cannot come before the read is sent however slow the machine. A timeout runs
    // out on a read that hangs past it.
    let fault = match stop_by {
        StopBy::Provider => {
            json!({"kind": "status", "status": 504, "hold": true, "method": "GET", "path_prefix": hang_path})
        }
        StopBy::Timeout => {
            json!({"kind": "hang", "ms": HANG_MS, "method": "GET", "path_prefix": hang_path})
        }
    };
    harness.http_fault(fault).await;
    let started = Instant::now();
    let apply = harness.spawn_apply(prior, &plan, config);
    if stop_by == StopBy::Provider {
        harness.wait_until_held("GET", hang_path).await;
        harness.provider.stop();
    }
    let applied = finish_holding(harness, apply).await;
    let took = started.elapsed();
    assert!(
        took < PROMPT,
        "the apply took {took:?}, waiting out the hang of {hang_path}"
    );
    check_error_containing(
        &applied.diagnostics,
        &["Nothing was sent to obshell", phase],
    );
    check_error_containing(
        &applied.diagnostics,
        &[match stop_by {
            StopBy::Provider => "asked the provider to stop",
            StopBy::Timeout => "passed while the provider was",
        }],
    );
    assert_eq!(
        applied.new_state, prior.state,
        "the prior state is not kept"
    );
    let lines = harness.requests().await;
    let writes: Vec<&Json> = lines
        .iter()
        .filter(|entry| entry["method"] != "GET")
        .collect();
    assert!(writes.is_empty(), "a stopped apply sent {writes:#?}");
    // The apply did reach the hung read: the fault is used up, so the same read answers at once
    // now (the hung one is processed and logged only when its wait ends).
    let client = terraform_provider_oceanbase::obshell::Client::builder(harness.sim.base_url())
        .password(PASSWORD)
        .request_timeout(Duration::from_secs(1))
        .read_retry_budget(Duration::ZERO)
        .build()
        .expect("a client");
    let read_again = async {
        match hang_path {
            "/api/v1/tenants/overview" => client.tenants_overview().await.map(drop),
            "/api/v1/task/dag/ob/unfinish" => client.unfinished_dags().await.map(drop),
            other => panic!("no read for {other}"),
        }
    };
    let answered = tokio::time::timeout(Duration::from_secs(2), read_again).await;
    assert!(
        matches!(answered, Ok(Ok(()))),
        "{hang_path} still hangs, so the apply never reached it: {answered:?}"
    );
    applied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_provider_while_a_create_reads_the_tenants_sends_nothing() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let applied = check_stopped_before_write(
        &harness,
        &empty(),
        &base_config().to_value(),
        "/api/v1/tenants/overview",
        StopBy::Provider,
        "reading the cluster id and its tenants",
    )
    .await;
    // No object: Terraform records nothing, so nothing is tainted.
    assert_eq!(applied.new_state, Value::Null);
    check_error_containing(&applied.diagnostics, &["No resource was created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_provider_while_an_update_checks_for_running_tasks_sends_nothing() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let config = config_with(|c| c.ha_low_thread_score = Field::Known(Number::Int(20)));
    let applied = check_stopped_before_write(
        &harness,
        &stored,
        &config,
        "/api/v1/task/dag/ob/unfinish",
        StopBy::Provider,
        "checking obshell for a running backup-config task",
    )
    .await;
    check_error_containing(&applied.diagnostics, &["keeps the values from before"]);
    assert_eq!(applied.private, stored.private);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_timeout_while_reading_the_tenants_sends_nothing() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = config_with(|c| c.timeouts = timeouts(true));
    let applied = check_stopped_before_write(
        &harness,
        &empty(),
        &config,
        "/api/v1/tenants/overview",
        StopBy::Timeout,
        "timeouts.create (1s)",
    )
    .await;
    assert_eq!(applied.new_state, Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_timeout_while_checking_for_running_tasks_sends_nothing() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = harness
        .apply_ok(&empty(), &config_with(|c| c.timeouts = timeouts(false)))
        .await;
    let config = config_with(|c| {
        c.timeouts = timeouts(false);
        c.backup_base_uri = text("file:///data/other");
    });
    let applied = check_stopped_before_write(
        &harness,
        &stored,
        &config,
        "/api/v1/task/dag/ob/unfinish",
        StopBy::Timeout,
        "timeouts.update (1s)",
    )
    .await;
    check_error_containing(&applied.diagnostics, &["checking obshell for a running"]);
}

/// An update whose earlier task is still running waits for it first: a stop during that wait
/// sends nothing and keeps the earlier task recorded, so the next refresh still resolves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_provider_while_waiting_for_an_earlier_task_keeps_it_pending() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.hold_next_dag().await;
    let first = config_with(|c| {
        c.ha_low_thread_score = Field::Known(Number::Int(20));
        c.timeouts = timeouts(false);
    });
    let plan = harness.plan(&stored, &first).await;
    let unfinished = harness.apply(&stored, &plan, &first).await;
    check_error_containing(&unfinished.diagnostics, &["continues on obshell"]);
    let pending = pending_of(&unfinished.private);
    let stored = Stored {
        state: unfinished.new_state,
        private: unfinished.private,
    };
    // The next apply (no refresh in between, as with a saved plan) waits for that task.
    let second = config_with(|c| c.ha_low_thread_score = Field::Known(Number::Int(30)));
    let plan = harness.plan(&stored, &second).await;
    check_no_errors(&plan.diagnostics);
    harness.clear_requests().await;
    let started = Instant::now();
    let apply = harness.spawn_apply(&stored, &plan, &second);
    wait_for_polls(&harness, &pending.dag_id, 2).await;
    harness.provider.stop();
    let applied = apply.await.expect("the apply task");
    assert!(started.elapsed() < PROMPT);
    check_error_containing(
        &applied.diagnostics,
        &[
            "Nothing was sent to obshell",
            &format!("waiting for DAG {} from an earlier apply", pending.dag_id),
        ],
    );
    assert_eq!(applied.new_state, stored.state);
    assert_eq!(pending_of(&applied.private), pending);
    assert!(harness.config_writes().await.is_empty());
}

/// A stop while the write is on its way is not "nothing was sent": when obshell's answer comes
/// within the grace the DAG is recorded as pending, as for any task the apply stopped following;
/// when it does not, the outcome is unknown and the create is tainted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_provider_during_the_write_is_outcome_unknown() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = base_config().to_value();
    let plan = harness.plan(&empty(), &config).await;
    check_no_errors(&plan.diagnostics);
    let hang_write = |ms: u64| {
        harness.http_fault(json!({"kind": "hang", "ms": ms, "method": "POST", "path_prefix": "/api/v1/obcluster/backup/config"}),
        )
    };

    // The answer comes soon after the stop: the DAG is known and recorded.
    // Still timing-based: a hung request shows nowhere until it is processed, so the stop waits
    // for the last read before the POST (the DAG high-water), then 500 ms for the POST to go out
    // (it only has to be encrypted); the hang of 1.6 s then ends about 1.1 s after the stop,
    // well within the 2 s grace.
    harness.clear_requests().await;
    hang_write(1_600).await;
    let apply = harness.spawn_apply(&empty(), &plan, &config);
    harness
        .wait_for_request("GET", "/api/v1/task/dags/ob")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    harness.provider.stop();
    let applied = apply.await.expect("the apply task");
    assert!(
        !applied
            .diagnostics
            .0
            .iter()
            .any(|d| d.detail.contains("Nothing was sent")),
        "{:#?}",
        applied.diagnostics
    );
    check_error_containing(&applied.diagnostics, &["continues on obshell"]);
    let pending = pending_of(&applied.private);
    assert!(pending.create);
    assert!(!applied.new_state.is_null(), "the create must be tainted");

    // The answer does not come within the grace: the outcome is unknown.
    let diagnostics = harness.configure(PASSWORD).await;
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    harness.clear_requests().await;
    // The write's answer is held until released: the stop comes once the POST is on its way,
    // however slow the machine, and no answer comes within the grace.
    harness.http_fault(json!({"kind": "status", "status": 504, "hold": true, "method": "POST", "path_prefix": "/api/v1/obcluster/backup/config"})).await;
    let started = Instant::now();
    let apply = harness.spawn_apply(&empty(), &plan, &config);
    harness
        .wait_until_held("POST", "/api/v1/obcluster/backup/config")
        .await;
    harness.provider.stop();
    let applied = finish_holding(&harness, apply).await;
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    check_error_containing(
        &applied.diagnostics,
        &["outcome is unknown", "asked the provider to stop"],
    );
    assert!(
        !applied
            .diagnostics
            .0
            .iter()
            .any(|d| d.detail.contains("Nothing was sent")),
        "{:#?}",
        applied.diagnostics
    );
    assert!(!applied.new_state.is_null(), "the create must be tainted");
}

/// Awaits an apply while the sim holds an answer, then lets the held answers go out. An apply
/// still waiting after `HANG_MS` (a provider that waits for the answer) gets them then, so the
/// test fails on its `PROMPT` check instead of hanging.
async fn finish_holding(
    harness: &Harness,
    mut apply: tokio::task::JoinHandle<ApplyResponse>,
) -> ApplyResponse {
    let release = || harness.control(reqwest::Method::POST, "faults/release", json!({}));
    let applied = tokio::select! {
        applied = &mut apply => applied,
        () = tokio::time::sleep(Duration::from_millis(HANG_MS)) => {
            release().await;
            apply.await
        }
    };
    release().await;
    applied.expect("the apply task")
}

//! Issue 9 item 4, read-after-write lag: OceanBase spreads a tenant parameter change to its
//! servers one by one, and archive log passes through PREPARE/BEGINNING and STOPPING. The
//! provider never reports drift that is only lag, never puts old values in state after a write it
//! waited for, and never takes real drift for lag.

use terraform_provider_oceanbase::obshell::{ArchiveLogStatus, Client};
use terraform_provider_oceanbase::resources::backup_config::private::PrivateState;

use super::*;

async fn set_config(harness: &Harness, field: &str, ms: u64) {
    harness
        .control(reqwest::Method::PATCH, "config", json!({ field: ms }))
        .await;
}

fn with_read_timeout(edit: impl FnOnce(&mut BackupConfigModel), read: &str) -> Value {
    config_with(|c| {
        edit(c);
        c.timeouts = Field::Known(TimeoutsModel {
            create: Field::Null,
            update: Field::Null,
            read: text(read),
        });
    })
}

/// The names of the parameters the sim still spreads on `tenant`.
async fn spreading(harness: &Harness, tenant: &str) -> Vec<String> {
    harness.sim_tenant(tenant).await["parameters_spreading"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect()
}

fn stored_of(read: ReadResponse) -> Stored {
    Stored {
        state: read.new_state,
        private: read.private,
    }
}

fn no_warnings(diagnostics: &Diagnostics) {
    assert!(diagnostics.0.is_empty(), "{diagnostics:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_returns_what_it_sent_and_a_refresh_waits_out_the_lag() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    set_config(&harness, "parameter_lag_ms", 3000).await;
    let three = config_with(|c| c.archive_lag_target = text("3m"));
    let stored = harness.apply_ok(&empty(), &three).await;
    // Every server still shows OceanBase's defaults, yet the state and the tenants read back
    // show what the apply sent.
    assert!(!spreading(&harness, "t1").await.is_empty());
    let state = model(&stored.state);
    assert_eq!(state.archive_lag_target, text("3m"));
    for tenant in ["t1", "t2"] {
        let entry = &state.tenants.known().expect("tenants")[tenant];
        assert_eq!(entry.archive_lag_target, text("3m"), "{tenant}");
        assert_eq!(entry.ha_low_thread_score, Field::Known(10), "{tenant}");
        assert_eq!(entry.log_archive_concurrency, Field::Known(4), "{tenant}");
    }
    let unarrived = PrivateState::decode(&stored.private).unarrived;
    assert!(
        unarrived
            .iter()
            .any(|r| r.parameter == "archive_lag_target" && r.before == ["120s"]),
        "{unarrived:?}"
    );
    // terraform plan right away: the refresh waits until every server has the change.
    let started = std::time::Instant::now();
    let read = harness.read(&stored).await;
    no_warnings(&read.diagnostics);
    assert!(
        started.elapsed() > Duration::from_millis(500),
        "the refresh did not wait"
    );
    assert!(spreading(&harness, "t1").await.is_empty());
    let refreshed = stored_of(read);
    assert_eq!(model(&refreshed.state).archive_lag_target, text("3m"));
    // Settled: nothing is recorded any more, so later drift shows at once.
    assert!(PrivateState::decode(&refreshed.private)
        .unarrived
        .is_empty());
    let plan = harness.plan(&refreshed, &three).await;
    check_empty_plan(&refreshed, &plan);

    // An update, read right away, while its servers disagree.
    let five = config_with(|c| c.archive_lag_target = text("5m"));
    let updated = harness.apply_ok(&refreshed, &five).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!spreading(&harness, "t1").await.is_empty());
    let read = harness.read(&updated).await;
    no_warnings(&read.diagnostics);
    let refreshed = stored_of(read);
    assert_eq!(model(&refreshed.state).archive_lag_target, text("5m"));
    let plan = harness.plan(&refreshed, &five).await;
    check_empty_plan(&refreshed, &plan);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_read_time_the_state_keeps_its_values_and_warns() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    set_config(&harness, "parameter_lag_ms", 6000).await;
    // timeouts.read 1s: the refresh re-reads for at most 750 ms.
    let config = with_read_timeout(|c| c.archive_lag_target = text("3m"), "1s");
    let stored = harness.apply_ok(&empty(), &config).await;
    let read = harness.read(&stored).await;
    check_no_errors(&read.diagnostics);
    let detail = warning_detail(&read.diagnostics, "Parameter change still spreading");
    assert!(
        detail.contains(
            "t1 archive_lag_target: every server still shows \"120s\"; the last apply wrote \"3m\""
        ),
        "{detail}"
    );
    let refreshed = stored_of(read);
    assert_eq!(model(&refreshed.state).archive_lag_target, text("3m"));
    assert!(!PrivateState::decode(&refreshed.private)
        .unarrived
        .is_empty());
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);
    // Later, while the servers disagree: every value is named, the state keeps its own.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let read = harness.read(&refreshed).await;
    let detail = warning_detail(&read.diagnostics, "Parameter change still spreading");
    assert!(
        detail.contains(
            "t1 archive_lag_target: servers show \"120s\" and \"3m\"; the state keeps \"3m\""
        ),
        "{detail}"
    );
    let refreshed = stored_of(read);
    assert_eq!(model(&refreshed.state).archive_lag_target, text("3m"));
    let plan = harness.plan(&refreshed, &config).await;
    check_empty_plan(&refreshed, &plan);
    // Once the servers agree, a refresh settles without a warning.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let read = harness.read(&refreshed).await;
    no_warnings(&read.diagnostics);
    assert!(PrivateState::decode(&read.private).unarrived.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_not_taken_for_lag() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    set_config(&harness, "parameter_lag_ms", 3000).await;
    // timeouts.read 1s: the refresh ends while the other parameters are still on their way.
    let config = with_read_timeout(|c| c.archive_lag_target = text("3m"), "1s");
    let stored = harness.apply_ok(&empty(), &config).await;
    // Right after the write a DBA sets a value no server showed before it: drift at once.
    harness
        .patch_tenant("t1", json!({"parameters": {"archive_lag_target": "9m"}}))
        .await;
    let read = harness.read(&stored).await;
    check_no_errors(&read.diagnostics);
    let detail = warning_detail(&read.diagnostics, "Parameter change still spreading");
    assert!(!detail.contains("t1 archive_lag_target"), "{detail}");
    assert_eq!(model(&read.new_state).archive_lag_target, text("9m"));

    // A minute after the write, even the value from before it is drift.
    let mut private = PrivateState::decode(&stored.private);
    assert!(!private.unarrived.is_empty());
    for record in &mut private.unarrived {
        record.at_unix_ms -= 61_000;
    }
    let old = Stored {
        state: stored.state.clone(),
        private: private.encode(),
    };
    harness
        .patch_tenant("t1", json!({"parameters": {"archive_lag_target": "120s"}}))
        .await;
    let read = harness.read(&old).await;
    check_no_errors(&read.diagnostics);
    assert_eq!(model(&read.new_state).archive_lag_target, text("120s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_disagree_keep_the_state_value_then_show_the_drift() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let config = with_read_timeout(|_| {}, "400ms");
    let mine = harness.apply_ok(&empty(), &config).await;
    // Another client's change, spreading slowly; this state knows nothing of it.
    set_config(&harness, "parameter_lag_ms", 4000).await;
    let other = with_read_timeout(|c| c.archive_lag_target = text("7m"), "400ms");
    let plan = harness.plan(&mine, &other).await;
    check_no_errors(&harness.apply(&mine, &plan, &other).await.diagnostics);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let read = harness.read(&mine).await;
    let detail = warning_detail(&read.diagnostics, "Parameter change still spreading");
    assert!(
        detail.contains("servers show \"2m\" and \"7m\"; the state keeps \"2m\""),
        "{detail}"
    );
    assert_eq!(model(&read.new_state).archive_lag_target, text("2m"));
    // Once it has spread, it is drift.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let read = harness.read(&mine).await;
    no_warnings(&read.diagnostics);
    assert_eq!(model(&read.new_state).archive_lag_target, text("7m"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_for_archive_log_that_is_stopping() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "DOING").await;
    // Someone stops archive log on t1: STOPPING for a while.
    stop_archive_log_elsewhere(&harness, "t1", 1500).await;
    // A location change: OceanBase cannot change t1's destination before it has stopped.
    let config = config_with(|c| c.backup_base_uri = text("file:///data/elsewhere"));
    let applied = harness.apply_ok(&stored, &config).await;
    assert_eq!(
        model(&applied.state).backup_base_uri,
        text("file:///data/elsewhere")
    );
    // t1 was being stopped, not archiving: it is not reopened.
    assert_eq!(harness.archive_log_status("t1").await, "STOP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_log_on_its_way_to_doing_counts_as_archiving() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "DOING").await;
    set_config(&harness, "archive_log_delay_ms", 3000).await;
    let six = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(6)));
    let stored = harness.apply_ok(&stored, &six).await;
    // Reopened: PREPARE, then BEGINNING, before DOING.
    assert_eq!(harness.archive_log_status("t1").await, "PREPARE");
    // The next change stops it again and reopens it again.
    let eight = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(8)));
    let refreshed = harness.refresh(&stored).await;
    harness.apply_ok(&refreshed, &eight).await;
    let status = harness.archive_log_status("t1").await;
    assert!(
        status == "PREPARE" || status == "BEGINNING",
        "t1 was not reopened: {status}"
    );
    assert_eq!(harness.archive_log_status("t2").await, "");
}

/// Another client stops archive log on `tenant` through obshell's API: STOPPING for `for_ms`,
/// then STOP. Archive log opened meanwhile takes as long to reach DOING.
async fn stop_archive_log_elsewhere(harness: &Harness, tenant: &str, for_ms: u64) {
    set_config(harness, "archive_log_delay_ms", for_ms).await;
    let client = Client::builder(harness.sim.base_url())
        .password(PASSWORD)
        .build()
        .expect("a client");
    client
        .set_tenant_archive_log(tenant, ArchiveLogStatus::Stop)
        .await
        .expect("stop");
    assert_eq!(harness.archive_log_status(tenant).await, "STOPPING");
}

/// The requests the sim logged for `tenant`'s archive log, as (method, status sent, HTTP
/// status), oldest first: the reads of its rounds and the PATCHes that open or close it.
async fn archive_log_requests(harness: &Harness, tenant: &str) -> Vec<(String, String, Json)> {
    let prefix = format!("/api/v1/tenant/{tenant}/backup/log");
    harness
        .requests()
        .await
        .into_iter()
        .filter(|r| {
            r["uri"]
                .as_str()
                .is_some_and(|uri| uri.starts_with(&prefix))
        })
        .map(|r| {
            (
                r["method"].as_str().unwrap_or_default().to_owned(),
                r["body"]["status"].as_str().unwrap_or_default().to_owned(),
                r["status"].clone(),
            )
        })
        .collect()
}

/// A change that closes archive log on every tenant, applied while the test stops t1's archive
/// log from elsewhere (between the provider's check and the DAG's close, which leaves a tenant
/// already STOPPING alone); returns the apply's answer once it ends.
async fn apply_while_t1_is_stopped_elsewhere(
    harness: &Harness,
    stored: &Stored,
    config: &Value,
    stopping_ms: u64,
) -> ApplyResponse {
    harness.set_archive_log("t1", "DOING").await;
    harness.set_archive_log("t2", "DOING").await;
    harness.hold_next_dag().await;
    let plan = harness.plan(stored, config).await;
    check_no_errors(&plan.diagnostics);
    let apply = harness.spawn_apply(stored, &plan, config);
    let held = harness.wait_for_held_dag().await;
    stop_archive_log_elsewhere(harness, "t1", stopping_ms).await;
    harness.clear_requests().await;
    harness.release(&held).await;
    let applied = apply.await.expect("the apply task");
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    applied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_never_sends_doing_to_a_tenant_still_stopping() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let stored = harness.refresh(&stored).await;
    // timeouts.update 6s: the reopen waits for t1 at most half the time left, about 3 s; its
    // STOPPING lasts a minute.
    let six = with_update_timeout_of(
        |c| c.log_archive_concurrency = Field::Known(Number::Int(6)),
        "6s",
    );
    let applied = apply_while_t1_is_stopped_elsewhere(&harness, &stored, &six, 60_000).await;
    check_no_errors(&applied.diagnostics);
    let detail = warning_detail(&applied.diagnostics, "Archive log not reopened");
    assert!(
        detail.contains("t1: its archive log is still STOPPING (stopped by someone else)"),
        "{detail}"
    );
    assert!(!detail.contains("t2"), "{detail}");
    assert!(
        detail.contains("`ALTER SYSTEM ARCHIVELOG TENANT = t1;`"),
        "{detail}"
    );
    // Nothing but reads of t1's rounds, never an open: the reopen read it, waited and read it
    // again (a first pause of 100 ms, doubling, within about 3 s: five reads unloaded), then
    // the read-back read it once. Without the wait it is two reads.
    let t1 = archive_log_requests(&harness, "t1").await;
    assert!(t1.iter().all(|(method, _, _)| method == "GET"), "{t1:?}");
    assert!(
        t1.len() >= 4,
        "t1 was not read again while STOPPING: {t1:?}"
    );
    // t2 was reopened, once, and obshell took it.
    let t2 = archive_log_requests(&harness, "t2").await;
    let opens: Vec<_> = t2
        .iter()
        .filter(|(method, _, _)| method == "PATCH")
        .collect();
    assert_eq!(
        opens,
        [&("PATCH".to_owned(), "DOING".to_owned(), json!(200))],
        "{t2:?}"
    );
    assert_eq!(harness.archive_log_status("t1").await, "STOPPING");
    assert_eq!(harness.archive_log_status("t2").await, "PREPARE");

    // The state: what was written, and each tenant's archive log as read back.
    let applied = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    let state = model(&applied.state);
    assert_eq!(state.log_archive_concurrency, Field::Known(Number::Int(6)));
    let tenants = state.tenants.known().expect("tenants");
    assert_eq!(tenants["t1"].archive_log, text("STOPPING"));
    assert_eq!(tenants["t2"].archive_log, text("PREPARE"));
    assert_eq!(
        PrivateState::decode(&applied.private)
            .archive_log_stopped
            .map(|s| s.tenants),
        Some(vec!["t1".to_owned()])
    );
    // The next plan: the configuration is on the cluster, so no change; t1 is still named.
    let read = harness.read(&applied).await;
    check_no_errors(&read.diagnostics);
    let detail = warning_detail(
        &read.diagnostics,
        "Archive log left stopped by this resource",
    );
    assert!(detail.contains("t1") && !detail.contains("t2"), "{detail}");
    let refreshed = stored_of(read);
    let plan = harness.plan(&refreshed, &six).await;
    check_empty_plan(&refreshed, &plan);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_waits_for_a_tenant_that_stops_in_time() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    let stored = harness.refresh(&stored).await;
    let six = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(6)));
    // STOPPING for 2.5 s, well within half of timeouts.update's default.
    let applied = apply_while_t1_is_stopped_elsewhere(&harness, &stored, &six, 2500).await;
    no_warnings(&applied.diagnostics);
    // t1 was read while STOPPING, read again until it had stopped, and only then opened: one
    // DOING, which obshell took (it refuses DOING while STOPPING).
    let t1 = archive_log_requests(&harness, "t1").await;
    let first_open = t1
        .iter()
        .position(|(method, _, _)| method == "PATCH")
        .expect("t1 reopened");
    assert!(first_open >= 2, "t1 was not read again before: {t1:?}");
    assert_eq!(
        t1[first_open..]
            .iter()
            .filter(|(method, _, _)| method == "PATCH")
            .collect::<Vec<_>>(),
        [&("PATCH".to_owned(), "DOING".to_owned(), json!(200))],
        "{t1:?}"
    );
    for tenant in ["t1", "t2"] {
        let status = harness.archive_log_status(tenant).await;
        assert!(
            ["PREPARE", "BEGINNING", "DOING"].contains(&status.as_str().unwrap_or_default()),
            "{tenant} is not archiving: {status}"
        );
    }
    let applied = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    assert_eq!(
        PrivateState::decode(&applied.private).archive_log_stopped,
        None
    );
    let tenants = model(&applied.state)
        .tenants
        .known()
        .expect("tenants")
        .clone();
    assert!(
        matches!(&tenants["t1"].archive_log, Field::Known(s) if s != "STOPPING" && s != "STOP"),
        "{:?}",
        tenants["t1"].archive_log
    );
    let refreshed = harness.refresh(&applied).await;
    let plan = harness.plan(&refreshed, &six).await;
    check_empty_plan(&refreshed, &plan);
}

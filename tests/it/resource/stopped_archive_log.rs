//! Issue 8, item 9: archive log that the provider's own change left stopped stays visible.
//! `tenants[*].archive_log` reports each tenant's status (obshell 4.3.2+), and every refresh (so
//! every plan) warns, naming the tenants and the SQL that reopens archive log, until a read shows
//! them archiving again; before 4.3.2 without `sql_endpoint` nothing can be read or recorded.

use super::*;

const LEFT_STOPPED: &str = "Archive log left stopped by this resource";

/// Refreshes `stored` as a plan does; returns the saved refresh and the left-stopped warning's
/// detail, if any.
async fn refresh_warning(harness: &Harness, stored: &Stored) -> (Stored, Option<String>) {
    let read = harness.read(stored).await;
    check_no_errors(&read.diagnostics);
    let detail = read
        .diagnostics
        .0
        .iter()
        .find(|d| d.severity == Severity::Warning && d.summary == LEFT_STOPPED)
        .map(|d| d.detail.clone());
    (
        Stored {
            state: read.new_state,
            private: read.private,
        },
        detail,
    )
}

fn archive_log_of(stored: &Stored, tenant: &str) -> Field<String> {
    model(&stored.state).tenants.known().expect("tenants")[tenant]
        .archive_log
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_log_left_stopped_warns_on_every_refresh_until_reopened() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "DOING").await;
    harness.set_archive_log("t2", "DOING").await;
    let (stored, warning) = refresh_warning(&harness, &stored).await;
    assert_eq!(warning, None);
    assert_eq!(archive_log_of(&stored, "t1"), text("DOING"));

    let config = config_with(|c| {
        c.backup_base_uri = text("file:///data/elsewhere");
        c.restore_archive_log = Field::Known(false);
    });
    let applied = harness.apply_ok(&stored, &config).await;
    assert_eq!(
        PrivateState::decode(&applied.private)
            .archive_log_stopped
            .map(|r| r.tenants),
        Some(vec!["t1".to_owned(), "t2".to_owned()])
    );

    // Two plans in a row: each refresh warns, naming the tenants and the SQL.
    let (first, warning) = refresh_warning(&harness, &applied).await;
    let warning = warning.expect("the first refresh warns");
    assert!(
        warning.contains("t1 (OFF), t2 (OFF)")
            && warning.contains("ALTER SYSTEM ARCHIVELOG TENANT = t1, t2;"),
        "{warning}"
    );
    assert_eq!(archive_log_of(&first, "t2"), text("OFF"));
    let plan = harness.plan(&first, &config).await;
    check_empty_plan(&first, &plan);
    let (second, warning) = refresh_warning(&harness, &first).await;
    assert!(warning
        .expect("the second refresh warns too")
        .contains("t1, t2;"));

    // The DBA reopens t1: only t2 is named; PREPARE is not archiving yet.
    harness.set_archive_log("t1", "DOING").await;
    harness.set_archive_log("t2", "PREPARE").await;
    let (third, warning) = refresh_warning(&harness, &second).await;
    let warning = warning.expect("t2 is still stopped");
    assert!(
        warning.contains("t2 (PREPARE)")
            && !warning.contains("t1 (")
            && warning.contains("ALTER SYSTEM ARCHIVELOG TENANT = t2;"),
        "{warning}"
    );
    harness.set_archive_log("t2", "BEGINNING").await;
    let (fourth, warning) = refresh_warning(&harness, &third).await;
    assert_eq!(warning, None);
    assert_eq!(
        PrivateState::decode(&fourth.private).archive_log_stopped,
        None
    );
    let (_, warning) = refresh_warning(&harness, &fourth).await;
    assert_eq!(warning, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reopen_is_remembered_until_the_tenant_archives() {
    let harness = Harness::start(ObshellVersion::new(4, 5, 0, 0)).await;
    let stored = create_base(&harness).await;
    harness.set_archive_log("t1", "DOING").await;
    harness.set_archive_log("t2", "DOING").await;
    let (stored, _) = refresh_warning(&harness, &stored).await;
    harness.http_fault(json!({"kind": "status", "status": 500, "count": 20, "method": "PATCH", "path_prefix": "/api/v1/tenant/t2/backup/log"})).await;
    let config = config_with(|c| c.log_archive_concurrency = Field::Known(Number::Int(6)));
    let plan = harness.plan(&stored, &config).await;
    check_no_errors(&plan.diagnostics);
    let applied = harness.apply(&stored, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_warning(&applied.diagnostics, "Archive log not reopened");
    check_apply_matches_plan(&plan.planned_state, &applied.new_state);
    harness
        .control(reqwest::Method::DELETE, "faults", json!({}))
        .await;
    let applied = Stored {
        state: applied.new_state,
        private: applied.private,
    };
    for _ in 0..2 {
        let (_, warning) = refresh_warning(&harness, &applied).await;
        let warning = warning.expect("t2 was not reopened");
        assert!(
            warning.contains("t2 (OFF)") && !warning.contains("t1 ("),
            "{warning}"
        );
    }
    let (refreshed, _) = refresh_warning(&harness, &applied).await;
    harness.set_archive_log("t2", "DOING").await;
    let (_, warning) = refresh_warning(&harness, &refreshed).await;
    assert_eq!(warning, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_4_3_2_without_sql_nothing_is_read_or_recorded() {
    let harness = Harness::start(ObshellVersion::new(4, 2, 4, 0)).await;
    let stored = create_base(&harness).await;
    let (stored, _) = refresh_warning(&harness, &stored).await;
    assert_eq!(archive_log_of(&stored, "t1"), Field::Null);
    let config = config_with(|c| {
        c.backup_base_uri = text("file:///data/elsewhere");
        c.restore_archive_log = Field::Known(false);
    });
    let plan = harness.plan(&stored, &config).await;
    let applied = harness.apply(&stored, &plan, &config).await;
    check_no_errors(&applied.diagnostics);
    check_warning(&applied.diagnostics, "Archive log is stopped");
    assert_eq!(
        PrivateState::decode(&applied.private).archive_log_stopped,
        None
    );
}

//! Acceptance tests for issue 8 (the state, the plan and CI's exit code never disagree with the
//! cluster): the real `terraform` CLI (PATH's and the pinned 1.15.x) against obshell-sim.

use serde_json::json;

use crate::sim::Sim;
use crate::terraform::{terraforms, TfDir};

const HEADER: &str = r#"
terraform {
  required_providers {
    oceanbase = { source = "oceanbase/oceanbase" }
  }
}

provider "oceanbase" {}
"#;

/// `main.tf` with one `oceanbase_backup_config` whose body is `body`.
fn main_tf(body: &str) -> String {
    format!("{HEADER}\nresource \"oceanbase_backup_config\" \"this\" {{\n{body}\n}}\n")
}

const URI_ONLY: &str = r#"  backup_base_uri = "file:///data/backup""#;

#[test]
fn import_adoption_ends_at_the_first_saved_refresh() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let cluster_id = sim.cluster_id().to_string();
        // The cluster is configured elsewhere, binding OPTIONAL and a 7 day recovery window.
        let elsewhere = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        elsewhere.write_main(&main_tf(&format!(
            "{URI_ONLY}\n  binding = \"optional\"\n  delete_policy = {{ recovery_window = \"7d\" }}"
        )));
        elsewhere.apply();

        // Import with only the URI configured; apply with nothing to change saves the refresh.
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.write_main(&main_tf(URI_ONLY));
        dir.run(&["import", "oceanbase_backup_config.this", &cluster_id])
            .expect_code(0);
        dir.plan().expect_code(0);
        dir.apply().expect_contains("No changes");

        // A first URI change after the import says what it sends for binding and the interval,
        // which the cluster may have set otherwise.
        dir.write_main(&main_tf(r#"  backup_base_uri = "file:///data/elsewhere""#));
        dir.plan()
            .expect_code(2)
            .expect_contains("reset to OceanBase's defaults")
            .expect_contains("OPTIONAL");

        // Edits after that saved refresh are sent like any other edit.
        dir.write_main(&main_tf(&format!(
            "{URI_ONLY}\n  binding = \"mandatory\"\n  delete_policy = {{ recovery_window = \"3d\" }}"
        )));
        dir.plan()
            .expect_code(2)
            .expect_absent("without verification");
        sim.clear_requests();
        dir.apply().expect_absent("without verification");
        let writes = sim.config_writes();
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0]["body"]["binding"], "MANDATORY", "{writes:?}");
        assert_eq!(
            writes[0]["body"]["delete_policy"],
            json!({"policy": "default", "recovery_window": "3d"}),
            "{writes:?}"
        );
        assert_eq!(sim.tenant("t1")["archive_dest"]["binding"], "MANDATORY");
        dir.plan().expect_code(0);
    }
}

#[test]
fn a_refresh_only_plan_is_empty_the_second_time_when_tenants_disagree() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        let with_lag = |lag: &str| {
            main_tf(&format!(
                "{URI_ONLY}\n  ha_low_thread_score = 10\n  archive_lag_target = \"{lag}\""
            ))
        };
        dir.write_main(&with_lag("2m"));
        dir.apply();
        sim.patch_tenant("t2", json!({"parameters": {"archive_lag_target": "5m"}}));

        dir.run(&["apply", "-refresh-only", "-auto-approve"])
            .expect_code(0)
            .expect_contains("Tenants disagree")
            .expect_contains(r#"archive_lag_target: t1 = "2m", t2 = "5m""#);
        assert_eq!(dir.state_attributes()["archive_lag_target"], "5m");
        // Nothing changed since: the second refresh-only plan is empty. (Terraform 1.10 and 1.11
        // exit 2 from `plan -refresh-only -detailed-exitcode` even when it finds no changes,
        // hashicorp/terraform#36403, so the plan's text is what says it.)
        for _ in 0..2 {
            let run = dir.run(&["plan", "-refresh-only", "-detailed-exitcode"]);
            run.expect_contains("No changes.")
                .expect_absent("changed outside of Terraform")
                .expect_absent("has changed");
            if !matches!(terraform.major_minor(), (1, 10 | 11)) {
                run.expect_code(0);
            }
        }
        // The configuration still differs from t2: drift, repaired by apply.
        dir.plan()
            .expect_code(2)
            .expect_contains("archive_lag_target");
        // Taking t2's value in the configuration is not "no changes" while t1 differs.
        dir.write_main(&with_lag("5m"));
        dir.plan().expect_code(2).expect_contains("Tenants differ");
        sim.clear_requests();
        dir.apply();
        let writes = sim.config_writes();
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0]["body"], json!({"archive_lag_target": "5m"}));
        for tenant in ["t1", "t2"] {
            assert_eq!(sim.tenant(tenant)["parameters"]["archive_lag_target"], "5m");
        }
        dir.plan().expect_code(0);
    }
}

/// A create whose wait timed out is tainted; its DAG succeeds afterwards; the next plan's refresh
/// resolves it and says how to keep it without sending the create again; after `terraform
/// untaint` the plan is empty and an apply sends nothing (no second POST, no archive-log stop).
#[test]
fn a_create_that_succeeded_late_is_resolved_and_kept_with_untaint() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        sim.start_archiving();
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.write_main(&main_tf(&format!(
            "{URI_ONLY}\n  archive_lag_target = \"2m\"\n  timeouts = {{ create = \"2s\" }}"
        )));
        sim.fault("hold", json!({}));
        dir.run(&["apply", "-auto-approve"])
            .expect_code(1)
            .expect_contains("continues on obshell");
        let state: serde_json::Value = serde_json::from_str(&dir.state_text()).expect("state");
        assert_eq!(state["resources"][0]["instances"][0]["status"], "tainted");
        sim.release_held_dag();
        dir.plan()
            .expect_code(2)
            .expect_contains("Earlier create succeeded")
            .expect_contains("terraform untaint");
        dir.run(&["untaint", "oceanbase_backup_config.this"])
            .expect_code(0);
        let archive_log_before: Vec<serde_json::Value> = ["t1", "t2"]
            .iter()
            .map(|t| sim.tenant(t)["archive_log_status"].clone())
            .collect();
        sim.clear_requests();
        dir.plan().expect_code(0);
        dir.apply()
            .expect_contains("0 added, 0 changed, 0 destroyed");
        let writes: Vec<serde_json::Value> = sim
            .requests()
            .into_iter()
            .filter(|r| r["method"] != "GET")
            .collect();
        assert!(writes.is_empty(), "{writes:?}");
        let archive_log_after: Vec<serde_json::Value> = ["t1", "t2"]
            .iter()
            .map(|t| sim.tenant(t)["archive_log_status"].clone())
            .collect();
        assert_eq!(archive_log_after, archive_log_before);
        dir.plan().expect_code(0);
    }
}

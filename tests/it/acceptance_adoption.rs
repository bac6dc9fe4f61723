//! Acceptance test for issue 8 item 4 with the real `terraform` CLI (PATH's and the pinned 1.15.x)
//! against obshell-sim: a create whose wait timed out is tainted, its DAG succeeds afterwards, and
//! the replacement Terraform plans for the tainted resource ("-/+") sends nothing to obshell,
//! through `terraform apply` and through a saved plan (`plan -out` + `apply <file>`).

use serde_json::json;

use crate::sim::Sim;
use crate::terraform::{terraforms, TfDir};

const MAIN_TF: &str = r#"
terraform {
  required_providers {
    oceanbase = { source = "oceanbase/oceanbase" }
  }
}

provider "oceanbase" {}

resource "oceanbase_backup_config" "this" {
  backup_base_uri    = "file:///data/backup"
  archive_lag_target = "2m"
  timeouts           = { create = "2s" }
}
"#;

/// Applies `MAIN_TF` while the sim holds the create's DAG, so the apply times out and taints the
/// resource, then lets the DAG succeed.
fn tainted_create_that_succeeded(sim: &Sim, dir: &TfDir) {
    sim.fault("hold", json!({}));
    dir.run(&["apply", "-auto-approve"])
        .expect_code(1)
        .expect_contains("continues on obshell");
    let state: serde_json::Value = serde_json::from_str(&dir.state_text()).expect("state");
    assert_eq!(state["resources"][0]["instances"][0]["status"], "tainted");
    sim.release_held_dag();
    // The replacement may have to wait for a DAG on a loaded machine; timeouts are not sent, so
    // they do not stop an adoption.
    dir.write_main(&MAIN_TF.replace("create = \"2s\"", "create = \"5m\""));
}

#[test]
fn the_replacement_of_a_tainted_create_that_succeeded_sends_nothing() {
    for terraform in terraforms() {
        for saved_plan in [false, true] {
            let sim = Sim::start("4.5.0.0");
            sim.start_archiving();
            let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
            dir.write_main(MAIN_TF);
            tainted_create_that_succeeded(&sim, &dir);
            let archive_log_before: Vec<serde_json::Value> = ["t1", "t2"]
                .iter()
                .map(|t| sim.tenant(t)["archive_log_status"].clone())
                .collect();
            sim.clear_requests();
            if saved_plan {
                dir.run(&["plan", "-out", "tfplan"])
                    .expect_code(0)
                    .expect_contains("Earlier create succeeded")
                    .expect_contains("Replacement adopts the earlier create")
                    .expect_contains("-/+");
                dir.run(&["apply", "tfplan"])
                    .expect_code(0)
                    .expect_contains("Earlier create adopted")
                    .expect_contains("1 added, 0 changed, 1 destroyed");
            } else {
                dir.apply()
                    .expect_contains("Earlier create succeeded")
                    .expect_contains("Replacement adopts the earlier create")
                    .expect_contains("-/+")
                    .expect_contains("Earlier create adopted")
                    .expect_contains("1 added, 0 changed, 1 destroyed");
            }
            let writes: Vec<serde_json::Value> = sim
                .requests()
                .into_iter()
                .filter(|r| r["method"] != "GET")
                .collect();
            assert!(
                writes.is_empty(),
                "{} saved_plan={saved_plan}: {writes:?}",
                terraform.label
            );
            let archive_log_after: Vec<serde_json::Value> = ["t1", "t2"]
                .iter()
                .map(|t| sim.tenant(t)["archive_log_status"].clone())
                .collect();
            assert_eq!(archive_log_after, archive_log_before);
            let creates = sim.state()["dags"]
                .as_array()
                .expect("dags")
                .iter()
                .filter(|dag| dag["name"] == "Set obcluster backup config")
                .count();
            assert_eq!(creates, 1);
            let state: serde_json::Value = serde_json::from_str(&dir.state_text()).expect("state");
            assert_ne!(state["resources"][0]["instances"][0]["status"], "tainted");
            dir.plan().expect_code(0);
        }
    }
}

/// A DBA changes a tenant after the create succeeded: the refresh sees it, so the replacement is
/// an ordinary create and sends its POST.
#[test]
fn a_tainted_create_the_cluster_no_longer_matches_is_sent_again() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.write_main(MAIN_TF);
        tainted_create_that_succeeded(&sim, &dir);
        sim.patch_tenant("t2", json!({"parameters": {"archive_lag_target": "5m"}}));
        sim.clear_requests();
        dir.apply()
            .expect_absent("Replacement adopts the earlier create")
            .expect_contains("1 added, 0 changed, 1 destroyed");
        let posts = sim
            .requests()
            .into_iter()
            .filter(|r| r["method"] == "POST" && r["uri"] == "/api/v1/obcluster/backup/config")
            .count();
        assert_eq!(posts, 1, "{}", terraform.label);
        dir.plan().expect_code(0);
    }
}

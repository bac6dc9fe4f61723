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

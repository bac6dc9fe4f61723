//! Acceptance for issue 8, item 2, with real Terraform (PATH's and the pinned 1.15.x): a tenant
//! added after the create (through the sim's `/sim/v1` control API) makes `terraform plan
//! -detailed-exitcode` exit 2 on obshell 4.2.4 as on 4.5, the plan names it, and apply configures
//! just that tenant with obshell's tenant-level call, leaving archive log on the other tenants
//! running; the next plan exits 0.

use serde_json::json;

use crate::sim::Sim;
use crate::terraform::{terraforms, TfDir};

const CONFIG: &str = r#"
terraform {
  required_providers {
    oceanbase = { source = "oceanbase/oceanbase" }
  }
}

provider "oceanbase" {}

resource "oceanbase_backup_config" "this" {
  backup_base_uri         = "file:///data/backup"
  log_archive_concurrency = 4
}
"#;

#[test]
fn a_tenant_added_later_is_drift_and_apply_configures_just_it() {
    for terraform in terraforms() {
        for version in ["4.2.4.0", "4.5.0.0"] {
            let sim = Sim::start(version);
            let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
            dir.write_main(CONFIG);
            dir.apply();
            dir.run(&["plan", "-detailed-exitcode"]).expect_code(0);

            sim.patch_tenant("t1", json!({"archive_log_status": "DOING"}));
            let added = sim.post("/sim/v1/tenants", json!({"name": "t3"}));
            assert_eq!(added["id"], 1006);
            dir.run(&["plan", "-detailed-exitcode"])
                .expect_code(2)
                .expect_contains("backup_base_uri")
                .expect_contains("New tenants without this backup configuration")
                .expect_contains("t3");

            sim.clear_requests();
            dir.apply();
            let writes: Vec<(String, String)> = sim
                .requests()
                .into_iter()
                .filter(|r| {
                    r["method"] != "GET"
                        && r["uri"]
                            .as_str()
                            .is_some_and(|uri| uri.ends_with("/backup/config"))
                })
                .map(|r| {
                    (
                        r["method"].as_str().unwrap_or_default().to_owned(),
                        r["uri"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            assert_eq!(
                writes,
                [(
                    "POST".to_owned(),
                    "/api/v1/tenant/t3/backup/config".to_owned()
                )],
                "{version}"
            );
            assert_eq!(sim.tenant("t1")["archive_log_status"], "DOING", "{version}");
            let cluster_id = sim.cluster_id();
            assert_eq!(
                sim.tenant("t3")["archive_dest"]["path"],
                format!("file:///data/backup/{cluster_id}/1006/clog/")
            );
            dir.run(&["plan", "-detailed-exitcode"]).expect_code(0);
        }
    }
}

//! Import when the tenants disagree, with real Terraform (PATH's and the pinned 1.15.x): the
//! import warns with every tenant's value instead of silently taking one tenant's value into the
//! state, and so does a plan that imports through an `import {}` block and writes
//! `-generate-config-out`.

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
  backup_base_uri    = "file:///data/backup"
  archive_lag_target = "2m"
}
"#;

#[test]
fn an_import_of_disagreeing_tenants_warns_with_each_tenants_value() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let elsewhere = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        elsewhere.write_main(CONFIG);
        elsewhere.apply();
        sim.patch_tenant("t2", json!({"parameters": {"archive_lag_target": "5m"}}));
        let cluster_id = sim.cluster_id().to_string();

        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.write_main(CONFIG);
        dir.run(&["import", "oceanbase_backup_config.this", &cluster_id])
            .expect_code(0)
            .expect_contains("Tenants disagree")
            .expect_contains(r#"archive_lag_target: t1 = "2m", t2 = "5m""#);

        // The same through an import block that generates the configuration.
        let generating = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        generating.write_main(&format!(
            "{}\nimport {{\n  to = oceanbase_backup_config.this\n  id = \"{cluster_id}\"\n}}\n",
            CONFIG.split("resource ").next().expect("the header")
        ));
        generating
            .run(&["plan", "-generate-config-out=generated.tf"])
            .expect_code(0)
            .expect_contains("Tenants disagree")
            .expect_contains(r#"archive_lag_target: t1 = "2m", t2 = "5m""#);
        assert!(generating.path().join("generated.tf").exists());
    }
}

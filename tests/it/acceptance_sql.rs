//! Acceptance of the SQL read (`sql_endpoint`) with real Terraform, both versions: drift a DBA
//! makes through SQL (simulated through `/sim/v1`, which the sim's MySQL listener shows) makes
//! `plan -detailed-exitcode` exit 2 naming it, apply repairs it, and the next plan exits 0; a wrong
//! SQL password and an unreachable SQL endpoint fail the plan clearly; without `sql_endpoint`
//! such drift is not seen.

use serde_json::json;

use crate::sim::Sim;
use crate::terraform::{terraforms, TfDir};

const CONFIG: &str = r#"
terraform {
  required_providers {
    oceanbase = { source = "oceanbase/oceanbase" }
  }
}

variable "sql_password" {
  type      = string
  sensitive = true
  default   = null
}

provider "oceanbase" {
  sql_password = var.sql_password
}

resource "oceanbase_backup_config" "this" {
  backup_base_uri       = "file:///data/backup"
  binding               = "optional"
  piece_switch_interval = "1d"
  delete_policy = {
    recovery_window = "7d"
  }
}
"#;

fn archive_path(sim: &Sim, tenant: &str) -> String {
    sim.tenant(tenant)["archive_dest"]["path"]
        .as_str()
        .expect("an archive path")
        .to_owned()
}

/// Drift made by `patch` on tenant `tenant` shows as exit 2 naming `attribute`; apply repairs it.
fn drift_then_repair(
    dir: &TfDir,
    sim: &Sim,
    tenant: &str,
    patch: serde_json::Value,
    attribute: &str,
) {
    sim.patch_tenant(tenant, patch);
    dir.run(&["plan", "-detailed-exitcode"])
        .expect_code(2)
        .expect_contains(attribute)
        .expect_contains(tenant);
    dir.apply();
    dir.run(&["plan", "-detailed-exitcode"]).expect_code(0);
}

#[test]
fn sql_drift_is_seen_and_repaired_under_both_terraforms() {
    for terraform in terraforms() {
        let sim = Sim::start("4.3.2.0");
        let mut dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.set_env("OCEANBASE_SQL_ENDPOINT", &sim.sql_endpoint());
        dir.write_main(CONFIG);
        dir.apply();
        dir.run(&["plan", "-detailed-exitcode"]).expect_code(0);

        let path = archive_path(&sim, "t2");
        drift_then_repair(
            &dir,
            &sim,
            "t2",
            json!({"archive_dest": {"path": path, "binding": "MANDATORY"}}),
            "binding",
        );
        assert_eq!(sim.tenant("t2")["archive_dest"]["binding"], "OPTIONAL");

        let path = archive_path(&sim, "t1");
        drift_then_repair(
            &dir,
            &sim,
            "t1",
            json!({"archive_dest": {"path": path, "piece_switch_interval": "3d"}}),
            "piece_switch_interval",
        );
        assert_eq!(
            sim.tenant("t1")["archive_dest"]["piece_switch_interval"],
            "1d"
        );

        drift_then_repair(
            &dir,
            &sim,
            "t2",
            json!({"delete_policy": null}),
            "delete_policy",
        );
        assert_eq!(sim.tenant("t2")["delete_policy"]["recovery_window"], "7d");

        let cluster = sim.cluster_id();
        let id = sim.tenant("t1")["id"].as_i64().expect("id");
        drift_then_repair(
            &dir,
            &sim,
            "t1",
            json!({
                "archive_dest": {"path": format!("file:///elsewhere/{cluster}/{id}/clog")},
                "data_dest": format!("file:///elsewhere/{cluster}/{id}/data"),
            }),
            "backup_base_uri",
        );
        assert!(archive_path(&sim, "t1").starts_with("file:///data/backup/"));

        // A wrong SQL password fails the plan, naming the endpoint and the view, not the password.
        dir.set_env("TF_VAR_sql_password", "Wrong-Sql_pw9");
        dir.run(&["plan", "-detailed-exitcode"])
            .expect_code(1)
            .expect_contains(&sim.sql_endpoint())
            .expect_contains("CDB_OB_ARCHIVE_DEST")
            .expect_absent("Wrong-Sql_pw9");
        dir.set_env("TF_VAR_sql_password", &sim.password);
        dir.run(&["plan", "-detailed-exitcode"]).expect_code(0);

        // An unreachable SQL endpoint fails the plan too.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").to_string()
        };
        dir.set_env("OCEANBASE_SQL_ENDPOINT", &closed);
        dir.run(&["plan", "-detailed-exitcode"])
            .expect_code(1)
            .expect_contains(&closed)
            .expect_contains("CDB_OB_ARCHIVE_DEST");

        // A SQL setting without sql_endpoint is an error (the CI variable went missing), so
        // coverage is never lost silently.
        dir.set_env("OCEANBASE_SQL_ENDPOINT", "");
        dir.run(&["plan", "-detailed-exitcode"])
            .expect_code(1)
            .expect_contains("sql_endpoint is not set");
        // Without any SQL setting, a MANDATORY binding is not seen (obshell cannot report it).
        dir.write_main(&CONFIG.replace("sql_password = var.sql_password", ""));
        let path = archive_path(&sim, "t2");
        sim.patch_tenant(
            "t2",
            json!({"archive_dest": {"path": path, "binding": "MANDATORY"}}),
        );
        dir.run(&["plan", "-detailed-exitcode"]).expect_code(0);
    }
}

/// With `sql_endpoint`, an `import {}` block takes `delete_policy`, `binding` and
/// `piece_switch_interval` from the cluster, not from the configuration, on an obshell (4.2.4)
/// that can report none of them or the destination: where the configuration differs, the
/// import's plan shows the change and the apply sends it.
#[test]
fn import_adopts_what_sql_reads_from_the_cluster_not_the_configuration() {
    for terraform in terraforms() {
        let sim = Sim::start("4.2.4.0");
        let mut first = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        first.set_env("OCEANBASE_SQL_ENDPOINT", &sim.sql_endpoint());
        first.write_main(CONFIG);
        first.apply();
        let importing = |drift: &dyn Fn(&str), expected: &[&str]| {
            for tenant in ["t1", "t2"] {
                drift(tenant);
            }
            let mut dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
            dir.set_env("OCEANBASE_SQL_ENDPOINT", &sim.sql_endpoint());
            dir.write_main(&format!(
                "{CONFIG}\nimport {{\n  to = oceanbase_backup_config.this\n  id = \"{}\"\n}}\n",
                sim.cluster_id()
            ));
            let plan = dir.run(&["plan", "-detailed-exitcode"]);
            plan.expect_code(2);
            for change in expected {
                plan.expect_contains(change);
            }
            dir.apply();
            dir.run(&["plan", "-detailed-exitcode"]).expect_code(0);
            for tenant in ["t1", "t2"] {
                let settings = sim.tenant(tenant);
                assert_eq!(
                    settings["archive_dest"]["binding"], "OPTIONAL",
                    "{settings}"
                );
                assert_eq!(
                    settings["archive_dest"]["piece_switch_interval"], "1d",
                    "{settings}"
                );
                assert_eq!(
                    settings["delete_policy"]["recovery_window"], "7d",
                    "{settings}"
                );
            }
        };
        // A DBA dropped the delete policy: the import does not take the configuration's policy
        // for the cluster's; the apply adds it.
        importing(
            &|tenant| sim.patch_tenant(tenant, json!({"delete_policy": null})),
            &["+ delete_policy"],
        );
        // A DBA set a MANDATORY binding and a 3-day piece interval.
        importing(
            &|tenant| {
                let path = archive_path(&sim, tenant);
                sim.patch_tenant(
                    tenant,
                    json!({"archive_dest": {
                        "path": path,
                        "binding": "MANDATORY",
                        "piece_switch_interval": "3d",
                    }}),
                );
            },
            &["\"MANDATORY\" -> \"optional\"", "\"3d\" -> \"1d\""],
        );
    }
}

/// With `sql_endpoint`, the data source shows what obshell cannot report, on obshell 4.2.4 (which
/// reports neither destinations nor archive-log status): each tenant's destination, binding,
/// piece interval, delete policy and archive-log status, as the sys tenant's views hold them.
#[test]
fn the_data_source_shows_what_sql_reads_on_obshell_4_2() {
    for terraform in terraforms() {
        let sim = Sim::start("4.2.4.0");
        let mut dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.set_env("OCEANBASE_SQL_ENDPOINT", &sim.sql_endpoint());
        dir.write_main(CONFIG);
        dir.apply();
        let path = archive_path(&sim, "t2");
        sim.patch_tenant(
            "t2",
            json!({
                "archive_dest": {"path": path, "binding": "MANDATORY", "piece_switch_interval": "3d"},
                "delete_policy": null,
            }),
        );
        dir.write_main(&format!(
            "{CONFIG}\ndata \"oceanbase_backup_config\" \"live\" {{}}\n\noutput \"tenants\" {{\n  value = data.oceanbase_backup_config.live.tenants\n}}\n"
        ));
        dir.run(&["apply", "-refresh-only", "-auto-approve"])
            .expect_code(0);
        let outputs = dir.run(&["output", "-json"]);
        outputs.expect_code(0);
        let outputs: serde_json::Value =
            serde_json::from_str(&outputs.stdout).expect("outputs are JSON");
        let tenants = &outputs["tenants"]["value"];
        let cluster = sim.cluster_id();
        let t1 = &tenants["t1"];
        let t1_id = sim.tenant("t1")["id"].as_i64().expect("an id");
        assert_eq!(
            t1["archive_dest"],
            format!("file:///data/backup/{cluster}/{t1_id}/clog"),
            "{}: {tenants}",
            terraform.label
        );
        assert_eq!(t1["binding"], "OPTIONAL", "{tenants}");
        assert_eq!(t1["piece_switch_interval"], "1d", "{tenants}");
        assert_eq!(t1["delete_policy_recovery_window"], "7d", "{tenants}");
        assert!(t1["archive_log_status"].is_string(), "{tenants}");
        let t2 = &tenants["t2"];
        assert_eq!(t2["binding"], "MANDATORY", "{tenants}");
        assert_eq!(t2["piece_switch_interval"], "3d", "{tenants}");
        assert!(t2["delete_policy_recovery_window"].is_null(), "{tenants}");
    }
}

//! Acceptance tests: the real `terraform` CLI (PATH's and the pinned 1.15.x) drives the provider
//! binary against obshell-sim, through the scenarios a user goes through.

use obshell_sim::ObshellVersion;
use serde_json::{json, Value};

use crate::sim::{wait_until, Sim};
use crate::terraform::{terraforms, TfDir};

const FULL_CONFIG: &str = r#"
terraform {
  required_providers {
    oceanbase = { source = "oceanbase/oceanbase" }
  }
}

provider "oceanbase" {}

resource "oceanbase_backup_config" "this" {
  backup_base_uri         = "file:///data/backup"
  log_archive_concurrency = 4
  binding                 = "optional"
  ha_low_thread_score     = HA_SCORE
  piece_switch_interval   = "1d"
  archive_lag_target      = "2m"
  delete_policy = {
    policy          = "default"
    recovery_window = "7d"
  }
}
"#;

/// The resource block with only the attributes obshell can read back.
const READABLE_CONFIG: &str = r#"
terraform {
  required_providers {
    oceanbase = { source = "oceanbase/oceanbase" }
  }
}

provider "oceanbase" {}

resource "oceanbase_backup_config" "this" {
  backup_base_uri         = "file:///data/backup"
  log_archive_concurrency = 4
  ha_low_thread_score     = HA_SCORE
  archive_lag_target      = "2m"
}
"#;

fn config(template: &str, ha_score: i64) -> String {
    template.replace("HA_SCORE", &ha_score.to_string())
}

/// Everything about a tenant that the backup config sets.
fn backup_settings(tenant: &Value) -> Value {
    json!({
        "parameters": tenant["parameters"],
        "archive_dest": tenant["archive_dest"],
        "data_dest": tenant["data_dest"],
        "delete_policy": tenant["delete_policy"],
        "archive_log_status": tenant["archive_log_status"],
    })
}

fn all_backup_settings(sim: &Sim) -> Vec<Value> {
    sim.state()["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(backup_settings)
        .collect()
}

#[track_caller]
fn check_tenant_configured(sim: &Sim, name: &str, ha_score: &str) {
    let tenant = sim.tenant(name);
    let cluster_id = sim.cluster_id();
    let tenant_id = tenant["id"].as_i64().expect("a tenant id");
    assert_eq!(
        tenant["archive_dest"]["path"],
        format!("file:///data/backup/{cluster_id}/{tenant_id}/clog"),
        "{tenant}"
    );
    assert_eq!(tenant["archive_dest"]["binding"], "OPTIONAL", "{tenant}");
    assert_eq!(
        tenant["archive_dest"]["piece_switch_interval"], "1d",
        "{tenant}"
    );
    assert_eq!(
        tenant["data_dest"],
        format!("file:///data/backup/{cluster_id}/{tenant_id}/data"),
        "{tenant}"
    );
    assert_eq!(tenant["parameters"]["log_archive_concurrency"], "4");
    assert_eq!(tenant["parameters"]["ha_low_thread_score"], ha_score);
    assert_eq!(tenant["parameters"]["archive_lag_target"], "2m");
    assert_eq!(
        tenant["delete_policy"],
        json!({"policy": "default", "recovery_window": "7d"})
    );
}

/// The whole life of a resource: apply, empty plan, a one-field update, a respelled live value,
/// drift, repair, import, generated config, destroy.
fn lifecycle(obshell_version: &str) {
    // obshell reports per-tenant destinations from 4.3.2 on.
    let reads_storage = obshell_version
        .parse::<ObshellVersion>()
        .expect("a version")
        >= ObshellVersion::new(4, 3, 2, 0);
    for terraform in terraforms() {
        let sim = Sim::start(obshell_version);
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.write_main(&config(FULL_CONFIG, 10));

        // Create.
        let run = dir.apply();
        run.expect_contains("archive log");
        for tenant in ["t1", "t2"] {
            check_tenant_configured(&sim, tenant, "10");
        }
        let state = dir.state_attributes();
        assert_eq!(state["id"], sim.cluster_id().to_string(), "{state}");
        assert_eq!(state["ha_low_thread_score"], 10);
        assert_eq!(state["archive_lag_target"], "2m");
        assert!(state["tenants"]["t1"].is_object(), "{state}");
        assert!(state["tenants"]["t2"].is_object(), "{state}");

        // An unchanged cluster plans empty.
        dir.plan().expect_code(0);

        // A change of one field sends only that field, and archive log keeps running.
        sim.start_archiving();
        sim.clear_requests();
        dir.write_main(&config(FULL_CONFIG, 20));
        dir.apply();
        let writes = sim.config_writes();
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0]["method"], "PATCH");
        assert_eq!(writes[0]["body"], json!({"ha_low_thread_score": 20}));
        for tenant in ["t1", "t2"] {
            check_tenant_configured(&sim, tenant, "20");
            assert_eq!(sim.tenant(tenant)["archive_log_status"], "DOING");
        }
        dir.plan().expect_code(0);

        // A live value spelled differently but meaning the same plans empty.
        sim.patch_tenant("t1", json!({"parameters": {"archive_lag_target": "120s"}}));
        dir.plan().expect_code(0);

        // So does a configuration respelled: the plan keeps the state's spelling, which both
        // Terraforms accept for an equal meaning (no "inconsistent" error), and nothing is sent.
        let respelled = config(FULL_CONFIG, 20)
            .replace(r#""file:///data/backup""#, r#""file:///data/backup/""#)
            .replace(r#""optional""#, r#""Optional""#)
            .replace(
                r#"piece_switch_interval   = "1d""#,
                r#"piece_switch_interval   = "24h""#,
            )
            .replace(
                r#"archive_lag_target      = "2m""#,
                r#"archive_lag_target      = "120s""#,
            )
            .replace(r#"recovery_window = "7d""#, r#"recovery_window = "168h""#);
        dir.write_main(&respelled);
        sim.clear_requests();
        dir.plan()
            .expect_code(0)
            .expect_absent("inconsistent")
            .expect_absent("planned an invalid value");
        dir.apply().expect_absent("inconsistent");
        assert!(sim.config_writes().is_empty(), "{:?}", sim.config_writes());
        assert_eq!(dir.state_attributes()["archive_lag_target"], "2m");
        dir.write_main(&config(FULL_CONFIG, 20));
        dir.plan().expect_code(0);

        // Drift made behind Terraform's back: exit 2, naming the attribute.
        sim.patch_tenant("t2", json!({"parameters": {"ha_low_thread_score": "5"}}));
        dir.plan()
            .expect_code(2)
            .expect_contains("ha_low_thread_score");

        // Apply repairs it.
        dir.apply();
        assert_eq!(sim.tenant("t2")["parameters"]["ha_low_thread_score"], "20");
        dir.plan().expect_code(0);

        // Import into a new state with the full configuration. t1 still reports the respelled
        // "120s", which the plan keeps (it means the configuration's "2m"); the plan fills what
        // obshell cannot show, and the apply adopts that without a request and says the filled
        // fields were not verified.
        let cluster_id = sim.cluster_id().to_string();
        let import_dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        import_dir.write_main(&config(FULL_CONFIG, 20));
        import_dir
            .run(&["import", "oceanbase_backup_config.this", &cluster_id])
            .expect_code(0);
        let imported = import_dir.state_attributes();
        assert_eq!(imported["id"], cluster_id);
        assert_eq!(imported["log_archive_concurrency"], 4);
        assert_eq!(imported["archive_lag_target"], "120s");
        assert!(imported["binding"].is_null(), "{imported}");
        sim.clear_requests();
        import_dir
            .plan()
            .expect_code(2)
            .expect_absent(r#""120s" -> "2m""#)
            .expect_contains("binding");
        import_dir.apply().expect_contains("without verification");
        assert!(sim.config_writes().is_empty(), "{:?}", sim.config_writes());
        import_dir.plan().expect_code(0);

        // A configuration of only what obshell reads back, matching the cluster, plans empty
        // right after import.
        sim.patch_tenant("t1", json!({"parameters": {"archive_lag_target": "2m"}}));
        let readable_dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        readable_dir.write_main(&config(READABLE_CONFIG, 20));
        readable_dir
            .run(&["import", "oceanbase_backup_config.this", &cluster_id])
            .expect_code(0);
        if reads_storage {
            readable_dir.plan().expect_code(0);
        } else {
            // Before 4.3.2 obshell cannot report the URI: the first apply adopts it, unverified,
            // without a request.
            readable_dir
                .plan()
                .expect_code(2)
                .expect_contains(r#"+ backup_base_uri         = "file:///data/backup""#);
            sim.clear_requests();
            readable_dir.apply().expect_contains("without verification");
            assert!(sim.config_writes().is_empty(), "{:?}", sim.config_writes());
            readable_dir.plan().expect_code(0);
        }

        // Import blocks with generated configuration: the output passes our own validation.
        let generate_dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        generate_dir.write_main(&format!(
            "terraform {{\n  required_providers {{\n    oceanbase = {{ source = \"oceanbase/oceanbase\" }}\n  }}\n}}\n\nprovider \"oceanbase\" {{}}\n\nimport {{\n  to = oceanbase_backup_config.this\n  id = \"{cluster_id}\"\n}}\n"
        ));
        let run = generate_dir.run(&["plan", "-generate-config-out=generated.tf"]);
        let generated_path = generate_dir.path().join("generated.tf");
        let generated = std::fs::read_to_string(&generated_path).expect("generated.tf was written");
        if reads_storage {
            run.expect_code(0);
            let uri_line = generated
                .lines()
                .find(|line| line.trim_start().starts_with("backup_base_uri "))
                .unwrap_or_default();
            assert!(
                uri_line.ends_with(r#"= "file:///data/backup""#),
                "{generated}"
            );
        } else {
            // obshell before 4.3.2 cannot report the URI: the generated config leaves it null,
            // and the plan says to set it instead of failing later at apply.
            run.expect_code(1).expect_contains("before 4.3.2");
            assert!(generated.contains("backup_base_uri"), "{generated}");
            let with_uri = generated
                .lines()
                .map(|line| {
                    if line.trim_start().starts_with("backup_base_uri") {
                        r#"  backup_base_uri = "file:///data/backup""#.to_owned()
                    } else {
                        line.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(&generated_path, with_uri).expect("edit generated.tf");
        }
        generate_dir.run(&["validate"]).expect_code(0);
        generate_dir
            .plan()
            .expect_code(2)
            .expect_contains("1 to import");

        // Destroy leaves the cluster's backup settings as they were, and says so.
        let before = all_backup_settings(&sim);
        sim.clear_requests();
        dir.run(&["destroy", "-auto-approve"])
            .expect_code(0)
            .expect_contains("keeps");
        assert!(sim.config_writes().is_empty());
        assert_eq!(all_backup_settings(&sim), before);
        assert!(
            dir.state_text().is_empty() || !dir.state_text().contains("oceanbase_backup_config")
        );
    }
}

#[test]
fn lifecycle_on_obshell_4_5() {
    lifecycle("4.5.0.0");
}

#[test]
fn lifecycle_on_obshell_4_2_4() {
    lifecycle("4.2.4.0");
}

/// A configuration with one attribute set to `value`, the rest valid.
fn config_with(attribute_line: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    oceanbase = {{ source = "oceanbase/oceanbase" }}
  }}
}}

provider "oceanbase" {{}}

resource "oceanbase_backup_config" "this" {{
  backup_base_uri = "file:///data/backup"
  {attribute_line}
}}
"#
    )
}

/// Each rule fails the plan at the attribute's line, and nothing is written to the cluster.
#[test]
fn every_validation_rule_fails_the_plan_at_its_attribute() {
    let cases: &[(&str, &str)] = &[
        (
            r#"log_archive_concurrency = 101"#,
            "log_archive_concurrency",
        ),
        (r#"log_archive_concurrency = -1"#, "log_archive_concurrency"),
        (r#"ha_low_thread_score = 101"#, "ha_low_thread_score"),
        (r#"binding = "sometimes""#, "binding"),
        (r#"piece_switch_interval = "23h""#, "piece_switch_interval"),
        (r#"piece_switch_interval = "8d""#, "piece_switch_interval"),
        (r#"archive_lag_target = "0s""#, "archive_lag_target"),
        (r#"archive_lag_target = "3h""#, "archive_lag_target"),
        (r#"archive_lag_target = "1h30m""#, "archive_lag_target"),
        (
            r#"delete_policy = { policy = "weekly", recovery_window = "7d" }"#,
            "delete_policy",
        ),
        (
            r#"delete_policy = { recovery_window = "0d" }"#,
            "recovery_window",
        ),
        (r#"timeouts = { create = "soon" }"#, "timeouts"),
    ];
    let uri_cases: &[(&str, &str)] = &[
        (r#"backup_base_uri = "ftp://host/backup""#, "backup_base_uri"),
        (r#"backup_base_uri = "file://data/backup""#, "backup_base_uri"),
        (r#"backup_base_uri = "file:///data/it's""#, "backup_base_uri"),
        (r#"backup_base_uri = "file:///data/my backup""#, "backup_base_uri"),
        (
            r#"backup_base_uri = "oss://bucket/backup?host=oss.example.com&access_id=AK&access_key=SK""#,
            "backup_base_uri",
        ),
        (
            "backup_base_uri = \"oss://bucket/backup\"\n  storage_credentials = { access_id = \"a\", access_key = \"b\" }",
            "backup_base_uri",
        ),
        (
            r#"backup_base_uri = "oss://bucket/backup?host=oss.example.com""#,
            "storage_credentials",
        ),
        (
            "backup_base_uri = \"cos://bucket/backup?host=cos.example.com\"\n  storage_credentials = { access_id = \"a\", access_key = \"b\" }",
            "appid",
        ),
        (
            "backup_base_uri = \"s3://bucket/backup?host=s3.example.com\"\n  archive_lag_target = \"30s\"\n  storage_credentials = { access_id = \"a\", access_key = \"b\" }",
            "archive_lag_target",
        ),
    ];
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        for (line, attribute) in cases {
            dir.write_main(&config_with(line));
            check_invalid(&dir, &sim, attribute, 12);
        }
        for (line, attribute) in uri_cases {
            let text = format!(
                "\nterraform {{\n  required_providers {{\n    oceanbase = {{ source = \"oceanbase/oceanbase\" }}\n  }}\n}}\n\nprovider \"oceanbase\" {{}}\n\nresource \"oceanbase_backup_config\" \"this\" {{\n  {line}\n}}\n"
            );
            dir.write_main(&text);
            check_invalid(&dir, &sim, attribute, 11);
        }
    }
}

#[track_caller]
fn check_invalid(dir: &TfDir, sim: &Sim, attribute: &str, first_line: usize) {
    sim.clear_requests();
    let run = dir.plan();
    run.expect_code(1).expect_contains(attribute);
    let pointed = (first_line..first_line + 3)
        .any(|line| run.output().contains(&format!("on main.tf line {line}")));
    // A nested attribute's path (delete_policy.policy, timeouts.create) is resolved to its line by
    // Terraform 1.15 (checked here with the pinned one); Terraform 1.11 falls back to the resource
    // block's line, so there the summary naming the attribute is what the user gets.
    let nested = matches!(attribute, "delete_policy" | "recovery_window" | "timeouts");
    if !nested || dir.terraform().major_minor() >= (1, 15) {
        assert!(
            pointed,
            "the error does not point at the attribute's line:\n{}",
            run.output()
        );
    } else {
        assert!(
            run.output().contains("on main.tf line 10"),
            "{}",
            run.output()
        );
    }
    assert!(
        sim.config_writes().is_empty(),
        "an invalid config sent a write: {:?}",
        sim.config_writes()
    );
}

fn readable_dir(sim: &Sim, terraform: &crate::terraform::Terraform) -> TfDir {
    let dir = TfDir::new(terraform, &sim.endpoint(), &sim.password);
    dir.write_main(&config(READABLE_CONFIG, 10));
    dir
}

#[test]
fn a_failing_dag_shows_its_task_log_line_and_taints_the_create() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = readable_dir(&sim, &terraform);
        sim.fault(
            "dag",
            json!({"node": "Set backup config", "message": "set archive lag target for t1(1002): Error 1210: Incorrect arguments"}),
        );
        let run = dir.run(&["apply", "-auto-approve"]);
        run.expect_code(1)
            .expect_contains("Incorrect arguments")
            .expect_contains("Set backup config");
        let state: Value = serde_json::from_str(&dir.state_text()).expect("state");
        assert_eq!(state["resources"][0]["instances"][0]["status"], "tainted");
        assert_eq!(
            state["resources"][0]["instances"][0]["attributes"]["id"],
            sim.cluster_id().to_string()
        );
    }
}

#[test]
fn a_create_whose_wait_times_out_is_tainted_and_the_dag_goes_on() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.write_main(&config(READABLE_CONFIG, 10).replace(
            "archive_lag_target      = \"2m\"",
            "archive_lag_target      = \"2m\"\n  timeouts = { create = \"2s\" }",
        ));
        sim.fault("hold", json!({}));
        let run = dir.run(&["apply", "-auto-approve"]);
        run.expect_code(1).expect_contains("continues on obshell");
        let state: Value = serde_json::from_str(&dir.state_text()).expect("state");
        assert_eq!(state["resources"][0]["instances"][0]["status"], "tainted");
    }
}

#[test]
fn an_update_whose_wait_times_out_keeps_prior_values_until_a_refresh_resolves_it() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        let with_timeout = |score: i64| {
            config(READABLE_CONFIG, score).replace(
                "archive_lag_target      = \"2m\"",
                "archive_lag_target      = \"2m\"\n  timeouts = { update = \"2s\" }",
            )
        };
        dir.write_main(&with_timeout(10));
        dir.apply();
        let held = sim.fault("hold", json!({}));
        let _ = held;
        dir.write_main(&with_timeout(30));
        let run = dir.run(&["apply", "-auto-approve"]);
        run.expect_code(1).expect_contains("continues on obshell");
        assert_eq!(dir.state_attributes()["ha_low_thread_score"], 10);

        // The DAG finishes on obshell; the next refresh adopts the values it set.
        sim.release_held_dag();
        dir.run(&["apply", "-refresh-only", "-auto-approve"])
            .expect_code(0);
        assert_eq!(dir.state_attributes()["ha_low_thread_score"], 30);
        dir.plan().expect_code(0);
    }
}

#[test]
fn interrupting_an_apply_stops_the_wait_and_leaves_the_dag_running() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = readable_dir(&sim, &terraform);
        sim.fault("hold", json!({}));
        let child = dir.spawn(&["apply", "-auto-approve"]);
        wait_until(|| {
            sim.state()["dags"]
                .as_array()
                .is_some_and(|dags| dags.iter().any(|d| d["state"] == "RUNNING"))
        });
        // Ctrl-C: Terraform sends StopProvider, which must end the wait at once (the held DAG
        // would otherwise keep the apply waiting for the default 70 minutes).
        child.interrupt();
        let run = child.wait_bounded(std::time::Duration::from_secs(60));
        assert_ne!(run.code, 0, "{}", run.output());
        run.expect_contains("continues on obshell");
        assert!(sim.state()["dags"]
            .as_array()
            .is_some_and(|dags| dags.iter().any(|d| d["state"] == "RUNNING")));
    }
}

#[test]
fn a_running_backup_config_dag_is_waited_for_and_warned_about() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = readable_dir(&sim, &terraform);
        let other = sim.post("/sim/v1/dags/hold-running", json!({}));
        let other_id = other["id"].as_str().expect("an id").to_owned();
        dir.plan().expect_code(2).expect_contains("running");
        sim.clear_requests();
        let child = dir.spawn(&["apply", "-auto-approve"]);
        // The apply waits on the other DAG (it polls it) and must not write while it runs.
        let polls_of_other = format!("/api/v1/task/dag/{other_id}");
        wait_until(|| {
            sim.requests()
                .iter()
                .filter(|r| {
                    r["method"] == "GET"
                        && r["uri"]
                            .as_str()
                            .is_some_and(|u| u.starts_with(&polls_of_other))
                })
                .count()
                >= 2
        });
        assert!(sim.config_writes().is_empty(), "{:?}", sim.config_writes());
        sim.post(&format!("/sim/v1/dags/{other_id}/release"), json!({}));
        let run = child.wait_bounded(std::time::Duration::from_secs(120));
        run.expect_code(0);
        assert_eq!(sim.config_writes().len(), 1);
    }
}

#[test]
fn a_tenant_that_is_not_normal_is_skipped_with_a_warning() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = readable_dir(&sim, &terraform);
        dir.apply();
        sim.patch_tenant("t2", json!({"status": "RESTORE"}));
        dir.plan()
            .expect_code(0)
            .expect_contains("t2")
            .expect_contains("RESTORE");
    }
}

#[test]
fn a_wrong_password_and_an_unreachable_endpoint_fail_clearly() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let mut dir = readable_dir(&sim, &terraform);
        dir.set_env("OCEANBASE_PASSWORD", "Wrong-Password-9931");
        dir.plan()
            .expect_code(1)
            .expect_contains(&sim.endpoint())
            .expect_absent("Wrong-Password-9931");

        dir.set_env("OCEANBASE_PASSWORD", &sim.password);
        dir.set_env("OCEANBASE_ENDPOINT", "http://127.0.0.1:9");
        dir.plan()
            .expect_code(1)
            .expect_contains("127.0.0.1:9")
            .expect_absent(&sim.password);
    }
}

#[test]
fn no_secret_reaches_the_state_plan_output_or_trace_logs() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let mut dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        dir.write_main(
            r#"
    terraform {
      required_providers {
        oceanbase = { source = "oceanbase/oceanbase" }
      }
    }

    provider "oceanbase" {}

    resource "oceanbase_backup_config" "this" {
      backup_base_uri     = "oss://bucket/backup?host=oss.example.com"
      storage_credentials = { access_id = "AKID-7781", access_key = "SECRET-KEY-5512" }
    }
    "#,
        );
        let log = dir.path().join("trace.log");
        dir.set_env("TF_LOG", "TRACE");
        dir.set_env("TF_LOG_PATH", &log.display().to_string());
        let plan = dir.run(&["plan"]);
        plan.expect_code(0);
        let apply = dir.apply();
        let trace = std::fs::read_to_string(&log).expect("the trace log");
        // Terraform understood the provider's JSON log lines: it re-emits them under the plugin's
        // name, including the obshell requests the provider made.
        let provider_lines: Vec<&str> = trace
            .lines()
            .filter(|line| line.contains("provider.terraform-provider-oceanbase"))
            .collect();
        assert!(
            provider_lines
                .iter()
                .any(|line| line.contains("/api/v1/obcluster/backup/config")),
            "no provider log line mentions the backup-config request:\n{}",
            provider_lines.join("\n")
        );
        assert!(
            !provider_lines
                .iter()
                .any(|line| line.contains("\"@message\"")),
            "Terraform passed raw JSON through instead of parsing the provider's log lines"
        );
        for secret in [sim.password.as_str(), "SECRET-KEY-5512", "AKID-7781"] {
            plan.expect_absent(secret);
            apply.expect_absent(secret);
            assert!(!trace.contains(secret), "the trace log contains {secret}");
        }
        // The state holds the credentials only in the sensitive attribute.
        let state = dir.state_attributes();
        assert_eq!(
            state["storage_credentials"]["access_key"],
            "SECRET-KEY-5512"
        );
        let without_credentials = {
            let mut state = state.clone();
            state["storage_credentials"] = Value::Null;
            state.to_string()
        };
        assert!(!without_credentials.contains("SECRET-KEY-5512"));
        assert!(!dir.state_text().contains(&sim.password));
        // obshell got the credentials inside the URI it needs them in.
        let writes = sim.config_writes();
        let sent = writes[0]["body"]["backup_base_uri"]
            .as_str()
            .expect("a URI");
        assert!(sent.contains("access_key=SECRET-KEY-5512"), "{sent}");
    }
}

/// Every text a saved plan file holds (a zip archive, with a copy of the configuration's source
/// files): each entry inflated, through the system's Python (no zip crate for this one check).
fn plan_file_text(path: &std::path::Path) -> String {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor n in z.namelist():\n    sys.stdout.buffer.write(z.read(n))",
        ])
        .arg(path)
        .output()
        .expect("run python3 to read the plan file");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const WRITE_ONLY_CONFIG: &str = r#"
terraform {
  required_providers {
    oceanbase = { source = "oceanbase/oceanbase" }
  }
}

variable "access_id" {
  type      = string
  ephemeral = true
}

variable "access_key" {
  type      = string
  ephemeral = true
}

variable "obshell_password" {
  type      = string
  ephemeral = true
}

provider "oceanbase" {
  password = var.obshell_password
}

resource "oceanbase_backup_config" "this" {
  backup_base_uri = "oss://bucket/backup?host=oss.example.com"
  storage_credentials_wo = {
    access_id  = var.access_id
    access_key = var.access_key
  }
  storage_credentials_wo_version = VERSION
}
"#;

/// Write-only credentials fed from an ephemeral variable, and an ephemeral provider password: on
/// both Terraforms, neither the credentials nor the password is in the state, the saved plan,
/// `terraform show -json` of it, or the TF_LOG=trace log, while obshell receives the credentials
/// in the URI. Bumping `storage_credentials_wo_version` sends the new key; an unchanged
/// configuration plans empty.
#[test]
fn write_only_credentials_and_an_ephemeral_password_are_never_at_rest() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let mut dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        // The password comes from the ephemeral variable only.
        dir.set_env("OCEANBASE_PASSWORD", "");
        dir.set_env("TF_VAR_obshell_password", &sim.password);
        dir.set_env("TF_VAR_access_id", "AKID-WO-4411");
        dir.set_env("TF_VAR_access_key", "SECRET-WO-9923");
        let log = dir.path().join("trace.log");
        dir.set_env("TF_LOG", "TRACE");
        dir.set_env("TF_LOG_PATH", &log.display().to_string());
        dir.write_main(&WRITE_ONLY_CONFIG.replace("VERSION", "1"));

        let plan = dir.run(&["plan", "-out=saved.tfplan"]);
        plan.expect_code(0);
        let shown = dir.run(&["show", "-json", "saved.tfplan"]);
        shown.expect_code(0);
        let plan_text = plan_file_text(&dir.path().join("saved.tfplan"));
        assert!(
            plan_text.contains("storage_credentials_wo_version"),
            "the plan file was read: {}",
            plan_text.len()
        );
        let apply = dir.run(&["apply", "saved.tfplan"]);
        apply.expect_code(0);
        let writes = sim.config_writes();
        assert_eq!(writes.len(), 1, "{writes:?}");
        let sent = writes[0]["body"]["backup_base_uri"]
            .as_str()
            .expect("a URI");
        assert!(
            sent.contains("access_id=AKID-WO-4411") && sent.contains("access_key=SECRET-WO-9923"),
            "{sent}"
        );
        let state = dir.state_attributes();
        assert_eq!(state["storage_credentials_wo"], Value::Null, "{state}");
        assert_eq!(state["storage_credentials_wo_version"], 1, "{state}");

        // Unchanged: an empty plan, and nothing sent.
        dir.plan().expect_code(0);
        // A rotation: a new key and a new version send the location again.
        dir.set_env("TF_VAR_access_key", "SECRET-WO-ROTATED-3318");
        dir.write_main(&WRITE_ONLY_CONFIG.replace("VERSION", "2"));
        dir.plan()
            .expect_code(2)
            .expect_contains("storage_credentials_wo_version");
        let rotate = dir.apply();
        let writes = sim.config_writes();
        assert_eq!(writes.len(), 2, "{writes:?}");
        let sent = writes[1]["body"]["backup_base_uri"]
            .as_str()
            .expect("a URI");
        assert!(sent.contains("access_key=SECRET-WO-ROTATED-3318"), "{sent}");
        dir.plan().expect_code(0);

        let trace = std::fs::read_to_string(&log).expect("the trace log");
        let state_text = dir.state_text();
        for secret in [
            sim.password.as_str(),
            "SECRET-WO-9923",
            "SECRET-WO-ROTATED-3318",
            "AKID-WO-4411",
        ] {
            for (what, text) in [
                ("plan output", plan.output()),
                ("show -json", shown.output()),
                ("saved plan", plan_text.clone()),
                ("apply output", apply.output()),
                ("rotation output", rotate.output()),
                ("state", state_text.clone()),
                ("trace log", trace.clone()),
            ] {
                assert!(
                    !text.contains(secret),
                    "{}: the {what} contains {secret}",
                    terraform.label
                );
            }
        }
    }
}

/// Exactly one of the two credential attributes, and the version only with the write-only one:
/// plan-time errors that name the attributes, before anything is sent.
#[test]
fn credential_attributes_are_exclusive() {
    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        let resource = |body: &str| {
            format!(
                "terraform {{\n  required_providers {{\n    oceanbase = {{ source = \"oceanbase/oceanbase\" }}\n  }}\n}}\nprovider \"oceanbase\" {{}}\nresource \"oceanbase_backup_config\" \"this\" {{\n  backup_base_uri = \"oss://bucket/backup?host=oss.example.com\"\n{body}\n}}\n"
            )
        };
        dir.write_main(&resource(
            "  storage_credentials = { access_id = \"a\", access_key = \"b\" }\n  storage_credentials_wo = { access_id = \"c\", access_key = \"d\" }",
        ));
        dir.plan()
            .expect_code(1)
            .expect_contains("Set only one of storage_credentials and storage_credentials_wo");
        dir.write_main(&resource("  storage_credentials_wo_version = 1"));
        dir.plan()
            .expect_code(1)
            .expect_contains("storage_credentials_wo_version only says when");
        dir.write_main(&resource(
            "  storage_credentials_wo = { access_id = \"c\", access_key = \"d&e\" }",
        ));
        dir.plan()
            .expect_code(1)
            .expect_contains("storage_credentials_wo.access_key");
        dir.write_main(&resource(""));
        dir.plan()
            .expect_code(1)
            .expect_contains("Missing storage_credentials_wo");
        assert!(sim.config_writes().is_empty());
    }
}

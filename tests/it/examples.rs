//! Every example under `examples/` validates with real Terraform (both Terraforms of
//! [`terraforms`]), the data-source example reads obshell-sim, and the drift-detection script
//! exits 0 without drift, 2 with drift and 1 on an error.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::sim::Sim;
use crate::terraform::{repo_root, terraforms, TfDir};

/// The example sets as the docs combine them: a resource or data-source snippet needs the
/// provider's `required_providers` block beside it.
const EXAMPLE_SETS: &[&[&str]] = &[
    &["examples/provider/provider.tf"],
    &[
        "examples/provider/provider.tf",
        "examples/resources/oceanbase_backup_config/resource.tf",
        "examples/resources/oceanbase_backup_config/import-by-string-id.tf",
    ],
    &[
        "examples/provider/provider.tf",
        "examples/data-sources/oceanbase_backup_config/data-source.tf",
    ],
    &["examples/drift-detection/main.tf"],
    &["examples/demo/main.tf"],
    &["examples/quick-start/main.tf"],
];

fn copy_examples(dir: &TfDir, files: &[&str]) {
    for file in files {
        let source = repo_root().join(file);
        let name = Path::new(file).file_name().expect("a file name").to_owned();
        std::fs::copy(&source, dir.path().join(name))
            .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
    }
}

#[test]
fn every_example_validates() {
    for terraform in terraforms() {
        for files in EXAMPLE_SETS {
            let dir = TfDir::new(&terraform, "http://127.0.0.1:9", "unused");
            copy_examples(&dir, files);
            dir.run(&["validate"])
                .expect_code(0)
                .expect_contains("The configuration is valid");
        }
    }
}

#[test]
fn the_import_script_names_the_resource_of_the_example() {
    let script = std::fs::read_to_string(
        repo_root().join("examples/resources/oceanbase_backup_config/import.sh"),
    )
    .expect("import.sh");
    let command = script
        .lines()
        .find(|line| line.starts_with("terraform import"))
        .expect("an import command");
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{command}");
    assert_eq!(words[2], "oceanbase_backup_config.this");
    assert!(words[3].parse::<i64>().is_ok(), "the id is a cluster id");
    let resource = std::fs::read_to_string(
        repo_root().join("examples/resources/oceanbase_backup_config/resource.tf"),
    )
    .expect("resource.tf");
    assert!(resource.contains("resource \"oceanbase_backup_config\" \"this\""));
}

#[test]
fn the_data_source_example_reads_the_cluster_without_credentials() {
    let sim = Sim::start("4.3.2.0");
    let cluster_id = sim.cluster_id();
    let t1_id = sim.tenant("t1")["id"].as_i64().expect("an id");
    sim.patch_tenant(
        "t1",
        json!({
            "archive_dest": {"path": format!("oss://bucket/backup/{cluster_id}/{t1_id}/clog?host=oss.example.com&access_id=AKIDEXAMPLE&access_key=SECRETEXAMPLE")},
            "data_dest": format!("oss://bucket/backup/{cluster_id}/{t1_id}/data?host=oss.example.com&access_id=AKIDEXAMPLE&access_key=SECRETEXAMPLE"),
            "archive_log_status": "DOING"
        }),
    );
    sim.patch_tenant("t2", json!({"status": "RESTORE"}));
    for terraform in terraforms() {
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        copy_examples(
            &dir,
            &[
                "examples/provider/provider.tf",
                "examples/data-sources/oceanbase_backup_config/data-source.tf",
            ],
        );
        dir.apply()
            .expect_contains("Tenants not read")
            .expect_contains("t2 (RESTORE)")
            .expect_absent("SECRETEXAMPLE")
            .expect_absent("AKIDEXAMPLE");
        let state = dir.state_text();
        assert!(!state.contains("SECRETEXAMPLE") && !state.contains("AKIDEXAMPLE"));
        let outputs = dir.run(&["output", "-json"]);
        outputs.expect_code(0);
        let outputs: serde_json::Value =
            serde_json::from_str(&outputs.stdout).expect("outputs are JSON");
        assert_eq!(outputs["cluster_id"]["value"], cluster_id.to_string());
        // t1 archives and t2 is not NORMAL (null status): neither is listed.
        assert_eq!(outputs["tenants_not_archiving"]["value"], json!([]));
        assert_eq!(outputs["tenants_elsewhere"]["value"], json!(["t1"]));
        let state: serde_json::Value = serde_json::from_str(&state).expect("state JSON");
        let data = state["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["mode"] == "data"))
            .expect("the data source in state");
        let tenants = &data["instances"][0]["attributes"]["tenants"];
        assert_eq!(
            tenants["t1"]["archive_dest"],
            format!("oss://bucket/backup/{cluster_id}/{t1_id}/clog?host=oss.example.com")
        );
        assert_eq!(tenants["t1"]["archive_log_status"], "DOING");
        assert_eq!(tenants["t2"]["status"], "RESTORE");
        assert!(tenants["t2"]["log_archive_concurrency"].is_null());
    }
}

fn run_drift_script(dir: &TfDir, program: &Path, endpoint: &str, password: &str) -> (i32, String) {
    let output = Command::new(repo_root().join("examples/drift-detection/check-drift.sh"))
        .arg(dir.path())
        .env("TERRAFORM", program)
        .env("TF_CLI_CONFIG_FILE", dir.path().join("dev.tfrc"))
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("OCEANBASE_ENDPOINT", endpoint)
        .env("OCEANBASE_PASSWORD", password)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run check-drift.sh");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn the_drift_script_reports_no_drift_drift_and_errors() {
    for terraform in terraforms() {
        let sim = Sim::start("4.3.2.0");
        let dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        copy_examples(&dir, &["examples/drift-detection/main.tf"]);
        dir.apply();

        let (code, text) =
            run_drift_script(&dir, &terraform.program, &sim.endpoint(), &sim.password);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("check-drift: no drift"), "{text}");

        sim.patch_tenant(
            "t2",
            json!({"parameters": {"log_archive_concurrency": "9"}}),
        );
        let (code, text) =
            run_drift_script(&dir, &terraform.program, &sim.endpoint(), &sim.password);
        assert_eq!(code, 2, "{text}");
        assert!(text.contains("check-drift: DRIFT"), "{text}");
        assert!(text.contains("log_archive_concurrency"), "{text}");

        let (code, text) =
            run_drift_script(&dir, &terraform.program, &sim.endpoint(), "wrong-password");
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("check-drift: ERROR"), "{text}");
        assert!(!text.contains("wrong-password"), "{text}");
    }
}

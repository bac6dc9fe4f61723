//! `scripts/install.sh` puts the provider where `terraform init` finds it with no network and no
//! `dev_overrides` (Terraform's implied local mirror), and `scripts/release.sh` builds the
//! Registry's release files. Both take the version from Cargo.toml, the version the binary was
//! built with.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::terraform::{repo_root, terraforms, TfRun};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn provider_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-oceanbase"))
}

fn os_arch() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{os}_{arch}")
}

#[track_caller]
fn succeeded(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout
}

/// Runs Terraform in `dir` with only `HOME` (the temporary one), an empty CLI configuration and
/// a proxy that refuses every connection, so nothing but the local mirror can satisfy `init`.
fn offline_terraform(program: &Path, home: &Path, dir: &Path, args: &[&str]) -> TfRun {
    let empty_config = home.join("empty.tfrc");
    std::fs::write(&empty_config, "").expect("write an empty CLI config");
    let output = Command::new(program)
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TF_CLI_CONFIG_FILE", &empty_config)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run terraform");
    TfRun {
        command: format!("{} {}", program.display(), args.join(" ")),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn installed_provider_satisfies_terraform_init_offline() {
    for terraform in terraforms() {
        let home = tempfile::tempdir().expect("a temporary HOME");
        let output = Command::new(repo_root().join("scripts/install.sh"))
            .arg(provider_binary())
            .env("HOME", home.path())
            .output()
            .expect("run install.sh");
        succeeded("scripts/install.sh", &output);
        for host in ["registry.terraform.io", "registry.opentofu.org"] {
            let installed = home.path().join(format!(
                ".terraform.d/plugins/{host}/oceanbase/oceanbase/{VERSION}/{}/terraform-provider-oceanbase_v{VERSION}",
                os_arch()
            ));
            assert!(installed.is_file(), "{} is missing", installed.display());
            assert_eq!(
                std::fs::read(&installed).expect("the installed binary"),
                std::fs::read(provider_binary()).expect("the built binary")
            );
        }

        let work = tempfile::tempdir().expect("a working directory");
        std::fs::write(
            work.path().join("main.tf"),
            format!(
                "terraform {{\n  required_providers {{\n    oceanbase = {{\n      source  = \"oceanbase/oceanbase\"\n      version = \"= {VERSION}\"\n    }}\n  }}\n}}\n\nprovider \"oceanbase\" {{}}\n\ndata \"oceanbase_backup_config\" \"live\" {{}}\n"
            ),
        )
        .expect("write main.tf");
        let run =
            |args: &[&str]| offline_terraform(&terraform.program, home.path(), work.path(), args);

        let init = run(&["init", "-input=false", "-no-color"]);
        init.expect_code(0)
            .expect_contains(&format!("oceanbase/oceanbase v{VERSION}"))
            .expect_absent("dev_overrides")
            .expect_absent("Provider development overrides");
        run(&["providers"]).expect_code(0).expect_contains(&format!(
            "provider[registry.terraform.io/oceanbase/oceanbase] {VERSION}"
        ));
        run(&["version"]).expect_code(0).expect_contains(&format!(
            "provider registry.terraform.io/oceanbase/oceanbase v{VERSION}"
        ));
        // The installed binary starts and serves its schema (validate needs no obshell).
        run(&["validate", "-no-color"])
            .expect_code(0)
            .expect_contains("The configuration is valid");
    }
}

fn zip_entries(zip: &Path) -> Vec<String> {
    let listing = if Command::new("unzip").arg("-v").output().is_ok() {
        Command::new("unzip").arg("-Z1").arg(zip).output()
    } else {
        Command::new(repo_root().join(".venv/bin/python"))
            .args([
                "-c",
                "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
            ])
            .arg(zip)
            .output()
    }
    .expect("list the zip");
    succeeded("listing the zip", &listing)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn release_builds_the_registry_files() {
    let out = tempfile::tempdir().expect("an output directory");
    let output = Command::new(repo_root().join("scripts/release.sh"))
        .arg(out.path())
        .arg(provider_binary())
        .output()
        .expect("run release.sh");
    succeeded("scripts/release.sh", &output);

    let prefix = format!("terraform-provider-oceanbase_{VERSION}");
    let zip = format!("{prefix}_{}.zip", os_arch());
    let manifest = format!("{prefix}_manifest.json");
    let sums = format!("{prefix}_SHA256SUMS");
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .expect("the output directory")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut expected = vec![zip.clone(), manifest.clone(), sums.clone()];
    expected.sort();
    assert_eq!(names, expected);

    assert_eq!(
        zip_entries(&out.path().join(&zip)),
        [format!("terraform-provider-oceanbase_v{VERSION}")]
    );

    let manifest_json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join(&manifest)).expect("the manifest"),
    )
    .expect("the manifest is JSON");
    assert_eq!(
        manifest_json,
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}})
    );

    let sums_text = std::fs::read_to_string(out.path().join(&sums)).expect("the checksums");
    let lines: Vec<&str> = sums_text.lines().collect();
    assert_eq!(lines.len(), 2, "{sums_text}");
    for (line, name) in lines.iter().zip([&zip, &manifest]) {
        let (hash, file) = line.split_once("  ").expect("`HASH  NAME`");
        assert_eq!(file, name);
        assert!(
            hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
    }
    let check = Command::new("sha256sum")
        .args(["--check", "--quiet", &sums])
        .current_dir(out.path())
        .output()
        .expect("run sha256sum");
    succeeded("sha256sum --check", &check);
}

#[test]
fn the_scripts_read_the_version_the_binary_is_built_with() {
    let cargo = std::fs::read_to_string(repo_root().join("Cargo.toml")).expect("Cargo.toml");
    let workspace = cargo
        .split("[workspace.package]")
        .nth(1)
        .expect("a [workspace.package] table");
    let line = workspace
        .lines()
        .find(|line| line.trim_start().starts_with("version"))
        .expect("a version");
    assert_eq!(line.split('"').nth(1), Some(VERSION));
    let provider = terraform_provider_oceanbase::provider::Provider::new(VERSION);
    assert_eq!(provider.version(), VERSION);
}

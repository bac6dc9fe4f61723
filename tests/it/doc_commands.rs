//! The commands the README, obshell-sim's README and the docs show, run as written (or with the
//! one change a test needs, said where it is made): a new user copies them, so they must work.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::sim::Sim;
use crate::terraform::{repo_root, terraforms, TfDir};

/// The fenced blocks of `lang` in the Markdown file at `path` (relative to the repository root).
pub(crate) fn fenced_blocks(path: &str, lang: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut blocks = Vec::new();
    // The block being read: whether it is in `lang`, and its text.
    let mut current: Option<(bool, String)> = None;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        match current.take() {
            None if fence => {
                let wanted = line.trim_start().trim_start_matches('`') == lang;
                current = Some((wanted, String::new()));
            }
            None => {}
            Some((true, block)) if fence => blocks.push(block),
            Some((false, _)) if fence => {}
            Some((wanted, mut block)) => {
                block.push_str(line);
                block.push('\n');
                current = Some((wanted, block));
            }
        }
    }
    blocks
}

/// The lines of `path`'s `lang` blocks that start with `prefix`, comments after `#` removed.
fn command_lines(path: &str, lang: &str, prefix: &str) -> Vec<String> {
    fenced_blocks(path, lang)
        .iter()
        .flat_map(|block| block.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| line.starts_with(prefix))
        .map(|line| match line.find(" #") {
            Some(at) => line[..at].trim_end().to_owned(),
            None => line.trim_end().to_owned(),
        })
        .collect()
}

/// Splits a shell line into words, honouring single quotes (all the docs use).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// Runs a `cargo run ...` line from `path` in the repository root, reads the simulator's first
/// stdout line, checks that it answers there, and stops it.
fn run_the_sim_command(path: &str, adapt: impl Fn(String) -> String) {
    let lines = command_lines(path, "sh", "cargo run");
    assert_eq!(lines.len(), 1, "{path} shows one cargo run line: {lines:?}");
    let line = adapt(lines[0].clone());
    let words = words(&line);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut child = Command::new(cargo)
        .args(&words[1..])
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {line}: {e}"));
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut first)
        .expect("read the first line");
    let base_url = first
        .trim()
        .strip_prefix("obshell-sim listening on ")
        .map(str::to_owned);
    let answered = base_url.as_deref().map(|url| {
        let addr = url.strip_prefix("http://").expect("an http URL").to_owned();
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).expect("connect to the sim");
        stream
            .write_all(b"GET /api/v1/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("read");
        text
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().expect("wait for cargo run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        base_url.is_some(),
        "`{line}` did not start the simulator: first line {first:?}\n{stderr}"
    );
    let answered = answered.unwrap_or_default();
    assert!(answered.contains("CLUSTER AGENT"), "{answered}");
}

#[test]
fn the_readme_sim_command_starts_the_simulator() {
    run_the_sim_command("README.md", |line| line);
}

#[test]
fn the_sim_readme_command_starts_the_simulator() {
    // As written it listens on obshell's port 2886, which another test or a real obshell may
    // hold; the test only moves it to a free port.
    run_the_sim_command("obshell-sim/README.md", |line| {
        line.replace("127.0.0.1:2886", "127.0.0.1:0")
    });
}

#[test]
fn the_sim_readme_points_nowhere_outside_the_repository() {
    for path in [
        "obshell-sim/README.md",
        "obshell-sim/CONTROL.md",
        "README.md",
    ] {
        let text = std::fs::read_to_string(repo_root().join(path)).expect("read");
        for outside in ["../shared", "/work/", "obshell-api.md", "design.md"] {
            assert!(!text.contains(outside), "{path} points at {outside}");
        }
        // Every relative link names a file of the repository.
        let dir = Path::new(path).parent().expect("a directory");
        for (at, _) in text.match_indices("](") {
            let target: String = text[at + 2..].chars().take_while(|c| *c != ')').collect();
            if target.contains("://") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            assert!(
                repo_root().join(dir).join(file).exists(),
                "{path} links to {target}, which is not in the repository"
            );
        }
    }
}

#[test]
fn the_readme_hcl_validates_as_written() {
    let blocks = fenced_blocks("README.md", "hcl");
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    for terraform in terraforms() {
        let dir = TfDir::new(&terraform, "http://127.0.0.1:9", "unused");
        dir.write_main(&blocks[0]);
        dir.run(&["validate"])
            .expect_code(0)
            .expect_contains("The configuration is valid");
    }
}

/// The environment assignments and the Terraform arguments of one documented command line such
/// as `TF_LOG_PROVIDER=DEBUG terraform plan`.
fn env_and_args(line: &str) -> (Vec<(String, String)>, Vec<String>) {
    let words = words(line);
    let at = words
        .iter()
        .position(|word| word == "terraform")
        .unwrap_or_else(|| panic!("no terraform in {line}"));
    let env = words[..at]
        .iter()
        .map(|word| {
            let (name, value) = word.split_once('=').expect("NAME=VALUE");
            (name.to_owned(), value.to_owned())
        })
        .collect();
    (env, words[at + 1..].to_vec())
}

#[test]
fn the_logging_commands_print_what_the_docs_say() {
    let lines = command_lines("docs/index.md", "shell", "TF_LOG");
    assert!(lines.len() >= 4, "{lines:?}");
    let sim = Sim::start("4.5.0.0");
    for terraform in terraforms() {
        for line in &lines {
            let (env, mut args) = env_and_args(line);
            let mut dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
            for file in [
                "examples/provider/provider.tf",
                "examples/data-sources/oceanbase_backup_config/data-source.tf",
            ] {
                let name = Path::new(file).file_name().expect("a name");
                std::fs::copy(repo_root().join(file), dir.path().join(name)).expect("copy");
            }
            for (name, value) in &env {
                let value = if name == "TF_LOG_PATH" {
                    dir.path().join(value).display().to_string()
                } else {
                    value.clone()
                };
                dir.set_env(name, &value);
            }
            if args[0] == "apply" {
                // The one change: nobody is there to type "yes".
                args.push("-auto-approve".to_owned());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = dir.run(&args);
            run.expect_code(0);
            let mut logged = run.stderr.clone();
            if let Some((_, path)) = env.iter().find(|(name, _)| name == "TF_LOG_PATH") {
                logged.push_str(
                    &std::fs::read_to_string(dir.path().join(path)).expect("the log file"),
                );
            }
            let level_of = |name: &str| {
                env.iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.to_ascii_uppercase())
            };
            let provider_debug = logged.contains("obshell request");
            let oceanbase_level = level_of("TF_LOG_PROVIDER_OCEANBASE");
            let terraform_level = level_of("TF_LOG_PROVIDER").or_else(|| level_of("TF_LOG"));
            let expect_debug = matches!(terraform_level.as_deref(), Some("DEBUG" | "TRACE"))
                && oceanbase_level
                    .as_deref()
                    .is_none_or(|level| matches!(level, "DEBUG" | "TRACE"));
            assert_eq!(
                provider_debug,
                expect_debug,
                "`{line}` with {}: provider debug lines {}\n{logged}",
                terraform.label,
                if provider_debug { "shown" } else { "missing" }
            );
        }
        // What the docs warn about: this provider's own variable alone makes Terraform print
        // nothing of it.
        let mut dir = TfDir::new(&terraform, &sim.endpoint(), &sim.password);
        std::fs::copy(
            repo_root().join("examples/data-sources/oceanbase_backup_config/data-source.tf"),
            dir.path().join("data-source.tf"),
        )
        .expect("copy");
        std::fs::copy(
            repo_root().join("examples/provider/provider.tf"),
            dir.path().join("provider.tf"),
        )
        .expect("copy");
        dir.set_env("TF_LOG_PROVIDER_OCEANBASE", "TRACE");
        let run = dir.run(&["plan"]);
        run.expect_code(0).expect_absent("obshell request");
    }
}

/// The Quick start, as a new user follows it: `make install` (its install step: the release build
/// is the one thing swapped, for this build's binary), the guide's `main.tf`, its environment
/// variables pointed at obshell-sim, then every `terraform` line in order with only `HOME` and
/// the environment the guide sets. Every line of its `text` blocks must appear in the output.
#[test]
fn the_quick_start_works_as_written() {
    let guide = "docs/guides/quick-start.md";
    let shell: Vec<String> = fenced_blocks(guide, "shell")
        .iter()
        .flat_map(|block| block.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert_eq!(shell.first().map(String::as_str), Some("make install"));
    let expected: Vec<String> = fenced_blocks(guide, "text")
        .iter()
        .flat_map(|block| block.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert!(expected.len() >= 5, "{expected:?}");
    let text = std::fs::read_to_string(repo_root().join(guide)).expect("the guide");
    let main_tf = std::fs::read_to_string(repo_root().join("examples/quick-start/main.tf"))
        .expect("the example");
    assert!(
        text.contains(main_tf.trim()),
        "the guide embeds examples/quick-start/main.tf"
    );

    for terraform in terraforms() {
        let sim = Sim::start("4.5.0.0");
        let home = tempfile::tempdir().expect("a HOME");
        let work = tempfile::tempdir().expect("a working directory");
        std::fs::write(work.path().join("main.tf"), &main_tf).expect("write main.tf");
        let mut env: Vec<(String, String)> = vec![
            ("HOME".to_owned(), home.path().display().to_string()),
            ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
            ("CHECKPOINT_DISABLE".to_owned(), "1".to_owned()),
        ];
        let mut output = String::new();
        let mut last_code = -1;
        for line in &shell {
            let words = words(line);
            match words[0].as_str() {
                "make" => {
                    assert_eq!(words, ["make", "install"]);
                    let run = Command::new(repo_root().join("scripts/install.sh"))
                        .arg(env!("CARGO_BIN_EXE_terraform-provider-oceanbase"))
                        .env("HOME", home.path())
                        .output()
                        .expect("run install.sh");
                    assert!(run.status.success(), "{run:?}");
                }
                "export" => {
                    let (name, _) = words[1].split_once('=').expect("NAME=VALUE");
                    // The user's values: obshell-sim's address and password.
                    let value = match name {
                        "OCEANBASE_ENDPOINT" => sim.endpoint(),
                        "OCEANBASE_PASSWORD" => sim.password.clone(),
                        other => panic!("the guide exports {other}"),
                    };
                    env.push((name.to_owned(), value));
                }
                "terraform" => {
                    let mut args: Vec<String> = words[1..].to_vec();
                    if args[0] == "apply" {
                        // Typing "yes" at the prompt.
                        args.push("-auto-approve".to_owned());
                    }
                    let run = Command::new(&terraform.program)
                        .args(&args)
                        .current_dir(work.path())
                        .env_clear()
                        .envs(env.iter().map(|(n, v)| (n, v)))
                        .stdin(Stdio::null())
                        .output()
                        .expect("run terraform");
                    let text = without_colours(&format!(
                        "{}\n{}",
                        String::from_utf8_lossy(&run.stdout),
                        String::from_utf8_lossy(&run.stderr)
                    ));
                    last_code = run.status.code().unwrap_or(-1);
                    assert_eq!(last_code, 0, "`{line}` with {}:\n{text}", terraform.label);
                    output.push_str(&text);
                }
                other => panic!("the guide runs {other}, which this test does not know"),
            }
        }
        assert_eq!(last_code, 0, "the drift check finds no drift");
        for line in &expected {
            assert!(
                output.contains(line.trim()),
                "{}: the guide shows {line:?}, which the commands did not print:\n{output}",
                terraform.label
            );
        }
    }
}

/// `text` without ANSI colour sequences (`ESC [ ... m`), which Terraform writes without -no-color.
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

//! The committed `docs/` must be exactly what the generator (`terraform_provider_oceanbase::docgen`)
//! renders from the provider's schemas, its templates and `examples/`. With `UPDATE_DOCS=1`
//! (`make docs`) the test writes the files instead of comparing them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use terraform_provider_oceanbase::docgen::{generate, DocFile};
use terraform_provider_oceanbase::provider::Provider;
use terraform_provider_oceanbase::tf::ProviderHandler;

use crate::terraform::repo_root;

fn rendered() -> Vec<DocFile> {
    let schemas = Provider::new(env!("CARGO_PKG_VERSION")).schemas();
    generate(&schemas, &repo_root()).expect("the docs render")
}

/// Developers' notes kept beside the generated Registry docs (mutation-testing results); neither
/// generated nor removed by `make docs`.
const HAND_WRITTEN: &str = "docs/development";

/// Not the generator's: the scale benchmark's page and plots, which `scripts/bench-scale.sh`
/// writes from a measured run. The Registry ignores them; the generator leaves them alone.
fn written_by_the_benchmark(path: &Path) -> bool {
    path == Path::new("docs/benchmarks.md") || path.starts_with("docs/benchmarks")
}

/// Every file under `dir`, relative to the repository root, but the benchmark's.
fn files_under(root: &Path, dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return found;
    };
    for entry in entries {
        let entry = entry.expect("a directory entry");
        let relative = dir.join(entry.file_name());
        if relative == Path::new(HAND_WRITTEN) || written_by_the_benchmark(&relative) {
            continue;
        }
        if entry.file_type().expect("a file type").is_dir() {
            found.extend(files_under(root, &relative));
        } else {
            found.insert(relative);
        }
    }
    found
}

#[test]
fn committed_docs_match_the_generator() {
    let root = repo_root();
    let files = rendered();
    if std::env::var("UPDATE_DOCS").is_ok_and(|value| value == "1") {
        for stale in files_under(&root, Path::new("docs")) {
            if !files.iter().any(|file| file.path == stale) {
                std::fs::remove_file(root.join(&stale)).expect("remove a stale doc");
            }
        }
        for file in &files {
            let path = root.join(&file.path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create docs dirs");
            std::fs::write(&path, &file.contents).expect("write a doc");
        }
        return;
    }
    let mut stale = Vec::new();
    for file in &files {
        let committed = std::fs::read_to_string(root.join(&file.path)).unwrap_or_default();
        if committed != file.contents {
            stale.push(file.path.display().to_string());
        }
    }
    let generated: BTreeSet<PathBuf> = files.iter().map(|file| file.path.clone()).collect();
    let extra: Vec<String> = files_under(&root, Path::new("docs"))
        .difference(&generated)
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "docs/ is out of date: {stale:?} differ from the generator, {extra:?} are not generated. Run `make docs` and commit the result."
    );
}

#[test]
fn docs_cover_every_attribute_and_embed_the_examples() {
    let files = rendered();
    let page = |path: &str| {
        files
            .iter()
            .find(|file| file.path == Path::new(path))
            .map(|file| file.contents.clone())
            .unwrap_or_else(|| panic!("no {path}"))
    };
    let resource = page("docs/resources/backup_config.md");
    let schemas = Provider::new("test").schemas();
    for attribute in &schemas.resources["oceanbase_backup_config"]
        .block
        .attributes
    {
        assert!(
            resource.contains(&format!("- `{}` (", attribute.name)),
            "the schema section lacks {}",
            attribute.name
        );
    }
    for needle in [
        "## Example Usage",
        "## Import",
        "terraform import oceanbase_backup_config.this",
        "removed {",
        "destroy = false",
        "restore_archive_log",
        "(String, Sensitive)",
    ] {
        assert!(
            resource.contains(needle),
            "the resource page lacks {needle:?}"
        );
    }
    let index = page("docs/index.md");
    for needle in [
        "OCEANBASE_ENDPOINT",
        "OCEANBASE_PASSWORD",
        "TF_LOG",
        "4.2.4",
    ] {
        assert!(index.contains(needle), "the index lacks {needle:?}");
    }
    let data_source = page("docs/data-sources/backup_config.md");
    assert!(data_source.contains("data \"oceanbase_backup_config\""));
    let versions = page("docs/guides/obshell-versions.md");
    for version in ["4.2.4", "4.3.1", "4.3.2", "4.4.2"] {
        assert!(
            versions.contains(version),
            "the version guide lacks {version}"
        );
    }
}

/// The routes the version guide's notes name, by the version whose note names them: every
/// backticked `METHOD /api/v1/...` (and `METHOD`/`METHOD /path`) under a `- **X.Y.Z**` bullet.
fn routes_named_by_version(guide: &str) -> BTreeSet<(String, String, String)> {
    let mut bullets: Vec<(String, String)> = Vec::new();
    for line in guide.lines() {
        if let Some(rest) = line.strip_prefix("- **") {
            let (version, text) = rest.split_once("**").expect("a version in bold");
            bullets.push((version.to_owned(), text.to_owned()));
        } else if line.starts_with("  ") {
            if let Some((_, text)) = bullets.last_mut() {
                text.push(' ');
                text.push_str(line.trim());
            }
        } else if !line.trim().is_empty() {
            // A paragraph ends the notes' last bullet.
            bullets.push((String::new(), String::new()));
        }
    }
    let methods = ["GET", "POST", "PATCH", "PUT", "DELETE"];
    let mut found = BTreeSet::new();
    for (version, text) in bullets.iter().filter(|(v, _)| !v.is_empty()) {
        let mut pending: Vec<&str> = Vec::new();
        for span in text.split('`').skip(1).step_by(2) {
            if methods.contains(&span) {
                pending.push(span);
                continue;
            }
            let Some((method, path)) = span.split_once(' ') else {
                pending.clear();
                continue;
            };
            if methods.contains(&method) && path.starts_with("/api/") {
                pending.push(method);
                for method in pending.drain(..) {
                    found.insert((version.clone(), method.to_owned(), path.to_owned()));
                }
            }
            pending.clear();
        }
    }
    found
}

/// The obshell version guide tells the truth the simulator is built on: each route its notes
/// introduce at a version is one obshell-sim serves from exactly that version, and every route
/// the simulator gates by version is in the notes.
#[test]
fn the_version_guide_matches_the_simulators_route_table() {
    let guide = rendered()
        .into_iter()
        .find(|file| file.path == Path::new("docs/guides/obshell-versions.md"))
        .expect("the version guide")
        .contents;
    let named = routes_named_by_version(&guide);
    assert!(!named.is_empty(), "the guide's notes name no route");
    let short = |version: obshell_sim::ObshellVersion| {
        let text = version.to_string();
        text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
    };
    let min = obshell_sim::ObshellVersion::MIN_SUPPORTED;
    let gated: BTreeSet<(String, String, String)> = obshell_sim::ROUTES
        .iter()
        .filter(|route| route.since > min)
        .map(|route| {
            (
                short(route.since),
                route.method.to_owned(),
                route.path.to_owned(),
            )
        })
        .collect();
    for (version, method, path) in &named {
        let route = obshell_sim::ROUTES
            .iter()
            .find(|route| route.method == method && route.path == path)
            .unwrap_or_else(|| {
                panic!("the guide names {method} {path}, which obshell-sim does not serve")
            });
        assert_eq!(
            &short(route.since.max(min)),
            version,
            "the guide says {method} {path} comes with {version}; obshell-sim serves it from {}",
            route.since
        );
    }
    let missing: Vec<_> = gated.difference(&named).collect();
    assert!(
        missing.is_empty(),
        "obshell-sim gates these routes by version but the guide's notes do not name them: {missing:?}"
    );
}

#[test]
fn the_guide_parser_reads_joined_methods_and_wrapped_lines() {
    let guide = "Notes:\n\n- **4.2.4** adds (`POST`/`PATCH\n  /api/v1/a`) and `GET /api/v1/b/{name}`.\n- **4.3.0** has `GET /api/v1/c` and `not a route`.\n\nAfter `GET /api/v1/d`.\n";
    let named = routes_named_by_version(guide);
    let expected: BTreeSet<(String, String, String)> = [
        ("4.2.4", "POST", "/api/v1/a"),
        ("4.2.4", "PATCH", "/api/v1/a"),
        ("4.2.4", "GET", "/api/v1/b/{name}"),
        ("4.3.0", "GET", "/api/v1/c"),
    ]
    .into_iter()
    .map(|(v, m, p)| (v.to_owned(), m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(named, expected);
}

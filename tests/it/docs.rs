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

/// Every file under `dir`, relative to the repository root.
fn files_under(root: &Path, dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return found;
    };
    for entry in entries {
        let entry = entry.expect("a directory entry");
        let relative = dir.join(entry.file_name());
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

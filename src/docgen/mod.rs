//! The documentation generator: renders the Terraform Registry's `docs/` layout (provider index,
//! one page per resource and data source, guides) from the provider's own schemas, hand-written
//! prose templates (`src/docgen/templates/`) and the example files under `examples/`.
//!
//! It is the project's stand-in for HashiCorp's `tfplugindocs`, which is a Go tool. It is a pure
//! library: the provider binary never calls it; `tests/it/docs.rs` compares its output with the
//! committed `docs/` and `make docs` writes it.
//!
//! Templates are Markdown with three directives, each on a line of its own:
//! - `{{schema}}`: the schema of the page's provider, resource or data source, in tfplugindocs'
//!   shape (Required / Optional / Read-Only, then one section per nested attribute);
//! - `{{example PATH}}`: the file at `PATH` (relative to the repository root) in a fenced block,
//!   `terraform` for `.tf` files and `shell` for `.sh` files;
//! - `{{description}}`: the schema's description.

mod schema_md;

use std::path::{Path, PathBuf};

use crate::tf::{AttributeKind, ProviderSchemas, Schema};

pub use schema_md::render_schema;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFile {
    /// The path relative to the repository root, such as `docs/index.md`.
    pub path: PathBuf,
    /// The Markdown.
    pub contents: String,
}

/// Why the documentation could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DocgenError {
    /// An example file a template names cannot be read.
    #[error("example {path} cannot be read: {source}")]
    Example {
        /// The path the template names.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A template names a schema the provider does not serve.
    #[error("the provider serves no {kind} called {name}")]
    MissingSchema {
        /// `resource` or `data source`.
        kind: &'static str,
        /// The type name.
        name: String,
    },
    /// A template's prose does not mention a top-level attribute of its schema.
    #[error("{page} does not describe attribute {attribute}; every attribute needs its prose")]
    Undocumented {
        /// The page.
        page: String,
        /// The attribute name.
        attribute: String,
    },
    /// A template line starts a directive this generator does not know.
    #[error("{page}: unknown directive {directive}")]
    Directive {
        /// The page.
        page: String,
        /// The directive.
        directive: String,
    },
}

/// What a page documents.
#[derive(Debug, Clone, Copy)]
enum Subject {
    /// The provider block.
    Provider,
    /// A resource type.
    Resource(&'static str),
    /// A data source type.
    DataSource(&'static str),
    /// A guide: no schema.
    Guide,
}

/// One page: where it goes, its template and what it documents.
struct Page {
    path: &'static str,
    template: &'static str,
    subject: Subject,
}

const PAGES: &[Page] = &[
    Page {
        path: "docs/index.md",
        template: include_str!("templates/index.md.tmpl"),
        subject: Subject::Provider,
    },
    Page {
        path: "docs/resources/backup_config.md",
        template: include_str!("templates/resources/backup_config.md.tmpl"),
        subject: Subject::Resource("oceanbase_backup_config"),
    },
    Page {
        path: "docs/data-sources/backup_config.md",
        template: include_str!("templates/data-sources/backup_config.md.tmpl"),
        subject: Subject::DataSource("oceanbase_backup_config"),
    },
    Page {
        path: "docs/guides/drift-detection.md",
        template: include_str!("templates/guides/drift-detection.md.tmpl"),
        subject: Subject::Guide,
    },
    Page {
        path: "docs/guides/obshell-versions.md",
        template: include_str!("templates/guides/obshell-versions.md.tmpl"),
        subject: Subject::Guide,
    },
    Page {
        path: "docs/guides/quick-start.md",
        template: include_str!("templates/guides/quick-start.md.tmpl"),
        subject: Subject::Guide,
    },
];

/// Renders every page. `root` is the repository root, where `examples/` is read from.
///
/// # Errors
/// A missing example file, a schema the provider lacks, an attribute without prose on its page,
/// or an unknown directive.
pub fn generate(schemas: &ProviderSchemas, root: &Path) -> Result<Vec<DocFile>, DocgenError> {
    PAGES
        .iter()
        .map(|page| {
            let schema =
                match page.subject {
                    Subject::Provider => Some(&schemas.provider),
                    Subject::Resource(name) => {
                        Some(schemas.resources.get(name).ok_or_else(|| {
                            DocgenError::MissingSchema {
                                kind: "resource",
                                name: name.to_owned(),
                            }
                        })?)
                    }
                    Subject::DataSource(name) => {
                        Some(schemas.data_sources.get(name).ok_or_else(|| {
                            DocgenError::MissingSchema {
                                kind: "data source",
                                name: name.to_owned(),
                            }
                        })?)
                    }
                    Subject::Guide => None,
                };
            let contents = render_page(page, schema, root)?;
            Ok(DocFile {
                path: PathBuf::from(page.path),
                contents,
            })
        })
        .collect()
}

/// The template with its directives expanded.
fn render_page(page: &Page, schema: Option<&Schema>, root: &Path) -> Result<String, DocgenError> {
    if let Some(schema) = schema {
        check_every_attribute_has_prose(page, schema)?;
    }
    let mut out = String::new();
    for line in page.template.lines() {
        let trimmed = line.trim();
        let Some(directive) = trimmed
            .strip_prefix("{{")
            .and_then(|rest| rest.strip_suffix("}}"))
        else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let directive = directive.trim();
        let unknown = || DocgenError::Directive {
            page: page.path.to_owned(),
            directive: directive.to_owned(),
        };
        if directive == "schema" {
            out.push_str(&render_schema(schema.ok_or_else(unknown)?));
        } else if directive == "description" {
            out.push_str(&schema.ok_or_else(unknown)?.block.markdown_description);
            out.push('\n');
        } else if let Some(path) = directive.strip_prefix("example ") {
            out.push_str(&render_example(root, path.trim())?);
        } else {
            return Err(unknown());
        }
    }
    Ok(out)
}

/// A page's prose must name every top-level attribute of its schema (as `` `name` ``), so a new
/// attribute cannot ship without its defaults, validation and read-back facts written down.
fn check_every_attribute_has_prose(page: &Page, schema: &Schema) -> Result<(), DocgenError> {
    for attribute in &schema.block.attributes {
        let mention = format!("`{}`", attribute.name);
        if !page.template.contains(&mention) {
            return Err(DocgenError::Undocumented {
                page: page.path.to_owned(),
                attribute: attribute.name.clone(),
            });
        }
        if let AttributeKind::Nested { attributes, .. } = &attribute.kind {
            for nested in attributes {
                let mention = format!("`{}.{}`", attribute.name, nested.name);
                let bare = format!("`{}`", nested.name);
                if !page.template.contains(&mention) && !page.template.contains(&bare) {
                    return Err(DocgenError::Undocumented {
                        page: page.path.to_owned(),
                        attribute: format!("{}.{}", attribute.name, nested.name),
                    });
                }
            }
        }
    }
    Ok(())
}

/// An example file in a fenced block.
fn render_example(root: &Path, path: &str) -> Result<String, DocgenError> {
    let text = std::fs::read_to_string(root.join(path)).map_err(|source| DocgenError::Example {
        path: path.to_owned(),
        source,
    })?;
    let language = if path.ends_with(".sh") {
        "shell"
    } else {
        "terraform"
    };
    let mut block = format!("```{language}\n{}", text.trim_end());
    block.push_str("\n```\n");
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::ProviderHandler;

    fn schemas() -> ProviderSchemas {
        crate::provider::Provider::new("test").schemas()
    }

    #[test]
    fn every_page_renders_from_the_repository() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = generate(&schemas(), root).expect("the docs render");
        let paths: Vec<_> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "docs/index.md",
                "docs/resources/backup_config.md",
                "docs/data-sources/backup_config.md",
                "docs/guides/drift-detection.md",
                "docs/guides/obshell-versions.md",
                "docs/guides/quick-start.md"
            ]
        );
        for file in &files {
            assert!(!file.contents.contains("{{"), "{}", file.path.display());
            assert!(
                file.contents.starts_with("---\n"),
                "{}",
                file.path.display()
            );
        }
    }

    #[test]
    fn a_missing_example_is_an_error() {
        let error = render_example(Path::new("/nonexistent"), "examples/x.tf").unwrap_err();
        assert!(error.to_string().contains("examples/x.tf"));
    }

    #[test]
    fn an_attribute_without_prose_is_an_error() {
        let mut schemas = schemas();
        let resource = schemas
            .resources
            .get_mut("oceanbase_backup_config")
            .expect("the resource");
        resource.block.attributes.push(crate::tf::Attribute::new(
            "brand_new",
            crate::tf::Type::String,
            crate::tf::Presence::Optional,
            "New.",
        ));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let error = generate(&schemas, root).unwrap_err();
        assert!(
            matches!(&error, DocgenError::Undocumented { attribute, .. } if attribute == "brand_new"),
            "{error}"
        );
    }
}

//! Diagnostics: the errors and warnings Terraform shows the user, with the attribute they concern.

use std::fmt;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The operation failed.
    Error,
    /// The operation went on; the user should know.
    Warning,
}

/// One step of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An attribute of an object, by name.
    Attribute(String),
    /// An element of a map, by key.
    Key(String),
    /// An element of a list, by index.
    Index(i64),
}

/// A path to an attribute, such as `delete_policy.recovery_window`. Terraform uses it to point
/// at the configuration line that caused a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    /// The path of a top-level attribute.
    pub fn root(name: &str) -> Self {
        AttributePath(vec![PathStep::Attribute(name.to_owned())])
    }

    /// This path extended by an attribute name.
    pub fn attribute(mut self, name: &str) -> Self {
        self.0.push(PathStep::Attribute(name.to_owned()));
        self
    }

    /// This path extended by a map key.
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(PathStep::Key(key.to_owned()));
        self
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if position == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// An error or warning for Terraform to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A short summary, shown as the headline.
    pub summary: String,
    /// What happened and what the user can do.
    pub detail: String,
    /// The attribute the diagnostic concerns, if any.
    pub attribute: Option<AttributePath>,
}

impl Diagnostic {
    /// An error with no attribute.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }

    /// A warning with no attribute.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }

    /// The same diagnostic, pointing at an attribute.
    pub fn at(mut self, path: AttributePath) -> Self {
        self.attribute = Some(path);
        self
    }
}

/// A list of diagnostics, as every response carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }

    /// Adds one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Adds all of another list.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_display() {
        let path = AttributePath::root("tenants")
            .key("t1")
            .attribute("tenant_id");
        assert_eq!(path.to_string(), r#"tenants["t1"].tenant_id"#);
    }
}

//! Schemas for the provider, its resources and data sources, independent of tfplugin6's messages.
//!
//! Protocol 6 nested attributes ([`AttributeKind::Nested`]) are used for objects such as
//! `delete_policy = { ... }`, so every nested field has its own description and flags.

use std::collections::BTreeMap;

use super::value::Type;

/// A versioned schema: the top-level block of a provider, resource or data source.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The schema version, bumped when the stored state must be upgraded.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

/// A block: a set of attributes (this provider uses no nested blocks).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The attributes, in the order documentation shows them.
    pub attributes: Vec<Attribute>,
    /// A plain-text description.
    pub description: String,
    /// A Markdown description (may equal `description`).
    pub markdown_description: String,
    /// Whether the whole block is deprecated.
    pub deprecated: bool,
}

/// Whether an attribute must, may or cannot be set in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Must be set.
    Required,
    /// May be set; null when not.
    Optional,
    /// May be set; the provider fills it when not.
    OptionalComputed,
    /// Set by the provider only.
    Computed,
}

/// What an attribute holds.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeKind {
    /// A value of a plain type.
    Type(Type),
    /// A nested object (or collection of objects) with attributes of its own.
    Nested {
        /// How the nested objects are collected.
        nesting: Nesting,
        /// The nested object's attributes.
        attributes: Vec<Attribute>,
    },
}

/// How a nested attribute's objects are collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// One object.
    Single,
    /// A list of objects.
    List,
    /// A set of objects.
    Set,
    /// A map of objects keyed by string.
    Map,
}

/// One attribute of a block or nested object.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Its type or nested object.
    pub kind: AttributeKind,
    /// A plain-text description.
    pub description: String,
    /// Required, optional, computed.
    pub presence: Presence,
    /// Terraform hides the value in plan output.
    pub sensitive: bool,
    /// Write-only (Terraform 1.11+): the value is in the configuration only, never in a plan or
    /// the state; the provider returns it null.
    pub write_only: bool,
    /// Deprecated.
    pub deprecated: bool,
}

impl Attribute {
    /// A new attribute of a plain type.
    pub fn new(name: &str, attribute_type: Type, presence: Presence, description: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            kind: AttributeKind::Type(attribute_type),
            description: description.to_owned(),
            presence,
            sensitive: false,
            write_only: false,
            deprecated: false,
        }
    }

    /// A new nested attribute.
    pub fn nested(
        name: &str,
        nesting: Nesting,
        attributes: Vec<Attribute>,
        presence: Presence,
        description: &str,
    ) -> Self {
        Attribute {
            name: name.to_owned(),
            kind: AttributeKind::Nested {
                nesting,
                attributes,
            },
            description: description.to_owned(),
            presence,
            sensitive: false,
            write_only: false,
            deprecated: false,
        }
    }

    /// The same attribute, marked sensitive.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// The same attribute, marked write-only.
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// The value type of this attribute, as Terraform derives it.
    pub fn value_type(&self) -> Type {
        match &self.kind {
            AttributeKind::Type(attribute_type) => attribute_type.clone(),
            AttributeKind::Nested {
                nesting,
                attributes,
            } => {
                let object = object_type(attributes);
                match nesting {
                    Nesting::Single => object,
                    Nesting::List => Type::List(Box::new(object)),
                    Nesting::Set => Type::Set(Box::new(object)),
                    Nesting::Map => Type::Map(Box::new(object)),
                }
            }
        }
    }
}

impl Block {
    /// The object type of values that conform to this block.
    pub fn value_type(&self) -> Type {
        object_type(&self.attributes)
    }

    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

fn object_type(attributes: &[Attribute]) -> Type {
    Type::Object(
        attributes
            .iter()
            .map(|attribute| (attribute.name.clone(), attribute.value_type()))
            .collect::<BTreeMap<_, _>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_derive_object_types() {
        let block = Block {
            attributes: vec![
                Attribute::new("id", Type::String, Presence::Computed, "The id."),
                Attribute::nested(
                    "tenants",
                    Nesting::Map,
                    vec![Attribute::new(
                        "tenant_id",
                        Type::Number,
                        Presence::Computed,
                        "The tenant id.",
                    )],
                    Presence::Computed,
                    "Per tenant.",
                ),
            ],
            description: String::new(),
            markdown_description: String::new(),
            deprecated: false,
        };
        assert_eq!(
            block.value_type().to_json().to_string(),
            r#"["object",{"id":"string","tenants":["map",["object",{"tenant_id":"number"}]]}]"#
        );
    }
}

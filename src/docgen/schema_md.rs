//! A schema as Markdown, in the shape tfplugindocs gives the Registry: `## Schema`, then
//! Required, Optional and Read-Only lists, then one `### Nested Schema for ...` section per nested
//! attribute, each with an anchor the parent's entry links to.

use crate::tf::{Attribute, AttributeKind, Nesting, Presence, Schema, Type};

/// Renders `## Schema` and every nested schema below it.
pub fn render_schema(schema: &Schema) -> String {
    let mut out = String::from("## Schema\n");
    let mut nested = Vec::new();
    out.push_str(&render_groups(&schema.block.attributes, "", 3, &mut nested));
    while !nested.is_empty() {
        let pending = std::mem::take(&mut nested);
        for (path, attributes) in pending {
            let anchor = anchor(&path);
            out.push_str(&format!(
                "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{path}`\n"
            ));
            out.push_str(&render_groups(
                &attributes,
                &format!("{path}."),
                0,
                &mut nested,
            ));
        }
    }
    out
}

fn anchor(path: &str) -> String {
    format!("nestedatt--{}", path.replace('.', "--"))
}

/// The Required / Optional / Read-Only groups. `heading` 3 gives `### Required`; 0 gives
/// `Required:` (tfplugindocs' form inside nested sections).
fn render_groups(
    attributes: &[Attribute],
    prefix: &str,
    heading: usize,
    nested: &mut Vec<(String, Vec<Attribute>)>,
) -> String {
    type Group = (&'static str, fn(Presence) -> bool);
    let groups: [Group; 3] = [
        ("Required", |p| p == Presence::Required),
        ("Optional", |p| {
            matches!(p, Presence::Optional | Presence::OptionalComputed)
        }),
        ("Read-Only", |p| p == Presence::Computed),
    ];
    let mut out = String::new();
    for (title, member) in groups {
        let mut members: Vec<&Attribute> =
            attributes.iter().filter(|a| member(a.presence)).collect();
        if members.is_empty() {
            continue;
        }
        members.sort_by(|a, b| a.name.cmp(&b.name));
        if heading > 0 {
            out.push_str(&format!("\n{} {title}\n\n", "#".repeat(heading)));
        } else {
            out.push_str(&format!("\n{title}:\n\n"));
        }
        for attribute in members {
            out.push_str(&render_attribute(attribute, prefix, nested));
        }
    }
    out
}

fn render_attribute(
    attribute: &Attribute,
    prefix: &str,
    nested: &mut Vec<(String, Vec<Attribute>)>,
) -> String {
    let mut flags = vec![type_label(attribute)];
    if attribute.sensitive {
        flags.push("Sensitive".to_owned());
    }
    if attribute.write_only {
        flags.push("Write-only".to_owned());
    }
    if attribute.deprecated {
        flags.push("Deprecated".to_owned());
    }
    let mut line = format!(
        "- `{}` ({}) {}",
        attribute.name,
        flags.join(", "),
        escape_markdown(attribute.description.trim())
    );
    if let AttributeKind::Nested { attributes, .. } = &attribute.kind {
        let path = format!("{prefix}{}", attribute.name);
        line.push_str(&format!(
            " (see [below for nested schema](#{}))",
            anchor(&path)
        ));
        nested.push((path, attributes.clone()));
    }
    line.push('\n');
    line
}

/// Plain-text descriptions as Markdown: `<` would start an HTML tag (`/<cluster_id>/` would
/// vanish), so it is escaped.
fn escape_markdown(text: &str) -> String {
    text.replace('<', "\\<")
}

fn type_label(attribute: &Attribute) -> String {
    match &attribute.kind {
        AttributeKind::Type(value_type) => type_name(value_type),
        AttributeKind::Nested { nesting, .. } => match nesting {
            Nesting::Single => "Attributes".to_owned(),
            Nesting::List => "Attributes List".to_owned(),
            Nesting::Set => "Attributes Set".to_owned(),
            Nesting::Map => "Attributes Map".to_owned(),
        },
    }
}

fn type_name(value_type: &Type) -> String {
    match value_type {
        Type::Bool => "Boolean".to_owned(),
        Type::Number => "Number".to_owned(),
        Type::String => "String".to_owned(),
        Type::Dynamic => "Dynamic".to_owned(),
        Type::List(element) => format!("List of {}", type_name(element)),
        Type::Set(element) => format!("Set of {}", type_name(element)),
        Type::Map(element) => format!("Map of {}", type_name(element)),
        Type::Object(_) => "Object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::Block;

    #[test]
    fn groups_flags_and_nested_sections() {
        let schema = Schema {
            version: 0,
            block: Block {
                attributes: vec![
                    Attribute::new("name", Type::String, Presence::Required, "The name."),
                    Attribute::new("id", Type::String, Presence::Computed, "The id."),
                    Attribute::nested(
                        "auth",
                        Nesting::Single,
                        vec![
                            Attribute::new("key", Type::String, Presence::Required, "The key.")
                                .sensitive(),
                        ],
                        Presence::Optional,
                        "Credentials.",
                    ),
                    Attribute::new(
                        "tags",
                        Type::Map(Box::new(Type::String)),
                        Presence::OptionalComputed,
                        "Tags.",
                    ),
                ],
                description: String::new(),
                markdown_description: String::new(),
                deprecated: false,
            },
        };
        let expected = "## Schema

### Required

- `name` (String) The name.

### Optional

- `auth` (Attributes) Credentials. (see [below for nested schema](#nestedatt--auth))
- `tags` (Map of String) Tags.

### Read-Only

- `id` (String) The id.

<a id=\"nestedatt--auth\"></a>
### Nested Schema for `auth`

Required:

- `key` (String, Sensitive) The key.
";
        assert_eq!(escape_markdown("a/<id>/b"), "a/\\<id>/b");
        assert_eq!(render_schema(&schema), expected);
    }
}

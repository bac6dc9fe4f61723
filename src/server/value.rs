//! The `DynamicValue` codec: Terraform's msgpack and JSON value encodings to and from
//! [`tf::Value`], guided by the schema's [`tf::Type`].
//!
//! The encodings are cty's (Terraform's type system), described in Terraform's
//! `docs/plugin-protocol/object-wire-format.md`:
//! - null is msgpack nil; an unknown value is a msgpack extension (type 0, or 12 when Terraform
//!   attaches refinements, which this provider ignores);
//! - numbers are msgpack integers or floats, or decimal strings when neither is exact;
//! - lists, sets and tuples are arrays; maps and objects are maps with string keys, an object
//!   carrying every attribute of its type;
//! - a value whose type is `dynamic` is a two-element array `[type as JSON, value]`.
//!
//! JSON uses the same shapes, with the dynamic wrapper as `{"value": ..., "type": ...}` and no
//! unknowns.

use std::collections::BTreeMap;

use crate::tf;

/// A failure to decode or encode a value: the wire data does not fit the type.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub(crate) struct CodecError {
    /// Where in the value, such as `.tenants["t1"]`, or `value` at the root.
    path: String,
    /// What was wrong.
    message: String,
}

fn error(path: &Path, message: impl Into<String>) -> CodecError {
    CodecError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// The full cty type system: [`tf::Type`] plus tuples, which only appear inside `dynamic` values.
#[derive(Debug, Clone, PartialEq)]
enum WireType {
    Bool,
    Number,
    String,
    Dynamic,
    List(Box<WireType>),
    Set(Box<WireType>),
    Map(Box<WireType>),
    Object(BTreeMap<String, WireType>),
    Tuple(Vec<WireType>),
}

impl From<&tf::Type> for WireType {
    fn from(value_type: &tf::Type) -> Self {
        match value_type {
            tf::Type::Bool => WireType::Bool,
            tf::Type::Number => WireType::Number,
            tf::Type::String => WireType::String,
            tf::Type::Dynamic => WireType::Dynamic,
            tf::Type::List(element) => WireType::List(Box::new(element.as_ref().into())),
            tf::Type::Set(element) => WireType::Set(Box::new(element.as_ref().into())),
            tf::Type::Map(element) => WireType::Map(Box::new(element.as_ref().into())),
            tf::Type::Object(attributes) => WireType::Object(
                attributes
                    .iter()
                    .map(|(name, attribute_type)| (name.clone(), attribute_type.into()))
                    .collect(),
            ),
        }
    }
}

impl WireType {
    fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            WireType::Bool => json!("bool"),
            WireType::Number => json!("number"),
            WireType::String => json!("string"),
            WireType::Dynamic => json!("dynamic"),
            WireType::List(element) => json!(["list", element.to_json()]),
            WireType::Set(element) => json!(["set", element.to_json()]),
            WireType::Map(element) => json!(["map", element.to_json()]),
            WireType::Object(attributes) => {
                let attributes: serde_json::Map<_, _> = attributes
                    .iter()
                    .map(|(name, attribute_type)| (name.clone(), attribute_type.to_json()))
                    .collect();
                json!(["object", attributes])
            }
            WireType::Tuple(elements) => {
                let elements: Vec<_> = elements.iter().map(WireType::to_json).collect();
                json!(["tuple", elements])
            }
        }
    }

    fn from_json(json: &serde_json::Value, path: &Path) -> Result<Self, CodecError> {
        use serde_json::Value as Json;
        let bad = || error(path, format!("invalid type {json}"));
        match json {
            Json::String(name) => match name.as_str() {
                "bool" => Ok(WireType::Bool),
                "number" => Ok(WireType::Number),
                "string" => Ok(WireType::String),
                "dynamic" => Ok(WireType::Dynamic),
                _ => Err(bad()),
            },
            Json::Array(parts) if parts.len() == 2 => {
                let (Json::String(kind), argument) = (&parts[0], &parts[1]) else {
                    return Err(bad());
                };
                match (kind.as_str(), argument) {
                    ("list", element) => {
                        Ok(WireType::List(Box::new(Self::from_json(element, path)?)))
                    }
                    ("set", element) => {
                        Ok(WireType::Set(Box::new(Self::from_json(element, path)?)))
                    }
                    ("map", element) => {
                        Ok(WireType::Map(Box::new(Self::from_json(element, path)?)))
                    }
                    ("object", Json::Object(attributes)) => Ok(WireType::Object(
                        attributes
                            .iter()
                            .map(|(name, attribute)| {
                                Ok((name.clone(), Self::from_json(attribute, path)?))
                            })
                            .collect::<Result<_, CodecError>>()?,
                    )),
                    ("tuple", Json::Array(elements)) => Ok(WireType::Tuple(
                        elements
                            .iter()
                            .map(|element| Self::from_json(element, path))
                            .collect::<Result<_, _>>()?,
                    )),
                    _ => Err(bad()),
                }
            }
            // An object type with optional attributes carries a third element; Terraform never
            // sends one to a provider, so it is refused like any other unknown shape.
            _ => Err(bad()),
        }
    }

    /// A type describing a known value, for values of `dynamic` type. Lists become tuples and
    /// maps become objects, which hold any mix of element types; a set takes the type of its
    /// first known element.
    fn infer(value: &tf::Value) -> Self {
        match value {
            tf::Value::Unknown | tf::Value::Null => WireType::Dynamic,
            tf::Value::Bool(_) => WireType::Bool,
            tf::Value::Number(_) => WireType::Number,
            tf::Value::String(_) => WireType::String,
            tf::Value::List(items) => WireType::Tuple(items.iter().map(Self::infer).collect()),
            tf::Value::Set(items) => WireType::Set(Box::new(
                items
                    .iter()
                    .find(|item| !item.is_null() && !item.is_unknown())
                    .map_or(WireType::Dynamic, Self::infer),
            )),
            tf::Value::Map(entries) | tf::Value::Object(entries) => WireType::Object(
                entries
                    .iter()
                    .map(|(name, item)| (name.clone(), Self::infer(item)))
                    .collect(),
            ),
        }
    }
}

/// A position inside a value, for error messages.
#[derive(Debug, Default, Clone)]
struct Path(Vec<String>);

impl Path {
    fn attribute(&self, name: &str) -> Path {
        let mut path = self.clone();
        path.0.push(format!(".{name}"));
        path
    }

    fn key(&self, key: &str) -> Path {
        let mut path = self.clone();
        path.0.push(format!("[{key:?}]"));
        path
    }

    fn index(&self, index: usize) -> Path {
        let mut path = self.clone();
        path.0.push(format!("[{index}]"));
        path
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("value");
        }
        f.write_str("value")?;
        for step in &self.0 {
            f.write_str(step)?;
        }
        Ok(())
    }
}

/// The msgpack extension type cty uses for an unknown value without refinements.
const UNKNOWN_EXTENSION: i8 = 0;

/// How deeply a msgpack value may nest before decoding refuses it.
const MAX_MSGPACK_DEPTH: usize = 64;

/// Decodes a msgpack-encoded value of `value_type`.
pub(crate) fn decode_msgpack(bytes: &[u8], value_type: &tf::Type) -> Result<tf::Value, CodecError> {
    let root = Path::default();
    let mut reader = bytes;
    // rmpv's default depth bound (1024) still lets hostile nesting overflow the stack of a
    // debug build's thread; Terraform's values are never nested nearly as deep as this bound.
    let wire = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_MSGPACK_DEPTH)
        .map_err(|source| error(&root, format!("invalid msgpack: {source}")))?;
    if !reader.is_empty() {
        return Err(error(&root, "trailing bytes after the msgpack value"));
    }
    from_msgpack(wire, &value_type.into(), &root)
}

/// Encodes a value of `value_type` as msgpack.
pub(crate) fn encode_msgpack(
    value: &tf::Value,
    value_type: &tf::Type,
) -> Result<Vec<u8>, CodecError> {
    let root = Path::default();
    let wire = to_msgpack(value, &value_type.into(), &root)?;
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &wire)
        .map_err(|source| error(&root, format!("cannot write msgpack: {source}")))?;
    Ok(bytes)
}

/// Decodes a JSON-encoded value of `value_type`.
pub(crate) fn decode_json(bytes: &[u8], value_type: &tf::Type) -> Result<tf::Value, CodecError> {
    let root = Path::default();
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|source| error(&root, format!("invalid json: {source}")))?;
    from_json(&json, &value_type.into(), &root)
}

fn from_msgpack(
    wire: rmpv::Value,
    value_type: &WireType,
    path: &Path,
) -> Result<tf::Value, CodecError> {
    use rmpv::Value as Mp;
    // Any extension is an unknown value: type 0 plain, type 12 with refinements we do not use.
    if let Mp::Ext(..) = wire {
        return Ok(tf::Value::Unknown);
    }
    if let Mp::Nil = wire {
        return Ok(tf::Value::Null);
    }
    match value_type {
        WireType::Dynamic => {
            let Mp::Array(mut pair) = wire else {
                return Err(error(path, "a dynamic value must be a [type, value] array"));
            };
            if pair.len() != 2 {
                return Err(error(path, "a dynamic value must be a [type, value] array"));
            }
            let value = pair.pop().unwrap_or(Mp::Nil);
            let type_json = match pair.pop() {
                Some(Mp::Binary(bytes)) => bytes,
                Some(Mp::String(text)) => text.into_bytes(),
                _ => return Err(error(path, "a dynamic value's type must be JSON bytes")),
            };
            let type_json: serde_json::Value = serde_json::from_slice(&type_json)
                .map_err(|source| error(path, format!("invalid dynamic type json: {source}")))?;
            let actual_type = WireType::from_json(&type_json, path)?;
            from_msgpack(value, &actual_type, path)
        }
        WireType::Bool => match wire {
            Mp::Boolean(b) => Ok(tf::Value::Bool(b)),
            other => Err(mismatch(path, "bool", &other)),
        },
        WireType::Number => match wire {
            Mp::Integer(n) => Ok(tf::Value::Number(match n.as_i64() {
                Some(i) => tf::Number::Int(i),
                None => tf::Number::Float(n.as_f64().unwrap_or(f64::NAN)),
            })),
            Mp::F32(x) => Ok(tf::Value::Number(float(f64::from(x)))),
            Mp::F64(x) => Ok(tf::Value::Number(float(x))),
            Mp::String(text) => match text.as_str() {
                Some(text) => parse_number(text, path).map(tf::Value::Number),
                None => Err(error(path, "a number string is not valid utf-8")),
            },
            other => Err(mismatch(path, "number", &other)),
        },
        WireType::String => match wire {
            Mp::String(text) => text
                .into_str()
                .map(tf::Value::String)
                .ok_or_else(|| error(path, "a string is not valid utf-8")),
            other => Err(mismatch(path, "string", &other)),
        },
        WireType::List(element) | WireType::Set(element) => {
            let Mp::Array(items) = wire else {
                return Err(mismatch(path, "array", &wire));
            };
            let items = items
                .into_iter()
                .enumerate()
                .map(|(index, item)| from_msgpack(item, element, &path.index(index)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(value_type, WireType::Set(_)) {
                tf::Value::Set(items)
            } else {
                tf::Value::List(items)
            })
        }
        WireType::Tuple(elements) => {
            let Mp::Array(items) = wire else {
                return Err(mismatch(path, "array", &wire));
            };
            if items.len() != elements.len() {
                return Err(error(
                    path,
                    format!("a tuple of {} elements has {}", elements.len(), items.len()),
                ));
            }
            let items = items
                .into_iter()
                .zip(elements)
                .enumerate()
                .map(|(index, (item, element))| from_msgpack(item, element, &path.index(index)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(tf::Value::List(items))
        }
        WireType::Map(element) => {
            let Mp::Map(entries) = wire else {
                return Err(mismatch(path, "map", &wire));
            };
            let mut map = BTreeMap::new();
            for (key, item) in entries {
                let key = map_key(key, path)?;
                let item = from_msgpack(item, element, &path.key(&key))?;
                map.insert(key, item);
            }
            Ok(tf::Value::Map(map))
        }
        WireType::Object(attributes) => {
            let Mp::Map(entries) = wire else {
                return Err(mismatch(path, "map", &wire));
            };
            let mut object = BTreeMap::new();
            for (key, item) in entries {
                let name = map_key(key, path)?;
                let Some(attribute_type) = attributes.get(&name) else {
                    return Err(error(path, format!("unsupported attribute {name:?}")));
                };
                let item = from_msgpack(item, attribute_type, &path.attribute(&name))?;
                object.insert(name, item);
            }
            complete_object(&mut object, attributes);
            Ok(tf::Value::Object(object))
        }
    }
}

/// Fills attributes the wire left out with null, so every object carries its whole type.
fn complete_object(
    object: &mut BTreeMap<String, tf::Value>,
    attributes: &BTreeMap<String, WireType>,
) {
    for name in attributes.keys() {
        object.entry(name.clone()).or_insert(tf::Value::Null);
    }
}

fn map_key(key: rmpv::Value, path: &Path) -> Result<String, CodecError> {
    match key {
        rmpv::Value::String(text) => text
            .into_str()
            .ok_or_else(|| error(path, "a map key is not valid utf-8")),
        other => Err(mismatch(path, "string key", &other)),
    }
}

fn mismatch(path: &Path, expected: &str, found: &rmpv::Value) -> CodecError {
    let found = match found {
        rmpv::Value::Nil => "nil",
        rmpv::Value::Boolean(_) => "bool",
        rmpv::Value::Integer(_) | rmpv::Value::F32(_) | rmpv::Value::F64(_) => "number",
        rmpv::Value::String(_) => "string",
        rmpv::Value::Binary(_) => "binary",
        rmpv::Value::Array(_) => "array",
        rmpv::Value::Map(_) => "map",
        rmpv::Value::Ext(..) => "extension",
    };
    error(path, format!("expected {expected}, found {found}"))
}

/// A float that is a whole number in range is kept as an exact integer.
fn float(x: f64) -> tf::Number {
    let number = tf::Number::Float(x);
    match number.as_i64() {
        Some(i) if x.is_finite() && (i as f64) == x => tf::Number::Int(i),
        _ => number,
    }
}

fn parse_number(text: &str, path: &Path) -> Result<tf::Number, CodecError> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(tf::Number::Int(i));
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(float(x)),
        _ => Err(error(path, format!("invalid number {text:?}"))),
    }
}

fn to_msgpack(
    value: &tf::Value,
    value_type: &WireType,
    path: &Path,
) -> Result<rmpv::Value, CodecError> {
    use rmpv::Value as Mp;
    match value {
        tf::Value::Unknown => return Ok(Mp::Ext(UNKNOWN_EXTENSION, vec![0])),
        tf::Value::Null => return Ok(Mp::Nil),
        _ => {}
    }
    let kind_error = |expected: &str| {
        error(
            path,
            format!("expected a {expected} value, found {}", value_kind(value)),
        )
    };
    match (value_type, value) {
        (WireType::Dynamic, _) => {
            let actual_type = WireType::infer(value);
            let type_json = actual_type.to_json().to_string().into_bytes();
            Ok(Mp::Array(vec![
                Mp::Binary(type_json),
                to_msgpack(value, &actual_type, path)?,
            ]))
        }
        (WireType::Bool, tf::Value::Bool(b)) => Ok(Mp::Boolean(*b)),
        (WireType::Bool, _) => Err(kind_error("bool")),
        (WireType::Number, tf::Value::Number(n)) => Ok(match float_or_int(*n) {
            tf::Number::Int(i) => Mp::from(i),
            tf::Number::Float(x) => Mp::F64(x),
        }),
        (WireType::Number, _) => Err(kind_error("number")),
        (WireType::String, tf::Value::String(text)) => Ok(Mp::from(text.as_str())),
        (WireType::String, _) => Err(kind_error("string")),
        (WireType::List(element), tf::Value::List(items))
        | (WireType::Set(element), tf::Value::Set(items)) => Ok(Mp::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| to_msgpack(item, element, &path.index(index)))
                .collect::<Result<_, _>>()?,
        )),
        (WireType::List(_), _) => Err(kind_error("list")),
        (WireType::Set(_), _) => Err(kind_error("set")),
        (WireType::Tuple(elements), tf::Value::List(items)) => {
            if items.len() != elements.len() {
                return Err(error(
                    path,
                    format!("a tuple of {} elements has {}", elements.len(), items.len()),
                ));
            }
            Ok(Mp::Array(
                items
                    .iter()
                    .zip(elements)
                    .enumerate()
                    .map(|(index, (item, element))| to_msgpack(item, element, &path.index(index)))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (WireType::Tuple(_), _) => Err(kind_error("tuple")),
        (WireType::Map(element), tf::Value::Map(entries)) => Ok(Mp::Map(
            entries
                .iter()
                .map(|(key, item)| {
                    Ok((
                        Mp::from(key.as_str()),
                        to_msgpack(item, element, &path.key(key))?,
                    ))
                })
                .collect::<Result<_, CodecError>>()?,
        )),
        (WireType::Map(_), _) => Err(kind_error("map")),
        (WireType::Object(attributes), tf::Value::Object(entries) | tf::Value::Map(entries)) => {
            if let Some(extra) = entries.keys().find(|name| !attributes.contains_key(*name)) {
                return Err(error(path, format!("unsupported attribute {extra:?}")));
            }
            let mut wire = Vec::with_capacity(attributes.len());
            for (name, attribute_type) in attributes {
                let Some(item) = entries.get(name) else {
                    return Err(error(path, format!("missing attribute {name:?}")));
                };
                wire.push((
                    Mp::from(name.as_str()),
                    to_msgpack(item, attribute_type, &path.attribute(name))?,
                ));
            }
            Ok(Mp::Map(wire))
        }
        (WireType::Object(_), _) => Err(kind_error("object")),
    }
}

/// cty writes whole numbers as integers and everything else as a float.
fn float_or_int(number: tf::Number) -> tf::Number {
    match number {
        tf::Number::Float(x) => float(x),
        int => int,
    }
}

fn value_kind(value: &tf::Value) -> &'static str {
    match value {
        tf::Value::Unknown => "unknown",
        tf::Value::Null => "null",
        tf::Value::Bool(_) => "bool",
        tf::Value::Number(_) => "number",
        tf::Value::String(_) => "string",
        tf::Value::List(_) => "list",
        tf::Value::Set(_) => "set",
        tf::Value::Map(_) => "map",
        tf::Value::Object(_) => "object",
    }
}

fn from_json(
    json: &serde_json::Value,
    value_type: &WireType,
    path: &Path,
) -> Result<tf::Value, CodecError> {
    use serde_json::Value as Json;
    if json.is_null() {
        return Ok(tf::Value::Null);
    }
    let json_mismatch = |expected: &str| error(path, format!("expected {expected}, found {json}"));
    match value_type {
        WireType::Dynamic => {
            let (Some(value), Some(type_json)) = (json.get("value"), json.get("type")) else {
                return Err(json_mismatch("a {\"value\", \"type\"} object"));
            };
            let actual_type = WireType::from_json(type_json, path)?;
            from_json(value, &actual_type, path)
        }
        WireType::Bool => match json {
            Json::Bool(b) => Ok(tf::Value::Bool(*b)),
            Json::String(text) if text == "true" => Ok(tf::Value::Bool(true)),
            Json::String(text) if text == "false" => Ok(tf::Value::Bool(false)),
            _ => Err(json_mismatch("bool")),
        },
        WireType::Number => match json {
            Json::Number(number) => match number.as_i64() {
                Some(i) => Ok(tf::Value::Number(tf::Number::Int(i))),
                None => parse_number(&number.to_string(), path).map(tf::Value::Number),
            },
            Json::String(text) => parse_number(text, path).map(tf::Value::Number),
            _ => Err(json_mismatch("number")),
        },
        WireType::String => match json {
            Json::String(text) => Ok(tf::Value::String(text.clone())),
            // cty converts JSON primitives to strings where a string is wanted.
            Json::Number(number) => Ok(tf::Value::String(number.to_string())),
            Json::Bool(b) => Ok(tf::Value::String(b.to_string())),
            _ => Err(json_mismatch("string")),
        },
        WireType::List(element) | WireType::Set(element) => {
            let Json::Array(items) = json else {
                return Err(json_mismatch("array"));
            };
            let items = items
                .iter()
                .enumerate()
                .map(|(index, item)| from_json(item, element, &path.index(index)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(value_type, WireType::Set(_)) {
                tf::Value::Set(items)
            } else {
                tf::Value::List(items)
            })
        }
        WireType::Tuple(elements) => {
            let Json::Array(items) = json else {
                return Err(json_mismatch("array"));
            };
            if items.len() != elements.len() {
                return Err(error(
                    path,
                    format!("a tuple of {} elements has {}", elements.len(), items.len()),
                ));
            }
            Ok(tf::Value::List(
                items
                    .iter()
                    .zip(elements)
                    .enumerate()
                    .map(|(index, (item, element))| from_json(item, element, &path.index(index)))
                    .collect::<Result<_, _>>()?,
            ))
        }
        WireType::Map(element) => {
            let Json::Object(entries) = json else {
                return Err(json_mismatch("object"));
            };
            Ok(tf::Value::Map(
                entries
                    .iter()
                    .map(|(key, item)| Ok((key.clone(), from_json(item, element, &path.key(key))?)))
                    .collect::<Result<_, CodecError>>()?,
            ))
        }
        WireType::Object(attributes) => {
            let Json::Object(entries) = json else {
                return Err(json_mismatch("object"));
            };
            let mut object = BTreeMap::new();
            for (name, item) in entries {
                let Some(attribute_type) = attributes.get(name) else {
                    return Err(error(path, format!("unsupported attribute {name:?}")));
                };
                object.insert(
                    name.clone(),
                    from_json(item, attribute_type, &path.attribute(name))?,
                );
            }
            complete_object(&mut object, attributes);
            Ok(tf::Value::Object(object))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf::{Number, Type, Value};

    fn object_type(attributes: &[(&str, Type)]) -> Type {
        Type::Object(
            attributes
                .iter()
                .map(|(name, attribute_type)| ((*name).to_owned(), attribute_type.clone()))
                .collect(),
        )
    }

    fn object(attributes: &[(&str, Value)]) -> Value {
        Value::Object(
            attributes
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
        )
    }

    /// A type that exercises every kind of [`Type`].
    fn rich_type() -> Type {
        object_type(&[
            ("id", Type::String),
            ("count", Type::Number),
            ("enabled", Type::Bool),
            ("tags", Type::Map(Box::new(Type::String))),
            ("names", Type::List(Box::new(Type::String))),
            ("ports", Type::Set(Box::new(Type::Number))),
            ("anything", Type::Dynamic),
            (
                "policy",
                object_type(&[("window", Type::String), ("enabled", Type::Bool)]),
            ),
            (
                "tenants",
                Type::Map(Box::new(object_type(&[("tenant_id", Type::Number)]))),
            ),
        ])
    }

    fn rich_value() -> Value {
        object(&[
            ("id", "cluster-1".into()),
            ("count", Value::Number(Number::Int(-3))),
            ("enabled", true.into()),
            (
                "tags",
                Value::Map(BTreeMap::from([("a".to_owned(), "b".into())])),
            ),
            ("names", Value::List(vec!["x".into(), "y".into()])),
            (
                "ports",
                Value::Set(vec![Value::Number(Number::Float(1.5)), 2.into()]),
            ),
            (
                "anything",
                object(&[("k", Value::List(vec!["v".into(), 7.into()]))]),
            ),
            (
                "policy",
                object(&[("window", "7d".into()), ("enabled", Value::Null)]),
            ),
            (
                "tenants",
                Value::Map(BTreeMap::from([(
                    "t1".to_owned(),
                    object(&[("tenant_id", 1002.into())]),
                )])),
            ),
        ])
    }

    #[track_caller]
    fn check_round_trip(value: &Value, value_type: &Type) {
        let bytes = encode_msgpack(value, value_type).expect("encodes");
        let decoded = decode_msgpack(&bytes, value_type).expect("decodes");
        assert_eq!(&decoded, value);
    }

    #[test]
    fn rich_values_round_trip() {
        check_round_trip(&rich_value(), &rich_type());
    }

    #[test]
    fn unknown_round_trips_at_every_level() {
        let value_type = rich_type();
        let Value::Object(attributes) = rich_value() else {
            unreachable!("rich_value is an object")
        };
        // The whole value, then each attribute in turn, then a value nested two levels down.
        check_round_trip(&Value::Unknown, &value_type);
        for name in attributes.keys() {
            let mut changed = attributes.clone();
            changed.insert(name.clone(), Value::Unknown);
            check_round_trip(&Value::Object(changed), &value_type);
        }
        let mut nested = attributes.clone();
        nested.insert(
            "tenants".to_owned(),
            Value::Map(BTreeMap::from([(
                "t1".to_owned(),
                object(&[("tenant_id", Value::Unknown)]),
            )])),
        );
        nested.insert("names".to_owned(), Value::List(vec![Value::Unknown]));
        check_round_trip(&Value::Object(nested), &value_type);
    }

    #[test]
    fn null_objects_and_null_attributes_round_trip() {
        check_round_trip(&Value::Null, &rich_type());
        let Value::Object(mut attributes) = rich_value() else {
            unreachable!("rich_value is an object")
        };
        for value in attributes.values_mut() {
            *value = Value::Null;
        }
        check_round_trip(&Value::Object(attributes), &rich_type());
    }

    #[test]
    fn wire_forms_match_cty() {
        // null, unknown (fixext1 type 0), and an object with every attribute present.
        assert_eq!(encode_msgpack(&Value::Null, &Type::String).unwrap(), [0xc0]);
        assert_eq!(
            encode_msgpack(&Value::Unknown, &Type::String).unwrap(),
            [0xd4, 0, 0]
        );
        let value_type = object_type(&[("a", Type::Number), ("b", Type::String)]);
        let bytes =
            encode_msgpack(&object(&[("a", 1.into()), ("b", Value::Null)]), &value_type).unwrap();
        assert_eq!(bytes, [0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0xc0]);
        // A dynamic value is a [type JSON, value] pair.
        let bytes = encode_msgpack(&"x".into(), &Type::Dynamic).unwrap();
        let mut expected = vec![0x92, 0xc4, 8];
        expected.extend_from_slice(b"\"string\"");
        expected.extend_from_slice(&[0xa1, b'x']);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn decodes_what_terraform_may_send() {
        // A refined unknown (extension 12), a decimal-string number, a float that is whole,
        // and an object with an attribute left out (filled with null).
        let refined = [0xc7, 0x01, 0x0c, 0x80];
        assert_eq!(
            decode_msgpack(&refined, &Type::String).unwrap(),
            Value::Unknown
        );
        let number = [0xa3, b'1', b'.', b'5'];
        assert_eq!(
            decode_msgpack(&number, &Type::Number).unwrap(),
            Value::Number(Number::Float(1.5))
        );
        let mut whole = vec![0xcb];
        whole.extend_from_slice(&4.0_f64.to_be_bytes());
        assert_eq!(decode_msgpack(&whole, &Type::Number).unwrap(), 4.into());
        let value_type = object_type(&[("a", Type::Number), ("b", Type::String)]);
        assert_eq!(
            decode_msgpack(&[0x81, 0xa1, b'a', 0x01], &value_type).unwrap(),
            object(&[("a", 1.into()), ("b", Value::Null)])
        );
    }

    #[track_caller]
    fn check_decode_error(bytes: &[u8], value_type: &Type, expected: &str) {
        let message = decode_msgpack(bytes, value_type).unwrap_err().to_string();
        assert_eq!(message, expected);
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let value_type = object_type(&[("a", Type::Number)]);
        check_decode_error(&[0xa1, b'x'], &Type::Number, "value: invalid number \"x\"");
        check_decode_error(
            &[0x01],
            &Type::String,
            "value: expected string, found number",
        );
        check_decode_error(
            &[0x91, 0x01],
            &value_type,
            "value: expected map, found array",
        );
        check_decode_error(
            &[0x81, 0xa1, b'z', 0x01],
            &value_type,
            "value: unsupported attribute \"z\"",
        );
        check_decode_error(
            &[0x81, 0xa1, b'a', 0xa1, b'x'],
            &value_type,
            "value.a: invalid number \"x\"",
        );
        check_decode_error(
            &[0x01, 0x02],
            &Type::Number,
            "value: trailing bytes after the msgpack value",
        );
        check_decode_error(
            &[0x91, 0x01],
            &Type::Dynamic,
            "value: a dynamic value must be a [type, value] array",
        );
        let message = encode_msgpack(&object(&[]), &value_type)
            .unwrap_err()
            .to_string();
        assert_eq!(message, "value: missing attribute \"a\"");
        let message = encode_msgpack(&"x".into(), &Type::Bool)
            .unwrap_err()
            .to_string();
        assert_eq!(message, "value: expected a bool value, found string");
    }

    #[test]
    fn json_decodes_like_msgpack() {
        let json = br#"{"id":"cluster-1","count":-3,"enabled":true,"tags":{"a":"b"},
            "names":["x","y"],"ports":[1.5,2],
            "anything":{"value":{"k":["v",7]},"type":["object",{"k":["tuple",["string","number"]]}]},
            "policy":{"window":"7d","enabled":null},"tenants":{"t1":{"tenant_id":"1002"}}}"#;
        assert_eq!(decode_json(json, &rich_type()).unwrap(), rich_value());
        let message = decode_json(br#"{"a":[1]}"#, &object_type(&[("a", Type::Number)]))
            .unwrap_err()
            .to_string();
        assert_eq!(message, "value.a: expected number, found [1]");
    }
}

#[cfg(test)]
mod hostile_input {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

    /// The resource's own type: the one Terraform's DynamicValues are decoded with most.
    fn resource_type() -> tf::Type {
        crate::resources::backup_config::schema::backup_config_schema()
            .block
            .value_type()
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(
            bytes in prop::collection::vec(any::<u8>(), 0..512),
            value_type in hostile::tf_type(),
        ) {
            let _ = decode_msgpack(&bytes, &value_type);
            let _ = decode_json(&bytes, &value_type);
            let _ = decode_msgpack(&bytes, &resource_type());
            let _ = decode_json(&bytes, &resource_type());
        }

        #[test]
        fn well_formed_values_of_the_wrong_shape_are_errors_not_panics(
            json in hostile::json(),
            value_type in hostile::tf_type(),
        ) {
            let bytes = json.to_string().into_bytes();
            let _ = decode_json(&bytes, &value_type);
            let _ = decode_json(&bytes, &resource_type());
            // The same value as msgpack, through rmpv.
            let mut msgpack = Vec::new();
            if rmp_serde_free_encode(&json, &mut msgpack) {
                let _ = decode_msgpack(&msgpack, &value_type);
                if let Ok(value) = decode_msgpack(&msgpack, &resource_type()) {
                    // Whatever decodes also encodes back without a panic.
                    let _ = encode_msgpack(&value, &resource_type());
                }
            }
        }
    }

    /// Writes `json` as msgpack with rmpv (no serde bridge needed); false when it cannot.
    fn rmp_serde_free_encode(json: &serde_json::Value, out: &mut Vec<u8>) -> bool {
        fn convert(json: &serde_json::Value) -> rmpv::Value {
            match json {
                serde_json::Value::Null => rmpv::Value::Nil,
                serde_json::Value::Bool(b) => rmpv::Value::Boolean(*b),
                serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                    (Some(i), _, _) => rmpv::Value::from(i),
                    (_, Some(u), _) => rmpv::Value::from(u),
                    (_, _, Some(f)) => rmpv::Value::F64(f),
                    _ => rmpv::Value::Nil,
                },
                serde_json::Value::String(s) => rmpv::Value::from(s.as_str()),
                serde_json::Value::Array(items) => {
                    rmpv::Value::Array(items.iter().map(convert).collect())
                }
                serde_json::Value::Object(map) => rmpv::Value::Map(
                    map.iter()
                        .map(|(k, v)| (rmpv::Value::from(k.as_str()), convert(v)))
                        .collect(),
                ),
            }
        }
        rmpv::encode::write_value(out, &convert(json)).is_ok()
    }

    /// Deep nesting and huge declared lengths: errors, and no allocation of what a header claims.
    #[test]
    fn deep_nesting_and_lying_length_headers_are_errors() {
        let resource = resource_type();
        let dynamic = tf::Type::Dynamic;
        // 100 000 nested one-element arrays (msgpack 0x91) and JSON brackets.
        let deep_msgpack = vec![0x91u8; 100_000];
        let deep_json = "[".repeat(100_000);
        for value_type in [&resource, &dynamic] {
            assert!(decode_msgpack(&deep_msgpack, value_type).is_err());
            assert!(decode_json(deep_json.as_bytes(), value_type).is_err());
        }
        // An array32, a map32 and a str32 header claiming 4 G entries, then nothing.
        for header in [
            [0xddu8, 0xff, 0xff, 0xff, 0xff],
            [0xdf, 0xff, 0xff, 0xff, 0xff],
            [0xdb, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(decode_msgpack(&header, &dynamic).is_err());
            assert!(decode_msgpack(&header, &resource).is_err());
        }
        // A multi-megabyte string where a number belongs.
        let mut big = vec![0xdbu8];
        big.extend_from_slice(&(4u32 * 1024 * 1024).to_be_bytes());
        big.extend(std::iter::repeat_n(b'9', 4 * 1024 * 1024));
        // 4 Mi digits: an infinite f64, which is an error, not a panic.
        assert!(decode_msgpack(&big, &tf::Type::Number).is_err());
    }
}

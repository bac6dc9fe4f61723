//! Terraform values and types, independent of any wire encoding.
//!
//! Terraform's type system (cty) has primitive types, collections and structural types, and
//! every value of any type may be null or unknown. The plugin server converts msgpack and JSON
//! `DynamicValue`s to [`Value`] using the schema's [`Type`]; the provider only ever sees [`Value`].

use std::collections::BTreeMap;
use std::fmt;

/// A Terraform type constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `bool`.
    Bool,
    /// `number`.
    Number,
    /// `string`.
    String,
    /// `list(T)`.
    List(Box<Type>),
    /// `set(T)`.
    Set(Box<Type>),
    /// `map(T)`.
    Map(Box<Type>),
    /// `object({...})`.
    Object(BTreeMap<String, Type>),
    /// `dynamic`: the value carries its own type on the wire.
    Dynamic,
}

impl Type {
    /// The JSON form of the type that tfplugin6 `Schema.Attribute.type` carries, for example
    /// `"string"` or `["map", ["object", {"a": "number"}]]`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(element) => json!(["list", element.to_json()]),
            Type::Set(element) => json!(["set", element.to_json()]),
            Type::Map(element) => json!(["map", element.to_json()]),
            Type::Object(attributes) => {
                let attributes: serde_json::Map<String, serde_json::Value> = attributes
                    .iter()
                    .map(|(name, attribute_type)| (name.clone(), attribute_type.to_json()))
                    .collect();
                json!(["object", attributes])
            }
        }
    }
}

/// A Terraform number. Terraform's numbers are arbitrary-precision; this provider's attributes are
/// small whole numbers, so integers are kept exact and everything else is an `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A whole number that fits in an `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
}

impl Number {
    /// The number as an `i64` when it is a whole number in range.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Number::Int(n) => Some(n),
            Number::Float(f)
                if f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64 =>
            {
                Some(f as i64)
            }
            Number::Float(_) => None,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(n) => write!(f, "{n}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

/// A Terraform value. Collections and objects hold values that may themselves be null or unknown.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Not yet known: it will be known after apply.
    Unknown,
    /// Null: absent from the configuration or state.
    Null,
    /// A `bool`.
    Bool(bool),
    /// A `number`.
    Number(Number),
    /// A `string`.
    String(String),
    /// A `list(T)`.
    List(Vec<Value>),
    /// A `set(T)`, in the order it arrived.
    Set(Vec<Value>),
    /// A `map(T)`.
    Map(BTreeMap<String, Value>),
    /// An `object({...})`. Every attribute of the object's type is present (possibly null).
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for [`Value::Unknown`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when this value or anything nested in it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(items) | Value::Set(items) => items.iter().any(Value::contains_unknown),
            Value::Map(entries) | Value::Object(entries) => {
                entries.values().any(Value::contains_unknown)
            }
            _ => false,
        }
    }

    /// The attribute `name` of an object; `None` for anything that is not an object or lacks it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(attributes) | Value::Map(attributes) => attributes.get(name),
            _ => None,
        }
    }

    /// The string, when this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, when this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, when this is a known number.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(Number::Int(n))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_json_matches_cty() {
        let t = Type::Map(Box::new(Type::Object(BTreeMap::from([
            ("a".to_owned(), Type::Number),
            ("b".to_owned(), Type::List(Box::new(Type::String))),
        ]))));
        assert_eq!(
            t.to_json().to_string(),
            r#"["map",["object",{"a":"number","b":["list","string"]}]]"#
        );
    }

    #[test]
    fn number_as_i64() {
        assert_eq!(Number::Int(4).as_i64(), Some(4));
        assert_eq!(Number::Float(4.0).as_i64(), Some(4));
        assert_eq!(Number::Float(4.5).as_i64(), None);
    }

    #[test]
    fn contains_unknown_looks_inside() {
        let v = Value::Object(BTreeMap::from([(
            "x".to_owned(),
            Value::List(vec![Value::Null, Value::Unknown]),
        )]));
        assert!(v.contains_unknown());
        assert!(!Value::Null.contains_unknown());
    }
}

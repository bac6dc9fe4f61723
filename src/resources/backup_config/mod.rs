//! `oceanbase_backup_config`: the cluster-level backup configuration of one OceanBase cluster
//! (design §3). Pure parts live in small modules (schema, model, validation, durations, URIs,
//! plan rules, private state); the operations that talk to obshell are in [`ops`].

pub mod adoption;
pub mod archive_log;
pub mod coverage;
pub mod duration;
pub mod lag;
pub mod model;
pub mod ops;
pub mod plan;
pub mod private;
pub mod read;
pub mod schema;
mod stop;
pub mod tenants;
pub mod uri;
pub mod validate;

use crate::tf::{ClientCapabilities, Diagnostic, Diagnostics, Value};

use model::BackupConfigModel;

/// Converts a value to the model, or an error diagnostic (a value of the wrong shape is a bug in
/// the plugin server, never the user's doing).
pub fn model_from_value(value: &Value) -> Result<BackupConfigModel, Diagnostics> {
    BackupConfigModel::from_value(value).map_err(|error| {
        Diagnostics::from(Diagnostic::error(
            "Unexpected value for oceanbase_backup_config",
            format!("The provider received a value it cannot read: {error}. This is a bug in the provider; please report it."),
        ))
    })
}

/// `ValidateResourceConfig`: every static rule, with attribute paths. `capabilities` tell
/// whether this Terraform keeps write-only attributes out of plans and state.
pub fn validate_config_value(config: &Value, capabilities: ClientCapabilities) -> Diagnostics {
    match model_from_value(config) {
        Ok(model) => {
            let mut diagnostics = validate::validate_backup_config(&model);
            diagnostics.extend(validate::validate_write_only(&model, capabilities));
            diagnostics
        }
        Err(diagnostics) => diagnostics,
    }
}

/// `UpgradeResourceState` for schema version 0: the stored JSON state as a [`Value`] of the
/// current schema type. Attributes the JSON lacks are null; unknown attributes are an error.
pub fn state_from_json(raw_state: &serde_json::Value) -> Result<Value, Diagnostics> {
    let state_type = schema::backup_config_schema().block.value_type();
    json_to_value(raw_state, &state_type, "").map_err(|reason| {
        Diagnostics::from(Diagnostic::error(
            "Unreadable stored state",
            format!("The stored state of oceanbase_backup_config cannot be read: {reason}. Remove it with `terraform state rm` and import the resource again."),
        ))
    })
}

fn json_to_value(
    json: &serde_json::Value,
    value_type: &crate::tf::Type,
    path: &str,
) -> Result<Value, String> {
    use crate::tf::{Number, Type};
    let at = |expected: &str| {
        format!(
            "{} is not {expected}",
            if path.is_empty() { "the state" } else { path }
        )
    };
    if json.is_null() {
        return Ok(Value::Null);
    }
    match value_type {
        Type::Bool => json.as_bool().map(Value::Bool).ok_or_else(|| at("a bool")),
        Type::String => json
            .as_str()
            .map(|text| Value::String(text.to_owned()))
            .ok_or_else(|| at("a string")),
        Type::Number => match (json.as_i64(), json.as_f64()) {
            (Some(n), _) => Ok(Value::Number(Number::Int(n))),
            (None, Some(f)) => Ok(Value::Number(Number::Float(f))),
            _ => Err(at("a number")),
        },
        Type::Object(attributes) => {
            let object = json.as_object().ok_or_else(|| at("an object"))?;
            if let Some(extra) = object.keys().find(|key| !attributes.contains_key(*key)) {
                return Err(format!("{path}.{extra} is not an attribute of this schema"));
            }
            let mut values = std::collections::BTreeMap::new();
            for (name, attribute_type) in attributes {
                let nested = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                let value = match object.get(name) {
                    Some(json) => json_to_value(json, attribute_type, &nested)?,
                    None => Value::Null,
                };
                values.insert(name.clone(), value);
            }
            Ok(Value::Object(values))
        }
        Type::Map(element) => {
            let object = json.as_object().ok_or_else(|| at("a map"))?;
            let mut values = std::collections::BTreeMap::new();
            for (key, json) in object {
                values.insert(
                    key.clone(),
                    json_to_value(json, element, &format!("{path}[{key:?}]"))?,
                );
            }
            Ok(Value::Map(values))
        }
        Type::List(element) | Type::Set(element) => {
            let items = json.as_array().ok_or_else(|| at("a list"))?;
            let values = items
                .iter()
                .enumerate()
                .map(|(index, json)| json_to_value(json, element, &format!("{path}[{index}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(value_type, Type::List(_)) {
                Value::List(values)
            } else {
                Value::Set(values)
            })
        }
        Type::Dynamic => Err(at("a value of a known type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_json_state_is_read_with_the_schema_type() {
        let raw = serde_json::json!({
            "id": "1726",
            "backup_base_uri": "file:///data/backup",
            "log_archive_concurrency": 4,
            "delete_policy": {"policy": "default", "recovery_window": "7d"},
            "tenants": {"t1": {"tenant_id": 1002, "archive_lag_target": "2m"}}
        });
        let value = state_from_json(&raw).expect("state");
        let model = model_from_value(&value).expect("model");
        assert_eq!(model.id, model::Field::Known("1726".to_owned()));
        assert!(model.binding.is_null());
        let tenants = model.tenants.known().expect("tenants");
        assert_eq!(tenants["t1"].tenant_id, model::Field::Known(1002));
        assert!(state_from_json(&serde_json::json!({"bogus": 1})).is_err());
        assert!(state_from_json(&serde_json::json!({"id": 5})).is_err());
    }
}

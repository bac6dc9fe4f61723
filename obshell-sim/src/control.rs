//! The out-of-band control API under `/sim/v1` (see CONTROL.md): state, tenants, faults,
//! holds, key rotation, the clock and the request log. Plain JSON, no auth, no faults.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::crypto;
use crate::dag;
use crate::faults::{count, AuthFault, DagFault, HttpFault};
use crate::state::{ArchiveDest, Shared};

/// A control answer: HTTP status and JSON body.
pub(crate) type ControlReply = (u16, Value);

fn error(status: u16, message: impl Into<String>) -> ControlReply {
    (status, json!({ "error": message.into() }))
}

const TENANT_STATUSES: [&str; 4] = ["NORMAL", "CREATING", "RESTORE", "DROPPING"];
const ARCHIVE_STATUSES: [&str; 9] = [
    "",
    "DOING",
    "STOP",
    "SUSPEND",
    "INTERRUPTED",
    "PREPARE",
    "BEGINNING",
    "STOPPING",
    "SUSPENDING",
];

/// Handles one `/sim/v1/...` request.
pub(crate) fn handle(shared: &Arc<Shared>, method: &str, path: &str, body: &[u8]) -> ControlReply {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => return error(400, format!("request body is not JSON: {e}")),
        }
    };
    let Some(rest) = path.strip_prefix("/sim/v1/") else {
        return error(404, format!("no control route {method} {path}"));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["state"]) => (200, shared.lock().to_control_json()),
        ("POST", ["reset"]) => {
            let mut state = shared.lock();
            state.reset_cluster(&shared.config);
            drop(state);
            shared.sql_users().clear();
            shared.wakeup.notify_waiters();
            shared.answer_release.notify_waiters();
            (200, json!({}))
        }
        ("POST", ["tenants"]) => add_tenant(shared, &body),
        ("DELETE", ["tenants", name]) => {
            let mut state = shared.lock();
            let before = state.tenants.len();
            state.tenants.retain(|t| t.name != *name);
            if state.tenants.len() == before {
                return error(404, format!("no user tenant {name}"));
            }
            (200, json!({}))
        }
        ("PATCH", ["tenants", name]) => patch_tenant(shared, name, &body),
        ("PATCH", ["config"]) => patch_config(shared, &body),
        ("POST", ["faults", "http"]) => match HttpFault::from_json(&body) {
            Ok(fault) => {
                shared.lock().http_faults.push(fault);
                (200, json!({}))
            }
            Err(message) => error(400, message),
        },
        ("POST", ["faults", "dag"]) => match DagFault::from_json(&body) {
            Ok((fault, n)) => {
                let mut state = shared.lock();
                for _ in 0..n {
                    state.dag_faults.push_back(fault.clone());
                }
                (200, json!({}))
            }
            Err(message) => error(400, message),
        },
        ("POST", ["faults", "auth"]) => match AuthFault::from_json(&body) {
            Ok((fault, n)) => {
                let mut state = shared.lock();
                state
                    .auth_faults
                    .extend(std::iter::repeat_n(fault, n as usize));
                (200, json!({}))
            }
            Err(message) => error(400, message),
        },
        ("POST", ["faults", "hold"]) => match count(&body) {
            Ok(n) => {
                shared.lock().hold_count += n;
                (200, json!({}))
            }
            Err(message) => error(400, message),
        },
        ("GET", ["faults", "held"]) => {
            let held: Vec<Value> = shared
                .lock()
                .held_answers
                .iter()
                .map(|held| json!({"method": held.method, "uri": held.uri}))
                .collect();
            (200, Value::Array(held))
        }
        ("POST", ["faults", "release"]) => {
            let released = std::mem::take(&mut shared.lock().held_answers).len();
            shared.answer_release.notify_waiters();
            (200, json!({"released": released}))
        }
        ("DELETE", ["faults"]) => {
            let mut state = shared.lock();
            state.http_faults.clear();
            state.dag_faults.clear();
            state.auth_faults.clear();
            state.hold_count = 0;
            state.held_answers.clear();
            drop(state);
            shared.answer_release.notify_waiters();
            (200, json!({}))
        }
        ("POST", ["dags", "hold-running"]) => {
            let name = match body.get("name") {
                None | Some(Value::Null) => None,
                Some(Value::String(name)) => Some(name.clone()),
                Some(_) => return error(400, "\"name\" must be a string"),
            };
            let mut state = shared.lock();
            let config = crate::backup_param::validate(
                state.version,
                crate::backup_param::ConfigMethod::Patch,
                crate::backup_param::BackupConfigParam::default(),
                true,
            )
            .expect("an empty PATCH always validates");
            let dag_id = dag::create_backup_config_dag(&mut state, config, json!({}), name, true);
            let db_clock = state.db_clock;
            let dag =
                state
                    .dag_mut(dag_id)
                    .expect("just created")
                    .to_json(true, shared.port, db_clock);
            drop(state);
            dag::spawn_run(shared.clone(), dag_id);
            (200, dag)
        }
        ("POST", ["dags", id, "release"]) => {
            let dag_id = id.strip_prefix('1').and_then(|d| d.parse::<i64>().ok());
            let mut state = shared.lock();
            let db_clock = state.db_clock;
            let Some(dag) = dag_id.and_then(|d| state.dag_mut(d)) else {
                return error(
                    404,
                    format!("no DAG with id {id} (use the DAG's generic \"id\")"),
                );
            };
            dag.held = false;
            let reply = dag.to_json(true, shared.port, db_clock);
            drop(state);
            shared.wakeup.notify_waiters();
            (200, reply)
        }
        ("POST", ["rotate-key"]) => {
            let mut state = shared.lock();
            let bits = state.version.rsa_bits();
            let key = crypto::generate_key(&mut state.rng, bits);
            state.key = key;
            (200, json!({}))
        }
        ("POST", ["clock"]) => {
            let offset = match body.get("offset_seconds") {
                None => None,
                Some(value) => match value.as_i64() {
                    Some(offset) => Some(offset),
                    None => return error(400, "\"offset_seconds\" must be an integer"),
                },
            };
            let db_offset = match body.get("db_clock_offset") {
                None => None,
                Some(value) => match value.as_str().map(crate::clock::parse_clock_offset) {
                    Some(Ok(offset)) => Some(offset),
                    Some(Err(message)) => return error(400, format!("db_clock_offset: {message}")),
                    None => {
                        return error(400, "\"db_clock_offset\" must be a string such as \"-3h\"")
                    }
                },
            };
            let db_zone = match body.get("db_time_zone") {
                None => None,
                Some(value) => match value.as_str().map(crate::clock::parse_utc_offset) {
                    Some(Ok(zone)) => Some(zone),
                    Some(Err(message)) => return error(400, format!("db_time_zone: {message}")),
                    None => {
                        return error(400, "\"db_time_zone\" must be a string such as \"+08:00\"")
                    }
                },
            };
            if offset.is_none() && db_offset.is_none() && db_zone.is_none() {
                return error(
                    400,
                    "give \"offset_seconds\", \"db_clock_offset\" or \"db_time_zone\"",
                );
            }
            let mut state = shared.lock();
            if let Some(offset) = offset {
                state.clock_offset_seconds = offset;
            }
            if let Some(offset) = db_offset {
                state.db_clock.offset_ms = offset;
            }
            if let Some(zone) = db_zone {
                state.db_clock.zone_minutes = zone;
            }
            (200, json!({}))
        }
        ("PUT", ["sql", "users", name]) => crate::sql::put_user(shared, name, &body),
        ("DELETE", ["sql", "users", name]) => match shared.sql_users().remove(*name) {
            Some(_) => (200, json!({})),
            None => error(404, format!("no SQL user {name}")),
        },
        ("GET", ["requests"]) => (200, Value::Array(shared.lock().requests.clone())),
        ("DELETE", ["requests"]) => {
            shared.lock().requests.clear();
            (200, json!({}))
        }
        _ => error(404, format!("no control route {method} {path}")),
    }
}

fn add_tenant(shared: &Shared, body: &Value) -> ControlReply {
    let Some(name) = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return error(400, "\"name\" is required");
    };
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("NORMAL");
    if !TENANT_STATUSES.contains(&status) {
        return error(400, format!("unknown tenant status {status:?}"));
    }
    let mut state = shared.lock();
    if name == "sys" || state.tenant(name).is_some() {
        return error(409, format!("tenant {name} exists"));
    }
    let tenant = state.add_tenant(name, status).to_control_json();
    (200, tenant)
}

fn patch_tenant(shared: &Shared, name: &str, body: &Value) -> ControlReply {
    let mut state = shared.lock();
    let Some(tenant) = state.tenant_mut(name) else {
        return error(404, format!("no user tenant {name}"));
    };
    // Check everything before changing anything.
    let status = match body.get("status") {
        None => None,
        Some(Value::String(s)) if TENANT_STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(other) => return error(400, format!("unknown tenant status {other}")),
    };
    let mut parameters = Vec::new();
    match body.get("parameters") {
        None => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        return error(400, format!("parameter {key} must be a string or a number"))
                    }
                };
                parameters.push((key.to_lowercase(), text));
            }
        }
        Some(_) => return error(400, "\"parameters\" must be an object"),
    }
    let archive_log_status = match body.get("archive_log_status") {
        None => None,
        Some(Value::String(s)) if ARCHIVE_STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(other) => return error(400, format!("unknown archive log status {other}")),
    };
    let archive_dest = match body.get("archive_dest") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Object(dest)) => {
            let field = |key: &str, default: &str| {
                dest.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or(default)
                    .to_owned()
            };
            let Some(path) = dest.get("path").and_then(Value::as_str) else {
                return error(400, "\"archive_dest.path\" is required");
            };
            Some(Some(ArchiveDest {
                path: path.to_owned(),
                binding: field("binding", "OPTIONAL"),
                piece_switch_interval: field("piece_switch_interval", "1d"),
                state: field("state", "ENABLE"),
            }))
        }
        Some(_) => return error(400, "\"archive_dest\" must be an object or null"),
    };
    let in_recyclebin = match body.get("in_recyclebin") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return error(400, "\"in_recyclebin\" must be a boolean"),
    };
    let data_dest = match body.get("data_dest") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return error(400, "\"data_dest\" must be a string"),
    };
    let delete_policy = match body.get("delete_policy") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Object(p)) => Some(Some((
            p.get("policy")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned(),
            p.get("recovery_window")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ))),
        Some(_) => return error(400, "\"delete_policy\" must be an object or null"),
    };
    if let Some(status) = status {
        tenant.status = status;
    }
    if let Some(in_recyclebin) = in_recyclebin {
        tenant.in_recyclebin = in_recyclebin;
    }
    // A DBA's change here is settled: every server shows it at once.
    for (name, _) in &parameters {
        tenant.spreading.remove(name);
    }
    tenant.parameters.extend(parameters);
    if let Some(status) = archive_log_status {
        tenant.archive_log_status = status;
        tenant.archive_transition = None;
    }
    if let Some(dest) = archive_dest {
        tenant.archive_dest = dest;
    }
    if let Some(dest) = data_dest {
        tenant.data_dest = dest;
    }
    if let Some(policy) = delete_policy {
        tenant.delete_policy = policy;
    }
    (200, tenant.to_control_json())
}

/// `PATCH /sim/v1/config`: the run-time switches; every field is optional, at least one is
/// needed, and nothing changes when one is invalid.
fn patch_config(shared: &Arc<Shared>, body: &Value) -> ControlReply {
    let Some(fields) = body.as_object() else {
        return error(400, "the body must be a JSON object");
    };
    if fields.is_empty() {
        return error(400, "name at least one setting to change");
    }
    let mut millis = std::collections::BTreeMap::new();
    for (name, value) in fields {
        match name.as_str() {
            "task_duration_ms"
            | "latency_ms"
            | "latency_jitter_ms"
            | "parameter_lag_ms"
            | "archive_log_delay_ms" => {
                let Some(ms) = value.as_u64() else {
                    return error(400, format!("\"{name}\" must be a non-negative integer"));
                };
                millis.insert(name.as_str(), Duration::from_millis(ms));
            }
            "query_less_object_paths" => {
                if !value.is_boolean() {
                    return error(400, format!("\"{name}\" must be a boolean"));
                }
            }
            other => return error(400, format!("unknown setting \"{other}\"")),
        }
    }
    let mut state = shared.lock();
    let mut latency = state.latency;
    if let Some(base) = millis.get("latency_ms") {
        latency.base = *base;
    }
    if let Some(jitter) = millis.get("latency_jitter_ms") {
        latency.jitter = *jitter;
    }
    if latency.jitter > latency.base {
        return error(
            400,
            "\"latency_jitter_ms\" may not be larger than \"latency_ms\"",
        );
    }
    state.latency = latency;
    if let Some(duration) = millis.get("task_duration_ms") {
        state.task_duration = *duration;
    }
    if let Some(lag) = millis.get("parameter_lag_ms") {
        state.parameter_lag = *lag;
    }
    if let Some(delay) = millis.get("archive_log_delay_ms") {
        state.archive_log_delay = *delay;
    }
    if let Some(query_less) = fields
        .get("query_less_object_paths")
        .and_then(Value::as_bool)
    {
        state.query_less_object_paths = query_less;
    }
    (200, json!({}))
}

//! Injected faults: HTTP-level ones matched against incoming obshell requests, and DAG failures.

use serde_json::Value;

/// What an HTTP fault does to the request it hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HttpFaultKind {
    /// Read the request, then answer with this status and an error envelope without processing
    /// it: after `delay_ms`, and with `hold` not before `POST /sim/v1/faults/release`.
    Status {
        /// The HTTP status answered.
        status: u16,
        /// How long the answer waits after the request is read (a proxy's own timeout).
        delay_ms: u64,
        /// Whether the answer also waits for a release through the control API.
        hold: bool,
    },
    /// Answer as a route the emulated version does not have, without processing (a build or a
    /// proxy without the route).
    NoRoute,
    /// Wait this many milliseconds after reading the request, then process it, even when the
    /// client has given up meanwhile (as obshell's handlers do).
    Hang(u64),
    /// Close the connection without reading the request body.
    DropBeforeRead,
    /// Process the request, then close the connection without answering.
    DropAfterRead,
    /// Process the request, then answer its status with a body cut off halfway (no JSON).
    GarbleAfterRead,
    /// Process the request, then send its answer's body one byte every `every_ms`
    /// milliseconds; with `endless`, keep sending a space after it, forever.
    TrickleAfterRead {
        /// The pause before each byte.
        every_ms: u64,
        /// Whether the answer never ends.
        endless: bool,
    },
    /// Process the request, then answer it whole with its JSON body followed by spaces up to
    /// `bytes` bytes: still valid JSON, as long as a list of tens of thousands of DAGs (obshell
    /// pages no list).
    PadAfterRead {
        /// The body's length.
        bytes: u64,
    },
}

impl HttpFaultKind {
    /// The name recorded in the request log's `fault` field.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::NoRoute => "no_route",
            Self::Hang(_) => "hang",
            Self::DropBeforeRead => "drop_before_read",
            Self::DropAfterRead => "drop_after_read",
            Self::GarbleAfterRead => "garble_after_read",
            Self::TrickleAfterRead { .. } => "trickle_after_read",
            Self::PadAfterRead { .. } => "pad_after_read",
        }
    }
}

/// The longest body `pad_after_read` builds.
const MAX_PAD_BYTES: u64 = 256 * 1024 * 1024;

/// A pending HTTP fault.
#[derive(Clone, Debug)]
pub(crate) struct HttpFault {
    pub(crate) kind: HttpFaultKind,
    pub(crate) remaining: u32,
    pub(crate) method: Option<String>,
    pub(crate) path_prefix: Option<String>,
}

impl HttpFault {
    /// Parses the body of `POST /sim/v1/faults/http`.
    pub(crate) fn from_json(body: &Value) -> Result<Self, String> {
        let kind = match body.get("kind").and_then(Value::as_str) {
            Some("status") => {
                let status = body
                    .get("status")
                    .and_then(Value::as_u64)
                    .ok_or("\"status\" needs a numeric \"status\"")?;
                if !(100..=599).contains(&status) {
                    return Err(format!("status {status} is not an HTTP status"));
                }
                let delay_ms = match body.get("delay_ms") {
                    None | Some(Value::Null) => 0,
                    Some(value) => value
                        .as_u64()
                        .ok_or("\"delay_ms\" must be a non-negative integer")?,
                };
                let hold = match body.get("hold") {
                    None | Some(Value::Null) => false,
                    Some(value) => value.as_bool().ok_or("\"hold\" must be a boolean")?,
                };
                HttpFaultKind::Status {
                    status: status as u16,
                    delay_ms,
                    hold,
                }
            }
            Some("hang") => HttpFaultKind::Hang(
                body.get("ms")
                    .and_then(Value::as_u64)
                    .ok_or("\"hang\" needs a numeric \"ms\"")?,
            ),
            Some("no_route") => HttpFaultKind::NoRoute,
            Some("drop_before_read") => HttpFaultKind::DropBeforeRead,
            Some("drop_after_read") => HttpFaultKind::DropAfterRead,
            Some("garble_after_read") => HttpFaultKind::GarbleAfterRead,
            Some("trickle_after_read") => HttpFaultKind::TrickleAfterRead {
                every_ms: body
                    .get("every_ms")
                    .and_then(Value::as_u64)
                    .filter(|ms| *ms > 0)
                    .ok_or("\"trickle_after_read\" needs a positive numeric \"every_ms\"")?,
                endless: body
                    .get("endless")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            },
            Some("pad_after_read") => HttpFaultKind::PadAfterRead {
                bytes: body
                    .get("bytes")
                    .and_then(Value::as_u64)
                    .filter(|bytes| *bytes <= MAX_PAD_BYTES)
                    .ok_or(
                        "\"pad_after_read\" needs a numeric \"bytes\" of at most 268435456 (256 MiB)",
                    )?,
            },
            Some(other) => return Err(format!("unknown fault kind {other:?}")),
            None => return Err("\"kind\" is required".to_owned()),
        };
        Ok(Self {
            kind,
            remaining: count(body)?,
            method: optional_string(body, "method")?.map(|m| m.to_ascii_uppercase()),
            path_prefix: optional_string(body, "path_prefix")?,
        })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
    }
}

/// Takes one use of the first pending fault matching the request, if any.
pub(crate) fn take_http_fault(
    faults: &mut Vec<HttpFault>,
    method: &str,
    path: &str,
) -> Option<HttpFaultKind> {
    let index = faults.iter().position(|f| f.matches(method, path))?;
    let kind = faults[index].kind.clone();
    faults[index].remaining -= 1;
    if faults[index].remaining == 0 {
        faults.remove(index);
    }
    Some(kind)
}

/// How the agent that checks an authenticated request differs from the one that answered the
/// client's `/api/v1/secret` and `/api/v1/time`: several obshell agents behind one address (a
/// load balancer), each with its own key and clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthFault {
    /// Its RSA key is another: the header does not decrypt.
    OtherKey,
    /// Its clock runs [`OTHER_CLOCK_AHEAD`] ahead: every header has expired on arrival.
    ClockAhead,
}

/// How far ahead the clock of an [`AuthFault::ClockAhead`] agent runs: past any header lifetime.
pub(crate) const OTHER_CLOCK_AHEAD: std::time::Duration = std::time::Duration::from_secs(600);

impl AuthFault {
    /// Parses the body of `POST /sim/v1/faults/auth`: the fault and how many requests it hits.
    pub(crate) fn from_json(body: &Value) -> Result<(Self, u32), String> {
        let fault = match body.get("kind").and_then(Value::as_str) {
            Some("other_key") => AuthFault::OtherKey,
            Some("clock_ahead") => AuthFault::ClockAhead,
            _ => return Err("\"kind\" must be \"other_key\" or \"clock_ahead\"".to_owned()),
        };
        Ok((fault, count(body)?))
    }
}

/// A node failure injected into the next backup-config DAG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DagFault {
    /// "Check backup config" or "Set backup config".
    pub(crate) node: String,
    /// The error code shown in ≥ 4.3.1 log lines.
    pub(crate) code: String,
    /// The error text.
    pub(crate) message: String,
    /// Inside node 2: the step that fails (one of [`STEPS`]); `None` fails the whole node
    /// before it changes anything.
    pub(crate) step: Option<String>,
    /// With `step`: the tenant whose statement fails; `None` is the first tenant the step
    /// touches.
    pub(crate) tenant: Option<String>,
}

/// The steps of node 2 "Set backup config", in obshell's order (`SetBackupConfigTask.Execute`).
pub(crate) const STEPS: [&str; 8] = [
    "close_archive_log",
    "log_archive_concurrency",
    "log_archive_dest",
    "archive_lag_target",
    "data_backup_dest",
    "ha_low_thread_score",
    "drop_delete_policy",
    "add_delete_policy",
];

impl DagFault {
    /// Parses the body of `POST /sim/v1/faults/dag` into the fault and its count.
    pub(crate) fn from_json(body: &Value) -> Result<(Self, u32), String> {
        let node = body
            .get("node")
            .and_then(Value::as_str)
            .ok_or("\"node\" is required")?;
        if node != "Check backup config" && node != "Set backup config" {
            return Err(format!(
                "unknown node {node:?}: use \"Check backup config\" or \"Set backup config\""
            ));
        }
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .ok_or("\"message\" is required")?;
        let code = optional_string(body, "code")?.unwrap_or_else(|| "MySQL.Error".to_owned());
        let step = optional_string(body, "step")?;
        let tenant = optional_string(body, "tenant")?;
        if let Some(step) = &step {
            if node != "Set backup config" {
                return Err("\"step\" is a step of node \"Set backup config\"".to_owned());
            }
            if !STEPS.contains(&step.as_str()) {
                return Err(format!("unknown step {step:?}: use one of {STEPS:?}"));
            }
        } else if tenant.is_some() {
            return Err("\"tenant\" needs a \"step\"".to_owned());
        }
        Ok((
            Self {
                node: node.to_owned(),
                code,
                message: message.to_owned(),
                step,
                tenant,
            },
            count(body)?,
        ))
    }
}

/// `count`, default 1, at least 1.
pub(crate) fn count(body: &Value) -> Result<u32, String> {
    match body.get("count") {
        None | Some(Value::Null) => Ok(1),
        Some(value) => match value.as_u64() {
            Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => Ok(n as u32),
            _ => Err("\"count\" must be a positive integer".to_owned()),
        },
    }
}

fn optional_string(body: &Value, key: &str) -> Result<Option<String>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("\"{key}\" must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matching_and_counting() {
        let mut faults = vec![
            HttpFault::from_json(&json!({"kind": "status", "status": 503, "count": 2, "method": "post", "path_prefix": "/api/v1/obcluster"})).unwrap(),
            HttpFault::from_json(&json!({"kind": "hang", "ms": 10})).unwrap(),
        ];
        assert_eq!(
            take_http_fault(&mut faults, "POST", "/api/v1/obcluster/backup/config"),
            Some(HttpFaultKind::Status {
                status: 503,
                delay_ms: 0,
                hold: false
            })
        );
        assert_eq!(
            take_http_fault(&mut faults, "GET", "/api/v1/info"),
            Some(HttpFaultKind::Hang(10))
        );
        assert_eq!(take_http_fault(&mut faults, "GET", "/api/v1/info"), None);
        assert_eq!(
            take_http_fault(&mut faults, "POST", "/api/v1/obcluster/x"),
            Some(HttpFaultKind::Status {
                status: 503,
                delay_ms: 0,
                hold: false
            })
        );
        assert!(faults.is_empty());
        assert!(HttpFault::from_json(&json!({"kind": "nope"})).is_err());
        assert!(HttpFault::from_json(&json!({"kind": "status", "status": 42})).is_err());
        assert_eq!(
            HttpFault::from_json(
                &json!({"kind": "status", "status": 504, "delay_ms": 30, "hold": true})
            )
            .unwrap()
            .kind,
            HttpFaultKind::Status {
                status: 504,
                delay_ms: 30,
                hold: true
            }
        );
        assert!(
            HttpFault::from_json(&json!({"kind": "status", "status": 503, "delay_ms": -1}))
                .is_err()
        );
        assert!(
            HttpFault::from_json(&json!({"kind": "status", "status": 503, "hold": "yes"})).is_err()
        );
        assert!(HttpFault::from_json(&json!({"kind": "drop_after_read", "count": 0})).is_err());
        assert_eq!(
            HttpFault::from_json(&json!({"kind": "pad_after_read", "bytes": 17_000_000}))
                .unwrap()
                .kind,
            HttpFaultKind::PadAfterRead { bytes: 17_000_000 }
        );
        assert!(HttpFault::from_json(&json!({"kind": "pad_after_read"})).is_err());
        assert!(
            HttpFault::from_json(&json!({"kind": "pad_after_read", "bytes": 1u64 << 40})).is_err()
        );
        assert!(DagFault::from_json(&json!({"node": "x", "message": "m"})).is_err());
        let (fault, n) =
            DagFault::from_json(&json!({"node": "Set backup config", "message": "m", "count": 3}))
                .unwrap();
        assert_eq!((fault.code.as_str(), n), ("MySQL.Error", 3));
    }

    #[test]
    fn auth_faults_parse() {
        assert_eq!(
            AuthFault::from_json(&json!({"kind": "other_key"})),
            Ok((AuthFault::OtherKey, 1))
        );
        assert_eq!(
            AuthFault::from_json(&json!({"kind": "clock_ahead", "count": 2})),
            Ok((AuthFault::ClockAhead, 2))
        );
        assert!(AuthFault::from_json(&json!({"kind": "status"})).is_err());
        assert!(AuthFault::from_json(&json!({"kind": "other_key", "count": 0})).is_err());
    }
}

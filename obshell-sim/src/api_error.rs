//! obshell's error values and response envelope, in the shape of the emulated version.

use serde_json::{json, Map, Value};

use crate::version::ObshellVersion;

/// One error answer: the HTTP status and the `error` object, already in the emulated era's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status, equal to the envelope's `status`.
    pub(crate) status: u16,
    /// The ≥ 4.3.1 `errCode`, also recorded in the request log of legacy versions.
    pub(crate) err_code: &'static str,
    /// The integer `code` (always present before 4.3.1; from 4.3.1 only when non-zero).
    pub(crate) code: i64,
    /// True when the emulated version has no `errCode` field.
    pub(crate) legacy: bool,
    /// The `message` text.
    pub(crate) message: String,
}

/// The two eras' descriptions of one error.
pub(crate) struct Era<'a> {
    /// ≥ 4.3.1: HTTP status, errCode, kept legacy code (0 = omitted), message.
    pub(crate) new: (u16, &'static str, i64, &'a str),
    /// ≤ 4.3.0: HTTP status, code, message.
    pub(crate) old: (u16, i64, &'a str),
}

impl ApiError {
    /// Picks the shape of `version` out of the two descriptions.
    pub(crate) fn of(version: ObshellVersion, era: Era<'_>) -> Self {
        let (new_status, err_code, kept_code, new_message) = era.new;
        if version.legacy_errors() {
            let (status, code, message) = era.old;
            Self {
                status,
                err_code,
                code,
                legacy: true,
                message: message.to_owned(),
            }
        } else {
            Self {
                status: new_status,
                err_code,
                code: kept_code,
                legacy: false,
                message: new_message.to_owned(),
            }
        }
    }

    /// A validation failure: 400 with `err_code` from 4.3.1, and 400/1001 "Illegal argument: …" before.
    pub(crate) fn illegal_argument(
        version: ObshellVersion,
        err_code: &'static str,
        message: &str,
        legacy_text: &str,
    ) -> Self {
        let legacy_message = format!("Illegal argument: {legacy_text}");
        Self::of(
            version,
            Era {
                new: (400, err_code, 0, message),
                old: (400, 1001, &legacy_message),
            },
        )
    }

    /// An unexpected failure: 500 `Common.Unexpected` (legacy 1002).
    pub(crate) fn unexpected(version: ObshellVersion, text: &str) -> Self {
        let message = format!("Unexpected error: {text}");
        Self::of(
            version,
            Era {
                new: (500, "Common.Unexpected", 0, &message),
                old: (500, 1002, &message),
            },
        )
    }

    /// The `error` object of the envelope.
    pub(crate) fn to_json(&self) -> Value {
        let mut error = Map::new();
        if self.legacy {
            error.insert("code".into(), json!(self.code));
        } else {
            if self.code != 0 {
                error.insert("code".into(), json!(self.code));
            }
            error.insert("errCode".into(), json!(self.err_code));
        }
        error.insert("message".into(), json!(self.message));
        Value::Object(error)
    }
}

/// Builds obshell's response envelope (`OcsAgentResponse`).
pub(crate) fn envelope(
    status: u16,
    timestamp: &str,
    duration_ms: u64,
    trace_id: &str,
    data: Option<Value>,
    error: Option<&ApiError>,
) -> Value {
    let mut body = Map::new();
    body.insert("successful".into(), json!(error.is_none()));
    body.insert("timestamp".into(), json!(timestamp));
    body.insert("duration".into(), json!(duration_ms));
    body.insert("status".into(), json!(status));
    body.insert("traceId".into(), json!(trace_id));
    if let Some(data) = data {
        // obshell wraps a Go slice as {"contents": [...]}.
        let data = if data.is_array() {
            json!({ "contents": data })
        } else {
            data
        };
        body.insert("data".into(), data);
    }
    if let Some(error) = error {
        body.insert("error".into(), error.to_json());
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes() {
        let new: ObshellVersion = "4.5.0.0".parse().unwrap();
        let old: ObshellVersion = "4.2.4.0".parse().unwrap();
        let error = ApiError::illegal_argument(new, "OB.Backup.Binding.Invalid", "bad", "worse");
        assert_eq!(
            error.to_json(),
            json!({"errCode": "OB.Backup.Binding.Invalid", "message": "bad"})
        );
        let error = ApiError::illegal_argument(old, "OB.Backup.Binding.Invalid", "bad", "worse");
        assert_eq!(
            error.to_json(),
            json!({"code": 1001, "message": "Illegal argument: worse"})
        );
        let decrypt = ApiError::of(
            new,
            Era {
                new: (401, "Security.Authentication.Header.DecryptFailed", 1, "m"),
                old: (401, 1, "m"),
            },
        );
        assert_eq!(
            decrypt.to_json(),
            json!({"code": 1, "errCode": "Security.Authentication.Header.DecryptFailed", "message": "m"})
        );
    }

    #[test]
    fn envelope_wraps_slices() {
        let body = envelope(200, "t", 0, "x", Some(json!([1, 2])), None);
        assert_eq!(body["data"], json!({"contents": [1, 2]}));
        assert_eq!(body["successful"], json!(true));
        assert!(body.get("error").is_none());
    }
}

//! The one error type of the obshell client, with structured fields for every way a call can fail.
//!
//! Messages are lowercase, end without a period, and never carry a secret: server messages and task
//! log lines pass through [`redact_secrets`] before they are stored in an error.

use std::fmt;
use std::time::{Duration, SystemTime};

use super::dag::{DagFailure, DagId, DagOperator, DagState};

/// Everything that can go wrong when talking to obshell.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client was configured with something it cannot use (a base URL with a path, a bad
    /// certificate, a missing password).
    #[error("invalid obshell client configuration: {reason}")]
    Config {
        /// What is wrong, without any secret.
        reason: String,
    },

    /// obshell answered with a non-2xx status. Both error shapes are mapped here: the legacy
    /// `{code, message}` (obshell ≤ 4.3.0) and `{errCode, message, code?}` (≥ 4.3.1).
    #[error("obshell answered {method} {path} with HTTP {status}{}: {message}", CodeSuffix(*code, err_code.as_deref()))]
    Api {
        /// The request method.
        method: String,
        /// The request path (without the query string).
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The legacy integer code, when present and non-zero.
        code: Option<i64>,
        /// The ≥ 4.3.1 error code, e.g. `OB.Backup.Binding.Invalid`, when present and non-empty.
        err_code: Option<String>,
        /// obshell's message, with any storage credential masked.
        message: String,
    },

    /// The request did not get an answer: obshell could not be reached, the connection broke, or
    /// the request timed out.
    #[error("{method} {path} to obshell failed: {failure}")]
    Transport {
        /// The request method.
        method: String,
        /// The request path (without the query string).
        path: String,
        /// What kind of transport failure this was.
        failure: TransportFailure,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },

    /// The endpoint answers HTTP, but not as obshell does: `GET /api/v1/info` is not found there
    /// or its answer is not obshell's. Another service (or another port of the host) answered.
    #[error("the endpoint {endpoint} answers HTTP but is not obshell: {answer}; obshell's HTTP port is 2886 unless it was started with another")]
    NotObshell {
        /// The endpoint that was asked.
        endpoint: String,
        /// What it answered to `GET /api/v1/info`.
        answer: String,
    },

    /// The agent is not one this client can manage backups through.
    #[error("obshell at {endpoint} is not supported: found {found}, but {needed} is needed")]
    Unsupported {
        /// The endpoint that was asked.
        endpoint: String,
        /// What the agent reported (identity and version).
        found: String,
        /// What is needed instead.
        needed: String,
    },

    /// A response could not be decoded into the expected shape.
    #[error("cannot decode obshell's answer to {method} {path}: {reason}")]
    Decode {
        /// The request method.
        method: String,
        /// The request path (without the query string).
        path: String,
        /// Why decoding failed, with any storage credential masked.
        reason: String,
    },

    /// The request could not be encrypted (bad public key, RSA failure).
    #[error("cannot encrypt the request for obshell: {reason}")]
    Crypto {
        /// What failed, without any key material.
        reason: String,
    },

    /// A DAG ended without applying its change: `FAILED`, or `SUCCEED` with operator `ROLLBACK` or
    /// `PASS`.
    #[error("{}", DagFailedMessage { dag_id, dag_name, state, operator, failure })]
    DagFailed {
        /// The DAG's generic id.
        dag_id: DagId,
        /// The DAG's name.
        dag_name: String,
        /// The state it ended in.
        state: DagState,
        /// The operator it ended with.
        operator: DagOperator,
        /// The failed node, sub-task and last task log line (either era's form, credentials
        /// masked), as far as the DAG's details tell. Boxed to keep `Error` small.
        failure: Box<DagFailure>,
    },

    /// The wait for a DAG was cancelled; the DAG itself goes on.
    #[error("stopped waiting for dag {dag_id}: the wait was cancelled; dag {dag_id} continues on obshell")]
    DagWaitCancelled {
        /// The DAG's generic id.
        dag_id: DagId,
    },

    /// The wait for a DAG reached its deadline; the DAG itself goes on.
    #[error("stopped waiting for dag {dag_id}: the deadline passed while it was {}{}; dag {dag_id} continues on obshell", last_state.as_ref().map_or("not yet read".to_owned(), |state| state.to_string()), FailingSuffix(failing.as_deref()))]
    DagWaitTimedOut {
        /// The DAG's generic id.
        dag_id: DagId,
        /// The last state read, if any poll succeeded.
        last_state: Option<DagState>,
        /// When the polls before the deadline were failing: since when, and the last error.
        failing: Option<Box<PollFailures>>,
    },

    /// obshell stopped answering the polls of a DAG for longer than the client's unreachable
    /// limit ([`super::ClientBuilder::unreachable_limit`]). The DAG may still be running there.
    #[error("obshell stopped answering while the provider waited for dag {dag_id}: every poll has failed since {} ({} ago), the last with: {}; dag {dag_id} was {} when last read and may still be running on obshell", utc(failing.since), minutes_seconds(failing.for_how_long), failing.last_error, last_state.as_ref().map_or("not yet read".to_owned(), |state| state.to_string()))]
    DagUnreachable {
        /// The DAG's generic id.
        dag_id: DagId,
        /// The last state read, if any poll succeeded.
        last_state: Option<DagState>,
        /// Since when the polls failed, for how long, and the last error. Boxed to keep `Error`
        /// small.
        failing: Box<PollFailures>,
    },

    /// Polling a DAG failed with an error that is not transient (a 500, a 401, a 404): the client
    /// stopped following the DAG, which goes on. The poll error is printed in the message (the
    /// provider shows messages, not source chains) and so, by the one-or-the-other rule, is not
    /// also returned by `source()`.
    #[error("stopped following dag {dag_id}, which continues on obshell: {cause}")]
    DagWaitFailed {
        /// The DAG's generic id.
        dag_id: DagId,
        /// The poll error that ended the wait. Boxed to keep `Error` small.
        cause: Box<Error>,
    },

    /// A write was sent, the answer was lost, and the DAG it may have started cannot be identified.
    /// Sending it again could run the change twice, so the client does not.
    #[error("{method} {path} was sent but its outcome is unknown ({cause}); {finding}; check obshell's unfinished dags before retrying")]
    WriteOutcomeUnknown {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// Why the answer was lost.
        cause: String,
        /// What the search for the DAG found.
        finding: String,
        /// The DAGs that may be the one the write started, when the search found several (or
        /// one it cannot vouch for); empty when it found none or could not look.
        candidates: Vec<super::dag::DagId>,
    },
}

/// What kind of transport failure an [`Error::Transport`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportFailure {
    /// No connection could be made; the request was not sent.
    Connect,
    /// The request timed out, possibly after it was sent.
    Timeout,
    /// The connection broke, possibly after the request was sent.
    Interrupted,
    /// An `https://` endpoint answered, but not with TLS (a plain HTTP server, say); nothing was
    /// sent.
    NotTls,
    /// The TLS handshake failed (the server's certificate, or the client certificate the server
    /// asked for); obshell processed nothing.
    Tls(TlsFailure),
}

/// Why a TLS handshake with obshell failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate does not chain to a trusted CA.
    UntrustedCertificate,
    /// The server's certificate is not valid for the endpoint's host name or address.
    WrongHostName,
    /// The server's certificate is expired or not yet valid.
    CertificateOutOfDate,
    /// The server requires a client certificate and none was presented.
    ClientCertificateRequired,
    /// The server refused the client certificate that was presented.
    ClientCertificateRefused,
    /// Another handshake failure.
    Other,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsFailure::UntrustedCertificate => {
                "TLS: the server's certificate is not signed by a trusted CA"
            }
            TlsFailure::WrongHostName => {
                "TLS: the server's certificate is not valid for the endpoint's host name"
            }
            TlsFailure::CertificateOutOfDate => {
                "TLS: the server's certificate is expired or not yet valid"
            }
            TlsFailure::ClientCertificateRequired => {
                "TLS: the server requires a client certificate and none was presented"
            }
            TlsFailure::ClientCertificateRefused => {
                "TLS: the server refused the client certificate"
            }
            TlsFailure::Other => "TLS: the handshake failed",
        })
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportFailure::Connect => "cannot connect",
            TransportFailure::Timeout => "timed out",
            TransportFailure::Interrupted => "the connection broke before an answer arrived",
            TransportFailure::NotTls => "the server does not speak TLS (https) on this port",
            TransportFailure::Tls(failure) => return failure.fmt(f),
        })
    }
}

impl Error {
    /// The ≥ 4.3.1 `errCode` of an API error, if this is one and it has one.
    pub fn err_code(&self) -> Option<&str> {
        match self {
            Error::Api { err_code, .. } => err_code.as_deref(),
            _ => None,
        }
    }

    /// The legacy integer code of an API error, if this is one and it has one.
    pub fn legacy_code(&self) -> Option<i64> {
        match self {
            Error::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// The HTTP status of an API error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether obshell answered that it has no such route: 404 from 4.3.1 (`Common.NotFound`,
    /// "404 not found"), and HTTP 400, code 1000, "Bad request: 404 not found" up to 4.3.0
    /// (gin's `NoRoute` handler). A plain 404 without a code counts too (a proxy in front).
    pub fn is_no_route(&self) -> bool {
        match self {
            Error::Api {
                status,
                code,
                err_code,
                message,
                ..
            } => match (*status, *code, err_code.as_deref()) {
                (404, _, None | Some("Common.NotFound")) => true,
                (400, Some(1000), None) => message.contains("404 not found"),
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether obshell could not parse a stored backup destination (`GET
    /// .../backup/config/storage`): 400 `OB.Storage.URI.Invalid`, legacy 400/1001 "invalid url
    /// format". OceanBase may keep an object-store path without the query string obshell's
    /// parser requires (obshell-api.md §10.6); the destination then cannot be verified.
    pub fn is_unparsable_destination(&self) -> bool {
        match self {
            Error::Api {
                status: 400,
                code,
                err_code,
                message,
                ..
            } => match err_code.as_deref() {
                Some(err_code) => err_code == "OB.Storage.URI.Invalid",
                None => *code == Some(1001) && message.contains("url format"),
            },
            _ => false,
        }
    }

    /// Whether this is a fault that a read may retry: a transport failure, or HTTP 502, 503 or 504.
    /// A 500 or a 4xx is an answer, not a transient fault, and so is a server that does not speak
    /// TLS where `https://` asks for it.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport {
                failure: TransportFailure::NotTls,
                ..
            } => false,
            Error::Transport { .. } => true,
            Error::Api { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// Whether this is an authentication failure (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Api { status: 401, .. })
    }
}

/// Polls of a DAG that kept failing: since when, for how long, and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollFailures {
    /// The wall-clock time of the first failed poll in the run of failures.
    pub since: SystemTime,
    /// How long the polls had been failing when the wait ended.
    pub for_how_long: Duration,
    /// The last poll's error, as its message.
    pub last_error: String,
}

/// `" ; its last polls failed ..."` for a timed-out wait whose polls were failing, or nothing.
struct FailingSuffix<'a>(Option<&'a PollFailures>);

impl fmt::Display for FailingSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(failing) => write!(
                f,
                ", and its last polls failed: every poll since {} ({} before the deadline) failed, the last with: {}",
                utc(failing.since),
                minutes_seconds(failing.for_how_long),
                failing.last_error
            ),
            None => Ok(()),
        }
    }
}

/// A wall-clock time as `2026-05-08 10:11:12 UTC`.
pub(crate) fn utc(time: SystemTime) -> String {
    let at = time::OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A duration as `4m 30s`, `45s` or `2m`.
pub(crate) fn minutes_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, seconds) => format!("{seconds}s"),
        (minutes, 0) => format!("{minutes}m"),
        (minutes, seconds) => format!("{minutes}m {seconds}s"),
    }
}

/// Formats `" (errCode X, code N)"` for an API error, or nothing.
struct CodeSuffix<'a>(Option<i64>, Option<&'a str>);

impl fmt::Display for CodeSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(code), Some(err_code)) => write!(f, " ({err_code}, code {code})"),
            (None, Some(err_code)) => write!(f, " ({err_code})"),
            (Some(code), None) => write!(f, " (code {code})"),
            (None, None) => Ok(()),
        }
    }
}

struct DagFailedMessage<'a> {
    dag_id: &'a DagId,
    dag_name: &'a str,
    state: &'a DagState,
    operator: &'a DagOperator,
    failure: &'a DagFailure,
}

impl fmt::Display for DagFailedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DagFailedMessage {
            dag_id,
            dag_name,
            state,
            operator,
            failure,
        } = self;
        let DagFailure {
            node,
            sub_task,
            last_log,
        } = failure;
        if matches!(state, DagState::Succeed) {
            return write!(
                f,
                "dag {dag_id} ({dag_name}) ended {state} with operator {operator}, so its change was not applied"
            );
        }
        write!(
            f,
            "dag {dag_id} ({dag_name}) ended {state} with operator {operator}"
        )?;
        if let Some(node) = node {
            write!(f, " in node \"{node}\"")?;
        }
        if let Some(sub_task) = sub_task {
            write!(f, ", sub-task \"{sub_task}\"")?;
        }
        match last_log {
            Some(line) => write!(f, ": {line}"),
            None => Ok(()),
        }
    }
}

/// Masks the values of `access_id`, `access_key` (and obshell's other credential parameters) in
/// any text that may quote a storage URI: server messages, task logs, decode errors.
pub fn redact_secrets(text: &str) -> String {
    const SECRET_KEYS: [&str; 4] = ["access_id=", "access_key=", "secret_key=", "sts_token="];
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut idx = 0;
    while idx < text.len() {
        let found = SECRET_KEYS
            .iter()
            .filter_map(|key| lower[idx..].find(key).map(|pos| (idx + pos, key.len())))
            .min_by_key(|(pos, _)| *pos);
        let Some((pos, key_len)) = found else {
            out.push_str(&text[idx..]);
            break;
        };
        let value_start = pos + key_len;
        out.push_str(&text[idx..value_start]);
        // A credential value ends only at a character validation never lets into one (quote,
        // whitespace, '&', ';'); anything else, '"', ',', ')', ']' or '}' included, may be part of
        // the secret, so masking runs on to the next such character even if that hides more than
        // the value.
        let value_len = text[value_start..]
            .find(|c: char| matches!(c, '&' | '\'' | ';') || c.is_whitespace())
            .unwrap_or(text.len() - value_start);
        if value_len > 0 {
            out.push_str("***");
        }
        idx = value_start + value_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_redact(input: &str, expected: &str) {
        assert_eq!(redact_secrets(input), expected);
    }

    #[test]
    fn redacts_credentials_in_text() {
        check_redact("no secrets here", "no secrets here");
        check_redact(
            "oss://b/k?host=h&access_id=AK1&access_key=SK2",
            "oss://b/k?host=h&access_id=***&access_key=***",
        );
        check_redact(
            "URI is 'oss://b/k?ACCESS_KEY=xyz&host=h'",
            "URI is 'oss://b/k?ACCESS_KEY=***&host=h'",
        );
        check_redact("access_key=", "access_key=");
        check_redact("x access_id=a, y", "x access_id=*** y");
        check_redact(
            r#"{"uri":"oss://b/k?access_key=S\"K}"} next"#,
            r#"{"uri":"oss://b/k?access_key=*** next"#,
        );
    }

    /// Every character that validation lets into a credential (all but quote, whitespace, '&',
    /// ';' and '%'), anywhere in the value, in every context a message may quote a URI in.
    #[test]
    fn redacts_every_character_a_credential_may_hold() {
        let allowed: Vec<char> = (0x21u8..0x7f)
            .map(char::from)
            .filter(|c| !matches!(c, '\'' | '&' | ';' | '%'))
            .chain(['é', '密'])
            .collect();
        let mut secrets: Vec<String> = allowed
            .iter()
            .flat_map(|c| {
                [
                    format!("{c}SECRET"),
                    format!("SE{c}CRET"),
                    format!("SECRET{c}"),
                ]
            })
            .collect();
        secrets.push(format!("SECRET{}", allowed.iter().collect::<String>()));
        for secret in &secrets {
            for key in ["access_id", "ACCESS_KEY", "secret_key", "sts_token"] {
                for (before, after) in [
                    ("URI 'oss://b/k?host=h&", "&x=1' failed"),
                    ("URI 'oss://b/k?host=h&", "' failed"),
                    ("{\"uri\":\"oss://b/k?", "\"} failed"),
                    ("(oss://b/k?", ") failed"),
                    ("[oss://b/k?", "], failed"),
                    ("oss://b/k?", ""),
                ] {
                    let text = format!("{before}{key}={secret}{after}");
                    let redacted = redact_secrets(&text);
                    assert!(
                        !redacted.contains("SECRET")
                            && !redacted.contains("SE")
                            && !redacted.contains("CRET"),
                        "{text:?} became {redacted:?}"
                    );
                    assert!(redacted.contains(&format!("{key}=***")), "{redacted:?}");
                }
            }
        }
    }

    #[test]
    fn api_error_message_names_both_codes() {
        let error = Error::Api {
            method: "POST".into(),
            path: "/api/v1/obcluster/backup/config".into(),
            status: 400,
            code: None,
            err_code: Some("OB.Backup.Binding.Invalid".into()),
            message: "Invalid binding mode: X".into(),
        };
        assert_eq!(
            error.to_string(),
            "obshell answered POST /api/v1/obcluster/backup/config with HTTP 400 (OB.Backup.Binding.Invalid): Invalid binding mode: X"
        );
        let legacy = Error::Api {
            method: "GET".into(),
            path: "/p".into(),
            status: 401,
            code: Some(10008),
            err_code: None,
            message: "Verification failed".into(),
        };
        assert_eq!(
            legacy.to_string(),
            "obshell answered GET /p with HTTP 401 (code 10008): Verification failed"
        );
        assert!(legacy.is_unauthorized());
        assert!(!legacy.is_transient());
    }

    #[test]
    fn a_failed_wait_names_the_dag_and_its_cause_once() {
        let error = Error::DagWaitFailed {
            dag_id: DagId::new("11"),
            cause: Box::new(Error::Api {
                method: "GET".into(),
                path: "/api/v1/task/dag/11".into(),
                status: 500,
                code: None,
                err_code: Some("Common.Unexpected".into()),
                message: "boom".into(),
            }),
        };
        assert_eq!(
            error.to_string(),
            "stopped following dag 11, which continues on obshell: obshell answered GET /api/v1/task/dag/11 with HTTP 500 (Common.Unexpected): boom"
        );
        assert!(std::error::Error::source(&error).is_none());
    }
}

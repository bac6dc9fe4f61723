//! Turning obshell client errors into Terraform diagnostics: a short summary, and a detail that
//! says what happened (with obshell's errCode or legacy code and message, which the client's
//! error carries) and what the user can do. Secrets never appear: the client's errors carry none,
//! and the password is never part of a message.

use crate::obshell::{Error, TransportFailure};
use crate::tf::Diagnostic;

/// What the user can do about `error`, in one or two sentences.
fn advice(error: &Error, endpoint: &str) -> String {
    match error {
        Error::Api { status: 401, .. } => format!(
            "obshell at {endpoint} rejected the credentials. Check the provider's password (or OCEANBASE_PASSWORD): it must be the root@sys password of this cluster."
        ),
        Error::Api { status, .. } if *status >= 500 => format!(
            "obshell at {endpoint} reported an internal error. Check obshell's log on that node, then run Terraform again."
        ),
        Error::Api { .. } => "obshell refused the request. Correct the configuration as the message says, then run Terraform again.".to_owned(),
        Error::Transport {
            failure: TransportFailure::Connect,
            ..
        } => format!(
            "Check that the endpoint {endpoint} is right and that obshell runs there and is reachable from this machine."
        ),
        Error::Transport { .. } => format!(
            "The connection to obshell at {endpoint} failed. Check the network and obshell, then run Terraform again; the provider looks for a task it may have started before it sends a change again."
        ),
        Error::Unsupported { .. } => "Point the provider at a cluster agent (obshell 4.2.4.0 or later) of the cluster whose backups it manages.".to_owned(),
        Error::DagFailed { dag_id, .. } => format!(
            "Fix the cause the task log names, then apply again. The task can be inspected on obshell as DAG {dag_id} (GET /api/v1/task/dag/{dag_id})."
        ),
        Error::DagWaitCancelled { dag_id }
        | Error::DagWaitTimedOut { dag_id, .. }
        | Error::DagWaitFailed { dag_id, .. } => format!(
            "The provider stopped waiting, but DAG {dag_id} continues on obshell. The next refresh or plan reads its outcome; raise timeouts if the task needs longer."
        ),
        Error::WriteOutcomeUnknown { .. } => "Check obshell's unfinished tasks (GET /api/v1/task/dag/ob/unfinish) before applying again.".to_owned(),
        Error::Config { .. } => "Correct the provider configuration.".to_owned(),
        _ => format!("Check obshell at {endpoint}, then run Terraform again."),
    }
}

/// An error diagnostic for a failed obshell call: `summary` says which operation failed.
pub fn obshell_error(summary: &str, error: &Error, endpoint: &str) -> Diagnostic {
    let mut detail = format!("{error}.");
    if let Some(first) = detail.get(..1) {
        detail = first.to_uppercase() + &detail[1..];
    }
    Diagnostic::error(summary, format!("{detail}\n\n{}", advice(error, endpoint)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_name_the_code_and_the_endpoint_advice() {
        let error = Error::Api {
            method: "GET".to_owned(),
            path: "/api/v1/tenants/overview".to_owned(),
            status: 401,
            code: Some(10008),
            err_code: Some("Security.Authentication.IncorrectOceanbasePassword".to_owned()),
            message: "Unauthorized: OceanBase password is incorrect".to_owned(),
        };
        let diagnostic = obshell_error("Unable to read", &error, "http://127.0.0.1:2886");
        assert!(diagnostic
            .detail
            .contains("Security.Authentication.IncorrectOceanbasePassword"));
        assert!(diagnostic.detail.contains("10008"));
        assert!(diagnostic.detail.contains("http://127.0.0.1:2886"));
        assert!(diagnostic.detail.contains("password"));
    }

    #[test]
    fn waits_say_the_dag_continues() {
        let error = Error::DagWaitCancelled {
            dag_id: crate::obshell::DagId::new("142"),
        };
        let diagnostic = obshell_error("Unable to update", &error, "http://h:1");
        assert!(diagnostic.detail.contains("DAG 142 continues on obshell"));
    }
}

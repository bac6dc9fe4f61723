//! Turning obshell client errors into Terraform diagnostics: a short summary, and a detail that
//! says what happened (with obshell's errCode or legacy code and message, which the client's
//! error carries) and what the user can do. Secrets never appear: the client's errors carry none,
//! and the password is never part of a message.

use crate::obshell::{Error, TlsFailure, TransportFailure};
use crate::tf::Diagnostic;

/// What the user can do about `error`, in one or two sentences.
fn advice(error: &Error, endpoint: &str) -> String {
    let https = endpoint.starts_with("https://");
    match error {
        Error::Api { status: 401, .. } => format!(
            "obshell at {endpoint} rejected the credentials. Check the provider's password (or OCEANBASE_PASSWORD): it must be the root@sys password of this cluster."
        ),
        Error::Api { status: 400, message, .. }
            if !https && message.contains("HTTP request to an HTTPS server") =>
        {
            format!(
                "The server at {endpoint} speaks HTTPS: write the endpoint with https:// (and set ca_certificate when its certificate is not publicly trusted)."
            )
        }
        Error::Api { status, .. } if *status >= 500 => format!(
            "obshell at {endpoint} reported an internal error. Check obshell's log on that node, then run Terraform again."
        ),
        Error::Api { .. } => "obshell refused the request. Correct the configuration as the message says, then run Terraform again.".to_owned(),
        Error::NotObshell { .. } => format!(
            "Point endpoint (or OCEANBASE_ENDPOINT) at obshell's HTTP port on a cluster node, such as \"http://10.0.0.1:2886\"; {endpoint} is some other service."
        ),
        Error::Transport {
            failure: TransportFailure::NotTls,
            ..
        } => format!(
            "obshell serves plain HTTP unless it was set up with a certificate: if so, write the endpoint with http:// instead of {endpoint}."
        ),
        Error::Transport {
            failure: TransportFailure::Tls(failure),
            ..
        } => tls_advice(*failure, endpoint),
        Error::Transport {
            failure: TransportFailure::Connect,
            ..
        } => format!(
            "Check that the endpoint {endpoint} is right and that obshell runs there and is reachable from this machine."
        ),
        Error::Transport {
            failure: TransportFailure::Interrupted,
            method,
            ..
        } if !https && method == "GET" => format!(
            "The connection to obshell at {endpoint} broke. Check the network and obshell, then run Terraform again; if obshell at that address serves HTTPS, write the endpoint with https://."
        ),
        Error::Transport { method, .. } if method == "GET" => format!(
            "The connection to obshell at {endpoint} failed. Check the network and obshell, then run Terraform again."
        ),
        Error::Transport { .. } => format!(
            "The connection to obshell at {endpoint} failed. Check the network and obshell, then run Terraform again; the provider looks for a task it may have started before it sends a change again."
        ),
        Error::Unsupported { .. } => "Point the provider at a cluster agent (obshell 4.2.4.0 or later) of the cluster whose backups it manages.".to_owned(),
        Error::DagFailed { dag_id, .. } => format!(
            "Fix the cause the task log names, then apply again. On a cluster node, `obshell task show -i {dag_id} -d` shows the task."
        ),
        Error::DagUnreachable { dag_id, .. } => format!(
            "Check that obshell runs on the node of {endpoint} and is reachable from this machine (on that node, `obshell agent start` starts it again). Once it answers, `obshell task show -i {dag_id} -d` there shows whether DAG {dag_id} finished, and the next terraform plan or apply reads its outcome. The provider setting unreachable_timeout sets how long it waits for obshell to answer again."
        ),
        Error::DagWaitTimedOut {
            dag_id,
            failing: Some(_),
            ..
        } => format!(
            "obshell at {endpoint} did not answer the last polls, so the provider could not tell how DAG {dag_id} went. Check obshell on that node; once it answers, `obshell task show -i {dag_id} -d` there shows the task, and the next refresh or plan reads its outcome."
        ),
        Error::DagWaitCancelled { dag_id }
        | Error::DagWaitTimedOut { dag_id, .. }
        | Error::DagWaitFailed { dag_id, .. } => format!(
            "The provider stopped waiting, but DAG {dag_id} continues on obshell. The next refresh or plan reads its outcome; raise timeouts if the task needs longer."
        ),
        Error::WriteOutcomeUnknown { .. } => "Check obshell's unfinished tasks before applying again: `obshell task show` on a cluster node lists them.".to_owned(),
        Error::Config { .. } => "Correct the provider configuration.".to_owned(),
        _ => format!("Check obshell at {endpoint}, then run Terraform again."),
    }
}

/// What to do about a failed TLS handshake; nothing was sent.
fn tls_advice(failure: TlsFailure, endpoint: &str) -> String {
    match failure {
        TlsFailure::UntrustedCertificate => format!(
            "Nothing was sent. Set the provider's ca_certificate to the PEM certificate of the CA that signed the certificate of obshell at {endpoint}."
        ),
        TlsFailure::WrongHostName => format!(
            "Nothing was sent. The certificate of obshell at {endpoint} does not name that host: write the endpoint with a host name (or address) the certificate lists, or reissue the certificate for it."
        ),
        TlsFailure::CertificateOutOfDate => format!(
            "Nothing was sent. Renew the certificate of obshell at {endpoint}, or correct this machine's clock if it is wrong."
        ),
        TlsFailure::ClientCertificateRequired => format!(
            "Nothing was sent. obshell at {endpoint} requires mutual TLS: set the provider's client_certificate and client_key."
        ),
        TlsFailure::ClientCertificateRefused => format!(
            "Nothing was sent. obshell at {endpoint} does not accept the provider's client_certificate: use one signed by the CA obshell trusts for clients."
        ),
        _ => format!(
            "Nothing was sent. Check the TLS setup of obshell at {endpoint} and the provider's ca_certificate, client_certificate and client_key."
        ),
    }
}

/// The first letter upper-cased, except in "obshell", which is always spelled so.
fn sentence_case(text: &str) -> String {
    if text.starts_with("obshell") {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An error diagnostic for a failed obshell call: `summary` says which operation failed.
pub fn obshell_error(summary: &str, error: &Error, endpoint: &str) -> Diagnostic {
    let detail = sentence_case(&format!("{error}."));
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

    /// A reqwest error to carry in a transport error (the kind does not matter to the advice).
    fn some_reqwest_error() -> reqwest::Error {
        reqwest::Client::new()
            .get("http://[::1")
            .build()
            .expect_err("an invalid URL")
    }

    fn transport(method: &str, failure: TransportFailure) -> Error {
        Error::Transport {
            method: method.to_owned(),
            path: "/api/v1/tenants/overview".to_owned(),
            failure,
            source: some_reqwest_error(),
        }
    }

    #[test]
    fn obshell_is_never_capitalised() {
        let error = Error::Api {
            method: "GET".to_owned(),
            path: "/api/v1/tenants/overview".to_owned(),
            status: 500,
            code: None,
            err_code: None,
            message: "boom".to_owned(),
        };
        let diagnostic = obshell_error("Unable to read", &error, "http://h:1");
        assert!(
            diagnostic.detail.starts_with("obshell answered GET"),
            "{}",
            diagnostic.detail
        );
        assert!(!diagnostic.detail.contains("Obshell"));
        assert_eq!(sentence_case("stopped waiting"), "Stopped waiting");
    }

    #[test]
    fn a_read_that_failed_says_nothing_about_tasks_but_a_write_does() {
        for failure in [TransportFailure::Timeout, TransportFailure::Interrupted] {
            let read = obshell_error("Unable to read", &transport("GET", failure), "http://h:1");
            assert!(!read.detail.contains("task"), "{}", read.detail);
            let write = obshell_error(
                "Unable to update",
                &transport("PATCH", failure),
                "http://h:1",
            );
            assert!(
                write.detail.contains("a task it may have started"),
                "{}",
                write.detail
            );
        }
    }

    #[test]
    fn a_wrong_scheme_is_hinted_both_ways() {
        let not_tls = obshell_error(
            "Unable to read",
            &transport("GET", TransportFailure::NotTls),
            "https://h:2886",
        );
        assert!(
            not_tls.detail.contains("http:// instead of https://h:2886"),
            "{}",
            not_tls.detail
        );
        let plain_to_https = Error::Api {
            method: "GET".to_owned(),
            path: "/api/v1/info".to_owned(),
            status: 400,
            code: None,
            err_code: None,
            message: "the answer is not an obshell error: Client sent an HTTP request to an HTTPS server.".to_owned(),
        };
        let diagnostic = obshell_error("Unable to read", &plain_to_https, "http://h:2886");
        assert!(
            diagnostic
                .detail
                .contains("write the endpoint with https://"),
            "{}",
            diagnostic.detail
        );
        let broke = obshell_error(
            "Unable to read",
            &transport("GET", TransportFailure::Interrupted),
            "http://h:2886",
        );
        assert!(broke.detail.contains("serves HTTPS"), "{}", broke.detail);
    }

    #[test]
    fn a_server_that_is_not_obshell_is_named_with_port_2886() {
        let error = Error::NotObshell {
            endpoint: "http://h:80".to_owned(),
            answer: "it answered GET /api/v1/info with HTTP 404".to_owned(),
        };
        let diagnostic = obshell_error("Unable to read", &error, "http://h:80");
        assert!(diagnostic.detail.starts_with("The endpoint http://h:80 answers HTTP but is not obshell: it answered GET /api/v1/info with HTTP 404; obshell's HTTP port is 2886"), "{}", diagnostic.detail);
        assert!(
            diagnostic.detail.contains("http://10.0.0.1:2886"),
            "{}",
            diagnostic.detail
        );
    }

    #[test]
    fn an_unreachable_obshell_during_a_wait_says_how_to_check_the_dag() {
        let failing = Box::new(crate::obshell::PollFailures {
            since: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000),
            for_how_long: std::time::Duration::from_secs(300),
            last_error: "GET /api/v1/task/dag/142 to obshell failed: cannot connect".to_owned(),
        });
        let unreachable = Error::DagUnreachable {
            dag_id: crate::obshell::DagId::new("142"),
            last_state: Some(crate::obshell::DagState::Running),
            failing: failing.clone(),
        };
        let diagnostic = obshell_error("Unable to update", &unreachable, "http://h:1");
        for needle in [
            "obshell stopped answering while the provider waited for dag 142",
            "since 2026-05-28 20:26:40 UTC (5m ago)",
            "was RUNNING when last read and may still be running on obshell",
            "`obshell task show -i 142 -d`",
            "unreachable_timeout",
        ] {
            assert!(
                diagnostic.detail.contains(needle),
                "{needle:?} not in {}",
                diagnostic.detail
            );
        }
        assert!(!diagnostic.detail.contains("raise timeouts"));
        let timed_out = Error::DagWaitTimedOut {
            dag_id: crate::obshell::DagId::new("142"),
            last_state: Some(crate::obshell::DagState::Running),
            failing: Some(failing),
        };
        let diagnostic = obshell_error("Unable to update", &timed_out, "http://h:1");
        assert!(
            diagnostic
                .detail
                .contains("its last polls failed: every poll since 2026-05-28 20:26:40 UTC"),
            "{}",
            diagnostic.detail
        );
        assert!(
            !diagnostic.detail.contains("raise timeouts"),
            "{}",
            diagnostic.detail
        );
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

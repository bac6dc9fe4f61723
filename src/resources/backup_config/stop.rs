//! Stop means stop: every phase of an apply before its write runs under [`until_stopped`], which
//! races it against StopProvider (the session's cancellation token) and the operation's timeout
//! (`timeouts.create` / `timeouts.update`). A stop there ends the apply at once with
//! [`nothing_sent`]: no request that changes the cluster has gone out, so the caller returns the
//! prior state (a create: no object). A stop while the write itself is on its way is not
//! "nothing sent": see `ops::send_and_wait`.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::obshell::{Error, WaitOptions};
use crate::tf::Diagnostic;

/// Why a phase before the write ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// Terraform sent StopProvider (Ctrl-C).
    Cancelled,
    /// The apply's timeout passed.
    TimedOut,
}

impl Stopped {
    /// Whether `options` says stop now: StopProvider came, or the deadline has passed.
    pub(crate) fn now(options: &WaitOptions) -> Option<Stopped> {
        if options.cancel.is_cancelled() {
            Some(Stopped::Cancelled)
        } else if Instant::now() >= options.deadline {
            Some(Stopped::TimedOut)
        } else {
            None
        }
    }

    /// A DAG wait that ended because of this apply's own cancellation or deadline.
    pub(crate) fn from_wait(error: &Error) -> Option<Stopped> {
        match error {
            Error::DagWaitCancelled { .. } => Some(Stopped::Cancelled),
            Error::DagWaitTimedOut { failing: None, .. } => Some(Stopped::TimedOut),
            _ => None,
        }
    }
}

/// Runs `work` until it ends, StopProvider comes, or the deadline passes, whichever is first;
/// work cut short is dropped (the phases raced this way only read, or wait for a task this apply
/// did not start). A stop that is already due wins over work that is ready.
pub(crate) async fn until_stopped<T>(
    work: impl Future<Output = T>,
    options: &WaitOptions,
) -> Result<T, Stopped> {
    tokio::select! {
        biased;
        () = options.cancel.cancelled() => Err(Stopped::Cancelled),
        () = tokio::time::sleep_until(options.deadline) => Err(Stopped::TimedOut),
        done = work => Ok(done),
    }
}

/// The error of an apply stopped before its write: says plainly that nothing was sent, during
/// which phase it stopped, that the state is unchanged, and what to do.
pub(crate) fn nothing_sent(
    summary: &str,
    stopped: Stopped,
    phase: &str,
    endpoint: &str,
    is_create: bool,
    time_limit: Duration,
) -> Diagnostic {
    let (timeout_name, kept) = if is_create {
        ("timeouts.create", "No resource was created in the state.")
    } else {
        (
            "timeouts.update",
            "The state keeps the values from before this change.",
        )
    };
    let why = match stopped {
        Stopped::Cancelled => format!(
            "Terraform asked the provider to stop (StopProvider, e.g. Ctrl-C) while it was {phase}, before the change was sent."
        ),
        Stopped::TimedOut => format!(
            "{timeout_name} ({time_limit:?}) passed while the provider was {phase}, before the change was sent."
        ),
    };
    let next = match stopped {
        Stopped::Cancelled => "Run terraform apply again to send it.",
        Stopped::TimedOut => "Check obshell, or raise the timeout, and run terraform apply again.",
    };
    Diagnostic::error(
        summary,
        format!("{why} Nothing was sent to obshell at {endpoint}: the cluster is unchanged. {kept} {next}"),
    )
}

/// How long a write already on its way may still take to bring obshell's answer once a stop
/// comes: with the answer the DAG is known, and the apply records it for the next refresh like any
/// task it stopped following; without it the outcome is unknown.
pub(crate) const WRITE_ANSWER_GRACE: Duration = Duration::from_secs(2);

/// Runs a write (a request that starts a DAG) until its answer comes. When StopProvider or the
/// deadline comes first, the answer is still awaited for [`WRITE_ANSWER_GRACE`]; after that the
/// write is given up as [`Error::WriteOutcomeUnknown`]: the request may have reached obshell, so
/// this is never reported as "nothing sent".
pub(crate) async fn write_until_stopped<T>(
    write: impl Future<Output = Result<T, Error>>,
    options: &WaitOptions,
    method: &str,
    path: &str,
) -> Result<T, Error> {
    tokio::pin!(write);
    let stopped = tokio::select! {
        biased;
        answer = &mut write => return answer,
        () = options.cancel.cancelled() => Stopped::Cancelled,
        () = tokio::time::sleep_until(options.deadline) => Stopped::TimedOut,
    };
    match tokio::time::timeout(WRITE_ANSWER_GRACE, &mut write).await {
        Ok(answer) => answer,
        Err(_) => {
            tracing::warn!(
                method,
                path,
                ?stopped,
                "stopped while a write was on its way; its outcome is unknown"
            );
            Err(Error::WriteOutcomeUnknown {
                method: method.to_owned(),
                path: path.to_owned(),
                cause: match stopped {
                    Stopped::Cancelled => "Terraform asked the provider to stop (StopProvider, e.g. Ctrl-C) before obshell answered",
                    Stopped::TimedOut => "the apply's timeout passed before obshell answered",
                }
                .to_owned(),
                finding: "the request may have reached obshell and started its task, or not".to_owned(),
                candidates: Vec::new(),
            })
        }
    }
}

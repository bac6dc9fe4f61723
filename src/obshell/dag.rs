//! obshell DAGs (its asynchronous tasks): [`DagId`], [`DagState`], [`DagOperator`], [`Dag`], and
//! [`wait_for_dag`], the one waiter that polls `GET /api/v1/task/dag/{id}` until a DAG ends.
//!
//! See `obshell-api.md` §3 for the lifecycle and `ob/agent/engine/task/task_dto.go` for the shape.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::error::{redact_secrets, Error, PollFailures};

/// A DAG's generic id (`"1" + dag_id` for cluster DAGs), used in `/api/v1/task/dag/{id}`. Opaque.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DagId(String);

impl DagId {
    /// Wraps a generic id as obshell returned it.
    pub fn new(id: impl Into<String>) -> Self {
        DagId(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DagId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The state of a DAG, node or sub-task. `SUCCEED` and `FAILED` are terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DagState {
    /// Not yet ready to run.
    Pending,
    /// Waiting for the scheduler.
    Ready,
    /// Running.
    Running,
    /// Ended with an error.
    Failed,
    /// Ended; see the operator for whether the change was applied.
    Succeed,
    /// A state this client does not know, as obshell spelled it.
    Other(String),
}

impl DagState {
    fn parse(text: &str) -> Self {
        match text.to_ascii_uppercase().as_str() {
            "PENDING" => DagState::Pending,
            "READY" => DagState::Ready,
            "RUNNING" => DagState::Running,
            "FAILED" => DagState::Failed,
            "SUCCEED" => DagState::Succeed,
            _ => DagState::Other(text.to_owned()),
        }
    }

    /// Whether this state is terminal (`SUCCEED` or `FAILED`).
    pub fn is_finished(&self) -> bool {
        matches!(self, DagState::Succeed | DagState::Failed)
    }
}

impl fmt::Display for DagState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DagState::Pending => "PENDING",
            DagState::Ready => "READY",
            DagState::Running => "RUNNING",
            DagState::Failed => "FAILED",
            DagState::Succeed => "SUCCEED",
            DagState::Other(text) => text,
        })
    }
}

/// A DAG operator: how the DAG is being driven, and the body of `POST /api/v1/task/dag/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DagOperator {
    /// Normal execution.
    Run,
    /// Re-run a failed DAG from its failed node.
    Retry,
    /// Undo a failed DAG's nodes.
    Rollback,
    /// Cancel an unfinished DAG.
    Cancel,
    /// Mark a failed DAG as done without running its failed node.
    Pass,
    /// An operator this client does not know, as obshell spelled it.
    Other(String),
}

impl DagOperator {
    fn parse(text: &str) -> Self {
        match text.to_ascii_uppercase().as_str() {
            "RUN" => DagOperator::Run,
            "RETRY" => DagOperator::Retry,
            "ROLLBACK" => DagOperator::Rollback,
            "CANCEL" => DagOperator::Cancel,
            "PASS" => DagOperator::Pass,
            _ => DagOperator::Other(text.to_owned()),
        }
    }
}

impl fmt::Display for DagOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DagOperator::Run => "RUN",
            DagOperator::Retry => "RETRY",
            DagOperator::Rollback => "ROLLBACK",
            DagOperator::Cancel => "CANCEL",
            DagOperator::Pass => "PASS",
            DagOperator::Other(text) => text,
        })
    }
}

/// A DAG as `GET /api/v1/task/dag/{id}` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dag {
    /// The generic id, for `/api/v1/task/dag/{id}`.
    pub id: DagId,
    /// The numeric DAG id inside obshell's table.
    pub dag_id: i64,
    /// The DAG's name, e.g. `Set obcluster backup config`.
    pub name: String,
    /// The current state.
    pub state: DagState,
    /// The current operator.
    pub operator: DagOperator,
    /// The current stage (1-based node index).
    pub stage: i64,
    /// The number of stages.
    pub max_stage: i64,
    /// When the DAG started, if obshell has set it.
    pub start_time: Option<SystemTime>,
    /// When the DAG ended, if it has.
    pub end_time: Option<SystemTime>,
    /// The nodes, when obshell sent details.
    pub nodes: Vec<DagNode>,
    /// True when the write's own answer was lost and the lost-write search found this DAG
    /// instead: the only DAG of the write's name that started after it, which may still be
    /// another client's (its request may have started nothing). Whoever acts on the DAG's outcome
    /// must check its effect on the cluster first.
    pub found_by_search: bool,
}

/// One node (stage) of a DAG.
#[derive(Debug, Clone, PartialEq)]
pub struct DagNode {
    /// The node's generic id.
    pub id: String,
    /// The node's name, e.g. `Check backup config`.
    pub name: String,
    /// The node's state.
    pub state: DagState,
    /// The node's operator.
    pub operator: DagOperator,
    /// The node's sub-tasks.
    pub sub_tasks: Vec<SubTask>,
}

/// One sub-task of a node, run by one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct SubTask {
    /// The sub-task's generic id.
    pub id: String,
    /// The sub-task's name.
    pub name: String,
    /// The sub-task's state.
    pub state: DagState,
    /// The sub-task's operator.
    pub operator: DagOperator,
    /// The agent that runs it, as `ip:port`, when known.
    pub execute_agent: Option<String>,
    /// The task log lines, oldest first, with storage credentials masked.
    pub task_logs: Vec<String>,
}

/// Where and why a DAG failed, as far as its details tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagFailure {
    /// The failed node's name.
    pub node: Option<String>,
    /// The failed sub-task's name.
    pub sub_task: Option<String>,
    /// The failed sub-task's last non-empty log line, e.g. `ERROR: [MySQL.Error]: ...` (≥ 4.3.1) or
    /// `ERROR: ...` (≤ 4.3.0).
    pub last_log: Option<String>,
}

impl Dag {
    /// Whether the DAG has ended (`SUCCEED` or `FAILED`).
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// Whether the DAG applied its change: `SUCCEED` with operator `RUN` or `RETRY`. `SUCCEED` with
    /// `ROLLBACK` or `PASS` means it was not applied.
    pub fn is_success(&self) -> bool {
        self.state == DagState::Succeed
            && matches!(self.operator, DagOperator::Run | DagOperator::Retry)
    }

    /// Whether an operator reset the DAG's times: RETRY, ROLLBACK and CANCEL write the Unix epoch
    /// into start and end (`updateDagOperator`), and the end stays there until the DAG ends again.
    /// A DAG that has only run since it was created never shows the epoch (a new row starts and
    /// ends at its insert time).
    pub fn was_reset(&self) -> bool {
        !self.is_finished()
            && (self.end_time == Some(SystemTime::UNIX_EPOCH)
                || self.start_time == Some(SystemTime::UNIX_EPOCH))
    }

    /// The node that is running or failed, to report progress.
    pub fn current_node(&self) -> Option<&DagNode> {
        let by_stage = usize::try_from(self.stage)
            .ok()
            .and_then(|stage| stage.checked_sub(1));
        by_stage
            .and_then(|idx| self.nodes.get(idx))
            .or_else(|| self.nodes.iter().find(|node| !node.state.is_finished()))
    }

    /// The first failed node, its first failed sub-task and that sub-task's last log line.
    pub fn failure(&self) -> DagFailure {
        let node = self
            .nodes
            .iter()
            .find(|node| node.state == DagState::Failed)
            .or_else(|| {
                self.nodes.iter().find(|node| {
                    node.sub_tasks
                        .iter()
                        .any(|task| task.state == DagState::Failed)
                })
            });
        let Some(node) = node else {
            return DagFailure {
                node: None,
                sub_task: None,
                last_log: None,
            };
        };
        let sub_task = node
            .sub_tasks
            .iter()
            .find(|task| task.state == DagState::Failed)
            .or_else(|| {
                node.sub_tasks
                    .iter()
                    .rev()
                    .find(|task| !task.task_logs.is_empty())
            });
        DagFailure {
            node: Some(node.name.clone()),
            sub_task: sub_task.map(|task| task.name.clone()),
            last_log: sub_task.and_then(|task| {
                task.task_logs
                    .iter()
                    .rev()
                    .map(|line| line.trim())
                    .find(|line| !line.is_empty())
                    .map(str::to_owned)
            }),
        }
    }

    /// The error for a DAG that ended without applying its change.
    fn failed_error(&self) -> Error {
        Error::DagFailed {
            dag_id: self.id.clone(),
            dag_name: self.name.clone(),
            state: self.state.clone(),
            operator: self.operator.clone(),
            failure: Box::new(self.failure()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Wire format (`task.DagDetailDTO`), private to the module.

#[derive(Deserialize)]
pub(crate) struct DagDto {
    id: String,
    #[serde(default)]
    dag_id: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    stage: i64,
    #[serde(default)]
    max_stage: i64,
    state: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    nodes: Option<Vec<NodeDto>>,
}

#[derive(Deserialize)]
struct NodeDto {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    sub_tasks: Option<Vec<SubTaskDto>>,
}

#[derive(Deserialize)]
struct SubTaskDto {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    execute_agent: Option<AgentDto>,
    #[serde(default)]
    task_logs: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct AgentDto {
    #[serde(default)]
    ip: String,
    #[serde(default)]
    port: i64,
}

impl From<DagDto> for Dag {
    fn from(dto: DagDto) -> Self {
        Dag {
            id: DagId(dto.id),
            dag_id: dto.dag_id,
            name: dto.name,
            state: DagState::parse(&dto.state),
            operator: DagOperator::parse(&dto.operator),
            stage: dto.stage,
            max_stage: dto.max_stage,
            start_time: dto.start_time.as_deref().and_then(parse_go_time),
            end_time: dto.end_time.as_deref().and_then(parse_go_time),
            nodes: dto
                .nodes
                .unwrap_or_default()
                .into_iter()
                .map(DagNode::from)
                .collect(),
            found_by_search: false,
        }
    }
}

impl From<NodeDto> for DagNode {
    fn from(dto: NodeDto) -> Self {
        DagNode {
            id: dto.id,
            name: dto.name,
            state: DagState::parse(&dto.state),
            operator: DagOperator::parse(&dto.operator),
            sub_tasks: dto
                .sub_tasks
                .unwrap_or_default()
                .into_iter()
                .map(SubTask::from)
                .collect(),
        }
    }
}

impl From<SubTaskDto> for SubTask {
    fn from(dto: SubTaskDto) -> Self {
        SubTask {
            id: dto.id,
            name: dto.name,
            state: DagState::parse(&dto.state),
            operator: DagOperator::parse(&dto.operator),
            execute_agent: dto
                .execute_agent
                .filter(|agent| !agent.ip.is_empty())
                .map(|agent| format!("{}:{}", agent.ip, agent.port)),
            task_logs: dto
                .task_logs
                .unwrap_or_default()
                .iter()
                .map(|line| redact_secrets(line))
                .collect(),
        }
    }
}

/// Parses an RFC 3339 time as Go marshals it; Go's zero time (year 1) means "not set".
pub(crate) fn parse_go_time(text: &str) -> Option<SystemTime> {
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    if parsed.year() <= 1 {
        return None;
    }
    Some(SystemTime::from(parsed))
}

// ---------------------------------------------------------------------------------------------
// The waiter.

/// How long and under which cancellation [`wait_for_dag`] waits. There is no default: every wait
/// on obshell has a deadline chosen by its caller.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// When to stop waiting.
    pub deadline: Instant,
    /// Cancelling this token stops the wait (not the DAG).
    pub cancel: CancellationToken,
}

impl WaitOptions {
    /// Options with a deadline and a cancellation token.
    pub fn new(deadline: Instant, cancel: CancellationToken) -> Self {
        WaitOptions { deadline, cancel }
    }
}

/// The shortest pause between two polls.
const POLL_FLOOR: Duration = Duration::from_millis(100);
/// The longest pause between two polls.
const POLL_CEILING: Duration = Duration::from_secs(30);

/// The pause before the next poll, as a pure function of the time since the wait began: 4% of the
/// elapsed time, at least 100 ms and at most 30 s. A DAG's end is therefore noticed within about
/// 5% of its running time (within 200 ms for DAGs under 5 s, plus one request's latency), and an
/// hour-long DAG costs about 270 polls (a fixed 3 s interval costs 1,200).
pub fn poll_interval(elapsed: Duration) -> Duration {
    (elapsed / 25).clamp(POLL_FLOOR, POLL_CEILING)
}

/// Waits until the DAG `dag_id` ends, polling `GET /api/v1/task/dag/{id}` on the schedule of
/// [`poll_interval`], and reports progress (state, stage/max_stage, node name) through `tracing`.
///
/// Returns the final [`Dag`] when it ended `SUCCEED` with operator `RUN` or `RETRY`.
///
/// # Errors
/// - [`Error::DagFailed`] when the DAG ends `FAILED`, or `SUCCEED` with operator `ROLLBACK` or
///   `PASS` (its change was not applied); it names the DAG, the failed node and sub-task and the
///   last task log line.
/// - [`Error::DagWaitCancelled`] when `options.cancel` is cancelled, at once, even mid-request.
/// - [`Error::DagWaitTimedOut`] when `options.deadline` passes, with the last state seen and,
///   when the last polls failed, since when and why.
/// - [`Error::DagWaitFailed`], naming the DAG and carrying the poll error, when polling fails
///   with an error that is not transient (e.g. a 500, 404 `Task.NotFound`, 401). Transient faults
///   (connection errors, timeouts, 502/503/504) are logged and polling goes on.
/// - [`Error::DagUnreachable`] when every poll has failed with a transient fault for the client's
///   [`unreachable_limit`](super::ClientBuilder::unreachable_limit): obshell stopped answering,
///   and the error says since when. A successful poll starts the count again.
///
/// # Caveats
/// Cancelling the wait, missing the deadline or a failed poll stops the wait, not the DAG: it continues on
/// obshell, and the errors say so. Operate it with [`Client::operate_dag`] if it must stop.
pub async fn wait_for_dag(
    client: &Client,
    dag_id: &DagId,
    options: &WaitOptions,
) -> Result<Dag, Error> {
    let started = Instant::now();
    let mut last_state: Option<DagState> = None;
    // The run of failed polls going on: when its first poll started (monotonic, and wall-clock
    // for the message) and the last error.
    let mut failing: Option<(Instant, SystemTime, String)> = None;
    let failures = |failing: &Option<(Instant, SystemTime, String)>| {
        failing.as_ref().map(|(began, since, last_error)| {
            Box::new(PollFailures {
                since: *since,
                for_how_long: began.elapsed(),
                last_error: last_error.clone(),
            })
        })
    };
    let mut last_progress: Option<(DagState, i64, String)> = None;
    let mut n_polls: u32 = 0;
    loop {
        n_polls += 1;
        let poll_began = (Instant::now(), SystemTime::now());
        let poll = tokio::select! {
            biased;
            () = options.cancel.cancelled() => return Err(Error::DagWaitCancelled { dag_id: dag_id.clone() }),
            () = tokio::time::sleep_until(options.deadline) => {
                return Err(Error::DagWaitTimedOut { dag_id: dag_id.clone(), last_state, failing: failures(&failing) });
            }
            poll = client.get_dag(dag_id) => poll,
        };
        match poll {
            Ok(dag) => {
                if let Some((began, _, _)) = failing.take() {
                    tracing::info!(dag_id = %dag.id, failed_for_ms = began.elapsed().as_millis() as u64, "obshell answers the dag's polls again");
                }
                let node_name = dag
                    .current_node()
                    .map(|node| node.name.clone())
                    .unwrap_or_default();
                let progress = (dag.state.clone(), dag.stage, node_name);
                if last_progress.as_ref() != Some(&progress) {
                    tracing::info!(
                        dag_id = %dag.id,
                        dag_name = %dag.name,
                        state = %dag.state,
                        operator = %dag.operator,
                        stage = dag.stage,
                        max_stage = dag.max_stage,
                        node = %progress.2,
                        "dag progress"
                    );
                    last_progress = Some(progress);
                }
                last_state = Some(dag.state.clone());
                if dag.is_finished() {
                    tracing::debug!(dag_id = %dag.id, n_polls, elapsed_ms = started.elapsed().as_millis() as u64, "dag ended");
                    if dag.is_success() {
                        return Ok(dag);
                    }
                    return Err(dag.failed_error());
                }
            }
            Err(error) if error.is_transient() => {
                let (began, _, last_error) =
                    failing.get_or_insert_with(|| (poll_began.0, poll_began.1, String::new()));
                *last_error = error.to_string();
                let failed_for = began.elapsed();
                let limit = client.unreachable_limit();
                if failed_for >= limit {
                    tracing::warn!(dag_id = %dag_id, error = %error, failed_for_ms = failed_for.as_millis() as u64, "obshell stopped answering the dag's polls; no longer waiting");
                    return Err(Error::DagUnreachable {
                        dag_id: dag_id.clone(),
                        last_state,
                        failing: failures(&failing).expect("a failure was just recorded"),
                    });
                }
                tracing::warn!(dag_id = %dag_id, error = %error, failed_for_ms = failed_for.as_millis() as u64, limit_ms = limit.as_millis() as u64, "polling the dag failed; polling goes on");
            }
            Err(error) => {
                tracing::warn!(dag_id = %dag_id, error = %error, "polling the dag failed; no longer following it");
                return Err(Error::DagWaitFailed {
                    dag_id: dag_id.clone(),
                    cause: Box::new(error),
                });
            }
        }
        let next_poll = Instant::now() + poll_interval(started.elapsed());
        tokio::select! {
            biased;
            () = options.cancel.cancelled() => return Err(Error::DagWaitCancelled { dag_id: dag_id.clone() }),
            () = tokio::time::sleep_until(options.deadline.min(next_poll)) => {}
        }
        if Instant::now() >= options.deadline {
            return Err(Error::DagWaitTimedOut {
                dag_id: dag_id.clone(),
                last_state,
                failing: failures(&failing),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag_from(json: serde_json::Value) -> Dag {
        Dag::from(serde_json::from_value::<DagDto>(json).unwrap())
    }

    fn failed_dag_json(log_line: &str) -> serde_json::Value {
        serde_json::json!({
            "id": "17", "dag_id": 7, "name": "Set obcluster backup config", "stage": 2, "max_stage": 2,
            "maintenance_type": 1, "maintenance_key": "", "state": "FAILED", "operator": "RUN",
            "start_time": "2026-05-08T10:11:12.5+08:00", "end_time": "2026-05-08T10:11:20+08:00",
            "additional_data": null,
            "nodes": [
                {"id": "11", "node_id": 1, "name": "Check backup config", "state": "SUCCEED", "operator": "RUN",
                 "start_time": "0001-01-01T00:00:00Z", "end_time": "0001-01-01T00:00:00Z", "additional_data": null,
                 "sub_tasks": [{"id": "11", "task_id": 1, "name": "Check backup config", "state": "SUCCEED", "operator": "RUN",
                   "start_time": "0001-01-01T00:00:00Z", "end_time": "0001-01-01T00:00:00Z", "additional_data": null,
                   "execute_times": 1, "execute_agent": {"ip": "10.0.0.1", "port": 2886}, "task_logs": ["ok"]}]},
                {"id": "12", "node_id": 2, "name": "Set backup config", "state": "FAILED", "operator": "RUN",
                 "start_time": "0001-01-01T00:00:00Z", "end_time": "0001-01-01T00:00:00Z", "additional_data": null,
                 "sub_tasks": [{"id": "12", "task_id": 2, "name": "Set backup config", "state": "FAILED", "operator": "RUN",
                   "start_time": "0001-01-01T00:00:00Z", "end_time": "0001-01-01T00:00:00Z", "additional_data": null,
                   "execute_times": 1, "execute_agent": {"ip": "10.0.0.1", "port": 2886},
                   "task_logs": ["URI is 'oss://b/k?host=h&access_key=SECRET'", log_line, ""]}]}
            ]
        })
    }

    #[test]
    fn decodes_a_failed_dag_and_names_the_failure() {
        let dag = dag_from(failed_dag_json(
            "ERROR: [MySQL.Error]: MySQL error: set archive lag target for t1(1002): bad",
        ));
        assert_eq!(dag.id.as_str(), "17");
        assert_eq!(dag.state, DagState::Failed);
        assert!(dag.is_finished());
        assert!(!dag.is_success());
        assert!(dag.start_time.is_some());
        assert_eq!(
            dag.nodes[0].sub_tasks[0].execute_agent.as_deref(),
            Some("10.0.0.1:2886")
        );
        assert_eq!(
            dag.nodes[1].sub_tasks[0].task_logs[0],
            "URI is 'oss://b/k?host=h&access_key=***'"
        );
        let failure = dag.failure();
        assert_eq!(failure.node.as_deref(), Some("Set backup config"));
        assert_eq!(failure.sub_task.as_deref(), Some("Set backup config"));
        assert_eq!(
            failure.last_log.as_deref(),
            Some("ERROR: [MySQL.Error]: MySQL error: set archive lag target for t1(1002): bad")
        );
        assert_eq!(
            dag.failed_error().to_string(),
            "dag 17 (Set obcluster backup config) ended FAILED with operator RUN in node \"Set backup config\", \
             sub-task \"Set backup config\": ERROR: [MySQL.Error]: MySQL error: set archive lag target for t1(1002): bad"
        );
    }

    #[test]
    fn legacy_failure_lines_are_reported_as_they_are() {
        let dag = dag_from(failed_dag_json("ERROR: invalid path type"));
        assert_eq!(
            dag.failure().last_log.as_deref(),
            Some("ERROR: invalid path type")
        );
    }

    #[test]
    fn success_needs_run_or_retry() {
        for (operator, success) in [
            ("RUN", true),
            ("RETRY", true),
            ("ROLLBACK", false),
            ("PASS", false),
        ] {
            let dag = dag_from(serde_json::json!({
                "id": "12", "dag_id": 2, "name": "Set obcluster backup config", "stage": 2, "max_stage": 2,
                "state": "SUCCEED", "operator": operator, "start_time": "0001-01-01T00:00:00Z",
                "end_time": "0001-01-01T00:00:00Z", "nodes": null
            }));
            assert_eq!(dag.is_success(), success, "{operator}");
            assert!(dag.start_time.is_none(), "Go's zero time means unset");
            if !success {
                assert_eq!(
                    dag.failed_error().to_string(),
                    format!("dag 12 (Set obcluster backup config) ended SUCCEED with operator {operator}, so its change was not applied")
                );
            }
        }
    }

    /// Each spelling parses to its value, which writes itself back in upper case.
    fn check_spellings<T: PartialEq + fmt::Debug + fmt::Display>(
        parse: fn(&str) -> T,
        cases: Vec<(&str, T)>,
    ) {
        for (text, value) in cases {
            assert_eq!(parse(text), value, "{text}");
            assert_eq!(value.to_string(), text.to_ascii_uppercase());
        }
    }

    #[test]
    fn every_state_and_operator_obshell_writes_has_its_variant() {
        // Code matching on a variant (a pending DAG, a cancelled one) must see it, whatever the
        // case obshell spells it in; only unknown spellings are `Other`, kept as they came.
        check_spellings(
            DagState::parse,
            vec![
                ("PENDING", DagState::Pending),
                ("READY", DagState::Ready),
                ("RUNNING", DagState::Running),
                ("FAILED", DagState::Failed),
                ("SUCCEED", DagState::Succeed),
                ("succeed", DagState::Succeed),
                ("PAUSED", DagState::Other("PAUSED".into())),
            ],
        );
        check_spellings(
            DagOperator::parse,
            vec![
                ("RUN", DagOperator::Run),
                ("RETRY", DagOperator::Retry),
                ("ROLLBACK", DagOperator::Rollback),
                ("CANCEL", DagOperator::Cancel),
                ("PASS", DagOperator::Pass),
                ("pass", DagOperator::Pass),
                ("SKIP", DagOperator::Other("SKIP".into())),
            ],
        );
    }

    fn node_json(name: &str, state: &str, sub_tasks: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"id": name, "node_id": 1, "name": name, "state": state, "operator": "RUN",
            "start_time": "0001-01-01T00:00:00Z", "end_time": "0001-01-01T00:00:00Z", "sub_tasks": sub_tasks})
    }

    /// A sub-task of a node run on every agent: obshell names them all after the node.
    fn sub_task_json(ip: &str, state: &str, logs: &[&str]) -> serde_json::Value {
        serde_json::json!({"id": ip, "task_id": 1, "name": "Set backup config", "state": state,
            "operator": "RUN", "start_time": "0001-01-01T00:00:00Z", "end_time": "0001-01-01T00:00:00Z",
            "execute_times": 1, "execute_agent": {"ip": ip, "port": 2886}, "task_logs": logs})
    }

    fn dag_with(stage: i64, state: &str, nodes: Vec<serde_json::Value>) -> Dag {
        dag_from(serde_json::json!({
            "id": "21", "dag_id": 21, "name": "Set obcluster backup config", "stage": stage,
            "max_stage": nodes.len(), "state": state, "operator": "RUN",
            "start_time": "0001-01-01T00:00:00Z", "end_time": "0001-01-01T00:00:00Z", "nodes": nodes
        }))
    }

    /// A failed DAG whose one node, `Set backup config`, failed with these sub-tasks.
    fn one_failed_node(sub_tasks: serde_json::Value) -> Dag {
        dag_with(
            1,
            "FAILED",
            vec![node_json("Set backup config", "FAILED", sub_tasks)],
        )
    }

    #[test]
    fn the_current_node_is_the_stage_or_else_the_first_unfinished_one() {
        let nodes = || {
            vec![
                node_json("Check backup config", "SUCCEED", serde_json::json!([])),
                node_json("Set backup config", "RUNNING", serde_json::json!([])),
                node_json("Report", "PENDING", serde_json::json!([])),
            ]
        };
        let current = |dag: &Dag| dag.current_node().map(|node| node.name.clone());
        assert_eq!(
            current(&dag_with(3, "RUNNING", nodes())).as_deref(),
            Some("Report")
        );
        // A stage obshell has not set (0) or one past the nodes: the first node still running.
        for stage in [0, 9] {
            assert_eq!(
                current(&dag_with(stage, "RUNNING", nodes())).as_deref(),
                Some("Set backup config"),
                "stage {stage}"
            );
        }
    }

    #[test]
    fn the_failure_is_the_failed_agents_even_when_another_agent_logged_later() {
        // One sub-task per agent: the first failed, the second succeeded and logged after it.
        let dag = one_failed_node(serde_json::json!([
            sub_task_json("10.0.0.1", "FAILED", &["ERROR: disk full", ""]),
            sub_task_json("10.0.0.2", "SUCCEED", &["ok"]),
        ]));
        let failure = dag.failure();
        assert_eq!(failure.sub_task.as_deref(), Some("Set backup config"));
        assert_eq!(failure.last_log.as_deref(), Some("ERROR: disk full"));
    }

    #[test]
    fn a_failed_node_without_a_failed_sub_task_reports_the_last_sub_task_that_logged() {
        let dag = one_failed_node(serde_json::json!([
            sub_task_json("10.0.0.1", "SUCCEED", &["first"]),
            sub_task_json("10.0.0.2", "SUCCEED", &["ERROR: timeout"]),
            sub_task_json("10.0.0.3", "RUNNING", &[]),
        ]));
        let failure = dag.failure();
        assert_eq!(failure.node.as_deref(), Some("Set backup config"));
        assert_eq!(failure.sub_task.as_deref(), Some("Set backup config"));
        assert_eq!(failure.last_log.as_deref(), Some("ERROR: timeout"));
    }

    #[test]
    fn a_reset_is_an_unfinished_dag_with_a_time_at_the_unix_epoch() {
        // RETRY, ROLLBACK and CANCEL write the Unix epoch into the times; Go's zero time (year 1)
        // is a DAG that has not started.
        let dag = |state: &str, start: &str, end: &str| {
            dag_from(serde_json::json!({
                "id": "31", "dag_id": 31, "name": "Set obcluster backup config", "stage": 1,
                "max_stage": 2, "state": state, "operator": "RETRY", "start_time": start,
                "end_time": end, "nodes": null
            }))
        };
        let (epoch, zero, when) = (
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "2026-05-08T10:11:12+08:00",
        );
        for (state, start, end, reset) in [
            ("RUNNING", when, epoch, true),
            ("READY", epoch, zero, true),
            ("RUNNING", epoch, epoch, true),
            ("RUNNING", when, zero, false),
            ("PENDING", zero, zero, false),
            ("SUCCEED", epoch, epoch, false),
            ("FAILED", when, epoch, false),
        ] {
            let dag = dag(state, start, end);
            assert_eq!(dag.was_reset(), reset, "{state} {start} {end}");
            assert_eq!(
                dag.is_finished(),
                state == "SUCCEED" || state == "FAILED",
                "{state}"
            );
        }
    }

    #[test]
    fn a_failed_sub_task_names_its_node_before_obshell_marks_the_node_failed() {
        let dag = dag_with(
            2,
            "RUNNING",
            vec![
                node_json(
                    "Check backup config",
                    "SUCCEED",
                    serde_json::json!([sub_task_json("10.0.0.1", "SUCCEED", &["ok"])]),
                ),
                node_json(
                    "Set backup config",
                    "RUNNING",
                    serde_json::json!([
                        sub_task_json("10.0.0.1", "SUCCEED", &["done"]),
                        sub_task_json("10.0.0.2", "FAILED", &["ERROR: no such bucket"]),
                    ]),
                ),
            ],
        );
        let failure = dag.failure();
        assert_eq!(failure.node.as_deref(), Some("Set backup config"));
        assert_eq!(failure.last_log.as_deref(), Some("ERROR: no such bucket"));
    }

    #[test]
    fn poll_schedule_is_fast_early_and_sparse_late() {
        assert_eq!(poll_interval(Duration::ZERO), Duration::from_millis(100));
        assert_eq!(
            poll_interval(Duration::from_secs(5)),
            Duration::from_millis(200)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(100)),
            Duration::from_secs(4)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(7200)),
            Duration::from_secs(30)
        );

        // Walk the schedule over an hour: count polls and the worst lag for a DAG ending at any time.
        let hour = Duration::from_secs(3600);
        let mut now = Duration::ZERO;
        let mut n_polls = 0;
        while now < hour {
            let next = now + poll_interval(now);
            // A DAG that ends just after `now` is noticed at `next`.
            let lag = next - now;
            assert!(
                lag <= Duration::from_millis(250) || lag.as_secs_f64() <= 0.05 * now.as_secs_f64(),
                "lag {lag:?} at {now:?}"
            );
            if now < Duration::from_secs(5) {
                assert!(
                    lag <= Duration::from_millis(250),
                    "short dags are noticed within 250 ms"
                );
            }
            now = next;
            n_polls += 1;
        }
        assert!(n_polls <= 400, "{n_polls} polls over an hour");
        assert!(
            n_polls >= 100,
            "the schedule is not trivially sparse: {n_polls}"
        );
    }
}

#[cfg(test)]
mod hostile_input {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

    proptest! {
        /// Any JSON where a DAG belongs: decoded and converted, or a decode error; never a panic.
        #[test]
        fn arbitrary_dag_json_never_panics(json in hostile::json(), text in ".{0,40}") {
            if let Ok(dto) = serde_json::from_value::<DagDto>(json) {
                let _ = Dag::from(dto);
            }
            let _ = parse_go_time(&text);
        }
    }
}

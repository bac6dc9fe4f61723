//! The DAG engine: creating the backup DAGs, running their nodes on tokio tasks with the
//! configured duration, applying their effects to the tenants, and the four operators.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::api_error::{ApiError, Era};
use crate::backup_param::{
    oceanbase_accepts_lag_target, oceanbase_accepts_recovery_window, parse_storage_uri, ValidConfig,
};
use crate::faults::DagFault;
use crate::state::{ArchiveDest, BackupTask, Dag, DagKind, Node, Shared, State, SubTask, Tenant};

/// Node 1 of the backup-config DAG.
pub(crate) const CHECK_NODE: &str = "Check backup config";
/// Node 2 of the backup-config DAG.
pub(crate) const SET_NODE: &str = "Set backup config";
/// The cluster backup-config DAG's name.
pub(crate) const BACKUP_CONFIG_DAG: &str = "Set obcluster backup config";

/// Nodes of the start-backup DAG, in order.
const BACKUP_NODES: [&str; 4] = [
    "Check destination",
    "Open archive log",
    "Start backup",
    "Wait backup Finish",
];

/// Why a node failed: the error code and the wrap chain of each era.
struct NodeFailure {
    code: String,
    chain: String,
    legacy_chain: String,
}

impl NodeFailure {
    fn mysql(context: &str, driver_text: &str) -> Self {
        Self {
            code: "MySQL.Error".to_owned(),
            chain: format!("MySQL error: {context}: {driver_text}"),
            legacy_chain: format!("{context}: {driver_text}"),
        }
    }
}

/// What RETRY, ROLLBACK and CANCEL write into a row's start and end: Go's `time.Unix(0, 0)`
/// (`ZERO_TIME`, `ob/agent/service/task/dag.go`), which reads back as the Unix epoch.
const RESET_TIME: Option<SystemTime> = Some(UNIX_EPOCH);

/// A new node row and its sub-task row: OceanBase defaults both start and end to the insert
/// time (`CURRENT_TIMESTAMP(6)`).
fn new_node(state: &mut State, name: &'static str, can_rollback: bool) -> Node {
    let inserted = Some(state.db_now());
    let node_id = state.next_node_id;
    state.next_node_id += 1;
    let task_id = state.next_task_id;
    state.next_task_id += 1;
    Node {
        node_id,
        name,
        state: "PENDING",
        operator: "RUN",
        start_time: inserted,
        end_time: inserted,
        can_rollback,
        sub_tasks: vec![SubTask {
            task_id,
            name,
            state: "PENDING",
            operator: "RUN",
            start_time: inserted,
            end_time: inserted,
            execute_times: 0,
            logs: Vec::new(),
        }],
    }
}

fn push_dag(
    state: &mut State,
    name: String,
    kind: DagKind,
    nodes: Vec<Node>,
    request: Value,
) -> i64 {
    let dag_id = state.next_dag_id;
    state.next_dag_id += 1;
    // Like every task row, start and end default to the insert time.
    let inserted = Some(state.db_now());
    state.dags.push(Dag {
        dag_id,
        name,
        kind,
        state: "READY",
        operator: "RUN",
        stage: 1,
        start_time: inserted,
        end_time: inserted,
        nodes,
        request,
        generation: 0,
        held: false,
        fault: None,
        maintenance_tenant: None,
    });
    dag_id
}

/// Creates a "Set obcluster backup config" DAG (READY/RUN, stage 1 of 2), consuming the next
/// injected DAG fault and hold. `name` overrides the DAG name (for control-started DAGs).
pub(crate) fn create_backup_config_dag(
    state: &mut State,
    config: ValidConfig,
    request: Value,
    name: Option<String>,
    held: bool,
) -> i64 {
    let nodes = vec![
        new_node(state, CHECK_NODE, true),
        new_node(state, SET_NODE, false),
    ];
    // A control-started (held) DAG does not consume the faults meant for the clients' DAGs.
    let (fault, held) = if held {
        (None, true)
    } else {
        let take_hold = state.hold_count > 0;
        state.hold_count = state.hold_count.saturating_sub(1);
        (state.dag_faults.pop_front(), take_hold)
    };
    // The tenant-level variant is "Set obcluster backup config for <tenant>", a
    // tenant-maintenance DAG.
    let tenant = config.tenant.as_ref().map(|t| t.name.clone());
    let name = name.unwrap_or_else(|| match &tenant {
        Some(tenant) => format!("{BACKUP_CONFIG_DAG} for {tenant}"),
        None => BACKUP_CONFIG_DAG.to_owned(),
    });
    let dag_id = push_dag(
        state,
        name,
        DagKind::BackupConfig(Box::new(config)),
        nodes,
        request,
    );
    let dag = state.dag_mut(dag_id).expect("just created");
    dag.fault = fault;
    dag.held = held;
    dag.maintenance_tenant = tenant;
    dag_id
}

/// Creates a start-backup DAG for `mode` ("full" or "incremental").
pub(crate) fn create_start_backup_dag(state: &mut State, mode: &str, request: Value) -> i64 {
    let nodes = BACKUP_NODES
        .iter()
        .map(|name| new_node(state, name, false))
        .collect();
    let name = if mode == "full" {
        "Obcluster start full backup"
    } else {
        "Obcluster start increment backup"
    };
    push_dag(state, name.to_owned(), DagKind::StartBackup, nodes, request)
}

/// Starts (or resumes, after RETRY/ROLLBACK) the DAG on a tokio task.
pub(crate) fn spawn_run(shared: Arc<Shared>, dag_id: i64) {
    let generation = match shared.lock().dag_mut(dag_id) {
        Some(dag) => dag.generation,
        None => return,
    };
    tokio::spawn(run(shared, dag_id, generation));
}

/// Runs `f` on the DAG if it still has `generation`; `None` when an operator or reset took over.
fn with_dag<T>(
    shared: &Shared,
    dag_id: i64,
    generation: u64,
    f: impl FnOnce(&mut State, usize) -> T,
) -> Option<T> {
    let mut state = shared.lock();
    let index = state
        .dags
        .iter()
        .position(|d| d.dag_id == dag_id && d.generation == generation)?;
    Some(f(&mut state, index))
}

async fn run(shared: Arc<Shared>, dag_id: i64, generation: u64) {
    let operator = with_dag(&shared, dag_id, generation, |state, index| {
        // updateDagState(RUNNING) stamps the start; the end keeps the insert time (or the
        // epoch after an operator) until the DAG ends.
        let now = state.db_now();
        let dag = &mut state.dags[index];
        dag.state = "RUNNING";
        dag.start_time = Some(now);
        dag.operator
    });
    match operator {
        None => return,
        Some("ROLLBACK") => return roll_back(shared, dag_id, generation).await,
        Some("CANCEL") => return finish_cancel(shared, dag_id, generation).await,
        Some(_) => {}
    }
    loop {
        let Some(duration) = with_dag(&shared, dag_id, generation, |state, index| {
            // StartNode stamps start and end; StartSubTask only the start.
            let now = state.db_now();
            let duration = state.task_duration;
            let dag = &mut state.dags[index];
            let node = &mut dag.nodes[dag.stage - 1];
            node.state = "RUNNING";
            node.start_time = Some(now);
            node.end_time = Some(now);
            for task in &mut node.sub_tasks {
                task.state = "RUNNING";
                task.start_time = Some(now);
                task.execute_times += 1;
                task.logs.push(format!("{} started", node.name));
            }
            duration
        }) else {
            return;
        };
        tokio::time::sleep(duration).await;
        if statements_outlived_a_cancel(&shared, dag_id, generation) {
            return;
        }
        // A held DAG waits in its last node until released (or cancelled, or reset).
        loop {
            let woken = shared.wakeup.notified();
            let waiting = with_dag(&shared, dag_id, generation, |state, index| {
                let dag = &state.dags[index];
                dag.held && dag.stage == dag.nodes.len()
            });
            match waiting {
                None => return,
                Some(false) => break,
                Some(true) => woken.await,
            }
        }
        let finished = with_dag(&shared, dag_id, generation, finish_node);
        if finished != Some(false) {
            return;
        }
    }
}

/// CANCEL is cooperative (obshell-api.md §10.2): the DAG is FAILED at once, but statements node
/// 2 had already sent still finish. When the DAG was cancelled (and nothing else happened to it)
/// while node 2 ran, its changes land now, after the DAG says it failed. True when it was.
fn statements_outlived_a_cancel(shared: &Shared, dag_id: i64, generation: u64) -> bool {
    let mut state = shared.lock();
    let Some(index) = state.dags.iter().position(|d| {
        d.dag_id == dag_id
            && d.generation == generation + 1
            && d.operator == "CANCEL"
            && !d.held
            && d.nodes[d.stage - 1].name == SET_NODE
    }) else {
        return false;
    };
    let DagKind::BackupConfig(config) = state.dags[index].kind.clone() else {
        return false;
    };
    let mut logs = Vec::new();
    let outcome = set_backup_config(&mut state, &config, None, &mut logs);
    tracing::info!(
        dag_id,
        ?logs,
        failed = outcome.is_err(),
        "statements of a cancelled node finished"
    );
    true
}

/// Executes the current node's effect and records the outcome; true when the DAG finished.
fn finish_node(state: &mut State, index: usize) -> bool {
    let now = state.db_now();
    let legacy = state.version.legacy_errors();
    let node_name = state.dags[index].nodes[state.dags[index].stage - 1].name;
    let injected = state.dags[index]
        .fault
        .as_ref()
        .filter(|f| f.node == node_name)
        .cloned();
    if injected.is_some() {
        state.dags[index].fault = None;
    }
    // What the node logged before it ended, successful or not.
    let mut logs = Vec::new();
    let result = match injected {
        // A fault without a step fails the whole node before it changes anything.
        Some(fault) if fault.step.is_none() => Err(NodeFailure {
            code: fault.code,
            chain: fault.message.clone(),
            legacy_chain: fault.message,
        }),
        step_fault => {
            let kind = state.dags[index].kind.clone();
            let agent = "127.0.0.1".to_owned();
            match kind {
                DagKind::BackupConfig(config) if node_name == CHECK_NODE => {
                    check_backup_config(state, &config, &agent).map(|l| logs.extend(l))
                }
                DagKind::BackupConfig(config) => {
                    set_backup_config(state, &config, step_fault, &mut logs)
                }
                DagKind::StartBackup => {
                    start_backup_step(state, node_name, now).map(|l| logs.extend(l))
                }
            }
        }
    };
    let dag = &mut state.dags[index];
    let stage = dag.stage;
    let last = stage == dag.nodes.len();
    let node = &mut dag.nodes[stage - 1];
    node.end_time = Some(now);
    match result {
        Ok(()) => {
            node.state = "SUCCEED";
            for task in &mut node.sub_tasks {
                task.logs.extend(logs.iter().cloned());
                task.state = "SUCCEED";
                task.end_time = Some(now);
            }
            if last {
                dag.state = "SUCCEED";
                dag.end_time = Some(now);
                true
            } else {
                dag.stage += 1;
                false
            }
        }
        Err(failure) => {
            let line = if legacy {
                format!("ERROR: {}", failure.legacy_chain)
            } else {
                format!("ERROR: [{}]: {}", failure.code, failure.chain)
            };
            node.state = "FAILED";
            for task in &mut node.sub_tasks {
                task.logs.extend(logs.iter().cloned());
                task.logs.push(line.clone());
                task.state = "FAILED";
                task.end_time = Some(now);
            }
            dag.state = "FAILED";
            dag.end_time = Some(now);
            true
        }
    }
}

/// The destinations a config DAG sets, as (what, directory, URI): the cluster call's one base
/// URI for both, or the tenant-level call's archive and data URIs.
fn destinations(config: &ValidConfig) -> [(&'static str, &'static str, Option<&str>); 2] {
    match &config.tenant {
        None => [
            ("archive", "clog", config.base_uri.as_deref()),
            ("data", "data", config.base_uri.as_deref()),
        ],
        Some(target) => [
            ("archive", "clog", target.archive_uri.as_deref()),
            ("data", "data", target.data_uri.as_deref()),
        ],
    }
}

/// `GetDestSubpath`: `<cluster_id>/<tenant_id>/<dir>` when every tenant is targeted, else ""
/// (the tenant-level call uses its URIs as given; joining "" still appends a `/`).
fn dest_subpath(config: &ValidConfig, cluster_id: i64, tenant_id: i64, dir: &str) -> String {
    if config.tenant.is_some() {
        String::new()
    } else {
        format!("{cluster_id}/{tenant_id}/{dir}")
    }
}

/// `getTenantFromCtx`: every user tenant (re-read when the node runs), or the one tenant of the
/// tenant-level call, looked up by name again (it may have been dropped since).
fn target_tenants(state: &State, config: &ValidConfig) -> Result<Vec<usize>, NodeFailure> {
    match &config.tenant {
        None => Ok((0..state.tenants.len()).collect()),
        Some(target) => state
            .tenants
            .iter()
            .position(|t| t.name == target.name)
            .map(|index| vec![index])
            .ok_or_else(|| NodeFailure {
                code: "OB.Tenant.NotExist".to_owned(),
                chain: format!(
                    "get tenant from context: get tenant by name: Tenant '{}' does not exist.",
                    target.name
                ),
                legacy_chain: format!(
                    "get tenant from context: get tenant by name: tenant {} not found",
                    target.name
                ),
            }),
    }
}

/// Node 1: obshell parses each destination and writes a test file or object on every agent,
/// the archive destination of every targeted tenant first, then the data destination.
fn check_backup_config(
    state: &mut State,
    config: &ValidConfig,
    agent: &str,
) -> Result<Vec<String>, NodeFailure> {
    let dests = destinations(config);
    if dests.iter().all(|(_, _, uri)| uri.is_none()) {
        return Ok(vec!["No backup destination to check".to_owned()]);
    }
    let targets = target_tenants(state, config)?;
    let mut logs = Vec::new();
    for (what, dir, uri) in dests {
        let Some(uri) = uri else {
            logs.push(format!("The {what} path is empty, skip check"));
            continue;
        };
        let uri = parse_storage_uri(uri).map_err(|text| {
            let context = format!("check {what} path: get {what} storage interface");
            NodeFailure {
                code: "OB.Storage.URI.Invalid".to_owned(),
                chain: format!("{context}: Invalid storage URI: {text}"),
                legacy_chain: format!("{context}: {text}"),
            }
        })?;
        for &index in &targets {
            let tenant = &state.tenants[index];
            let dest = uri.join(&dest_subpath(config, state.cluster_id, tenant.id, dir));
            let shown = parse_storage_uri(&dest)
                .map(|u| u.without_secrets())
                .unwrap_or_default();
            logs.push(format!(
                "Check {what} path '{shown}' of {}({}) on {agent}",
                tenant.name, tenant.id
            ));
        }
    }
    Ok(logs)
}

/// One statement of node 2 on `tenant`: it fails where an injected step fault names it, and
/// where OceanBase refuses `ALTER SYSTEM ... TENANT = t` (a tenant that is not NORMAL or is in
/// the recycle bin; obshell-api.md §10.3).
fn statement(
    tenant: &Tenant,
    step: &str,
    context: &str,
    fault: &mut Option<DagFault>,
) -> Result<(), NodeFailure> {
    let hit = fault.as_ref().is_some_and(|f| {
        f.step.as_deref() == Some(step) && f.tenant.as_deref().is_none_or(|t| t == tenant.name)
    });
    if hit {
        let fault = fault.take().expect("just matched");
        return Err(NodeFailure {
            code: fault.code,
            chain: format!("MySQL error: {context}: {}", fault.message),
            legacy_chain: format!("{context}: {}", fault.message),
        });
    }
    if !tenant.accepts_alter_system() {
        let why = if tenant.in_recyclebin {
            "in the recycle bin".to_owned()
        } else {
            tenant.status.clone()
        };
        return Err(NodeFailure::mysql(
            context,
            &format!(
                "Error 4179 (HY000): Operation not allowed now: tenant {} is {why}",
                tenant.name
            ),
        ));
    }
    Ok(())
}

/// `closeAllArchiveLog`: archive log stops on every tenant before the step that needs it.
fn close_all_archive_log(
    tenants: &mut [Tenant],
    logs: &mut Vec<String>,
    fault: &mut Option<DagFault>,
) -> Result<(), NodeFailure> {
    for tenant in tenants.iter_mut() {
        if tenant.archive_log_open() {
            logs.push(format!(
                "Close archive log for {}({})",
                tenant.name, tenant.id
            ));
            let context = format!("close archive log for {}({})", tenant.name, tenant.id);
            statement(tenant, "close_archive_log", &context, fault)?;
            // obshell waits in the node until OceanBase reports STOP.
            tenant.archive_log_status = "STOP".to_owned();
            tenant.archive_transition = None;
        }
        logs.push(format!(
            "Archive log has been closed for {}({})",
            tenant.name, tenant.id
        ));
    }
    Ok(())
}

/// Node 2: obshell's `SetBackupConfigTask.Execute`. Each step runs over every user tenant
/// (recycle-bin and non-NORMAL ones included), and the first failing statement ends the node:
/// earlier steps and tenants stay applied (obshell-api.md §10.2).
fn set_backup_config(
    state: &mut State,
    config: &ValidConfig,
    fault: Option<DagFault>,
    logs: &mut Vec<String>,
) -> Result<(), NodeFailure> {
    let mut fault = fault;
    let param = &config.param;
    let cluster_id = state.cluster_id;
    // The cluster call touches every user tenant; the tenant-level call only its tenant, so
    // archive log and backups on the others go on.
    let targets = target_tenants(state, config)?;
    logs.push(format!("Set backup config for {} tenant(s)", targets.len()));
    let [(_, _, archive), (_, _, data)] = destinations(config);
    let archive_base = archive.and_then(|b| parse_storage_uri(b).ok());
    let data_base = data.and_then(|b| parse_storage_uri(b).ok());
    // Running data backups are cancelled when the data destination changes.
    if data_base.is_some() {
        let ids: Vec<i64> = targets.iter().map(|&i| state.tenants[i].id).collect();
        for task in state
            .backup_tasks
            .iter_mut()
            .filter(|t| t.status == "DOING" && ids.contains(&t.tenant_id))
        {
            task.status = "CANCELED".to_owned();
        }
    }
    // An OceanBase that keeps an object-store destination without its query string.
    let query_less = state.query_less_object_paths;
    let stored = |path: String| -> String {
        if query_less && !path.starts_with("file://") {
            path.split('?').next().unwrap_or_default().to_owned()
        } else {
            path
        }
    };
    let tenants: &mut [Tenant] = match targets.as_slice() {
        [only] if config.tenant.is_some() => std::slice::from_mut(&mut state.tenants[*only]),
        _ => &mut state.tenants,
    };
    if let Some(concurrency) = param.log_archive_concurrency {
        close_all_archive_log(tenants, logs, &mut fault)?;
        for tenant in tenants.iter_mut() {
            let context = format!(
                "set log archive concurrency for {}({})",
                tenant.name, tenant.id
            );
            statement(tenant, "log_archive_concurrency", &context, &mut fault)?;
            logs.push(format!(
                "Set log archive concurrency to '{concurrency}' for {}({})",
                tenant.name, tenant.id
            ));
            tenant.set_parameter("log_archive_concurrency", concurrency.to_string());
        }
    }
    if let Some(base) = &archive_base {
        close_all_archive_log(tenants, logs, &mut fault)?;
        for tenant in tenants.iter_mut() {
            let path = base.join(&dest_subpath(config, cluster_id, tenant.id, "clog"));
            logs.push(format!(
                "Set log archive dest for {}({})",
                tenant.name, tenant.id
            ));
            let shown = parse_storage_uri(&path)
                .map(|u| u.without_secrets())
                .unwrap_or_default();
            logs.push(format!("URI is '{shown}'"));
            let context = format!(
                "set log archive: set log archive dest for {}({})",
                tenant.name, tenant.id
            );
            statement(tenant, "log_archive_dest", &context, &mut fault)?;
            if tenant.archive_log_status == "STOPPING" {
                // closeAllArchiveLog leaves a tenant that is already stopping alone, and
                // OceanBase keeps its destination until the round has stopped (inferred: the
                // harsher case).
                return Err(NodeFailure::mysql(
                    &context,
                    &format!("Error 4179 (HY000): Operation not allowed now: log archive of tenant {} is stopping, LOG_ARCHIVE_DEST cannot change until it has stopped", tenant.name),
                ));
            }
            // LOG_ARCHIVE_DEST is not incremental: what is not sent falls back to the defaults.
            tenant.archive_dest = Some(ArchiveDest {
                path: stored(path),
                binding: param
                    .binding
                    .clone()
                    .unwrap_or_else(|| "OPTIONAL".to_owned()),
                piece_switch_interval: param
                    .piece_switch_interval
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "1d".to_owned()),
                state: "ENABLE".to_owned(),
            });
        }
    }
    if let Some(lag) = param.archive_lag_target.as_deref() {
        logs.push(format!("Set archive lag target to {lag}"));
        for tenant in tenants.iter_mut() {
            let context = format!("set archive lag target for {}({})", tenant.name, tenant.id);
            if !config.lag_target_checked && !oceanbase_accepts_lag_target(lag) {
                return Err(NodeFailure::mysql(
                    &context,
                    "Error 1210 (HY000): Incorrect arguments to archive_lag_target",
                ));
            }
            statement(tenant, "archive_lag_target", &context, &mut fault)?;
            tenant.set_parameter("archive_lag_target", lag.to_owned());
        }
    }
    if let Some(base) = &data_base {
        for tenant in tenants.iter_mut() {
            logs.push(format!(
                "Set data backup dest for {}({})",
                tenant.name, tenant.id
            ));
            let context = format!("set data path for {}({})", tenant.name, tenant.id);
            statement(tenant, "data_backup_dest", &context, &mut fault)?;
            tenant.data_dest =
                stored(base.join(&dest_subpath(config, cluster_id, tenant.id, "data")));
        }
    }
    if let Some(score) = param.ha_low_thread_score {
        for tenant in tenants.iter_mut() {
            let context = format!("set ha low thread score for {}({})", tenant.name, tenant.id);
            statement(tenant, "ha_low_thread_score", &context, &mut fault)?;
            logs.push(format!(
                "Set ha low thread score to '{score}' for {}({})",
                tenant.name, tenant.id
            ));
            tenant.set_parameter("ha_low_thread_score", score.to_string());
        }
    }
    if let Some(policy) = &param.delete_policy {
        for tenant in tenants.iter_mut() {
            // The current policy is dropped first: a failure before the add leaves none.
            if let Some((current, _)) = tenant.delete_policy.clone() {
                logs.push(format!(
                    "Drop delete policy {current} for {}({})",
                    tenant.name, tenant.id
                ));
                let context = format!(
                    "set delete policy: drop delete backup policy for {}({})",
                    tenant.name, tenant.id
                );
                statement(tenant, "drop_delete_policy", &context, &mut fault)?;
                tenant.delete_policy = None;
            }
            logs.push(format!(
                "Set delete policy to {} for {}({})",
                policy.policy, tenant.name, tenant.id
            ));
            let context = format!(
                "set delete policy: add delete backup policy for {}({})",
                tenant.name, tenant.id
            );
            if !oceanbase_accepts_recovery_window(&policy.recovery_window) {
                return Err(NodeFailure::mysql(
                    &context,
                    "Error 1210 (HY000): Incorrect arguments to recovery_window",
                ));
            }
            statement(tenant, "add_delete_policy", &context, &mut fault)?;
            tenant.delete_policy = Some((policy.policy.clone(), policy.recovery_window.clone()));
        }
    }
    Ok(())
}

/// One node of the start-backup DAG.
fn start_backup_step(
    state: &mut State,
    node: &str,
    now: SystemTime,
) -> Result<Vec<String>, NodeFailure> {
    let mut logs = Vec::new();
    match node {
        "Check destination" => {
            for tenant in &state.tenants {
                let (what, empty) = if tenant.archive_dest.is_none() {
                    ("Archive", true)
                } else {
                    ("Data", tenant.data_dest.is_empty())
                };
                if empty {
                    let code = if what == "Archive" {
                        "OB.Backup.ArchiveDestEmpty"
                    } else {
                        "OB.Backup.DataDestEmpty"
                    };
                    let text = format!(
                        "{what} destination is empty, tenant: {}({})",
                        tenant.name, tenant.id
                    );
                    return Err(NodeFailure {
                        code: code.to_owned(),
                        chain: text.clone(),
                        legacy_chain: text,
                    });
                }
            }
        }
        "Open archive log" => {
            let delay = state.archive_log_delay;
            for tenant in &mut state.tenants {
                if !tenant.archive_log_open() || tenant.archive_log_status == "INTERRUPTED" {
                    logs.push(format!(
                        "Open archive log for {}({})",
                        tenant.name, tenant.id
                    ));
                    tenant.open_archive_log(delay);
                    if let Some(dest) = &mut tenant.archive_dest {
                        dest.state = "ENABLE".to_owned();
                    }
                }
            }
        }
        "Start backup" => {
            for tenant in &state.tenants {
                logs.push(format!("Start backup for {}({})", tenant.name, tenant.id));
            }
            let next = state.backup_tasks.len() as i64 + 1;
            let new_tasks: Vec<BackupTask> = state
                .tenants
                .iter()
                .enumerate()
                .map(|(i, t)| BackupTask {
                    tenant_id: t.id,
                    task_id: next + i as i64,
                    status: "DOING".to_owned(),
                    start: now,
                    end: None,
                    path: t.data_dest.clone(),
                })
                .collect();
            state.backup_tasks.extend(new_tasks);
        }
        _ => {
            for task in state
                .backup_tasks
                .iter_mut()
                .filter(|t| t.status == "DOING")
            {
                task.status = "COMPLETED".to_owned();
                task.end = Some(now);
            }
            logs.push("Backup finished".to_owned());
        }
    }
    Ok(logs)
}

/// The scheduler's side of CANCEL (obshell-api.md §10.2): the READY/CANCEL DAG was picked up
/// (RUNNING, a new start time); a moment later the running sub-task sees the cancel, is marked
/// failed with "sub task cancelled", and the DAG ends FAILED. Statements the node had sent still
/// finish ([`statements_outlived_a_cancel`]).
async fn finish_cancel(shared: Arc<Shared>, dag_id: i64, generation: u64) {
    let Some(tick) = with_dag(&shared, dag_id, generation, |state, _| {
        (state.task_duration / 10).max(std::time::Duration::from_millis(1))
    }) else {
        return;
    };
    tokio::time::sleep(tick).await;
    with_dag(&shared, dag_id, generation, |state, index| {
        let now = state.db_now();
        let dag = &mut state.dags[index];
        dag.state = "FAILED";
        dag.end_time = Some(now);
        let node = &mut dag.nodes[dag.stage - 1];
        node.state = "FAILED";
        node.operator = "CANCEL";
        node.start_time = Some(now);
        node.end_time = Some(now);
        for task in &mut node.sub_tasks {
            task.state = "FAILED";
            task.operator = "CANCEL";
            task.end_time = Some(now);
            task.logs.push("sub task cancelled".to_owned());
        }
    });
}

async fn roll_back(shared: Arc<Shared>, dag_id: i64, generation: u64) {
    let Some(duration) = with_dag(&shared, dag_id, generation, |state, _| state.task_duration)
    else {
        return;
    };
    tokio::time::sleep(duration).await;
    with_dag(&shared, dag_id, generation, |state, index| {
        let now = state.db_now();
        let dag = &mut state.dags[index];
        for node in dag.nodes.iter_mut().take(dag.stage).rev() {
            node.operator = "ROLLBACK";
            node.state = "SUCCEED";
            node.end_time = Some(now);
            for task in &mut node.sub_tasks {
                task.operator = "ROLLBACK";
                task.state = "SUCCEED";
                task.logs.push(format!("{} rolled back", node.name));
            }
        }
        dag.stage = 1;
        dag.state = "SUCCEED";
        dag.end_time = Some(now);
    });
}

/// Applies `POST /api/v1/task/dag/{id}` with `operator` (already upper-cased). `Ok(true)` means
/// the DAG must be (re)started with [`spawn_run`].
pub(crate) fn operate(state: &mut State, dag_id: i64, operator: &str) -> Result<bool, ApiError> {
    let version = state.version;
    let now = state.db_now();
    let reject = |code: &'static str, message: String| {
        ApiError::of(
            version,
            Era {
                new: (400, code, 0, &message),
                old: (400, 1001, &message),
            },
        )
    };
    let Some(dag) = state.dag_mut(dag_id) else {
        return Err(task_not_found(version));
    };
    let failed_node = dag
        .nodes
        .get(dag.stage - 1)
        .map(|n| n.name)
        .unwrap_or_default();
    match operator {
        "RETRY" | "ROLLBACK" | "PASS" if dag.state != "FAILED" => {
            let (code, message) = match operator {
                "RETRY" => (
                    "Task.Dag.Operator.RetryNotFailedDag",
                    "Failed to set DAG retry: DAG state is not failed",
                ),
                "ROLLBACK" => (
                    "Task.Dag.Operator.RollbackNotFailedDag",
                    "Failed to set DAG rollback: DAG state is not failed",
                ),
                _ => (
                    "Task.Dag.Operator.PassNotFailedDag",
                    "Failed to pass DAG: DAG is not failed",
                ),
            };
            Err(reject(code, message.to_owned()))
        }
        "RETRY" => {
            // updateDagOperator and updateNodeOperator reset start and end to the epoch.
            dag.generation += 1;
            dag.state = "READY";
            dag.operator = "RUN";
            dag.start_time = RESET_TIME;
            dag.end_time = RESET_TIME;
            let node = &mut dag.nodes[dag.stage - 1];
            node.operator = "RETRY";
            node.state = "READY";
            node.start_time = RESET_TIME;
            node.end_time = RESET_TIME;
            for task in &mut node.sub_tasks {
                task.operator = "RETRY";
                task.state = "READY";
            }
            Ok(true)
        }
        "ROLLBACK" => {
            if !dag.nodes[dag.stage - 1].can_rollback {
                return Err(reject(
                    "Task.Dag.Operator.RollbackNotAllowed",
                    format!("Failed to set DAG rollback: node {failed_node} cannot rollback"),
                ));
            }
            dag.generation += 1;
            dag.state = "READY";
            dag.operator = "ROLLBACK";
            dag.start_time = RESET_TIME;
            dag.end_time = RESET_TIME;
            for node in dag.nodes.iter_mut().take(dag.stage) {
                node.start_time = RESET_TIME;
                node.end_time = RESET_TIME;
            }
            Ok(true)
        }
        "PASS" => {
            dag.generation += 1;
            dag.state = "SUCCEED";
            dag.operator = "PASS";
            dag.end_time = Some(now);
            let node = &mut dag.nodes[dag.stage - 1];
            node.state = "SUCCEED";
            node.operator = "PASS";
            node.end_time = Some(now);
            for task in node.sub_tasks.iter_mut().filter(|t| t.state == "FAILED") {
                task.state = "SUCCEED";
                task.operator = "PASS";
            }
            Ok(false)
        }
        "CANCEL" => {
            if dag.is_finished() {
                return Err(reject(
                    "Task.Dag.Operator.CancelFinishedDag",
                    "Failed to cancel DAG: DAG is finished".to_owned(),
                ));
            }
            // updateDagOperator(CANCEL): READY/CANCEL with start and end at the epoch, the
            // current node PENDING/CANCEL likewise; the scheduler then fails it (finish_cancel).
            dag.generation += 1;
            dag.state = "READY";
            dag.operator = "CANCEL";
            dag.start_time = RESET_TIME;
            dag.end_time = RESET_TIME;
            let node = &mut dag.nodes[dag.stage - 1];
            node.state = "PENDING";
            node.operator = "CANCEL";
            node.start_time = RESET_TIME;
            node.end_time = RESET_TIME;
            Ok(true)
        }
        other => Err(reject(
            "Task.Dag.Operator.NotSupport",
            format!("Operator {other} is not supported"),
        )),
    }
}

/// 404 `Task.NotFound` (legacy 2300).
pub(crate) fn task_not_found(version: crate::version::ObshellVersion) -> ApiError {
    ApiError::of(
        version,
        Era {
            new: (404, "Task.NotFound", 0, "Task not found"),
            old: (404, 2300, "Task not found"),
        },
    )
}

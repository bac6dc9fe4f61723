//! The simulated cluster: tenants, their parameters and destinations, the DAG table, the clock,
//! faults and the request log, all behind one lock in [`Shared`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::backup_param::ValidConfig;
use crate::faults::{DagFault, HttpFault};
use crate::version::ObshellVersion;
use crate::SimConfig;

/// What every part of the server shares: the fixed configuration and the locked state.
pub(crate) struct Shared {
    /// The configuration the simulator was started with (what `reset` returns to).
    pub(crate) config: SimConfig,
    /// Everything mutable.
    pub(crate) state: Mutex<State>,
    /// Woken whenever a held DAG is released or a DAG is cancelled or reset.
    pub(crate) wakeup: Notify,
    /// The listening port, reported as the agent's port.
    pub(crate) port: u16,
    /// SQL users besides root (control API), for the MySQL listener.
    pub(crate) sql_users: Mutex<crate::sql::SqlUsers>,
}

impl Shared {
    /// Locks the state; a panic while holding the lock is a bug, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The SQL users besides root.
    pub(crate) fn sql_users(&self) -> MutexGuard<'_, crate::sql::SqlUsers> {
        self.sql_users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The mutable simulator state.
pub(crate) struct State {
    pub(crate) version: ObshellVersion,
    pub(crate) cluster_id: i64,
    pub(crate) cluster_name: String,
    pub(crate) password: String,
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) dags: Vec<Dag>,
    pub(crate) next_dag_id: i64,
    pub(crate) next_node_id: i64,
    pub(crate) next_task_id: i64,
    pub(crate) clock_offset_seconds: i64,
    pub(crate) task_duration: Duration,
    pub(crate) http_faults: Vec<HttpFault>,
    pub(crate) dag_faults: VecDeque<DagFault>,
    pub(crate) hold_count: u32,
    pub(crate) requests: Vec<Value>,
    pub(crate) next_request_seq: u64,
    pub(crate) key: RsaPrivateKey,
    pub(crate) rng: ChaCha20Rng,
    /// The delay before each obshell answer, and its own generator (so jitter does not change
    /// the other random choices of a seed).
    pub(crate) latency: crate::Latency,
    pub(crate) latency_rng: ChaCha20Rng,
    /// See [`SimConfig::query_less_object_paths`].
    pub(crate) query_less_object_paths: bool,
    pub(crate) backup_tasks: Vec<BackupTask>,
    pub(crate) next_trace: u64,
}

/// One tenant of the cluster (`sys` is implicit and not stored here).
#[derive(Clone, Debug)]
pub(crate) struct Tenant {
    pub(crate) name: String,
    pub(crate) id: i64,
    pub(crate) status: String,
    pub(crate) parameters: BTreeMap<String, String>,
    pub(crate) archive_dest: Option<ArchiveDest>,
    pub(crate) data_dest: String,
    pub(crate) delete_policy: Option<(String, String)>,
    pub(crate) archive_log_status: String,
    pub(crate) created_time: SystemTime,
    /// Dropped into the recycle bin (`DBA_OB_TENANTS.IN_RECYCLEBIN = 'YES'`): hidden from
    /// `/tenants/overview`, still a `TENANT_TYPE='USER'` tenant that the config DAG touches.
    pub(crate) in_recyclebin: bool,
}

/// `LOG_ARCHIVE_DEST` of one tenant, as `CDB_OB_ARCHIVE_DEST` holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArchiveDest {
    pub(crate) path: String,
    pub(crate) binding: String,
    pub(crate) piece_switch_interval: String,
    pub(crate) state: String,
}

/// A data-backup task of one tenant, as `/obcluster/backup/overview` reports it.
#[derive(Clone, Debug)]
pub(crate) struct BackupTask {
    pub(crate) tenant_id: i64,
    pub(crate) task_id: i64,
    pub(crate) status: String,
    pub(crate) start: SystemTime,
    pub(crate) end: Option<SystemTime>,
    pub(crate) path: String,
}

/// The default tenant parameters, as `GV$OB_PARAMETERS` reports them: (value, data_type, info).
pub(crate) const PARAMETERS: [(&str, &str, &str, &str); 3] = [
    (
        "archive_lag_target",
        "120s",
        "TIME",
        "The lag target of the log archive. Range: [0ms, 7200s]",
    ),
    (
        "ha_low_thread_score",
        "0",
        "INT",
        "the current work thread score of high availability low thread. Range: [0,100]",
    ),
    (
        "log_archive_concurrency",
        "0",
        "INT",
        "log archive concurrency, for both archive fetcher and sender. Range: [0,100]",
    ),
];

/// A fresh tenant's parameters: name to value as stored.
pub(crate) fn default_parameters() -> BTreeMap<String, String> {
    PARAMETERS
        .iter()
        .map(|(name, value, _, _)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// What a DAG does when it runs.
#[derive(Clone, Debug)]
pub(crate) enum DagKind {
    /// "Set obcluster backup config" with the validated request.
    BackupConfig(Box<ValidConfig>),
    /// "Obcluster start full/increment backup".
    StartBackup,
}

/// A DAG state as obshell spells it.
pub(crate) type DagState = &'static str;

/// One cluster DAG.
#[derive(Clone, Debug)]
pub(crate) struct Dag {
    pub(crate) dag_id: i64,
    pub(crate) name: String,
    pub(crate) kind: DagKind,
    pub(crate) state: DagState,
    pub(crate) operator: &'static str,
    pub(crate) stage: usize,
    pub(crate) start_time: Option<SystemTime>,
    pub(crate) end_time: Option<SystemTime>,
    pub(crate) nodes: Vec<Node>,
    /// The request as the client sent it (decrypted), for `/sim/v1/state`.
    pub(crate) request: Value,
    /// Bumped by every operator; an engine task with an older generation stops touching the DAG.
    pub(crate) generation: u64,
    /// Stays RUNNING in its last node until released.
    pub(crate) held: bool,
    /// An injected failure still to fire.
    pub(crate) fault: Option<DagFault>,
    /// The tenant a tenant-maintenance DAG locks (the tenant-level config call), else `None`.
    pub(crate) maintenance_tenant: Option<String>,
}

/// One node (a stage) of a DAG.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) node_id: i64,
    pub(crate) name: &'static str,
    pub(crate) state: DagState,
    pub(crate) operator: &'static str,
    pub(crate) start_time: Option<SystemTime>,
    pub(crate) end_time: Option<SystemTime>,
    pub(crate) can_rollback: bool,
    pub(crate) sub_tasks: Vec<SubTask>,
}

/// One sub-task of a node.
#[derive(Clone, Debug)]
pub(crate) struct SubTask {
    pub(crate) task_id: i64,
    pub(crate) name: &'static str,
    pub(crate) state: DagState,
    pub(crate) operator: &'static str,
    pub(crate) start_time: Option<SystemTime>,
    pub(crate) end_time: Option<SystemTime>,
    pub(crate) execute_times: i64,
    pub(crate) logs: Vec<String>,
}

/// Formats a time as obshell does (RFC 3339 with nanoseconds); `None` is Go's zero time.
pub(crate) fn format_time(time: Option<SystemTime>) -> String {
    match time {
        None => "0001-01-01T00:00:00Z".to_owned(),
        Some(time) => OffsetDateTime::from(time)
            .format(&Rfc3339)
            .unwrap_or_default(),
    }
}

impl State {
    /// Builds the state the command line describes.
    pub(crate) fn new(config: &SimConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let key = crate::crypto::generate_key(&mut rng, config.obshell_version.rsa_bits());
        let mut state = Self {
            version: config.obshell_version,
            cluster_id: config.cluster_id,
            cluster_name: config.cluster_name.clone(),
            password: config.password.clone(),
            tenants: Vec::new(),
            dags: Vec::new(),
            next_dag_id: 1,
            next_node_id: 1,
            next_task_id: 1,
            clock_offset_seconds: 0,
            task_duration: config.task_duration,
            http_faults: Vec::new(),
            dag_faults: VecDeque::new(),
            hold_count: 0,
            requests: Vec::new(),
            next_request_seq: 1,
            key,
            rng,
            latency: config.latency,
            latency_rng: ChaCha20Rng::seed_from_u64(config.seed ^ 0x6c61_7465_6e63_7900),
            query_less_object_paths: config.query_less_object_paths,
            backup_tasks: Vec::new(),
            next_trace: 1,
        };
        state.reset_cluster(config);
        state
    }

    /// Back to the command line's cluster, keeping the key and the generator.
    pub(crate) fn reset_cluster(&mut self, config: &SimConfig) {
        self.cluster_id = config.cluster_id;
        self.cluster_name = config.cluster_name.clone();
        self.password = config.password.clone();
        self.tenants.clear();
        for index in 0..config.tenants {
            let name = format!("t{}", index + 1);
            self.add_tenant(&name, "NORMAL");
        }
        for dag in &mut self.dags {
            dag.generation += 1;
        }
        self.dags.clear();
        self.clock_offset_seconds = 0;
        self.task_duration = config.task_duration;
        self.latency = config.latency;
        self.query_less_object_paths = config.query_less_object_paths;
        self.http_faults.clear();
        self.dag_faults.clear();
        self.hold_count = 0;
        self.requests.clear();
        self.backup_tasks.clear();
    }

    /// Adds a user tenant with the next free id (even ids from 1002, as OceanBase assigns them).
    pub(crate) fn add_tenant(&mut self, name: &str, status: &str) -> &Tenant {
        let id = self
            .tenants
            .iter()
            .map(|t| t.id)
            .max()
            .map_or(1002, |max| max + 2);
        let created_time = self.now();
        self.tenants.push(Tenant {
            name: name.to_owned(),
            id,
            status: status.to_owned(),
            parameters: default_parameters(),
            archive_dest: None,
            data_dest: String::new(),
            delete_policy: None,
            archive_log_status: String::new(),
            created_time,
            in_recyclebin: false,
        });
        self.tenants.last().expect("just pushed")
    }

    /// The server's clock, shifted by the control offset.
    pub(crate) fn now(&self) -> SystemTime {
        let offset = Duration::from_secs(self.clock_offset_seconds.unsigned_abs());
        if self.clock_offset_seconds >= 0 {
            SystemTime::now() + offset
        } else {
            SystemTime::now() - offset
        }
    }

    /// A fresh trace id for an envelope.
    pub(crate) fn trace_id(&mut self) -> String {
        self.next_trace += 1;
        format!(
            "{:016x}",
            self.next_trace.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )
    }

    /// The tenant named `name`, if it is a user tenant.
    pub(crate) fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name == name)
    }

    /// The tenant named `name`, mutably.
    pub(crate) fn tenant_mut(&mut self, name: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.name == name)
    }

    /// The DAG with `dag_id`.
    pub(crate) fn dag_mut(&mut self, dag_id: i64) -> Option<&mut Dag> {
        self.dags.iter_mut().find(|d| d.dag_id == dag_id)
    }

    /// The whole state for `GET /sim/v1/state`.
    pub(crate) fn to_control_json(&self) -> Value {
        json!({
            "obshell_version": self.version.to_string(),
            "cluster": {"id": self.cluster_id, "name": self.cluster_name},
            "clock_offset_seconds": self.clock_offset_seconds,
            "task_duration_ms": self.task_duration.as_millis() as u64,
            "latency_ms": self.latency.base.as_millis() as u64,
            "latency_jitter_ms": self.latency.jitter.as_millis() as u64,
            "query_less_object_paths": self.query_less_object_paths,
            "tenants": self.tenants.iter().map(Tenant::to_control_json).collect::<Vec<_>>(),
            "dags": self.dags.iter().map(|d| json!({
                "id": format!("1{}", d.dag_id), "dag_id": d.dag_id, "name": d.name,
                "state": d.state, "operator": d.operator, "request": d.request, "held": d.held,
            })).collect::<Vec<_>>(),
        })
    }
}

impl Tenant {
    /// True when OceanBase runs `ALTER SYSTEM ... TENANT = t` on it: a NORMAL tenant outside the
    /// recycle bin (obshell-api.md §10.3, inferred: the statement fails on any other).
    pub(crate) fn accepts_alter_system(&self) -> bool {
        self.status == "NORMAL" && !self.in_recyclebin
    }

    /// True when archive log is on (`DBA_OB_TENANTS.LOG_MODE = 'ARCHIVELOG'`).
    pub(crate) fn archive_log_open(&self) -> bool {
        matches!(
            self.archive_log_status.as_str(),
            "DOING" | "PREPARE" | "BEGINNING" | "SUSPEND" | "SUSPENDING" | "INTERRUPTED"
        )
    }

    /// This tenant for `GET /sim/v1/state`.
    pub(crate) fn to_control_json(&self) -> Value {
        json!({
            "name": self.name,
            "id": self.id,
            "status": self.status,
            "parameters": self.parameters,
            "archive_dest": self.archive_dest.as_ref().map(|d| json!({
                "path": d.path, "binding": d.binding, "piece_switch_interval": d.piece_switch_interval, "state": d.state,
            })),
            "data_dest": self.data_dest,
            "delete_policy": self.delete_policy.as_ref().map(|(p, w)| json!({"policy": p, "recovery_window": w})),
            "archive_log_status": self.archive_log_status,
            "ever_archived": !self.archive_log_status.is_empty(),
            "in_recyclebin": self.in_recyclebin,
        })
    }
}

impl Dag {
    /// The generic id (`"1" + dag_id`, a cluster DAG).
    pub(crate) fn generic_id(&self) -> String {
        format!("1{}", self.dag_id)
    }

    /// True once SUCCEED or FAILED.
    pub(crate) fn is_finished(&self) -> bool {
        matches!(self.state, "SUCCEED" | "FAILED")
    }

    /// Whether `/task/dag/ob/unfinish` lists it (`is_finished = false`): obshell marks a FAILED
    /// DAG finished only when it is not a maintenance DAG, so a failed tenant-level config DAG
    /// stays listed until it is retried, passed or rolled back (obshell-api.md §9.2).
    pub(crate) fn listed_as_unfinished(&self) -> bool {
        !self.is_finished() || (self.maintenance_tenant.is_some() && self.state == "FAILED")
    }

    /// Whether it holds its tenant's maintenance lock: from creation until it succeeds (a FAILED
    /// one keeps it until an operator ends it; obshell-api.md §9.6).
    pub(crate) fn locks_tenant(&self, tenant: &str) -> bool {
        self.maintenance_tenant.as_deref() == Some(tenant) && self.state != "SUCCEED"
    }

    /// `DagDetailDTO`, with nodes only when `details`.
    pub(crate) fn to_json(&self, details: bool, agent_port: u16) -> Value {
        json!({
            "id": self.generic_id(),
            "dag_id": self.dag_id,
            "name": self.name,
            "stage": self.stage,
            "max_stage": self.nodes.len(),
            // NOT_UNDER_MAINTENANCE (1), or TENANT_MAINTENANCE (3) keyed by the tenant.
            "maintenance_type": if self.maintenance_tenant.is_some() { 3 } else { 1 },
            "maintenance_key": self.maintenance_tenant.as_deref().unwrap_or(""),
            "state": self.state,
            "operator": self.operator,
            "start_time": format_time(self.start_time),
            "end_time": format_time(self.end_time),
            "additional_data": null,
            "nodes": if details { json!(self.nodes.iter().map(|n| n.to_json(agent_port)).collect::<Vec<_>>()) } else { Value::Null },
        })
    }
}

impl Node {
    fn to_json(&self, agent_port: u16) -> Value {
        json!({
            "id": format!("1{}", self.node_id),
            "node_id": self.node_id,
            "name": self.name,
            "state": self.state,
            "operator": self.operator,
            "start_time": format_time(self.start_time),
            "end_time": format_time(self.end_time),
            "additional_data": null,
            "sub_tasks": self.sub_tasks.iter().map(|t| json!({
                "id": format!("1{}", t.task_id),
                "task_id": t.task_id,
                "name": t.name,
                "state": t.state,
                "operator": t.operator,
                "start_time": format_time(t.start_time),
                "end_time": format_time(t.end_time),
                "additional_data": null,
                "execute_times": t.execute_times,
                "execute_agent": {"ip": "127.0.0.1", "port": agent_port},
                "task_logs": if t.logs.is_empty() { Value::Null } else { json!(t.logs) },
            })).collect::<Vec<_>>(),
        })
    }
}

/// A new shared state for `config`, with the agent port.
pub(crate) fn new_shared(config: SimConfig, port: u16) -> Arc<Shared> {
    let state = State::new(&config);
    Arc::new(Shared {
        config,
        state: Mutex::new(state),
        wakeup: Notify::new(),
        port,
        sql_users: Mutex::new(crate::sql::SqlUsers::new()),
    })
}

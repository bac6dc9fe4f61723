//! The simulated cluster: tenants, their parameters and destinations, the DAG table, the clock,
//! faults and the request log, all behind one lock in [`Shared`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::backup_param::ValidConfig;
use crate::clock::DbClock;
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
    /// Woken whenever held `status` fault answers are released.
    pub(crate) answer_release: Notify,
    /// The listening port, reported as the agent's port.
    pub(crate) port: u16,
    /// SQL users besides root (control API), for the MySQL listener.
    pub(crate) sql_users: Mutex<crate::sql::SqlUsers>,
}

impl Shared {
    /// Locks the state; a panic while holding the lock is a bug, so poisoning is ignored. What
    /// time changes by itself (archive log on its way, parameters spreading) is brought up to
    /// now first, so every reader sees it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.advance();
        state
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
    /// OceanBase's clock and session time zone, which stamp DAG times.
    pub(crate) db_clock: DbClock,
    pub(crate) task_duration: Duration,
    pub(crate) http_faults: Vec<HttpFault>,
    pub(crate) dag_faults: VecDeque<DagFault>,
    /// One entry per authenticated request still to be checked by another agent.
    pub(crate) auth_faults: VecDeque<crate::faults::AuthFault>,
    pub(crate) hold_count: u32,
    /// Requests read whose `status` fault answer is held until `POST /sim/v1/faults/release`.
    pub(crate) held_answers: Vec<HeldAnswer>,
    pub(crate) next_held_answer: u64,
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
    /// See [`SimConfig::parameter_lag`].
    pub(crate) parameter_lag: Duration,
    /// See [`SimConfig::archive_log_delay`].
    pub(crate) archive_log_delay: Duration,
    /// Counts parameter reads: each starts its rows at another server, as a `GV$` query's row
    /// order is not fixed.
    pub(crate) parameter_reads: usize,
    pub(crate) backup_tasks: Vec<BackupTask>,
    pub(crate) next_trace: u64,
}

/// One tenant of the cluster (`sys` is implicit and not stored here).
/// A request whose injected `status` answer waits for a release.
#[derive(Clone, Debug)]
pub(crate) struct HeldAnswer {
    pub(crate) id: u64,
    pub(crate) method: String,
    pub(crate) uri: String,
}

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
    /// Parameter changes not yet on every server (`--parameter-lag`), by parameter name.
    pub(crate) spreading: BTreeMap<String, Spreading>,
    /// Archive log on its way to DOING or STOP (`--archive-log-delay`).
    pub(crate) archive_transition: Option<ArchiveTransition>,
}

/// How many servers the simulated cluster has (for `GV$OB_PARAMETERS` rows).
pub(crate) const SERVERS: u32 = 3;

/// A parameter whose changes have not reached every server.
#[derive(Clone, Debug)]
pub(crate) struct Spreading {
    /// The value every server had before the first change still spreading.
    pub(crate) before: String,
    /// The changes still spreading, oldest first: when the leader took each, and the value.
    pub(crate) changes: Vec<(Instant, String)>,
}

/// Archive log opening (PREPARE, BEGINNING, then DOING) or closing (STOPPING, then STOP).
#[derive(Clone, Debug)]
pub(crate) struct ArchiveTransition {
    /// When the statement ran.
    pub(crate) since: Instant,
    /// Opening, else closing.
    pub(crate) opening: bool,
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

/// Formats a DAG, node or sub-task time, which OceanBase stamped, in its session zone; `None`
/// is Go's zero time.
pub(crate) fn format_db_time(time: Option<SystemTime>, clock: DbClock) -> String {
    match time {
        None => format_time(None),
        Some(time) => clock.format(time),
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
            db_clock: DbClock {
                offset_ms: config.db_clock_offset_ms,
                zone_minutes: config.db_time_zone_minutes,
            },
            task_duration: config.task_duration,
            http_faults: Vec::new(),
            dag_faults: VecDeque::new(),
            auth_faults: VecDeque::new(),
            hold_count: 0,
            held_answers: Vec::new(),
            next_held_answer: 1,
            requests: Vec::new(),
            next_request_seq: 1,
            key,
            rng,
            latency: config.latency,
            latency_rng: ChaCha20Rng::seed_from_u64(config.seed ^ 0x6c61_7465_6e63_7900),
            query_less_object_paths: config.query_less_object_paths,
            parameter_lag: config.parameter_lag,
            archive_log_delay: config.archive_log_delay,
            parameter_reads: 0,
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
        self.db_clock = DbClock {
            offset_ms: config.db_clock_offset_ms,
            zone_minutes: config.db_time_zone_minutes,
        };
        self.task_duration = config.task_duration;
        self.latency = config.latency;
        self.query_less_object_paths = config.query_less_object_paths;
        self.parameter_lag = config.parameter_lag;
        self.archive_log_delay = config.archive_log_delay;
        self.http_faults.clear();
        self.dag_faults.clear();
        self.auth_faults.clear();
        self.hold_count = 0;
        // Held answers go out (the caller wakes them).
        self.held_answers.clear();
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
            spreading: BTreeMap::new(),
            archive_transition: None,
        });
        self.tenants.last().expect("just pushed")
    }

    /// Brings what time changes by itself up to now: archive log transitions end, parameter
    /// changes every server has are forgotten.
    pub(crate) fn advance(&mut self) {
        let now = Instant::now();
        let (lag, delay) = (self.parameter_lag, self.archive_log_delay);
        for tenant in &mut self.tenants {
            tenant.advance_archive_log(delay, now);
            tenant.spreading.retain(|_, spread| {
                spread
                    .changes
                    .last()
                    .is_some_and(|(at, _)| now.duration_since(*at) < lag)
            });
        }
    }

    /// The distinct values of tenant parameter `name` across the servers, as obshell's `SELECT
    /// DISTINCT ... FROM GV$OB_PARAMETERS` lists them: one row per value, starting at another
    /// server on each read. Empty when the tenant has no such parameter.
    pub(crate) fn parameter_rows(&mut self, tenant: &Tenant, name: &str) -> Vec<String> {
        let start = self.parameter_reads;
        self.parameter_reads = self.parameter_reads.wrapping_add(1);
        let now = Instant::now();
        let mut rows: Vec<String> = Vec::new();
        for offset in 0..SERVERS as usize {
            let server = (start + offset) % SERVERS as usize;
            if let Some(value) = tenant.server_value(name, server as u32, self.parameter_lag, now) {
                if !rows.contains(&value) {
                    rows.push(value);
                }
            }
        }
        rows
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

    /// OceanBase's `NOW(6)`: the agent host's clock (with the control offset) shifted by the
    /// database clock's offset, in microseconds.
    pub(crate) fn db_now(&self) -> SystemTime {
        self.db_clock.at(self.now())
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
            "db_clock_offset_ms": self.db_clock.offset_ms,
            "db_time_zone": crate::clock::format_utc_offset(self.db_clock.zone_minutes),
            "task_duration_ms": self.task_duration.as_millis() as u64,
            "latency_ms": self.latency.base.as_millis() as u64,
            "latency_jitter_ms": self.latency.jitter.as_millis() as u64,
            "query_less_object_paths": self.query_less_object_paths,
            "parameter_lag_ms": self.parameter_lag.as_millis() as u64,
            "archive_log_delay_ms": self.archive_log_delay.as_millis() as u64,
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

    /// `ALTER SYSTEM SET name = value TENANT = t`: the value OceanBase keeps at once; each server
    /// shows it after its share of the lag (see [`State::parameter_rows`]).
    pub(crate) fn set_parameter(&mut self, name: &str, value: String) {
        let before = self.parameters.get(name).cloned().unwrap_or_default();
        self.spreading
            .entry(name.to_owned())
            .or_insert_with(|| Spreading {
                before,
                changes: Vec::new(),
            })
            .changes
            .push((Instant::now(), value.clone()));
        self.parameters.insert(name.to_owned(), value);
    }

    /// What server `server` (0-based) shows for `name` at `now`, the last server `lag` after a
    /// change.
    fn server_value(&self, name: &str, server: u32, lag: Duration, now: Instant) -> Option<String> {
        let Some(spread) = self.spreading.get(name) else {
            return self.parameters.get(name).cloned();
        };
        let delay = lag * (server + 1) / SERVERS;
        Some(
            spread
                .changes
                .iter()
                .rev()
                .find(|(at, _)| now.duration_since(*at) >= delay)
                .map_or_else(|| spread.before.clone(), |(_, value)| value.clone()),
        )
    }

    /// `ALTER SYSTEM ARCHIVELOG`: PREPARE, then BEGINNING halfway through `delay`, then DOING.
    pub(crate) fn open_archive_log(&mut self, delay: Duration) {
        self.begin_archive_transition(delay, true);
    }

    /// `ALTER SYSTEM NOARCHIVELOG`: STOPPING, then STOP after `delay`.
    pub(crate) fn close_archive_log(&mut self, delay: Duration) {
        self.begin_archive_transition(delay, false);
    }

    fn begin_archive_transition(&mut self, delay: Duration, opening: bool) {
        let (on_the_way, done) = if opening {
            ("PREPARE", "DOING")
        } else {
            ("STOPPING", "STOP")
        };
        if delay.is_zero() {
            self.archive_log_status = done.to_owned();
            self.archive_transition = None;
        } else {
            self.archive_log_status = on_the_way.to_owned();
            self.archive_transition = Some(ArchiveTransition {
                since: Instant::now(),
                opening,
            });
        }
    }

    /// Moves an archive-log transition on to where `now` finds it.
    fn advance_archive_log(&mut self, delay: Duration, now: Instant) {
        let Some(transition) = &self.archive_transition else {
            return;
        };
        let elapsed = now.duration_since(transition.since);
        if transition.opening {
            if elapsed >= delay {
                self.archive_log_status = "DOING".to_owned();
                self.archive_transition = None;
            } else if elapsed >= delay / 2 {
                self.archive_log_status = "BEGINNING".to_owned();
            }
        } else if elapsed >= delay {
            self.archive_log_status = "STOP".to_owned();
            self.archive_transition = None;
        }
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
            "parameters_spreading": self.spreading.keys().collect::<Vec<_>>(),
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
    /// Times are OceanBase's, written in `clock`'s session zone.
    pub(crate) fn to_json(&self, details: bool, agent_port: u16, clock: DbClock) -> Value {
        let format_time = |time: Option<SystemTime>| format_db_time(time, clock);
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
            "nodes": if details { json!(self.nodes.iter().map(|n| n.to_json(agent_port, clock)).collect::<Vec<_>>()) } else { Value::Null },
        })
    }
}

impl Node {
    fn to_json(&self, agent_port: u16, clock: DbClock) -> Value {
        let format_time = |time: Option<SystemTime>| format_db_time(time, clock);
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
        answer_release: Notify::new(),
        port,
        sql_users: Mutex::new(crate::sql::SqlUsers::new()),
    })
}

//! The obshell HTTP client: the provider's only way to the cluster. It knows nothing of Terraform.
//!
//! - [`Client`] (built with [`Client::builder`]) speaks obshell's HTTP API with its "hybrid
//!   encryption" (RSA header, AES body; see `auth.rs`), checks once per client that the agent is a
//!   `CLUSTER AGENT` of obshell ≥ 4.2.4.0 ([`Client::agent_info`]), retries reads through transient
//!   faults and never sends a write twice.
//! - The typed calls (backup config, DAGs, cluster and tenant reads, archive-log status) live in
//!   `backup.rs`; their public types are re-exported here.
//! - [`wait_for_dag`] is the one way to wait for an obshell DAG.
//! - [`Error`] is the one error type.
//!
//! The obshell facts behind this module are in `obshell-api.md` (endpoints §1, DAGs §3,
//! authentication §4, error codes §7) and in obshell's source (<https://github.com/oceanbase/obshell>).

mod auth;
mod backup;
mod client;
mod dag;
mod error;

pub use auth::Password;
pub use backup::{
    ArchiveLogStatus, ArchiveLogTask, BackupConfigRequest, BackupParameters, BackupStorage,
    ClusterInfo, DeletePolicy, Parameter, StorageUri, TenantInfo, TenantOverview,
    BACKUP_PARAMETER_NAMES,
};
pub use client::{
    AgentInfo, Client, ClientBuilder, ObshellVersion, CLUSTER_AGENT, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_PARALLEL_REQUESTS, DEFAULT_READ_RETRY_BUDGET, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_UNREACHABLE_LIMIT, MAX_PARALLEL_REQUESTS_LIMIT,
};
pub use dag::{
    poll_interval, wait_for_dag, Dag, DagFailure, DagId, DagNode, DagOperator, DagState, SubTask,
    WaitOptions,
};
pub use error::{redact_secrets, Error, PollFailures, TlsFailure, TransportFailure};

//! obshell-sim: an obshell-compatible HTTP server with an in-memory OceanBase cluster, for tests
//! and demos (see README.md for the command line and CONTROL.md for the control API).
//!
//! It emulates the parts of obshell's API that backup configuration needs (obshell-api.md):
//! hybrid RSA+AES authentication, the backup-config DAG and its lifecycle, validation with the
//! emulated version's error codes, per-tenant reads, and fault injection under `/sim/v1`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), obshell_sim::SpawnError> {
//! let sim = obshell_sim::spawn(obshell_sim::SimConfig::new("root-password")).await?;
//! let base_url = sim.base_url(); // http://127.0.0.1:PORT, for the client under test
//! # let _ = base_url;
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

mod api_error;
mod backup_param;
mod clock;
mod control;
mod crypto;
mod dag;
mod duration;
mod faults;
mod latency;
mod obshell;
mod routes;
mod server;
mod sql;
mod state;
mod tls;
mod version;

pub use clock::{format_utc_offset, parse_clock_offset, parse_utc_offset};
pub use latency::{Latency, LatencyParseError};
pub use routes::{routes_of, EmulatedRoute, ROUTES};
pub use tls::{SimTls, TlsSetupError};
pub use version::{ObshellVersion, VersionParseError};

/// How to start a simulator: the address and the cluster it pretends to be.
///
/// Build it with [`SimConfig::new`] and adjust the public fields or the `with_*` methods.
#[derive(Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free port (see [`SimHandle::addr`]).
    pub listen: SocketAddr,
    /// The root@sys password that authenticated requests must carry.
    pub password: String,
    /// The obshell version to emulate (error shapes, key size, available routes).
    pub obshell_version: ObshellVersion,
    /// How many user tenants (`t1`, `t2`, ...) the cluster starts with.
    pub tenants: usize,
    /// The cluster name of `GET /api/v1/obcluster/info`.
    pub cluster_name: String,
    /// The cluster id, also the first segment of every per-tenant destination.
    pub cluster_id: i64,
    /// How long each DAG node runs.
    pub task_duration: Duration,
    /// Seed of everything random (the RSA key first), so runs are reproducible.
    pub seed: u64,
    /// The delay before every obshell answer (not the `/sim/v1` ones); none by default.
    pub latency: Latency,
    /// Where the MySQL-protocol listener (the sys tenant's backup views) listens; `None`: no
    /// listener. Port 0 picks a free port (see [`SimHandle::sql_addr`]).
    pub sql_listen: Option<SocketAddr>,
    /// HTTPS instead of plain HTTP for the obshell API and `/sim/v1`; `None`: plain HTTP.
    pub tls: Option<SimTls>,
    /// Store object-store destinations without their query string (`?host=...`), as an
    /// OceanBase may: obshell's storage read then answers 400 `OB.Storage.URI.Invalid`.
    pub query_less_object_paths: bool,
    /// How long a tenant parameter change takes to reach every server: each of the three
    /// simulated servers applies it after its share of this (a third, two thirds, all of it), and
    /// until then parameter reads show its old value as `GV$OB_PARAMETERS` would (one distinct
    /// row per value, in no fixed order). Zero: every server at once.
    pub parameter_lag: Duration,
    /// How long opening archive log takes through PREPARE (first half) and BEGINNING to DOING,
    /// and closing it through STOPPING to STOP. Zero: at once.
    pub archive_log_delay: Duration,
    /// OceanBase's clock minus the agent host's, in milliseconds: DAG times come from
    /// OceanBase's `NOW(6)`, `/api/v1/time` from the agent host. Zero by default.
    pub db_clock_offset_ms: i64,
    /// OceanBase's session time zone, minutes east of UTC, in which DAG times are written:
    /// +08:00 (480), OceanBase's default.
    pub db_time_zone_minutes: i32,
}

/// The harsh profile's `--parameter-lag`: longer than a DAG's last nodes at the default
/// `--task-duration`, so an apply's read-back sees the servers disagree (or not have the change
/// yet), short enough for a test suite.
pub const HARSH_PARAMETER_LAG: Duration = Duration::from_millis(600);
/// The harsh profile's `--archive-log-delay`.
pub const HARSH_ARCHIVE_LOG_DELAY: Duration = Duration::from_millis(300);

impl SimConfig {
    /// The defaults of the command line: 127.0.0.1:0, obshell 4.5.0.0, two tenants, cluster
    /// `obcluster` with id 1726000000, 100 ms per DAG node, seed 1.
    pub fn new(password: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            password: password.into(),
            obshell_version: ObshellVersion::new(4, 5, 0, 0),
            tenants: 2,
            cluster_name: "obcluster".to_owned(),
            cluster_id: 1_726_000_000,
            task_duration: Duration::from_millis(100),
            seed: 1,
            latency: Latency::NONE,
            sql_listen: None,
            tls: None,
            query_less_object_paths: false,
            parameter_lag: Duration::ZERO,
            archive_log_delay: Duration::ZERO,
            db_clock_offset_ms: 0,
            db_time_zone_minutes: 8 * 60,
        }
    }

    /// Also serves the MySQL protocol on `listen` (port 0 picks one).
    pub fn with_sql_listen(mut self, listen: SocketAddr) -> Self {
        self.sql_listen = Some(listen);
        self
    }

    /// Sets the emulated obshell version.
    pub fn with_obshell_version(mut self, version: ObshellVersion) -> Self {
        self.obshell_version = version;
        self
    }

    /// Sets the number of user tenants.
    pub fn with_tenants(mut self, tenants: usize) -> Self {
        self.tenants = tenants;
        self
    }

    /// Sets how long each DAG node runs.
    pub fn with_task_duration(mut self, duration: Duration) -> Self {
        self.task_duration = duration;
        self
    }

    /// Sets the listening address.
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Sets the cluster name and id.
    pub fn with_cluster(mut self, name: impl Into<String>, id: i64) -> Self {
        self.cluster_name = name.into();
        self.cluster_id = id;
        self
    }

    /// Sets the seed of the RSA key and every other random choice.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The `harsh` profile (`--profile harsh`): the realistic switches that make the simulator
    /// harder on a client than a quiet test cluster: a network delay with jitter on every
    /// answer (5 ms ± 4 ms), object-store destinations stored without their query string,
    /// parameter changes that take [`HARSH_PARAMETER_LAG`] to reach every server, archive log
    /// that takes [`HARSH_ARCHIVE_LOG_DELAY`] to open or close, and OceanBase's clock (DAG
    /// times) 3 h 17 s behind the agent host's. Everything else is as
    /// configured.
    pub fn harsh(mut self) -> Self {
        self.latency = Latency::new(Duration::from_millis(5), Duration::from_millis(4));
        self.query_less_object_paths = true;
        self.parameter_lag = HARSH_PARAMETER_LAG;
        self.archive_log_delay = HARSH_ARCHIVE_LOG_DELAY;
        self.db_clock_offset_ms = -(3 * 3_600_000 + 17_000); // a database clock 3h 17s behind
        self
    }

    /// Sets OceanBase's clock: its offset from the agent host's (milliseconds, either sign) and
    /// its session time zone (minutes east of UTC).
    pub fn with_db_clock(mut self, offset_ms: i64, time_zone_minutes: i32) -> Self {
        self.db_clock_offset_ms = offset_ms;
        self.db_time_zone_minutes = time_zone_minutes;
        self
    }

    /// Sets how long a parameter change takes to reach every server.
    pub fn with_parameter_lag(mut self, lag: Duration) -> Self {
        self.parameter_lag = lag;
        self
    }

    /// Sets how long archive log takes to open (PREPARE, BEGINNING) or close (STOPPING).
    pub fn with_archive_log_delay(mut self, delay: Duration) -> Self {
        self.archive_log_delay = delay;
        self
    }

    /// Applies a profile by name: `default` changes nothing, `harsh` is [`SimConfig::harsh`].
    ///
    /// # Errors
    /// The message for an unknown name.
    pub fn with_profile(self, profile: &str) -> Result<Self, String> {
        match profile {
            "default" => Ok(self),
            "harsh" => Ok(self.harsh()),
            other => Err(format!(
                "unknown profile {other:?}: use \"default\" or \"harsh\""
            )),
        }
    }

    /// Delays every obshell answer by `latency` (with its jitter).
    pub fn with_latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    /// Serves HTTPS with this certificate and key (and mutual TLS when it has a client CA).
    pub fn with_tls(mut self, tls: SimTls) -> Self {
        self.tls = Some(tls);
        self
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("listen", &self.listen)
            .field("obshell_version", &self.obshell_version)
            .field("tenants", &self.tenants)
            .field("cluster_name", &self.cluster_name)
            .field("cluster_id", &self.cluster_id)
            .field("task_duration", &self.task_duration)
            .field("seed", &self.seed)
            .field("latency", &self.latency)
            .field("sql_listen", &self.sql_listen)
            .field("tls", &self.tls)
            .field("query_less_object_paths", &self.query_less_object_paths)
            .field("parameter_lag", &self.parameter_lag)
            .field("archive_log_delay", &self.archive_log_delay)
            .field("db_clock_offset_ms", &self.db_clock_offset_ms)
            .field("db_time_zone_minutes", &self.db_time_zone_minutes)
            .finish_non_exhaustive()
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address from the configuration.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The emulated version is older than the first obshell with the backup APIs.
    #[error("obshell {0} has no backup APIs; emulate 4.2.4.0 or newer")]
    UnsupportedVersion(ObshellVersion),
    /// The TLS certificate, key or client CA cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// A running simulator. Dropping it stops accepting connections, like [`SimHandle::shutdown`].
pub struct SimHandle {
    addr: SocketAddr,
    https: bool,
    sql_addr: Option<SocketAddr>,
    sql_loop: Option<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    accept_loop: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The bound address (with the real port when the configuration asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound address of the MySQL-protocol listener, when one was asked for.
    pub fn sql_addr(&self) -> Option<SocketAddr> {
        self.sql_addr
    }

    /// `http://ADDR` (`https://ADDR` with TLS), the base URL of the obshell API (`/api/v1/...`)
    /// and the control API (`/sim/v1/...`).
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, closes open connections and waits for the accept loop to end.
    /// DAGs still running are abandoned.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(accept_loop) = self.accept_loop.take() {
            let _ = accept_loop.await;
        }
        if let Some(sql_loop) = self.sql_loop.take() {
            let _ = sql_loop.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Binds `config.listen` and serves obshell's API on the current tokio runtime until shut down.
///
/// # Errors
/// [`SpawnError::Bind`] when the address cannot be bound, [`SpawnError::UnsupportedVersion`] for
/// a version older than 4.2.4.0, [`SpawnError::Tls`] for TLS material that cannot serve.
pub async fn spawn(config: SimConfig) -> Result<SimHandle, SpawnError> {
    if config.obshell_version < ObshellVersion::MIN_SUPPORTED {
        return Err(SpawnError::UnsupportedVersion(config.obshell_version));
    }
    let tls = config.tls.as_ref().map(SimTls::acceptor).transpose()?;
    let https = tls.is_some();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SpawnError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SpawnError::Bind {
        addr: config.listen,
        source,
    })?;
    let sql_listener = match config.sql_listen {
        None => None,
        Some(sql_listen) => Some(tokio::net::TcpListener::bind(sql_listen).await.map_err(
            |source| SpawnError::Bind {
                addr: sql_listen,
                source,
            },
        )?),
    };
    let sql_addr = match &sql_listener {
        None => None,
        Some(listener) => Some(listener.local_addr().map_err(|source| SpawnError::Bind {
            addr: config.sql_listen.unwrap_or(config.listen),
            source,
        })?),
    };
    // Key generation is CPU work; keep it off the async worker.
    let port = addr.port();
    let shared = tokio::task::spawn_blocking(move || state::new_shared(config, port))
        .await
        .expect("building the initial state does not panic");
    let (shutdown, receiver) = watch::channel(false);
    let sql_loop = sql_listener
        .map(|listener| tokio::spawn(sql::accept_loop(listener, shared.clone(), receiver.clone())));
    let accept_loop = tokio::spawn(server::accept_loop(listener, tls, shared, receiver));
    tracing::info!(%addr, ?sql_addr, "obshell-sim listening");
    Ok(SimHandle {
        addr,
        https,
        sql_addr,
        sql_loop,
        shutdown,
        accept_loop: Some(accept_loop),
    })
}

//! [`Client`] and its builder: the HTTP transport (reqwest on rustls with the ring provider),
//! obshell's authentication with key and clock recovery, the one place that turns a response into
//! data or an [`Error::Api`], and the retry rules (reads retry transient faults; writes are resent
//! only when they were never sent).

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::OsRng;
use rand::Rng;
use reqwest::{Method, Url};
use rsa::RsaPublicKey;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::sync::{Mutex, OnceCell, Semaphore};
use tokio::time::Instant;

use super::auth::{self, AesKeys, Password};
use super::dag::{parse_go_time, Dag, DagDto, DagId};
use super::error::{redact_secrets, Error, TlsFailure, TransportFailure};

/// The default time one HTTP request may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time opening a connection may take. Kept well below the request timeout so that a
/// host that never answers the TCP connect is a connect failure (the request was certainly not
/// sent, so even a write may be sent again), not a request timeout (which may hide a sent write).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default retry window of reads: see [`ClientBuilder::read_retry_budget`] for the policy.
pub const DEFAULT_READ_RETRY_BUDGET: Duration = Duration::from_secs(10);
/// The default time the polls of a running DAG may keep failing before the wait gives up: see
/// [`ClientBuilder::unreachable_limit`].
pub const DEFAULT_UNREACHABLE_LIMIT: Duration = Duration::from_secs(5 * 60);
/// The default bound on requests in flight (and so on connections) to one obshell agent. Chosen by
/// measurement (`scripts/bench-scale.sh`; the figures are in docs/benchmarks.md): at 20 ms per
/// answer, a 100-tenant plan took 7.6 s with 1 request at a time, 2.5 s with 8, 1.25 s with 16 and
/// 1.0 s with 32 (2026-11-30, a shared 2-core machine). Past 16 the plan's fixed cost (Terraform's
/// start, the plugin handshake, about 0.5 s) dominates, while every request in flight still costs
/// obshell an RSA decryption and a SQL query on the cluster it manages.
pub const DEFAULT_MAX_PARALLEL_REQUESTS: usize = 16;
/// The largest accepted bound on parallel requests.
pub const MAX_PARALLEL_REQUESTS_LIMIT: usize = 64;
/// How long an authentication header stays valid, as the SDKs choose it.
const AUTH_LIFETIME_SECONDS: i64 = 60;
/// obshell's name for the cluster backup-config DAG.
pub(crate) const BACKUP_CONFIG_DAG_NAME: &str = "Set obcluster backup config";

/// A handle to one obshell agent. Cheap to clone; clones share the cached public key, agent
/// information and clock offset. Build it with [`Client::builder`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// One permit per request in flight: at most `max_parallel_requests` requests, and so (with
    /// the pool's idle bound) connections, to the agent at once.
    in_flight: Semaphore,
    max_parallel_requests: usize,
    base_url: Url,
    password: Password,
    read_retry_budget: Duration,
    unreachable_limit: Duration,
    public_key: Mutex<Option<Arc<RsaPublicKey>>>,
    /// The server's clock minus ours, in milliseconds, learnt from response timestamps and from
    /// `GET /api/v1/time`.
    clock_offset_ms: AtomicI64,
    /// The highest DAG id seen in any answer, for the lost-write search.
    max_dag_id_seen: AtomicI64,
    agent_info: OnceCell<AgentInfo>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url.as_str())
            .field("read_retry_budget", &self.inner.read_retry_budget)
            .field("max_parallel_requests", &self.inner.max_parallel_requests)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]: base URL, password, timeouts and TLS material.
pub struct ClientBuilder {
    base_url: String,
    password: Option<Password>,
    request_timeout: Duration,
    connect_timeout: Duration,
    read_retry_budget: Duration,
    unreachable_limit: Duration,
    max_parallel_requests: usize,
    ca_certificate_pem: Option<Vec<u8>>,
    client_identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_retry_budget", &self.read_retry_budget)
            .field("max_parallel_requests", &self.max_parallel_requests)
            .field("has_ca_certificate", &self.ca_certificate_pem.is_some())
            .field("has_client_identity", &self.client_identity_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The root@sys password (required; it may be empty on a cluster without one).
    pub fn password(mut self, password: impl Into<Password>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// How long one HTTP request may take, from connecting to the end of the answer
    /// (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long opening a connection may take (default [`DEFAULT_CONNECT_TIMEOUT`]). A connection
    /// that does not open in time is a connect failure: the request was not sent.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The retry window of reads (default [`DEFAULT_READ_RETRY_BUDGET`]).
    ///
    /// The policy: a read (and a write that repeats harmlessly, such as setting a status) is
    /// retried after a transient failure (a connection error, a timeout, or HTTP 502/503/504),
    /// after a jittered pause of 50–100 ms doubling up to 1–2 s. The first retry after a failure
    /// always happens, whatever the budget and however long the failed attempt took (a timed-out
    /// attempt takes the whole request timeout). Each later retry happens only if the time since
    /// the first failure ended, plus the coming pause, is within the budget. The time of the
    /// first failed attempt itself is not counted. A write that must not run twice is resent under
    /// the same rule, but only after a connect failure, when it was certainly not sent.
    pub fn read_retry_budget(mut self, budget: Duration) -> Self {
        self.read_retry_budget = budget;
        self
    }

    /// How long the polls of a running DAG may keep failing with transient faults (obshell does
    /// not answer, or answers 502/503/504) before [`super::wait_for_dag`] stops waiting with
    /// [`Error::DagUnreachable`] (default [`DEFAULT_UNREACHABLE_LIMIT`]). One successful poll
    /// starts the count again.
    pub fn unreachable_limit(mut self, limit: Duration) -> Self {
        self.unreachable_limit = limit;
        self
    }

    /// The most requests in flight to the agent at once (default
    /// [`DEFAULT_MAX_PARALLEL_REQUESTS`], 1 to [`MAX_PARALLEL_REQUESTS_LIMIT`]). Every request
    /// waits for one of this many permits for as long as it is sent and its answer read, and the
    /// connection pool keeps no more idle connections than this, so the client holds at most this
    /// many connections to the agent. Callers may start more work at once; it queues here.
    pub fn max_parallel_requests(mut self, max: usize) -> Self {
        self.max_parallel_requests = max;
        self
    }

    /// A PEM CA certificate to trust for an https endpoint, besides the system's roots.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificate_pem = Some(pem.into());
        self
    }

    /// A PEM client certificate (chain) and its PEM private key, for mutual TLS.
    pub fn client_identity_pem(
        mut self,
        certificate_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_identity_pem = Some((certificate_pem.into(), key_pem.into()));
        self
    }

    /// Checks the configuration and builds the client. Makes no network call.
    ///
    /// # Errors
    /// [`Error::Config`] for a base URL that is not `http(s)://host[:port]` (no path, query or
    /// credentials), a missing password, or unusable TLS material.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = parse_base_url(&self.base_url)?;
        let password = self.password.ok_or_else(|| Error::Config {
            reason: "a password is required".to_owned(),
        })?;
        let max_parallel_requests = self.max_parallel_requests;
        if !(1..=MAX_PARALLEL_REQUESTS_LIMIT).contains(&max_parallel_requests) {
            return Err(Error::Config {
                reason: format!(
                    "max_parallel_requests must be from 1 to {MAX_PARALLEL_REQUESTS_LIMIT}, got {max_parallel_requests}"
                ),
            });
        }
        let mut http = reqwest::Client::builder()
            .use_rustls_tls()
            // obshell speaks HTTP/1.1: one request per connection at a time, so the semaphore's
            // bound on requests is a bound on connections in use, and idle ones are capped here.
            .http1_only()
            .pool_max_idle_per_host(max_parallel_requests)
            .timeout(self.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "terraform-provider-oceanbase/",
                env!("CARGO_PKG_VERSION")
            ));
        if base_url.host_str().is_some_and(is_loopback_host) {
            // A proxy from the environment must never see loopback traffic.
            http = http.no_proxy();
        }
        if base_url.scheme() == "http" {
            // Plain HTTP never verifies a certificate: skip loading the system's roots.
            http = http.tls_built_in_root_certs(false);
        }
        http = http.connect_timeout(self.connect_timeout);
        if let Some(pem) = &self.ca_certificate_pem {
            let certificate =
                reqwest::Certificate::from_pem(pem).map_err(|error| Error::Config {
                    reason: format!("the CA certificate is not usable PEM: {error}"),
                })?;
            http = http.add_root_certificate(certificate);
        }
        if let Some((certificate_pem, key_pem)) = &self.client_identity_pem {
            let mut both = key_pem.clone();
            both.push(b'\n');
            both.extend_from_slice(certificate_pem);
            let identity = reqwest::Identity::from_pem(&both).map_err(|_| Error::Config {
                reason: "the client certificate and key are not a usable PEM pair".to_owned(),
            })?;
            http = http.identity(identity);
        }
        let http = http.build().map_err(|error| Error::Config {
            reason: format!("cannot build the HTTP client: {error}"),
        })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                in_flight: Semaphore::new(max_parallel_requests),
                max_parallel_requests,
                base_url,
                password,
                read_retry_budget: self.read_retry_budget,
                unreachable_limit: self.unreachable_limit,
                public_key: Mutex::new(None),
                clock_offset_ms: AtomicI64::new(0),
                max_dag_id_seen: AtomicI64::new(0),
                agent_info: OnceCell::new(),
            }),
        })
    }
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_base_url(text: &str) -> Result<Url, Error> {
    let invalid = |why: &str| Error::Config {
        reason: format!("the endpoint must be http(s)://host[:port]: {why}"),
    };
    let url = Url::parse(text.trim()).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(&format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not carry credentials"));
    }
    if url.path() != "/" && !url.path().is_empty() {
        return Err(invalid("it must not have a path"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    Ok(url)
}

/// What `GET /api/v1/info` says about the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    /// The obshell version.
    pub version: ObshellVersion,
    /// The version as obshell spelled it.
    pub version_text: String,
    /// The agent's identity, e.g. `CLUSTER AGENT`.
    pub identity: String,
    /// The OceanBase version, when reported.
    pub ob_version: Option<String>,
}

/// The identity an agent must have to manage cluster backups.
pub const CLUSTER_AGENT: &str = "CLUSTER AGENT";

/// An obshell version, comparable: `4.2.4.0 < 4.3.2.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObshellVersion(pub [u32; 4]);

impl ObshellVersion {
    /// The first version with the backup APIs (backup config, archive-log status).
    pub const BACKUP_APIS: ObshellVersion = ObshellVersion([4, 2, 4, 0]);
    /// The first version with `GET /api/v1/task/dags/ob` (every cluster DAG).
    pub const ALL_DAGS_LIST: ObshellVersion = ObshellVersion([4, 3, 0, 0]);
    /// The first version with `errCode` in errors.
    pub const ERR_CODES: ObshellVersion = ObshellVersion([4, 3, 1, 0]);
    /// The first version with the backup reads (`backup/config/storage`, `backup/log/tasks`) and
    /// archive-log `SUSPEND`.
    pub const BACKUP_READS: ObshellVersion = ObshellVersion([4, 3, 2, 0]);

    /// Parses `4.2.4.0`, `4.2.4.0-100000012024...` or `4.2.4`.
    pub fn parse(text: &str) -> Option<ObshellVersion> {
        let numeric = text.trim().split(['-', '_', ' ']).next()?;
        let mut parts = [0u32; 4];
        let mut n_parts = 0;
        for (idx, part) in numeric.split('.').enumerate() {
            if idx >= 4 {
                return None;
            }
            parts[idx] = part.parse().ok()?;
            n_parts += 1;
        }
        (n_parts >= 2).then_some(ObshellVersion(parts))
    }

    /// Whether the per-tenant backup reads exist (obshell ≥ 4.3.2).
    pub fn supports_backup_reads(&self) -> bool {
        *self >= Self::BACKUP_READS
    }

    /// Whether errors carry `errCode` (obshell ≥ 4.3.1).
    pub fn has_err_codes(&self) -> bool {
        *self >= Self::ERR_CODES
    }

    /// Whether `GET /api/v1/task/dags/ob` exists (obshell ≥ 4.3.0).
    pub fn lists_all_dags(&self) -> bool {
        *self >= Self::ALL_DAGS_LIST
    }

    /// Whether `GET /api/v1/obcluster/info` exists (obshell ≥ 4.3.0, like the full DAG list:
    /// both came with PR 378); before it the cluster id is only in `GET /api/v1/ob/info`.
    pub fn has_obcluster_info(&self) -> bool {
        *self >= Self::ALL_DAGS_LIST
    }
}

impl fmt::Display for ObshellVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

#[derive(Deserialize)]
struct AgentInfoDto {
    #[serde(default)]
    version: String,
    #[serde(default)]
    identity: String,
    #[serde(default, rename = "obVersion")]
    ob_version: Option<String>,
}

#[derive(Deserialize)]
struct SecretDto {
    public_key: String,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<ApiErrorDto>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct ApiErrorDto {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default, rename = "errCode")]
    err_code: Option<String>,
    #[serde(default)]
    message: String,
}

/// How a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryClass {
    /// Retry transport faults and 502/503/504 within the retry budget.
    Read,
    /// A write whose repetition changes nothing (setting a status): retried like a read.
    IdempotentWrite,
    /// A write that must not run twice: resent only when it was never sent.
    Write,
}

/// One request as the typed calls describe it.
pub(crate) struct Call {
    pub(crate) method: Method,
    /// The request target: path and optional query, already percent-encoded.
    pub(crate) target: String,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) authenticated: bool,
    pub(crate) retry: RetryClass,
}

impl Call {
    pub(crate) fn get(target: impl Into<String>) -> Self {
        Call {
            method: Method::GET,
            target: target.into(),
            body: None,
            authenticated: true,
            retry: RetryClass::Read,
        }
    }

    pub(crate) fn write(
        method: Method,
        target: impl Into<String>,
        body: &impl serde::Serialize,
        retry: RetryClass,
    ) -> Self {
        // Our request bodies are plain structs of strings and numbers; they always serialise.
        let body = serde_json::to_vec(body).expect("request bodies serialise to JSON");
        Call {
            method,
            target: target.into(),
            body: Some(body),
            authenticated: true,
            retry,
        }
    }

    /// A GET of a route that needs no authentication (`/api/v1/info`, `/secret`, `/time`).
    pub(crate) fn get_public(target: impl Into<String>) -> Self {
        Call {
            authenticated: false,
            ..Call::get(target)
        }
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }
}

/// The jittered pause before retry number `attempt` (0-based): 100 ms doubling to at most 2 s,
/// scaled by a factor in [0.5, 1.0) from `jitter` in [0, 1).
pub(crate) fn retry_backoff(attempt: u32, jitter: f64) -> Duration {
    let base = Duration::from_millis(100)
        .saturating_mul(1u32 << attempt.min(5))
        .min(Duration::from_secs(2));
    base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// The retry policy of [`ClientBuilder::read_retry_budget`] as a pure function: whether a call
/// that has been retried `retries_done` times may be retried again after `pause`, when
/// `since_first_failure` has passed since its first failed attempt ended.
pub(crate) fn may_retry(
    retries_done: u32,
    since_first_failure: Duration,
    pause: Duration,
    budget: Duration,
) -> bool {
    retries_done == 0 || since_first_failure.saturating_add(pause) <= budget
}

fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

fn system_time_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

impl Client {
    /// Starts building a client for `base_url` (`http://host:port` or `https://host:port`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            password: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_retry_budget: DEFAULT_READ_RETRY_BUDGET,
            unreachable_limit: DEFAULT_UNREACHABLE_LIMIT,
            max_parallel_requests: DEFAULT_MAX_PARALLEL_REQUESTS,
            ca_certificate_pem: None,
            client_identity_pem: None,
        }
    }

    /// How long DAG polls may keep failing before a wait gives up (see
    /// [`ClientBuilder::unreachable_limit`]).
    pub fn unreachable_limit(&self) -> Duration {
        self.inner.unreachable_limit
    }

    /// The most requests this client has in flight at once (see
    /// [`ClientBuilder::max_parallel_requests`]): how many independent reads are worth starting
    /// together.
    pub fn max_parallel_requests(&self) -> usize {
        self.inner.max_parallel_requests
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &str {
        self.inner.base_url.as_str().trim_end_matches('/')
    }

    /// `GET /api/v1/info`, asked once per client and cached: the agent's identity and version.
    ///
    /// # Errors
    /// [`Error::Unsupported`] unless the agent is a `CLUSTER AGENT` of obshell ≥ 4.2.4.0, saying
    /// what was found; transport, API and decode errors of the request.
    pub async fn agent_info(&self) -> Result<AgentInfo, Error> {
        let info = self
            .inner
            .agent_info
            .get_or_try_init(|| async {
                let call = Call::get_public("/api/v1/info");
                let dto: AgentInfoDto = self.run_plain(&call).await.map_err(|error| {
                    match not_obshell_answer(&error) {
                        Some(answer) => Error::NotObshell {
                            endpoint: self.base_url().to_owned(),
                            answer,
                        },
                        None => error,
                    }
                })?;
                let version =
                    ObshellVersion::parse(&dto.version).ok_or_else(|| Error::Unsupported {
                        endpoint: self.base_url().to_owned(),
                        found: format!("an agent whose version {:?} cannot be read", dto.version),
                        needed: format!("obshell {} or later", ObshellVersion::BACKUP_APIS),
                    })?;
                Ok::<_, Error>(AgentInfo {
                    version,
                    version_text: dto.version,
                    identity: dto.identity,
                    ob_version: dto.ob_version.filter(|text| !text.is_empty()),
                })
            })
            .await?;
        if info.identity != CLUSTER_AGENT || info.version < ObshellVersion::BACKUP_APIS {
            return Err(Error::Unsupported {
                endpoint: self.base_url().to_owned(),
                found: format!(
                    "identity {:?} on obshell {}",
                    info.identity, info.version_text
                ),
                needed: format!(
                    "a {CLUSTER_AGENT:?} of obshell {} or later",
                    ObshellVersion::BACKUP_APIS
                ),
            });
        }
        Ok(info.clone())
    }

    /// Checks that the agent's version is at least `needed` for `what`.
    pub(crate) async fn require_version(
        &self,
        needed: ObshellVersion,
        what: &str,
    ) -> Result<AgentInfo, Error> {
        let info = self.agent_info().await?;
        if info.version < needed {
            return Err(Error::Unsupported {
                endpoint: self.base_url().to_owned(),
                found: format!("obshell {}", info.version_text),
                needed: format!("obshell {needed} or later for {what}"),
            });
        }
        Ok(info)
    }

    /// Runs a call after checking the agent, and decodes `data`.
    pub(crate) async fn call_decoded<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        self.agent_info().await?;
        self.run_decoded(call).await
    }

    /// Runs a call after checking the agent; `data` may be absent.
    pub(crate) async fn call_raw(&self, call: &Call) -> Result<Option<serde_json::Value>, Error> {
        self.agent_info().await?;
        self.run(call).await
    }

    async fn run_decoded<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let data = self.run(call).await?;
        decode_data(call, data.unwrap_or(serde_json::Value::Null))
    }

    /// Runs a call with the retry rules of its class; does not look for DAGs.
    async fn run(&self, call: &Call) -> Result<Option<serde_json::Value>, Error> {
        self.with_retries(call, || self.send_authenticated(call))
            .await
    }

    /// Runs an unauthenticated call (`/api/v1/info`, `/secret`, `/time`) with read retries.
    async fn run_plain<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let data = self
            .with_retries(call, || self.send_once(call, None))
            .await?;
        decode_data(call, data.unwrap_or(serde_json::Value::Null))
    }

    /// Repeats `send` as the call's retry class allows, within the retry budget.
    async fn with_retries<F, Fut>(
        &self,
        call: &Call,
        send: F,
    ) -> Result<Option<serde_json::Value>, Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<serde_json::Value>, Error>>,
    {
        let mut first_failure: Option<Instant> = None;
        let mut attempt = 0u32;
        loop {
            let result = send().await;
            let retryable = match (&result, call.retry) {
                (Err(error), RetryClass::Read | RetryClass::IdempotentWrite) => {
                    error.is_transient()
                }
                (
                    Err(Error::Transport {
                        failure: TransportFailure::Connect,
                        ..
                    }),
                    RetryClass::Write,
                ) => true,
                _ => false,
            };
            if !retryable {
                return result;
            }
            let pause = retry_backoff(attempt, OsRng.gen::<f64>());
            let since_first_failure = first_failure.get_or_insert_with(Instant::now).elapsed();
            if !may_retry(
                attempt,
                since_first_failure,
                pause,
                self.inner.read_retry_budget,
            ) {
                return result;
            }
            if let Err(error) = &result {
                tracing::debug!(method = %call.method, path = call.path(), attempt, pause_ms = pause.as_millis() as u64, error = %error, "retrying");
            }
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// Sends once, recovering once from a stale public key and once from clock skew.
    ///
    /// obshell ≥ 4.3.1 says which: `Header.DecryptFailed` (a stale key: fetch it again) or
    /// `Authentication.Expired` (clock skew: sync the clock). obshell ≤ 4.3.0 answers every auth
    /// failure, a stale key included, with a bare 401 code 10008; then the client drops the cached
    /// key, resyncs the clock and sends the request once more (a rejected request had no effect),
    /// and a second 10008 is the answer (a wrong password, say).
    async fn send_authenticated(&self, call: &Call) -> Result<Option<serde_json::Value>, Error> {
        if !call.authenticated {
            return self.send_once(call, None).await;
        }
        // Each recovery happens at most once per call.
        let mut key_refreshed = false;
        let mut clock_synced = false;
        loop {
            let key = self.public_key().await?;
            let result = self.send_once(call, Some(&key)).await;
            let Err(error) = &result else { return result };
            if !error.is_unauthorized() {
                return result;
            }
            match (error.err_code(), error.legacy_code()) {
                (Some("Security.Authentication.Header.DecryptFailed"), _) | (None, Some(1))
                    if !key_refreshed =>
                {
                    tracing::debug!(
                        "obshell could not decrypt the header; fetching its public key again"
                    );
                    self.forget_public_key(&key).await;
                    key_refreshed = true;
                }
                (Some("Security.Authentication.Expired"), _) if !clock_synced => {
                    clock_synced = true;
                    self.sync_clock().await?;
                }
                (None, Some(10008)) if !key_refreshed && !clock_synced => {
                    tracing::debug!(
                        "obshell refused the request without saying why; fetching its public key and clock again"
                    );
                    self.forget_public_key(&key).await;
                    key_refreshed = true;
                    clock_synced = true;
                    self.sync_clock().await?;
                }
                _ => return result,
            }
        }
    }

    async fn public_key(&self) -> Result<Arc<RsaPublicKey>, Error> {
        let mut cached = self.inner.public_key.lock().await;
        if let Some(key) = cached.as_ref() {
            return Ok(Arc::clone(key));
        }
        let call = Call::get_public("/api/v1/secret");
        let dto: SecretDto = self.run_plain(&call).await?;
        let key = Arc::new(auth::parse_public_key(&dto.public_key)?);
        *cached = Some(Arc::clone(&key));
        Ok(key)
    }

    async fn forget_public_key(&self, stale: &Arc<RsaPublicKey>) {
        let mut cached = self.inner.public_key.lock().await;
        if cached.as_ref().is_some_and(|key| Arc::ptr_eq(key, stale)) {
            *cached = None;
        }
    }

    /// `GET /api/v1/time`: sets the clock offset from the server's time and returns it.
    async fn sync_clock(&self) -> Result<i64, Error> {
        let call = Call::get_public("/api/v1/time");
        let sent_ms = now_unix_ms();
        let text: String = self.run_plain(&call).await?;
        let received_ms = now_unix_ms();
        let server = parse_go_time(&text).ok_or_else(|| Error::Decode {
            method: "GET".to_owned(),
            path: "/api/v1/time".to_owned(),
            reason: format!("{:?} is not an RFC 3339 time", redact_secrets(&text)),
        })?;
        let offset = system_time_ms(server) - (sent_ms + received_ms) / 2;
        self.inner.clock_offset_ms.store(offset, Ordering::Relaxed);
        tracing::debug!(offset_ms = offset, "took obshell's clock from /api/v1/time");
        Ok(offset)
    }

    /// The server's current time in Unix milliseconds, as far as this client knows the offset.
    pub(crate) fn server_now_ms(&self) -> i64 {
        now_unix_ms() + self.inner.clock_offset_ms.load(Ordering::Relaxed)
    }

    fn url_for(&self, target: &str) -> Result<Url, Error> {
        let text = format!("{}{}", self.base_url(), target);
        Url::parse(&text).map_err(|error| Error::Config {
            reason: format!("cannot build a URL for {target}: {error}"),
        })
    }

    /// Sends one HTTP request and maps its answer; logs method, path, status and duration.
    async fn send_once(
        &self,
        call: &Call,
        key: Option<&RsaPublicKey>,
    ) -> Result<Option<serde_json::Value>, Error> {
        // Taken before the authentication header is made (its lifetime starts now, not when a
        // long queue was entered) and held until the whole answer is read, so that the connection
        // is free again when the next request gets its permit. The semaphore is never closed.
        let permit = self
            .inner
            .in_flight
            .acquire()
            .await
            .map_err(|_| Error::Config {
                reason: "the client's request limiter was closed".to_owned(),
            })?;
        let url = self.url_for(&call.target)?;
        // The header's `uri` must equal the request target byte for byte: take it from the URL
        // exactly as it will be sent.
        let request_target = &url[url::Position::BeforePath..];
        let mut request = self.inner.http.request(call.method.clone(), url.clone());
        if let Some(key) = key {
            let mut rng = OsRng;
            let keys = call.body.as_ref().map(|_| AesKeys::random(&mut rng));
            let expires_at = self.server_now_ms() / 1000 + AUTH_LIFETIME_SECONDS;
            let header_json = auth::header_json(
                &self.inner.password,
                expires_at,
                request_target,
                keys.as_ref(),
            );
            let header = auth::encrypt_header(key, &header_json, &mut rng)?;
            request = request.header(auth::HEADER_NAME, header);
            if let (Some(body), Some(keys)) = (&call.body, &keys) {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(auth::encrypt_body(keys, body));
            }
        } else if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started = Instant::now();
        let sent_ms = now_unix_ms();
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let failure = classify_transport(&error);
                tracing::debug!(method = %call.method, path = call.path(), duration_ms = started.elapsed().as_millis() as u64, %failure, "obshell request failed");
                return Err(transport_error(call, failure, error));
            }
        };
        let status = response.status();
        let bytes = match read_bounded(response).await {
            Ok(bytes) => bytes,
            Err(BodyError::Transport(error)) => {
                let failure = classify_transport(&error);
                tracing::debug!(method = %call.method, path = call.path(), status = status.as_u16(), %failure, "obshell answer broke off");
                return Err(transport_error(call, failure, error));
            }
            Err(BodyError::TooLarge) => {
                tracing::debug!(method = %call.method, path = call.path(), status = status.as_u16(), "obshell answer over the size bound");
                return Err(Error::Decode {
                    method: call.method.to_string(),
                    path: call.path().to_owned(),
                    reason: format!(
                        "{ANSWER_TOO_LARGE} {} MiB, more than any obshell answer; the provider stopped reading it",
                        MAX_ANSWER_BYTES / (1024 * 1024)
                    ),
                });
            }
        };
        drop(permit);
        tracing::debug!(
            method = %call.method,
            path = call.path(),
            status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "obshell request"
        );
        let envelope: Option<Envelope> = serde_json::from_slice(&bytes).ok();
        if let Some(server_time) = envelope
            .as_ref()
            .and_then(|envelope| envelope.timestamp.as_deref())
            .and_then(parse_go_time)
        {
            let offset = system_time_ms(server_time) - (sent_ms + now_unix_ms()) / 2;
            self.inner.clock_offset_ms.store(offset, Ordering::Relaxed);
        }
        if status.is_success() {
            return match envelope {
                Some(envelope) => Ok(envelope.data),
                None if bytes.is_empty() => Ok(None),
                None => Err(Error::Decode {
                    method: call.method.to_string(),
                    path: call.path().to_owned(),
                    reason: "the answer is not an obshell JSON envelope".to_owned(),
                }),
            };
        }
        let (code, err_code, message) = match envelope.and_then(|envelope| envelope.error) {
            Some(error) => (
                error.code.filter(|code| *code != 0),
                error.err_code.filter(|code| !code.is_empty()),
                redact_secrets(&error.message),
            ),
            None => (None, None, describe_foreign_body(&bytes)),
        };
        Err(Error::Api {
            method: call.method.to_string(),
            path: call.path().to_owned(),
            status: status.as_u16(),
            code,
            err_code,
            message,
        })
    }

    /// Sends a write that starts a DAG named `dag_name`. It is resent only when it was never sent;
    /// when its answer is lost after sending (a broken connection, a timeout, or a 502/503/504 from
    /// a proxy), the client looks for the DAG it may have started instead of sending it again.
    ///
    /// The search goes by identity, not by time: DAG times are OceanBase's clock in its session
    /// zone, which can be hours away from the agent's (obshell-api.md §10.5), and RETRY, ROLLBACK
    /// and CANCEL restamp an older DAG. DAG ids grow monotonically, so before sending, the client
    /// reads the highest DAG id obshell has ([`Self::dag_id_high_water`]); a DAG named `dag_name`
    /// above it is one this write (or another client at the same moment) started.
    ///
    /// Ids alone cannot tell which: obshell does not refuse a second cluster backup-config DAG
    /// while one runs (its template sets no maintenance lock: `buildSetBackupConfigTemplate` in
    /// `ob/agent/executor/ob/backup_config.go`, and `CreateDagInstanceByTemplate` in
    /// `ob/agent/service/task/dag.go` locks only for maintenance templates), so another client's
    /// DAG can start while this write's request is lost on its way and starts nothing. A single
    /// DAG found by the search is therefore returned with [`Dag::found_by_search`] set: a
    /// candidate whose effect the caller must check before taking its outcome for the write's.
    pub(crate) async fn write_dag(&self, call: &Call, dag_name: &str) -> Result<Dag, Error> {
        let info = self.agent_info().await?;
        let high_water = self.dag_id_high_water(&info).await?;
        let answer = self
            .run(call)
            .await
            .and_then(|data| decode_data::<DagDto>(call, data.unwrap_or(serde_json::Value::Null)));
        match answer {
            Ok(dto) => {
                let dag = Dag::from(dto);
                self.saw_dag_id(dag.dag_id);
                Ok(dag)
            }
            Err(error) if lost_after_sending(call, &error) => {
                tracing::warn!(method = %call.method, path = call.path(), error = %error, high_water = high_water.id, "the answer to a write was lost; looking for the dag it may have started");
                self.find_started_dag(call, dag_name, &high_water, error)
                    .await
            }
            Err(error) => Err(error),
        }
    }

    /// The highest DAG id obshell has stored, read just before a write: from every cluster DAG
    /// (`GET /api/v1/task/dags/ob`, obshell ≥ 4.3.0) or, where that list does not exist, from the
    /// unfinished ones and every DAG this client has seen (obshell 4.2.x lists no finished DAG).
    /// The write's DAG, if it starts one, gets a higher id.
    ///
    /// The full list is every DAG the cluster ever ran, unpaged and unfiltered (obshell's
    /// `GetAllClusterDags` takes only `show_details`): on a long-lived cluster it can pass the
    /// client's answer bound. When it cannot be read, for that or any other reason, the write is
    /// not given up: the high-water falls back to the unfinished list and the ids seen, and is
    /// marked as such, so that a lost answer is not decided by it ([`Self::find_started_dag`]).
    async fn dag_id_high_water(&self, info: &AgentInfo) -> Result<HighWater, Error> {
        let mut full_list_unreadable = None;
        if info.version.lists_all_dags() {
            match self.max_dag_id(ALL_CLUSTER_DAGS).await {
                Ok(max) => {
                    self.saw_dag_id(max);
                    return Ok(HighWater {
                        id: self.inner.max_dag_id_seen.load(Ordering::Relaxed),
                        full_list_unreadable: None,
                    });
                }
                // An agent without the full list: as on 4.2.x.
                Err(error) if error.is_no_route() => {}
                Err(error) => {
                    tracing::warn!(%error, "the list of every cluster dag could not be read; the highest dag id comes from the unfinished ones and those seen");
                    full_list_unreadable = Some(error.to_string());
                }
            }
        }
        let unfinished = self.max_dag_id(UNFINISHED_CLUSTER_DAGS).await?;
        self.saw_dag_id(unfinished);
        Ok(HighWater {
            id: self.inner.max_dag_id_seen.load(Ordering::Relaxed),
            full_list_unreadable,
        })
    }

    async fn max_dag_id(&self, target: &str) -> Result<i64, Error> {
        Ok(self
            .list_dags(target)
            .await?
            .iter()
            .map(|dag| dag.dag_id)
            .max()
            .unwrap_or(0))
    }

    /// Records that obshell has a DAG with this numeric id (see [`Self::dag_id_high_water`]).
    pub(crate) fn saw_dag_id(&self, dag_id: i64) {
        self.inner
            .max_dag_id_seen
            .fetch_max(dag_id, Ordering::Relaxed);
    }

    async fn list_dags(&self, target: &str) -> Result<Vec<Dag>, Error> {
        let list: Contents<DagDto> = self.run_decoded(&Call::get(target)).await?;
        Ok(list
            .contents
            .unwrap_or_default()
            .into_iter()
            .map(Dag::from)
            .collect())
    }

    /// Sends a write that starts no DAG and must not run twice: it is resent only when it was never
    /// sent, and a lost answer is [`Error::WriteOutcomeUnknown`].
    pub(crate) async fn write_once(&self, call: &Call) -> Result<Option<serde_json::Value>, Error> {
        self.agent_info().await?;
        match self.run(call).await {
            Err(error)
                if matches!(error, Error::Transport { .. } | Error::Decode { .. })
                    && lost_after_sending(call, &error) =>
            {
                Err(Error::WriteOutcomeUnknown {
                    method: call.method.to_string(),
                    path: call.path().to_owned(),
                    cause: error.to_string(),
                    finding: "the request may have been applied".to_owned(),
                    candidates: Vec::new(),
                })
            }
            other => other,
        }
    }

    async fn find_started_dag(
        &self,
        call: &Call,
        dag_name: &str,
        high_water: &HighWater,
        cause: Error,
    ) -> Result<Dag, Error> {
        let info = self.agent_info().await?;
        let cause_text = cause.to_string();
        let unknown = |finding: String, candidates: Vec<DagId>| Error::WriteOutcomeUnknown {
            method: call.method.to_string(),
            path: call.path().to_owned(),
            cause: cause_text.clone(),
            finding,
            candidates,
        };
        let high = high_water.id;
        let mut lookups = 0;
        loop {
            let (mut candidates, partial) = match self
                .lookup_started_dags(&info, dag_name, high)
                .await
            {
                Ok(found) => found,
                Err(lookup_error) => {
                    return Err(unknown(
                        format!("looking for the dag it may have started failed: {lookup_error}"),
                        Vec::new(),
                    ))
                }
            };
            if let (Some(reason), false) = (&high_water.full_list_unreadable, candidates.is_empty())
            {
                // The high-water saw only the unfinished DAGs: a finished DAG older than the
                // request can sit above it, so nothing found above it is known to be this one's.
                let ids = candidates.iter().map(|dag| dag.id.clone()).collect();
                let described: Vec<String> = candidates.iter().map(describe_candidate).collect();
                return Err(unknown(
                    format!("the list of every dag could not be read before the request ({reason}), so the highest dag id before it, {high}, counts only unfinished dags and those this provider saw, and a {dag_name:?} dag above it may be older than the request: {}", described.join(", ")),
                    ids,
                ));
            }
            match candidates.len() {
                1 if !candidates[0].was_reset() => {
                    let mut dag = candidates.remove(0);
                    tracing::warn!(dag_id = %dag.id, high_water = high, "found the only dag that started after the lost write; not sending it again, and its effect is to be checked");
                    dag.found_by_search = true;
                    return Ok(dag);
                }
                0 if lookups < 2 => {
                    // The request may still be on its way through obshell; look again shortly.
                    lookups += 1;
                    tokio::time::sleep(Duration::from_millis(500 * lookups)).await;
                }
                0 => {
                    if let Some(reason) = partial {
                        // Only the unfinished DAGs were searched: one that already ended is missed.
                        return Err(unknown(
                            format!("no {dag_name:?} dag above dag id {high}, the highest before the request, is unfinished, and the list of every dag, where one that already ended would be, could not be read ({reason})"),
                            Vec::new(),
                        ));
                    }
                    if matches!(cause, Error::Api { .. }) {
                        // A 502/503/504 whose request started nothing is an answer after all.
                        return Err(cause);
                    }
                    return Err(unknown(
                        format!("no {dag_name:?} dag above dag id {high}, the highest before the request, was found"),
                        Vec::new(),
                    ));
                }
                _ => {
                    let ids = candidates.iter().map(|dag| dag.id.clone()).collect();
                    let described: Vec<String> =
                        candidates.iter().map(describe_candidate).collect();
                    let finding = if candidates.len() == 1 {
                        // Only an operator (RETRY, ROLLBACK, CANCEL) resets a DAG's times to the
                        // epoch: this one was not started just now by this request alone.
                        format!("the only {dag_name:?} dag above dag id {high}, the highest before the request, has been retried, rolled back or cancelled since it started, so it may not be this request's: {}", described.join(", "))
                    } else {
                        format!("several {dag_name:?} dags started after the request and any of them may be its: {}", described.join(", "))
                    };
                    return Err(unknown(finding, ids));
                }
            }
        }
    }

    /// The DAGs named `dag_name` above `high_water`: from every cluster DAG on obshell ≥ 4.3.0
    /// (one may have ended already), else, or when that list cannot be read, from the unfinished
    /// ones. With the reason when the full list exists but could not be read.
    async fn lookup_started_dags(
        &self,
        info: &AgentInfo,
        dag_name: &str,
        high_water: i64,
    ) -> Result<(Vec<Dag>, Option<String>), Error> {
        let mut partial = None;
        let listed = if info.version.lists_all_dags() {
            match self.list_dags(ALL_CLUSTER_DAGS).await {
                Ok(listed) => Some(listed),
                // An agent without the full list still answers the unfinished one.
                Err(error) if error.is_no_route() => None,
                Err(error) => {
                    // Too long to read, or failing: the unfinished ones are still worth a look.
                    tracing::warn!(%error, "the list of every cluster dag could not be read; looking among the unfinished ones");
                    partial = Some(error.to_string());
                    None
                }
            }
        } else {
            None
        };
        let listed = match listed {
            Some(listed) => listed,
            None => self.list_dags(UNFINISHED_CLUSTER_DAGS).await?,
        };
        let mut started: Vec<Dag> = listed
            .into_iter()
            .inspect(|dag| self.saw_dag_id(dag.dag_id))
            .filter(|dag| dag.name == dag_name && dag.dag_id > high_water)
            .collect();
        started.sort_by_key(|dag| dag.dag_id);
        Ok((started, partial))
    }
}

/// Every cluster DAG obshell stored (≥ 4.3.0), unpaged.
const ALL_CLUSTER_DAGS: &str = "/api/v1/task/dags/ob?show_details=false";
/// The unfinished cluster DAGs (every version).
const UNFINISHED_CLUSTER_DAGS: &str = "/api/v1/task/dag/ob/unfinish?show_details=false";

/// The highest DAG id before a write ([`Client::dag_id_high_water`]).
#[derive(Debug)]
struct HighWater {
    id: i64,
    /// Why the list of every DAG could not be read, when it exists but could not: `id` then
    /// counts only the unfinished DAGs and those seen, and a finished DAG can sit above it.
    full_list_unreadable: Option<String>,
}

/// A candidate DAG for a diagnostic: its id, state and operator, and its start as OceanBase's
/// clock wrote it (not comparable with the provider's clock).
fn describe_candidate(dag: &Dag) -> String {
    let started = match dag.start_time {
        Some(time) if dag.was_reset() => format!(", times reset to {}", format_time(time)),
        Some(time) => format!(", started {} by the database's clock", format_time(time)),
        None => String::new(),
    };
    format!("{} ({} {}{started})", dag.id, dag.state, dag.operator)
}

fn format_time(time: SystemTime) -> String {
    time::OffsetDateTime::from(time)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// obshell wraps lists as `{"contents": [...]}`; `contents` may be null.
#[derive(Deserialize)]
pub(crate) struct Contents<T> {
    #[serde(default = "Option::default")]
    pub(crate) contents: Option<Vec<T>>,
}

/// Whether an error means the write `call` may have reached obshell although no answer came back
/// (or none the client can read).
///
/// An error of a helper request made for the write (`GET /api/v1/secret` for the key,
/// `GET /api/v1/time` for the clock) names the helper's path: the write itself was then not sent
/// (or was refused with a 401 before), so its outcome is known.
fn lost_after_sending(call: &Call, error: &Error) -> bool {
    match error {
        Error::Transport { failure, path, .. } => {
            path == call.path()
                && !matches!(
                    failure,
                    TransportFailure::Connect | TransportFailure::NotTls | TransportFailure::Tls(_)
                )
        }
        Error::Api { status, path, .. } => path == call.path() && matches!(status, 502..=504),
        // obshell answered with success but the client cannot read the answer: the write may
        // well have happened.
        Error::Decode { path, .. } => path == call.path(),
        _ => false,
    }
}

/// What a non-obshell server answered to `GET /api/v1/info`, when `error` shows that one did:
/// a 404 or 405 (no such route), or a 2xx whose body is not obshell's envelope. A 400 that says
/// the request was plain HTTP to an HTTPS server is not this: the scheme is wrong, not the port.
fn not_obshell_answer(error: &Error) -> Option<String> {
    match error {
        Error::Api {
            method,
            path,
            status: status @ (404 | 405),
            ..
        } => Some(format!("it answered {method} {path} with HTTP {status}")),
        Error::Decode {
            method,
            path,
            reason,
        } => Some(if reason.contains(ANSWER_TOO_LARGE) {
            format!("its answer to {method} {path}: {reason}")
        } else {
            format!("its answer to {method} {path} is not obshell's agent information")
        }),
        _ => None,
    }
}

/// The rustls error behind a failed request, if TLS failed. (An io::Error's `source()` skips
/// the error it wraps, so the walk steps into it instead.)
fn rustls_error_of(error: &reqwest::Error) -> Option<&tokio_rustls::rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(rustls_error) = current.downcast_ref::<tokio_rustls::rustls::Error>() {
            return Some(rustls_error);
        }
        source = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// What a TLS failure means for the user. A server that does not speak TLS where the URL asked
/// for it makes rustls fail on the first bytes of its plain HTTP answer.
fn classify_tls(error: &tokio_rustls::rustls::Error) -> TransportFailure {
    use tokio_rustls::rustls::{AlertDescription, CertificateError, Error as Tls};
    let failure = match error {
        Tls::InvalidMessage(_) | Tls::InappropriateMessage { .. } => {
            return TransportFailure::NotTls
        }
        Tls::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsFailure::UntrustedCertificate
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::WrongHostName
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsFailure::CertificateOutOfDate,
            _ => TlsFailure::Other,
        },
        Tls::AlertReceived(AlertDescription::CertificateRequired) => {
            TlsFailure::ClientCertificateRequired
        }
        Tls::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied,
        ) => TlsFailure::ClientCertificateRefused,
        _ => TlsFailure::Other,
    };
    TransportFailure::Tls(failure)
}

/// The most of one obshell answer the client buffers. Real answers are a few KiB (a tenant list
/// of thousands of tenants stays well under 1 MiB), except obshell's unpaged list of every DAG,
/// which passes this bound after about 40,000 DAGs (that list is optional to the client, see
/// `Client::dag_id_high_water`); reading anything larger whole could exhaust the provider's
/// memory.
pub(crate) const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// How a too-large answer's error begins.
const ANSWER_TOO_LARGE: &str = "the answer is larger than";

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads the answer's body, chunk by chunk, stopping as soon as it passes [`MAX_ANSWER_BYTES`]
/// (at once when its Content-Length says so). The request timeout covers the whole read, so an
/// answer trickled byte by byte, or never finished, ends at that timeout.
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify_transport(error: &reqwest::Error) -> TransportFailure {
    if let Some(tls) = rustls_error_of(error) {
        classify_tls(tls)
    } else if error.is_connect() {
        TransportFailure::Connect
    } else if error.is_timeout() {
        TransportFailure::Timeout
    } else {
        TransportFailure::Interrupted
    }
}

fn transport_error(call: &Call, failure: TransportFailure, source: reqwest::Error) -> Error {
    Error::Transport {
        method: call.method.to_string(),
        path: call.path().to_owned(),
        failure,
        source: source.without_url(),
    }
}

fn decode_data<T: DeserializeOwned>(call: &Call, data: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(data).map_err(|error| Error::Decode {
        method: call.method.to_string(),
        path: call.path().to_owned(),
        reason: redact_secrets(&error.to_string()),
    })
}

/// Describes a non-obshell error body (a proxy's page, say) without repeating it at length.
fn describe_foreign_body(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let first_line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if first_line.is_empty() {
        return "no error details in the answer".to_owned();
    }
    let short: String = first_line.chars().take(160).collect();
    format!(
        "the answer is not an obshell error: {}",
        redact_secrets(&short)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        for good in [
            "http://127.0.0.1:2886",
            "https://obshell.example:2886/",
            "http://[::1]:2886",
        ] {
            assert!(parse_base_url(good).is_ok(), "{good}");
        }
        for bad in [
            "127.0.0.1:2886",
            "ftp://h:1",
            "http://h:1/api",
            "http://u:p@h:1",
            "http://u@h:1",
            "http://:p@h:1",
            "http://h:1/?x=1",
            "http://",
        ] {
            assert!(
                matches!(parse_base_url(bad), Err(Error::Config { .. })),
                "{bad}"
            );
        }
        let error = Client::builder("http://127.0.0.1:1").build().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid obshell client configuration: a password is required"
        );
    }

    #[test]
    fn only_loopback_hosts_bypass_the_proxy() {
        for (host, loopback) in [
            ("localhost", true),
            ("127.0.0.1", true),
            ("127.3.2.1", true),
            ("[::1]", true),
            ("::1", true),
            ("localhost.example.com", false),
            ("10.0.0.1", false),
            ("[2001:db8::1]", false),
            ("obshell.example", false),
        ] {
            assert_eq!(is_loopback_host(host), loopback, "{host}");
        }
    }

    #[test]
    fn clock_readings_are_unix_milliseconds() {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!((now_unix_ms() - system).abs() < 60_000, "{}", now_unix_ms());
        let at = |ms: i64| {
            let offset = Duration::from_millis(ms.unsigned_abs());
            if ms < 0 {
                UNIX_EPOCH - offset
            } else {
                UNIX_EPOCH + offset
            }
        };
        for ms in [1_764_547_200_123, 0, -5_000] {
            assert_eq!(system_time_ms(at(ms)), ms);
        }
    }

    #[test]
    fn public_routes_are_called_without_credentials() {
        assert!(!Call::get_public("/api/v1/info").authenticated);
        assert!(Call::get("/api/v1/obcluster/info").authenticated);
    }

    #[test]
    fn client_debug_shows_no_password() {
        let client = Client::builder("http://127.0.0.1:2886")
            .password("hunter2")
            .build()
            .unwrap();
        let debug = format!("{client:?}");
        assert!(debug.contains("127.0.0.1:2886"));
        assert!(!debug.contains("hunter2"));
        let builder = Client::builder("http://127.0.0.1:2886")
            .password("hunter2")
            .client_identity_pem("cert", "key-secret");
        let debug = format!("{builder:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("key-secret"),
            "{debug}"
        );
    }

    #[test]
    fn bad_tls_material_is_a_config_error() {
        let error = Client::builder("https://127.0.0.1:2886")
            .password("p")
            .client_identity_pem("not a cert", "not a key")
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error}");
        assert!(!error.to_string().contains("not a key"));
    }

    /// A throwaway self-signed P-256 certificate and key, made for this test only.
    const TEST_CERT: &[u8] = include_bytes!("testdata/test-cert.pem");
    const TEST_KEY: &[u8] = include_bytes!("testdata/test-key.pem");

    #[test]
    fn pem_ca_and_client_identity_are_accepted() {
        let client = Client::builder("https://127.0.0.1:2886")
            .password("p")
            .ca_certificate_pem(TEST_CERT)
            .client_identity_pem(TEST_CERT, TEST_KEY)
            .build();
        assert!(client.is_ok(), "{:?}", client.err());
        let error = Client::builder("https://127.0.0.1:2886")
            .password("p")
            .ca_certificate_pem(
                "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            )
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error}");
    }

    #[test]
    fn versions_parse_and_compare() {
        let check = |text: &str, parts: [u32; 4]| {
            assert_eq!(
                ObshellVersion::parse(text),
                Some(ObshellVersion(parts)),
                "{text}"
            )
        };
        check("4.2.4.0", [4, 2, 4, 0]);
        check("4.3.2.0-100000012025090912", [4, 3, 2, 0]);
        check("4.2.4", [4, 2, 4, 0]);
        assert_eq!(ObshellVersion::parse("x"), None);
        assert_eq!(ObshellVersion::parse("1.2.3.4.5"), None);
        let v = |text| ObshellVersion::parse(text).unwrap();
        assert!(v("4.2.4.0") < v("4.3.2.0"));
        assert!(v("4.10.0.0") > v("4.9.9.9"));
        assert!(!v("4.3.1.0").supports_backup_reads());
        assert!(v("4.3.2.0").supports_backup_reads());
        assert!(v("4.3.1.0").has_err_codes() && !v("4.3.0.0").has_err_codes());
        for (version, after_pr_378) in [("4.2.4.0", false), ("4.2.9.9", false), ("4.3.0.0", true)] {
            assert_eq!(v(version).lists_all_dags(), after_pr_378, "{version}");
            assert_eq!(v(version).has_obcluster_info(), after_pr_378, "{version}");
        }
        assert_eq!(v("4.5.0.0").to_string(), "4.5.0.0");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_fits_the_budget() {
        assert_eq!(retry_backoff(0, 0.0), Duration::from_millis(50));
        assert_eq!(retry_backoff(0, 1.0), Duration::from_millis(100));
        assert_eq!(retry_backoff(3, 1.0), Duration::from_millis(800));
        assert_eq!(retry_backoff(10, 1.0), Duration::from_secs(2));
        assert_eq!(retry_backoff(10, 0.0), Duration::from_secs(1));
        // With the default budget, the worst case (no jitter shortening) still retries several times
        // and stops before the budget.
        let mut spent = Duration::ZERO;
        let mut n_retries = 0;
        while spent + retry_backoff(n_retries, 1.0) <= DEFAULT_READ_RETRY_BUDGET {
            spent += retry_backoff(n_retries, 1.0);
            n_retries += 1;
        }
        assert!((6..=10).contains(&n_retries), "{n_retries} retries");
        assert!(spent <= DEFAULT_READ_RETRY_BUDGET);
    }

    /// Runs the retry policy on a controlled clock: attempt `n` takes `attempt_times[n]` (the last
    /// entry repeats) and fails; the pauses are the longest backoff. Returns the attempts made.
    fn attempts_made(attempt_times: &[Duration], budget: Duration) -> usize {
        let mut clock = Duration::ZERO;
        let mut first_failure: Option<Duration> = None;
        let mut attempts = 0;
        loop {
            let took = attempt_times[attempts.min(attempt_times.len() - 1)];
            clock += took;
            attempts += 1;
            let failed_at = *first_failure.get_or_insert(clock);
            let retries_done = attempts as u32 - 1;
            let pause = retry_backoff(retries_done, 1.0);
            if !may_retry(retries_done, clock - failed_at, pause, budget) || attempts > 100 {
                return attempts;
            }
            clock += pause;
        }
    }

    #[test]
    fn the_retry_policy_always_retries_once_and_then_bounds_the_window() {
        let secs = Duration::from_secs;
        // The first retry is allowed whatever the budget and however long the attempt took.
        assert!(may_retry(0, secs(60), secs(2), Duration::ZERO));
        assert!(may_retry(1, secs(8), secs(2), secs(10)));
        assert!(!may_retry(1, secs(9), secs(2), secs(10)));
        // With the defaults, a read that timed out after the whole request timeout is retried,
        // and a second timeout ends it (its 30 s are past the 10 s window).
        assert_eq!(
            attempts_made(&[DEFAULT_REQUEST_TIMEOUT], DEFAULT_READ_RETRY_BUDGET),
            2
        );
        // A hanging connect fails after the 5 s connect timeout: the first retry ends 5.1 s into
        // the window, so one more fits, and the third failure (10.3 s in) ends it.
        assert_eq!(
            attempts_made(&[DEFAULT_CONNECT_TIMEOUT], DEFAULT_READ_RETRY_BUDGET),
            3
        );
        // One slow timeout followed by fast failures (a refused connection, a 503): retries go on
        // for about the budget after the first failure, not counting the first attempt's time.
        let fast = Duration::from_millis(5);
        let slow_then_fast =
            attempts_made(&[DEFAULT_REQUEST_TIMEOUT, fast], DEFAULT_READ_RETRY_BUDGET);
        let only_fast = attempts_made(&[fast], DEFAULT_READ_RETRY_BUDGET);
        assert_eq!(slow_then_fast, only_fast);
        assert!((7..=11).contains(&only_fast), "{only_fast} attempts");
        // No budget: exactly one retry.
        assert_eq!(attempts_made(&[fast], Duration::ZERO), 2);
    }

    #[test]
    fn the_default_connect_timeout_is_short() {
        let builder = Client::builder("http://127.0.0.1:2886");
        assert_eq!(builder.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert!(DEFAULT_CONNECT_TIMEOUT < DEFAULT_READ_RETRY_BUDGET);
        assert!(DEFAULT_CONNECT_TIMEOUT < DEFAULT_REQUEST_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_retry_until_the_budget_with_paused_time() {
        // Nothing listens on port 1 of loopback: every attempt is a connection error, and paused
        // time makes the backoff pauses instant and exact.
        let client = Client::builder("http://127.0.0.1:1")
            .password("p")
            .read_retry_budget(Duration::from_secs(3))
            .build()
            .unwrap();
        let started = Instant::now();
        let error = client
            .run_plain::<serde_json::Value>(&Call::get_public("/api/v1/info"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Transport {
                    failure: TransportFailure::Connect,
                    ..
                }
            ),
            "{error}"
        );
        let waited = started.elapsed();
        assert!(waited <= Duration::from_secs(3), "{waited:?}");
        assert!(
            waited >= Duration::from_millis(1000),
            "it retried for a while: {waited:?}"
        );
    }

    #[test]
    fn error_bodies_of_both_eras_decode() {
        let legacy: Envelope = serde_json::from_str(
            r#"{"successful":false,"timestamp":"2024-09-01T10:00:00+08:00","duration":1,"status":401,"traceId":"t","error":{"code":10008,"message":"Verification failed"}}"#,
        )
        .unwrap();
        let error = legacy.error.unwrap();
        assert_eq!(
            (
                error.code,
                error.err_code.as_deref(),
                error.message.as_str()
            ),
            (Some(10008), None, "Verification failed")
        );
        let modern: Envelope = serde_json::from_str(
            r#"{"successful":false,"status":400,"error":{"errCode":"OB.Backup.Binding.Invalid","message":"Invalid binding mode: X, must be OPTIONAL or MANDATORY"}}"#,
        )
        .unwrap();
        let error = modern.error.unwrap();
        assert_eq!(error.code, None);
        assert_eq!(error.err_code.as_deref(), Some("OB.Backup.Binding.Invalid"));
        assert_eq!(
            describe_foreign_body(b"<html>\n<h1>502 Bad Gateway</h1>"),
            "the answer is not an obshell error: <html>"
        );
        assert_eq!(describe_foreign_body(b""), "no error details in the answer");
    }
}

#[cfg(test)]
mod hostile_input {
    use super::*;
    use crate::hostile;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes, and any JSON, as an answer's body: an envelope or not, never a panic.
        #[test]
        fn arbitrary_envelopes_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
            json in hostile::json(),
        ) {
            let _ = serde_json::from_slice::<Envelope>(&bytes);
            let body = json.to_string();
            if let Ok(envelope) = serde_json::from_str::<Envelope>(&body) {
                if let Some(time) = envelope.timestamp.as_deref() {
                    let _ = parse_go_time(time);
                }
                if let Some(data) = envelope.data {
                    let call = Call::get_public("/api/v1/info");
                    let _ = decode_data::<AgentInfoDto>(&call, data.clone());
                    let _ = decode_data::<SecretDto>(&call, data);
                }
            }
            let _ = redact_secrets(&body);
        }
    }
}

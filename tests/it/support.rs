//! Shared test support: an in-process obshell-sim on 127.0.0.1:0, its `/sim/v1` control API
//! (obshell-sim/CONTROL.md), and clients pointed at it.

use std::time::Duration;

use serde_json::{json, Value};
use terraform_provider_oceanbase::obshell::{self, Client};

/// The root@sys password every test sim is started with.
pub(crate) const PASSWORD: &str = "root-Pass_w0rd";

/// A running simulator and a plain HTTP client for its control API.
pub(crate) struct Sim {
    pub(crate) url: String,
    /// `127.0.0.1:PORT` of the sim's MySQL-protocol listener (the sys tenant's backup views).
    pub(crate) sql_endpoint: String,
    control: reqwest::Client,
    _handle: obshell_sim::SimHandle,
}

impl Sim {
    /// Starts a simulator that emulates `version` with two NORMAL user tenants, `t1` and `t2`.
    pub(crate) async fn start(version: &str) -> Sim {
        Sim::start_on(version, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a simulator like [`Sim::start`] on a chosen address. Every test sim has the default
    /// seed, so a sim started again on the same port has the same RSA key.
    pub(crate) async fn start_on(version: &str, listen: std::net::SocketAddr) -> Sim {
        captured_log();
        let version: obshell_sim::ObshellVersion =
            version.parse().expect("a valid obshell version");
        let config = obshell_sim::SimConfig::new(PASSWORD)
            .with_obshell_version(version)
            .with_tenants(2)
            // Short DAG nodes unless a test asks otherwise.
            .with_task_duration(Duration::from_millis(30))
            .with_listen(listen)
            .with_sql_listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let handle = obshell_sim::spawn(config)
            .await
            .expect("obshell-sim starts on its address");
        let url = handle.base_url();
        let sql_endpoint = handle.sql_addr().expect("a SQL listener").to_string();
        let control = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a plain HTTP client builds");
        Sim {
            url,
            sql_endpoint,
            control,
            _handle: handle,
        }
    }

    /// A client for this sim with short timeouts.
    pub(crate) fn client(&self) -> Client {
        self.client_with(PASSWORD, Duration::from_secs(5), Duration::from_secs(3))
    }

    /// Stops the simulator and waits until it no longer accepts connections.
    pub(crate) async fn stop(self) {
        self._handle.shutdown().await;
    }

    /// A client with a chosen password, request timeout and read retry budget.
    pub(crate) fn client_with(
        &self,
        password: &str,
        request_timeout: Duration,
        budget: Duration,
    ) -> Client {
        Client::builder(&self.url)
            .password(password)
            .request_timeout(request_timeout)
            .read_retry_budget(budget)
            .build()
            .expect("the client builds")
    }

    /// Calls the control API and returns its JSON; panics unless it answers 2xx.
    pub(crate) async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = self
            .control
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).expect("JSON serialises"));
        }
        let response = request.send().await.expect("the control API answers");
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .expect("the control API sends a body");
        assert!(
            status.is_success(),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        if bytes.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&bytes).expect("the control API answers JSON")
    }

    /// Injects an HTTP fault (`kind`, `status`, `ms`, `count`, `method`, `path_prefix`).
    pub(crate) async fn http_fault(&self, fault: Value) {
        self.control("POST", "/sim/v1/faults/http", Some(fault))
            .await;
    }

    /// Sets how long each DAG node runs (`PATCH /sim/v1/config`), for DAGs started from now on.
    pub(crate) async fn task_duration_ms(&self, ms: u64) {
        self.control(
            "PATCH",
            "/sim/v1/config",
            Some(json!({"task_duration_ms": ms})),
        )
        .await;
    }

    /// Makes the next backup-config DAG fail at `node` with `message`.
    pub(crate) async fn dag_fault(&self, node: &str, message: &str) {
        self.control(
            "POST",
            "/sim/v1/faults/dag",
            Some(json!({"node": node, "message": message, "code": "MySQL.Error"})),
        )
        .await;
    }

    /// The whole simulated state.
    pub(crate) async fn state(&self) -> Value {
        self.control("GET", "/sim/v1/state", None).await
    }

    /// The DAGs the sim holds.
    pub(crate) async fn dags(&self) -> Vec<Value> {
        self.state().await["dags"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every obshell request since the last clear, oldest first.
    pub(crate) async fn requests(&self) -> Vec<Value> {
        let log = self.control("GET", "/sim/v1/requests", None).await;
        match log {
            Value::Array(entries) => entries,
            other => other["requests"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// Clears the request log.
    pub(crate) async fn clear_requests(&self) {
        self.control("DELETE", "/sim/v1/requests", None).await;
    }

    /// `(method, uri, status)` of every logged request, for compact assertions.
    pub(crate) async fn request_lines(&self) -> Vec<(String, String, u64)> {
        self.requests()
            .await
            .iter()
            .map(|entry| {
                (
                    entry["method"].as_str().unwrap_or_default().to_owned(),
                    entry["uri"].as_str().unwrap_or_default().to_owned(),
                    entry["status"].as_u64().unwrap_or_default(),
                )
            })
            .collect()
    }
}

/// The logged requests whose method and uri match.
#[track_caller]
pub(crate) fn count_requests(
    lines: &[(String, String, u64)],
    method: &str,
    uri_prefix: &str,
) -> usize {
    lines
        .iter()
        .filter(|(m, uri, _)| m == method && uri.starts_with(uri_prefix))
        .count()
}

/// Asserts an error is an API error with this status and (when given) errCode or legacy code.
#[track_caller]
pub(crate) fn check_api_error(
    error: &obshell::Error,
    status: u16,
    err_code: Option<&str>,
    code: Option<i64>,
) {
    match error {
        obshell::Error::Api {
            status: got,
            err_code: got_err_code,
            code: got_code,
            ..
        } => {
            assert_eq!(*got, status, "{error}");
            if err_code.is_some() {
                assert_eq!(got_err_code.as_deref(), err_code, "{error}");
            }
            if code.is_some() {
                assert_eq!(*got_code, code, "{error}");
            }
        }
        other => panic!("expected an API error with status {status}, got {other:?}"),
    }
}

/// A minimal HTTP server on 127.0.0.1:0 that answers every request with `GET /api/v1/info`'s
/// envelope around `info`, for agents obshell-sim does not emulate (too old, not a cluster agent).
/// Returns its base URL and a counter of the requests it answered.
pub(crate) async fn spawn_info_only_agent(
    info: Value,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a bound address");
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let body = json!({"successful": true, "status": 200, "traceId": "t", "duration": 0,
                      "timestamp": "2026-01-01T00:00:00Z", "data": info})
    .to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                // Every request this test server gets is a bodiless GET: read to the blank line.
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), served)
}

/// Everything `tracing` writes in this test binary, at DEBUG and above.
#[derive(Clone, Default)]
pub(crate) struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLog {
    /// The log so far, as text.
    pub(crate) fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures what `tracing` writes on the current thread, at DEBUG and above, until the guard is
/// dropped. A `#[tokio::test]` runs the test, the in-process sim and the client's connections on
/// its one thread, so this is the log of one test alone, whatever runs in parallel.
pub(crate) fn capture_test_log() -> (CapturedLog, tracing::subscriber::DefaultGuard) {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(log.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (log, guard)
}

/// Installs (once) the global subscriber that writes into the captured log and returns the log.
/// A global subscriber, not a scoped one: tests run on many threads, and tracing caches per
/// call site whether anyone listens.
pub(crate) fn captured_log() -> &'static CapturedLog {
    static LOG: std::sync::OnceLock<CapturedLog> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(log.clone())
            .finish();
        // Another subscriber cannot be installed first: only this function installs one.
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        log
    })
}

/// A TCP proxy in front of an HTTP server that counts the connections open through it at once.
pub(crate) struct CountingProxy {
    /// `http://127.0.0.1:<port>` of the proxy.
    pub(crate) url: String,
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CountingProxy {
    /// Starts a proxy to `target` (`http://host:port`); it runs until the test ends.
    pub(crate) async fn start(target: &str) -> CountingProxy {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let open = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (open_count, peak_count, accepted_count) =
            (open.clone(), peak.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                accepted_count.fetch_add(1, Ordering::SeqCst);
                let now = open_count.fetch_add(1, Ordering::SeqCst) + 1;
                peak_count.fetch_max(now, Ordering::SeqCst);
                let (target, open_count) = (target.clone(), open_count.clone());
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                    open_count.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        CountingProxy {
            url,
            open,
            peak,
            accepted,
        }
    }

    /// The most connections that were open at once.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every connection accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

//! obshell-sim for synchronous tests: started in-process on a shared runtime, driven through its
//! `/sim/v1` control API (obshell-sim/CONTROL.md).

use std::sync::OnceLock;
use std::time::Duration;

use obshell_sim::{ObshellVersion, SimConfig, SimHandle};
use serde_json::{json, Value};

/// The runtime every in-process simulator of the synchronous tests runs on.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime for the simulators")
    })
}

/// The simulator profile of this run: `OBSHELL_SIM_PROFILE` (`default` or `harsh`, see
/// `SimConfig::with_profile`); `make acceptance-harsh` runs the acceptance suite with `harsh`.
pub(crate) fn profile() -> String {
    std::env::var("OBSHELL_SIM_PROFILE").unwrap_or_else(|_| "default".to_owned())
}

/// A running simulator and a control client for it.
pub(crate) struct Sim {
    handle: Option<SimHandle>,
    http: reqwest::Client,
    /// The root@sys password it checks.
    pub(crate) password: String,
}

impl Sim {
    /// Starts obshell `version` with two tenants and short DAG nodes.
    pub(crate) fn start(version: &str) -> Sim {
        let password = "Sim-Password-0451".to_owned();
        let config = SimConfig::new(password.clone())
            .with_obshell_version(version.parse::<ObshellVersion>().expect("a version"))
            .with_task_duration(Duration::from_millis(50))
            .with_sql_listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .with_profile(&profile())
            .unwrap_or_else(|message| panic!("OBSHELL_SIM_PROFILE: {message}"));
        let handle = runtime()
            .block_on(obshell_sim::spawn(config))
            .expect("obshell-sim starts");
        Sim {
            handle: Some(handle),
            http: reqwest::Client::new(),
            password,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        self.handle.as_ref().expect("running").base_url()
    }

    /// `127.0.0.1:PORT` of the MySQL-protocol listener (the sys tenant's backup views).
    pub(crate) fn sql_endpoint(&self) -> String {
        self.handle
            .as_ref()
            .expect("running")
            .sql_addr()
            .expect("a SQL listener")
            .to_string()
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.endpoint());
        let http = self.http.clone();
        runtime().block_on(async move {
            let mut request = http.request(method.clone(), &url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            assert!(status.is_success(), "{method} {url}: {status}: {text}");
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
    }

    /// `GET /sim/v1/state`.
    pub(crate) fn state(&self) -> Value {
        self.call(reqwest::Method::GET, "/sim/v1/state", None)
    }

    /// The cluster id.
    pub(crate) fn cluster_id(&self) -> i64 {
        self.state()["cluster"]["id"]
            .as_i64()
            .expect("a cluster id")
    }

    /// One tenant's entry of the state.
    #[track_caller]
    pub(crate) fn tenant(&self, name: &str) -> Value {
        self.state()["tenants"]
            .as_array()
            .and_then(|tenants| tenants.iter().find(|t| t["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no tenant {name}"))
    }

    /// `PATCH /sim/v1/tenants/{name}`: drift that obshell's own API cannot make.
    pub(crate) fn patch_tenant(&self, name: &str, patch: Value) {
        self.call(
            reqwest::Method::PATCH,
            &format!("/sim/v1/tenants/{name}"),
            Some(patch),
        );
    }

    /// `POST /sim/v1/faults/...`.
    pub(crate) fn fault(&self, kind: &str, body: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            &format!("/sim/v1/faults/{kind}"),
            Some(body),
        )
    }

    /// `POST` to any control path.
    pub(crate) fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body))
    }

    /// The request log since the last clear.
    pub(crate) fn requests(&self) -> Vec<Value> {
        match self.call(reqwest::Method::GET, "/sim/v1/requests", None) {
            Value::Array(entries) => entries,
            other => other["requests"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// Clears the request log.
    pub(crate) fn clear_requests(&self) {
        self.call(reqwest::Method::DELETE, "/sim/v1/requests", None);
    }

    /// The backup-config writes (POST/PATCH of `/api/v1/obcluster/backup/config`) in the log.
    pub(crate) fn config_writes(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r["uri"] == "/api/v1/obcluster/backup/config"
                    && (r["method"] == "POST" || r["method"] == "PATCH")
            })
            .collect()
    }

    /// Releases the backup-config DAG that `faults/hold` keeps RUNNING and waits (at most 30 s)
    /// until no DAG runs any more.
    #[track_caller]
    pub(crate) fn release_held_dag(&self) {
        let dag_id = self.state()["dags"]
            .as_array()
            .and_then(|dags| {
                dags.iter()
                    .find(|d| d["held"] == true && d["state"] == "RUNNING")
                    .cloned()
            })
            .map(|dag| dag["id"].as_str().expect("an id").to_owned())
            .expect("the held DAG is running");
        self.post(&format!("/sim/v1/dags/{dag_id}/release"), json!({}));
        wait_until(|| {
            self.state()["dags"]
                .as_array()
                .is_some_and(|dags| dags.iter().all(|d| d["state"] != "RUNNING"))
        });
    }

    /// Sets every tenant's archive log to DOING, as if a backup had been started.
    pub(crate) fn start_archiving(&self) {
        for tenant in self.state()["tenants"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let name = tenant["name"].as_str().expect("a name").to_owned();
            self.patch_tenant(&name, json!({"archive_log_status": "DOING"}));
        }
    }
}

/// Polls a condition about the simulator (waits for an event; not a timing assertion).
#[track_caller]
pub(crate) fn wait_until(mut condition: impl FnMut() -> bool) {
    for _ in 0..600 {
        if condition() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the condition did not hold within 30 s");
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            runtime().block_on(handle.shutdown());
        }
    }
}

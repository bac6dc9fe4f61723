//! The seeded chaos run (issue 9 item 8): the provider, driven in-process through the same
//! `ProviderHandler` calls Terraform makes, against obshell-sim with the SQL read on, through
//! random steps: apply, plan, refresh, import, DBA drift through `/sim/v1`, injected HTTP faults,
//! DAG faults (a node, a step on a tenant, hold then release, cancel), RSA key rotation and
//! StopProvider. After every step: no write was processed twice for one apply, a step that only
//! reads sent no write, and no secret is in any state, private state, diagnostic or provider log.
//! At "settle" steps and at the end, once faults stop: one apply converges, the next plan is
//! empty and the simulator's cluster equals the configuration.
//!
//! `CHAOS_SEED` (default [`DEFAULT_SEED`]) and `CHAOS_STEPS` (default [`DEFAULT_STEPS`]) choose
//! the run; a failing run prints its seed, its steps and the command that re-runs it.
//! `make chaos-long` runs many seeds with more steps.

use super::*;

use std::io::Write;
use std::sync::Mutex;

use terraform_provider_oceanbase::obshell::{Client, DagId, DagOperator};
use terraform_provider_oceanbase::resources::backup_config::model::StorageCredentialsModel;

const DEFAULT_SEED: u64 = 20_261_130;
const DEFAULT_STEPS: usize = 100;
const WO_ACCESS_ID: &str = "CHAOS-WO-ID-5eb1";
const WO_KEYS: [&str; 3] = ["CHAOS-WO-KEY-a1", "CHAOS-WO-KEY-b2", "CHAOS-WO-KEY-c3"];
const OBJECT_STORE: &str = "oss://chaos-bucket/backup?host=oss.example.com";

/// xorshift64*: small, deterministic, good enough to pick steps.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One configuration the run may apply.
#[derive(Clone, Debug)]
struct Desired {
    uri: &'static str,
    key: usize,
    lac: i64,
    ha: i64,
    lag: &'static str,
    binding: &'static str,
    piece: &'static str,
    window: &'static str,
}

impl Desired {
    /// A random configuration.
    fn random(rng: &mut Rng) -> Self {
        Desired {
            uri: rng.pick(&["file:///data/backup", "file:///data/chaos", OBJECT_STORE]),
            key: rng.below(WO_KEYS.len()),
            lac: rng.pick(&[2, 4, 6]),
            ha: rng.pick(&[10, 20]),
            lag: rng.pick(&["2m", "3m", "120s"]),
            binding: rng.pick(&["optional", "mandatory"]),
            piece: rng.pick(&["1d", "2d"]),
            window: rng.pick(&["7d", "3d"]),
        }
    }

    fn config(&self) -> Value {
        let desired = self.clone();
        config_with(move |c| {
            c.backup_base_uri = text(desired.uri);
            if desired.uri.starts_with("oss://") {
                c.storage_credentials_wo = Field::Known(StorageCredentialsModel {
                    access_id: text(WO_ACCESS_ID),
                    access_key: text(WO_KEYS[desired.key]),
                });
                c.storage_credentials_wo_version = Field::Known(Number::Int(desired.key as i64));
            }
            c.log_archive_concurrency = Field::Known(Number::Int(desired.lac));
            c.ha_low_thread_score = Field::Known(Number::Int(desired.ha));
            c.archive_lag_target = text(desired.lag);
            c.binding = text(desired.binding);
            c.piece_switch_interval = text(desired.piece);
            c.delete_policy = Field::Known(DeletePolicyModel {
                policy: text("default"),
                recovery_window: text(desired.window),
            });
            // Held DAGs end an apply by its timeout, so keep it short.
            c.timeouts = Field::Known(TimeoutsModel {
                create: text("2s"),
                update: text("2s"),
                read: Field::Null,
            });
        })
    }
}

/// Seconds in an obshell duration such as `2m`, `120s`, `7d`.
fn seconds(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    Some(
        number
            * match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return None,
            },
    )
}

/// A tracing writer into a shared buffer: the provider's logs of this run.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Prints the seed, the steps so far and how to re-run when the run panics.
struct Recorder {
    test: &'static str,
    seed: u64,
    steps: usize,
    done: Vec<String>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\nchaos run failed: seed {} ({} steps planned), after these steps:",
                self.seed, self.steps
            );
            for (index, step) in self.done.iter().enumerate() {
                eprintln!("  {:>3}. {step}", index + 1);
            }
            eprintln!(
                "re-run: CHAOS_SEED={} CHAOS_STEPS={} cargo test --test it resource::chaos::{} -- --exact --nocapture\n",
                self.seed, self.steps, self.test
            );
        }
    }
}

struct Chaos {
    harness: Harness,
    rng: Rng,
    logs: LogBuffer,
    stored: Stored,
    tainted: bool,
    desired: Desired,
    added_tenants: usize,
    /// The simulator runs the harsh profile.
    harsh: bool,
    recorder: Recorder,
    /// Applies run, and how many of them ended with an error.
    applies: (usize, usize),
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

fn provider_block_with_sql(endpoint: &str, sql_endpoint: &str) -> Value {
    let mut block = provider_block(endpoint, PASSWORD);
    if let Value::Object(object) = &mut block {
        object.insert("sql_endpoint".to_owned(), sql_endpoint.into());
        object.insert("sql_password".to_owned(), PASSWORD.into());
    }
    block
}

impl Chaos {
    fn step(&mut self, text: String) {
        self.recorder.done.push(text);
    }

    fn secrets(&self) -> Vec<&'static str> {
        let mut secrets = vec![PASSWORD, WO_ACCESS_ID];
        secrets.extend(WO_KEYS);
        secrets
    }

    /// Starts a fresh provider process, as Terraform does for each command after a stop.
    async fn new_provider(&mut self) {
        self.harness.provider = Arc::new(Provider::new("test"));
        let sql = self.harness.sim.sql_addr().expect("the SQL listener");
        let diagnostics = self
            .harness
            .provider
            .configure(ConfigureRequest {
                terraform_version: "1.15.5".to_owned(),
                config: provider_block_with_sql(&self.harness.sim.base_url(), &sql.to_string()),
            })
            .await;
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    /// No secret in this text.
    #[track_caller]
    fn check_secret_free(&self, what: &str, text: &str) {
        for secret in self.secrets() {
            if let Some(at) = text.find(secret) {
                let mut start = at.saturating_sub(300);
                while !text.is_char_boundary(start) {
                    start -= 1;
                }
                let mut end = (at + secret.len() + 300).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                panic!(
                    "{what} holds the secret {secret}: ...{}...",
                    &text[start..end]
                );
            }
        }
    }

    fn check_answer(&self, what: &str, state: &Value, private: &[u8], diagnostics: &Diagnostics) {
        self.check_secret_free(&format!("{what}: state"), &format!("{state:?}"));
        self.check_secret_free(
            &format!("{what}: private state"),
            &String::from_utf8_lossy(private),
        );
        self.check_secret_free(&format!("{what}: diagnostics"), &format!("{diagnostics:?}"));
    }

    fn check_logs(&self) {
        let logs = self.logs.0.lock().expect("log buffer").clone();
        self.check_secret_free("the provider's log", &String::from_utf8_lossy(&logs));
    }

    /// The requests since the last clear: a read-only step sent no write; an apply processed at
    /// most one backup-config write, and reopened archive log at most once per tenant.
    async fn check_requests(&self, read_only: bool) {
        let requests = self.harness.requests().await;
        let processed = |entry: &&Json| {
            entry["status"] == 200
                && !matches!(
                    entry["fault"].as_str(),
                    Some("status" | "no_route" | "drop_before_read")
                )
        };
        if read_only {
            let writes: Vec<&Json> = requests.iter().filter(|r| r["method"] != "GET").collect();
            assert!(writes.is_empty(), "a read-only step wrote: {writes:#?}");
            return;
        }
        let config_writes: Vec<&Json> = requests
            .iter()
            .filter(|r| r["uri"] == "/api/v1/obcluster/backup/config" && r["method"] != "GET")
            .filter(processed)
            .collect();
        assert!(
            config_writes.len() <= 1,
            "one apply processed {} backup-config writes: {config_writes:#?}",
            config_writes.len()
        );
        let mut reopened = std::collections::BTreeMap::new();
        for entry in requests
            .iter()
            .filter(|r| r["method"] == "PATCH")
            .filter(|r| {
                r["uri"]
                    .as_str()
                    .is_some_and(|uri| uri.ends_with("/backup/log") && uri.contains("/tenant/"))
            })
            .filter(processed)
        {
            *reopened
                .entry(entry["uri"].as_str().unwrap_or_default().to_owned())
                .or_insert(0) += 1;
        }
        assert!(
            reopened.values().all(|n| *n <= 1),
            "archive log reopened twice on a tenant in one apply: {reopened:?}"
        );
    }

    /// The refresh `terraform plan` and `terraform apply` start with (its state is kept only by
    /// an apply that runs); `None` when it fails, which ends the command.
    async fn command_refresh(&self) -> Option<Stored> {
        if self.stored.state.is_null() {
            return Some(empty());
        }
        let read = self.harness.read(&self.stored).await;
        self.check_answer("refresh", &read.new_state, &read.private, &read.diagnostics);
        (!read.diagnostics.has_errors()).then_some(Stored {
            state: read.new_state,
            private: read.private,
        })
    }

    /// The prior state of a command's plan: the refreshed one, empty for a tainted resource
    /// (Terraform plans its replacement; destroy never contacts obshell).
    async fn command_prior(&self) -> Option<Stored> {
        let refreshed = self.command_refresh().await?;
        Some(if self.tainted { empty() } else { refreshed })
    }

    /// `terraform apply`: refresh, plan, apply.
    async fn plan_and_apply(&mut self, config: &Value) -> Option<ApplyResponse> {
        let prior = self.command_prior().await?;
        let plan = self.harness.plan(&prior, config).await;
        self.check_answer(
            "plan",
            &plan.planned_state,
            &plan.planned_private,
            &plan.diagnostics,
        );
        if plan.diagnostics.has_errors() {
            return None;
        }
        let applied = self.harness.apply(&prior, &plan, config).await;
        self.absorb_apply(&prior, &plan, &applied);
        Some(applied)
    }

    /// Keeps what Terraform keeps after an apply.
    fn absorb_apply(&mut self, prior: &Stored, plan: &PlanResponse, applied: &ApplyResponse) {
        self.check_answer(
            "apply",
            &applied.new_state,
            &applied.private,
            &applied.diagnostics,
        );
        if !applied.diagnostics.has_errors() {
            check_apply_matches_plan(&plan.planned_state, &applied.new_state);
        }
        self.applies.0 += 1;
        self.applies.1 += usize::from(applied.diagnostics.has_errors());
        let is_create = prior.state.is_null();
        self.tainted =
            is_create && applied.diagnostics.has_errors() && !applied.new_state.is_null();
        if is_create && applied.new_state.is_null() {
            self.stored = empty();
        } else {
            self.stored = Stored {
                state: applied.new_state.clone(),
                private: applied.private.clone(),
            };
        }
    }

    async fn refresh_step(&mut self) {
        if self.stored.state.is_null() {
            return;
        }
        let read = self.harness.read(&self.stored).await;
        self.check_answer("refresh", &read.new_state, &read.private, &read.diagnostics);
        if !read.diagnostics.has_errors() {
            if read.new_state.is_null() {
                self.tainted = false;
            }
            self.stored = Stored {
                state: read.new_state,
                private: read.private,
            };
        }
    }

    async fn import_step(&mut self) {
        let imported = self
            .harness
            .provider
            .import_resource_state(ImportRequest {
                type_name: BACKUP_CONFIG_TYPE.to_owned(),
                id: CLUSTER_ID.to_string(),
            })
            .await;
        let Some(resource) = imported.imported.first() else {
            self.check_secret_free("import", &format!("{:?}", imported.diagnostics));
            return;
        };
        self.check_answer(
            "import",
            &resource.state,
            &resource.private,
            &imported.diagnostics,
        );
        if imported.diagnostics.has_errors() {
            return;
        }
        let candidate = Stored {
            state: resource.state.clone(),
            private: resource.private.clone(),
        };
        let read = self.harness.read(&candidate).await;
        self.check_answer(
            "import read",
            &read.new_state,
            &read.private,
            &read.diagnostics,
        );
        if !read.diagnostics.has_errors() && !read.new_state.is_null() {
            // `terraform state rm` then `terraform import`.
            self.stored = Stored {
                state: read.new_state,
                private: read.private,
            };
            self.tainted = false;
        }
    }

    async fn tenant_names(&self) -> Vec<String> {
        self.harness.sim_state().await["tenants"]
            .as_array()
            .expect("tenants")
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    }

    async fn drift(&mut self) {
        let tenants = self.tenant_names().await;
        let tenant = self.rng.pick(&tenants);
        match self.rng.below(7) {
            0 => {
                let (name, value) = self.rng.pick(&[
                    ("log_archive_concurrency", "1"),
                    ("log_archive_concurrency", "8"),
                    ("ha_low_thread_score", "0"),
                    ("archive_lag_target", "5m"),
                    ("archive_lag_target", "60s"),
                ]);
                self.step(format!("drift: {tenant} {name} = {value}"));
                self.harness
                    .patch_tenant(&tenant, json!({"parameters": {name: value}}))
                    .await;
            }
            1 if self.added_tenants < 3 => {
                self.added_tenants += 1;
                let name = format!("c{}", self.added_tenants);
                self.step(format!("drift: add tenant {name}"));
                self.harness
                    .control(reqwest::Method::POST, "tenants", json!({"name": name}))
                    .await;
            }
            2 if tenants.len() > 1 => {
                self.step(format!("drift: drop tenant {tenant}"));
                self.harness
                    .control(
                        reqwest::Method::DELETE,
                        &format!("tenants/{tenant}"),
                        json!({}),
                    )
                    .await;
            }
            3 => {
                let status = self.rng.pick(&["STOP", "DOING"]);
                self.step(format!("drift: archive log {status} on {tenant}"));
                self.harness.set_archive_log(&tenant, status).await;
            }
            4 => {
                self.step(format!("drift: delete policy dropped on {tenant}"));
                self.harness
                    .patch_tenant(&tenant, json!({"delete_policy": null}))
                    .await;
            }
            5 => {
                self.step(format!("drift: {tenant} archives elsewhere, MANDATORY"));
                self.harness
                    .patch_tenant(&tenant, json!({"archive_dest": {"path": "file:///dba/elsewhere/clog", "binding": "MANDATORY", "piece_switch_interval": "3d"}}))
                    .await;
            }
            _ => {
                self.step("drift: nothing".to_owned());
            }
        }
    }

    async fn http_fault(&mut self) {
        let kinds = [
            json!({"kind": "status", "status": 503}),
            json!({"kind": "status", "status": 500, "count": 2}),
            json!({"kind": "drop_before_read"}),
            json!({"kind": "drop_after_read"}),
            json!({"kind": "garble_after_read"}),
            json!({"kind": "hang", "ms": 300}),
        ];
        let mut fault = self.rng.pick(&kinds);
        if self.rng.chance(50) {
            fault["path_prefix"] = json!("/api/v1/obcluster/backup/config");
            fault["method"] = json!(self.rng.pick(&["POST", "PATCH"]));
        }
        self.step(format!("http fault {fault}"));
        self.harness.http_fault(fault).await;
    }

    async fn dag_fault(&mut self) {
        let tenants = self.tenant_names().await;
        let fault = match self.rng.below(3) {
            0 => json!({"node": self.rng.pick(&["Check backup config", "Set backup config"]),
                        "message": "Error 4012 (HY000): Timeout"}),
            1 => json!({"node": "Set backup config",
                        "step": self.rng.pick(&[
                            "close_archive_log", "log_archive_concurrency", "log_archive_dest",
                            "archive_lag_target", "data_backup_dest", "ha_low_thread_score",
                            "drop_delete_policy", "add_delete_policy"]),
                        "tenant": self.rng.pick(&tenants),
                        "message": "Error 1105 (HY000): chaos"}),
            _ => {
                self.step("dag hold".to_owned());
                self.harness.hold_next_dag().await;
                return;
            }
        };
        self.step(format!("dag fault {fault}"));
        self.harness
            .control(reqwest::Method::POST, "faults/dag", fault)
            .await;
    }

    async fn unfinished_dags(&self) -> Vec<(String, bool)> {
        self.harness.sim_state().await["dags"]
            .as_array()
            .expect("dags")
            .iter()
            .filter(|d| !matches!(d["state"].as_str(), Some("SUCCEED" | "FAILED")))
            .map(|d| {
                (
                    d["id"].as_str().unwrap_or_default().to_owned(),
                    d["held"] == true,
                )
            })
            .collect()
    }

    async fn release_or_cancel(&mut self) {
        let dags = self.unfinished_dags().await;
        let Some((id, _)) = dags.first().cloned() else {
            self.step("release/cancel: no DAG running".to_owned());
            return;
        };
        if self.rng.chance(50) {
            self.step(format!("release DAG {id}"));
            self.harness.release(&id).await;
        } else {
            self.step(format!("cancel DAG {id} (a DBA, through obshell)"));
            let obshell = Client::builder(self.harness.sim.base_url())
                .password(PASSWORD)
                .build()
                .expect("a client");
            // It may have ended meanwhile; cancelling a finished DAG is refused.
            let _ = obshell
                .operate_dag(&DagId::new(id.clone()), DagOperator::Cancel)
                .await;
        }
    }

    async fn stop_during_apply(&mut self) {
        let desired = Desired::random(&mut self.rng);
        let delay = self.rng.below(120) as u64;
        self.step(format!("apply {desired:?}, StopProvider after {delay} ms"));
        let config = desired.config();
        self.desired = desired;
        let Some(prior) = self.command_prior().await else {
            return;
        };
        let plan = self.harness.plan(&prior, &config).await;
        self.check_answer(
            "plan",
            &plan.planned_state,
            &plan.planned_private,
            &plan.diagnostics,
        );
        if plan.diagnostics.has_errors() {
            return;
        }
        let apply = self.harness.spawn_apply(&prior, &plan, &config);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        self.harness.provider.stop();
        let applied = apply.await.expect("the apply task");
        self.absorb_apply(&prior, &plan, &applied);
        self.new_provider().await;
    }

    /// Faults stop: pending faults cleared, held DAGs released, every DAG ended. Then one apply
    /// converges, the next plan is empty, and the sim's cluster is the configuration.
    async fn settle(&mut self) {
        self.harness
            .control(reqwest::Method::DELETE, "faults", json!({}))
            .await;
        for _ in 0..500 {
            let dags = self.unfinished_dags().await;
            if dags.is_empty() {
                break;
            }
            for (id, held) in dags {
                if held {
                    self.harness.release(&id).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(self.unfinished_dags().await.is_empty(), "DAGs never ended");
        let config = self.desired.config();
        self.harness.clear_requests().await;
        let applied = self
            .plan_and_apply(&config)
            .await
            .expect("the plan after faults stopped has no errors");
        check_no_errors(&applied.diagnostics);
        self.check_requests(false).await;
        self.harness.clear_requests().await;
        let refreshed = self.harness.refresh(&self.stored).await;
        let plan = self.harness.plan(&refreshed, &config).await;
        check_empty_plan(&refreshed, &plan);
        self.check_requests(true).await;
        self.stored = refreshed;
        self.check_cluster_is_config().await;
    }

    async fn check_cluster_is_config(&self) {
        let desired = &self.desired;
        let state = self.harness.sim_state().await;
        let cluster = state["cluster"]["id"].as_i64().expect("cluster id");
        let (location, query) = desired.uri.split_once('?').unwrap_or((desired.uri, ""));
        for tenant in state["tenants"].as_array().expect("tenants") {
            let id = tenant["id"].as_i64().expect("tenant id");
            let what = format!("{desired:?} on {tenant}");
            for (field, leaf) in [("archive_dest", "clog"), ("data_dest", "data")] {
                let path = if field == "archive_dest" {
                    tenant["archive_dest"]["path"].as_str()
                } else {
                    tenant["data_dest"].as_str()
                }
                .unwrap_or_default();
                let (path_location, path_query) = path.split_once('?').unwrap_or((path, ""));
                assert_eq!(
                    path_location,
                    format!("{location}/{cluster}/{id}/{leaf}"),
                    "{field}: {what}"
                );
                // The harsh profile keeps object-store paths without their query string.
                if !query.is_empty() && !self.harsh {
                    assert!(path_query.contains(query), "{field}: {what}");
                    assert!(
                        path_query.contains(&format!("access_key={}", WO_KEYS[desired.key])),
                        "{field} has the configured key: {what}"
                    );
                }
            }
            let dest = &tenant["archive_dest"];
            assert_eq!(
                dest["binding"].as_str(),
                Some(desired.binding.to_ascii_uppercase().as_str()),
                "{what}"
            );
            assert_eq!(
                seconds(dest["piece_switch_interval"].as_str().unwrap_or_default()),
                seconds(desired.piece),
                "{what}"
            );
            let parameters = &tenant["parameters"];
            assert_eq!(
                parameters["log_archive_concurrency"],
                desired.lac.to_string(),
                "{what}"
            );
            assert_eq!(
                parameters["ha_low_thread_score"],
                desired.ha.to_string(),
                "{what}"
            );
            assert_eq!(
                seconds(
                    parameters["archive_lag_target"]
                        .as_str()
                        .unwrap_or_default()
                ),
                seconds(desired.lag),
                "{what}"
            );
            assert_eq!(
                seconds(
                    tenant["delete_policy"]["recovery_window"]
                        .as_str()
                        .unwrap_or_default()
                ),
                seconds(desired.window),
                "{what}"
            );
        }
    }

    async fn run_step(&mut self) {
        self.harness.clear_requests().await;
        match self.rng.below(100) {
            0..=24 => {
                let desired = if self.rng.chance(60) {
                    Desired::random(&mut self.rng)
                } else {
                    self.desired.clone()
                };
                self.step(format!("apply {desired:?}"));
                let config = desired.config();
                self.desired = desired;
                self.plan_and_apply(&config).await;
                self.check_requests(false).await;
            }
            25..=34 => {
                self.step("plan".to_owned());
                if let Some(prior) = self.command_prior().await {
                    let plan = self.harness.plan(&prior, &self.desired.config()).await;
                    self.check_answer(
                        "plan",
                        &plan.planned_state,
                        &plan.planned_private,
                        &plan.diagnostics,
                    );
                }
                self.check_requests(true).await;
            }
            35..=44 => {
                self.step("refresh".to_owned());
                self.refresh_step().await;
                self.check_requests(true).await;
            }
            45..=49 => {
                self.step("import".to_owned());
                self.import_step().await;
                self.check_requests(true).await;
            }
            50..=61 => self.drift().await,
            62..=71 => self.http_fault().await,
            72..=81 => self.dag_fault().await,
            82..=86 => self.release_or_cancel().await,
            87..=89 => {
                self.step("rotate the RSA key".to_owned());
                self.harness
                    .control(reqwest::Method::POST, "rotate-key", json!({}))
                    .await;
            }
            90..=94 => {
                self.stop_during_apply().await;
                self.check_requests(false).await;
            }
            _ => {
                self.step("settle".to_owned());
                self.settle().await;
            }
        }
        self.check_logs();
    }
}

#[test]
fn chaos() {
    run_chaos(false);
}

/// The same run against `--profile harsh`: answer latency, object-store paths kept without their
/// query string (the refresh cannot verify them and keeps the state's URI), parameter changes
/// that reach the servers one by one and archive log that takes a while to open.
#[test]
fn chaos_harsh() {
    run_chaos(true);
}

fn run_chaos(harsh: bool) {
    let seed = env_number("CHAOS_SEED", DEFAULT_SEED);
    let steps = env_number("CHAOS_STEPS", DEFAULT_STEPS as u64) as usize;
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    // This thread runs the whole test (a current-thread runtime), so every event of the provider
    // reaches this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let mut config = SimConfig::new(PASSWORD)
            .with_task_duration(Duration::from_millis(10))
            .with_seed(seed)
            .with_sql_listen("127.0.0.1:0".parse().expect("an address"));
        if harsh {
            config = config.harsh();
        }
        let sim = obshell_sim::spawn(config)
        .await
        .expect("the sim starts");
        let mut rng = Rng::new(seed);
        let desired = Desired::random(&mut rng);
        let mut chaos = Chaos {
            harness: Harness {
                sim,
                provider: Arc::new(Provider::new("test")),
                http: reqwest::Client::new(),
            },
            rng,
            logs,
            stored: empty(),
            tainted: false,
            desired,
            added_tenants: 0,
            applies: (0, 0),
            harsh,
            recorder: Recorder {
                test: if harsh { "chaos_harsh" } else { "chaos" },
                seed,
                steps,
                done: Vec::new(),
            },
        };
        chaos.new_provider().await;
        for _ in 0..steps {
            chaos.run_step().await;
        }
        chaos.step("final settle".to_owned());
        chaos.settle().await;
        chaos.check_logs();
        // The run did something: the provider logged, applies ran and some failed.
        assert!(!chaos.logs.0.lock().expect("logs").is_empty());
        let settles = chaos
            .recorder
            .done
            .iter()
            .filter(|s| s.ends_with("settle"))
            .count();
        eprintln!(
            "chaos{}: seed {seed}, {steps} steps: {} applies ({} ended with an error), {settles} settles",
            if harsh { " (harsh)" } else { "" },
            chaos.applies.0, chaos.applies.1
        );
        assert!(chaos.applies.0 > 0);
    });
}

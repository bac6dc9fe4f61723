//! A minimal obshell client for the tests: raw HTTP/1.1 over TCP (so dropped connections are
//! visible as such) and the SDKs' hybrid encryption.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use obshell_sim::{SimConfig, SimHandle};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) const PASSWORD: &str = "s3cret-root";
pub(crate) const URI: &str = "file:///data/backup";
pub(crate) const CLUSTER_ID: i64 = 1_726_000_000;

/// A response: status and JSON body.
pub(crate) type Reply = (u16, Value);

/// Starts a simulator of `version` with 10 ms nodes.
pub(crate) async fn start(version: &str) -> SimHandle {
    let config = SimConfig::new(PASSWORD)
        .with_obshell_version(version.parse().unwrap())
        .with_task_duration(Duration::from_millis(10));
    obshell_sim::spawn(config).await.unwrap()
}

/// Sends one request and reads the whole answer; `Err` when the server closed without answering.
pub(crate) async fn raw(
    sim: &SimHandle,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(sim.addr()).await?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        sim.addr(),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    if response.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed without a response",
        ));
    }
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap()
    };
    Ok((status, body))
}

/// A plain JSON control call.
pub(crate) async fn control(sim: &SimHandle, method: &str, path: &str, body: Value) -> Value {
    let (status, reply) = raw(sim, method, path, &[], body.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(status, 200, "{method} {path}: {reply}");
    reply
}

/// `GET /sim/v1/state`.
pub(crate) async fn sim_state(sim: &SimHandle) -> Value {
    control(sim, "GET", "/sim/v1/state", json!({})).await
}

/// One tenant's entry of `GET /sim/v1/state`.
pub(crate) async fn tenant_state(sim: &SimHandle, name: &str) -> Value {
    let state = sim_state(sim).await;
    state["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tenant {name}: {state}"))
        .clone()
}

/// `PATCH /sim/v1/tenants/{name}`: what a DBA could set with SQL; answers the tenant.
pub(crate) async fn patch_tenant(sim: &SimHandle, name: &str, patch: Value) -> Value {
    control(sim, "PATCH", &format!("/sim/v1/tenants/{name}"), patch).await
}

/// `POST /sim/v1/faults/http`.
pub(crate) async fn http_fault(sim: &SimHandle, fault: Value) -> Value {
    control(sim, "POST", "/sim/v1/faults/http", fault).await
}

/// `POST /sim/v1/faults/dag`.
pub(crate) async fn dag_fault(sim: &SimHandle, fault: Value) -> Value {
    control(sim, "POST", "/sim/v1/faults/dag", fault).await
}

/// `PATCH /sim/v1/config`.
pub(crate) async fn set_sim_config(sim: &SimHandle, config: Value) -> Value {
    control(sim, "PATCH", "/sim/v1/config", config).await
}

/// The SDK-style client with a cached public key.
pub(crate) struct Client {
    pub(crate) key: RsaPublicKey,
    pub(crate) password: String,
}

/// What to put in the encrypted header.
pub(crate) struct HeaderSpec<'a> {
    pub(crate) auth: &'a str,
    pub(crate) ts: Value,
    pub(crate) uri: &'a str,
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const KEYS: [u8; 32] = [7; 32];

impl Client {
    pub(crate) async fn new(sim: &SimHandle) -> Self {
        let (_, secret) = raw(sim, "GET", "/api/v1/secret", &[], b"").await.unwrap();
        let der = STANDARD
            .decode(secret["data"]["public_key"].as_str().unwrap())
            .unwrap();
        Self {
            key: RsaPublicKey::from_pkcs1_der(&der).unwrap(),
            password: PASSWORD.to_owned(),
        }
    }

    /// The X-OCS-Header value, in 53-byte chunks as the SDKs send it.
    pub(crate) fn header(&self, spec: HeaderSpec<'_>) -> String {
        let json = json!({"auth": spec.auth, "ts": spec.ts, "uri": spec.uri, "keys": STANDARD.encode(KEYS)}).to_string();
        let mut out = Vec::new();
        for chunk in json.as_bytes().chunks(53) {
            out.extend(
                self.key
                    .encrypt(&mut rand::thread_rng(), Pkcs1v15Encrypt, chunk)
                    .unwrap(),
            );
        }
        STANDARD.encode(out)
    }

    pub(crate) fn encrypt(body: &Value) -> Vec<u8> {
        let cipher =
            cbc::Encryptor::<aes::Aes128>::new_from_slices(&KEYS[..16], &KEYS[16..]).unwrap();
        STANDARD
            .encode(cipher.encrypt_padded_vec_mut::<Pkcs7>(body.to_string().as_bytes()))
            .into_bytes()
    }

    /// An authenticated call; `None` body sends nothing.
    pub(crate) async fn call(
        &self,
        sim: &SimHandle,
        method: &str,
        target: &str,
        body: Option<Value>,
    ) -> Reply {
        self.try_call(sim, method, target, body).await.unwrap()
    }

    pub(crate) async fn try_call(
        &self,
        sim: &SimHandle,
        method: &str,
        target: &str,
        body: Option<Value>,
    ) -> std::io::Result<Reply> {
        let header = self.header(HeaderSpec {
            auth: &self.password,
            ts: json!((now_secs() + 60).to_string()),
            uri: target,
        });
        let body = body.map(|b| Self::encrypt(&b)).unwrap_or_default();
        raw(sim, method, target, &[("X-OCS-Header", header)], &body).await
    }

    /// Sends a request that starts a DAG, checks that obshell accepted it, and waits for the DAG
    /// to end; returns the final DAG.
    pub(crate) async fn write_and_wait(
        &self,
        sim: &SimHandle,
        method: &str,
        target: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, reply) = self.call(sim, method, target, body).await;
        assert_eq!(status, 200, "{reply}");
        self.wait_dag(sim, reply["data"]["id"].as_str().unwrap())
            .await
    }

    /// The tenant names `GET /tenants/overview` lists, in its order.
    pub(crate) async fn overview_names(&self, sim: &SimHandle) -> Vec<String> {
        let (status, overview) = self
            .call(sim, "GET", "/api/v1/tenants/overview", None)
            .await;
        assert_eq!(status, 200, "{overview}");
        overview["data"]["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tenant_name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `POST /obcluster/backup/config` with only `backup_base_uri` = [`URI`].
    pub(crate) async fn post_base_uri(&self, sim: &SimHandle) -> Reply {
        self.call(
            sim,
            "POST",
            "/api/v1/obcluster/backup/config",
            Some(json!({"backup_base_uri": URI})),
        )
        .await
    }

    /// [`Client::post_base_uri`], accepted and waited for; returns the final DAG.
    pub(crate) async fn configure_base_uri(&self, sim: &SimHandle) -> Value {
        let (status, reply) = self.post_base_uri(sim).await;
        assert_eq!(status, 200, "{reply}");
        self.wait_dag(sim, reply["data"]["id"].as_str().unwrap())
            .await
    }

    /// `PATCH /tenant/{tenant}/backup/log` to `status` (DOING, STOP, SUSPEND).
    pub(crate) async fn set_archive_log(
        &self,
        sim: &SimHandle,
        tenant: &str,
        status: &str,
    ) -> Reply {
        let target = format!("/api/v1/tenant/{tenant}/backup/log");
        self.call(sim, "PATCH", &target, Some(json!({ "status": status })))
            .await
    }

    /// `POST /task/dag/{id}` with `operator` (RETRY, ROLLBACK, CANCEL, PASS).
    pub(crate) async fn dag_operator(&self, sim: &SimHandle, id: &str, operator: &str) -> Reply {
        let target = format!("/api/v1/task/dag/{id}");
        self.call(sim, "POST", &target, Some(json!({ "operator": operator })))
            .await
    }

    /// Polls a DAG until it is SUCCEED or FAILED (within 10 s).
    pub(crate) async fn wait_dag(&self, sim: &SimHandle, id: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, reply) = self
                .call(sim, "GET", &format!("/api/v1/task/dag/{id}"), None)
                .await;
            assert_eq!(status, 200, "{reply}");
            let state = reply["data"]["state"].as_str().unwrap().to_owned();
            if state == "SUCCEED" || state == "FAILED" {
                return reply["data"].clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "DAG {id} still {state}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Polls until `f` holds for the DAG (within 10 s).
    pub(crate) async fn wait_dag_until(
        &self,
        sim: &SimHandle,
        id: &str,
        f: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (_, reply) = self
                .call(sim, "GET", &format!("/api/v1/task/dag/{id}"), None)
                .await;
            if f(&reply["data"]) {
                return reply["data"].clone();
            }
            assert!(std::time::Instant::now() < deadline, "DAG {id}: {reply}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The last task log of the first failed node's failed sub-task, as the SDKs read it.
pub(crate) fn failure_line(dag: &Value) -> String {
    let node = dag["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["state"] == "FAILED")
        .expect("a failed node");
    let task = node["sub_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["state"] == "FAILED")
        .unwrap();
    task["task_logs"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Checks an error reply's status and errCode (≥ 4.3.1 shape).
#[track_caller]
pub(crate) fn check_error(reply: &Reply, status: u16, err_code: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["status"], status);
    assert_eq!(reply.1["successful"], false);
    assert_eq!(reply.1["error"]["errCode"], err_code, "{}", reply.1);
}

/// Checks a legacy (≤ 4.3.0) error reply: integer code, no errCode.
#[track_caller]
pub(crate) fn check_legacy_error(reply: &Reply, status: u16, code: i64) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["error"]["code"], code, "{}", reply.1);
    assert!(reply.1["error"].get("errCode").is_none(), "{}", reply.1);
}

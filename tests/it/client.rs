//! The obshell client against obshell-sim: every call, authentication recovery, retries, lost
//! writes, and the DAG waiter, in both obshell eras. The sim's request log shows what was sent.

use std::time::Duration;

use serde_json::{json, Value};
use terraform_provider_oceanbase::obshell::{
    wait_for_dag, ArchiveLogStatus, BackupConfigRequest, Client, Dag, DagFailure, DagId,
    DagOperator, DagState, DeletePolicy, Error, ObshellVersion, StorageUri, TransportFailure,
    WaitOptions,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{
    capture_test_log, check_api_error, count_requests, spawn_info_only_agent, CountingProxy, Sim,
    PASSWORD,
};

/// obshell ≤ 4.3.0: legacy `{code}` errors, 512-bit key, no backup reads.
const LEGACY: &str = "4.2.4.0";
/// obshell ≥ 4.4.2: `errCode` errors, 1024-bit key, backup reads.
const MODERN: &str = "4.5.0.0";
const ERAS: [&str; 2] = [LEGACY, MODERN];

const CONFIG_PATH: &str = "/api/v1/obcluster/backup/config";

fn wait_options(within: Duration) -> WaitOptions {
    WaitOptions::new(Instant::now() + within, CancellationToken::new())
}

fn full_request(uri: &str) -> BackupConfigRequest {
    BackupConfigRequest {
        backup_base_uri: Some(StorageUri::new(uri)),
        log_archive_concurrency: Some(4),
        binding: Some("optional".to_owned()),
        ha_low_thread_score: Some(10),
        piece_switch_interval: Some("1d".to_owned()),
        archive_lag_target: Some("2m".to_owned()),
        delete_policy: Some(DeletePolicy {
            policy: "default".to_owned(),
            recovery_window: "7d".to_owned(),
        }),
    }
}

async fn post_and_wait(client: &Client, request: &BackupConfigRequest) -> Result<Dag, Error> {
    let dag = client.post_backup_config(request).await?;
    wait_for_dag(client, &dag.id, &wait_options(Duration::from_secs(20))).await
}

/// Makes the next backup-config DAG fail at `node`, posts a config and returns the failed DAG's id.
async fn failed_dag(sim: &Sim, client: &Client, node: &str, message: &str) -> DagId {
    sim.dag_fault(node, message).await;
    let failed = post_and_wait(client, &full_request("file:///data/backup"))
        .await
        .unwrap_err();
    let Error::DagFailed { dag_id, .. } = failed else {
        panic!("{failed:?}")
    };
    dag_id
}

/// The bodies of the logged requests with this method and uri prefix.
async fn logged_bodies(sim: &Sim, method: &str, uri_prefix: &str) -> Vec<Value> {
    sim.requests()
        .await
        .into_iter()
        .filter(|entry| {
            entry["method"] == method
                && entry["uri"]
                    .as_str()
                    .is_some_and(|uri| uri.starts_with(uri_prefix))
        })
        .map(|entry| entry["body"].clone())
        .collect()
}

#[tokio::test]
async fn agent_info_is_read_once_and_checked() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        let info = client.agent_info().await.unwrap();
        assert_eq!(info.identity, "CLUSTER AGENT");
        assert_eq!(info.version, ObshellVersion::parse(version).unwrap());
        assert_eq!(info.version.supports_backup_reads(), version == MODERN);
        client.cluster_info().await.unwrap();
        client.clone().tenants_overview().await.unwrap();
        let lines = sim.request_lines().await;
        assert_eq!(
            count_requests(&lines, "GET", "/api/v1/info"),
            1,
            "{lines:?}"
        );
        assert_eq!(
            count_requests(&lines, "GET", "/api/v1/secret"),
            1,
            "{lines:?}"
        );
    }
}

#[track_caller]
fn check_unsupported(error: &Error, found: &str) {
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(found) && message.contains("CLUSTER AGENT") && message.contains("4.2.4.0"),
        "{message}"
    );
}

#[tokio::test]
async fn agents_that_cannot_manage_backups_are_unsupported_and_nothing_else_is_sent() {
    for (info, found) in [
        (
            json!({"version": "4.2.3.0", "identity": "CLUSTER AGENT"}),
            "4.2.3.0",
        ),
        (
            json!({"version": "4.5.0.0", "identity": "FOLLOWER"}),
            "FOLLOWER",
        ),
        (
            json!({"version": "4.5.0.0", "identity": "SINGLE"}),
            "SINGLE",
        ),
    ] {
        let (url, served) = spawn_info_only_agent(info).await;
        let client = Client::builder(url).password(PASSWORD).build().unwrap();
        check_unsupported(&client.cluster_info().await.unwrap_err(), found);
        check_unsupported(
            &client
                .post_backup_config(&full_request("file:///b"))
                .await
                .unwrap_err(),
            found,
        );
        check_unsupported(&client.agent_info().await.unwrap_err(), found);
        // Only /api/v1/info, once: no key fetch, no write.
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}

#[tokio::test]
async fn backup_reads_need_4_3_2_and_are_refused_without_a_request() {
    let sim = Sim::start("4.3.1.0").await;
    let client = sim.client();
    for error in [
        client.tenant_backup_storage("t1").await.unwrap_err(),
        client
            .tenant_archive_log_tasks("t1")
            .await
            .map(|_| ())
            .unwrap_err(),
        client
            .set_tenant_archive_log("t1", ArchiveLogStatus::Suspend)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
        assert!(error.to_string().contains("4.3.2.0"), "{error}");
    }
    let lines = sim.request_lines().await;
    assert!(
        lines.iter().all(|(_, uri, _)| uri == "/api/v1/info"),
        "{lines:?}"
    );
}

/// Where `version` reports the cluster id: `ob/info` before 4.3.0, `obcluster/info` from it.
fn cluster_info_path(version: &str) -> &'static str {
    if version == LEGACY {
        "/api/v1/ob/info"
    } else {
        "/api/v1/obcluster/info"
    }
}

#[tokio::test]
async fn reads_return_the_cluster_and_its_tenants() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        let state = sim.state().await;
        let cluster = client.cluster_info().await.unwrap();
        assert_eq!(cluster.id, state["cluster"]["id"].as_i64().unwrap());
        assert_eq!(cluster.name, state["cluster"]["name"].as_str().unwrap());

        let tenants = client.tenants_overview().await.unwrap();
        let names: Vec<&str> = tenants.iter().map(|tenant| tenant.name.as_str()).collect();
        assert!(
            names.contains(&"sys") && names.contains(&"t1") && names.contains(&"t2"),
            "{names:?}"
        );
        assert!(tenants.iter().any(|tenant| tenant.is_sys()));
        let t1 = tenants.iter().find(|tenant| tenant.name == "t1").unwrap();
        assert_eq!(t1.status, "NORMAL");

        let info = client.tenant_info("t1").await.unwrap();
        assert_eq!((info.id, info.name.as_str()), (t1.id, "t1"));

        let parameter = client
            .tenant_parameter("t1", "archive_lag_target")
            .await
            .unwrap();
        assert_eq!(
            (parameter.name.as_str(), parameter.value.as_str()),
            ("archive_lag_target", "120s")
        );
        let listed = client
            .tenant_parameters("t1", Some("%archive%"))
            .await
            .unwrap();
        assert!(
            listed
                .iter()
                .any(|parameter| parameter.name == "archive_lag_target"),
            "{listed:?}"
        );

        let error = client.tenant_info("nope").await.unwrap_err();
        if version == LEGACY {
            check_api_error(&error, 400, None, Some(1000));
        } else {
            check_api_error(&error, 400, Some("OB.Tenant.NotExist"), None);
        }
        let lines = sim.request_lines().await;
        // The header's uri matched the request target byte for byte, query included.
        assert!(
            lines.contains(&(
                "GET".into(),
                "/api/v1/tenant/t1/parameters?filter=%25archive%25".into(),
                200
            )),
            "{lines:?}"
        );
    }
}

#[tokio::test]
async fn the_three_backup_parameters_come_from_two_requests() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        sim.control(
            "PATCH",
            "/sim/v1/tenants/t2",
            Some(json!({"parameters": {"log_archive_concurrency": "7", "ha_low_thread_score": "9", "archive_lag_target": "5m"}})),
        )
        .await;
        let client = sim.client();
        client.agent_info().await.unwrap();
        sim.clear_requests().await;
        let parameters = client.tenant_backup_parameters("t2").await.unwrap();
        assert_eq!(
            (
                parameters.log_archive_concurrency.as_deref(),
                parameters.ha_low_thread_score.as_deref(),
                parameters.archive_lag_target.as_deref()
            ),
            (Some("7"), Some("9"), Some("5m"))
        );
        let mut lines: Vec<String> = sim
            .request_lines()
            .await
            .into_iter()
            .filter(|(_, uri, _)| uri.starts_with("/api/v1/tenant/"))
            .map(|(method, uri, status)| format!("{method} {uri} {status}"))
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                "GET /api/v1/tenant/t2/parameters?filter=%25archive%25 200",
                "GET /api/v1/tenant/t2/parameters?filter=ha_low_thread_score 200",
            ],
            "{version}"
        );
    }
}

#[tokio::test]
async fn no_more_requests_or_connections_than_the_bound_at_once() {
    let sim = Sim::start(MODERN).await;
    for n in 3..=24 {
        sim.control(
            "POST",
            "/sim/v1/tenants",
            Some(json!({"name": format!("t{n}")})),
        )
        .await;
    }
    let proxy = CountingProxy::start(&sim.url).await;
    let client = Client::builder(&proxy.url)
        .password(PASSWORD)
        .max_parallel_requests(3)
        .build()
        .unwrap();
    assert_eq!(client.max_parallel_requests(), 3);
    client.agent_info().await.unwrap();
    // Every answer takes 20 ms, so that requests overlap when they can.
    sim.http_fault(json!({"kind": "hang", "ms": 20, "count": 1000}))
        .await;
    let reads = (1..=24).map(|n| {
        let client = client.clone();
        async move {
            let name = format!("t{n}");
            let (parameters, storage) = tokio::join!(
                client.tenant_backup_parameters(&name),
                client.tenant_backup_storage(&name)
            );
            (parameters.unwrap(), storage.unwrap())
        }
    });
    let results = futures_util::future::join_all(reads).await;
    assert_eq!(results.len(), 24);
    assert_eq!(
        proxy.peak(),
        3,
        "{} connections were open at once ({} opened in all)",
        proxy.peak(),
        proxy.accepted()
    );
    assert!(proxy.open() <= 3);
    for bad in [0, 65] {
        let error = Client::builder(&proxy.url)
            .password(PASSWORD)
            .max_parallel_requests(bad)
            .build()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("max_parallel_requests must be from 1 to 64"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn post_sends_exactly_the_configured_fields_and_the_dag_succeeds() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        let dag = client
            .post_backup_config(&full_request("file:///data/backup"))
            .await
            .unwrap();
        assert_eq!(dag.name, "Set obcluster backup config");
        assert_eq!(dag.max_stage, 2);
        let done = wait_for_dag(&client, &dag.id, &wait_options(Duration::from_secs(20)))
            .await
            .unwrap();
        assert!(done.is_success());
        assert_eq!(done.state, DagState::Succeed);

        let bodies = logged_bodies(&sim, "POST", CONFIG_PATH).await;
        assert_eq!(
            bodies,
            vec![
                json!({"backup_base_uri": "file:///data/backup", "log_archive_concurrency": 4, "binding": "optional",
                        "ha_low_thread_score": 10, "piece_switch_interval": "1d", "archive_lag_target": "2m",
                        "delete_policy": {"policy": "default", "recovery_window": "7d"}})
            ]
        );
        let state = sim.state().await;
        let t1 = state["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|tenant| tenant["name"] == "t1")
            .unwrap();
        assert_eq!(t1["parameters"]["log_archive_concurrency"], "4");
        assert!(
            t1["archive_dest"]["path"]
                .as_str()
                .unwrap()
                .starts_with("file:///data/backup/"),
            "{t1}"
        );

        // The waiter polled the DAG with the query in the signed uri.
        let lines = sim.request_lines().await;
        assert!(
            count_requests(
                &lines,
                "GET",
                &format!("/api/v1/task/dag/{}?show_details=true", dag.id)
            ) >= 1,
            "{lines:?}"
        );
    }
}

#[tokio::test]
async fn patch_omits_absent_fields_and_validation_errors_are_typed() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        let request = BackupConfigRequest {
            ha_low_thread_score: Some(7),
            ..Default::default()
        };
        let dag = client.patch_backup_config(&request).await.unwrap();
        wait_for_dag(&client, &dag.id, &wait_options(Duration::from_secs(20)))
            .await
            .unwrap();
        assert_eq!(
            logged_bodies(&sim, "PATCH", CONFIG_PATH).await,
            vec![json!({"ha_low_thread_score": 7})]
        );

        // PATCH with binding but no URI: obshell's pre-check refuses it.
        let bad = BackupConfigRequest {
            binding: Some("mandatory".to_owned()),
            ..Default::default()
        };
        let error = client.patch_backup_config(&bad).await.unwrap_err();
        if version == LEGACY {
            check_api_error(&error, 400, None, Some(1001));
        } else {
            check_api_error(&error, 400, Some("OB.Backup.BaseUriEmpty"), None);
        }
        assert!(error.to_string().contains("binding"), "{error}");
        // A 400 is an answer: sent once.
        let lines = sim.request_lines().await;
        assert_eq!(count_requests(&lines, "PATCH", CONFIG_PATH), 2, "{lines:?}");
    }
}

#[tokio::test]
async fn storage_uri_credentials_reach_obshell_but_no_message() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    let uri = "oss://bucket/backup?host=oss.example.com&access_id=AKID123&access_key=SECRET456";
    sim.dag_fault("Check backup config", &format!("cannot write to {uri}"))
        .await;
    let error = post_and_wait(&client, &full_request(uri))
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains("SECRET456") && !text.contains("AKID123"),
        "{text}"
    );
    // The wire carried the real URI.
    let bodies = logged_bodies(&sim, "POST", CONFIG_PATH).await;
    assert_eq!(bodies[0]["backup_base_uri"], uri);

    // Once applied, the storage read shows the destination without credentials.
    post_and_wait(&client, &full_request(uri)).await.unwrap();
    let cluster = client.cluster_info().await.unwrap();
    let storage = client
        .tenant_backup_storage("t1")
        .await
        .unwrap()
        .expect("readable");
    assert_eq!(
        storage.archive_base_uri.expose(),
        format!(
            "oss://bucket/backup/{}/{}/clog?host=oss.example.com",
            cluster.id, storage.tenant_id
        )
    );
    assert!(!storage.data_base_uri.has_credentials());
}

#[tokio::test]
async fn dag_lists_and_backup_reads() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    assert_eq!(
        client
            .tenant_backup_storage("t1")
            .await
            .unwrap()
            .map(|storage| storage.archive_base_uri.expose().to_owned()),
        Some(String::new())
    );
    assert!(client.unfinished_dags().await.unwrap().is_empty());

    post_and_wait(&client, &full_request("file:///data/backup"))
        .await
        .unwrap();
    let cluster = client.cluster_info().await.unwrap();
    let tenant = client.tenant_info("t1").await.unwrap();
    let storage = client
        .tenant_backup_storage("t1")
        .await
        .unwrap()
        .expect("a file:// destination is readable");
    assert_eq!(storage.tenant_id, tenant.id);
    assert_eq!(
        storage.archive_base_uri.expose(),
        format!("file:///data/backup/{}/{}/clog", cluster.id, tenant.id)
    );
    assert_eq!(
        storage.data_base_uri.expose(),
        format!("file:///data/backup/{}/{}/data", cluster.id, tenant.id)
    );

    // A held DAG is listed as unfinished.
    sim.task_duration_ms(30).await;
    let held = sim
        .control("POST", "/sim/v1/dags/hold-running", Some(json!({})))
        .await;
    let unfinished = client.unfinished_dags().await.unwrap();
    assert_eq!(unfinished.len(), 1, "{unfinished:?}");
    assert_eq!(unfinished[0].id.as_str(), held["id"].as_str().unwrap());
    assert!(!unfinished[0].is_finished());
    sim.control(
        "POST",
        &format!("/sim/v1/dags/{}/release", unfinished[0].id),
        None,
    )
    .await;

    // Archive log: the cluster call opens it on every tenant that archived before (a tenant that
    // never archived has no round to reopen), the tenant call sets one.
    for tenant in ["t1", "t2"] {
        sim.control(
            "PATCH",
            &format!("/sim/v1/tenants/{tenant}"),
            Some(json!({"archive_log_status": "STOP"})),
        )
        .await;
    }
    client
        .set_cluster_archive_log(ArchiveLogStatus::Doing)
        .await
        .unwrap();
    let tasks = client.tenant_archive_log_tasks("t1").await.unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].status, "DOING");
    client
        .set_tenant_archive_log("t1", ArchiveLogStatus::Stop)
        .await
        .unwrap();
    assert!(client
        .tenant_archive_log_tasks("t1")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        logged_bodies(&sim, "PATCH", "/api/v1/obcluster/backup/log").await,
        vec![json!({"status": "DOING"})]
    );
    assert_eq!(
        logged_bodies(&sim, "PATCH", "/api/v1/tenant/t1/backup/log").await,
        vec![json!({"status": "STOP"})]
    );

    let error = client.get_dag(&DagId::new("1999999")).await.unwrap_err();
    check_api_error(&error, 404, Some("Task.NotFound"), None);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_again_once() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        client.cluster_info().await.unwrap();
        sim.control("POST", "/sim/v1/rotate-key", None).await;
        sim.clear_requests().await;
        client.cluster_info().await.unwrap();
        let lines = sim.request_lines().await;
        let line = |uri: &str, status| ("GET".to_owned(), uri.to_owned(), status);
        if version == LEGACY {
            // obshell ≤ 4.3.0 says only 10008: the client takes key and clock again, once.
            let entries = sim.requests().await;
            assert_eq!(
                entries[0]["error_code"], "Security.Authentication.Header.DecryptFailed",
                "{entries:?}"
            );
            assert_eq!(
                lines,
                vec![
                    line("/api/v1/ob/info", 401),
                    line("/api/v1/time", 200),
                    line("/api/v1/secret", 200),
                    line("/api/v1/ob/info", 200),
                ]
            );
        } else {
            assert_eq!(
                lines,
                vec![
                    line("/api/v1/obcluster/info", 401),
                    line("/api/v1/secret", 200),
                    line("/api/v1/obcluster/info", 200),
                ]
            );
        }
    }
}

/// Each auth header expires a minute after it is sent, by the server's clock: the sim logs the
/// decrypted `ts` with the server time of its check, and a check delayed past a second (a slow
/// or busy agent) still passes. A header with no lifetime expires at once; one that never
/// expires is refused.
#[tokio::test]
async fn auth_headers_expire_a_minute_after_sending_by_the_servers_clock() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    // The server runs five minutes ahead: ts follows its clock once the client has learnt it.
    sim.control(
        "POST",
        "/sim/v1/clock",
        Some(json!({"offset_seconds": 300})),
    )
    .await;
    client.cluster_info().await.unwrap();
    sim.clear_requests().await;
    // The auth check of the next two cluster-info requests (the call and its one retry) runs
    // 1.5 s after they arrive.
    sim.control(
        "POST",
        "/sim/v1/faults/http",
        Some(json!({"kind": "hang", "ms": 1500, "count": 2, "path_prefix": "/api/v1/obcluster/info"})),
    )
    .await;
    client.cluster_info().await.unwrap();
    client.tenants_overview().await.unwrap();
    let entries = sim.requests().await;
    assert_eq!(
        entries.len(),
        2,
        "one request each, none refused: {entries:?}"
    );
    for entry in &entries {
        assert_eq!(entry["status"], 200, "{entry}");
        let ts: i64 = entry["ts"].as_str().expect("a ts").parse().expect("digits");
        let checked_at = entry["checked_at"].as_i64().expect("checked");
        // 60 s from sending; the hang and the clock estimate take up to a few seconds off.
        assert!(
            (55..=61).contains(&(ts - checked_at)),
            "ts {ts} is {} s after the server's check: {entry}",
            ts - checked_at
        );
    }
}

#[tokio::test]
async fn clock_skew_is_corrected_from_the_server_time() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        client.cluster_info().await.unwrap();
        // The server runs five minutes ahead: our 60 s header lifetime has expired on arrival.
        sim.control(
            "POST",
            "/sim/v1/clock",
            Some(json!({"offset_seconds": 300})),
        )
        .await;
        sim.clear_requests().await;
        client.cluster_info().await.unwrap();
        let lines = sim.request_lines().await;
        let info = cluster_info_path(version);
        let mut expected = vec![
            ("GET".to_owned(), info.to_owned(), 401),
            ("GET".to_owned(), "/api/v1/time".to_owned(), 200),
            ("GET".to_owned(), info.to_owned(), 200),
        ];
        if version == LEGACY {
            // A legacy 10008 does not say why: the key is fetched again too.
            expected.insert(2, ("GET".to_owned(), "/api/v1/secret".to_owned(), 200));
        }
        assert_eq!(lines, expected, "{version}");
        if version == MODERN {
            let entries = sim.requests().await;
            assert_eq!(entries[0]["error_code"], "Security.Authentication.Expired");
        }
        // Later calls use the learnt offset and pass at once.
        sim.clear_requests().await;
        client.tenants_overview().await.unwrap();
        assert_eq!(sim.request_lines().await.len(), 1);
    }
}

/// Behind a load balancer, the agent that checks a request may not be the one whose key or time
/// the client fetched: the client recovers once (key, clock or, before 4.3.1, both), and when the
/// next attempt is refused too, that refusal is the answer, not another round.
#[tokio::test]
async fn an_auth_refusal_that_outlives_its_recovery_is_the_answer() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        client.cluster_info().await.unwrap();
        let info = cluster_info_path(version);
        for (kind, err_code, helper) in [
            (
                "other_key",
                "Security.Authentication.Header.DecryptFailed",
                "/api/v1/secret",
            ),
            (
                "clock_ahead",
                "Security.Authentication.Expired",
                "/api/v1/time",
            ),
        ] {
            // Two refusals: the call and its one recovery. A third attempt would be answered.
            sim.control(
                "POST",
                "/sim/v1/faults/auth",
                Some(json!({"kind": kind, "count": 2})),
            )
            .await;
            sim.clear_requests().await;
            let error = client.cluster_info().await.unwrap_err();
            if version == LEGACY {
                check_api_error(&error, 401, None, Some(10008));
            } else {
                check_api_error(&error, 401, Some(err_code), None);
            }
            let lines = sim.request_lines().await;
            assert_eq!(
                count_requests(&lines, "GET", info),
                2,
                "{version} {kind}: {lines:?}"
            );
            assert_eq!(
                count_requests(&lines, "GET", helper),
                1,
                "{version} {kind}: {lines:?}"
            );
            // Once the client reaches its own agent again, calls pass.
            client.cluster_info().await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_wrong_password_is_an_answer_not_retried() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client_with(
            "wrong-password",
            Duration::from_secs(5),
            Duration::from_secs(3),
        );
        let error = client.cluster_info().await.unwrap_err();
        if version == LEGACY {
            check_api_error(&error, 401, None, Some(10008));
        } else {
            check_api_error(
                &error,
                401,
                Some("Security.Authentication.IncorrectOceanbasePassword"),
                None,
            );
        }
        let text = format!("{error} {error:?}");
        assert!(
            !text.contains("wrong-password") && !text.contains(PASSWORD),
            "{text}"
        );
        let lines = sim.request_lines().await;
        // A legacy 10008 may be a stale key: the request is sent once more with the key and clock
        // taken again, and the second 10008 is the answer.
        let sent = if version == LEGACY { 2 } else { 1 };
        assert_eq!(
            count_requests(&lines, "GET", cluster_info_path(version)),
            sent,
            "{lines:?}"
        );
    }
}

#[tokio::test]
async fn reads_retry_5xx_then_succeed() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    client.agent_info().await.unwrap();
    sim.http_fault(json!({"kind": "status", "status": 503, "count": 2, "path_prefix": "/api/v1/tenants/overview"})).await;
    sim.clear_requests().await;
    client.tenants_overview().await.unwrap();
    let statuses: Vec<u64> = sim
        .request_lines()
        .await
        .iter()
        .filter(|(_, uri, _)| uri == "/api/v1/tenants/overview")
        .map(|line| line.2)
        .collect();
    assert_eq!(statuses, vec![503, 503, 200]);
}

/// A success whose body is not obshell's envelope (cut off, say) is an error naming the call,
/// never a success without data.
#[tokio::test]
async fn a_garbled_success_is_a_decode_error() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    client.agent_info().await.unwrap();
    sim.http_fault(json!({"kind": "garble_after_read", "path_prefix": "/api/v1/tenants/overview"}))
        .await;
    let error = client.tenants_overview().await.unwrap_err();
    match &error {
        Error::Decode { path, reason, .. } => {
            assert_eq!(path, "/api/v1/tenants/overview");
            assert_eq!(reason, "the answer is not an obshell JSON envelope");
        }
        other => panic!("not a decode error: {other:?}"),
    }
}

#[tokio::test]
async fn a_500_is_an_answer() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    client.agent_info().await.unwrap();
    sim.http_fault(
        json!({"kind": "status", "status": 500, "path_prefix": "/api/v1/obcluster/info"}),
    )
    .await;
    sim.clear_requests().await;
    let error = client.cluster_info().await.unwrap_err();
    check_api_error(&error, 500, None, None);
    let lines = sim.request_lines().await;
    assert_eq!(
        count_requests(&lines, "GET", "/api/v1/obcluster/info"),
        1,
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_hang_past_the_request_timeout_is_retried_for_reads() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client_with(PASSWORD, Duration::from_millis(300), Duration::from_secs(5));
    client.agent_info().await.unwrap();
    sim.http_fault(json!({"kind": "hang", "ms": 3000, "path_prefix": "/api/v1/obcluster/info"}))
        .await;
    client.cluster_info().await.unwrap();

    // With no budget, one retry still happens; a second timeout is the error.
    let impatient = sim.client_with(PASSWORD, Duration::from_millis(300), Duration::ZERO);
    impatient.agent_info().await.unwrap();
    sim.http_fault(json!({"kind": "hang", "ms": 3000, "path_prefix": "/api/v1/obcluster/info"}))
        .await;
    impatient.cluster_info().await.unwrap();
    sim.http_fault(
        json!({"kind": "hang", "ms": 3000, "count": 2, "path_prefix": "/api/v1/obcluster/info"}),
    )
    .await;
    let error = impatient.cluster_info().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                failure: TransportFailure::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_read_that_times_out_is_retried_with_the_default_proportions() {
    // The defaults scaled down a hundredfold: a 30 s request timeout and a 10 s retry budget.
    let sim = Sim::start(MODERN).await;
    let client = sim.client_with(
        PASSWORD,
        Duration::from_millis(300),
        Duration::from_millis(100),
    );
    client.agent_info().await.unwrap();
    sim.http_fault(json!({"kind": "hang", "ms": 3000, "path_prefix": "/api/v1/obcluster/info"}))
        .await;
    // The hung request is not logged (the sim logs answered requests); the retry answered.
    client.cluster_info().await.unwrap();
}

/// A listener on 127.0.0.1 whose accept queue is full: the kernel drops further SYNs, so a
/// connection to it never opens. Keep the returned values alive for as long as it must hang.
async fn listener_that_never_accepts(
) -> (String, tokio::net::TcpListener, Vec<tokio::net::TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the queue (a backlog of 0 still queues one connection; one more for good measure may
    // hang, so each filler gets a short connect of its own).
    let mut fillers = Vec::new();
    for _ in 0..4 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    (format!("http://{addr}"), listener, fillers)
}

#[tokio::test]
async fn a_connection_that_never_opens_is_a_connect_failure() {
    let (url, _listener, _fillers) = listener_that_never_accepts().await;
    let client = Client::builder(&url)
        .password(PASSWORD)
        .request_timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_millis(200))
        .read_retry_budget(Duration::ZERO)
        .build()
        .unwrap();
    let error = client.agent_info().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                failure: TransportFailure::Connect,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_write_whose_helper_request_failed_was_not_sent() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client_with(PASSWORD, Duration::from_secs(5), Duration::from_millis(300));
    client.agent_info().await.unwrap();
    // The public key cannot be fetched: the POST never goes out.
    sim.http_fault(
        json!({"kind": "drop_after_read", "count": 50, "path_prefix": "/api/v1/secret"}),
    )
    .await;
    let error = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Transport { path, .. } if path == "/api/v1/secret"),
        "{error:?}"
    );
    let lines = sim.request_lines().await;
    assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 0, "{lines:?}");
    assert_eq!(
        count_requests(&lines, "GET", "/api/v1/task"),
        0,
        "{lines:?}"
    );
    sim.control("DELETE", "/sim/v1/faults", None).await;

    // The POST was refused as expired and the clock cannot be read: the outcome is known (nothing
    // was done), so it is a plain error, not "outcome unknown".
    client.cluster_info().await.unwrap();
    // The read of the highest DAG id before the write still has the right clock; the agent's
    // clock jumps while the PATCH is on its way.
    sim.http_fault(
        json!({"kind": "hang", "ms": 1000, "method": "PATCH", "path_prefix": CONFIG_PATH}),
    )
    .await;
    sim.http_fault(json!({"kind": "drop_after_read", "count": 50, "path_prefix": "/api/v1/time"}))
        .await;
    sim.clear_requests().await;
    let request = BackupConfigRequest {
        log_archive_concurrency: Some(8),
        ..BackupConfigRequest::default()
    };
    let patch = client.patch_backup_config(&request);
    let jump = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sim.control(
            "POST",
            "/sim/v1/clock",
            Some(json!({"offset_seconds": 300})),
        )
        .await;
    };
    let (result, ()) = tokio::join!(patch, jump);
    let error = result.unwrap_err();
    assert!(
        matches!(&error, Error::Transport { path, .. } if path == "/api/v1/time"),
        "{error:?}"
    );
    let lines = sim.request_lines().await;
    assert_eq!(count_requests(&lines, "PATCH", CONFIG_PATH), 1, "{lines:?}");
    // Only the read before the write; no search for a DAG.
    assert_eq!(
        count_requests(&lines, "GET", "/api/v1/task"),
        1,
        "{lines:?}"
    );
    assert!(sim.dags().await.is_empty());
}

/// Sends a create whose answer `fault_kind` spoils after obshell processed it, and checks that the
/// client finds the one DAG it started instead of reporting a refusal or sending it again. Returns
/// the request log for checks of the search itself.
async fn a_spoiled_answer_is_found_not_resent(
    version: &str,
    fault_kind: &str,
) -> Vec<(String, String, u64)> {
    let sim = Sim::start(version).await;
    // Long enough nodes that the DAG is still unfinished when the client looks (4.2.x lists only
    // unfinished DAGs).
    sim.task_duration_ms(1500).await;
    let client = sim.client();
    client.agent_info().await.unwrap();
    sim.http_fault(json!({"kind": fault_kind, "method": "POST", "path_prefix": CONFIG_PATH}))
        .await;
    let dag = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap();
    let dags = sim.dags().await;
    assert_eq!(dags.len(), 1, "exactly one DAG: {dags:?}");
    assert_eq!(dags[0]["id"].as_str().unwrap(), dag.id.as_str());
    assert!(dag.found_by_search, "found by the search, not answered");
    let lines = sim.request_lines().await;
    assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 1, "{lines:?}");
    wait_for_dag(&client, &dag.id, &wait_options(Duration::from_secs(20)))
        .await
        .unwrap();
    lines
}

#[tokio::test]
async fn a_post_whose_answer_is_lost_is_found_not_resent() {
    for version in ERAS {
        let lines = a_spoiled_answer_is_found_not_resent(version, "drop_after_read").await;
        // Read before the write (the highest DAG id) and after it (the search): every DAG from
        // 4.3.0, the unfinished ones before.
        let list = if version == LEGACY {
            "/api/v1/task/dag/ob/unfinish"
        } else {
            "/api/v1/task/dags/ob"
        };
        let post = lines
            .iter()
            .position(|(m, uri, _)| m == "POST" && uri == CONFIG_PATH)
            .unwrap();
        assert_eq!(count_requests(&lines[..post], "GET", list), 1, "{lines:?}");
        assert!(
            count_requests(&lines[post..], "GET", list) >= 1,
            "{lines:?}"
        );
    }
}

#[tokio::test]
async fn a_200_the_client_cannot_decode_is_an_unknown_outcome_not_a_refusal() {
    // obshell processed the POST (its DAG runs) but the answer arrives cut off.
    for version in ERAS {
        a_spoiled_answer_is_found_not_resent(version, "garble_after_read").await;
    }
}

/// A write the client gave up on may still be on its way through obshell when the client looks
/// for its DAG: it looks again (after 0.5 s, then 1 s) before it calls the outcome unknown.
#[tokio::test]
async fn a_post_still_on_its_way_is_found_by_looking_again() {
    let sim = Sim::start(MODERN).await;
    sim.task_duration_ms(3000).await;
    let client = sim.client_with(PASSWORD, Duration::from_millis(300), Duration::from_secs(3));
    client.agent_info().await.unwrap();
    // obshell starts the DAG 0.9 s after the POST arrives, after the client's first look.
    sim.http_fault(
        json!({"kind": "hang", "ms": 900, "method": "POST", "path_prefix": CONFIG_PATH}),
    )
    .await;
    sim.clear_requests().await;
    let dag = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap();
    assert!(dag.found_by_search, "found by the search, not answered");
    let lines = sim.request_lines().await;
    assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 1, "{lines:?}");
    // The highest DAG id before the write, then at least one look that found nothing.
    assert!(
        count_requests(&lines, "GET", "/api/v1/task/dags/ob") >= 3,
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_post_that_times_out_is_not_resent() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client_with(PASSWORD, Duration::from_millis(300), Duration::from_secs(3));
    client.agent_info().await.unwrap();
    sim.http_fault(
        json!({"kind": "hang", "ms": 6000, "method": "POST", "path_prefix": CONFIG_PATH}),
    )
    .await;
    let error = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::WriteOutcomeUnknown { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("unfinished dags"), "{error}");
    // The client did not send it again. (obshell would process the hung request later; whether the
    // sim does depends on whether it finishes requests whose client has gone: either way there is
    // at most the one POST and at most one DAG.)
    let lines = sim.request_lines().await;
    assert!(
        count_requests(&lines, "POST", CONFIG_PATH) <= 1,
        "{lines:?}"
    );
    assert!(
        count_requests(&lines, "GET", "/api/v1/task/dags/ob") >= 2,
        "it read the highest dag id and looked for the dag: {lines:?}"
    );
    assert!(sim.dags().await.len() <= 1);
}

#[tokio::test]
async fn a_post_answered_503_that_started_nothing_is_reported_not_resent() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    client.agent_info().await.unwrap();
    // A 503 from obshell before processing: the client looks for a DAG, finds none, and reports the 503.
    sim.http_fault(
        json!({"kind": "status", "status": 503, "method": "POST", "path_prefix": CONFIG_PATH}),
    )
    .await;
    let error = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap_err();
    check_api_error(&error, 503, None, None);
    assert!(sim.dags().await.is_empty());
    let lines = sim.request_lines().await;
    assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 1, "{lines:?}");
}

#[tokio::test]
async fn a_post_whose_connection_failed_is_sent_again_once() {
    let (log, _guard) = capture_test_log();
    let sim = Sim::start(MODERN).await;
    let addr: std::net::SocketAddr = sim.url.trim_start_matches("http://").parse().unwrap();
    let client = sim.client_with(PASSWORD, Duration::from_secs(5), Duration::from_secs(30));
    // Agent info and key are cached; then obshell goes away.
    client.cluster_info().await.unwrap();
    sim.stop().await;
    let writer = client.clone();
    let post = tokio::spawn(async move {
        writer
            .post_backup_config(&full_request("file:///data/backup"))
            .await
    });
    // Wait until the write has failed to connect at least once: the read of the highest DAG id
    // that goes first (a read, retried within the budget like the unsent POST would be).
    let connect_failed = |text: &str| {
        text.lines().any(|line| {
            line.contains("obshell request failed")
                && (line.contains(CONFIG_PATH) || line.contains("/api/v1/task/dags/ob"))
                && line.contains("cannot connect")
        })
    };
    while !connect_failed(&log.text()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // obshell is back on the same port (with the same key: every test sim has the same seed).
    let sim = Sim::start_on(MODERN, addr).await;
    let dag = post.await.unwrap().unwrap();
    let lines = sim.request_lines().await;
    assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 1, "{lines:?}");
    let dags = sim.dags().await;
    assert_eq!(dags.len(), 1, "{dags:?}");
    assert_eq!(dags[0]["id"].as_str().unwrap(), dag.id.as_str());
}

#[tokio::test]
async fn a_dag_poll_that_fails_names_the_dag_and_transient_faults_are_polled_through() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    sim.control("POST", "/sim/v1/faults/hold", Some(json!({})))
        .await;
    let dag = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap();
    sim.http_fault(json!({"kind": "status", "status": 500, "method": "GET", "path_prefix": "/api/v1/task/dag/"}))
        .await;
    let error = wait_for_dag(&client, &dag.id, &wait_options(Duration::from_secs(20)))
        .await
        .unwrap_err();
    match &error {
        Error::DagWaitFailed { dag_id, cause } => {
            assert_eq!(dag_id, &dag.id);
            check_api_error(cause, 500, None, None);
        }
        other => panic!("expected DagWaitFailed, got {other:?}"),
    }
    assert!(
        error.to_string().starts_with(&format!(
            "stopped following dag {}, which continues on obshell: obshell answered GET",
            dag.id
        )),
        "{error}"
    );
    // 503s are transient: polling goes on through them and sees the DAG end.
    sim.http_fault(json!({"kind": "status", "status": 503, "count": 2, "method": "GET", "path_prefix": "/api/v1/task/dag/"}))
        .await;
    sim.control("POST", &format!("/sim/v1/dags/{}/release", dag.id), None)
        .await;
    let done = wait_for_dag(&client, &dag.id, &wait_options(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(done.is_success());
}

#[tokio::test]
async fn a_connection_closed_before_the_request_was_read_creates_no_dag() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    client.agent_info().await.unwrap();
    sim.http_fault(
        json!({"kind": "drop_before_read", "method": "POST", "path_prefix": CONFIG_PATH}),
    )
    .await;
    let result = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await;
    let dags = sim.dags().await;
    match result {
        // The client cannot know the request went unread: it must not resend it.
        Err(Error::WriteOutcomeUnknown { .. }) => assert!(dags.is_empty(), "{dags:?}"),
        // Or the HTTP stack saw the close before writing and sent it on a new connection.
        Ok(dag) => {
            assert_eq!(dags.len(), 1, "{dags:?}");
            assert_eq!(dags[0]["id"].as_str().unwrap(), dag.id.as_str());
        }
        Err(other) => panic!("unexpected error: {other:?}"),
    }
}

#[track_caller]
fn check_dag_failed(
    error: &Error,
    state: DagState,
    operator: DagOperator,
    node: Option<&str>,
    log_part: Option<&str>,
) {
    let Error::DagFailed {
        state: got_state,
        operator: got_operator,
        failure,
        ..
    } = error
    else {
        panic!("expected DagFailed, got {error:?}");
    };
    assert_eq!((got_state, got_operator), (&state, &operator), "{error}");
    let DagFailure {
        node: got_node,
        sub_task,
        last_log,
    } = failure.as_ref();
    assert_eq!(got_node.as_deref(), node, "{error}");
    if let Some(log_part) = log_part {
        assert!(sub_task.is_some(), "{error}");
        assert!(
            last_log
                .as_deref()
                .is_some_and(|line| line.contains(log_part)),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_dag_that_fails_in_each_node_names_node_and_log_in_both_eras() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        for node in ["Check backup config", "Set backup config"] {
            sim.dag_fault(node, "simulated failure").await;
            let error = post_and_wait(&client, &full_request("file:///data/backup"))
                .await
                .unwrap_err();
            check_dag_failed(
                &error,
                DagState::Failed,
                DagOperator::Run,
                Some(node),
                Some("simulated failure"),
            );
            let Error::DagFailed {
                dag_id, failure, ..
            } = &error
            else {
                unreachable!()
            };
            let line = failure.last_log.as_deref().unwrap();
            // ≥ 4.3.1 writes "ERROR: [code]: message"; ≤ 4.3.0 "ERROR: message".
            assert!(line.starts_with("ERROR: "), "{line}");
            assert_eq!(
                line.starts_with("ERROR: [MySQL.Error]"),
                version == MODERN,
                "{line}"
            );
            let message = error.to_string();
            assert!(
                message.contains(dag_id.as_str()) && message.contains(node),
                "{message}"
            );
        }
    }
}

/// An operator sent to a DAG is never sent twice: when its answer is lost after obshell read it
/// (a dropped connection, an unreadable body), the outcome is unknown, and the operator was in
/// fact applied.
#[tokio::test]
async fn a_dag_operator_whose_answer_was_lost_has_an_unknown_outcome() {
    for kind in ["drop_after_read", "garble_after_read"] {
        let sim = Sim::start(MODERN).await;
        let client = sim.client();
        let dag_id = failed_dag(&sim, &client, "Check backup config", "check failed").await;
        sim.clear_requests().await;
        sim.http_fault(json!({"kind": kind, "method": "POST", "path_prefix": "/api/v1/task/dag/"}))
            .await;
        let error = client
            .operate_dag(&dag_id, DagOperator::Rollback)
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::WriteOutcomeUnknown { .. }),
            "{kind}: {error:?}"
        );
        let lines = sim.request_lines().await;
        assert_eq!(
            count_requests(&lines, "POST", "/api/v1/task/dag/"),
            1,
            "{kind}: {lines:?}"
        );
        let error = wait_for_dag(&client, &dag_id, &wait_options(Duration::from_secs(20)))
            .await
            .unwrap_err();
        check_dag_failed(&error, DagState::Succeed, DagOperator::Rollback, None, None);
    }
}

#[tokio::test]
async fn rollback_and_pass_are_not_success_but_retry_is() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();

    let dag_id = failed_dag(&sim, &client, "Check backup config", "check failed").await;
    client
        .operate_dag(&dag_id, DagOperator::Rollback)
        .await
        .unwrap();
    let error = wait_for_dag(&client, &dag_id, &wait_options(Duration::from_secs(20)))
        .await
        .unwrap_err();
    check_dag_failed(&error, DagState::Succeed, DagOperator::Rollback, None, None);
    assert!(error.to_string().contains("not applied"), "{error}");

    let dag_id = failed_dag(&sim, &client, "Set backup config", "set failed").await;
    // Node 2 cannot roll back: obshell refuses, and the client reports its answer.
    let refused = client
        .operate_dag(&dag_id, DagOperator::Rollback)
        .await
        .unwrap_err();
    check_api_error(
        &refused,
        400,
        Some("Task.Dag.Operator.RollbackNotAllowed"),
        None,
    );
    client
        .operate_dag(&dag_id, DagOperator::Pass)
        .await
        .unwrap();
    let error = wait_for_dag(&client, &dag_id, &wait_options(Duration::from_secs(20)))
        .await
        .unwrap_err();
    // PASS marks the failed sub-task done, so no node is left failed.
    check_dag_failed(&error, DagState::Succeed, DagOperator::Pass, None, None);

    let dag_id = failed_dag(&sim, &client, "Set backup config", "set failed once").await;
    client
        .operate_dag(&dag_id, DagOperator::Retry)
        .await
        .unwrap();
    let done = wait_for_dag(&client, &dag_id, &wait_options(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(done.is_success());
    assert_eq!(done.state, DagState::Succeed);
    assert_eq!(
        logged_bodies(&sim, "POST", "/api/v1/task/dag/").await,
        vec![
            json!({"operator": "ROLLBACK"}),
            json!({"operator": "ROLLBACK"}),
            json!({"operator": "PASS"}),
            json!({"operator": "RETRY"}),
        ]
    );
}

#[tokio::test]
async fn cancelling_stops_the_wait_not_the_dag() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    sim.control("POST", "/sim/v1/faults/hold", Some(json!({})))
        .await;
    let dag = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let options = WaitOptions::new(Instant::now() + Duration::from_secs(60), cancel.clone());
    let waiter = {
        let client = client.clone();
        let dag_id = dag.id.clone();
        tokio::spawn(async move { wait_for_dag(&client, &dag_id, &options).await })
    };
    // Cancel once the waiter has seen the DAG running.
    let dag_uri = format!("/api/v1/task/dag/{}", dag.id);
    let deadline = Instant::now() + Duration::from_secs(20);
    while count_requests(&sim.request_lines().await, "GET", &dag_uri) == 0 {
        assert!(Instant::now() < deadline, "the waiter never polled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    let error = waiter.await.unwrap().unwrap_err();
    assert!(
        matches!(&error, Error::DagWaitCancelled { dag_id } if *dag_id == dag.id),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(&format!("dag {} continues on obshell", dag.id)),
        "{error}"
    );
    let still = client.get_dag(&dag.id).await.unwrap();
    assert!(!still.is_finished(), "the DAG goes on: {still:?}");
    sim.control("POST", &format!("/sim/v1/dags/{}/release", dag.id), None)
        .await;
    wait_for_dag(&client, &dag.id, &wait_options(Duration::from_secs(20)))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deadline_that_expires_stops_the_wait_not_the_dag() {
    let sim = Sim::start(LEGACY).await;
    let client = sim.client();
    sim.control("POST", "/sim/v1/faults/hold", Some(json!({})))
        .await;
    let dag = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap();
    let error = wait_for_dag(&client, &dag.id, &wait_options(Duration::from_millis(400)))
        .await
        .unwrap_err();
    let Error::DagWaitTimedOut {
        dag_id,
        last_state,
        failing,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(dag_id, &dag.id);
    assert!(failing.is_none(), "every poll succeeded: {failing:?}");
    assert_eq!(last_state.as_ref(), Some(&DagState::Running));
    assert!(
        error.to_string().contains("continues on obshell"),
        "{error}"
    );
    assert!(!client.get_dag(&dag.id).await.unwrap().is_finished());
    sim.control("POST", &format!("/sim/v1/dags/{}/release", dag.id), None)
        .await;
}

#[tokio::test]
async fn requests_carry_the_encrypted_header_and_nothing_secret_is_logged() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    post_and_wait(&client, &full_request("file:///data/backup"))
        .await
        .unwrap();
    let entries = sim.requests().await;
    for entry in &entries {
        let uri = entry["uri"].as_str().unwrap();
        let public = ["/api/v1/info", "/api/v1/secret", "/api/v1/time"].contains(&uri);
        assert_eq!(entry["authenticated"], json!(!public), "{entry}");
        assert!(!entry.to_string().contains(PASSWORD));
    }
}

#[tokio::test]
async fn requests_and_progress_are_logged_without_secrets() {
    // This test's own log (see `support::capture_test_log`): what the checks below see is what this
    // scenario logged, whatever other tests run at the same time.
    let (log, _guard) = capture_test_log();
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    let uri = "oss://bucket/backup?host=oss.example.com&access_id=AKID123&access_key=SECRET456";
    sim.dag_fault("Set backup config", &format!("cannot write to {uri}"))
        .await;
    let error = post_and_wait(&client, &full_request(uri))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::DagFailed { .. }), "{error:?}");
    let wrong = sim.client_with(
        "wrong-password-789",
        Duration::from_secs(5),
        Duration::from_secs(1),
    );
    wrong.cluster_info().await.unwrap_err();

    let text = log.text();
    assert!(
        text.contains("obshell request") && text.contains("/api/v1/obcluster/backup/config"),
        "{text}"
    );
    assert!(
        text.contains("status=200") && text.contains("duration_ms="),
        "{text}"
    );
    assert!(
        text.contains("dag progress")
            && text.contains("max_stage=2")
            && text.contains("Set backup config"),
        "{text}"
    );
    for secret in [PASSWORD, "wrong-password-789", "AKID123", "SECRET456"] {
        assert!(!text.contains(secret), "{secret} leaked into the log");
    }
}

#[tokio::test(start_paused = true)]
async fn an_hour_long_dag_costs_few_polls() {
    // Paused time: the waiter's pauses pass instantly and exactly, the sim's held DAG waits.
    let sim = Sim::start(MODERN).await;
    let client = sim.client();
    sim.control("POST", "/sim/v1/faults/hold", Some(json!({})))
        .await;
    let dag = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap();
    let error = wait_for_dag(&client, &dag.id, &wait_options(Duration::from_secs(3600)))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::DagWaitTimedOut { .. }), "{error:?}");
    let polls = count_requests(
        &sim.request_lines().await,
        "GET",
        &format!("/api/v1/task/dag/{}", dag.id),
    );
    assert!((100..=400).contains(&polls), "{polls} polls over an hour");
    sim.control("POST", &format!("/sim/v1/dags/{}/release", dag.id), None)
        .await;
}

/// A client for `sim` whose DAG waits give up after `unreachable` without an answer, and whose
/// reads retry only briefly.
fn client_giving_up_after(sim: &Sim, unreachable: Duration) -> Client {
    Client::builder(&sim.url)
        .password(PASSWORD)
        .request_timeout(Duration::from_secs(2))
        .read_retry_budget(Duration::from_millis(300))
        .unreachable_limit(unreachable)
        .build()
        .expect("the client builds")
}

#[tokio::test]
async fn an_obshell_that_stops_answering_ends_the_wait_after_the_unreachable_limit() {
    let sim = Sim::start(MODERN).await;
    let client = client_giving_up_after(&sim, Duration::from_secs(1));
    sim.control("POST", "/sim/v1/faults/hold", Some(json!({})))
        .await;
    let dag = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap();
    // One successful poll sees it RUNNING; then obshell is gone.
    assert!(!client.get_dag(&dag.id).await.unwrap().is_finished());
    let before = std::time::SystemTime::now();
    sim.stop().await;
    let started = Instant::now();
    let error = wait_for_dag(&client, &dag.id, &wait_options(Duration::from_secs(60)))
        .await
        .unwrap_err();
    // Well before the 60 s deadline: the unreachable limit ended it.
    assert!(started.elapsed() < Duration::from_secs(30), "{error}");
    let Error::DagUnreachable {
        dag_id,
        last_state,
        failing,
    } = &error
    else {
        panic!("expected DagUnreachable, got {error:?}")
    };
    assert_eq!(dag_id, &dag.id);
    assert_eq!(last_state, &None, "no poll of this wait succeeded");
    assert!(
        failing.since >= before - Duration::from_secs(1),
        "{failing:?}"
    );
    assert!(
        failing.for_how_long >= Duration::from_secs(1),
        "{failing:?}"
    );
    assert!(failing.last_error.contains("cannot connect"), "{failing:?}");
    let message = error.to_string();
    for needle in [
        "obshell stopped answering while the provider waited for dag",
        "every poll has failed since 20",
        " UTC (",
        "may still be running on obshell",
        dag.id.as_str(),
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
}

#[tokio::test]
async fn a_deadline_that_passes_while_polls_fail_says_since_when() {
    let sim = Sim::start(MODERN).await;
    let client = client_giving_up_after(&sim, Duration::from_secs(600));
    sim.control("POST", "/sim/v1/faults/hold", Some(json!({})))
        .await;
    let dag = client
        .post_backup_config(&full_request("file:///data/backup"))
        .await
        .unwrap();
    sim.stop().await;
    let error = wait_for_dag(&client, &dag.id, &wait_options(Duration::from_millis(1500)))
        .await
        .unwrap_err();
    let Error::DagWaitTimedOut { failing, .. } = &error else {
        panic!("expected DagWaitTimedOut, got {error:?}")
    };
    let failing = failing.as_ref().expect("the last polls failed");
    assert!(failing.last_error.contains("cannot connect"), "{failing:?}");
    let message = error.to_string();
    assert!(
        message.contains("and its last polls failed: every poll since 20")
            && message.contains("continues on obshell"),
        "{message}"
    );
}

/// A server on 127.0.0.1:0 that answers every request with `response` (a whole HTTP response,
/// status line to body) and closes the connection, as another service on obshell's port would.
async fn spawn_foreign_server(response: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr.to_string()
}

#[tokio::test]
async fn an_endpoint_that_is_not_obshell_says_so_and_names_port_2886() {
    let not_found = spawn_foreign_server(
        "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: 22\r\nconnection: close\r\n\r\n<h1>404 Not Found</h1>",
    )
    .await;
    let html_ok = spawn_foreign_server(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 15\r\nconnection: close\r\n\r\n<html>hi</html>",
    )
    .await;
    for addr in [not_found, html_ok] {
        let client = Client::builder(format!("http://{addr}"))
            .password(PASSWORD)
            .read_retry_budget(Duration::from_millis(200))
            .build()
            .unwrap();
        let error = client.cluster_info().await.unwrap_err();
        assert!(matches!(error, Error::NotObshell { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("answers HTTP but is not obshell")
                && message.contains("2886")
                && message.contains(&addr),
            "{message}"
        );
    }
}

#[tokio::test]
async fn https_against_a_plain_http_obshell_is_not_tls_and_not_retried() {
    let sim = Sim::start(MODERN).await;
    let https = sim.url.replace("http://", "https://");
    let client = Client::builder(&https)
        .password(PASSWORD)
        .read_retry_budget(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.agent_info().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                failure: TransportFailure::NotTls,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(error.to_string().contains("does not speak TLS"), "{error}");
    // Not retried for the 5 s budget: the answer is the same every time.
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_cluster_id_comes_from_the_route_the_version_has() {
    for version in ERAS {
        let sim = Sim::start(version).await;
        let client = sim.client();
        // The first call also fetches the key; clear the log after it.
        client.cluster_info().await.unwrap();
        sim.clear_requests().await;
        let cluster = client.cluster_info().await.unwrap();
        assert_eq!(
            cluster.id,
            sim.state().await["cluster"]["id"].as_i64().unwrap()
        );
        let lines = sim.request_lines().await;
        assert_eq!(
            lines,
            vec![("GET".to_owned(), cluster_info_path(version).to_owned(), 200)],
            "{version}"
        );

        // A build whose version says it has the route but answers that it has not: the other
        // route is asked, once.
        sim.http_fault(json!({"kind": "no_route", "path_prefix": cluster_info_path(version)}))
            .await;
        sim.clear_requests().await;
        let again = client.cluster_info().await;
        let path = cluster_info_path(version).to_owned();
        let lines = sim.request_lines().await;
        if version == LEGACY {
            // 4.2.4 has no obcluster/info either: its no-route answer is the error.
            let error = again.unwrap_err();
            assert!(error.is_no_route(), "{error:?}");
            assert_eq!(
                lines,
                vec![
                    ("GET".to_owned(), path, 400),
                    ("GET".to_owned(), "/api/v1/obcluster/info".to_owned(), 400),
                ]
            );
        } else {
            assert_eq!(again.unwrap(), cluster);
            assert_eq!(
                lines,
                vec![
                    ("GET".to_owned(), path, 404),
                    ("GET".to_owned(), "/api/v1/ob/info".to_owned(), 200),
                ]
            );
        }
    }
}

/// A hostile HTTP server on 127.0.0.1: every connection gets `head` (status line and headers),
/// then `body_chunk` every `pause`, `chunks` times (`None`: forever, until the client leaves).
async fn hostile_server(
    head: &'static str,
    body_chunk: Vec<u8>,
    pause: Duration,
    chunks: Option<usize>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body_chunk = body_chunk.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut sent = 0;
                while chunks.is_none_or(|chunks| sent < chunks) {
                    if stream.write_all(&body_chunk).await.is_err() {
                        return;
                    }
                    sent += 1;
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn hostile_client(url: &str, request_timeout: Duration) -> Client {
    Client::builder(url)
        .password(PASSWORD)
        .request_timeout(request_timeout)
        .read_retry_budget(Duration::ZERO)
        .build()
        .unwrap()
}

/// An answer that trickles one byte at a time, or never ends, is cut off by the request timeout
/// (a bound on the whole exchange, body included), not waited on for ever.
#[tokio::test]
async fn a_trickling_or_endless_answer_ends_at_the_request_timeout() {
    for (what, chunks) in [("trickled", Some(100_000)), ("endless", None)] {
        let url = hostile_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
            b" ".to_vec(),
            Duration::from_millis(20),
            chunks,
        )
        .await;
        let client = hostile_client(&url, Duration::from_secs(1));
        let started = std::time::Instant::now();
        let error = client.agent_info().await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Transport {
                    failure: TransportFailure::Timeout,
                    ..
                }
            ),
            "{what}: {error:?}"
        );
        // A guard against waiting for the whole answer (100000 × 20 ms), not a timing target.
        assert!(started.elapsed() < Duration::from_secs(30), "{what}");
    }
}

/// No answer over 16 MiB is buffered: a Content-Length above it is refused before reading, and a
/// chunked answer that passes it is dropped as soon as it does.
#[tokio::test]
async fn an_answer_over_sixteen_mib_is_refused_without_buffering_it() {
    let declared = hostile_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17000000\r\n\r\n",
        vec![b' '; 64 * 1024],
        Duration::ZERO,
        None,
    )
    .await;
    // 1 MiB chunks, chunked encoding, with no end.
    let mut chunk = format!("{:x}\r\n", 1024 * 1024).into_bytes();
    chunk.extend(std::iter::repeat_n(b' ', 1024 * 1024));
    chunk.extend_from_slice(b"\r\n");
    let chunked = hostile_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        chunk,
        Duration::ZERO,
        None,
    )
    .await;
    for url in [declared, chunked] {
        let client = hostile_client(&url, Duration::from_secs(60));
        let error = client.agent_info().await.unwrap_err();
        // The first request of a client reads /api/v1/info, whose failures say the endpoint is
        // not obshell; the reason names the bound.
        assert!(
            error.to_string().contains("larger than 16 MiB"),
            "{url}: {error:?}"
        );
    }
}

/// The same through obshell-sim's `trickle_after_read` fault, on an authenticated read: a real
/// obshell answer trickled a byte every 20 ms (or followed by spaces forever) ends at the request
/// timeout as a timed-out transport error, and the next request, untouched, succeeds.
#[tokio::test]
async fn an_answer_the_sim_trickles_ends_at_the_request_timeout() {
    let sim = Sim::start(MODERN).await;
    let client = sim.client_with(PASSWORD, Duration::from_secs(1), Duration::ZERO);
    client.agent_info().await.expect("the agent answers");
    for endless in [false, true] {
        sim.http_fault(json!({
            "kind": "trickle_after_read",
            "every_ms": 20,
            "endless": endless,
            "path_prefix": "/api/v1/tenant/",
            "count": 100,
        }))
        .await;
        let started = std::time::Instant::now();
        let error = client
            .tenant_parameter("t1", "ha_low_thread_score")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Transport {
                    failure: TransportFailure::Timeout,
                    ..
                }
            ),
            "endless {endless}: {error:?}"
        );
        // A guard against waiting for the whole answer, not a timing target.
        assert!(started.elapsed() < Duration::from_secs(30));
        // Every attempt (a timed-out read is retried) met the trickle.
        let requests = sim.requests().await;
        let parameter_reads: Vec<_> = requests
            .iter()
            .filter(|r| r["uri"] == "/api/v1/tenant/t1/parameter/ha_low_thread_score")
            .collect();
        assert!(
            parameter_reads
                .iter()
                .all(|r| r["fault"] == "trickle_after_read"),
            "{parameter_reads:?}"
        );
        sim.control("DELETE", "/sim/v1/faults", None).await;
        client
            .tenant_parameter("t1", "ha_low_thread_score")
            .await
            .expect("an untouched read answers");
        sim.clear_requests().await;
    }
}

// ---------------------------------------------------------------------------------------------
// The lost-write search under two clocks (issue 9 item 5): DAG times are OceanBase's clock in its
// session zone, hours away from the agent's, and operators restamp older DAGs; the search goes by
// DAG id.

/// The database clock offsets the search must survive, as `POST /sim/v1/clock` takes them.
const DB_OFFSETS: [&str; 3] = ["-8h", "0", "+8h"];

async fn sim_with_db_clock(version: &str, offset: &str) -> Sim {
    let sim = Sim::start(version).await;
    sim.control(
        "POST",
        "/sim/v1/clock",
        Some(json!({"db_clock_offset": offset, "db_time_zone": "+08:00"})),
    )
    .await;
    // Nodes long enough that a DAG is still unfinished when the client looks (4.2.x lists only
    // unfinished DAGs).
    sim.task_duration_ms(1500).await;
    sim
}

async fn hold_running_dag(sim: &Sim) -> String {
    let held = sim
        .control("POST", "/sim/v1/dags/hold-running", Some(json!({})))
        .await;
    held["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_lost_write_is_found_by_dag_id_whatever_the_database_clock() {
    for version in ERAS {
        for offset in DB_OFFSETS {
            let sim = sim_with_db_clock(version, offset).await;
            let client = sim.client();
            client.agent_info().await.unwrap();
            // An older DAG of the same name, still running (started by someone else before).
            let older = hold_running_dag(&sim).await;
            sim.http_fault(
                json!({"kind": "drop_after_read", "method": "POST", "path_prefix": CONFIG_PATH}),
            )
            .await;
            let found = client
                .post_backup_config(&full_request("file:///data/backup"))
                .await
                .unwrap_or_else(|e| panic!("{version}, database clock {offset}: {e}"));
            let dags = sim.dags().await;
            assert_eq!(dags.len(), 2, "{dags:?}");
            assert_ne!(
                found.id.as_str(),
                older,
                "{version} {offset}: took the older DAG"
            );
            assert_eq!(
                found.id.as_str(),
                dags[1]["id"].as_str().unwrap(),
                "{version} {offset}"
            );
            // Found, not answered: a candidate whose effect the caller checks.
            assert!(found.found_by_search, "{version} {offset}");
            let lines = sim.request_lines().await;
            assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 1, "{lines:?}");
            sim.control("POST", &format!("/sim/v1/dags/{older}/release"), None)
                .await;
        }
    }
}

#[tokio::test]
async fn an_older_dag_is_never_taken_for_a_lost_write_that_started_nothing() {
    // The request is dropped unread, so it starts nothing; an older DAG of the same name that
    // was retried just before (a fresh start time) and one that ran earlier must not be taken.
    for version in ERAS {
        for offset in DB_OFFSETS {
            let sim = sim_with_db_clock(version, offset).await;
            sim.task_duration_ms(30).await;
            let client = sim.client();
            client.agent_info().await.unwrap();
            let earlier = failed_dag(&sim, &client, "Set backup config", "injected").await;
            sim.task_duration_ms(1500).await;
            client
                .operate_dag(&earlier, DagOperator::Retry)
                .await
                .unwrap();
            sim.http_fault(
                json!({"kind": "drop_before_read", "method": "POST", "path_prefix": CONFIG_PATH}),
            )
            .await;
            let result = client
                .post_backup_config(&full_request("file:///data/backup"))
                .await;
            let dags = sim.dags().await;
            match result {
                Err(Error::WriteOutcomeUnknown { candidates, .. }) => {
                    assert_eq!(dags.len(), 1, "{dags:?}");
                    assert!(candidates.is_empty(), "{version} {offset}: {candidates:?}");
                }
                Ok(dag) => {
                    // Or the HTTP stack saw the close before writing and sent it again.
                    assert_ne!(dag.id, earlier, "{version} {offset}: took the older DAG");
                    assert_eq!(dags.len(), 2, "{dags:?}");
                }
                Err(other) => panic!("{version} {offset}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn two_dags_started_after_a_lost_write_are_named_and_neither_is_taken() {
    for version in ERAS {
        for offset in DB_OFFSETS {
            let sim = sim_with_db_clock(version, offset).await;
            let client = sim.client_with(
                PASSWORD,
                Duration::from_millis(1200),
                Duration::from_secs(3),
            );
            client.agent_info().await.unwrap();
            // obshell processes the POST (its DAG starts) but the answer never ends.
            sim.http_fault(json!({"kind": "trickle_after_read", "every_ms": 100, "endless": true, "method": "POST", "path_prefix": CONFIG_PATH}))
                .await;
            let request = full_request("file:///data/backup");
            let post = client.post_backup_config(&request);
            // Meanwhile another client starts a config DAG too.
            let other = async {
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                while sim.dags().await.is_empty() {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the POST started no DAG"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                hold_running_dag(&sim).await
            };
            let (result, other) = tokio::join!(post, other);
            let error = result.unwrap_err();
            let dags = sim.dags().await;
            assert_eq!(dags.len(), 2, "{dags:?}");
            let ours = dags[0]["id"].as_str().unwrap().to_owned();
            let Error::WriteOutcomeUnknown { candidates, .. } = &error else {
                panic!("{version} {offset}: {error:?}")
            };
            let ids: Vec<&str> = candidates.iter().map(DagId::as_str).collect();
            assert_eq!(ids, [ours.as_str(), other.as_str()], "{version} {offset}");
            let text = error.to_string();
            assert!(
                text.contains(&ours) && text.contains(&other),
                "the diagnostic names both: {text}"
            );
            let lines = sim.request_lines().await;
            assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 1, "{lines:?}");
            sim.control("POST", &format!("/sim/v1/dags/{other}/release"), None)
                .await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The full DAG list is unpaged (obshell's `GetAllClusterDags` takes only `show_details`): on a
// long-lived cluster it passes the client's answer bound. The write is still sent, with a
// high-water from the unfinished DAGs, and a lost answer is then not decided by that high-water.

const ALL_DAGS: &str = "/api/v1/task/dags/ob";
const UNFINISHED_DAGS: &str = "/api/v1/task/dag/ob/unfinish";

/// Faults that make the full DAG list unreadable: a 500, and an answer over the 16 MiB bound.
fn unreadable_list_faults(count: u32) -> [Value; 2] {
    [
        json!({"kind": "status", "status": 500, "method": "GET", "path_prefix": ALL_DAGS, "count": count}),
        json!({"kind": "pad_after_read", "bytes": 17 * 1024 * 1024, "method": "GET", "path_prefix": ALL_DAGS, "count": count}),
    ]
}

#[tokio::test]
async fn a_write_is_sent_when_the_full_dag_list_cannot_be_read() {
    for fault in unreadable_list_faults(1) {
        let sim = Sim::start(MODERN).await;
        let client = sim.client();
        client.agent_info().await.unwrap();
        sim.http_fault(fault.clone()).await;
        let dag = post_and_wait(&client, &full_request("file:///data/backup"))
            .await
            .unwrap_or_else(|e| panic!("{fault}: {e}"));
        assert!(!dag.found_by_search, "{fault}");
        let lines = sim.request_lines().await;
        let post = lines
            .iter()
            .position(|(m, uri, _)| m == "POST" && uri == CONFIG_PATH)
            .unwrap_or_else(|| panic!("{fault}: the write was not sent: {lines:?}"));
        assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 1, "{lines:?}");
        assert_eq!(
            count_requests(&lines[..post], "GET", ALL_DAGS),
            1,
            "{lines:?}"
        );
        assert_eq!(
            count_requests(&lines[..post], "GET", UNFINISHED_DAGS),
            1,
            "the high-water fell back to the unfinished dags: {lines:?}"
        );
    }
}

#[tokio::test]
async fn a_lost_answer_after_the_full_dag_list_could_not_be_read_is_an_unknown_outcome() {
    // count 1: the search reads the full list and finds the DAG above the high-water, which
    // counted only unfinished DAGs; count 9: the search cannot read it either and looks among
    // the unfinished ones. Either way the DAG may be older than the request.
    for count in [1, 9] {
        for fault in unreadable_list_faults(count) {
            let sim = Sim::start(MODERN).await;
            sim.task_duration_ms(1500).await;
            let client = sim.client();
            client.agent_info().await.unwrap();
            sim.http_fault(fault.clone()).await;
            sim.http_fault(
                json!({"kind": "drop_after_read", "method": "POST", "path_prefix": CONFIG_PATH}),
            )
            .await;
            let error = client
                .post_backup_config(&full_request("file:///data/backup"))
                .await
                .expect_err("undecidable");
            let dags = sim.dags().await;
            assert_eq!(dags.len(), 1, "{dags:?}");
            let ours = dags[0]["id"].as_str().unwrap();
            let Error::WriteOutcomeUnknown { candidates, .. } = &error else {
                panic!("{fault} x{count}: {error:?}")
            };
            let ids: Vec<&str> = candidates.iter().map(DagId::as_str).collect();
            assert_eq!(ids, [ours], "{fault} x{count}");
            let text = error.to_string();
            assert!(
                text.contains(ours) && text.contains("list of every dag could not be read"),
                "{text}"
            );
            let lines = sim.request_lines().await;
            assert_eq!(count_requests(&lines, "POST", CONFIG_PATH), 1, "{lines:?}");
        }
    }
}

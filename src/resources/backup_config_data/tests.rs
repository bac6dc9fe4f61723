//! The data source against an in-process obshell-sim, configured through its control API.

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::*;

const PASSWORD: &str = "data-source-Pass0";

struct Fixture {
    sim: obshell_sim::SimHandle,
    session: Session,
    http: reqwest::Client,
}

impl Fixture {
    async fn start(version: &str) -> Fixture {
        let sim = obshell_sim::spawn(
            obshell_sim::SimConfig::new(PASSWORD)
                .with_obshell_version(version.parse().expect("a version"))
                .with_tenants(2)
                .with_task_duration(Duration::from_millis(20)),
        )
        .await
        .expect("the sim starts");
        let client = Client::builder(sim.base_url())
            .password(PASSWORD)
            .request_timeout(Duration::from_secs(5))
            .build()
            .expect("a client");
        let session = Session {
            client,
            cancel: CancellationToken::new(),
            endpoint: sim.base_url(),
            sql: None,
            succeeded_creates: Default::default(),
        };
        Fixture {
            sim,
            session,
            http: reqwest::Client::new(),
        }
    }

    async fn patch_tenant(&self, name: &str, body: serde_json::Value) {
        let response = self
            .http
            .patch(format!("{}/sim/v1/tenants/{name}", self.sim.base_url()))
            .json(&body)
            .send()
            .await
            .expect("the control API answers");
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }

    async fn read(&self) -> ReadDataSourceResponse {
        read(Some(&self.session), request()).await
    }
}

fn request() -> ReadDataSourceRequest {
    ReadDataSourceRequest {
        type_name: BACKUP_CONFIG_DATA_TYPE.to_owned(),
        config: Value::Null,
    }
}

fn tenant<'a>(state: &'a Value, name: &str) -> &'a Value {
    match state.get("tenants") {
        Some(Value::Map(tenants)) => tenants
            .get(name)
            .unwrap_or_else(|| panic!("no tenant {name}")),
        other => panic!("tenants is not a map: {other:?}"),
    }
}

#[track_caller]
fn conforms(state: &Value) {
    let schema_type = backup_config_data_schema().block.value_type();
    let Value::Object(attributes) = state else {
        panic!("state is not an object")
    };
    let crate::tf::Type::Object(types) = schema_type else {
        panic!("schema type is not an object")
    };
    assert_eq!(
        attributes.keys().collect::<Vec<_>>(),
        types.keys().collect::<Vec<_>>()
    );
    assert!(!state.contains_unknown());
}

#[tokio::test]
async fn reports_destinations_without_credentials_and_archive_status() {
    let fixture = Fixture::start("4.3.2.0").await;
    fixture
        .patch_tenant(
            "t1",
            json!({
                "archive_dest": {"path": "oss://bucket/b/1726000000/1002/clog?host=oss.example.com&access_id=AKID&access_key=SECRET"},
                "data_dest": "oss://bucket/b/1726000000/1002/data?host=oss.example.com&access_id=AKID&access_key=SECRET",
                "archive_log_status": "DOING",
                "parameters": {"log_archive_concurrency": "4", "archive_lag_target": "2m"}
            }),
        )
        .await;
    let response = fixture.read().await;
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    conforms(&response.state);
    let text = format!("{:?}", response.state);
    assert!(!text.contains("SECRET") && !text.contains("AKID"), "{text}");
    assert!(
        !text.contains("\"sys\""),
        "sys is not a user tenant: {text}"
    );
    assert_eq!(
        response
            .state
            .get("obshell_version")
            .and_then(Value::as_str),
        Some("4.3.2.0")
    );
    let t1 = tenant(&response.state, "t1");
    assert_eq!(
        t1.get("archive_dest").and_then(Value::as_str),
        Some("oss://bucket/b/1726000000/1002/clog?host=oss.example.com")
    );
    assert_eq!(
        t1.get("archive_log_status").and_then(Value::as_str),
        Some("DOING")
    );
    assert_eq!(
        t1.get("log_archive_concurrency").and_then(Value::as_number),
        Some(crate::tf::Number::Int(4))
    );
    assert_eq!(
        t1.get("archive_lag_target").and_then(Value::as_str),
        Some("2m")
    );
    let t2 = tenant(&response.state, "t2");
    assert_eq!(t2.get("archive_dest").and_then(Value::as_str), Some(""));
    assert_eq!(
        t2.get("archive_log_status").and_then(Value::as_str),
        Some(ARCHIVE_LOG_OFF)
    );
}

#[tokio::test]
async fn before_4_3_2_destinations_and_archive_status_are_null() {
    let fixture = Fixture::start("4.2.4.0").await;
    let response = fixture.read().await;
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    conforms(&response.state);
    for name in ["t1", "t2"] {
        let report = tenant(&response.state, name);
        assert_eq!(report.get("archive_dest"), Some(&Value::Null));
        assert_eq!(report.get("data_dest"), Some(&Value::Null));
        assert_eq!(report.get("archive_log_status"), Some(&Value::Null));
        assert!(report
            .get("log_archive_concurrency")
            .and_then(Value::as_number)
            .is_some());
    }
}

#[tokio::test]
async fn a_tenant_that_is_not_normal_is_listed_with_null_settings_and_a_warning() {
    let fixture = Fixture::start("4.4.2.0").await;
    fixture
        .patch_tenant("t2", json!({"status": "RESTORE"}))
        .await;
    let response = fixture.read().await;
    assert!(
        !response.diagnostics.has_errors(),
        "{:?}",
        response.diagnostics
    );
    assert_eq!(response.diagnostics.0.len(), 1);
    assert!(response.diagnostics.0[0].detail.contains("t2 (RESTORE)"));
    conforms(&response.state);
    let t2 = tenant(&response.state, "t2");
    assert_eq!(t2.get("status").and_then(Value::as_str), Some("RESTORE"));
    assert_eq!(t2.get("log_archive_concurrency"), Some(&Value::Null));
    assert_eq!(t2.get("archive_dest"), Some(&Value::Null));
    let t1 = tenant(&response.state, "t1");
    assert_eq!(t1.get("status").and_then(Value::as_str), Some("NORMAL"));
}

#[tokio::test]
async fn a_wrong_password_is_an_error_naming_the_endpoint() {
    let fixture = Fixture::start("4.3.1.0").await;
    let session = Session {
        client: Client::builder(fixture.sim.base_url())
            .password("wrong-password")
            .build()
            .expect("a client"),
        cancel: CancellationToken::new(),
        endpoint: fixture.sim.base_url(),
        sql: None,
        succeeded_creates: Default::default(),
    };
    let response = read(Some(&session), request()).await;
    assert!(response.diagnostics.has_errors());
    assert!(response.state.is_null());
    assert!(response.diagnostics.0[0]
        .detail
        .contains(&fixture.sim.base_url()));
    assert!(!response.diagnostics.0[0].detail.contains("wrong-password"));
}

#[tokio::test]
async fn unconfigured_stopped_and_unknown_types_are_errors() {
    let response = read(None, request()).await;
    assert!(response.diagnostics.has_errors());

    let fixture = Fixture::start("4.3.2.0").await;
    fixture.session.cancel.cancel();
    let response = fixture.read().await;
    assert!(response.diagnostics.has_errors());
    assert!(response.diagnostics.0[0].detail.contains("stop"));

    let mut other = request();
    other.type_name = "oceanbase_other".to_owned();
    let response = read(None, other).await;
    assert!(response.diagnostics.0[0]
        .summary
        .contains("Unknown data source"));
}

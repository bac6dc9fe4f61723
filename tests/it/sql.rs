//! The SQL reader (`terraform_provider_oceanbase::sql`) against obshell-sim's MySQL-protocol
//! listener: what the four views say after drift made through `/sim/v1`, and the failures that
//! must name the endpoint and the view without echoing a password.

use std::time::Duration;

use serde_json::json;
use terraform_provider_oceanbase::sql::{
    parse_sql_endpoint, DeletePolicy, SqlClient, SqlError, SqlSettings, SqlTls,
};

use crate::support::{Sim, PASSWORD};

fn client(endpoint: &str, user: &str, password: &str, tls: SqlTls) -> SqlClient {
    let (host, port) = parse_sql_endpoint(endpoint).expect("host:port");
    SqlClient::new(SqlSettings {
        endpoint: endpoint.to_owned(),
        host,
        port,
        user: user.to_owned(),
        password: password.to_owned(),
        tls,
        timeout: Duration::from_secs(5),
    })
}

fn root(sim: &Sim) -> SqlClient {
    client(&sim.sql_endpoint, "root", PASSWORD, SqlTls::default())
}

#[tokio::test]
async fn the_views_show_what_a_dba_changed() {
    let sim = Sim::start("4.3.2.0").await;
    let cluster = sim.state().await["cluster"]["id"].as_i64().expect("id");
    // Nothing configured: no rows at all.
    let empty = root(&sim).read_backup_views().await.expect("read");
    assert!(empty.tenants.is_empty(), "{empty:?}");

    sim.control(
        "PATCH",
        "/sim/v1/tenants/t1",
        Some(json!({
            "archive_dest": {
                "path": format!("oss://bucket/backup/{cluster}/1002/clog/?access_id=AK&access_key=TOPSECRET&host=oss.example&delete_mode=tagging"),
                "binding": "mandatory",
                "piece_switch_interval": "48h",
            },
            "data_dest": format!("oss://bucket/backup/{cluster}/1002/data?host=oss.example&access_id=AK&access_key=TOPSECRET"),
            "delete_policy": {"policy": "default", "recovery_window": "168h"},
            "archive_log_status": "DOING",
        })),
    )
    .await;
    sim.control(
        "PATCH",
        "/sim/v1/tenants/t2",
        Some(json!({"archive_dest": {"path": "file:///elsewhere/clog"}, "archive_log_status": "STOP"})),
    )
    .await;

    let views = root(&sim).read_backup_views().await.expect("read");
    let t1 = views.tenant(1002);
    let dest = t1.archive_dest.expect("t1 archive dest");
    assert_eq!(
        dest.path,
        format!("oss://bucket/backup/{cluster}/1002/clog?host=oss.example&checksum_type=md5&delete_mode=tagging")
    );
    assert_eq!(dest.binding.as_deref(), Some("MANDATORY"));
    assert_eq!(dest.piece_switch_interval.as_deref(), Some("2d"));
    assert_eq!(dest.state.as_deref(), Some("ENABLE"));
    assert_eq!(
        t1.data_backup_dest.as_deref(),
        Some(
            format!("oss://bucket/backup/{cluster}/1002/data?host=oss.example&checksum_type=md5")
                .as_str()
        )
    );
    assert_eq!(
        t1.delete_policy,
        Some(DeletePolicy {
            policy: "default".into(),
            recovery_window: "168h".into()
        })
    );
    assert!(t1.archive_log.expect("round").is_archiving());
    let t2 = views.tenant(1004);
    assert_eq!(
        t2.archive_dest.map(|d| (d.path, d.binding)),
        Some((
            "file:///elsewhere/clog".to_owned(),
            Some("OPTIONAL".to_owned())
        ))
    );
    assert_eq!(t2.delete_policy, None);
    assert_eq!(t2.data_backup_dest, None);
    assert!(!t2.archive_log.expect("round").is_archiving());
    assert!(!format!("{views:?}").contains("TOPSECRET"));

    // Dropping the policy and the destination shows at once.
    sim.control(
        "PATCH",
        "/sim/v1/tenants/t1",
        Some(json!({"delete_policy": null, "archive_dest": null})),
    )
    .await;
    let views = root(&sim).read_backup_views().await.expect("read");
    assert_eq!(views.tenant(1002).delete_policy, None);
    assert_eq!(views.tenant(1002).archive_dest, None);
    sim.stop().await;
}

#[tokio::test]
async fn root_at_sys_logs_in_and_a_wrong_password_is_refused_without_echo() {
    let sim = Sim::start("4.5.0.0").await;
    client(&sim.sql_endpoint, "root@sys", PASSWORD, SqlTls::default())
        .read_backup_views()
        .await
        .expect("root@sys logs in");
    let error = client(
        &sim.sql_endpoint,
        "root",
        "Wrong-Pass_123",
        SqlTls::default(),
    )
    .read_backup_views()
    .await
    .expect_err("a wrong password fails");
    assert!(matches!(error, SqlError::Login { .. }), "{error:?}");
    let text = format!("{error} {error:?}");
    assert!(text.contains(&sim.sql_endpoint), "{text}");
    assert!(text.contains("CDB_OB_ARCHIVE_DEST"), "{text}");
    assert!(
        !text.contains("Wrong-Pass_123") && !text.contains(PASSWORD),
        "{text}"
    );
    let unknown = client(&sim.sql_endpoint, "nobody", PASSWORD, SqlTls::default())
        .read_backup_views()
        .await
        .expect_err("an unknown user fails");
    assert!(matches!(unknown, SqlError::Login { .. }), "{unknown:?}");
    sim.stop().await;
}

#[tokio::test]
async fn a_missing_privilege_names_the_view() {
    let sim = Sim::start("4.5.0.0").await;
    sim.control(
        "PUT",
        "/sim/v1/sql/users/tf_ro",
        Some(json!({"password": "Ro-Pass_1", "views": ["CDB_OB_ARCHIVE_DEST", "CDB_OB_BACKUP_PARAMETER"]})),
    )
    .await;
    let error = client(&sim.sql_endpoint, "tf_ro", "Ro-Pass_1", SqlTls::default())
        .read_backup_views()
        .await
        .expect_err("no SELECT on the delete policy view");
    match &error {
        SqlError::Query { view, code, .. } => {
            assert_eq!(*view, "oceanbase.CDB_OB_BACKUP_DELETE_POLICY");
            assert_eq!(*code, Some(1142));
        }
        other => panic!("expected a query error, got {other:?}"),
    }
    assert!(error.advice().contains("GRANT SELECT ON oceanbase.*"));
    assert!(!error.to_string().contains("Ro-Pass_1"));
    // With every view granted, the read-only user reads.
    sim.control(
        "PUT",
        "/sim/v1/sql/users/tf_ro",
        Some(json!({"password": "Ro-Pass_1"})),
    )
    .await;
    client(&sim.sql_endpoint, "tf_ro", "Ro-Pass_1", SqlTls::default())
        .read_backup_views()
        .await
        .expect("the read-only user reads every view");
    sim.stop().await;
}

#[tokio::test]
async fn unreachable_and_tls_required_fail_clearly() {
    let sim = Sim::start("4.5.0.0").await;
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").to_string()
    };
    let error = client(&closed, "root", PASSWORD, SqlTls::default())
        .read_backup_views()
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, SqlError::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains(&closed), "{error}");
    assert!(error.to_string().contains("CDB_OB_ARCHIVE_DEST"), "{error}");

    let required = SqlTls {
        required: true,
        ca_certificate_pem: None,
    };
    let error = client(&sim.sql_endpoint, "root", PASSWORD, required)
        .read_backup_views()
        .await
        .expect_err("the sim offers no TLS");
    assert!(error.to_string().contains("TLS is required"), "{error}");
    sim.stop().await;
}

//! Authentication as obshell checks it, in both error eras.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn unauthenticated_routes_answer_without_a_header() {
    let sim = start("4.5.0.0").await;
    for target in [
        "/api/v1/info",
        "/api/v1/secret",
        "/api/v1/time",
        "/api/v1/status",
    ] {
        let (status, body) = raw(&sim, "GET", target, &[], b"").await.unwrap();
        assert_eq!(status, 200, "{target}");
        assert_eq!(body["successful"], true);
        assert_eq!(body["status"], 200);
        assert!(
            body["traceId"].is_string()
                && body["timestamp"].is_string()
                && body["duration"].is_number()
        );
    }
    let (_, info) = raw(&sim, "GET", "/api/v1/info", &[], b"").await.unwrap();
    assert_eq!(info["data"]["identity"], "CLUSTER AGENT");
    assert_eq!(info["data"]["version"], "4.5.0.0");
    assert_eq!(info["data"]["supportedAuth"], json!(["v2"]));
    assert_eq!(info["data"]["security"], false);
    let client = Client::new(&sim).await;
    assert_eq!(rsa::traits::PublicKeyParts::size(&client.key), 128);

    let old = start("4.2.4.0").await;
    let (_, info) = raw(&old, "GET", "/api/v1/info", &[], b"").await.unwrap();
    assert!(info["data"].get("supportedAuth").is_none() && info["data"].get("security").is_none());
    assert_eq!(
        rsa::traits::PublicKeyParts::size(&Client::new(&old).await.key),
        64
    );
}

#[tokio::test]
async fn every_verify_check_with_new_codes() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let target = "/api/v1/tenants/overview";
    let ts = json!((now_secs() + 60).to_string());
    check_error(
        &raw(&sim, "GET", target, &[], b"").await.unwrap(),
        400,
        "Request.Header.NotFound",
    );
    let send = |header: String| {
        let sim = &sim;
        async move { raw(sim, "GET", target, &[("X-OCS-Header", header)], b"").await }
    };
    let reply = send(client.header(HeaderSpec {
        auth: PASSWORD,
        ts: ts.clone(),
        uri: "/api/v1/other",
    }))
    .await
    .unwrap();
    check_error(&reply, 401, "Security.Authentication.Header.UriMismatch");
    assert_eq!(reply.1["error"]["code"], 10008);
    let reply = send(client.header(HeaderSpec {
        auth: PASSWORD,
        ts: json!("soon"),
        uri: target,
    }))
    .await
    .unwrap();
    check_error(&reply, 401, "Security.Authentication.Timestamp.Invalid");
    let reply = send(client.header(HeaderSpec {
        auth: PASSWORD,
        ts: json!((now_secs() - 5).to_string()),
        uri: target,
    }))
    .await
    .unwrap();
    check_error(&reply, 401, "Security.Authentication.Expired");
    let reply = send(client.header(HeaderSpec {
        auth: "wrong",
        ts: ts.clone(),
        uri: target,
    }))
    .await
    .unwrap();
    check_error(
        &reply,
        401,
        "Security.Authentication.IncorrectOceanbasePassword",
    );
    assert_eq!(reply.1["error"]["code"], 10008);
    // A numeric ts does not unmarshal into Go's string field: a decrypt failure, legacy code 1.
    let reply = send(client.header(HeaderSpec {
        auth: PASSWORD,
        ts: json!(now_secs() + 60),
        uri: target,
    }))
    .await
    .unwrap();
    check_error(&reply, 401, "Security.Authentication.Header.DecryptFailed");
    assert_eq!(reply.1["error"]["code"], 1);
    // Header decryption runs on unauthenticated routes too.
    let reply = raw(
        &sim,
        "GET",
        "/api/v1/info",
        &[("X-OCS-Header", "bm9wZQ==".to_owned())],
        b"",
    )
    .await
    .unwrap();
    check_error(&reply, 401, "Security.Authentication.Header.DecryptFailed");
    // The query string is part of the signed uri.
    let with_query = "/api/v1/tenants/overview?mode=MYSQL";
    let reply = raw(
        &sim,
        "GET",
        with_query,
        &[(
            "X-OCS-Header",
            client.header(HeaderSpec {
                auth: PASSWORD,
                ts: ts.clone(),
                uri: target,
            }),
        )],
        b"",
    )
    .await
    .unwrap();
    check_error(&reply, 401, "Security.Authentication.Header.UriMismatch");
    assert_eq!(client.call(&sim, "GET", with_query, None).await.0, 200);
    // The server's clock decides expiry.
    control(
        &sim,
        "POST",
        "/sim/v1/clock",
        json!({"offset_seconds": 120}),
    )
    .await;
    check_error(
        &client.call(&sim, "GET", target, None).await,
        401,
        "Security.Authentication.Expired",
    );
    let (_, time) = raw(&sim, "GET", "/api/v1/time", &[], b"").await.unwrap();
    assert!(time["data"].is_string());
    control(&sim, "POST", "/sim/v1/clock", json!({"offset_seconds": 0})).await;
    assert_eq!(client.call(&sim, "GET", target, None).await.0, 200);
}

#[tokio::test]
async fn legacy_auth_errors_are_code_10008() {
    let sim = start("4.2.4.0").await;
    let client = Client::new(&sim).await;
    let target = "/api/v1/tenants/overview";
    let reply = raw(
        &sim,
        "GET",
        target,
        &[(
            "X-OCS-Header",
            client.header(HeaderSpec {
                auth: "bad",
                ts: json!((now_secs() + 60).to_string()),
                uri: target,
            }),
        )],
        b"",
    )
    .await
    .unwrap();
    check_legacy_error(&reply, 401, 10008);
    check_legacy_error(
        &raw(&sim, "GET", target, &[], b"").await.unwrap(),
        401,
        10008,
    );
    control(&sim, "POST", "/sim/v1/rotate-key", json!({})).await;
    check_legacy_error(&client.call(&sim, "GET", target, None).await, 401, 1);
    let fresh = Client::new(&sim).await;
    assert_ne!(fresh.key, client.key);
    assert_eq!(fresh.call(&sim, "GET", target, None).await.0, 200);
}

#[tokio::test]
async fn key_rotation_and_body_decryption_errors() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    control(&sim, "POST", "/sim/v1/rotate-key", json!({})).await;
    check_error(
        &client
            .call(&sim, "GET", "/api/v1/tenants/overview", None)
            .await,
        401,
        "Security.Authentication.Header.DecryptFailed",
    );
    let client = Client::new(&sim).await;
    let target = "/api/v1/obcluster/backup/config";
    let header = client.header(HeaderSpec {
        auth: PASSWORD,
        ts: json!((now_secs() + 60).to_string()),
        uri: target,
    });
    let reply = raw(
        &sim,
        "PATCH",
        target,
        &[("X-OCS-Header", header.clone())],
        b"AAAAAAAAAAAA",
    )
    .await
    .unwrap();
    check_error(
        &reply,
        500,
        "Request.Body.Decrypt.AES.ContentLength.Invalid",
    );
    // A body sent as plain JSON decrypts to garbage, which fails binding.
    let reply = raw(
        &sim,
        "PATCH",
        target,
        &[("X-OCS-Header", header)],
        br#"{"backup_base_uri": "file:///x/y/z/w/v"}"#,
    )
    .await;
    assert!(matches!(reply, Ok((400 | 500, _))), "{reply:?}");
    // Unknown routes are 404 after authentication succeeds or not.
    check_error(
        &client.call(&sim, "GET", "/api/v1/nothing", None).await,
        404,
        "Common.NotFound",
    );
    check_error(
        &client
            .call(&sim, "DELETE", "/api/v1/obcluster/backup/config", None)
            .await,
        404,
        "Common.NotFound",
    );
}

#[tokio::test]
async fn request_log_holds_decrypted_bodies_never_the_password() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    let body = json!({"backup_base_uri": URI, "binding": "optional"});
    assert_eq!(
        client
            .call(
                &sim,
                "POST",
                "/api/v1/obcluster/backup/config",
                Some(body.clone())
            )
            .await
            .0,
        200
    );
    check_error(
        &client
            .call(
                &sim,
                "PATCH",
                "/api/v1/obcluster/backup/config",
                Some(json!({"binding": "x"})),
            )
            .await,
        400,
        "OB.Backup.BaseUriEmpty",
    );
    let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
    let entries = log.as_array().unwrap();
    let post = entries.iter().find(|e| e["method"] == "POST").unwrap();
    assert_eq!(post["body"], body);
    assert_eq!(post["authenticated"], true);
    assert_eq!(post["status"], 200);
    let patch = entries.iter().find(|e| e["method"] == "PATCH").unwrap();
    assert_eq!(patch["error_code"], "OB.Backup.BaseUriEmpty");
    assert!(!log.to_string().contains(PASSWORD));
    control(&sim, "DELETE", "/sim/v1/requests", json!({})).await;
    assert_eq!(
        control(&sim, "GET", "/sim/v1/requests", json!({})).await,
        json!([])
    );
}

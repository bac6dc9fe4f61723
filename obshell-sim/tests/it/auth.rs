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
    // obshell ≤ 4.3.0 answers an undecryptable header with ErrUnauthorized too (its HeaderDecrypt
    // middleware calls errors.Occur(errors.ErrUnauthorized)), not with code 1.
    control(&sim, "POST", "/sim/v1/rotate-key", json!({})).await;
    let reply = client.call(&sim, "GET", target, None).await;
    check_legacy_error(&reply, 401, 10008);
    assert_eq!(reply.1["error"]["message"], "Verification failed");
    let fresh = Client::new(&sim).await;
    assert_ne!(fresh.key, client.key);
    assert_eq!(fresh.call(&sim, "GET", target, None).await.0, 200);
}

#[tokio::test]
async fn legacy_decrypt_failures_are_unauthorized() {
    for (version, header_message, body_message) in [
        ("4.2.4.0", "Verification failed", "Verification failed"),
        (
            "4.3.0.0",
            "Verification failed: header decrypt failed",
            "Verification failed: body decrypt failed",
        ),
    ] {
        let sim = start(version).await;
        let client = Client::new(&sim).await;
        let target = "/api/v1/obcluster/backup/config";
        let header = client.header(HeaderSpec {
            auth: PASSWORD,
            ts: json!((now_secs() + 60).to_string()),
            uri: target,
        });
        // A body that is not a whole number of AES blocks.
        let reply = raw(
            &sim,
            "PATCH",
            target,
            &[("X-OCS-Header", header)],
            b"AAAAAAAAAAAA",
        )
        .await
        .unwrap();
        check_legacy_error(&reply, 401, 10008);
        assert_eq!(reply.1["error"]["message"], body_message, "{version}");
        let reply = raw(
            &sim,
            "GET",
            "/api/v1/info",
            &[("X-OCS-Header", "bm9wZQ==".to_owned())],
            b"",
        )
        .await
        .unwrap();
        check_legacy_error(&reply, 401, 10008);
        assert_eq!(reply.1["error"]["message"], header_message, "{version}");
    }
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

#[tokio::test]
async fn a_ts_far_ahead_of_the_server_clock_is_refused_and_every_ts_is_logged() {
    let sim = start("4.5.0.0").await;
    let client = Client::new(&sim).await;
    control(&sim, "DELETE", "/sim/v1/requests", json!({})).await;
    let target = "/api/v1/tenants/overview";
    let send = |ts: i64| {
        let header = client.header(HeaderSpec {
            auth: PASSWORD,
            ts: json!(ts.to_string()),
            uri: target,
        });
        let sim = &sim;
        async move {
            raw(sim, "GET", target, &[("X-OCS-Header", header)], b"")
                .await
                .unwrap()
        }
    };
    // The web UI's 1800 s lifetime is the longest a real client uses: accepted.
    assert_eq!(send(now_secs() + 1800).await.0, 200);
    // A header that never expires in practice (a lifetime in milliseconds, say) is refused.
    let far = now_secs() * 1000;
    let reply = send(far).await;
    check_error(&reply, 401, "Security.Authentication.Timestamp.Invalid");
    let message = reply.1["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("ahead of the server's clock"), "{message}");
    // Just past the bound by the server's clock (which the clock offset moves) is refused too.
    control(
        &sim,
        "POST",
        "/sim/v1/clock",
        json!({"offset_seconds": -100}),
    )
    .await;
    check_error(
        &send(now_secs() + 86_400).await,
        401,
        "Security.Authentication.Timestamp.Invalid",
    );
    control(&sim, "POST", "/sim/v1/clock", json!({"offset_seconds": 0})).await;

    // The request log shows each decrypted ts and the server time of the auth check.
    let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{log}");
    assert_eq!(entries[1]["ts"], json!(far.to_string()));
    for entry in entries {
        let ts: i64 = entry["ts"].as_str().unwrap().parse().unwrap();
        let checked_at = entry["checked_at"].as_i64().unwrap();
        assert!(
            (now_secs() - 100 - 5..=now_secs()).contains(&checked_at),
            "{entry}"
        );
        assert!(ts > checked_at, "{entry}");
    }
    // No header, no ts; an unauthenticated route checks none.
    control(&sim, "DELETE", "/sim/v1/requests", json!({})).await;
    raw(&sim, "GET", "/api/v1/info", &[], b"").await.unwrap();
    let log = control(&sim, "GET", "/sim/v1/requests", json!({})).await;
    assert_eq!(log[0]["ts"], json!(null));
    assert_eq!(log[0]["checked_at"], json!(null));
}

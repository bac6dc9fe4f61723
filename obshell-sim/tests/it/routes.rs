//! Routes by version: each emulated version serves exactly the routes `ROUTES` gives it, and
//! answers the others as that version's `NoRoute` handler does.

use obshell_sim::{routes_of, ObshellVersion, ROUTES};
use serde_json::json;

use crate::support::*;

/// A concrete path for a pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{name}", "t1")
        .replace("{parameter}", "archive_lag_target")
        .replace("{id}", "11")
}

/// True when the answer is the emulated version's `NoRoute`.
fn is_no_route(version: &str, reply: &Reply) -> bool {
    if version < "4.3.1.0" {
        reply.0 == 400
            && reply.1["error"]["code"] == 1000
            && reply.1["error"]["message"] == "Bad request: 404 not found"
            && reply.1["error"].get("errCode").is_none()
    } else {
        reply.0 == 404
            && reply.1["error"]["errCode"] == "Common.NotFound"
            && reply.1["error"]["message"] == "Element not found: 404 not found"
    }
}

#[tokio::test]
async fn every_version_serves_its_routes_and_refuses_the_others_as_obshell_does() {
    for version in [
        "4.2.4.0", "4.2.6.0", "4.3.0.0", "4.3.1.0", "4.3.2.0", "4.5.0.0",
    ] {
        let parsed: ObshellVersion = version.parse().unwrap();
        let sim = start(version).await;
        let client = Client::new(&sim).await;
        for route in ROUTES {
            let path = concrete(route.path);
            let body = (route.method != "GET").then(|| json!({}));
            let reply = client.call(&sim, route.method, &path, body).await;
            let served = routes_of(parsed).any(|r| r == route);
            assert_eq!(
                !is_no_route(version, &reply),
                served,
                "obshell {version}: {} {path} (since {}) answered {}",
                route.method,
                route.since,
                reply.1
            );
        }
        // Not a route in any version, and a method a route does not have.
        for (method, path) in [("GET", "/api/v1/nothing"), ("DELETE", "/api/v1/tenant/t1")] {
            let reply = client.call(&sim, method, path, None).await;
            assert!(
                is_no_route(version, &reply),
                "{version} {method} {path}: {}",
                reply.1
            );
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_cluster_id_is_in_ob_info_on_every_version() {
    for version in ["4.2.4.0", "4.5.0.0"] {
        let sim = start(version).await;
        let client = Client::new(&sim).await;
        let (status, body) = client.call(&sim, "GET", "/api/v1/ob/info", None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["obcluster_info"]["id"], CLUSTER_ID);
        assert_eq!(body["data"]["obcluster_info"]["name"], "obcluster");
        assert_eq!(body["data"]["agent_info"][0]["identity"], "CLUSTER AGENT");
        // Authenticated, like every route of the `ob` group.
        let (status, _) = raw(&sim, "GET", "/api/v1/ob/info", &[], b"").await.unwrap();
        assert_ne!(status, 200);
        sim.shutdown().await;
    }
}

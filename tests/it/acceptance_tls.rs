//! obshell over HTTPS, end to end with real Terraform: obshell-sim serves TLS with a certificate
//! from a test CA (and requires client certificates for mutual TLS); the provider trusts that CA
//! through `ca_certificate` or the system's trust store and presents `client_certificate`/
//! `client_key`. Every TLS failure fails the plan naming the endpoint and the reason, with nothing
//! sent and no secret echoed.

use std::time::Duration;

use obshell_sim::{SimConfig, SimHandle, SimTls};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::Value;

use crate::sim::runtime;
use crate::terraform::{terraforms, TfDir};

const PASSWORD: &str = "Tls-Sim-Password-2207";

/// A CA that signs certificates for this test run only.
struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let certificate = params.self_signed(&key).expect("a CA certificate");
        TestCa {
            pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate and its PEM key, for `names` (host names or addresses).
    fn leaf(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().expect("a leaf key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("leaf params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("client"),
        );
        params.extended_key_usages = vec![purpose];
        let certificate = params.signed_by(&key, &self.issuer).expect("a leaf");
        (certificate.pem(), key.serialize_pem())
    }
}

/// A running TLS simulator and a control client that trusts it.
struct TlsSim {
    handle: SimHandle,
    control: reqwest::Client,
    /// The first name of the certificate, which the control client connects to.
    host: String,
}

impl TlsSim {
    /// obshell-sim over HTTPS with a certificate for `names` from `ca`; with `client_ca`, only
    /// clients whose certificate chains to it are served. `control_identity` is the PEM
    /// certificate and key the test's own control client presents then.
    fn start(
        ca: &TestCa,
        names: &[&str],
        client_ca: Option<&TestCa>,
        control_identity: Option<&(String, String)>,
    ) -> TlsSim {
        let (certificate, key) = ca.leaf(names, ExtendedKeyUsagePurpose::ServerAuth);
        let mut tls = SimTls::new(certificate, key);
        if let Some(client_ca) = client_ca {
            tls = tls.with_client_ca(client_ca.pem.clone());
        }
        let config = SimConfig::new(PASSWORD)
            .with_task_duration(Duration::from_millis(30))
            .with_tls(tls);
        let handle = runtime()
            .block_on(obshell_sim::spawn(config))
            .expect("obshell-sim starts with TLS");
        let mut control = reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("the CA as PEM"),
            );
        if let Some((certificate, key)) = control_identity {
            control = control.identity(
                reqwest::Identity::from_pem(format!("{certificate}{key}").as_bytes())
                    .expect("a PEM identity"),
            );
        }
        TlsSim {
            handle,
            control: control.build().expect("a control client"),
            host: names[0].to_owned(),
        }
    }

    /// The base URL with the host `host` (the certificate's names decide which is right).
    fn endpoint(&self, host: &str) -> String {
        format!("https://{host}:{}", self.handle.addr().port())
    }

    /// The archive destination of every tenant (read through `/sim/v1/state`), as JSON text.
    fn archive_dests(&self) -> Vec<String> {
        let url = format!("{}/sim/v1/state", self.endpoint(&self.host));
        let control = self.control.clone();
        let state: Value = runtime().block_on(async move {
            control
                .get(&url)
                .send()
                .await
                .expect("the control API answers over TLS")
                .json()
                .await
                .expect("the state is JSON")
        });
        state["tenants"]
            .as_array()
            .expect("tenants")
            .iter()
            .map(|tenant| match &tenant["archive_dest"] {
                Value::Null => String::new(),
                dest => dest.to_string(),
            })
            .collect()
    }
}

/// A Terraform directory whose provider block names the PEM files written beside it.
fn tls_dir(
    terraform: &crate::terraform::Terraform,
    endpoint: &str,
    ca_pem: Option<&str>,
    client: Option<&(String, String)>,
) -> TfDir {
    let dir = TfDir::new(terraform, endpoint, PASSWORD);
    let mut provider = String::new();
    if let Some(ca_pem) = ca_pem {
        std::fs::write(dir.path().join("ca.pem"), ca_pem).expect("write ca.pem");
        provider.push_str("  ca_certificate = file(\"${path.module}/ca.pem\")\n");
    }
    if let Some((certificate, key)) = client {
        std::fs::write(dir.path().join("client.pem"), certificate).expect("write client.pem");
        std::fs::write(dir.path().join("client-key.pem"), key).expect("write client-key.pem");
        provider.push_str("  client_certificate = file(\"${path.module}/client.pem\")\n");
        provider.push_str("  client_key         = file(\"${path.module}/client-key.pem\")\n");
    }
    dir.write_main(&format!(
        r#"
terraform {{
  required_providers {{
    oceanbase = {{ source = "oceanbase/oceanbase" }}
  }}
}}

provider "oceanbase" {{
{provider}}}

resource "oceanbase_backup_config" "this" {{
  backup_base_uri         = "file:///data/backup"
  log_archive_concurrency = 4
}}
"#
    ));
    dir
}

/// The base64 body of a PEM key: what would show if the key were echoed.
fn key_body(key_pem: &str) -> String {
    key_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("")
        .chars()
        .take(40)
        .collect()
}

#[test]
fn applies_over_https_with_the_ca_certificate_the_system_trust_store_and_a_client_certificate() {
    let ca = TestCa::new("obshell test CA");
    let client_ca = TestCa::new("obshell client CA");
    let client = client_ca.leaf(&["terraform"], ExtendedKeyUsagePurpose::ClientAuth);
    for terraform in terraforms() {
        // Server authentication only.
        let sim = TlsSim::start(&ca, &["localhost", "127.0.0.1"], None, None);
        let dir = tls_dir(&terraform, &sim.endpoint("localhost"), Some(&ca.pem), None);
        dir.apply();
        dir.plan().expect_code(0);
        assert!(
            sim.archive_dests()
                .iter()
                .all(|dest| dest.contains("file:///data/backup/")),
            "{}: {:?}",
            terraform.label,
            sim.archive_dests()
        );

        // No ca_certificate: the system's trust store decides. SSL_CERT_FILE, which the native
        // root store reads, names a file holding the test CA.
        let sim = TlsSim::start(&ca, &["localhost"], None, None);
        let mut dir = tls_dir(&terraform, &sim.endpoint("localhost"), None, None);
        let store = dir.path().join("system-roots.pem");
        std::fs::write(&store, &ca.pem).expect("write the trust store");
        dir.set_env("SSL_CERT_FILE", store.to_str().expect("a UTF-8 path"));
        dir.apply();
        dir.plan().expect_code(0);

        // Mutual TLS: the provider presents its client certificate.
        let sim = TlsSim::start(&ca, &["127.0.0.1"], Some(&client_ca), Some(&client));
        let dir = tls_dir(
            &terraform,
            &sim.endpoint("127.0.0.1"),
            Some(&ca.pem),
            Some(&client),
        );
        dir.apply().expect_absent(&key_body(&client.1));
        dir.plan().expect_code(0);
        assert!(
            sim.archive_dests()
                .iter()
                .all(|dest| dest.contains("file:///data/backup/")),
            "{}: {:?}",
            terraform.label,
            sim.archive_dests()
        );
    }
}

#[test]
fn tls_failures_name_the_endpoint_and_the_reason_and_send_nothing() {
    let ca = TestCa::new("obshell test CA");
    let stranger = TestCa::new("some other CA");
    let client_ca = TestCa::new("obshell client CA");
    let client = client_ca.leaf(&["terraform"], ExtendedKeyUsagePurpose::ClientAuth);
    let untrusted_client = stranger.leaf(&["terraform"], ExtendedKeyUsagePurpose::ClientAuth);
    for terraform in terraforms() {
        let sim = TlsSim::start(&ca, &["localhost"], None, None);
        let mutual = TlsSim::start(&ca, &["127.0.0.1"], Some(&client_ca), Some(&client));
        let cases = [
            (
                "no ca_certificate",
                sim.endpoint("localhost"),
                None,
                None,
                "not signed by a trusted CA",
            ),
            (
                "another CA",
                sim.endpoint("localhost"),
                Some(stranger.pem.as_str()),
                None,
                "not signed by a trusted CA",
            ),
            (
                "a host name the certificate does not list",
                sim.endpoint("127.0.0.1"),
                Some(ca.pem.as_str()),
                None,
                "not valid for the endpoint's host name",
            ),
            (
                "no client certificate",
                mutual.endpoint("127.0.0.1"),
                Some(&ca.pem),
                None,
                "requires a client certificate",
            ),
            (
                "a client certificate from another CA",
                mutual.endpoint("127.0.0.1"),
                Some(&ca.pem),
                Some(&untrusted_client),
                "refused the client certificate",
            ),
        ];
        for (what, endpoint, ca_pem, identity, reason) in cases {
            let dir = tls_dir(&terraform, &endpoint, ca_pem, identity);
            let run = dir.plan();
            run.expect_code(1).expect_absent(PASSWORD);
            if let Some((_, key)) = identity {
                run.expect_absent(&key_body(key));
            }
            // Terraform wraps diagnostics at 80 columns: compare with single spaces.
            let flat = run
                .output()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            for needle in [endpoint.as_str(), reason, "Nothing was sent"] {
                assert!(
                    flat.contains(needle),
                    "{} with {what}: no {needle:?} in {}",
                    terraform.label,
                    run.output()
                );
            }
            assert!(
                !run.output().contains("panicked"),
                "{} with {what}: {}",
                terraform.label,
                run.output()
            );
        }
        // Nothing reached either cluster.
        for sim in [&sim, &mutual] {
            assert!(
                sim.archive_dests().iter().all(String::is_empty),
                "{}: {:?}",
                terraform.label,
                sim.archive_dests()
            );
        }
    }
}

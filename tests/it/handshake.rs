//! The real plugin binary, started the way Terraform starts it: the go-plugin handshake line
//! naming an owner-only Unix socket, AutoMTLS pinned to the client's certificate, plaintext
//! (and a log line saying so) without it, `--debug` and Terraform reattaching to it, GetProviderSchema, a clean exit on
//! `GRPCController.Shutdown`, a refusal without the magic cookie, and nothing on stdout but the
//! handshake. Then the real `terraform` CLI (every one available: the one on PATH and the one
//! `scripts/setup-tools.sh` installs) reads the provider's schema through `dev_overrides`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use terraform_provider_oceanbase::server::testing::{plugin, tfplugin6 as pb};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio_rustls::rustls;
use tonic::transport::Channel;

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-oceanbase");
const COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// A guard against a hung child, not a timing assertion: every step normally takes milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A client certificate and key, as go-plugin's client makes one for each plugin it starts.
struct ClientIdentity {
    certificate_pem: String,
    certificate: CertificateDer<'static>,
    key_der: Vec<u8>,
}

fn client_identity() -> ClientIdentity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let certificate = params.self_signed(&key).expect("self-signed certificate");
    ClientIdentity {
        certificate_pem: pem("CERTIFICATE", certificate.der()),
        certificate: certificate.der().clone(),
        key_der: key.serialize_der(),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("base64 is ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A running plugin and what its handshake line said.
struct Plugin {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// Everything the plugin writes to stderr, complete once it has exited.
    stderr: tokio::task::JoinHandle<String>,
    /// The Unix socket the handshake line names.
    address: PathBuf,
    server_certificate: Vec<u8>,
}

/// Starts the plugin as Terraform does, with logging at `TF_LOG=trace`.
async fn start_plugin(client: &ClientIdentity) -> Plugin {
    start_plugin_with(Some(client), None).await
}

/// Starts the plugin with `client`'s certificate in `PLUGIN_CLIENT_CERT` (none: Terraform's
/// `TF_DISABLE_PLUGIN_TLS`) and `PLUGIN_UNIX_SOCKET_DIR` set to `socket_dir`.
async fn start_plugin_with(client: Option<&ClientIdentity>, socket_dir: Option<&Path>) -> Plugin {
    let mut command = Command::new(BINARY);
    command
        .env(COOKIE_KEY, COOKIE_VALUE)
        .env("TF_LOG", "trace")
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("PLUGIN_UNIX_SOCKET_DIR");
    if let Some(client) = client {
        command.env("PLUGIN_CLIENT_CERT", &client.certificate_pem);
    }
    if let Some(socket_dir) = socket_dir {
        command.env("PLUGIN_UNIX_SOCKET_DIR", socket_dir);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the plugin binary");
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text).await;
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    tokio::time::timeout(HANG_GUARD, stdout.read_line(&mut line))
        .await
        .expect("handshake line in time")
        .expect("read the handshake line");
    let fields: Vec<&str> = line.trim_end_matches('\n').split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line {line:?}");
    assert_eq!(&fields[..3], ["1", "6", "unix"], "handshake line {line:?}");
    assert_eq!(fields[4], "grpc", "handshake line {line:?}");
    let address = PathBuf::from(fields[3]);
    assert_owner_only(&address);
    if let Some(socket_dir) = socket_dir {
        assert!(
            address.starts_with(socket_dir),
            "{} is under PLUGIN_UNIX_SOCKET_DIR {}",
            address.display(),
            socket_dir.display()
        );
    }
    assert!(
        !fields[5].contains('='),
        "certificate base64 has no padding"
    );
    let server_certificate = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(fields[5])
        .expect("certificate in unpadded base64");
    Plugin {
        child,
        stdout,
        stderr,
        address,
        server_certificate,
    }
}

/// Only the plugin's user may connect: the socket is 0600 in a directory of its own that is 0700
/// (connecting needs write permission on the socket and search permission on the directory).
fn assert_owner_only(socket: &Path) {
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(socket), 0o600, "{}", socket.display());
    let directory = socket.parent().expect("a directory");
    assert_eq!(mode(directory), 0o700, "{}", directory.display());
}

/// Trusts exactly the certificate the handshake line carried, for `localhost`, as go-plugin's
/// client does (rustls's usual verifier refuses a CA certificate as a server's own).
#[derive(Debug)]
struct PinnedServer {
    expected: Vec<u8>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        assert_eq!(server_name.to_str(), "localhost");
        if end_entity.as_ref() == self.expected.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the handshake's certificate".to_owned(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A gRPC channel to the plugin over mTLS, presenting `client`'s certificate.
async fn connect(
    plugin: &Plugin,
    client: &ClientIdentity,
) -> Result<Channel, tonic::transport::Error> {
    connect_with(plugin, client, rustls::DEFAULT_VERSIONS).await
}

/// Like [`connect`], offering only the TLS `versions`.
async fn connect_with(
    plugin: &Plugin,
    client: &ClientIdentity,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Channel, tonic::transport::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer {
            expected: plugin.server_certificate.clone(),
            provider,
        }))
        .with_client_auth_cert(
            vec![client.certificate.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client.key_der.clone())),
        )
        .expect("client certificate");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let address = plugin.address.clone();
    let connect = tower::service_fn(move |_: tonic::codegen::http::Uri| {
        let connector = connector.clone();
        let address = address.clone();
        async move {
            let unix = tokio::net::UnixStream::connect(address).await?;
            let name = ServerName::try_from("localhost").expect("valid name");
            let tls = connector.connect(name, unix).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(connect)
        .await
}

/// A plaintext gRPC channel over the plugin's Unix socket.
async fn connect_plaintext(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_owned();
    let connect = tower::service_fn(move |_: tonic::codegen::http::Uri| {
        let socket = socket.clone();
        async move {
            let unix = tokio::net::UnixStream::connect(socket).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(unix))
        }
    });
    tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(connect)
        .await
}

#[tokio::test]
async fn without_plugin_tls_it_serves_only_on_the_private_socket_and_says_so() {
    let socket_dir = tempfile::tempdir().expect("a socket directory");
    let mut plugin = start_plugin_with(None, Some(socket_dir.path())).await;
    assert!(
        plugin.server_certificate.is_empty(),
        "no certificate without TLS"
    );
    let channel = connect_plaintext(&plugin.address)
        .await
        .expect("plaintext connection");
    pb::provider_client::ProviderClient::new(channel.clone())
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("GetMetadata");
    plugin::grpc_controller_client::GrpcControllerClient::new(channel)
        .shutdown(plugin::Empty {})
        .await
        .expect("Shutdown");
    let status = tokio::time::timeout(HANG_GUARD, plugin.child.wait())
        .await
        .expect("the plugin exits after Shutdown")
        .expect("wait for the plugin");
    assert!(status.success(), "exit status {status}");
    let stderr = plugin.stderr.await.expect("stderr reader");
    assert!(stderr.contains("TLS is off"), "stderr: {stderr}");
    assert_eq!(
        std::fs::read_dir(socket_dir.path()).expect("list").count(),
        0,
        "nothing left in PLUGIN_UNIX_SOCKET_DIR"
    );
}

#[tokio::test]
async fn handshake_mtls_schema_and_shutdown() {
    let client = client_identity();
    let mut plugin = start_plugin(&client).await;

    // A client with any other certificate is refused.
    let stranger = client_identity();
    let refused = match connect(&plugin, &stranger).await {
        Err(_) => true,
        Ok(channel) => pb::provider_client::ProviderClient::new(channel)
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await
            .is_err(),
    };
    assert!(refused, "a client with another certificate must be refused");

    // TLS 1.2 is refused: the plugin speaks TLS 1.3 only (see src/server/tls.rs).
    let tls12 = match connect_with(&plugin, &client, &[&rustls::version::TLS12]).await {
        Err(_) => true,
        Ok(channel) => pb::provider_client::ProviderClient::new(channel)
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await
            .is_err(),
    };
    assert!(tls12, "a TLS 1.2 client must be refused");

    let channel = connect(&plugin, &client).await.expect("mTLS connection");
    let schema = pb::provider_client::ProviderClient::new(channel.clone())
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema")
        .into_inner();
    assert!(schema.diagnostics.is_empty());
    assert!(schema.provider.is_some());
    assert!(!schema.resource_schemas.is_empty());
    assert!(
        schema
            .server_capabilities
            .expect("capabilities")
            .plan_destroy
    );

    plugin::grpc_controller_client::GrpcControllerClient::new(channel)
        .shutdown(plugin::Empty {})
        .await
        .expect("Shutdown");
    let status = tokio::time::timeout(HANG_GUARD, plugin.child.wait())
        .await
        .expect("the plugin exits after Shutdown")
        .expect("wait for the plugin");
    assert!(status.success(), "exit status {status}");
    assert!(
        !plugin.address.parent().expect("a directory").exists(),
        "the socket's directory is removed at exit"
    );
    let mut rest = String::new();
    plugin
        .stdout
        .read_to_string(&mut rest)
        .await
        .expect("read stdout");
    assert_eq!(rest, "", "nothing but the handshake line on stdout");

    // At TF_LOG=trace every stderr line is an hclog JSON line Terraform can re-emit.
    let stderr = plugin.stderr.await.expect("stderr reader");
    assert!(
        stderr.contains("terraform asked the plugin to shut down"),
        "stderr: {stderr}"
    );
    for line in stderr.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        for field in ["@level", "@message", "@timestamp"] {
            assert!(entry[field].is_string(), "{field} in {line}");
        }
        assert_eq!(entry["@module"], "provider.oceanbase", "{line}");
        assert!(
            entry["@timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
    }
}

#[tokio::test]
async fn sigint_is_ignored_and_sigterm_ends_the_plugin() {
    let client = client_identity();
    let mut plugin = start_plugin(&client).await;
    let pid = plugin.child.id().expect("running").to_string();
    let kill = |signal: &str| {
        std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill")
    };
    assert!(kill("-INT").success());
    // Still serving after SIGINT: a full RPC round trip proves the signal was handled and ignored
    // (the handler is installed before the handshake line is written).
    // TLS 1.2 is refused: the plugin speaks TLS 1.3 only (see src/server/tls.rs).
    let tls12 = match connect_with(&plugin, &client, &[&rustls::version::TLS12]).await {
        Err(_) => true,
        Ok(channel) => pb::provider_client::ProviderClient::new(channel)
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await
            .is_err(),
    };
    assert!(tls12, "a TLS 1.2 client must be refused");

    let channel = connect(&plugin, &client).await.expect("mTLS connection");
    pb::provider_client::ProviderClient::new(channel)
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("GetMetadata after SIGINT");
    assert!(kill("-TERM").success());
    let status = tokio::time::timeout(HANG_GUARD, plugin.child.wait())
        .await
        .expect("the plugin exits after SIGTERM")
        .expect("wait for the plugin");
    assert!(status.success(), "exit status {status}");
    let stderr = plugin.stderr.await.expect("stderr reader");
    assert!(stderr.contains("ignoring SIGINT"), "stderr: {stderr}");
    assert!(
        stderr.contains("SIGTERM: shutting down"),
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn without_the_cookie_it_refuses_at_once() {
    let output = Command::new(BINARY)
        .env_remove(COOKIE_KEY)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the plugin binary");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout must stay empty");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not meant to be run by hand"),
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn version_prints_the_version_and_exits_0() {
    let output = Command::new(BINARY)
        .arg("--version")
        .env_remove(COOKIE_KEY)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the plugin binary");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "terraform-provider-oceanbase {}\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(output.stderr.is_empty(), "{output:?}");
}

#[tokio::test]
async fn without_protocol_six_it_refuses() {
    let output = Command::new(BINARY)
        .env(COOKIE_KEY, COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the plugin binary");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout must stay empty");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("plugin protocol 6"), "stderr: {stderr}");
}

/// Every Terraform this machine has: the one on PATH, if any, and the project's own
/// (`scripts/setup-tools.sh`), which must exist.
fn terraforms() -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(on_path) = std::env::split_paths(&path)
            .map(|directory| directory.join("terraform"))
            .find(|candidate| candidate.is_file())
        {
            found.push(on_path);
        }
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/terraform");
    assert!(
        project.is_file(),
        "{} is missing: run scripts/setup-tools.sh (make test does)",
        project.display()
    );
    found.push(project);
    found
}

#[test]
fn real_terraform_reads_the_provider_schema() {
    let plugin_directory = Path::new(BINARY).parent().expect("binary directory");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("handshake-terraform");
    std::fs::create_dir_all(&work).expect("work directory");
    let cli_config = work.join("terraform.rc");
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"oceanbase/oceanbase\" = {:?}\n  }}\n  direct {{}}\n}}\n",
            plugin_directory.display().to_string()
        ),
    )
    .expect("write the CLI configuration");
    std::fs::write(
        work.join("main.tf"),
        "terraform {\n  required_providers {\n    oceanbase = { source = \"oceanbase/oceanbase\" }\n  }\n}\n",
    )
    .expect("write main.tf");

    for terraform in terraforms() {
        let output = std::process::Command::new(&terraform)
            .args(["providers", "schema", "-json"])
            .current_dir(&work)
            .env("TF_CLI_CONFIG_FILE", &cli_config)
            .env("TF_IN_AUTOMATION", "1")
            // Terraform would otherwise ask checkpoint-api.hashicorp.com about new versions;
            // tests send no traffic beyond loopback.
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("run terraform");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", terraform.display());
        let schemas: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("terraform prints JSON");
        let ours = &schemas["provider_schemas"]["registry.terraform.io/oceanbase/oceanbase"];
        assert!(
            ours["provider"]["block"]["attributes"].is_object(),
            "{}: no provider schema in {schemas}",
            terraform.display()
        );
        assert!(
            ours["resource_schemas"]["oceanbase_backup_config"].is_object(),
            "{}: no oceanbase_backup_config in {schemas}",
            terraform.display()
        );
        eprintln!("{}: read the provider schema", terraform.display());
    }
}

/// `--debug`, as terraform-plugin-go has it: no cookie needed, the `TF_REATTACH_PROVIDERS` value
/// printed, and every Terraform this machine has attaches to the running provider with it; the
/// developer's Ctrl-C ends it.
#[tokio::test]
async fn debug_mode_prints_reattach_and_terraform_attaches() {
    let mut child = Command::new(BINARY)
        .arg("--debug")
        .env_remove(COOKIE_KEY)
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the plugin binary in debug mode");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut printed = String::new();
    let reattach = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).await.expect("read stdout") == 0 {
                panic!("stdout ended before the reattach line: {printed}");
            }
            printed.push_str(&line);
            if let Some(rest) = line.split("export TF_REATTACH_PROVIDERS='").nth(1) {
                break rest.trim_end().trim_end_matches('\'').to_owned();
            }
        }
    })
    .await
    .expect("the reattach line in time");
    let value: serde_json::Value = serde_json::from_str(&reattach).expect("reattach JSON");
    let ours = &value["registry.terraform.io/oceanbase/oceanbase"];
    assert_eq!(ours["Addr"]["Network"], "unix", "{value}");
    assert_owner_only(Path::new(ours["Addr"]["String"].as_str().expect("a path")));
    assert_eq!(ours["Pid"], child.id().expect("running"), "{value}");

    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("handshake-debug");
    std::fs::create_dir_all(&work).expect("work directory");
    std::fs::write(
        work.join("main.tf"),
        "terraform {\n  required_providers {\n    oceanbase = { source = \"oceanbase/oceanbase\" }\n  }\n}\n",
    )
    .expect("write main.tf");
    for terraform in terraforms() {
        let output = std::process::Command::new(&terraform)
            .args(["providers", "schema", "-json"])
            .current_dir(&work)
            .env("TF_REATTACH_PROVIDERS", &reattach)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_CLI_CONFIG_FILE")
            .env_remove("TF_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("run terraform");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", terraform.display());
        let schemas: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("terraform prints JSON");
        assert!(
            schemas["provider_schemas"]["registry.terraform.io/oceanbase/oceanbase"]
                ["resource_schemas"]["oceanbase_backup_config"]
                .is_object(),
            "{}: {schemas}",
            terraform.display()
        );
    }

    let pid = child
        .id()
        .expect("still running after terraform detached")
        .to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill")
        .success());
    let status = tokio::time::timeout(HANG_GUARD, child.wait())
        .await
        .expect("debug mode ends on SIGINT")
        .expect("wait for the plugin");
    assert!(status.success(), "exit status {status}");
}

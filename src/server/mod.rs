//! The plugin server: go-plugin's handshake and AutoMTLS, and Terraform's plugin protocol 6 over
//! gRPC, serving any [`tf::ProviderHandler`]. This is the only module that knows gRPC, protobuf,
//! msgpack or go-plugin; it knows nothing of obshell.
//!
//! The go-plugin contract (hashicorp/go-plugin `server.go`), as Terraform drives it:
//! 1. Terraform starts the binary with `TF_PLUGIN_MAGIC_COOKIE`, `PLUGIN_PROTOCOL_VERSIONS`
//!    (a comma-separated list that must include 6), optionally `PLUGIN_UNIX_SOCKET_DIR`, and for
//!    AutoMTLS its client certificate in `PLUGIN_CLIENT_CERT` (absent with
//!    `TF_DISABLE_PLUGIN_TLS`).
//! 2. The plugin listens, as go-plugin does on Unix, on a Unix socket, here inside a fresh
//!    directory only its user can enter (mode 0700, the socket 0600), so no other local user can
//!    reach the plugin whether TLS is on or off; and writes one line to stdout:
//!    `1|6|unix|/PATH/plugin.sock|grpc|CERT`, where CERT is its own certificate's DER in unpadded
//!    base64 (empty without AutoMTLS). Nothing else ever goes to stdout.
//! 3. Terraform calls the `tfplugin6.Provider` service, then `plugin.GRPCController/Shutdown`.
//!    SIGINT is ignored (Terraform relays a Ctrl-C as `StopProvider`); SIGTERM ends the server.
//!
//! `--debug` (terraform-plugin-go's debug mode) serves without the cookie and without TLS on the
//! same kind of socket and prints the `TF_REATTACH_PROVIDERS` value a developer exports, so
//! Terraform attaches to a provider running under a debugger.
//!
//! See <https://developer.hashicorp.com/terraform/plugin/terraform-plugin-protocol>.

mod logging;
mod pb;
mod plugin;
mod service;
mod tls;
mod value;

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine;
use tokio::net::{TcpListener, UnixListener};
use tonic::transport::server::Router;

use crate::tf;

/// The magic cookie Terraform sets, so a plugin knows Terraform started it.
const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// go-plugin's own protocol version, the handshake line's first field.
const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol this server speaks.
const PROTOCOL_VERSION: u32 = 6;
/// Terraform sends whole states and schemas in one message; gRPC's 4 MiB default is too small.
const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("this plugin speaks plugin protocol {PROTOCOL_VERSION}, but Terraform offers only {offered:?}")]
    ProtocolVersion { offered: String },
    #[error("cannot listen on a unix socket in {}", directory.display())]
    Listen {
        directory: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up automatic mtls")]
    Tls(#[source] tls::TlsError),
    #[error("cannot install signal handlers")]
    Signals(#[source] std::io::Error),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot write the handshake line to stdout")]
    Handshake(#[source] std::io::Error),
    #[error("the grpc server failed")]
    Transport(#[source] tonic::transport::Error),
}

/// Serves `handler` as a Terraform provider plugin until Terraform shuts it down, and returns the
/// process's exit code. Run by hand (without the magic cookie), it explains and fails at once.
pub fn run<P: tf::ProviderHandler>(handler: P) -> ExitCode {
    let debug = std::env::args_os()
        .skip(1)
        .any(|argument| argument == "--debug");
    if !debug && std::env::var(MAGIC_COOKIE_KEY).ok().as_deref() != Some(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "This binary is a Terraform plugin. It is not meant to be run by hand:\n\
             Terraform starts it when a configuration uses the provider.\n\
             To debug it, run it with --debug and export the TF_REATTACH_PROVIDERS it prints."
        );
        return ExitCode::FAILURE;
    }
    logging::init(provider_name());
    let mode = if debug { Mode::Debug } else { Mode::Plugin };
    match serve_process(handler, mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "plugin server failed"
            );
            eprintln!("Error: {}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// How the process was started.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// By Terraform, through go-plugin: the handshake line, AutoMTLS when offered.
    Plugin,
    /// By a developer with `--debug`: no TLS (Terraform's reattach speaks none), the
    /// `TF_REATTACH_PROVIDERS` value printed, SIGINT ends it.
    Debug,
}

/// The provider's short name, from the binary's package name: `terraform-provider-NAME`.
fn provider_name() -> &'static str {
    let package = env!("CARGO_PKG_NAME");
    package
        .strip_prefix("terraform-provider-")
        .unwrap_or(package)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn serve_process<P: tf::ProviderHandler>(handler: P, mode: Mode) -> Result<(), ServeError> {
    if mode == Mode::Plugin {
        check_protocol_versions(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?;
    }
    let socket_directory = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
        .filter(|directory| !directory.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    // One thread is plenty: the provider's work is waiting on the network, and a single-threaded
    // runtime starts fastest.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(serve_terraform(Arc::new(handler), &socket_directory, mode))
}

/// go-plugin picks the highest version both sides speak; we speak only 6. Without the variable
/// (an old client), go-plugin serves its lowest version, which is again 6.
fn check_protocol_versions(offered: Option<&str>) -> Result<(), ServeError> {
    let Some(offered) = offered.filter(|offered| !offered.is_empty()) else {
        return Ok(());
    };
    let speaks_ours = offered
        .split(',')
        .any(|version| version.trim().parse() == Ok(PROTOCOL_VERSION));
    if speaks_ours {
        Ok(())
    } else {
        Err(ServeError::ProtocolVersion {
            offered: offered.to_owned(),
        })
    }
}

/// A Unix socket only this process's user can connect to: a fresh directory of mode 0700 (made
/// so by `mkdir` itself, so there is no moment when it is open) under `parent`, and the socket
/// inside it set to 0600. The directory goes when the returned guard drops.
struct PrivateSocket {
    directory: PathBuf,
    path: PathBuf,
}

impl PrivateSocket {
    fn bind(parent: &Path) -> Result<(PrivateSocket, UnixListener), ServeError> {
        use rand::RngCore;
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let failed = |source| ServeError::Listen {
            directory: parent.to_owned(),
            source,
        };
        let mut attempts = 0;
        let directory = loop {
            let candidate = parent.join(format!(
                "plugin-oceanbase-{:016x}",
                rand::rngs::OsRng.next_u64()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&candidate) {
                Ok(()) => break candidate,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(error) => return Err(failed(error)),
            }
        };
        let socket = PrivateSocket {
            path: directory.join("plugin.sock"),
            directory,
        };
        let listener = UnixListener::bind(&socket.path).map_err(failed)?;
        std::fs::set_permissions(&socket.path, std::fs::Permissions::from_mode(0o600))
            .map_err(failed)?;
        Ok((socket, listener))
    }
}

impl Drop for PrivateSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.directory);
    }
}

async fn serve_terraform<P: tf::ProviderHandler>(
    handler: Arc<P>,
    socket_directory: &Path,
    mode: Mode,
) -> Result<(), ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    // Terraform's process group gets the user's Ctrl-C too; Terraform answers it with
    // StopProvider, so the signal itself must not end the plugin. In debug mode the developer's
    // Ctrl-C is how the provider ends.
    let mut interrupts = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
    let mut terminations = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let shutdown = plugin::Shutdown::new();
    let on_interrupt = shutdown.clone();
    tokio::spawn(async move {
        while interrupts.recv().await.is_some() {
            if mode == Mode::Debug {
                tracing::info!("SIGINT: shutting down the debug server");
                on_interrupt.trigger();
            } else {
                tracing::debug!("ignoring SIGINT: terraform stops the provider with StopProvider");
            }
        }
    });
    let on_terminate = shutdown.clone();
    tokio::spawn(async move {
        if terminations.recv().await.is_some() {
            tracing::info!("SIGTERM: shutting down");
            on_terminate.trigger();
        }
    });

    let (socket, listener) = PrivateSocket::bind(socket_directory)?;
    let auto_mtls = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(client_cert) if !client_cert.is_empty() && mode == Mode::Plugin => {
            Some(tls::AutoMtls::new(&client_cert).map_err(ServeError::Tls)?)
        }
        _ => None,
    };
    let certificate = auto_mtls
        .as_ref()
        .map(|auto_mtls| {
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(&auto_mtls.certificate)
        })
        .unwrap_or_default();
    let router = router(handler, shutdown.clone());
    let address = socket.path.display().to_string();
    match mode {
        Mode::Plugin => write_handshake_line(&format!(
            "{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|unix|{address}|grpc|{certificate}"
        ))?,
        Mode::Debug => write_handshake_line(&reattach_instructions(&socket.path))?,
    }
    if auto_mtls.is_none() {
        tracing::warn!(
            %address,
            "TLS is off (no PLUGIN_CLIENT_CERT: TF_DISABLE_PLUGIN_TLS or --debug); serving only on \
             a unix socket that no other local user can reach"
        );
    }
    tracing::debug!(%address, tls = auto_mtls.is_some(), "plugin server listening");

    let stopped = shutdown.clone();
    let result = match auto_mtls {
        Some(auto_mtls) => {
            let incoming = plugin::tls_incoming(listener, auto_mtls.config);
            router
                .serve_with_incoming_shutdown(incoming, async move { stopped.wait().await })
                .await
        }
        None => {
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
            router
                .serve_with_incoming_shutdown(incoming, async move { stopped.wait().await })
                .await
        }
    };
    drop(socket);
    tracing::debug!("plugin server stopped");
    result.map_err(ServeError::Transport)
}

/// What `--debug` prints: the `TF_REATTACH_PROVIDERS` value that points Terraform at this
/// process, in go-plugin's `ReattachConfig` JSON, as terraform-plugin-go's debug mode shows it.
fn reattach_instructions(socket: &Path) -> String {
    let value = serde_json::json!({
        format!("registry.terraform.io/oceanbase/{}", provider_name()): {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": { "Network": "unix", "String": socket.display().to_string() },
        }
    });
    format!(
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment \
         variable with the following:\n\n\texport TF_REATTACH_PROVIDERS='{value}'\n"
    )
}

/// The go-plugin handshake line (or, in debug mode, the reattach instructions): the one and
/// only write to stdout in this binary. Terraform reads stdout line by line until it sees it,
/// so it is flushed at once.
fn write_handshake_line(line: &str) -> Result<(), ServeError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(ServeError::Handshake)
}

/// Every service the plugin serves: the provider, go-plugin's controller and stdio, and health.
fn router<P: tf::ProviderHandler>(handler: Arc<P>, shutdown: plugin::Shutdown) -> Router {
    let provider =
        pb::tfplugin6::provider_server::ProviderServer::new(service::ProviderService::new(handler))
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
    tonic::transport::Server::builder()
        .add_service(provider)
        .add_service(
            pb::plugin::grpc_controller_server::GrpcControllerServer::new(plugin::Controller::new(
                shutdown.clone(),
            )),
        )
        .add_service(pb::plugin::grpc_stdio_server::GrpcStdioServer::new(
            plugin::Stdio::new(shutdown),
        ))
        .add_service(pb::health::health_server::HealthServer::new(plugin::Health))
}

/// Support for this crate's integration tests, which drive the server as Terraform does. Not
/// part of the API: nothing outside `server/` and `tests/` may use the protocol types.
#[doc(hidden)]
pub mod testing {
    use super::*;

    pub use super::pb::{health, plugin, tfplugin6};

    /// Encodes a value as the msgpack `DynamicValue` Terraform would send.
    pub fn encode_msgpack(value: &tf::Value, value_type: &tf::Type) -> Result<Vec<u8>, String> {
        super::value::encode_msgpack(value, value_type).map_err(|error| error.to_string())
    }

    /// Decodes a msgpack `DynamicValue` as Terraform would.
    pub fn decode_msgpack(bytes: &[u8], value_type: &tf::Type) -> Result<tf::Value, String> {
        super::value::decode_msgpack(bytes, value_type).map_err(|error| error.to_string())
    }

    /// Serves `handler` without TLS on `listener` until `shutdown` completes or a client calls
    /// `GRPCController.Shutdown`.
    pub async fn serve_plaintext<P: tf::ProviderHandler>(
        handler: P,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), tonic::transport::Error> {
        let stop = super::plugin::Shutdown::new();
        let stopped = stop.clone();
        router(Arc::new(handler), stop)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move {
                    tokio::select! {
                        // Ends the stdio streams too, or the graceful shutdown would wait on them.
                        () = shutdown => stopped.trigger(),
                        () = stopped.wait() => {}
                    }
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_versions_must_include_six() {
        assert!(check_protocol_versions(None).is_ok());
        assert!(check_protocol_versions(Some("5,6")).is_ok());
        assert!(check_protocol_versions(Some("6")).is_ok());
        let error = check_protocol_versions(Some("4,5")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "this plugin speaks plugin protocol 6, but Terraform offers only \"4,5\""
        );
    }

    #[test]
    fn the_socket_is_private_and_removed_afterwards() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().expect("a temporary directory");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _guard = runtime.enter();
        let (socket, listener) = PrivateSocket::bind(parent.path()).expect("bind");
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(socket.directory.parent(), Some(parent.path()));
        assert_eq!(mode(&socket.directory), 0o700);
        assert_eq!(mode(&socket.path), 0o600);
        let directory = socket.directory.clone();
        drop(listener);
        drop(socket);
        assert!(!directory.exists(), "the socket directory is removed");
    }

    #[test]
    fn reattach_instructions_are_go_plugin_reattach_json() {
        let text = reattach_instructions(Path::new("/tmp/x/plugin.sock"));
        let json = text
            .split("TF_REATTACH_PROVIDERS='")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("an export line");
        let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
        let ours = &value["registry.terraform.io/oceanbase/oceanbase"];
        assert_eq!(ours["Protocol"], "grpc");
        assert_eq!(ours["ProtocolVersion"], 6);
        assert_eq!(ours["Addr"]["Network"], "unix");
        assert_eq!(ours["Addr"]["String"], "/tmp/x/plugin.sock");
        assert_eq!(ours["Pid"], std::process::id());
    }

    #[test]
    fn provider_name_drops_the_prefix() {
        assert_eq!(provider_name(), "oceanbase");
    }
}

//! The plugin server: go-plugin's handshake and AutoMTLS, and Terraform's plugin protocol 6 over
//! gRPC, serving any [`tf::ProviderHandler`]. This is the only module that knows gRPC, protobuf,
//! msgpack or go-plugin; it knows nothing of obshell.
//!
//! The go-plugin contract (hashicorp/go-plugin `server.go`), as Terraform drives it:
//! 1. Terraform starts the binary with `TF_PLUGIN_MAGIC_COOKIE`, `PLUGIN_PROTOCOL_VERSIONS`
//!    (a comma-separated list that must include 6), optionally `PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT`,
//!    and for AutoMTLS its client certificate in `PLUGIN_CLIENT_CERT`.
//! 2. The plugin listens on 127.0.0.1 and writes one line to stdout:
//!    `1|6|tcp|127.0.0.1:PORT|grpc|CERT`, where CERT is its own certificate's DER in unpadded
//!    base64 (empty without AutoMTLS). Nothing else ever goes to stdout.
//! 3. Terraform calls the `tfplugin6.Provider` service, then `plugin.GRPCController/Shutdown`.
//!    SIGINT is ignored (Terraform relays a Ctrl-C as `StopProvider`); SIGTERM ends the server.
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
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine;
use tokio::net::TcpListener;
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
    #[error("invalid {variable}: {value:?}")]
    PortSetting {
        variable: &'static str,
        value: String,
    },
    #[error("cannot listen on 127.0.0.1 in ports {min}..={max}")]
    Listen {
        min: u16,
        max: u16,
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
    if std::env::var(MAGIC_COOKIE_KEY).ok().as_deref() != Some(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "This binary is a Terraform plugin. It is not meant to be run by hand:\n\
             Terraform starts it when a configuration uses the provider."
        );
        return ExitCode::FAILURE;
    }
    logging::init(provider_name());
    match serve_process(handler) {
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

fn serve_process<P: tf::ProviderHandler>(handler: P) -> Result<(), ServeError> {
    check_protocol_versions(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?;
    let port_range = port_range(
        std::env::var("PLUGIN_MIN_PORT").ok().as_deref(),
        std::env::var("PLUGIN_MAX_PORT").ok().as_deref(),
    )?;
    // One thread is plenty: the provider's work is waiting on the network, and a single-threaded
    // runtime starts fastest.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(serve_terraform(Arc::new(handler), port_range))
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

/// The ports to try, in order; both unset means any free port.
fn port_range(min: Option<&str>, max: Option<&str>) -> Result<(u16, u16), ServeError> {
    let parse = |variable: &'static str, value: Option<&str>| match value {
        None | Some("") => Ok(0),
        Some(value) => value
            .trim()
            .parse::<u16>()
            .map_err(|_| ServeError::PortSetting {
                variable,
                value: value.to_owned(),
            }),
    };
    let min_port = parse("PLUGIN_MIN_PORT", min)?;
    let max_port = parse("PLUGIN_MAX_PORT", max)?;
    if min_port > max_port {
        return Err(ServeError::PortSetting {
            variable: "PLUGIN_MIN_PORT",
            value: format!("{min_port} (above PLUGIN_MAX_PORT {max_port})"),
        });
    }
    Ok((min_port, max_port))
}

async fn bind((min, max): (u16, u16)) -> Result<TcpListener, ServeError> {
    let mut last_error = None;
    for port in min..=max {
        match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(ServeError::Listen {
        min,
        max,
        source: last_error.unwrap_or_else(|| std::io::Error::other("empty port range")),
    })
}

async fn serve_terraform<P: tf::ProviderHandler>(
    handler: Arc<P>,
    port_range: (u16, u16),
) -> Result<(), ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    // Terraform's process group gets the user's Ctrl-C too; Terraform answers it with
    // StopProvider, so the signal itself must not end the plugin.
    let mut interrupts = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
    let mut terminations = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let shutdown = plugin::Shutdown::new();
    tokio::spawn(async move {
        while interrupts.recv().await.is_some() {
            tracing::debug!("ignoring SIGINT: terraform stops the provider with StopProvider");
        }
    });
    let on_terminate = shutdown.clone();
    tokio::spawn(async move {
        if terminations.recv().await.is_some() {
            tracing::info!("SIGTERM: shutting down");
            on_terminate.trigger();
        }
    });

    let listener = bind(port_range).await?;
    let address = listener.local_addr().map_err(|source| ServeError::Listen {
        min: port_range.0,
        max: port_range.1,
        source,
    })?;
    let auto_mtls = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(client_cert) if !client_cert.is_empty() => {
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
    write_handshake_line(&format!(
        "{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|tcp|{address}|grpc|{certificate}"
    ))?;
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
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            router
                .serve_with_incoming_shutdown(incoming, async move { stopped.wait().await })
                .await
        }
    };
    tracing::debug!("plugin server stopped");
    result.map_err(ServeError::Transport)
}

/// The go-plugin handshake line: the one and only write to stdout in this binary. Terraform
/// reads stdout line by line until it sees it, so it is flushed at once.
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
    fn port_ranges() {
        assert_eq!(port_range(None, None).unwrap(), (0, 0));
        assert_eq!(
            port_range(Some("10000"), Some("25000")).unwrap(),
            (10000, 25000)
        );
        assert!(port_range(Some("x"), None).is_err());
        assert!(port_range(Some("3"), Some("2")).is_err());
    }

    #[test]
    fn provider_name_drops_the_prefix() {
        assert_eq!(provider_name(), "oceanbase");
    }
}

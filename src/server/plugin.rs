//! go-plugin's side services (`plugin.GRPCController`, `plugin.GRPCStdio`, `grpc.health.v1`),
//! the shutdown signal they share with the server, and the TLS acceptor for AutoMTLS.

use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::pb;

/// A one-way latch: once triggered, the server stops accepting, open streams end, and in-flight
/// calls finish.
#[derive(Clone)]
pub(crate) struct Shutdown(Arc<watch::Sender<bool>>);

impl Shutdown {
    /// A latch not yet triggered.
    pub(crate) fn new() -> Self {
        Shutdown(Arc::new(watch::Sender::new(false)))
    }

    /// Triggers it; triggering twice is harmless.
    pub(crate) fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Completes once triggered.
    pub(crate) async fn wait(&self) {
        let mut receiver = self.0.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = receiver.wait_for(|triggered| *triggered).await;
    }
}

/// `plugin.GRPCController`: Terraform's request to exit.
pub(crate) struct Controller(Shutdown);

impl Controller {
    /// A controller that triggers `shutdown`.
    pub(crate) fn new(shutdown: Shutdown) -> Self {
        Controller(shutdown)
    }
}

#[tonic::async_trait]
impl pb::plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(
        &self,
        _request: Request<pb::plugin::Empty>,
    ) -> Result<Response<pb::plugin::Empty>, Status> {
        tracing::debug!("terraform asked the plugin to shut down");
        self.0.trigger();
        Ok(Response::new(pb::plugin::Empty {}))
    }
}

/// `plugin.GRPCStdio`: this plugin sends nothing through it (logs go straight to stderr), but
/// go-plugin's client opens the stream at start, so it is served, open and empty, until shutdown.
pub(crate) struct Stdio(Shutdown);

impl Stdio {
    /// A stdio service whose streams end at `shutdown`.
    pub(crate) fn new(shutdown: Shutdown) -> Self {
        Stdio(shutdown)
    }
}

#[tonic::async_trait]
impl pb::plugin::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = ReceiverStream<Result<pb::plugin::StdioData, Status>>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        let (sender, receiver) = mpsc::channel(1);
        let shutdown = self.0.clone();
        tokio::spawn(async move {
            shutdown.wait().await;
            // Dropping the only sender ends the stream.
            drop(sender);
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// `grpc.health.v1.Health`: go-plugin's client pings the service named `plugin`.
pub(crate) struct Health;

#[tonic::async_trait]
impl pb::health::health_server::Health for Health {
    async fn check(
        &self,
        request: Request<pb::health::HealthCheckRequest>,
    ) -> Result<Response<pb::health::HealthCheckResponse>, Status> {
        use pb::health::health_check_response::ServingStatus;
        match request.into_inner().service.as_str() {
            "" | "plugin" => Ok(Response::new(pb::health::HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            })),
            other => Err(Status::not_found(format!("unknown service {other:?}"))),
        }
    }
}

/// Accepted TLS connections, for tonic. Each handshake runs in its own task so a slow or failing
/// client delays no one; failures are logged and the connection dropped. Accepting stops, and the
/// listener closes, when the server drops the stream (it does on shutdown); after a failed accept
/// (say, out of file descriptors) it pauses briefly instead of spinning.
pub(crate) fn tls_incoming(
    listener: UnixListener,
    config: Arc<tokio_rustls::rustls::ServerConfig>,
) -> ReceiverStream<Result<tokio_rustls::server::TlsStream<tokio::net::UnixStream>, std::io::Error>>
{
    /// How long to wait after a failed accept before accepting again.
    const ACCEPT_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = sender.closed() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, _peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(error = &error as &dyn std::error::Error, "accept failed");
                    tokio::select! {
                        () = sender.closed() => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    }
                }
            };
            let acceptor = acceptor.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                match acceptor.accept(stream).await {
                    Ok(tls_stream) => {
                        // The server has stopped when the receiver is gone; nothing to do then.
                        let _ = sender.send(Ok(tls_stream)).await;
                    }
                    Err(error) => tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "tls handshake failed"
                    ),
                }
            });
        }
        tracing::debug!("stopped accepting tls connections");
    });
    ReceiverStream::new(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_tls_accept_loop_stops_when_the_server_drops_it() {
        let client = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a test certificate");
        use base64::Engine;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(client.cert.der())
        );
        let auto_mtls = super::super::tls::AutoMtls::new(&pem).expect("tls configuration");
        let directory = tempfile::tempdir().expect("a temporary directory");
        let addr = directory.path().join("plugin.sock");
        let listener = UnixListener::bind(&addr).expect("bind");
        let incoming = tls_incoming(listener, auto_mtls.config);
        // The server stops: it drops the stream. The loop ends and closes the listener, so
        // connecting is refused (the guard only bounds a failure).
        drop(incoming);
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while tokio::net::UnixStream::connect(&addr).await.is_ok() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the listener closes once the stream is dropped");
    }
}

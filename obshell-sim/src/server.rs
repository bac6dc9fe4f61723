//! The HTTP/1 server: a custom accept loop on hyper so that faults can hang a request or drop
//! its connection, routing to the control API or the obshell API, and the request log.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

use crate::control;
use crate::faults::{take_http_fault, HttpFaultKind};
use crate::obshell;
use crate::state::Shared;

/// Accepts connections until `shutdown` changes or its sender is dropped. With `tls`, each
/// connection is served after its TLS handshake; one that fails it (an untrusted client
/// certificate, none where one is required, plain HTTP) is closed.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        match tls.clone() {
            None => {
                tokio::spawn(serve_connection(stream, peer, shared, shutdown));
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(stream)) => serve_connection(stream, peer, shared, shutdown).await,
                        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

/// How long a client may take to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection (plain or TLS) until it ends, a fault drops it or the server shuts down.
async fn serve_connection<S>(
    stream: S,
    peer: std::net::SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let service_kill = kill.clone();
    let service = hyper::service::service_fn(move |request| {
        serve(shared.clone(), request, service_kill.clone())
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        // Dropping the connection closes the socket without a response.
        _ = kill.notified() => tracing::debug!(%peer, "connection dropped by a fault"),
        _ = shutdown.changed() => {}
    }
}

fn json_response(status: u16, body: &Value) -> Response<SimBody> {
    let mut response = Response::new(SimBody::whole(Bytes::from(body.to_string())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn read_body(body: Incoming) -> Bytes {
    match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

async fn serve(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    kill: Arc<Notify>,
) -> Result<Response<SimBody>, Infallible> {
    let method = request.method().as_str().to_owned();
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let path = request.uri().path().to_owned();
    if path.starts_with("/sim/") {
        let body = read_body(request.into_body()).await;
        let (status, reply) = control::handle(&shared, &method, &path, &body);
        tracing::info!(%method, %target, status, "control");
        return Ok(json_response(status, &reply));
    }
    let header = ["X-OCS-Agent-Header", "X-OCS-Header"]
        .into_iter()
        .find_map(|name| {
            request
                .headers()
                .get(name)
                .map(|value| (name, String::from_utf8_lossy(value.as_bytes()).into_owned()))
        });
    // Every obshell answer, faulted or not, waits out the configured latency first.
    let delay = {
        let mut state = shared.lock();
        let latency = state.latency;
        latency.sample(&mut state.latency_rng)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let fault = take_http_fault(&mut shared.lock().http_faults, &method, &path);
    let fault_name = fault.as_ref().map(HttpFaultKind::name);
    match fault {
        Some(HttpFaultKind::Status {
            status,
            delay_ms,
            hold,
        }) => {
            if delay_ms > 0 || hold {
                // A proxy in front of obshell: the request is read whole, then the answer comes
                // only after the proxy's own timeout (or a release), and obshell never sees it.
                drop(read_body(request.into_body()).await);
                if delay_ms > 0 {
                    tracing::info!(%method, %target, delay_ms, "delaying an injected status answer");
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                }
                if hold {
                    wait_for_release(&shared, &method, &target).await;
                }
            }
            let body = obshell::fault_envelope(&mut shared.lock(), status);
            record(
                &shared,
                &method,
                &target,
                Some(status),
                false,
                Value::Null,
                Some("Common.Unexpected"),
                fault_name,
                (None, None),
            );
            tracing::info!(%method, %target, status, "answered by an injected status fault");
            return Ok(json_response(status, &body));
        }
        Some(HttpFaultKind::NoRoute) => {
            let (status, body, err_code) = obshell::no_route_envelope(&mut shared.lock());
            record(
                &shared,
                &method,
                &target,
                Some(status),
                false,
                Value::Null,
                Some(err_code),
                fault_name,
                (None, None),
            );
            tracing::info!(%method, %target, status, "answered by an injected no-route fault");
            return Ok(json_response(status, &body));
        }
        Some(HttpFaultKind::DropBeforeRead) => {
            record(
                &shared,
                &method,
                &target,
                None,
                false,
                Value::Null,
                None,
                fault_name,
                (None, None),
            );
            tracing::info!(%method, %target, "dropped before reading by an injected fault");
            kill.notify_one();
            return std::future::pending().await;
        }
        Some(HttpFaultKind::Hang(ms)) => {
            tracing::info!(%method, %target, ms, "hanging by an injected fault");
        }
        Some(
            HttpFaultKind::DropAfterRead
            | HttpFaultKind::GarbleAfterRead
            | HttpFaultKind::TrickleAfterRead { .. }
            | HttpFaultKind::PadAfterRead { .. },
        )
        | None => {}
    }
    let body = read_body(request.into_body()).await;
    let process = {
        let (shared, method, target) = (shared.clone(), method.clone(), target.clone());
        move || {
            let mut outcome = obshell::handle(
                &shared,
                &method,
                &target,
                header.as_ref().map(|(n, v)| (*n, v.as_str())),
                &body,
            );
            record(
                &shared,
                &method,
                &target,
                Some(outcome.status),
                outcome.authenticated,
                std::mem::take(&mut outcome.log_body),
                outcome.error_code.as_deref(),
                fault_name,
                (outcome.ts.take(), outcome.checked_at),
            );
            tracing::info!(%method, %target, status = outcome.status, "obshell request");
            outcome
        }
    };
    let outcome = if let Some(HttpFaultKind::Hang(ms)) = fault {
        // obshell's handlers (Go's net/http) run to their end when the client has gone: a
        // request read before the client gave up is still processed (a write still starts its
        // DAG). So the wait and the processing run apart from this connection, which hyper
        // drops, with this future, when the client closes it.
        let detached = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            process()
        });
        match detached.await {
            Ok(outcome) => outcome,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    } else {
        process()
    };
    if fault == Some(HttpFaultKind::DropAfterRead) {
        tracing::info!(%method, %target, "processed, then dropped by an injected fault");
        kill.notify_one();
        return std::future::pending().await;
    }
    if fault == Some(HttpFaultKind::GarbleAfterRead) {
        tracing::info!(%method, %target, "processed, then answered garbled by an injected fault");
        return Ok(garbled_response(outcome.status, &outcome.body));
    }
    if let Some(HttpFaultKind::TrickleAfterRead { every_ms, endless }) = fault {
        tracing::info!(%method, %target, every_ms, endless, "processed, then trickled by an injected fault");
        let mut response = json_response(outcome.status, &outcome.body);
        *response.body_mut() = SimBody::trickle(
            Bytes::from(outcome.body.to_string()),
            Duration::from_millis(every_ms),
            endless,
        );
        return Ok(response);
    }
    if let Some(HttpFaultKind::PadAfterRead { bytes }) = fault {
        tracing::info!(%method, %target, bytes, "processed, then answered padded by an injected fault");
        let mut body = outcome.body.to_string().into_bytes();
        let length = usize::try_from(bytes).unwrap_or(usize::MAX).max(body.len());
        body.resize(length, b' ');
        let mut response = json_response(outcome.status, &Value::Null);
        *response.body_mut() = SimBody::whole(Bytes::from(body));
        return Ok(response);
    }
    Ok(json_response(outcome.status, &outcome.body))
}

/// Lists the request among the held answers and waits until `POST /sim/v1/faults/release`
/// (or `DELETE /sim/v1/faults`, or a reset) takes it off; a client that closes the connection
/// meanwhile takes it off too.
async fn wait_for_release(shared: &Shared, method: &str, target: &str) {
    struct Forget<'a>(&'a Shared, u64);
    impl Drop for Forget<'_> {
        fn drop(&mut self) {
            self.0.lock().held_answers.retain(|held| held.id != self.1);
        }
    }
    let id = {
        let mut state = shared.lock();
        let id = state.next_held_answer;
        state.next_held_answer += 1;
        state.held_answers.push(crate::state::HeldAnswer {
            id,
            method: method.to_owned(),
            uri: target.to_owned(),
        });
        id
    };
    tracing::info!(%method, %target, "holding an injected status answer until released");
    let _forget = Forget(shared, id);
    loop {
        let released = shared.answer_release.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        if !shared.lock().held_answers.iter().any(|held| held.id == id) {
            return;
        }
        released.await;
    }
}

/// An answer's body: whole at once, or trickled a byte at a time (`trickle_after_read`).
pub(crate) enum SimBody {
    /// The whole body in one frame (taken when sent).
    Whole(Option<Bytes>),
    /// One byte every `every`, then a space every `every` forever when `endless`.
    Trickle {
        bytes: Bytes,
        sent: usize,
        every: Duration,
        endless: bool,
        pause: std::pin::Pin<Box<tokio::time::Sleep>>,
    },
}

impl SimBody {
    fn whole(bytes: Bytes) -> Self {
        SimBody::Whole(Some(bytes))
    }

    fn trickle(bytes: Bytes, every: Duration, endless: bool) -> Self {
        SimBody::Trickle {
            bytes,
            sent: 0,
            every,
            endless,
            pause: Box::pin(tokio::time::sleep(every)),
        }
    }
}

impl hyper::body::Body for SimBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        use std::future::Future as _;
        use std::task::Poll;
        match self.get_mut() {
            SimBody::Whole(bytes) => {
                Poll::Ready(bytes.take().map(|b| Ok(hyper::body::Frame::data(b))))
            }
            SimBody::Trickle {
                bytes,
                sent,
                every,
                endless,
                pause,
            } => {
                if *sent >= bytes.len() && !*endless {
                    return Poll::Ready(None);
                }
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let next = if *sent < bytes.len() {
                    *sent += 1;
                    bytes.slice(*sent - 1..*sent)
                } else {
                    Bytes::from_static(b" ")
                };
                let deadline = tokio::time::Instant::now() + *every;
                pause.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(hyper::body::Frame::data(next))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, SimBody::Whole(None))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            // A whole answer has a Content-Length, as obshell's have.
            SimBody::Whole(bytes) => {
                hyper::body::SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            SimBody::Trickle { .. } => hyper::body::SizeHint::default(),
        }
    }
}

/// The answer with its body cut off halfway, as a proxy or a broken gzip layer might deliver it.
fn garbled_response(status: u16, body: &Value) -> Response<SimBody> {
    let bytes = Bytes::from(body.to_string());
    let mut response = json_response(status, body);
    *response.body_mut() = SimBody::whole(bytes.slice(..bytes.len() / 2));
    response
}

#[allow(clippy::too_many_arguments)] // One flat log entry; a struct would only rename the fields.
fn record(
    shared: &Shared,
    method: &str,
    target: &str,
    status: Option<u16>,
    authenticated: bool,
    body: Value,
    error_code: Option<&str>,
    fault: Option<&str>,
    (ts, checked_at): (Option<String>, Option<i64>),
) {
    let mut state = shared.lock();
    let seq = state.next_request_seq;
    state.next_request_seq += 1;
    state.requests.push(json!({
        "seq": seq, "method": method, "uri": target, "status": status, "authenticated": authenticated,
        "body": body, "error_code": error_code, "fault": fault,
        "ts": ts, "checked_at": checked_at,
    }));
}

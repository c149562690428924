//! The HTTP side of `azmi serve`: hyper's HTTP/1.1 server (it parses
//! every byte a client sends), a bounded number of connections, a deadline
//! on every request head, keep-alive, and a graceful stop that lets the
//! requests in flight finish.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use super::broker::{Broker, Reply};
use super::timed_io::TimedIo;

/// The largest request head (request line and headers) read: SDKs send
/// well under 2 KiB; beyond this hyper answers 431.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// The most header fields a request may have.
const MAX_HEADERS: usize = 64;

/// What bounds the clients.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientLimits {
    /// Connections open at once; one more is answered 503 and closed.
    pub(crate) max_connections: usize,
    /// Longest wait for a request head, on a new connection or between
    /// kept-alive requests, and for a client to take any of its answer.
    pub(crate) timeout: Duration,
}

/// Serves `listeners` until `stop()` resolves, then stops accepting, lets
/// every request in flight finish (within `drain`), and returns; a second
/// `stop()` ends the wait.
///
/// # Errors
/// When the requests in flight did not finish within `drain`, or a second
/// stop came first.
pub(crate) async fn serve<F: Future<Output = ()>>(
    listeners: Vec<TcpListener>,
    broker: Arc<Broker>,
    limits: ClientLimits,
    stop: impl Fn() -> F,
    drain: Duration,
) -> Result<(), String> {
    let (stopping, stopped) = watch::channel(false);
    // Every connection task holds a sender; when the last is dropped,
    // `alive.recv()` returns `None`.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut accepting = Vec::new();
    for listener in listeners {
        accepting.push(tokio::spawn(accept(
            listener,
            broker.clone(),
            limits,
            slots.clone(),
            stopped.clone(),
            alive.clone(),
        )));
    }
    drop(alive);
    stop().await;
    tracing::debug!(target: "azmi::serve", "stopping: finishing the requests in flight");
    let _ = stopping.send(true);
    for task in accepting {
        let _ = task.await;
    }
    tokio::select! {
        finished = tokio::time::timeout(drain, all_done.recv()) => finished.map(|_| ()).map_err(|_| {
            format!(
                "requests were still in flight {} s after the stop signal; stopped anyway",
                drain.as_secs_f64()
            )
        }),
        () = stop() => Err("a second stop signal came before the requests in flight finished; stopped anyway".into()),
    }
}

async fn accept(
    listener: TcpListener,
    broker: Arc<Broker>,
    limits: ClientLimits,
    slots: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    loop {
        let accepted = tokio::select! {
            () = stopping(&mut stopped) => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of descriptors, or a connection reset before it was
                // accepted: wait a little rather than spin.
                tracing::debug!(target: "azmi::serve", "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(stream, limits.max_connections, &refusing);
            continue;
        };
        tokio::spawn(connection(
            stream,
            broker.clone(),
            limits,
            slot,
            stopped.clone(),
            alive.clone(),
        ));
    }
}

/// Refused connections that are still being answered at once; beyond
/// them a refused connection is closed without an answer.
const MAX_REFUSING: usize = 64;
/// How long a refused connection is kept to read what the client sent, so
/// that closing it does not reset it before the client reads the 503.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// One connection past the limit: a 503, then closed. The client's request
/// is read and dropped for a moment first (closing a socket with unread
/// data resets it, and the client would see no answer), by a bounded
/// number of short tasks.
fn refuse(stream: TcpStream, max: usize, refusing: &Arc<Semaphore>) {
    tracing::debug!(target: "azmi::serve", "refused a connection: {max} are open (--max-connections)");
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    let body = format!(
        r#"{{"error":"too_many_connections","error_description":"the broker has {max} connections open; retry shortly"}}"#
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            stream.write_all(response.as_bytes()).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    });
}

async fn connection(
    stream: TcpStream,
    broker: Arc<Broker>,
    limits: ClientLimits,
    _slot: OwnedSemaphorePermit,
    mut stopped: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let broker = broker.clone();
        async move {
            // The body is never read: token requests are GETs.
            let (parts, _body) = request.into_parts();
            let reply = broker
                .answer(&parts.method, &parts.uri, &parts.headers)
                .await;
            Ok::<_, Infallible>(response(reply))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.timeout)
        .max_buf_size(MAX_REQUEST_HEAD)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    let connection =
        builder.serve_connection(TokioIo::new(TimedIo::new(stream, limits.timeout)), service);
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopping(&mut stopped) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    // An idle kept-alive connection closed at the client timeout is the
    // normal end of one; anything else is worth a line.
    if let Err(e) = ended
        && !e.is_timeout()
    {
        tracing::debug!(target: "azmi::serve", "connection ended: {e}");
    }
}

/// Resolves once the broker is stopping (at once if it already is).
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    // Dropped here: the guard it returns must not live across an await.
    let _ = stopped.wait_for(|s| *s).await;
}

fn response(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(reply.content_type),
    );
    if let Some(seconds) = reply.retry_after {
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
    }
    response
}

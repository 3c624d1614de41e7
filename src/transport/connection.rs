//! One connection: optional TLS, then HTTP/1.1 with hyper, watched for overstaying.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use super::io::TrackedIo;
use super::limits::{ConnectionState, MAX_BODY_BYTES, Tracked};

/// The application as every connection calls it.
pub type AppService = tower::util::BoxCloneSyncService<
    axum::extract::Request,
    axum::response::Response,
    std::convert::Infallible,
>;

/// Put on a response to close its connection instead of sending it (the control API's
/// `drop` faults): the client sees the connection end with no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropConnection;

/// Why a connection was closed without an answer.
#[derive(Debug, thiserror::Error)]
#[error("the connection was dropped on purpose")]
pub(super) struct Dropped;

/// Whether a request arrived over TLS, for links that name the scheme the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secure(pub bool);

/// Largest request head hyper buffers (the request line and every header). Big enough for a
/// URI at hyper's own limit (64 KiB, answered 414 beyond), small enough that a thousand
/// connections sending heads at once hold under 100 MiB.
const MAX_HEAD_BYTES: usize = 96 * 1024;

pub(super) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: AppService,
    tracked: Tracked,
    stopping: watch::Receiver<bool>,
) {
    let state = tracked.state.clone();
    let limits = tracked.limits();
    let Some(acceptor) = tls else {
        let io = TrackedIo::new(stream, state);
        return run(io, peer, false, app, &tracked, stopping).await;
    };
    // A handshake is part of the head: it gets the head's deadline.
    let handshake = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream));
    let stream = tokio::select! {
        outcome = handshake => match outcome {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%error, %peer, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = state.evict.notified() => return,
    };
    let io = TrackedIo::new(stream, state);
    run(io, peer, true, app, &tracked, stopping).await;
}

async fn run<I>(
    io: TrackedIo<I>,
    peer: SocketAddr,
    secure: bool,
    app: AppService,
    tracked: &Tracked,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = tracked.state.clone();
    let limits = tracked.limits();
    let service = ConnectionService {
        app,
        peer,
        secure,
        state: state.clone(),
        body_read_timeout: limits.body_read_timeout,
        body_memory: tracked.body_memory(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watchdog below times heads and idle periods separately; hyper's one timer would
    // count an idle keep-alive period as part of the next head.
    builder
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut draining = *stopping.borrow();
    if draining {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        let Some(wait) = state.time_left(&limits) else {
            tracing::debug!(%peer, "closing a connection that overstayed (slow head, idle, or not reading)");
            return;
        };
        tokio::select! {
            outcome = connection.as_mut() => {
                if let Err(error) = outcome {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            () = state.evict.notified() => {
                tracing::debug!(%peer, "closing an idle connection to make room");
                return;
            }
            changed = stopping.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = state.deadline_changed.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// The application, as hyper calls it for each request of one connection.
#[derive(Clone)]
struct ConnectionService {
    app: AppService,
    peer: SocketAddr,
    secure: bool,
    state: Arc<ConnectionState>,
    body_read_timeout: Duration,
    body_memory: Arc<Semaphore>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Dropped;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Dropped>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.state.request_started();
        let in_flight = InFlight(self.state.clone());
        let timeout = self.body_read_timeout;
        let state = self.state.clone();
        let memory = self.body_memory.clone();
        let mut request =
            request.map(|body| Body::new(TimedBody::new(body, timeout, state, memory)));
        request.extensions_mut().insert(ConnectInfo(self.peer));
        request.extensions_mut().insert(Secure(self.secure));
        let app = self.app.clone();
        Box::pin(async move {
            let response = match app.oneshot(request).await {
                Ok(response) => response,
                Err(infallible) => match infallible {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                // hyper closes the connection without writing anything of this response.
                return Err(Dropped);
            }
            // The request counts as in flight until its body has been sent (or dropped).
            Ok(response.map(|body| {
                Body::new(SendingBody {
                    inner: body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// Marks a request finished when dropped, however its response ends.
struct InFlight(Arc<ConnectionState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that keeps its request in flight until it is done.
struct SendingBody {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for SendingBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The request body did not arrive within the body-read timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub(super) struct BodyReadTimeout(Duration);

/// A request body that must arrive whole within a time limit, counted from its first read, so
/// that a handler waiting on it is not held by a client that sends slowly or never finishes.
/// Until it has arrived (or is dropped) the connection counts as waiting on its client, which
/// makes it one that may be closed to make room at the connection cap.
///
/// Before its first byte is read it reserves room for itself in the server's body memory.
struct TimedBody {
    inner: Incoming,
    limit: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    waiting: Option<BodyWait>,
    memory: Memory,
}

/// A body's claim on the server's body memory: not yet made, or held until the body is dropped.
enum Memory {
    Unreserved(Arc<Semaphore>),
    Reserved { _held: Option<OwnedSemaphorePermit> },
}

impl TimedBody {
    fn new(
        inner: Incoming,
        limit: Duration,
        state: Arc<ConnectionState>,
        memory: Arc<Semaphore>,
    ) -> Self {
        let finished = http_body::Body::is_end_stream(&inner);
        let waiting = (!finished).then(|| BodyWait::start(state));
        Self {
            inner,
            limit,
            deadline: None,
            waiting,
            memory: if finished {
                Memory::Reserved { _held: None }
            } else {
                Memory::Unreserved(memory)
            },
        }
    }

    /// Reserves the body's declared length (or the most any body may be); false if there is
    /// no room.
    fn reserve_memory(&mut self) -> bool {
        let Memory::Unreserved(memory) = &self.memory else {
            return true;
        };
        let hint = http_body::Body::size_hint(&self.inner);
        let declared = hint.exact().unwrap_or(u64::MAX);
        let bytes = usize::try_from(declared)
            .unwrap_or(MAX_BODY_BYTES)
            .min(MAX_BODY_BYTES);
        let Ok(bytes) = u32::try_from(bytes) else {
            return false;
        };
        match memory.clone().try_acquire_many_owned(bytes) {
            Ok(permit) => {
                self.memory = Memory::Reserved {
                    _held: Some(permit),
                };
                true
            }
            Err(_) => false,
        }
    }
}

/// Marks the connection as waiting for a request body for as long as it lives.
struct BodyWait(Arc<ConnectionState>);

impl BodyWait {
    fn start(state: Arc<ConnectionState>) -> Self {
        state.body_wait_started();
        Self(state)
    }
}

impl Drop for BodyWait {
    fn drop(&mut self) {
        self.0.body_wait_ended();
    }
}

impl http_body::Body for TimedBody {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if !this.reserve_memory() {
            this.waiting = None;
            return Poll::Ready(Some(Err(Box::new(BodyMemoryExhausted))));
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(context) {
            let finished = match &frame {
                Some(Ok(_)) => this.inner.is_end_stream(),
                Some(Err(_)) | None => true,
            };
            if finished {
                this.waiting = None;
            }
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let limit = this.limit;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(context) {
            Poll::Ready(()) => {
                this.waiting = None;
                Poll::Ready(Some(Err(Box::new(BodyReadTimeout(limit)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The server already holds as many request bodies as `--max-body-memory` allows.
#[derive(Debug, thiserror::Error)]
#[error("no room to hold another request body")]
pub(super) struct BodyMemoryExhausted;

/// Why the transport refused to deliver a request body, when it was the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// The client did not send it within the body-read timeout.
    TimedOut,
    /// No room to hold it (`--max-body-memory`).
    NoMemory,
}

/// What a body error (as axum hands it on, possibly wrapped) says about the transport's limits.
pub fn body_refusal(error: &(dyn std::error::Error + 'static)) -> Option<BodyRefusal> {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<BodyReadTimeout>() {
            return Some(BodyRefusal::TimedOut);
        }
        if error.is::<BodyMemoryExhausted>() {
            return Some(BodyRefusal::NoMemory);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_refusals_are_recognised() {
        let timeout = BodyReadTimeout(Duration::from_secs(1));
        assert_eq!(body_refusal(&timeout), Some(BodyRefusal::TimedOut));
        let wrapped = axum::Error::new(BodyReadTimeout(Duration::from_secs(1)));
        assert_eq!(body_refusal(&wrapped), Some(BodyRefusal::TimedOut));
        let memory = axum::Error::new(BodyMemoryExhausted);
        assert_eq!(body_refusal(&memory), Some(BodyRefusal::NoMemory));
        let other = std::io::Error::other("reset");
        assert_eq!(body_refusal(&other), None);
    }
}

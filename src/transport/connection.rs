//! One connection: optional TLS, then HTTP/1.1 with hyper, watched for overstaying.

use std::convert::Infallible;
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
use tokio::sync::watch;
use tower::ServiceExt;

use super::io::TrackedIo;
use super::limits::{ConnectionState, Tracked};
use super::{AppService, Secure};

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
            tracing::debug!(%peer, "closing a connection that overstayed (slow head or idle)");
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
            () = state.head_started_signal.notified() => {}
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
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.state.request_started();
        let in_flight = InFlight(self.state.clone());
        let timeout = self.body_read_timeout;
        let mut request = request.map(|body| Body::new(TimedBody::new(body, timeout)));
        request.extensions_mut().insert(ConnectInfo(self.peer));
        request.extensions_mut().insert(Secure(self.secure));
        let app = self.app.clone();
        Box::pin(async move {
            let response = app.oneshot(request).await?;
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
struct TimedBody {
    inner: Incoming,
    limit: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl TimedBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: None,
        }
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
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(context) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let limit = this.limit;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(context) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyReadTimeout(limit))))),
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

/// Whether a body error (as axum hands it on, possibly wrapped) was the body-read timeout.
pub fn is_body_read_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<BodyReadTimeout>() {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_timeout_is_recognised() {
        let timeout = BodyReadTimeout(Duration::from_secs(1));
        assert!(is_body_read_timeout(&timeout));
        let wrapped = axum::Error::new(BodyReadTimeout(Duration::from_secs(1)));
        assert!(is_body_read_timeout(&wrapped));
        let other = std::io::Error::other("reset");
        assert!(!is_body_read_timeout(&other));
    }
}

//! Accepting connections and serving HTTP/1.1 on them, with the bounds a server facing hostile
//! clients needs: a cap on open connections (making room by closing idle ones), a deadline for
//! a request's head, for an idle keep-alive connection and for a request's body, a back-off
//! when the process runs out of file descriptors, optional TLS, and Atlas error bodies even for
//! the requests hyper refuses before the application sees them.

mod connection;
mod early;
mod io;
mod limits;
mod request_target;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use connection::{AppService, BodyRefusal, DropConnection, Secure, body_refusal};
pub use early::{answer_early, drain_unread_body};
pub use limits::ConnectionLimits;
pub use request_target::{RequestTarget, record_request_target};
pub use tls::{TlsFiles, load_tls};

use self::connection::serve_connection;
use self::limits::Registry;

/// How long the accept loop rests after the process ran out of file descriptors (or memory for
/// sockets) before it tries again; it closes an idle connection first, so one is free then.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` completes, then lets every in-flight request
/// finish (idle connections close at once).
pub async fn serve(
    listener: TcpListener,
    app: AppService,
    limits: ConnectionLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::new(limits));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_out_of_resources(&error) => {
                tracing::warn!(%error, "accept failed: out of resources; closing an idle connection");
                registry.evict_one();
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
            // The client gave up between connecting and being accepted: nothing to do.
            Err(error) => {
                tracing::debug!(%error, "accept failed");
                continue;
            }
        };
        // Room is made once a connection is here, not ahead of it: made ahead, it would close
        // the newest connection before its head could arrive.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = registry.reserve() => permit,
        };
        let _ = stream.set_nodelay(true);
        let tracked = registry.track(permit);
        tokio::spawn(serve_connection(
            stream,
            peer,
            tls.clone(),
            app.clone(),
            tracked,
            stopping.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    registry.wait_until_empty().await;
    Ok(())
}

/// Accept errors that mean "no room for another socket right now" rather than a failed client.
fn is_out_of_resources(error: &std::io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12))
}

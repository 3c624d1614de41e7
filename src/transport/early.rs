//! Answers given before a request's body is read (challenges, 404, 405, 406, 429, and a
//! handler's refusal before its body extractor runs), and what happens to that body: a little
//! is drained so the client reads the answer, the rest is left and the connection closed.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

/// Answers a request early (a challenge, a 406, a 404, a 429) without reading its body into
/// memory: what has arrived of the body, or arrives within `DRAIN_WAIT`, up to
/// `DRAIN_LIMIT` bytes, is read and dropped frame by frame, so a client that sent its body
/// with the request (as Go's Digest client does on its first, unauthenticated attempt) is not
/// reset before it reads the answer. A body that is longer, slower or endless is left unread
/// and the connection closed after the answer (`Connection: close`): an unauthenticated client
/// can make the server hold neither its body nor its connection.
pub async fn answer_early(request: Request, response: impl IntoResponse) -> Response {
    let waits_for_continue = expects_continue(request.headers());
    finish_unread(
        waits_for_continue,
        request.into_body(),
        response.into_response(),
    )
    .await
}

/// Treats a body its handler never read as [`answer_early`] treats one: a handler refused by
/// an extractor that runs before its body extractor (a scope without the role, an unknown
/// custom method) answers before the body is read, and that answer must reach the client as
/// every early answer does. A body that was read, even in part, is left as it is.
pub async fn drain_unread_body<F>(request: Request, handler: impl FnOnce(Request) -> F) -> Response
where
    F: Future<Output = Response>,
{
    // Most requests (every GET) come with no body: nothing to watch.
    if http_body::Body::is_end_stream(request.body()) {
        return handler(request).await;
    }
    let waits_for_continue = expects_continue(request.headers());
    let (parts, body) = request.into_parts();
    let unread = Arc::new(Mutex::new(None));
    let watched = Body::new(UnreadReturned {
        body: Some(body),
        polled: false,
        unread: Arc::clone(&unread),
    });
    let response = handler(Request::from_parts(parts, watched)).await;
    let returned = unread.lock().unwrap_or_else(PoisonError::into_inner).take();
    match returned {
        Some(body) => finish_unread(waits_for_continue, body, response).await,
        None => response,
    }
}

/// A request body that, dropped without ever being polled, hands its inner body back to
/// [`drain_unread_body`] through `unread`.
struct UnreadReturned {
    body: Option<Body>,
    polled: bool,
    unread: Arc<Mutex<Option<Body>>>,
}

impl http_body::Body for UnreadReturned {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        this.polled = true;
        match this.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for UnreadReturned {
    fn drop(&mut self) {
        if !self.polled {
            *self.unread.lock().unwrap_or_else(PoisonError::into_inner) = self.body.take();
        }
    }
}

/// Drains `body` within the bounds, closing the connection after `response` if it did not end.
async fn finish_unread(waits_for_continue: bool, body: Body, mut response: Response) -> Response {
    // A client that asked to hear first (`Expect: 100-continue`, curl does for large bodies)
    // sends nothing more once it has the answer: reading would only invite the body.
    if waits_for_continue || !discard_body(body).await {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads and drops the body within the drain bounds; true if it ended.
async fn discard_body(mut body: Body) -> bool {
    use http_body_util::BodyExt as _;

    if http_body::Body::is_end_stream(&body) {
        return true;
    }
    let drain = async {
        let mut read = 0usize;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            read += frame.data_ref().map_or(0, |data| data.len());
            if read > DRAIN_LIMIT {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_WAIT, drain)
        .await
        .unwrap_or(false)
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Most body bytes read (and dropped) before an early answer; beyond, the connection closes.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Longest wait for the rest of a body before an early answer.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

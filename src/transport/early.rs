//! Answers given before a request's body is read (challenges, 404, 405, 406, 429), and what
//! happens to that body: a little is drained so the client reads the answer, the rest is left
//! and the connection closed.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

/// Answers a request early (a challenge, a 406, a 404, a 429) without reading its body into
/// memory: what has arrived of the body, or arrives within `DRAIN_WAIT`, up to
/// `DRAIN_LIMIT` bytes, is read and dropped frame by frame, so a client that sent its body
/// with the request (as Go's Digest client does on its first, unauthenticated attempt) is not
/// reset before it reads the answer. A body that is longer, slower or endless is left unread
/// and the connection closed after the answer (`Connection: close`): an unauthenticated client
/// can make the server hold neither its body nor its connection.
pub async fn answer_early(request: Request, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    if !discard_body(request).await {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Reads and drops the body within the drain bounds; true if it ended.
async fn discard_body(request: Request) -> bool {
    use http_body_util::BodyExt as _;

    // A client that asked to hear first (`Expect: 100-continue`, curl does for large bodies)
    // sends nothing more once it has the answer: reading would only invite the body.
    let expects_continue = request
        .headers()
        .get(axum::http::header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        return false;
    }
    let mut body = request.into_body();
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

/// Most body bytes read (and dropped) before an early answer; beyond, the connection closes.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Longest wait for the rest of a body before an early answer.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

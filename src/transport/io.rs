//! The socket as hyper sees it: every read tells the connection's watchdog that a client is
//! still sending, and the bare responses hyper writes by itself for requests it cannot parse
//! are replaced with Atlas error bodies.
//!
//! hyper answers a request line, header or URI it cannot parse (400), a head too large (431) or
//! a URI too long (414) on its own, before any service sees the request, with an empty body,
//! and offers no hook to change that. Those answers are recognisable: a response head written
//! when every request handed to the application already has its response head out (so it
//! answers a request the application never saw), with one of those statuses and no body (every
//! answer of the application carries an Atlas body). This wrapper swaps exactly those for the
//! same status with Atlas's JSON error, and leaves every other byte alone.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::limits::ConnectionState;
use crate::error::AppError;

pub(super) struct TrackedIo<T> {
    inner: T,
    state: Arc<ConnectionState>,
    /// Final response heads written so far.
    heads_written: u64,
    /// A replacement response still to be written, and how much of it has been.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<T> TrackedIo<T> {
    pub(super) fn new(inner: T, state: Arc<ConnectionState>) -> Self {
        Self {
            inner,
            state,
            heads_written: 0,
            replacement: None,
        }
    }
}

impl<T: AsyncWrite + Unpin> TrackedIo<T> {
    /// What to write in place of `buf`, if it is one of hyper's own error heads. Counts the
    /// response heads going out, to tell the application's from hyper's.
    fn replacement_for(&mut self, buf: &[u8]) -> Option<Vec<u8>> {
        if !buf.starts_with(b"HTTP/1.1 ") || buf.starts_with(b"HTTP/1.1 1") {
            return None;
        }
        if self.heads_written < self.state.dispatched() {
            self.heads_written += 1;
            return None;
        }
        atlas_error_for(buf)
    }

    /// Tells the watchdog whether the client is taking what is written: a full socket starts
    /// the response-write clock, any progress stops it.
    fn track_write(&self, written: &Poll<std::io::Result<usize>>) {
        match written {
            Poll::Pending => self.state.write_stalled(),
            Poll::Ready(Ok(n)) if *n > 0 => self.state.write_progressed(),
            Poll::Ready(_) => {}
        }
    }

    /// Writes what is left of a replacement before anything else goes out.
    fn poll_replacement(&mut self, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(context, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let outcome = Pin::new(&mut this.inner).poll_read(context, buf);
        if buf.filled().len() > before {
            this.state.bytes_received();
        }
        outcome
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(context))?;
        if let Some(replacement) = this.replacement_for(buf) {
            // hyper counts its own bytes as written; ours go out in their place.
            this.replacement = Some((replacement, 0));
            let _ = this.poll_replacement(context)?;
            return Poll::Ready(Ok(buf.len()));
        }
        let written = Pin::new(&mut this.inner).poll_write(context, buf);
        this.track_write(&written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(context))?;
        let mut non_empty = bufs.iter().filter(|buf| !buf.is_empty());
        if let Some(first) = non_empty.next() {
            let only = non_empty.next().is_none();
            match this.replacement_for(first) {
                Some(replacement) if only => {
                    this.replacement = Some((replacement, 0));
                    let _ = this.poll_replacement(context)?;
                    return Poll::Ready(Ok(first.len()));
                }
                _ => {}
            }
        }
        let written = Pin::new(&mut this.inner).poll_write_vectored(context, bufs);
        this.track_write(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(context))?;
        Pin::new(&mut this.inner).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(context))?;
        Pin::new(&mut this.inner).poll_shutdown(context)
    }
}

/// The Atlas response for one of hyper's own bodiless error heads, or `None` for anything else.
fn atlas_error_for(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let (status_line, headers) = rest.split_once("\r\n")?;
    if !headers.ends_with("\r\n\r\n") {
        return None;
    }
    let parts = match status_line {
        "400 Bad Request" => AppError::MalformedRequest.parts(),
        "414 URI Too Long" => AppError::UriTooLong.parts(),
        "431 Request Header Fields Too Large" => AppError::HeadersTooLarge.parts(),
        _ => return None,
    };
    let mut date = None;
    for line in headers.split("\r\n").filter(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            // Not bodiless: something the application wrote.
            "content-length" if value.trim() != "0" => return None,
            "transfer-encoding" | "content-type" => return None,
            "date" => date = Some(value.trim()),
            _ => {}
        }
    }
    let body = parts.json_bytes();
    let mut response = format!(
        "HTTP/1.1 {status_line}\r\ncontent-type: application/json\r\nx-error-code: {code}\r\ncontent-length: {length}\r\nconnection: close\r\n",
        code = parts.code,
        length = body.len(),
    );
    if let Some(date) = date {
        response.push_str("date: ");
        response.push_str(date);
        response.push_str("\r\n");
    }
    response.push_str("\r\n");
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(&body);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bodiless_errors_become_atlas_errors() {
        let head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 02:00:00 GMT\r\n\r\n";
        let replaced = String::from_utf8(atlas_error_for(head).expect("replaced")).expect("utf-8");
        let (head, body) = replaced.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains("date: Fri, 04 Dec 2026 02:00:00 GMT"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["error"], 400);
        assert_eq!(json["errorCode"], "MALFORMED_REQUEST");

        let uri = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
        assert!(atlas_error_for(uri).is_some());
        let headers = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(atlas_error_for(headers).is_some());
    }

    #[test]
    fn everything_else_is_left_alone() {
        for written in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 71\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"{\"error\":400}",
            b"\xff\xfe",
        ] {
            assert!(
                atlas_error_for(written).is_none(),
                "{}",
                String::from_utf8_lossy(written)
            );
        }
    }
}

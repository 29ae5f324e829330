//! The HTTP/1.1 server under [`crate::app`]: hyper's connection builder with the limits a
//! public listener needs, and a graceful shutdown.
//!
//! Decisions (issue 26, "the API under hostile clients"):
//!
//! - **Header-read and idle timeout** (`LEDGER_API_HEADER_TIMEOUT`, default 10 s). A connection
//!   must deliver a request's line and headers within it, counted from the accept or from the
//!   end of the previous response, so one silent or half-sent request — or an idle keep-alive
//!   connection — is closed after it. `axum::serve` set no timer, so hyper's timeout never ran
//!   and one client held 19,980 silent connections. The body is bounded by the request timeout
//!   (`LEDGER_API_TIMEOUT`) and the body limit, whose `Content-Length` check answers 413 before
//!   any of the body is read (`crate::edge`).
//! - **hyper's own error responses carry the JSON error body.** A request hyper cannot parse
//!   (bad bytes in the request line or a header, a URI over hyper's 65,534 bytes, headers over
//!   its buffer) never reaches the router: hyper answers 400, 414 or 431 itself with an empty
//!   body and closes the connection. [`JsonErrors`] sits between hyper and the socket and
//!   replaces exactly those heads — an error status with `content-length: 0` and no
//!   `content-type`, which the router never sends because every error it answers is JSON —
//!   by the same status with `{"error":{"code","message"}}`.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service as _;

use crate::error::{ErrorBody, ErrorDetail};

/// The default of `LEDGER_API_HEADER_TIMEOUT`.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// [`serve_with`] with the default header timeout.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, app, HEADER_TIMEOUT, shutdown).await
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish.
/// Each request carries its peer address as `ConnectInfo<SocketAddr>`; `header_timeout`
/// bounds how long a connection may take to send a request's headers, and how long it may stay
/// idle between requests (module documentation).
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Per-connection failures (a reset before accept) say nothing about the
                    // listener; anything else (out of file descriptors) is waited out.
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionRefused
                    ) {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = app.clone();
        let service = service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(req)
        });
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(JsonErrors::new(stream)), service);
            let mut conn = pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, %peer, "connection ended");
                    }
                }
                () = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(stop);
        });
    }
    drop(listener);
    stop_tx.send_replace(true);
    drop(stop_rx);
    // Every connection task holds a receiver until its connection has finished.
    stop_tx.closed().await;
    Ok(())
}

/// The socket under a hyper connection, rewriting hyper's own bodiless error responses into the
/// JSON error shape (module documentation). Reads pass through untouched.
#[derive(Debug)]
pub struct JsonErrors<IO> {
    inner: IO,
    /// A rewritten response still being written, and how much of it has been.
    pending: Option<(Vec<u8>, usize)>,
}

impl<IO> JsonErrors<IO> {
    pub fn new(inner: IO) -> JsonErrors<IO> {
        JsonErrors {
            inner,
            pending: None,
        }
    }
}

/// The JSON replacement for `head` when it is one of hyper's own error responses.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let status = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let (code, message) = match status {
        b"400" => (
            "bad_request",
            "the request line or a header is malformed and could not be parsed",
        ),
        b"414" => ("uri_too_long", "the request URI is longer than 65534 bytes"),
        b"431" => (
            "request_header_fields_too_large",
            "the request's headers are too large",
        ),
        _ => return None,
    };
    if !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let status_line = lines.next()?;
    let headers: Vec<&str> = lines.collect();
    let named = |name: &str| {
        headers.iter().find(|h| {
            h.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
    };
    let empty = named("content-length")
        .is_some_and(|h| h.split_once(':').is_some_and(|(_, v)| v.trim() == "0"));
    if !empty || named("content-type").is_some() {
        return None;
    }
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.to_owned(),
        },
    })
    .ok()?;
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(date) = named("date") {
        out.push_str(date);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<IO: AsyncWrite + Unpin> JsonErrors<IO> {
    /// Writes what is left of a rewritten response.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonErrors<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonErrors<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // Only a status of 400, 414 or 431 is looked at further.
        if matches!(buf.get(9..12), Some(b"400" | b"414" | b"431"))
            && let Some(replacement) = rewrite(buf)
        {
            self.pending = Some((replacement, 0));
            // The head is taken whole; what is not written yet goes out on the next write,
            // flush or shutdown.
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The `/metrics` route alone: what `anchor worker --metrics-addr` and `anchor scheduler
/// --metrics-addr` serve. It renders the process's one Prometheus recorder
/// ([`crate::state::prometheus`]), as the API's own `/metrics` does.
pub fn metrics_router() -> Router {
    let handle = crate::state::prometheus();
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        axum::http::HeaderValue::from_static("text/plain; version=0.0.4"),
                    )],
                    handle.render(),
                )
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bodiless_error_heads_become_json_and_others_pass() {
        let head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 10:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(head).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("date: Thu, 03 Dec 2026"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "uri_too_long");
        // Our own JSON errors and successful responses are left alone.
        assert!(
            rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n")
                .is_none()
        );
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}

//! The accept loop: plain HTTP or TLS connections, each served by hyper with the axum router.
//!
//! Each request carries a [`ConnectionInfo`] extension (TLS or not, and the client certificate)
//! for the gate. A response marked with [`DropConnection`] is never sent: the service fails
//! instead, so hyper closes the connection and the client sees it end without a response.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::rt::{Read, Write};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long shutdown waits for in-flight requests before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInfo {
    /// The connection is TLS.
    pub tls: bool,
    /// The DER certificate the client presented in the TLS handshake.
    pub client_certificate: Option<Arc<Vec<u8>>>,
}

/// Marks a response that must not be sent: its connection closes instead.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// The error that makes hyper close a connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose by an injected fault")]
struct ConnectionDropped;

/// Accepts connections until `stop` fires, then lets in-flight requests finish (for up to 10
/// seconds).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(error = %error, "Entrust simulator failed to accept a connection");
                        continue;
                    }
                };
                let connection = Connection {
                    builder: builder.clone(),
                    router: router.clone(),
                    watcher: graceful.watcher(),
                };
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => connection.serve(TokioIo::new(stream), ConnectionInfo::default()).await,
                        Some(acceptor) => connection.serve_tls(acceptor, stream).await,
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("Entrust simulator stopped before every request finished");
    }
}

/// The builder, router and shutdown watcher that serve one connection.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    watcher: Watcher,
}

impl Connection {
    async fn serve_tls(self, acceptor: TlsAcceptor, stream: tokio::net::TcpStream) {
        let stream = match acceptor.accept(stream).await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(error = %error, "Entrust simulator TLS handshake failed");
                return;
            }
        };
        let client_certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certificates| certificates.first())
            .map(|certificate| Arc::new(certificate.to_vec()));
        let info = ConnectionInfo {
            tls: true,
            client_certificate,
        };
        self.serve(TokioIo::new(stream), info).await;
    }

    async fn serve<I>(self, io: I, info: ConnectionInfo)
    where
        I: Read + Write + Unpin + Send + 'static,
    {
        let router = self.router;
        let service =
            hyper::service::service_fn(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(info.clone());
                let router = router.clone();
                async move {
                    let response = router
                        .oneshot(request)
                        .await
                        .unwrap_or_else(|never| match never {});
                    if response.extensions().get::<DropConnection>().is_some() {
                        return Err(ConnectionDropped);
                    }
                    Ok(response)
                }
            });
        let connection = self.builder.serve_connection(io, service).into_owned();
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(error = %error, "Entrust simulator connection ended with an error");
        }
    }
}

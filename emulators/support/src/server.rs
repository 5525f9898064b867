//! Accept loop on hyper directly, so a handler can ask for the connection to be closed
//! without any response (the dropped-connection fault), with optional TLS in front.

use std::sync::Arc;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::faults::DropConnection;

/// Request extension: the DER client certificate the TLS handshake verified (mutual TLS).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Arc<Vec<u8>>);

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Serves `router` on `listener` until `shutdown` changes; with `tls`, every connection is
/// a TLS connection (failed handshakes are logged and closed).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let router = router.clone();
        let stop = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(stream, router, None, stop).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => {
                        let peer = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| PeerCertificate(Arc::new(c.as_ref().to_vec())));
                        connection(stream, router, peer, stop).await;
                    }
                    Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                },
            }
        });
    }
}

async fn connection<S>(
    stream: S,
    router: Router,
    peer: Option<PeerCertificate>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
        let router = router.clone();
        if let Some(p) = &peer {
            req.extensions_mut().insert(p.clone());
        }
        async move {
            let response = match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                // hyper closes the connection without writing when the service fails.
                return Err(Dropped);
            }
            Ok::<_, Dropped>(response)
        }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = stop.changed() => {}
    }
}

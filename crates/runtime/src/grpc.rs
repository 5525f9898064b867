//! One gRPC server per service: standard health (grpc.health.v1), server reflection
//! (v1 and v1alpha) over every nopbridge proto, and the control API.
use crate::ControlState;
use nopbridge_proto::control::v1::control_server::ControlServer;
use std::net::SocketAddr;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

#[derive(Debug, Error)]
pub enum GrpcError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Binds first, so the caller learns the port before serving (listen port 0 in tests).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, GrpcError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| GrpcError::Bind { addr, source })
}

/// Serves until `shutdown`; health turns NOT_SERVING first so load balancers drain.
pub async fn serve(
    listener: TcpListener,
    control: ControlState,
    shutdown: CancellationToken,
) -> Result<(), GrpcError> {
    let addr = listener.local_addr().map_err(|source| GrpcError::Bind {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<ControlServer<ControlState>>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(nopbridge_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(nopbridge_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    info!(%addr, "gRPC control endpoint listening");
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        reporter
            .set_not_serving::<ControlServer<ControlState>>()
            .await;
    });
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ControlServer::new(control))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown.cancelled_owned(),
        )
        .await?;
    Ok(())
}

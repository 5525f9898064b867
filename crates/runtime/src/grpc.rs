//! One gRPC server per service: standard health (grpc.health.v1), server reflection
//! (v1 and v1alpha) over every nopbridge proto, and the control API.
use crate::ControlState;
use nopbridge_proto::control::v1::control_server::ControlServer;
use secrecy::{ExposeSecret, SecretString};
use tonic::service::Routes;

/// Adds a service's own gRPC services beside health, reflection and Control.
pub type ExtraServices = Box<dyn FnOnce(Routes) -> Routes + Send>;
use std::net::SocketAddr;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Status};
use tracing::info;

/// Checks `authorization: Bearer <token>` when a token is configured (services wrap their
/// own gRPC services with it, e.g. `LedgerServer::with_interceptor(svc, bearer(token))`).
pub fn bearer(token: Option<SecretString>) -> Bearer {
    Bearer(token)
}

#[derive(Clone)]
pub struct Bearer(Option<SecretString>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.0 else {
            return Ok(req);
        };
        let given = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), expected.expose_secret().as_bytes()) => Ok(req),
            _ => Err(Status::unauthenticated(
                "control API token missing or wrong: send metadata `authorization: Bearer <token>` (grpc.auth_token)",
            )),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

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
    auth_token: Option<SecretString>,
    extra: Option<ExtraServices>,
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
    let mut routes = Routes::new(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ControlServer::with_interceptor(control, bearer(auth_token)));
    if let Some(add) = extra {
        routes = add(routes);
    }
    tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown.cancelled_owned(),
        )
        .await?;
    Ok(())
}

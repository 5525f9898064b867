//! What every nopbridge service shares, so each service only adds its own behaviour:
//! layered typed config ([`config`]), logs and traces ([`telemetry`]), SIGTERM handling
//! ([`shutdown`]), PostgreSQL pool settings and group commit ([`db`]), the gRPC server with
//! health, reflection and the control API ([`grpc`], [`control`]), the topic registry
//! ([`topics`]) and the service skeleton ([`service`]).
pub mod config;
pub mod contract;
pub mod control;
pub mod db;
pub mod grpc;
pub mod meter;
pub mod metrics;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod topics;

pub use config::ConfigError;
pub use control::ControlState;
pub use meter::Meter;

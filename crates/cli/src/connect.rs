//! Where the services are, how to reach them, and errors that say what to do when they can't
//! be reached.
use clap::Args;
use nopbridge_proto::control::v1::{
    control_client::ControlClient, ingest_client::IngestClient, ledger_client::LedgerClient,
    summaries_client::SummariesClient,
};
use std::{process::ExitCode, time::Duration};
use thiserror::Error;
use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{interceptor::InterceptedService, Interceptor},
    transport::{Channel, Endpoint},
    Code, Request, Status,
};

#[derive(Debug, Clone, Args)]
pub struct Endpoints {
    /// Control API of ingest.
    #[arg(
        long,
        global = true,
        env = "NB_INGEST_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub ingest: String,
    /// Control API of transform.
    #[arg(
        long,
        global = true,
        env = "NB_TRANSFORM_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub transform: String,
    /// Control API of connector-sink.
    #[arg(
        long,
        global = true,
        env = "NB_CONNECTOR_SINK_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub connector_sink: String,
    /// Control API of the reconciler (ledger, traces, dead letters).
    #[arg(
        long,
        global = true,
        env = "NB_RECONCILER_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    pub reconciler: String,
    /// Control API token (the services' grpc.auth_token).
    #[arg(
        long,
        global = true,
        env = "NOPBRIDGE_GRPC__AUTH_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Seconds to wait for a service to answer.
    #[arg(long, global = true, default_value_t = 15)]
    pub timeout: u64,
}

pub const SERVICES: [&str; 4] = ["ingest", "transform", "connector-sink", "reconciler"];

#[derive(Debug, Error)]
pub enum CliError {
    #[error("cannot reach {service} at {url}: {reason}. Is the stack running (`scripts/stack.sh demo`)? Otherwise point --{service} at it.")]
    Unreachable {
        service: String,
        url: String,
        reason: String,
    },
    #[error("{service} refused the control token: set NOPBRIDGE_GRPC__AUTH_TOKEN or --token to the services' grpc.auth_token")]
    Unauthenticated { service: String },
    #[error("{service}: {message}")]
    Remote {
        service: String,
        code: Code,
        message: String,
    },
    #[error("unknown service `{0}`: use ingest, transform, connector-sink or reconciler")]
    UnknownService(String),
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// 2 when something could not be reached or refused us, 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Unreachable { .. } | Self::Unauthenticated { .. } => ExitCode::from(2),
            _ => ExitCode::from(1),
        }
    }

    pub fn from_status(service: &str, url: &str, s: Status) -> Self {
        match s.code() {
            Code::Unauthenticated => Self::Unauthenticated {
                service: service.into(),
            },
            Code::Unavailable | Code::DeadlineExceeded => Self::Unreachable {
                service: service.into(),
                url: url.into(),
                reason: s.message().to_string(),
            },
            code => Self::Remote {
                service: service.into(),
                code,
                message: s.message().to_string(),
            },
        }
    }
}

/// Adds `authorization: Bearer <token>` to every call when a token is set.
#[derive(Clone)]
pub struct Token(Option<MetadataValue<Ascii>>);

impl Interceptor for Token {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

pub type LedgerApi = LedgerClient<InterceptedService<Channel, Token>>;
pub type Control = ControlClient<InterceptedService<Channel, Token>>;
pub type IngestApi = IngestClient<InterceptedService<Channel, Token>>;
pub type SummariesApi = SummariesClient<InterceptedService<Channel, Token>>;

impl Endpoints {
    pub fn url(&self, service: &str) -> Result<&str, CliError> {
        Ok(match service {
            "ingest" => &self.ingest,
            "transform" => &self.transform,
            "connector-sink" | "connector_sink" => &self.connector_sink,
            "reconciler" => &self.reconciler,
            other => return Err(CliError::UnknownService(other.into())),
        })
    }

    async fn channel(&self, service: &str) -> Result<(Channel, Token), CliError> {
        let url = self.url(service)?;
        let unreachable = |reason: String| CliError::Unreachable {
            service: service.into(),
            url: url.into(),
            reason,
        };
        let timeout = Duration::from_secs(self.timeout.max(1));
        let channel = Endpoint::from_shared(url.to_string())
            .map_err(|e| CliError::Usage(format!("--{service} {url} is not a URL: {e}")))?
            .connect_timeout(timeout)
            .timeout(timeout)
            .connect()
            .await
            .map_err(|e| unreachable(source_chain(&e)))?;
        let token = match &self.token {
            Some(t) => Some(format!("Bearer {t}").parse().map_err(|_| {
                CliError::Usage("the token has characters a header cannot carry".into())
            })?),
            None => None,
        };
        Ok((channel, Token(token)))
    }

    pub async fn control(&self, service: &str) -> Result<Control, CliError> {
        let (ch, token) = self.channel(service).await?;
        Ok(ControlClient::with_interceptor(ch, token))
    }

    pub async fn ingest(&self) -> Result<IngestApi, CliError> {
        let (ch, token) = self.channel("ingest").await?;
        Ok(IngestClient::with_interceptor(ch, token))
    }

    pub async fn summaries(&self) -> Result<SummariesApi, CliError> {
        let (ch, token) = self.channel("transform").await?;
        Ok(SummariesClient::with_interceptor(ch, token))
    }

    pub async fn ledger(&self) -> Result<LedgerApi, CliError> {
        let (ch, token) = self.channel("reconciler").await?;
        Ok(LedgerClient::with_interceptor(ch, token))
    }
}

/// "transport error: connection refused" rather than just "transport error".
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

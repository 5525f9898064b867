//! What the sink loop needs from a target, and the registry of targets.
//!
//! A target lives in its own folder (`quickbooks/`, later `kashflow/`, `dynamics_gp/`) laid out
//! like a Vector sink: config, encoder, request builder, service with retry classification.
//! It implements [`Connection`] for one configured connection (a realm, an account, a company)
//! and registers one line in [`TARGETS`]: its topic name, its [`TargetKind`] and how to build
//! its connections from `[service]`. The sink loop ([`crate::sink`]) is the same for all:
//! decode, route by `connection_id`, post, write the result, dead-letter permanent failures.
use crate::{
    config::SinkSettings, dynamics_gp, kashflow, nopcommerce, quickbooks, xref::Store, SinkError,
};
use futures::future::BoxFuture;
use nopbridge_proto::{
    commands::v1::{Command, ResultStatus, TargetError, TargetKind, TargetRecord},
    control::v1::HealthState,
};
use std::{sync::Arc, time::Duration};

/// What one command did in the target.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: ResultStatus,
    pub records: Vec<TargetRecord>,
    /// The idempotency key sent (QuickBooks requestid), when the target has one.
    pub request_id: String,
    /// Calls to the target this command needed, retries included.
    pub attempts: u32,
}

impl Outcome {
    /// Nothing for this target to do (e.g. a stock command sent to an accounting target).
    pub fn skipped() -> Self {
        Self {
            status: ResultStatus::Skipped,
            records: Vec::new(),
            request_id: String::new(),
            attempts: 0,
        }
    }
}

/// How the sink loop treats a failed command.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Worth retrying (throttled or unavailable through every in-command retry, a database
    /// hiccup): the loop backs off and redelivers; idempotency keys stay the same.
    Transient(TargetError),
    /// The connection needs a person (credentials refused): commands wait for
    /// re-authorisation without calling the target, then fail with class `auth`.
    Disconnected(TargetError),
    /// Retrying cannot help: FAILED result and dead letter, the partition moves on.
    Permanent(TargetError),
    /// A document this command needs is not in the target yet (a refund or payment whose
    /// sale has not been posted: their events travel on different topics, so the sale's
    /// command may still be on its way). The sink loop puts the command back at the end of
    /// its topic a few times before it fails like a permanent one.
    NotYet(TargetError),
}

/// The error class of a [`Failure::NotYet`]: connectors mark "needs a document that is not
/// there yet" with it.
pub const PREREQUISITE: &str = "prerequisite";

impl Failure {
    pub fn error(&self) -> &TargetError {
        match self {
            Self::Transient(e) | Self::Disconnected(e) | Self::Permanent(e) | Self::NotYet(e) => e,
        }
    }

    /// A failure found before calling the target (configuration, the command itself).
    pub fn permanent(class: &str, detail: impl Into<String>, explanation: &str) -> Self {
        Self::Permanent(TargetError {
            code: String::new(),
            element: String::new(),
            detail: detail.into(),
            explanation: explanation.into(),
            class: class.into(),
        })
    }
}

/// One configured connection of a target.
pub trait Connection: Send + Sync {
    fn connection_id(&self) -> &str;

    fn target(&self) -> &'static Target;

    /// Posts one command. Idempotent: a redelivered or replayed command that was posted
    /// before reports what exists and never posts a second record.
    fn execute<'a>(&'a self, cmd: &'a Command) -> BoxFuture<'a, Result<Outcome, Failure>>;

    /// Whether the connection is known to need re-authorisation.
    fn is_disconnected(&self) -> bool {
        false
    }

    /// Waits up to `within` for re-authorisation without calling the target; false when it
    /// did not come.
    fn wait_connected(&self, _within: Duration) -> BoxFuture<'_, Result<bool, Failure>> {
        Box::pin(async { Ok(true) })
    }

    /// How long a command waits for a disconnected connection before it fails.
    fn disconnected_wait(&self) -> Duration {
        Duration::ZERO
    }
}

/// Reports a connection's health (wired to the control API's ConnectorHealth and metrics).
pub type HealthFn = Arc<dyn Fn(HealthState, &str) + Send + Sync>;

/// What every target's connections share: the sink's own database and one HTTP client.
pub struct Shared<'a> {
    pub settings: &'a SinkSettings,
    pub store: &'a Store,
    pub http: &'a reqwest::Client,
    /// Health reporting for one connection id.
    pub health: &'a (dyn Fn(&'static Target, &str) -> HealthFn + Sync),
    /// Where connections count their API calls (see [`nopbridge_runtime::Meter`]).
    pub control: &'a nopbridge_runtime::ControlState,
    /// For connections that also produce events (the QuickBooks stock watch).
    pub producer: &'a nopbridge_kafka::Producer,
    /// Stock watches the QuickBooks connections asked for; the service runs them.
    pub stock_watches: &'a parking_lot::Mutex<Vec<Arc<quickbooks::StockWatch>>>,
}

pub type Connect =
    for<'a> fn(&'a Shared<'a>) -> BoxFuture<'a, Result<Vec<Arc<dyn Connection>>, SinkError>>;

/// One registered target.
pub struct Target {
    /// The topic segment: commands arrive on `sink.<name>.commands.v1`.
    pub name: &'static str,
    pub kind: TargetKind,
    /// Builds the configured connections of this target.
    pub connect: Connect,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every target this sink posts to. A new target is a folder plus one line here (and its
/// connections' section in [`SinkSettings`]).
pub static TARGETS: &[&Target] = &[
    &quickbooks::TARGET,
    &nopcommerce::TARGET,
    &kashflow::TARGET,
    &dynamics_gp::TARGET,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_are_the_runtime_topic_names() {
        for t in TARGETS {
            assert!(
                nopbridge_runtime::topics::TARGETS.contains(&t.name),
                "{} has no command topic",
                t.name
            );
        }
    }
}

//! The `nopbridge` CLI: status of every service, ledger queries and order traces, dead letters
//! and their replay, backfill, drift reconciliation, daily-summary days, pause and resume, all over the gRPC control API (design.md §6).
mod backfill;
mod connect;
mod dlq;
mod ledger;
mod reconcile;
mod render;
mod status;
mod summaries;

use clap::{Args, Parser, Subcommand};
pub use connect::{CliError, Endpoints};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "nopbridge", version, about = "Operate a nopbridge deployment")]
pub struct Cli {
    #[command(flatten)]
    pub endpoints: Endpoints,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lag, throughput, errors, paused state and connector health of every service.
    Status,
    /// Everything that happened to one store order: events, commands, results, dead letters.
    Trace {
        /// The store's order id or its display number.
        order: String,
        /// Print the steps' details as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ledger entries by order number, status or update date.
    Ledger(ledger::LedgerArgs),
    /// Dead letters: list them with the reason and what to do, or replay them.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Read the store's orders and customers again from a date (records already ingested
    /// unchanged emit nothing); shows the progress until done.
    Backfill(backfill::BackfillArgs),
    /// Drift between the store and the books for orders created in a date range; with
    /// --repair the targets check and correct their documents.
    Reconcile(reconcile::ReconcileArgs),
    /// Business days of daily-summary connections: list them, close one now.
    Summaries {
        #[command(subcommand)]
        command: summaries::SummariesCommand,
    },
    /// Stop consuming on a service, for all connections or one (transform: a daily-summary
    /// connection's days stay open).
    Pause(PauseArgs),
    /// Resume what `pause` stopped.
    Resume(PauseArgs),
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead-lettered records.
    List(dlq::Filter),
    /// Send dead-lettered records back to the topic they failed on (after fixing the cause).
    Replay {
        #[command(flatten)]
        filter: dlq::Filter,
        /// Show what would be replayed without sending anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Which service: ingest, transform, connector-sink or reconciler.
    #[arg(long, default_value = "connector-sink")]
    pub service: String,
    /// One connection only (default: the whole service).
    #[arg(long)]
    pub connection: Option<String>,
}

/// Runs one command; the exit code says whether everything it looked at was healthy.
pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let e = &cli.endpoints;
    match cli.command {
        Command::Status => status::run(e).await,
        Command::Trace { order, json } => ledger::trace(e, &order, json).await,
        Command::Ledger(args) => ledger::query(e, &args).await,
        Command::Dlq {
            command: DlqCommand::List(f),
        } => dlq::list(e, &f).await,
        Command::Dlq {
            command: DlqCommand::Replay { filter, dry_run },
        } => dlq::replay(e, &filter, dry_run).await,
        Command::Backfill(a) => backfill::run(e, &a).await,
        Command::Reconcile(a) => reconcile::run(e, &a).await,
        Command::Summaries { command } => summaries::run(e, &command).await,
        Command::Pause(a) => status::pause(e, &a.service, a.connection.as_deref(), true).await,
        Command::Resume(a) => status::pause(e, &a.service, a.connection.as_deref(), false).await,
    }
}

//! `nopbridge backfill --since`: ingest reads the store's history again from a date.
use crate::{
    connect::{CliError, Endpoints},
    ledger::day,
    render::Table,
};
use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use nopbridge_proto::control::v1::BackfillRequest;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Orders and customers created on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub since: NaiveDate,
    /// One store connection only (default: every connection of the ingest).
    #[arg(long)]
    pub connection: Option<String>,
    /// Start it and return; `nopbridge status` shows the progress.
    #[arg(long)]
    pub no_wait: bool,
}

pub async fn run(e: &Endpoints, a: &BackfillArgs) -> Result<ExitCode, CliError> {
    let mut client = e.ingest().await?;
    let status = |s| CliError::from_status("ingest", &e.ingest, s);
    let mut stream = client
        .backfill(BackfillRequest {
            connection_id: a.connection.clone().unwrap_or_default(),
            since: day(Some(a.since)),
            wait: !a.no_wait,
        })
        .await
        .map_err(status)?
        .into_inner();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>10} {bar:30} {pos}/{len} {per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("backfill");
    let mut last = None;
    while let Some(p) = stream.message().await.map_err(status)? {
        bar.set_length(p.progress.iter().map(|p| p.total).sum());
        bar.set_position(p.progress.iter().map(|p| p.done).sum());
        last = Some(p);
    }
    bar.finish_and_clear();
    let Some(p) = last else {
        return Err(CliError::Usage(
            "ingest ended without a report; see its log".into(),
        ));
    };
    let mut t = Table::new(&["BACKFILL", "DONE", "TOTAL"]);
    for r in &p.progress {
        t.row(vec![
            r.name.clone(),
            r.done.to_string(),
            r.total.to_string(),
        ]);
    }
    print!("{t}");
    if p.finished {
        println!("backfill finished");
    } else {
        println!("backfill started; `nopbridge status` shows its progress");
    }
    Ok(ExitCode::SUCCESS)
}

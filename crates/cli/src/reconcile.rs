//! `nopbridge reconcile --from --to [--repair]`: drift between the store and the books.
use crate::{
    connect::{CliError, Endpoints},
    ledger::day,
    render::Table,
};
use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use nopbridge_proto::control::v1::ReconcileRequest;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Orders created on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: NaiveDate,
    /// Orders created up to the end of this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub to: NaiveDate,
    /// Send every order in the range again for the targets to check and correct.
    #[arg(long)]
    pub repair: bool,
    /// With --repair: seconds to wait for the targets' answers.
    #[arg(long, default_value_t = 120)]
    pub wait: u32,
    /// One accounting connection only.
    #[arg(long)]
    pub connection: Option<String>,
}

/// Exit 0 when no drift is left, 1 when some is (repaired drift counts as found: the report
/// says what was corrected).
pub async fn run(e: &Endpoints, a: &ReconcileArgs) -> Result<ExitCode, CliError> {
    let mut client = e.ledger().await?;
    let status = |s| CliError::from_status("reconciler", &e.reconciler, s);
    let mut stream = client
        .reconcile(ReconcileRequest {
            from: day(Some(a.from)),
            to: day(a.to.succ_opt()).map(|mut t| {
                t.seconds -= 1;
                t
            }),
            repair: a.repair,
            wait_seconds: a.wait,
            connection_id: a.connection.clone().unwrap_or_default(),
        })
        .await
        .map_err(status)?
        .into_inner();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>12} {bar:30} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut last = None;
    while let Some(p) = stream.message().await.map_err(status)? {
        bar.set_message(p.phase.clone());
        bar.set_length(u64::from(p.total));
        bar.set_position(u64::from(p.done));
        last = Some(p);
    }
    bar.finish_and_clear();
    let Some(p) = last else {
        return Err(CliError::Usage(
            "the reconciler ended without a report; see its log".into(),
        ));
    };
    println!("{} orders created {} to {}", p.orders, a.from, a.to);
    if a.repair {
        println!("{} documents checked and in sync", p.in_sync);
    }
    if p.drift.is_empty() {
        println!("no drift");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["ORDER", "CONNECTION", "DRIFT", "DETAIL"]);
    for d in &p.drift {
        t.row(vec![
            d.order_id.clone(),
            d.connection_id.clone(),
            d.kind.clone(),
            d.detail.clone(),
        ]);
    }
    print!("{t}");
    Ok(ExitCode::from(1))
}

//! `nopbridge dlq list` and `nopbridge dlq replay`.
use crate::{
    connect::{CliError, Endpoints},
    render::{or_dash, Table},
};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use nopbridge_proto::control::v1::{DeadLetterQuery, ReplayRequest};
use std::process::ExitCode;

#[derive(Debug, Clone, Args)]
pub struct Filter {
    #[arg(long)]
    pub connection: Option<String>,
    /// The store's order number.
    #[arg(long)]
    pub order: Option<String>,
    /// Failure class, e.g. validation, retries_exhausted, decode.
    #[arg(long)]
    pub class: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

pub async fn list(e: &Endpoints, f: &Filter) -> Result<ExitCode, CliError> {
    let mut client = e.ledger().await?;
    let res = client
        .dead_letters(DeadLetterQuery {
            connection_id: f.connection.clone().unwrap_or_default(),
            limit: f.limit,
            order_number: f.order.clone().unwrap_or_default(),
            error_class: f.class.clone().unwrap_or_default(),
        })
        .await
        .map_err(|s| CliError::from_status("reconciler", &e.reconciler, s))?
        .into_inner();
    if res.entries.is_empty() {
        println!("no dead letters match");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["ORDER", "CONNECTION", "ENTITY", "ATTEMPTS", "REASON"]);
    for d in &res.entries {
        t.row(vec![
            or_dash(&d.order_number),
            or_dash(&d.connection_id),
            format!("{} {}", d.entity_type, d.source_id),
            d.attempts.to_string(),
            d.last_error.clone(),
        ]);
    }
    print!("{t}");
    // One explanation per distinct kind of failure, not one per row.
    let mut seen = std::collections::BTreeSet::new();
    for d in &res.entries {
        if seen.insert(d.explanation.clone()) && !d.explanation.is_empty() {
            println!("\n- {}", d.explanation);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn replay(e: &Endpoints, f: &Filter, dry_run: bool) -> Result<ExitCode, CliError> {
    let mut client = e.ledger().await?;
    let status = |s| CliError::from_status("reconciler", &e.reconciler, s);
    let mut stream = client
        .replay(ReplayRequest {
            connection_id: f.connection.clone().unwrap_or_default(),
            order_number: f.order.clone().unwrap_or_default(),
            error_class: f.class.clone().unwrap_or_default(),
            limit: f.limit,
            dry_run,
        })
        .await
        .map_err(status)?
        .into_inner();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut replayed, mut missing) = (0u32, 0u32);
    while let Some(p) = stream.message().await.map_err(status)? {
        bar.set_length(u64::from(p.total));
        bar.set_position(u64::from(p.done));
        let what = p
            .entry
            .as_ref()
            .map(|d| {
                format!(
                    "{} {} ({})",
                    d.entity_type,
                    or_dash(&d.order_number),
                    d.connection_id
                )
            })
            .unwrap_or_default();
        match p.outcome.as_str() {
            "missing" => {
                missing += 1;
                bar.println(format!(
                    "{what}: dead letter {} is gone from its topic (retention); use a backfill",
                    p.dead_letter
                ));
            }
            outcome => {
                replayed += 1;
                bar.println(format!("{what}: {outcome} to {}", p.replayed_to));
            }
        }
    }
    bar.finish_and_clear();
    let verb = if dry_run { "would replay" } else { "replayed" };
    println!("{verb} {replayed}, missing {missing}");
    Ok(if missing > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

//! `nopbridge trace ORDER` and `nopbridge ledger`.
use crate::{
    connect::{CliError, Endpoints},
    render::{money, or_dash, time, Table},
};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use nopbridge_proto::control::v1::{LedgerEntry, LedgerQuery, TraceRequest};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// The store's order number.
    #[arg(long)]
    pub order: Option<String>,
    /// posted, updated, voided, failed, dead_lettered, replayed or skipped.
    #[arg(long)]
    pub status: Option<String>,
    /// Updated on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Updated before this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

pub fn day(d: Option<NaiveDate>) -> Option<prost_types::Timestamp> {
    d.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| prost_types::Timestamp {
            seconds: DateTime::<Utc>::from_naive_utc_and_offset(t, Utc).timestamp(),
            nanos: 0,
        })
}

pub fn entries_table(entries: &[LedgerEntry]) -> Table {
    let mut t = Table::new(&[
        "ORDER",
        "CONNECTION",
        "TARGET",
        "STATUS",
        "DOCUMENT",
        "TARGET ID",
        "TOTAL",
        "ATTEMPTS",
        "UPDATED",
        "LAST ERROR",
    ]);
    for e in entries {
        t.row(vec![
            // A daily summary's row (in an order's trace) is named by its document number.
            or_dash(&if e.entity_type == "daily_summary" {
                format!("summary {}", e.source_id)
            } else if e.order_number.is_empty() {
                e.source_id.clone()
            } else {
                e.order_number.clone()
            }),
            e.connection_id.clone(),
            e.target.clone(),
            e.status.clone(),
            or_dash(format!("{} {}", e.target_entity, e.document_number).trim()),
            or_dash(&e.target_id),
            money(e.total_minor_units, &e.currency),
            e.attempts.to_string(),
            time(e.updated_at.as_ref()),
            or_dash(&e.last_error),
        ]);
    }
    t
}

pub async fn query(e: &Endpoints, a: &LedgerArgs) -> Result<ExitCode, CliError> {
    let mut client = e.ledger().await?;
    let res = client
        .query(LedgerQuery {
            order_number: a.order.clone().unwrap_or_default(),
            status: a.status.clone().unwrap_or_default(),
            updated_from: day(a.from),
            updated_to: day(a.to),
            limit: a.limit,
        })
        .await
        .map_err(|s| CliError::from_status("reconciler", &e.reconciler, s))?
        .into_inner();
    if res.entries.is_empty() {
        println!("no ledger entries match");
    } else {
        print!("{}", entries_table(&res.entries));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn trace(e: &Endpoints, order: &str, json: bool) -> Result<ExitCode, CliError> {
    let mut client = e.ledger().await?;
    let t = client
        .trace(TraceRequest {
            order: order.to_string(),
        })
        .await
        .map_err(|s| CliError::from_status("reconciler", &e.reconciler, s))?
        .into_inner();
    println!("order {} (store id {})\n", order, t.order_id);
    if !t.entries.is_empty() {
        println!("{}", entries_table(&t.entries));
    }
    let mut steps = Table::new(&[
        "AT",
        "STEP",
        "CONNECTION",
        "STATUS",
        "COMMAND",
        "FROM",
        "DETAIL",
    ]);
    for s in &t.steps {
        steps.row(vec![
            time(s.at.as_ref()),
            s.kind.clone(),
            or_dash(&s.connection_id),
            or_dash(&s.status),
            or_dash(&s.command_id),
            s.source.clone(),
            if json {
                s.detail_json.clone()
            } else {
                summary(&s.detail_json)
            },
        ]);
    }
    print!("{steps}");
    Ok(ExitCode::SUCCESS)
}

/// The few detail fields worth a glance; `--json` shows everything.
fn summary(detail: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(detail) else {
        return detail.to_string();
    };
    let keys = [
        "command_kind",
        "event_id",
        "request_id",
        "attempts",
        "message",
        "error",
        "replayed_to",
    ];
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|k| match v.get(*k) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.is_empty() => None,
            Some(serde_json::Value::String(s)) => Some(format!("{k}={s}")),
            Some(other) => Some(format!("{k}={other}")),
        })
        .collect();
    parts.join(" ")
}

//! `nopbridge summaries list|close`: the business days of transform's daily-summary
//! connections (mapping `posting.mode: daily_summary`).
use crate::{
    connect::{CliError, Endpoints},
    render::{or_dash, time, Table},
};
use chrono::NaiveDate;
use clap::Subcommand;
use nopbridge_proto::control::v1::{CloseDayRequest, DayState, ListDaysRequest, SummaryDay};
use std::process::ExitCode;
use tonic::Code;

#[derive(Debug, Subcommand)]
pub enum SummariesCommand {
    /// Open days with their orders and when they close (--all: closed ones too).
    List {
        /// One connection only.
        #[arg(long)]
        connection: Option<String>,
        /// Also list closed days, newest first.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Close one day now: post its summaries. Orders that arrive for it later are
    /// dead-lettered as late; closing a closed day posts nothing.
    Close {
        #[arg(long)]
        connection: String,
        /// The business day (YYYY-MM-DD, in the connection's posting.utc_offset_minutes).
        #[arg(long)]
        date: NaiveDate,
        /// Allow closing a day that has not ended yet.
        #[arg(long)]
        before_day_end: bool,
    },
}

fn error(e: &Endpoints, s: tonic::Status) -> CliError {
    if s.code() == Code::Unimplemented {
        return CliError::Usage(
            "transform keeps no daily summaries: no service.database_url is set (it is needed only by connections with posting.mode: daily_summary)".into(),
        );
    }
    CliError::from_status("transform", &e.transform, s)
}

fn state_name(d: &SummaryDay) -> &'static str {
    match d.state() {
        DayState::Open => "open",
        DayState::Closing => "closing",
        DayState::Closed => "closed",
        DayState::Unspecified => "?",
    }
}

fn table(days: &[SummaryDay]) -> Table {
    let mut t = Table::new(&[
        "CONNECTION",
        "DAY",
        "STATE",
        "ORDERS",
        "SUMMARIES",
        "LEFT OUT",
        "CLOSES / CLOSED",
        "BY",
        "DETAIL",
    ]);
    for d in days {
        let when = match d.state() {
            DayState::Open => time(d.closes_at.as_ref()),
            _ => time(d.closed_at.as_ref()),
        };
        t.row(vec![
            d.connection_id.clone(),
            d.business_date.clone(),
            state_name(d).into(),
            d.orders.to_string(),
            d.summaries.to_string(),
            d.dead_lettered.to_string(),
            when,
            or_dash(&d.closed_by),
            or_dash(&d.detail),
        ]);
    }
    t
}

pub async fn run(e: &Endpoints, c: &SummariesCommand) -> Result<ExitCode, CliError> {
    let mut client = e.summaries().await?;
    match c {
        SummariesCommand::List {
            connection,
            all,
            limit,
        } => {
            let days = client
                .list_days(ListDaysRequest {
                    connection_id: connection.clone().unwrap_or_default(),
                    include_closed: *all,
                    limit: *limit,
                })
                .await
                .map_err(|s| error(e, s))?
                .into_inner()
                .days;
            if days.is_empty() {
                println!("no {}days", if *all { "" } else { "open " });
            } else {
                print!("{}", table(&days));
            }
            Ok(ExitCode::SUCCESS)
        }
        SummariesCommand::Close {
            connection,
            date,
            before_day_end,
        } => {
            let r = client
                .close_day(CloseDayRequest {
                    connection_id: connection.clone(),
                    business_date: date.to_string(),
                    before_day_end: *before_day_end,
                })
                .await
                .map_err(|s| error(e, s))?
                .into_inner();
            let day = r.day.unwrap_or_default();
            print!("{}", table(std::slice::from_ref(&day)));
            if r.closed_now {
                println!(
                    "day {} of {connection} closed: {} summaries posted for {} orders{}",
                    day.business_date,
                    day.summaries,
                    day.orders,
                    if day.dead_lettered > 0 {
                        format!(
                            ", {} orders left out and dead-lettered (`nopbridge dlq list --connection {connection}`)",
                            day.dead_lettered
                        )
                    } else {
                        String::new()
                    }
                );
            } else {
                println!(
                    "day {} of {connection} was already closed: nothing posted again",
                    day.business_date
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

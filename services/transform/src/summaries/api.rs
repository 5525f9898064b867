//! `nopbridge.control.v1.Summaries`, served by transform beside Control: the days of its
//! daily-summary connections, and closing one now (`nopbridge summaries list|close`).
use super::close::BY_OPERATOR;
use super::store::{Day, DayState};
use super::{days, is_summary_connection, Summaries, SummaryError};
use chrono::NaiveDate;
use nopbridge_proto::control::v1::{
    summaries_server::{Summaries as SummariesRpc, SummariesServer},
    CloseDayRequest, CloseDayResponse, DayState as PbDayState, ListDaysRequest, ListDaysResponse,
    SummaryDay,
};
use nopbridge_runtime::control::timestamp;
use nopbridge_runtime::grpc::{bearer, Bearer};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use tonic::{service::interceptor::InterceptedService, Request, Response, Status};

/// How long CloseDay waits for another transform that is closing the same day.
const BUSY_WAIT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct SummariesApi {
    inner: Arc<Summaries>,
}

impl SummariesApi {
    pub fn new(inner: Arc<Summaries>) -> Self {
        Self { inner }
    }

    pub fn into_server(
        self,
        token: Option<SecretString>,
    ) -> InterceptedService<SummariesServer<Self>, Bearer> {
        SummariesServer::with_interceptor(self, bearer(token))
    }

    fn to_pb(&self, d: &Day) -> SummaryDay {
        let s = &self.inner;
        let mapper = s.mapper();
        let loaded = mapper
            .connection(&d.connection_id)
            .is_some_and(is_summary_connection);
        let open = d.state == DayState::Open;
        let detail = if !open {
            String::new()
        } else if !loaded {
            "the connection is no longer a daily-summary connection in the mapping: this day does not close by itself".into()
        } else if s.control.is_connection_paused(&d.connection_id) {
            "connection paused in transform: the day stays open".into()
        } else {
            String::new()
        };
        SummaryDay {
            connection_id: d.connection_id.clone(),
            business_date: d.date.to_string(),
            state: match d.state {
                DayState::Open => PbDayState::Open,
                DayState::Closing => PbDayState::Closing,
                DayState::Closed => PbDayState::Closed,
            } as i32,
            orders: u32::try_from(d.orders).unwrap_or(u32::MAX),
            summaries: u32::try_from(d.summaries).unwrap_or(u32::MAX),
            dead_lettered: u32::try_from(d.dead_lettered).unwrap_or(u32::MAX),
            closes_at: if open {
                s.closes_at(&d.connection_id, d.date, d.last_change)
                    .map(timestamp)
            } else {
                None
            },
            closed_at: d.closed_at.map(timestamp),
            closed_by: d.closed_by.clone(),
            detail,
        }
    }
}

fn store_error(e: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("summary database: {e}"))
}

#[tonic::async_trait]
impl SummariesRpc for SummariesApi {
    async fn list_days(
        &self,
        req: Request<ListDaysRequest>,
    ) -> Result<Response<ListDaysResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.limit == 0 {
            100
        } else {
            i64::from(r.limit)
        };
        let conn = (!r.connection_id.is_empty()).then_some(r.connection_id.as_str());
        let found = self
            .inner
            .store
            .days(conn, r.include_closed, limit)
            .await
            .map_err(store_error)?;
        Ok(Response::new(ListDaysResponse {
            days: found.iter().map(|d| self.to_pb(d)).collect(),
        }))
    }

    async fn close_day(
        &self,
        req: Request<CloseDayRequest>,
    ) -> Result<Response<CloseDayResponse>, Status> {
        let r = req.into_inner();
        let s = &self.inner;
        let mapper = s.mapper();
        let Some(conn) = mapper.connection(&r.connection_id) else {
            let known: Vec<&str> = mapper
                .connections()
                .iter()
                .filter(|c| is_summary_connection(c))
                .map(|c| c.config.connection_id.as_str())
                .collect();
            return Err(Status::not_found(format!(
                "no connection {:?} in transform's mapping; its daily-summary connections: {}",
                r.connection_id,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let date: NaiveDate = r.business_date.parse().map_err(|_| {
            Status::invalid_argument(format!(
                "business_date {:?} is not a date (YYYY-MM-DD)",
                r.business_date
            ))
        })?;
        // A connection that left daily-summary mode may still have days to close.
        if !is_summary_connection(conn)
            && s.store
                .day(&r.connection_id, date)
                .await
                .map_err(store_error)?
                .is_none()
        {
            return Err(Status::failed_precondition(format!(
                "connection {} does not post daily summaries (posting.mode) and has no day {date}",
                r.connection_id
            )));
        }
        let offset = conn.config.posting.utc_offset_minutes;
        if date > days::today(s.now(), offset) {
            return Err(Status::failed_precondition(format!(
                "day {date} of connection {} has not started yet (UTC{offset:+} minutes); only a day that has started can be closed",
                r.connection_id
            )));
        }
        let end = days::day_end(date, offset);
        if s.now() < end && !r.before_day_end {
            return Err(Status::failed_precondition(format!(
                "day {date} of connection {} ends at {} (UTC{offset:+} minutes); to close it before then pass before_day_end (`--before-day-end`): its orders paid after now will be dead-lettered as late",
                r.connection_id,
                end.format("%Y-%m-%dT%H:%MZ"),
            )));
        }
        let id = r.connection_id.clone();
        drop(mapper);
        let deadline = tokio::time::Instant::now() + BUSY_WAIT;
        let (day, closed_now) = loop {
            match s.close_day(&id, date, BY_OPERATOR).await {
                Ok(done) => break done,
                Err(SummaryError::Busy(why)) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%why, "close day: waiting");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(SummaryError::Busy(why)) => return Err(Status::unavailable(why)),
                Err(SummaryError::Plan(e)) => return Err(Status::failed_precondition(e.to_string())),
                Err(e) => return Err(Status::unavailable(format!(
                    "day {date} of connection {id} is not closed yet: {e}; try again (what is decided stays decided)"
                ))),
            }
        };
        Ok(Response::new(CloseDayResponse {
            day: Some(self.to_pb(&day)),
            closed_now,
        }))
    }
}

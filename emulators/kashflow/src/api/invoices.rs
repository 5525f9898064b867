//! `/v2/invoices`: list (paged, filtered, sorted), read, create, update, delete by Number;
//! next number; bulk payments.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::customers::{by_number, by_text};
use super::{origin, path_number, reply, Authed};
use crate::error::{ApiError, ApiResult};
use crate::json;
use crate::paging::{self, Column, Params};
use crate::state::{incr, AppState};
use crate::store::{key, Invoice};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/invoices", get(list).post(create))
        .route(
            "/v2/invoices/{number}",
            get(read).put(update).delete(remove),
        )
        .route("/v2/nextavailableinvoicenumber", get(next_number))
        .route("/v2/invoices/bulk/payments", post(bulk_payment))
        .route(
            "/v2/invoices/bulk/payments/{number}",
            get(read_bulk_payment),
        )
}

const COLUMNS: [Column<Value>; 12] = [
    (0, "Number", |a, b| by_number(a, b, "Number")),
    (1, "CustomerRef", |a, b| by_text(a, b, "CustomerReference")),
    (2, "CustomerName", |a, b| by_text(a, b, "CustomerName")),
    (3, "InvoiceDate", |a, b| by_text(a, b, "IssuedDate")),
    (4, "DueDate", |a, b| by_text(a, b, "DueDate")),
    (5, "Gross", |a, b| by_number(a, b, "GrossAmount")),
    (6, "Net", |a, b| by_number(a, b, "NetAmount")),
    (7, "Status", |a, b| by_text(a, b, "Status")),
    (8, "PaidDate", |a, b| by_text(a, b, "PaidDate")),
    (9, "DueAmount", |a, b| by_number(a, b, "DueAmount")),
    (10, "Type", |a, b| by_text(a, b, "Type")),
    (11, "VAT", |a, b| by_number(a, b, "VATAmount")),
];

/// `statusfilter`: a status name or the documented enum (0 All, 1 Unpaid, 2 PartPaid,
/// 3 Overdue, 6 Paid, 7 NotFullyPaid).
fn status_matches(filter: &str, inv: &Invoice) -> ApiResult<bool> {
    let status = inv.status();
    Ok(match filter.trim().to_lowercase().as_str() {
        "0" | "all" => true,
        "1" | "unpaid" => status == "Unpaid",
        "2" | "partpaid" => status == "PartPaid",
        "3" | "overdue" | "4" | "overduepartpaid" => false,
        "6" | "paid" => status == "Paid",
        "7" | "notfullypaid" => status != "Paid",
        other => {
            return Err(ApiError::validation(format!(
                "statusfilter {other} is not supported."
            )))
        }
    })
}

fn filtered(auth: &Authed, params: &Params) -> ApiResult<(Vec<Value>, Decimal)> {
    let acc = auth.account.lock();
    let customer = params.get("customercode").map(key);
    let search = params.get("searchtext").map(str::to_lowercase);
    let from = params
        .get("issuedatefrom")
        .map(parse_filter_date)
        .transpose()?;
    let to = params
        .get("issuedateto")
        .map(parse_filter_date)
        .transpose()?;
    let mut rows = Vec::new();
    let mut total = Decimal::ZERO;
    for inv in acc.invoices.values() {
        if customer
            .as_ref()
            .is_some_and(|c| *c != key(&inv.customer_code))
        {
            continue;
        }
        if let Some(s) = &search {
            let reference = inv.reference().unwrap_or_default().to_lowercase();
            if !reference.contains(s.as_str()) && inv.number.to_string() != *s {
                continue;
            }
        }
        if from.is_some_and(|d| inv.issued < d) || to.is_some_and(|d| inv.issued > d) {
            continue;
        }
        if let Some(f) = params.get("statusfilter") {
            if !status_matches(f, inv)? {
                continue;
            }
        }
        total += inv.totals().gross;
        rows.push(acc.render_invoice(inv, false));
    }
    Ok((rows, total))
}

fn parse_filter_date(text: &str) -> ApiResult<chrono::NaiveDateTime> {
    json::parse_date(text)
        .ok_or_else(|| ApiError::validation(format!("{text} is not a valid date.")))
}

async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(params);
    let result = (|| {
        let page = paging::page(
            &params,
            state.config.paging.invoices_per_page,
            &state.config.paging,
        )?;
        let (mut rows, total) = filtered(&auth, &params)?;
        paging::sort(&mut rows, &params, &COLUMNS, 0)?;
        let url = format!("{}/v2/invoices", origin(&headers));
        Ok::<_, ApiError>(paging::envelope(rows, page, &url, &params, total))
    })();
    match result {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

async fn read(auth: Authed, Path(number): Path<String>) -> Response {
    let acc = auth.account.lock();
    match path_number(&number, "Invoice").and_then(|n| acc.invoice(n)) {
        Ok(inv) => reply(StatusCode::OK, acc.render_invoice(inv, true)),
        Err(e) => e.into_response(),
    }
}

/// 201 with the full invoice.
async fn create(State(state): State<Arc<AppState>>, auth: Authed, body: Bytes) -> Response {
    incr(&state.counters.writes);
    let ctx = state.ctx();
    let mut acc = auth.account.lock();
    let r = json::object(&body).and_then(|b| acc.create_invoice(b, &ctx));
    match acc.failed(r) {
        Ok(inv) => reply(StatusCode::CREATED, acc.render_invoice(&inv, true)),
        Err(e) => e.into_response(),
    }
}

/// 200, or 201 when the body changed the Number.
async fn update(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    incr(&state.counters.writes);
    let ctx = state.ctx();
    let mut acc = auth.account.lock();
    let r = path_number(&number, "Invoice")
        .and_then(|n| Ok((n, json::object(&body)?)))
        .and_then(|(n, b)| acc.update_invoice(n, b, &ctx));
    match acc.failed(r) {
        Ok((inv, renumbered)) => {
            let status = if renumbered {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            reply(status, acc.render_invoice(&inv, true))
        }
        Err(e) => e.into_response(),
    }
}

async fn remove(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(number): Path<String>,
) -> Response {
    incr(&state.counters.writes);
    let mut acc = auth.account.lock();
    let r = path_number(&number, "Invoice").and_then(|n| acc.delete_invoice(n));
    match acc.failed(r) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn next_number(auth: Authed) -> Response {
    reply(
        StatusCode::OK,
        json!(auth.account.lock().next_invoice_number()),
    )
}

async fn bulk_payment(State(state): State<Arc<AppState>>, auth: Authed, body: Bytes) -> Response {
    incr(&state.counters.writes);
    let ctx = state.ctx();
    let mut acc = auth.account.lock();
    let r = json::object(&body).and_then(|b| acc.create_bulk_payment(b, &ctx));
    match acc.failed(r) {
        Ok(v) => reply(StatusCode::CREATED, v),
        Err(e) => e.into_response(),
    }
}

async fn read_bulk_payment(auth: Authed, Path(number): Path<String>) -> Response {
    let acc = auth.account.lock();
    let found = path_number(&number, "Bulk payment").and_then(|n| {
        acc.bulk_payments
            .get(&n)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("Bulk payment {n} does not exist.")))
    });
    match found {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

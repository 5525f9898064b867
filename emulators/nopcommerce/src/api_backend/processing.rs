//! `OrderProcessing/*`: GET actions that run the OrderProcessingService rules.
//! Success answers 200 with an empty body; a refused action answers 400 ProblemDetails
//! with the service's exception message; an unknown id answers 404.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::orders::tri;
use super::support::{problem, store_error};
use super::{params, path_id, Q};
use crate::json::ok;
use crate::processing::Mode;
use crate::state::Shared;
use crate::store::{Store, StoreResult};

fn done(r: StoreResult<()>) -> Response {
    match r {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => store_error(e),
    }
}

fn answer(r: StoreResult<bool>) -> Response {
    match r {
        Ok(b) => ok(&b),
        Err(e) => store_error(e),
    }
}

fn act(s: &Shared, raw: &str, f: impl FnOnce(&mut Store, i32) -> StoreResult<()>) -> Response {
    let id = tri!(path_id(raw, "orderId"));
    done(s.write(|st| f(st, id)))
}

fn ask(s: &Shared, raw: &str, f: impl FnOnce(&Store, i32) -> StoreResult<bool>) -> Response {
    let id = tri!(path_id(raw, "orderId"));
    answer(s.read(|st| f(st, id)))
}

pub async fn can_mark_paid(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    ask(&s, &id, |st, id| st.can_mark_order_as_paid(id))
}

pub async fn mark_paid(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&s, &id, |st, id| {
        st.mark_order_as_paid(id, crate::json::now())
    })
}

pub async fn mark_authorized(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&s, &id, |st, id| {
        st.mark_as_authorized(id, crate::json::now())
    })
}

pub async fn can_capture(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    ask(&s, &id, |st, id| st.can_capture(id))
}

pub async fn capture(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&s, &id, |st, id| st.capture(id, crate::json::now()))
}

pub async fn can_cancel(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    ask(&s, &id, |st, id| st.can_cancel_order(id))
}

pub async fn cancel(State(s): State<Arc<Shared>>, Path(id): Path<String>, Query(q): Q) -> Response {
    let notify = tri!(params(&s, q).bool("notifyCustomer")).unwrap_or(false);
    act(&s, &id, |st, id| {
        st.cancel_order(id, notify, crate::json::now())
    })
}

pub async fn can_refund(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    ask(&s, &id, |st, id| st.can_refund(id, Mode::Online))
}

pub async fn refund(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&s, &id, |st, id| {
        st.refund(id, Mode::Online, crate::json::now()).map(|_| ())
    })
}

pub async fn can_refund_offline(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    ask(&s, &id, |st, id| st.can_refund(id, Mode::Offline))
}

pub async fn refund_offline(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&s, &id, |st, id| {
        st.refund(id, Mode::Offline, crate::json::now()).map(|_| ())
    })
}

fn amount(
    s: &Shared,
    q: std::collections::HashMap<String, String>,
) -> super::support::Bound<rust_decimal::Decimal> {
    match params(s, q).decimal("amountToRefund")? {
        Some(a) => Ok(a),
        None => Err(Box::new(problem(
            "The amountToRefund field is required.",
            Some((
                "amountToRefund",
                "The amountToRefund field is required.".into(),
            )),
        ))),
    }
}

pub async fn can_partially_refund(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let a = tri!(amount(&s, q));
    ask(&s, &id, |st, id| {
        st.can_partially_refund(id, a, Mode::Online)
    })
}

pub async fn partially_refund(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let a = tri!(amount(&s, q));
    act(&s, &id, |st, id| {
        st.partially_refund(id, a, Mode::Online, crate::json::now())
    })
}

pub async fn can_partially_refund_offline(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let a = tri!(amount(&s, q));
    ask(&s, &id, |st, id| {
        st.can_partially_refund(id, a, Mode::Offline)
    })
}

pub async fn partially_refund_offline(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let a = tri!(amount(&s, q));
    act(&s, &id, |st, id| {
        st.partially_refund(id, a, Mode::Offline, crate::json::now())
    })
}

pub async fn can_void(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    ask(&s, &id, |st, id| st.can_void(id, Mode::Online))
}

pub async fn void(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&s, &id, |st, id| {
        st.void(id, Mode::Online, crate::json::now())
    })
}

pub async fn can_void_offline(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    ask(&s, &id, |st, id| st.can_void(id, Mode::Offline))
}

pub async fn void_offline(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&s, &id, |st, id| {
        st.void(id, Mode::Offline, crate::json::now())
    })
}

pub async fn check_order_status(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    act(&s, &id, |st, id| {
        st.check_order_status(id, crate::json::now())
    })
}

/// `Ship/{shipmentId}?notifyCustomer=`.
pub async fn ship(State(s): State<Arc<Shared>>, Path(id): Path<String>, Query(q): Q) -> Response {
    let notify = tri!(params(&s, q).bool("notifyCustomer")).unwrap_or(false);
    let id = tri!(path_id(&id, "shipmentId"));
    done(s.write(|st| st.ship(id, notify, crate::json::now())))
}

pub async fn deliver(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let notify = tri!(params(&s, q).bool("notifyCustomer")).unwrap_or(false);
    let id = tri!(path_id(&id, "shipmentId"));
    done(s.write(|st| st.deliver(id, notify, crate::json::now())))
}

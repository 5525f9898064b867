//! `/_emulator` control routes for the demo stack and out-of-process tests (no auth, no
//! faults; the listener is on 127.0.0.1 only).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;

use crate::config::FaultConfig;
use crate::json::ok;
use crate::state::Shared;
use crate::store::StoreError;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/stats", get(stats))
        .route("/faults", get(get_faults).put(set_faults))
        .route("/expire-tokens", post(expire_tokens))
        .route("/orders/generate", post(generate))
        .route("/orders/{id}/{action}", post(order_action))
        .route("/webhooks/deliveries", get(deliveries))
        .route("/webhooks/config", get(get_webhook).put(set_webhook))
        .route("/customers/register", put(register).post(register))
}

fn err(e: StoreError) -> Response {
    match e {
        StoreError::NotFound(what) => {
            (StatusCode::NOT_FOUND, format!("{what} not found")).into_response()
        }
        StoreError::Refused(msg) => (StatusCode::CONFLICT, msg).into_response(),
    }
}

async fn stats(State(s): State<Arc<Shared>>) -> Response {
    let body = s.read(|st| {
        json!({
            "stores": st.stores.len(),
            "customers": st.customers.len(),
            "products": st.products.len(),
            "orders": st.orders.len(),
            "order_items": st.order_items.len(),
            "shipments": st.shipments.len(),
            "return_requests": st.return_requests.len(),
            "stock_quantity_history": st.stock_history.len(),
        })
    });
    ok(&body)
}

async fn get_faults(State(s): State<Arc<Shared>>) -> Response {
    ok(&s.faults.config())
}

async fn set_faults(State(s): State<Arc<Shared>>, Json(cfg): Json<FaultConfig>) -> Response {
    s.faults.set(cfg);
    StatusCode::NO_CONTENT.into_response()
}

async fn expire_tokens(State(s): State<Arc<Shared>>) -> Response {
    s.issuer.expire_all();
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /_emulator/orders/generate?count=N`: N random orders placed now.
async fn generate(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let count = q
        .get("count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1usize)
        .min(10_000);
    let mut generator = s.generator.lock();
    match s.write(|st| generator.live_orders(st, count, crate::json::now())) {
        Ok(ids) => ok(&json!({ "order_ids": ids })),
        Err(e) => err(e),
    }
}

/// `POST /_emulator/orders/{id}/{pay|ship|deliver|cancel|refund|delete}`: admin-style
/// actions (delete is a soft delete: the order then answers 404).
async fn order_action(
    State(s): State<Arc<Shared>>,
    Path((id, action)): Path<(i32, String)>,
) -> Response {
    let now = crate::json::now();
    let result = s.write(|st| match action.as_str() {
        "pay" => st.mark_order_as_paid(id, now),
        "cancel" => st.cancel_order(id, false, now),
        "refund" => st
            .refund(id, crate::processing::Mode::Offline, now)
            .map(|_| ()),
        "ship" => {
            let items: Vec<(i32, i32)> = st
                .items_of(id)
                .iter()
                .map(|i| (i.id, i.quantity - st.shipment_quantity(i.id)))
                .filter(|(_, q)| *q > 0)
                .collect();
            st.create_shipment(id, &items, None, now)
                .and_then(|sh| st.ship(sh, false, now))
        }
        "deliver" => {
            let pending: Vec<i32> = st
                .shipments_of(id)
                .iter()
                .filter(|x| x.shipped_date_utc.is_some() && x.delivery_date_utc.is_none())
                .map(|x| x.id)
                .collect();
            pending
                .into_iter()
                .try_for_each(|sh| st.deliver(sh, false, now))
        }
        _ => Err(StoreError::NotFound("Action")),
    });
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(e),
    }
}

async fn get_webhook(State(s): State<Arc<Shared>>) -> Response {
    let mut cfg = s.webhooks.config();
    cfg.secret = "********".into();
    ok(&cfg)
}

/// Replaces the webhook settings (the demo learns the receiver's URL after start-up).
async fn set_webhook(
    State(s): State<Arc<Shared>>,
    Json(cfg): Json<crate::config::WebhookConfig>,
) -> Response {
    s.webhooks.set_config(cfg);
    StatusCode::NO_CONTENT.into_response()
}

async fn deliveries(State(s): State<Arc<Shared>>) -> Response {
    ok(&s.webhooks.deliveries())
}

async fn register(State(s): State<Arc<Shared>>) -> Response {
    let mut generator = s.generator.lock();
    let id = s.write(|st| generator.register_customer(st, crate::json::now()));
    ok(&json!({ "customer_id": id }))
}

//! The official nopCommerce Web API Backend (OWB v1.06 contract) under `/api-backend`.

mod catalog;
mod customers;
mod orders;
mod processing;
mod shipments;
pub mod support;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::bearer;
use crate::json::ok;
use crate::state::Shared;
use support::{problem, unauthorized, Params};

pub const AUDIENCE: &str = "owb";

pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let protected = Router::new()
        // orders
        .route("/Order/Search", get(orders::search))
        .route("/Order/GetById/{id}", get(orders::get_by_id))
        .route("/Order/GetByGuid", get(orders::get_by_guid))
        .route(
            "/Order/GetByCustomOrderNumber",
            get(orders::get_by_custom_number),
        )
        .route("/Order/GetByIds/{ids}", get(orders::get_by_ids))
        .route("/Order/ParseTaxRates/{id}", get(orders::parse_tax_rates))
        .route("/OrderItem/GetOrderItems/{orderId}", get(orders::items))
        .route("/OrderItem/GetById/{id}", get(orders::item_by_id))
        .route(
            "/OrderNote/GetOrderNotesByOrderId/{orderId}",
            get(orders::notes),
        )
        .route("/OrderNote/Create", post(orders::create_note))
        .route("/Address/GetById/{id}", get(orders::address))
        .route(
            "/GiftCardUsageHistory/GetGiftCardUsageHistoryByOrder/{id}",
            get(orders::gift_card_usage),
        )
        .route("/GiftCard/GetById/{id}", get(orders::gift_card))
        .route("/DiscountUsageHistory/GetAll", get(orders::discount_usage))
        .route("/Discount/GetById/{id}", get(orders::discount))
        .route(
            "/RewardPointsHistory/GetById/{id}",
            get(orders::reward_points_entry),
        )
        // order processing (state-changing actions are GETs in OWB)
        .route(
            "/OrderProcessing/CanMarkOrderAsPaid/{id}",
            get(processing::can_mark_paid),
        )
        .route(
            "/OrderProcessing/MarkOrderAsPaid/{id}",
            get(processing::mark_paid),
        )
        .route(
            "/OrderProcessing/MarkAsAuthorized/{id}",
            get(processing::mark_authorized),
        )
        .route(
            "/OrderProcessing/CanCapture/{id}",
            get(processing::can_capture),
        )
        .route("/OrderProcessing/Capture/{id}", get(processing::capture))
        .route(
            "/OrderProcessing/CanCancelOrder/{id}",
            get(processing::can_cancel),
        )
        .route("/OrderProcessing/CancelOrder/{id}", get(processing::cancel))
        .route(
            "/OrderProcessing/CanRefund/{id}",
            get(processing::can_refund),
        )
        .route("/OrderProcessing/Refund/{id}", get(processing::refund))
        .route(
            "/OrderProcessing/CanRefundOffline/{id}",
            get(processing::can_refund_offline),
        )
        .route(
            "/OrderProcessing/RefundOffline/{id}",
            get(processing::refund_offline),
        )
        .route(
            "/OrderProcessing/CanPartiallyRefund/{id}",
            get(processing::can_partially_refund),
        )
        .route(
            "/OrderProcessing/PartiallyRefund/{id}",
            get(processing::partially_refund),
        )
        .route(
            "/OrderProcessing/CanPartiallyRefundOffline/{id}",
            get(processing::can_partially_refund_offline),
        )
        .route(
            "/OrderProcessing/PartiallyRefundOffline/{id}",
            get(processing::partially_refund_offline),
        )
        .route("/OrderProcessing/CanVoid/{id}", get(processing::can_void))
        .route("/OrderProcessing/Void/{id}", get(processing::void))
        .route(
            "/OrderProcessing/CanVoidOffline/{id}",
            get(processing::can_void_offline),
        )
        .route(
            "/OrderProcessing/VoidOffline/{id}",
            get(processing::void_offline),
        )
        .route(
            "/OrderProcessing/CheckOrderStatus/{id}",
            get(processing::check_order_status),
        )
        .route("/OrderProcessing/Ship/{id}", get(processing::ship))
        .route("/OrderProcessing/Deliver/{id}", get(processing::deliver))
        // customers
        .route("/Customer/GetAll", get(customers::get_all))
        .route("/Customer/GetById/{id}", get(customers::get_by_id))
        .route("/Customer/GetCustomerByGuid", get(customers::get_by_guid))
        .route("/Customer/GetCustomerByEmail", get(customers::get_by_email))
        .route(
            "/Customer/GetAddressesByCustomerId/{id}",
            get(customers::addresses),
        )
        .route(
            "/Customer/GetCustomerBillingAddress/{id}",
            get(customers::billing_address),
        )
        // catalogue and stock
        .route("/Product/GetById/{id}", get(catalog::product_by_id))
        .route("/Product/GetProductBySku", get(catalog::product_by_sku))
        .route("/Product/Search", get(catalog::search_products))
        .route(
            "/Product/GetTotalStockQuantity/{id}",
            get(catalog::total_stock),
        )
        .route(
            "/Product/GetStockQuantityHistory/{id}",
            get(catalog::stock_history),
        )
        .route(
            "/Product/AdjustInventory/{id}",
            post(catalog::adjust_inventory),
        )
        .route(
            "/Product/AddStockQuantityHistoryEntry/{id}",
            get(catalog::add_history_entry),
        )
        .route(
            "/ProductWarehouse/GetAllProductWarehouseInventoryRecords/{id}",
            get(catalog::pwi_records),
        )
        .route("/ProductWarehouse/Update", put(catalog::pwi_update))
        .route("/Warehouse/GetAll", get(catalog::warehouses))
        .route("/TaxCategory/GetAll", get(catalog::tax_categories))
        .route("/Store/GetAll", get(catalog::stores))
        .route("/Store/GetById/{id}", get(catalog::store_by_id))
        .route("/Currency/GetAll", get(catalog::currencies))
        .route(
            "/Currency/GetCurrencyByCode",
            get(catalog::currency_by_code),
        )
        // shipments and returns
        .route("/Shipment/GetAll", get(shipments::get_all))
        .route("/Shipment/GetById/{id}", get(shipments::get_by_id))
        .route("/Shipment/GetByOrderId/{orderId}", get(shipments::by_order))
        .route("/Shipment/Create", post(shipments::create))
        .route("/Shipment/Update", put(shipments::update))
        .route("/ShipmentItem/GetByShipmentId/{id}", get(shipments::items))
        .route("/ShipmentItem/Create", post(shipments::create_item))
        .route("/ReturnRequest/Search", get(shipments::search_returns))
        .route("/ReturnRequest/GetById/{id}", get(shipments::return_by_id))
        .route("/ReturnRequest/Update", put(shipments::update_return))
        .layer(middleware::from_fn_with_state(shared, require_token));
    Router::new()
        .route("/Authenticate/GetToken", post(get_token))
        .merge(protected)
}

async fn require_token(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    match bearer(req.headers()) {
        None => unauthorized("Unauthorized"),
        Some(token) => match shared.issuer.verify(token, AUDIENCE) {
            Ok(_) => next.run(req).await,
            Err(e) => unauthorized(&format!("Unauthorized: {e}")),
        },
    }
}

#[derive(Debug, Deserialize)]
struct AuthenticateAdminRequest {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

/// `POST Authenticate/GetToken` → `{"username","customer_id","token"}`.
async fn get_token(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<AuthenticateAdminRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(req)) = body else {
        return problem(
            "A non-empty request body is required.",
            Some(("request", "The request field is required.".into())),
        );
    };
    let creds = &shared.config.credentials;
    let Some(password) = req.password.as_deref().filter(|p| !p.is_empty()) else {
        return problem(
            "Password is required",
            Some(("Password", "The Password field is required.".into())),
        );
    };
    let user_matches = req.username.as_deref() == Some(creds.username.as_str())
        || req
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&creds.email));
    if !user_matches || password != creds.password {
        return unauthorized("Username or password is incorrect");
    }
    let (token, claims) = shared.issuer.issue(
        &creds.username,
        1,
        AUDIENCE,
        shared.config.auth.owb_token_ttl_secs,
    );
    ok(&serde_json::json!({
        "username": claims.sub,
        "customer_id": claims.customer_id,
        "token": token,
    }))
}

pub(crate) fn params(shared: &Shared, q: HashMap<String, String>) -> Params {
    Params::new(
        q,
        shared.config.owb.server_utc_offset_minutes,
        &shared.config.owb.id_list_separators,
    )
}

pub(crate) type Q = Query<HashMap<String, String>>;

/// A numeric path segment; model-binding failures answer 400 ProblemDetails.
pub(crate) fn path_id(raw: &str, key: &str) -> support::Bound<i32> {
    raw.trim().parse().map_err(|_| {
        Box::new(problem(
            &format!("The value '{raw}' is not valid."),
            Some((key, format!("The value '{raw}' is not valid."))),
        ))
    })
}

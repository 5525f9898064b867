//! The free community API's read side (SevenSpikes conventions, F480 flavour: `POST
//! /token` with a JSON body) under `/api`, with its documented quirks: 1-based pages,
//! limit 1..=250, `since_id`, enum filters by name (unknown names ignored), date filters
//! silently dropped when unparseable and exclusive, dates without a trailing Z.

mod dto;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::bearer;
use crate::json::{format_ts, json_response, ok, plain};
use crate::model::{OrderStatus, PaymentStatus, ShippingStatus, ROLE_GUESTS};
use crate::state::Shared;

pub const AUDIENCE: &str = "community";

pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let protected = Router::new()
        .route("/api/orders", get(orders))
        .route("/api/orders/count", get(orders_count))
        .route("/api/orders/{id}", get(order_by_id))
        .route("/api/orders/{id}/items", get(order_items))
        .route("/api/customers", get(customers))
        .route("/api/customers/count", get(customers_count))
        .route("/api/customers/{id}", get(customer_by_id))
        .route("/api/products", get(products))
        .route("/api/products/count", get(products_count))
        .route("/api/products/{id}", get(product_by_id))
        .route("/api/product_warehouse_inventories", get(pwi))
        .route("/api/stores", get(stores))
        .route("/api/stores/current", get(current_store))
        .route("/api/currencies", get(currencies))
        .layer(middleware::from_fn_with_state(shared, require_token));
    Router::new().route("/token", post(token)).merge(protected)
}

/// No token or a bad one: 401 challenge with an empty body.
async fn require_token(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let valid = bearer(req.headers()).is_some_and(|t| s.issuer.verify(t, AUDIENCE).is_ok());
    if valid {
        let has_cookie = req
            .headers()
            .get(header::COOKIE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.contains(".Nop.Customer="));
        if s.config.community.create_guest_per_request && !has_cookie {
            let now = crate::json::now();
            s.write(|st| {
                st.insert_customer(
                    crate::store::NewCustomer {
                        store_id: 1,
                        ..Default::default()
                    },
                    uuid::Uuid::new_v4(),
                    now,
                )
            });
        }
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    username: Option<String>,
    password: Option<String>,
}

/// F480 `POST /token`: missing fields → 400 plain string; wrong credentials → 403.
async fn token(
    State(s): State<Arc<Shared>>,
    body: Result<Json<TokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let req = body.map(|Json(r)| r).ok();
    let (Some(username), Some(password)) = (
        req.as_ref()
            .and_then(|r| r.username.clone())
            .filter(|u| !u.is_empty()),
        req.as_ref()
            .and_then(|r| r.password.clone())
            .filter(|p| !p.is_empty()),
    ) else {
        return plain(StatusCode::BAD_REQUEST, "Missing username or password");
    };
    let creds = &s.config.credentials;
    let user_ok = username == creds.username || username.eq_ignore_ascii_case(&creds.email);
    if !user_ok || password != creds.password {
        return plain(StatusCode::FORBIDDEN, "Wrong username or password");
    }
    let ttl = s.config.auth.community_token_ttl_days * 86_400;
    let (token, claims) = s.issuer.issue(&creds.username, 1, AUDIENCE, ttl);
    let created = DateTime::from_timestamp(claims.iat, 0).unwrap_or_default();
    let expires = DateTime::from_timestamp(claims.exp, 0).unwrap_or_default();
    ok(&json!({
        "access_token": token,
        "token_type": "Bearer",
        "created_at_utc": format_ts(&created),
        "expires_at_utc": format_ts(&expires),
        "username": creds.username,
        "customer_id": claims.customer_id,
        "customer_guid": s.read(|st| st.customer(claims.customer_id).map(|c| c.customer_guid)).unwrap_or_default(),
    }))
}

fn errors(status: StatusCode, key: &str, message: &str) -> Response {
    json_response(status, &json!({ "errors": { key: [message] } }))
}

fn not_found(key: &str) -> Response {
    errors(StatusCode::NOT_FOUND, key, "not found")
}

/// Query keys with `_` stripped, matched case-insensitively (ParametersModelBinder).
struct Params(HashMap<String, String>);

impl Params {
    fn new(raw: HashMap<String, String>) -> Self {
        Self(
            raw.into_iter()
                .map(|(k, v)| (k.replace('_', "").to_ascii_lowercase(), v))
                .collect(),
        )
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.0
            .get(&key.replace('_', "").to_ascii_lowercase())
            .map(|s| s.as_str())
    }

    /// Unparseable ints fall back to the default (the binder ignores them).
    fn int(&self, key: &str) -> Option<i64> {
        self.str(key).and_then(|v| v.trim().parse().ok())
    }

    /// Exact formats only; anything else drops the filter.
    fn date(&self, key: &str) -> Option<DateTime<Utc>> {
        let v = self.str(key)?.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            return Some(t.with_timezone(&Utc));
        }
        if let Ok(t) = DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%:z") {
            return Some(t.with_timezone(&Utc));
        }
        let naive = [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .or_else(|| {
            NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .or_else(|| {
            NaiveDate::parse_from_str(&format!("{v}-01-01"), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
        Some(naive.and_utc())
    }

    fn ids(&self, key: &str) -> Option<Vec<i32>> {
        self.str(key)
            .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
    }

    /// limit 1..=250 (default 50), page ≥ 1 (default 1), since_id.
    fn paging(&self) -> Result<(usize, usize, i64), Box<Response>> {
        let limit = self.int("limit").unwrap_or(50);
        let page = self.int("page").unwrap_or(1);
        if !(1..=250).contains(&limit) {
            return Err(Box::new(errors(
                StatusCode::BAD_REQUEST,
                "page",
                "Invalid limit parameter",
            )));
        }
        if page < 1 {
            return Err(Box::new(errors(
                StatusCode::BAD_REQUEST,
                "page",
                "Invalid page parameter",
            )));
        }
        let limit = usize::try_from(limit).unwrap_or(50);
        let skip = usize::try_from(page - 1).unwrap_or(0).saturating_mul(limit);
        Ok((skip, limit, self.int("since_id").unwrap_or(0)))
    }
}

fn paged<T>(rows: Vec<T>, skip: usize, limit: usize) -> Vec<T> {
    rows.into_iter().skip(skip).take(limit).collect()
}

/// The store whose Hosts match the request Host, falling back to the first store.
fn current_store_id(s: &Shared, headers: &HeaderMap) -> i32 {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bare = host.split(':').next().unwrap_or("").to_string();
    s.read(|st| {
        st.stores
            .iter()
            .filter(|x| !x.deleted)
            .find(|x| {
                x.hosts
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .any(|h| h == host || h == bare)
            })
            .or_else(|| st.stores.first())
            .map(|x| x.id)
            .unwrap_or(1)
    })
}

struct OrderFilter {
    store_id: Option<i32>,
    ids: Option<Vec<i32>>,
    since_id: i64,
    created_min: Option<DateTime<Utc>>,
    created_max: Option<DateTime<Utc>>,
    status: Option<i32>,
    payment_status: Option<i32>,
    shipping_status: Option<i32>,
    customer_id: Option<i64>,
}

fn order_filter(s: &Shared, p: &Params, headers: &HeaderMap, since_id: i64) -> OrderFilter {
    OrderFilter {
        store_id: s
            .config
            .community
            .scope_orders_to_host_store
            .then(|| current_store_id(s, headers)),
        ids: p.ids("ids"),
        since_id,
        created_min: p.date("created_at_min"),
        created_max: p.date("created_at_max"),
        // Names only; numbers and typos are silently ignored (no filter).
        status: p
            .str("status")
            .and_then(OrderStatus::from_name)
            .map(|x| x.id()),
        payment_status: p
            .str("payment_status")
            .and_then(PaymentStatus::from_name)
            .map(|x| x.id()),
        shipping_status: p
            .str("shipping_status")
            .and_then(ShippingStatus::from_name)
            .map(|x| x.id()),
        customer_id: p.int("customer_id"),
    }
}

fn matching_orders<'a>(
    st: &'a crate::store::Store,
    f: &OrderFilter,
) -> Vec<&'a crate::model::Order> {
    st.orders
        .iter()
        .filter(|o| !o.deleted)
        .filter(|o| f.store_id.is_none_or(|x| o.store_id == x))
        .filter(|o| {
            f.ids
                .as_ref()
                .is_none_or(|ids| ids.is_empty() || ids.contains(&o.id))
        })
        .filter(|o| i64::from(o.id) > f.since_id)
        .filter(|o| f.created_min.is_none_or(|m| o.created_on_utc > m))
        .filter(|o| f.created_max.is_none_or(|m| o.created_on_utc < m))
        .filter(|o| f.status.is_none_or(|x| o.order_status_id == x))
        .filter(|o| f.payment_status.is_none_or(|x| o.payment_status_id == x))
        .filter(|o| f.shipping_status.is_none_or(|x| o.shipping_status_id == x))
        .filter(|o| f.customer_id.is_none_or(|c| i64::from(o.customer_id) == c))
        .collect()
}

/// Keeps only the requested top-level keys; empty arrays and objects are dropped too.
fn select_fields(mut v: Value, fields: Option<&str>) -> Value {
    let Some(fields) = fields.filter(|f| !f.trim().is_empty()) else {
        return v;
    };
    let wanted: Vec<String> = fields
        .split(',')
        .map(|f| f.trim().to_ascii_lowercase())
        .collect();
    if let Value::Object(map) = &mut v {
        map.retain(|k, val| {
            wanted.contains(&k.to_ascii_lowercase())
                && !matches!(val, Value::Array(a) if a.is_empty())
                && !matches!(val, Value::Object(o) if o.is_empty())
        });
    }
    v
}

async fn orders(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let (skip, limit, since_id) = match p.paging() {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let f = order_filter(&s, &p, &headers, since_id);
    let embed = s.config.community.embed_customer_in_orders;
    let fields = p.str("fields").map(str::to_string);
    let list: Vec<Value> = s.read(|st| {
        paged(matching_orders(st, &f), skip, limit)
            .into_iter()
            .map(|o| select_fields(dto::order(st, o, embed), fields.as_deref()))
            .collect()
    });
    ok(&json!({ "orders": list }))
}

/// Ignores since_id and ids (SS #179).
async fn orders_count(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let mut f = order_filter(&s, &p, &headers, 0);
    f.ids = None;
    let n = s.read(|st| matching_orders(st, &f).len());
    ok(&json!({ "count": n }))
}

/// By id: not store-filtered.
async fn order_by_id(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let Ok(id) = id.trim().parse::<i32>() else {
        return not_found("order");
    };
    let embed = s.config.community.embed_customer_in_orders;
    match s.read(|st| st.order(id).map(|o| dto::order(st, o, embed))) {
        Some(v) => ok(&json!({ "orders": [select_fields(v, p.str("fields"))] })),
        None => not_found("order"),
    }
}

async fn order_items(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let (skip, limit, since_id) = match p.paging() {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Ok(id) = id.trim().parse::<i32>() else {
        return not_found("order");
    };
    match s.read(|st| {
        st.order(id).map(|_| {
            let rows: Vec<_> = st
                .items_of(id)
                .into_iter()
                .filter(|i| i64::from(i.id) > since_id)
                .collect();
            paged(rows, skip, limit)
                .into_iter()
                .map(|i| dto::order_item(st, i))
                .collect::<Vec<_>>()
        })
    }) {
        Some(items) => ok(&json!({ "order_items": items })),
        None => not_found("order"),
    }
}

fn customer_visible(s: &Shared, c: &crate::model::Customer) -> bool {
    let hidden_guest =
        s.config.community.exclude_guests_from_customer_list && c.role_ids.contains(&ROLE_GUESTS);
    !c.deleted && !c.is_system_account && c.active && !hidden_guest
}

async fn customers(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let (skip, limit, since_id) = match p.paging() {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (min, max) = (p.date("created_at_min"), p.date("created_at_max"));
    let fields = p.str("fields").map(str::to_string);
    let list: Vec<Value> = s.read(|st| {
        let rows: Vec<_> = st
            .customers
            .iter()
            .filter(|c| customer_visible(&s, c))
            .filter(|c| i64::from(c.id) > since_id)
            .filter(|c| min.is_none_or(|m| c.created_on_utc > m))
            .filter(|c| max.is_none_or(|m| c.created_on_utc < m))
            .collect();
        paged(rows, skip, limit)
            .into_iter()
            .map(|c| select_fields(dto::customer(st, c, true), fields.as_deref()))
            .collect()
    });
    ok(&json!({ "customers": list }))
}

/// Counts every non-deleted customer, guests and system accounts included (so it does
/// not match the list).
async fn customers_count(State(s): State<Arc<Shared>>) -> Response {
    let n = s.read(|st| st.customers.iter().filter(|c| !c.deleted).count());
    ok(&json!({ "count": n }))
}

/// Guests can be fetched by id.
async fn customer_by_id(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let Ok(id) = id.trim().parse::<i32>() else {
        return not_found("customer");
    };
    match s.read(|st| st.customer(id).map(|c| dto::customer(st, c, true))) {
        Some(v) => ok(&json!({ "customers": [select_fields(v, p.str("fields"))] })),
        None => not_found("customer"),
    }
}

struct ProductFilter {
    ids: Option<Vec<i32>>,
    since_id: i64,
    created_min: Option<DateTime<Utc>>,
    created_max: Option<DateTime<Utc>>,
    updated_min: Option<DateTime<Utc>>,
    updated_max: Option<DateTime<Utc>>,
    published: Option<bool>,
}

fn product_filter(p: &Params, since_id: i64) -> ProductFilter {
    ProductFilter {
        ids: p.ids("ids"),
        since_id,
        created_min: p.date("created_at_min"),
        created_max: p.date("created_at_max"),
        updated_min: p.date("updated_at_min"),
        updated_max: p.date("updated_at_max"),
        published: match p.str("published_status").map(|x| x.to_ascii_lowercase()) {
            Some(x) if x == "published" => Some(true),
            Some(x) if x == "unpublished" => Some(false),
            _ => None,
        },
    }
}

fn matching_products<'a>(
    st: &'a crate::store::Store,
    f: &ProductFilter,
) -> Vec<&'a crate::model::Product> {
    st.products
        .iter()
        .filter(|x| !x.deleted)
        .filter(|x| {
            f.ids
                .as_ref()
                .is_none_or(|ids| ids.is_empty() || ids.contains(&x.id))
        })
        .filter(|x| i64::from(x.id) > f.since_id)
        .filter(|x| f.created_min.is_none_or(|m| x.created_on_utc > m))
        .filter(|x| f.created_max.is_none_or(|m| x.created_on_utc < m))
        .filter(|x| f.updated_min.is_none_or(|m| x.updated_on_utc > m))
        .filter(|x| f.updated_max.is_none_or(|m| x.updated_on_utc < m))
        .filter(|x| f.published.is_none_or(|want| x.published == want))
        .collect()
}

async fn products(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let (skip, limit, since_id) = match p.paging() {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let f = product_filter(&p, since_id);
    let fields = p.str("fields").map(str::to_string);
    let list: Vec<Value> = s.read(|st| {
        paged(matching_products(st, &f), skip, limit)
            .into_iter()
            .map(|x| select_fields(dto::product(x), fields.as_deref()))
            .collect()
    });
    ok(&json!({ "products": list }))
}

async fn products_count(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let f = product_filter(&p, 0);
    let n = s.read(|st| matching_products(st, &f).len());
    ok(&json!({ "count": n }))
}

async fn product_by_id(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = Params::new(q);
    let Ok(id) = id.trim().parse::<i32>() else {
        return not_found("product");
    };
    match s.read(|st| st.product(id).map(dto::product)) {
        Some(v) => ok(&json!({ "products": [select_fields(v, p.str("fields"))] })),
        None => not_found("product"),
    }
}

/// F480 `/api/product_warehouse_inventories?product_id&warehouse_id`.
async fn pwi(State(s): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let p = Params::new(q);
    let (skip, limit, since_id) = match p.paging() {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (product_id, warehouse_id) = (p.int("product_id"), p.int("warehouse_id"));
    let rows: Vec<_> = s.read(|st| {
        let rows: Vec<_> = st
            .product_warehouse_inventory
            .iter()
            .filter(|w| i64::from(w.id) > since_id)
            .filter(|w| product_id.is_none_or(|x| i64::from(w.product_id) == x))
            .filter(|w| warehouse_id.is_none_or(|x| i64::from(w.warehouse_id) == x))
            .cloned()
            .collect();
        paged(rows, skip, limit)
    });
    ok(&json!({ "product_warehouse_inventories": rows }))
}

fn store_dto(x: &crate::model::Store) -> Value {
    json!({
        "id": x.id, "name": x.name, "url": x.url, "ssl_enabled": x.ssl_enabled, "hosts": x.hosts,
        "default_language_id": x.default_language_id, "display_order": x.display_order,
        "company_name": x.company_name, "company_address": x.company_address,
        "company_phone_number": x.company_phone_number, "company_vat": x.company_vat,
    })
}

async fn stores(State(s): State<Arc<Shared>>) -> Response {
    let list: Vec<Value> = s.read(|st| {
        st.stores
            .iter()
            .filter(|x| !x.deleted)
            .map(store_dto)
            .collect()
    });
    ok(&json!({ "stores": list }))
}

async fn current_store(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let id = current_store_id(&s, &headers);
    let list: Vec<Value> = s.read(|st| {
        st.stores
            .iter()
            .filter(|x| x.id == id)
            .map(store_dto)
            .collect()
    });
    ok(&json!({ "stores": list }))
}

async fn currencies(State(s): State<Arc<Shared>>) -> Response {
    let list = s.read(|st| st.currencies.clone());
    ok(&json!({ "currencies": list }))
}

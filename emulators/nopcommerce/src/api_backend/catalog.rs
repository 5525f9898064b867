//! Products, stock, warehouses, tax categories, stores and currencies.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::orders::tri;
use super::support::{not_found, problem, store_error};
use super::{params, path_id, Q};
use crate::json::{clean_text, ok};
use crate::model::{Product, ProductWarehouseInventory};
use crate::state::Shared;

pub async fn product_by_id(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.product(id).cloned()) {
        Some(p) => ok(&p),
        None => not_found("Product"),
    }
}

/// First non-deleted product with that SKU (SKUs are not unique-enforced).
pub async fn product_by_sku(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let Some(sku) = p.str("sku").map(|v| v.trim().to_string()) else {
        return problem(
            "The sku field is required.",
            Some(("sku", "The sku field is required.".into())),
        );
    };
    match s.read(|st| {
        st.products
            .iter()
            .find(|p| !p.deleted && p.sku.as_deref() == Some(sku.as_str()))
            .cloned()
    }) {
        Some(p) => ok(&p),
        None => not_found("Product"),
    }
}

/// Emulator addition following the OWB naming: `Product/Search?updatedFromUtc&pageIndex&
/// pageSize`, ordered by id.
pub async fn search_products(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let updated_from = tri!(p.date("updatedFromUtc"));
    let paging = tri!(p.paging());
    let page = s.read(|st| {
        let hits: Vec<&Product> = st
            .products
            .iter()
            .filter(|p| !p.deleted)
            .filter(|p| updated_from.is_none_or(|f| p.updated_on_utc >= f))
            .collect();
        paging.apply(hits)
    });
    ok(&page)
}

pub async fn total_stock(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let id = tri!(path_id(&id, "productId"));
    let p = params(&s, q);
    let use_reserved = tri!(p.bool("useReservedQuantity")).unwrap_or(true);
    let warehouse = tri!(p.int("warehouseId")).filter(|w| *w != 0);
    match s.read(|st| {
        st.product(id)
            .map(|_| st.total_stock(id, use_reserved, warehouse))
    }) {
        Some(n) => ok(&n),
        None => not_found("Product"),
    }
}

/// Newest first, as StockQuantityHistory is listed in nopCommerce.
pub async fn stock_history(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let id = tri!(path_id(&id, "productId"));
    let p = params(&s, q);
    let warehouse = tri!(p.int("warehouseId")).filter(|w| *w != 0);
    let paging = tri!(p.paging());
    let page = s.read(|st| {
        st.product(id)?;
        let mut rows = st.history_of(id);
        rows.retain(|h| warehouse.is_none_or(|w| h.warehouse_id == Some(w)));
        rows.sort_by(|a, b| {
            b.created_on_utc
                .cmp(&a.created_on_utc)
                .then(b.id.cmp(&a.id))
        });
        Some(paging.apply(rows))
    });
    match page {
        Some(p) => ok(&p),
        None => not_found("Product"),
    }
}

/// `POST Product/AdjustInventory/{productId}?quantityToChange=±n&message=`; the body is
/// the attributesXml as a JSON string (ignored: attribute-combination stock is not emulated).
pub async fn adjust_inventory(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
    _body: Bytes,
) -> Response {
    let id = tri!(path_id(&id, "productId"));
    let p = params(&s, q);
    let Some(delta) = tri!(p.int("quantityToChange")) else {
        return problem(
            "The quantityToChange field is required.",
            Some((
                "quantityToChange",
                "The quantityToChange field is required.".into(),
            )),
        );
    };
    let message = clean_text(p.str("message").unwrap_or(""));
    match s.write(|st| st.adjust_inventory(id, delta, message, crate::json::now())) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => store_error(e),
    }
}

/// `GET Product/AddStockQuantityHistoryEntry/{productId}?quantityAdjustment&stockQuantity&warehouseId&message`:
/// a history row only (ProductService.AddStockQuantityHistoryEntryAsync); the stock itself
/// is not touched, which is how a warehouse row update gets its history.
pub async fn add_history_entry(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let id = tri!(path_id(&id, "productId"));
    let p = params(&s, q);
    let adjustment = tri!(p.int("quantityAdjustment")).unwrap_or(0);
    let stock = tri!(p.int("stockQuantity")).unwrap_or(0);
    let warehouse = tri!(p.int("warehouseId")).filter(|w| *w != 0);
    let message = clean_text(p.str("message").unwrap_or(""));
    let added = s.write(|st| {
        let found = st.product(id).is_some();
        if found {
            st.add_stock_history(
                id,
                adjustment,
                stock,
                warehouse,
                message,
                crate::json::now(),
            );
        }
        found
    });
    if added {
        StatusCode::OK.into_response()
    } else {
        not_found("Product")
    }
}

pub async fn pwi_records(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "productId"));
    match s.read(|st| {
        st.product(id)
            .map(|_| st.pwi_of(id).into_iter().cloned().collect::<Vec<_>>())
    }) {
        Some(rows) => ok(&rows),
        None => not_found("Product"),
    }
}

/// Raw update: no stock history is written (use AdjustInventory for that).
pub async fn pwi_update(
    State(s): State<Arc<Shared>>,
    body: Result<Json<ProductWarehouseInventory>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let pwi = match body {
        Ok(Json(p)) => p,
        Err(e) => return problem(&e.body_text(), Some(("model", e.body_text()))),
    };
    match s.write(|st| st.update_pwi(pwi, crate::json::now())) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => store_error(e),
    }
}

pub async fn warehouses(State(s): State<Arc<Shared>>) -> Response {
    ok(&s.read(|st| st.warehouses.clone()))
}

pub async fn tax_categories(State(s): State<Arc<Shared>>) -> Response {
    ok(&s.read(|st| st.tax_categories.clone()))
}

pub async fn stores(State(s): State<Arc<Shared>>) -> Response {
    ok(&s.read(|st| {
        st.stores
            .iter()
            .filter(|x| !x.deleted)
            .cloned()
            .collect::<Vec<_>>()
    }))
}

pub async fn store_by_id(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.stores.iter().find(|x| x.id == id && !x.deleted).cloned()) {
        Some(x) => ok(&x),
        None => not_found("Store"),
    }
}

pub async fn currencies(State(s): State<Arc<Shared>>) -> Response {
    ok(&s.read(|st| st.currencies.clone()))
}

pub async fn currency_by_code(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let code = p.str("currencyCode").unwrap_or("").to_string();
    match s.read(|st| st.currency_by_code(&code).cloned()) {
        Some(c) => ok(&c),
        None => not_found("Currency"),
    }
}

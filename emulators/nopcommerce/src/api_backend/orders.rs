//! Order, OrderItem, OrderNote, Address, gift card, discount and reward point reads.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use chrono::Utc;
use serde::Deserialize;

use super::support::{not_found, parse_ids, problem};
use super::{params, path_id, Q};
use crate::json::{clean_text, ok, ts_opt};
use crate::model::Order;
use crate::money::parse_tax_rates as parse_rates;
use crate::state::Shared;

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return *r,
        }
    };
}
pub(crate) use tri;

/// `Order/Search`: newest first (OrderService.SearchOrders sorts by CreatedOnUtc desc);
/// created bounds inclusive; storeId 0 = all stores.
pub async fn search(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let store_id = tri!(p.int("storeId")).unwrap_or(0);
    let customer_id = tri!(p.int("customerId")).unwrap_or(0);
    let product_id = tri!(p.int("productId")).unwrap_or(0);
    let from = tri!(p.date("createdFromUtc"));
    let to = tri!(p.date("createdToUtc"));
    let os = tri!(p.ids("osIds"));
    let ps = tri!(p.ids("psIds"));
    let ss = tri!(p.ids("ssIds"));
    let method = p.str("paymentMethodSystemName").map(str::to_string);
    let email = p.str("billingEmail").map(str::to_string);
    let paging = tri!(p.paging());
    let page = s.read(|st| {
        let mut hits: Vec<&Order> = st
            .orders
            .iter()
            .filter(|o| !o.deleted)
            .filter(|o| store_id == 0 || o.store_id == store_id)
            .filter(|o| customer_id == 0 || o.customer_id == customer_id)
            .filter(|o| from.is_none_or(|f| f <= o.created_on_utc))
            .filter(|o| to.is_none_or(|t| t >= o.created_on_utc))
            .filter(|o| {
                os.as_ref()
                    .is_none_or(|l| l.is_empty() || l.contains(&o.order_status_id))
            })
            .filter(|o| {
                ps.as_ref()
                    .is_none_or(|l| l.is_empty() || l.contains(&o.payment_status_id))
            })
            .filter(|o| {
                ss.as_ref()
                    .is_none_or(|l| l.is_empty() || l.contains(&o.shipping_status_id))
            })
            .filter(|o| {
                method
                    .as_ref()
                    .is_none_or(|m| &o.payment_method_system_name == m)
            })
            .filter(|o| {
                email.as_ref().is_none_or(|e| {
                    st.address(o.billing_address_id)
                        .and_then(|a| a.email.as_ref())
                        .is_some_and(|a| a.to_lowercase().contains(&e.to_lowercase()))
                })
            })
            .filter(|o| {
                product_id == 0 || st.items_of(o.id).iter().any(|i| i.product_id == product_id)
            })
            .collect();
        hits.sort_by(|a, b| {
            b.created_on_utc
                .cmp(&a.created_on_utc)
                .then(b.id.cmp(&a.id))
        });
        paging.apply(hits)
    });
    ok(&page)
}

pub async fn get_by_id(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.order(id).cloned()) {
        Some(o) => ok(&o),
        None => not_found("Order"),
    }
}

pub async fn get_by_guid(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let Some(raw) = p.str("guid") else {
        return problem(
            "The guid field is required.",
            Some(("guid", "The guid field is required.".into())),
        );
    };
    let Ok(guid) = uuid::Uuid::parse_str(raw.trim()) else {
        return problem(
            &format!("The value '{raw}' is not valid."),
            Some(("guid", format!("The value '{raw}' is not valid."))),
        );
    };
    match s.read(|st| {
        st.order_by_guid
            .get(&guid)
            .and_then(|id| st.order(*id))
            .cloned()
    }) {
        Some(o) => ok(&o),
        None => not_found("Order"),
    }
}

pub async fn get_by_custom_number(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let Some(number) = p.str("customOrderNumber").map(str::to_string) else {
        return problem(
            "The customOrderNumber field is required.",
            Some((
                "customOrderNumber",
                "The customOrderNumber field is required.".into(),
            )),
        );
    };
    match s.read(|st| {
        st.order_by_number
            .get(&number)
            .and_then(|id| st.order(*id))
            .cloned()
    }) {
        Some(o) => ok(&o),
        None => not_found("Order"),
    }
}

/// `Order/GetByIds/{ids}` with `;`-separated ids; unknown ids are left out.
pub async fn get_by_ids(State(s): State<Arc<Shared>>, Path(raw): Path<String>) -> Response {
    let Some(ids) = parse_ids(&raw, &s.config.owb.id_list_separators) else {
        return problem(
            &format!("The value '{raw}' is not valid."),
            Some(("ids", format!("The value '{raw}' is not valid."))),
        );
    };
    let orders: Vec<Order> =
        s.read(|st| ids.iter().filter_map(|id| st.order(*id).cloned()).collect());
    ok(&orders)
}

/// `Order/ParseTaxRates/{orderId}?taxRates=`: the order's TaxRates (or the given string)
/// as a rate → amount map.
fn tax_rates_map(s: &Shared, id: i32, given: Option<String>) -> Response {
    let text = match given {
        Some(t) => t,
        None => match s.read(|st| st.order(id).map(|o| o.tax_rates.clone())) {
            Some(t) => t,
            None => return not_found("Order"),
        },
    };
    let map: std::collections::BTreeMap<String, serde_json::Value> = parse_rates(&text)
        .into_iter()
        .map(|(r, a)| {
            (
                r.to_string(),
                serde_json::Value::String(format!("\u{1}{a}")),
            )
        })
        .collect();
    ok(&map)
}

pub async fn parse_tax_rates(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let id = tri!(path_id(&id, "orderId"));
    let p = params(&s, q);
    let given = p.str("taxRates").map(str::to_string);
    tax_rates_map(&s, id, given)
}

pub async fn items(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "orderId"));
    match s.read(|st| {
        st.order(id)
            .map(|_| st.items_of(id).into_iter().cloned().collect::<Vec<_>>())
    }) {
        Some(items) => ok(&items),
        None => not_found("Order"),
    }
}

pub async fn item_by_id(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.order_item(id).cloned()) {
        Some(i) => ok(&i),
        None => not_found("OrderItem"),
    }
}

/// Notes oldest first; `displayToCustomer` filters when given.
pub async fn notes(State(s): State<Arc<Shared>>, Path(id): Path<String>, Query(q): Q) -> Response {
    let id = tri!(path_id(&id, "orderId"));
    let p = params(&s, q);
    let display = tri!(p.bool("displayToCustomer"));
    match s.read(|st| {
        st.order(id).map(|_| {
            st.notes_of(id)
                .into_iter()
                .filter(|n| display.is_none_or(|d| n.display_to_customer == d))
                .cloned()
                .collect::<Vec<_>>()
        })
    }) {
        Some(notes) => ok(&notes),
        None => not_found("Order"),
    }
}

#[derive(Debug, Deserialize)]
pub struct NoteCreate {
    order_id: i32,
    note: Option<String>,
    #[serde(default)]
    display_to_customer: bool,
    #[serde(default, with = "ts_opt")]
    created_on_utc: Option<chrono::DateTime<Utc>>,
}

/// `OrderNote/Create` → the created note.
pub async fn create_note(
    State(s): State<Arc<Shared>>,
    body: Result<Json<NoteCreate>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return problem(&e.body_text(), Some(("model", e.body_text()))),
    };
    let Some(text) = req
        .note
        .as_deref()
        .map(clean_text)
        .filter(|t| !t.trim().is_empty())
    else {
        return problem(
            "The Note field is required.",
            Some(("note", "The Note field is required.".into())),
        );
    };
    let now = req.created_on_utc.unwrap_or_else(crate::json::now);
    let created = s.write(|st| {
        st.order(req.order_id)?;
        let id = st.add_order_note(req.order_id, text, req.display_to_customer, now);
        st.order_notes.get(usize::try_from(id - 1).ok()?).cloned()
    });
    match created {
        Some(n) => ok(&n),
        None => not_found("Order"),
    }
}

pub async fn address(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.address(id).cloned()) {
        Some(a) => ok(&a),
        None => not_found("Address"),
    }
}

pub async fn gift_card_usage(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    let rows: Vec<_> = s.read(|st| {
        st.gift_card_usage
            .iter()
            .filter(|u| u.used_with_order_id == id)
            .cloned()
            .collect()
    });
    ok(&rows)
}

pub async fn gift_card(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.gift_card(id).cloned()) {
        Some(g) => ok(&g),
        None => not_found("GiftCard"),
    }
}

pub async fn discount_usage(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let order_id = tri!(p.int("orderId"));
    let discount_id = tri!(p.int("discountId"));
    let paging = tri!(p.paging());
    let page = s.read(|st| {
        let rows: Vec<_> = st
            .discount_usage
            .iter()
            .filter(|u| order_id.is_none_or(|o| u.order_id == o))
            .filter(|u| discount_id.is_none_or(|d| u.discount_id == d))
            .collect();
        paging.apply(rows)
    });
    ok(&page)
}

pub async fn discount(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.discounts.iter().find(|d| d.id == id).cloned()) {
        Some(d) => ok(&d),
        None => not_found("Discount"),
    }
}

pub async fn reward_points_entry(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.reward_points_entry(id).cloned()) {
        Some(r) => ok(&r),
        None => not_found("RewardPointsHistory"),
    }
}

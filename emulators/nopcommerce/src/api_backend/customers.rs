//! Customer reads. Guests are real customers here (no email, role Guests).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::Value;

use super::orders::tri;
use super::support::{not_found, problem};
use super::{params, path_id, Q};
use crate::json::ok;
use crate::model::Customer;
use crate::state::Shared;

/// The OWB CustomerDto: entity columns, plus role ids; names only when the build has them.
fn dto(s: &Shared, c: &Customer) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        if !s.config.owb.customer_names_in_dto {
            map.remove("first_name");
            map.remove("last_name");
        }
        map.insert("role_ids".into(), serde_json::json!(c.role_ids));
    }
    v
}

/// `Customer/GetAll`: newest first; `customerRoleIds` (;-separated), `email` (contains),
/// created bounds.
pub async fn get_all(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let from = tri!(p.date("createdFromUtc"));
    let to = tri!(p.date("createdToUtc"));
    let roles = tri!(p.ids("customerRoleIds"));
    let email = p.str("email").map(str::to_lowercase);
    let paging = tri!(p.paging());
    let page = s.read(|st| {
        let mut hits: Vec<&Customer> = st
            .customers
            .iter()
            .filter(|c| !c.deleted)
            .filter(|c| from.is_none_or(|f| f <= c.created_on_utc))
            .filter(|c| to.is_none_or(|t| t >= c.created_on_utc))
            .filter(|c| {
                roles
                    .as_ref()
                    .is_none_or(|r| r.is_empty() || r.iter().any(|id| c.role_ids.contains(id)))
            })
            .filter(|c| {
                email.as_ref().is_none_or(|e| {
                    c.email
                        .as_ref()
                        .is_some_and(|m| m.to_lowercase().contains(e))
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.created_on_utc
                .cmp(&a.created_on_utc)
                .then(b.id.cmp(&a.id))
        });
        let page = paging.apply(hits);
        super::support::Page {
            items: page.items.iter().map(|c| dto(&s, c)).collect::<Vec<_>>(),
            page_index: page.page_index,
            page_size: page.page_size,
            total_count: page.total_count,
            total_pages: page.total_pages,
            has_previous_page: page.has_previous_page,
            has_next_page: page.has_next_page,
        }
    });
    ok(&page)
}

pub async fn get_by_id(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "id"));
    match s.read(|st| st.customer(id).map(|c| dto(&s, c))) {
        Some(c) => ok(&c),
        None => not_found("Customer"),
    }
}

pub async fn get_by_guid(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let Some(guid) = p
        .str("guid")
        .and_then(|g| uuid::Uuid::parse_str(g.trim()).ok())
    else {
        return problem(
            "The value is not valid.",
            Some(("guid", "The value is not valid.".into())),
        );
    };
    match s.read(|st| {
        st.customers
            .iter()
            .find(|c| !c.deleted && c.customer_guid == guid)
            .map(|c| dto(&s, c))
    }) {
        Some(c) => ok(&c),
        None => not_found("Customer"),
    }
}

pub async fn get_by_email(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let p = params(&s, q);
    let Some(email) = p.str("email").map(|e| e.trim().to_lowercase()) else {
        return problem(
            "The email field is required.",
            Some(("email", "The email field is required.".into())),
        );
    };
    let found = s.read(|st| {
        st.customers
            .iter()
            .find(|c| {
                !c.deleted
                    && c.email
                        .as_deref()
                        .is_some_and(|m| m.to_lowercase() == email)
            })
            .map(|c| dto(&s, c))
    });
    match found {
        Some(c) => ok(&c),
        None => not_found("Customer"),
    }
}

pub async fn addresses(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "customerId"));
    match s.read(|st| {
        st.customer(id).map(|c| {
            c.address_ids
                .iter()
                .filter_map(|a| st.address(*a).cloned())
                .collect::<Vec<_>>()
        })
    }) {
        Some(list) => ok(&list),
        None => not_found("Customer"),
    }
}

pub async fn billing_address(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = tri!(path_id(&id, "customerId"));
    match s.read(|st| {
        st.customer(id)
            .and_then(|c| c.billing_address_id)
            .and_then(|a| st.address(a).cloned())
    }) {
        Some(a) => ok(&a),
        None => not_found("Address"),
    }
}

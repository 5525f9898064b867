//! `POST /batch`: up to N items run serially, each with its own fault; objects created by an
//! item are invisible to later items of the same batch (no forward references).

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::api_error::{ApiResponse, Fault};
use crate::clock::format_time_millis;
use crate::entities::EntityKind;
use crate::json::{parse_id, str_field, Object};
use crate::routes::{object_body, unknown_company, WriteParams};
use crate::state::{incr, AppState};
use crate::store::{Realm, WriteCtx, WriteOp};

const ITEM_KEYS: [&str; 3] = ["bId", "operation", "optionsData"];

pub async fn handler(
    State(state): State<Arc<AppState>>,
    Path(realm_id): Path<String>,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Response {
    incr(&state.counters.batch_calls);
    let now = state.clock.now();
    let time = format_time_millis(now);
    let fault = |f: Fault| ApiResponse::fault(&f, &time).into_response();
    if let Some(rid) = &params.requestid {
        if rid.chars().count() > state.config.idempotency.max_batch_len {
            return fault(Fault::too_long(
                "requestid",
                state.config.idempotency.max_batch_len,
            ));
        }
    }
    let Some(realm) = state.realm(&realm_id) else {
        return unknown_company(&state);
    };
    let body = match object_body(&body) {
        Ok(b) => b,
        Err(f) => return fault(f),
    };
    let items = match body.get("BatchItemRequest") {
        Some(Value::Array(items)) => items.clone(),
        None => Vec::new(),
        Some(_) => {
            return fault(Fault::bad_property(
                "BatchItemRequest",
                "java.util.ArrayList",
            ))
        }
    };
    if let Some(key) = body.keys().find(|k| k.as_str() != "BatchItemRequest") {
        return fault(Fault::unknown_property(key, "IntuitBatchRequest"));
    }
    if items.is_empty() {
        return fault(Fault::malformed("Batch Request is Empty"));
    }
    if items.len() > state.config.limits.batch_max_items {
        return fault(Fault::batch_too_large(state.config.limits.batch_max_items));
    }
    let mut seen = HashSet::new();
    for item in &items {
        let bid = item.get("bId").and_then(Value::as_str).unwrap_or_default();
        if bid.is_empty() || !seen.insert(bid.to_string()) {
            return fault(Fault::malformed(format!(
                "Each batch item needs a unique bId (\"{bid}\")"
            )));
        }
    }
    if state.config.limits.enabled && state.config.limits.batch_items_count_individually {
        state
            .limiter
            .charge(&realm_id, items.len().saturating_sub(1), now);
    }
    let mut realm = realm.lock();
    if let Some(rid) = &params.requestid {
        if let Some(cached) = realm.replay(rid) {
            drop(realm);
            incr(&state.counters.idempotent_replays);
            return cached.into_response();
        }
    }
    let before = realm.changes.len();
    let mut hidden: HashSet<u64> = HashSet::new();
    let mut responses = Vec::with_capacity(items.len());
    let mut creates = 0u64;
    for item in &items {
        incr(&state.counters.batch_items);
        let bid = item
            .get("bId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let outcome = match item.as_object() {
            Some(obj) => run_item(&state, &mut realm, obj, &mut hidden, now),
            None => Err(Fault::bad_property("BatchItemRequest", "BatchItemRequest")),
        };
        let mut resp = Object::new();
        resp.insert("bId".into(), Value::from(bid));
        match outcome {
            Ok((key, value, created)) => {
                creates += u64::from(created);
                resp.insert(key, value);
            }
            Err(f) => {
                resp.insert("Fault".into(), f.body());
            }
        }
        responses.push(Value::Object(resp));
    }
    let response = ApiResponse::ok(json!({"BatchItemResponse": responses, "time": time}));
    if let Some(rid) = params.requestid {
        realm.cache(rid, response.clone());
    }
    let changes = realm.changes[before..].to_vec();
    drop(realm);
    for _ in 0..creates {
        incr(&state.counters.creates);
    }
    state.publish(&realm_id, &changes);
    response.into_response()
}

/// One item: a query or a write. Returns the response key, its value, and whether it created.
fn run_item(
    state: &AppState,
    realm: &mut Realm,
    item: &Object,
    hidden: &mut HashSet<u64>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(String, Value, bool), Fault> {
    if let Some(q) = item.get("Query") {
        let q = q
            .as_str()
            .ok_or_else(|| Fault::bad_property("Query", "java.lang.String"))?;
        incr(&state.counters.queries);
        let resp = crate::query::execute(realm, q, &state.config.query)?;
        return Ok(("QueryResponse".into(), resp, false));
    }
    let entity_keys: Vec<&String> = item
        .keys()
        .filter(|k| !ITEM_KEYS.contains(&k.as_str()))
        .collect();
    let [key] = entity_keys.as_slice() else {
        return Err(Fault::malformed(
            "A batch item needs exactly one entity or a Query",
        ));
    };
    let kind =
        EntityKind::parse(key).ok_or_else(|| Fault::unknown_property(key, "BatchItemRequest"))?;
    let body = item
        .get(key.as_str())
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| Fault::bad_property(key, kind.name()))?;
    let options: Vec<String> = str_field(item, "optionsData")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let op = WriteOp::decide(
        Some(str_field(item, "operation").unwrap_or("create")),
        options.iter().any(|o| o == "void"),
        body.contains_key("Id"),
    )?;
    let ctx = WriteCtx {
        now,
        validation: &state.config.validation,
        hidden,
        allow_duplicate_doc_number: options.iter().any(|o| o == "allowduplicatedocnum"),
    };
    incr(&state.counters.writes);
    let obj = realm.perform(kind, op, body, &ctx)?;
    let created = op == WriteOp::Create;
    if created {
        if let Some(id) = str_field(&obj, "Id").and_then(parse_id) {
            hidden.insert(id);
        }
    }
    Ok((kind.name().to_string(), Value::Object(obj), created))
}

//! `GET /cdc?entities=A,B&changedSince=…`: objects changed since a time (30-day window,
//! 1000-object cap), deleted ones as stubs.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::{ApiResponse, Fault};
use crate::clock::{format_time, format_time_millis, parse_datetime};
use crate::entities::EntityKind;
use crate::routes::unknown_company;
use crate::state::{incr, AppState};
use crate::store::deleted_stub;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdcParams {
    entities: Option<String>,
    changed_since: Option<String>,
}

pub async fn handler(
    State(state): State<Arc<AppState>>,
    Path(realm_id): Path<String>,
    Query(p): Query<CdcParams>,
) -> Response {
    incr(&state.counters.cdc_calls);
    let now = state.clock.now();
    let time = format_time_millis(now);
    let fault = |f: Fault| ApiResponse::fault(&f, &time).into_response();
    let Some(entities) = p.entities.filter(|e| !e.trim().is_empty()) else {
        return fault(Fault::required("entities"));
    };
    let Some(since_text) = p.changed_since else {
        return fault(Fault::required("changedSince"));
    };
    let Some(since) = parse_datetime(&since_text) else {
        return fault(Fault::bad_property("changedSince", "java.util.Date"));
    };
    let cfg = &state.config.query;
    if now - since > chrono::Duration::days(cfg.cdc_max_days) {
        return fault(Fault::query_invalid(format!(
            "changedSince must be within the last {} days",
            cfg.cdc_max_days
        )));
    }
    let mut kinds = Vec::new();
    for name in entities.split(',') {
        match EntityKind::parse(name.trim()) {
            Some(k) => kinds.push(k),
            None => {
                return fault(Fault::query_invalid(format!(
                    "Invalid entity name: {}",
                    name.trim()
                )))
            }
        }
    }
    let Some(realm) = state.realm(&realm_id) else {
        return unknown_company(&state);
    };
    let realm = realm.lock();
    let mut budget = cfg.cdc_max_objects;
    let mut responses = Vec::new();
    for kind in kinds {
        let mut rows: Vec<Value> = realm
            .all(kind)
            .filter(|o| {
                o.get("MetaData")
                    .and_then(|m| m.get("LastUpdatedTime"))
                    .and_then(Value::as_str)
                    .and_then(parse_datetime)
                    .is_some_and(|t| t > since)
            })
            .map(|o| Value::Object(o.clone()))
            .collect();
        for (id, at) in realm.tombstones(kind).filter(|(_, at)| *at > since) {
            let mut stub = deleted_stub(id);
            stub.insert(
                "MetaData".into(),
                json!({"LastUpdatedTime": format_time(at)}),
            );
            rows.push(Value::Object(stub));
        }
        rows.truncate(budget);
        budget -= rows.len();
        if rows.is_empty() {
            responses.push(json!({}));
        } else {
            let n = rows.len();
            responses.push(json!({ kind.name(): rows, "startPosition": 1, "maxResults": n }));
        }
    }
    drop(realm);
    ApiResponse::ok(json!({"CDCResponse": [{"QueryResponse": responses}], "time": time}))
        .into_response()
}

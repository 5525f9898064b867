//! Error shapes and codes, auth, and the fault knobs (latency, 429/503 bursts, dropped
//! connections, forced token expiry).

mod common;

use std::time::{Duration, Instant};

use common::*;
use nopbridge_emu_nopcommerce::{FaultConfig, InjectedFault};
use serde_json::json;

#[tokio::test]
async fn backend_error_shapes() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    // 401: plain string, Bearer challenge.
    let resp = t.client.get(t.url("Order/GetById/1")).send().await?;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert!(resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain")));
    assert_eq!(resp.text().await?, "Unauthorized");
    let resp = t
        .client
        .get(t.url("Order/GetById/1"))
        .bearer_auth("not.a.token")
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    // A community token is not accepted by the backend.
    let resp = t
        .client
        .get(t.url("Store/GetAll"))
        .bearer_auth(t.handle().community_token())
        .send()
        .await?;
    assert_eq!(resp.status(), 401);

    // 404: plain string.
    let (st, text, json) = t.get("Order/GetById/424242").await?;
    assert_eq!(
        (st.as_u16(), text.as_str(), json.is_null()),
        (404, "Order not found", true)
    );
    let (st, text, _) = t.get("Product/GetProductBySku?sku=NOPE").await?;
    assert_eq!((st.as_u16(), text.as_str()), (404, "Product not found"));

    // 400: ProblemDetails with the offending key.
    let resp = t
        .client
        .get(t.url("Order/GetById/abc"))
        .bearer_auth(&t.token)
        .send()
        .await?;
    assert_eq!(resp.status(), 400);
    assert!(resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/problem+json")));
    let p: serde_json::Value = resp.json().await?;
    assert_eq!(p["status"], 400);
    assert_eq!(p["title"], "One or more validation errors occurred.");
    assert!(p["type"].is_string() && p.get("detail").is_some() && p.get("instance").is_some());
    assert!(p["errors"]["id"].is_array());
    let (st, _, p) = t.get("Order/Search?pageSize=0").await?;
    assert_eq!(
        (st.as_u16(), p["errors"]["pageSize"].is_array()),
        (400, true)
    );
    let (st, _, p) = t.get("Order/Search?osIds=10;x").await?;
    assert_eq!((st.as_u16(), p["errors"]["osIds"].is_array()), (400, true));

    // GetToken: wrong password 401 plain; missing password 400 ProblemDetails; email works.
    let url = t.url("Authenticate/GetToken");
    let resp = t
        .client
        .post(&url)
        .json(&json!({"username": "admin", "password": "nope"}))
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    let resp = t
        .client
        .post(&url)
        .json(&json!({"username": "admin"}))
        .send()
        .await?;
    assert_eq!(resp.status(), 400);
    let resp = t
        .client
        .post(&url)
        .json(&json!({"email": "ADMIN@example.test", "password": "admin-password"}))
        .send()
        .await?;
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(
        (body["username"].as_str(), body["customer_id"].as_i64()),
        (Some("admin"), Some(1))
    );
    Ok(())
}

#[tokio::test]
async fn community_auth_as_documented() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let base = t.emu.base_url();
    let resp = t.client.get(format!("{base}/api/orders")).send().await?;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.text().await?, "");
    let resp = t
        .client
        .post(format!("{base}/token"))
        .json(&json!({"username": "admin"}))
        .send()
        .await?;
    assert_eq!(resp.status(), 400);
    let resp = t
        .client
        .post(format!("{base}/token"))
        .json(&json!({"username": "admin", "password": "x"}))
        .send()
        .await?;
    assert_eq!(
        (resp.status().as_u16(), resp.text().await?),
        (403, "Wrong username or password".to_string())
    );
    let resp = t
        .client
        .post(format!("{base}/token"))
        .json(&json!({"username": "admin", "password": "admin-password", "remember_me": false, "guest": false}))
        .send()
        .await?;
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_at_utc"]
        .as_str()
        .is_some_and(|s| !s.ends_with('Z')));
    let token = body["access_token"].as_str().unwrap_or_default();
    let resp = t
        .client
        .get(format!("{base}/api/stores"))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    Ok(())
}

#[tokio::test]
async fn forced_token_expiry_answers_401_until_reauthentication() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (st, _, _) = t.get("Store/GetAll").await?;
    assert_eq!(st, 200);
    t.handle().expire_tokens();
    let (st, text, _) = t.get("Store/GetAll").await?;
    assert_eq!(st, 401);
    assert!(text.starts_with("Unauthorized"));
    let resp = t
        .client
        .post(t.url("Authenticate/GetToken"))
        .json(&json!({"username": "admin", "password": "admin-password"}))
        .send()
        .await?;
    let fresh: serde_json::Value = resp.json().await?;
    let resp = t
        .client
        .get(t.url("Store/GetAll"))
        .bearer_auth(fresh["token"].as_str().unwrap_or_default())
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    Ok(())
}

#[tokio::test]
async fn forced_faults_then_recovery() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    h.set_faults(FaultConfig {
        retry_after_secs: 7,
        ..FaultConfig::default()
    });
    h.inject_fault(InjectedFault::RateLimited, 2);
    h.inject_fault(InjectedFault::ServerError, 1);
    h.inject_fault(InjectedFault::DropConnection, 1);
    for _ in 0..2 {
        let resp = t
            .client
            .get(t.url("Store/GetAll"))
            .bearer_auth(&t.token)
            .send()
            .await?;
        assert_eq!(resp.status(), 429);
        assert_eq!(
            resp.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );
    }
    let resp = t
        .client
        .get(t.url("Store/GetAll"))
        .bearer_auth(&t.token)
        .send()
        .await?;
    assert_eq!(resp.status(), 503);
    let dropped = t
        .client
        .get(t.url("Store/GetAll"))
        .bearer_auth(&t.token)
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "connection should be closed without an answer"
    );
    let (st, _, _) = t.get("Store/GetAll").await?;
    assert_eq!(st, 200);
    // The action runs but its answer is lost: the order is paid all the same.
    let order = sample_order(h)?.order_id;
    h.inject_fault(InjectedFault::DropAfterProcessing, 1);
    let lost = t
        .client
        .get(t.url(&format!("OrderProcessing/MarkOrderAsPaid/{order}")))
        .bearer_auth(&t.token)
        .send()
        .await;
    assert!(lost.is_err());
    assert_eq!(h.order(order).map(|o| o.payment_status_id), Some(30));
    // A 200 whose JSON is cut short.
    h.inject_fault(InjectedFault::MalformedBody, 1);
    let (st, text, json) = t.get(&format!("Order/GetById/{order}")).await?;
    assert_eq!(st, 200);
    assert!(json.is_null() && text.starts_with("{\"id\":") && !text.is_empty());
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    // Control routes are never faulted.
    h.inject_fault(InjectedFault::ServerError, 1);
    let resp = t
        .client
        .get(format!("{}/_emulator/stats", t.emu.base_url()))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    h.clear_faults();
    let (st, _, _) = t.get("Store/GetAll").await?;
    assert_eq!(st, 200);
    Ok(())
}

#[tokio::test]
async fn probabilistic_bursts_and_latency() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    // Every request starts a burst of 3 × 503: with probability 1 all fail.
    h.set_faults(FaultConfig {
        server_error_probability: 1.0,
        burst_length: 3,
        ..FaultConfig::default()
    });
    for _ in 0..4 {
        let (st, _, _) = t.get("Store/GetAll").await?;
        assert_eq!(st, 503);
    }
    // A burst outlives the knob: the 2 owed failures still come, then recovery.
    h.set_faults(FaultConfig::default());
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(t.get("Store/GetAll").await?.0.as_u16());
    }
    assert_eq!(codes, vec![503, 503, 200, 200]);
    // Half the requests start a 429 burst of length 1.
    h.set_faults(FaultConfig {
        rate_limit_probability: 0.5,
        burst_length: 1,
        ..FaultConfig::default()
    });
    let mut limited = 0;
    for _ in 0..200 {
        if t.get("Store/GetAll").await?.0 == 429 {
            limited += 1;
        }
    }
    assert!((50..150).contains(&limited), "{limited} of 200 limited");
    // Latency.
    h.set_faults(FaultConfig {
        latency_ms: 150,
        ..FaultConfig::default()
    });
    let started = Instant::now();
    let (st, _, _) = t.get("Store/GetAll").await?;
    assert_eq!(st, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    h.clear_faults();
    Ok(())
}

#[tokio::test]
async fn control_routes_drive_the_demo() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let base = t.emu.base_url();
    let resp = t
        .client
        .post(format!("{base}/_emulator/orders/generate?count=5"))
        .send()
        .await?;
    let body: serde_json::Value = resp.json().await?;
    let ids = body["order_ids"].as_array().cloned().unwrap_or_default();
    assert_eq!(ids.len(), 5);
    let first = ids[0].as_i64().unwrap_or_default();
    let resp = t
        .client
        .post(format!("{base}/_emulator/orders/{first}/cancel"))
        .send()
        .await?;
    assert_eq!(resp.status(), 204);
    let (_, _, o) = t.get(&format!("Order/GetById/{first}")).await?;
    assert_eq!(o["order_status_id"], 40);
    let resp = t
        .client
        .put(format!("{base}/_emulator/faults"))
        .json(&json!({"rate_limit_probability": 1.0, "burst_length": 1}))
        .send()
        .await?;
    assert_eq!(resp.status(), 204);
    assert_eq!(t.get("Store/GetAll").await?.0, 429);
    Ok(())
}

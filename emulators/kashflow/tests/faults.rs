//! Fault knobs (forced and by probability), the optional rate limit, the inspection API, and
//! exactly-once invoice creation by deterministic Number under chaos.

mod common;

use common::{call_with, TestEmu, USER};
use nopbridge_emu_kashflow::{EmulatorConfig, FaultConfig, InjectedFault, RateLimitConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn forced_429_503_and_500_have_their_shapes_and_write_nothing() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.emu.handle();
    h.set_faults(FaultConfig {
        retry_after_secs: 7,
        ..FaultConfig::default()
    });
    h.force_faults(InjectedFault::Throttle, 1);
    let resp = t
        .client
        .post(t.url("customers"))
        .header("authorization", format!("KfToken {}", t.token))
        .json(&json!({"Code": "F1", "Name": "F"}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let body: Value = resp.json().await?;
    assert_eq!(body["Error"], "TooManyRequests");
    h.force_faults(InjectedFault::Unavailable, 1);
    h.force_faults(InjectedFault::ServerError, 1);
    assert_eq!(
        t.post("customers", &json!({"Code": "F1", "Name": "F"}))
            .await?
            .0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let (status, body) = t
        .post("customers", &json!({"Code": "F1", "Name": "F"}))
        .await?;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["Message"], "An error has occurred.");
    assert!(h.customers(USER).is_empty());
    t.customer("F1").await?;
    let c = h.counters();
    assert_eq!((c.throttled, c.unavailable, c.server_errors), (1, 1, 1));
    Ok(())
}

#[tokio::test]
async fn bursts_repeat_the_fault() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.emu.handle().set_faults(FaultConfig {
        unavailable_probability: 1.0,
        burst_length: 3,
        seed: Some(1),
        ..FaultConfig::default()
    });
    assert_eq!(t.get("customers").await?.0, StatusCode::SERVICE_UNAVAILABLE);
    t.emu.handle().set_faults(FaultConfig::default());
    assert_eq!(t.get("customers").await?.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(t.get("customers").await?.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(t.get("customers").await?.0, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn dropped_connections_before_and_after_the_write() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("C1").await?;
    let h = t.emu.handle();
    let body =
        json!({"Number": 5001, "CustomerCode": "C1", "LineItems": [{"Rate": 1, "VATLevel": 0}]});
    h.force_faults(InjectedFault::DropBefore, 1);
    assert!(t.post("invoices", &body).await.is_err());
    assert!(h.invoice(USER, 5001).is_none());
    h.force_faults(InjectedFault::DropAfter, 1);
    assert!(t.post("invoices", &body).await.is_err());
    assert!(h.invoice(USER, 5001).is_some(), "the write happened");
    // The retry with the same Number is refused, which tells the client it is done.
    let (status, resp) = t.post("invoices", &body).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(resp["Message"]
        .as_str()
        .unwrap_or_default()
        .contains("already exists"));
    assert_eq!(h.counters().dropped, 2);
    Ok(())
}

#[tokio::test]
async fn the_optional_rate_limit_answers_429_per_account() -> anyhow::Result<()> {
    let t = TestEmu::with(EmulatorConfig {
        rate_limit: RateLimitConfig {
            enabled: true,
            requests_per_minute: 5,
            retry_after_secs: 2,
        },
        ..EmulatorConfig::default()
    })
    .await?;
    for _ in 0..5 {
        assert_eq!(t.get("customers").await?.0, StatusCode::OK);
    }
    let resp = t
        .client
        .get(t.url("customers"))
        .header("authorization", format!("KfToken {}", t.token))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    t.emu
        .handle()
        .advance_clock(std::time::Duration::from_secs(61));
    assert_eq!(t.get("customers").await?.0, StatusCode::OK);
    assert_eq!(t.emu.handle().counters().rate_limited, 1);
    Ok(())
}

#[tokio::test]
async fn inspection_and_control_routes_work_without_a_session() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("SEEN").await?;
    t.product("SKU1", 4).await?;
    t.simple_invoice("SEEN", "R").await?;
    let get = |path: String| {
        let client = t.client.clone();
        let url = format!("{}{path}", t.emu.base_url());
        async move { call_with(&client, Method::GET, &url, None, None).await }
    };
    let (_, accounts) = get("/__emulator/accounts".into()).await?;
    assert_eq!(accounts[0]["Invoices"], 1);
    let (_, customers) = get(format!("/__emulator/accounts/{USER}/customers")).await?;
    assert_eq!(customers[0]["Code"], "SEEN");
    let (_, invoice) = get(format!("/__emulator/accounts/{USER}/invoices/1")).await?;
    assert_eq!(invoice["LineItems"].as_array().map(Vec::len), Some(1));
    let (_, product) = get(format!("/__emulator/accounts/{USER}/products/4000/SKU1")).await?;
    assert_eq!(product["QuantityInStock"], json!(4.0));
    let (_, counters) = get("/__emulator/counters".into()).await?;
    assert_eq!(
        counters["accounts"][USER]["counters"]["invoices_created"],
        1
    );
    assert_eq!(counters["accounts"][USER]["live_sessions"], 1);
    let (status, _) = get(format!("/__emulator/accounts/{USER}/widgets")).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let base = t.emu.base_url();
    let client = &t.client;
    let resp = client
        .put(format!(
            "{base}/__emulator/accounts/{USER}/products/4000/SKU1/stock"
        ))
        .json(&json!({"QuantityInStock": 11}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let session: Value = client
        .post(format!("{base}/__emulator/accounts/{USER}/session"))
        .send()
        .await?
        .json()
        .await?;
    let token = session["SessionToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, p) = call_with(
        client,
        Method::GET,
        &t.url("products/4000/SKU1"),
        Some(&token),
        None,
    )
    .await?;
    assert_eq!(p["QuantityInStock"], json!(11.0));
    let expired: Value = client
        .post(format!("{base}/__emulator/sessions/expire"))
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(expired["expired"], 2);
    let resp = client
        .post(format!("{base}/__emulator/faults/force"))
        .json(&json!({"fault": "unavailable", "count": 1}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, _) =
        call_with(client, Method::GET, &t.url("customers"), Some(&token), None).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

#[tokio::test]
async fn retried_creates_with_deterministic_numbers_land_exactly_once_under_chaos(
) -> anyhow::Result<()> {
    // Faults start after the login and the customer.
    let t = TestEmu::start().await?;
    t.customer("CHAOS").await?;
    t.emu.handle().set_faults(FaultConfig {
        throttle_probability: 0.08,
        unavailable_probability: 0.05,
        server_error_probability: 0.05,
        drop_before_probability: 0.05,
        drop_after_probability: 0.05,
        session_expiry_probability: 0.03,
        seed: Some(11),
        ..FaultConfig::default()
    });
    let token = std::sync::Arc::new(tokio::sync::Mutex::new(t.token.clone()));
    let create = |n: i64| {
        let t = &t;
        let token = token.clone();
        async move {
            let body = json!({"Number": 10_000 + n, "CustomerCode": "CHAOS", "CustomerReference": format!("ORDER-{n}"),
                "LineItems": [{"Quantity": 1, "Rate": 9.99, "VATLevel": 20, "VATAmount": 2.0}]});
            for _ in 0..60 {
                let current = token.lock().await.clone();
                match call_with(
                    &t.client,
                    Method::POST,
                    &t.url("invoices"),
                    Some(&current),
                    Some(&body),
                )
                .await
                {
                    Ok((StatusCode::CREATED, _)) => return Ok(()),
                    // Written by an earlier attempt whose answer was lost.
                    Ok((StatusCode::BAD_REQUEST, r))
                        if r["Message"]
                            .as_str()
                            .unwrap_or_default()
                            .contains("already exists") =>
                    {
                        return Ok(())
                    }
                    Ok((StatusCode::UNAUTHORIZED, _)) => {
                        let mut guard = token.lock().await;
                        if *guard == current {
                            *guard = t.emu.handle().open_session(USER).unwrap_or_default();
                        }
                    }
                    _ => {}
                }
            }
            anyhow::bail!("invoice {n} never landed")
        }
    };
    futures::future::try_join_all((0..150).map(create)).await?;
    let h = t.emu.handle();
    let invoices = h.invoices(USER);
    assert_eq!(invoices.len(), 150);
    let gross: f64 = invoices
        .iter()
        .filter_map(|i| i["GrossAmount"].as_f64())
        .sum();
    assert_eq!(format!("{gross:.2}"), format!("{:.2}", 150.0 * 11.99));
    let c = h.counters();
    assert!(
        c.dropped > 0
            && c.throttled > 0
            && c.unavailable > 0
            && c.server_errors > 0
            && c.sessions_expired > 0,
        "{c:?}"
    );
    Ok(())
}

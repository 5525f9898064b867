//! Throttling: 500 requests/min, 10 in flight, 40 batch calls/min per realm, on the scaled clock.

mod common;

use std::time::Duration;

use common::TestEmu;
use futures::StreamExt;
use nopbridge_emu_quickbooks::{EmulatorConfig, FaultConfig, LimitsConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn read_status(t: &TestEmu) -> StatusCode {
    match t
        .client
        .get(t.url("companyinfo/1"))
        .bearer_auth(&t.token)
        .send()
        .await
    {
        Ok(r) => r.status(),
        Err(_) => StatusCode::IM_A_TEAPOT,
    }
}

fn json_limits() -> LimitsConfig {
    LimitsConfig {
        throttle_xml_probability: 0.0,
        ..LimitsConfig::default()
    }
}

#[tokio::test]
async fn the_501st_request_in_a_minute_gets_429_3001() -> anyhow::Result<()> {
    let t = TestEmu::with(EmulatorConfig {
        limits: json_limits(),
        ..EmulatorConfig::default()
    })
    .await?;
    let statuses: Vec<StatusCode> = futures::stream::iter(0..500)
        .map(|_| read_status(&t))
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    let resp = t
        .client
        .get(t.url("companyinfo/1"))
        .bearer_auth(&t.token)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = resp.json().await?;
    assert_eq!(body["Fault"]["Error"][0]["code"], "3001");
    assert!(body["Fault"]["Error"][0]["Message"]
        .as_str()
        .is_some_and(|m| m.contains("ThrottleExceeded")));
    assert_eq!(t.emu.handle().counters().throttled, 1);
    // A minute later the window is free again.
    t.emu.handle().advance_clock(Duration::from_secs(61));
    assert_eq!(read_status(&t).await, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn the_window_runs_on_the_scaled_clock() -> anyhow::Result<()> {
    // At 30× one emulated minute lasts two real seconds.
    let cfg = EmulatorConfig {
        time_scale: 30.0,
        limits: LimitsConfig {
            requests_per_minute: 20,
            ..json_limits()
        },
        ..EmulatorConfig::default()
    };
    let t = TestEmu::with(cfg).await?;
    let start = t.emu.handle().now();
    for _ in 0..20 {
        assert_eq!(read_status(&t).await, StatusCode::OK);
    }
    assert_eq!(read_status(&t).await, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        t.emu.handle().now() - start < chrono::Duration::seconds(60),
        "calls took too long to test the window"
    );
    // Wait on the emulated clock (not a guessed sleep) until the minute has passed.
    while t.emu.handle().now() - start <= chrono::Duration::seconds(61) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(read_status(&t).await, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn more_than_ten_in_flight_are_throttled() -> anyhow::Result<()> {
    // 30 emulated seconds of latency at 10× = 3 real seconds holding each slot.
    let cfg = EmulatorConfig {
        time_scale: 10.0,
        limits: json_limits(),
        faults: FaultConfig {
            latency_ms: 30_000,
            ..FaultConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let t = TestEmu::with(cfg).await?;
    let calls = (0..12).map(|_| read_status(&t));
    let statuses = futures::future::join_all(calls).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, throttled), (10, 2));
    Ok(())
}

#[tokio::test]
async fn forty_batch_calls_per_minute_then_429_with_the_xml_body() -> anyhow::Result<()> {
    let cfg = EmulatorConfig {
        limits: LimitsConfig {
            throttle_xml_probability: 1.0,
            ..LimitsConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let t = TestEmu::with(cfg).await?;
    let batch =
        json!({"BatchItemRequest": [{"bId": "1", "Query": "SELECT COUNT(*) FROM Customer"}]});
    for _ in 0..40 {
        let (status, _) = t.post("batch", &batch).await?;
        assert_eq!(status, StatusCode::OK);
    }
    let resp = t
        .client
        .post(t.url("batch"))
        .bearer_auth(&t.token)
        .json(&batch)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/xml")
    );
    let text = resp.text().await?;
    assert!(text.contains("<Fault type=\"SERVICE\"><Error code=\"3001\">"));
    // Single calls still pass: only the batch window is full.
    assert_eq!(read_status(&t).await, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn batch_items_can_count_individually() -> anyhow::Result<()> {
    let cfg = EmulatorConfig {
        limits: LimitsConfig {
            requests_per_minute: 10,
            batch_items_count_individually: true,
            ..json_limits()
        },
        ..EmulatorConfig::default()
    };
    let t = TestEmu::with(cfg).await?;
    let items: Vec<Value> = (0..10)
        .map(|i| json!({"bId": i.to_string(), "Query": "SELECT COUNT(*) FROM Customer"}))
        .collect();
    let (status, _) = t.post("batch", &json!({"BatchItemRequest": items})).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read_status(&t).await, StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

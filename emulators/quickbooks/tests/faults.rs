//! Fault knobs (forced and by probability) and the inspection endpoints.

mod common;

use common::{fault_code, id, TestEmu};
use nopbridge_emu_quickbooks::{EmulatorConfig, FaultConfig, InjectedFault};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn dropped_before_means_no_response_and_nothing_written() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.emu.handle().force_faults(InjectedFault::DropBefore, 1);
    let result = t
        .post(
            "customer?requestid=drop-1",
            &json!({"DisplayName": "Dropped"}),
        )
        .await;
    assert!(
        result.is_err(),
        "expected a connection error, got {result:?}"
    );
    assert!(t.emu.handle().entities(&t.realm, "Customer").is_empty());
    assert_eq!(t.emu.handle().counters().dropped, 1);
    Ok(())
}

#[tokio::test]
async fn dropped_after_executes_and_the_requestid_retry_returns_the_same_object(
) -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.emu.handle().force_faults(InjectedFault::DropAfter, 1);
    let result = t
        .post(
            "customer?requestid=drop-2",
            &json!({"DisplayName": "Written anyway"}),
        )
        .await;
    assert!(result.is_err());
    let stored = t.emu.handle().entities(&t.realm, "Customer");
    assert_eq!(stored.len(), 1);
    let retry = t
        .write(
            "customer?requestid=drop-2",
            "Customer",
            json!({"DisplayName": "Written anyway"}),
        )
        .await?;
    assert_eq!(id(&retry), id(&stored[0]));
    assert_eq!(t.emu.handle().entities(&t.realm, "Customer").len(), 1);
    Ok(())
}

#[tokio::test]
async fn forced_503_500_and_429_have_their_shapes() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.emu.handle();
    h.force_faults(InjectedFault::Unavailable, 1);
    h.force_faults(InjectedFault::ServerError, 1);
    let (status, _) = t.post("customer", &json!({"DisplayName": "A"})).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, body) = t.post("customer", &json!({"DisplayName": "A"})).await?;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(fault_code(&body), Some("10000"));
    assert_eq!(body["Fault"]["type"], "SystemFault");
    h.force_faults(InjectedFault::Throttle, 1);
    let (status, _) = t.post("customer", &json!({"DisplayName": "A"})).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(t.emu.handle().entities(&t.realm, "Customer").is_empty());
    t.write("customer", "Customer", json!({"DisplayName": "A"}))
        .await?;
    let c = h.counters();
    assert_eq!(
        (c.unavailable, c.server_errors, c.throttled, c.creates),
        (1, 1, 1, 1)
    );
    Ok(())
}

#[tokio::test]
async fn seeded_fault_probabilities_hit_roughly_their_share() -> anyhow::Result<()> {
    let faults = FaultConfig {
        throttle_probability: 0.1,
        unavailable_probability: 0.1,
        drop_before_probability: 0.1,
        seed: Some(7),
        ..FaultConfig::default()
    };
    let t = TestEmu::with(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await?;
    let mut ok = 0;
    for _ in 0..300 {
        if let Ok(resp) = t
            .client
            .get(t.url("companyinfo/1"))
            .bearer_auth(&t.token)
            .send()
            .await
        {
            if resp.status() == StatusCode::OK {
                ok += 1;
            }
        }
    }
    let c = t.emu.handle().counters();
    assert_eq!(c.requests, 300);
    assert_eq!(ok + c.throttled + c.unavailable + c.dropped, 300);
    // 30 % faults in total: with 300 draws the share stays well inside 15–45 %.
    let faults = c.throttled + c.unavailable + c.dropped;
    assert!((45..=135).contains(&faults), "faults = {faults}");
    // Switching the knobs off at run time stops them.
    t.emu.handle().set_faults(FaultConfig::default());
    let resp = t
        .client
        .get(t.url("companyinfo/1"))
        .bearer_auth(&t.token)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn inspection_endpoints_show_entities_and_counters_without_auth() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    t.customer("Inspected").await?;
    let base = t.emu.base_url();
    let rows: Value = t
        .client
        .get(format!(
            "{base}/__emulator/realms/{}/entities/customer",
            t.realm
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert_eq!(rows[0]["DisplayName"], "Inspected");
    let one = t
        .client
        .get(format!(
            "{base}/__emulator/realms/{}/entities/Customer/{}",
            t.realm,
            id(&rows[0])
        ))
        .send()
        .await?;
    assert_eq!(one.status(), StatusCode::OK);
    let counters: Value = t
        .client
        .get(format!("{base}/__emulator/counters"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(counters["global"]["creates"], 1);
    assert_eq!(counters["realms"][&t.realm]["counters"]["creates"], 1);
    let missing = t
        .client
        .get(format!(
            "{base}/__emulator/realms/{}/entities/Nope",
            t.realm
        ))
        .send()
        .await?;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Knobs over HTTP (for the binary): force one 503.
    let resp = t
        .client
        .post(format!("{base}/__emulator/faults/force"))
        .json(&json!({"fault": "unavailable", "count": 1}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, _) = t.get("companyinfo/1").await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

#[tokio::test]
async fn retries_with_the_same_requestid_post_every_write_exactly_once_under_chaos(
) -> anyhow::Result<()> {
    let faults = FaultConfig {
        throttle_probability: 0.1,
        unavailable_probability: 0.05,
        server_error_probability: 0.05,
        drop_before_probability: 0.05,
        drop_after_probability: 0.05,
        seed: Some(11),
        ..FaultConfig::default()
    };
    let t = TestEmu::with(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await?;
    let post_until_ok = |n: usize| {
        let t = &t;
        async move {
            let body = json!({"DisplayName": format!("Chaos customer {n}")});
            for _ in 0..50 {
                if let Ok((StatusCode::OK, resp)) = t
                    .post(&format!("customer?requestid=chaos-{n}"), &body)
                    .await
                {
                    return Ok::<String, anyhow::Error>(id(&resp["Customer"]));
                }
            }
            anyhow::bail!("write {n} never succeeded")
        }
    };
    let ids = futures::future::try_join_all((0..200).map(post_until_ok)).await?;
    let stored = t.emu.handle().entities(&t.realm, "Customer");
    assert_eq!(stored.len(), 200);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 200);
    let c = t.emu.handle().counters();
    assert!(c.dropped > 0 && c.throttled > 0 && c.unavailable > 0 && c.server_errors > 0);
    assert_eq!(c.creates, 200);
    Ok(())
}

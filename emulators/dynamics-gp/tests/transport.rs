//! The HTTP(S) shim: shared secret, TLS with client certificates, CreateEntity, reads,
//! fault knobs, inspection, and exactly-once delivery by deterministic SOPNUMBE under chaos.

mod common;

use common::{customer, error_number, tag, Sop, TestGp, COMPANY};
use nopbridge_emu_dynamics_gp::{
    EmulatorConfig, ErrorNumbers, FaultConfig, InjectedFault, TlsConfig,
};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn the_shared_secret_is_required_and_never_echoed() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    let url = format!("{}/CreateEntity", t.emu.econnect_url(COMPANY));
    for auth in [None, Some("wrong-secret")] {
        let mut req = t.client.post(&url).body(customer("C1", ""));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let resp = req.send().await?;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body = resp.text().await?;
        assert_eq!(
            tag(&body, "ExceptionType").as_deref(),
            Some("UnauthorizedAccessException")
        );
        assert!(!body.contains("wrong-secret") && !body.contains(t.emu.handle().shared_secret()));
    }
    assert!(t.emu.handle().customers(COMPANY).is_empty());
    let (status, body) = t.submit_to("CreateEntity", &customer("C1", "")).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tag(&body, "CreateEntityResult").as_deref(), Some("true"));
    assert_eq!(t.emu.handle().counters().unauthorized, 2);
    // Unknown company database and unknown method.
    let resp = t
        .client
        .post(format!("{}/CreateEntity", t.emu.econnect_url("NOPE")))
        .bearer_auth(t.emu.handle().shared_secret())
        .body(customer("C1", ""))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (status, _) = t.submit_to("DeleteEverything", &customer("C1", "")).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn https_with_a_client_certificate_instead_of_the_secret() -> anyhow::Result<()> {
    let emu = nopbridge_emu_dynamics_gp::spawn(EmulatorConfig {
        tls: TlsConfig {
            enabled: true,
            client_certificates: true,
        },
        ..EmulatorConfig::default()
    })
    .await?;
    assert!(emu.base_url().starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(emu.handle().ca_pem().unwrap_or_default().as_bytes())?;
    let identity = emu.handle().issue_client_certificate("gp-connector")?;
    let with_cert = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .identity(reqwest::Identity::from_pem(
            identity.combined_pem().as_bytes(),
        )?)
        .build()?;
    let url = format!("{}/CreateTransactionEntity", emu.econnect_url(COMPANY));
    let resp = with_cert
        .post(&url)
        .body(customer("TLS1", ""))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    // TLS without a certificate: the secret is still needed.
    let plain = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()?;
    assert_eq!(
        plain
            .post(&url)
            .body(customer("TLS2", ""))
            .send()
            .await?
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let resp = plain
        .post(&url)
        .bearer_auth(emu.handle().shared_secret())
        .body(customer("TLS2", ""))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    // A client that does not trust the CA cannot connect; plain HTTP is not served.
    assert!(reqwest::Client::new()
        .post(&url)
        .body(customer("TLS3", ""))
        .send()
        .await
        .is_err());
    assert!(reqwest::Client::new()
        .post(url.replace("https", "http"))
        .body(customer("TLS3", ""))
        .send()
        .await
        .is_err());
    assert_eq!(emu.handle().customers(COMPANY).len(), 2);
    Ok(())
}

#[tokio::test]
async fn reads_return_customers_items_with_quantities_and_documents() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    t.accept(&Sop::simple("R1", "WIDGET-RED", 3).to_xml())
        .await?;
    let get = |path: String| {
        let req = t
            .client
            .get(format!("{}/gp/{COMPANY}/{path}", t.emu.base_url()))
            .bearer_auth(t.emu.handle().shared_secret());
        async move { anyhow::Ok((req.send().await?.status(), ())) }
    };
    let item: Value = t
        .client
        .get(format!(
            "{}/gp/{COMPANY}/items/widget-red",
            t.emu.base_url()
        ))
        .bearer_auth(t.emu.handle().shared_secret())
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(item["quantities"]["MAIN"]["available"], "7");
    assert_eq!(get("customers/WEB000123".into()).await?.0, StatusCode::OK);
    assert_eq!(get("sop/3/R1".into()).await?.0, StatusCode::OK);
    assert_eq!(get("sop/2/R1".into()).await?.0, StatusCode::NOT_FOUND);
    assert_eq!(get("journals/1".into()).await?.0, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn forced_faults_have_their_shapes_and_change_nothing() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    let h = t.emu.handle();
    h.set_faults(FaultConfig {
        retry_after_secs: 4,
        ..FaultConfig::default()
    });
    h.force_faults(InjectedFault::Throttle, 1);
    let resp = t
        .client
        .post(format!("{}/CreateEntity", t.emu.econnect_url(COMPANY)))
        .bearer_auth(h.shared_secret())
        .body(customer("F1", ""))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("4")
    );
    h.force_faults(InjectedFault::Unavailable, 1);
    assert_eq!(
        t.submit(&customer("F1", "")).await?.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    h.force_faults(InjectedFault::ServerError, 1);
    let (status, body) = t.submit(&customer("F1", "")).await?;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(tag(&body, "Message")
        .unwrap_or_default()
        .contains("deadlocked"));
    h.force_faults(InjectedFault::ExpireSession, 1);
    assert_eq!(
        t.submit(&customer("F1", "")).await?.0,
        StatusCode::UNAUTHORIZED
    );
    h.force_faults(InjectedFault::DropBefore, 1);
    assert!(t.submit(&customer("F1", "")).await.is_err());
    assert!(h.customers(COMPANY).is_empty());
    h.force_faults(InjectedFault::DropAfter, 1);
    assert!(t.submit(&customer("F1", "")).await.is_err());
    assert_eq!(
        h.customers(COMPANY).len(),
        1,
        "the write happened before the drop"
    );
    let c = h.counters();
    assert_eq!(
        (c.throttled, c.unavailable, c.server_errors, c.dropped),
        (1, 1, 1, 2)
    );
    Ok(())
}

#[tokio::test]
async fn inspection_and_control_routes_work_without_auth() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    t.seed().await?;
    t.accept(&Sop::simple("I1", "WIDGET-RED", 2).to_xml())
        .await?;
    let base = t.emu.base_url();
    let get = |path: &str| t.client.get(format!("{base}/__emulator/{path}")).send();
    let companies: Value = get("companies").await?.json().await?;
    assert_eq!(companies, serde_json::json!(["TWO"]));
    let sop: Value = get("companies/TWO/sop").await?.json().await?;
    assert_eq!(sop[0]["SOPNUMBE"], "I1");
    let counters: Value = get("counters").await?.json().await?;
    assert_eq!(counters["companies"]["TWO"]["sop_documents"], 1);
    assert_eq!(counters["global"]["accepted"], 4);
    assert_eq!(
        get("companies/TWO/widgets").await?.status(),
        StatusCode::NOT_FOUND
    );
    let resp = t
        .client
        .put(format!(
            "{base}/__emulator/companies/TWO/items/GADGET-XL/quantity"
        ))
        .json(&serde_json::json!({"site": "WAREHOUSE", "on_hand": 9}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        t.emu
            .handle()
            .quantity(COMPANY, "GADGET-XL", "WAREHOUSE")
            .map(|q| q.0),
        Some(9.into())
    );
    let posted: Value = t
        .client
        .post(format!(
            "{base}/__emulator/companies/TWO/batches/WEB20250314/post"
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(posted["posted"], 1);
    let resp = t
        .client
        .post(format!("{base}/__emulator/faults/force"))
        .json(&serde_json::json!({"fault": "unavailable", "count": 1}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        t.submit(&customer("X", "")).await?.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    Ok(())
}

#[tokio::test]
async fn deterministic_numbers_deliver_every_invoice_exactly_once_under_chaos() -> anyhow::Result<()>
{
    let t = TestGp::start().await?;
    t.seed().await?;
    t.emu
        .handle()
        .set_quantity(COMPANY, "WIDGET-RED", "MAIN", 10_000.into());
    t.emu.handle().set_faults(FaultConfig {
        throttle_probability: 0.08,
        unavailable_probability: 0.05,
        server_error_probability: 0.05,
        drop_before_probability: 0.05,
        drop_after_probability: 0.05,
        burst_length: 2,
        seed: Some(5),
        ..FaultConfig::default()
    });
    let duplicate = ErrorNumbers::default().duplicate_document;
    let send = |n: usize| {
        let t = &t;
        async move {
            let xml = Sop::simple(&format!("WEB{n:06}"), "WIDGET-RED", 1).to_xml();
            for _ in 0..60 {
                match t.submit(&xml).await {
                    Ok((StatusCode::OK, _)) => return Ok(()),
                    // Applied by an attempt whose answer was lost.
                    Ok((StatusCode::BAD_REQUEST, body))
                        if error_number(&body) == Some(duplicate) =>
                    {
                        return Ok(())
                    }
                    Ok((StatusCode::BAD_REQUEST, body)) => anyhow::bail!("rejected: {body}"),
                    _ => {}
                }
            }
            anyhow::bail!("document {n} never landed")
        }
    };
    futures::future::try_join_all((0..120).map(send)).await?;
    let h = t.emu.handle();
    let docs = h.sop_documents(COMPANY);
    assert_eq!(docs.len(), 120);
    let total: rust_decimal::Decimal = docs
        .iter()
        .filter_map(|d| {
            d["header"]["DOCAMNT"]
                .as_str()
                .and_then(|s| s.parse::<rust_decimal::Decimal>().ok())
        })
        .sum();
    assert_eq!(total, rust_decimal::Decimal::from(1440));
    assert_eq!(
        h.quantity(COMPANY, "WIDGET-RED", "MAIN").map(|q| q.1),
        Some(120.into()),
        "allocated once per document"
    );
    let c = h.counters();
    assert!(
        c.dropped > 0 && c.throttled > 0 && c.unavailable > 0 && c.server_errors > 0,
        "{c:?}"
    );
    Ok(())
}

//! The `{Data, MetaData}` envelope: page sizes, maximum, absolute links, sorting, filters;
//! bare-array endpoints and their paged setting.

mod common;

use common::{money, TestEmu};
use nopbridge_emu_kashflow::{EmulatorConfig, ListShape, OverMax, PagingConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn invoices(t: &TestEmu, n: usize) -> anyhow::Result<()> {
    t.customer("A1").await?;
    t.customer("B1").await?;
    for i in 0..n {
        let customer = if i % 2 == 0 { "A1" } else { "B1" };
        t.created(
            "invoices",
            json!({"CustomerCode": customer, "CustomerReference": format!("ORDER-{i}"),
            "IssuedDate": format!("2025-03-{:02}", i + 1),
            "LineItems": [{"Quantity": 1, "Rate": (i + 1) as f64, "VATLevel": 0}]}),
        )
        .await?;
    }
    Ok(())
}

/// Follows NextPageUrl from the first page and returns every row's Number.
async fn follow(t: &TestEmu, first: &str) -> anyhow::Result<(Vec<i64>, usize)> {
    let mut url = Some(t.url(first));
    let mut numbers = Vec::new();
    let mut pages = 0;
    while let Some(u) = url {
        let (status, page) =
            common::call_with(&t.client, reqwest::Method::GET, &u, Some(&t.token), None).await?;
        assert_eq!(status, StatusCode::OK, "{u}");
        pages += 1;
        numbers.extend(
            page["Data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["Number"].as_i64()),
        );
        url = page["MetaData"]["NextPageUrl"].as_str().map(str::to_string);
    }
    Ok((numbers, pages))
}

#[tokio::test]
async fn next_page_urls_walk_every_row_once_and_end_with_null() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    invoices(&t, 7).await?;
    let (status, first) = t.get("invoices?perpage=3").await?;
    assert_eq!(status, StatusCode::OK);
    let meta = &first["MetaData"];
    assert_eq!(meta["TotalRecords"], 7);
    assert_eq!(meta["PreviousPageUrl"], Value::Null);
    let base = t.emu.api_url();
    assert_eq!(
        meta["NextPageUrl"],
        json!(format!("{base}/invoices?page=2&perpage=3"))
    );
    assert_eq!(
        meta["LastPageUrl"],
        json!(format!("{base}/invoices?page=3&perpage=3"))
    );
    assert_eq!(money(&meta["TotalAmount"]), "28.00");
    assert_eq!(meta["InvoiceLimitReached"], false);
    // List rows are summaries: no lines or payments.
    assert_eq!(first["Data"][0]["LineItems"], Value::Null);
    assert_eq!(first["Data"][0]["PaymentLines"], Value::Null);
    let (numbers, pages) = follow(&t, "invoices?perpage=3").await?;
    assert_eq!(numbers, (1..=7).collect::<Vec<_>>());
    assert_eq!(pages, 3);
    // Beyond the last page: empty Data, links still valid.
    let (_, beyond) = t.get("invoices?perpage=3&page=9").await?;
    assert_eq!(beyond["Data"], json!([]));
    assert_eq!(beyond["MetaData"]["NextPageUrl"], Value::Null);
    Ok(())
}

#[tokio::test]
async fn filters_are_kept_in_the_links_and_narrow_the_rows() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    invoices(&t, 7).await?;
    let (numbers, _) = follow(&t, "invoices?customercode=a1&perpage=2").await?;
    assert_eq!(numbers, vec![1, 3, 5, 7]);
    let (_, page) = t.get("invoices?customercode=A1&perpage=2").await?;
    assert!(page["MetaData"]["NextPageUrl"]
        .as_str()
        .unwrap_or_default()
        .contains("customercode=A1"));
    let (_, found) = t.get("invoices?searchtext=order-3").await?;
    assert_eq!(found["Data"][0]["Number"], 4);
    let (_, dated) = t
        .get("invoices?issuedatefrom=2025-03-03&issuedateto=2025-03-05")
        .await?;
    assert_eq!(dated["MetaData"]["TotalRecords"], 3);
    let (_, unpaid) = t.get("invoices?statusfilter=Unpaid").await?;
    assert_eq!(unpaid["MetaData"]["TotalRecords"], 7);
    let (_, paid) = t.get("invoices?statusfilter=6").await?;
    assert_eq!(paid["MetaData"]["TotalRecords"], 0);
    Ok(())
}

#[tokio::test]
async fn sortby_takes_the_enum_or_a_name_and_order() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    invoices(&t, 5).await?;
    let numbers = |v: &Value| -> Vec<i64> {
        v["Data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["Number"].as_i64())
            .collect()
    };
    let (_, by_gross_desc) = t.get("invoices?sortby=5&order=desc").await?;
    assert_eq!(numbers(&by_gross_desc), vec![5, 4, 3, 2, 1]);
    let (_, by_name) = t.get("invoices?sortby=Number&order=desc&perpage=2").await?;
    assert_eq!(numbers(&by_name), vec![5, 4]);
    let (status, _) = t.get("invoices?sortby=99").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = t.get("invoices?order=sideways").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, customers) = t.get("customers?sortby=1&order=desc").await?;
    assert_eq!(customers["Data"][0]["Code"], "B1");
    Ok(())
}

#[tokio::test]
async fn perpage_is_limited_to_100_except_where_validation_is_skipped() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    invoices(&t, 1).await?;
    let (status, body) = t.get("invoices?perpage=101").await?;
    assert_eq!(
        (status, body["Error"].clone()),
        (StatusCode::BAD_REQUEST, json!("ValidationError"))
    );
    assert_eq!(t.get("invoices?perpage=100").await?.0, StatusCode::OK);
    assert_eq!(t.get("invoices?page=0").await?.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        t.get("invoices?perpage=abc").await?.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.get("customers?perpage=500&skipperpagevalidation=true")
            .await?
            .0,
        StatusCode::OK
    );
    let capped = TestEmu::with(EmulatorConfig {
        paging: PagingConfig {
            perpage_over_max: OverMax::Cap,
            ..PagingConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    let (status, body) = capped.get("invoices?perpage=500").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(body["MetaData"]["FirstPageUrl"]
        .as_str()
        .unwrap_or_default()
        .ends_with("perpage=100"));
    Ok(())
}

#[tokio::test]
async fn products_and_nominals_are_bare_arrays_unless_set_to_paged() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    for i in 0..12 {
        t.product(&format!("SKU-{i:02}"), 1).await?;
    }
    let (_, bare) = t.get("products").await?;
    assert_eq!(bare.as_array().map(Vec::len), Some(12));
    let (_, nominals) = t.get("nominals").await?;
    assert!(nominals.is_array());
    let (_, list) = t.get("products/list").await?;
    assert_eq!(
        list["Data"].as_array().map(Vec::len),
        Some(10),
        "default 10 per page"
    );
    assert_eq!(list["MetaData"]["TotalRecords"], 12);
    let paged = TestEmu::with(EmulatorConfig {
        paging: PagingConfig {
            products_shape: ListShape::Paged,
            nominals_shape: ListShape::Paged,
            ..PagingConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    paged.product("ONE", 1).await?;
    let (_, products) = paged.get("products").await?;
    assert_eq!(products["MetaData"]["TotalRecords"], 1);
    let (_, nominals) = paged.get("nominals?perpage=2").await?;
    assert_eq!(nominals["Data"].as_array().map(Vec::len), Some(2));
    assert!(nominals["MetaData"]["NextPageUrl"].is_string());
    Ok(())
}

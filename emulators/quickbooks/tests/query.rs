//! The query language: operators, escaping, paging, projections and the 4000/4001 faults.

mod common;

use common::{fault_code, TestEmu};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn names(v: &Value, entity: &str) -> Vec<String> {
    v["QueryResponse"][entity]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| {
                    r["DisplayName"]
                        .as_str()
                        .or(r["Name"].as_str())
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn seeded() -> anyhow::Result<TestEmu> {
    let t = TestEmu::start().await?;
    for name in [
        "Ana O'Neil",
        "Zoë Ångström",
        "Bob Builder",
        "Men's Shed",
        "Carla",
    ] {
        t.customer(name).await?;
    }
    Ok(t)
}

#[tokio::test]
async fn backslash_escaped_quotes_and_unicode_match_exactly() -> anyhow::Result<()> {
    let t = seeded().await?;
    let (status, q) = t
        .query("SELECT * FROM Customer WHERE DisplayName = 'Ana O\\'Neil'")
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&q, "Customer"), ["Ana O'Neil"]);
    let (_, q) = t
        .query("select * from Customer where DisplayName = 'Zoë Ångström'")
        .await?;
    assert_eq!(names(&q, "Customer"), ["Zoë Ångström"]);
    assert_eq!(q["QueryResponse"]["startPosition"], 1);
    assert_eq!(q["QueryResponse"]["maxResults"], 1);
    Ok(())
}

#[tokio::test]
async fn unescaped_quote_and_typographic_quote_give_4000() -> anyhow::Result<()> {
    let t = seeded().await?;
    let (status, q) = t
        .query("SELECT * FROM Customer WHERE DisplayName = 'Men's Shed'")
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fault_code(&q), Some("4000"));
    assert_eq!(q["Fault"]["Error"][0]["Message"], "Error parsing query");
    assert!(q["Fault"]["Error"][0]["Detail"]
        .as_str()
        .is_some_and(|d| d.starts_with("QueryParserError: Encountered")));
    let (_, q) = t
        .query("SELECT * FROM Customer WHERE DisplayName = 'Men\u{2019}s Shed'")
        .await?;
    assert_eq!(fault_code(&q), Some("4000"));
    Ok(())
}

#[tokio::test]
async fn non_queryable_fields_and_bad_paging_give_4001() -> anyhow::Result<()> {
    let t = seeded().await?;
    let (_, q) = t.query("SELECT * FROM Vendor WHERE AcctNum = '1'").await?;
    assert_eq!(fault_code(&q), Some("4001"));
    assert!(q["Fault"]["Error"][0]["Detail"]
        .as_str()
        .is_some_and(|d| d.contains("property 'AcctNum' is not queryable")));
    let (_, q) = t
        .query("SELECT * FROM Vendor WHERE PrimaryEmailAddr = 'a@b.c'")
        .await?;
    assert_eq!(fault_code(&q), Some("4001"));
    let (_, q) = t.query("SELECT * FROM Customer MAXRESULTS 0").await?;
    assert_eq!(fault_code(&q), Some("4001"));
    assert!(q["Fault"]["Error"][0]["Detail"]
        .as_str()
        .is_some_and(|d| d.contains("value 0 is too small")));
    let (_, q) = t
        .query("SELECT * FROM Invoice WHERE PrivateNote = 'x'")
        .await?;
    assert_eq!(fault_code(&q), Some("4001"));
    Ok(())
}

#[tokio::test]
async fn like_in_comparison_and_orderby_desc() -> anyhow::Result<()> {
    let t = seeded().await?;
    let (_, q) = t
        .query("SELECT * FROM Customer WHERE DisplayName LIKE '%o%' ORDERBY DisplayName DESC")
        .await?;
    assert_eq!(
        names(&q, "Customer"),
        ["Zoë Ångström", "Bob Builder", "Ana O'Neil"]
    );
    let (_, q) = t.query("SELECT * FROM Customer WHERE DisplayName IN ('Carla', 'Bob Builder') ORDER BY DisplayName").await?;
    assert_eq!(names(&q, "Customer"), ["Bob Builder", "Carla"]);
    let (_, all) = t.query("SELECT * FROM Customer ORDERBY Id").await?;
    let ids: Vec<u64> = all["QueryResponse"]["Customer"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|c| c["Id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids.len(), 5);
    let (_, q) = t
        .query(&format!(
            "SELECT * FROM Customer WHERE Id >= '{}' AND Id < '{}'",
            ids[1], ids[3]
        ))
        .await?;
    assert_eq!(
        q["QueryResponse"]["Customer"].as_array().map(Vec::len),
        Some(2)
    );
    Ok(())
}

#[tokio::test]
async fn paging_count_and_projection() -> anyhow::Result<()> {
    let t = seeded().await?;
    let (_, q) = t
        .query("SELECT * FROM Customer ORDERBY DisplayName STARTPOSITION 2 MAXRESULTS 2")
        .await?;
    assert_eq!(names(&q, "Customer"), ["Bob Builder", "Carla"]);
    assert_eq!(q["QueryResponse"]["startPosition"], 2);
    assert_eq!(q["QueryResponse"]["maxResults"], 2);
    let (_, q) = t
        .query("SELECT * FROM Customer ORDERBY DisplayName STARTPOSITION 5 MAXRESULTS 2")
        .await?;
    assert_eq!(q["QueryResponse"]["maxResults"], 1);
    let (_, q) = t.query("SELECT * FROM Customer STARTPOSITION 10").await?;
    assert_eq!(q["QueryResponse"], json!({}));
    let (_, q) = t.query("SELECT COUNT(*) FROM Customer").await?;
    assert_eq!(q["QueryResponse"]["totalCount"], 5);
    let (_, q) = t
        .query("SELECT Id, DisplayName FROM Customer WHERE DisplayName = 'Carla'")
        .await?;
    let row = &q["QueryResponse"]["Customer"][0];
    assert_eq!(row["sparse"], true);
    assert!(row.get("Active").is_none());
    assert_eq!(row["DisplayName"], "Carla");
    Ok(())
}

#[tokio::test]
async fn inactive_records_need_an_active_filter() -> anyhow::Result<()> {
    let t = seeded().await?;
    let carla = t
        .emu
        .handle()
        .entities(&t.realm, "Customer")
        .into_iter()
        .find(|c| c["DisplayName"] == "Carla")
        .unwrap_or_default();
    t.write(
        "customer",
        "Customer",
        json!({"Id": carla["Id"], "SyncToken": "0", "sparse": true, "Active": false}),
    )
    .await?;
    let (_, q) = t.query("SELECT COUNT(*) FROM Customer").await?;
    assert_eq!(q["QueryResponse"]["totalCount"], 4);
    let (_, q) = t
        .query("SELECT * FROM Customer WHERE Active IN (true, false) AND DisplayName LIKE 'Carla%'")
        .await?;
    assert_eq!(names(&q, "Customer"), ["Carla (deleted)"]);
    let (_, q) = t
        .query("SELECT * FROM Customer WHERE Active = false")
        .await?;
    assert_eq!(names(&q, "Customer"), ["Carla (deleted)"]);
    Ok(())
}

#[tokio::test]
async fn post_query_with_application_text_body() -> anyhow::Result<()> {
    let t = seeded().await?;
    let resp = t
        .client
        .post(t.url("query?minorversion=75"))
        .bearer_auth(&t.token)
        .header("content-type", "application/text")
        .body("SELECT * FROM Customer WHERE DisplayName = 'Ana O\\'Neil'")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    assert_eq!(names(&body, "Customer"), ["Ana O'Neil"]);
    Ok(())
}

#[tokio::test]
async fn queries_on_references_dates_and_amounts() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let a = t.customer("Ref A").await?;
    let b = t.customer("Ref B").await?;
    let item = t.service_item("Q item", 10.0).await?;
    for (cust, amount, date) in [
        (&a, 10, "2025-03-01"),
        (&a, 30, "2025-03-10"),
        (&b, 20, "2025-04-01"),
    ] {
        t.write(
            "invoice",
            "Invoice",
            json!({"CustomerRef": {"value": cust["Id"]}, "TxnDate": date, "Line": [{"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]}),
        )
        .await?;
    }
    let (_, q) = t
        .query(&format!(
            "SELECT * FROM Invoice WHERE CustomerRef = '{}'",
            a["Id"].as_str().unwrap_or_default()
        ))
        .await?;
    assert_eq!(
        q["QueryResponse"]["Invoice"].as_array().map(Vec::len),
        Some(2)
    );
    let (_, q) = t
        .query("SELECT * FROM Invoice WHERE TxnDate >= '2025-03-05' AND TotalAmt > '15.0'")
        .await?;
    assert_eq!(
        q["QueryResponse"]["Invoice"].as_array().map(Vec::len),
        Some(2)
    );
    let (_, q) = t
        .query("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime > '2020-01-01T00:00:00-08:00'")
        .await?;
    assert_eq!(
        q["QueryResponse"]["Invoice"].as_array().map(Vec::len),
        Some(3)
    );
    let (_, q) = t.query("SELECT * FROM Item WHERE Sku = 'none'").await?;
    assert_eq!(q["QueryResponse"], json!({}));
    Ok(())
}

/// `field = literal` is answered from an index; range conditions are never indexed, so
/// `field >= literal AND field <= literal` is the full scan to compare it with: the same rows
/// after a rename, in any letter case, and for numbers written differently.
#[tokio::test]
async fn equality_lookups_answer_what_a_scan_answers() -> anyhow::Result<()> {
    let t = seeded().await?;
    let bob = t
        .emu
        .handle()
        .entities(&t.realm, "Customer")
        .into_iter()
        .find(|c| c["DisplayName"] == "Bob Builder")
        .unwrap_or_default();
    t.write(
        "customer",
        "Customer",
        json!({"Id": bob["Id"], "SyncToken": "0", "sparse": true, "DisplayName": "Robert Builder"}),
    )
    .await?;
    for name in ["1001", "01001", "1001-A"] {
        t.service_item(name, 1.0).await?;
    }
    let cases = [
        ("Customer", "DisplayName", "Bob Builder", vec![]),
        (
            "Customer",
            "DisplayName",
            "ROBERT builder",
            vec!["Robert Builder"],
        ),
        (
            "Customer",
            "DisplayName",
            "Zoë Ångström",
            vec!["Zoë Ångström"],
        ),
        ("Item", "Name", "1001", vec!["1001", "01001"]),
        ("Item", "Name", "1001.00", vec!["1001", "01001"]),
        ("Item", "Name", "1001-a", vec!["1001-A"]),
    ];
    for (entity, field, literal, want) in cases {
        let (_, eq) = t
            .query(&format!(
                "SELECT * FROM {entity} WHERE {field} = '{literal}'"
            ))
            .await?;
        let (_, scan) = t
            .query(&format!(
                "SELECT * FROM {entity} WHERE {field} >= '{literal}' AND {field} <= '{literal}'"
            ))
            .await?;
        assert_eq!(names(&eq, entity), want, "{field} = '{literal}'");
        assert_eq!(
            names(&eq, entity),
            names(&scan, entity),
            "{field} = '{literal}'"
        );
    }
    Ok(())
}

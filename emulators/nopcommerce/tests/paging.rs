//! Paging and filters: OWB 0-based page objects, community 1-based pages with since_id.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::Value;

async fn generated(orders: usize) -> anyhow::Result<TestEmu> {
    let mut cfg = small_config();
    cfg.orders = orders;
    TestEmu::with(cfg).await
}

#[tokio::test]
async fn backend_search_pages_are_zero_based_and_complete() -> anyhow::Result<()> {
    let t = generated(230).await?;
    let (st, _, first) = t.get("Order/Search?pageIndex=0&pageSize=100").await?;
    assert_eq!(st, 200);
    assert_eq!(first["page_index"], 0);
    assert_eq!(first["page_size"], 100);
    assert_eq!(first["total_count"], 230);
    assert_eq!(first["total_pages"], 3);
    assert_eq!(first["has_previous_page"], false);
    assert_eq!(first["has_next_page"], true);
    let mut seen = HashSet::new();
    let mut last_created = String::from("9999");
    for page in 0..3 {
        let (_, _, p) = t
            .get(&format!("Order/Search?pageIndex={page}&pageSize=100"))
            .await?;
        let items = p["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), if page < 2 { 100 } else { 30 });
        for o in items {
            // Newest first, as OrderService.SearchOrders sorts.
            let created = o["created_on_utc"].as_str().unwrap_or_default().to_string();
            assert!(created <= last_created);
            last_created = created;
            assert!(seen.insert(o["id"].as_i64().unwrap_or_default()));
        }
        assert_eq!(p["has_next_page"], page < 2);
        assert_eq!(p["has_previous_page"], page > 0);
    }
    assert_eq!(seen.len(), 230);
    // Past the end: empty items, same totals.
    let (_, _, past) = t.get("Order/Search?pageIndex=9&pageSize=100").await?;
    assert_eq!(past["items"], Value::Array(vec![]));
    assert_eq!(past["total_count"], 230);
    // Default pageSize is int.MaxValue; getOnlyTotalCount returns no items.
    let (_, _, all) = t.get("Order/Search").await?;
    assert_eq!(all["page_size"], i32::MAX);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(230));
    let (_, _, count) = t.get("Order/Search?getOnlyTotalCount=true").await?;
    assert_eq!(
        (
            count["total_count"].as_i64(),
            count["items"].as_array().map(Vec::len)
        ),
        (Some(230), Some(0))
    );
    Ok(())
}

#[tokio::test]
async fn backend_search_filters() -> anyhow::Result<()> {
    let t = generated(300).await?;
    let h = t.handle();
    let expected = h.read(|st| {
        st.orders
            .iter()
            .filter(|o| {
                o.store_id == 2
                    && [20, 30].contains(&o.order_status_id)
                    && o.payment_status_id == 30
            })
            .count()
    });
    let (_, _, p) = t.get("Order/Search?storeId=2&osIds=20;30&psIds=30").await?;
    assert_eq!(p["total_count"].as_u64(), Some(expected as u64));
    assert!(p["items"].as_array().is_some_and(|a| a
        .iter()
        .all(|o| o["store_id"] == 2 && o["payment_status_id"] == 30)));

    // Created range: inclusive bounds, Z or no designator (server time = UTC).
    let (from, to) = h.read(|st| (st.orders[10].created_on_utc, st.orders[19].created_on_utc));
    let f = from.format("%Y-%m-%dT%H:%M:%SZ");
    let tt = to.format("%Y-%m-%dT%H:%M:%S");
    let (_, _, p) = t
        .get(&format!(
            "Order/Search?createdFromUtc={f}&createdToUtc={tt}"
        ))
        .await?;
    assert_eq!(p["total_count"], 10);

    // Lookups by guid and custom number.
    let o = h.order(42).ok_or_else(|| anyhow::anyhow!("order 42"))?;
    let (_, _, by_guid) = t
        .get(&format!("Order/GetByGuid?guid={}", o.order_guid))
        .await?;
    assert_eq!(by_guid["id"], 42);
    let (_, _, by_number) = t
        .get("Order/GetByCustomOrderNumber?customOrderNumber=42")
        .await?;
    assert_eq!(by_number["order_guid"], o.order_guid.to_string());
    let (_, _, several) = t.get("Order/GetByIds/1;2;999999").await?;
    assert_eq!(several.as_array().map(Vec::len), Some(2));

    // Customers: GetAll with role filter (guests = 4), by email.
    let guests = h.read(|st| st.customers.iter().filter(|c| c.is_guest()).count());
    let (_, _, p) = t
        .get("Customer/GetAll?customerRoleIds=4&pageSize=5")
        .await?;
    assert_eq!(p["total_count"].as_u64(), Some(guests as u64));
    assert!(p["items"]
        .as_array()
        .is_some_and(|a| a.iter().all(|c| c["email"].is_null())));
    let email = h
        .read(|st| {
            st.customers
                .iter()
                .filter(|c| !c.address_ids.is_empty())
                .find_map(|c| c.email.clone())
        })
        .unwrap_or_default();
    let (st, _, c) = t
        .get(&format!(
            "Customer/GetCustomerByEmail?email={}",
            email.to_uppercase()
        ))
        .await?;
    assert_eq!(
        (st.as_u16(), c["email"].as_str()),
        (200, Some(email.as_str()))
    );
    let (_, _, addresses) = t
        .get(&format!("Customer/GetAddressesByCustomerId/{}", c["id"]))
        .await?;
    assert_eq!(addresses.as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn community_orders_since_id_limit_and_status_names() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.orders = 400;
    cfg.community.scope_orders_to_host_store = false;
    let t = TestEmu::with(cfg).await?;
    // since_id cursoring returns every order once, ascending, at most 250 per call.
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let (st, _, body) = t
            .community_get(&format!(
                "/api/orders?since_id={cursor}&limit=250&fields=id,order_status"
            ))
            .await?;
        assert_eq!(st, 200);
        let page = body["orders"].as_array().cloned().unwrap_or_default();
        assert!(page.len() <= 250);
        let Some(last) = page.last() else { break };
        cursor = last["id"].as_i64().unwrap_or_default();
        seen.extend(page.iter().map(|o| o["id"].as_i64().unwrap_or_default()));
    }
    assert_eq!(seen, (1..=400).collect::<Vec<_>>());
    // 1-based pages.
    let (_, _, p2) = t
        .community_get("/api/orders?page=2&limit=50&fields=id")
        .await?;
    assert_eq!(p2["orders"][0]["id"], 51);
    // Bounds: limit 251 and page 0 are 400 with the plugin's error body (key "page").
    let (st, _, e) = t.community_get("/api/orders?limit=251").await?;
    assert_eq!(
        (st.as_u16(), e["errors"]["page"][0].as_str()),
        (400, Some("Invalid limit parameter"))
    );
    let (st, _, e) = t.community_get("/api/orders?page=0").await?;
    assert_eq!(
        (st.as_u16(), e["errors"]["page"][0].as_str()),
        (400, Some("Invalid page parameter"))
    );
    // Status by name; a number or a typo is ignored (no filter at all).
    let processing = t
        .handle()
        .read(|st| st.orders.iter().filter(|o| o.order_status_id == 20).count());
    let (_, _, c) = t
        .community_get("/api/orders/count?status=processing")
        .await?;
    assert_eq!(c["count"].as_u64(), Some(processing as u64));
    let (_, _, c) = t.community_get("/api/orders/count?status=20").await?;
    assert_eq!(c["count"], 400);
    let (_, _, c) = t
        .community_get("/api/orders/count?status=procesing")
        .await?;
    assert_eq!(c["count"], 400);
    // /count ignores since_id.
    let (_, _, c) = t.community_get("/api/orders/count?since_id=399").await?;
    assert_eq!(c["count"], 400);
    // Dates come back without a designator; enum names as strings.
    let (_, text, one) = t.community_get("/api/orders/7").await?;
    let created = one["orders"][0]["created_on_utc"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!created.is_empty() && !created.ends_with('Z'));
    assert!(one["orders"][0]["order_status"].is_string());
    assert!(text.contains("\"isDownload_activated\""));
    assert!(one["orders"][0]["order_items"][0]["product"]["sku"].is_string());
    // An unparseable date filter is dropped silently; created_at_min is exclusive.
    let (_, _, c) = t
        .community_get("/api/orders/count?created_at_min=2024-01-01%2003:00")
        .await?;
    assert_eq!(c["count"], 400);
    let first = t.handle().read(|st| st.orders[0].created_on_utc);
    let (_, _, c) = t
        .community_get(&format!(
            "/api/orders/count?created_at_min={}",
            first.format("%Y-%m-%dT%H:%M:%S%.fZ")
        ))
        .await?;
    assert_eq!(c["count"], 399);
    Ok(())
}

#[tokio::test]
async fn community_orders_scoped_to_host_store() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.orders = 200;
    let t = TestEmu::with(cfg).await?;
    let (main, eu) = t.handle().read(|st| {
        (
            st.orders.iter().filter(|o| o.store_id == 1).count(),
            st.orders.iter().filter(|o| o.store_id == 2).count(),
        )
    });
    let (_, _, c) = t.community_get("/api/orders/count").await?;
    assert_eq!(c["count"].as_u64(), Some(main as u64));
    let token = t.handle().community_token();
    let resp = t
        .client
        .get(format!("{}/api/orders/count", t.emu.base_url()))
        .header("Host", "eu.example.test")
        .bearer_auth(token)
        .send()
        .await?;
    let body: Value = resp.json().await?;
    assert_eq!(body["count"].as_u64(), Some(eu as u64));
    Ok(())
}

#[tokio::test]
async fn community_customers_and_products() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.orders = 50;
    let t = TestEmu::with(cfg).await?;
    let h = t.handle();
    let (_, _, list) = t.community_get("/api/customers?limit=250").await?;
    let customers = list["customers"].as_array().cloned().unwrap_or_default();
    // F480 keeps guests in the list; they have no email.
    assert!(customers
        .iter()
        .any(|c| c["email"].is_null() && c["role_ids"] == serde_json::json!([4])));
    assert!(customers.iter().any(|c| c["last_name"]
        .as_str()
        .is_some_and(|n| n.contains('\'') || !n.is_ascii())));
    let (_, _, count) = t.community_get("/api/customers/count").await?;
    assert_eq!(
        count["count"].as_u64(),
        Some(h.read(|st| st.customers.len()) as u64)
    );
    let (st, _, e) = t.community_get("/api/customers/999999").await?;
    assert_eq!(
        (st.as_u16(), e["errors"]["customer"][0].as_str()),
        (404, Some("not found"))
    );

    // updated_at_min: only products whose UpdatedOnUtc moved (AdjustInventory does not move it).
    let cutoff = h
        .read(|st| st.products.iter().map(|p| p.updated_on_utc).max())
        .unwrap_or_default();
    h.write(|st| {
        if let Some(p) = st.products.get_mut(2) {
            p.updated_on_utc = cutoff + chrono::Duration::seconds(30);
        }
    });
    h.adjust_inventory(1, 5, "count")?;
    let (_, _, p) = t
        .community_get(&format!(
            "/api/products?updated_at_min={}",
            cutoff.format("%Y-%m-%dT%H:%M:%SZ")
        ))
        .await?;
    let ids: Vec<i64> = p["products"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec![3]);
    Ok(())
}

/// SS420 flavour: guests left out of `/api/customers` (still fetchable by id), customer
/// embedded in orders.
#[tokio::test]
async fn community_ss420_flavour_settings() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.orders = 60;
    cfg.community.exclude_guests_from_customer_list = true;
    cfg.community.embed_customer_in_orders = true;
    cfg.community.scope_orders_to_host_store = false;
    let t = TestEmu::with(cfg).await?;
    let (_, _, list) = t.community_get("/api/customers?limit=250").await?;
    let customers = list["customers"].as_array().cloned().unwrap_or_default();
    assert!(!customers.is_empty());
    assert!(customers.iter().all(|c| c["email"].is_string()));
    let guest = t
        .handle()
        .read(|st| st.customers.iter().find(|c| c.is_guest()).map(|c| c.id))
        .unwrap_or_default();
    let (st, _, g) = t.community_get(&format!("/api/customers/{guest}")).await?;
    assert_eq!(
        (st.as_u16(), g["customers"][0]["email"].is_null()),
        (200, true)
    );
    let (_, _, o) = t.community_get("/api/orders/1").await?;
    assert_eq!(
        o["orders"][0]["customer"]["id"],
        o["orders"][0]["customer_id"]
    );
    assert_eq!(o["orders"][0]["customer"]["language_id"], "1");
    Ok(())
}

#[tokio::test]
async fn community_calls_without_cookie_create_guests_when_enabled() -> anyhow::Result<()> {
    let mut cfg = small_config();
    cfg.community.create_guest_per_request = true;
    let t = TestEmu::with(cfg).await?;
    let before = t.handle().read(|st| st.customers.len());
    t.community_get("/api/stores").await?;
    t.community_get("/api/stores").await?;
    assert_eq!(t.handle().read(|st| st.customers.len()), before + 2);
    let resp = t
        .client
        .get(format!("{}/api/stores", t.emu.base_url()))
        .header("Cookie", ".Nop.Customer=abc")
        .bearer_auth(t.handle().community_token())
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(t.handle().read(|st| st.customers.len()), before + 2);
    Ok(())
}

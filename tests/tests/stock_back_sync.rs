//! Stock back-sync end to end: QuickBooks on-hand changes the bridge did not cause reach the
//! store as AdjustInventory, woken by QuickBooks' signed webhooks (the watch's own interval is
//! ten minutes, so nothing else could bring them in time); the bridge's own sales documents
//! never come back, and the store's adjustments never go back to QuickBooks.
mod stack;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use stack::{e2e_wait, eventually, Opts, Stack, STORE, TAKEN};

const MARKER: &str = "[nopbridge ";

/// A person's write in QuickBooks (not the bridge: no `nopbridge store` PrivateNote).
async fn create(stack: &Stack, entity: &str, body: Value) -> Result<Value> {
    let token = stack.books.handle().issue_tokens(&stack.realm).access_token;
    let r = reqwest::Client::new()
        .post(format!(
            "{}/{entity}",
            stack.books.company_url(&stack.realm)
        ))
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        bail!("creating {entity}: {status} {v}");
    }
    Ok(v)
}

fn qty(item: &Value) -> i64 {
    item["QtyOnHand"]
        .as_f64()
        .map_or(i64::MIN, |q| q.round() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quickbooks_stock_moves_reach_the_store_once_and_nothing_echoes() -> Result<()> {
    let stack = Stack::start(Opts {
        orders: 60,
        stock_watch: true,
        ..Opts::default()
    })
    .await?;
    let (books, realm, h) = (&stack.books, &stack.realm, stack.store.handle().clone());
    let item = |sku: &str| {
        books
            .handle()
            .entities(realm, "Item")
            .into_iter()
            .find(|i| i["Sku"] == sku)
    };

    // The bridge posts the paid orders; their sales documents move QuickBooks' on-hand, and
    // the store took that stock at checkout already: nothing may come back.
    let paid: usize = h.read(|st| {
        st.orders
            .iter()
            .filter(|o| !o.deleted && o.store_id == STORE && TAKEN.contains(&o.payment_status_id))
            .count()
    });
    eventually("every paid order posted", e2e_wait(300), || {
        let n = stack.sales_docs().len();
        async move { Ok((n >= paid).then_some(())) }
    })
    .await?;

    // A product both sides track: single-warehouse in the store, an inventory item in the books
    // (made by the item upserts of the store's products, which may still be on their way).
    let (product_id, sku, store_before) = eventually(
        "a product the books track as an inventory item",
        e2e_wait(60),
        || {
            let found = h.read(|st| {
                st.products
                    .iter()
                    .filter(|p| !p.deleted && !p.use_multiple_warehouses && p.manages_stock())
                    .filter_map(|p| Some((p.id, p.sku.clone()?, p.stock_quantity)))
                    .find(|(_, sku, _)| {
                        item(sku).is_some_and(|i| i["TrackQtyOnHand"] == json!(true))
                    })
            });
            async move { Ok(found) }
        },
    )
    .await?;
    let qbo_item = item(&sku).context("the item")?;
    let (item_id, books_before) = (qbo_item["Id"].clone(), qty(&qbo_item));
    let marked = || {
        h.read(|st| {
            st.history_of(product_id)
                .iter()
                .filter(|r| r.message.contains(MARKER))
                .map(|r| r.quantity_adjustment)
                .collect::<Vec<_>>()
        })
    };
    let any_marked = || {
        h.read(|st| {
            st.stock_history
                .iter()
                .filter(|r| r.message.contains(MARKER))
                .count()
        })
    };
    assert_eq!(
        any_marked(),
        0,
        "the bridge's own sales documents came back to the store as stock moves"
    );

    // Goods received in QuickBooks: +10 in the store.
    let vendor = create(&stack, "vendor", json!({"DisplayName": "Oak Supplies Ltd"})).await?;
    create(
        &stack,
        "bill",
        json!({
            "VendorRef": {"value": vendor["Vendor"]["Id"]},
            "Line": [{"Amount": 50, "DetailType": "ItemBasedExpenseLineDetail",
                "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item_id}, "Qty": 10, "UnitPrice": 5}}]
        }),
    )
    .await?;
    let wait = e2e_wait(60);
    eventually("the bill's 10 in the store", wait, || {
        let m = marked();
        async move { Ok((m == [10]).then_some(())) }
    })
    .await?;
    // A sale keyed in QuickBooks: −3 in the store.
    create(
        &stack,
        "salesreceipt",
        json!({"Line": [{"Amount": 30, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item_id}, "Qty": 3, "UnitPrice": 10}}]}),
    )
    .await?;
    eventually("the counter sale's −3 in the store", wait, || {
        let m = marked();
        async move { Ok((m.len() == 2).then_some(m)) }
    })
    .await
    .map(|m| assert_eq!(m, [10, -3], "newest first"))?;

    let store_after = h
        .product(product_id)
        .map(|p| p.stock_quantity)
        .context("product")?;
    assert_eq!(store_after, store_before + 7);
    // Both sides moved by the same 7, and the store's adjustments did not go back to the books.
    let books_after = qty(&item(&sku).context("the item")?);
    assert_eq!(books_after, books_before + 7);
    assert_eq!(any_marked(), 2, "only that product was adjusted");
    stack.shutdown().await;
    Ok(())
}

//! AdjustInventory and stock quantity history, single and multiple warehouses.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn adjust_inventory_writes_history_single_warehouse() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let p = add_product(h, "ADJ-1", "12.00", 1, 40, false);
    let (st, body, _) = t
        .send(
            t.client
                .post(t.url(&format!(
                    "Product/AdjustInventory/{p}?quantityToChange=-3&message=Counted%20in%20QBO"
                )))
                .json(&""),
        )
        .await?;
    assert_eq!(st, 200, "{body}");
    let (st, _, _) = t
        .send(
            t.client
                .post(t.url(&format!(
                    "Product/AdjustInventory/{p}?quantityToChange=10&message=Restock"
                )))
                .json(&""),
        )
        .await?;
    assert_eq!(st, 200);
    let (_, _, product) = t.get(&format!("Product/GetById/{p}")).await?;
    assert_eq!(product["stock_quantity"], 47);
    let (_, _, total) = t.get(&format!("Product/GetTotalStockQuantity/{p}")).await?;
    assert_eq!(total, Value::from(47));
    let (_, _, page) = t
        .get(&format!(
            "Product/GetStockQuantityHistory/{p}?pageIndex=0&pageSize=10"
        ))
        .await?;
    assert_eq!(page["total_count"], 2);
    // Newest first.
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        (
            rows[0]["quantity_adjustment"].as_i64(),
            rows[0]["stock_quantity"].as_i64()
        ),
        (Some(10), Some(47))
    );
    assert_eq!(rows[0]["message"], "Restock");
    assert_eq!(
        (
            rows[1]["quantity_adjustment"].as_i64(),
            rows[1]["stock_quantity"].as_i64()
        ),
        (Some(-3), Some(37))
    );
    assert_eq!(rows[1]["message"], "Counted in QBO");
    assert_eq!(rows[1]["warehouse_id"], 1);
    // Missing quantity → 400; unknown product → 404; by SKU works.
    let (st, _, _) = t
        .send(
            t.client
                .post(t.url(&format!("Product/AdjustInventory/{p}")))
                .json(&""),
        )
        .await?;
    assert_eq!(st, 400);
    let (st, _, _) = t
        .send(
            t.client
                .post(t.url("Product/AdjustInventory/999999?quantityToChange=1"))
                .json(&""),
        )
        .await?;
    assert_eq!(st, 404);
    let (_, _, by_sku) = t.get("Product/GetProductBySku?sku=ADJ-1").await?;
    assert_eq!(by_sku["id"], p);
    Ok(())
}

#[tokio::test]
async fn multi_warehouse_reserve_ship_and_available() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let s = sample_order(h)?; // reserves 1 shade over warehouses 1 (50) and 2 (50)
    let (_, _, rows) = t
        .get(&format!(
            "ProductWarehouse/GetAllProductWarehouseInventoryRecords/{}",
            s.shade
        ))
        .await?;
    let rows = rows.as_array().cloned().unwrap_or_default();
    let reserved: i64 = rows
        .iter()
        .filter_map(|r| r["reserved_quantity"].as_i64())
        .sum();
    let stock: i64 = rows
        .iter()
        .filter_map(|r| r["stock_quantity"].as_i64())
        .sum();
    assert_eq!((stock, reserved), (100, 1));
    let (_, _, avail) = t
        .get(&format!("Product/GetTotalStockQuantity/{}", s.shade))
        .await?;
    assert_eq!(avail, Value::from(99));
    let (_, _, gross) = t
        .get(&format!(
            "Product/GetTotalStockQuantity/{}?useReservedQuantity=false",
            s.shade
        ))
        .await?;
    assert_eq!(gross, Value::from(100));

    // Shipping books the reservation: stock and reserved both drop, history per warehouse.
    h.mark_order_as_paid(s.order_id)?;
    h.ship_everything(s.order_id)?;
    let pwi = h.read(|st| st.pwi_of(s.shade).into_iter().cloned().collect::<Vec<_>>());
    assert_eq!(pwi.iter().map(|w| w.stock_quantity).sum::<i32>(), 99);
    assert_eq!(pwi.iter().map(|w| w.reserved_quantity).sum::<i32>(), 0);
    let history = h.read(|st| {
        st.history_of(s.shade)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    });
    let ship_row = history
        .last()
        .ok_or_else(|| anyhow::anyhow!("no history"))?;
    assert_eq!(ship_row.quantity_adjustment, -1);
    assert!(ship_row.warehouse_id.is_some());
    assert_eq!(
        ship_row.message,
        format!(
            "The stock quantity has been reduced when an order item of the order #{} was shipped",
            s.order_id
        )
    );

    // Raw ProductWarehouse/Update writes no history.
    let before = history.len();
    let mut row = serde_json::to_value(&pwi[0])?;
    row["stock_quantity"] = Value::from(500);
    let (st, _, _) = t
        .send(t.client.put(t.url("ProductWarehouse/Update")).json(&row))
        .await?;
    assert_eq!(st, 200);
    assert_eq!(h.read(|st| st.history_of(s.shade).len()), before);
    let (_, _, avail) = t
        .get(&format!(
            "Product/GetTotalStockQuantity/{}?warehouseId={}",
            s.shade, pwi[0].warehouse_id
        ))
        .await?;
    assert_eq!(avail, Value::from(500 - pwi[0].reserved_quantity));

    // AdjustInventory on a multi-warehouse product reserves/unblocks and is traced.
    let (st, _, _) = t
        .send(
            t.client
                .post(t.url(&format!(
                    "Product/AdjustInventory/{}?quantityToChange=-4&message=hold",
                    s.shade
                )))
                .json(&""),
        )
        .await?;
    assert_eq!(st, 200);
    let reserved: i32 = h.read(|st| st.pwi_of(s.shade).iter().map(|w| w.reserved_quantity).sum());
    assert_eq!(reserved, 4);
    let (_, _, page) = t
        .get(&format!("Product/GetStockQuantityHistory/{}", s.shade))
        .await?;
    assert_eq!(page["items"][0]["message"], "hold");
    assert_eq!(page["items"][0]["quantity_adjustment"], -4);
    Ok(())
}

#[tokio::test]
async fn unmanaged_stock_reads_zero_and_community_pwi() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.handle();
    let p = add_product(h, "NOSTOCK", "5.00", 1, 10, false);
    h.write(|st| {
        if let Some(x) = st.products.iter_mut().find(|x| x.id == p) {
            x.manage_inventory_method_id = 0;
        }
    });
    let (_, _, total) = t.get(&format!("Product/GetTotalStockQuantity/{p}")).await?;
    assert_eq!(total, Value::from(0));
    let m = add_product(h, "MULTI", "5.00", 1, 10, true);
    let (_, _, body) = t
        .community_get(&format!(
            "/api/product_warehouse_inventories?product_id={m}"
        ))
        .await?;
    let rows = body["product_warehouse_inventories"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows.iter()
            .filter_map(|r| r["stock_quantity"].as_i64())
            .sum::<i64>(),
        10
    );
    Ok(())
}

//! Product → `Product`, and stock → `InventoryLevel` (one per warehouse when the product
//! uses several, else one with warehouse 0).
use super::{text, ts, Fields, MapCtx, MapError};
use crate::client::dto::{ProductDto, StockHistoryDto, WarehouseInventoryDto};
use chrono::{DateTime, Utc};
use nopbridge_proto::events::v1 as pb;
use std::collections::HashMap;

/// ManageInventoryMethod.ManageStock: the only method whose stock ingest reports (stock by
/// attribute combinations is not read).
pub const MANAGE_STOCK: i32 = 1;

pub fn product(
    p: &ProductDto,
    warehouses: &[WarehouseInventoryDto],
    names: &HashMap<i64, String>,
    ctx: &MapCtx,
) -> Result<pb::Product, MapError> {
    let f = Fields {
        entity: "product",
        id: p.id,
    };
    let cur = ctx.currency;
    Ok(pb::Product {
        meta: None,
        product_id: p.id,
        sku: text(&p.sku),
        name: p.name.clone(),
        gtin: text(&p.gtin),
        manufacturer_part_number: text(&p.manufacturer_part_number),
        product_type: match p.type_id() {
            5 => pb::ProductType::Simple,
            10 => pb::ProductType::Grouped,
            _ => pb::ProductType::Unspecified,
        } as i32,
        price: Some(f.money("price", &p.price, cur)?),
        old_price: Some(f.money("old_price", &p.old_price, cur)?),
        product_cost: Some(f.money("product_cost", &p.product_cost, cur)?),
        price_includes_tax: ctx.prices_include_tax,
        tax_category_id: p.tax_category_id,
        tax_category_name: String::new(),
        is_tax_exempt: p.is_tax_exempt,
        inventory_method: match p.manage_inventory_method_id {
            0 => pb::InventoryMethod::DontManageStock,
            1 => pb::InventoryMethod::ManageStock,
            2 => pb::InventoryMethod::ManageStockByAttributes,
            _ => pb::InventoryMethod::Unspecified,
        } as i32,
        use_multiple_warehouses: p.use_multiple_warehouses,
        stock_quantity: p.stock_quantity,
        warehouses: warehouses
            .iter()
            .map(|w| pb::WarehouseStock {
                warehouse_id: w.warehouse_id,
                warehouse_name: names.get(&w.warehouse_id).cloned().unwrap_or_default(),
                stock_quantity: w.stock_quantity,
                reserved_quantity: w.reserved_quantity,
            })
            .collect(),
        is_gift_card: p.is_gift_card,
        is_ship_enabled: p.is_ship_enabled,
        published: p.published,
        deleted: p.deleted,
        created_at: Some(ts(p.created_on_utc)),
        updated_at: Some(ts(p.updated_on_utc)),
        // Set by the sync, which knows the previous version.
        stock_change_only: false,
    })
}

/// Inventory levels of a product that manages stock: per warehouse, or one (warehouse 0).
/// `last`: the newest stock quantity history row (the adjustment that led here).
pub fn inventory_levels(
    p: &ProductDto,
    warehouses: &[WarehouseInventoryDto],
    last: Option<&StockHistoryDto>,
    fallback_time: DateTime<Utc>,
) -> Vec<pb::InventoryLevel> {
    if p.manage_inventory_method_id != MANAGE_STOCK {
        return Vec::new();
    }
    let updated = Some(ts(last.map_or(fallback_time, |h| h.created_on_utc)));
    let (adjustment, message) = last.map_or((0, String::new()), |h| {
        (h.quantity_adjustment, text(&h.message))
    });
    let level = |warehouse_id, stock: i32, reserved: i32| pb::InventoryLevel {
        meta: None,
        product_id: p.id,
        sku: text(&p.sku),
        warehouse_id,
        stock_quantity: stock,
        reserved_quantity: reserved,
        available_quantity: stock - reserved,
        adjustment,
        message: message.clone(),
        updated_at: updated,
    };
    if p.use_multiple_warehouses {
        warehouses
            .iter()
            .map(|w| level(w.warehouse_id, w.stock_quantity, w.reserved_quantity))
            .collect()
    } else {
        vec![level(0, p.stock_quantity, 0)]
    }
}

//! Customer, product and stock events: upserts and stock adjustments.
use crate::config::{MatchRule, TaxMode};
use crate::customer::{customer_ref, Party};
use crate::documents;
use crate::error::MappingError;
use crate::fitting::{Field, Fitter};
use crate::mapper::Connection;
use crate::pb::commands::{
    command::Body, AdjustStock, Command, ItemRef, ItemType, UpsertCustomer, UpsertItem,
};
use crate::pb::events::{
    self as ev, Customer, EventMeta, InventoryLevel, InventoryMethod, Product,
};
use nopbridge_model::Currency;

pub(crate) fn map_customer(
    conn: &Connection,
    c: &Customer,
    meta: &EventMeta,
) -> Option<Result<Command, MappingError>> {
    let cfg = &conn.config;
    // Fixed-customer connections never create per-person customers; guests without an
    // email have nothing to match on (their orders carry the billing email instead).
    if cfg.customer.match_rule == MatchRule::Fixed || (c.is_guest && c.email.trim().is_empty()) {
        return None;
    }
    let billing = c.billing_address.as_ref();
    let first = if c.first_name.trim().is_empty() {
        billing.map_or("", |b| b.first_name.as_str())
    } else {
        c.first_name.as_str()
    };
    let last = if c.last_name.trim().is_empty() {
        billing.map_or("", |b| b.last_name.as_str())
    } else {
        c.last_name.as_str()
    };
    let company = if c.company.trim().is_empty() {
        billing.map_or("", |b| b.company.as_str())
    } else {
        c.company.as_str()
    };
    let party = Party {
        first,
        last,
        company,
        email: c.email.as_str(),
        customer_id: c.customer_id,
    };
    let currency = cfg
        .currency
        .as_ref()
        .and_then(|k| match k.document_currency {
            crate::config::DocumentCurrency::Home => Some(k.home_currency),
            crate::config::DocumentCurrency::Customer => Currency::new(&c.currency_code).ok(),
            // The store currency is not on a customer event; the first document sets it.
            crate::config::DocumentCurrency::Store => None,
        });
    let mut fitter = Fitter::new(cfg.target);
    let path = "upsert_customer.customer";
    let (customer, name) = customer_ref(cfg, &party, currency, &mut fitter, path);
    let addr = |a: Option<&ev::Address>, p: &str, f: &mut Fitter| {
        a.map(|a| documents::postal_address(&crate::address::normalize(a), f, p))
    };
    let body = Body::UpsertCustomer(UpsertCustomer {
        customer: Some(customer),
        name: Some(name),
        email: fitter.fit(Field::Email, "upsert_customer.email", c.email.trim()),
        phone: fitter.fit(
            Field::Phone,
            "upsert_customer.phone",
            &crate::address::clean(&c.phone),
        ),
        billing_address: addr(
            c.billing_address.as_ref(),
            "upsert_customer.billing_address",
            &mut fitter,
        ),
        shipping_address: addr(
            c.shipping_address.as_ref(),
            "upsert_customer.shipping_address",
            &mut fitter,
        ),
        taxable: !c.is_tax_exempt,
        vat_number: c.vat_number.trim().to_string(),
        active: c.active && !c.deleted && meta.change != ev::ChangeKind::Delete as i32,
    });
    let id = c.customer_id.to_string();
    Some(Ok(conn.envelope(
        "upsert_customer",
        &[&id, &meta.content_hash],
        Some(meta),
        vec![meta.event_id.clone()],
        None,
        fitter,
        body,
    )))
}

pub(crate) fn map_product(conn: &Connection, p: &Product, meta: &EventMeta) -> Command {
    let cfg = &conn.config;
    let mut fitter = Fitter::new(cfg.target);
    let sku = if p.sku.trim().is_empty() {
        format!("NOP-{}", p.product_id)
    } else {
        p.sku.trim().to_string()
    };
    let managed = matches!(
        p.inventory_method(),
        InventoryMethod::ManageStock | InventoryMethod::ManageStockByAttributes
    );
    let quantity = if p.use_multiple_warehouses {
        p.warehouses
            .iter()
            .map(|w| i64::from(w.stock_quantity) - i64::from(w.reserved_quantity))
            .sum()
    } else {
        i64::from(p.stock_quantity)
    };
    let item = ItemRef {
        sku: fitter.fit(Field::Sku, "upsert_item.item.sku", &sku),
        name: fitter.fit(
            Field::ItemName,
            "upsert_item.item.name",
            &crate::address::clean(&p.name),
        ),
        target_item: cfg
            .items
            .sku_overrides
            .get(&sku)
            .cloned()
            .unwrap_or_default(),
        store_product_id: p.product_id.to_string(),
    };
    let tax_code = match cfg.tax.mode {
        TaxMode::UsSalesTax if p.is_tax_exempt => cfg.tax.us.non_taxable_code.clone(),
        TaxMode::UsSalesTax => cfg.tax.us.taxable_code.clone(),
        TaxMode::Vat => String::new(),
    };
    let body = Body::UpsertItem(UpsertItem {
        name: item.name.clone(),
        item: Some(item),
        description: fitter.fit(
            Field::LineDescription,
            "upsert_item.description",
            &crate::address::clean(&p.name),
        ),
        item_type: if cfg.items.track_inventory && managed && !p.is_gift_card {
            ItemType::Inventory
        } else {
            ItemType::NonInventory
        } as i32,
        unit_price: p.price.clone(),
        unit_cost: p.product_cost.clone(),
        income_account: cfg.items.income_account.clone(),
        expense_account: cfg.items.expense_account.clone(),
        asset_account: cfg.items.asset_account.clone(),
        track_quantity: cfg.items.track_inventory && managed,
        quantity_on_hand: quantity,
        taxable: !p.is_tax_exempt,
        tax_code,
        active: p.published && !p.deleted && meta.change != ev::ChangeKind::Delete as i32,
    });
    let id = p.product_id.to_string();
    conn.envelope(
        "upsert_item",
        &[&id, &meta.content_hash],
        Some(meta),
        vec![meta.event_id.clone()],
        None,
        fitter,
        body,
    )
}

pub(crate) fn map_stock(conn: &Connection, l: &InventoryLevel, meta: &EventMeta) -> Command {
    let cfg = &conn.config;
    let mut fitter = Fitter::new(cfg.target);
    let site = cfg
        .stock
        .sites
        .get(&l.warehouse_id)
        .cloned()
        .unwrap_or_else(|| cfg.stock.default_site.clone());
    let body = Body::AdjustStock(AdjustStock {
        item: Some(ItemRef {
            sku: fitter.fit(Field::Sku, "adjust_stock.item.sku", l.sku.trim()),
            target_item: cfg
                .items
                .sku_overrides
                .get(l.sku.trim())
                .cloned()
                .unwrap_or_default(),
            // Levels from a back office name the product by SKU only.
            store_product_id: match l.product_id {
                0 => String::new(),
                id => id.to_string(),
            },
            ..Default::default()
        }),
        quantity_on_hand: i64::from(l.available_quantity),
        delta: i64::from(l.adjustment),
        site,
        reason: fitter.fit(Field::Note, "adjust_stock.reason", &l.message),
        store_warehouse_id: match l.warehouse_id {
            0 => cfg.stock.store_warehouse,
            id => id,
        },
    });
    let (pid, wid) = (l.product_id.to_string(), l.warehouse_id.to_string());
    conn.envelope(
        "adjust_stock",
        &[&pid, &wid, &meta.content_hash],
        Some(meta),
        vec![meta.event_id.clone()],
        None,
        fitter,
        body,
    )
}

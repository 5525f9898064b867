//! Building an order's lines in store currency: products, the subtotal discount, shipping
//! and payment fee, the order-total discount, gift cards and reward points.
use super::tax_codes::line_rate;
use super::text::{attribute_text, mask_code, product_description};
use super::{sub, DocLine, Reader, StoreRedemption};
use crate::address::clean;
use crate::config::{LineTarget, PostAs, RedemptionTarget, TaxMode};
use crate::error::{ErrorContext, MappingError};
use crate::mapper::Connection;
use crate::pb::commands::{ItemRef, LineKind, TenderKind};
use crate::pb::events::Order;
use nopbridge_model::{apportion, Rate};
use std::collections::BTreeMap;

pub(super) struct Builder<'a> {
    pub conn: &'a Connection,
    pub ctx: &'a ErrorContext,
    pub lines: Vec<DocLine>,
}

impl<'a> Builder<'a> {
    pub fn new(conn: &'a Connection, ctx: &'a ErrorContext, capacity: usize) -> Self {
        Self {
            conn,
            ctx,
            lines: Vec::with_capacity(capacity),
        }
    }

    pub fn line(
        &mut self,
        kind: LineKind,
        item: ItemRef,
        description: String,
        net: i64,
        tax: i64,
    ) -> &mut DocLine {
        self.lines.push(DocLine {
            kind,
            item,
            description,
            quantity: 1,
            amount: 0,
            tax: 0,
            tax_code: String::new(),
            rate: None,
            account: String::new(),
            attributes: Vec::new(),
            order_item_id: 0,
            allocated_discount: 0,
            store_net: net,
            store_tax: tax,
        });
        let n = self.lines.len() - 1;
        &mut self.lines[n]
    }

    /// The configured item for a non-product line; `Unmapped` when neither item nor account
    /// is set (only raised when the order actually has such an amount).
    pub fn target_item(
        &self,
        key: &str,
        item: &str,
        account: &str,
    ) -> Result<ItemRef, MappingError> {
        if item.is_empty() && account.is_empty() {
            return Err(MappingError::Unmapped {
                context: self.ctx.clone().into(),
                field: key.to_string(),
                found: "a non-zero amount".into(),
                config_key: format!("items.{key}"),
            });
        }
        Ok(ItemRef {
            target_item: item.to_string(),
            name: item.to_string(),
            ..Default::default()
        })
    }

    fn products_slice(&self) -> impl Iterator<Item = &DocLine> {
        self.lines.iter().filter(|l| l.kind == LineKind::Product)
    }

    /// Product lines at their net price (line discounts already applied by the store).
    pub fn products(
        &mut self,
        order: &Order,
        rd: &Reader<'_>,
        candidates: &[Rate],
    ) -> Result<(), MappingError> {
        let cfg = &self.conn.config;
        for (i, item) in order.items.iter().enumerate() {
            let f = |n: &str| format!("items[{i}].{n}");
            if item.quantity <= 0 {
                return Err(MappingError::InvalidField {
                    context: self.ctx.clone().into(),
                    field: f("quantity"),
                    expected: "a positive quantity".into(),
                    found: item.quantity.to_string(),
                });
            }
            let net = rd.required(&f("price_excl_tax"), item.price_excl_tax.as_ref())?;
            let tax = match item.price_incl_tax.as_ref() {
                Some(incl) => sub(
                    self.ctx,
                    &f("price_incl_tax"),
                    rd.get(&f("price_incl_tax"), Some(incl))?,
                    net,
                )?,
                None => 0,
            };
            let sku = item.sku.trim();
            let item_ref = ItemRef {
                sku: sku.to_string(),
                name: clean(&item.product_name),
                target_item: cfg
                    .items
                    .sku_overrides
                    .get(sku)
                    .cloned()
                    .unwrap_or_default(),
                store_product_id: item.product_id.to_string(),
            };
            let line = self.line(
                LineKind::Product,
                item_ref,
                product_description(item),
                net,
                tax,
            );
            line.quantity = i64::from(item.quantity);
            line.attributes.clone_from(&item.attributes);
            line.order_item_id = item.order_item_id;
            line.rate = Some(line_rate(candidates, net, tax));
            line.account.clone_from(&cfg.items.income_account);
            if cfg.items.attribute_lines {
                let text = attribute_text(item);
                if !text.is_empty() {
                    self.line(LineKind::Description, ItemRef::default(), text, 0, 0)
                        .quantity = 0;
                }
            }
        }
        Ok(())
    }

    /// The subtotal discount: allocated to product lines for information, posted as negative
    /// lines, one per VAT rate (net and tax split by largest remainder), one in US mode.
    pub fn subtotal_discount(
        &mut self,
        order: &Order,
        rd: &Reader<'_>,
    ) -> Result<(), MappingError> {
        let ctx = self.ctx;
        let excl = rd.get(
            "subtotal_discount_excl_tax",
            order.subtotal_discount_excl_tax.as_ref(),
        )?;
        let incl = rd.get(
            "subtotal_discount_incl_tax",
            order.subtotal_discount_incl_tax.as_ref(),
        )?;
        let tax = sub(ctx, "subtotal_discount_incl_tax", incl, excl)?;
        if excl == 0 && tax == 0 {
            return Ok(());
        }
        let ap = |total: i64, w: &[i64], field: &str| {
            apportion(total, w).map_err(|e| MappingError::Arithmetic {
                context: ctx.clone().into(),
                field: field.to_string(),
                message: e.to_string(),
            })
        };
        let weights: Vec<i64> = self
            .lines
            .iter()
            .map(|l| {
                if l.kind == LineKind::Product {
                    l.store_net.max(0)
                } else {
                    0
                }
            })
            .collect();
        if !weights.is_empty() {
            let alloc = ap(excl, &weights, "subtotal_discount_excl_tax")?;
            for (l, a) in self.lines.iter_mut().zip(alloc) {
                l.allocated_discount = a;
            }
        }
        let vat = self.conn.config.tax.mode == TaxMode::Vat;
        let mut groups: BTreeMap<Rate, (i64, i64)> = BTreeMap::new();
        for l in self.products_slice() {
            let key = if vat {
                l.rate.unwrap_or(Rate::ZERO)
            } else {
                Rate::ZERO
            };
            let g = groups.entry(key).or_insert((0, 0));
            g.0 = g.0.saturating_add(l.store_net.max(0));
            g.1 = g.1.saturating_add(l.store_tax.max(0));
        }
        if groups.is_empty() {
            groups.insert(Rate::ZERO, (0, 0));
        }
        let nets: Vec<i64> = groups.values().map(|g| g.0).collect();
        let taxes: Vec<i64> = groups.values().map(|g| g.1).collect();
        let net_parts = ap(excl, &nets, "subtotal_discount_excl_tax")?;
        let tax_parts = ap(tax, &taxes, "subtotal_discount_incl_tax")?;
        let d = &self.conn.config.items.discount;
        let item = self.target_item("discount", &d.item, &d.account)?;
        let desc = if d.description.is_empty() {
            "Discount".to_string()
        } else {
            d.description.clone()
        };
        let split = groups.len() > 1;
        for ((rate, n), t) in groups.into_keys().zip(net_parts).zip(tax_parts) {
            let text = if split {
                format!("{desc} ({rate}%)")
            } else {
                desc.clone()
            };
            let line = self.line(LineKind::Discount, item.clone(), text, -n, -t);
            line.rate = Some(rate);
            line.account.clone_from(&d.account);
        }
        Ok(())
    }

    /// A charge line (shipping, payment fee) with its own tax.
    pub fn charge(&mut self, c: Charge<'_>, candidates: &[Rate]) -> Result<(), MappingError> {
        if c.excl == 0 && c.tax == 0 {
            return Ok(());
        }
        let item = self.target_item(c.key, &c.target.item, &c.target.account)?;
        let desc = if c.target.description.is_empty() {
            c.description
        } else {
            c.target.description.clone()
        };
        let line = self.line(c.kind, item, desc, c.excl, c.tax);
        line.rate = Some(line_rate(candidates, c.excl, c.tax));
        line.account.clone_from(&c.target.account);
        Ok(())
    }

    /// The order-total discount: applied after tax, so it carries none.
    pub fn order_discount(&mut self, amount: i64) -> Result<(), MappingError> {
        if amount == 0 {
            return Ok(());
        }
        let d = &self.conn.config.items.discount;
        let item = self.target_item("discount", &d.item, &d.account)?;
        let account = d.account.clone();
        self.line(
            LineKind::Discount,
            item,
            "Order discount".into(),
            -amount,
            0,
        )
        .account = account;
        Ok(())
    }

    /// Gift cards and reward points: negative lines, or tenders returned to the caller.
    pub fn redemptions(
        &mut self,
        order: &Order,
        rd: &Reader<'_>,
    ) -> Result<Vec<StoreRedemption>, MappingError> {
        let conn = self.conn;
        let items = &conn.config.items;
        let mut tenders = Vec::new();
        for (i, g) in order.gift_cards.iter().enumerate() {
            let code = mask_code(&g.coupon_code);
            self.redemption(
                Redemption {
                    line_kind: LineKind::GiftCard,
                    tender_kind: TenderKind::GiftCard,
                    key: "gift_card",
                    target: &items.gift_card,
                    amount: rd.get(&format!("gift_cards[{i}].amount"), g.amount.as_ref())?,
                    description: format!("Gift card {code}"),
                    reference: code,
                },
                &mut tenders,
            )?;
        }
        if let Some(rp) = &order.reward_points {
            self.redemption(
                Redemption {
                    line_kind: LineKind::RewardPoints,
                    tender_kind: TenderKind::RewardPoints,
                    key: "reward_points",
                    target: &items.reward_points,
                    amount: rd.get("reward_points.amount", rp.amount.as_ref())?,
                    description: format!("Reward points ({})", rp.points),
                    reference: format!("{} points", rp.points),
                },
                &mut tenders,
            )?;
        }
        Ok(tenders)
    }

    fn redemption(
        &mut self,
        r: Redemption<'_>,
        tenders: &mut Vec<StoreRedemption>,
    ) -> Result<(), MappingError> {
        if r.amount == 0 {
            return Ok(());
        }
        match r.target.post_as {
            PostAs::Line => {
                let item = self.target_item(r.key, &r.target.item, &r.target.account)?;
                let desc = if r.target.description.is_empty() {
                    r.description
                } else {
                    r.target.description.clone()
                };
                let account = r.target.account.clone();
                self.line(r.line_kind, item, desc, -r.amount, 0).account = account;
            }
            PostAs::Tender => tenders.push(StoreRedemption {
                kind: r.tender_kind,
                amount: r.amount,
                payment_method: r.target.payment_method.clone(),
                reference: r.reference,
            }),
        }
        Ok(())
    }
}

/// A charge with its own tax (shipping, payment fee), in store minor units.
pub(super) struct Charge<'t> {
    pub kind: LineKind,
    /// Key under `items` in the config.
    pub key: &'static str,
    pub target: &'t LineTarget,
    pub description: String,
    pub excl: i64,
    pub tax: i64,
}

/// A gift card or reward points redemption, as a line or a tender.
struct Redemption<'t> {
    line_kind: LineKind,
    tender_kind: TenderKind,
    key: &'static str,
    target: &'t RedemptionTarget,
    amount: i64,
    description: String,
    reference: String,
}

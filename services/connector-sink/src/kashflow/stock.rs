//! Stock levels as KashFlow holds them (sales invoices take `QuantityInStock` down), for the
//! store back-sync. `/products` may answer a bare array or the paged envelope (errata 6);
//! both are read, every page.
use super::{
    service::{KfError, KfRequest},
    KfConnector,
};
use rust_decimal::Decimal;
use serde_json::Value;

/// One product's stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLevel {
    pub nominal_code: i64,
    pub code: String,
    pub quantity_in_stock: Decimal,
    /// Whether KashFlow tracks this product's stock at all.
    pub managed: bool,
}

fn level(p: &Value) -> Option<StockLevel> {
    let dec = |k: &str| match p.get(k) {
        Some(Value::Number(n)) => n.to_string().parse().ok(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let flag = |k: &str| match p.get(k) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Number(n)) => Some(n.as_i64() == Some(1)),
        _ => None,
    };
    let nominal_code = match p.get("NominalCode") {
        Some(Value::Number(n)) => n.as_i64()?,
        Some(Value::String(s)) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(StockLevel {
        nominal_code,
        code: p.get("Code")?.as_str()?.to_string(),
        quantity_in_stock: dec("QuantityInStock").unwrap_or_default(),
        // Older field name tolerated on read (errata 6).
        managed: flag("ManageStockLevel")
            .or_else(|| flag("ManagesStock"))
            .unwrap_or(false),
    })
}

impl KfConnector {
    /// Every product's stock (stock-managed ones and the rest, `managed` says which).
    pub async fn stock_levels(&self) -> Result<Vec<StockLevel>, KfError> {
        let mut out = Vec::new();
        let mut page = 1u32;
        loop {
            let req = KfRequest::get("/products")
                .param("page", page.to_string())
                .param("perpage", "100");
            let body = self.service.call(&req).await?.body;
            let (items, next) = match &body {
                Value::Array(a) => (a.clone(), false),
                other => (
                    other
                        .get("Data")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    other
                        .get("MetaData")
                        .and_then(|m| m.get("NextPageUrl"))
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()),
                ),
            };
            out.extend(items.iter().filter_map(level));
            if !next || page > 10_000 {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// One product's stock, `None` when KashFlow has no such product.
    pub async fn stock_level(
        &self,
        nominal: i64,
        code: &str,
    ) -> Result<Option<StockLevel>, KfError> {
        let path = format!("/products/{nominal}/{}", urlencoding::encode(code));
        match self.service.call(&KfRequest::get(path)).await {
            Ok(r) => Ok(level(&r.body)),
            Err(KfError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_field_spellings_are_read() {
        let p = serde_json::json!({"NominalCode": 4000, "Code": "TEE", "QuantityInStock": 12.0, "ManagesStock": true});
        let l = level(&p);
        assert_eq!(l.as_ref().map(|l| l.managed), Some(true));
        assert_eq!(l.map(|l| l.quantity_in_stock), Some(Decimal::from(12)));
    }
}

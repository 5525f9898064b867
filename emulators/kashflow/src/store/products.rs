//! Products keyed by (NominalCode, Code) (reference A5.5, errata 6). Stock lives on the
//! product and moves only through sales invoice lines (and the emulator's control route).

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{key, Account, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::json::{self, Object};

#[derive(Debug, Clone)]
pub struct Product {
    pub id: i64,
    pub nominal_code: i64,
    pub code: String,
    pub name: String,
    pub manage_stock: bool,
    pub quantity: Decimal,
    pub warning_quantity: Decimal,
    /// Everything else as the client sent it (Price, VATRate, Description, …).
    pub fields: Object,
}

/// Handled as typed fields, not stored in `fields`.
const TYPED: [&str; 11] = [
    "Id",
    "Code",
    "NominalCode",
    "NominalId",
    "Name",
    "ManageStockLevel",
    "ManagesStock",
    "QuantityInStock",
    "StockWarningQuantity",
    "WarnAt",
    "NominalName",
];

/// A field under its current name, or the legacy one (tolerated on write).
fn either_flag(body: &Object, name: &str, legacy: &str) -> ApiResult<Option<bool>> {
    Ok(json::boolean(body, name)?.or(json::boolean(body, legacy)?))
}

fn either_decimal(body: &Object, name: &str, legacy: &str) -> ApiResult<Option<Decimal>> {
    Ok(json::decimal(body, name)?.or(json::decimal(body, legacy)?))
}

impl Account {
    pub fn product(&self, nominal: i64, code: &str) -> ApiResult<&Product> {
        self.products.get(&(nominal, key(code))).ok_or_else(|| {
            ApiError::not_found(format!(
                "Product {code} does not exist under nominal {nominal}."
            ))
        })
    }

    fn sales_nominal(&self, code: i64) -> ApiResult<()> {
        let n = self.nominal(code)?;
        if !n.classification.eq_ignore_ascii_case("Sales") {
            return Err(ApiError::validation(format!(
                "Nominal code {code} is not a sales nominal."
            )));
        }
        Ok(())
    }

    fn check_product_fields(body: &Object) -> ApiResult<()> {
        for k in ["Price", "WholeSalePrice", "VATRate"] {
            if json::decimal(body, k)?.is_some_and(|d| d < Decimal::ZERO) {
                return Err(ApiError::validation(format!("{k} cannot be negative.")));
            }
        }
        Ok(())
    }

    /// `POST /products`.
    pub fn create_product(&mut self, mut body: Object, ctx: &Ctx) -> ApiResult<Product> {
        let name =
            json::text(&body, "Name").ok_or_else(|| ApiError::validation("Name is required."))?;
        let code =
            json::text(&body, "Code").ok_or_else(|| ApiError::validation("Code is required."))?;
        let max = ctx.validation.max_product_code_length;
        if code.chars().count() > max {
            return Err(ApiError::validation(format!(
                "Product code {code} is longer than {max} characters."
            )));
        }
        let nominal_code = json::int(&body, "NominalCode")?
            .ok_or_else(|| ApiError::validation("NominalCode is required."))?;
        self.sales_nominal(nominal_code)?;
        if self.products.contains_key(&(nominal_code, key(&code))) {
            return Err(ApiError::validation(format!(
                "Product code {code} already exists under nominal {nominal_code}."
            )));
        }
        Self::check_product_fields(&body)?;
        let manage_stock = either_flag(&body, "ManageStockLevel", "ManagesStock")?.unwrap_or(false);
        let quantity = json::decimal(&body, "QuantityInStock")?.unwrap_or_default();
        let warning_quantity =
            either_decimal(&body, "StockWarningQuantity", "WarnAt")?.unwrap_or_default();
        for k in TYPED {
            json::take(&mut body, k);
        }
        let product = Product {
            id: self.id(),
            nominal_code,
            code: code.clone(),
            name,
            manage_stock,
            quantity,
            warning_quantity,
            fields: body,
        };
        self.products
            .insert((nominal_code, key(&code)), product.clone());
        self.counters.products_created += 1;
        Ok(product)
    }

    /// `PUT /products/{nominal}/{code}`: fields present replace stored ones.
    pub fn update_product(
        &mut self,
        nominal: i64,
        code: &str,
        mut body: Object,
        ctx: &Ctx,
    ) -> ApiResult<Product> {
        let mut p = self.product(nominal, code)?.clone();
        Self::check_product_fields(&body)?;
        let new_nominal = json::int(&body, "NominalCode")?.unwrap_or(p.nominal_code);
        let new_code = json::text(&body, "Code").unwrap_or_else(|| p.code.clone());
        let moved = new_nominal != p.nominal_code || key(&new_code) != key(&p.code);
        if moved {
            self.sales_nominal(new_nominal)?;
            if self.products.contains_key(&(new_nominal, key(&new_code))) {
                return Err(ApiError::validation(format!(
                    "Product code {new_code} already exists under nominal {new_nominal}."
                )));
            }
        }
        if let Some(n) = json::text(&body, "Name") {
            p.name = n;
        }
        if let Some(m) = either_flag(&body, "ManageStockLevel", "ManagesStock")? {
            p.manage_stock = m;
        }
        if let Some(w) = either_decimal(&body, "StockWarningQuantity", "WarnAt")? {
            p.warning_quantity = w;
        }
        if ctx.validation.product_put_sets_quantity {
            if let Some(q) = json::decimal(&body, "QuantityInStock")? {
                p.quantity = q;
            }
        }
        for k in TYPED {
            json::take(&mut body, k);
        }
        for (k, v) in body {
            json::set(&mut p.fields, &k, v);
        }
        self.products.remove(&(p.nominal_code, key(&p.code)));
        p.nominal_code = new_nominal;
        p.code = new_code;
        self.products
            .insert((p.nominal_code, key(&p.code)), p.clone());
        Ok(p)
    }

    pub fn delete_product(&mut self, nominal: i64, code: &str) -> ApiResult<()> {
        let k = (nominal, key(&self.product(nominal, code)?.code));
        self.products.remove(&k);
        Ok(())
    }

    /// Sets the stock level as a purchase or a manual adjustment in the UI would.
    pub fn set_stock(&mut self, nominal: i64, code: &str, quantity: Decimal) -> ApiResult<()> {
        let k = (nominal, key(code));
        let p = self.products.get_mut(&k).ok_or_else(|| {
            ApiError::not_found(format!(
                "Product {code} does not exist under nominal {nominal}."
            ))
        })?;
        p.quantity = quantity;
        Ok(())
    }

    pub fn render_product(&self, p: &Product, legacy_names: bool) -> Value {
        let mut o = p.fields.clone();
        let nominal = self.nominals.get(&p.nominal_code);
        let (manage, warn) = if legacy_names {
            ("ManagesStock", "WarnAt")
        } else {
            ("ManageStockLevel", "StockWarningQuantity")
        };
        for (k, v) in [
            ("Id", json!(p.id)),
            ("Code", json!(p.code)),
            ("Name", json!(p.name)),
            ("NominalCode", json!(p.nominal_code)),
            ("NominalId", json!(nominal.map(|n| n.id))),
            ("NominalName", json!(nominal.map(|n| n.name.clone()))),
            (manage, json!(p.manage_stock)),
            ("QuantityInStock", json::number(p.quantity)),
            (warn, json::number(p.warning_quantity)),
        ] {
            json::set(&mut o, k, v);
        }
        for (k, default) in [
            ("Price", json!(0)),
            ("WholeSalePrice", json!(0)),
            ("VATRate", json!(0)),
            ("AutoFillLineItem", json!(false)),
            ("IsDefault", json!(false)),
            ("InUse", json!(true)),
        ] {
            if json::get(&o, k).is_none() {
                json::set(&mut o, k, default);
            }
        }
        Value::Object(o)
    }
}

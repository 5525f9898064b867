//! Shared helpers: a spawned emulator, tokens, a client and known fixtures.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{anyhow, Context};
use chrono::Utc;
use nopbridge_emu_nopcommerce::model::Product;
use nopbridge_emu_nopcommerce::{
    spawn, AddressInput, EmulatorConfig, EmulatorHandle, NewCustomer, PlaceOrder, PlaceOrderItem,
    RunningEmulator,
};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

pub struct TestEmu {
    pub emu: RunningEmulator,
    pub client: reqwest::Client,
    pub token: String,
}

/// A small store: the catalogue generator with few customers and no orders.
pub fn small_config() -> EmulatorConfig {
    let mut cfg = EmulatorConfig::default();
    cfg.generator.registered_customers = 20;
    cfg.generator.products = 10;
    cfg
}

impl TestEmu {
    pub async fn start() -> anyhow::Result<Self> {
        Self::with(small_config()).await
    }

    /// Spawns and authenticates through `Authenticate/GetToken`.
    pub async fn with(config: EmulatorConfig) -> anyhow::Result<Self> {
        let emu = spawn(config).await?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()?;
        let resp = client
            .post(format!("{}/Authenticate/GetToken", emu.backend_url()))
            .json(&serde_json::json!({"username": "admin", "password": "admin-password"}))
            .send()
            .await?;
        anyhow::ensure!(
            resp.status() == StatusCode::OK,
            "GetToken answered {}",
            resp.status()
        );
        let body: Value = resp.json().await?;
        let token = body["token"]
            .as_str()
            .ok_or_else(|| anyhow!("no token in {body}"))?
            .to_string();
        Ok(Self { emu, client, token })
    }

    pub fn handle(&self) -> &EmulatorHandle {
        self.emu.handle()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.emu.backend_url())
    }

    /// GET `/api-backend/{path}` with the token: status, raw text, parsed JSON (Null if not JSON).
    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, String, Value)> {
        let resp = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await?;
        split(resp).await
    }

    pub async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<(StatusCode, String, Value)> {
        split(req.bearer_auth(&self.token).send().await?).await
    }

    /// GET on the community API with a community token.
    pub async fn community_get(
        &self,
        path_and_query: &str,
    ) -> anyhow::Result<(StatusCode, String, Value)> {
        let token = self.handle().community_token();
        let resp = self
            .client
            .get(format!("{}{path_and_query}", self.emu.base_url()))
            .bearer_auth(token)
            .send()
            .await?;
        split(resp).await
    }
}

pub async fn split(resp: reqwest::Response) -> anyhow::Result<(StatusCode, String, Value)> {
    let status = resp.status();
    let text = resp.text().await.context("reading body")?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok((status, text, json))
}

pub fn d(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

/// The JSON number text of `key` in a raw body (to check the 4-decimal scale).
pub fn raw_number<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\":");
    let start = text.find(&needle)? + needle.len();
    let rest = &text[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Adds a product with a fixed price and tax category; stock in one warehouse or spread
/// over warehouses 1 and 2.
pub fn add_product(
    h: &EmulatorHandle,
    sku: &str,
    price: &str,
    tax_category_id: i32,
    stock: i32,
    multi: bool,
) -> i32 {
    h.write(|st| {
        let mut p: Product = st.products[0].clone();
        p.name = format!("Fixture {sku}");
        p.sku = Some(sku.to_string());
        p.price = d(price);
        p.tax_category_id = tax_category_id;
        p.manage_inventory_method_id = 1;
        p.use_multiple_warehouses = multi;
        p.warehouse_id = if multi { 0 } else { 1 };
        p.stock_quantity = if multi { 0 } else { stock };
        p.is_ship_enabled = true;
        p.is_tax_exempt = false;
        p.deleted = false;
        p.weight = d("1.0000");
        let id = st.insert_product(p);
        if multi {
            st.insert_pwi(id, 1, stock / 2);
            st.insert_pwi(id, 2, stock - stock / 2);
        }
        id
    })
}

pub fn add_customer(
    h: &EmulatorHandle,
    email: &str,
    first: &str,
    last: &str,
    currency_id: Option<i32>,
) -> i32 {
    h.register_customer(NewCustomer {
        store_id: 1,
        email: Some(email.to_string()),
        first_name: Some(first.to_string()),
        last_name: Some(last.to_string()),
        company: None,
        currency_id,
        address: Some(AddressInput {
            first_name: Some(first.to_string()),
            last_name: Some(last.to_string()),
            email: Some(email.to_string()),
            city: Some("Lyon".into()),
            country_id: Some(74),
            ..AddressInput::default()
        }),
    })
}

/// The reference §6 scenario: 2 × 40.00 lamp, 1 × 25.00 shade with 10 % off, 10.00 off
/// the subtotal, 8.00 shipping, 20 % VAT, customer in EUR.
pub struct Sample {
    pub order_id: i32,
    pub lamp: i32,
    pub shade: i32,
    pub customer: i32,
}

pub fn sample_request(h: &EmulatorHandle) -> (PlaceOrder, i32, i32, i32) {
    let suffix = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let lamp = add_product(h, &format!("LAMP-{suffix}"), "40.00", 1, 100, false);
    let shade = add_product(h, &format!("SHADE-{suffix}"), "25.00", 1, 100, true);
    let customer = add_customer(
        h,
        &format!("marie{suffix}@example.fr"),
        "Marie",
        "Dubois",
        Some(2),
    );
    let mut shade_line = PlaceOrderItem::new(shade, 1);
    shade_line.discount_percent = Decimal::TEN;
    let mut req = PlaceOrder::new(1, customer, vec![PlaceOrderItem::new(lamp, 2), shade_line]);
    req.currency_code = Some("EUR".into());
    req.subtotal_discount = Decimal::TEN;
    req.shipping = Some(d("8.00"));
    (req, lamp, shade, customer)
}

pub fn sample_order(h: &EmulatorHandle) -> anyhow::Result<Sample> {
    let (req, lamp, shade, customer) = sample_request(h);
    let order_id = h.place_order(&req)?;
    Ok(Sample {
        order_id,
        lamp,
        shade,
        customer,
    })
}

/// Polls `f` until it returns Some or the deadline passes.
pub async fn wait_for<T>(
    deadline: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if tokio::time::Instant::now() > end {
            anyhow::bail!("condition not met within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn note_texts(h: &EmulatorHandle, order_id: i32) -> Vec<String> {
    h.order_notes(order_id)
        .into_iter()
        .map(|n| n.note)
        .collect()
}

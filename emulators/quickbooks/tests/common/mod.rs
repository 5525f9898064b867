//! Shared helpers: a spawned emulator with a token and a reqwest client.
#![allow(dead_code)]

use anyhow::{anyhow, Context};
use nopbridge_emu_quickbooks::{spawn, EmulatorConfig, RunningEmulator};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub struct TestEmu {
    pub emu: RunningEmulator,
    pub client: reqwest::Client,
    pub realm: String,
    pub token: String,
}

impl TestEmu {
    pub async fn start() -> anyhow::Result<Self> {
        Self::with(EmulatorConfig::default()).await
    }

    pub async fn with(config: EmulatorConfig) -> anyhow::Result<Self> {
        let emu = spawn(config).await?;
        let realm = emu.default_realm();
        let token = emu.handle().issue_tokens(&realm).access_token;
        Ok(Self {
            emu,
            client: reqwest::Client::new(),
            realm,
            token,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.emu.company_url(&self.realm))
    }

    /// POST `{company}/{path}` with a JSON body; status and parsed body (Null if not JSON).
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("accept", "application/json")
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        let resp = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// GET /query with the statement URL-encoded (as clients do).
    pub async fn query(&self, statement: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.get(&format!(
            "query?query={}&minorversion=75",
            urlencode(statement)
        ))
        .await
    }

    /// Creates (or writes) and returns the entity object, failing on any non-200.
    pub async fn write(&self, path: &str, entity: &str, body: Value) -> anyhow::Result<Value> {
        let (status, resp) = self.post(path, &body).await?;
        if status != StatusCode::OK {
            return Err(anyhow!("{path}: {status} {resp}"));
        }
        resp.get(entity)
            .cloned()
            .with_context(|| format!("no {entity} in {resp}"))
    }

    pub async fn customer(&self, name: &str) -> anyhow::Result<Value> {
        self.write("customer", "Customer", json!({"DisplayName": name}))
            .await
    }

    /// Id of a seeded account by AccountSubType.
    pub fn account(&self, subtype: &str) -> String {
        self.emu
            .handle()
            .entities(&self.realm, "Account")
            .into_iter()
            .find(|a| a["AccountSubType"] == subtype)
            .and_then(|a| a["Id"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Id of a seeded tax code by Name.
    pub fn tax_code(&self, name: &str) -> String {
        self.emu
            .handle()
            .entities(&self.realm, "TaxCode")
            .into_iter()
            .find(|a| a["Name"] == name)
            .and_then(|a| a["Id"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    pub async fn service_item(&self, name: &str, price: f64) -> anyhow::Result<Value> {
        let income = self.account("SalesOfProductIncome");
        self.write(
            "item",
            "Item",
            json!({"Name": name, "Type": "Service", "UnitPrice": price, "IncomeAccountRef": {"value": income}}),
        )
        .await
    }

    pub async fn inventory_item(&self, name: &str, qty: i64) -> anyhow::Result<Value> {
        let body = json!({
            "Name": name, "Type": "Inventory", "TrackQtyOnHand": true, "QtyOnHand": qty,
            "InvStartDate": "2025-01-01", "Sku": format!("SKU-{name}"),
            "IncomeAccountRef": {"value": self.account("SalesOfProductIncome")},
            "ExpenseAccountRef": {"value": self.account("SuppliesMaterialsCogs")},
            "AssetAccountRef": {"value": self.account("Inventory")},
        });
        self.write("item", "Item", body).await
    }
}

/// Error code of a Fault body (`Fault.Error[0].code`).
pub fn fault_code(v: &Value) -> Option<&str> {
    v.get("Fault")?.get("Error")?.get(0)?.get("code")?.as_str()
}

pub fn id(v: &Value) -> String {
    v["Id"].as_str().unwrap_or_default().to_string()
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decimal value of a JSON number field as a string with 2 decimals, for exact comparisons.
pub fn cents(v: &Value) -> String {
    match v.as_f64() {
        Some(f) => format!("{f:.2}"),
        None => format!("<{v}>"),
    }
}

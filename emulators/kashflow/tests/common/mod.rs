//! Shared helpers: a spawned emulator, the two-step login and a small JSON client.
#![allow(dead_code)]

use anyhow::{anyhow, Context};
use nopbridge_emu_kashflow::{spawn, EmulatorConfig, RunningEmulator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const USER: &str = "emulator";
pub const PASSWORD: &str = "emulator-password";
pub const WORD: &str = "pineapple";

pub struct TestEmu {
    pub emu: RunningEmulator,
    pub client: reqwest::Client,
    pub token: String,
}

impl TestEmu {
    pub async fn start() -> anyhow::Result<Self> {
        Self::with(EmulatorConfig::default()).await
    }

    /// Spawns and logs in through both steps.
    pub async fn with(config: EmulatorConfig) -> anyhow::Result<Self> {
        let emu = spawn(config).await?;
        let client = reqwest::Client::new();
        let token = login(&client, &emu.api_url(), USER, PASSWORD, WORD).await?;
        Ok(Self { emu, client, token })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.emu.api_url(), path.trim_start_matches('/'))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        call_with(
            &self.client,
            method,
            &self.url(path),
            Some(&self.token),
            body,
        )
        .await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.call(Method::DELETE, path, None).await
    }

    /// POST that must answer 201; returns the body.
    pub async fn created(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, resp) = self.post(path, &body).await?;
        if status != StatusCode::CREATED {
            return Err(anyhow!("{path}: {status} {resp}"));
        }
        Ok(resp)
    }

    pub async fn customer(&self, code: &str) -> anyhow::Result<Value> {
        self.created(
            "customers",
            json!({"Code": code, "Name": format!("Customer {code}"),
                "Contacts": [{"IsPrimary": true, "Email": format!("{}@example.co.uk", code.to_lowercase())}]}),
        )
        .await
    }

    pub async fn product(&self, code: &str, qty: i64) -> anyhow::Result<Value> {
        self.created(
            "products",
            json!({"Code": code, "Name": format!("Product {code}"), "NominalCode": 4000,
                "Price": 10.0, "VATRate": 20, "ManageStockLevel": true, "QuantityInStock": qty}),
        )
        .await
    }

    /// A one-line invoice of `qty` × 10.00 at 20 % VAT.
    pub async fn simple_invoice(&self, customer: &str, reference: &str) -> anyhow::Result<Value> {
        self.created(
            "invoices",
            json!({"CustomerCode": customer, "CustomerReference": reference,
                "LineItems": [{"Description": "Thing", "Quantity": 1, "Rate": 10.0, "VATLevel": 20, "VATAmount": 2.0}]}),
        )
        .await
    }
}

pub async fn call_with(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut req = client
        .request(method, url)
        .header("accept", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("KfToken {t}"));
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Both login steps: password, then the asked memorable-word characters.
pub async fn login(
    client: &reqwest::Client,
    api: &str,
    user: &str,
    password: &str,
    word: &str,
) -> anyhow::Result<String> {
    let url = format!("{api}/sessiontoken");
    let body = json!({"UserName": user, "Password": password});
    let (status, step1) = call_with(client, Method::POST, &url, None, Some(&body)).await?;
    if status != StatusCode::CREATED {
        return Err(anyhow!("step 1: {status} {step1}"));
    }
    let answers = answer(&step1, word)?;
    let body = json!({"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": answers});
    let (status, step2) = call_with(client, Method::PUT, &url, None, Some(&body)).await?;
    if status != StatusCode::OK {
        return Err(anyhow!("step 2: {status} {step2}"));
    }
    step2["SessionToken"]
        .as_str()
        .map(str::to_string)
        .context("no SessionToken")
}

/// The characters step 1 asked for.
pub fn answer(step1: &Value, word: &str) -> anyhow::Result<Vec<Value>> {
    let chars: Vec<char> = word.chars().collect();
    step1["MemorableWordList"]
        .as_array()
        .context("no MemorableWordList")?
        .iter()
        .map(|p| {
            let pos = p["Position"].as_u64().context("no Position")? as usize;
            let c = chars.get(pos - 1).context("position outside the word")?;
            Ok(json!({"Position": pos, "Value": c.to_string()}))
        })
        .collect()
}

/// A JSON money value as a 2-decimal string, for exact comparisons.
pub fn money(v: &Value) -> String {
    match v.as_f64() {
        Some(f) => format!("{f:.2}"),
        None => format!("<{v}>"),
    }
}

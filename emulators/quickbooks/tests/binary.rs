//! The `qbo-emulator` binary: `--config FILE` and `--port`, answering on 127.0.0.1.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn binary_serves_the_configured_realm_on_the_given_port() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("qbo.toml");
    std::fs::write(
        &config,
        "time_scale = 60.0\n[[realms]]\nrealm_id = \"555\"\nhome_currency = \"CAD\"\n",
    )?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_qbo-emulator"))
        .arg("--config")
        .arg(&config)
        .arg("--port")
        .arg("0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await??
        .unwrap_or_default();
    let base = first.rsplit(' ').next().unwrap_or_default().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let client = reqwest::Client::new();
    let tokens: Value = client
        .post(format!("{base}/__emulator/realms/555/tokens"))
        .send()
        .await?
        .json()
        .await?;
    let token = tokens["access_token"].as_str().unwrap_or_default();
    let resp: Value = client
        .post(format!("{base}/v3/company/555/customer?minorversion=75"))
        .bearer_auth(token)
        .json(&json!({"DisplayName": "From the binary"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(resp["Customer"]["CurrencyRef"]["value"], "CAD");
    child.kill().await?;
    Ok(())
}

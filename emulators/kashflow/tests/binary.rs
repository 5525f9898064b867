//! The `kashflow-emulator` binary: `--config FILE` and `--port`, answering on 127.0.0.1.

mod common;

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn binary_serves_the_configured_accounts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("kashflow.toml");
    std::fs::write(
        &config,
        "time_scale = 60.0\n[[accounts]]\nusername = \"shop\"\npassword = \"pw\"\nmemorable_word = \"marmalade\"\n",
    )?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kashflow-emulator"))
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
    let token = common::login(&client, &format!("{base}/v2"), "shop", "pw", "marmalade").await?;
    let (status, _) = common::call_with(
        &client,
        reqwest::Method::POST,
        &format!("{base}/v2/customers"),
        Some(&token),
        Some(&json!({"Code": "BIN1", "Name": "From the binary"})),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED);
    child.kill().await?;
    Ok(())
}

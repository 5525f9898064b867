//! The `nop-emulator` binary: flags, config file, start-up line.

use std::io::Write;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn binary_serves_seeded_store_from_flags_and_config_file() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("nop-emu-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config_path = dir.join("emulator.toml");
    let mut f = std::fs::File::create(&config_path)?;
    writeln!(f, "orders = 5\n[generator]\nregistered_customers = 10\nproducts = 5\n[store]\ncurrency_rate_decimals = 8")?;
    drop(f);

    let mut child = Command::new(env!("CARGO_BIN_EXE_nop-emulator"))
        .args(["--port", "0", "--seed", "3", "--orders", "25", "--config"])
        .arg(&config_path)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await??
        .ok_or_else(|| anyhow::anyhow!("no start-up line"))?;
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .ok_or_else(|| anyhow::anyhow!("no URL in {line}"))?
        .to_string();
    let stats: serde_json::Value = reqwest::get(format!("{base}/_emulator/stats"))
        .await?
        .json()
        .await?;
    // --orders overrides the file; the file's generator settings apply.
    assert_eq!(stats["orders"], 25);
    assert_eq!(stats["products"], 5);
    let client = reqwest::Client::new();
    let token: serde_json::Value = client
        .post(format!("{base}/api-backend/Authenticate/GetToken"))
        .json(&serde_json::json!({"username": "admin", "password": "admin-password"}))
        .send()
        .await?
        .json()
        .await?;
    let text = client
        .get(format!("{base}/api-backend/Order/GetById/1"))
        .bearer_auth(token["token"].as_str().unwrap_or_default())
        .send()
        .await?
        .text()
        .await?;
    // The file's currency_rate_decimals = 8 shows in the JSON scale.
    let rate = text
        .split("\"currency_rate\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .ok_or_else(|| anyhow::anyhow!("no currency_rate in {text}"))?;
    assert_eq!(rate.split('.').nth(1).map(str::len), Some(8), "{rate}");
    child.kill().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

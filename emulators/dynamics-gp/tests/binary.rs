//! The `gp-emulator` binary: `--config FILE` and `--port`, answering on 127.0.0.1.

mod common;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn binary_serves_the_configured_company() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("gp.toml");
    std::fs::write(
        &config,
        "[auth]\nshared_secret = \"s3cret\"\n[[companies]]\nname = \"DEMO\"\n",
    )?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gp-emulator"))
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
    let resp = reqwest::Client::new()
        .post(format!("{base}/gp/DEMO/econnect/CreateTransactionEntity"))
        .bearer_auth("s3cret")
        .body(common::customer("BIN1", ""))
        .send()
        .await?;
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    child.kill().await?;
    Ok(())
}

//! `nopbridge backfill` against a real ingest (real broker and PostgreSQL, the nopCommerce
//! emulator in-process).
use anyhow::Result;
use nopbridge_emu_nopcommerce::{spawn, EmulatorConfig};
use nopbridge_testkit::{unique, Broker, TestDb};
use std::time::Duration;

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `nopbridge --ingest URL backfill --since 2000-01-01 --connection C`.
async fn backfill(url: &str, connection: &str) -> Result<std::process::Output> {
    Ok(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_nopbridge"))
            .args(["--ingest", url, "backfill", "--since", "2000-01-01"])
            .args(["--connection", connection])
            .env_remove("NOPBRIDGE_GRPC__AUTH_TOKEN")
            .output()
            .await?,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_since_a_date_shows_progress_to_the_end() -> Result<()> {
    let broker = Broker::start().await?;
    let db = TestDb::create().await?;
    let store = spawn(EmulatorConfig {
        seed: 3,
        orders: 120,
        ..EmulatorConfig::default()
    })
    .await?;
    let want = store.handle().read(|st| {
        st.orders
            .iter()
            .filter(|o| !o.deleted && o.store_id == 1)
            .count()
    });
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ingest.toml");
    std::fs::write(
        &path,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\n[grpc]\nlisten = \"127.0.0.1:{port}\"\n\
             [consumer]\ngroup_id = \"{}\"\n[service]\ndatabase_url = \"{}\"\n\
             topic_suffix = \"-{}\"\nwebhook_secret = \"unused\"\n[[service.connections]]\nid = \"shop\"\ntenant = \"acme\"\n\
             store_id = 1\nbase_url = \"{}\"\nusername = \"admin\"\npassword = \"admin-password\"\n\
             poll_interval_ms = 200\n",
            broker.bootstrap(),
            unique("ingest"),
            db.url,
            unique("cli"),
            store.base_url()
        ),
    )?;
    let cfg: nopbridge_ingest::Config = nopbridge_runtime::config::load(Some(path))?;
    let stop = nopbridge_kafka::CancellationToken::new();
    let ingest = tokio::spawn(nopbridge_ingest::run(cfg, stop.clone()));

    let url = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    // Until the service listens and has set its polling cursors (it says "try again").
    let out = loop {
        let out = backfill(&url, "shop").await?;
        if out.status.success() || tokio::time::Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("backfill finished"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("backfill shop orders"))
        .unwrap_or_default();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[cells.len().saturating_sub(2)..],
        [want.to_string(), want.to_string()],
        "{stdout}"
    );

    let unknown = backfill(&url, "nope").await?;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no connection \"nope\""));

    stop.cancel();
    let _ = ingest.await;
    store.shutdown().await;
    Ok(())
}

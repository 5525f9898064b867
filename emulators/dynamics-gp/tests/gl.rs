//! GL journals: numbering, accounts, one side per line, debits equal credits.

mod common;

use common::{doc, tag, TestGp, COMPANY};
use nopbridge_emu_dynamics_gp::{EmulatorConfig, ErrorNumbers, ValidationConfig};

fn journal(number: &str, lines: &[(&str, &str, &str)]) -> String {
    let rows: String = lines
        .iter()
        .map(|(account, debit, credit)| {
            format!("<taGLTransactionLineInsert><BACHNUMB>GL20250314</BACHNUMB><JRNENTRY>{number}</JRNENTRY><CRDTAMNT>{credit}</CRDTAMNT><DEBITAMT>{debit}</DEBITAMT><ACTNUMST>{account}</ACTNUMST><DSCRIPTN>Web order</DSCRIPTN><ORDOCNUM>WEB100457</ORDOCNUM></taGLTransactionLineInsert>")
        })
        .collect();
    doc(&format!(
        "<GLTransactionType><taGLTransactionLineInsert_Items>{rows}</taGLTransactionLineInsert_Items><taGLTransactionHeaderInsert><BACHNUMB>GL20250314</BACHNUMB><JRNENTRY>{number}</JRNENTRY><REFRENCE>Web order WEB100457</REFRENCE><TRXDATE>2025-03-14</TRXDATE><TRXTYPE>0</TRXTYPE></taGLTransactionHeaderInsert></GLTransactionType>"
    ))
}

const BALANCED: [(&str, &str, &str); 3] = [
    ("000-1200-00", "72.59", "0"),
    ("000-4100-00", "0", "60.49"),
    ("000-2300-00", "0", "12.10"),
];

#[tokio::test]
async fn a_balanced_journal_gets_the_next_number() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    let echo = t.accept(&journal("", &BALANCED)).await?;
    assert_eq!(tag(&echo, "JRNENTRY").as_deref(), Some("1"));
    assert_eq!(echo.matches("<JRNENTRY>1</JRNENTRY>").count(), 4);
    let echo = t.accept(&journal("0", &BALANCED)).await?;
    assert_eq!(tag(&echo, "JRNENTRY").as_deref(), Some("2"));
    t.accept(&journal("500", &BALANCED)).await?;
    let journals = t.emu.handle().journals(COMPANY);
    assert_eq!(journals.len(), 3);
    assert_eq!(journals[2]["lines"][1]["CRDTAMNT"], "60.49");
    let batches = t.emu.handle().batches(COMPANY);
    assert_eq!(
        (batches[0]["series"].clone(), batches[0]["total"].clone()),
        ("Financial".into(), "217.77".into())
    );
    Ok(())
}

#[tokio::test]
async fn unbalanced_unknown_duplicate_and_two_sided_lines_are_refused() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    let e = ErrorNumbers::default();
    let (n, m) = t
        .reject(&journal(
            "",
            &[("000-1200-00", "72.59", "0"), ("000-4100-00", "0", "72.58")],
        ))
        .await?;
    assert_eq!(n, Some(e.unbalanced_journal));
    assert!(m.contains("Debits 72.59 do not equal credits 72.58"), "{m}");
    let (n, _) = t
        .reject(&journal(
            "",
            &[("999-9999-99", "1", "0"), ("000-4100-00", "0", "1")],
        ))
        .await?;
    assert_eq!(n, Some(e.unknown_account));
    let (n, _) = t.reject(&journal("", &[("000-1200-00", "1", "1")])).await?;
    assert_eq!(n, Some(e.invalid_value));
    t.accept(&journal("7", &BALANCED)).await?;
    assert_eq!(
        t.reject(&journal("7", &BALANCED)).await?.0,
        Some(e.duplicate_journal)
    );
    let no_lines = doc("<GLTransactionType><taGLTransactionHeaderInsert><BACHNUMB>B</BACHNUMB><JRNENTRY></JRNENTRY><REFRENCE>x</REFRENCE><TRXDATE>2025-03-14</TRXDATE><TRXTYPE>0</TRXTYPE></taGLTransactionHeaderInsert></GLTransactionType>");
    assert_eq!(t.reject(&no_lines).await?.0, Some(e.missing_value));
    let reversing = journal("", &BALANCED).replace("<TRXTYPE>0</TRXTYPE>", "<TRXTYPE>1</TRXTYPE>");
    assert_eq!(t.reject(&reversing).await?.0, Some(e.missing_value));
    assert_eq!(t.emu.handle().journals(COMPANY).len(), 1);
    // Balance checked only at posting when the setting says so.
    let lax = TestGp::with(EmulatorConfig {
        validation: ValidationConfig {
            check_journal_balance: false,
            ..ValidationConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    lax.accept(&journal("", &[("000-1200-00", "1", "0")]))
        .await?;
    Ok(())
}

/// GP numbers journals itself, so a connector finds an earlier try by its REFRENCE (SQL over
/// GL10000/GL20000): `GET /gp/{company}/journals?reference=` lists every journal with that
/// reference (trimmed, case-insensitive), behind the same secret as the other reads.
#[tokio::test]
async fn journals_are_found_by_their_reference() -> anyhow::Result<()> {
    let t = TestGp::start().await?;
    let read = |reference: &str| {
        let req = t
            .client
            .get(format!(
                "{}/gp/{COMPANY}/journals?reference={}",
                t.emu.base_url(),
                reference.replace(' ', "%20")
            ))
            .bearer_auth(t.emu.handle().shared_secret());
        async move {
            let r = req.send().await?;
            anyhow::ensure!(r.status() == reqwest::StatusCode::OK, "{}", r.status());
            Ok::<serde_json::Value, anyhow::Error>(r.json().await?)
        }
    };
    assert_eq!(read("Web order WEB100457").await?, serde_json::json!([]));
    let echo = t.accept(&journal("", &BALANCED)).await?;
    let other = journal("", &BALANCED).replace("Web order WEB100457", "Web order WEB100458");
    t.accept(&other).await?;
    let found = read("  web order web100457 ").await?;
    let rows = found.as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{found}");
    assert_eq!(
        rows[0]["JRNENTRY"].to_string(),
        tag(&echo, "JRNENTRY").unwrap_or_default()
    );
    assert_eq!(rows[0]["lines"][0]["DEBITAMT"], "72.59");
    assert_eq!(rows[0]["header"]["REFRENCE"], "Web order WEB100457");
    // Without the secret: refused like every other read.
    let anonymous = t
        .client
        .get(format!(
            "{}/gp/{COMPANY}/journals?reference=x",
            t.emu.base_url()
        ))
        .send()
        .await?;
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
    Ok(())
}

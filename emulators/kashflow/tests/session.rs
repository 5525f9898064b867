//! The two-step session token, idle expiry on the scalable clock, logout and forced expiry.

mod common;

use std::time::Duration;

use common::{answer, call_with, login, TestEmu, PASSWORD, USER, WORD};
use nopbridge_emu_kashflow::{spawn, AccountConfig, EmulatorConfig, InjectedFault};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn invalid_session(v: &Value) -> bool {
    *v == json!({"Error": "InvalidSessionToken", "Message": "Session token provided is invalid."})
}

#[tokio::test]
async fn step_one_asks_for_three_distinct_positions_of_the_word() -> anyhow::Result<()> {
    let emu = spawn(EmulatorConfig::default()).await?;
    let client = reqwest::Client::new();
    let url = format!("{}/sessiontoken", emu.api_url());
    let (status, body) = call_with(
        &client,
        Method::POST,
        &url,
        None,
        Some(&json!({"UserName": USER, "Password": PASSWORD})),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED);
    assert!(uuid_like(&body["TemporaryToken"]));
    let list = body["MemorableWordList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 3);
    let mut positions: Vec<u64> = list.iter().filter_map(|p| p["Position"].as_u64()).collect();
    assert!(list.iter().all(|p| p["Value"] == ""));
    positions.dedup();
    assert_eq!(positions.len(), 3);
    assert!(positions.iter().all(|p| (1..=9).contains(p)));
    assert_eq!(body["IsLockedOut"], false);
    Ok(())
}

fn uuid_like(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 36 && s.matches('-').count() == 4)
}

#[tokio::test]
async fn wrong_characters_are_refused_and_the_right_ones_work_in_any_case() -> anyhow::Result<()> {
    let emu = spawn(EmulatorConfig::default()).await?;
    let client = reqwest::Client::new();
    let url = format!("{}/sessiontoken", emu.api_url());
    let (_, step1) = call_with(
        &client,
        Method::POST,
        &url,
        None,
        Some(&json!({"UserName": USER, "Password": PASSWORD})),
    )
    .await?;
    // "zzz…" has no matching characters at all.
    let wrong = answer(&step1, "zzzzzzzzz")?;
    let (status, body) = call_with(
        &client,
        Method::PUT,
        &url,
        None,
        Some(&json!({"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": wrong})),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["Error"], "InvalidMemorableWord");
    // Only two of the three positions: refused too.
    let mut partial = answer(&step1, WORD)?;
    partial.pop();
    let (status, _) = call_with(
        &client,
        Method::PUT,
        &url,
        None,
        Some(&json!({"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": partial})),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let upper = answer(&step1, &WORD.to_uppercase())?;
    let (status, step2) = call_with(
        &client,
        Method::PUT,
        &url,
        None,
        Some(&json!({"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": upper})),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{step2}");
    assert_eq!(step2["CompanyName"], "Emulated Trading Ltd");
    let token = step2["SessionToken"].as_str().unwrap_or_default();
    let (status, me) = call_with(&client, Method::GET, &url, Some(token), None).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["UserName"], USER);
    // The temporary token is spent.
    let (status, body) = call_with(
        &client,
        Method::PUT,
        &url,
        None,
        Some(&json!({"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": upper})),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["Error"], "InvalidTemporaryToken");
    Ok(())
}

#[tokio::test]
async fn bad_password_unknown_user_and_locked_account_are_401() -> anyhow::Result<()> {
    let locked = AccountConfig {
        username: "locked".into(),
        locked_out: true,
        ..AccountConfig::default()
    };
    let emu = spawn(EmulatorConfig {
        accounts: vec![AccountConfig::default(), locked],
        ..EmulatorConfig::default()
    })
    .await?;
    let client = reqwest::Client::new();
    let url = format!("{}/sessiontoken", emu.api_url());
    for (user, password, error) in [
        (USER, "nope", "InvalidCredentials"),
        ("nobody", PASSWORD, "InvalidCredentials"),
        ("locked", PASSWORD, "AccountLocked"),
    ] {
        let (status, body) = call_with(
            &client,
            Method::POST,
            &url,
            None,
            Some(&json!({"UserName": user, "Password": password})),
        )
        .await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(body["Error"], error, "{user}");
        assert!(body["Message"].is_string());
    }
    Ok(())
}

#[tokio::test]
async fn the_temporary_token_expires() -> anyhow::Result<()> {
    let emu = spawn(EmulatorConfig::default()).await?;
    let client = reqwest::Client::new();
    let url = format!("{}/sessiontoken", emu.api_url());
    let (_, step1) = call_with(
        &client,
        Method::POST,
        &url,
        None,
        Some(&json!({"UserName": USER, "Password": PASSWORD})),
    )
    .await?;
    emu.handle().advance_clock(Duration::from_secs(301));
    let (status, body) = call_with(
        &client,
        Method::PUT,
        &url,
        None,
        Some(&json!({"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": answer(&step1, WORD)?})),
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["Error"], "InvalidTemporaryToken");
    Ok(())
}

#[tokio::test]
async fn missing_garbage_and_bearer_tokens_get_invalid_session_token() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let url = t.url("customers");
    let (status, body) = call_with(&t.client, Method::GET, &url, None, None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(invalid_session(&body), "{body}");
    let (status, body) = call_with(&t.client, Method::GET, &url, Some("not-a-token"), None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(invalid_session(&body));
    // The community docs' `Bearer` scheme is not what the API takes.
    let resp = t.client.get(&url).bearer_auth(&t.token).send().await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(t.emu.handle().counters().unauthorized, 3);
    Ok(())
}

#[tokio::test]
async fn sixty_idle_minutes_end_the_session_and_activity_keeps_it_alive() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let h = t.emu.handle();
    for _ in 0..3 {
        h.advance_clock(Duration::from_secs(59 * 60));
        let (status, _) = t.get("customers").await?;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(h.live_sessions(USER), 1);
    h.advance_clock(Duration::from_secs(60 * 60 + 1));
    let (status, body) = t.get("customers").await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(invalid_session(&body));
    assert_eq!(h.live_sessions(USER), 0);
    // A new login works at once.
    let token = login(&t.client, &t.emu.api_url(), USER, PASSWORD, WORD).await?;
    let (status, _) = call_with(
        &t.client,
        Method::GET,
        &t.url("customers"),
        Some(&token),
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn the_idle_expiry_runs_on_the_scaled_clock() -> anyhow::Result<()> {
    // Two emulated hours per real second: idle for a real 0.6 s is 72 emulated minutes.
    let t = TestEmu::with(EmulatorConfig {
        time_scale: 7200.0,
        ..EmulatorConfig::default()
    })
    .await?;
    let (status, _) = t.get("customers").await?;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(t.emu.handle().real_duration(Duration::from_secs(72 * 60))).await;
    let (status, body) = t.get("customers").await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(invalid_session(&body));
    Ok(())
}

#[tokio::test]
async fn logout_and_forced_expiry_end_sessions() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let (status, body) = t.delete(&format!("sessiontoken/{}", t.token)).await?;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (status, _) = t.get("customers").await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let h = t.emu.handle();
    let a = h.open_session(USER).unwrap_or_default();
    let b = h.open_session(USER).unwrap_or_default();
    assert_eq!(h.expire_sessions(Some(USER)), 2);
    for token in [a, b] {
        let (status, _) = call_with(
            &t.client,
            Method::GET,
            &t.url("customers"),
            Some(&token),
            None,
        )
        .await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The fault knob ends the caller's session mid-stream.
    let token = h.open_session(USER).unwrap_or_default();
    h.force_faults(InjectedFault::ExpireSession, 1);
    let (status, body) = call_with(
        &t.client,
        Method::GET,
        &t.url("customers"),
        Some(&token),
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(invalid_session(&body));
    assert_eq!(h.counters().sessions_expired, 1);
    Ok(())
}

#[tokio::test]
async fn sessions_belong_to_their_account() -> anyhow::Result<()> {
    let other = AccountConfig {
        username: "second".into(),
        memorable_word: "shamrock".into(),
        company_name: "Second Ltd".into(),
        ..AccountConfig::default()
    };
    let emu = spawn(EmulatorConfig {
        accounts: vec![AccountConfig::default(), other],
        ..EmulatorConfig::default()
    })
    .await?;
    let client = reqwest::Client::new();
    let first = login(&client, &emu.api_url(), USER, PASSWORD, WORD).await?;
    let second = login(&client, &emu.api_url(), "second", PASSWORD, "shamrock").await?;
    let url = format!("{}/customers", emu.api_url());
    let (status, _) = call_with(
        &client,
        Method::POST,
        &url,
        Some(&first),
        Some(&json!({"Code": "ONLY1", "Name": "First's"})),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = call_with(&client, Method::GET, &url, Some(&second), None).await?;
    assert_eq!(list["MetaData"]["TotalRecords"], 0);
    assert_eq!(emu.handle().customers("second").len(), 0);
    assert_eq!(emu.handle().customers(USER).len(), 1);
    Ok(())
}

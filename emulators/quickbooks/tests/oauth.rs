//! OAuth 2.0: code flow, 1-hour access tokens, refresh rotation with grace, invalid_grant,
//! 401/403 gateway bodies, forced expiry and revocation.

mod common;

use std::time::Duration;

use common::TestEmu;
use nopbridge_emu_quickbooks::{
    EmulatorConfig, FaultConfig, InjectedFault, OAuthConfig, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;

async fn token_call(t: &TestEmu, form: &[(&str, &str)]) -> anyhow::Result<(StatusCode, Value)> {
    let resp = t
        .client
        .post(t.emu.token_url())
        .basic_auth("emulator-client", Some("emulator-secret"))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

async fn api_status(t: &TestEmu, token: &str) -> anyhow::Result<(StatusCode, String)> {
    let resp = t
        .client
        .get(t.url("companyinfo/1"))
        .bearer_auth(token)
        .send()
        .await?;
    Ok((resp.status(), resp.text().await?))
}

#[tokio::test]
async fn authorization_code_flow_redirects_then_exchanges_once() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = no_redirect
        .get(format!(
            "{}/connect/oauth2?client_id=emulator-client&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&state=xyz",
            t.emu.base_url()
        ))
        .send()
        .await?;
    assert!(resp.status().is_redirection());
    let location = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(location.starts_with("http://127.0.0.1/cb?code="));
    assert!(location.contains("state=xyz"));
    assert!(location.contains(&format!("realmId={}", t.realm)));
    let code = location
        .split("code=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .unwrap_or_default()
        .to_string();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1/cb"),
    ];
    let (status, body) = token_call(&t, &form).await?;
    assert_eq!(status, StatusCode::OK);
    let tokens: TokenResponse = serde_json::from_value(body)?;
    assert_eq!(tokens.expires_in, 3600);
    assert_eq!(tokens.token_type, "bearer");
    assert_eq!(
        api_status(&t, &tokens.access_token).await?.0,
        StatusCode::OK
    );
    let (status, body) = token_call(&t, &form).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    Ok(())
}

#[tokio::test]
async fn access_tokens_expire_after_an_hour_with_the_gateway_401_body() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    assert_eq!(api_status(&t, &t.token).await?.0, StatusCode::OK);
    t.emu.handle().advance_clock(Duration::from_secs(3601));
    let (status, text) = api_status(&t, &t.token).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_str(&text)?;
    assert_eq!(body["fault"]["error"][0]["code"], "3200");
    assert_eq!(body["fault"]["type"], "AUTHENTICATION");
    assert!(body["fault"]["error"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("statusCode=401")));
    Ok(())
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_dies_after_the_grace_window() -> anyhow::Result<()> {
    let cfg = EmulatorConfig {
        oauth: OAuthConfig {
            refresh_grace_secs: 120,
            ..OAuthConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let t = TestEmu::with(cfg).await?;
    let first = t.emu.handle().issue_tokens(&t.realm);
    let (status, body) = token_call(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first.refresh_token),
        ],
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    let second: TokenResponse = serde_json::from_value(body)?;
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        api_status(&t, &second.access_token).await?.0,
        StatusCode::OK
    );
    // A racing worker still holding the old value is served within the grace window…
    let (status, body) = token_call(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first.refresh_token),
        ],
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["refresh_token"], second.refresh_token.as_str());
    // …and refused after it.
    t.emu.handle().advance_clock(Duration::from_secs(121));
    let (status, body) = token_call(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first.refresh_token),
        ],
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(t.emu.handle().counters().invalid_grants >= 1);
    let (status, _) = token_call(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &second.refresh_token),
        ],
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn forced_expiry_wrong_realm_and_bad_client() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let other = t.emu.handle().issue_tokens("1234567890");
    assert_eq!(
        api_status(&t, &other.access_token).await?.0,
        StatusCode::FORBIDDEN
    );
    t.emu.handle().expire_access_tokens(&t.realm);
    assert_eq!(api_status(&t, &t.token).await?.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        api_status(&t, "not-a-token").await?.0,
        StatusCode::UNAUTHORIZED
    );
    let resp = t
        .client
        .post(t.emu.token_url())
        .basic_auth("emulator-client", Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json::<Value>().await?["error"], "invalid_client");
    Ok(())
}

#[tokio::test]
async fn revoking_the_refresh_token_disconnects_the_realm() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let tokens = t.emu.handle().issue_tokens(&t.realm);
    let resp = t
        .client
        .post(format!("{}/oauth2/v1/tokens/revoke", t.emu.base_url()))
        .basic_auth("emulator-client", Some("emulator-secret"))
        .json(&serde_json::json!({"token": tokens.refresh_token}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        api_status(&t, &tokens.access_token).await?.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = token_call(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh_token),
        ],
    )
    .await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    Ok(())
}

#[tokio::test]
async fn xml_auth_fault_is_a_setting() -> anyhow::Result<()> {
    let cfg = EmulatorConfig {
        oauth: OAuthConfig {
            auth_fault_xml_probability: 1.0,
            ..OAuthConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let t = TestEmu::with(cfg).await?;
    let (status, text) = api_status(&t, "expired").await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("<Error code=\"100\">"));
    Ok(())
}

#[tokio::test]
async fn token_endpoint_faults_are_opt_in() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let tokens = t.emu.handle().issue_tokens(&t.realm);
    // Off by default: a forced fault is kept for the next /v3 call.
    t.emu.handle().force_faults(InjectedFault::Unavailable, 1);
    let (status, _) = token_call(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh_token),
        ],
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    t.emu.handle().clear_forced_faults();
    t.emu.handle().set_faults(FaultConfig {
        apply_to_token_endpoint: true,
        ..FaultConfig::default()
    });
    t.emu.handle().force_faults(InjectedFault::Unavailable, 1);
    let resp = t
        .client
        .post(t.emu.token_url())
        .basic_auth("emulator-client", Some("emulator-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "whatever"),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

#[tokio::test]
async fn racing_refreshes_with_one_token_leave_one_winner_without_grace() -> anyhow::Result<()> {
    let t = TestEmu::start().await?;
    let tokens = t.emu.handle().issue_tokens(&t.realm);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh_token.as_str()),
    ];
    let calls = (0..5).map(|_| token_call(&t, &form));
    let results = futures::future::join_all(calls).await;
    let mut ok = 0;
    let mut invalid = 0;
    for r in results {
        let (status, body) = r?;
        if status == StatusCode::OK {
            ok += 1;
        } else if body["error"] == "invalid_grant" {
            invalid += 1;
        }
    }
    assert_eq!((ok, invalid), (1, 4));
    Ok(())
}

//! The QuickBooks webhook receiver over HTTP: only notifications signed with the verifier
//! token are accepted, in either of Intuit's formats; anything else is refused with a reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use anyhow::Result;
use base64::Engine;
use hmac::{Hmac, Mac};
use nopbridge_connector_sink::quickbooks::webhooks;
use nopbridge_runtime::ControlState;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn only_signed_notifications_in_intuits_formats_are_accepted() -> Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/quickbooks", listener.local_addr()?);
    let stop = CancellationToken::new();
    let control = ControlState::new("connector-sink");
    tokio::spawn(webhooks::serve(
        listener,
        "verifier".to_string().into(),
        Vec::new(),
        control.clone(),
        stop.clone(),
    ));
    let http = reqwest::Client::new();
    let post = |body: &'static str, signature: String| {
        http.post(&url)
            .header("intuit-signature", signature)
            .body(body)
            .send()
    };
    let legacy = r#"{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[{"name":"Item","id":"7","operation":"Update","lastUpdated":"2026-11-23T10:00:00.000Z"}]}}]}"#;
    let cloud = r#"[{"specversion":"1.0","id":"e-1","type":"qbo.bill.created.v1","intuitentityid":"12","intuitaccountid":"1","time":"2026-11-23T10:00:00Z"}]"#;
    assert_eq!(
        post(legacy, sign("verifier", legacy.as_bytes()))
            .await?
            .status(),
        200
    );
    assert_eq!(
        post(cloud, sign("verifier", cloud.as_bytes()))
            .await?
            .status(),
        200
    );

    let forged = post(legacy, sign("someone else", legacy.as_bytes())).await?;
    assert_eq!(forged.status(), 401);
    assert!(forged.text().await?.contains("verifier_token"));
    assert_eq!(post(legacy, String::new()).await?.status(), 401);

    let other = r#"{"hello":"world"}"#;
    let refused = post(other, sign("verifier", other.as_bytes())).await?;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await?.contains("eventNotifications"));

    let counted = |outcome: &str| {
        control
            .counters()
            .into_iter()
            .find(|((name, labels), _)| {
                *name == "quickbooks_webhooks" && labels.iter().any(|(_, v)| v == outcome)
            })
            .map_or(0, |(_, n)| n)
    };
    assert_eq!(
        (
            counted("accepted"),
            counted("unsigned"),
            counted("malformed")
        ),
        (2, 2, 1)
    );
    stop.cancel();
    Ok(())
}

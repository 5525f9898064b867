//! HS256 JWTs for both APIs. Forced expiry bumps a generation counter: tokens carry the
//! generation they were issued in, and older generations answer 401.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub customer_id: i32,
    /// "owb" or "community": a token of one API is not accepted by the other.
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub gen: u64,
    pub jti: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token revoked")]
    Revoked,
    #[error("token for another API")]
    Audience,
}

pub struct TokenIssuer {
    /// Keyed MAC, cloned per use.
    key: HmacSha256,
    generation: AtomicU64,
}

impl TokenIssuer {
    pub fn new(secret: &str) -> Result<Self, hmac::digest::InvalidLength> {
        Ok(Self {
            key: HmacSha256::new_from_slice(secret.as_bytes())?,
            generation: AtomicU64::new(0),
        })
    }

    fn mac(&self) -> HmacSha256 {
        self.key.clone()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Every token issued so far answers 401 from the next request on.
    pub fn expire_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn issue(&self, sub: &str, customer_id: i32, aud: &str, ttl_secs: i64) -> (String, Claims) {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            customer_id,
            aud: aud.to_string(),
            iat: now,
            exp: now + ttl_secs,
            gen: self.generation(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        (format!("{signing_input}.{sig}"), claims)
    }

    pub fn verify(&self, token: &str, aud: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.aud != aud {
            return Err(TokenError::Audience);
        }
        if claims.exp <= chrono::Utc::now().timestamp() {
            return Err(TokenError::Expired);
        }
        if claims.gen < self.generation() {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }
}

/// The bearer token of an `Authorization` header, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_verify_and_revoke() -> Result<(), hmac::digest::InvalidLength> {
        let issuer = TokenIssuer::new("k")?;
        let (token, claims) = issuer.issue("admin", 1, "owb", 60);
        assert_eq!(issuer.verify(&token, "owb"), Ok(claims));
        assert_eq!(
            issuer.verify(&token, "community"),
            Err(TokenError::Audience)
        );
        let tampered = format!("{token}x");
        assert!(issuer.verify(&tampered, "owb").is_err());
        issuer.expire_all();
        assert_eq!(issuer.verify(&token, "owb"), Err(TokenError::Revoked));
        let (fresh, _) = issuer.issue("admin", 1, "owb", 60);
        assert!(issuer.verify(&fresh, "owb").is_ok());
        let (old, _) = issuer.issue("admin", 1, "owb", -1);
        assert_eq!(issuer.verify(&old, "owb"), Err(TokenError::Expired));
        Ok(())
    }
}

//! The two-step session token (reference A2.1): user name and password give a temporary
//! token and three memorable-word positions; the right characters give a session token
//! that expires after an idle period on the emulated clock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::seq::index::sample;
use rand::Rng;

use crate::config::{AccountConfig, SessionConfig};
use crate::error::{ApiError, ApiResult};

struct Temporary {
    account: String,
    positions: Vec<usize>,
    issued: DateTime<Utc>,
}

struct Session {
    account: String,
    last_used: DateTime<Utc>,
}

#[derive(Default)]
pub struct Sessions {
    temporary: HashMap<String, Temporary>,
    sessions: HashMap<String, Session>,
}

/// Step 1's answer.
pub struct Challenge {
    pub temporary_token: String,
    pub positions: Vec<usize>,
}

fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Sessions {
    /// Step 1: checks the password and asks for `count` distinct 1-based positions.
    pub fn begin(
        &mut self,
        account: &AccountConfig,
        password: &str,
        count: usize,
        now: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> ApiResult<Challenge> {
        if account.password != password {
            return Err(invalid_credentials());
        }
        if account.locked_out {
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "AccountLocked",
                format!("User {} is locked out.", account.username),
            ));
        }
        let len = account.memorable_word.chars().count();
        let mut positions: Vec<usize> = sample(rng, len, count.min(len))
            .into_iter()
            .map(|i| i + 1)
            .collect();
        positions.sort_unstable();
        let temporary_token = token();
        self.temporary.insert(
            temporary_token.clone(),
            Temporary {
                account: account.username.clone(),
                positions: positions.clone(),
                issued: now,
            },
        );
        Ok(Challenge {
            temporary_token,
            positions,
        })
    }

    /// Step 2: the characters at the asked positions (case-insensitive) give a session
    /// token; the temporary token is used up on success. Returns (account, session token).
    pub fn complete(
        &mut self,
        temporary_token: &str,
        answers: &[(usize, String)],
        words: impl Fn(&str) -> Option<String>,
        config: &SessionConfig,
        now: DateTime<Utc>,
    ) -> ApiResult<(String, String)> {
        let ttl = chrono::Duration::seconds(i64::try_from(config.temporary_token_ttl_secs)?);
        let Some(temp) = self.temporary.get(temporary_token) else {
            return Err(invalid_temporary());
        };
        if now - temp.issued > ttl {
            self.temporary.remove(temporary_token);
            return Err(invalid_temporary());
        }
        let word: Vec<char> = words(&temp.account)
            .unwrap_or_default()
            .to_lowercase()
            .chars()
            .collect();
        let mut asked = temp.positions.clone();
        let mut given: Vec<usize> = answers.iter().map(|(p, _)| *p).collect();
        asked.sort_unstable();
        given.sort_unstable();
        let right = asked == given
            && answers.iter().all(|(p, v)| {
                let mut chars = v.trim().chars();
                let c = chars.next().map(|c| c.to_lowercase().collect::<String>());
                chars.next().is_none()
                    && p.checked_sub(1)
                        .and_then(|i| word.get(i))
                        .map(|w| w.to_lowercase().collect::<String>())
                        == c
            });
        if !right {
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "InvalidMemorableWord",
                "The memorable word characters supplied are incorrect.",
            ));
        }
        let account = temp.account.clone();
        self.temporary.remove(temporary_token);
        let session = token();
        self.sessions.insert(
            session.clone(),
            Session {
                account: account.clone(),
                last_used: now,
            },
        );
        Ok((account, session))
    }

    /// A session for `account` without the two steps (tests and the control route).
    pub fn open(&mut self, account: &str, now: DateTime<Utc>) -> String {
        let session = token();
        self.sessions.insert(
            session.clone(),
            Session {
                account: account.to_string(),
                last_used: now,
            },
        );
        session
    }

    /// The session's account; touches it (idle expiry restarts). Expired sessions are gone.
    pub fn check(&mut self, token: &str, idle_secs: u64, now: DateTime<Utc>) -> ApiResult<String> {
        let idle = chrono::Duration::seconds(i64::try_from(idle_secs).unwrap_or(i64::MAX / 2000));
        let Some(s) = self.sessions.get_mut(token) else {
            return Err(ApiError::invalid_session());
        };
        if now - s.last_used > idle {
            self.sessions.remove(token);
            return Err(ApiError::invalid_session());
        }
        s.last_used = now;
        Ok(s.account.clone())
    }

    /// Ends one session (logout or forced expiry).
    pub fn end(&mut self, token: &str) -> bool {
        self.sessions.remove(token).is_some()
    }

    /// Ends every session, or those of one account; returns how many ended.
    pub fn expire(&mut self, account: Option<&str>) -> usize {
        let before = self.sessions.len();
        self.sessions
            .retain(|_, s| account.is_some_and(|a| a != s.account));
        before - self.sessions.len()
    }

    /// Live (not yet expired) sessions per account.
    pub fn live(&self, idle_secs: u64, now: DateTime<Utc>) -> HashMap<String, usize> {
        let idle = chrono::Duration::seconds(i64::try_from(idle_secs).unwrap_or(i64::MAX / 2000));
        let mut out = HashMap::new();
        for s in self.sessions.values().filter(|s| now - s.last_used <= idle) {
            *out.entry(s.account.clone()).or_insert(0) += 1;
        }
        out
    }
}

pub fn invalid_credentials() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "InvalidCredentials",
        "The user name or password is incorrect.",
    )
}

fn invalid_temporary() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "InvalidTemporaryToken",
        "The temporary token is invalid or has expired.",
    )
}

impl From<std::num::TryFromIntError> for ApiError {
    fn from(_: std::num::TryFromIntError) -> Self {
        ApiError::internal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn account() -> AccountConfig {
        AccountConfig::default()
    }

    fn answer(word: &str, positions: &[usize]) -> Vec<(usize, String)> {
        let chars: Vec<char> = word.chars().collect();
        positions
            .iter()
            .map(|p| (*p, chars[*p - 1].to_ascii_uppercase().to_string()))
            .collect()
    }

    #[test]
    fn positions_are_distinct_sorted_and_within_the_word() {
        let mut s = Sessions::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let c = s
                .begin(&account(), "emulator-password", 3, Utc::now(), &mut rng)
                .map_err(|e| e.to_string());
            let c = c.as_ref().map(|c| c.positions.clone());
            let p = c.unwrap_or_default();
            assert_eq!(p.len(), 3);
            assert!(p.windows(2).all(|w| w[0] < w[1]));
            assert!(p.iter().all(|x| (1..=9).contains(x)));
        }
    }

    #[test]
    fn right_characters_in_any_case_give_a_session_once() -> Result<(), ApiError> {
        let mut s = Sessions::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let now = Utc::now();
        let c = s.begin(&account(), "emulator-password", 3, now, &mut rng)?;
        let words = |_: &str| Some("pineapple".to_string());
        let cfg = SessionConfig::default();
        let ans = answer("pineapple", &c.positions);
        let (acc, token) = s.complete(&c.temporary_token, &ans, words, &cfg, now)?;
        assert_eq!(acc, "emulator");
        assert_eq!(s.check(&token, 3600, now)?, "emulator");
        // The temporary token is used up.
        assert!(s
            .complete(&c.temporary_token, &ans, words, &cfg, now)
            .is_err());
        Ok(())
    }

    #[test]
    fn idle_expiry_is_measured_from_the_last_use() -> Result<(), ApiError> {
        let mut s = Sessions::default();
        let t0 = Utc::now();
        let token = s.open("emulator", t0);
        let t1 = t0 + chrono::Duration::minutes(59);
        s.check(&token, 3600, t1)?;
        let t2 = t1 + chrono::Duration::minutes(59);
        s.check(&token, 3600, t2)?;
        let t3 = t2 + chrono::Duration::minutes(61);
        assert_eq!(s.check(&token, 3600, t3), Err(ApiError::invalid_session()));
        // Gone for good, even if the clock were earlier.
        assert_eq!(s.check(&token, 3600, t2), Err(ApiError::invalid_session()));
        Ok(())
    }
}

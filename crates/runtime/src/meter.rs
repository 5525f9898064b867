//! Counters of one connection's calls to an external API, exported on `/metrics` as
//! `nopbridge_api_calls_total{target,connection,status}`,
//! `nopbridge_rate_limit_waits_total{target,connection}` and
//! `nopbridge_token_refreshes_total{target,connection,outcome}`. A client built without a
//! service around it (a unit test, a bench) uses [`Meter::off`].
use crate::ControlState;

#[derive(Clone)]
pub struct Meter {
    control: Option<ControlState>,
    target: &'static str,
    connection: String,
}

impl Meter {
    pub fn new(control: &ControlState, target: &'static str, connection: &str) -> Self {
        Self {
            control: Some(control.clone()),
            target,
            connection: connection.to_string(),
        }
    }

    pub fn off() -> Self {
        Self {
            control: None,
            target: "",
            connection: String::new(),
        }
    }

    fn count(&self, name: &'static str, extra: Option<(&'static str, &str)>) {
        if let Some(c) = &self.control {
            let mut labels = vec![
                ("target", self.target),
                ("connection", self.connection.as_str()),
            ];
            labels.extend(extra);
            c.count(name, &labels, 1);
        }
    }

    /// One answered call by its HTTP status; `None` when no answer came (timeout, refused,
    /// dropped connection), counted as status "none".
    pub fn api_call(&self, status: Option<u16>) {
        let status = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        self.count("api_calls", Some(("status", &status)));
    }

    /// A wait imposed by the API's rate limit (a 429, or the client's own pacing ahead of it).
    pub fn rate_limit_wait(&self) {
        self.count("rate_limit_waits", None);
    }

    /// A token refresh or session renewal: `ok`, `refused` (credentials no longer valid) or
    /// `failed` (could not ask).
    pub fn token_refresh(&self, outcome: &'static str) {
        self.count("token_refreshes", Some(("outcome", outcome)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_the_control_state_with_their_labels() {
        let control = ControlState::new("connector-sink");
        let m = Meter::new(&control, "quickbooks_online", "realm-1");
        m.api_call(Some(429));
        m.api_call(Some(429));
        m.api_call(None);
        m.rate_limit_wait();
        m.token_refresh("ok");
        Meter::off().api_call(Some(200));
        let counters = control.counters();
        let get = |name: &str, extra: Option<(&str, &str)>| {
            counters
                .iter()
                .find(|((n, labels), _)| {
                    *n == name
                        && labels
                            .iter()
                            .any(|(k, v)| *k == "connection" && v == "realm-1")
                        && extra
                            .is_none_or(|(ek, ev)| labels.iter().any(|(k, v)| *k == ek && v == ev))
                })
                .map(|(_, v)| *v)
        };
        assert_eq!(get("api_calls", Some(("status", "429"))), Some(2));
        assert_eq!(get("api_calls", Some(("status", "none"))), Some(1));
        assert_eq!(get("rate_limit_waits", None), Some(1));
        assert_eq!(get("token_refreshes", Some(("outcome", "ok"))), Some(1));
        assert_eq!(
            counters.iter().map(|(_, v)| v).sum::<u64>(),
            5,
            "the meter that is off counted nothing"
        );
    }
}

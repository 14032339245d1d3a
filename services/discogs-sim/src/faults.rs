//! Faults injected on demand for reliability tests. A rule names a kind of failure, the
//! paths it applies to (a prefix) and how often: the next N matching requests, a seeded
//! probability, or every matching request until the rules are cleared.
//!
//! Latency rules add up and let the request go on; the first other rule that fires
//! decides the response, and rules after it are not consulted (so their counts are not
//! spent on a request they did not shape).

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay the response by `ms` milliseconds, then answer normally.
    Latency { ms: u64 },
    /// Answer with this 5xx status and a Discogs-style JSON message.
    ServerError {
        #[serde(default = "internal_server_error")]
        status: u16,
    },
    /// Answer 429 as the rate limiter would, whatever the budget says.
    RateLimited {
        #[serde(default = "one_second")]
        retry_after_secs: u64,
    },
    /// Answer normally but cut the body in half (with a matching Content-Length), the
    /// way a dropped proxy connection leaves a client holding half a document.
    TruncatedBody,
    /// Cloudflare's bot challenge: 403, `cf-mitigated: challenge`, "Just a moment...".
    Challenge,
    /// A redirect to the login page, as Discogs does for visitors it wants signed in.
    LoginWall,
    /// Cloudflare's "Access denied" block page (error 1020): no script, no way through.
    Blocked,
}

fn internal_server_error() -> u16 {
    500
}

fn one_second() -> u64 {
    1
}

/// A rule as posted to `POST /_sim/faults`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Applies to request paths starting with this (`/sell/`, `/users/digger0001`);
    /// empty matches every path outside `/_sim/`.
    #[serde(default)]
    pub path_prefix: String,
    /// Fire on the next `times` matching requests, then retire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Fire on each matching request with this probability, from a generator seeded
    /// with `seed`, so a test run is repeatable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InvalidFault {
    #[error("give either times or probability, not both")]
    BothTimesAndProbability,
    #[error("probability must be between 0 and 1, got {0}")]
    Probability(f64),
    #[error("server_error status must be 500 to 599, got {0}")]
    Status(u16),
}

impl FaultRule {
    pub fn validate(&self) -> Result<(), InvalidFault> {
        if self.times.is_some() && self.probability.is_some() {
            return Err(InvalidFault::BothTimesAndProbability);
        }
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(InvalidFault::Probability(p));
        }
        if let FaultKind::ServerError { status } = self.kind
            && !(500..=599).contains(&status)
        {
            return Err(InvalidFault::Status(status));
        }
        Ok(())
    }
}

/// What the faults decided for one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    pub delay: Duration,
    pub outcome: Option<FaultKind>,
}

impl FaultPlan {
    pub fn is_quiet(&self) -> bool {
        self.delay.is_zero() && self.outcome.is_none()
    }
}

#[derive(Debug)]
struct ActiveRule {
    rule: FaultRule,
    remaining: Option<u32>,
    rng: ChaCha8Rng,
}

impl ActiveRule {
    fn fires(&mut self) -> bool {
        if let Some(p) = self.rule.probability {
            return self.rng.random_bool(p);
        }
        match &mut self.remaining {
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
            None => true,
        }
    }
}

/// The active rules, in the order they were added.
#[derive(Debug, Default)]
pub struct FaultBoard {
    rules: Vec<ActiveRule>,
}

/// A rule and how many firings it has left, as `GET /_sim/faults` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RuleStatus {
    #[serde(flatten)]
    pub rule: FaultRule,
    pub remaining: Option<u32>,
}

impl FaultBoard {
    pub fn add(&mut self, rule: FaultRule) -> Result<(), InvalidFault> {
        rule.validate()?;
        let rng = ChaCha8Rng::seed_from_u64(rule.seed.unwrap_or(0));
        self.rules.push(ActiveRule {
            remaining: rule.times,
            rule,
            rng,
        });
        Ok(())
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> Vec<RuleStatus> {
        self.rules
            .iter()
            .map(|r| RuleStatus {
                rule: r.rule.clone(),
                remaining: r.remaining,
            })
            .collect()
    }

    pub fn plan(&mut self, path: &str) -> FaultPlan {
        let mut plan = FaultPlan::default();
        for active in &mut self.rules {
            if !path.starts_with(&active.rule.path_prefix) {
                continue;
            }
            if !active.fires() {
                continue;
            }
            match &active.rule.kind {
                FaultKind::Latency { ms } => plan.delay += Duration::from_millis(*ms),
                kind => {
                    plan.outcome = Some(kind.clone());
                    break;
                }
            }
        }
        self.rules.retain(|r| r.remaining != Some(0));
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> FaultRule {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn counted_rules_fire_then_retire() {
        let mut board = FaultBoard::default();
        board
            .add(rule(
                r#"{"kind":"server_error","status":503,"path_prefix":"/releases/","times":2}"#,
            ))
            .unwrap();
        assert_eq!(board.plan("/users/x").outcome, None);
        for _ in 0..2 {
            assert_eq!(
                board.plan("/releases/1").outcome,
                Some(FaultKind::ServerError { status: 503 })
            );
        }
        assert!(board.plan("/releases/1").is_quiet());
        assert!(board.rules().is_empty());
    }

    #[test]
    fn latency_adds_up_and_the_first_outcome_wins() {
        let mut board = FaultBoard::default();
        board.add(rule(r#"{"kind":"latency","ms":100}"#)).unwrap();
        board
            .add(rule(r#"{"kind":"latency","ms":50,"times":1}"#))
            .unwrap();
        board
            .add(rule(
                r#"{"kind":"challenge","path_prefix":"/sell/","times":1}"#,
            ))
            .unwrap();
        board
            .add(rule(
                r#"{"kind":"login_wall","path_prefix":"/sell/","times":1}"#,
            ))
            .unwrap();
        let plan = board.plan("/sell/release/1");
        assert_eq!(plan.delay, Duration::from_millis(150));
        assert_eq!(plan.outcome, Some(FaultKind::Challenge));
        // The login wall's single firing was not spent on the challenged request.
        assert_eq!(
            board.plan("/sell/release/1").outcome,
            Some(FaultKind::LoginWall)
        );
        assert_eq!(
            board.plan("/sell/release/1").delay,
            Duration::from_millis(100)
        );
    }

    #[test]
    fn probabilities_are_seeded_and_repeatable() {
        let fired = |seed: u64| {
            let mut board = FaultBoard::default();
            board
                .add(FaultRule {
                    kind: FaultKind::TruncatedBody,
                    path_prefix: String::new(),
                    times: None,
                    probability: Some(0.3),
                    seed: Some(seed),
                })
                .unwrap();
            (0..200)
                .map(|_| board.plan("/x").outcome.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(fired(7), fired(7));
        let count = fired(7).iter().filter(|f| **f).count();
        assert!((35..85).contains(&count), "{count}");
    }

    #[test]
    fn rejects_contradictory_rules() {
        let mut board = FaultBoard::default();
        assert_eq!(
            board.add(rule(r#"{"kind":"challenge","times":1,"probability":0.5}"#)),
            Err(InvalidFault::BothTimesAndProbability)
        );
        assert_eq!(
            board.add(rule(r#"{"kind":"server_error","status":404}"#)),
            Err(InvalidFault::Status(404))
        );
        assert_eq!(
            board.add(rule(r#"{"kind":"challenge","probability":2.0}"#)),
            Err(InvalidFault::Probability(2.0))
        );
        assert!(serde_json::from_str::<FaultRule>(r#"{"kind":"meteor"}"#).is_err());
    }
}

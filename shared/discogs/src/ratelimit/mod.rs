//! One request budget shared by every replica that talks to Discogs with the same
//! identity (token or IP).
//!
//! Discogs allows 60 authenticated requests a minute (25 unauthenticated) over a moving
//! window. [`RateLimiter`] hands out slots by GCRA: [`MemoryRateLimiter`] for one process
//! (embedded mode), [`RedisRateLimiter`] for many replicas, both with the same arithmetic
//! (`gcra.rs`, mirrored by `gcra.lua`). The client calls [`RateLimiter::acquire`] before
//! every request and reports what the response said with [`RateLimiter::feedback`]: a
//! smaller `X-Discogs-Ratelimit` lowers the rate for everyone, an exhausted
//! `X-Discogs-Ratelimit-Remaining` or a 429 pauses the shared bucket.

mod gcra;
mod memory;
mod redis;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryRateLimiter;
pub use redis::RedisRateLimiter;

/// How fast one identity may call Discogs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// Requests allowed per `period` by Discogs.
    pub limit: u32,
    pub period: Duration,
    /// Requests that may go back to back from an idle bucket. Discogs counts a moving
    /// window, so anything above 1 lets a window hold up to `burst - 1` extra requests.
    pub burst: u32,
    /// Per mille of the limit left unused, so that timer jitter never tips a full window
    /// over the limit (20 = run at 98 %).
    pub headroom_per_mille: u32,
    /// How long to hold everyone back after a 429 that carried no `Retry-After`.
    pub throttled_pause: Duration,
    /// The longest a 429 holds everyone back, whatever its `Retry-After` says: one answer
    /// of `Retry-After: 86000` must not freeze every user's requests for a day (the
    /// request that got it fails instead, see [`crate::api::RetryPolicy`]).
    pub max_pause: Duration,
}

impl RateLimitPolicy {
    /// 60 requests a minute: requests with a token or consumer key.
    pub const fn authenticated() -> Self {
        Self::per_minute(60)
    }

    /// 25 requests a minute: requests without credentials.
    pub const fn unauthenticated() -> Self {
        Self::per_minute(25)
    }

    /// The budget Discogs grants these credentials.
    pub fn for_auth(auth: &crate::api::Auth) -> Self {
        if auth.is_authenticated() {
            Self::authenticated()
        } else {
            Self::unauthenticated()
        }
    }

    pub const fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(60),
            burst: 1,
            headroom_per_mille: 20,
            throttled_pause: Duration::from_secs(5),
            max_pause: Duration::from_secs(120),
        }
    }

    /// The spacing between requests at `limit` requests per period, headroom included.
    fn interval_for(&self, limit: u32) -> Duration {
        let limit = limit.max(1);
        let per_mille = 1000_u128 + u128::from(self.headroom_per_mille);
        let micros = self.period.as_micros() * per_mille / (1000 * u128::from(limit));
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX).max(1))
    }

    /// The spacing this policy starts with.
    pub fn interval(&self) -> Duration {
        self.interval_for(self.limit)
    }
}

/// What a Discogs response said about the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// The `X-Discogs-Ratelimit`, `-Used` and `-Remaining` headers (any may be missing).
    Headers {
        limit: Option<u32>,
        used: Option<u32>,
        remaining: Option<u32>,
    },
    /// HTTP 429.
    Throttled { retry_after: Option<Duration> },
}

/// What the limiter should change after a response; worked out the same way for every
/// implementation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Adjustment {
    /// A new emission interval (the server reported a different limit).
    interval: Option<Duration>,
    /// Hold every new request back this long (a 429).
    pause: Option<Duration>,
    /// Give up the next slot (the server's window is fuller than our schedule thinks).
    skip_slot: bool,
    /// Requests the server already counts in its window (`X-Discogs-Ratelimit-Used`).
    /// When the interval grows, these and the slots already reserved are charged again
    /// at the new rate: they stay in a moving window for up to a minute, and the lower
    /// rate alone would add a full window's worth on top of them.
    used_in_window: u32,
}

impl RateLimitPolicy {
    /// Never faster than the policy: a server limit above ours is ignored, one below it
    /// is adopted. An exhausted `Remaining` means another client spends the same budget
    /// (or the window is fuller than we thought): one slot of the schedule goes unused.
    fn adjustment(&self, feedback: &Feedback) -> Adjustment {
        match *feedback {
            Feedback::Headers {
                limit,
                used,
                remaining,
            } => {
                let effective = limit
                    .filter(|l| *l > 0)
                    .map_or(self.limit, |l| l.min(self.limit));
                let interval = self.interval_for(effective);
                Adjustment {
                    interval: Some(interval),
                    pause: None,
                    skip_slot: remaining == Some(0),
                    used_in_window: used.unwrap_or(0),
                }
            }
            Feedback::Throttled { retry_after } => Adjustment {
                interval: None,
                pause: Some(
                    retry_after
                        .unwrap_or(self.throttled_pause)
                        .min(self.max_pause),
                ),
                skip_slot: false,
                used_in_window: 0,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The shared bucket could not be reached; the request must not go out unmetered.
    /// Retrying later can help.
    #[error("rate limiter backend unavailable: {0}")]
    Backend(String),
}

/// Whether a slot was free when asked without waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryAcquire {
    Granted,
    /// No slot now; one frees up after this long (nothing was reserved).
    RetryIn(Duration),
}

/// A budget of requests shared by whoever holds the same limiter (or the same Redis key).
#[async_trait]
pub trait RateLimiter: Send + Sync + fmt::Debug {
    /// Waits until a request may be sent. The slot is reserved before waiting, so
    /// concurrent callers are served in order without retrying.
    async fn acquire(&self) -> Result<(), RateLimitError>;

    /// Takes a slot only if one is free now.
    async fn try_acquire(&self) -> Result<TryAcquire, RateLimitError>;

    /// Adapts to what a response said about the budget.
    async fn feedback(&self, feedback: Feedback) -> Result<(), RateLimitError>;
}

/// A limiter that never waits: for tests and for talking to a server that does not limit.
#[derive(Debug, Default)]
pub struct UnlimitedRateLimiter;

#[async_trait]
impl RateLimiter for UnlimitedRateLimiter {
    async fn acquire(&self) -> Result<(), RateLimitError> {
        Ok(())
    }
    async fn try_acquire(&self) -> Result<TryAcquire, RateLimitError> {
        Ok(TryAcquire::Granted)
    }
    async fn feedback(&self, _: Feedback) -> Result<(), RateLimitError> {
        Ok(())
    }
}

/// A shared handle, as services pass it around.
pub type SharedRateLimiter = Arc<dyn RateLimiter>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_leave_the_configured_headroom() {
        assert_eq!(
            RateLimitPolicy::authenticated().interval(),
            Duration::from_millis(1020)
        );
        assert_eq!(
            RateLimitPolicy::unauthenticated().interval(),
            Duration::from_micros(2_448_000)
        );
        let exact = RateLimitPolicy {
            headroom_per_mille: 0,
            ..RateLimitPolicy::per_minute(60)
        };
        assert_eq!(exact.interval(), Duration::from_secs(1));
    }

    #[test]
    fn credentials_choose_the_budget() {
        use crate::{Auth, Secret};
        assert_eq!(RateLimitPolicy::for_auth(&Auth::None).limit, 25);
        assert_eq!(
            RateLimitPolicy::for_auth(&Auth::Token(Secret::new("t"))).limit,
            60
        );
    }

    #[test]
    fn a_smaller_server_limit_is_adopted_and_a_larger_one_ignored() {
        let policy = RateLimitPolicy::authenticated();
        let said = |limit, remaining| Feedback::Headers {
            limit,
            used: None,
            remaining,
        };
        let slower = policy.adjustment(&said(Some(25), Some(20)));
        assert_eq!(
            slower.interval,
            Some(RateLimitPolicy::unauthenticated().interval())
        );
        assert_eq!((slower.pause, slower.skip_slot), (None, false));
        assert_eq!(
            policy.adjustment(&said(Some(240), Some(200))).interval,
            Some(policy.interval())
        );
        assert_eq!(
            policy.adjustment(&said(None, None)).interval,
            Some(policy.interval())
        );
        assert_eq!(
            policy.adjustment(&said(Some(0), None)).interval,
            Some(policy.interval())
        );
    }

    #[test]
    fn an_exhausted_budget_or_a_429_pauses() {
        let policy = RateLimitPolicy::authenticated();
        let empty = Feedback::Headers {
            limit: Some(60),
            used: Some(60),
            remaining: Some(0),
        };
        assert!(policy.adjustment(&empty).skip_slot);
        let throttled = Feedback::Throttled {
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            policy.adjustment(&throttled).pause,
            Some(Duration::from_secs(30))
        );
        let bare = Feedback::Throttled { retry_after: None };
        assert_eq!(policy.adjustment(&bare).pause, Some(policy.throttled_pause));
        // A day-long Retry-After holds the others back for the bound only.
        let day = Feedback::Throttled {
            retry_after: Some(Duration::from_secs(86_000)),
        };
        assert_eq!(policy.adjustment(&day).pause, Some(policy.max_pause));
    }
}

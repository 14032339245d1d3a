//! Discogs' rate limit: a moving 60-second window per client. A request is allowed when
//! fewer than `limit` requests were allowed in the last window; refused requests are not
//! recorded, so a client that backs off recovers as soon as its oldest request ages out.
//! Pure: the caller passes the clock, so tests need no sleeping.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Idle clients are forgotten once this many are tracked.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `used` counts this request; `used + remaining == limit`.
    Allowed {
        limit: u32,
        used: u32,
        remaining: u32,
    },
    /// Over budget; the oldest request in the window ages out after `retry_after`.
    Limited { limit: u32, retry_after: Duration },
}

#[derive(Debug)]
pub struct MovingWindow {
    window: Duration,
    clients: HashMap<String, VecDeque<Instant>>,
}

impl MovingWindow {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            clients: HashMap::new(),
        }
    }

    pub fn check(&mut self, client: &str, limit: u32, now: Instant) -> Decision {
        if self.clients.len() > PRUNE_ABOVE {
            self.forget_idle(now);
        }
        let window = self.window;
        let recent = self.clients.entry(client.to_owned()).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            recent.pop_front();
        }
        let used = recent.len() as u32;
        if used >= limit {
            let retry_after = recent.front().map_or(window, |oldest| {
                window.saturating_sub(now.duration_since(*oldest))
            });
            return Decision::Limited { limit, retry_after };
        }
        recent.push_back(now);
        Decision::Allowed {
            limit,
            used: used + 1,
            remaining: limit - used - 1,
        }
    }

    fn forget_idle(&mut self, now: Instant) {
        let window = self.window;
        self.clients.retain(|_, recent| {
            recent
                .back()
                .is_some_and(|t| now.duration_since(*t) < window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_limit_then_refuses_until_the_oldest_ages_out() {
        let mut limiter = MovingWindow::new(Duration::from_secs(60));
        let start = Instant::now();
        for i in 1..=3 {
            let at = start + Duration::from_secs(i);
            assert_eq!(
                limiter.check("token:a", 3, at),
                Decision::Allowed {
                    limit: 3,
                    used: i as u32,
                    remaining: 3 - i as u32
                }
            );
        }
        let refused = limiter.check("token:a", 3, start + Duration::from_secs(10));
        assert_eq!(
            refused,
            Decision::Limited {
                limit: 3,
                retry_after: Duration::from_secs(51)
            }
        );
        // Another client has its own budget.
        assert!(matches!(
            limiter.check("ip:1", 3, start),
            Decision::Allowed { used: 1, .. }
        ));
        // The first request ages out at 61 s: one slot frees, not three.
        let later = start + Duration::from_secs(61);
        assert!(matches!(
            limiter.check("token:a", 3, later),
            Decision::Allowed { used: 3, .. }
        ));
        assert!(matches!(
            limiter.check("token:a", 3, later),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn a_quiet_minute_resets_the_window() {
        let mut limiter = MovingWindow::new(Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..5 {
            limiter.check("k", 5, start);
        }
        assert!(matches!(
            limiter.check("k", 5, start),
            Decision::Limited { .. }
        ));
        let after = start + Duration::from_secs(60);
        assert_eq!(
            limiter.check("k", 5, after),
            Decision::Allowed {
                limit: 5,
                used: 1,
                remaining: 4
            }
        );
    }
}

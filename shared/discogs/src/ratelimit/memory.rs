//! The bucket in this process's memory, for embedded mode: every task of the process
//! shares it. Time is tokio's, so tests drive it with `tokio::time::pause()`.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::gcra::{self, Bucket};
use super::{Feedback, RateLimitError, RateLimitPolicy, RateLimiter, TryAcquire};

#[derive(Debug)]
pub struct MemoryRateLimiter {
    policy: RateLimitPolicy,
    /// The clock's zero: bucket times are microseconds since this instant.
    origin: Instant,
    /// Held only for the arithmetic, never across an await.
    bucket: Mutex<Bucket>,
}

impl MemoryRateLimiter {
    pub fn new(policy: RateLimitPolicy) -> Self {
        Self {
            policy,
            origin: Instant::now(),
            bucket: Mutex::new(Bucket::default()),
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn with_bucket<T>(&self, change: impl FnOnce(&mut Bucket) -> T) -> T {
        // A poisoned lock only means another task panicked mid-update of two integers;
        // the bucket is still usable.
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut bucket)
    }

    fn default_interval_us(&self) -> u64 {
        micros(self.policy.interval())
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn acquire(&self) -> Result<(), RateLimitError> {
        let now = self.now_us();
        let reservation = self.with_bucket(|bucket| {
            gcra::reserve(
                bucket,
                now,
                self.default_interval_us(),
                self.policy.burst,
                true,
            )
        });
        if reservation.wait_us > 0 {
            tokio::time::sleep(Duration::from_micros(reservation.wait_us)).await;
        }
        Ok(())
    }

    async fn try_acquire(&self) -> Result<TryAcquire, RateLimitError> {
        let now = self.now_us();
        let reservation = self.with_bucket(|bucket| {
            gcra::reserve(
                bucket,
                now,
                self.default_interval_us(),
                self.policy.burst,
                false,
            )
        });
        Ok(if reservation.taken {
            TryAcquire::Granted
        } else {
            TryAcquire::RetryIn(Duration::from_micros(reservation.wait_us))
        })
    }

    async fn feedback(&self, feedback: Feedback) -> Result<(), RateLimitError> {
        let adjustment = self.policy.adjustment(&feedback);
        let now = self.now_us();
        self.with_bucket(|bucket| {
            if let Some(interval) = adjustment.interval {
                gcra::change_interval(
                    bucket,
                    now,
                    micros(interval),
                    self.default_interval_us(),
                    adjustment.used_in_window,
                );
            }
            if adjustment.skip_slot {
                gcra::reserve(
                    bucket,
                    now,
                    self.default_interval_us(),
                    self.policy.burst,
                    true,
                );
            }
            if let Some(pause) = adjustment.pause {
                gcra::pause(
                    bucket,
                    now,
                    micros(pause),
                    self.default_interval_us(),
                    self.policy.burst,
                );
            }
        });
        Ok(())
    }
}

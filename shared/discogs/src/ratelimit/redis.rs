//! The bucket in Redis, shared by every replica: one hash per identity, changed only by
//! the atomic `gcra.lua` script on Redis' own clock, expiring once idle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use super::{Feedback, RateLimitError, RateLimitPolicy, RateLimiter, TryAcquire};

const SCRIPT: &str = include_str!("gcra.lua");
/// How long an idle bucket outlives its last reservation.
const IDLE_TTL: Duration = Duration::from_secs(120);
/// `last_interval_sent` before anything was sent.
const NOTHING_SENT: u64 = u64::MAX;

pub struct RedisRateLimiter {
    connection: ConnectionManager,
    script: Script,
    key: String,
    policy: RateLimitPolicy,
    /// The interval last written to Redis, so responses that change nothing cost no
    /// extra round trip while the rate is the policy's own.
    last_interval_sent: AtomicU64,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("key", &self.key)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// Connects to `redis_url` and uses the bucket `key`. Replicas sharing one Discogs
    /// identity must use the same key; the key must name the identity without holding a
    /// secret (`cratedigger:discogs:ratelimit:<username>`, never the token).
    pub async fn connect(
        redis_url: &str,
        key: impl Into<String>,
        policy: RateLimitPolicy,
    ) -> Result<Self, RateLimitError> {
        let client = redis::Client::open(redis_url).map_err(backend)?;
        let connection = ConnectionManager::new(client).await.map_err(backend)?;
        Ok(Self::with_connection(connection, key, policy))
    }

    /// Uses an existing connection (services share one manager per Redis).
    pub fn with_connection(
        connection: ConnectionManager,
        key: impl Into<String>,
        policy: RateLimitPolicy,
    ) -> Self {
        Self {
            connection,
            script: Script::new(SCRIPT),
            key: key.into(),
            policy,
            last_interval_sent: AtomicU64::new(NOTHING_SENT),
        }
    }

    /// Runs the script; returns (taken, wait).
    async fn run(
        &self,
        action: &str,
        amount: Duration,
        used_in_window: u32,
    ) -> Result<(bool, Duration), RateLimitError> {
        let mut connection = self.connection.clone();
        let reply: Vec<i64> = self
            .script
            .key(&self.key)
            .arg(action)
            .arg(micros(self.policy.interval()))
            .arg(self.policy.burst)
            .arg(micros(amount))
            .arg(u64::try_from(IDLE_TTL.as_millis()).unwrap_or(u64::MAX))
            .arg(used_in_window)
            .invoke_async(&mut connection)
            .await
            .map_err(backend)?;
        match reply.as_slice() {
            [taken, wait] => Ok((
                *taken == 1,
                Duration::from_micros(u64::try_from(*wait).unwrap_or(0)),
            )),
            other => Err(RateLimitError::Backend(format!(
                "unexpected script reply {other:?}"
            ))),
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn backend(error: redis::RedisError) -> RateLimitError {
    RateLimitError::Backend(error.to_string())
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self) -> Result<(), RateLimitError> {
        let (_, wait) = self.run("reserve", Duration::ZERO, 0).await?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    async fn try_acquire(&self) -> Result<TryAcquire, RateLimitError> {
        let (taken, wait) = self.run("try", Duration::ZERO, 0).await?;
        Ok(if taken {
            TryAcquire::Granted
        } else {
            TryAcquire::RetryIn(wait)
        })
    }

    async fn feedback(&self, feedback: Feedback) -> Result<(), RateLimitError> {
        let adjustment = self.policy.adjustment(&feedback);
        if let Some(interval) = adjustment.interval {
            let wanted = micros(interval);
            let adapted = interval != self.policy.interval();
            if adapted || self.last_interval_sent.load(Ordering::Relaxed) != wanted {
                self.run("interval", interval, adjustment.used_in_window)
                    .await?;
                self.last_interval_sent.store(wanted, Ordering::Relaxed);
            }
        }
        if adjustment.skip_slot {
            self.run("reserve", Duration::ZERO, 0).await?;
        }
        if let Some(pause) = adjustment.pause {
            self.run("pause", pause, 0).await?;
        }
        Ok(())
    }
}

//! One conformance suite for every [`RateLimiter`]: the memory limiter on tokio's paused
//! clock, and the Redis limiter on the real Redis of `TEST_REDIS_URL` (real time, at a
//! fast 50 requests a second so the suite stays short), each test on its own key.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use cratedigger_discogs::ratelimit::{
    Feedback, MemoryRateLimiter, RateLimitPolicy, RateLimiter, RedisRateLimiter, TryAcquire,
};
use tokio::time::Instant;

/// 50 a second, no headroom: a 20 ms interval that timings can be checked against.
fn fast(burst: u32) -> RateLimitPolicy {
    RateLimitPolicy {
        limit: 50,
        period: Duration::from_secs(1),
        burst,
        headroom_per_mille: 0,
        throttled_pause: Duration::from_millis(300),
        max_pause: Duration::from_secs(120),
    }
}

const INTERVAL: Duration = Duration::from_millis(20);

/// Makes two handles on one fresh bucket (two replicas sharing an identity).
trait Harness {
    async fn pair(&self, policy: RateLimitPolicy) -> (Arc<dyn RateLimiter>, Arc<dyn RateLimiter>);
}

struct Memory;

impl Harness for Memory {
    async fn pair(&self, policy: RateLimitPolicy) -> (Arc<dyn RateLimiter>, Arc<dyn RateLimiter>) {
        let limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(policy));
        (limiter.clone(), limiter)
    }
}

struct Redis(String);

impl Harness for Redis {
    async fn pair(&self, policy: RateLimitPolicy) -> (Arc<dyn RateLimiter>, Arc<dyn RateLimiter>) {
        let key = cratedigger_testkit::unique_name("cratedigger_test_ratelimit");
        let a = RedisRateLimiter::connect(&self.0, key.clone(), policy)
            .await
            .unwrap();
        let b = RedisRateLimiter::connect(&self.0, key, policy)
            .await
            .unwrap();
        (Arc::new(a), Arc::new(b))
    }
}

/// Real time is never exact, least of all on a loaded CI machine. Slots are absolute on
/// the bucket's clock, so every check measures from one anchor taken before the first
/// step: a limiter that lets a request through early fails (8 ms allowed for timer
/// granularity), while a late wake-up only delays what follows (25 % plus 150 ms allowed).
fn assert_about(actual: Duration, ideal: Duration, what: &str) {
    let slack = ideal / 4 + Duration::from_millis(150);
    assert!(
        actual + Duration::from_millis(8) >= ideal && actual <= ideal + slack,
        "{what}: took {actual:?}, expected about {ideal:?}"
    );
}

async fn rate_is_honoured(h: &impl Harness) {
    let (limiter, _) = h.pair(fast(1)).await;
    let start = Instant::now();
    for _ in 0..26 {
        limiter.acquire().await.unwrap();
    }
    // The first goes at once, the other 25 one interval apart.
    assert_about(start.elapsed(), INTERVAL * 25, "26 sequential acquires");
}

async fn a_burst_goes_at_once_then_the_rate_applies(h: &impl Harness) {
    // Five a second with a burst of five: slow enough that a loaded machine cannot take
    // 200 ms between two calls and refill the bucket.
    let slow = RateLimitPolicy {
        limit: 5,
        ..fast(5)
    };
    let (limiter, _) = h.pair(slow).await;
    let start = Instant::now();
    for n in 0..5 {
        let granted = limiter.try_acquire().await.unwrap();
        assert_eq!(granted, TryAcquire::Granted, "request {n} of the burst");
    }
    match limiter.try_acquire().await.unwrap() {
        TryAcquire::RetryIn(wait) => {
            assert!(
                wait <= Duration::from_millis(200) && !wait.is_zero(),
                "{wait:?}"
            )
        }
        TryAcquire::Granted => panic!("a sixth request fitted in a burst of five"),
    }
    limiter.acquire().await.unwrap();
    assert_about(
        start.elapsed(),
        Duration::from_millis(200),
        "the request after the burst",
    );
}

async fn trying_does_not_reserve(h: &impl Harness) {
    // Five a second, so the refused tries all fall inside one interval even on a busy
    // machine.
    let (limiter, _) = h
        .pair(RateLimitPolicy {
            limit: 5,
            ..fast(1)
        })
        .await;
    let start = Instant::now();
    assert_eq!(limiter.try_acquire().await.unwrap(), TryAcquire::Granted);
    for _ in 0..5 {
        assert!(matches!(
            limiter.try_acquire().await.unwrap(),
            TryAcquire::RetryIn(_)
        ));
    }
    limiter.acquire().await.unwrap();
    assert_about(
        start.elapsed(),
        Duration::from_millis(200),
        "acquire after refused tries",
    );
}

async fn concurrent_acquirers_share_one_budget(h: &impl Harness) {
    let (a, b) = h.pair(fast(1)).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let limiter = if worker % 2 == 0 {
            a.clone()
        } else {
            b.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut granted = Vec::new();
            for _ in 0..6 {
                limiter.acquire().await.unwrap();
                granted.push(start.elapsed());
            }
            granted
        }));
    }
    let mut granted = Vec::new();
    for task in tasks {
        granted.extend(task.await.unwrap());
    }
    granted.sort();
    // 36 slots from two handles: the last one 35 intervals after the first.
    assert_about(
        *granted.last().unwrap(),
        INTERVAL * 35,
        "36 acquires by 6 workers on 2 handles",
    );
    // Never ahead of the rate: the k-th grant comes no sooner than k - 1 intervals.
    for (k, at) in granted.iter().enumerate() {
        let earliest = INTERVAL * u32::try_from(k).unwrap();
        assert!(
            *at + Duration::from_millis(8) >= earliest,
            "grant {k} at {at:?}"
        );
    }
}

async fn a_smaller_server_budget_slows_everyone(h: &impl Harness) {
    let (a, b) = h.pair(fast(1)).await;
    let start = Instant::now();
    a.acquire().await.unwrap();
    // The server counts 25 a second where we assumed 50: the spacing doubles for both,
    // and the reserved slot and the one request the server counted are re-priced.
    let said = Feedback::Headers {
        limit: Some(25),
        used: Some(1),
        remaining: Some(24),
    };
    a.feedback(said).await.unwrap();
    for _ in 0..6 {
        b.acquire().await.unwrap();
    }
    // 2 re-priced slots, then 5 more at 40 ms.
    assert_about(
        start.elapsed(),
        INTERVAL * 2 * 7,
        "six acquires at the halved rate",
    );
    // Back to the full budget when the server says so: the last 40 ms slot, then 20 ms.
    let restored = Feedback::Headers {
        limit: Some(50),
        used: Some(1),
        remaining: Some(49),
    };
    a.feedback(restored).await.unwrap();
    for _ in 0..6 {
        b.acquire().await.unwrap();
    }
    let ideal = INTERVAL * 2 * 8 + INTERVAL * 5;
    assert_about(
        start.elapsed(),
        ideal,
        "six more acquires at the restored rate",
    );
}

async fn slowing_down_charges_what_the_server_already_counted(h: &impl Harness) {
    let (a, b) = h.pair(fast(1)).await;
    let start = Instant::now();
    a.acquire().await.unwrap();
    // The server allows 25 a second and already counts four requests; one slot is
    // reserved. At the new 40 ms spacing those five cost 200 ms before anything new goes.
    let said = Feedback::Headers {
        limit: Some(25),
        used: Some(4),
        remaining: Some(21),
    };
    a.feedback(said).await.unwrap();
    b.acquire().await.unwrap();
    assert_about(
        start.elapsed(),
        INTERVAL * 2 * 5,
        "first acquire after slowing down",
    );
}

async fn a_429_pauses_the_shared_bucket(h: &impl Harness) {
    let (a, b) = h.pair(fast(3)).await;
    a.acquire().await.unwrap();
    let start = Instant::now();
    let retry_after = Duration::from_millis(250);
    a.feedback(Feedback::Throttled {
        retry_after: Some(retry_after),
    })
    .await
    .unwrap();
    b.acquire().await.unwrap();
    assert_about(
        start.elapsed(),
        retry_after,
        "first acquire after a 429 with retry-after",
    );
    // No burst right after the pause.
    b.acquire().await.unwrap();
    assert_about(
        start.elapsed(),
        retry_after + INTERVAL,
        "second acquire after the pause",
    );
    // Without Retry-After, the policy's pause applies.
    let start = Instant::now();
    b.feedback(Feedback::Throttled { retry_after: None })
        .await
        .unwrap();
    a.acquire().await.unwrap();
    assert_about(
        start.elapsed(),
        Duration::from_millis(300),
        "acquire after a bare 429",
    );
}

async fn an_exhausted_remaining_slows_down(h: &impl Harness) {
    let (limiter, _) = h.pair(fast(1)).await;
    let start = Instant::now();
    limiter.acquire().await.unwrap();
    let exhausted = Feedback::Headers {
        limit: Some(50),
        used: Some(50),
        remaining: Some(0),
    };
    limiter.feedback(exhausted).await.unwrap();
    limiter.acquire().await.unwrap();
    // One interval for the slot already spent, one more given up because the server's
    // window is full.
    assert_about(
        start.elapsed(),
        INTERVAL * 2,
        "acquire after an exhausted budget",
    );
}

macro_rules! conformance {
    ($module:ident, $test_attr:meta, $harness:expr) => {
        mod $module {
            use super::*;

            #[$test_attr]
            async fn rate_is_honoured() {
                if let Some(h) = $harness {
                    super::rate_is_honoured(&h).await
                }
            }
            #[$test_attr]
            async fn a_burst_goes_at_once_then_the_rate_applies() {
                if let Some(h) = $harness {
                    super::a_burst_goes_at_once_then_the_rate_applies(&h).await
                }
            }
            #[$test_attr]
            async fn trying_does_not_reserve() {
                if let Some(h) = $harness {
                    super::trying_does_not_reserve(&h).await
                }
            }
            #[$test_attr]
            async fn concurrent_acquirers_share_one_budget() {
                if let Some(h) = $harness {
                    super::concurrent_acquirers_share_one_budget(&h).await
                }
            }
            #[$test_attr]
            async fn a_smaller_server_budget_slows_everyone() {
                if let Some(h) = $harness {
                    super::a_smaller_server_budget_slows_everyone(&h).await
                }
            }
            #[$test_attr]
            async fn slowing_down_charges_what_the_server_already_counted() {
                if let Some(h) = $harness {
                    super::slowing_down_charges_what_the_server_already_counted(&h).await
                }
            }
            #[$test_attr]
            async fn a_429_pauses_the_shared_bucket() {
                if let Some(h) = $harness {
                    super::a_429_pauses_the_shared_bucket(&h).await
                }
            }
            #[$test_attr]
            async fn an_exhausted_remaining_slows_down() {
                if let Some(h) = $harness {
                    super::an_exhausted_remaining_slows_down(&h).await
                }
            }
        }
    };
}

conformance!(memory, tokio::test(start_paused = true), Some(Memory));
conformance!(
    redis,
    tokio::test(flavor = "multi_thread", worker_threads = 2),
    cratedigger_testkit::server_url("TEST_REDIS_URL").map(Redis)
);

//! Retries, the rate limiter's part in every request, and marketplace pages through the
//! client, against the misbehaving stand-in Discogs.

#![allow(clippy::unwrap_used)]

mod fake_discogs;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cratedigger_discogs::Secret;
use cratedigger_discogs::api::{
    Auth, ClientConfig, DiscogsClient, DiscogsError, ListingSource, RetryPolicy,
};
use cratedigger_discogs::ratelimit::{
    Feedback, MemoryRateLimiter, RateLimitError, RateLimitPolicy, RateLimiter, TryAcquire,
};
use cratedigger_domain::{ListingId, ReleaseId};

/// Counts acquires and keeps every piece of feedback.
#[derive(Debug, Default)]
struct RecordingLimiter {
    acquires: Mutex<u32>,
    feedback: Mutex<Vec<Feedback>>,
}

#[async_trait]
impl RateLimiter for RecordingLimiter {
    async fn acquire(&self) -> Result<(), RateLimitError> {
        *self.acquires.lock().unwrap() += 1;
        Ok(())
    }
    async fn try_acquire(&self) -> Result<TryAcquire, RateLimitError> {
        Ok(TryAcquire::Granted)
    }
    async fn feedback(&self, feedback: Feedback) -> Result<(), RateLimitError> {
        self.feedback.lock().unwrap().push(feedback);
        Ok(())
    }
}

async fn fake_and_client(
    attempts: u32,
) -> (DiscogsClient, fake_discogs::Fake, Arc<RecordingLimiter>) {
    let (base, fake) = fake_discogs::start().await;
    let mut config =
        ClientConfig::single_host(&base, Auth::Token(Secret::new(fake_discogs::TOKEN))).unwrap();
    config.retry = RetryPolicy {
        max_attempts: attempts,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(30),
    };
    config.request_timeout = Duration::from_millis(500);
    let limiter = Arc::new(RecordingLimiter::default());
    (
        DiscogsClient::new(config, limiter.clone()).unwrap(),
        fake,
        limiter,
    )
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_and_pauses_the_limiter() {
    let (client, fake, limiter) = fake_and_client(4).await;
    let start = Instant::now();
    let release = client.release(ReleaseId(1)).await.unwrap();
    assert_eq!(release.release_id, ReleaseId(249_504));
    assert_eq!(fake.hits("/releases/1"), 3, "two 429s, then the answer");
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "Retry-After: 1 honoured twice: {:?}",
        start.elapsed()
    );
    assert_eq!(
        *limiter.acquires.lock().unwrap(),
        3,
        "every attempt waits for the limiter"
    );
    let feedback = limiter.feedback.lock().unwrap();
    let throttled = feedback
        .iter()
        .filter(|f| matches!(f, Feedback::Throttled { .. }))
        .count();
    assert_eq!(throttled, 2);
    assert!(feedback.contains(&Feedback::Throttled {
        retry_after: Some(Duration::from_secs(1))
    }));
    assert!(feedback.contains(&Feedback::Headers {
        limit: Some(60),
        used: Some(2),
        remaining: Some(0)
    }));
    assert!(feedback.contains(&Feedback::Headers {
        limit: Some(60),
        used: Some(2),
        remaining: Some(58)
    }));
}

#[tokio::test]
async fn a_retry_after_longer_than_the_bound_fails_the_request_at_once() {
    let (client, fake, limiter) = fake_and_client(4).await;
    let start = Instant::now();
    let error = client.release(ReleaseId(7)).await.unwrap_err();
    assert!(
        matches!(error, DiscogsError::RateLimited { attempts: 1, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable(), "its job retries later");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(fake.hits("/releases/7"), 1, "not retried in place");
    assert!(
        limiter
            .feedback
            .lock()
            .unwrap()
            .contains(&Feedback::Throttled {
                retry_after: Some(Duration::from_secs(86_000))
            })
    );

    // Behind a real shared limiter, everyone else is held back for the policy's bound,
    // not for the day the server asked.
    let (base, _fake) = fake_discogs::start().await;
    let config =
        ClientConfig::single_host(&base, Auth::Token(Secret::new(fake_discogs::TOKEN))).unwrap();
    let policy = RateLimitPolicy {
        max_pause: Duration::from_millis(800),
        ..RateLimitPolicy::per_minute(60_000)
    };
    let client = DiscogsClient::new(config, Arc::new(MemoryRateLimiter::new(policy))).unwrap();
    client.release(ReleaseId(7)).await.unwrap_err();
    let started = Instant::now();
    client.release(ReleaseId(8)).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

/// Each host has its own budget: a 429 from the marketplace pages (release 671 answers
/// `Retry-After: 20`) holds back the next page, not the next API call.
#[tokio::test]
async fn a_429_from_one_host_holds_back_only_the_requests_to_that_host() {
    let (base, _fake) = fake_discogs::start().await;
    let mut config =
        ClientConfig::single_host(&base, Auth::Token(Secret::new(fake_discogs::TOKEN))).unwrap();
    config.retry.max_attempts = 1;
    let policy = RateLimitPolicy::per_minute(60_000);
    let client = DiscogsClient::new(config, Arc::new(MemoryRateLimiter::new(policy)))
        .unwrap()
        .with_web_limiter(Arc::new(MemoryRateLimiter::new(policy)));
    let refused = client.release_listings(ReleaseId(671), 1, 25).await;
    assert!(
        matches!(refused, Err(DiscogsError::RateLimited { .. })),
        "{refused:?}"
    );
    let started = Instant::now();
    client.release(ReleaseId(8)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the API waited {:?} for the web host's pause",
        started.elapsed()
    );
    let page = tokio::time::timeout(
        Duration::from_secs(2),
        client.release_listings(ReleaseId(35_886_547), 1, 25),
    )
    .await;
    assert!(page.is_err(), "the web host is paused: {page:?}");
}

#[tokio::test]
async fn attempts_are_bounded() {
    let (client, fake, _) = fake_and_client(3).await;
    let error = client.release(ReleaseId(2)).await.unwrap_err();
    assert!(
        matches!(
            error,
            DiscogsError::Server {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(fake.hits("/releases/2"), 3);

    let (client, fake, _) = fake_and_client(1).await;
    assert!(
        client
            .release(ReleaseId(1))
            .await
            .unwrap_err()
            .is_retryable()
    );
    assert_eq!(fake.hits("/releases/1"), 1, "one attempt means no retry");
}

#[tokio::test]
async fn server_errors_and_truncated_bodies_are_retried_then_succeed() {
    let (client, fake, _) = fake_and_client(3).await;
    client.release(ReleaseId(4)).await.unwrap();
    assert_eq!(fake.hits("/releases/4"), 2, "a 503, then the answer");
    client.release(ReleaseId(3)).await.unwrap();
    assert_eq!(fake.hits("/releases/3"), 2, "half a body, then the whole");
    let error = client.release(ReleaseId(5)).await.unwrap_err();
    let DiscogsError::MalformedBody { endpoint, detail } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(endpoint, "/releases/5");
    assert!(detail.contains("EOF"), "{detail}");
}

#[tokio::test]
async fn slow_answers_time_out() {
    let (client, fake, _) = fake_and_client(2).await;
    let error = client.release(ReleaseId(6)).await.unwrap_err();
    assert!(
        matches!(error, DiscogsError::Timeout { attempts: 2, .. }),
        "{error:?}"
    );
    assert_eq!(fake.hits("/releases/6"), 2);
}

#[tokio::test]
async fn marketplace_pages_read_through_the_listing_source() {
    let (client, fake, limiter) = fake_and_client(3).await;
    let source: &dyn ListingSource = &client;
    let page = source
        .release_listings(ReleaseId(2_247_646), 2, 30)
        .await
        .unwrap();
    assert_eq!(fake.hits("/sell/release/2247646?page=2&limit=50"), 1);
    assert_eq!(page.listings.len(), 2);
    assert_eq!(page.listings[0].id, ListingId(4_112_342_466));
    assert_eq!(*limiter.acquires.lock().unwrap(), 1);
    // No credentials go to the web host.
    assert_eq!(fake.seen.lock().unwrap().authorizations, [""]);

    let empty = source
        .release_listings(ReleaseId(35_886_547), 1, 25)
        .await
        .unwrap();
    assert!(empty.listings.is_empty());
    assert_eq!(empty.range.unwrap().total, 0);
}

#[tokio::test]
async fn blocked_and_missing_pages_are_errors_never_empty_pages() {
    let (client, fake, _) = fake_and_client(3).await;
    let challenge = client
        .release_listings(ReleaseId(666), 1, 25)
        .await
        .unwrap_err();
    assert!(
        matches!(
            challenge,
            DiscogsError::Challenge {
                evidence: "cf-mitigated header",
                ..
            }
        ),
        "{challenge:?}"
    );
    assert!(challenge.is_blocked() && !challenge.is_retryable());
    assert_eq!(
        fake.hits("/sell/release/666?page=1&limit=25"),
        1,
        "a challenge is not retried"
    );
    let as_503 = client
        .release_listings(ReleaseId(665), 1, 25)
        .await
        .unwrap_err();
    assert!(
        matches!(as_503, DiscogsError::Challenge { .. }),
        "{as_503:?}"
    );
    assert_eq!(
        fake.hits("/sell/release/665?page=1&limit=25"),
        1,
        "a 503 challenge is not retried"
    );
    let login = client
        .release_listings(ReleaseId(667), 1, 25)
        .await
        .unwrap_err();
    assert!(matches!(login, DiscogsError::LoginWall { .. }), "{login:?}");
    let missing = client
        .release_listings(ReleaseId(668), 1, 25)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, DiscogsError::NotFound { status: 404, .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_page_cut_short_is_retried_and_then_reported() {
    let (client, fake, _) = fake_and_client(3).await;
    let page = client
        .release_listings(ReleaseId(669), 1, 25)
        .await
        .unwrap();
    assert_eq!(page.listings.len(), 2);
    assert_eq!(fake.hits("/sell/release/669?page=1&limit=25"), 2);
    let error = client
        .release_listings(ReleaseId(670), 1, 25)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DiscogsError::UnrecognisedPage { .. }),
        "{error:?}"
    );
    assert_eq!(fake.hits("/sell/release/670?page=1&limit=25"), 3);
}

//! Rate-limiter benchmark: N workers fetch through one client and one shared limiter
//! from a Discogs (normally the simulator) for a while, and one JSON line says how close
//! the sustained rate came to the limit and how many 429s came after the warm-up.
//!
//! ```text
//! cargo run --release -p cratedigger-discogs --example ratelimit_bench -- \
//!     --base http://127.0.0.1:PORT --rate 60 --workers 16 --duration 120 --warmup 10 \
//!     [--limiter memory|redis] [--redis-url redis://127.0.0.1:6379] [--user digger0001] \
//!     [--token TOKEN]
//! ```
//!
//! Every worker asks for the first page of `--user`'s wantlist in a loop. Retries are off,
//! so every 429 the server sends is counted, not hidden behind a successful retry.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cratedigger_discogs::Secret;
use cratedigger_discogs::api::{
    Auth, ClientConfig, DiscogsClient, DiscogsError, PageRequest, RetryPolicy,
};
use cratedigger_discogs::ratelimit::{
    MemoryRateLimiter, RateLimitPolicy, RedisRateLimiter, SharedRateLimiter,
};
use cratedigger_domain::Username;
use tokio::time::Instant;

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    base: String,
    rate: u32,
    workers: u32,
    duration: Duration,
    warmup: Duration,
    limiter: String,
    redis_url: String,
    user: String,
    token: Option<String>,
}

fn options() -> Result<Options, Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut named = HashMap::new();
    for pair in args.chunks(2) {
        match pair {
            [name, value] if name.starts_with("--") => {
                named.insert(name.trim_start_matches("--").to_owned(), value.clone());
            }
            _ => return Err(format!("expected --name value pairs, got {pair:?}").into()),
        }
    }
    let get = |name: &str, default: &str| {
        named
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    let seconds = |name: &str, default: &str| -> Result<Duration, Failure> {
        Ok(Duration::from_secs_f64(get(name, default).parse()?))
    };
    Ok(Options {
        base: named
            .get("base")
            .cloned()
            .ok_or("--base is required (the simulator's address)")?,
        rate: get("rate", "60").parse()?,
        workers: get("workers", "4").parse()?,
        duration: seconds("duration", "120")?,
        warmup: seconds("warmup", "10")?,
        limiter: get("limiter", "memory"),
        redis_url: get("redis-url", "redis://127.0.0.1:6379"),
        user: get("user", "digger0001"),
        token: named.get("token").cloned(),
    })
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    throttled: AtomicU64,
    other_errors: AtomicU64,
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let options = options()?;
    let policy = RateLimitPolicy::per_minute(options.rate);
    let limiter: SharedRateLimiter = match options.limiter.as_str() {
        "memory" => Arc::new(MemoryRateLimiter::new(policy)),
        "redis" => {
            let key = format!("cratedigger:bench:ratelimit:{}", std::process::id());
            Arc::new(RedisRateLimiter::connect(&options.redis_url, key, policy).await?)
        }
        other => return Err(format!("--limiter must be memory or redis, not {other}").into()),
    };
    let auth = options
        .token
        .clone()
        .map_or(Auth::None, |t| Auth::Token(Secret::new(t)));
    let mut config = ClientConfig::single_host(&options.base, auth)?;
    config.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let client = DiscogsClient::new(config, limiter)?;
    let user = Username::parse(&options.user)?;

    let start = Instant::now();
    let measuring_from = start + options.warmup;
    let end = measuring_from + options.duration;
    let counts = Arc::new(Counts::default());
    let mut workers = Vec::new();
    for _ in 0..options.workers {
        let (client, user, counts) = (client.clone(), user.clone(), counts.clone());
        workers.push(tokio::spawn(async move {
            // Stopped at `end` even while waiting for a slot: waiters queued behind 16
            // reservations would otherwise run on for 16 intervals.
            let work = async {
                loop {
                    let result = client.wantlist_page(&user, PageRequest::new(1, 50)).await;
                    // Only responses inside the measured window count.
                    if Instant::now() < measuring_from {
                        continue;
                    }
                    let counter = match result {
                        Ok(_) => &counts.ok,
                        Err(DiscogsError::RateLimited { .. }) => &counts.throttled,
                        Err(_) => &counts.other_errors,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            };
            let _ = tokio::time::timeout_at(end, work).await;
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let ok = counts.ok.load(Ordering::Relaxed);
    let per_minute = ok as f64 * 60.0 / options.duration.as_secs_f64();
    let line = serde_json::json!({
        "workers": options.workers,
        "limiter": options.limiter,
        "limit_per_min": options.rate,
        "duration_s": options.duration.as_secs_f64(),
        "warmup_s": options.warmup.as_secs_f64(),
        "ok": ok,
        "throughput_per_min": (per_minute * 10.0).round() / 10.0,
        "ratio_to_limit": (per_minute / f64::from(options.rate) * 1000.0).round() / 1000.0,
        "throttled_after_warmup": counts.throttled.load(Ordering::Relaxed),
        "other_errors": counts.other_errors.load(Ordering::Relaxed),
    });
    println!("{line}");
    Ok(())
}

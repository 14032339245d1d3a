//! Load figure for `GET /api/v1/jobs/{id}` with the Redis key-value backend on loopback,
//! beside `redis-benchmark -t get` against the same Redis in the same run. A bounded load
//! generator: a fixed number of connections, each sending its next request when the last
//! one is answered, for a fixed time; every latency is kept for the percentiles.
//!
//! ```sh
//! TEST_REDIS_URL=redis://127.0.0.1:6379 cargo test --release -p cratedigger-gateway \
//!     --test load -- --ignored --nocapture
//! ```
//!
//! `LOAD_CONNECTIONS` (default 32) and `LOAD_SECONDS` (default 10) change the load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cratedigger_bus::{EventBus, MemoryBus};
use cratedigger_domain::JobId;
use cratedigger_gateway::{Gateway, GatewaySettings};
use cratedigger_kit::{Health, Shutdown, WorkerSettings};
use cratedigger_kv::{KeyValue, RedisKeyValue};
use cratedigger_results::EmbeddedResultsStore;
use cratedigger_status::StatusBoard;
use serde_json::{Value, json};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Measured {
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// `connections` clients reading `url` back to back for `seconds`.
async fn hammer(url: &str, connections: usize, seconds: u64) -> Measured {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..connections {
        let (client, url) = (client.clone(), url.to_owned());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            while Instant::now() < until {
                let sent = Instant::now();
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Measured {
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

/// `redis-benchmark -t get` against the same server: requests a second and p99 (ms).
fn redis_benchmark(redis_url: &str, connections: usize) -> Option<(f64, f64)> {
    let url = url::Url::parse(redis_url).ok()?;
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port().unwrap_or(6379).to_string();
    let output = std::process::Command::new("redis-benchmark")
        .args([
            "-h",
            &host,
            "-p",
            &port,
            "-t",
            "get",
            "-n",
            "200000",
            "-c",
            &connections.to_string(),
            "--csv",
        ])
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            eprintln!(
                "redis-benchmark failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return None;
        }
        Err(e) => {
            eprintln!("redis-benchmark did not run ({e}); install redis-tools");
            return None;
        }
    };
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    let text = String::from_utf8_lossy(&output.stdout);
    let row = text.lines().find(|l| l.starts_with("\"GET\""))?;
    let fields: Vec<f64> = row
        .split(',')
        .skip(1)
        .filter_map(|f| f.trim_matches('"').parse().ok())
        .collect();
    Some((*fields.first()?, *fields.get(5)?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it in release with --ignored --nocapture"]
async fn job_status_reads_per_second_with_redis() {
    let Some(redis_url) = cratedigger_testkit::server_url("TEST_REDIS_URL") else {
        return;
    };
    let connections = env_number("LOAD_CONNECTIONS", 32) as usize;
    let seconds = env_number("LOAD_SECONDS", 10);
    let prefix = format!("{}:", cratedigger_testkit::unique_name("gateway_load"));
    let kv: Arc<dyn KeyValue> = Arc::new(
        RedisKeyValue::connect(&redis_url, prefix, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    let results = Arc::new(EmbeddedResultsStore::in_memory().await.unwrap());
    let mut settings = GatewaySettings::default();
    settings.rate_limit.per_second = 0;

    // The tracker puts the job on the status board, as in a deployment.
    let shutdown = Shutdown::new();
    let tracker = cratedigger_tracker::Tracker::new(kv.clone(), bus.clone())
        .workers(&WorkerSettings::default());
    for worker in &tracker {
        bus.ensure_subscription(&worker.subscription().unwrap())
            .await
            .unwrap();
    }
    for worker in tracker {
        let stop = shutdown.clone();
        tokio::spawn(async move { worker.run(stop).await });
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let gateway = Gateway::new(kv.clone(), bus, results, settings);
    let stop = shutdown.clone();
    tokio::spawn(async move { gateway.serve(listener, Health::new("load"), stop).await });

    let http = reqwest::Client::new();
    let mut created = None;
    for _ in 0..100 {
        if let Ok(response) = http
            .post(format!("{base}/api/v1/jobs"))
            .json(&json!({"kind": "sync", "username": "digger0001"}))
            .send()
            .await
        {
            created = Some(response.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let job = created.expect("the gateway did not start")["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{base}/api/v1/jobs/{job}");
    // Measure reads of the board's record, once the tracker has written it.
    let board = StatusBoard::new(kv.clone());
    let job_id: JobId = job.parse().unwrap();
    for _ in 0..200 {
        if board
            .read(&job_id, chrono::Utc::now())
            .await
            .unwrap()
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        board
            .read(&job_id, chrono::Utc::now())
            .await
            .unwrap()
            .is_some(),
        "the tracker did not record the job"
    );

    hammer(&url, connections, 1).await; // warm-up
    let measured = hammer(&url, connections, seconds).await;
    shutdown.trigger();
    let redis = redis_benchmark(&redis_url, connections);

    println!(
        "GET /api/v1/jobs/{{id}} (Redis backend, {connections} connections, {seconds} s): {} requests, {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        measured.requests,
        measured.per_second,
        measured.p50.as_secs_f64() * 1e3,
        measured.p99.as_secs_f64() * 1e3,
    );
    match redis {
        Some((rps, p99)) => println!(
            "redis-benchmark -t get -c {connections}: {rps:.0} requests/s, p99 {p99:.2} ms; the gateway serves {:.2}x redis-benchmark's GET rate",
            measured.per_second / rps
        ),
        None => println!("redis-benchmark: not measured"),
    }
    assert!(measured.requests > 0);
}

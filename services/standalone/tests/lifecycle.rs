//! One service under an orchestrator: start-up waits for its servers with backoff, saying
//! what it waits for, and gives up after `wait_for_backends_seconds` naming the server;
//! the health port answers throughout (alive, not ready until serving); SIGTERM makes the
//! service unready at once while it stays alive, drains its workers and hands back what
//! did not finish; SIGTERM during the wait stops it cleanly.
//!
//! The process tests run the `cratedigger` binary. Only the late-server test needs a real
//! server (Redis, `TEST_REDIS_URL`); it is skipped without one.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use cratedigger::{HealthEndpoints, Service, run_service};
use cratedigger_backends::Backends;
use cratedigger_domain::{JobId, JobKind, JobSpec, Username};
use cratedigger_kit::{Health, Publisher, Shutdown};
use cratedigger_proto::convert::job_to_pb;
use cratedigger_proto::events;
use cratedigger_testkit::{server_url, unique_name};
use serde_json::json;
use support::{Process, Sim, free_port, wait_ready};

async fn status(url: &str) -> u16 {
    reqwest::get(url)
        .await
        .map_or(0, |response| response.status().as_u16())
}

/// Chunk 0 of `username`'s wantlist, one page, for a new recommendations job.
fn chunk_request(username: &str) -> events::ChunkRequested {
    let job = JobSpec {
        id: JobId::generate(),
        kind: JobKind::Recommendations,
        username: Username::parse(username).unwrap(),
        criteria: None,
        limit: 10,
        wantlist_share: 0.5,
        seed: 1,
        requested_at: "2026-11-23T20:00:00.000Z".into(),
    };
    events::ChunkRequested {
        job: Some(job_to_pb(&job)),
        chunk: 0,
        list: events::InteractionList::Wantlist as i32,
        first_page: 1,
        last_page: 1,
        per_page: 100,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_service_drains_and_unfinished_work_is_handed_back() {
    let sim = Sim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = support::embedded_settings(dir.path(), &sim);
    settings.workers.drain_seconds = 1;
    let backends = Backends::connect(&settings.backends, Duration::from_secs(10))
        .await
        .unwrap();
    backends.migrate().await.unwrap();
    // The chunk's wantlist page answers after 5 s, so the chunk is in flight at SIGTERM
    // and still unfinished when the 1 s drain is over.
    sim.fault(json!({ "kind": "latency", "ms": 5000, "path_prefix": "/users/slowdigger/wants" }))
        .await;

    let health = Health::new(Service::Scraper.name());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let endpoints = HealthEndpoints::serve(listener, &health);
    assert_eq!(status(&format!("{base}/healthz")).await, 200);
    assert_eq!(
        status(&format!("{base}/readyz")).await,
        503,
        "ready before serving"
    );

    let shutdown = Shutdown::new();
    let running = tokio::spawn({
        let (backends, settings, health, shutdown) = (
            backends.clone(),
            settings.clone(),
            health.clone(),
            shutdown.clone(),
        );
        async move { run_service(Service::Scraper, &backends, &settings, &health, shutdown).await }
    });
    wait_ready(&format!("{base}/readyz"), Duration::from_secs(10), &[]).await;

    sim.reset_stats().await;
    let chunk = chunk_request("slowdigger");
    let job_id = chunk.job.as_ref().unwrap().id.clone();
    Publisher::new(backends.bus.clone())
        .publish(&chunk)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.stats().await["total"].as_u64().unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "the scraper never asked for the wantlist page: {}",
            sim.stats().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // SIGTERM: unready at once, alive while draining.
    shutdown.trigger();
    let signalled = Instant::now();
    let mut draining_checks = 0;
    while !running.is_finished() {
        assert_eq!(
            status(&format!("{base}/readyz")).await,
            503,
            "ready while draining"
        );
        assert_eq!(
            status(&format!("{base}/healthz")).await,
            200,
            "not alive while draining"
        );
        draining_checks += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let drained_in = signalled.elapsed();
    assert!(
        draining_checks >= 3,
        "the drain was over before it could be observed ({drained_in:?})"
    );
    assert!(
        drained_in >= Duration::from_millis(900),
        "stopped before the drain timeout: {drained_in:?}"
    );
    assert!(
        drained_in < Duration::from_secs(4),
        "waited for the slow page instead of handing it back: {drained_in:?}"
    );
    // The endpoints outlive the service until they are stopped.
    assert_eq!(status(&format!("{base}/healthz")).await, 200);
    endpoints.stop().await;
    assert_eq!(
        status(&format!("{base}/healthz")).await,
        0,
        "still serving after stop"
    );

    // The unfinished chunk was handed back: the next scraper gets it again.
    let spec = cratedigger_kit::subscription::<events::ChunkRequested>(Service::Scraper.name());
    let mut subscription = backends.bus.subscribe(&spec).await.unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(delivery.attempt >= 2, "attempt {}", delivery.attempt);
    assert_eq!(
        delivery
            .attributes
            .get(cratedigger_kit::publish::ATTR_JOB_ID)
            .map(String::as_str),
        Some(job_id.as_str())
    );
    delivery.ack().await.unwrap();
}

/// The environment of one `serve` process on embedded backends under `dir`, with its
/// key-value store on Redis at `kv_url`.
fn process_env(
    dir: &std::path::Path,
    kv_url: &str,
    wait_seconds: u64,
    health_port: u16,
) -> Vec<(String, String)> {
    [
        ("APP_CATALOG__KIND", "sqlite".to_owned()),
        (
            "APP_CATALOG__PATH",
            dir.join("catalog.db").display().to_string(),
        ),
        ("APP_RESULTS__KIND", "embedded".to_owned()),
        (
            "APP_RESULTS__PATH",
            dir.join("results.db").display().to_string(),
        ),
        (
            "APP_BLOBS__LOCATION",
            dir.join("blobs").display().to_string(),
        ),
        ("APP_KV__KIND", "redis".to_owned()),
        ("APP_KV__URL", kv_url.to_owned()),
        ("APP_KV__PREFIX", format!("{}:", unique_name("lifecycle"))),
        ("APP_HEALTH__PORT", health_port.to_string()),
        ("APP_WAIT_FOR_BACKENDS_SECONDS", wait_seconds.to_string()),
        ("APP_TELEMETRY__FORMAT", "json".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

/// Waits until the process's log has a line containing every one of `parts`.
async fn wait_for_line(process: &Process, parts: &[&str], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(line) = process
            .output()
            .lines()
            .find(|line| parts.iter().all(|part| line.contains(part)))
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {parts:?}:\n{}",
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the process to exit; its success.
async fn exit_status(process: &mut Process, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            return status.success();
        }
        assert!(
            Instant::now() < deadline,
            "{} still running after {timeout:?}:\n{}",
            process.name,
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Accepts on `port` from now on and forwards every connection to `target`.
async fn forward(port: u16, target: String) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

/// `host:port` of a `redis://[user@]host:port[/db]` URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_waits_for_a_late_server_then_serves_and_stops_on_sigterm() {
    let Some(redis) = server_url("TEST_REDIS_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (kv_port, health_port) = (free_port(), free_port());
    let env = process_env(
        dir.path(),
        &format!("redis://127.0.0.1:{kv_port}"),
        60,
        health_port,
    );
    let mut tracker = Process::spawn("tracker", &["serve", "tracker"], &env, dir.path());
    let health = format!("http://127.0.0.1:{health_port}");

    // Nothing listens on the Redis port yet: alive, not ready, and saying why.
    wait_ready(
        &format!("{health}/healthz"),
        Duration::from_secs(20),
        &[&tracker],
    )
    .await;
    let line = wait_for_line(
        &tracker,
        &["waiting for a backend", "\"backend\":\"redis\""],
        Duration::from_secs(20),
    )
    .await;
    assert!(line.contains("retry_in_ms"), "{line}");
    assert_eq!(status(&format!("{health}/readyz")).await, 503);

    // Redis comes up: the service connects on its next try and serves.
    let proxy = forward(kv_port, host_port(&redis)).await;
    wait_ready(
        &format!("{health}/readyz"),
        Duration::from_secs(20),
        &[&tracker],
    )
    .await;
    wait_for_line(&tracker, &["serving", "tracker"], Duration::from_secs(5)).await;

    assert!(
        tracker.terminate(Duration::from_secs(15)),
        "did not stop cleanly:\n{}",
        tracker.output()
    );
    let log = tracker.output();
    assert!(log.contains("shutdown signal received"), "{log}");
    assert!(log.contains("drained, stopping"), "{log}");
    proxy.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_backs_off_then_gives_up_naming_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let env = process_env(
        dir.path(),
        &format!("redis://127.0.0.1:{}", free_port()),
        // Long enough for three attempts even when a refused connection is slow to tell
        // (a loaded machine running the whole suite).
        6,
        free_port(),
    );
    let mut tracker = Process::spawn("tracker", &["serve", "tracker"], &env, dir.path());
    let started = Instant::now();
    assert!(
        !exit_status(&mut tracker, Duration::from_secs(30)).await,
        "started without redis:\n{}",
        tracker.output()
    );
    let gave_up_after = started.elapsed();
    let log = tracker.output();
    let waits: Vec<u64> = log
        .lines()
        .filter(|line| {
            line.contains("waiting for a backend") && line.contains("\"backend\":\"redis\"")
        })
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["retry_in_ms"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(waits.len() >= 3, "{log}");
    assert!(
        waits.windows(2).all(|pair| pair[1] > pair[0]),
        "no backoff: {waits:?}"
    );
    assert!(
        log.contains("connecting to redis"),
        "the error does not name the server:\n{log}"
    );
    assert!(
        gave_up_after < Duration::from_secs(20),
        "waited {gave_up_after:?} for a 6 s wait"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_waiting_for_servers_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let env = process_env(
        dir.path(),
        &format!("redis://127.0.0.1:{}", free_port()),
        120,
        free_port(),
    );
    let mut tracker = Process::spawn("tracker", &["serve", "tracker"], &env, dir.path());
    wait_for_line(
        &tracker,
        &["waiting for a backend"],
        Duration::from_secs(20),
    )
    .await;
    let signalled = Instant::now();
    assert!(
        tracker.terminate(Duration::from_secs(10)),
        "did not stop cleanly:\n{}",
        tracker.output()
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "took {:?}",
        signalled.elapsed()
    );
    assert!(
        tracker
            .output()
            .contains("stopped while waiting for the backends"),
        "{}",
        tracker.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_waits_for_pubsub_too_and_names_it_when_giving_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = process_env(dir.path(), "unused", 4, free_port());
    env.retain(|(key, _)| !key.starts_with("APP_KV__"));
    env.extend([
        ("APP_BUS__KIND".to_owned(), "pubsub".to_owned()),
        (
            "APP_BUS__PROJECT".to_owned(),
            "cratedigger-lifecycle".to_owned(),
        ),
        (
            "APP_BUS__EMULATOR_HOST".to_owned(),
            format!("127.0.0.1:{}", free_port()),
        ),
    ]);
    let mut tracker = Process::spawn("tracker", &["serve", "tracker"], &env, dir.path());
    assert!(
        !exit_status(&mut tracker, Duration::from_secs(30)).await,
        "started without pub/sub:\n{}",
        tracker.output()
    );
    let log = tracker.output();
    assert!(
        log.contains("waiting for a backend") && log.contains("\"backend\":\"pub/sub\""),
        "{log}"
    );
    assert!(log.contains("connecting to pub/sub"), "{log}");
}

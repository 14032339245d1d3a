//! The browser source against the simulator in today's mode, where every web page answers
//! a plain client with Cloudflare's managed challenge: a real Chromium passes it and reads
//! the very listings a permissive simulator serves; a challenge that never clears is
//! `blocked` within the page timeout; a browser killed mid-way is replaced.

// Helpers outside #[test] functions fail loudly too: a test is the only caller.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use cratedigger_discogs::api::{Auth, ClientConfig};
use cratedigger_discogs::{
    BrowserListingSource, BrowserSettings, DiscogsClient, DiscogsError, ListingSource,
    MemoryRateLimiter, RateLimitPolicy, Secret,
};
use cratedigger_discogs_sim::{Background, SimSettings};
use cratedigger_domain::ReleaseId;
use serde_json::{Value, json};

fn sim_settings(challenge: bool) -> SimSettings {
    let mut settings = SimSettings {
        web_challenge: challenge,
        ..SimSettings::default()
    };
    settings.rate_limit.authenticated = None;
    settings.rate_limit.unauthenticated = None;
    settings
}

fn limiter() -> Arc<MemoryRateLimiter> {
    Arc::new(MemoryRateLimiter::new(RateLimitPolicy::per_minute(6_000)))
}

fn http_client(sim: &Background) -> DiscogsClient {
    let config =
        ClientConfig::single_host(sim.base(), Auth::Token(Secret::new("sim-token"))).unwrap();
    DiscogsClient::new(config, limiter()).unwrap()
}

fn browser(
    sim: &Background,
    executable: std::path::PathBuf,
    page_timeout_ms: u64,
) -> BrowserListingSource {
    let settings = BrowserSettings {
        executable: Some(executable),
        tabs: 2,
        page_timeout_ms,
        ..BrowserSettings::default()
    };
    BrowserListingSource::new(settings, url::Url::parse(sim.base()).unwrap(), limiter())
}

/// Releases with something for sale, from the simulator's control API.
async fn releases_for_sale(sim: &Background, n: usize) -> Vec<ReleaseId> {
    let body: Value = reqwest::get(format!("{}/_sim/releases?per_page=2000", sim.base()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["releases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["num_for_sale"]
                .as_u64()
                .is_some_and(|n| (1..=40).contains(&n))
        })
        .filter_map(|r| r["id"].as_u64())
        .map(ReleaseId)
        .take(n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_passes_the_challenge_and_reads_what_a_permissive_simulator_serves() {
    let Some(chromium) = cratedigger_testkit::chromium() else {
        return;
    };
    let challenging = Background::start(sim_settings(true)).await.unwrap();
    let permissive = Background::start(sim_settings(false)).await.unwrap();
    let releases = releases_for_sale(&permissive, 6).await;
    assert_eq!(releases.len(), 6);

    // A plain client is stopped at the challenge, page after page.
    let plain = http_client(&challenging);
    match plain.release_listings(releases[0], 1, 250).await {
        Err(DiscogsError::Challenge { .. }) => {}
        other => panic!("a plain client must meet the challenge, got {other:?}"),
    }

    let source = browser(&challenging, chromium, 20_000);
    let reference = http_client(&permissive);
    let reads = releases.iter().map(|&release| {
        let (source, reference) = (&source, &reference);
        async move {
            let through_browser = source.release_listings(release, 1, 250).await.unwrap();
            let direct = reference.release_listings(release, 1, 250).await.unwrap();
            (release, through_browser, direct)
        }
    });
    for (release, through_browser, direct) in futures::future::join_all(reads).await {
        assert!(
            !direct.listings.is_empty(),
            "release {release} has listings"
        );
        assert_eq!(
            through_browser.listings, direct.listings,
            "release {release}: the same listings through the browser"
        );
        assert_eq!(through_browser.range, direct.range);
    }
    assert_eq!(source.browsers_started(), 1, "one browser for every page");
    let stats: Value = reqwest::get(format!("{}/_sim/stats", challenging.base()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        stats["challenged"].as_u64().unwrap() >= 2,
        "the browser met the challenge too: {stats}"
    );
    source.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_that_never_clears_is_blocked_within_the_page_timeout() {
    let Some(chromium) = cratedigger_testkit::chromium() else {
        return;
    };
    let sim = Background::start(sim_settings(false)).await.unwrap();
    let release = releases_for_sale(&sim, 1).await[0];
    // A hard block: the interstitial without a script that passes.
    let rule = json!({"kind": "challenge", "path_prefix": "/sell/"});
    reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.base()))
        .json(&rule)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();

    let source = browser(&sim, chromium, 3_000);
    source.start().await.unwrap();
    let started = std::time::Instant::now();
    match source.release_listings(release, 1, 250).await {
        Err(error @ DiscogsError::Challenge { .. }) => assert!(error.is_blocked()),
        other => panic!("a page that stays a challenge is blocked, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "gave up after {:?}",
        started.elapsed()
    );
    source.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_browser_fails_the_page_retryably_and_the_next_page_gets_a_new_one() {
    let Some(chromium) = cratedigger_testkit::chromium() else {
        return;
    };
    let sim = Background::start(sim_settings(true)).await.unwrap();
    let releases = releases_for_sale(&sim, 3).await;
    let source = browser(&sim, chromium, 20_000);
    let first = source.release_listings(releases[0], 1, 250).await.unwrap();
    assert!(!first.listings.is_empty());

    let pid = source
        .process_id()
        .await
        .expect("a launched browser has a process");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Whatever is asked while the browser is gone fails in a way worth retrying...
    let mut attempts = 0;
    let second = loop {
        attempts += 1;
        match source.release_listings(releases[1], 1, 250).await {
            Ok(page) => break page,
            Err(e) if e.is_retryable() && attempts < 3 => continue,
            Err(e) => panic!("attempt {attempts}: {e:?}"),
        }
    };
    // ...and the next attempt reads the page in a new browser.
    assert!(!second.listings.is_empty());
    assert_eq!(source.browsers_started(), 2);
    assert_ne!(source.process_id().await, Some(pid));
    source.shutdown().await;
}

/// A Chromium of its own, listening for DevTools on a free port: a browser service.
struct BrowserService {
    child: std::process::Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl BrowserService {
    fn start(executable: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let profile = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(executable)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            port,
            _profile: profile,
        }
    }
}

impl Drop for BrowserService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_service_is_reached_by_its_devtools_url() {
    let Some(chromium) = cratedigger_testkit::chromium() else {
        return;
    };
    let sim = Background::start(sim_settings(true)).await.unwrap();
    let release = releases_for_sale(&sim, 1).await[0];
    let service = BrowserService::start(&chromium);
    // By name, as a service is addressed (`http://browser:9222`): resolved, then asked.
    let settings = BrowserSettings {
        url: Some(format!("http://localhost:{}", service.port)),
        ..BrowserSettings::default()
    };
    // Wait for it to listen, as a client of a starting service would.
    let version = format!("http://127.0.0.1:{}/json/version", service.port);
    for _ in 0..100 {
        if reqwest::get(&version)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let source =
        BrowserListingSource::new(settings, url::Url::parse(sim.base()).unwrap(), limiter());
    source.start().await.unwrap();
    let page = source.release_listings(release, 1, 250).await;
    assert!(
        page.as_ref().is_ok_and(|p| !p.listings.is_empty()),
        "{page:?}"
    );
    assert_eq!(source.process_id().await, None, "nothing launched here");
    source.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_pages_and_login_walls_are_blocked_at_once_not_after_the_page_timeout() {
    let Some(chromium) = cratedigger_testkit::chromium() else {
        return;
    };
    let sim = Background::start(sim_settings(false)).await.unwrap();
    let release = releases_for_sale(&sim, 1).await[0];
    let source = browser(&sim, chromium, 20_000);
    source.start().await.unwrap();
    let faults = format!("{}/_sim/faults", sim.base());
    let http = reqwest::Client::new();
    // Neither a firewall block nor a login wall is anything a browser can wait out.
    for kind in ["blocked", "login_wall"] {
        http.delete(&faults)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        http.post(&faults)
            .json(&json!({"kind": kind, "path_prefix": "/sell/"}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        let started = std::time::Instant::now();
        match source.release_listings(release, 1, 250).await {
            Err(error) if error.is_blocked() => {}
            other => panic!("{kind}: blocked expected, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{kind}: answered after {:?}",
            started.elapsed()
        );
    }
    source.shutdown().await;
}

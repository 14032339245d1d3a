//! The rate limit behaves like Discogs' (headers on every API response, 429 with a JSON
//! message and Retry-After at the limit, a moving window per token or per address), and
//! every injected fault kind does what reliability tests expect of it.

// Helpers outside #[test] functions fail loudly too: a test is the only caller.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestSim, small_settings, spawn};
use cratedigger_discogs_sim::{RateLimitSettings, SellPageBudget, SimSettings};
use serde_json::{Value, json};

fn limited(authenticated: u32, anonymous: u32, window_ms: u64) -> SimSettings {
    SimSettings {
        rate_limit: RateLimitSettings {
            authenticated: Some(authenticated),
            unauthenticated: Some(anonymous),
            window: Duration::from_millis(window_ms),
        },
        ..small_settings()
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn budget(response: &reqwest::Response) -> (u32, u32, u32) {
    let number = |name| {
        header(response, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(u32::MAX)
    };
    (
        number("x-discogs-ratelimit"),
        number("x-discogs-ratelimit-used"),
        number("x-discogs-ratelimit-remaining"),
    )
}

async fn with_token(sim: &TestSim, path: &str, token: &str) -> reqwest::Response {
    sim.client
        .get(sim.url(path))
        .header("Authorization", format!("Discogs token={token}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn headers_count_down_and_the_limit_answers_429() {
    // A window long enough that a loaded machine cannot let it slide mid-test.
    let sim = spawn(limited(5, 3, 4_000)).await;
    for used in 1..=5 {
        let response = with_token(&sim, "/users/digger0001", "alpha").await;
        assert_eq!(response.status(), 200);
        assert_eq!(budget(&response), (5, used, 5 - used));
        assert_eq!(
            header(&response, "x-discogs-media-type").as_deref(),
            Some("discogs.v2")
        );
    }
    let refused = with_token(&sim, "/releases/1", "alpha").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(budget(&refused), (5, 5, 0));
    let retry_after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=4).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["message"], "You are making requests too quickly.");

    // Another token and anonymous callers have their own budgets; anonymous ones are smaller.
    assert_eq!(
        budget(&with_token(&sim, "/users/digger0001", "beta").await),
        (5, 1, 4)
    );
    for used in 1..=3 {
        assert_eq!(
            budget(&sim.get("/users/digger0001").await),
            (3, used, 3 - used)
        );
    }
    assert_eq!(sim.get("/users/digger0001").await.status(), 429);

    // The window moves: once the first requests age out, the token may call again.
    tokio::time::sleep(Duration::from_millis(4_100)).await;
    let again = with_token(&sim, "/users/digger0001", "alpha").await;
    assert_eq!(again.status(), 200);
    assert_eq!(budget(&again), (5, 1, 4));

    let stats = sim.get_json("/_sim/stats").await;
    assert_eq!(stats["rate_limited"], 2);
}

#[tokio::test]
async fn a_client_pacing_itself_to_the_limit_is_never_refused() {
    let sim = spawn(limited(10, 10, 1_000)).await;
    let started = Instant::now();
    let mut refused = 0;
    for i in 0..20 {
        // 10 a second allowed; one every 115 ms leaves room for a slow response.
        let due = started + Duration::from_millis(115 * i);
        tokio::time::sleep_until(due.into()).await;
        if with_token(&sim, "/users/digger0002", "pacer")
            .await
            .status()
            == 429
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 0);
}

#[tokio::test]
async fn unlimited_mode_sends_no_budget_headers() {
    let sim = spawn(small_settings()).await;
    let response = sim.get("/users/digger0001").await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "x-discogs-ratelimit").is_none());
}

#[tokio::test]
async fn sell_pages_are_free_by_default_and_can_share_or_have_their_own_budget() {
    let free = spawn(limited(2, 2, 60_000)).await;
    let release = free.releases(1).await[0]["id"].clone();
    let page = format!("/sell/release/{release}");
    for _ in 0..5 {
        let response = free.get(&page).await;
        assert_eq!(response.status(), 200);
        assert!(header(&response, "x-discogs-ratelimit").is_none());
    }

    let shared = spawn(SimSettings {
        sell_pages: SellPageBudget::SharedWithApi,
        ..limited(2, 2, 60_000)
    })
    .await;
    assert_eq!(shared.get(&page).await.status(), 200);
    assert_eq!(budget(&shared.get("/users/digger0001").await), (2, 2, 0));
    assert_eq!(shared.get(&page).await.status(), 429);

    let own = spawn(SimSettings {
        sell_pages: SellPageBudget::PerClient(3),
        ..limited(2, 2, 60_000)
    })
    .await;
    for _ in 0..3 {
        assert_eq!(own.get(&page).await.status(), 200);
    }
    let refused = own.get(&page).await;
    assert_eq!(refused.status(), 429);
    assert!(
        header(&refused, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        own.get("/users/digger0001").await.status(),
        200,
        "the API budget is untouched"
    );
}

async fn inject(sim: &TestSim, rule: Value) {
    let response = sim.post_json("/_sim/faults", rule).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
}

#[tokio::test]
async fn latency_and_server_errors() {
    let sim = spawn(small_settings()).await;
    inject(
        &sim,
        json!({"kind": "latency", "ms": 300, "path_prefix": "/releases/", "times": 1}),
    )
    .await;
    let release = sim.releases(1).await[0]["id"].clone();
    let started = Instant::now();
    assert_eq!(sim.get(&format!("/releases/{release}")).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let retired = sim.get_json("/_sim/faults").await;
    assert!(
        retired["faults"].as_array().unwrap().is_empty(),
        "a counted rule retires"
    );

    inject(
        &sim,
        json!({"kind": "server_error", "status": 503, "path_prefix": "/users/", "times": 2}),
    )
    .await;
    for _ in 0..2 {
        let failed = sim.get("/users/digger0001/wants").await;
        assert_eq!(failed.status(), 503);
        let body: Value = failed.json().await.unwrap();
        assert!(body["message"].is_string());
    }
    assert_eq!(sim.get("/users/digger0001/wants").await.status(), 200);
    let stats = sim.get_json("/_sim/stats").await;
    assert_eq!(stats["faults_injected"], 3);
}

#[tokio::test]
async fn injected_429_and_truncated_bodies() {
    let sim = spawn(small_settings()).await;
    inject(
        &sim,
        json!({"kind": "rate_limited", "retry_after_secs": 7, "times": 1}),
    )
    .await;
    let refused = sim.get("/users/digger0001").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "retry-after").as_deref(), Some("7"));

    let whole = sim.get_text("/users/digger0001/wants").await;
    inject(
        &sim,
        json!({"kind": "truncated_body", "path_prefix": "/users/digger0001/wants", "times": 1}),
    )
    .await;
    let cut = sim.get("/users/digger0001/wants").await;
    assert_eq!(cut.status(), 200);
    let text = cut.text().await.unwrap();
    assert_eq!(text.len(), whole.len() / 2);
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn challenge_pages_and_login_walls() {
    let sim = spawn(small_settings()).await;
    let release = sim.releases(1).await[0]["id"].clone();
    let page = format!("/sell/release/{release}");
    inject(
        &sim,
        json!({"kind": "challenge", "path_prefix": "/sell/", "times": 1}),
    )
    .await;
    let challenged = sim.get(&page).await;
    assert_eq!(challenged.status(), 403);
    assert_eq!(
        header(&challenged, "cf-mitigated").as_deref(),
        Some("challenge")
    );
    let body = challenged.text().await.unwrap();
    assert!(body.contains("<title>Just a moment...</title>"));
    assert!(!body.contains("mpitems"));

    inject(
        &sim,
        json!({"kind": "login_wall", "path_prefix": "/sell/", "times": 1}),
    )
    .await;
    let walled = sim.get(&page).await;
    assert_eq!(walled.status(), 302);
    let location = header(&walled, "location").unwrap();
    assert!(
        location.starts_with("/login?return_to=%2Fsell%2Frelease%2F"),
        "{location}"
    );
    let login = sim.get_text(&location).await;
    assert!(login.contains("<title>Log In | Discogs</title>"));
    assert!(!login.contains("mpitems"));
    assert!(
        sim.get_text(&page).await.contains("mpitems"),
        "faults retire after their count"
    );
}

#[tokio::test]
async fn probabilistic_faults_repeat_with_their_seed_and_can_be_cleared() {
    let sim = spawn(small_settings()).await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        inject(
            &sim,
            json!({"kind": "server_error", "probability": 0.3, "seed": 99}),
        )
        .await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(sim.get("/users/digger0003").await.status().as_u16());
        }
        runs.push(statuses);
        let listed = sim.get_json("/_sim/faults").await;
        assert_eq!(listed["faults"].as_array().unwrap().len(), 1);
        assert_eq!(sim.delete("/_sim/faults").await.status(), 204);
    }
    assert_eq!(runs[0], runs[1]);
    let failures = runs[0].iter().filter(|s| **s == 500).count();
    assert!((4..=22).contains(&failures), "{failures} of 40");
    assert_eq!(sim.get("/users/digger0003").await.status(), 200);

    let bad = sim
        .post_json(
            "/_sim/faults",
            json!({"kind": "server_error", "status": 200}),
        )
        .await;
    assert_eq!(bad.status(), 400);
}

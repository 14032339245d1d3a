//! The client, the page reader and the limiter against the Discogs simulator: whole lists
//! paged through, marketplace pages read and checked against the API's own description of
//! each listing, the request budget kept, and the simulator's faults retried or reported.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cratedigger_discogs::api::{Auth, ClientConfig, PageRequest};
use cratedigger_discogs::{
    DiscogsClient, DiscogsError, ListingSource, MemoryRateLimiter, RateLimitPolicy, Secret,
};
use cratedigger_discogs_sim::{Background, SimSettings};
use cratedigger_domain::{ReleaseId, Username};
use serde_json::{Value, json};

struct Sim {
    base: String,
    http: reqwest::Client,
    _serving: Background,
}

impl Sim {
    async fn start(settings: SimSettings) -> Self {
        let serving = Background::start(settings).await.unwrap();
        Self {
            base: serving.base().to_owned(),
            http: reqwest::Client::new(),
            _serving: serving,
        }
    }

    async fn unlimited() -> Self {
        let mut settings = SimSettings::default();
        settings.rate_limit.authenticated = None;
        settings.rate_limit.unauthenticated = None;
        Self::start(settings).await
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/_sim/{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap().error_for_status().unwrap();
        response.json().await.unwrap_or(Value::Null)
    }

    fn client(&self, policy: RateLimitPolicy) -> DiscogsClient {
        let config =
            ClientConfig::single_host(&self.base, Auth::Token(Secret::new("sim-token"))).unwrap();
        DiscogsClient::new(config, Arc::new(MemoryRateLimiter::new(policy))).unwrap()
    }
}

fn plenty() -> RateLimitPolicy {
    RateLimitPolicy::per_minute(600_000)
}

#[tokio::test]
async fn a_wantlist_and_a_collection_page_through_to_their_sizes() {
    let sim = Sim::unlimited().await;
    let users = sim
        .control(reqwest::Method::GET, "users?limit=60&details=true", None)
        .await;
    let busy = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| {
            u["num_wantlist"].as_u64().unwrap() > 120 && u["num_collection"].as_u64().unwrap() > 120
        })
        .expect("a user with more than one page of each list");
    let username = Username::parse(busy["username"].as_str().unwrap()).unwrap();
    let client = sim.client(plenty());
    let profile = client.user(&username).await.unwrap();
    assert_eq!(profile.num_wantlist, busy["num_wantlist"].as_u64());

    let mut wants = BTreeSet::new();
    let mut page = 1;
    loop {
        let fetched = client
            .wantlist_page(&username, PageRequest::new(page, 100))
            .await
            .unwrap();
        wants.extend(fetched.items.iter().map(|e| e.release_id));
        if fetched.pagination.is_last() {
            break;
        }
        page += 1;
    }
    assert_eq!(
        wants.len() as u64,
        profile.num_wantlist.unwrap(),
        "every want once"
    );
    let mut haves = 0;
    let mut page = 1;
    loop {
        let fetched = client
            .collection_page(&username, PageRequest::new(page, 100))
            .await
            .unwrap();
        haves += fetched.items.len() as u64;
        if fetched.pagination.is_last() {
            break;
        }
        page += 1;
    }
    assert_eq!(haves, profile.num_collection.unwrap());
    // Newest first, and the newest want is what the one-item page reports.
    let newest = client
        .wantlist_page_newest_first(&username, PageRequest::new(1, 1))
        .await
        .unwrap();
    let all = client
        .wantlist_page(&username, PageRequest::new(1, 100))
        .await
        .unwrap();
    let latest = all.items.iter().filter_map(|e| e.date_added).max();
    assert_eq!(
        newest.items[0].date_added.map(|d| d >= latest.unwrap()),
        Some(true)
    );
}

#[tokio::test]
async fn marketplace_pages_read_as_the_api_describes_each_listing() {
    let sim = Sim::unlimited().await;
    let releases = sim
        .control(reqwest::Method::GET, "releases?per_page=200", None)
        .await;
    let release = releases["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["num_for_sale"].as_u64().unwrap() > 30)
        .expect("a release with more than one page of listings");
    let release_id = ReleaseId(release["id"].as_u64().unwrap());
    let client = sim.client(plenty());

    let mut listings = Vec::new();
    let mut page = 1;
    let total = loop {
        let read = client.release_listings(release_id, page, 25).await.unwrap();
        assert!(
            read.skipped.is_empty(),
            "rows the reader could not read: {:?}",
            read.skipped
        );
        let range = read.range.expect("a pagination line");
        listings.extend(read.listings);
        if range.last >= range.total {
            break range.total;
        }
        page += 1;
    };
    assert_eq!(listings.len() as u64, total);
    assert_eq!(total, release["num_for_sale"].as_u64().unwrap());
    let ids: BTreeSet<_> = listings.iter().map(|l| l.id).collect();
    assert_eq!(ids.len(), listings.len(), "no listing twice across pages");

    for listing in listings.iter().take(8) {
        let api = client.listing(listing.id, None).await.unwrap();
        assert_eq!(listing.release_id, Some(release_id));
        assert_eq!(Some(listing.price), api.price, "listing {}", listing.id);
        assert_eq!(listing.media, api.media, "listing {}", listing.id);
        assert_eq!(listing.sleeve, api.sleeve, "listing {}", listing.id);
        let seller = listing.seller.as_ref().expect("a seller");
        assert_eq!(seller.name, api.seller.name);
        // A new seller: the page prints no count where the API says 0.
        assert_eq!(seller.ratings.unwrap_or(0), api.seller.ratings.unwrap_or(0));
        assert_eq!(seller.ships_from.as_ref(), api.ships_from.as_ref());
    }
}

#[tokio::test]
async fn the_limiter_keeps_concurrent_workers_within_the_simulated_budget() {
    // 20 requests per 2-second moving window, as Discogs counts 60 a minute.
    let mut settings = SimSettings::default();
    settings.rate_limit.authenticated = Some(20);
    settings.rate_limit.window = Duration::from_secs(2);
    let sim = Sim::start(settings).await;
    let policy = RateLimitPolicy {
        limit: 20,
        period: Duration::from_secs(2),
        ..RateLimitPolicy::per_minute(20)
    };
    let client = sim.client(policy);
    let username = Username::parse("digger0001").unwrap();
    let started = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (client, username) = (client.clone(), username.clone());
            tokio::spawn(async move {
                for _ in 0..15 {
                    client.user(&username).await.unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed();
    let stats = sim.control(reqwest::Method::GET, "stats", None).await;
    assert_eq!(
        stats["rate_limited"], 0,
        "the simulator refused requests: {stats}"
    );
    assert_eq!(stats["by_endpoint"]["profile"], 60);
    // 60 requests at 10 a second (after a first one at once) cannot take less than ~5.9 s.
    assert!(
        elapsed >= Duration::from_millis(5_500),
        "too fast: {elapsed:?}"
    );
    assert!(elapsed <= Duration::from_secs(9), "too slow: {elapsed:?}");
}

#[tokio::test]
async fn faults_are_retried_or_reported_for_what_they_are() {
    let sim = Sim::unlimited().await;
    let client = sim.client(plenty());
    let username = Username::parse("digger0002").unwrap();

    sim.control(reqwest::Method::POST, "faults", Some(json!({"kind": "server_error", "status": 503, "path_prefix": "/users/digger0002", "times": 2}))).await;
    client.user(&username).await.expect("two 503s are retried");
    sim.control(reqwest::Method::POST, "faults", Some(json!({"kind": "rate_limited", "retry_after_secs": 1, "path_prefix": "/users/digger0002", "times": 1}))).await;
    client.user(&username).await.expect("a 429 is waited out");
    sim.control(
        reqwest::Method::POST,
        "faults",
        Some(
            json!({"kind": "truncated_body", "path_prefix": "/users/digger0002/wants", "times": 1}),
        ),
    )
    .await;
    client
        .wantlist_page(&username, PageRequest::new(1, 50))
        .await
        .expect("a truncated body is fetched again");

    sim.control(
        reqwest::Method::POST,
        "faults",
        Some(json!({"kind": "challenge", "path_prefix": "/sell/"})),
    )
    .await;
    let blocked = client
        .release_listings(ReleaseId(1), 1, 25)
        .await
        .unwrap_err();
    assert!(
        blocked.is_blocked(),
        "a challenge page is a block, never an empty result: {blocked}"
    );
    sim.control(reqwest::Method::DELETE, "faults", None).await;

    sim.control(
        reqwest::Method::PUT,
        "users/digger0002/privacy",
        Some(json!({"wantlist_private": true})),
    )
    .await;
    let private = client
        .wantlist_page(&username, PageRequest::new(1, 50))
        .await
        .unwrap_err();
    assert!(
        matches!(private, DiscogsError::NotFound { .. }),
        "{private}"
    );
    assert!(!private.to_string().contains("sim-token"));
}

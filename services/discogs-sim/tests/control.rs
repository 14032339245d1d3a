//! The control API and the world behind it: users listing, stats that prove what was
//! fetched, the mutations the pipeline tests need, determinism, and start-up time.

// Helpers outside #[test] functions fail loudly too: a test is the only caller.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{small_settings, spawn};
use cratedigger_discogs_sim::{SimSettings, WorldSpec};
use serde_json::{Value, json};

#[tokio::test]
async fn lists_simulated_usernames() {
    let sim = spawn(small_settings()).await;
    let first = sim.get_json("/_sim/users?limit=3").await;
    assert_eq!(first["total"], 200);
    let names: Vec<&str> = first["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["digger0001", "digger0002", "digger0003"]);
    let last = sim.get_json("/_sim/users?page=2&per_page=150").await;
    let users = last["users"].as_array().unwrap();
    assert_eq!(users.len(), 50);
    assert_eq!(users[49]["username"], "digger0200");
    let detailed = sim.get_json("/_sim/users?limit=1&details=true").await;
    let profile = sim.get_json("/users/digger0001").await;
    assert_eq!(
        detailed["users"][0]["num_wantlist"],
        profile["num_wantlist"]
    );
    assert!(detailed["users"][0]["cluster"].is_number());
}

#[tokio::test]
async fn stats_count_requests_by_endpoint_and_path() {
    let sim = spawn(small_settings()).await;
    let release = sim.releases(1).await[0]["id"].clone();
    sim.get("/users/digger0001").await;
    sim.get("/users/digger0001/wants").await;
    sim.get("/users/digger0001/wants?page=2").await;
    sim.get("/users/digger0001/collection/folders/0/releases")
        .await;
    sim.get(&format!("/releases/{release}")).await;
    sim.get(&format!("/marketplace/stats/{release}")).await;
    sim.get(&format!("/sell/release/{release}")).await;
    sim.get("/no/such/thing").await;
    let stats = sim.get_json("/_sim/stats?paths=true").await;
    let by = &stats["by_endpoint"];
    assert_eq!(by["profile"], 1);
    assert_eq!(by["wants"], 2);
    assert_eq!(by["collection"], 1);
    assert_eq!(by["release"], 1);
    assert_eq!(by["marketplace_stats"], 1);
    assert_eq!(by["sell_release"], 1);
    assert_eq!(by["inventory"], 0);
    assert_eq!(by["unknown"], 1);
    assert_eq!(stats["total"], 8, "control requests are not counted");
    assert_eq!(stats["by_path"]["/users/digger0001/wants"], 2);
    assert!(
        stats["by_path"].get("/users/digger0002/wants").is_none(),
        "proves what was not fetched"
    );

    assert_eq!(
        sim.client
            .post(sim.url("/_sim/stats/reset"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let stats = sim.get_json("/_sim/stats").await;
    assert_eq!(stats["total"], 0);
    assert!(stats.get("by_path").is_none());
}

#[tokio::test]
async fn wantlist_changes_show_in_profile_and_pages() {
    let sim = spawn(small_settings()).await;
    let before = sim.get_json("/users/digger0005").await;
    let wants = sim.get_json("/users/digger0005/wants?per_page=100").await;
    let owned: Vec<u64> = wants["wants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_u64().unwrap())
        .collect();
    let collection = sim
        .get_json("/users/digger0005/collection/folders/0/releases?per_page=100")
        .await;
    let fresh = sim
        .releases(2_000)
        .await
        .into_iter()
        .map(|r| r["id"].as_u64().unwrap())
        .find(|id| {
            !owned.contains(id)
                && collection["releases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["id"] != *id)
        })
        .unwrap();

    let added = sim
        .post_json("/_sim/users/digger0005/wants", json!({"release_id": fresh}))
        .await;
    assert_eq!(added.status(), 201);
    let after = sim.get_json("/users/digger0005").await;
    assert_eq!(
        after["num_wantlist"].as_u64().unwrap(),
        before["num_wantlist"].as_u64().unwrap() + 1
    );
    let newest = sim.get_json("/users/digger0005/wants?per_page=1").await;
    assert_eq!(
        newest["wants"][0]["id"], fresh,
        "the new want is the newest"
    );
    assert!(
        newest["wants"][0]["date_added"].as_str().unwrap()
            > wants["wants"][0]["date_added"].as_str().unwrap()
    );
    let twice = sim
        .post_json("/_sim/users/digger0005/wants", json!({"release_id": fresh}))
        .await;
    assert_eq!(twice.status(), 409);

    assert_eq!(
        sim.delete(&format!("/_sim/users/digger0005/wants/{fresh}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        sim.get_json("/users/digger0005").await["num_wantlist"],
        before["num_wantlist"]
    );
    assert_eq!(
        sim.delete(&format!("/_sim/users/digger0005/wants/{fresh}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        sim.post_json("/_sim/users/nobody/wants", json!({"release_id": fresh}))
            .await
            .status(),
        404
    );
    assert_eq!(
        sim.post_json("/_sim/users/digger0005/wants", json!({"release_id": 1}))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_created_user_with_five_thousand_wants_pages_through() {
    let settings = SimSettings {
        world: WorldSpec {
            releases: 8_000,
            ..small_settings().world
        },
        ..small_settings()
    };
    let sim = spawn(settings).await;
    let created = sim
        .post_json(
            "/_sim/users",
            json!({"username": "bench_5k", "wants": 5000, "cluster": 1}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["num_wantlist"], 5000);
    let profile = sim.get_json("/users/bench_5k").await;
    assert_eq!(profile["num_wantlist"], 5000);
    let last = sim
        .get_json("/users/bench_5k/wants?per_page=100&page=50")
        .await;
    assert_eq!(last["pagination"]["pages"], 50);
    assert_eq!(last["wants"].as_array().unwrap().len(), 100);
    let listed = sim.get_json("/_sim/users?page=2&per_page=200").await;
    assert_eq!(listed["users"][0]["username"], "bench_5k");
    let unnamed = sim.post_json("/_sim/users", json!({"wants": 3})).await;
    let body: Value = unnamed.json().await.unwrap();
    assert_eq!(body["username"], "digger0202");
    assert_eq!(
        sim.post_json("/_sim/users", json!({"username": "bench_5k"}))
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn sellers_expose_their_true_terms() {
    let sim = spawn(small_settings()).await;
    let release = sim.releases(1).await[0]["id"].clone();
    let page = sim.get_text(&format!("/sell/release/{release}")).await;
    let listing_id = page
        .split("data-item-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let listing = sim
        .get_json(&format!("/marketplace/listings/{listing_id}"))
        .await;
    let seller = listing["seller"]["username"].as_str().unwrap();
    let terms = sim.get_json(&format!("/_sim/sellers/{seller}")).await;
    assert_eq!(terms["ships_from"], listing["ships_from"]);
    assert!(
        ["per_item", "no_extra", "unknown"].contains(&terms["shipping"]["kind"].as_str().unwrap())
    );
    let profile = sim.get_json(&format!("/users/{seller}")).await;
    assert_eq!(profile["num_for_sale"], terms["listings"]);
}

#[tokio::test]
async fn the_same_seed_serves_the_same_world() {
    let a = spawn(small_settings()).await;
    let b = spawn(small_settings()).await;
    let c = spawn(SimSettings {
        seed: 7,
        ..small_settings()
    })
    .await;
    let path = "/users/digger0042/wants?per_page=100";
    let normalise = |text: String, base: &str| text.replace(base, "BASE");
    assert_eq!(
        normalise(a.get_text(path).await, &a.base),
        normalise(b.get_text(path).await, &b.base)
    );
    assert_ne!(
        normalise(a.get_text(path).await, &a.base),
        normalise(c.get_text(path).await, &c.base)
    );
    let release = a.releases(1).await[0]["id"].clone();
    let page = format!("/sell/release/{release}");
    assert_eq!(a.get_text(&page).await, b.get_text(&page).await);
}

#[tokio::test]
async fn a_world_of_100_000_users_starts_fast() {
    let settings = SimSettings {
        world: WorldSpec {
            users: 100_000,
            ..WorldSpec::default()
        },
        ..small_settings()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started = Instant::now();
    let app = cratedigger_discogs_sim::Application::with_listener(settings, listener).unwrap();
    let elapsed = started.elapsed();
    // Debug builds are several times slower than release; the budget is for a debug build.
    assert!(
        elapsed < Duration::from_secs(1),
        "start-up took {elapsed:?}"
    );
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .user_agent(common::USER_AGENT)
        .build()
        .unwrap();
    let last: Value = client
        .get(format!("http://127.0.0.1:{port}/users/digger100000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["username"], "digger100000");
    let first = client
        .get(format!("http://127.0.0.1:{port}/users/digger000001/wants"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let too_far = client
        .get(format!("http://127.0.0.1:{port}/users/digger100001"))
        .send()
        .await
        .unwrap();
    assert_eq!(too_far.status(), 404);
    let _ = stop.send(());
}

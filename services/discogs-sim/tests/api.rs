//! The API answers in the shapes of the real Discogs responses kept as fixtures: same
//! field names, nesting and JSON types; pagination and error bodies as Discogs sends them.

// Helpers outside #[test] functions fail loudly too: a test is the only caller.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{TestSim, small_settings, spawn};
use cratedigger_testkit::dataset;
use serde_json::Value;

fn fixture(relative: &str) -> Value {
    let path = dataset(&format!("discogs-fixtures/{relative}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every path in a document with the JSON types seen there (`wants[].basic_information.id`).
fn shape(value: &Value, prefix: &str, out: &mut BTreeMap<String, Vec<&'static str>>) {
    let here = out.entry(prefix.to_owned()).or_default();
    if !here.contains(&kind(value)) {
        here.push(kind(value));
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                shape(child, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                shape(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Asserts that every path of the real response exists in ours with a compatible type
/// (null stands in for any type: `master_url` is null for releases without a master).
/// Paths under `skipped` prefixes are arrays the simulator leaves empty.
fn assert_same_shape(real: &Value, ours: &Value, skipped: &[&str]) {
    let (mut expected, mut actual) = (BTreeMap::new(), BTreeMap::new());
    shape(real, "", &mut expected);
    shape(ours, "", &mut actual);
    let mut problems = Vec::new();
    for (path, real_types) in &expected {
        if skipped.iter().any(|s| path.starts_with(s)) {
            continue;
        }
        match actual.get(path) {
            None => problems.push(format!("missing {path}")),
            Some(our_types) => {
                let compatible = real_types
                    .iter()
                    .all(|t| *t == "null" || our_types.contains(t) || our_types.contains(&"null"));
                if !compatible {
                    problems.push(format!("{path}: real {real_types:?}, ours {our_types:?}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "shape differs from the fixture:\n{}",
        problems.join("\n")
    );
}

async fn busy_collector(sim: &TestSim, min_wants: u64, min_collection: u64) -> String {
    let users = sim.get_json("/_sim/users?limit=200&details=true").await;
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| {
            u["num_wantlist"].as_u64().unwrap() >= min_wants
                && u["num_collection"].as_u64().unwrap() >= min_collection
                && u["collection_private"] == false
        })
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .expect("a user with long lists")
}

#[tokio::test]
async fn user_lists_and_profile_match_the_real_shapes() {
    let sim = spawn(small_settings()).await;
    let name = busy_collector(&sim, 120, 120).await;

    let wants = sim
        .get_json(&format!("/users/{name}/wants?per_page=100"))
        .await;
    let real = fixture(
        "brotherlogic__godiscogs/testdata__users__brotherlogic__wants_per_page=100_token=token",
    );
    assert_same_shape(&real, &wants, &[]);

    let collection = sim
        .get_json(&format!(
            "/users/{name}/collection/folders/0/releases?per_page=100"
        ))
        .await;
    let real = fixture(
        "brotherlogic__godiscogs/testdata__users__brotherlogic__collection__folders__0__releases_per_page=100_token=token",
    );
    assert_same_shape(&real, &collection, &[]);

    let profile = sim.get_json(&format!("/users/{name}")).await;
    assert_same_shape(
        &fixture(
            "bartholomews__discogs4s/modules__core__src__test__resources____files__users__rodneyfool.json",
        ),
        &profile,
        &[],
    );
    assert_eq!(profile["num_wantlist"], wants["pagination"]["items"]);
    assert_eq!(profile["num_collection"], collection["pagination"]["items"]);
}

#[tokio::test]
async fn catalogue_and_marketplace_match_the_real_shapes() {
    let sim = spawn(small_settings()).await;
    let top = &sim.releases(1).await[0];
    let (release_id, master_id) = (
        top["id"].as_u64().unwrap(),
        top["master_id"].as_u64().unwrap(),
    );

    let release = sim.get_json(&format!("/releases/{release_id}")).await;
    let empty_arrays = [
        "videos[]",
        "images[]",
        "identifiers[]",
        "companies[]",
        "extraartists[]",
        "series[]",
        "community.contributors[]",
        "tracklist[].extraartists",
    ];
    assert_same_shape(
        &fixture("brotherlogic__godiscogs/testdata__releases__249504_token=token"),
        &release,
        &empty_arrays,
    );
    assert!(release["lowest_price"].is_number());
    assert_eq!(release["master_id"].as_u64(), Some(master_id));

    let master = sim.get_json(&format!("/masters/{master_id}")).await;
    assert_same_shape(
        &fixture("irlndts__go-discogs/extracted__testing_data.go__masterJson.json"),
        &master,
        &empty_arrays,
    );

    let versions = sim
        .get_json(&format!("/masters/{master_id}/versions"))
        .await;
    assert!(
        versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["id"].as_u64() == Some(release_id))
    );
    assert!(versions["versions"][0]["stats"]["community"]["in_wantlist"].is_number());

    let stats = sim
        .get_json(&format!("/marketplace/stats/{release_id}"))
        .await;
    assert_same_shape(
        &fixture("irlndts__go-discogs/extracted__testing_data.go__releaseStatsJson.json"),
        &stats,
        &[],
    );
    assert_eq!(stats["num_for_sale"], top["num_for_sale"]);

    let page = sim.get_text(&format!("/sell/release/{release_id}")).await;
    let listing_id = page
        .split("data-item-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let listing = sim
        .get_json(&format!("/marketplace/listings/{listing_id}"))
        .await;
    let real =
        fixture("stmcallister__go-discogs/extracted__marketplace_test.go__listing_2218783261.json");
    assert_same_shape(&real, &listing, &["release.images[]", "release.stats.user"]);
    assert!(
        listing["seller"]["stats"]["rating"].is_string(),
        "Discogs sends the rating as a string"
    );

    let seller = listing["seller"]["username"].as_str().unwrap();
    let inventory = sim
        .get_json(&format!("/users/{seller}/inventory?per_page=2"))
        .await;
    let real = fixture("ezienecker__discogs-ctl/src__test__resources__responses__shop.json");
    assert_same_shape(&real, &inventory, &["listings[].release.images[]"]);
}

#[tokio::test]
async fn releases_without_a_master_and_empty_markets_look_like_discogs() {
    let sim = spawn(small_settings()).await;
    let all = sim.releases(2_000).await;
    let unsold = all
        .iter()
        .find(|r| r["num_for_sale"] == 0)
        .expect("a release nobody sells");
    let stats = sim
        .get_json(&format!("/marketplace/stats/{}", unsold["id"]))
        .await;
    assert_eq!(stats["num_for_sale"], 0);
    assert!(stats["lowest_price"].is_null());
    let release = sim.get_json(&format!("/releases/{}", unsold["id"])).await;
    assert!(release["lowest_price"].is_null());

    let standalone = all
        .iter()
        .find(|r| r["master_id"] == 0)
        .expect("a release without master");
    let release = sim
        .get_json(&format!("/releases/{}", standalone["id"]))
        .await;
    assert!(release.get("master_id").is_none());
}

#[tokio::test]
async fn pagination_links_hold_only_what_applies() {
    let sim = spawn(small_settings()).await;
    let name = busy_collector(&sim, 60, 0).await;
    let first = sim
        .get_json(&format!("/users/{name}/wants?per_page=25"))
        .await;
    let pagination = &first["pagination"];
    let pages = pagination["pages"].as_u64().unwrap();
    let mut urls: Vec<&String> = pagination["urls"].as_object().unwrap().keys().collect();
    urls.sort();
    assert_eq!(urls, ["last", "next"]);
    assert_eq!(first["wants"].as_array().unwrap().len(), 25);

    // Following `next` walks every item exactly once.
    let mut seen = Vec::new();
    let mut next = Some(sim.url(&format!("/users/{name}/wants?per_page=25")));
    while let Some(url) = next {
        let page: Value = sim
            .client
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            page["wants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["id"].as_u64().unwrap()),
        );
        next = page["pagination"]["urls"]["next"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(seen.len() as u64, pagination["items"].as_u64().unwrap());
    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len());

    let last = sim
        .get_json(&format!("/users/{name}/wants?per_page=25&page={pages}"))
        .await;
    let urls: Vec<&String> = last["pagination"]["urls"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(urls, ["first", "prev"]);

    let single = sim
        .get_json(&format!("/users/{name}/wants?per_page=100&page=1"))
        .await;
    if single["pagination"]["pages"] == 1 {
        assert!(single["pagination"]["urls"].as_object().unwrap().is_empty());
    }
    let clamped = sim
        .get_json(&format!("/users/{name}/wants?per_page=1000"))
        .await;
    assert_eq!(clamped["pagination"]["per_page"], 100);
    let default = sim.get_json(&format!("/users/{name}/wants")).await;
    assert_eq!(default["pagination"]["per_page"], 50);
}

#[tokio::test]
async fn errors_use_the_discogs_messages() {
    let sim = spawn(small_settings()).await;
    let name = busy_collector(&sim, 1, 0).await;
    let response = sim
        .get(&format!("/users/{name}/wants?per_page=100&page=60"))
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    let real = fixture(
        "brotherlogic__godiscogs/testdata__users__brotherlogic__wants_per_page=100_token=token_page=6",
    );
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        real.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    let text = body["message"].as_str().unwrap();
    assert!(
        text.starts_with("Page 60 is outside of valid range [1, ") && text.ends_with("]."),
        "{text}"
    );

    let unknown = sim.get("/users/nobody_here").await;
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(
        body["message"],
        "User does not exist or may have been deleted."
    );
    assert_eq!(sim.get("/users/nobody_here/wants").await.status(), 404);
    assert_eq!(sim.get("/releases/1").await.status(), 404);
    assert_eq!(sim.get("/releases/abc").await.status(), 404);
    assert_eq!(sim.get("/marketplace/listings/5").await.status(), 404);

    let anonymous = reqwest::Client::new()
        .get(sim.url("/releases/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        403,
        "Discogs refuses requests without a User-Agent"
    );
}

#[tokio::test]
async fn private_lists_answer_401_anonymous_and_403_authenticated() {
    let sim = spawn(small_settings()).await;
    let response = sim
        .put_json(
            "/_sim/users/digger0007/privacy",
            serde_json::json!({"wantlist_private": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let anonymous = sim.get("/users/digger0007/wants").await;
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(
        body["message"],
        "You must authenticate to access this resource."
    );
    let authed = sim
        .client
        .get(sim.url("/users/digger0007/wants"))
        .header("Authorization", "Discogs token=sometoken")
        .send()
        .await
        .unwrap();
    assert_eq!(authed.status(), 403);
    let body: Value = authed.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("You are not allowed to view this resource.")
    );
    // The collection stays public, and so does the profile.
    assert_eq!(
        sim.get("/users/digger0007/collection/folders/0/releases")
            .await
            .status(),
        200
    );
    assert_eq!(sim.get("/users/digger0007").await.status(), 200);
}

#[tokio::test]
async fn credentials_are_checked_when_a_token_list_is_configured() {
    let settings = cratedigger_discogs_sim::SimSettings {
        accepted_tokens: Some(vec!["good-token".into()]),
        ..small_settings()
    };
    let sim = spawn(settings).await;
    let with = |auth: &'static str| {
        sim.client
            .get(sim.url("/users/digger0001"))
            .header("Authorization", auth)
            .send()
    };
    assert_eq!(
        with("Discogs token=good-token").await.unwrap().status(),
        200
    );
    let refused = with("Discogs token=stolen").await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Invalid consumer token. Please register an app before making API requests."
    );
    assert_eq!(
        with("Discogs key=good-token, secret=s")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        sim.get("/users/digger0001?token=good-token").await.status(),
        200
    );
    assert_eq!(
        sim.get("/users/digger0001").await.status(),
        200,
        "anonymous requests stay allowed"
    );
}

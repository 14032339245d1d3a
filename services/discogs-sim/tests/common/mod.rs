//! Starts a simulator in-process on 127.0.0.1:0 and stops it when the test ends.

#![allow(dead_code)]

use std::time::Duration;

use cratedigger_discogs_sim::{Background, RateLimitSettings, SimSettings, WorldSpec};
use serde_json::Value;

pub const USER_AGENT: &str = "cratedigger-tests/0.1 +https://example.invalid/cratedigger";

pub struct TestSim {
    pub base: String,
    pub client: reqwest::Client,
    _serving: Background,
}

/// A small world with no rate limit, for tests that are not about the limit.
pub fn small_settings() -> SimSettings {
    SimSettings {
        world: WorldSpec {
            users: 200,
            releases: 2_000,
            sellers: 150,
            clusters: 6,
            private_collections_percent: 0,
        },
        rate_limit: RateLimitSettings::unlimited(),
        ..SimSettings::default()
    }
}

pub async fn spawn(settings: SimSettings) -> TestSim {
    let serving = Background::start(settings).await.expect("simulator starts");
    let base = serving.base().to_owned();
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    TestSim {
        base,
        client,
        _serving: serving,
    }
}

impl TestSim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("json body")
    }

    pub async fn get_text(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.text().await.expect("text body")
    }

    pub async fn post_json(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put_json(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Releases, most popular first, with their number of listings.
    pub async fn releases(&self, per_page: usize) -> Vec<Value> {
        let body = self
            .get_json(&format!("/_sim/releases?per_page={per_page}"))
            .await;
        body["releases"].as_array().cloned().unwrap_or_default()
    }
}

//! Test harness for whole-pipeline tests: a simulator in this process, the mesh in this
//! process (or the servers for one process per service), and a bus that duplicates and
//! reorders every message.

#![allow(dead_code, clippy::unwrap_used)]

pub mod carts;
pub mod deployment;
pub mod faults;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cratedigger::services;
use cratedigger::settings::AppSettings;
use cratedigger_backends::Backends;
use cratedigger_bus::{BusError, EventBus, OutgoingMessage, Subscription, SubscriptionSpec};
use cratedigger_discogs_sim::{Background, SimSettings};
use cratedigger_domain::JobId;
use cratedigger_kit::{Health, Shutdown, run_all};
use cratedigger_status::{JobStatus, StatusBoard};
use rand::Rng;
use serde_json::{Value, json};

/// The simulator, serving on a free port until dropped.
pub struct Sim {
    pub base: String,
    http: reqwest::Client,
    _serving: Background,
}

impl Sim {
    pub async fn start() -> Self {
        let mut settings = SimSettings::default();
        settings.rate_limit.authenticated = None;
        settings.rate_limit.unauthenticated = None;
        Self::start_with(settings).await
    }

    pub async fn start_with(settings: SimSettings) -> Self {
        let serving = Background::start(settings).await.unwrap();
        Self {
            base: serving.base().to_owned(),
            http: reqwest::Client::new(),
            _serving: serving,
        }
    }

    pub async fn users(&self, n: usize) -> Vec<cratedigger_domain::Username> {
        cratedigger::crawl::users_from_simulator(&self.base, n)
            .await
            .unwrap()
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_sim/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn reset_stats(&self) {
        self.http
            .post(format!("{}/_sim/stats/reset", self.base))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    /// Every release the user wants or has, read straight from the simulated API.
    pub async fn owned(&self, user: &str) -> BTreeSet<u64> {
        let mut owned = BTreeSet::new();
        for (path, key) in [
            (format!("users/{user}/wants"), "wants"),
            (
                format!("users/{user}/collection/folders/0/releases"),
                "releases",
            ),
        ] {
            let mut page = 1;
            loop {
                let body: Value = self
                    .http
                    .get(format!("{}/{path}?per_page=100&page={page}", self.base))
                    .header("user-agent", "cratedigger-tests")
                    .header("authorization", "Discogs token=test")
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                owned.extend(
                    body[key]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["id"].as_u64().unwrap()),
                );
                if page >= body["pagination"]["pages"].as_u64().unwrap_or(1) {
                    break;
                }
                page += 1;
            }
        }
        owned
    }
}

/// Settings for a mesh on embedded backends under `dir`, talking to `sim`.
pub fn embedded_settings(dir: &std::path::Path, sim: &Sim) -> AppSettings {
    let mut settings = AppSettings::default();
    settings.backends.catalog = cratedigger_backends::CatalogSettings::Sqlite {
        path: dir.join("catalog.db"),
    };
    settings.backends.results = cratedigger_backends::ResultsSettings::Embedded {
        path: dir.join("results.db"),
    };
    settings.backends.blobs.location = dir.join("blobs").display().to_string();
    point_at(&mut settings, sim);
    settings.trainer.als.factors = 32;
    settings.trainer.als.iterations = 10;
    settings.trainer.als.threads = 2;
    settings.wait_for_backends_seconds = 30;
    // The permissive simulator's pages over plain HTTP; the listing source tests choose
    // their own sources.
    settings.market.sources = vec![cratedigger_market::SourceKind::Http];
    // Page counts in these tests are one per release; the pre-check's own test turns it on.
    settings.market.stats_precheck = false;
    settings
}

/// A Discogs client of the simulator at `base`, with a budget no test reaches.
pub fn discogs_client(base: &str) -> cratedigger_discogs::DiscogsClient {
    use cratedigger_discogs::api::{Auth, ClientConfig};
    let config =
        ClientConfig::single_host(base, Auth::Token(cratedigger_discogs::Secret::new("t")))
            .unwrap();
    let limiter = cratedigger_discogs::MemoryRateLimiter::new(
        cratedigger_discogs::RateLimitPolicy::per_minute(6_000),
    );
    cratedigger_discogs::DiscogsClient::new(config, Arc::new(limiter)).unwrap()
}

pub fn point_at(settings: &mut AppSettings, sim: &Sim) {
    let discogs = &mut settings.backends.discogs;
    discogs.api_url = sim.base.clone();
    discogs.web_url = sim.base.clone();
    discogs.token = Some("test-token".into());
    discogs.requests_per_minute = Some(60_000);
}

/// Every service in this process, with the gateway on a free port.
pub struct Mesh {
    pub backends: Backends,
    pub settings: AppSettings,
    pub gateway: String,
    http: reqwest::Client,
    shutdown: Shutdown,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Mesh {
    /// Every service in one process as `cratedigger up` runs them, the gateway included.
    pub async fn start(
        mut settings: AppSettings,
        wrap: impl FnOnce(Arc<dyn EventBus>) -> Arc<dyn EventBus>,
    ) -> Self {
        let mut backends = Backends::connect(&settings.backends, Duration::from_secs(30))
            .await
            .unwrap();
        backends.migrate().await.unwrap();
        backends.bus = wrap(backends.bus.clone());
        settings.gateway.host = "127.0.0.1".to_owned();
        settings.gateway.port = free_port();
        let gateway = format!("http://127.0.0.1:{}", settings.gateway.port);
        let health = Health::new("test");
        let tasks = services::all_tasks(&backends, &settings, &health);
        services::provision(&backends.bus, &tasks).await.unwrap();
        let shutdown = Shutdown::new();
        let running = tokio::spawn(run_all(tasks, shutdown.clone()));
        wait_ready(&format!("{gateway}/readyz"), Duration::from_secs(30), &[]).await;
        Self {
            backends,
            settings,
            gateway,
            http: reqwest::Client::new(),
            shutdown,
            running,
        }
    }

    pub async fn stop(self) {
        self.shutdown.trigger();
        self.running.await.unwrap().unwrap();
    }
}

/// The gateway's API, wherever it runs.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    /// Waits until the upload at `status_url` (as the API gives it) is read; its record.
    pub async fn wait_upload(&self, status_url: &str, timeout: Duration) -> Value {
        let url = format!("{}{status_url}", self.base);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status: Value = self.get_json(&url).await;
            if !["queued", "reading"].contains(&status["state"].as_str().unwrap_or_default()) {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "{status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn get_json(&self, url: &str) -> Value {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn post_job(&self, body: Value) -> JobId {
        let response = self
            .http
            .post(format!("{}/api/v1/jobs", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        let created: Value = response.json().await.unwrap();
        created["job_id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn status(&self, job: &JobId) -> JobStatus {
        self.http
            .get(format!("{}/api/v1/jobs/{job}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls until the job ends; returns the final status and every distinct stage
    /// snapshot seen on the way (to check the order of the stages).
    pub async fn wait(
        &self,
        job: &JobId,
        timeout: Duration,
    ) -> (JobStatus, Vec<Vec<(String, String)>>) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen: Vec<Vec<(String, String)>> = Vec::new();
        loop {
            let status = self.status(job).await;
            let snapshot: Vec<(String, String)> = status
                .stages
                .iter()
                .map(|s| (s.name.as_str().to_owned(), s.state.as_str().to_owned()))
                .collect();
            if seen.last() != Some(&snapshot) {
                seen.push(snapshot);
            }
            if status.state.is_final() {
                return (status, seen);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job} still {:?} after {timeout:?}",
                status.state
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Mesh {
    pub fn api(&self) -> Api {
        Api {
            base: self.gateway.clone(),
            http: self.http.clone(),
        }
    }
}

/// Waits for a job on the board directly (no gateway).
pub async fn wait_on_board(board: &StatusBoard, job: &JobId, timeout: Duration) -> JobStatus {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(status) = board.read(job, chrono::Utc::now()).await.unwrap()
            && status.state.is_final()
        {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {job} did not end"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A bus that delivers every message twice, each copy after its own random delay, so
/// consumers see duplicates and reordered events (a ChunkDone before its ChunksPlanned).
/// It also counts what the services published, before duplication.
pub struct Chaos {
    inner: Arc<dyn EventBus>,
    published: Mutex<HashMap<(String, String), usize>>,
}

impl Chaos {
    pub fn wrap(inner: Arc<dyn EventBus>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            published: Mutex::new(HashMap::new()),
        })
    }

    /// How many times the services published on `topic` for `job`.
    pub fn published(&self, topic: &str, job: &str) -> usize {
        self.published
            .lock()
            .unwrap()
            .get(&(topic.to_owned(), job.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

#[async_trait]
impl EventBus for Chaos {
    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError> {
        self.inner.ensure_topic(topic).await
    }

    async fn ensure_subscription(&self, spec: &SubscriptionSpec) -> Result<(), BusError> {
        self.inner.ensure_subscription(spec).await
    }

    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<(), BusError> {
        let job = message
            .attributes
            .get("job_id")
            .cloned()
            .unwrap_or_default();
        *self
            .published
            .lock()
            .unwrap()
            .entry((topic.to_owned(), job))
            .or_default() += 1;
        for _ in 0..2 {
            let (inner, topic, message) = (self.inner.clone(), topic.to_owned(), message.clone());
            let delay = Duration::from_millis(rand::rng().random_range(0..40));
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                inner.publish(&topic, message).await.unwrap();
            });
        }
        Ok(())
    }

    async fn subscribe(&self, spec: &SubscriptionSpec) -> Result<Box<dyn Subscription>, BusError> {
        self.inner.subscribe(spec).await
    }
}

/// A bus that, when the profile stage announces its plan for a sync, first removes all
/// but `keep` of `user`'s wants from the simulator: the list shrinks between the count the
/// plan was made from and the pages it asks for.
pub struct ShrinkWhenPlanned {
    inner: Arc<dyn EventBus>,
    sim: String,
    user: String,
    keep: usize,
    http: reqwest::Client,
}

impl ShrinkWhenPlanned {
    pub fn wrap(inner: Arc<dyn EventBus>, sim: &Sim, user: &str, keep: usize) -> Arc<Self> {
        Arc::new(Self {
            inner,
            sim: sim.base.clone(),
            user: user.to_owned(),
            keep,
            http: reqwest::Client::new(),
        })
    }

    async fn shrink(&self) {
        let url = format!("{}/users/{}/wants?per_page=100", self.sim, self.user);
        let mut wants = Vec::new();
        for page in 1.. {
            let body: Value = self
                .http
                .get(format!("{url}&page={page}"))
                .header("user-agent", "cratedigger-tests")
                .header("authorization", "Discogs token=test")
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .await
                .unwrap();
            let items = body["wants"].as_array().cloned().unwrap_or_default();
            wants.extend(items.iter().filter_map(|w| w["id"].as_u64()));
            if body["pagination"]["pages"].as_u64() <= Some(page) {
                break;
            }
        }
        for id in wants.iter().skip(self.keep) {
            self.http
                .delete(format!("{}/_sim/users/{}/wants/{id}", self.sim, self.user))
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap();
        }
    }
}

#[async_trait]
impl EventBus for ShrinkWhenPlanned {
    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError> {
        self.inner.ensure_topic(topic).await
    }

    async fn ensure_subscription(&self, spec: &SubscriptionSpec) -> Result<(), BusError> {
        self.inner.ensure_subscription(spec).await
    }

    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<(), BusError> {
        if topic == <cratedigger_proto::events::ChunksPlanned as cratedigger_proto::Event>::TOPIC {
            self.shrink().await;
        }
        self.inner.publish(topic, message).await
    }

    async fn subscribe(&self, spec: &SubscriptionSpec) -> Result<Box<dyn Subscription>, BusError> {
        self.inner.subscribe(spec).await
    }
}

pub fn job_body(kind: &str, user: &str, limit: u32) -> Value {
    json!({ "kind": kind, "username": user, "limit": limit })
}

/// A `cratedigger` child process whose output goes to a log file; killed when dropped.
pub struct Process {
    pub name: String,
    pub child: std::process::Child,
    pub log: std::path::PathBuf,
}

impl Process {
    pub fn spawn(
        name: &str,
        args: &[&str],
        env: &[(String, String)],
        logs: &std::path::Path,
    ) -> Self {
        let log = logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_cratedigger"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Asks the process to stop (SIGTERM) and waits for it; true if it exited cleanly.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits for a one-off command to finish; panics with its log if it failed.
    pub fn wait_success(mut self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "{} failed:\n{}", self.name, self.output());
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} timed out:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on loopback (bound and released: good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url` answers 200.
pub async fn wait_ready(url: &str, timeout: Duration, processes: &[&Process]) {
    let deadline = tokio::time::Instant::now() + timeout;
    let http = reqwest::Client::new();
    loop {
        if let Ok(response) = http.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let logs: Vec<String> = processes
                .iter()
                .map(|p| format!("--- {}\n{}", p.name, p.output()))
                .collect();
            panic!("{url} not ready after {timeout:?}\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Sim {
    /// Adds a fault rule (the simulator's `/_sim/faults` JSON).
    pub async fn fault(&self, rule: Value) {
        self.http
            .post(format!("{}/_sim/faults", self.base))
            .json(&rule)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    pub async fn clear_faults(&self) {
        self.http
            .delete(format!("{}/_sim/faults", self.base))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
}

impl Sim {
    /// Creates a simulated user with `wants` wantlist items and an empty collection.
    pub async fn create_user(&self, username: &str, wants: usize) {
        self.http
            .post(format!("{}/_sim/users", self.base))
            .json(&json!({ "username": username, "wants": wants, "collection": 0 }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
}

/// A simulator that enforces `per_minute` requests a minute per token, as Discogs does.
pub async fn rate_limited_sim(per_minute: u32) -> Sim {
    let mut settings = SimSettings::default();
    settings.rate_limit.authenticated = Some(per_minute);
    Sim::start_with(settings).await
}

/// One line of the pipeline benchmark: a sync of a large wantlist against the floor the
/// rate limit sets (every request the sync needs, at the allowed rate).
pub fn report_sync(
    mode: &str,
    wants: usize,
    per_minute: u32,
    stats: &Value,
    seconds: f64,
) -> Value {
    let requests = stats["total"].as_u64().unwrap_or(0);
    let rate_limited = stats["rate_limited"].as_u64().unwrap_or(0);
    // n requests at r a minute: the first goes at once, the last (n - 1) intervals later.
    let floor = requests.saturating_sub(1) as f64 * 60.0 / f64::from(per_minute);
    let line = json!({
        "benchmark": "sync of a large wantlist",
        "mode": mode,
        "wants": wants,
        "rate_per_minute": per_minute,
        "requests": requests,
        "answered_429": rate_limited,
        "seconds": seconds,
        "floor_seconds": floor,
        "ratio_to_floor": seconds / floor,
    });
    println!("{line}");
    line
}

//! Test harness for the API: a real gateway on a free port over embedded backends
//! (in-memory bus and key-value store, SQLite catalog and results in a temporary
//! directory), with the profile, scraper and tracker services behind it talking to a
//! Discogs simulator in this process, so a test can see whether a request reached Discogs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use cratedigger_backends::{BackendSettings, Backends, CatalogSettings, ResultsSettings};
use cratedigger_bus::{BusError, EventBus, OutgoingMessage, SubscriptionSpec};
use cratedigger_discogs_sim::{Application, SimSettings};
use cratedigger_gateway::{Gateway, GatewaySettings, SimilarReleases};
use cratedigger_kit::{Health, Runnable, Shutdown, Task, WorkerSettings, run_all};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

/// The simulator, serving on a free port until dropped.
pub struct Sim {
    pub base: String,
    http: reqwest::Client,
    shutdown: Shutdown,
}

impl Sim {
    pub async fn start() -> Self {
        let mut settings = SimSettings::default();
        settings.rate_limit.authenticated = None;
        settings.rate_limit.unauthenticated = None;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = Application::with_listener(settings, listener).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            app.run_until_stopped(async move { stop.wait().await })
                .await
        });
        Self {
            base,
            http: reqwest::Client::new(),
            shutdown,
        }
    }

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

    /// Every request that reached a Discogs route of the simulator so far.
    pub async fn requests(&self) -> u64 {
        let stats: Value = self
            .http
            .get(format!("{}/_sim/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["total"].as_u64().unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// What a test changes about the stack.
#[derive(Default)]
pub struct Options {
    pub settings: GatewaySettings,
    pub similar: Option<Arc<dyn SimilarReleases>>,
    /// The gateway's next this many publishes fail (the bus is down for it).
    pub failing_publishes: Option<Arc<std::sync::atomic::AtomicU32>>,
}

/// The bus as the gateway sees it, failing publishes while `failing` counts down.
struct FailingPublishes {
    inner: Arc<dyn EventBus>,
    failing: Arc<std::sync::atomic::AtomicU32>,
}

#[async_trait::async_trait]
impl EventBus for FailingPublishes {
    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError> {
        self.inner.ensure_topic(topic).await
    }
    async fn ensure_subscription(&self, spec: &SubscriptionSpec) -> Result<(), BusError> {
        self.inner.ensure_subscription(spec).await
    }
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<(), BusError> {
        use std::sync::atomic::Ordering;
        let failed = self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failed {
            return Err(BusError::Unavailable(
                "the test bus refuses this publish".into(),
            ));
        }
        self.inner.publish(topic, message).await
    }
    async fn subscribe(
        &self,
        spec: &SubscriptionSpec,
    ) -> Result<Box<dyn cratedigger_bus::Subscription>, BusError> {
        self.inner.subscribe(spec).await
    }
}

impl Options {
    /// The gateway's defaults, with "Sign in with Discogs" configured against the simulator
    /// and no rate limit (tests that want one set it).
    pub fn new() -> Self {
        let mut settings = GatewaySettings {
            discogs_consumer_key: Some("test-consumer".into()),
            discogs_consumer_secret: Some("test-consumer-secret".into()),
            events_poll_ms: 50,
            ..Default::default()
        };
        settings.rate_limit.per_second = 0;
        Self {
            settings,
            similar: None,
            failing_publishes: None,
        }
    }

    pub fn with(mut self, change: impl FnOnce(&mut GatewaySettings)) -> Self {
        change(&mut self.settings);
        self
    }
}

/// A gateway and the services behind it, stopped when dropped.
pub struct Stack {
    pub base: String,
    pub sim: Sim,
    pub backends: Backends,
    /// Follows no redirects, keeps no cookies: every test says which session it uses.
    pub http: reqwest::Client,
    shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(Options::new()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let sim = Sim::start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut backends = BackendSettings {
            catalog: CatalogSettings::Sqlite {
                path: dir.path().join("catalog.db"),
            },
            results: ResultsSettings::Embedded {
                path: dir.path().join("results.db"),
            },
            ..Default::default()
        };
        backends.blobs.location = dir.path().join("blobs").display().to_string();
        backends.discogs.api_url = sim.base.clone();
        backends.discogs.web_url = sim.base.clone();
        backends.discogs.token = Some("test-token".into());
        backends.discogs.requests_per_minute = Some(60_000);
        let backends = Backends::connect(&backends, Duration::from_secs(10))
            .await
            .unwrap();
        backends.migrate().await.unwrap();

        let worker = WorkerSettings {
            retry_base: Duration::from_millis(20),
            retry_max: Duration::from_millis(200),
            ..Default::default()
        };
        let mut tasks: Vec<Box<dyn Runnable>> = Vec::new();
        let profile = cratedigger_profile::Profile::new(
            backends.catalog.clone(),
            backends.kv.clone(),
            backends.discogs.clone(),
            backends.bus.clone(),
            Default::default(),
        );
        tasks.extend(profile.workers(&worker));
        let scraper = cratedigger_scraper::Scraper::new(
            backends.catalog.clone(),
            backends.discogs.clone(),
            backends.bus.clone(),
            4,
        );
        tasks.extend(scraper.workers(&worker));
        tasks.extend(
            cratedigger_tracker::Tracker::new(backends.kv.clone(), backends.bus.clone())
                .workers(&worker),
        );
        for spec in tasks.iter().filter_map(|t| t.subscription()) {
            backends.bus.ensure_subscription(&spec).await.unwrap();
        }

        let gateway_bus: Arc<dyn EventBus> = match options.failing_publishes {
            Some(failing) => Arc::new(FailingPublishes {
                inner: backends.bus.clone(),
                failing,
            }),
            None => backends.bus.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut settings = options.settings;
        if settings.signs_in() && settings.public_url.is_none() {
            settings.public_url = Some(base.clone());
        }
        let mut gateway = Gateway::new(
            backends.kv.clone(),
            gateway_bus,
            backends.results.clone(),
            settings,
        )
        .with_discogs(backends.discogs.clone());
        if let Some(similar) = options.similar {
            gateway = gateway.with_similar(similar);
        }
        let health = Health::new("gateway-tests");
        tasks.push(Task::new("gateway.http", move |shutdown: Shutdown| async move { gateway.serve(listener, health, shutdown).await }));
        let shutdown = Shutdown::new();
        tokio::spawn(run_all(tasks, shutdown.clone()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("cratedigger-gateway-tests")
            .build()
            .unwrap();
        let stack = Self {
            base,
            sim,
            backends,
            http,
            shutdown,
            _dir: dir,
        };
        stack.wait_until_serving().await;
        stack
    }

    async fn wait_until_serving(&self) {
        for _ in 0..200 {
            if self
                .http
                .get(format!("{}/api/openapi.json", self.base))
                .send()
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the gateway did not start");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request, with a session cookie when one is given.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        session: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match session {
            Some(cookie) => request.header(COOKIE, cookie),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).send().await.unwrap()
    }

    pub async fn post_job(&self, body: &Value, session: Option<&str>) -> Response {
        self.request(Method::POST, "/api/v1/jobs", session)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Starts a job that must be accepted; returns its id, whether it was an existing
    /// one, and the session cookie handed out (if any).
    pub async fn start_job(
        &self,
        body: &Value,
        session: Option<&str>,
    ) -> (String, bool, Option<String>) {
        let response = self.post_job(body, session).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let cookie = session_cookie(&response);
        let created: Value = response.json().await.unwrap();
        let id = created["job_id"].as_str().unwrap().to_owned();
        assert_eq!(created["status_url"], format!("/api/v1/jobs/{id}"));
        (id, created["existing"].as_bool().unwrap(), cookie)
    }

    pub async fn status(&self, job: &str, session: Option<&str>) -> Value {
        let response = self
            .request(Method::GET, &format!("/api/v1/jobs/{job}"), session)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Polls until the job is in a final state (a minute at most: CI machines are busy).
    pub async fn wait_final(&self, job: &str, session: Option<&str>) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.status(job, session).await;
            if ["succeeded", "failed", "cancelled"].contains(&status["state"].as_str().unwrap()) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job} did not end: {status}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Signs in with Discogs as `username` through the simulator's OAuth pages, as a
    /// browser would; returns the session cookie.
    pub async fn sign_in(&self, username: &str) -> String {
        let (callback, binding) = self.approved_sign_in(username).await;
        let back = self
            .http
            .get(&callback)
            .header("cookie", binding)
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&back), "/");
        session_cookie(&back).expect("a session cookie")
    }

    /// Starts signing in and approves it at the simulator as `username`: the callback
    /// address Discogs sends the browser to, and the binding cookie (`name=value`) the
    /// login gave that browser.
    pub async fn approved_sign_in(&self, username: &str) -> (String, String) {
        let login = self.get("/auth/discogs/login").await;
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
        let binding = set_cookie(&login, "cratedigger_signin").expect("a binding cookie");
        let authorize = location(&login);
        assert!(authorize.starts_with(&self.sim.base), "{authorize}");
        let token = url::Url::parse(&authorize)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "oauth_token")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let approved = self
            .http
            .post(format!("{}/oauth/authorize", self.sim.base))
            .form(&[
                ("oauth_token", token.as_str()),
                ("username", username),
                ("decision", "authorize"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), StatusCode::FOUND);
        let callback = location(&approved);
        assert!(
            callback.starts_with(&self.url("/auth/discogs/callback")),
            "{callback}"
        );
        (callback, binding)
    }
}

pub fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &Response) -> Option<String> {
    set_cookie(response, "cratedigger_session")
}

/// `name=value` of the cookie `name` a response sets.
pub fn set_cookie(response: &Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&prefix))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// Checks the one error shape and returns the error object.
pub async fn error_of(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "{:?}", response.url().path());
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?}"
    );
    let body: Value = response.json().await.unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["error"], "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(!error["message"].as_str().unwrap().is_empty(), "{body}");
    for key in error.as_object().unwrap().keys() {
        assert!(
            ["code", "message", "field"].contains(&key.as_str()),
            "unexpected {key} in {body}"
        );
    }
    error.clone()
}

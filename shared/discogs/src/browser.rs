//! Marketplace pages read through a real Chromium, driven over the DevTools protocol.
//!
//! Since 2026 www.discogs.com answers plain HTTP clients with Cloudflare's managed
//! challenge, which only a browser that runs its script passes. [`BrowserListingSource`]
//! keeps one browser (launched here, or a browser service reached at a `ws://` URL) and a
//! few tabs, waits for each page until it is no longer a challenge, and hands the page's
//! HTML to the same reader the HTTP transport uses. Every page load waits for the shared
//! rate limiter first.
//!
//! A page that is still a challenge when the page timeout runs out is
//! [`DiscogsError::Challenge`] (blocked), never an empty page. A browser that crashed or
//! whose connection broke fails the page with [`DiscogsError::Browser`], which is
//! retryable: the next page starts a new browser, so the caller's retry (the market
//! stage's chunk) goes through.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::page::Page;
use cratedigger_domain::ReleaseId;
use futures::StreamExt;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinHandle;
use url::Url;

use crate::api::{DiscogsError, ListingSource, sell_release_url};
use crate::market::{ListingsPage, MarketPage, PageContext, read_market_page};
use crate::ratelimit::{Feedback, SharedRateLimiter};

/// How the browser source finds its browser and how patient it is.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct BrowserSettings {
    /// A running browser's DevTools address: `ws://host:9222/devtools/browser/…`, or
    /// `http://host:9222` to look the WebSocket address up. None launches a local one.
    pub url: Option<String>,
    /// The Chromium to launch; None looks for `chromium`, `chromium-browser`,
    /// `google-chrome` … on the PATH.
    pub executable: Option<PathBuf>,
    /// Pages loaded at once (one tab each).
    pub tabs: usize,
    /// How long one page may take, the challenge included.
    pub page_timeout_ms: u64,
    /// How long a local browser may take to start.
    pub launch_timeout_ms: u64,
}

impl Default for BrowserSettings {
    fn default() -> Self {
        Self {
            url: None,
            executable: None,
            tabs: 2,
            page_timeout_ms: 30_000,
            launch_timeout_ms: 20_000,
        }
    }
}

/// The Chromium a local launch would use: [`BrowserSettings::executable`] if set (and a
/// file), else the first of the usual names on the PATH.
pub fn local_chromium(settings: &BrowserSettings) -> Option<PathBuf> {
    if let Some(executable) = &settings.executable {
        return executable.is_file().then(|| executable.clone());
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
        "chrome",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// Flags for a headless Chromium on a server: no sandbox (containers run it as a plain
/// user without namespaces), and nothing that calls home.
const LAUNCH_FLAGS: [&str; 5] = [
    "disable-gpu",
    "disable-quic",
    "disable-component-update",
    "disable-domain-reliability",
    "no-default-browser-check",
];

/// What the page shows now: the HTML, how its navigation was answered, and whether it
/// has finished loading.
const SNAPSHOT: &str = "(() => { const nav = performance.getEntriesByType('navigation')[0]; \
    return { status: nav && nav.responseStatus ? nav.responseStatus : 0, \
             ready: document.readyState, \
             html: document.documentElement ? document.documentElement.outerHTML : '' }; })()";

/// How often a page that is still a challenge is looked at again.
const POLL: Duration = Duration::from_millis(100);

#[derive(Deserialize)]
struct Snapshot {
    status: u16,
    ready: String,
    html: String,
}

/// One browser and its tabs, alive until its DevTools connection ends.
struct Session {
    generation: u64,
    browser: Mutex<Browser>,
    /// Drives the DevTools connection; it ends when the browser goes away.
    handler: JoinHandle<()>,
    idle_tabs: std::sync::Mutex<Vec<Page>>,
    /// Set when a DevTools call failed in a way only a new browser mends.
    broken: AtomicBool,
    /// The launched browser's profile, removed with the session.
    _profile: Option<tempfile::TempDir>,
}

/// How long closing a browser may take before its process is killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

impl Session {
    /// Whether the browser can still be used: its connection is open, nothing marked it
    /// broken, and a launched browser's process has not exited.
    fn is_alive(&self) -> bool {
        if self.handler.is_finished() || self.broken.load(Ordering::Relaxed) {
            return false;
        }
        match self.browser.try_lock() {
            Ok(mut browser) => browser
                .get_mut_child()
                .is_none_or(|child| matches!(child.try_wait(), Ok(None))),
            // In use: it answered a moment ago.
            Err(_) => true,
        }
    }

    fn mark_broken(&self) {
        self.broken.store(true, Ordering::Relaxed);
    }

    async fn tab(&self) -> Result<Page, chromiumoxide::error::CdpError> {
        let idle = self
            .idle_tabs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match idle {
            Some(tab) => Ok(tab),
            None => self.browser.lock().await.new_page("about:blank").await,
        }
    }

    fn put_back(&self, tab: Page) {
        self.idle_tabs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tab);
    }

    /// Stops a launched browser (a remote one is only disconnected from). Bounded: a
    /// browser that does not answer is killed.
    async fn close(&self) {
        let Ok(mut browser) = tokio::time::timeout(CLOSE_TIMEOUT, self.browser.lock()).await else {
            self.handler.abort();
            return;
        };
        if browser.get_mut_child().is_some() {
            if !self.handler.is_finished() {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, browser.close()).await;
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, browser.wait()).await;
            }
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, browser.kill()).await;
        }
        self.handler.abort();
    }
}

/// Why reading one page in a tab stopped.
enum TabFailure {
    /// The page answered something other than listings.
    Page(DiscogsError),
    /// The page could not be reached (`net::ERR_…`): the browser is fine.
    Network(String),
    /// The browser or its connection failed.
    Browser(String),
}

/// Marketplace pages through a real browser. Cheap to share (`Arc`); tabs are handed out
/// to at most [`BrowserSettings::tabs`] pages at once.
pub struct BrowserListingSource {
    settings: BrowserSettings,
    web_base: Url,
    limiter: SharedRateLimiter,
    tabs: Semaphore,
    session: Mutex<Option<Arc<Session>>>,
    /// Browsers started so far, the first included.
    started: AtomicU64,
    /// Why the last start failed, and until when not to try again: every page in between
    /// is [`DiscogsError::BrowserUnavailable`] at once instead of another failed launch.
    unavailable: std::sync::Mutex<Option<(Instant, String)>>,
}

/// How long a browser that could not be started is not tried again.
const UNAVAILABLE_PAUSE: Duration = Duration::from_secs(30);

impl std::fmt::Debug for BrowserListingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserListingSource")
            .field("settings", &self.settings)
            .field("web_base", &self.web_base.as_str())
            .finish()
    }
}

impl BrowserListingSource {
    /// A source reading `{web_base}/sell/release/…`, spending `limiter`'s budget. The
    /// browser starts with the first page.
    pub fn new(settings: BrowserSettings, web_base: Url, limiter: SharedRateLimiter) -> Self {
        let tabs = Semaphore::new(settings.tabs.max(1));
        Self {
            settings,
            web_base,
            limiter,
            tabs,
            session: Mutex::new(None),
            started: AtomicU64::new(0),
            unavailable: std::sync::Mutex::new(None),
        }
    }

    /// Starts the browser now (or connects to it), so that a bad setting shows at start-up.
    pub async fn start(&self) -> Result<(), DiscogsError> {
        self.session("/").await.map(|_| ())
    }

    /// How many browsers this source has started (restarts after a crash included).
    pub fn browsers_started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// The process id of the browser launched here, if one runs.
    pub async fn process_id(&self) -> Option<u32> {
        let session = self.session.lock().await.clone()?;
        let mut browser = session.browser.lock().await;
        browser
            .get_mut_child()
            .and_then(|child| child.as_mut_inner().id())
    }

    /// Closes the browser (a launched one is stopped).
    pub async fn shutdown(&self) {
        if let Some(session) = self.session.lock().await.take() {
            session.close().await;
        }
    }

    /// The running session, or a new one when there is none or the last one died.
    async fn session(&self, endpoint: &str) -> Result<Arc<Session>, DiscogsError> {
        let mut current = self.session.lock().await;
        if let Some(session) = current.as_ref().filter(|s| s.is_alive()) {
            return Ok(session.clone());
        }
        let unavailable = |detail: String| DiscogsError::BrowserUnavailable {
            endpoint: endpoint.to_owned(),
            detail,
        };
        if let Some((until, detail)) = self
            .unavailable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && Instant::now() < *until
        {
            return Err(unavailable(detail.clone()));
        }
        if let Some(dead) = current.take() {
            tracing::warn!(
                generation = dead.generation,
                "the browser is gone: starting another"
            );
            // Closing may take seconds; nobody waits for it.
            tokio::spawn(async move { dead.close().await });
        }
        let generation = self.started.load(Ordering::Relaxed) + 1;
        let launch_timeout = Duration::from_millis(self.settings.launch_timeout_ms.max(1));
        let started = tokio::time::timeout(launch_timeout, self.start_session(generation))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the browser did not start or answer within {launch_timeout:?}"
                ))
            });
        let session = match started {
            Ok(session) => Arc::new(session),
            Err(detail) if self.remote_url().is_some() => {
                // A browser service that is restarting comes back: worth retrying soon.
                tracing::warn!(%detail, "the browser service did not answer");
                return Err(DiscogsError::Browser {
                    endpoint: endpoint.to_owned(),
                    detail,
                });
            }
            Err(detail) => {
                tracing::warn!(%detail, "no browser: pages go to the next source for a while");
                *self.unavailable.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now() + UNAVAILABLE_PAUSE, detail.clone()));
                return Err(unavailable(detail));
            }
        };
        self.started.store(generation, Ordering::Relaxed);
        *self.unavailable.lock().unwrap_or_else(|p| p.into_inner()) = None;
        tracing::info!(generation, remote = ?self.settings.url, "browser ready");
        *current = Some(session.clone());
        Ok(session)
    }

    /// The browser service's address, when one is set (an empty setting launches locally).
    fn remote_url(&self) -> Option<&str> {
        self.settings
            .url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }

    async fn start_session(&self, generation: u64) -> Result<Session, String> {
        let (browser, mut handler, profile) = match self.remote_url() {
            Some(url) => {
                let address = devtools_address(url).await?;
                // Commands wait as long as a page may take, as for a launched browser.
                let config = HandlerConfig {
                    request_timeout: Duration::from_millis(self.settings.page_timeout_ms.max(1)),
                    ..HandlerConfig::default()
                };
                let (browser, handler) = Browser::connect_with_config(address, config)
                    .await
                    .map_err(|e| format!("connecting to the browser at {url}: {e}"))?;
                (browser, handler, None)
            }
            None => {
                let profile = tempfile::Builder::new()
                    .prefix("cratedigger-browser-")
                    .tempdir()
                    .map_err(|e| format!("making a browser profile directory: {e}"))?;
                let mut config = BrowserConfig::builder()
                    .no_sandbox()
                    .hide()
                    .user_data_dir(profile.path())
                    .launch_timeout(Duration::from_millis(
                        self.settings.launch_timeout_ms.max(1),
                    ))
                    .request_timeout(Duration::from_millis(self.settings.page_timeout_ms.max(1)))
                    .args(LAUNCH_FLAGS);
                match (&self.settings.executable, local_chromium(&self.settings)) {
                    (_, Some(executable)) => config = config.chrome_executable(executable),
                    (Some(named), None) => return Err(format!("market.browser.executable {} is not a file", named.display())),
                    (None, None) => return Err("no chromium on the PATH (install chromium, or set market.browser.executable or .url)".into()),
                }
                let config = config
                    .build()
                    .map_err(|e| format!("browser settings: {e}"))?;
                let (browser, handler) = Browser::launch(config)
                    .await
                    .map_err(|e| format!("launching chromium: {e}"))?;
                (browser, handler, Some(profile))
            }
        };
        let handler = tokio::spawn(async move {
            // Undecodable messages are skipped inside the handler; an error that reaches
            // here is the connection's. After it the stream only ever waits, so the
            // session ends here and the next page starts a new browser.
            while let Some(message) = handler.next().await {
                if let Err(e) = message {
                    tracing::warn!(error = %e, "the browser's devtools connection failed");
                    break;
                }
            }
        });
        Ok(Session {
            generation,
            browser: Mutex::new(browser),
            handler,
            idle_tabs: Default::default(),
            broken: AtomicBool::new(false),
            _profile: profile,
        })
    }

    /// Loads the page in `tab` and waits until it is something other than a challenge.
    /// `seen` keeps what the last look found, for the caller when the time runs out.
    async fn read(
        &self,
        session: &Session,
        tab: &Page,
        url: &Url,
        context: &PageContext,
        seen: &mut Option<&'static str>,
    ) -> Result<ListingsPage, TabFailure> {
        let endpoint = url.path().to_owned();
        match tab.goto(url.as_str()).await {
            Ok(_) => {}
            Err(chromiumoxide::error::CdpError::ChromeMessage(text))
                if text.starts_with("net::") =>
            {
                return Err(TabFailure::Network(text));
            }
            Err(e) => return Err(TabFailure::Browser(format!("loading the page: {e}"))),
        }
        loop {
            // While the challenge's script reloads the page, the document being read
            // may go away under the script: that is a look to try again, not a failure,
            // unless the browser itself is gone.
            let snapshot = match tab
                .evaluate(SNAPSHOT)
                .await
                .and_then(|v| v.into_value::<Snapshot>().map_err(Into::into))
            {
                Ok(snapshot) => Some(snapshot),
                Err(e) if !session.is_alive() => {
                    return Err(TabFailure::Browser(format!("reading the page: {e}")));
                }
                Err(_) => None,
            };
            if let Some(snapshot) = snapshot.filter(|s| s.ready == "complete") {
                let status = StatusCode::from_u16(snapshot.status).unwrap_or(StatusCode::OK);
                let context = context.clone();
                let page = tokio::task::spawn_blocking(move || {
                    read_market_page(status, &HeaderMap::new(), &snapshot.html, &context)
                })
                .await
                .map_err(|e| {
                    TabFailure::Page(DiscogsError::UnrecognisedPage {
                        endpoint: endpoint.clone(),
                        reason: format!("page reader failed: {e}"),
                    })
                })?;
                match self.judge(&endpoint, page).await {
                    Some(result) => return result.map_err(TabFailure::Page),
                    None => *seen = Some("a challenge the browser did not get past"),
                }
            } else {
                // Loading again (the challenge passed and reloaded, or is still going):
                // what was seen before no longer says what the page is.
                *seen = None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What a page read in the browser means; None while it is a challenge.
    async fn judge(
        &self,
        endpoint: &str,
        page: MarketPage,
    ) -> Option<Result<ListingsPage, DiscogsError>> {
        let endpoint = endpoint.to_owned();
        Some(Err(match page {
            MarketPage::Listings(listings) => return Some(Ok(listings)),
            // A block page stays one however long the browser waits; an interstitial may
            // clear.
            MarketPage::Challenge {
                evidence: evidence @ ("cloudflare block page" | "http 403 without a listings table"),
            } => DiscogsError::Challenge { endpoint, evidence },
            MarketPage::Challenge { .. } => return None,
            MarketPage::LoginWall => DiscogsError::LoginWall { endpoint },
            MarketPage::NotFound => DiscogsError::NotFound {
                endpoint,
                status: 404,
                message: None,
            },
            MarketPage::RateLimited { retry_after } => {
                if let Err(e) = self
                    .limiter
                    .feedback(Feedback::Throttled { retry_after })
                    .await
                {
                    tracing::warn!(error = %e, "could not report a 429 to the rate limiter");
                }
                DiscogsError::RateLimited {
                    endpoint,
                    attempts: 1,
                }
            }
            MarketPage::ServerError { status } => DiscogsError::Server {
                endpoint,
                status,
                attempts: 1,
            },
            MarketPage::Unrecognised { reason } => {
                DiscogsError::UnrecognisedPage { endpoint, reason }
            }
        }))
    }
}

#[async_trait]
impl ListingSource for BrowserListingSource {
    async fn release_listings(
        &self,
        release: ReleaseId,
        page: u32,
        limit: u32,
    ) -> Result<ListingsPage, DiscogsError> {
        let url = sell_release_url(&self.web_base, release, page, limit);
        let endpoint = url.path().to_owned();
        let _tab_permit = self
            .tabs
            .acquire()
            .await
            .map_err(|_| DiscogsError::Browser {
                endpoint: endpoint.clone(),
                detail: "the browser source was shut down".into(),
            })?;
        // A browser first: no budget is spent on a page no browser can load.
        let session = self.session(&endpoint).await?;
        self.limiter
            .acquire()
            .await
            .map_err(|source| DiscogsError::RateLimiter {
                endpoint: endpoint.clone(),
                source,
            })?;
        let started = Instant::now();
        let timeout = Duration::from_millis(self.settings.page_timeout_ms.max(1));
        let tab = match tokio::time::timeout(timeout, session.tab()).await {
            Ok(Ok(tab)) => tab,
            Ok(Err(e)) => {
                session.mark_broken();
                return Err(DiscogsError::Browser {
                    endpoint,
                    detail: format!("opening a tab: {e}"),
                });
            }
            Err(_) => {
                session.mark_broken();
                return Err(DiscogsError::Browser {
                    endpoint,
                    detail: "the browser did not open a tab in time".into(),
                });
            }
        };

        let mut seen = None;
        let left = timeout.saturating_sub(started.elapsed());
        let outcome = tokio::time::timeout(
            left,
            self.read(
                &session,
                &tab,
                &url,
                &PageContext::release(release),
                &mut seen,
            ),
        )
        .await;
        match outcome {
            Ok(Ok(listings)) => {
                session.put_back(tab);
                tracing::debug!(%release, page, listings = listings.listings.len(), ms = started.elapsed().as_millis() as u64, "page read in the browser");
                Ok(listings)
            }
            Ok(Err(TabFailure::Page(error))) => {
                session.put_back(tab);
                Err(error)
            }
            Ok(Err(TabFailure::Network(detail))) => {
                session.put_back(tab);
                Err(DiscogsError::Network {
                    endpoint,
                    attempts: 1,
                    detail,
                })
            }
            Ok(Err(TabFailure::Browser(detail))) => {
                session.mark_broken();
                Err(DiscogsError::Browser { endpoint, detail })
            }
            // The tab may be stuck on the page; it is not handed out again.
            Err(_) => {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, tab.close()).await;
                if !session.is_alive() {
                    return Err(DiscogsError::Browser {
                        endpoint,
                        detail: "the browser went away while loading the page".into(),
                    });
                }
                match seen {
                    Some(evidence) => Err(DiscogsError::Challenge { endpoint, evidence }),
                    None => Err(DiscogsError::Timeout {
                        endpoint,
                        attempts: 1,
                    }),
                }
            }
        }
    }
}

/// The WebSocket address of a browser service: as given when it is one, else looked up
/// from `{url}/json/version` (what Chromium's `--remote-debugging-port` serves). Chromium
/// answers DevTools requests only when they address it by IP or as localhost, so a
/// service name (`browser:9222`) is resolved first.
async fn devtools_address(url: &str) -> Result<String, String> {
    if url.starts_with("ws://") || url.starts_with("wss://") {
        return Ok(url.to_owned());
    }
    let given = Url::parse(url).map_err(|e| format!("browser url {url}: {e}"))?;
    let (host, port) = (
        given.host_str().unwrap_or("localhost").to_owned(),
        given.port_or_known_default().unwrap_or(9222),
    );
    let mut addresses: Vec<std::net::IpAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("resolving the browser host {host}: {e}"))?
        .map(|a| a.ip())
        .collect();
    // Chromium's DevTools listens on IPv4 unless told otherwise, while `localhost` often
    // resolves to ::1 first.
    addresses.sort_by_key(|ip| ip.is_ipv6());
    addresses.dedup();
    let mut last_error = format!("the browser host {host} has no address");
    for ip in addresses {
        match websocket_at(&given, ip, port).await {
            Ok(address) => return Ok(address),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Asks the browser at `ip` for its WebSocket address.
async fn websocket_at(given: &Url, ip: std::net::IpAddr, port: u16) -> Result<String, String> {
    let mut at = given.clone();
    at.set_ip_host(ip)
        .map_err(|()| format!("browser url {given}: cannot address {ip}"))?;
    let url = at.as_str();
    #[derive(Deserialize)]
    struct Version {
        #[serde(rename = "webSocketDebuggerUrl")]
        web_socket_debugger_url: String,
    }
    let version_url = format!("{}/json/version", url.trim_end_matches('/'));
    let answer = reqwest::Client::new()
        .get(&version_url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("asking {version_url} for the browser's address: {e}"))?;
    let version: Version = answer
        .json()
        .await
        .map_err(|e| format!("reading {version_url}: {e}"))?;
    // A browser in a container reports its own loopback address (or none, port 80); reach
    // it where we reached it instead.
    let mut address = Url::parse(&version.web_socket_debugger_url)
        .map_err(|e| format!("browser address from {version_url}: {e}"))?;
    address
        .set_ip_host(ip)
        .map_err(|()| format!("browser address from {version_url}: cannot address {ip}"))?;
    address
        .set_port(Some(port))
        .map_err(|()| format!("browser address from {version_url}: cannot set port {port}"))?;
    Ok(address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryRateLimiter, RateLimitPolicy};

    #[tokio::test]
    async fn a_browser_that_cannot_start_is_unavailable_at_once_until_the_pause_ends() {
        let settings = BrowserSettings {
            executable: Some("/nonexistent/chromium".into()),
            ..BrowserSettings::default()
        };
        let limiter = Arc::new(MemoryRateLimiter::new(RateLimitPolicy::per_minute(6_000)));
        let source = BrowserListingSource::new(
            settings,
            Url::parse("http://127.0.0.1:9").unwrap_or_else(|_| unreachable!()),
            limiter,
        );
        for _ in 0..2 {
            match source.release_listings(ReleaseId(1), 1, 25).await {
                Err(error @ DiscogsError::BrowserUnavailable { .. }) => {
                    assert!(error.is_blocked() && !error.is_retryable(), "{error}");
                }
                other => panic!("expected an unavailable browser, got {other:?}"),
            }
        }
        assert_eq!(source.browsers_started(), 0);
    }
}

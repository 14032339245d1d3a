//! What a simulator is started with. Defaults give a small world on 127.0.0.1 with the
//! real Discogs budget (60 authenticated / 25 anonymous requests a minute).

use std::time::Duration;

use cratedigger_domain::Currency;

use crate::world::WorldSpec;

#[derive(Clone, Debug)]
pub struct SimSettings {
    pub host: String,
    /// 0 picks a free port; [`crate::Application::port`] reports it.
    pub port: u16,
    pub seed: u64,
    pub world: WorldSpec,
    pub rate_limit: RateLimitSettings,
    pub sell_pages: SellPageBudget,
    pub pagination: PaginationSettings,
    pub viewer: Viewer,
    /// `None` accepts any non-empty token or key; `Some` accepts only these (tokens or
    /// consumer keys) and answers others 401, for tests of the client's auth errors.
    pub accepted_tokens: Option<Vec<String>>,
    /// Discogs refuses API requests without a User-Agent; so does the simulator unless
    /// this is off.
    pub require_user_agent: bool,
    /// Today's Discogs: every web page answers a visitor without a clearance cookie with
    /// Cloudflare's managed challenge, which only a client that runs its script passes.
    /// Off by default so tests of the page reader meet the pages themselves.
    pub web_challenge: bool,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            seed: 42,
            world: WorldSpec::default(),
            rate_limit: RateLimitSettings::discogs(),
            sell_pages: SellPageBudget::Unlimited,
            pagination: PaginationSettings::default(),
            viewer: Viewer::default(),
            accepted_tokens: None,
            require_user_agent: true,
            web_challenge: false,
        }
    }
}

/// The API budget: a moving window per token (or per client IP when anonymous).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Requests per window with a token, key/secret or OAuth; `None` = unlimited.
    pub authenticated: Option<u32>,
    /// Requests per window without credentials; `None` = unlimited.
    pub unauthenticated: Option<u32>,
    /// Discogs uses 60 s; tests shorten it.
    pub window: Duration,
}

impl RateLimitSettings {
    pub fn discogs() -> Self {
        Self {
            authenticated: Some(60),
            unauthenticated: Some(25),
            window: Duration::from_secs(60),
        }
    }

    pub fn unlimited() -> Self {
        Self {
            authenticated: None,
            unauthenticated: None,
            window: Duration::from_secs(60),
        }
    }
}

/// Whether `/sell/release` pages cost budget. The real pages are served by
/// www.discogs.com, which has no API budget but its own bot protection; by default the
/// simulator leaves them unlimited and sends no rate-limit headers with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SellPageBudget {
    Unlimited,
    /// Pages draw from the caller's API budget and carry the API headers.
    SharedWithApi,
    /// Pages have their own moving window per client IP, this many per window.
    PerClient(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaginationSettings {
    pub default_per_page: u32,
    pub max_per_page: u32,
}

impl Default for PaginationSettings {
    fn default() -> Self {
        Self {
            default_per_page: 50,
            max_per_page: 100,
        }
    }
}

/// Whose eyes the marketplace pages are drawn for: "Unavailable in …" rows and the
/// converted "about €…" prices depend on the visitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub country: String,
    pub currency: Currency,
}

impl Default for Viewer {
    fn default() -> Self {
        Self {
            country: "Germany".to_owned(),
            currency: Currency::EUR,
        }
    }
}

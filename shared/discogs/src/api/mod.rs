//! The Discogs client: the JSON API and the marketplace pages, every request metered by
//! the shared [`RateLimiter`](crate::ratelimit::RateLimiter), named by the application's
//! User-Agent, and retried by [`RetryPolicy`].

mod auth;
mod config;
mod endpoints;
mod error;
mod oauth;
mod pages;
mod transport;
mod types;

use std::sync::Arc;

use serde::de::DeserializeOwned;

pub use auth::{Auth, ConsumerCredentials};
pub use config::{ClientConfig, DISCOGS_API, DISCOGS_WEB, RetryPolicy, default_user_agent};
pub use error::DiscogsError;
pub use oauth::{AccessToken, RequestToken};
pub use pages::{ListingSource, sell_release_url};
pub use types::{
    ApiListing, ApiListingRelease, ApiSeller, ArtistCredit, Format, Identity, ListingStatus,
    MAX_PER_PAGE, MarketplaceStats, MasterVersion, Page, PageRequest, Pagination, Release,
    ReleaseEntry, UserProfile,
};

use crate::ratelimit::SharedRateLimiter;
use transport::{Received, Verdict};

/// Talks to Discogs. Cheap to clone; clones share the connection pool and the limiters.
#[derive(Clone, Debug)]
pub struct DiscogsClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    /// The API host's budget (per token, or per address without one).
    limiter: SharedRateLimiter,
    /// The web host's (marketplace pages): the API's unless given its own, so that a
    /// 429 from one host holds back only the requests to that host.
    web_limiter: SharedRateLimiter,
}

/// Which Discogs host a request goes to: each has its own budget and its own pauses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    Api,
    Web,
}

impl DiscogsClient {
    /// A client for `config`, spending the budget of `limiter` (share one limiter, or one
    /// Redis key, between every client that uses the same Discogs identity).
    pub fn new(config: ClientConfig, limiter: SharedRateLimiter) -> Result<Self, DiscogsError> {
        if http::HeaderValue::from_str(&config.user_agent).is_err()
            || config.user_agent.trim().is_empty()
        {
            return Err(DiscogsError::Config(
                "user agent is not a valid header value".into(),
            ));
        }
        if let Some(header) = config.auth.header()
            && http::HeaderValue::from_str(header.expose()).is_err()
        {
            return Err(DiscogsError::Config(
                "credentials contain characters a header cannot hold".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| DiscogsError::Config(config.auth.scrub(&e.to_string())))?;
        Ok(Self {
            http,
            config: Arc::new(config),
            web_limiter: limiter.clone(),
            limiter,
        })
    }

    /// The same client with the web host's pages metered by `limiter` instead of the
    /// API's budget.
    pub fn with_web_limiter(mut self, limiter: SharedRateLimiter) -> Self {
        self.web_limiter = limiter;
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The API host's request budget.
    pub fn limiter(&self) -> SharedRateLimiter {
        self.limiter.clone()
    }

    /// The web host's request budget; other transports to the web host (a browser)
    /// share it.
    pub fn web_limiter(&self) -> SharedRateLimiter {
        self.web_limiter.clone()
    }

    pub(crate) fn limiter_of(&self, host: Host) -> &SharedRateLimiter {
        match host {
            Host::Api => &self.limiter,
            Host::Web => &self.web_limiter,
        }
    }

    /// GET on the API host, the body read as `T`.
    async fn get_json<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, DiscogsError> {
        let url = config::endpoint_url(&self.config.api_base, segments, query);
        let endpoint = transport::endpoint_of(&url);
        let authorize = || self.config.auth.header();
        let endpoint = &endpoint;
        self.send(
            Host::Api,
            reqwest::Method::GET,
            url,
            &authorize,
            |received| async move { self.judge_json(endpoint, received) },
        )
        .await
    }

    /// A 2xx body parsed as `T` (retried when unreadable), anything else as its error.
    fn judge_json<T: DeserializeOwned>(&self, endpoint: &str, received: Received) -> Verdict<T> {
        if received.status.is_success() {
            return match serde_json::from_slice(&received.body) {
                Ok(value) => Verdict::Done(Ok(value)),
                Err(e) => Verdict::Retry(DiscogsError::MalformedBody {
                    endpoint: endpoint.to_owned(),
                    detail: self.config.auth.scrub(&e.to_string()),
                }),
            };
        }
        Verdict::Done(Err(self.status_error(endpoint, &received)))
    }

    /// The error for a non-2xx answer that is not retried (4xx), with Discogs' JSON
    /// `message` when the body has one.
    fn status_error(&self, endpoint: &str, received: &Received) -> DiscogsError {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            message: String,
        }
        let message = serde_json::from_slice::<ErrorBody>(&received.body)
            .ok()
            .map(|body| {
                self.config
                    .auth
                    .scrub(&body.message.chars().take(300).collect::<String>())
            });
        let endpoint = endpoint.to_owned();
        match received.status.as_u16() {
            401 => DiscogsError::Unauthorized { endpoint, message },
            status @ (403 | 404) => DiscogsError::NotFound {
                endpoint,
                status,
                message,
            },
            status => DiscogsError::UnexpectedStatus {
                endpoint,
                status,
                message,
            },
        }
    }
}

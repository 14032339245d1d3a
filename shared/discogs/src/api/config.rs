//! Where the client talks to, as whom, and how patiently.

use std::time::Duration;

use reqwest::Url;

use super::auth::Auth;
use super::error::DiscogsError;

pub const DISCOGS_API: &str = "https://api.discogs.com";
pub const DISCOGS_WEB: &str = "https://www.discogs.com";

/// Discogs blocks generic user agents: every request names the application.
pub fn default_user_agent() -> String {
    format!(
        "cratedigger/{} +https://github.com/cratedigger/cratedigger",
        env!("CARGO_PKG_VERSION")
    )
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The JSON API (`https://api.discogs.com`, or a simulator on loopback).
    pub api_base: Url,
    /// The web host serving marketplace pages and the OAuth authorise page.
    pub web_base: Url,
    pub user_agent: String,
    pub auth: Auth,
    /// Whole-request limit (connect, send, read the body).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
}

/// How 429s, 5xx, timeouts, broken connections and malformed bodies are retried:
/// exponential backoff with jitter, never sooner than `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` a request waits out. A longer one fails the request at
    /// once with a retryable error (its job retries later, through the bus), instead of
    /// holding a worker, and everyone behind the shared limiter, for that long.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl ClientConfig {
    /// The real Discogs, with the given credentials.
    pub fn discogs(auth: Auth) -> Self {
        Self {
            api_base: fixed_url(DISCOGS_API),
            web_base: fixed_url(DISCOGS_WEB),
            user_agent: default_user_agent(),
            auth,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }

    /// One server for both hosts (the simulator serves the API and the pages).
    pub fn single_host(base: &str, auth: Auth) -> Result<Self, DiscogsError> {
        let url = parse_base(base)?;
        Ok(Self {
            api_base: url.clone(),
            web_base: url,
            ..Self::discogs(auth)
        })
    }

    pub fn with_api_base(mut self, base: &str) -> Result<Self, DiscogsError> {
        self.api_base = parse_base(base)?;
        Ok(self)
    }

    pub fn with_web_base(mut self, base: &str) -> Result<Self, DiscogsError> {
        self.web_base = parse_base(base)?;
        Ok(self)
    }
}

fn parse_base(base: &str) -> Result<Url, DiscogsError> {
    let url =
        Url::parse(base).map_err(|e| DiscogsError::Config(format!("base url {base:?}: {e}")))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(DiscogsError::Config(format!(
            "base url {base:?} is not an http(s) address"
        )));
    }
    Ok(url)
}

/// The two constant Discogs addresses; they parse, which a unit test checks.
fn fixed_url(constant: &'static str) -> Url {
    #[allow(clippy::expect_used)]
    Url::parse(constant).expect("constant discogs addresses parse")
}

/// `base` with `segments` appended as path segments, each percent-encoded, keeping any
/// path prefix the base has (a simulator mounted under `/discogs`).
pub(crate) fn endpoint_url(base: &Url, segments: &[&str], query: &[(&str, String)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_point_at_discogs_and_name_the_application() {
        let config = ClientConfig::discogs(Auth::None);
        assert_eq!(config.api_base.as_str(), "https://api.discogs.com/");
        assert_eq!(config.web_base.as_str(), "https://www.discogs.com/");
        assert!(config.user_agent.starts_with("cratedigger/0."));
    }

    #[test]
    fn bases_are_checked() {
        assert!(ClientConfig::single_host("http://127.0.0.1:8080", Auth::None).is_ok());
        assert!(ClientConfig::single_host("mailto:x@y", Auth::None).is_err());
        assert!(ClientConfig::single_host("ftp://x", Auth::None).is_err());
        assert!(ClientConfig::single_host("not a url", Auth::None).is_err());
    }

    #[test]
    fn path_segments_are_encoded_and_prefixes_kept() {
        let base = Url::parse("http://127.0.0.1:9/discogs/").unwrap();
        let url = endpoint_url(
            &base,
            &["users", "a b/../c", "wants"],
            &[("page", "2".into())],
        );
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/discogs/users/a%20b%2F..%2Fc/wants?page=2"
        );
        let root = Url::parse("https://api.discogs.com").unwrap();
        assert_eq!(
            endpoint_url(&root, &["releases", "1"], &[]).as_str(),
            "https://api.discogs.com/releases/1"
        );
    }
}

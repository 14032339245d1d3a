//! Marketplace listings come only from web pages (`/sell/release/{id}`), and the web host
//! increasingly answers plain HTTP clients with a bot challenge. [`ListingSource`] is the
//! port: this client is one source; a browser-like transport can be another, reusing
//! [`read_market_page`](crate::market::read_market_page) on what it fetched.

use async_trait::async_trait;
use cratedigger_domain::ReleaseId;

use super::transport::{Received, Verdict};
use super::{DiscogsClient, DiscogsError};
use crate::market::{ListingsPage, MarketPage, PageContext, read_market_page};

/// Page sizes the marketplace offers; any other `limit` is rounded up to one of these.
pub const PAGE_SIZES: [u32; 4] = [25, 50, 100, 250];

/// Where the listings of a release come from.
#[async_trait]
pub trait ListingSource: Send + Sync {
    /// Page `page` (from 1) of the listings of `release`, `limit` listings per page.
    /// A challenge, a login wall or an unknown page is an error, never an empty page.
    async fn release_listings(
        &self,
        release: ReleaseId,
        page: u32,
        limit: u32,
    ) -> Result<ListingsPage, DiscogsError>;
}

fn page_size(limit: u32) -> u32 {
    PAGE_SIZES
        .into_iter()
        .find(|size| *size >= limit)
        .unwrap_or(250)
}

/// `{web}/sell/release/{id}?page=…&limit=…`: one page of a release's listings, cheapest
/// first (the marketplace's default order).
pub fn sell_release_url(
    web_base: &url::Url,
    release: ReleaseId,
    page: u32,
    limit: u32,
) -> url::Url {
    let query = [
        ("page", page.max(1).to_string()),
        ("limit", page_size(limit).to_string()),
    ];
    let release_segment = release.to_string();
    super::config::endpoint_url(web_base, &["sell", "release", &release_segment], &query)
}

#[async_trait]
impl ListingSource for DiscogsClient {
    async fn release_listings(
        &self,
        release: ReleaseId,
        page: u32,
        limit: u32,
    ) -> Result<ListingsPage, DiscogsError> {
        let url = sell_release_url(&self.config.web_base, release, page, limit);
        let endpoint = super::transport::endpoint_of(&url);
        let context = PageContext::release(release);
        // Pages are public: no credentials go to the web host.
        let anonymous = || None;
        self.send(
            super::Host::Web,
            reqwest::Method::GET,
            url,
            &anonymous,
            |received| {
                let (endpoint, context) = (endpoint.clone(), context.clone());
                // Reading a page takes milliseconds of CPU (2-6 ms for a full page): off the
                // async workers.
                async move {
                    let page_endpoint = endpoint.clone();
                    tokio::task::spawn_blocking(move || {
                        judge_page(&page_endpoint, &context, received)
                    })
                    .await
                    .unwrap_or_else(|panicked| {
                        Verdict::Done(Err(DiscogsError::UnrecognisedPage {
                            endpoint,
                            reason: format!("page reader failed: {panicked}"),
                        }))
                    })
                }
            },
        )
        .await
    }
}

/// Classifies the page; an unreadable 2xx body is retried like a truncated JSON body.
fn judge_page(endpoint: &str, context: &PageContext, received: Received) -> Verdict<ListingsPage> {
    let body = String::from_utf8_lossy(&received.body);
    let endpoint = endpoint.to_owned();
    let verdict = match read_market_page(received.status, &received.headers, &body, context) {
        MarketPage::Listings(page) => Ok(page),
        MarketPage::Challenge { evidence } => Err(DiscogsError::Challenge { endpoint, evidence }),
        MarketPage::LoginWall => Err(DiscogsError::LoginWall { endpoint }),
        MarketPage::NotFound => Err(DiscogsError::NotFound {
            endpoint,
            status: received.status.as_u16(),
            message: None,
        }),
        // 429 and 5xx are retried before a page is judged; these arms are for completeness.
        MarketPage::RateLimited { .. } => Err(DiscogsError::RateLimited {
            endpoint,
            attempts: 1,
        }),
        MarketPage::ServerError { status } => Err(DiscogsError::Server {
            endpoint,
            status,
            attempts: 1,
        }),
        MarketPage::Unrecognised { reason } if received.status.is_success() => {
            // A 2xx page cut short loses its table; another attempt may get it whole.
            return Verdict::Retry(DiscogsError::UnrecognisedPage { endpoint, reason });
        }
        MarketPage::Unrecognised { .. } => Err(DiscogsError::UnexpectedStatus {
            endpoint,
            status: received.status.as_u16(),
            message: None,
        }),
    };
    Verdict::Done(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_up_to_an_offered_page_size() {
        assert_eq!(page_size(0), 25);
        assert_eq!(page_size(25), 25);
        assert_eq!(page_size(26), 50);
        assert_eq!(page_size(100), 100);
        assert_eq!(page_size(1000), 250);
    }
}

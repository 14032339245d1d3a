//! The API endpoints cratedigger reads. Usernames reach a URL only as one
//! percent-encoded path segment.

use cratedigger_domain::{Currency, ListingId, MasterId, ReleaseId, Username};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::types::{
    ApiListing, Identity, MarketplaceStats, MasterVersion, Page, PageRequest, Pagination, Release,
    ReleaseEntry, UserProfile,
};
use super::{DiscogsClient, DiscogsError};

/// A list response: `pagination` plus the items under an endpoint-specific key.
#[derive(Deserialize)]
struct ListBody<T> {
    pagination: Pagination,
    #[serde(
        alias = "wants",
        alias = "releases",
        alias = "versions",
        alias = "listings"
    )]
    items: Vec<T>,
}

impl<T: DeserializeOwned> Page<T> {
    /// A list response's body (`pagination`, and the items under their endpoint's key)
    /// read as the client reads it; for tools and the fuzz targets.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        let body: ListBody<T> = serde_json::from_slice(body)?;
        Ok(Self {
            pagination: body.pagination,
            items: body.items,
        })
    }
}

fn page_query(page: PageRequest) -> Vec<(&'static str, String)> {
    vec![
        ("page", page.page().to_string()),
        ("per_page", page.per_page().to_string()),
    ]
}

impl DiscogsClient {
    async fn get_page<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        mut query: Vec<(&'static str, String)>,
        page: PageRequest,
    ) -> Result<Page<T>, DiscogsError> {
        query.extend(page_query(page));
        let body: ListBody<T> = self.get_json(segments, &query).await?;
        Ok(Page {
            pagination: body.pagination,
            items: body.items,
        })
    }

    /// `GET /users/{username}`.
    pub async fn user(&self, username: &Username) -> Result<UserProfile, DiscogsError> {
        self.get_json(&["users", username.as_str()], &[]).await
    }

    /// `GET /oauth/identity`: whose credentials these are.
    pub async fn identity(&self) -> Result<Identity, DiscogsError> {
        self.get_json(&["oauth", "identity"], &[]).await
    }

    /// `GET /users/{username}/wants`. A private wantlist is [`DiscogsError::NotFound`].
    pub async fn wantlist_page(
        &self,
        username: &Username,
        page: PageRequest,
    ) -> Result<Page<ReleaseEntry>, DiscogsError> {
        self.get_page(&["users", username.as_str(), "wants"], Vec::new(), page)
            .await
    }

    /// `GET /users/{username}/wants`, most recently added first: page 1 with
    /// `per_page = 1` tells when the wantlist last grew. A private wantlist is
    /// [`DiscogsError::NotFound`].
    pub async fn wantlist_page_newest_first(
        &self,
        username: &Username,
        page: PageRequest,
    ) -> Result<Page<ReleaseEntry>, DiscogsError> {
        let sort = vec![
            ("sort", "added".to_owned()),
            ("sort_order", "desc".to_owned()),
        ];
        self.get_page(&["users", username.as_str(), "wants"], sort, page)
            .await
    }

    /// `GET /users/{username}/collection/folders/0/releases` (folder 0 is "All"),
    /// newest additions first so an incremental sync can stop early.
    pub async fn collection_page(
        &self,
        username: &Username,
        page: PageRequest,
    ) -> Result<Page<ReleaseEntry>, DiscogsError> {
        let segments = [
            "users",
            username.as_str(),
            "collection",
            "folders",
            "0",
            "releases",
        ];
        let sort = vec![
            ("sort", "added".to_owned()),
            ("sort_order", "desc".to_owned()),
        ];
        self.get_page(&segments, sort, page).await
    }

    /// `GET /releases/{id}`.
    pub async fn release(&self, release: ReleaseId) -> Result<Release, DiscogsError> {
        self.get_json(&["releases", &release.to_string()], &[])
            .await
    }

    /// `GET /masters/{id}/versions`.
    pub async fn master_versions(
        &self,
        master: MasterId,
        page: PageRequest,
    ) -> Result<Page<MasterVersion>, DiscogsError> {
        self.get_page(
            &["masters", &master.to_string(), "versions"],
            Vec::new(),
            page,
        )
        .await
    }

    /// `GET /marketplace/stats/{release_id}`, prices in `currency` (the account's
    /// currency when `None`).
    pub async fn marketplace_stats(
        &self,
        release: ReleaseId,
        currency: Option<Currency>,
    ) -> Result<MarketplaceStats, DiscogsError> {
        let query = currency_query(currency);
        self.get_json(&["marketplace", "stats", &release.to_string()], &query)
            .await
    }

    /// `GET /marketplace/listings/{id}`.
    pub async fn listing(
        &self,
        listing: ListingId,
        currency: Option<Currency>,
    ) -> Result<ApiListing, DiscogsError> {
        let query = currency_query(currency);
        self.get_json(&["marketplace", "listings", &listing.to_string()], &query)
            .await
    }

    /// `GET /users/{username}/inventory`: what a seller has for sale.
    pub async fn inventory_page(
        &self,
        seller: &Username,
        page: PageRequest,
    ) -> Result<Page<ApiListing>, DiscogsError> {
        let query = vec![("status", "For Sale".to_owned())];
        self.get_page(&["users", seller.as_str(), "inventory"], query, page)
            .await
    }
}

fn currency_query(currency: Option<Currency>) -> Vec<(&'static str, String)> {
    currency
        .map(|c| ("curr_abbr", c.as_str().to_owned()))
        .into_iter()
        .collect()
}

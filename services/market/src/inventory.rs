//! The inventory source: a release's listings among the inventories of sellers who hold
//! it, read through the API (`GET /users/{seller}/inventory`, public, 100 a page), which
//! no bot challenge guards.
//!
//! No API call lists a release's listings, so this source can only look where it is told:
//! the sellers the buyer names in the criteria (`sellers`) and the sellers already seen
//! selling the release (its stored listings, gone ones too), at most
//! `market.inventory.max_sellers` of them, named ones first. Each seller's inventory is
//! read once per listing-cache lifetime and kept in the key-value store (shared by every
//! replica), with an in-process copy so a chunk does not decode it once per release; two
//! chunks of one process wanting the same seller wait for one read. Its listings count as
//! seen when the inventory was read, so a cached copy never overrides a newer scrape.
//!
//! What it finds is never all of a release's listings: the stage records them with a
//! [`ListingScope::Sellers`] scope, so only the absent listings of sellers whose
//! inventories were read in full are marked gone, and the release is not marked fresh.
//! Shipping is the listing's `shipping_price` where the API gives one, unknown otherwise.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

use cratedigger_catalog::{Catalog, ListingScope};
use cratedigger_discogs::api::{ApiListing, ListingStatus};
use cratedigger_discogs::market::{Availability, Listing as PageListing, SellerSummary, Shipping};
use cratedigger_discogs::{DiscogsClient, DiscogsError, PageRequest};
use cratedigger_domain::{ReleaseId, SellerName, Username};
use cratedigger_kv::KeyValue;
use serde::{Deserialize, Serialize};

/// `market.inventory`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct InventorySettings {
    /// The most inventory pages (100 listings each) read per seller: a larger inventory
    /// is read in part, and then none of its seller's stored listings is marked gone.
    pub max_pages: u32,
    /// The most sellers asked about one release.
    pub max_sellers: usize,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            max_pages: 20,
            max_sellers: 10,
        }
    }
}

/// Listings per inventory page: the most the API gives.
const PER_PAGE: u32 = 100;
/// How long a decoded inventory stays in this process (the shared copy lives longer).
const LOCAL_TTL: Duration = Duration::from_secs(600);

/// One seller's inventory as read and cached.
#[derive(Debug, Serialize, Deserialize)]
struct Inventory {
    /// When it was read: its listings were seen then, not when the cache is read.
    read_at: DateTime<Utc>,
    /// Every listing was read (as many distinct ones as the API counted).
    complete: bool,
    /// Listings for sale, by release.
    releases: BTreeMap<u64, Vec<PageListing>>,
}

/// What the named and known sellers' inventories hold of one release.
#[derive(Debug)]
pub struct InventoryRead {
    pub listings: Vec<PageListing>,
    /// Which stored listings the read could see: those of the sellers read in full.
    pub scope: ListingScope,
    /// When the oldest of the inventories it comes from was read.
    pub seen_at: DateTime<Utc>,
}

pub struct InventorySource {
    discogs: DiscogsClient,
    catalog: Arc<dyn Catalog>,
    kv: Arc<dyn KeyValue>,
    ttl: Duration,
    settings: InventorySettings,
    local: moka::future::Cache<String, Arc<Inventory>>,
}

impl InventorySource {
    pub fn new(
        discogs: DiscogsClient,
        catalog: Arc<dyn Catalog>,
        kv: Arc<dyn KeyValue>,
        ttl: Duration,
        settings: InventorySettings,
    ) -> Self {
        let local = moka::future::Cache::builder()
            .max_capacity(256)
            .time_to_live(LOCAL_TTL.min(ttl))
            .build();
        Self {
            discogs,
            catalog,
            kv,
            ttl: ttl.max(Duration::from_secs(1)),
            settings,
            local,
        }
    }

    /// The listings of `release` among the inventories of the `named` sellers and of those
    /// seen selling it before. `None` when there is no seller to ask. A seller Discogs
    /// does not know holds nothing; one whose inventory cannot be read is left out (and
    /// logged). Every error is worth retrying (the API or the catalog unavailable).
    pub async fn release_listings(
        &self,
        release: ReleaseId,
        named: &[Username],
    ) -> anyhow::Result<Option<InventoryRead>> {
        let sellers = self.sellers_for(release, named).await?;
        if sellers.is_empty() {
            return Ok(None);
        }
        let mut listings = Vec::new();
        let mut complete = Vec::new();
        let mut seen_at = Utc::now();
        for seller in &sellers {
            let inventory = match self.inventory(seller).await {
                Ok(inventory) => inventory,
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(%seller, %release, error = %e, "seller inventory unreadable: left out");
                    continue;
                }
            };
            if inventory.complete {
                complete.push(SellerName::new(seller.as_str()));
            }
            seen_at = seen_at.min(inventory.read_at);
            listings.extend(
                inventory
                    .releases
                    .get(&release.0)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        Ok(Some(InventoryRead {
            listings,
            scope: ListingScope::Sellers(complete),
            seen_at,
        }))
    }

    /// The named sellers, then those of the release's stored listings (most recently seen
    /// first), once each whatever their case, at most `max_sellers`.
    async fn sellers_for(
        &self,
        release: ReleaseId,
        named: &[Username],
    ) -> anyhow::Result<Vec<Username>> {
        let mut stored = self.catalog.listings(&[release], true).await?;
        stored.sort_by_key(|l| std::cmp::Reverse(l.last_seen));
        let known = stored
            .iter()
            .filter_map(|l| Username::parse(l.seller.as_str()).ok());
        let mut seen = HashSet::new();
        Ok(named
            .iter()
            .cloned()
            .chain(known)
            .filter(|u| seen.insert(u.as_str().to_ascii_lowercase()))
            .take(self.settings.max_sellers)
            .collect())
    }

    /// A seller's inventory: from this process, else from the shared store, else read
    /// from the API (and then stored). Concurrent callers for one seller share one read.
    async fn inventory(&self, seller: &Username) -> Result<Arc<Inventory>, Arc<DiscogsError>> {
        let key = format!("inventory:v2:{}", seller.as_str().to_ascii_lowercase());
        let inventory = self.load(seller, &key).await?;
        if self.is_current(&inventory) {
            return Ok(inventory);
        }
        // The copy here outlived the cache's lifetime: read it again.
        self.local.invalidate(&key).await;
        self.load(seller, &key).await
    }

    fn is_current(&self, inventory: &Inventory) -> bool {
        let age = (Utc::now() - inventory.read_at)
            .to_std()
            .unwrap_or_default();
        age < self.ttl
    }

    async fn load(
        &self,
        seller: &Username,
        key: &str,
    ) -> Result<Arc<Inventory>, Arc<DiscogsError>> {
        self.local
            .try_get_with(key.to_owned(), async {
                if let Some(stored) = self.stored(key).await.filter(|s| self.is_current(s)) {
                    return Ok(Arc::new(stored));
                }
                let inventory = self.read(seller).await?;
                match serde_json::to_string(&inventory) {
                    Ok(text) => {
                        if let Err(e) = self.kv.set(key, &text, Some(self.ttl)).await {
                            tracing::warn!(%seller, error = %e, "seller inventory not cached");
                        }
                    }
                    Err(e) => tracing::warn!(%seller, error = %e, "seller inventory not cached"),
                }
                Ok(Arc::new(inventory))
            })
            .await
    }

    async fn stored(&self, key: &str) -> Option<Inventory> {
        match self.kv.get(key).await {
            Ok(Some(text)) => serde_json::from_str(&text)
                .inspect_err(|e| tracing::warn!(key, error = %e, "cached inventory unreadable: reading it again"))
                .ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(key, error = %e, "inventory cache unavailable: reading the inventory");
                None
            }
        }
    }

    /// Reads the seller's listings for sale, page after page, up to `max_pages`.
    async fn read(&self, seller: &Username) -> Result<Inventory, DiscogsError> {
        let mut inventory = Inventory {
            read_at: Utc::now(),
            complete: false,
            releases: BTreeMap::new(),
        };
        let mut ids = HashSet::new();
        // How many listings the API counts; all of them read means the read is complete.
        let mut counted = None;
        let max_pages = self.settings.max_pages.max(1);
        for page in 1..=max_pages {
            let read = match self
                .discogs
                .inventory_page(seller, PageRequest::new(page, PER_PAGE))
                .await
            {
                Ok(read) => read,
                // No such seller (any more): they sell nothing.
                Err(DiscogsError::NotFound { .. }) if page == 1 => {
                    inventory.complete = true;
                    return Ok(inventory);
                }
                // The inventory shrank between two pages: listings may have moved across
                // the pages read, so it is complete only if every counted one was seen.
                Err(DiscogsError::NotFound { .. }) => break,
                Err(e) => return Err(e),
            };
            counted = Some(read.pagination.items);
            for listing in read.items {
                if ids.insert(listing.id)
                    && let Some(listing) = page_listing(listing)
                {
                    let release = listing.release_id.map_or(0, |r| r.0);
                    inventory.releases.entry(release).or_default().push(listing);
                }
            }
            if read.pagination.is_last() || read.pagination.pages == 0 {
                break;
            }
        }
        // Listings that moved between pages while they were read were missed: then the
        // read is not the whole inventory and none of the seller's listings is gone.
        inventory.complete = counted.is_some_and(|n| ids.len() as u64 >= n);
        let listings: usize = inventory.releases.values().map(Vec::len).sum();
        tracing::info!(%seller, listings, complete = inventory.complete, "seller inventory read");
        Ok(inventory)
    }
}

/// An inventory item as a page listing would show it; `None` unless it is for sale at a
/// price.
fn page_listing(api: ApiListing) -> Option<PageListing> {
    if api.status != ListingStatus::ForSale {
        return None;
    }
    let price = api.price?;
    let seller = api.seller;
    Some(PageListing {
        id: api.id,
        release_id: Some(api.release.release_id),
        title: api.release.description.unwrap_or_default(),
        price,
        shipping: api
            .shipping_price
            .map_or(Shipping::Unknown, Shipping::Amount),
        media: api.media,
        sleeve: api.sleeve,
        seller: Some(SellerSummary {
            name: seller.name,
            id: Some(seller.id),
            rating_percent: seller.rating_percent,
            ratings: seller.ratings,
            is_new: seller.ratings == Some(0),
            ships_from: api.ships_from,
        }),
        availability: Availability::Available,
        comments: api.comments.filter(|c| !c.trim().is_empty()),
        offers_allowed: api.allow_offers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inventory_item_reads_as_a_listing_and_no_shipping_is_unknown() {
        let body = std::fs::read_to_string(
            "../../../shared/datasets/discogs-fixtures/ezienecker__discogs-ctl/src__test__resources__responses__shop.json",
        )
        .unwrap();
        #[derive(Deserialize)]
        struct Body {
            listings: Vec<ApiListing>,
        }
        let body: Body = serde_json::from_str(&body).unwrap();
        let listings: Vec<PageListing> =
            body.listings.into_iter().filter_map(page_listing).collect();
        let first = &listings[0];
        assert_eq!(first.id.0, 2_237_957_062);
        assert_eq!(first.release_id, Some(ReleaseId(10_924_204)));
        assert_eq!(first.shipping, Shipping::Unknown, "shipping_price was {{}}");
        assert_eq!(first.price.minor, 2000);
        let seller = first.seller.as_ref().unwrap();
        assert_eq!(
            (seller.name.as_str(), seller.ratings),
            ("Madlip89", Some(48))
        );
        assert_eq!(seller.rating_percent, Some(100.0));
        assert!(
            first
                .title
                .starts_with("Teknical Development - The 8: Vol. 3")
        );
    }
}

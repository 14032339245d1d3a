//! The market stage of a carts job.
//!
//! Consumes MarketChunkRequested: for each release of the chunk whose listings are not
//! fresh, reads its marketplace pages through the [`ListingSource`] (the Discogs client,
//! which waits for the shared rate limiter and retries 429 and 5xx), upserts the sellers,
//! records the listings in the Catalog (new ones inserted, a price-history point appended
//! when a price changed, listings no longer offered marked gone), and only then marks the
//! release's listings fresh for the listing cache's lifetime. Publishes ChunkDone{market}.
//!
//! A bot challenge or a login wall fails the rest of the chunk at once, with the reason
//! (another attempt would meet the same wall); a page that cannot be read fails that
//! release and the chunk goes on; network trouble is retried with backoff, and a chunk out
//! of attempts is reported failed. Which releases this job fetched and which failed are
//! recorded for the carts stage's coverage. Redelivery is harmless: releases stored by an
//! earlier attempt are fresh and skipped, and recording the same listings again changes
//! nothing.

mod convert;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use cratedigger_bus::EventBus;
use cratedigger_catalog::{Catalog, CatalogError, ListingChanges};
use cratedigger_discogs::market::Listing as PageListing;
use cratedigger_discogs::{DiscogsError, ListingSource};
use cratedigger_domain::{JobId, ReleaseId, Stage};
use cratedigger_kit::{EventHandler, HandleError, Publisher, Runnable, Worker, WorkerSettings, subscription};
use cratedigger_kv::{KeyValue, KvError};
use cratedigger_proto::convert::{job_of, stage_to_pb};
use cratedigger_proto::events;
use cratedigger_status::{ListingFreshness, MarketRecords};
use serde::Deserialize;

pub use convert::{listings_of, sellers_of};

pub const SERVICE: &str = "market";

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MarketSettings {
    /// Listings per marketplace page (Discogs offers 25, 50, 100 and 250).
    pub per_page: u32,
    /// The most pages read per release. Pages come cheapest first, so a release with more
    /// listings than this loses only its dearest ones (which are then marked gone).
    pub max_pages: u32,
    /// The listing cache's lifetime, shared with the other stage: the application sets
    /// it from its one `[listings] ttl_seconds`, so it is not read from this section.
    #[serde(skip_deserializing)]
    pub listing_ttl_seconds: u64,
    pub concurrency: usize,
}

impl Default for MarketSettings {
    fn default() -> Self {
        Self { per_page: 250, max_pages: 8, listing_ttl_seconds: 24 * 3600, concurrency: 4 }
    }
}

/// What happened to one release.
enum Fetched {
    Stored(ListingChanges),
    /// Fresh already (another job fetched it meanwhile).
    Fresh,
    /// The rest of the chunk cannot be fetched either.
    Blocked(String),
    Failed(String),
}

pub struct Market {
    catalog: Arc<dyn Catalog>,
    source: Arc<dyn ListingSource>,
    freshness: ListingFreshness,
    records: MarketRecords,
    publisher: Publisher,
    settings: MarketSettings,
}

impl Market {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        kv: Arc<dyn KeyValue>,
        source: Arc<dyn ListingSource>,
        bus: Arc<dyn EventBus>,
        settings: MarketSettings,
    ) -> Arc<Self> {
        let ttl = Duration::from_secs(settings.listing_ttl_seconds.max(1));
        Arc::new(Self {
            catalog,
            source,
            freshness: ListingFreshness::new(kv.clone(), ttl),
            records: MarketRecords::new(kv),
            publisher: Publisher::new(bus),
            settings,
        })
    }

    pub fn workers(self: &Arc<Self>, worker: &WorkerSettings) -> Vec<Box<dyn Runnable>> {
        let settings = WorkerSettings { concurrency: self.settings.concurrency, ..worker.clone() };
        // A chunk may wait minutes for the shared rate limiter: its lease is renewed while
        // it is held, and returns within the ack deadline if this process dies.
        let spec = subscription::<events::MarketChunkRequested>(SERVICE);
        vec![Box::new(Worker::new(Arc::new(OnMarketChunk(self.clone())), self.publisher.bus().clone(), spec, settings))]
    }

    async fn on_chunk(&self, request: events::MarketChunkRequested) -> Result<(), HandleError> {
        let spec = job_of(request.job.as_ref()).map_err(HandleError::reject)?;
        let releases: Vec<ReleaseId> = request.release_ids.iter().map(|&id| ReleaseId(id)).collect();
        let mut items = 0;
        let mut failures = Vec::new();
        for (position, &release) in releases.iter().enumerate() {
            match self.release(&spec.id, release).await? {
                Fetched::Stored(changes) => items += changes.inserted + changes.price_changed + changes.unchanged,
                Fetched::Fresh => {}
                Fetched::Failed(reason) => failures.push(reason),
                Fetched::Blocked(reason) => {
                    self.unread(&spec.id, &releases[position..]).await.map_err(HandleError::retry)?;
                    tracing::warn!(chunk = request.chunk, %reason, "marketplace blocked: chunk failed");
                    return self.done(&request, items, Some(reason)).await;
                }
            }
        }
        let error = (!failures.is_empty()).then(|| failures.join("; "));
        tracing::info!(chunk = request.chunk, releases = releases.len(), listings = items, failed = failures.len(), "market chunk stored");
        self.done(&request, items, error).await
    }

    /// Records the releases this job could not read, leaving out those whose listings are
    /// fresh in the cache (stored by this job or another within the TTL): the carts stage
    /// uses them as they are, so they count as seen.
    async fn unread(&self, job: &JobId, releases: &[ReleaseId]) -> Result<(), KvError> {
        for &release in releases {
            if !self.freshness.is_fresh(release).await? {
                self.records.failed(job, release).await?;
            }
        }
        Ok(())
    }

    /// Fetches and stores one release's listings unless they are fresh. Errors are those
    /// worth retrying the chunk for.
    async fn release(&self, job: &JobId, release: ReleaseId) -> Result<Fetched, HandleError> {
        if self.freshness.is_fresh(release).await.map_err(HandleError::retry)? {
            return Ok(Fetched::Fresh);
        }
        let seen_at = Utc::now();
        let listings = match self.fetch(release).await {
            Ok(listings) => listings,
            // Discogs has no such release (any more): nothing is for sale.
            Err(DiscogsError::NotFound { .. }) => Vec::new(),
            Err(e) if e.is_retryable() => return Err(HandleError::retry(e)),
            Err(e) if e.is_blocked() => return Ok(Fetched::Blocked(format!("the marketplace could not be read: {e}"))),
            Err(e) => {
                self.records.failed(job, release).await.map_err(HandleError::retry)?;
                return Ok(Fetched::Failed(format!("release {release}: {e}")));
            }
        };
        let sellers = sellers_of(&listings);
        let rows = listings_of(release, &listings);
        let stored = match self.catalog.upsert_sellers(&sellers).await {
            Ok(()) => self.catalog.record_listings(release, &rows, seen_at).await,
            Err(e) => Err(e),
        };
        let changes = match stored {
            Ok(changes) => changes,
            // The catalog refuses what the page said (storing it again would be refused
            // again): this release fails, the rest of the chunk goes on.
            Err(e @ CatalogError::Rejected(_)) => {
                self.records.failed(job, release).await.map_err(HandleError::retry)?;
                return Ok(Fetched::Failed(format!("release {release}: {e}")));
            }
            Err(e) => return Err(HandleError::retry(e)),
        };
        // Counted, then fresh, and fresh only once stored: a crash before this leaves the
        // release to fetch again.
        self.records.fetched(job, release).await.map_err(HandleError::retry)?;
        let stamp = seen_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        self.freshness.mark_fresh(release, &stamp).await.map_err(HandleError::retry)?;
        tracing::debug!(%release, listings = rows.len(), inserted = changes.inserted, price_changed = changes.price_changed, gone = changes.gone, "listings stored");
        Ok(Fetched::Stored(changes))
    }

    /// Every listing of the release, page after page, up to `max_pages`.
    async fn fetch(&self, release: ReleaseId) -> Result<Vec<PageListing>, DiscogsError> {
        let mut listings: Vec<PageListing> = Vec::new();
        let mut ids = HashSet::new();
        for page in 1..=self.settings.max_pages.max(1) {
            let read = match self.source.release_listings(release, page, self.settings.per_page).await {
                Ok(read) => read,
                // The listings shrank between two pages: what was read is all there is. (A
                // missing first page means no such release, which the caller handles.)
                Err(DiscogsError::NotFound { .. }) if page > 1 => break,
                Err(e) => return Err(e),
            };
            if !read.skipped.is_empty() {
                tracing::warn!(%release, page, skipped = read.skipped.len(), first = ?read.skipped.first(), "listing rows could not be read");
            }
            let before = listings.len();
            listings.extend(read.listings.into_iter().filter(|l| ids.insert(l.id)));
            let total = read.range.map_or(0, |r| r.total);
            let complete = listings.len() as u64 >= total || read.range.is_some_and(|r| r.last >= r.total);
            if complete || listings.len() == before {
                break;
            }
        }
        Ok(listings)
    }

    async fn done(&self, request: &events::MarketChunkRequested, items: u32, error: Option<String>) -> Result<(), HandleError> {
        let done = events::ChunkDone {
            job: request.job.clone(),
            stage: stage_to_pb(Stage::Market) as i32,
            chunk: request.chunk,
            items,
            failed: error.is_some(),
            error: error.unwrap_or_default(),
        };
        self.publisher.publish(&done).await.map_err(HandleError::retry)
    }
}

struct OnMarketChunk(Arc<Market>);

#[async_trait]
impl EventHandler for OnMarketChunk {
    type Event = events::MarketChunkRequested;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        self.0.on_chunk(event).await
    }

    /// Out of attempts (or rejected): the releases not stored are failed, and so is the
    /// chunk, so the tracker can conclude the stage with what was fetched.
    async fn give_up(&self, event: &Self::Event, error: &HandleError) {
        if let Ok(spec) = job_of(event.job.as_ref()) {
            let releases: Vec<ReleaseId> = event.release_ids.iter().map(|&id| ReleaseId(id)).collect();
            if let Err(e) = self.0.unread(&spec.id, &releases).await {
                tracing::warn!(error = %e, chunk = event.chunk, "could not record the chunk's unread releases");
            }
        }
        let _ = self.0.done(event, 0, Some(format!("the marketplace could not be read: {error}"))).await;
    }
}

//! The market stage of a carts job.
//!
//! Consumes MarketChunkRequested: for each release of the chunk whose listings are not
//! fresh, reads its listings through the first of the configured listing sources that
//! gets through (`market.sources`: its marketplace pages in a real browser, the
//! inventories of named and known sellers through the API, its pages over plain HTTP;
//! each waits for the shared rate limiter, see [`sources`]), upserts the sellers,
//! records the listings in the Catalog (new ones inserted, a price-history point appended
//! when a price changed, listings no longer offered marked gone), and only then marks the
//! release's listings fresh for the listing cache's lifetime. Inventories show only some
//! sellers' listings: only those sellers' absent listings are marked gone, and the
//! release is not marked fresh. Publishes ChunkDone{market}.
//!
//! A bot challenge or a login wall sends the release to the next source, and that source is
//! not asked again within the chunk; when every source is blocked the rest of the chunk
//! fails at once, with the reason and what the buyer can do (another attempt would meet
//! the same wall). A page that no source can read fails that release and the chunk goes
//! on; network trouble (a crashed browser too) is retried with backoff, and a chunk out of
//! attempts is reported failed. Which source served each release, which were blocked and
//! which failed are recorded for the carts stage's coverage. Redelivery is harmless: releases stored by an
//! earlier attempt are fresh and skipped, and recording the same listings again changes
//! nothing.
//!
//! Also consumes ListingsUploaded: marketplace pages the buyer saved and uploaded, stored
//! as if fetched ([`uploads`]).

mod convert;
pub mod inventory;
pub mod sources;
pub mod uploads;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use cratedigger_bus::EventBus;
use cratedigger_catalog::{Catalog, CatalogError, ListingChanges, ListingScope, Release};
use cratedigger_discogs::market::Listing as PageListing;
use cratedigger_discogs::{BrowserSettings, DiscogsClient, DiscogsError, ListingSource};
use cratedigger_domain::{JobId, ReleaseId, Stage, Username};
use cratedigger_kit::{
    EventHandler, HandleError, Publisher, Runnable, Worker, WorkerSettings, job, subscription,
};
use cratedigger_kv::{KeyValue, KvError};
use cratedigger_proto::convert::{job_of, stage_to_pb};
use cratedigger_proto::events;
use cratedigger_status::{ListingFreshness, MarketRecords, UploadRecords};
use serde::Deserialize;

pub use convert::{listings_of, sellers_of};
pub use inventory::{InventorySettings, InventorySource};
pub use sources::{BLOCKED_ADVICE, NamedSource, Reader, SourceKind, build_sources};

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
    /// Where listings come from, most preferred first.
    #[serde(deserialize_with = "sources::deserialize_kinds")]
    pub sources: Vec<SourceKind>,
    /// The browser source's browser (`market.browser.url`, `.executable`, `.tabs`,
    /// `.page_timeout_ms`).
    pub browser: BrowserSettings,
    /// The inventory source's bounds (`market.inventory.max_pages`, `.max_sellers`).
    pub inventory: InventorySettings,
    /// Ask the marketplace stats API first (one API request per release) and load no
    /// page for a release with nothing for sale.
    pub stats_precheck: bool,
}

impl Default for MarketSettings {
    fn default() -> Self {
        Self {
            per_page: 250,
            max_pages: 8,
            listing_ttl_seconds: 24 * 3600,
            concurrency: 4,
            sources: vec![SourceKind::Browser, SourceKind::Http, SourceKind::Inventory],
            browser: BrowserSettings::default(),
            inventory: InventorySettings::default(),
            stats_precheck: true,
        }
    }
}

/// What happened to one release.
enum Fetched {
    Stored(ListingChanges),
    /// Fresh already (another job fetched it meanwhile).
    Fresh,
    /// Every source is blocked: the rest of the chunk cannot be fetched either.
    Blocked,
    Failed(String),
}

/// The name the coverage gives releases the stats pre-check settled (nothing for sale).
pub const STATS_SOURCE: &str = "stats";

/// What a source read of one release.
struct Read {
    listings: Vec<PageListing>,
    /// Which of the stored listings it could see.
    scope: ListingScope,
    /// When they were seen.
    seen_at: DateTime<Utc>,
    /// Why the read is short of what the pages promised, if it is (see [`PagesRead`]).
    cut: Option<String>,
}

impl Read {
    /// All of the release's listings, seen at `seen_at`.
    fn whole(listings: Vec<PageListing>, seen_at: DateTime<Utc>) -> Self {
        Self {
            listings,
            scope: ListingScope::Release,
            seen_at,
            cut: None,
        }
    }

    /// What the release's pages gave: all of its listings, or, when a page stayed cut
    /// short, those read, which then say nothing of the others (none is marked gone).
    fn of_pages(read: PagesRead, seen_at: DateTime<Utc>) -> Self {
        match read.cut {
            None => Self::whole(read.listings, seen_at),
            Some(reason) => Self {
                listings: read.listings,
                scope: ListingScope::Sellers(Vec::new()),
                seen_at,
                cut: Some(reason),
            },
        }
    }
}

/// The listings a release's pages gave. `cut`: a page held fewer rows than its own range
/// promised however often it was read again (a body cut short), with what was missing;
/// the pages after it were not read.
struct PagesRead {
    listings: Vec<PageListing>,
    cut: Option<String>,
}

/// How many times a page that holds fewer rows than its range promises is read in all.
const SHORT_PAGE_READS: u32 = 3;

/// Sources that met a challenge within the chunk being read, with what they met.
type BlockedSources = BTreeMap<&'static str, String>;

pub struct Market {
    catalog: Arc<dyn Catalog>,
    uploads: Arc<uploads::UploadReader>,
    sources: Vec<NamedSource>,
    /// The marketplace stats API, for the pre-check (`market.stats_precheck`).
    stats: Option<DiscogsClient>,
    freshness: ListingFreshness,
    records: MarketRecords,
    publisher: Publisher,
    settings: MarketSettings,
}

impl Market {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        kv: Arc<dyn KeyValue>,
        sources: Vec<NamedSource>,
        stats: Option<DiscogsClient>,
        bus: Arc<dyn EventBus>,
        settings: MarketSettings,
    ) -> Arc<Self> {
        let ttl = Duration::from_secs(settings.listing_ttl_seconds.max(1));
        let freshness = ListingFreshness::new(kv.clone(), ttl);
        let uploads = Arc::new(uploads::UploadReader::new(
            catalog.clone(),
            freshness.clone(),
            UploadRecords::new(kv.clone()),
        ));
        Arc::new(Self {
            catalog,
            uploads,
            sources,
            stats: stats.filter(|_| settings.stats_precheck),
            freshness,
            records: MarketRecords::new(kv),
            publisher: Publisher::new(bus),
            settings,
        })
    }

    pub fn workers(self: &Arc<Self>, worker: &WorkerSettings) -> Vec<Box<dyn Runnable>> {
        let settings = WorkerSettings {
            concurrency: self.settings.concurrency,
            ..worker.clone()
        };
        // A chunk may wait minutes for the shared rate limiter: its lease is renewed while
        // it is held, and returns within the ack deadline if this process dies.
        let spec = subscription::<events::MarketChunkRequested>(SERVICE);
        let chunks = Worker::new(
            Arc::new(OnMarketChunk(self.clone())),
            self.publisher.bus().clone(),
            spec,
            settings,
        );
        // Uploaded pages, one upload at a time per process: each is bounded by the
        // gateway's upload size and read in a few seconds.
        let uploads = Worker::new(
            Arc::new(uploads::OnListingsUploaded(self.uploads.clone())),
            self.publisher.bus().clone(),
            subscription::<events::ListingsUploaded>(SERVICE),
            WorkerSettings {
                concurrency: 1,
                ..worker.clone()
            },
        );
        vec![Box::new(chunks), Box::new(uploads)]
    }

    async fn on_chunk(&self, request: events::MarketChunkRequested) -> Result<(), HandleError> {
        let spec = job_of(request.job.as_ref()).map_err(HandleError::reject)?;
        let named = spec
            .criteria
            .as_ref()
            .map_or(&[][..], |c| c.sellers.as_slice());
        let releases: Vec<ReleaseId> = request
            .release_ids
            .iter()
            .map(|&id| ReleaseId(id))
            .collect();
        let mut items = 0;
        let mut failures = Vec::new();
        let mut blocked = BlockedSources::new();
        for (position, &release) in releases.iter().enumerate() {
            match self.release(&spec.id, release, named, &mut blocked).await? {
                Fetched::Stored(changes) => {
                    items += changes.inserted + changes.price_changed + changes.unchanged
                }
                Fetched::Fresh => {}
                Fetched::Failed(reason) => failures.push(reason),
                Fetched::Blocked => {
                    let sources: Vec<&str> = blocked.keys().copied().collect();
                    self.unread(&spec.id, &releases[position..], &sources)
                        .await
                        .map_err(HandleError::retry)?;
                    let met: Vec<String> = blocked
                        .iter()
                        .map(|(source, what)| format!("{source}: {what}"))
                        .collect();
                    let reason = format!(
                        "the marketplace could not be read ({}); {BLOCKED_ADVICE}",
                        met.join("; ")
                    );
                    tracing::warn!(chunk = request.chunk, %reason, "marketplace blocked on every source: chunk failed");
                    return self.done(&request, items, Some(reason)).await;
                }
            }
        }
        let error = (!failures.is_empty()).then(|| {
            let mut error = failures.join("; ");
            if !blocked.is_empty() {
                error.push_str("; ");
                error.push_str(BLOCKED_ADVICE);
            }
            error
        });
        tracing::info!(
            chunk = request.chunk,
            releases = releases.len(),
            listings = items,
            failed = failures.len(),
            "market chunk stored"
        );
        self.done(&request, items, error).await
    }

    /// Records the releases this job could not read, leaving out those whose listings are
    /// fresh in the cache (stored by this job or another within the TTL): the carts stage
    /// uses them as they are, so they count as seen. Each is counted blocked on
    /// `blocked_on`, the sources that would have met the same wall.
    async fn unread(
        &self,
        job: &JobId,
        releases: &[ReleaseId],
        blocked_on: &[&str],
    ) -> Result<(), KvError> {
        for &release in releases {
            if !self.freshness.is_fresh(release).await? {
                for source in blocked_on {
                    self.records.blocked(job, release, source).await?;
                }
                self.records.failed(job, release).await?;
            }
        }
        Ok(())
    }

    /// Fetches and stores one release's listings unless they are fresh, through the first
    /// source that is not blocked and reads it (`named`: the sellers the job names, for
    /// the inventory source). Errors are those worth retrying the chunk for.
    async fn release(
        &self,
        job: &JobId,
        release: ReleaseId,
        named: &[Username],
        blocked: &mut BlockedSources,
    ) -> Result<Fetched, HandleError> {
        if self
            .freshness
            .is_fresh(release)
            .await
            .map_err(HandleError::retry)?
        {
            return Ok(Fetched::Fresh);
        }
        let seen_at = Utc::now();
        let mut failures = Vec::new();
        // Sources that know nothing of the release (the inventories, with no seller to
        // ask): neither a failure to read nor a wall.
        let mut unknown_to: Vec<&str> = Vec::new();
        let mut served = self
            .nothing_for_sale(release)
            .await?
            .then(|| (STATS_SOURCE, Read::whole(Vec::new(), seen_at)));
        for source in &self.sources {
            if served.is_some() {
                break;
            }
            if blocked.contains_key(source.name) {
                continue;
            }
            let attempt = match &source.reader {
                Reader::Pages(pages) => self
                    .fetch(pages.as_ref(), release)
                    .await
                    .map(|read| Read::of_pages(read, seen_at)),
                Reader::Inventory(inventory) => {
                    match inventory
                        .release_listings(release, named)
                        .await
                        .map_err(HandleError::Retry)?
                    {
                        Some(read) => Ok(Read {
                            listings: read.listings,
                            scope: read.scope,
                            seen_at: read.seen_at,
                            cut: None,
                        }),
                        None => {
                            self.records
                                .source_failed(job, release, source.name)
                                .await
                                .map_err(HandleError::retry)?;
                            unknown_to.push(source.name);
                            continue;
                        }
                    }
                }
            };
            match attempt {
                Ok(read) => {
                    served = Some((source.name, read));
                    break;
                }
                // Discogs has no such release (any more): nothing is for sale.
                Err(DiscogsError::NotFound { .. }) => {
                    served = Some((source.name, Read::whole(Vec::new(), seen_at)));
                    break;
                }
                Err(e) if e.is_retryable() => return Err(HandleError::retry(e)),
                Err(e) if e.is_blocked() => {
                    tracing::info!(source = source.name, %release, error = %e, "source blocked: trying the next");
                    self.records
                        .blocked(job, release, source.name)
                        .await
                        .map_err(HandleError::retry)?;
                    blocked.insert(source.name, e.to_string());
                }
                Err(e) => {
                    self.records
                        .source_failed(job, release, source.name)
                        .await
                        .map_err(HandleError::retry)?;
                    failures.push(format!("{}: {e}", source.name));
                }
            }
        }
        let Some((
            source,
            Read {
                listings,
                scope,
                seen_at,
                cut,
            },
        )) = served
        else {
            self.records
                .failed(job, release)
                .await
                .map_err(HandleError::retry)?;
            if failures.is_empty() && unknown_to.is_empty() {
                return Ok(Fetched::Blocked);
            }
            for source in unknown_to {
                failures.push(format!(
                    "{source}: no seller is known to sell it (name sellers in the criteria)"
                ));
            }
            if !blocked.is_empty() {
                let walls: Vec<&str> = blocked.keys().copied().collect();
                failures.push(format!("blocked on {}", walls.join(", ")));
            }
            return Ok(Fetched::Failed(format!(
                "release {release}: {}",
                failures.join("; ")
            )));
        };
        let sellers = sellers_of(&listings);
        let rows = listings_of(release, &listings);
        let stored = match self.catalog.upsert_sellers(&sellers).await {
            Ok(()) => {
                self.catalog
                    .record_seen_listings(release, &rows, &scope, seen_at)
                    .await
            }
            Err(e) => Err(e),
        };
        let changes = match stored {
            Ok(changes) => changes,
            // The catalog refuses what the page said (storing it again would be refused
            // again): this release fails, the rest of the chunk goes on.
            Err(e @ CatalogError::Rejected(_)) => {
                self.records
                    .failed(job, release)
                    .await
                    .map_err(HandleError::retry)?;
                return Ok(Fetched::Failed(format!("release {release}: {e}")));
            }
            Err(e) => return Err(HandleError::retry(e)),
        };
        if let Some(reason) = cut {
            // Kept, but not the release's listings: it counts as unread, and the next job
            // reads it again.
            self.records
                .failed(job, release)
                .await
                .map_err(HandleError::retry)?;
            tracing::warn!(%release, source, kept = rows.len(), %reason, "listings cut short");
            return Ok(Fetched::Failed(format!(
                "release {release}: {source}: {reason}; the {} listings read were kept and none marked gone",
                rows.len()
            )));
        }
        // Counted, then fresh, and fresh only once stored: a crash before this leaves the
        // release to fetch again. A read of some sellers' listings does not make the
        // release fresh: the next job tries the sources again.
        self.records
            .fetched(job, release, source)
            .await
            .map_err(HandleError::retry)?;
        if scope == ListingScope::Release {
            let stamp = seen_at.to_rfc3339_opts(SecondsFormat::Millis, true);
            self.freshness
                .mark_fresh(release, &stamp)
                .await
                .map_err(HandleError::retry)?;
        }
        tracing::debug!(%release, source, listings = rows.len(), inserted = changes.inserted, price_changed = changes.price_changed, gone = changes.gone, "listings stored");
        Ok(Fetched::Stored(changes))
    }

    /// The pre-check: whether the marketplace stats API says nothing is for sale, so that
    /// no page need be loaded. What it says of the lowest price is kept on the release for
    /// the next job's over-budget filter. A failure other than a retryable one only skips
    /// the pre-check: the pages are read as without it.
    async fn nothing_for_sale(&self, release: ReleaseId) -> Result<bool, HandleError> {
        let Some(discogs) = &self.stats else {
            return Ok(false);
        };
        let stats = match discogs.marketplace_stats(release, None).await {
            Ok(stats) => stats,
            // Discogs has no such release (any more): nothing is for sale.
            Err(DiscogsError::NotFound { .. }) => return Ok(true),
            // Only a shortcut: when the API cannot say, the pages are read as without it.
            Err(e) => {
                tracing::warn!(%release, error = %e, "marketplace stats unreadable: reading the pages");
                return Ok(false);
            }
        };
        let for_sale = stats
            .num_for_sale
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let mut stored = self
            .catalog
            .releases(&[release])
            .await
            .map_err(HandleError::retry)?;
        if let Some(row) = stored.pop() {
            let lowest_price = if for_sale == Some(0) {
                None
            } else {
                stats.lowest_price.or(row.lowest_price)
            };
            let row = Release {
                lowest_price,
                num_for_sale: for_sale,
                ..row
            };
            self.catalog
                .upsert_releases(&[row])
                .await
                .map_err(HandleError::retry)?;
        }
        Ok(for_sale == Some(0) || stats.blocked_from_sale)
    }

    /// Every listing of the release through `source`, page after page, up to `max_pages`.
    /// A page that holds fewer rows than its range promises is read again, up to
    /// [`SHORT_PAGE_READS`] times in all; if it stays short the read ends there, cut.
    async fn fetch(
        &self,
        source: &dyn ListingSource,
        release: ReleaseId,
    ) -> Result<PagesRead, DiscogsError> {
        let mut listings: Vec<PageListing> = Vec::new();
        let mut ids = HashSet::new();
        for page in 1..=self.settings.max_pages.max(1) {
            let mut reads = 0;
            let read = loop {
                reads += 1;
                let read = match source
                    .release_listings(release, page, self.settings.per_page)
                    .await
                {
                    Ok(read) => read,
                    // The listings shrank between two pages: what was read is all there
                    // is. (A missing first page means no such release, which the caller
                    // handles.)
                    Err(DiscogsError::NotFound { .. }) if page > 1 => {
                        return Ok(PagesRead {
                            listings,
                            cut: None,
                        });
                    }
                    Err(e) => return Err(e),
                };
                match read.missing_rows() {
                    Some(missing) if reads < SHORT_PAGE_READS => {
                        tracing::info!(%release, page, missing, "page cut short: reading it again");
                    }
                    _ => break read,
                }
            };
            if !read.skipped.is_empty() {
                tracing::warn!(%release, page, skipped = read.skipped.len(), first = ?read.skipped.first(), "listing rows could not be read");
            }
            let missing = read.missing_rows();
            let before = listings.len();
            listings.extend(read.listings.into_iter().filter(|l| ids.insert(l.id)));
            if let Some(missing) = missing {
                let cut = format!(
                    "page {page} stayed {missing} rows short of its own count after {reads} reads"
                );
                return Ok(PagesRead {
                    listings,
                    cut: Some(cut),
                });
            }
            let total = read.range.map_or(0, |r| r.total);
            let complete =
                listings.len() as u64 >= total || read.range.is_some_and(|r| r.last >= r.total);
            if complete || listings.len() == before {
                break;
            }
        }
        Ok(PagesRead {
            listings,
            cut: None,
        })
    }

    async fn done(
        &self,
        request: &events::MarketChunkRequested,
        items: u32,
        error: Option<String>,
    ) -> Result<(), HandleError> {
        let done = events::ChunkDone {
            job: request.job.clone(),
            stage: stage_to_pb(Stage::Market) as i32,
            chunk: request.chunk,
            items,
            failed: error.is_some(),
            error: error.unwrap_or_default(),
        };
        self.publisher
            .publish(&done)
            .await
            .map_err(HandleError::retry)
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
            let releases: Vec<ReleaseId> =
                event.release_ids.iter().map(|&id| ReleaseId(id)).collect();
            if let Err(e) = self.0.unread(&spec.id, &releases, &[]).await {
                tracing::warn!(error = %e, chunk = event.chunk, "could not record the chunk's unread releases");
            }
        }
        let _ = self
            .0
            .done(
                event,
                0,
                Some(job::gave_up("the marketplace could not be read", error)),
            )
            .await;
    }
}

//! The candidates stage of a carts job, and the market dispatcher.
//!
//! Consumes ProfileSynced (carts jobs): takes the user's wantlist from the Catalog and
//! their stored recommendations from the ResultsStore, drops releases whose lowest known
//! marketplace price (stored listings, else the release's stored price or, when enabled,
//! the marketplace stats API) is above the budget, mixes the rest to the job's wantlist
//! share with a sub-selection seeded by the job's seed, and for "any pressing" adds the
//! other pressings of each wanted master. The selection is stored once per job, so a
//! redelivered event reuses it whatever the random draw or the cache says by then.
//!
//! Then dispatches the market stage: releases whose listings are fresh (fetched within
//! the listing cache's lifetime) are skipped, the rest are split into chunks:
//! ChunksPlanned{market, m} and MarketChunkRequested x m (m may be 0).

mod select;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cratedigger_bus::EventBus;
use cratedigger_catalog::{Catalog, FxTable, InteractionKind, Release};
use cratedigger_discogs::DiscogsClient;
use cratedigger_discogs::api::PageRequest;
use cratedigger_domain::{
    CandidateOrigin, CandidateRelease, CandidateSet, JobKind, JobSpec, MasterId, Money,
    RecommendationSet, ReleaseId, Stage,
};
use cratedigger_kit::{
    EventHandler, HandleError, Publisher, Runnable, Worker, WorkerSettings, job, subscription,
};
use cratedigger_kv::KeyValue;
use cratedigger_proto::convert::{job_of, stage_to_pb};
use cratedigger_proto::events;
use cratedigger_results::{Collection, ResultsStore};
use cratedigger_status::{CandidateRecords, ListingFreshness, RecordError};
use serde::Deserialize;

pub use select::{mix, quotas};

pub const SERVICE: &str = "candidates";

/// Where the price that can drop an over-budget release comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// Stored listings and release prices only: no request to Discogs.
    #[default]
    Stored,
    /// Also the marketplace stats API for releases with nothing stored (one API request
    /// each, counted against the rate limit).
    StatsApi,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CandidatesSettings {
    /// Candidates when the job does not say.
    pub default_candidates: u32,
    /// A job with fewer candidates fails (`too_few_candidates`).
    pub min_candidates: u32,
    /// The most a job may ask for (larger asks are capped).
    pub max_candidates: u32,
    /// A wantlist item's score; a recommendation's is its score relative to the best one
    /// times `recommendation_weight`.
    pub wantlist_score: f64,
    pub recommendation_weight: f64,
    pub price_source: PriceSource,
    /// "Any pressing": at most this many other pressings per wanted master.
    pub max_pressings_per_master: u32,
    /// Releases per MarketChunkRequested.
    pub releases_per_chunk: u32,
    /// The listing cache's lifetime, shared with the other stage: the application sets
    /// it from its one `[listings] ttl_seconds`, so it is not read from this section.
    #[serde(skip_deserializing)]
    pub listing_ttl_seconds: u64,
    pub concurrency: usize,
}

impl Default for CandidatesSettings {
    fn default() -> Self {
        Self {
            default_candidates: 200,
            min_candidates: 1,
            max_candidates: 2_000,
            wantlist_score: 1.0,
            recommendation_weight: 0.5,
            price_source: PriceSource::Stored,
            max_pressings_per_master: 10,
            releases_per_chunk: 10,
            listing_ttl_seconds: 24 * 3600,
            concurrency: 4,
        }
    }
}

impl CandidatesSettings {
    pub fn listing_ttl(&self) -> Duration {
        Duration::from_secs(self.listing_ttl_seconds.max(1))
    }

    /// The size a job asks for, within the bounds.
    fn size_for(&self, asked: u32) -> usize {
        let asked = if asked == 0 {
            self.default_candidates
        } else {
            asked
        };
        asked.clamp(self.min_candidates.max(1), self.max_candidates.max(1)) as usize
    }
}

/// Why a job could not get enough candidates.
#[derive(Debug)]
struct TooFew {
    found: usize,
    message: String,
}

pub struct Candidates {
    catalog: Arc<dyn Catalog>,
    results: Arc<dyn ResultsStore>,
    discogs: DiscogsClient,
    records: CandidateRecords,
    freshness: ListingFreshness,
    publisher: Publisher,
    settings: CandidatesSettings,
}

impl Candidates {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        results: Arc<dyn ResultsStore>,
        kv: Arc<dyn KeyValue>,
        discogs: DiscogsClient,
        bus: Arc<dyn EventBus>,
        settings: CandidatesSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            catalog,
            results,
            discogs,
            records: CandidateRecords::new(kv.clone()),
            freshness: ListingFreshness::new(kv, settings.listing_ttl()),
            publisher: Publisher::new(bus),
            settings,
        })
    }

    pub fn workers(self: &Arc<Self>, worker: &WorkerSettings) -> Vec<Box<dyn Runnable>> {
        let settings = WorkerSettings {
            concurrency: self.settings.concurrency,
            ..worker.clone()
        };
        let spec = subscription::<events::ProfileSynced>(SERVICE);
        vec![Box::new(Worker::new(
            Arc::new(OnProfileSynced(self.clone())),
            self.publisher.bus().clone(),
            spec,
            settings,
        ))]
    }

    async fn on_profile_synced(&self, event: events::ProfileSynced) -> Result<(), HandleError> {
        let spec = job_of(event.job.as_ref()).map_err(HandleError::reject)?;
        if spec.kind != JobKind::Carts {
            return Ok(());
        }
        let job = event.job.clone().unwrap_or_default();
        let stored = self.records.load(&spec.id).await;
        let set = match stored {
            Ok(Some(set)) => set,
            Err(RecordError::Store(e)) => return Err(HandleError::retry(e)),
            Err(unreadable) => return self.unreadable(&job, &unreadable).await,
            Ok(None) => {
                let selected = match self.select(&spec).await? {
                    Ok(set) => set,
                    Err(too_few) => {
                        tracing::info!(found = too_few.found, "too few candidates");
                        CandidateSet {
                            too_few: Some(too_few.message),
                            ..CandidateSet::default()
                        }
                    }
                };
                // The first outcome stored is the job's, whichever delivery made it.
                match self.records.save_first(&spec.id, &selected).await {
                    Ok(set) => set,
                    Err(RecordError::Store(e)) => return Err(HandleError::retry(e)),
                    Err(unreadable) => return self.unreadable(&job, &unreadable).await,
                }
            }
        };
        if let Some(message) = set.too_few {
            let failed = job::failed(
                &job,
                Stage::Candidates,
                "too_few_candidates",
                message,
                false,
            );
            return self
                .publisher
                .publish(&failed)
                .await
                .map_err(HandleError::retry);
        }
        self.dispatch(&job, &set).await
    }

    /// Fails the job when its stored selection cannot be read: every redelivery would read
    /// the same bytes, and choosing again could give another answer for the same job.
    async fn unreadable(&self, job: &events::Job, error: &RecordError) -> Result<(), HandleError> {
        tracing::warn!(%error, "stored candidates unreadable");
        let message = "the job's stored candidates cannot be read; run the job again";
        let failed = job::failed(
            job,
            Stage::Candidates,
            "candidates_unreadable",
            message,
            true,
        );
        self.publisher
            .publish(&failed)
            .await
            .map_err(HandleError::retry)
    }

    /// Chooses the job's candidates and plans the market chunks.
    async fn select(&self, spec: &JobSpec) -> Result<Result<CandidateSet, TooFew>, HandleError> {
        let Some(criteria) = &spec.criteria else {
            return Err(HandleError::reject(anyhow::anyhow!(
                "carts job {} has no criteria",
                spec.id
            )));
        };
        let interactions = self
            .catalog
            .interactions(&spec.username)
            .await
            .map_err(HandleError::retry)?;
        let owned: HashSet<ReleaseId> = interactions.iter().map(|i| i.release_id).collect();
        let wanted: Vec<ReleaseId> = interactions
            .iter()
            .filter(|i| i.kind == InteractionKind::Want)
            .map(|i| i.release_id)
            .collect();
        let mut notes = Vec::new();
        let recommended = self.recommendations(spec, &owned, &mut notes).await?;

        let all_ids: Vec<ReleaseId> = wanted
            .iter()
            .copied()
            .chain(recommended.iter().map(|(id, _)| *id))
            .collect();
        let releases: HashMap<ReleaseId, Release> = self
            .catalog
            .releases(&all_ids)
            .await
            .map_err(HandleError::retry)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let master_of = |id: ReleaseId| {
            releases
                .get(&id)
                .and_then(|r| r.master_id)
                .filter(|m| m.0 != 0)
        };
        let wants: Vec<CandidateRelease> = wanted
            .iter()
            .map(|&release_id| CandidateRelease {
                release_id,
                master_id: master_of(release_id),
                score: self.settings.wantlist_score,
                origin: CandidateOrigin::Wantlist,
            })
            .collect();
        let best = recommended.iter().map(|(_, s)| *s).fold(0.0_f64, f64::max);
        let recommendations: Vec<CandidateRelease> = recommended
            .iter()
            .map(|&(release_id, score)| CandidateRelease {
                release_id,
                master_id: master_of(release_id),
                score: if best > 0.0 {
                    (score / best).max(0.0) * self.settings.recommendation_weight
                } else {
                    0.0
                },
                origin: CandidateOrigin::Recommendation,
            })
            .collect();

        let over_budget = self
            .over_budget(&all_ids, &releases, criteria.budget)
            .await?;
        let (wants, recommendations) = (
            wants
                .into_iter()
                .filter(|c| !over_budget.contains(&c.release_id))
                .collect::<Vec<_>>(),
            recommendations
                .into_iter()
                .filter(|c| !over_budget.contains(&c.release_id))
                .collect::<Vec<_>>(),
        );
        let size = self.settings.size_for(spec.limit);
        let available = wants.len() + recommendations.len();
        let minimum = self.settings.min_candidates.max(1) as usize;
        if available < minimum {
            let message = format!(
                "only {available} candidate releases within the budget ({} in the wantlist, {} recommended, {} priced above {}); at least {minimum} are needed",
                wanted.len(),
                recommended.len(),
                over_budget.len(),
                criteria.budget,
            );
            return Ok(Err(TooFew {
                found: available,
                message,
            }));
        }
        let mut chosen = mix(wants, recommendations, size, spec.wantlist_share, spec.seed);
        let from_wantlist = chosen
            .iter()
            .filter(|c| c.origin == CandidateOrigin::Wantlist)
            .count() as u32;
        let from_recommendations = chosen.len() as u32 - from_wantlist;
        let other_pressings = if criteria.any_pressing {
            self.add_other_pressings(&mut chosen, &owned).await?
        } else {
            0
        };

        let mut to_fetch = Vec::new();
        let mut cached = 0;
        for candidate in &chosen {
            if self
                .freshness
                .is_fresh(candidate.release_id)
                .await
                .map_err(HandleError::retry)?
            {
                cached += 1;
            } else {
                to_fetch.push(candidate.release_id);
            }
        }
        let per_chunk = self.settings.releases_per_chunk.max(1) as usize;
        let market_chunks = to_fetch
            .chunks(per_chunk)
            .map(<[ReleaseId]>::to_vec)
            .collect();
        tracing::info!(
            candidates = chosen.len(),
            from_wantlist,
            from_recommendations,
            other_pressings,
            over_budget = over_budget.len(),
            cached,
            to_fetch = to_fetch.len(),
            "candidates selected"
        );
        Ok(Ok(CandidateSet {
            releases: chosen,
            from_wantlist,
            from_recommendations,
            other_pressings,
            over_budget: over_budget.len() as u32,
            cached,
            market_chunks,
            notes,
            too_few: None,
        }))
    }

    /// The stored recommendations of the user (release, score), without what they own.
    async fn recommendations(
        &self,
        spec: &JobSpec,
        owned: &HashSet<ReleaseId>,
        notes: &mut Vec<String>,
    ) -> Result<Vec<(ReleaseId, f64)>, HandleError> {
        if spec.wantlist_share >= 1.0 {
            return Ok(Vec::new());
        }
        let stored = self
            .results
            .get(Collection::Recommendations, &spec.username.key())
            .await
            .map_err(HandleError::retry)?;
        let Some(set) =
            stored.and_then(|doc| serde_json::from_value::<RecommendationSet>(doc).ok())
        else {
            notes.push("no recommendations are stored for this user yet (run a recommendations job first): the candidates come from the wantlist".to_owned());
            return Ok(Vec::new());
        };
        Ok(set
            .releases
            .iter()
            .filter(|r| !owned.contains(&r.release_id))
            .map(|r| (r.release_id, f64::from(r.score).max(0.0)))
            .collect())
    }

    /// Releases whose cheapest known price, in the budget's currency, is above the budget.
    async fn over_budget(
        &self,
        ids: &[ReleaseId],
        releases: &HashMap<ReleaseId, Release>,
        budget: Money,
    ) -> Result<HashSet<ReleaseId>, HandleError> {
        let fx = FxTable::load(self.catalog.as_ref())
            .await
            .map_err(HandleError::retry)?;
        let in_budget_currency = |m: Money| fx.convert(m, budget.currency).map(|c| c.amount.minor);
        let mut lowest: HashMap<ReleaseId, i64> = HashMap::new();
        for listing in self
            .catalog
            .listings(ids, false)
            .await
            .map_err(HandleError::retry)?
        {
            if let (true, Some(price)) = (listing.available, in_budget_currency(listing.price)) {
                let entry = lowest.entry(listing.release_id).or_insert(price);
                *entry = (*entry).min(price);
            }
        }
        let mut over = HashSet::new();
        for &id in ids {
            let known = match lowest.get(&id) {
                Some(&price) => Some(price),
                None => {
                    let release = releases.get(&id);
                    let stored = release
                        .and_then(|r| r.lowest_price.or(r.median_price))
                        .and_then(in_budget_currency);
                    match (stored, self.settings.price_source) {
                        (Some(price), _) => Some(price),
                        (None, PriceSource::StatsApi) => self.stats_price(id, budget).await?,
                        (None, PriceSource::Stored) => None,
                    }
                }
            };
            if known.is_some_and(|price| price > budget.minor) {
                over.insert(id);
            }
        }
        Ok(over)
    }

    /// The lowest price the marketplace stats API gives, in the budget's currency; stored
    /// on the release so the next job need not ask.
    async fn stats_price(
        &self,
        release: ReleaseId,
        budget: Money,
    ) -> Result<Option<i64>, HandleError> {
        let stats = match self
            .discogs
            .marketplace_stats(release, Some(budget.currency))
            .await
        {
            Ok(stats) => stats,
            Err(e) if e.is_retryable() => return Err(HandleError::retry(e)),
            Err(e) => {
                tracing::warn!(%release, error = %e, "no marketplace stats");
                return Ok(None);
            }
        };
        if let Some(lowest) = stats.lowest_price {
            let mut stored = self
                .catalog
                .releases(&[release])
                .await
                .map_err(HandleError::retry)?;
            if let Some(row) = stored.pop() {
                let row = Release {
                    lowest_price: Some(lowest),
                    num_for_sale: stats.num_for_sale.map(|n| n as u32),
                    ..row
                };
                self.catalog
                    .upsert_releases(&[row])
                    .await
                    .map_err(HandleError::retry)?;
            }
        }
        Ok(stats
            .lowest_price
            .filter(|p| p.currency == budget.currency)
            .map(|p| p.minor))
    }

    /// "Any pressing": the other releases of each wanted master (known to the catalog, and
    /// the master's versions from the API), as candidates with the want's score.
    async fn add_other_pressings(
        &self,
        chosen: &mut Vec<CandidateRelease>,
        owned: &HashSet<ReleaseId>,
    ) -> Result<u32, HandleError> {
        let cap = self.settings.max_pressings_per_master as usize;
        let limit = self.settings.max_candidates as usize;
        let mut seen: HashSet<ReleaseId> = chosen.iter().map(|c| c.release_id).collect();
        let masters: Vec<(MasterId, f64)> = {
            let mut by_master: Vec<(MasterId, f64)> = Vec::new();
            for c in chosen
                .iter()
                .filter(|c| c.origin == CandidateOrigin::Wantlist)
            {
                if let Some(m) = c
                    .master_id
                    .filter(|m| !by_master.iter().any(|(seen, _)| seen == m))
                {
                    by_master.push((m, c.score));
                }
            }
            by_master
        };
        let mut added = 0;
        for (master, score) in masters {
            if chosen.len() >= limit {
                break;
            }
            let mut pressings = self
                .catalog
                .releases_of_master(master)
                .await
                .map_err(HandleError::retry)?;
            pressings.extend(self.master_versions(master).await?);
            let mut taken = 0;
            for release_id in pressings {
                if taken >= cap || chosen.len() >= limit {
                    break;
                }
                if owned.contains(&release_id) || !seen.insert(release_id) {
                    continue;
                }
                chosen.push(CandidateRelease {
                    release_id,
                    master_id: Some(master),
                    score,
                    origin: CandidateOrigin::Wantlist,
                });
                taken += 1;
                added += 1;
            }
        }
        Ok(added)
    }

    /// The first page of a master's versions, stored as releases; none if Discogs does
    /// not know the master.
    async fn master_versions(&self, master: MasterId) -> Result<Vec<ReleaseId>, HandleError> {
        let page = match self
            .discogs
            .master_versions(master, PageRequest::new(1, 100))
            .await
        {
            Ok(page) => page,
            Err(e) if e.is_retryable() => return Err(HandleError::retry(e)),
            Err(e) => {
                tracing::warn!(%master, error = %e, "no versions for master");
                return Ok(Vec::new());
            }
        };
        let releases: Vec<Release> = page
            .items
            .iter()
            .map(|v| Release {
                id: v.release_id,
                master_id: Some(master),
                title: v.title.clone(),
                artists: Vec::new(),
                year: v
                    .released
                    .as_deref()
                    .and_then(|r| r.get(..4))
                    .and_then(|y| y.parse().ok())
                    .filter(|y| *y > 0),
                formats: v.format.iter().map(String::clone).collect(),
                genres: Vec::new(),
                styles: Vec::new(),
                thumb: None,
                lowest_price: None,
                median_price: None,
                num_for_sale: None,
            })
            .collect();
        self.catalog
            .upsert_releases(&releases)
            .await
            .map_err(HandleError::retry)?;
        Ok(releases.into_iter().map(|r| r.id).collect())
    }

    /// Reports the selection and asks the market stage for the chunks (again, on a
    /// redelivery: the tracker counts each chunk once).
    async fn dispatch(&self, job: &events::Job, set: &CandidateSet) -> Result<(), HandleError> {
        let total = set.releases.len() as u32;
        let message = format!(
            "{total} candidate releases ({} from the wantlist, {} recommended{}); {} with listings fetched in the last day",
            set.from_wantlist,
            set.from_recommendations,
            match set.other_pressings {
                0 => String::new(),
                n => format!(", {n} other pressings"),
            },
            set.cached,
        );
        let progress = events::StageProgress {
            job: Some(job.clone()),
            stage: stage_to_pb(Stage::Candidates) as i32,
            done: total,
            total,
            message,
        };
        self.publisher
            .publish(&progress)
            .await
            .map_err(HandleError::retry)?;
        let planned = events::ChunksPlanned {
            job: Some(job.clone()),
            stage: stage_to_pb(Stage::Market) as i32,
            total: set.market_chunks.len() as u32,
        };
        self.publisher
            .publish(&planned)
            .await
            .map_err(HandleError::retry)?;
        for (chunk, releases) in set.market_chunks.iter().enumerate() {
            let request = events::MarketChunkRequested {
                job: Some(job.clone()),
                chunk: chunk as u32,
                release_ids: releases.iter().map(|r| r.0).collect(),
            };
            self.publisher
                .publish(&request)
                .await
                .map_err(HandleError::retry)?;
        }
        Ok(())
    }
}

struct OnProfileSynced(Arc<Candidates>);

#[async_trait]
impl EventHandler for OnProfileSynced {
    type Event = events::ProfileSynced;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        self.0.on_profile_synced(event).await
    }

    async fn give_up(&self, event: &Self::Event, error: &HandleError) {
        let is_carts = job_of(event.job.as_ref()).is_ok_and(|spec| spec.kind == JobKind::Carts);
        if let (true, Some(job)) = (is_carts, &event.job) {
            let message = job::gave_up("could not choose the candidates", error);
            let _ = self
                .0
                .publisher
                .publish(&job::failed(
                    job,
                    Stage::Candidates,
                    "candidates_failed",
                    message,
                    true,
                ))
                .await;
        }
    }
}

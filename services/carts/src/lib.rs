//! The carts stage of a carts job.
//!
//! Consumes StageCompleted{market} (carts jobs): loads the job's candidates, the stored
//! listings of those releases that are still offered and their sellers, prices everything
//! in the buyer's currency with the stored FX table (the asking price and the rate kept
//! beside the converted one), and runs the exact optimiser: the best carts from each
//! seller alone and the best carts across sellers with shipping. Stores the carts in the
//! ResultsStore under the job id, with links to every listing and seller on Discogs and
//! how much of the marketplace the job could read, then publishes JobCompleted. Writing
//! the same document twice changes nothing, so redelivery is safe.
//!
//! When some market chunks failed the carts use what was fetched (the status says
//! `partial`); when none of the candidates' listings could be read and none are stored,
//! the job fails with the reason.

mod instance;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use cratedigger_bus::EventBus;
use cratedigger_carts::{Cart, CartPlan, Optimality};
use cratedigger_catalog::{Catalog, FxTable};
use cratedigger_domain::{
    CandidateSet, CartSet, JobKind, JobSpec, ListingLink, MarketCoverage, ReleaseId,
    ReleaseSummary, SellerName, SellerSummary, Stage, listing_url, release_url, seller_url,
};
use cratedigger_kit::{
    EventHandler, HandleError, Publisher, Runnable, Worker, WorkerSettings, job, subscription,
};
use cratedigger_kv::KeyValue;
use cratedigger_proto::convert::{job_of, stage_from_pb, stage_to_pb};
use cratedigger_proto::events;
use cratedigger_results::{Collection, ResultsError, ResultsStore};
use cratedigger_status::{CandidateRecords, MarketRecords, RecordError};
use serde::Deserialize;

pub use instance::{Pricing, build as build_instance};

pub const SERVICE: &str = "carts";

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CartsSettings {
    /// What each further item of an order costs to ship, as a share of the first item,
    /// for sellers whose pages show only the first (the marketplace pages do).
    pub additional_item_share: f64,
    /// First-item shipping assumed for sellers whose shipping to the buyer is unknown, in
    /// the buyer's currency (major units); unset leaves those sellers out.
    pub assume_shipping: Option<f64>,
    /// The most seller sets the optimiser solves per scenario before it settles for the
    /// best cart found (the stored plan says what was proven).
    pub seller_sets_limit: u32,
    /// How long the optimiser may search for one job, in milliseconds (0: no limit). Past
    /// it the carts are the best found, and the plan and the job's message say how far
    /// from the best possible they may be.
    pub time_budget_ms: u64,
    pub concurrency: usize,
}

impl Default for CartsSettings {
    fn default() -> Self {
        Self {
            additional_item_share: 0.5,
            assume_shipping: None,
            seller_sets_limit: cratedigger_carts::Options::default().seller_sets_limit,
            time_budget_ms: 2000,
            concurrency: 2,
        }
    }
}

/// The document stored for a job, and the instance it was computed from.
pub struct Built {
    pub carts: CartSet,
    pub plan: CartPlan,
    pub instance: cratedigger_carts::Instance,
    pub options: cratedigger_carts::Options,
}

pub struct CartsStage {
    catalog: Arc<dyn Catalog>,
    results: Arc<dyn ResultsStore>,
    candidates: CandidateRecords,
    market: MarketRecords,
    publisher: Publisher,
    settings: CartsSettings,
}

impl CartsStage {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        results: Arc<dyn ResultsStore>,
        kv: Arc<dyn KeyValue>,
        bus: Arc<dyn EventBus>,
        settings: CartsSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            catalog,
            results,
            candidates: CandidateRecords::new(kv.clone()),
            market: MarketRecords::new(kv),
            publisher: Publisher::new(bus),
            settings,
        })
    }

    pub fn workers(self: &Arc<Self>, worker: &WorkerSettings) -> Vec<Box<dyn Runnable>> {
        let settings = WorkerSettings {
            concurrency: self.settings.concurrency,
            ..worker.clone()
        };
        let spec = subscription::<events::StageCompleted>(SERVICE);
        vec![Box::new(Worker::new(
            Arc::new(OnStageCompleted(self.clone())),
            self.publisher.bus().clone(),
            spec,
            settings,
        ))]
    }

    async fn on_stage_completed(&self, event: events::StageCompleted) -> Result<(), HandleError> {
        let spec = job_of(event.job.as_ref()).map_err(HandleError::reject)?;
        if spec.kind != JobKind::Carts || stage_from_pb(event.stage).ok() != Some(Stage::Market) {
            return Ok(());
        }
        let job = event.job.clone().unwrap_or_default();
        if let Some(stored) = self
            .results
            .get(Collection::Carts, spec.id.as_str())
            .await
            .map_err(HandleError::retry)?
        {
            // Redelivered after the carts were stored: they are the job's answer (and may
            // have been read already), so they stay as they are and are announced again.
            let plan: Option<CartPlan> = stored
                .get("plan")
                .cloned()
                .and_then(|plan| serde_json::from_value(plan).ok());
            let done = job::completed(
                &job,
                format!("carts/{}", spec.id),
                plan.as_ref().map(summary).unwrap_or_default(),
            );
            return self
                .publisher
                .publish(&done)
                .await
                .map_err(HandleError::retry);
        }
        let candidates = match self.candidates.load(&spec.id).await {
            Ok(Some(candidates)) => candidates,
            Ok(None) => {
                let message = "the job's candidates are no longer stored; run the job again";
                let failed = job::failed(&job, Stage::Carts, "candidates_missing", message, true);
                return self
                    .publisher
                    .publish(&failed)
                    .await
                    .map_err(HandleError::retry);
            }
            Err(RecordError::Store(e)) => return Err(HandleError::retry(e)),
            Err(unreadable) => {
                tracing::warn!(error = %unreadable, "stored candidates unreadable");
                let message = "the job's stored candidates cannot be read; run the job again";
                let failed =
                    job::failed(&job, Stage::Carts, "candidates_unreadable", message, true);
                return self
                    .publisher
                    .publish(&failed)
                    .await
                    .map_err(HandleError::retry);
            }
        };
        let progress = events::StageProgress {
            job: Some(job.clone()),
            stage: stage_to_pb(Stage::Carts) as i32,
            done: 0,
            total: 1,
            message: "building carts".to_owned(),
        };
        self.publisher
            .publish(&progress)
            .await
            .map_err(HandleError::retry)?;

        let built = self.build(&spec, &candidates).await?;
        let market = &built.carts.market;
        let nothing_read = market.releases > 0
            && market.failed == market.releases
            && built.instance.listings.is_empty();
        if nothing_read {
            let mut message = format!(
                "the marketplace could not be read for any of the {} candidate releases, and none of their listings are stored",
                built.carts.market.releases
            );
            if let Some(note) = coverage_note(market) {
                message = format!("{message}: {note}");
            }
            let failed = job::failed(&job, Stage::Market, "market_unavailable", message, true);
            return self
                .publisher
                .publish(&failed)
                .await
                .map_err(HandleError::retry);
        }
        let document = serde_json::to_value(&built.carts).map_err(HandleError::reject)?;
        self.results
            .put(Collection::Carts, spec.id.as_str(), &document)
            .await
            .map_err(|e| match e {
                // Storing it again would be refused again: fail the job now, with the reason.
                ResultsError::Rejected { .. } => HandleError::reject(e),
                other => HandleError::retry(other),
            })?;
        let message = match coverage_note(&built.carts.market) {
            Some(note) => format!("{}; {note}", summary(&built.plan)),
            None => summary(&built.plan),
        };
        tracing::info!(job = %spec.id, listings = built.instance.listings.len(), %message, "carts stored");
        let done = job::completed(&job, format!("carts/{}", spec.id), message);
        self.publisher
            .publish(&done)
            .await
            .map_err(HandleError::retry)
    }

    /// Builds the job's carts from what is stored now (without storing them).
    pub async fn build(
        &self,
        spec: &JobSpec,
        candidates: &CandidateSet,
    ) -> Result<Built, HandleError> {
        let Some(criteria) = spec.criteria.clone() else {
            return Err(HandleError::reject(anyhow::anyhow!(
                "carts job {} has no criteria",
                spec.id
            )));
        };
        let ids: Vec<ReleaseId> = candidates.releases.iter().map(|c| c.release_id).collect();
        let listings = self
            .catalog
            .listings(&ids, false)
            .await
            .map_err(HandleError::retry)?;
        let names: Vec<SellerName> = listings
            .iter()
            .map(|l| l.seller.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let sellers = self
            .catalog
            .sellers(&names)
            .await
            .map_err(HandleError::retry)?;
        let fx = FxTable::load(self.catalog.as_ref())
            .await
            .map_err(HandleError::retry)?;
        let currency = criteria.budget.currency;
        let (instance, options, pricing) = instance::build(
            candidates,
            &listings,
            &sellers,
            &fx,
            currency,
            &self.settings,
        );

        let (search, search_criteria, search_options) =
            (instance.clone(), criteria.clone(), options.clone());
        let plan = tokio::task::spawn_blocking(move || {
            cratedigger_carts::optimise(&search, &search_criteria, &search_options)
        })
        .await
        .map_err(HandleError::retry)?
        .map_err(HandleError::reject)?;

        let (fetched, failed) = self
            .market
            .outcome(&spec.id)
            .await
            .map_err(HandleError::retry)?;
        let wanted: HashSet<ReleaseId> = ids.iter().copied().collect();
        let fetched = fetched.iter().filter(|r| wanted.contains(r)).count() as u32;
        let failed = failed.iter().filter(|r| wanted.contains(r)).count() as u32;
        let sources = self
            .market
            .sources(&spec.id, &wanted)
            .await
            .map_err(HandleError::retry)?;
        let market = MarketCoverage {
            releases: ids.len() as u32,
            fetched,
            cached: (ids.len() as u32).saturating_sub(fetched + failed),
            failed,
            sources,
        };

        let in_carts = carts_of(&plan);
        let release_ids: Vec<ReleaseId> = in_carts
            .iter()
            .flat_map(|c| c.lines.iter().map(|l| l.release))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let seller_names: BTreeSet<&SellerName> = in_carts
            .iter()
            .flat_map(|c| c.lines.iter().map(|l| &l.seller))
            .collect();
        let listing_ids: BTreeSet<_> = in_carts
            .iter()
            .flat_map(|c| c.lines.iter().map(|l| l.listing))
            .collect();
        let mut releases: Vec<ReleaseSummary> = self
            .catalog
            .releases(&release_ids)
            .await
            .map_err(HandleError::retry)?
            .into_iter()
            .map(|r| ReleaseSummary {
                id: r.id,
                title: r.title,
                artists: r.artists,
                year: r.year,
                thumb: r.thumb,
                url: release_url(r.id),
            })
            .collect();
        releases.sort_by_key(|r| r.id);
        let sellers_out: Vec<SellerSummary> = sellers
            .iter()
            .filter(|s| seller_names.contains(&s.name))
            .map(|s| SellerSummary {
                name: s.name.as_str().to_owned(),
                rating: s.rating,
                ratings: s.ratings_count,
                ships_from: s.ships_from.as_ref().map(ToString::to_string),
                url: seller_url(s.name.as_str()),
            })
            .collect();

        let mut notes = candidates.notes.clone();
        notes.extend(pricing_notes(&pricing, &self.settings, &plan));
        notes.extend(coverage_note(&market));
        let carts = CartSet {
            job_id: spec.id.as_str().to_owned(),
            username: spec.username.as_str().to_owned(),
            criteria,
            seed: spec.seed,
            generated_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            plan: serde_json::to_value(&plan).map_err(HandleError::reject)?,
            releases,
            sellers: sellers_out,
            listings: listing_ids
                .into_iter()
                .map(|id| ListingLink {
                    id,
                    url: listing_url(id),
                })
                .collect(),
            fx_rates: pricing.fx.clone(),
            market,
            notes,
        };
        Ok(Built {
            carts,
            plan,
            instance,
            options,
        })
    }
}

/// What the buyer should know about where the listings came from: how many releases
/// could not be read, which source met what, what to do about a bot challenge, and how
/// many releases were searched only in some sellers' inventories.
fn coverage_note(market: &MarketCoverage) -> Option<String> {
    let from_inventories = market
        .sources
        .iter()
        .filter(|s| s.source == INVENTORY_SOURCE)
        .map(|s| s.served)
        .sum::<u32>();
    if market.failed == 0 && from_inventories == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if market.failed > 0 {
        parts.push(format!(
            "the listings of {} of {} candidate releases could not be read; the carts use the rest",
            market.failed, market.releases
        ));
    }
    if from_inventories > 0 {
        parts.push(format!(
            "{from_inventories} of {} candidate releases were searched only in the inventories of the sellers named in the criteria and of those seen selling them before: other sellers' listings of them are missing",
            market.releases
        ));
    }
    let mut note = parts.join("; ");
    let tried: Vec<String> = market
        .sources
        .iter()
        .map(|s| {
            format!(
                "{}: {} read, {} blocked, {} failed",
                s.source, s.served, s.blocked, s.failed
            )
        })
        .collect();
    if !tried.is_empty() {
        note.push_str(&format!(" ({})", tried.join("; ")));
    }
    if market.sources.iter().any(|s| s.blocked > 0) {
        note.push_str(". The marketplace answered with a bot challenge: enable the browser source (market.sources), name sellers whose inventories to search (criteria.sellers), or upload the release pages saved from your own browser (POST /api/v1/listings/uploads), and run the job again");
    }
    Some(note)
}

/// The market stage's name for its inventory source.
const INVENTORY_SOURCE: &str = "inventory";

/// Every cart the plan holds (scenarios, then each seller's).
fn carts_of(plan: &CartPlan) -> Vec<&Cart> {
    plan.scenarios
        .iter()
        .filter_map(|s| s.cart.as_ref())
        .chain(
            plan.per_seller
                .iter()
                .flat_map(|s| s.by_total_score.iter().chain(s.by_original_weight.iter())),
        )
        .collect()
}

fn pricing_notes(pricing: &Pricing, settings: &CartsSettings, plan: &CartPlan) -> Vec<String> {
    let mut notes = Vec::new();
    if pricing.estimated_additional > 0 {
        notes.push(format!(
            "shipping for each further item is estimated at {:.0}% of the first for {} sellers (their pages show only the first)",
            settings.additional_item_share * 100.0,
            pricing.estimated_additional
        ));
    }
    if pricing.unknown_shipping > 0 {
        notes.push(match settings.assume_shipping {
            Some(amount) => format!(
                "shipping of {} sellers is unknown and assumed to be {amount:.2}",
                pricing.unknown_shipping
            ),
            None => format!(
                "{} sellers do not say what shipping to you costs and are left out",
                pricing.unknown_shipping
            ),
        });
    }
    if pricing.built_in_rates {
        notes.push("some prices were converted with built-in indicative exchange rates; store current rates for exact totals".to_owned());
    }
    if !pricing.no_rate.is_empty() {
        let codes: Vec<&str> = pricing.no_rate.iter().map(|c| c.as_str()).collect();
        notes.push(format!(
            "listings priced in {} are left out: no exchange rate is known",
            codes.join(", ")
        ));
    }
    for scenario in &plan.scenarios {
        let sellers = scenario
            .max_sellers
            .map_or_else(|| "any number of".to_owned(), |m| format!("at most {m}"));
        match scenario.optimality {
            Optimality::Proven => {}
            Optimality::ScoreProven => {
                let cause = if plan.timed_out {
                    "the time budget ran out"
                } else {
                    "the search reached its limit of seller sets (many sellers tie)"
                };
                notes.push(format!(
                    "the cart from {sellers} sellers has the highest score possible; {cause} before a cheaper cart with the same score was ruled out"
                ))
            }
            Optimality::BestFound { score_bound } => {
                let gap = scenario
                    .cart
                    .as_ref()
                    .and_then(|cart| gap(score_bound, cart));
                let within = gap.map_or_else(String::new, |g| {
                    format!(" (at most {g:.2}% below the best possible)")
                });
                notes.push(format!(
                    "the cart from {sellers} sellers is the best the search found; no cart scores above {score_bound:.2}{within}"
                ));
            }
        }
    }
    if plan.timed_out {
        notes.push(format!(
            "the optimiser stopped at its time budget ({:.1} s): the carts are the best it found in that time",
            settings.time_budget_ms as f64 / 1000.0
        ));
    }
    if let Some(reason) = plan.empty {
        notes.push(format!("no cart: {reason}"));
    }
    notes
}

/// How far below `score_bound` the cart's score may be, in percent; none when the bound
/// says nothing (not positive or not finite).
fn gap(score_bound: f64, cart: &Cart) -> Option<f64> {
    (score_bound.is_finite() && score_bound > 0.0)
        .then(|| ((score_bound - cart.score) / score_bound).max(0.0) * 100.0)
}

/// One line for the status: the best cart across sellers, or why there is none.
fn summary(plan: &CartPlan) -> String {
    let best = plan
        .scenarios
        .iter()
        .filter_map(|s| s.cart.as_ref())
        .max_by(|a, b| a.score.total_cmp(&b.score));
    let unproven = plan
        .scenarios
        .iter()
        .find(|s| s.max_sellers.is_none())
        .and_then(|s| match (s.optimality, &s.cart) {
            (Optimality::BestFound { score_bound }, Some(cart)) => gap(score_bound, cart),
            _ => None,
        });
    let caveat = match (unproven, plan.timed_out) {
        (Some(gap), true) => format!(
            "; the best found within the time budget, at most {gap:.2}% below the best possible"
        ),
        (Some(gap), false) => {
            format!("; the best found, at most {gap:.2}% below the best possible")
        }
        (None, true) => "; the optimiser stopped at its time budget (see the notes)".to_owned(),
        (None, false) => String::new(),
    };
    match (best, plan.empty) {
        (Some(cart), _) => format!(
            "best cart: {} records from {} sellers for {} ({} shipping){caveat}",
            cart.item_count, cart.seller_count, cart.total, cart.shipping_total
        ),
        (None, Some(reason)) => format!("no cart: {reason}"),
        (None, None) => "no cart".to_owned(),
    }
}

struct OnStageCompleted(Arc<CartsStage>);

#[async_trait]
impl EventHandler for OnStageCompleted {
    type Event = events::StageCompleted;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        self.0.on_stage_completed(event).await
    }

    async fn give_up(&self, event: &Self::Event, error: &HandleError) {
        let ours = stage_from_pb(event.stage).ok() == Some(Stage::Market)
            && job_of(event.job.as_ref()).is_ok_and(|spec| spec.kind == JobKind::Carts);
        if let (true, Some(job)) = (ours, &event.job) {
            let message = job::gave_up("could not build the carts", error);
            let _ = self
                .0
                .publisher
                .publish(&job::failed(
                    job,
                    Stage::Carts,
                    "carts_failed",
                    message,
                    true,
                ))
                .await;
        }
    }
}

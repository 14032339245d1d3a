//! The scraper stage.
//!
//! Consumes ChunkRequested: fetches pages `first_page..=last_page` of a user's wantlist or
//! collection through the Discogs client (which waits for the shared rate limiter and
//! retries 429 and 5xx), upserts the releases and the user's interactions, stamped with
//! the job's sync id, into the Catalog, then publishes ChunkDone. Upserts keyed by natural
//! ids make a redelivered chunk harmless. A wantlist that turned private fails the job; a
//! page past the end of a list that shrank since the plan ends the chunk there; a chunk
//! that keeps failing is reported as a failed ChunkDone so the tracker can conclude.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use cratedigger_bus::EventBus;
use cratedigger_catalog::{Catalog, Interaction, InteractionKind, Release};
use cratedigger_discogs::api::PageRequest;
use cratedigger_discogs::api::ReleaseEntry;
use cratedigger_discogs::{DiscogsClient, DiscogsError};
use cratedigger_domain::Stage;
use cratedigger_kit::{
    EventHandler, HandleError, Publisher, Runnable, Worker, WorkerSettings, job, subscription,
};
use cratedigger_proto::convert::job_of;
use cratedigger_proto::events;

pub const SERVICE: &str = "scraper";

pub struct Scraper {
    catalog: Arc<dyn Catalog>,
    discogs: DiscogsClient,
    publisher: Publisher,
    concurrency: usize,
}

impl Scraper {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        discogs: DiscogsClient,
        bus: Arc<dyn EventBus>,
        concurrency: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            catalog,
            discogs,
            publisher: Publisher::new(bus),
            concurrency,
        })
    }

    pub fn workers(self: &Arc<Self>, worker: &WorkerSettings) -> Vec<Box<dyn Runnable>> {
        let settings = WorkerSettings {
            concurrency: self.concurrency,
            ..worker.clone()
        };
        // A chunk may wait minutes for the shared rate limiter; its lease is renewed while
        // this worker holds it, and returns within the default deadline if it dies.
        let spec = subscription::<events::ChunkRequested>(SERVICE);
        vec![Box::new(Worker::new(
            Arc::new(OnChunkRequested(self.clone())),
            self.publisher.bus().clone(),
            spec,
            settings,
        ))]
    }

    async fn scrape(&self, request: events::ChunkRequested) -> Result<(), HandleError> {
        let spec = job_of(request.job.as_ref()).map_err(HandleError::reject)?;
        let pb_job = request.job.clone().unwrap_or_default();
        let kind = match events::InteractionList::try_from(request.list) {
            Ok(events::InteractionList::Wantlist) => InteractionKind::Want,
            Ok(events::InteractionList::Collection) => InteractionKind::Have,
            _ => {
                return Err(HandleError::reject(anyhow::anyhow!(
                    "chunk {} names no list",
                    request.chunk
                )));
            }
        };
        let mut releases = Vec::new();
        let mut interactions = Vec::new();
        for page in request.first_page..=request.last_page.max(request.first_page) {
            let page_request = PageRequest::new(page, request.per_page);
            let result = match kind {
                InteractionKind::Want => {
                    self.discogs
                        .wantlist_page(&spec.username, page_request)
                        .await
                }
                InteractionKind::Have => {
                    self.discogs
                        .collection_page(&spec.username, page_request)
                        .await
                }
            };
            let page = match result {
                Ok(page) => page,
                Err(e) if e.is_page_out_of_range() => {
                    // The list shrank since the sync was planned: it ends before this page.
                    tracing::info!(
                        page,
                        list = kind.as_str(),
                        "the list now ends before this page"
                    );
                    break;
                }
                Err(DiscogsError::NotFound { .. }) if kind == InteractionKind::Want => {
                    let message = format!(
                        "the wantlist of {} is private or missing; sign in with Discogs to read it",
                        spec.username
                    );
                    let failed =
                        job::failed(&pb_job, Stage::Profile, "wantlist_private", message, false);
                    self.publisher
                        .publish(&failed)
                        .await
                        .map_err(HandleError::retry)?;
                    return self
                        .done(&request, 0, Some("the wantlist is private"))
                        .await;
                }
                Err(e) if e.is_retryable() => return Err(HandleError::retry(e)),
                Err(e) => return Err(HandleError::reject(e)),
            };
            for entry in &page.items {
                releases.push(release_of(entry));
                interactions.push(Interaction {
                    release_id: entry.release_id,
                    kind,
                    added_at: entry.date_added.map(|d| d.with_timezone(&Utc)),
                    weight: 1.0,
                });
            }
            if page.pagination.is_last() {
                break;
            }
        }
        self.catalog
            .upsert_releases(&releases)
            .await
            .map_err(HandleError::retry)?;
        self.catalog
            .upsert_interactions(&spec.username, &interactions, spec.id.as_str())
            .await
            .map_err(HandleError::retry)?;
        tracing::info!(
            chunk = request.chunk,
            items = interactions.len(),
            list = kind.as_str(),
            "chunk stored"
        );
        self.done(&request, interactions.len() as u32, None).await
    }

    async fn done(
        &self,
        request: &events::ChunkRequested,
        items: u32,
        error: Option<&str>,
    ) -> Result<(), HandleError> {
        let done = events::ChunkDone {
            job: request.job.clone(),
            stage: events::Stage::Profile as i32,
            chunk: request.chunk,
            items,
            failed: error.is_some(),
            error: error.unwrap_or_default().to_owned(),
        };
        self.publisher
            .publish(&done)
            .await
            .map_err(HandleError::retry)
    }
}

/// The release as the wantlist or collection describes it.
fn release_of(entry: &ReleaseEntry) -> Release {
    Release {
        id: entry.release_id,
        master_id: entry.master_id,
        title: entry.title.clone(),
        artists: entry.artists.iter().map(|a| a.name.clone()).collect(),
        year: entry.year.filter(|y| *y > 0),
        formats: entry
            .formats
            .iter()
            .map(|f| {
                std::iter::once(f.name.as_str())
                    .chain(f.descriptions.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect(),
        genres: entry.genres.clone(),
        styles: entry.styles.clone(),
        thumb: entry.thumb.clone(),
        lowest_price: None,
        median_price: None,
        num_for_sale: None,
    }
}

struct OnChunkRequested(Arc<Scraper>);

#[async_trait]
impl EventHandler for OnChunkRequested {
    type Event = events::ChunkRequested;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        self.0.scrape(event).await
    }

    /// Out of attempts (or rejected): report the chunk as failed so the tracker concludes.
    async fn give_up(&self, event: &Self::Event, error: &HandleError) {
        let _ = self.0.done(event, 0, Some(&error.to_string())).await;
    }
}

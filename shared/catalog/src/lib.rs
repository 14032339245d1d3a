//! The Catalog port: everything cratedigger knows about Discogs, stored relationally.
//!
//! Consumed by the profile, scraper, trainer, recommender, candidates, market and carts
//! stages. Every write is an upsert keyed by natural ids (username, release id, listing
//! id, seller name), so a redelivered message that writes the same rows again changes
//! nothing. Interactions carry the id of the sync that last saw them, so a finished sync
//! can remove what the user no longer has ([`Catalog::prune_interactions`]).
//!
//! Adapters: [`SqliteCatalog`] (a file, the one-process mode) and [`PostgresCatalog`]
//! (one schema of a server), both through sqlx. Each owns its schema through its own
//! embedded migrations (`migrations/sqlite`, `migrations/postgres`); nothing else writes
//! those tables. Times are kept to the microsecond in both. Chosen once, from settings.
//!
//! The `conformance` feature exposes [`conformance`], the suite every adapter passes.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod fx;
mod listing_plan;
mod model;
mod postgres;
mod sql;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cratedigger_domain::{ListingId, MasterId, ReleaseId, SellerName, Username};
use futures::stream::BoxStream;

pub use fx::{Converted, FxTable};
pub use postgres::{PostgresCatalog, PostgresCatalogSettings};
pub use sqlite::SqliteCatalog;

pub use model::{
    FxRate, Interaction, InteractionKind, Listing, ListingChanges, ModelVersion, PricePoint,
    Release, Seller, UserProfile,
};

#[async_trait]
pub trait Catalog: Send + Sync {
    /// Applies the adapter's migrations (idempotent).
    async fn migrate(&self) -> Result<(), CatalogError>;

    // ---- users
    async fn user(&self, username: &Username) -> Result<Option<UserProfile>, CatalogError>;
    /// Inserts or replaces the user row.
    async fn upsert_user(&self, user: &UserProfile) -> Result<(), CatalogError>;

    // ---- interactions (a user's wantlist and collection)
    /// Inserts or updates the user's interactions, stamping them with `sync_id`.
    async fn upsert_interactions(
        &self,
        username: &Username,
        interactions: &[Interaction],
        sync_id: &str,
    ) -> Result<(), CatalogError>;
    /// Deletes the user's interactions of `kind` not stamped with `sync_id` (they were not
    /// seen by the sync that just completed); returns how many.
    async fn prune_interactions(
        &self,
        username: &Username,
        kind: InteractionKind,
        sync_id: &str,
    ) -> Result<u64, CatalogError>;
    async fn interactions(&self, username: &Username) -> Result<Vec<Interaction>, CatalogError>;
    /// Every interaction of every user, ordered by username (for training), streamed from
    /// the database rather than loaded. Each user's rows come together; the order between
    /// users follows the database's collation.
    fn all_interactions(&self) -> BoxStream<'_, Result<(Username, Interaction), CatalogError>>;

    // ---- releases
    /// Inserts or updates releases by id. Optional fields left None and empty lists mean
    /// "not known to this writer" and keep what is stored (the wantlist knows a title, the
    /// marketplace its prices); every other field replaces. Within one call the last
    /// release of an id wins.
    async fn upsert_releases(&self, releases: &[Release]) -> Result<(), CatalogError>;
    /// The releases among `ids` that are known (in no particular order).
    async fn releases(&self, ids: &[ReleaseId]) -> Result<Vec<Release>, CatalogError>;
    /// The known releases of a master (its pressings).
    async fn releases_of_master(&self, master: MasterId) -> Result<Vec<ReleaseId>, CatalogError>;

    // ---- marketplace
    /// Inserts or updates sellers by name; as with releases, None keeps the stored value.
    async fn upsert_sellers(&self, sellers: &[Seller]) -> Result<(), CatalogError>;
    async fn sellers(&self, names: &[SellerName]) -> Result<Vec<Seller>, CatalogError>;
    /// Records the listings seen for one release at `seen_at`: new ones are inserted,
    /// known ones updated (a price-history point is appended when the price changed),
    /// and listings of this release not in `listings` are marked gone. Idempotent: the
    /// same call twice changes nothing the second time.
    ///
    /// Also: a listing is marked gone once (a later absence does not move `gone_at`) and
    /// a gone listing seen again is no longer gone; an observation older than what is
    /// stored for a listing (a delayed redelivery) changes nothing about it, and cannot
    /// mark a listing gone that a newer scrape saw; a listing whose `release_id` is not
    /// `release` is `Rejected`; `first_seen`, `last_seen` and `gone_at` of the input are
    /// ignored. A reappearance is counted by its price (`price_changed` or `unchanged`).
    async fn record_listings(
        &self,
        release: ReleaseId,
        listings: &[Listing],
        seen_at: DateTime<Utc>,
    ) -> Result<ListingChanges, CatalogError> {
        self.record_seen_listings(release, listings, &ListingScope::Release, seen_at)
            .await
    }
    /// [`Catalog::record_listings`] for a read that saw only part of the release's
    /// listings (`scope`): only stored listings within the scope can be marked gone.
    async fn record_seen_listings(
        &self,
        release: ReleaseId,
        listings: &[Listing],
        scope: &ListingScope,
        seen_at: DateTime<Utc>,
    ) -> Result<ListingChanges, CatalogError>;
    /// Listings of these releases; gone ones only when asked.
    async fn listings(
        &self,
        releases: &[ReleaseId],
        include_gone: bool,
    ) -> Result<Vec<Listing>, CatalogError>;
    /// A listing's prices over time, oldest first (the first point is its first price).
    async fn price_history(&self, listing: ListingId) -> Result<Vec<PricePoint>, CatalogError>;

    // ---- currency conversion
    async fn upsert_fx_rates(&self, rates: &[FxRate]) -> Result<(), CatalogError>;
    /// The newest rate of every currency.
    async fn latest_fx_rates(&self) -> Result<Vec<FxRate>, CatalogError>;

    // ---- models
    async fn record_model_version(&self, version: &ModelVersion) -> Result<(), CatalogError>;
    async fn latest_model_version(&self) -> Result<Option<ModelVersion>, CatalogError>;
}

/// Which of a release's listings a read could see, and so which of those stored it can
/// declare gone by their absence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListingScope {
    /// All of them: the release's marketplace pages.
    Release,
    /// Only these sellers' (their inventories, each read in full); names compare without
    /// regard to case, as Discogs usernames do. Listings of other sellers are kept.
    Sellers(Vec<SellerName>),
}

impl ListingScope {
    pub fn covers(&self, seller: &str) -> bool {
        match self {
            Self::Release => true,
            Self::Sellers(names) => names
                .iter()
                .any(|n| n.as_str().eq_ignore_ascii_case(seller)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The database could not be reached, timed out, or a transaction conflicted: retry.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// The data cannot be stored (a constraint, a value out of range): do not retry.
    #[error("catalog rejected the data: {0}")]
    Rejected(String),
    /// Stored data could not be read back into the domain types.
    #[error("catalog row is unreadable: {0}")]
    Corrupt(String),
    #[error("catalog migration failed: {0}")]
    Migration(String),
}

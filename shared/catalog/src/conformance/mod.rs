//! The contract every [`Catalog`] adapter must meet, written once and run against each
//! (`tests/conformance.rs` runs it on SQLite in memory, SQLite on a file, and Postgres in a
//! fresh schema). Enabled by the `conformance` feature.
//!
//! Each behaviour takes a fresh, migrated catalog and panics with a readable message when
//! the adapter breaks the contract. Writes are checked for idempotency by applying them
//! twice and comparing everything that can be read back.

#![allow(clippy::unwrap_used)]

mod concurrency;
mod interactions;
mod listings;
mod reference;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use cratedigger_domain::{Currency, ListingId, Money, ReleaseId, SellerName, Username};

pub use concurrency::{concurrent_scrapes_of_one_release_record_once, concurrent_upserts_converge};
pub use interactions::{
    all_interactions_streams_grouped_by_username, interactions_upsert_idempotently,
    large_batches_are_stored_whole, prune_removes_what_the_sync_did_not_see,
};
pub use listings::{
    a_read_of_some_sellers_leaves_the_others_alone, listing_lifecycle_keeps_an_exact_price_history,
    listings_are_scoped_to_their_release, stale_scrapes_change_nothing,
};
pub use reference::{
    catalogs_are_isolated, fx_rates_latest_per_currency, migrate_is_idempotent,
    model_versions_latest_wins, releases_round_trip_and_merge, sellers_round_trip_and_merge,
    unrepresentable_values_are_rejected, users_round_trip_at_microsecond_precision,
};

use crate::{Catalog, Listing};

/// A catalog under test.
pub type Subject = Arc<dyn Catalog>;

/// A fixed moment plus `seconds`, with a microsecond fraction so precision is exercised.
pub fn at(seconds: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap();
    base + chrono::Duration::seconds(seconds) + chrono::Duration::microseconds(589_793)
}

pub fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

pub fn eur(cents: i64) -> Money {
    Money::new(cents, Currency::EUR)
}

/// A plain available listing of `release` by `shop`.
pub fn listing(id: u64, release: u64, cents: i64) -> Listing {
    Listing {
        id: ListingId(id),
        release_id: ReleaseId(release),
        seller: SellerName::new("shop"),
        price: eur(cents),
        shipping: None,
        media: None,
        sleeve: None,
        comments: None,
        available: true,
        first_seen: None,
        last_seen: None,
        gone_at: None,
    }
}

/// Everything the catalog holds about some releases' listings: rows and price histories.
pub(crate) async fn listing_state(
    c: &Subject,
    releases: &[u64],
) -> Vec<(Listing, Vec<crate::PricePoint>)> {
    let ids: Vec<ReleaseId> = releases.iter().copied().map(ReleaseId).collect();
    let mut rows = c.listings(&ids, true).await.unwrap();
    rows.sort_by_key(|l| l.id);
    let mut state = Vec::new();
    for row in rows {
        let history = c.price_history(row.id).await.unwrap();
        state.push((row, history));
    }
    state
}

//! What one marketplace scrape of a release changes, decided once for both adapters.
//!
//! The adapters read what they already know about the release's listings, ask
//! [`plan_listings`] what to write, and write it in the same transaction. Keeping the
//! decisions here (pure, no I/O) means SQLite and Postgres cannot drift apart on the
//! subtle parts:
//!
//! - an observation older than what is stored (a redelivered, delayed scrape) changes
//!   nothing: neither fields nor prices, and it cannot declare a listing gone that a newer
//!   scrape saw, nor revive one that a newer scrape found gone;
//! - a listing is marked gone once; a later absence does not move `gone_at`;
//! - a price point is appended for a new listing and whenever the price or its currency
//!   changes, including when a gone listing comes back at another price.

use std::collections::{BTreeMap, HashMap};

use cratedigger_domain::ReleaseId;

use crate::sql::rows::{KnownListingRow, ListingRow, to_i64};
use crate::sql::timestamp::Timestamp;
use crate::{CatalogError, Listing, ListingChanges, ListingScope};

#[derive(Debug, Default)]
pub(crate) struct ListingPlan {
    /// Listings never seen before (first seen now).
    pub insert: Vec<ListingRow>,
    /// Known listings seen again: every field, `last_seen` now, no longer gone.
    pub update: Vec<ListingRow>,
    /// Prices to append to the history, each at `seen_at`.
    pub price_points: Vec<NewPricePoint>,
    /// Listings of the release that this scrape no longer shows.
    pub gone: Vec<i64>,
    pub changes: ListingChanges,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NewPricePoint {
    pub listing_id: i64,
    pub price_minor: i64,
    pub price_currency: String,
}

/// Plans a scrape of `release` seen at `seen_at`, which saw the listings `scope` says.
/// `known` holds the stored listings of the release and any stored listing among
/// `listings` (whatever its release).
pub(crate) fn plan_listings(
    release: ReleaseId,
    listings: &[Listing],
    scope: &ListingScope,
    seen_at: Timestamp,
    known: Vec<KnownListingRow>,
) -> Result<ListingPlan, CatalogError> {
    let release_id = to_i64(release.0, "release id")?;
    // One row per listing id, the last occurrence winning (a listing can show up on two
    // pages when the marketplace reorders while it is being read); in id order.
    let mut seen = BTreeMap::new();
    for listing in listings {
        if listing.release_id != release {
            return Err(CatalogError::Rejected(format!(
                "listing {} belongs to release {}, not to release {release}",
                listing.id, listing.release_id
            )));
        }
        let row = ListingRow::from_domain(listing, seen_at)?;
        seen.insert(row.listing_id, row);
    }
    let known: HashMap<i64, KnownListingRow> =
        known.into_iter().map(|k| (k.listing_id, k)).collect();

    let mut gone: Vec<i64> = known
        .values()
        .filter(|k| {
            k.release_id == release_id
                && !seen.contains_key(&k.listing_id)
                && scope.covers(&k.seller)
                && k.gone_at.is_none()
                && k.last_seen <= seen_at
        })
        .map(|k| k.listing_id)
        .collect();
    gone.sort_unstable();

    let mut plan = ListingPlan {
        changes: ListingChanges {
            gone: u32::try_from(gone.len()).unwrap_or(u32::MAX),
            ..Default::default()
        },
        gone,
        ..Default::default()
    };
    for (listing_id, row) in seen {
        let Some(stored) = known.get(&listing_id) else {
            plan.price_points.push(price_point(&row));
            plan.insert.push(row);
            plan.changes.inserted += 1;
            continue;
        };
        if seen_at < latest_observation(stored) {
            plan.changes.unchanged += 1;
            continue;
        }
        if stored.price_minor != row.price_minor || stored.price_currency != row.price_currency {
            plan.price_points.push(price_point(&row));
            plan.changes.price_changed += 1;
        } else {
            plan.changes.unchanged += 1;
        }
        plan.update.push(row);
    }
    Ok(plan)
}

/// The newest time anything was learnt about a stored listing.
fn latest_observation(stored: &KnownListingRow) -> Timestamp {
    stored
        .gone_at
        .map_or(stored.last_seen, |gone| gone.max(stored.last_seen))
}

fn price_point(row: &ListingRow) -> NewPricePoint {
    NewPricePoint {
        listing_id: row.listing_id,
        price_minor: row.price_minor,
        price_currency: row.price_currency.clone(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use cratedigger_domain::{Currency, ListingId, Money, SellerName};

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::new(
            DateTime::<Utc>::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default(),
        )
    }

    fn listing(id: u64, cents: i64) -> Listing {
        Listing {
            id: ListingId(id),
            release_id: ReleaseId(7),
            seller: SellerName::new("shop"),
            price: Money::new(cents, Currency::EUR),
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

    fn known(
        id: i64,
        cents: i64,
        last_seen: Timestamp,
        gone_at: Option<Timestamp>,
    ) -> KnownListingRow {
        KnownListingRow {
            listing_id: id,
            release_id: 7,
            seller: "shop".into(),
            price_minor: cents,
            price_currency: "EUR".into(),
            last_seen,
            gone_at,
        }
    }

    fn plan(listings: &[Listing], seen_at: Timestamp, stored: Vec<KnownListingRow>) -> ListingPlan {
        plan_listings(
            ReleaseId(7),
            listings,
            &ListingScope::Release,
            seen_at,
            stored,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn new_listings_are_inserted_with_a_first_price() {
        let p = plan(&[listing(1, 500), listing(2, 700)], at(0), vec![]);
        assert_eq!(
            p.changes,
            ListingChanges {
                inserted: 2,
                ..Default::default()
            }
        );
        assert_eq!(p.price_points.len(), 2);
        assert!(p.update.is_empty() && p.gone.is_empty());
    }

    #[test]
    fn a_price_change_appends_a_point_and_absence_marks_gone_once() {
        let stored = vec![
            known(1, 500, at(0), None),
            known(2, 700, at(0), None),
            known(3, 900, at(0), Some(at(0))),
        ];
        let p = plan(&[listing(1, 450)], at(10), stored);
        assert_eq!(
            p.changes,
            ListingChanges {
                price_changed: 1,
                gone: 1,
                ..Default::default()
            }
        );
        assert_eq!(p.gone, vec![2], "3 was already gone");
        assert_eq!(p.price_points[0].price_minor, 450);
    }

    #[test]
    fn stale_observations_change_nothing() {
        let stored = vec![
            known(1, 500, at(20), None),
            known(2, 700, at(20), None),
            known(3, 900, at(5), Some(at(20))),
        ];
        let p = plan(&[listing(1, 1), listing(3, 900)], at(10), stored);
        assert_eq!(
            p.changes,
            ListingChanges {
                unchanged: 2,
                ..Default::default()
            }
        );
        assert!(p.update.is_empty() && p.price_points.is_empty() && p.gone.is_empty());
    }

    #[test]
    fn a_listing_of_another_release_is_rejected() {
        let mut foreign = listing(1, 500);
        foreign.release_id = ReleaseId(8);
        let result = plan_listings(
            ReleaseId(7),
            &[foreign],
            &ListingScope::Release,
            at(0),
            vec![],
        );
        assert!(matches!(result, Err(CatalogError::Rejected(_))));
    }

    #[test]
    fn a_read_of_some_sellers_marks_only_their_listings_gone() {
        let mut theirs = known(2, 700, at(0), None);
        theirs.seller = "Other".into();
        let stored = vec![known(1, 500, at(0), None), theirs];
        let scope = ListingScope::Sellers(vec![SellerName::new("other")]);
        let p = plan_listings(ReleaseId(7), &[], &scope, at(10), stored).unwrap();
        assert_eq!(
            p.gone,
            vec![2],
            "shop's listing 1 was outside what was read"
        );
    }

    #[test]
    fn duplicates_in_one_scrape_count_once_and_the_last_wins() {
        let p = plan(&[listing(1, 500), listing(1, 600)], at(0), vec![]);
        assert_eq!(p.changes.inserted, 1);
        assert_eq!(p.insert[0].price_minor, 600);
    }
}

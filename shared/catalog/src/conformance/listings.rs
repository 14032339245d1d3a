//! Marketplace scrapes: the life of a listing and its exact price history.

use cratedigger_domain::{
    Currency, ListingId, MediaCondition, Money, ReleaseId, SellerName, SleeveCondition,
};

use super::{Subject, at, eur, listing, listing_state};
use crate::{Listing, ListingChanges, ListingScope, PricePoint};

const RELEASE: u64 = 249_504;

fn changes(inserted: u32, price_changed: u32, gone: u32, unchanged: u32) -> ListingChanges {
    ListingChanges {
        inserted,
        price_changed,
        gone,
        unchanged,
    }
}

/// Records a scrape twice: the second time must change nothing and report everything
/// unchanged. Returns the first call's changes.
async fn scrape(c: &Subject, listings: &[Listing], seconds: i64) -> ListingChanges {
    let first = c
        .record_listings(ReleaseId(RELEASE), listings, at(seconds))
        .await
        .unwrap();
    let state = listing_state(c, &[RELEASE]).await;
    let again = c
        .record_listings(ReleaseId(RELEASE), listings, at(seconds))
        .await
        .unwrap();
    let total = u32::try_from(listings.len()).unwrap();
    assert_eq!(
        again,
        changes(0, 0, 0, total),
        "repeating the scrape at {seconds} s"
    );
    assert_eq!(
        listing_state(c, &[RELEASE]).await,
        state,
        "repeating the scrape at {seconds} s changed the catalog"
    );
    first
}

async fn history(c: &Subject, id: u64) -> Vec<(Money, i64)> {
    let points: Vec<PricePoint> = c.price_history(ListingId(id)).await.unwrap();
    points
        .into_iter()
        .map(|p| (p.price, (p.seen_at - at(0)).num_seconds()))
        .collect()
}

async fn stored(c: &Subject, id: u64) -> Listing {
    let all = c.listings(&[ReleaseId(RELEASE)], true).await.unwrap();
    all.into_iter().find(|l| l.id == ListingId(id)).unwrap()
}

fn detailed(id: u64, cents: i64) -> Listing {
    Listing {
        seller: SellerName::new("Vinyl Shop Ü"),
        shipping: Some(Money::new(650, Currency::GBP)),
        media: Some(MediaCondition::VeryGoodPlus),
        sleeve: Some(SleeveCondition::Generic),
        comments: Some("Shrink intact; \"ring wear\" — see photos".into()),
        available: false,
        ..listing(id, RELEASE, cents)
    }
}

pub async fn listing_lifecycle_keeps_an_exact_price_history(c: Subject) {
    // First sight: both inserted with their first price.
    let l1 = detailed(1, 1000);
    let l2 = listing(2, RELEASE, 2000);
    assert_eq!(
        scrape(&c, &[l1.clone(), l2.clone()], 0).await,
        changes(2, 0, 0, 0)
    );
    let first = stored(&c, 1).await;
    assert_eq!(
        first,
        Listing {
            first_seen: Some(at(0)),
            last_seen: Some(at(0)),
            gone_at: None,
            ..l1.clone()
        },
        "every field round-trips; the catalog stamps the times"
    );
    assert_eq!(history(&c, 1).await, vec![(eur(1000), 0)]);

    // A price drop appends a point; fields may change without a price change.
    let l1_cheaper = detailed(1, 900);
    let l2_edited = Listing {
        comments: Some("now with insert".into()),
        media: Some(MediaCondition::Mint),
        ..l2.clone()
    };
    assert_eq!(
        scrape(&c, &[l1_cheaper.clone(), l2_edited.clone()], 10).await,
        changes(0, 1, 0, 1)
    );
    assert_eq!(history(&c, 1).await, vec![(eur(1000), 0), (eur(900), 10)]);
    assert_eq!(history(&c, 2).await, vec![(eur(2000), 0)]);
    let l2_now = stored(&c, 2).await;
    assert_eq!(l2_now.comments.as_deref(), Some("now with insert"));
    assert_eq!(
        (l2_now.first_seen, l2_now.last_seen),
        (Some(at(0)), Some(at(10)))
    );

    // Listing 2 disappears: gone once, and a later absence does not move gone_at.
    assert_eq!(
        scrape(&c, std::slice::from_ref(&l1_cheaper), 20).await,
        changes(0, 0, 1, 1)
    );
    assert_eq!(stored(&c, 2).await.gone_at, Some(at(20)));
    assert_eq!(
        scrape(&c, std::slice::from_ref(&l1_cheaper), 30).await,
        changes(0, 0, 0, 1)
    );
    assert_eq!(
        stored(&c, 2).await.gone_at,
        Some(at(20)),
        "gone_at does not move"
    );
    let current = c.listings(&[ReleaseId(RELEASE)], false).await.unwrap();
    assert_eq!(
        current.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![ListingId(1)],
        "gone listings hidden"
    );

    // It comes back at a new price: no longer gone, one more point.
    let l2_back = Listing {
        price: eur(2500),
        ..l2_edited.clone()
    };
    assert_eq!(
        scrape(&c, &[l1_cheaper.clone(), l2_back.clone()], 40).await,
        changes(0, 1, 0, 1)
    );
    let back = stored(&c, 2).await;
    assert_eq!(
        (back.gone_at, back.last_seen, back.first_seen),
        (None, Some(at(40)), Some(at(0)))
    );
    assert_eq!(history(&c, 2).await, vec![(eur(2000), 0), (eur(2500), 40)]);

    // A change of currency alone is a price change.
    let l1_dollars = Listing {
        price: Money::new(900, Currency::USD),
        ..l1_cheaper.clone()
    };
    assert_eq!(
        scrape(&c, &[l1_dollars, l2_back.clone()], 50).await,
        changes(0, 1, 0, 1)
    );
    let dollars = history(&c, 1).await;
    assert_eq!(dollars.last(), Some(&(Money::new(900, Currency::USD), 50)));
    assert_eq!(dollars.len(), 3);

    // Gone and back at the same price: unchanged, no new point.
    let l1_dollars = Listing {
        price: Money::new(900, Currency::USD),
        ..l1_cheaper
    };
    assert_eq!(
        scrape(&c, std::slice::from_ref(&l1_dollars), 60).await,
        changes(0, 0, 1, 1)
    );
    assert_eq!(
        scrape(&c, &[l1_dollars, l2_back], 70).await,
        changes(0, 0, 0, 2)
    );
    assert_eq!(stored(&c, 2).await.gone_at, None);
    assert_eq!(history(&c, 2).await.len(), 2);

    // Everything gone at once (an empty page).
    assert_eq!(scrape(&c, &[], 80).await, changes(0, 0, 2, 0));
    assert!(
        c.listings(&[ReleaseId(RELEASE)], false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        c.listings(&[ReleaseId(RELEASE)], true).await.unwrap().len(),
        2
    );
}

/// At-least-once delivery can hand a scrape over after a newer one was recorded: the
/// older observation must not roll anything back.
pub async fn stale_scrapes_change_nothing(c: Subject) {
    let l1 = listing(1, RELEASE, 1000);
    let l2 = listing(2, RELEASE, 2000);
    c.record_listings(ReleaseId(RELEASE), &[l1.clone(), l2.clone()], at(0))
        .await
        .unwrap();
    c.record_listings(
        ReleaseId(RELEASE),
        &[Listing {
            price: eur(800),
            ..l1.clone()
        }],
        at(100),
    )
    .await
    .unwrap();
    let before = listing_state(&c, &[RELEASE]).await;

    // Delayed scrape from t=50: saw listing 1 at its old price and listing 2 still listed.
    let stale = c
        .record_listings(ReleaseId(RELEASE), &[l1.clone(), l2.clone()], at(50))
        .await
        .unwrap();
    assert_eq!(stale, changes(0, 0, 0, 2));
    // Another from t=60 that no longer saw listing 1: too old to declare it gone.
    let stale = c
        .record_listings(ReleaseId(RELEASE), &[], at(60))
        .await
        .unwrap();
    assert_eq!(stale, changes(0, 0, 0, 0));
    assert_eq!(listing_state(&c, &[RELEASE]).await, before);

    // A new listing in a delayed scrape is still news.
    let l3 = listing(3, RELEASE, 300);
    let late = c
        .record_listings(ReleaseId(RELEASE), &[l1, l3], at(70))
        .await
        .unwrap();
    assert_eq!(late, changes(1, 0, 0, 1));
}

pub async fn listings_are_scoped_to_their_release(c: Subject) {
    let other = RELEASE + 1;
    c.record_listings(
        ReleaseId(other),
        &[listing(10, other, 100), listing(11, other, 200)],
        at(0),
    )
    .await
    .unwrap();
    c.record_listings(ReleaseId(RELEASE), &[listing(1, RELEASE, 500)], at(0))
        .await
        .unwrap();
    // A scrape of RELEASE that lists nothing marks only RELEASE's listings gone.
    let result = c
        .record_listings(ReleaseId(RELEASE), &[], at(10))
        .await
        .unwrap();
    assert_eq!(result, changes(0, 0, 1, 0));
    let theirs = c.listings(&[ReleaseId(other)], false).await.unwrap();
    assert_eq!(theirs.len(), 2, "another release's listings are untouched");
    let both = c
        .listings(&[ReleaseId(RELEASE), ReleaseId(other)], true)
        .await
        .unwrap();
    assert_eq!(both.len(), 3);
    assert!(c.listings(&[], true).await.unwrap().is_empty());
    assert!(c.price_history(ListingId(999)).await.unwrap().is_empty());
}

/// A read of some sellers' inventories: their listings are recorded as a page's would be,
/// and only their absent listings are gone; other sellers' listings stay as they were.
pub async fn a_read_of_some_sellers_leaves_the_others_alone(c: Subject) {
    let by = |id: u64, seller: &str, cents: i64| Listing {
        seller: SellerName::new(seller),
        ..listing(id, RELEASE, cents)
    };
    c.record_listings(
        ReleaseId(RELEASE),
        &[
            by(1, "Crates-R-Us", 500),
            by(2, "crates-r-us", 600),
            by(3, "elsewhere", 700),
        ],
        at(0),
    )
    .await
    .unwrap();
    let scope = ListingScope::Sellers(vec![SellerName::new("CRATES-R-US")]);
    let read = [by(1, "Crates-R-Us", 450)];
    let first = c
        .record_seen_listings(ReleaseId(RELEASE), &read, &scope, at(10))
        .await
        .unwrap();
    assert_eq!(
        first,
        changes(0, 1, 1, 0),
        "2 is gone, 3 is not that seller's"
    );
    let again = c
        .record_seen_listings(ReleaseId(RELEASE), &read, &scope, at(10))
        .await
        .unwrap();
    assert_eq!(again, changes(0, 0, 0, 1));
    let live: Vec<u64> = c
        .listings(&[ReleaseId(RELEASE)], false)
        .await
        .unwrap()
        .iter()
        .map(|l| l.id.0)
        .collect();
    assert_eq!(live, vec![1, 3]);
    // A read that saw no seller in full declares nothing gone.
    let none = c
        .record_seen_listings(
            ReleaseId(RELEASE),
            &[],
            &ListingScope::Sellers(Vec::new()),
            at(20),
        )
        .await
        .unwrap();
    assert_eq!(none, changes(0, 0, 0, 0));
}

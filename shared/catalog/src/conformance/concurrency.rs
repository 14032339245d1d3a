//! Many replicas (or one message delivered several times) writing the same rows at once.

use cratedigger_domain::{ListingId, ReleaseId, SellerName};
use tokio::task::JoinSet;

use super::{Subject, at, eur, listing, listing_state, user};
use crate::{Interaction, InteractionKind, ListingChanges, Release, Seller, UserProfile};

const TASKS: usize = 16;

fn wants(count: u64) -> Vec<Interaction> {
    (1..=count)
        .map(|r| Interaction {
            release_id: ReleaseId(r),
            kind: InteractionKind::Want,
            added_at: Some(at(r as i64)),
            weight: 1.0,
        })
        .collect()
}

/// The same user, interactions, releases and sellers upserted by many tasks at once (as
/// a redelivered message racing its original): no task fails and the result is the
/// same as one write.
pub async fn concurrent_upserts_converge(c: Subject) {
    let digger = user("digger");
    let profile = UserProfile {
        username: digger.clone(),
        discogs_id: Some(42),
        wantlist_count: 300,
        collection_count: 0,
        newest_want_added: Some(at(300)),
        newest_have_added: None,
        last_synced_at: Some(at(400)),
    };
    let releases: Vec<Release> = (1..=300_u64)
        .map(|id| Release {
            id: ReleaseId(id),
            master_id: None,
            title: format!("R{id}"),
            artists: vec!["A".into()],
            year: Some(1990),
            formats: vec![],
            genres: vec![],
            styles: vec![],
            thumb: None,
            lowest_price: Some(eur(100)),
            median_price: None,
            num_for_sale: Some(1),
        })
        .collect();
    let sellers: Vec<Seller> = (0..50)
        .map(|n| Seller {
            name: SellerName::new(format!("shop {n}")),
            rating: Some(100.0),
            ratings_count: Some(n),
            ships_from: None,
            shipping_first: None,
            shipping_additional: None,
            min_order_total: None,
        })
        .collect();

    let mut tasks = JoinSet::new();
    for task in 0..TASKS {
        let (c, digger, profile, mut releases, mut sellers) = (
            c.clone(),
            digger.clone(),
            profile.clone(),
            releases.clone(),
            sellers.clone(),
        );
        tasks.spawn(async move {
            // Callers pass rows in any order; adapters must not deadlock on it.
            let mut mine = wants(300);
            if task % 2 == 1 {
                mine.reverse();
                releases.reverse();
                sellers.reverse();
            }
            c.upsert_interactions(&digger, &mine, "sync").await?;
            c.upsert_releases(&releases).await?;
            c.upsert_sellers(&sellers).await?;
            c.upsert_user(&profile).await?;
            // Different users in parallel too.
            c.upsert_interactions(&user(&format!("user{task}")), &wants(50), "sync")
                .await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap().unwrap();
    }

    let mut stored = c.interactions(&digger).await.unwrap();
    stored.sort_by_key(|i| i.release_id);
    assert_eq!(stored, wants(300));
    assert_eq!(c.user(&digger).await.unwrap(), Some(profile));
    let ids: Vec<ReleaseId> = releases.iter().map(|r| r.id).collect();
    assert_eq!(c.releases(&ids).await.unwrap().len(), 300);
    let names: Vec<SellerName> = sellers.iter().map(|s| s.name.clone()).collect();
    assert_eq!(c.sellers(&names).await.unwrap().len(), 50);
    for task in 0..TASKS {
        assert_eq!(
            c.interactions(&user(&format!("user{task}")))
                .await
                .unwrap()
                .len(),
            50
        );
    }
}

/// One scrape recorded by many tasks at once: exactly one of them inserts each listing,
/// the rest see it unchanged, and each listing has exactly one price point.
pub async fn concurrent_scrapes_of_one_release_record_once(c: Subject) {
    const RELEASE: u64 = 77;
    let listings: Vec<_> = (1..=40)
        .map(|id| listing(id, RELEASE, 100 * id as i64))
        .collect();
    let mut tasks = JoinSet::new();
    for _ in 0..TASKS {
        let (c, listings) = (c.clone(), listings.clone());
        tasks.spawn(async move {
            c.record_listings(ReleaseId(RELEASE), &listings, at(0))
                .await
        });
    }
    let mut total = ListingChanges::default();
    while let Some(joined) = tasks.join_next().await {
        let changes = joined.unwrap().unwrap();
        total.inserted += changes.inserted;
        total.price_changed += changes.price_changed;
        total.gone += changes.gone;
        total.unchanged += changes.unchanged;
    }
    let expected_unchanged = 40 * (TASKS as u32 - 1);
    assert_eq!(
        total,
        ListingChanges {
            inserted: 40,
            price_changed: 0,
            gone: 0,
            unchanged: expected_unchanged
        }
    );
    let state = listing_state(&c, &[RELEASE]).await;
    assert_eq!(state.len(), 40);
    for (listing, history) in state {
        assert_eq!(
            history.len(),
            1,
            "listing {} has one price point",
            listing.id
        );
    }
    assert_eq!(
        c.price_history(ListingId(40)).await.unwrap()[0].price,
        eur(4000)
    );
}

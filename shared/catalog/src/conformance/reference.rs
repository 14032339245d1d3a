//! Users, releases, sellers, FX rates, model versions; migrations, isolation, rejections.

use chrono::{NaiveDate, Timelike};
use cratedigger_domain::{Country, Currency, ListingId, MasterId, Money, ReleaseId, SellerName};
use serde_json::json;

use super::{Subject, at, eur, listing, user};
use crate::{
    CatalogError, FxRate, Interaction, InteractionKind, ModelVersion, Release, Seller, UserProfile,
};

pub async fn migrate_is_idempotent(c: Subject) {
    c.migrate().await.unwrap();
    c.migrate().await.unwrap();
    users_round_trip_at_microsecond_precision(c).await;
}

pub async fn users_round_trip_at_microsecond_precision(c: Subject) {
    let name = user("rodneyfool");
    assert_eq!(c.user(&name).await.unwrap(), None, "unknown users are None");

    let nanos = at(0).with_nanosecond(123_456_789).unwrap();
    let mut profile = UserProfile {
        username: name.clone(),
        discogs_id: Some(1_234_567),
        wantlist_count: 5000,
        collection_count: u32::MAX,
        newest_want_added: Some(nanos),
        newest_have_added: Some(at(-86_400 * 365 * 60)),
        last_synced_at: Some(at(60)),
    };
    c.upsert_user(&profile).await.unwrap();
    c.upsert_user(&profile).await.unwrap();
    let stored = c.user(&name).await.unwrap().unwrap();
    assert_eq!(
        stored.newest_want_added.unwrap().nanosecond(),
        123_456_000,
        "times keep microseconds and drop nanoseconds"
    );
    profile.newest_want_added = stored.newest_want_added;
    assert_eq!(stored, profile);

    // Upserting replaces the whole row, unknown fields included.
    let replaced = UserProfile {
        discogs_id: None,
        wantlist_count: 1,
        newest_have_added: None,
        last_synced_at: None,
        ..profile
    };
    c.upsert_user(&replaced).await.unwrap();
    assert_eq!(c.user(&name).await.unwrap(), Some(replaced));
}

fn release(id: u64) -> Release {
    Release {
        id: ReleaseId(id),
        master_id: Some(MasterId(id / 10)),
        title: format!("Record {id}"),
        artists: vec!["Artist".into(), "Другой".into()],
        year: Some(1977),
        formats: vec!["Vinyl".into(), "LP".into()],
        genres: vec!["Jazz".into()],
        styles: vec!["Hard Bop".into(), "Modal".into()],
        thumb: Some(format!("https://img.example/{id}.jpg")),
        lowest_price: Some(eur(1250)),
        median_price: Some(Money::new(2000, Currency::JPY)),
        num_for_sale: Some(7),
    }
}

pub async fn releases_round_trip_and_merge(c: Subject) {
    let known = vec![release(100), release(101), release(250)];
    c.upsert_releases(&known).await.unwrap();
    c.upsert_releases(&known).await.unwrap();
    c.upsert_releases(&[]).await.unwrap();
    // The same release twice in one call: the last one wins.
    let renamed = Release {
        title: "Record 250, second thoughts".into(),
        ..release(250)
    };
    c.upsert_releases(&[release(250), renamed.clone()])
        .await
        .unwrap();
    assert_eq!(c.releases(&[ReleaseId(250)]).await.unwrap(), vec![renamed]);

    let mut read = c
        .releases(&[ReleaseId(101), ReleaseId(100), ReleaseId(999)])
        .await
        .unwrap();
    read.sort_by_key(|r| r.id);
    assert_eq!(read, known[..2].to_vec(), "known releases only, as written");
    assert!(c.releases(&[]).await.unwrap().is_empty());
    let mut pressings = c.releases_of_master(MasterId(10)).await.unwrap();
    pressings.sort();
    assert_eq!(pressings, vec![ReleaseId(100), ReleaseId(101)]);
    assert!(c.releases_of_master(MasterId(77)).await.unwrap().is_empty());

    // A source that knows less (no prices, no genres) does not erase what another stored;
    // what it does know replaces the stored value.
    let partial = Release {
        title: "Record 100 (remastered)".into(),
        genres: vec![],
        lowest_price: None,
        median_price: None,
        num_for_sale: None,
        thumb: None,
        year: None,
        master_id: None,
        styles: vec!["Post Bop".into()],
        ..release(100)
    };
    c.upsert_releases(&[partial]).await.unwrap();
    let merged = c.releases(&[ReleaseId(100)]).await.unwrap();
    let expected = Release {
        title: "Record 100 (remastered)".into(),
        styles: vec!["Post Bop".into()],
        ..release(100)
    };
    assert_eq!(merged, vec![expected]);
}

fn seller(name: &str) -> Seller {
    Seller {
        name: SellerName::new(name),
        rating: Some(99.5),
        ratings_count: Some(1200),
        ships_from: Some(Country::new("Germany")),
        shipping_first: Some(eur(450)),
        shipping_additional: Some(eur(100)),
        min_order_total: Some(Money::new(1000, Currency::GBP)),
    }
}

pub async fn sellers_round_trip_and_merge(c: Subject) {
    let shops = vec![
        seller("Vinyl Shop Ü"),
        seller("tiny"),
        seller("another-shop"),
    ];
    c.upsert_sellers(&shops).await.unwrap();
    c.upsert_sellers(&shops).await.unwrap();
    let doubled = [
        seller("twice"),
        Seller {
            rating: Some(50.0),
            ..seller("twice")
        },
    ];
    c.upsert_sellers(&doubled).await.unwrap();
    let twice = c.sellers(&[SellerName::new("twice")]).await.unwrap();
    assert_eq!(
        twice,
        vec![doubled[1].clone()],
        "the last of duplicates wins"
    );
    let mut read = c
        .sellers(&[
            SellerName::new("tiny"),
            SellerName::new("Vinyl Shop Ü"),
            SellerName::new("nobody"),
        ])
        .await
        .unwrap();
    read.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(read, vec![shops[0].clone(), shops[1].clone()]);

    // A listing page shows a seller's shipping but not their rating or country.
    let partial = Seller {
        rating: None,
        ratings_count: None,
        ships_from: None,
        shipping_first: Some(eur(500)),
        shipping_additional: None,
        min_order_total: None,
        ..shops[1].clone()
    };
    c.upsert_sellers(&[partial]).await.unwrap();
    let merged = c.sellers(&[SellerName::new("tiny")]).await.unwrap();
    let expected = Seller {
        shipping_first: Some(eur(500)),
        ..shops[1].clone()
    };
    assert_eq!(
        merged,
        vec![expected],
        "unknown fields keep stored values, known ones replace them"
    );
}

pub async fn fx_rates_latest_per_currency(c: Subject) {
    assert!(c.latest_fx_rates().await.unwrap().is_empty());
    let day = |d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
    let rate = |code, per_base, d| FxRate {
        currency: Currency::new(code).unwrap(),
        per_base,
        date: day(d),
    };
    let rates = vec![
        rate("USD", 1.08, 1),
        rate("USD", 1.10, 3),
        rate("USD", 1.09, 2),
        rate("JPY", 160.25, 2),
        rate("GBP", 0.85, 1),
        rate("GBP", 0.84, 1),
        rate("GBP", 0.85, 1),
    ];
    c.upsert_fx_rates(&rates).await.unwrap();
    c.upsert_fx_rates(&rates).await.unwrap();
    let mut latest = c.latest_fx_rates().await.unwrap();
    latest.sort_by_key(|r| r.currency);
    assert_eq!(
        latest,
        vec![
            rate("GBP", 0.85, 1),
            rate("JPY", 160.25, 2),
            rate("USD", 1.10, 3)
        ]
    );

    // A correction for a day replaces that day's rate.
    c.upsert_fx_rates(&[rate("USD", 1.11, 3)]).await.unwrap();
    let usd = c
        .latest_fx_rates()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.currency == Currency::USD);
    assert_eq!(usd, Some(rate("USD", 1.11, 3)));
}

pub async fn model_versions_latest_wins(c: Subject) {
    assert_eq!(c.latest_model_version().await.unwrap(), None);
    let model = |version: &str, seconds| ModelVersion {
        version: version.into(),
        trained_at: at(seconds),
        users: 2000,
        items: 17_632,
        params: json!({"factors": 64, "regularization": 0.01, "alpha": 40.0, "iterations": 15}),
        metrics: json!({"precision_at_10": 0.1875, "ndcg": {"at_10": 0.21}}),
        location: format!("models/{version}"),
    };
    // Recorded out of order: the newest training time wins, not the newest write.
    for m in [model("v2", 200), model("v3", 300), model("v1", 100)] {
        c.record_model_version(&m).await.unwrap();
        c.record_model_version(&m).await.unwrap();
    }
    assert_eq!(
        c.latest_model_version().await.unwrap(),
        Some(model("v3", 300))
    );
}

pub async fn catalogs_are_isolated(a: Subject, b: Subject) {
    let name = user("isolated");
    let profile = UserProfile {
        username: name.clone(),
        discogs_id: None,
        wantlist_count: 1,
        collection_count: 0,
        newest_want_added: None,
        newest_have_added: None,
        last_synced_at: None,
    };
    a.upsert_user(&profile).await.unwrap();
    let want = Interaction {
        release_id: ReleaseId(1),
        kind: InteractionKind::Want,
        added_at: None,
        weight: 1.0,
    };
    a.upsert_interactions(&name, &[want], "s1").await.unwrap();
    a.upsert_releases(&[release(1)]).await.unwrap();
    a.record_listings(ReleaseId(1), &[listing(1, 1, 500)], at(0))
        .await
        .unwrap();
    b.migrate().await.unwrap();

    assert_eq!(b.user(&name).await.unwrap(), None);
    assert!(b.interactions(&name).await.unwrap().is_empty());
    assert!(b.releases(&[ReleaseId(1)]).await.unwrap().is_empty());
    assert!(b.listings(&[ReleaseId(1)], true).await.unwrap().is_empty());
    assert!(b.price_history(ListingId(1)).await.unwrap().is_empty());
    assert_eq!(
        a.user(&name).await.unwrap(),
        Some(profile),
        "the other catalog's migration touched nothing"
    );
}

/// Values the schema cannot hold are refused as `Rejected` (do not retry), and refusing
/// them leaves nothing half-written.
pub async fn unrepresentable_values_are_rejected(c: Subject) {
    let rejected = |r: Result<_, CatalogError>| matches!(r, Err(CatalogError::Rejected(_)));
    let huge = UserProfile {
        username: user("huge"),
        discogs_id: Some(u64::MAX),
        wantlist_count: 0,
        collection_count: 0,
        newest_want_added: None,
        newest_have_added: None,
        last_synced_at: None,
    };
    assert!(rejected(c.upsert_user(&huge).await.map(|_| ())));
    assert!(rejected(
        c.upsert_releases(&[release(1), release(u64::MAX)])
            .await
            .map(|_| ())
    ));
    assert!(
        c.releases(&[ReleaseId(1)]).await.unwrap().is_empty(),
        "a rejected batch stores nothing"
    );

    let foreign = listing(5, 2, 100);
    let result = c
        .record_listings(ReleaseId(1), &[listing(4, 1, 100), foreign], at(0))
        .await;
    assert!(
        rejected(result.map(|_| ())),
        "a listing of another release is refused"
    );
    assert!(
        c.listings(&[ReleaseId(1), ReleaseId(2)], true)
            .await
            .unwrap()
            .is_empty()
    );
}

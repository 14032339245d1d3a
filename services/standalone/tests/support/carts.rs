//! Checks of a carts job's stored result against the catalog, whatever runs the mesh.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cratedigger_carts::CartPlan;
use cratedigger_carts_stage::{CartsSettings, build_instance};
use cratedigger_catalog::{Catalog, FxTable};
use cratedigger_domain::{
    CandidateSet, CartCriteria, CartSet, Currency, JobId, JobState, MediaCondition, Money,
    SellerName, Stage, StageState,
};
use cratedigger_status::JobStatus;
use serde_json::{Value, json};

/// The criteria every carts test asks for: a budget with shipping, a grade, a seller
/// rating, a price cap and a country left out.
pub fn criteria(carts_per_seller: u32) -> Value {
    json!({
        "budget": { "minor": 15_000, "currency": "EUR" },
        "min_media_condition": "VG+",
        "min_seller_rating": 95.0,
        "max_item_price": { "minor": 6_000, "currency": "EUR" },
        "ships_from_exclude": ["Japan"],
        "carts_per_seller": carts_per_seller,
    })
}

/// Every wantlist item is a candidate (share 1, limit above the wantlist), so two jobs for
/// one user consider the same releases whatever their seeds.
pub fn carts_body(user: &str, carts_per_seller: u32) -> Value {
    json!({ "kind": "carts", "username": user, "limit": 100, "wantlist_share": 1.0, "criteria": criteria(carts_per_seller) })
}

pub fn sell_release_pages(stats: &Value) -> u64 {
    stats["by_endpoint"]["sell_release"].as_u64().unwrap_or(0)
}

/// The optimiser, run again on what the catalog holds now for the job's candidates.
pub async fn optimise_again(
    catalog: &dyn Catalog,
    criteria: &CartCriteria,
    candidates: &CandidateSet,
) -> CartPlan {
    let ids: Vec<_> = candidates.releases.iter().map(|c| c.release_id).collect();
    let listings = catalog.listings(&ids, false).await.unwrap();
    let names: Vec<SellerName> = listings
        .iter()
        .map(|l| l.seller.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let sellers = catalog.sellers(&names).await.unwrap();
    let fx = FxTable::load(catalog).await.unwrap();
    let (instance, options, _) = build_instance(
        candidates,
        &listings,
        &sellers,
        &fx,
        criteria.budget.currency,
        &CartsSettings::default(),
    );
    cratedigger_carts::optimise(&instance, criteria, &options).unwrap()
}

/// Checks the best cart across any number of sellers line by line against the catalog:
/// every criterion, one listing per release, and the budget with shipping.
pub async fn check_best_cart(catalog: &dyn Catalog, carts: &CartSet, plan: &CartPlan) {
    let criteria = &carts.criteria;
    let best = plan
        .scenarios
        .iter()
        .find(|s| s.max_sellers.is_none())
        .and_then(|s| s.cart.as_ref())
        .expect("a best cart");
    assert!(best.item_count >= criteria.min_items && best.item_count as usize == best.lines.len());
    let releases: Vec<_> = best.lines.iter().map(|l| l.release).collect();
    let listings: HashMap<_, _> = catalog
        .listings(&releases, false)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let names: Vec<SellerName> = best.orders.iter().map(|o| o.seller.clone()).collect();
    let sellers: HashMap<_, _> = catalog
        .sellers(&names)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let rates: HashMap<&str, f64> = carts
        .fx_rates
        .iter()
        .map(|n| (n.currency.as_str(), n.rate))
        .collect();

    let distinct: BTreeSet<_> = releases.iter().collect();
    assert_eq!(distinct.len(), releases.len(), "one listing per release");
    let mut subtotals: BTreeMap<&SellerName, i64> = BTreeMap::new();
    for line in &best.lines {
        let row = listings
            .get(&line.listing)
            .expect("the listing is in the catalog");
        assert_eq!((row.release_id, &row.seller), (line.release, &line.seller));
        assert!(row.available && row.gone_at.is_none());
        let media = row.media.expect("graded");
        assert!(media >= MediaCondition::VeryGoodPlus, "{media:?} below VG+");
        let seller = &sellers[&row.seller];
        assert!(seller.rating.is_some_and(|r| r >= 95.0), "{seller:?}");
        assert_ne!(
            seller.ships_from.as_ref().map(|c| c.as_str().to_owned()),
            Some("Japan".to_owned())
        );
        // The line's price is the catalog's, converted at the rate the document names.
        let price = if row.price.currency == Currency::EUR {
            row.price.minor
        } else {
            let rate = rates[row.price.currency.as_str()];
            let converted = row.price.to_major_f64() / rate;
            (converted * 100.0).round() as i64
        };
        assert!((line.price.minor - price).abs() <= 1, "{line:?} vs {row:?}");
        assert!(line.price.minor <= 6_000, "max item price");
        *subtotals.entry(&line.seller).or_default() += line.price.minor;
    }
    let mut total = 0;
    for order in &best.orders {
        assert_eq!(order.subtotal.minor, subtotals[&order.seller], "{order:?}");
        // Shipping counted: at least the first item's, as the seller's listing shows it.
        let shown = best
            .lines
            .iter()
            .filter(|l| l.seller == order.seller)
            .filter_map(|l| listings[&l.listing].shipping)
            .map(|s| {
                if s.currency == Currency::EUR {
                    s.minor
                } else {
                    (s.to_major_f64() / rates[s.currency.as_str()] * 100.0).round() as i64
                }
            })
            .max()
            .unwrap_or(0);
        assert!(
            order.shipping.minor + 1 >= shown,
            "{order:?} ships for less than shown ({shown})"
        );
        total += order.subtotal.minor + order.shipping.minor;
    }
    assert_eq!(best.total, Money::new(total, Currency::EUR));
    assert!(total <= criteria.budget.minor, "over budget: {total}");
    // Every listing the carts mention links to Discogs.
    for line in &best.lines {
        assert!(
            carts
                .listings
                .iter()
                .any(|l| l.id == line.listing && l.url.ends_with(&line.listing.0.to_string()))
        );
    }
}

/// What the status record of every successful carts job shows: the four stages in order,
/// all done, the market's chunks counted, 100% with the result's link.
pub fn check_succeeded(job: &JobId, status: &JobStatus, snapshots: &[Vec<(String, String)>]) {
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_eq!(status.percent, 100);
    assert_eq!(
        status.result.as_deref(),
        Some(format!("carts/{job}").as_str())
    );
    let names: Vec<Stage> = status.stages.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        vec![
            Stage::Profile,
            Stage::Candidates,
            Stage::Market,
            Stage::Carts
        ]
    );
    assert!(
        status
            .stages
            .iter()
            .all(|s| s.state == StageState::Succeeded),
        "{status:?}"
    );
    let market = &status.stages[2];
    assert_eq!(Some(market.done), market.total, "{market:?}");
    assert!(!status.partial);
    // Stages start in order: no snapshot shows a stage running before the one ahead ended.
    for snapshot in snapshots {
        for pair in snapshot.windows(2) {
            let ((_, earlier), (_, later)) = (&pair[0], &pair[1]);
            assert!(
                later == "pending" || earlier == "succeeded",
                "{snapshots:?}"
            );
        }
    }
}

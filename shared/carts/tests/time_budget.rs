//! The time budget: shapes whose exact search takes minutes or more (records all worth
//! the same from hundreds of sellers) come back within the budget with the best carts
//! found and what is still proven; a bulk seller pricing every record the same, which
//! once took hours, is now proven outright.

mod common;

use std::time::{Duration, Instant};

use common::eur;
use cratedigger_carts::{
    Candidate, CartCriteria, Instance, Listing, Market, Optimality, Options, Origin, Seller,
    SellerRating, ShippingPolicy, optimise,
};
use cratedigger_domain::{Country, ListingId, MediaCondition, ReleaseId, SellerName};

const BUDGET_MS: u64 = 300;
/// What a search may take past the budget: a walk looks at the clock every thousand nodes
/// and, with nothing found yet, looks a little longer for a first cart. Generous for a
/// debug build on a loaded machine; the point is minutes against a fraction of a second.
const MARGIN: Duration = Duration::from_millis(1500);

fn seller(name: &str) -> Seller {
    Seller {
        name: SellerName::new(name),
        rating: Some(SellerRating {
            percent: 99.0,
            count: 500,
        }),
        ships_from: Some(Country::new("Germany")),
        shipping: Some(ShippingPolicy::new(eur(400), eur(100))),
        min_order_total: None,
    }
}

/// `records` releases, each offered by every one of `sellers` sellers at `price`, all
/// worth 1.0.
fn ties(records: u64, sellers: usize, price: i64) -> Instance {
    let names: Vec<String> = (0..sellers).map(|s| format!("bulk{s:03}")).collect();
    let mut listings = Vec::new();
    for release in 1..=records {
        for (s, name) in names.iter().enumerate() {
            listings.push(Listing {
                id: ListingId(release * 1000 + s as u64),
                release: ReleaseId(release),
                seller: SellerName::new(name),
                price: eur(price),
                converted: None,
                media: MediaCondition::NearMint,
                sleeve: None,
                available: true,
            });
        }
    }
    Instance {
        candidates: (1..=records)
            .map(|release| Candidate {
                release: ReleaseId(release),
                master: None,
                score: 1.0,
                origin: Origin::Wantlist,
            })
            .collect(),
        listings,
        sellers: names.iter().map(|n| seller(n)).collect(),
    }
}

fn budgeted() -> Options {
    Options {
        time_budget_ms: Some(BUDGET_MS),
        ..Options::default()
    }
}

#[test]
fn a_bulk_seller_pricing_everything_the_same_is_proven_not_cut() {
    // 48 records at 10.00 from one seller, room for 30: C(48, 30) carts tie, and they are
    // one cart to the buyer. Enumerated one by one they took hours; as one choice with a
    // count they take a few hundred nodes.
    let instance = ties(48, 1, 1_000);
    let criteria = CartCriteria::with_budget(eur(30 * 1_000 + 400 + 29 * 100 + 50));
    let plan = optimise(&instance, &criteria, &budgeted()).unwrap();
    assert!(!plan.timed_out, "the search finished");
    let best = plan
        .scenarios
        .iter()
        .find(|s| s.max_sellers.is_none())
        .unwrap();
    assert_eq!(best.optimality, Optimality::Proven);
    let cart = best.cart.as_ref().expect("a cart");
    assert_eq!(cart.item_count, 30, "as many records as the budget holds");
    // The one shown of the tied carts takes the smallest listing ids.
    let mut ids: Vec<u64> = cart.lines.iter().map(|l| l.listing.0).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=30).map(|r| r * 1000).collect::<Vec<_>>());
    // The seller's list: one cart per size, not ten swaps of one record for another.
    let seller = &plan.per_seller[0];
    assert!(!seller.cut_short);
    for list in [&seller.by_total_score, &seller.by_original_weight] {
        let sizes: Vec<u32> = list.iter().map(|c| c.item_count).collect();
        assert_eq!(sizes, (21..=30).rev().collect::<Vec<_>>());
    }
}

#[test]
fn hundreds_of_sellers_with_tied_profits_are_answered_within_the_budget() {
    let instance = ties(40, 200, 800);
    let criteria = CartCriteria::with_budget(eur(20_000));
    let started = Instant::now();
    let plan = optimise(&instance, &criteria, &budgeted()).unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(BUDGET_MS) + MARGIN,
        "took {took:?}"
    );
    for scenario in &plan.scenarios {
        let cart = scenario.cart.as_ref().expect("every scenario has a cart");
        assert!(cart.total.minor <= criteria.budget.minor);
        if let Optimality::BestFound { score_bound } = scenario.optimality {
            assert!(
                score_bound + 1e-9 >= cart.score,
                "the bound is above the cart"
            );
        }
    }
}

/// `sellers` sellers at the same price and shipping, each holding `per_seller` of
/// `records` releases (a fixed pseudo-random choice), all worth 1.0.
fn overlapping(records: u64, sellers: usize, per_seller: usize, price: i64) -> Instance {
    let mut instance = ties(records, sellers, price);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kept = std::collections::HashSet::new();
    for s in 0..sellers {
        let mut held = std::collections::BTreeSet::new();
        while held.len() < per_seller {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            held.insert(1 + (state >> 33) % records);
        }
        kept.extend(held.into_iter().map(|release| release * 1000 + s as u64));
    }
    instance.listings.retain(|l| kept.contains(&l.id.0));
    instance
}

#[test]
fn tied_sellers_holding_overlapping_releases_get_a_proven_cart() {
    // 200 sellers with 8 of 20 releases each, 8.00 a record and 4.00 + 1.00 shipping: 12
    // records from two sellers fit 118.00, 13 do not. Searched alone (without the smaller
    // caps' multipliers to start from), the subgradient steps stall on such ties one
    // record above; the linear programme's duals bound them below 13. The cost is then
    // proven too: no one seller holds 12 records, and every pair pays both per-order
    // charges, which the relaxation spreads thinly over many sellers.
    let instance = overlapping(20, 200, 8, 800);
    let criteria = CartCriteria::with_budget(eur(11_800));
    let started = Instant::now();
    let market = Market::prepare(&instance, &criteria, &budgeted()).unwrap();
    let best = market.best_scenario(None);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(BUDGET_MS) + MARGIN,
        "took {took:?}"
    );
    let cart = best.cart.as_ref().expect("a cart");
    assert_eq!(cart.item_count, 12);
    assert_eq!(cart.total.minor, 12 * 800 + 2 * 400 + 10 * 100);
    assert_eq!(best.optimality, Optimality::Proven);
}

#[test]
fn the_cost_of_a_proven_score_is_proven_too() {
    // 20 sellers at one price and shipping (10.00, 5.00 + 1.00) holding about half of 40
    // releases each, every record worth 1.0, and a budget for 26 records from two
    // sellers. The bound proves 26 records at once, but every set of sellers that can
    // hold 26 ties on the score: the carts of that score are then bounded by their cost,
    // which leaves only the sets that may hold a cart as cheap as the best.
    let mut instance = ties(40, 20, 1_000);
    for seller in &mut instance.sellers {
        seller.shipping = Some(ShippingPolicy::new(eur(500), eur(100)));
    }
    let mut state: u64 = 2;
    instance.listings.retain(|_| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33).is_multiple_of(2)
    });
    let criteria = CartCriteria::with_budget(eur(26 * 1_000 + 2 * 500 + 24 * 100 + 500));
    let market = Market::prepare(&instance, &criteria, &budgeted()).unwrap();
    let best = market.best_scenario(None);
    let cart = best.cart.as_ref().expect("a cart");
    assert_eq!(cart.item_count, 26);
    assert_eq!(best.optimality, Optimality::Proven);
}

#[test]
fn without_a_budget_small_shapes_are_proven_and_unchanged() {
    let instance = ties(12, 3, 1_000);
    let criteria = CartCriteria::with_budget(eur(6_000));
    let exact = optimise(&instance, &criteria, &Options::default()).unwrap();
    let budgeted = optimise(&instance, &criteria, &budgeted()).unwrap();
    assert!(!exact.timed_out && !budgeted.timed_out);
    assert_eq!(
        exact, budgeted,
        "a budget that is not reached changes nothing"
    );
    assert!(
        exact
            .scenarios
            .iter()
            .all(|s| s.optimality == Optimality::Proven)
    );
}

#[test]
fn a_subset_sum_across_forty_sellers_is_proven_as_soon_as_its_bound_is_met() {
    // Every record worth its price (score = cents / 10,000), every price and shipping
    // charge in even cents, an odd budget: no cart fills it, and the bound rounds down to
    // one cent below it. Each set of sellers is a subset-sum too wide for an exact table,
    // and searching one whole takes seconds; but the bound's score at no more than its
    // items' cost (a free-shipping seller) is a cart nothing can beat, and the search ends
    // when it meets one.
    let mut state: u64 = 7;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let names: Vec<String> = (0..40).map(|s| format!("s{s:02}")).collect();
    let sellers: Vec<Seller> = names
        .iter()
        .map(|name| {
            let first = 200 * next(3) as i64;
            let additional = first.min(100 * next(3) as i64);
            Seller {
                shipping: Some(ShippingPolicy::new(eur(first), eur(additional))),
                ..seller(name)
            }
        })
        .collect();
    let prices: Vec<i64> = (0..150).map(|_| 2 * (100 + next(2_900) as i64)).collect();
    let mut pairs = std::collections::BTreeSet::new();
    while pairs.len() < 600 {
        pairs.insert((next(150), next(40) as usize));
    }
    let listings: Vec<Listing> = pairs
        .iter()
        .enumerate()
        .map(|(i, &(release, s))| Listing {
            id: ListingId(300_000 + i as u64),
            release: ReleaseId(1 + release),
            seller: SellerName::new(&names[s]),
            price: eur(prices[release as usize]),
            converted: None,
            media: MediaCondition::NearMint,
            sleeve: None,
            available: true,
        })
        .collect();
    let offered: std::collections::BTreeSet<u64> = pairs.iter().map(|&(r, _)| r).collect();
    let total: i64 = offered.iter().map(|&r| prices[r as usize]).sum();
    let instance = Instance {
        candidates: (0..150)
            .map(|r| Candidate {
                release: ReleaseId(1 + r),
                master: None,
                score: prices[r as usize] as f64 / 10_000.0,
                origin: Origin::Wantlist,
            })
            .collect(),
        listings,
        sellers,
    };
    let criteria = CartCriteria::with_budget(eur((total * 2 / 5) | 1));
    // A budget long enough that a search of the sets takes it all, whatever the build.
    let options = Options {
        time_budget_ms: Some(10_000),
        ..Options::default()
    };
    let started = Instant::now();
    let market = Market::prepare(&instance, &criteria, &options).unwrap();
    let best = market.best_scenario(None);
    let cart = best.cart.as_ref().expect("a cart");
    assert_eq!(best.optimality, Optimality::Proven);
    assert!(!market.out_of_time(), "took {:?}", started.elapsed());
    assert_eq!(
        cart.total.minor,
        criteria.budget.minor - 1,
        "one cent below"
    );
    assert_eq!(cart.shipping_total.minor, 0);
}

//! Brute force agreement: on small random instances every per-seller top-K list (both
//! objectives) and every scenario cart equals what exhaustive enumeration finds, ties and
//! all (same carts, same order; a seller's carts that differ only by interchangeable
//! offers count once).

mod common;

use common::{
    Found, MANY_SELLERS, RICH, SMALL, Size, all_carts, best, interchangeable_once, oracle_offers,
    random_case,
};
use cratedigger_carts::{Cart, optimise};
use proptest::prelude::*;

fn found(cart: &Cart) -> Found {
    let mut ids: Vec<_> = cart.lines.iter().map(|l| l.listing).collect();
    ids.sort();
    Found {
        score: cart
            .lines
            .iter()
            .map(|l| (l.score * 1e6).round() as i64)
            .sum(),
        cost: cart.total.minor,
        items: cart.lines.len(),
        ids,
    }
}

fn check(seed: u64, size: Size) {
    let (instance, criteria, options) = random_case(seed, size);
    let plan = optimise(&instance, &criteria, &options).expect("generated criteria are valid");
    let (offers, terms) = oracle_offers(&instance, &criteria, &options);
    let k = criteria.carts_per_seller as usize;

    let mut oracle_sellers: Vec<_> = offers.iter().map(|o| o.seller.clone()).collect();
    oracle_sellers.sort();
    oracle_sellers.dedup();
    let plan_sellers: Vec<_> = plan.per_seller.iter().map(|s| s.seller.clone()).collect();
    assert_eq!(
        plan_sellers, oracle_sellers,
        "seed {seed}: sellers with offers"
    );

    for seller in &plan.per_seller {
        let own: Vec<_> = offers
            .iter()
            .filter(|o| o.seller == seller.seller)
            .cloned()
            .collect();
        let carts = interchangeable_once(all_carts(&own, &terms, &criteria, 1), &own);
        for (weight, got) in [
            (false, &seller.by_total_score),
            (true, &seller.by_original_weight),
        ] {
            let got: Vec<Found> = got.iter().map(found).collect();
            assert_eq!(
                got,
                best(carts.clone(), weight, k),
                "seed {seed}: {} weight={weight}",
                seller.seller
            );
        }
    }

    for scenario in &plan.scenarios {
        let cap = scenario.max_sellers.map_or(usize::MAX, |c| c as usize);
        let expected = best(all_carts(&offers, &terms, &criteria, cap), false, 1)
            .into_iter()
            .next();
        assert_eq!(
            scenario.cart.as_ref().map(found),
            expected,
            "seed {seed}: cap {:?}",
            scenario.max_sellers
        );
    }
    let caps: Vec<Option<u32>> = plan.scenarios.iter().map(|s| s.max_sellers).collect();
    let expected_caps: Vec<Option<u32>> = match criteria.max_sellers {
        None => vec![Some(1), Some(2), Some(3), None],
        Some(c) => (1..=c.min(3)).map(Some).collect(),
    };
    assert_eq!(caps, expected_caps, "seed {seed}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    #[test]
    fn per_seller_lists_and_scenarios_match_brute_force(seed in any::<u64>()) {
        check(seed, SMALL);
    }

    #[test]
    fn richer_instances_match_brute_force(seed in any::<u64>()) {
        check(seed, RICH);
    }
}

/// Dozens of seller sets: the bounds on the cost of a proven score come into play, and
/// seed 7300 once met a minimum-order multiplier so large that the bound fell below a
/// real cart (a seller's items meeting its minimum exactly, cancelled in floating point).
#[test]
fn many_sellers_match_brute_force() {
    for seed in (0..300).chain([7300]) {
        check(seed, MANY_SELLERS);
    }
}

#[test]
fn fixed_seeds_match_brute_force() {
    for seed in 0..400 {
        check(seed, SMALL);
        check(seed, RICH);
    }
}

//! Invariants of every plan, on instances too big to enumerate: no cart over budget or
//! breaking a criterion, one listing per release (or master), seller caps respected,
//! per-seller lists distinct and sorted, figures consistent, answers independent of the
//! order of the input.

mod common;

use std::collections::BTreeSet;

use common::{Offer, Size, Terms, oracle_offers, random_case};
use cratedigger_carts::{Cart, CartCriteria, CartPlan, Instance, optimise};
use proptest::prelude::*;

const LARGER: Size = Size {
    releases: 30,
    sellers: 8,
    listings: 120,
};

/// Checks one cart against the oracle's eligibility and shipping terms.
fn check_cart(
    cart: &Cart,
    offers: &[Offer],
    terms: &Terms,
    criteria: &CartCriteria,
    instance: &Instance,
) {
    assert!(!cart.lines.is_empty());
    assert!(
        cart.item_count as usize >= criteria.min_items as usize,
        "fewer items than the minimum"
    );
    let mut groups = BTreeSet::new();
    let mut items_total = 0;
    for line in &cart.lines {
        let offer = offers
            .iter()
            .find(|o| o.id == line.listing)
            .unwrap_or_else(|| panic!("listing {} is not an eligible cheapest copy", line.listing));
        assert_eq!(offer.seller, line.seller);
        assert_eq!(offer.price, line.price.minor);
        assert!(
            groups.insert(offer.group),
            "two listings of one release or master"
        );
        items_total += line.price.minor;
    }
    let mut shipping_total = 0;
    for order in &cart.orders {
        let (first, additional, min_order) = terms[&order.seller];
        let lines: Vec<_> = cart
            .lines
            .iter()
            .filter(|l| l.seller == order.seller)
            .collect();
        assert_eq!(order.items as usize, lines.len());
        assert_eq!(
            order.subtotal.minor,
            lines.iter().map(|l| l.price.minor).sum::<i64>()
        );
        assert!(order.subtotal.minor >= min_order, "minimum order not met");
        assert_eq!(
            order.shipping.minor,
            first + additional * (i64::from(order.items) - 1)
        );
        let assumed = instance
            .sellers
            .iter()
            .any(|s| s.name == order.seller && s.shipping.is_none());
        assert_eq!(order.shipping_assumed, assumed);
        shipping_total += order.shipping.minor;
    }
    assert_eq!(cart.items_total.minor, items_total);
    assert_eq!(cart.shipping_total.minor, shipping_total);
    assert_eq!(cart.total.minor, items_total + shipping_total);
    assert!(cart.total.minor <= criteria.budget.minor, "over budget");
    assert_eq!(cart.seller_count as usize, cart.orders.len());
    assert_eq!(
        cart.shipping_assumed,
        cart.orders.iter().any(|o| o.shipping_assumed)
    );
    let units: i64 = cart
        .lines
        .iter()
        .map(|l| (l.score * 1e6).round() as i64)
        .sum();
    assert_eq!((cart.score * 1e6).round() as i64, units);
}

fn check_plan(
    plan: &CartPlan,
    instance: &Instance,
    criteria: &CartCriteria,
    offers: &[Offer],
    terms: &Terms,
) {
    let k = criteria.carts_per_seller as usize;
    for seller in &plan.per_seller {
        for (weight, carts) in [
            (false, &seller.by_total_score),
            (true, &seller.by_original_weight),
        ] {
            assert!(carts.len() <= k);
            let mut release_sets = BTreeSet::new();
            for cart in carts {
                check_cart(cart, offers, terms, criteria, instance);
                assert_eq!(cart.seller_count, 1);
                assert_eq!(cart.orders[0].seller, seller.seller);
                let releases: Vec<_> = cart.lines.iter().map(|l| l.release).collect();
                assert!(release_sets.insert(releases), "the same cart twice");
            }
            let key = |c: &Cart| {
                let objective = if weight { c.weight } else { c.score };
                (objective, -c.total.minor)
            };
            for pair in carts.windows(2) {
                assert!(
                    key(&pair[0]) >= key(&pair[1]),
                    "per-seller carts out of order"
                );
            }
        }
    }
    let mut previous_score = f64::NEG_INFINITY;
    for scenario in &plan.scenarios {
        if let Some(cart) = &scenario.cart {
            check_cart(cart, offers, terms, criteria, instance);
            if let Some(cap) = scenario.max_sellers {
                assert!(cart.seller_count <= cap);
            }
            if let Some(cap) = criteria.max_sellers {
                assert!(cart.seller_count <= cap);
            }
            // A larger cap allows everything a smaller one does.
            assert!(cart.score >= previous_score);
            previous_score = cart.score;
        } else {
            assert!(
                previous_score == f64::NEG_INFINITY,
                "a larger cap lost a cart"
            );
        }
    }
    // With one seller allowed, the best cart is the best per-seller cart.
    if let Some(one) = plan.scenarios.first().filter(|s| s.max_sellers == Some(1)) {
        let best_single = plan
            .per_seller
            .iter()
            .filter_map(|s| s.by_total_score.first())
            .max_by_key(|c| ((c.score * 1e6).round() as i64, -c.total.minor));
        assert_eq!(
            one.cart.as_ref().map(|c| (c.score, c.total)),
            best_single.map(|c| (c.score, c.total))
        );
    }
    assert_eq!(
        plan.empty.is_some(),
        plan.scenarios.iter().all(|s| s.cart.is_none())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn plans_never_break_a_criterion(seed in any::<u64>()) {
        let (instance, criteria, options) = random_case(seed, LARGER);
        let plan = optimise(&instance, &criteria, &options).expect("generated criteria are valid");
        let (offers, terms) = oracle_offers(&instance, &criteria, &options);
        check_plan(&plan, &instance, &criteria, &offers, &terms);
    }

    #[test]
    fn input_order_does_not_matter(seed in any::<u64>()) {
        let (instance, criteria, options) = random_case(seed, LARGER);
        let plan = optimise(&instance, &criteria, &options).expect("valid");
        let mut shuffled = instance.clone();
        shuffled.listings.reverse();
        shuffled.sellers.reverse();
        shuffled.candidates.reverse();
        prop_assert_eq!(plan, optimise(&shuffled, &criteria, &options).expect("valid"));
    }
}

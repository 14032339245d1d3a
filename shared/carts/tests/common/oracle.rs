//! The oracle: eligibility written out again from the criteria's definitions, and brute
//! force over every cart.

use std::collections::{BTreeMap, BTreeSet};

use cratedigger_carts::{CartCriteria, Instance, Options, UnknownShipping};
use cratedigger_domain::{ListingId, ReleaseId, SellerName};

/// A seller's cheapest eligible copy of a release, as the oracle sees it.
#[derive(Clone, Debug)]
pub struct Offer {
    pub id: ListingId,
    pub release: ReleaseId,
    pub group: (bool, u64),
    pub seller: SellerName,
    pub price: i64,
    pub score: i64,
}

/// Terms of a usable seller: first, additional, minimum order.
pub type Terms = BTreeMap<SellerName, (i64, i64, i64)>;

/// The offers a cart may use and the terms of their sellers, from the definitions.
pub fn oracle_offers(
    instance: &Instance,
    criteria: &CartCriteria,
    options: &Options,
) -> (Vec<Offer>, Terms) {
    let currency = criteria.budget.currency;
    let mut terms = Terms::new();
    for s in &instance.sellers {
        let policy = match (s.shipping, options.unknown_shipping) {
            (Some(p), _) | (None, UnknownShipping::Assume(p)) => p,
            (None, UnknownShipping::Exclude) => continue,
        };
        let first = policy.first_item.minor;
        let additional = policy.additional_item.minor;
        let rating_ok = criteria
            .min_seller_rating
            .is_none_or(|m| s.rating.is_some_and(|r| r.percent >= m));
        let country_ok = match &s.ships_from {
            Some(c) => {
                (criteria.ships_from.is_empty() || criteria.ships_from.contains(c))
                    && !criteria.ships_from_exclude.contains(c)
            }
            None => criteria.ships_from.is_empty(),
        };
        if additional <= first && additional >= 0 && rating_ok && country_ok {
            terms.insert(
                s.name.clone(),
                (first, additional, s.min_order_total.map_or(0, |m| m.minor)),
            );
        }
    }
    let mut best: BTreeMap<(SellerName, ReleaseId), Offer> = BTreeMap::new();
    for l in &instance.listings {
        let Some(candidate) = instance.candidates.iter().find(|c| c.release == l.release) else {
            continue;
        };
        let Some(&(first, _, _)) = terms.get(&l.seller) else {
            continue;
        };
        let price = if l.price.currency == currency {
            l.price.minor
        } else {
            match &l.converted {
                Some(c) if c.price.currency == currency => c.price.minor,
                _ => continue,
            }
        };
        let ok = l.available
            && price > 0
            && criteria.min_media_condition.is_none_or(|m| l.media >= m)
            && criteria
                .min_sleeve_condition
                .is_none_or(|m| l.sleeve.is_some_and(|s| s.meets(m)))
            && criteria.max_item_price.is_none_or(|m| price <= m.minor)
            && price + first <= criteria.budget.minor;
        if !ok {
            continue;
        }
        let group = match candidate.master {
            Some(m) if criteria.any_pressing => (true, m.0),
            _ => (false, l.release.0),
        };
        let offer = Offer {
            id: l.id,
            release: l.release,
            group,
            seller: l.seller.clone(),
            price,
            score: (candidate.score * 1e6).round() as i64,
        };
        let key = (l.seller.clone(), l.release);
        let better = best
            .get(&key)
            .is_none_or(|b| (price, l.id) < (b.price, b.id));
        if better {
            best.insert(key, offer);
        }
    }
    (best.into_values().collect(), terms)
}

/// A cart in oracle terms: score units, total cost, sorted listing ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub score: i64,
    pub cost: i64,
    pub items: usize,
    pub ids: Vec<ListingId>,
}

impl Found {
    /// Sort key, best first, for total score (`weight` false) or quantity x score.
    pub fn key(&self, weight: bool) -> (std::cmp::Reverse<i128>, i64, Vec<ListingId>) {
        let objective = if weight {
            self.items as i128 * i128::from(self.score)
        } else {
            i128::from(self.score)
        };
        (std::cmp::Reverse(objective), self.cost, self.ids.clone())
    }
}

/// Every feasible cart over `offers` (at most one per group) using at most `max_sellers`
/// sellers.
pub fn all_carts(
    offers: &[Offer],
    terms: &Terms,
    criteria: &CartCriteria,
    max_sellers: usize,
) -> Vec<Found> {
    let mut groups: BTreeMap<(bool, u64), Vec<&Offer>> = BTreeMap::new();
    for o in offers {
        groups.entry(o.group).or_default().push(o);
    }
    let groups: Vec<Vec<&Offer>> = groups.into_values().collect();
    let mut found = Vec::new();
    let mut picked: Vec<&Offer> = Vec::new();
    enumerate(&groups, 0, &mut picked, &mut |cart: &[&Offer]| {
        if cart.len() < criteria.min_items as usize {
            return;
        }
        let mut per_seller: BTreeMap<&SellerName, (i64, i64)> = BTreeMap::new();
        for o in cart {
            let e = per_seller.entry(&o.seller).or_insert((0, 0));
            e.0 += 1;
            e.1 += o.price;
        }
        if per_seller.len() > max_sellers {
            return;
        }
        let mut cost = 0;
        for (seller, (n, subtotal)) in &per_seller {
            let (first, additional, min_order) = terms[*seller];
            if *subtotal < min_order {
                return;
            }
            cost += subtotal + first + additional * (n - 1);
        }
        if cost > criteria.budget.minor {
            return;
        }
        let mut ids: Vec<ListingId> = cart.iter().map(|o| o.id).collect();
        ids.sort();
        found.push(Found {
            score: cart.iter().map(|o| o.score).sum(),
            cost,
            items: cart.len(),
            ids,
        });
    });
    found
}

fn enumerate<'a>(
    groups: &[Vec<&'a Offer>],
    at: usize,
    picked: &mut Vec<&'a Offer>,
    visit: &mut dyn FnMut(&[&'a Offer]),
) {
    if at == groups.len() {
        if !picked.is_empty() {
            visit(picked);
        }
        return;
    }
    enumerate(groups, at + 1, picked, visit);
    for &o in &groups[at] {
        picked.push(o);
        enumerate(groups, at + 1, picked, visit);
        picked.pop();
    }
}

/// The best `k` carts, best first.
pub fn best(mut carts: Vec<Found>, weight: bool, k: usize) -> Vec<Found> {
    carts.sort_by_key(|c| c.key(weight));
    carts.truncate(k);
    carts
}

/// The carts that take, of every set of one seller's interchangeable offers, the ones
/// with the smallest ids: a cart that swaps one for another is the same cart to the
/// buyer, and the optimiser lists it once, as this one. Offers are interchangeable when
/// they have the same price and score and each is the seller's only offer in its group
/// (otherwise a swap may put two offers in one group).
pub fn interchangeable_once(carts: Vec<Found>, offers: &[Offer]) -> Vec<Found> {
    let mut per_group: BTreeMap<(&SellerName, (bool, u64)), usize> = BTreeMap::new();
    for o in offers {
        *per_group.entry((&o.seller, o.group)).or_default() += 1;
    }
    let alone = |o: &Offer| per_group[&(&o.seller, o.group)] == 1;
    let mut classes: BTreeMap<(&SellerName, i64, i64), Vec<ListingId>> = BTreeMap::new();
    for o in offers.iter().filter(|o| alone(o)) {
        classes
            .entry((&o.seller, o.price, o.score))
            .or_default()
            .push(o.id);
    }
    for ids in classes.values_mut() {
        ids.sort();
    }
    let class_of: BTreeMap<ListingId, &Vec<ListingId>> = offers
        .iter()
        .filter(|o| alone(o))
        .map(|o| (o.id, &classes[&(&o.seller, o.price, o.score)]))
        .collect();
    carts
        .into_iter()
        .filter(|cart| {
            cart.ids.iter().all(|id| {
                let Some(class) = class_of.get(id) else {
                    return true;
                };
                let taken = class.iter().filter(|c| cart.ids.contains(c)).count();
                class[..taken].contains(id)
            })
        })
        .collect()
}

/// Groups (release or master) of a set of offers, to check "distinct" and "one per group".
pub fn release_set(ids: &[ListingId], offers: &[Offer]) -> BTreeSet<ReleaseId> {
    ids.iter()
        .filter_map(|id| offers.iter().find(|o| o.id == *id))
        .map(|o| o.release)
        .collect()
}

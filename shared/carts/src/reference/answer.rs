//! A plan written in the reference script's terms: listing ids it can `verify`, the
//! objectives it reports (`objective_sum_score`, the original weight) and costs in major
//! units.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Cart, CartPlan};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceAnswer {
    pub eligible_listings: u32,
    pub rejected_listings: BTreeMap<String, u32>,
    /// Per seller name.
    pub single_seller: BTreeMap<String, SellerAnswer>,
    /// The best cart under the instance's own `max_sellers` (the script's `multi`).
    pub multi_seller: Option<CartAnswer>,
    pub scenarios: Vec<ScenarioAnswer>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SellerAnswer {
    /// Best first, by total score.
    pub top: Vec<CartAnswer>,
    /// Best first, by quantity x total score.
    pub original_weight: Vec<CartAnswer>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioAnswer {
    pub max_sellers: Option<u32>,
    pub cart: Option<CartAnswer>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartAnswer {
    /// Sorted.
    pub listing_ids: Vec<u64>,
    pub objective_sum_score: f64,
    pub weight: f64,
    pub quantity: u32,
    pub sellers: u32,
    pub items_cost: f64,
    pub shipping_cost: f64,
    pub total_cost: f64,
}

impl From<&Cart> for CartAnswer {
    fn from(cart: &Cart) -> Self {
        Self {
            listing_ids: cart.lines.iter().map(|l| l.listing.0).collect(),
            objective_sum_score: cart.score,
            weight: cart.weight,
            quantity: cart.item_count,
            sellers: cart.seller_count,
            items_cost: cart.items_total.to_major_f64(),
            shipping_cost: cart.shipping_total.to_major_f64(),
            total_cost: cart.total.to_major_f64(),
        }
    }
}

impl From<&CartPlan> for ReferenceAnswer {
    fn from(plan: &CartPlan) -> Self {
        let single_seller = plan
            .per_seller
            .iter()
            .map(|s| {
                let answer = SellerAnswer {
                    top: s.by_total_score.iter().map(CartAnswer::from).collect(),
                    original_weight: s.by_original_weight.iter().map(CartAnswer::from).collect(),
                };
                (s.seller.to_string(), answer)
            })
            .collect();
        let rejected_listings = plan
            .rejections
            .iter()
            .map(|(reason, count)| {
                let name = serde_plain_name(reason);
                (name, *count)
            })
            .collect();
        Self {
            eligible_listings: plan.eligible_listings,
            rejected_listings,
            single_seller,
            // Scenarios run smallest cap first; the last one is the criteria's own cap.
            multi_seller: plan
                .scenarios
                .last()
                .and_then(|s| s.cart.as_ref())
                .map(CartAnswer::from),
            scenarios: plan
                .scenarios
                .iter()
                .map(|s| ScenarioAnswer {
                    max_sellers: s.max_sellers,
                    cart: s.cart.as_ref().map(CartAnswer::from),
                })
                .collect(),
        }
    }
}

/// The snake_case name a rejection reason serialises to.
fn serde_plain_name(reason: &crate::Rejection) -> String {
    let debug = format!("{reason:?}");
    let mut name = String::with_capacity(debug.len() + 4);
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    name
}

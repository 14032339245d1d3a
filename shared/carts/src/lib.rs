//! Cart optimisation for cratedigger: which marketplace listings to buy.
//!
//! Consumes an [`Instance`] (candidate releases with scores, their listings, the sellers
//! and their shipping), the buyer's [`CartCriteria`] and [`Options`]. Produces a
//! [`CartPlan`]: for every seller the K best carts from that seller alone (by total score
//! and by the original cart builder's weight), and the best carts across sellers with
//! shipping for at most 1, 2, 3 and any number of sellers. Owns no I/O and no state:
//! pure, synchronous and deterministic; money stays in integer minor units.
//!
//! Every answer is exact unless a limit stopped its search ([`Options::time_budget_ms`],
//! [`Options::seller_sets_limit`]), and then it says what is still proven. Scores are
//! rounded once to millionths and carts are ranked by score, then lower total cost, then
//! their sorted listing ids, so equal inputs give equal answers (under a time budget, as
//! far as the searches got); a seller's carts that differ only by interchangeable offers
//! (the same price and score) count once. See the crate README for the algorithms and
//! the measured figures.

mod cart;
mod error;
mod input;
mod knapsack;
mod model;
mod multi;
mod options;
mod per_seller;
mod plan;
pub mod reference;

pub use cart::{
    Binding, Cart, CartLine, CartPlan, EmptyReason, Optimality, Scenario, SellerCarts, SellerOrder,
};
pub use cratedigger_domain::CartCriteria;
pub use error::{CartError, InputError};
pub use input::{
    Candidate, ConvertedPrice, Instance, Listing, Origin, Seller, SellerRating, ShippingPolicy,
};
pub use model::value::{MAX_BUDGET_MINOR, MAX_SCORE, SCORE_SCALE};
pub use model::{Market, Rejection, Rejections};
pub use multi::SCENARIO_CAPS;
pub use options::{Objective, Options, PerSellerObjectives, UnknownShipping};

/// Runs every search the plan holds. Fails only on invalid criteria, options or input;
/// an instance where nothing fits gives a plan with no carts and [`CartPlan::empty`] set.
pub fn optimise(
    instance: &Instance,
    criteria: &CartCriteria,
    options: &Options,
) -> Result<CartPlan, CartError> {
    Ok(Market::prepare(instance, criteria, options)?.plan())
}

/// The K best carts from one seller; see [`Market::top_k_for_seller`].
pub fn top_k_for_seller(
    instance: &Instance,
    criteria: &CartCriteria,
    options: &Options,
    seller: &cratedigger_domain::SellerName,
    objective: Objective,
) -> Result<Vec<Cart>, CartError> {
    Market::prepare(instance, criteria, options)?.top_k_for_seller(seller, objective)
}

/// The best cart across at most `max_sellers` sellers; see [`Market::best_multi_seller`].
pub fn best_multi_seller(
    instance: &Instance,
    criteria: &CartCriteria,
    options: &Options,
    max_sellers: Option<u32>,
) -> Result<Option<Cart>, CartError> {
    Ok(Market::prepare(instance, criteria, options)?.best_multi_seller(max_sellers))
}

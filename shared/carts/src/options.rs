//! Settings of the optimiser that are not the buyer's to choose.

use serde::{Deserialize, Serialize};

use crate::ShippingPolicy;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    pub unknown_shipping: UnknownShipping,
    pub per_seller_objectives: PerSellerObjectives,
    /// The most seller sets a multi-seller search solves exactly per scenario. Ties in
    /// score (a wantlist where every record counts the same, from hundreds of sellers)
    /// can leave millions of sets whose bound reaches the best cart; past this many the
    /// search keeps the best cart it found and says so ([`crate::Optimality`]).
    pub seller_sets_limit: u32,
    /// How long one plan's searches may take, from [`crate::Market::prepare`]; `None`:
    /// no limit (every answer then comes from a finished search, so equal inputs give
    /// equal plans). Past it every search keeps the best it has found: the scenarios say
    /// what is still proven ([`crate::Optimality`]), the per-seller lists that were cut
    /// say so, and [`crate::CartPlan::timed_out`] is set. Scenarios are searched first.
    pub time_budget_ms: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            unknown_shipping: UnknownShipping::default(),
            per_seller_objectives: PerSellerObjectives::default(),
            seller_sets_limit: 20_000,
            time_budget_ms: None,
        }
    }
}

/// What to do with a seller whose shipping to the buyer is not known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownShipping {
    /// Leave the seller out (its listings are rejected as `unknown_shipping`).
    #[default]
    Exclude,
    /// Price the seller's shipping with this policy, in the buyer's currency; every cart
    /// that relies on it says so.
    Assume(ShippingPolicy),
}

/// How per-seller carts are ranked. Scenario carts always maximise total score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// The sum of the cart's scores.
    TotalScore,
    /// The original cart builder's weight: quantity squared times mean score, which is
    /// quantity times total score. It favours bigger carts.
    OriginalWeight,
}

/// Which per-seller rankings to compute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerSellerObjectives {
    TotalScore,
    OriginalWeight,
    #[default]
    Both,
}

impl PerSellerObjectives {
    pub fn includes(self, objective: Objective) -> bool {
        matches!(
            (self, objective),
            (Self::Both, _)
                | (Self::TotalScore, Objective::TotalScore)
                | (Self::OriginalWeight, Objective::OriginalWeight)
        )
    }
}

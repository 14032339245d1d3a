//! Why a listing cannot be in any cart, counted per reason so an empty result can say why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Reasons in the order they are checked: a listing is counted under the first that applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The release is not among the candidates.
    NotACandidate,
    /// The listing names a seller the instance does not describe.
    UnknownSeller,
    /// Sold or withdrawn.
    Unavailable,
    /// Priced in another currency than the budget's, with no converted price.
    NoPriceInBudgetCurrency,
    /// A price of zero or less: not a real offer.
    NonPositivePrice,
    MediaCondition,
    SleeveCondition,
    /// The seller's shipping or minimum order is in another currency than the budget's.
    SellerCurrency,
    /// The seller's shipping is unknown and the options exclude such sellers.
    UnknownShipping,
    /// Negative shipping, or each additional item dearer than the first: not a policy the
    /// shipping model (first + additional x (n - 1)) can price.
    ShippingPolicy,
    SellerRating,
    ShipsFrom,
    /// Dearer than the criteria's maximum price per item.
    ItemPrice,
    /// The listing alone, with its seller's first-item shipping, exceeds the budget.
    OverBudget,
    /// The same seller offers the same release cheaper (or as cheap, under a lower listing
    /// id); carts only ever take a seller's cheapest copy.
    CheaperCopyAtSeller,
}

/// How many listings were left out, per reason.
pub type Rejections = BTreeMap<Rejection, u32>;

pub(crate) fn count(rejections: &mut Rejections, reason: Rejection) {
    *rejections.entry(reason).or_insert(0) += 1;
}

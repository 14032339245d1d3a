//! Why an optimisation refused to run. An instance with nothing feasible is not an error:
//! it gives an empty plan with the reason (see [`crate::EmptyReason`]).

use cratedigger_domain::{CriteriaError, Currency, ListingId, ReleaseId, SellerName};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CartError {
    /// The buyer's criteria cannot be met by any cart: reject the request and show the
    /// message, which names the field.
    #[error("invalid criteria: {0}")]
    Criteria(#[from] CriteriaError),
    /// The settings are inconsistent with the criteria: a configuration mistake.
    #[error("invalid options: {0}")]
    Options(String),
    /// The instance breaks a contract the caller owns (duplicate ids, impossible scores):
    /// a bug upstream, not something a retry fixes.
    #[error("invalid input: {0}")]
    Input(#[from] InputError),
    /// A per-seller search was asked for a seller the instance does not hold.
    #[error("seller {0} is not in the instance")]
    UnknownSeller(SellerName),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("listing {0} appears more than once")]
    DuplicateListing(ListingId),
    #[error("release {0} is a candidate more than once")]
    DuplicateCandidate(ReleaseId),
    #[error("seller {0} appears more than once")]
    DuplicateSeller(SellerName),
    #[error("release {release} has score {score}; scores must be finite, from 0 to {max}")]
    BadScore {
        release: ReleaseId,
        score: f64,
        max: f64,
    },
    #[error("budget of {minor} minor units is above the supported {max}")]
    BudgetTooLarge { minor: i64, max: i64 },
    #[error("amount {minor} {currency} is outside the supported range")]
    AmountOutOfRange { minor: i64, currency: Currency },
}

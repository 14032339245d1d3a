//! Pure domain types shared by every cratedigger crate.
//!
//! Consumes nothing and owns no I/O: identifiers as newtypes, money as integer minor units
//! with a currency, Discogs condition grades, seller countries and the buyer's cart criteria
//! with their validation. Services convert protobuf and database rows into these types at
//! their edges; algorithms (ALS, carts) only ever see these.

mod condition;
mod country;
mod criteria;
mod ids;
mod job;
mod money;
mod results;

pub use condition::{MediaCondition, SleeveCondition, UnknownCondition};
pub use country::Country;
pub use criteria::{CartCriteria, CriteriaError};
pub use ids::{InvalidUsername, JobId, ListingId, MasterId, ReleaseId, SellerName, Username};
pub use job::{JobError, JobKind, JobSpec, JobState, Stage, StageState};
pub use money::{Currency, InvalidMoney, Money};
pub use results::{
    Because, CandidateOrigin, CandidateRelease, CandidateSet, CartSet, FxNote, ListingLink,
    MarketCoverage, RecommendationSet, RecommendedRelease, ReleaseSummary, SellerSummary,
    SourceCoverage, listing_url, release_url, seller_url,
};

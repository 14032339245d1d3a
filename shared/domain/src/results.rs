//! What jobs produce, as stored in the ResultsStore and served by the gateway.

use serde::{Deserialize, Serialize};

use crate::{CartCriteria, ListingId, ReleaseId};

/// A release the user has that contributed to a recommendation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Because {
    pub release_id: ReleaseId,
    pub title: String,
    pub contribution: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecommendedRelease {
    pub release_id: ReleaseId,
    pub score: f32,
    pub title: String,
    pub artists: Vec<String>,
    pub year: Option<u16>,
    pub thumb: Option<String>,
    /// The release's page on Discogs.
    pub url: String,
    /// "Because you have ...": the user's releases that contributed most.
    pub because: Vec<Because>,
}

/// A user's newest recommendations (stored under the username).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecommendationSet {
    pub username: String,
    pub job_id: String,
    pub model_version: String,
    /// RFC 3339.
    pub generated_at: String,
    pub releases: Vec<RecommendedRelease>,
    /// Releases of the user the model does not know (too new or too rare to be learnt).
    pub unknown_to_model: u32,
}

/// The Discogs page of a release.
pub fn release_url(id: ReleaseId) -> String {
    format!("https://www.discogs.com/release/{id}")
}

/// A release as a result shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseSummary {
    pub id: ReleaseId,
    pub title: String,
    pub artists: Vec<String>,
    pub year: Option<u16>,
    pub thumb: Option<String>,
    /// The release's page on Discogs.
    pub url: String,
}

/// A seller as a cart shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SellerSummary {
    pub name: String,
    pub rating: Option<f32>,
    pub ratings: Option<u32>,
    pub ships_from: Option<String>,
    /// The seller's profile on Discogs.
    pub url: String,
}

/// A listing's page on Discogs, by id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListingLink {
    pub id: ListingId,
    pub url: String,
}

/// An exchange rate a cart's prices were converted with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FxNote {
    pub currency: String,
    /// Units of `currency` per unit of the buyer's currency.
    pub rate: f64,
    /// The day the rate is from (YYYY-MM-DD).
    pub date: String,
}

/// How much of the marketplace a carts job could read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MarketCoverage {
    /// Candidate releases whose listings were needed.
    pub releases: u32,
    /// Fetched by this job.
    pub fetched: u32,
    /// Fetched within the listing cache's lifetime by an earlier job.
    pub cached: u32,
    /// Could not be fetched (the carts use what was).
    pub failed: u32,
    /// What each listing source did, by source name. Absent from carts stored before
    /// sources were counted.
    #[serde(default)]
    pub sources: Vec<SourceCoverage>,
}

/// What one listing source (`browser`, `http` …) did for a carts job's releases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCoverage {
    pub source: String,
    /// Releases whose listings this source read.
    pub served: u32,
    /// Releases on which it met a bot challenge or a login wall.
    pub blocked: u32,
    /// Releases it could not read for another reason.
    pub failed: u32,
}

/// The carts a carts job produced, stored under the job id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartSet {
    pub job_id: String,
    pub username: String,
    pub criteria: CartCriteria,
    /// Seeds the candidate selection: the same seed and data give the same carts.
    /// Written as a decimal string: documents hold signed 64-bit integers at most (BSON),
    /// and JavaScript reads numbers exactly only up to 2^53.
    #[serde(with = "seed_text")]
    pub seed: u64,
    /// RFC 3339.
    pub generated_at: String,
    /// The optimiser's answer in the buyer's currency: `cratedigger_carts::CartPlan`
    /// (`per_seller`, `scenarios` with a `cart` each, `rejections`, `empty`).
    pub plan: serde_json::Value,
    /// The releases, sellers and listings the carts mention, with their Discogs links.
    pub releases: Vec<ReleaseSummary>,
    pub sellers: Vec<SellerSummary>,
    pub listings: Vec<ListingLink>,
    pub fx_rates: Vec<FxNote>,
    pub market: MarketCoverage,
    /// Things a buyer should know ("shipping for 2 sellers is an estimate").
    pub notes: Vec<String>,
}

/// The Discogs page of a marketplace listing.
pub fn listing_url(id: ListingId) -> String {
    format!("https://www.discogs.com/sell/item/{id}")
}

/// The Discogs profile page of a seller (the name percent-encoded).
pub fn seller_url(name: &str) -> String {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("https://www.discogs.com/seller/{encoded}/profile")
}

/// Where a cart candidate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateOrigin {
    Wantlist,
    Recommendation,
}

/// A release a carts job looks for on the marketplace, and how much the buyer wants it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateRelease {
    pub release_id: ReleaseId,
    pub master_id: Option<crate::MasterId>,
    pub score: f64,
    pub origin: CandidateOrigin,
}

/// The candidates a carts job selected (kept while the job runs). Fields missing from a
/// stored set (written by an earlier version) read as their defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CandidateSet {
    pub releases: Vec<CandidateRelease>,
    pub from_wantlist: u32,
    pub from_recommendations: u32,
    /// Other pressings added for "any pressing".
    pub other_pressings: u32,
    /// Dropped because their known lowest price is above the budget.
    pub over_budget: u32,
    /// Releases whose listings an earlier job fetched within the listing cache's lifetime.
    pub cached: u32,
    /// The releases whose listings must be fetched, in the chunks the market stage was
    /// asked for (kept so a redelivered dispatch publishes the same chunks).
    pub market_chunks: Vec<Vec<ReleaseId>>,
    /// Things the buyer should know about the selection.
    pub notes: Vec<String>,
    /// Set when the selection found too few candidates and the job failed with this
    /// reason: kept like a selection, so a redelivery repeats the failure instead of
    /// selecting again on data that may have changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub too_few: Option<String>,
}

/// A `u64` written as a decimal string, read from a string or a number.
mod seed_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Text(String),
        Number(u64),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        match Text::deserialize(deserializer)? {
            Text::Number(n) => Ok(n),
            Text::Text(text) => text.parse().map_err(|_| {
                serde::de::Error::custom(format!("seed {text:?} is not a whole number"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CartCriteria, Currency, Money};

    #[test]
    fn a_seed_above_the_signed_range_is_written_as_text_and_read_back() {
        let set = CartSet {
            job_id: "job".into(),
            username: "digger".into(),
            criteria: CartCriteria::with_budget(Money::new(10_000, Currency::EUR)),
            seed: u64::MAX - 7,
            generated_at: "2026-01-01T00:00:00.000Z".into(),
            plan: serde_json::Value::Null,
            releases: Vec::new(),
            sellers: Vec::new(),
            listings: Vec::new(),
            fx_rates: Vec::new(),
            market: MarketCoverage::default(),
            notes: Vec::new(),
        };
        let json = serde_json::to_value(&set).unwrap();
        assert_eq!(json["seed"], serde_json::json!((u64::MAX - 7).to_string()));
        assert_eq!(
            serde_json::from_value::<CartSet>(json.clone()).unwrap(),
            set
        );
        let mut number = json;
        number["seed"] = serde_json::json!(42);
        assert_eq!(serde_json::from_value::<CartSet>(number).unwrap().seed, 42);
    }
}

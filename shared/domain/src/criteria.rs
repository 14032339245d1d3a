//! What a buyer asks of a cart. Validated once, where it enters (the gateway), and again
//! by the optimiser, which must not trust its caller: every error names the field.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::{Country, MediaCondition, Money, Username};

/// The most carts per seller anyone may ask for; the per-seller search keeps K candidates
/// per state, so K bounds its memory.
pub const MAX_CARTS_PER_SELLER: u32 = 100;
/// The largest cart anyone may ask for.
pub const MAX_MIN_ITEMS: u32 = 500;
/// The most sellers a buyer may name: each is one inventory to read through the API.
pub const MAX_NAMED_SELLERS: usize = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartCriteria {
    /// The most the buyer spends: item prices plus shipping, in the buyer's currency.
    pub budget: Money,
    /// Listings with worse media are ignored.
    #[serde(default)]
    pub min_media_condition: Option<MediaCondition>,
    /// Listings whose sleeve is not graded at least this well are ignored (a generic
    /// sleeve or no cover never qualifies; see `SleeveCondition::meets`).
    #[serde(default)]
    pub min_sleeve_condition: Option<MediaCondition>,
    /// Minimum seller rating in percent (0 to 100). Sellers with no rating yet fail it.
    #[serde(default)]
    pub min_seller_rating: Option<f64>,
    /// The fewest items a cart may hold.
    #[serde(default = "default_min_items")]
    pub min_items: u32,
    /// Listings dearer than this are ignored.
    #[serde(default)]
    pub max_item_price: Option<Money>,
    /// Only sellers shipping from these countries; empty means anywhere.
    #[serde(default)]
    pub ships_from: Vec<Country>,
    /// Never sellers shipping from these countries.
    #[serde(default)]
    pub ships_from_exclude: Vec<Country>,
    /// The most sellers a multi-seller cart may use; none means any number.
    #[serde(default)]
    pub max_sellers: Option<u32>,
    /// "Any pressing": at most one listing per master instead of per release.
    #[serde(default)]
    pub any_pressing: bool,
    /// How many best carts to keep for each seller.
    #[serde(default = "default_carts_per_seller")]
    pub carts_per_seller: u32,
    /// Sellers whose inventories the market stage searches for the candidates (the
    /// `inventory` listing source, for when the marketplace pages cannot be read). Carts
    /// are not limited to them.
    #[serde(default)]
    pub sellers: Vec<Username>,
}

fn default_min_items() -> u32 {
    1
}

fn default_carts_per_seller() -> u32 {
    10
}

/// A criterion that cannot be met by any cart, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct CriteriaError {
    pub field: &'static str,
    pub reason: String,
}

impl CriteriaError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl CartCriteria {
    /// Criteria with only a budget; every other field at its default.
    pub fn with_budget(budget: Money) -> Self {
        Self {
            budget,
            min_media_condition: None,
            min_sleeve_condition: None,
            min_seller_rating: None,
            min_items: default_min_items(),
            max_item_price: None,
            ships_from: Vec::new(),
            ships_from_exclude: Vec::new(),
            max_sellers: None,
            any_pressing: false,
            carts_per_seller: default_carts_per_seller(),
            sellers: Vec::new(),
        }
    }

    pub fn validate(&self) -> Result<(), CriteriaError> {
        if !self.budget.is_positive() {
            return Err(CriteriaError::new("budget", "must be greater than zero"));
        }
        if let Some(max) = self.max_item_price {
            if max.currency != self.budget.currency {
                return Err(CriteriaError::new(
                    "max_item_price",
                    format!("must be in the budget's currency {}", self.budget.currency),
                ));
            }
            if !max.is_positive() {
                return Err(CriteriaError::new(
                    "max_item_price",
                    "must be greater than zero",
                ));
            }
        }
        if let Some(rating) = self.min_seller_rating
            && !(0.0..=100.0).contains(&rating)
        {
            return Err(CriteriaError::new(
                "min_seller_rating",
                "must be a percentage from 0 to 100",
            ));
        }
        if self.min_items == 0 {
            return Err(CriteriaError::new("min_items", "must be at least 1"));
        }
        if self.min_items > MAX_MIN_ITEMS {
            return Err(CriteriaError::new(
                "min_items",
                format!("must be at most {MAX_MIN_ITEMS}"),
            ));
        }
        if self.max_sellers == Some(0) {
            return Err(CriteriaError::new(
                "max_sellers",
                "must be at least 1 when given",
            ));
        }
        if !(1..=MAX_CARTS_PER_SELLER).contains(&self.carts_per_seller) {
            return Err(CriteriaError::new(
                "carts_per_seller",
                format!("must be from 1 to {MAX_CARTS_PER_SELLER}"),
            ));
        }
        for (field, list) in [
            ("ships_from", &self.ships_from),
            ("ships_from_exclude", &self.ships_from_exclude),
        ] {
            if list.iter().any(|c| c.as_str().is_empty()) {
                return Err(CriteriaError::new(field, "contains an empty country name"));
            }
            if list.len() > 300 {
                return Err(CriteriaError::new(field, "lists more than 300 countries"));
            }
        }
        if self.sellers.len() > MAX_NAMED_SELLERS {
            return Err(CriteriaError::new(
                "sellers",
                format!("names more than {MAX_NAMED_SELLERS} sellers"),
            ));
        }
        let allowed: HashSet<&Country> = self.ships_from.iter().collect();
        if let Some(both) = self.ships_from_exclude.iter().find(|c| allowed.contains(c)) {
            return Err(CriteriaError::new(
                "ships_from_exclude",
                format!("{both} is both allowed and excluded"),
            ));
        }
        Ok(())
    }

    /// Whether a seller shipping from `country` may be used. An unknown country passes
    /// only when no allow-list is given.
    pub fn allows_country(&self, country: Option<&Country>) -> bool {
        match country {
            Some(c) => {
                (self.ships_from.is_empty() || self.ships_from.contains(c))
                    && !self.ships_from_exclude.contains(c)
            }
            None => self.ships_from.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::EUR)
    }

    fn field_of(c: &CartCriteria) -> &'static str {
        c.validate().unwrap_err().field
    }

    #[test]
    fn defaults_are_valid() {
        let c: CartCriteria =
            serde_json::from_str(r#"{"budget":{"minor":5000,"currency":"EUR"}}"#).unwrap();
        assert_eq!(c, CartCriteria::with_budget(eur(5000)));
        c.validate().unwrap();
    }

    #[test]
    fn every_bad_field_is_named() {
        let ok = CartCriteria::with_budget(eur(5000));
        assert_eq!(
            field_of(&CartCriteria {
                budget: eur(0),
                ..ok.clone()
            }),
            "budget"
        );
        assert_eq!(
            field_of(&CartCriteria {
                budget: eur(-1),
                ..ok.clone()
            }),
            "budget"
        );
        assert_eq!(
            field_of(&CartCriteria {
                max_item_price: Some(Money::new(5, Currency::USD)),
                ..ok.clone()
            }),
            "max_item_price"
        );
        assert_eq!(
            field_of(&CartCriteria {
                max_item_price: Some(eur(0)),
                ..ok.clone()
            }),
            "max_item_price"
        );
        assert_eq!(
            field_of(&CartCriteria {
                min_seller_rating: Some(101.0),
                ..ok.clone()
            }),
            "min_seller_rating"
        );
        assert_eq!(
            field_of(&CartCriteria {
                min_seller_rating: Some(f64::NAN),
                ..ok.clone()
            }),
            "min_seller_rating"
        );
        assert_eq!(
            field_of(&CartCriteria {
                min_items: 0,
                ..ok.clone()
            }),
            "min_items"
        );
        assert_eq!(
            field_of(&CartCriteria {
                min_items: 501,
                ..ok.clone()
            }),
            "min_items"
        );
        assert_eq!(
            field_of(&CartCriteria {
                max_sellers: Some(0),
                ..ok.clone()
            }),
            "max_sellers"
        );
        assert_eq!(
            field_of(&CartCriteria {
                carts_per_seller: 0,
                ..ok.clone()
            }),
            "carts_per_seller"
        );
        assert_eq!(
            field_of(&CartCriteria {
                ships_from: vec!["Germany".into()],
                ships_from_exclude: vec!["germany".into()],
                ..ok.clone()
            }),
            "ships_from_exclude"
        );
        let sellers = (0..=MAX_NAMED_SELLERS)
            .map(|i| Username::parse(&format!("seller{i}")).unwrap())
            .collect();
        assert_eq!(
            field_of(&CartCriteria {
                sellers,
                ..ok.clone()
            }),
            "sellers"
        );
    }

    #[test]
    fn named_sellers_are_discogs_usernames() {
        let named =
            r#"{"budget":{"minor":5000,"currency":"EUR"},"sellers":["vinyl-hut","Discs_4.U"]}"#;
        let c: CartCriteria = serde_json::from_str(named).unwrap();
        assert_eq!(c.sellers.len(), 2);
        c.validate().unwrap();
        let bad = r#"{"budget":{"minor":5000,"currency":"EUR"},"sellers":["../admin"]}"#;
        assert!(serde_json::from_str::<CartCriteria>(bad).is_err());
    }

    #[test]
    fn unknown_fields_and_conditions_are_rejected_when_read() {
        let unknown = r#"{"budget":{"minor":5000,"currency":"EUR"},"budgett":1}"#;
        assert!(serde_json::from_str::<CartCriteria>(unknown).is_err());
        let bad_grade =
            r#"{"budget":{"minor":5000,"currency":"EUR"},"min_media_condition":"shiny"}"#;
        let err = serde_json::from_str::<CartCriteria>(bad_grade)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown condition"), "{err}");
    }

    #[test]
    fn countries_are_allowed_and_excluded() {
        let mut c = CartCriteria::with_budget(eur(5000));
        assert!(c.allows_country(None));
        c.ships_from_exclude = vec!["France".into()];
        assert!(!c.allows_country(Some(&"france".into())));
        assert!(c.allows_country(Some(&"Germany".into())));
        c.ships_from = vec!["Germany".into()];
        assert!(!c.allows_country(None));
        assert!(!c.allows_country(Some(&"Italy".into())));
    }
}

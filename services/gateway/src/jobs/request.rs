//! Reading and checking `POST /api/v1/jobs`: every mistake is a 400 naming the field at
//! fault (`username`, `criteria.budget`, `criteria.ships_from[2]`), found before anything
//! is stored or any request reaches Discogs.

use std::collections::BTreeSet;

use chrono::{SecondsFormat, Utc};
use cratedigger_domain::{
    CartCriteria, Country, JobId, JobKind, JobSpec, MediaCondition, Money, Username,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::ApiError;
use crate::openapi::{CartCriteriaDoc, JobKindDoc};

/// The most recommendations (or cart candidates) a job may ask for.
pub const MAX_LIMIT: u32 = 500;
/// The largest budget, in major units of its currency: anything above buys the whole
/// marketplace anyway, and keeps every sum far from overflowing.
const MAX_BUDGET_MAJOR: i64 = 1_000_000;
const MAX_COUNTRY_LEN: usize = 60;

/// What `POST /api/v1/jobs` takes.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateJob {
    /// `recommendations`, `carts` or `sync`.
    #[schema(example = "recommendations", value_type = JobKindDoc)]
    pub kind: String,
    /// A Discogs username: letters, digits, `.`, `-`, `_`; at most 64 characters.
    #[schema(
        example = "digger0001",
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
    )]
    pub username: String,
    /// Carts jobs only (required for them).
    #[serde(default)]
    #[schema(value_type = Option<CartCriteriaDoc>)]
    pub criteria: Option<Value>,
    /// Recommendations to keep (recommendations jobs) or candidates to consider (carts
    /// jobs), 1 to 500.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Share of wantlist items among the cart candidates, 0 to 1 (the rest are
    /// recommendations); carts jobs.
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub wantlist_share: Option<f64>,
}

const FIELDS: [&str; 5] = ["kind", "username", "criteria", "limit", "wantlist_share"];

/// Job requests are JSON, and say so. A form on another site can only post
/// `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data` without a
/// preflight, so refusing every other type keeps it from starting jobs with a visitor's
/// session.
pub(crate) fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = declared.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    let said = if declared.is_empty() {
        "no content-type".to_owned()
    } else {
        format!("content-type {declared:?}")
    };
    Err(ApiError::UnsupportedMediaType(format!(
        "job requests are JSON: send content-type: application/json (got {said})"
    )))
}

/// A request that passed every check: the job to start, and what identifies it for
/// de-duplication (everything that changes the result, and nothing else).
pub struct ValidRequest {
    pub spec: JobSpec,
    pub identity: String,
}

/// `field` read as `T`, or a 400 naming it.
fn typed<T: DeserializeOwned>(field: &str, value: &Value) -> Result<T, ApiError> {
    serde_json::from_value(value.clone())
        .map_err(|e| ApiError::invalid(field, strip_position(&e.to_string())))
}

/// serde's "at line 1 column 7" points into a value we re-read, not into the request.
fn strip_position(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

fn object<'a>(field: &str, value: &'a Value) -> Result<&'a Map<String, Value>, ApiError> {
    value
        .as_object()
        .ok_or_else(|| ApiError::invalid(field, "must be a json object"))
}

fn reject_unknown(
    prefix: &str,
    object: &Map<String, Value>,
    known: &[&str],
) -> Result<(), ApiError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::invalid(
            format!("{prefix}{unknown}"),
            format!("unknown field; expected one of {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

pub fn parse(body: &[u8], default_limit: u32) -> Result<ValidRequest, ApiError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not valid json: {e}")))?;
    let fields = object("body", &body)?;
    reject_unknown("", fields, &FIELDS)?;
    let required = |name: &str| {
        fields
            .get(name)
            .filter(|v| !v.is_null())
            .ok_or_else(|| ApiError::invalid(name, "is required"))
    };
    let kind: String = typed("kind", required("kind")?)?;
    let kind: JobKind = kind.parse().map_err(|e| ApiError::invalid("kind", e))?;
    let username: String = typed("username", required("username")?)?;
    let username = Username::parse(&username).map_err(|e| ApiError::invalid("username", e))?;
    let optional = |name: &str| fields.get(name).filter(|v| !v.is_null());
    let criteria = match (kind, optional("criteria")) {
        (JobKind::Carts, None) => {
            return Err(ApiError::invalid(
                "criteria",
                "a carts job needs criteria with at least a budget",
            ));
        }
        (JobKind::Carts, Some(criteria)) => Some(criteria_from(criteria)?),
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "criteria",
                "only carts jobs take criteria",
            ));
        }
        (_, None) => None,
    };
    let limit = optional("limit")
        .map(|v| typed::<u32>("limit", v))
        .transpose()?
        .unwrap_or(default_limit);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be from 1 to {MAX_LIMIT}"),
        ));
    }
    let wantlist_share = optional("wantlist_share")
        .map(|v| typed::<f64>("wantlist_share", v))
        .transpose()?
        .unwrap_or(0.5);
    if !(0.0..=1.0).contains(&wantlist_share) {
        return Err(ApiError::invalid("wantlist_share", "must be from 0 to 1"));
    }
    let identity = identity_of(kind, &username, criteria.as_ref(), limit, wantlist_share);
    let spec = JobSpec {
        id: JobId::generate(),
        kind,
        username,
        criteria,
        limit,
        wantlist_share,
        seed: rand::random(),
        requested_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    Ok(ValidRequest { spec, identity })
}

const CRITERIA_FIELDS: [&str; 12] = [
    "budget",
    "min_media_condition",
    "min_sleeve_condition",
    "min_seller_rating",
    "min_items",
    "max_item_price",
    "ships_from",
    "ships_from_exclude",
    "max_sellers",
    "any_pressing",
    "carts_per_seller",
    "sellers",
];

/// Reads the criteria field by field, so a wrong type or grade names its field, then
/// checks what the domain checks (ranges, currencies, contradictions).
fn criteria_from(value: &Value) -> Result<CartCriteria, ApiError> {
    let fields = object("criteria", value)?;
    reject_unknown("criteria.", fields, &CRITERIA_FIELDS)?;
    if !fields.contains_key("budget") {
        return Err(ApiError::invalid("criteria.budget", "is required"));
    }
    for (name, value) in fields {
        let field = format!("criteria.{name}");
        match name.as_str() {
            "budget" | "max_item_price" => check_money(&field, value)?,
            "min_media_condition" | "min_sleeve_condition" => {
                typed::<Option<MediaCondition>>(&field, value)?;
            }
            "min_seller_rating" => {
                typed::<Option<f64>>(&field, value)?;
            }
            "min_items" | "carts_per_seller" => {
                typed::<u32>(&field, value)?;
            }
            "max_sellers" => {
                typed::<Option<u32>>(&field, value)?;
            }
            "any_pressing" => {
                typed::<bool>(&field, value)?;
            }
            "sellers" => check_sellers(&field, value)?,
            _ => check_countries(&field, value)?,
        }
    }
    let criteria: CartCriteria = typed("criteria", value)?;
    criteria
        .validate()
        .map_err(|e| ApiError::invalid(format!("criteria.{}", e.field), e.reason))?;
    Ok(criteria)
}

fn check_money(field: &str, value: &Value) -> Result<(), ApiError> {
    if field.ends_with("max_item_price") && value.is_null() {
        return Ok(());
    }
    let parts = object(field, value)?;
    reject_unknown(&format!("{field}."), parts, &["minor", "currency"])?;
    let money: Money = typed(field, value)?;
    if money.minor > MAX_BUDGET_MAJOR.saturating_mul(money.currency.minor_per_major()) {
        return Err(ApiError::invalid(
            format!("{field}.minor"),
            format!("must be at most {MAX_BUDGET_MAJOR} {}", money.currency),
        ));
    }
    Ok(())
}

/// Country names as Discogs shows them ("United States", "Côte d'Ivoire").
fn check_countries(field: &str, value: &Value) -> Result<(), ApiError> {
    let countries: Vec<String> = typed(field, value)?;
    for (i, name) in countries.iter().enumerate() {
        let name = name.trim();
        let fine = !name.is_empty()
            && name.chars().count() <= MAX_COUNTRY_LEN
            && name.chars().all(|c| {
                c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | ',' | '(' | ')' | '&')
            });
        if !fine {
            return Err(ApiError::invalid(
                format!("{field}[{i}]"),
                format!(
                    "is not a country name (letters, spaces and - ' . , ( ) &, at most {MAX_COUNTRY_LEN} characters)"
                ),
            ));
        }
    }
    Ok(())
}

/// Discogs usernames, each named by its position when it is not one.
fn check_sellers(field: &str, value: &Value) -> Result<(), ApiError> {
    let names: Vec<String> = typed(field, value)?;
    for (i, name) in names.iter().enumerate() {
        Username::parse(name).map_err(|e| {
            ApiError::invalid(
                format!("{field}[{i}]"),
                format!("is not a Discogs username: {e}"),
            )
        })?;
    }
    Ok(())
}

/// The same wish written differently (username, country and seller case and order) is
/// the same request.
fn identity_of(
    kind: JobKind,
    username: &Username,
    criteria: Option<&CartCriteria>,
    limit: u32,
    wantlist_share: f64,
) -> String {
    let criteria = criteria.map(|c| {
        let mut c = c.clone();
        for list in [&mut c.ships_from, &mut c.ships_from_exclude] {
            let mut names: Vec<String> = list
                .iter()
                .map(|country| country.as_str().to_lowercase())
                .collect();
            names.sort();
            names.dedup();
            *list = names.iter().map(|n| Country::new(n)).collect();
        }
        let sellers: BTreeSet<String> = c
            .sellers
            .iter()
            .map(|u| u.as_str().to_lowercase())
            .collect();
        c.sellers = sellers
            .iter()
            .filter_map(|name| Username::parse(name).ok())
            .collect();
        c
    });
    let identity = serde_json::json!({
        "kind": kind, "username": username.key(), "criteria": criteria, "limit": limit, "wantlist_share": wantlist_share,
    });
    Sha256::digest(identity.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(body: Value) -> String {
        match parse(body.to_string().as_bytes(), 20) {
            Err(ApiError::Invalid { field, .. }) => field,
            Err(other) => panic!("expected a 400, got {other:?}"),
            Ok(_) => panic!("{body} was accepted"),
        }
    }

    fn carts(criteria: Value) -> Value {
        json!({"kind": "carts", "username": "digger", "criteria": criteria})
    }

    #[test]
    fn names_the_field_of_every_mistake() {
        let eur = json!({"minor": 5000, "currency": "EUR"});
        assert_eq!(field_of(json!([])), "body");
        assert_eq!(field_of(json!({"username": "digger"})), "kind");
        assert_eq!(
            field_of(json!({"kind": "nap", "username": "digger"})),
            "kind"
        );
        assert_eq!(field_of(json!({"kind": "recommendations"})), "username");
        for bad in ["../x", "a/b", "%2e%2e", "..", "", &"a".repeat(200)] {
            assert_eq!(
                field_of(json!({"kind": "recommendations", "username": bad})),
                "username",
                "{bad}"
            );
        }
        assert_eq!(
            field_of(json!({"kind": "recommendations", "username": "d", "limit": 0})),
            "limit"
        );
        assert_eq!(
            field_of(json!({"kind": "recommendations", "username": "d", "limit": -3})),
            "limit"
        );
        assert_eq!(
            field_of(json!({"kind": "recommendations", "username": "d", "extra": 1})),
            "extra"
        );
        assert_eq!(
            field_of(
                json!({"kind": "recommendations", "username": "d", "criteria": {"budget": eur}})
            ),
            "criteria"
        );
        assert_eq!(
            field_of(json!({"kind": "carts", "username": "d"})),
            "criteria"
        );
        assert_eq!(
            field_of(
                json!({"kind": "carts", "username": "d", "criteria": {"budget": eur}, "wantlist_share": 1.5})
            ),
            "wantlist_share"
        );
        assert_eq!(field_of(carts(json!({}))), "criteria.budget");
        assert_eq!(
            field_of(carts(json!({"budget": {"minor": 0, "currency": "EUR"}}))),
            "criteria.budget"
        );
        assert_eq!(
            field_of(carts(json!({"budget": {"minor": 5, "currency": "EURO"}}))),
            "criteria.budget"
        );
        assert_eq!(
            field_of(carts(
                json!({"budget": {"minor": i64::MAX, "currency": "EUR"}})
            )),
            "criteria.budget.minor"
        );
        assert_eq!(
            field_of(carts(
                json!({"budget": eur, "min_media_condition": "shiny"})
            )),
            "criteria.min_media_condition"
        );
        assert_eq!(
            field_of(carts(json!({"budget": eur, "min_seller_rating": 101}))),
            "criteria.min_seller_rating"
        );
        assert_eq!(
            field_of(carts(json!({"budget": eur, "min_items": 0}))),
            "criteria.min_items"
        );
        assert_eq!(
            field_of(carts(json!({"budget": eur, "carts_per_seller": 1000}))),
            "criteria.carts_per_seller"
        );
        assert_eq!(
            field_of(carts(json!({"budget": eur, "max_sellers": 0}))),
            "criteria.max_sellers"
        );
        assert_eq!(
            field_of(carts(
                json!({"budget": eur, "ships_from": ["Germany", "<script>"]})
            )),
            "criteria.ships_from[1]"
        );
        assert_eq!(
            field_of(carts(
                json!({"budget": eur, "ships_from": ["Germany"], "ships_from_exclude": ["germany"]})
            )),
            "criteria.ships_from_exclude"
        );
        assert_eq!(
            field_of(carts(
                json!({"budget": eur, "max_item_price": {"minor": 5, "currency": "USD"}})
            )),
            "criteria.max_item_price"
        );
        assert_eq!(
            field_of(carts(json!({"budget": eur, "colour": "red"}))),
            "criteria.colour"
        );
        assert_eq!(
            field_of(carts(
                json!({"budget": eur, "sellers": ["vinyl-hut", "no/such"]})
            )),
            "criteria.sellers[1]"
        );
        let many: Vec<String> = (0..51).map(|i| format!("seller{i}")).collect();
        assert_eq!(
            field_of(carts(json!({"budget": eur, "sellers": many}))),
            "criteria.sellers"
        );
    }

    #[test]
    fn equal_wishes_share_an_identity() {
        let eur = json!({"minor": 5000, "currency": "EUR"});
        let one = parse(
            carts(json!({"budget": eur, "ships_from": ["Germany", "France"]}))
                .to_string()
                .as_bytes(),
            20,
        )
        .unwrap();
        let two = parse(
            carts(json!({"budget": eur, "ships_from": ["france", "germany"]}))
                .to_string()
                .as_bytes(),
            20,
        )
        .unwrap();
        let other = parse(
            carts(json!({"budget": eur, "ships_from": ["Italy"]}))
                .to_string()
                .as_bytes(),
            20,
        )
        .unwrap();
        assert_eq!(one.identity, two.identity);
        assert_ne!(one.identity, other.identity);
        let named = |sellers: Value| {
            parse(
                carts(json!({"budget": eur, "sellers": sellers}))
                    .to_string()
                    .as_bytes(),
                20,
            )
            .unwrap()
            .identity
        };
        assert_eq!(
            named(json!(["Vinyl-Hut", "discs"])),
            named(json!(["discs", "vinyl-hut", "DISCS"]))
        );
        assert_ne!(one.spec.id, two.spec.id);
        let defaults = parse(
            json!({"kind": "recommendations", "username": "d"})
                .to_string()
                .as_bytes(),
            20,
        )
        .unwrap();
        assert_eq!(
            (defaults.spec.limit, defaults.spec.wantlist_share),
            (20, 0.5)
        );
    }
}

//! Conversions between generated protobuf types and domain types. Incoming messages are
//! untrusted: every conversion validates and names the field that is wrong.

use chrono::{DateTime, SecondsFormat, Utc};
use cratedigger_domain::{
    CartCriteria, Country, Currency, JobId, JobKind, JobSpec, MediaCondition, Money, Stage,
    Username,
};

use crate::events;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ConvertError {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl ToString) -> ConvertError {
    ConvertError {
        field,
        reason: reason.to_string(),
    }
}

pub fn money_to_pb(m: Money) -> events::Money {
    events::Money {
        minor: m.minor,
        currency: m.currency.as_str().to_owned(),
    }
}

pub fn money_from_pb(field: &'static str, m: &events::Money) -> Result<Money, ConvertError> {
    let currency = Currency::new(&m.currency).map_err(|e| invalid(field, e))?;
    Ok(Money::new(m.minor, currency))
}

pub fn kind_to_pb(kind: JobKind) -> events::JobKind {
    match kind {
        JobKind::Recommendations => events::JobKind::Recommendations,
        JobKind::Carts => events::JobKind::Carts,
        JobKind::Sync => events::JobKind::Sync,
    }
}

pub fn kind_from_pb(kind: i32) -> Result<JobKind, ConvertError> {
    match events::JobKind::try_from(kind) {
        Ok(events::JobKind::Recommendations) => Ok(JobKind::Recommendations),
        Ok(events::JobKind::Carts) => Ok(JobKind::Carts),
        Ok(events::JobKind::Sync) => Ok(JobKind::Sync),
        _ => Err(invalid("job.kind", format!("{kind} is not a job kind"))),
    }
}

pub fn stage_to_pb(stage: Stage) -> events::Stage {
    match stage {
        Stage::Profile => events::Stage::Profile,
        Stage::Recommend => events::Stage::Recommend,
        Stage::Candidates => events::Stage::Candidates,
        Stage::Market => events::Stage::Market,
        Stage::Carts => events::Stage::Carts,
    }
}

pub fn stage_from_pb(stage: i32) -> Result<Stage, ConvertError> {
    match events::Stage::try_from(stage) {
        Ok(events::Stage::Profile) => Ok(Stage::Profile),
        Ok(events::Stage::Recommend) => Ok(Stage::Recommend),
        Ok(events::Stage::Candidates) => Ok(Stage::Candidates),
        Ok(events::Stage::Market) => Ok(Stage::Market),
        Ok(events::Stage::Carts) => Ok(Stage::Carts),
        _ => Err(invalid("stage", format!("{stage} is not a stage"))),
    }
}

pub fn criteria_to_pb(c: &CartCriteria) -> events::CartCriteria {
    events::CartCriteria {
        budget: Some(money_to_pb(c.budget)),
        min_media_condition: c.min_media_condition.map(|g| g.code().to_owned()),
        min_sleeve_condition: c.min_sleeve_condition.map(|g| g.code().to_owned()),
        min_seller_rating: c.min_seller_rating,
        min_items: c.min_items,
        max_item_price: c.max_item_price.map(money_to_pb),
        ships_from: c.ships_from.iter().map(|c| c.as_str().to_owned()).collect(),
        ships_from_exclude: c
            .ships_from_exclude
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        max_sellers: c.max_sellers,
        any_pressing: c.any_pressing,
        carts_per_seller: c.carts_per_seller,
        sellers: c.sellers.iter().map(|u| u.as_str().to_owned()).collect(),
    }
}

pub fn criteria_from_pb(c: &events::CartCriteria) -> Result<CartCriteria, ConvertError> {
    let grade = |field, code: &Option<String>| -> Result<Option<MediaCondition>, ConvertError> {
        code.as_deref()
            .map(|g| g.parse().map_err(|e| invalid(field, e)))
            .transpose()
    };
    let criteria = CartCriteria {
        budget: money_from_pb(
            "criteria.budget",
            c.budget
                .as_ref()
                .ok_or_else(|| invalid("criteria.budget", "missing"))?,
        )?,
        min_media_condition: grade("criteria.min_media_condition", &c.min_media_condition)?,
        min_sleeve_condition: grade("criteria.min_sleeve_condition", &c.min_sleeve_condition)?,
        min_seller_rating: c.min_seller_rating,
        min_items: c.min_items,
        max_item_price: c
            .max_item_price
            .as_ref()
            .map(|m| money_from_pb("criteria.max_item_price", m))
            .transpose()?,
        ships_from: c.ships_from.iter().map(|s| Country::new(s)).collect(),
        ships_from_exclude: c
            .ships_from_exclude
            .iter()
            .map(|s| Country::new(s))
            .collect(),
        max_sellers: c.max_sellers,
        any_pressing: c.any_pressing,
        carts_per_seller: c.carts_per_seller,
        sellers: c
            .sellers
            .iter()
            .map(|name| Username::parse(name).map_err(|e| invalid("criteria.sellers", e)))
            .collect::<Result<_, _>>()?,
    };
    criteria.validate().map_err(|e| invalid("criteria", e))?;
    Ok(criteria)
}

pub fn timestamp_to_pb(rfc3339: &str) -> Option<prost_types::Timestamp> {
    let t = DateTime::parse_from_rfc3339(rfc3339)
        .ok()?
        .with_timezone(&Utc);
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}

pub fn timestamp_from_pb(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

pub fn job_to_pb(job: &JobSpec) -> events::Job {
    events::Job {
        id: job.id.to_string(),
        kind: kind_to_pb(job.kind) as i32,
        username: job.username.to_string(),
        criteria: job.criteria.as_ref().map(criteria_to_pb),
        limit: job.limit,
        wantlist_share: job.wantlist_share,
        seed: job.seed,
        requested_at: timestamp_to_pb(&job.requested_at),
    }
}

pub fn job_from_pb(job: &events::Job) -> Result<JobSpec, ConvertError> {
    let wantlist_share = job.wantlist_share;
    if !(0.0..=1.0).contains(&wantlist_share) {
        return Err(invalid("job.wantlist_share", "must be from 0 to 1"));
    }
    Ok(JobSpec {
        id: job.id.parse::<JobId>().map_err(|e| invalid("job.id", e))?,
        kind: kind_from_pb(job.kind)?,
        username: Username::parse(&job.username).map_err(|e| invalid("job.username", e))?,
        criteria: job.criteria.as_ref().map(criteria_from_pb).transpose()?,
        limit: job.limit,
        wantlist_share,
        seed: job.seed,
        requested_at: job
            .requested_at
            .as_ref()
            .and_then(timestamp_from_pb)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default(),
    })
}

/// The job of an event, converted; every event of a job must carry it.
pub fn job_of(job: Option<&events::Job>) -> Result<JobSpec, ConvertError> {
    job_from_pb(job.ok_or_else(|| invalid("job", "missing"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        let mut criteria = CartCriteria::with_budget(Money::new(10_000, Currency::EUR));
        criteria.min_media_condition = Some(MediaCondition::VeryGoodPlus);
        criteria.ships_from = vec![Country::new("Germany")];
        JobSpec {
            id: JobId::generate(),
            kind: JobKind::Carts,
            username: Username::parse("digger0001").unwrap(),
            criteria: Some(criteria),
            limit: 200,
            wantlist_share: 0.5,
            seed: 7,
            requested_at: "2026-11-23T20:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_job_survives_the_round_trip() {
        let job = spec();
        assert_eq!(job_from_pb(&job_to_pb(&job)).unwrap(), job);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut pb = job_to_pb(&spec());
        pb.username = "../x".into();
        assert_eq!(job_from_pb(&pb).unwrap_err().field, "job.username");
        let mut pb = job_to_pb(&spec());
        pb.kind = 99;
        assert_eq!(job_from_pb(&pb).unwrap_err().field, "job.kind");
        let mut pb = job_to_pb(&spec());
        pb.criteria.as_mut().unwrap().min_media_condition = Some("shiny".into());
        assert_eq!(
            job_from_pb(&pb).unwrap_err().field,
            "criteria.min_media_condition"
        );
        let mut pb = job_to_pb(&spec());
        pb.criteria.as_mut().unwrap().budget = Some(events::Money {
            minor: -5,
            currency: "EUR".into(),
        });
        assert_eq!(job_from_pb(&pb).unwrap_err().field, "criteria");
        assert_eq!(job_of(None).unwrap_err().field, "job");
    }
}

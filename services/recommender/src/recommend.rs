//! Recommendations for one user from their stored interactions: recalculated against
//! the model, nothing they own or want, no other pressing of a record they own or want,
//! each with the releases of theirs that contributed most.

use std::collections::{HashMap, HashSet};

use chrono::{SecondsFormat, Utc};
use cratedigger_als::{Model, RecommendRequest};
use cratedigger_catalog::{Catalog, Interaction, InteractionKind, Release};
use cratedigger_domain::{
    Because, MasterId, RecommendationSet, RecommendedRelease, ReleaseId, release_url,
};

/// How many candidates to rank per recommendation kept, to leave room for dropping other
/// pressings of what the user has.
const OVERFETCH: usize = 3;
/// Contributions shown per recommendation.
const BECAUSE: usize = 3;

#[derive(Clone, Copy, Debug)]
pub struct Weights {
    pub want: f32,
    pub have: f32,
}

pub struct Request<'a> {
    pub username: &'a str,
    pub job_id: &'a str,
    pub limit: usize,
}

/// How much each of the user's releases added to a score.
pub type Contributions = Vec<(ReleaseId, f32)>;

/// The model's ranking for a user, with explanations: CPU work, run off the async
/// threads.
pub struct Ranked {
    /// (release, score, contributions by release), best first.
    pub items: Vec<(ReleaseId, f32, Contributions)>,
    pub unknown: u32,
}

pub fn rank(
    model: &Model,
    interactions: &[Interaction],
    weights: Weights,
    exclude: &[ReleaseId],
    wanted: usize,
) -> anyhow::Result<Ranked> {
    let weighted = interactions.iter().map(|i| {
        let w = match i.kind {
            InteractionKind::Want => weights.want,
            InteractionKind::Have => weights.have,
        };
        (i.release_id.0, w * i.weight)
    });
    let (row, unknown) = model.user_row(weighted)?;
    let deny: Vec<u32> = exclude
        .iter()
        .filter_map(|r| model.item_index(r.0))
        .collect();
    let ranked = model.recommend(
        &row,
        &RecommendRequest {
            n: wanted,
            allow: None,
            deny: &deny,
        },
    )?;
    let mut items = Vec::with_capacity(ranked.len());
    for rec in ranked {
        let Some(id) = model.item_id(rec.item) else {
            continue;
        };
        let because = model
            .explain(&row, rec.item, BECAUSE)?
            .contributions
            .into_iter()
            .filter_map(|(item, c)| Some((ReleaseId(model.item_id(item)?), c)))
            .collect();
        items.push((ReleaseId(id), rec.score, because));
    }
    Ok(Ranked {
        items,
        unknown: u32::try_from(unknown).unwrap_or(u32::MAX),
    })
}

/// How many candidates to rank for `limit` recommendations.
pub fn candidates_for(limit: usize) -> usize {
    (limit * OVERFETCH).max(limit + 10)
}

/// Turns a ranking into the stored recommendations: drops what the user has (and other
/// pressings of it), keeps `limit`, adds release metadata.
pub async fn assemble(
    ranked: Ranked,
    catalog: &dyn Catalog,
    interactions: &[Interaction],
    model_version: &str,
    request: &Request<'_>,
) -> anyhow::Result<RecommendationSet> {
    let own_ids: Vec<ReleaseId> = interactions.iter().map(|i| i.release_id).collect();
    let mut ids: Vec<ReleaseId> = ranked.items.iter().map(|(id, _, _)| *id).collect();
    ids.extend(
        ranked
            .items
            .iter()
            .flat_map(|(_, _, because)| because.iter().map(|(id, _)| *id)),
    );
    ids.extend(&own_ids);
    ids.sort_unstable();
    ids.dedup();
    let releases: HashMap<ReleaseId, Release> = catalog
        .releases(&ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let owned: HashSet<ReleaseId> = own_ids.iter().copied().collect();
    let owned_masters: HashSet<MasterId> = own_ids
        .iter()
        .filter_map(|id| releases.get(id)?.master_id)
        .collect();

    let mut kept = Vec::with_capacity(request.limit);
    for (id, score, because) in ranked.items {
        if kept.len() == request.limit {
            break;
        }
        let release = releases.get(&id);
        if owned.contains(&id)
            || release
                .and_then(|r| r.master_id)
                .is_some_and(|m| owned_masters.contains(&m))
        {
            continue;
        }
        let because = because
            .into_iter()
            .map(|(id, contribution)| Because {
                release_id: id,
                title: releases.get(&id).map(display_title).unwrap_or_default(),
                contribution,
            })
            .collect();
        kept.push(RecommendedRelease {
            release_id: id,
            score,
            title: release.map(|r| r.title.clone()).unwrap_or_default(),
            artists: release.map(|r| r.artists.clone()).unwrap_or_default(),
            year: release.and_then(|r| r.year),
            thumb: release.and_then(|r| r.thumb.clone()),
            url: release_url(id),
            because,
        });
    }
    Ok(RecommendationSet {
        username: request.username.to_owned(),
        job_id: request.job_id.to_owned(),
        model_version: model_version.to_owned(),
        generated_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        releases: kept,
        unknown_to_model: ranked.unknown,
    })
}

/// "Artist - Title", as Discogs lists releases.
fn display_title(release: &Release) -> String {
    match release.artists.first() {
        Some(artist) => format!("{artist} - {}", release.title),
        None => release.title.clone(),
    }
}

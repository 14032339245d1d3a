//! Wantlists and collections: upserts, pruning after a sync, the training stream, and
//! batches far larger than any statement can bind.

use std::collections::BTreeSet;
use std::time::Instant;

use cratedigger_domain::{ReleaseId, Username};
use futures::TryStreamExt;

use super::{Subject, at, user};
use crate::{Interaction, InteractionKind, Release};

fn want(release: u64, seconds: i64) -> Interaction {
    Interaction {
        release_id: ReleaseId(release),
        kind: InteractionKind::Want,
        added_at: Some(at(seconds)),
        weight: 1.0,
    }
}

fn have(release: u64) -> Interaction {
    Interaction {
        release_id: ReleaseId(release),
        kind: InteractionKind::Have,
        added_at: None,
        weight: 2.5,
    }
}

/// Sorted the way the tests compare them (adapters promise no order for one user).
async fn stored(c: &Subject, name: &Username) -> Vec<Interaction> {
    let mut rows = c.interactions(name).await.unwrap();
    rows.sort_by_key(|i| (i.release_id, i.kind.as_str()));
    rows
}

pub async fn interactions_upsert_idempotently(c: Subject) {
    let alice = user("alice");
    assert!(c.interactions(&alice).await.unwrap().is_empty());
    // One release both wanted and owned is two interactions.
    let first = vec![want(10, 0), want(11, 5), have(10)];
    c.upsert_interactions(&alice, &first, "s1").await.unwrap();
    c.upsert_interactions(&alice, &first, "s1").await.unwrap();
    c.upsert_interactions(&alice, &[], "s1").await.unwrap();
    assert_eq!(
        stored(&c, &alice).await,
        vec![have(10), want(10, 0), want(11, 5)]
    );

    // A later sync updates what changed and keeps the rest.
    let changed = Interaction {
        weight: 3.0,
        added_at: Some(at(99)),
        ..want(11, 0)
    };
    c.upsert_interactions(&alice, std::slice::from_ref(&changed), "s2")
        .await
        .unwrap();
    assert_eq!(
        stored(&c, &alice).await,
        vec![have(10), want(10, 0), changed]
    );

    // Within one call the last occurrence of a key wins.
    let twice = vec![
        want(12, 1),
        Interaction {
            weight: 4.0,
            ..want(12, 2)
        },
    ];
    c.upsert_interactions(&alice, &twice, "s3").await.unwrap();
    assert_eq!(stored(&c, &alice).await.last(), Some(&twice[1]));
    assert!(
        c.interactions(&user("bob")).await.unwrap().is_empty(),
        "interactions belong to their user"
    );
}

pub async fn prune_removes_what_the_sync_did_not_see(c: Subject) {
    let alice = user("alice");
    let bob = user("bob");
    c.upsert_interactions(
        &alice,
        &[want(1, 0), want(2, 0), want(3, 0), have(4)],
        "sync-1",
    )
    .await
    .unwrap();
    c.upsert_interactions(&bob, &[want(1, 0)], "sync-1")
        .await
        .unwrap();

    // Sync 2 of Alice's wantlist sees 2 and 3 again and a new 5; 1 was removed on Discogs.
    c.upsert_interactions(&alice, &[want(2, 0), want(3, 0), want(5, 0)], "sync-2")
        .await
        .unwrap();
    assert_eq!(
        c.prune_interactions(&alice, InteractionKind::Want, "sync-2")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        c.prune_interactions(&alice, InteractionKind::Want, "sync-2")
            .await
            .unwrap(),
        0,
        "pruning twice"
    );
    assert_eq!(
        stored(&c, &alice).await,
        vec![want(2, 0), want(3, 0), have(4), want(5, 0)]
    );
    assert_eq!(
        stored(&c, &bob).await,
        vec![want(1, 0)],
        "other users untouched"
    );

    // An empty collection sync removes the whole collection.
    assert_eq!(
        c.prune_interactions(&alice, InteractionKind::Have, "sync-3")
            .await
            .unwrap(),
        1
    );
    assert_eq!(stored(&c, &alice).await.len(), 3);
    assert_eq!(
        c.prune_interactions(&user("nobody"), InteractionKind::Want, "x")
            .await
            .unwrap(),
        0
    );
}

/// Training reads every user's rows one user at a time: the stream must keep each user's
/// rows together, ordered by username (lowercase names, so collations agree).
pub async fn all_interactions_streams_grouped_by_username(c: Subject) {
    let names = ["mike", "alice", "zoe", "bob", "al", "bo_b", "al.ice"];
    for (n, name) in names.iter().enumerate() {
        let rows: Vec<Interaction> = (0..25)
            .map(|i| want(1000 - i * 7 - n as u64, 0))
            .chain([have(3)])
            .collect();
        c.upsert_interactions(&user(name), &rows, "s")
            .await
            .unwrap();
    }
    let streamed: Vec<(Username, Interaction)> = c.all_interactions().try_collect().await.unwrap();
    assert_eq!(streamed.len(), names.len() * 26);

    // Each user once in the sequence of users: nobody's rows are split.
    let mut order: Vec<&str> = streamed.iter().map(|(name, _)| name.as_str()).collect();
    order.dedup();
    let distinct: BTreeSet<&str> = order.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        order.len(),
        "a user's rows are split in the stream: {order:?}"
    );
    assert_eq!(distinct.len(), names.len());
    let plain: Vec<&str> = order
        .iter()
        .copied()
        .filter(|n| n.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    assert_eq!(
        plain,
        vec!["al", "alice", "bob", "mike", "zoe"],
        "users come in username order"
    );

    // Dropping the stream part-way is fine, and the catalog stays usable.
    let mut partial = c.all_interactions();
    assert!(partial.try_next().await.unwrap().is_some());
    drop(partial);
    assert_eq!(c.interactions(&user("zoe")).await.unwrap().len(), 26);
}

/// 20,000 interactions and 20,000 releases in one call each: adapters batch under their
/// bound-parameter limits and read back by large id sets the same way.
pub async fn large_batches_are_stored_whole(c: Subject) {
    let crate_digger = user("crate_digger");
    let rows: Vec<Interaction> = (0..10_000_u64)
        .flat_map(|r| {
            [
                want(r + 1, r as i64),
                Interaction {
                    weight: 1.0 + r as f32 / 4.0,
                    ..have(r + 1)
                },
            ]
        })
        .collect();
    let started = Instant::now();
    c.upsert_interactions(&crate_digger, &rows, "big")
        .await
        .unwrap();
    let first_write = started.elapsed();
    c.upsert_interactions(&crate_digger, &rows, "big")
        .await
        .unwrap();
    let mut expected = rows.clone();
    expected.sort_by_key(|i| (i.release_id, i.kind.as_str()));
    assert_eq!(stored(&c, &crate_digger).await, expected);
    let streamed: Vec<_> = c.all_interactions().try_collect().await.unwrap();
    assert_eq!(streamed.len(), 20_000);

    let releases: Vec<Release> = (1..=20_000_u64)
        .map(|id| Release {
            id: ReleaseId(id),
            master_id: None,
            title: format!("Release {id}"),
            artists: vec![format!("Artist {}", id % 97)],
            year: None,
            formats: vec![],
            genres: vec![],
            styles: vec![],
            thumb: None,
            lowest_price: None,
            median_price: None,
            num_for_sale: None,
        })
        .collect();
    c.upsert_releases(&releases).await.unwrap();
    let ids: Vec<ReleaseId> = (1..=20_500).map(ReleaseId).collect();
    let mut read = c.releases(&ids).await.unwrap();
    read.sort_by_key(|r| r.id);
    assert_eq!(read, releases);

    // Pruning at this size: a new sync saw only the first 1,000 wants.
    c.upsert_interactions(&crate_digger, &rows[..2000], "next")
        .await
        .unwrap();
    let pruned = c
        .prune_interactions(&crate_digger, InteractionKind::Want, "next")
        .await
        .unwrap();
    assert_eq!(pruned, 9000);
    eprintln!(
        "20,000 interactions upserted in {:.0} ms",
        first_write.as_secs_f64() * 1e3
    );
}

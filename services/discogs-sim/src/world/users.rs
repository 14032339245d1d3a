//! Simulated Discogs users. A user's wantlist and collection are drawn from a few latent
//! taste clusters (mostly their own, a little from a second one and from everywhere) with
//! Zipf popularity inside each cluster, so a recommender has real structure to find.
//! Everything follows from (seed, user index): nothing is stored until someone asks.

use std::collections::HashSet;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::catalog::{Catalog, WORLD_NOW};
use super::random::{Stream, log_normal, name_key, stream_rng};

const REGISTERED_EARLIEST: i64 = 1_199_145_600; // 2008-01-01
/// Share of a user's items drawn from their own cluster; the rest come from their second
/// cluster (if they have one) and from the catalogue at large.
const OWN_CLUSTER_SHARE: f64 = 0.8;
const SECOND_CLUSTER_SHARE: f64 = 0.1;

/// One entry of a wantlist or collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListItem {
    pub release: u32,
    pub date_added: i64,
    /// 0 (unrated) to 5.
    pub rating: u8,
    pub instance_id: u64,
}

/// Everything the API shows about one user. Lists are newest first.
#[derive(Clone, Debug)]
pub struct UserLists {
    pub username: String,
    pub id: u64,
    pub registered: i64,
    /// The taste cluster the lists were drawn from (ground truth for recommender tests).
    pub cluster: u16,
    pub wants: Vec<ListItem>,
    pub collection: Vec<ListItem>,
    pub wantlist_private: bool,
    pub collection_private: bool,
}

impl UserLists {
    /// Keeps the newest-first order after an insertion.
    pub fn sort_lists(&mut self) {
        self.wants.sort_by(|a, b| {
            b.date_added
                .cmp(&a.date_added)
                .then(a.release.cmp(&b.release))
        });
        self.collection.sort_by(|a, b| {
            b.date_added
                .cmp(&a.date_added)
                .then(a.release.cmp(&b.release))
        });
    }
}

/// How many items to draw; `None` means "as the population does".
#[derive(Clone, Copy, Debug, Default)]
pub struct ListSizes {
    pub wants: Option<usize>,
    pub collection: Option<usize>,
}

/// Who to draw: the random stream and the identity the lists are drawn for.
#[derive(Clone, Debug)]
pub struct UserRecipe {
    /// The `digger…` stream keyed by user index, or the created-user stream keyed by a
    /// hash of the name.
    pub stream: Stream,
    pub stream_index: u64,
    pub username: String,
    pub id: u64,
    pub sizes: ListSizes,
    pub cluster: Option<u16>,
}

/// Draws one user's profile and lists.
pub fn draw_user(
    catalog: &Catalog,
    seed: u64,
    private_collections_percent: u8,
    recipe: UserRecipe,
) -> UserLists {
    let UserRecipe {
        stream,
        stream_index,
        username,
        id,
        sizes,
        cluster: cluster_override,
    } = recipe;
    let mut rng = stream_rng(seed, stream, stream_index);
    let clusters = catalog.by_cluster.len().max(1) as u16;
    let own = cluster_override.map_or_else(|| rng.random_range(0..clusters), |c| c % clusters);
    let second = rng
        .random_bool(0.3)
        .then(|| rng.random_range(0..clusters))
        .filter(|c| *c != own);
    let registered = rng.random_range(REGISTERED_EARLIEST..WORLD_NOW - 365 * 86_400);
    let capacity = catalog.releases.len() / 2;

    let want_count = sizes
        .wants
        .unwrap_or_else(|| population_size(&mut rng, 35.0, 1.0, 0.03, 2_500));
    let collection_count = sizes
        .collection
        .unwrap_or_else(|| population_size(&mut rng, 60.0, 1.1, 0.05, 4_000));
    let want_count = want_count.min(catalog.releases.len());
    let collection_count = collection_count.min(capacity.max(catalog.releases.len() - want_count));

    let mut taken = HashSet::with_capacity(want_count + collection_count);
    let mut draw_items = |rng: &mut ChaCha8Rng, count: usize, rated: bool| {
        let mut items = Vec::with_capacity(count);
        let mut attempts = 0;
        while items.len() < count {
            attempts += 1;
            let release = if attempts > count * 20 + 100 {
                // Tiny catalogues run out of fresh popular items: walk the rest in order.
                match (0..catalog.releases.len() as u32).find(|r| !taken.contains(r)) {
                    Some(r) => r,
                    None => break,
                }
            } else {
                match draw_release(catalog, rng, own, second) {
                    Some(r) => r,
                    None => break,
                }
            };
            if !taken.insert(release) {
                continue;
            }
            items.push(ListItem {
                release,
                date_added: rng.random_range(registered..WORLD_NOW),
                rating: if rated && rng.random_bool(0.4) {
                    rng.random_range(3..=5)
                } else {
                    0
                },
                instance_id: rng.random_range(10_000_000..900_000_000),
            });
        }
        items
    };
    let collection = draw_items(&mut rng, collection_count, true);
    let wants = draw_items(&mut rng, want_count, false);
    let mut user = UserLists {
        username,
        id,
        registered,
        cluster: own,
        wants,
        collection,
        wantlist_private: false,
        collection_private: rng.random_range(0..100) < u32::from(private_collections_percent),
    };
    user.sort_lists();
    user
}

/// One release for a user whose taste is `own` (and maybe `second`).
fn draw_release(
    catalog: &Catalog,
    rng: &mut impl Rng,
    own: u16,
    second: Option<u16>,
) -> Option<u32> {
    let roll: f64 = rng.random();
    let cluster = if roll < OWN_CLUSTER_SHARE {
        own
    } else if roll < OWN_CLUSTER_SHARE + SECOND_CLUSTER_SHARE {
        second.unwrap_or(own)
    } else {
        rng.random_range(0..catalog.by_cluster.len() as u16)
    };
    let members = catalog.by_cluster.get(usize::from(cluster))?;
    let rank = catalog
        .cluster_popularity
        .get(usize::from(cluster))?
        .sample(rng)?;
    members.get(rank).copied()
}

/// List lengths are heavy-tailed: most people want a few dozen records, some thousands.
fn population_size(
    rng: &mut impl Rng,
    median: f64,
    sigma: f64,
    empty_share: f64,
    cap: usize,
) -> usize {
    if rng.random_bool(empty_share) {
        return 0;
    }
    (log_normal(rng, median, sigma).round() as usize).clamp(1, cap)
}

/// `digger0001` … : zero-padded to at least four digits, wider for larger worlds, so
/// every name in one world has the same length.
pub fn username_width(user_count: u32) -> usize {
    user_count.to_string().len().max(4)
}

pub fn simulated_username(index: u32, width: usize) -> String {
    format!("digger{index:0width$}")
}

/// The index of a `digger…` name in a world of `user_count` users.
pub fn simulated_user_index(name: &str, user_count: u32) -> Option<u32> {
    let digits = name.strip_prefix("digger")?;
    if digits.len() != username_width(user_count) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: u32 = digits.parse().ok()?;
    (1..=user_count).contains(&index).then_some(index)
}

/// The random stream of a user created by name through the control API.
pub fn created_user_stream(name: &str) -> u64 {
    name_key(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_round_trip() {
        assert_eq!(simulated_username(1, username_width(1_000)), "digger0001");
        assert_eq!(
            simulated_username(100_000, username_width(100_000)),
            "digger100000"
        );
        assert_eq!(
            simulated_username(7, username_width(100_000)),
            "digger000007"
        );
        assert_eq!(simulated_user_index("digger0001", 1_000), Some(1));
        assert_eq!(simulated_user_index("digger1000", 1_000), Some(1_000));
        assert_eq!(simulated_user_index("digger1001", 1_000), None);
        assert_eq!(simulated_user_index("digger0000", 1_000), None);
        assert_eq!(simulated_user_index("digger001", 1_000), None);
        assert_eq!(simulated_user_index("Digger0001", 1_000), None);
        assert_eq!(simulated_user_index("digger+001", 1_000), None);
    }
}

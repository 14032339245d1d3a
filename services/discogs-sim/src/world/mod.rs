//! The simulated Discogs world, generated deterministically from a seed: a catalogue of
//! releases and masters, a marketplace of sellers and listings, and users whose lists are
//! drawn on demand. Pure and synchronous; the HTTP layer only reads it.

pub mod catalog;
pub mod currency;
pub mod market;
pub mod random;
pub mod users;
mod vocabulary;

use catalog::Catalog;
use market::Market;
use random::Stream;
use users::{ListSizes, UserLists, UserRecipe};

/// How big a world to generate. Users cost nothing until asked for, so their number does
/// not change start-up time; releases and sellers are generated up front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldSpec {
    pub users: u32,
    pub releases: u32,
    pub sellers: u32,
    /// Latent taste clusters; each maps to a genre and a few of its styles.
    pub clusters: u16,
    /// Share of generated users whose collection is private (answered 401/403).
    pub private_collections_percent: u8,
}

impl Default for WorldSpec {
    fn default() -> Self {
        Self {
            users: 1_000,
            releases: 5_000,
            sellers: 500,
            clusters: 8,
            private_collections_percent: 2,
        }
    }
}

#[derive(Debug)]
pub struct World {
    pub seed: u64,
    pub spec: WorldSpec,
    pub catalog: Catalog,
    pub market: Market,
    username_width: usize,
}

impl World {
    pub fn generate(seed: u64, spec: WorldSpec) -> Self {
        let catalog = Catalog::generate(
            seed,
            spec.releases.max(1) as usize,
            usize::from(spec.clusters.max(1)),
        );
        let market = Market::generate(seed, &catalog, spec.sellers.max(1) as usize);
        let username_width = users::username_width(spec.users);
        Self {
            seed,
            spec,
            catalog,
            market,
            username_width,
        }
    }

    /// `digger0001` for index 1.
    pub fn username(&self, index: u32) -> String {
        users::simulated_username(index, self.username_width)
    }

    pub fn user_index(&self, name: &str) -> Option<u32> {
        users::simulated_user_index(name, self.spec.users)
    }

    /// The generated user `index` (1-based), drawn afresh: callers cache.
    pub fn draw_simulated_user(&self, index: u32) -> UserLists {
        let recipe = UserRecipe {
            stream: Stream::User,
            stream_index: u64::from(index),
            username: self.username(index),
            id: 2_000_000 + u64::from(index),
            sizes: ListSizes::default(),
            cluster: None,
        };
        users::draw_user(
            &self.catalog,
            self.seed,
            self.spec.private_collections_percent,
            recipe,
        )
    }

    /// A user created through the control API: the same taste model with chosen sizes.
    pub fn draw_created_user(
        &self,
        username: &str,
        id: u64,
        sizes: ListSizes,
        cluster: Option<u16>,
    ) -> UserLists {
        let recipe = UserRecipe {
            stream: Stream::CreatedUser,
            stream_index: users::created_user_stream(username),
            username: username.to_owned(),
            id,
            sizes,
            cluster,
        };
        let mut user = users::draw_user(&self.catalog, self.seed, 0, recipe);
        user.collection_private = false;
        user
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn small() -> WorldSpec {
        WorldSpec {
            users: 400,
            releases: 3_000,
            sellers: 150,
            clusters: 6,
            private_collections_percent: 2,
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_world() {
        let a = World::generate(11, small());
        let b = World::generate(11, small());
        let ids = |w: &World| {
            w.catalog
                .releases
                .iter()
                .map(|r| (r.id, r.title.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        let prices = |w: &World| {
            w.market
                .listings
                .iter()
                .map(|l| (l.id, l.price_minor))
                .collect::<Vec<_>>()
        };
        assert_eq!(prices(&a), prices(&b));
        let user_a = a.draw_simulated_user(17);
        let user_b = b.draw_simulated_user(17);
        assert_eq!(user_a.wants, user_b.wants);
        assert_eq!(user_a.collection, user_b.collection);
        let other = World::generate(12, small());
        assert_ne!(ids(&a), ids(&other));
    }

    #[test]
    fn a_user_does_not_depend_on_how_many_users_exist() {
        let few = World::generate(
            5,
            WorldSpec {
                users: 1_000,
                ..small()
            },
        );
        let many = World::generate(
            5,
            WorldSpec {
                users: 9_999,
                ..small()
            },
        );
        assert_eq!(
            few.draw_simulated_user(3).wants,
            many.draw_simulated_user(3).wants
        );
    }

    #[test]
    fn users_in_one_cluster_share_more_than_users_across_clusters() {
        let world = World::generate(3, small());
        let users: Vec<UserLists> = (1..=300).map(|i| world.draw_simulated_user(i)).collect();
        let items: Vec<HashSet<u32>> = users
            .iter()
            .map(|u| {
                u.wants
                    .iter()
                    .chain(&u.collection)
                    .map(|i| i.release)
                    .collect()
            })
            .collect();
        let (mut within, mut within_pairs, mut across, mut across_pairs) = (0.0, 0, 0.0, 0);
        for a in 0..users.len() {
            for b in a + 1..users.len() {
                let union = items[a].union(&items[b]).count();
                if union == 0 {
                    continue;
                }
                let jaccard = items[a].intersection(&items[b]).count() as f64 / union as f64;
                if users[a].cluster == users[b].cluster {
                    within += jaccard;
                    within_pairs += 1;
                } else {
                    across += jaccard;
                    across_pairs += 1;
                }
            }
        }
        let within = within / f64::from(within_pairs);
        let across = across / f64::from(across_pairs);
        assert!(
            within > 4.0 * across,
            "within {within:.4} across {across:.4}"
        );
    }

    #[test]
    fn lists_are_newest_first_and_disjoint() {
        let world = World::generate(9, small());
        for i in 1..50 {
            let user = world.draw_simulated_user(i);
            assert!(
                user.wants
                    .windows(2)
                    .all(|w| w[0].date_added >= w[1].date_added)
            );
            let wants: HashSet<u32> = user.wants.iter().map(|i| i.release).collect();
            assert!(user.collection.iter().all(|c| !wants.contains(&c.release)));
            assert!(user.wants.iter().all(|w| w.date_added >= user.registered));
        }
    }

    #[test]
    fn created_users_get_exactly_the_sizes_asked_for() {
        let world = World::generate(1, small());
        let sizes = ListSizes {
            wants: Some(1_200),
            collection: Some(0),
        };
        let user = world.draw_created_user("bench_user", 9, sizes, Some(2));
        assert_eq!(user.wants.len(), 1_200);
        assert!(user.collection.is_empty());
        assert_eq!(user.cluster, 2);
    }
}

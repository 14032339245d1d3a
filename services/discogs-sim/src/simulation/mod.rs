//! The world as it is now: the generated world plus what the control API changed since
//! (wants added or removed, private lists, created users, repriced and sold listings).
//! Reads are cheap: a user's lists are drawn once and shared behind an `Arc`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

mod collectors;
mod listings;

use cratedigger_domain::{ListingId, Money, ReleaseId};

use crate::world::World;
use crate::world::market::{Listing, Seller};
use crate::world::users::UserLists;

/// Drawn users kept in memory; the cache is simply emptied when full (drawing a user
/// again costs well under a millisecond).
const USER_CACHE_CAPACITY: usize = 8_192;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MutationError {
    #[error("no user named {0}")]
    UnknownUser(String),
    #[error("no release {0}")]
    UnknownRelease(ReleaseId),
    #[error("no listing {0}")]
    UnknownListing(ListingId),
    #[error("release {0} is already in the wantlist")]
    AlreadyWanted(ReleaseId),
    #[error("release {0} is not in the wantlist")]
    NotWanted(ReleaseId),
    #[error("user {0} already exists")]
    UserExists(String),
    #[error("{0}")]
    InvalidUsername(String),
    #[error("price must be positive")]
    InvalidPrice,
}

/// An account the API can show: a simulated user with lists, or a seller.
#[derive(Clone, Debug)]
pub enum Account<'a> {
    Collector(Arc<UserLists>),
    Seller(u32, &'a Seller),
}

/// A listing as it stands now (its price may have been changed).
#[derive(Clone, Copy, Debug)]
pub struct LiveListing<'a> {
    pub index: u32,
    pub listing: &'a Listing,
    pub seller: &'a Seller,
    pub price: Money,
}

#[derive(Debug, Default)]
struct Changes {
    /// Users that were created or changed, by lowercase name, with their full lists.
    users: HashMap<String, Arc<UserLists>>,
    /// Created users, in creation order.
    created: Vec<String>,
    prices: HashMap<u32, i64>,
    sold: HashSet<u32>,
}

#[derive(Debug)]
pub struct Simulation {
    pub world: World,
    changes: RwLock<Changes>,
    drawn_users: Mutex<HashMap<u32, Arc<UserLists>>>,
}

/// What `POST /_sim/users` asks for.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub username: Option<String>,
    pub wants: usize,
    pub collection: usize,
    pub cluster: Option<u16>,
}
impl Simulation {
    pub fn new(world: World) -> Self {
        Self {
            world,
            changes: RwLock::default(),
            drawn_users: Mutex::default(),
        }
    }

    fn read_changes(&self) -> std::sync::RwLockReadGuard<'_, Changes> {
        self.changes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_changes(&self) -> std::sync::RwLockWriteGuard<'_, Changes> {
        self.changes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
pub(crate) fn small_simulation() -> Simulation {
    let spec = crate::world::WorldSpec {
        users: 50,
        releases: 800,
        sellers: 60,
        clusters: 4,
        private_collections_percent: 0,
    };
    Simulation::new(World::generate(4, spec))
}

//! Collectors: looking users up (drawn on first use, then shared) and the changes the
//! control API makes to them.

use std::sync::Arc;

use cratedigger_domain::{ReleaseId, Username};

use super::{Account, MutationError, NewUser, Simulation, USER_CACHE_CAPACITY};
use crate::world::users::{ListItem, ListSizes, UserLists};

impl Simulation {
    /// A collector by name (case-insensitive, as Discogs treats usernames).
    pub fn collector(&self, name: &str) -> Option<Arc<UserLists>> {
        let key = name.to_ascii_lowercase();
        if let Some(user) = self.read_changes().users.get(&key) {
            return Some(Arc::clone(user));
        }
        let index = self.world.user_index(&key)?;
        let mut drawn = self
            .drawn_users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(user) = drawn.get(&index) {
            return Some(Arc::clone(user));
        }
        if drawn.len() >= USER_CACHE_CAPACITY {
            drawn.clear();
        }
        let user = Arc::new(self.world.draw_simulated_user(index));
        drawn.insert(index, Arc::clone(&user));
        Some(user)
    }

    pub fn account(&self, name: &str) -> Option<Account<'_>> {
        if let Some(user) = self.collector(name) {
            return Some(Account::Collector(user));
        }
        self.world
            .market
            .seller_by_name(name)
            .map(|(i, s)| Account::Seller(i, s))
    }

    /// Usernames in listing order: generated users, then created ones.
    pub fn user_count(&self) -> usize {
        self.world.spec.users as usize + self.read_changes().created.len()
    }

    /// The username at `position` (0-based) of [`Self::user_count`].
    pub fn username_at(&self, position: usize) -> Option<String> {
        let generated = self.world.spec.users as usize;
        if position < generated {
            return Some(self.world.username(position as u32 + 1));
        }
        self.read_changes()
            .created
            .get(position - generated)
            .cloned()
    }

    fn update_collector(
        &self,
        name: &str,
        change: impl FnOnce(&mut UserLists) -> Result<(), MutationError>,
    ) -> Result<Arc<UserLists>, MutationError> {
        let current = self
            .collector(name)
            .ok_or_else(|| MutationError::UnknownUser(name.to_owned()))?;
        let mut updated = (*current).clone();
        change(&mut updated)?;
        let updated = Arc::new(updated);
        self.write_changes()
            .users
            .insert(name.to_ascii_lowercase(), Arc::clone(&updated));
        Ok(updated)
    }

    /// Adds a release to a wantlist, dated `now`, so the profile's newest date changes.
    pub fn add_want(
        &self,
        name: &str,
        release: ReleaseId,
        now: i64,
    ) -> Result<Arc<UserLists>, MutationError> {
        let (index, _) = self
            .world
            .catalog
            .release_by_id(release)
            .ok_or(MutationError::UnknownRelease(release))?;
        self.update_collector(name, |user| {
            if user.wants.iter().any(|w| w.release == index) {
                return Err(MutationError::AlreadyWanted(release));
            }
            user.wants.push(ListItem {
                release: index,
                date_added: now,
                rating: 0,
                instance_id: 0,
            });
            user.sort_lists();
            Ok(())
        })
    }

    pub fn remove_want(
        &self,
        name: &str,
        release: ReleaseId,
    ) -> Result<Arc<UserLists>, MutationError> {
        let (index, _) = self
            .world
            .catalog
            .release_by_id(release)
            .ok_or(MutationError::UnknownRelease(release))?;
        self.update_collector(name, |user| {
            let before = user.wants.len();
            user.wants.retain(|w| w.release != index);
            if user.wants.len() == before {
                Err(MutationError::NotWanted(release))
            } else {
                Ok(())
            }
        })
    }

    pub fn set_privacy(
        &self,
        name: &str,
        wantlist: Option<bool>,
        collection: Option<bool>,
    ) -> Result<Arc<UserLists>, MutationError> {
        self.update_collector(name, |user| {
            if let Some(private) = wantlist {
                user.wantlist_private = private;
            }
            if let Some(private) = collection {
                user.collection_private = private;
            }
            Ok(())
        })
    }

    /// Creates a user drawn from the same taste model with exactly the sizes asked for.
    /// Without a name, the next `digger…` number after the generated ones is used.
    pub fn create_user(&self, request: NewUser) -> Result<Arc<UserLists>, MutationError> {
        let name = match request.username {
            Some(name) => {
                Username::parse(&name)
                    .map_err(|e| MutationError::InvalidUsername(e.to_string()))?;
                name
            }
            None => self.world.username((self.user_count() + 1) as u32),
        };
        if self.account(&name).is_some() {
            return Err(MutationError::UserExists(name));
        }
        let id = 9_000_000 + self.read_changes().created.len() as u64;
        let sizes = ListSizes {
            wants: Some(request.wants),
            collection: Some(request.collection),
        };
        let user = Arc::new(
            self.world
                .draw_created_user(&name, id, sizes, request.cluster),
        );
        let mut changes = self.write_changes();
        let key = name.to_ascii_lowercase();
        if changes.users.contains_key(&key) {
            return Err(MutationError::UserExists(name));
        }
        changes.users.insert(key, Arc::clone(&user));
        changes.created.push(name);
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::small_simulation as simulation;

    #[test]
    fn adding_and_removing_wants_changes_only_that_user() {
        let sim = simulation();
        let before = sim.collector("digger0003").unwrap();
        let fresh = sim
            .world
            .catalog
            .releases
            .iter()
            .find(|r| {
                before
                    .wants
                    .iter()
                    .chain(&before.collection)
                    .all(|w| sim.world.catalog.releases[w.release as usize].id != r.id)
            })
            .unwrap()
            .id;
        let after = sim.add_want("Digger0003", fresh, 2_000_000_000).unwrap();
        assert_eq!(after.wants.len(), before.wants.len() + 1);
        assert_eq!(after.wants[0].date_added, 2_000_000_000);
        assert_eq!(
            sim.add_want("digger0003", fresh, 1).err(),
            Some(MutationError::AlreadyWanted(fresh))
        );
        assert_eq!(
            sim.collector("digger0003").unwrap().wants.len(),
            before.wants.len() + 1
        );
        sim.remove_want("digger0003", fresh).unwrap();
        assert_eq!(sim.collector("digger0003").unwrap().wants, before.wants);
        assert!(matches!(
            sim.remove_want("digger0003", fresh),
            Err(MutationError::NotWanted(_))
        ));
        assert!(matches!(
            sim.add_want("nobody", fresh, 1),
            Err(MutationError::UnknownUser(_))
        ));
    }

    #[test]
    fn created_users_are_listed_after_generated_ones() {
        let sim = simulation();
        let user = sim
            .create_user(NewUser {
                wants: 120,
                ..NewUser::default()
            })
            .unwrap();
        assert_eq!(user.username, "digger0051");
        assert_eq!(user.wants.len(), 120);
        assert_eq!(sim.user_count(), 51);
        assert_eq!(sim.username_at(50).as_deref(), Some("digger0051"));
        let named = sim.create_user(NewUser {
            username: Some("bench_5k".into()),
            wants: 10,
            ..NewUser::default()
        });
        assert!(named.is_ok());
        assert!(matches!(
            sim.create_user(NewUser {
                username: Some("digger0002".into()),
                ..NewUser::default()
            }),
            Err(MutationError::UserExists(_))
        ));
        assert!(matches!(
            sim.create_user(NewUser {
                username: Some("../x".into()),
                ..NewUser::default()
            }),
            Err(MutationError::InvalidUsername(_))
        ));
    }
}

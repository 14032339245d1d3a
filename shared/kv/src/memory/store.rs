//! The data behind every [`super::MemoryKeyValue`] handle: typed entries, their
//! deadlines, and the one task that removes keys once their deadline passes.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

/// Stands in for a TTL too long to add to the clock: the key never expires in practice.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

pub(super) enum Value {
    Text(String),
    Set(HashSet<String>),
    Hash(HashMap<String, String>),
}

impl Value {
    /// The name Redis' `TYPE` gives the same value, for WRONGTYPE errors.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "string",
            Self::Set(_) => "set",
            Self::Hash(_) => "hash",
        }
    }
}

pub(super) struct Entry {
    pub(super) value: Value,
    expires_at: Option<Instant>,
}

#[derive(Default)]
pub(super) struct State {
    entries: HashMap<String, Entry>,
    /// (deadline, key) for every key with a TTL, earliest first: the purge task's agenda.
    /// Holds exactly the keys whose entry has `expires_at` set, with the same instant.
    expirations: BTreeSet<(Instant, String)>,
    /// Set when the last handle drops, so the purge task ends.
    shut_down: bool,
}

pub(super) struct Shared {
    state: Mutex<State>,
    /// Wakes the purge task when a deadline earlier than the one it sleeps on appears,
    /// and at shutdown.
    wake_purger: Notify,
}

impl Shared {
    /// Makes the store and starts its purge task on the current Tokio runtime.
    pub(super) fn start() -> Arc<Self> {
        let shared = Arc::new(Self {
            state: Mutex::new(State::default()),
            wake_purger: Notify::new(),
        });
        tokio::spawn(purge_expired_keys(Arc::clone(&shared)));
        shared
    }

    /// No code panics while holding the lock, so a poisoned lock still holds whole data.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by the state's owner after a write that may have moved the earliest
    /// deadline forward.
    pub(super) fn deadline_changed(&self) {
        self.wake_purger.notify_one();
    }

    pub(super) fn shut_down(&self) {
        self.lock().shut_down = true;
        self.wake_purger.notify_one();
    }
}

impl State {
    /// The key's entry if it exists and has not expired; an expired entry is removed
    /// here, so no read ever sees it even before the purge task runs.
    pub(super) fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        let expired = self
            .entries
            .get(key)?
            .expires_at
            .is_some_and(|at| at <= now);
        if expired {
            self.remove(key);
            return None;
        }
        self.entries.get_mut(key)
    }

    /// Stores a value under `key`, replacing any entry and its TTL. Returns true if the
    /// new deadline is now the earliest (the purge task must be woken).
    pub(super) fn insert(
        &mut self,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
        now: Instant,
    ) -> bool {
        self.remove(key);
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires_at: None,
            },
        );
        ttl.is_some_and(|ttl| self.set_deadline(key, deadline(now, ttl)))
    }

    /// The live entry of `key`, created with `empty()` if absent or expired.
    pub(super) fn live_or_insert(
        &mut self,
        key: &str,
        now: Instant,
        empty: impl FnOnce() -> Value,
    ) -> &mut Entry {
        let expired = self
            .entries
            .get(key)
            .is_some_and(|entry| entry.expires_at.is_some_and(|at| at <= now));
        if expired {
            self.remove(key);
        }
        self.entries.entry(key.to_owned()).or_insert_with(|| Entry {
            value: empty(),
            expires_at: None,
        })
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        if let Some(at) = entry.expires_at {
            self.expirations.remove(&(at, key.to_owned()));
        }
        Some(entry)
    }

    /// Gives a live key a TTL; false if the key does not exist. Returns (existed, wake).
    pub(super) fn expire(&mut self, key: &str, ttl: Duration, now: Instant) -> (bool, bool) {
        if self.live(key, now).is_none() {
            return (false, false);
        }
        (true, self.set_deadline(key, deadline(now, ttl)))
    }

    /// The remaining TTL of a live key with a deadline.
    pub(super) fn ttl(&mut self, key: &str, now: Instant) -> Option<Duration> {
        let at = self.live(key, now)?.expires_at?;
        Some(at.saturating_duration_since(now))
    }

    /// Moves an existing entry's deadline; true if it became the earliest one.
    fn set_deadline(&mut self, key: &str, at: Instant) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        if let Some(old) = entry.expires_at.replace(at) {
            self.expirations.remove(&(old, key.to_owned()));
        }
        let earliest = self
            .expirations
            .first()
            .is_none_or(|(first, _)| at < *first);
        self.expirations.insert((at, key.to_owned()));
        earliest
    }

    /// Removes every key whose deadline has passed; returns the next deadline.
    fn purge_expired(&mut self, now: Instant) -> Option<Instant> {
        while let Some((at, key)) = self.expirations.first().cloned() {
            if at > now {
                return Some(at);
            }
            self.expirations.pop_first();
            self.entries.remove(&key);
        }
        None
    }

    #[cfg(test)]
    pub(super) fn stored_keys(&self) -> usize {
        self.entries.len()
    }
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl).unwrap_or_else(|| now + FAR_FUTURE)
}

/// The purge task: sleeps until the earliest deadline (or a wake-up), removes what has
/// expired, and ends once the store is shut down. Holds no lock while sleeping.
async fn purge_expired_keys(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut state = shared.lock();
            if state.shut_down {
                return;
            }
            state.purge_expired(Instant::now())
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = sleep_until(at) => {}
                    () = shared.wake_purger.notified() => {}
                }
            }
            None => shared.wake_purger.notified().await,
        }
    }
}

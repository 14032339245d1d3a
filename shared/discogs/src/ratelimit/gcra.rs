//! The generic cell rate algorithm, as plain arithmetic on microseconds. The memory
//! limiter runs this code; the Redis limiter runs the same steps in `gcra.lua` (kept line
//! for line alike), so both give the same answers for the same clock.
//!
//! State is one number, the theoretical arrival time (TAT): when the bucket would be
//! empty again if every reserved request were sent at the emission interval. A request at
//! `now` takes the slot `max(tat, now) + interval`; it may go once `now` reaches that slot
//! minus the burst allowance (`burst * interval`).

/// The bucket's state; `None` before the first request (or after the Redis key expired).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub tat_us: u64,
    /// The emission interval in force; lowered when Discogs reports a smaller budget.
    pub interval_us: Option<u64>,
}

/// What asking for a slot gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reservation {
    /// The slot was taken (always, when reserving; only when free, when trying).
    pub taken: bool,
    /// How long to wait before sending; 0 when the slot is free now.
    pub wait_us: u64,
}

/// Takes a slot. With `reserve_future_slot`, a slot in the future is taken too and the
/// caller sleeps `wait_us`; without it, only a free slot is taken.
pub(crate) fn reserve(
    bucket: &mut Bucket,
    now_us: u64,
    default_interval_us: u64,
    burst: u32,
    reserve_future_slot: bool,
) -> Reservation {
    let interval = bucket.interval_us.unwrap_or(default_interval_us).max(1);
    let tat = bucket.tat_us.max(now_us);
    let new_tat = tat.saturating_add(interval);
    let allow_at = new_tat.saturating_sub(u64::from(burst.max(1)).saturating_mul(interval));
    let wait_us = allow_at.saturating_sub(now_us);
    if wait_us > 0 && !reserve_future_slot {
        return Reservation {
            taken: false,
            wait_us,
        };
    }
    bucket.tat_us = new_tat;
    Reservation {
        taken: true,
        wait_us,
    }
}

/// Adopts a new emission interval. When it is longer than the one in force, the slots
/// already reserved (they still go out at the old spacing) and the `used_in_window`
/// requests the server already counts are charged again at the new rate.
pub(crate) fn change_interval(
    bucket: &mut Bucket,
    now_us: u64,
    new_interval_us: u64,
    default_interval_us: u64,
    used_in_window: u32,
) {
    let current = bucket.interval_us.unwrap_or(default_interval_us).max(1);
    if new_interval_us > current {
        let reserved = bucket.tat_us.saturating_sub(now_us).div_ceil(current);
        let debt = reserved.saturating_add(u64::from(used_in_window));
        let repriced = now_us.saturating_add(debt.saturating_mul(new_interval_us));
        bucket.tat_us = bucket.tat_us.max(repriced);
    }
    bucket.interval_us = (new_interval_us != default_interval_us).then_some(new_interval_us.max(1));
}

/// Holds every new request back until `now + pause_us`, with no burst right after.
pub(crate) fn pause(
    bucket: &mut Bucket,
    now_us: u64,
    pause_us: u64,
    default_interval_us: u64,
    burst: u32,
) {
    let interval = bucket.interval_us.unwrap_or(default_interval_us).max(1);
    let tolerance = u64::from(burst.max(1).saturating_sub(1)).saturating_mul(interval);
    let resume_tat = now_us.saturating_add(pause_us).saturating_add(tolerance);
    bucket.tat_us = bucket.tat_us.max(resume_tat);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    fn take(bucket: &mut Bucket, now: u64, burst: u32) -> u64 {
        reserve(bucket, now, SECOND, burst, true).wait_us
    }

    #[test]
    fn spaces_requests_by_the_interval() {
        let mut bucket = Bucket::default();
        let waits: Vec<u64> = (0..4).map(|_| take(&mut bucket, 100 * SECOND, 1)).collect();
        assert_eq!(waits, [0, SECOND, 2 * SECOND, 3 * SECOND]);
    }

    #[test]
    fn lets_a_burst_through_then_spaces() {
        let mut bucket = Bucket::default();
        let waits: Vec<u64> = (0..5).map(|_| take(&mut bucket, 100 * SECOND, 3)).collect();
        assert_eq!(waits, [0, 0, 0, SECOND, 2 * SECOND]);
    }

    #[test]
    fn an_idle_bucket_refills() {
        let mut bucket = Bucket::default();
        for _ in 0..3 {
            take(&mut bucket, 0, 3);
        }
        assert_eq!(take(&mut bucket, 10 * SECOND, 3), 0);
        assert_eq!(take(&mut bucket, 10 * SECOND, 3), 0);
    }

    #[test]
    fn trying_never_takes_a_future_slot() {
        let mut bucket = Bucket::default();
        assert!(reserve(&mut bucket, 0, SECOND, 1, false).taken);
        let refused = reserve(&mut bucket, 0, SECOND, 1, false);
        assert_eq!(
            refused,
            Reservation {
                taken: false,
                wait_us: SECOND
            }
        );
        assert!(reserve(&mut bucket, SECOND, SECOND, 1, false).taken);
    }

    #[test]
    fn a_lower_rate_from_the_server_spaces_the_slots_after_the_next() {
        let mut bucket = Bucket::default();
        take(&mut bucket, 0, 1);
        bucket.interval_us = Some(3 * SECOND);
        // The slot already earned (at 1 s) stands; the wider spacing follows it.
        assert_eq!(take(&mut bucket, 0, 1), SECOND);
        assert_eq!(take(&mut bucket, 0, 1), 4 * SECOND);
    }

    #[test]
    fn slowing_down_charges_what_the_server_already_counted() {
        let mut bucket = Bucket::default();
        take(&mut bucket, 0, 1);
        change_interval(&mut bucket, 0, 3 * SECOND, SECOND, 4);
        // The reserved slot and the 4 counted requests, at 3 s each.
        assert_eq!(take(&mut bucket, 0, 1), 15 * SECOND);
        // The same interval again charges nothing more; a faster one charges nothing.
        change_interval(&mut bucket, 0, 3 * SECOND, SECOND, 4);
        change_interval(&mut bucket, 0, SECOND, SECOND, 4);
        assert_eq!(bucket.interval_us, None);
        assert_eq!(take(&mut bucket, 0, 1), 18 * SECOND);
    }

    #[test]
    fn a_pause_holds_requests_back_without_a_burst_after_it() {
        let mut bucket = Bucket::default();
        pause(&mut bucket, 0, 10 * SECOND, SECOND, 3);
        assert_eq!(take(&mut bucket, 0, 3), 10 * SECOND);
        assert_eq!(take(&mut bucket, 0, 3), 11 * SECOND);
        // A pause never shortens an existing backlog.
        pause(&mut bucket, 0, SECOND, SECOND, 3);
        assert_eq!(take(&mut bucket, 0, 3), 12 * SECOND);
    }
}

//! A token bucket over manifests, in exact integer arithmetic.
//!
//! The level is kept in units of 1/3,600,000,000,000 manifest: one nanosecond of refill at one
//! manifest per hour. Refilling for `Δ` nanoseconds at `per_hour` then adds exactly
//! `per_hour × Δ` units, so no rounding accumulates over thousands of ticks and `wait_for` is
//! the exact instant a take succeeds, not an approximation the caller has to pad.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SchedulerError};

/// Level units per manifest: nanoseconds in an hour.
pub const UNITS_PER_MANIFEST: i128 = 3_600_000_000_000;

/// Token bucket over manifests: capacity = one hour's budget, refilled continuously at
/// `per_hour`. A period bigger than the capacity is allowed only when the bucket is full, and
/// drives the level negative (debt) so the next period waits for it to refill: a backfill of
/// one huge month still goes, but no faster on average than `per_hour`.
///
/// Stored between ticks (serde). Deserializing checks the invariants (`per_hour >= 1`, level
/// at most the capacity).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawBucket")]
pub struct TokenBucket {
    /// Manifests per hour: the refill rate and the capacity. At least 1.
    pub per_hour: u64,
    /// Tokens, in [`UNITS_PER_MANIFEST`] units; negative while in debt.
    pub level: i128,
    /// When `level` was last brought up to date.
    pub at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RawBucket {
    per_hour: u64,
    level: i128,
    at: DateTime<Utc>,
}

impl TryFrom<RawBucket> for TokenBucket {
    type Error = SchedulerError;
    fn try_from(raw: RawBucket) -> Result<TokenBucket> {
        let mut bucket = TokenBucket::full(raw.per_hour, raw.at)?;
        if raw.level > bucket.capacity() {
            return Err(SchedulerError::invalid(
                "token bucket level",
                raw.level.to_string(),
                "exceeds the capacity of one hour's budget",
            ));
        }
        bucket.level = raw.level;
        Ok(bucket)
    }
}

impl TokenBucket {
    /// A full bucket: a backfill may start with one hour's budget at once.
    pub fn full(per_hour: u64, now: DateTime<Utc>) -> Result<TokenBucket> {
        if per_hour == 0 {
            return Err(SchedulerError::invalid(
                "backfill manifests per hour",
                "0",
                "must be at least 1 (a zero rate never refills)",
            ));
        }
        let mut bucket = TokenBucket {
            per_hour,
            level: 0,
            at: now,
        };
        bucket.level = bucket.capacity();
        Ok(bucket)
    }

    /// One hour's budget, in level units.
    pub fn capacity(&self) -> i128 {
        i128::from(self.per_hour) * UNITS_PER_MANIFEST
    }

    /// Whole manifests available now (negative in debt), for progress displays.
    pub fn manifests(&self) -> i128 {
        self.level.div_euclid(UNITS_PER_MANIFEST)
    }

    /// Bring the level up to `now`. A clock going backwards changes nothing (neither the level
    /// nor `at`), so a later correct reading refills from the last good instant and no time is
    /// counted twice.
    pub fn refill(&mut self, now: DateTime<Utc>) {
        if now <= self.at {
            return;
        }
        // Beyond i64 nanoseconds (292 years) any bucket is full: saturate.
        let nanos = (now - self.at).num_nanoseconds().unwrap_or(i64::MAX);
        let gained = i128::from(nanos).saturating_mul(i128::from(self.per_hour));
        self.level = self.level.saturating_add(gained).min(self.capacity());
        self.at = now;
    }

    /// Take `n` manifests' worth if the bucket allows it now: `n` up to the capacity needs `n`
    /// tokens; a bigger `n` needs a full bucket and leaves debt. Taking 0 succeeds unless the
    /// bucket is in debt.
    pub fn try_take(&mut self, n: u64, now: DateTime<Utc>) -> bool {
        self.refill(now);
        if self.level < self.needed(n) {
            return false;
        }
        self.level -= i128::from(n) * UNITS_PER_MANIFEST;
        true
    }

    /// How long until `try_take(n)` would succeed (zero if it would now). Exact to the
    /// nanosecond: at `now + wait_for(n, now)` the take succeeds, a nanosecond earlier it
    /// does not.
    pub fn wait_for(&self, n: u64, now: DateTime<Utc>) -> Duration {
        let mut probe = self.clone();
        probe.refill(now);
        let deficit = self.needed(n) - probe.level;
        if deficit <= 0 {
            return Duration::zero();
        }
        if self.per_hour == 0 {
            // Only reachable by building the struct by hand: it never refills.
            return Duration::MAX;
        }
        // Refill starts from `at`, which is later than `now` if the clock went backwards.
        let idle = (probe.at - now).max(Duration::zero());
        let per_hour = i128::from(self.per_hour);
        let refill_nanos = (deficit + per_hour - 1) / per_hour;
        i64::try_from(refill_nanos)
            .ok()
            .map(Duration::nanoseconds)
            .and_then(|refill| idle.checked_add(&refill))
            .unwrap_or(Duration::MAX)
    }

    /// The level a take of `n` needs: `n` tokens, or a full bucket when `n` exceeds it.
    fn needed(&self, n: u64) -> i128 {
        (i128::from(n) * UNITS_PER_MANIFEST).min(self.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        domain::ids::parse_ts("2026-11-23T00:00:00Z").unwrap()
    }

    fn level_of(manifests: i128) -> i128 {
        manifests * UNITS_PER_MANIFEST
    }

    #[test]
    fn a_new_bucket_holds_one_hours_budget() {
        let mut b = TokenBucket::full(100, t0()).unwrap();
        assert_eq!(b.manifests(), 100);
        assert!(b.try_take(100, t0()));
        assert!(!b.try_take(1, t0()));
    }

    #[test]
    fn a_zero_rate_is_refused() {
        assert!(TokenBucket::full(0, t0()).is_err());
    }

    #[test]
    fn refill_is_continuous_and_capped_at_one_hour() {
        let mut b = TokenBucket::full(60, t0()).unwrap();
        assert!(b.try_take(60, t0()));
        b.refill(t0() + Duration::seconds(30));
        assert_eq!(b.level, level_of(60) / 120);
        b.refill(t0() + Duration::minutes(10));
        assert_eq!(b.manifests(), 10);
        b.refill(t0() + Duration::hours(5));
        assert_eq!(b.level, b.capacity());
    }

    #[test]
    fn refill_over_centuries_saturates_to_full() {
        let mut b = TokenBucket::full(u64::MAX, t0()).unwrap();
        assert!(b.try_take(u64::MAX, t0()));
        b.refill(DateTime::<Utc>::MAX_UTC);
        assert_eq!(b.level, b.capacity());
    }

    #[test]
    fn a_clock_going_backwards_changes_nothing() {
        let mut b = TokenBucket::full(60, t0()).unwrap();
        assert!(b.try_take(60, t0()));
        let before = b.clone();
        b.refill(t0() - Duration::hours(2));
        assert_eq!(b, before);
        assert!(!b.try_take(1, t0() - Duration::hours(2)));
        assert_eq!(b, before);
        // Time resumes from the last good reading: one minute later, one manifest.
        assert!(b.try_take(1, t0() + Duration::minutes(1)));
    }

    #[test]
    fn an_oversized_period_goes_only_from_a_full_bucket_and_leaves_debt() {
        let mut b = TokenBucket::full(100, t0()).unwrap();
        assert!(b.try_take(1, t0()));
        assert!(!b.try_take(250, t0()), "not full: must wait");
        let full_again = t0() + b.wait_for(250, t0());
        assert!(b.try_take(250, full_again));
        assert_eq!(b.manifests(), -150);
        // The debt is paid back at the hourly rate before even a small period goes.
        assert_eq!(
            b.wait_for(1, full_again),
            Duration::minutes(90) + Duration::seconds(36)
        );
        assert!(
            !b.try_take(0, full_again),
            "in debt, even an empty take waits"
        );
    }

    #[test]
    fn wait_for_is_exact_to_the_nanosecond() {
        let mut b = TokenBucket::full(7, t0()).unwrap();
        assert!(b.try_take(7, t0()));
        let wait = b.wait_for(3, t0());
        // 3 of 7 per hour: 3/7 h = 1_542_857_142_857.14… ns, rounded up.
        assert_eq!(wait, Duration::nanoseconds(1_542_857_142_858));
        let mut early = b.clone();
        assert!(!early.try_take(3, t0() + wait - Duration::nanoseconds(1)));
        assert!(b.try_take(3, t0() + wait));
    }

    #[test]
    fn wait_for_is_zero_when_the_take_would_succeed() {
        let b = TokenBucket::full(10, t0()).unwrap();
        assert_eq!(b.wait_for(10, t0()), Duration::zero());
        assert_eq!(b.wait_for(1_000, t0()), Duration::zero());
    }

    #[test]
    fn wait_for_counts_the_time_until_a_backwards_clock_catches_up() {
        let mut b = TokenBucket::full(60, t0()).unwrap();
        assert!(b.try_take(60, t0()));
        let earlier = t0() - Duration::minutes(5);
        assert_eq!(b.wait_for(1, earlier), Duration::minutes(6));
        assert!(b.try_take(1, earlier + Duration::minutes(6)));
    }

    #[test]
    fn stored_state_with_a_zero_rate_or_an_overfull_level_is_refused() {
        let raw = |per_hour, level| RawBucket {
            per_hour,
            level,
            at: t0(),
        };
        let ok = TokenBucket::try_from(raw(7, level_of(-3))).unwrap();
        assert_eq!((ok.per_hour, ok.level, ok.at), (7, level_of(-3), t0()));
        assert!(TokenBucket::try_from(raw(7, level_of(7))).is_ok());
        assert!(TokenBucket::try_from(raw(7, level_of(7) + 1)).is_err());
        assert!(TokenBucket::try_from(raw(0, 0)).is_err());
    }
}

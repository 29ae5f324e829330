//! Per-caller request rate limiting: one token bucket per API token this process knows to be
//! valid (or, for requests without one or with a token it has not seen succeed, per client
//! address: `crate::edge`), refilled continuously.
//!
//! Decision: the buckets live in this process. A fleet of N API servers behind a load
//! balancer therefore admits up to N times the configured rate per token; a shared counter in
//! Redis would make every request wait on a round trip, which costs more than the limit is
//! worth for read traffic that is cheap to serve. The limit protects each process from one
//! noisy caller; the cost governor (not this) protects tenants' money.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many requests a caller may make: `rate` per second sustained, `burst` at once.
/// `rate == 0` turns limiting off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every caller seen recently.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    buckets: Mutex<HashMap<[u8; 16], Bucket>>,
}

/// Buckets kept before full ones are forgotten (a full bucket is the same as no bucket).
const MAX_BUCKETS: usize = 100_000;

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes one request from `caller`'s bucket at `now`: `Ok` when admitted, else how long
    /// until one would be.
    pub fn check(&self, caller: [u8; 16], now: Instant) -> Result<(), Duration> {
        if self.rate.per_second == 0 {
            return Ok(());
        }
        let per_sec = f64::from(self.rate.per_second);
        let burst = f64::from(self.rate.burst.max(1));
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < burst
            });
        }
        let b = buckets.entry(caller).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * per_sec;
        b.tokens = (b.tokens + refill).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_its_burst_then_waits_for_the_refill() {
        let l = Limiter::new(Rate {
            per_second: 2,
            burst: 3,
        });
        let t0 = Instant::now();
        let me = [1; 16];
        for _ in 0..3 {
            assert!(l.check(me, t0).is_ok());
        }
        let wait = l.check(me, t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        // Another caller is not affected.
        assert!(l.check([2; 16], t0).is_ok());
        // Half a second refills one request at 2/s.
        assert!(l.check(me, t0 + Duration::from_millis(500)).is_ok());
        assert!(l.check(me, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_zero_rate_never_limits() {
        let l = Limiter::new(Rate {
            per_second: 0,
            burst: 0,
        });
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| l.check([0; 16], t0).is_ok()));
    }
}

//! Reconnect timing: exponential backoff with full jitter.

use std::time::Duration;

/// How the client retries a lost connection.
///
/// The delay before attempt `n` (from 1) is a random duration between zero and
/// `min(max_delay, base_delay * 2^(n-1))` ("full jitter"), so many clients that lose a server at
/// once do not come back in lockstep.
/// Built with [`ReconnectPolicy::new`], [`ReconnectPolicy::never`] or `default()`; its fields
/// can be read and changed, and new ones may be added.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// The first delay's upper bound. Default 200 ms.
    pub base_delay: Duration,
    /// The largest delay. Default 10 s.
    pub max_delay: Duration,
    /// Attempts before giving up with [`crate::Error::RetriesExhausted`]; `None` retries forever.
    /// Default `Some(10)`.
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_attempts: Some(10),
        }
    }
}

impl ReconnectPolicy {
    /// Delays from `base_delay` doubling up to `max_delay`, giving up after `max_attempts`
    /// failed attempts in a row (`None`: never).
    pub fn new(base_delay: Duration, max_delay: Duration, max_attempts: Option<u32>) -> Self {
        Self {
            base_delay,
            max_delay,
            max_attempts,
        }
    }

    /// A policy that never reconnects.
    pub fn never() -> Self {
        Self {
            max_attempts: Some(0),
            ..Self::default()
        }
    }

    /// The upper bound of the delay before attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        self.base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay)
    }

    /// A jittered delay before attempt `attempt`.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.ceiling(attempt).mul_f64(fastrand::f64())
    }

    /// Whether attempt `attempt` (1-based) is allowed.
    pub fn allows(&self, attempt: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempt <= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(attempt: u32, expected_ms: u64) {
        let policy = ReconnectPolicy::default();
        assert_eq!(
            policy.ceiling(attempt),
            Duration::from_millis(expected_ms),
            "attempt {attempt}"
        );
        assert!(policy.delay(attempt) <= policy.ceiling(attempt));
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        check(1, 200);
        check(2, 400);
        check(3, 800);
        check(6, 6_400);
        check(7, 10_000);
        check(100, 10_000);
    }

    #[test]
    fn attempts_are_limited() {
        let policy = ReconnectPolicy::default();
        assert!(policy.allows(10));
        assert!(!policy.allows(11));
        assert!(!ReconnectPolicy::never().allows(1));
        assert!(
            ReconnectPolicy {
                max_attempts: None,
                ..Default::default()
            }
            .allows(u32::MAX)
        );
    }
}

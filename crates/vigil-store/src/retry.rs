//! When to try a failed delivery again, and when to give up: pure, so the worker that
//! drives the outbox (in the gateway) and its tests agree on it without a clock.
//!
//! Exponential backoff with "equal jitter" (half the delay fixed, half random): replicas
//! that failed together do not retry together, and no retry comes sooner than half the
//! backoff. A provider's `Retry-After` (429/503) is a floor, never shortened by jitter.
//! A row whose next attempt would fall beyond `max_age` from the start of its delivery
//! effort goes to the dead-letter state, where an operator can list and re-drive it.

use chrono::{DateTime, TimeDelta, Utc};

use crate::OutboxEntry;

/// The retry policy of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The backoff after the first failed attempt.
    pub base: TimeDelta,
    /// The longest backoff, however many attempts failed.
    pub max_delay: TimeDelta,
    /// How long after the start of its delivery effort a row is given up.
    pub max_age: TimeDelta,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: TimeDelta::seconds(2),
            max_delay: TimeDelta::minutes(10),
            max_age: TimeDelta::hours(24),
        }
    }
}

/// What to do with a row whose delivery just failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// [`crate::Store::schedule_retry`] at this instant.
    RetryAt(DateTime<Utc>),
    /// [`crate::Store::dead_letter`].
    DeadLetter,
}

impl RetryPolicy {
    /// The step after a failed attempt of `entry` (as claimed: `attempts` counts this one).
    /// `retry_after` is the provider's `Retry-After`, if it sent one; `jitter` is uniform in
    /// `[0, 1)` (see [`jitter`]).
    pub fn after_failure(
        &self,
        entry: &OutboxEntry,
        retry_after: Option<TimeDelta>,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> NextStep {
        let backoff = self.backoff(entry.attempts);
        let half = backoff / 2;
        let random_ms = (half.num_milliseconds() as f64 * jitter.clamp(0.0, 1.0)) as i64;
        let mut delay = half + TimeDelta::milliseconds(random_ms);
        if let Some(floor) = retry_after
            && floor > delay
        {
            delay = floor;
        }
        let next = now + delay;
        if next > entry.age_from + self.max_age {
            NextStep::DeadLetter
        } else {
            NextStep::RetryAt(next)
        }
    }

    /// `base * 2^(attempts - 1)`, capped at `max_delay`.
    fn backoff(&self, attempts: i32) -> TimeDelta {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let factor = 1i32 << doublings;
        self.base
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }
}

/// A uniform value in `[0, 1)` from the system's randomness (via a v4 uuid, which the
/// store depends on anyway).
pub fn jitter() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{AlertSource, OutboxState};

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_714_557_600 + seconds, 0).unwrap()
    }

    fn claimed(attempts: i32, age_from: DateTime<Utc>) -> OutboxEntry {
        OutboxEntry {
            id: 1,
            tenant_id: "t".into(),
            history_id: 1,
            unified_id: "u".into(),
            source: AlertSource::new("graph", "g"),
            payload: serde_json::Value::Null,
            state: OutboxState::Pending,
            attempts,
            created_at: age_from,
            age_from,
            next_attempt_at: age_from,
            last_error: None,
            updated_at: age_from,
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_in_the_upper_half_and_is_capped() {
        let p = RetryPolicy::default();
        let now = t(0);
        let step = |attempts, jitter| p.after_failure(&claimed(attempts, now), None, now, jitter);
        assert_eq!(step(1, 0.0), NextStep::RetryAt(t(1)));
        assert_eq!(
            step(1, 0.999_999),
            NextStep::RetryAt(now + TimeDelta::milliseconds(1999))
        );
        assert_eq!(step(3, 0.0), NextStep::RetryAt(t(4)));
        assert_eq!(step(3, 0.5), NextStep::RetryAt(t(6)));
        // 2 s * 2^20 is far beyond the cap of 10 min
        assert_eq!(step(21, 0.0), NextStep::RetryAt(t(300)));
        assert_eq!(step(i32::MAX, 1.0), NextStep::RetryAt(t(600)));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let p = RetryPolicy::default();
        let now = t(0);
        let e = claimed(1, now);
        assert_eq!(
            p.after_failure(&e, Some(TimeDelta::seconds(120)), now, 0.9),
            NextStep::RetryAt(t(120))
        );
        // a Retry-After shorter than the backoff does not shorten it
        let e = claimed(5, now);
        assert_eq!(
            p.after_failure(&e, Some(TimeDelta::seconds(1)), now, 0.0),
            NextStep::RetryAt(t(16))
        );
    }

    #[test]
    fn too_old_goes_to_the_dead_letter_state() {
        let p = RetryPolicy {
            max_age: TimeDelta::hours(1),
            ..RetryPolicy::default()
        };
        let e = claimed(10, t(0));
        assert_eq!(
            p.after_failure(&e, None, t(3000), 0.0),
            NextStep::RetryAt(t(3000 + 300))
        );
        assert_eq!(
            p.after_failure(&e, None, t(3400), 0.0),
            NextStep::DeadLetter
        );
        assert_eq!(
            p.after_failure(&claimed(1, t(0)), Some(TimeDelta::hours(2)), t(0), 0.0),
            NextStep::DeadLetter
        );
    }

    #[test]
    fn jitter_is_in_the_unit_interval() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}

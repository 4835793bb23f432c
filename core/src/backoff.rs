//! The idle backoff: how long a task sleeps when its source has nothing new.
//!
//! Exponential with jitter (the `backoff` crate's `ExponentialBackoff`), never longer than
//! [`MAX_IDLE_BACKOFF`] (5 s) — jitter included — and reset as soon as data arrives.

use std::time::Duration;

use backoff::backoff::Backoff;
use backoff::ExponentialBackoff;

/// The longest a task ever sleeps between two looks at an idle source.
pub const MAX_IDLE_BACKOFF: Duration = Duration::from_secs(5);
/// The first sleep after data stops arriving.
pub const INITIAL_IDLE_BACKOFF: Duration = Duration::from_millis(100);

/// Exponential, jittered, capped backoff for idle polling.
#[derive(Debug)]
pub struct IdleBackoff {
    inner: ExponentialBackoff,
    cap: Duration,
    /// Whether a delay was taken since the last reset (a reset reads the clock: the driver
    /// resets on every record, so one with nothing to undo is skipped).
    grown: bool,
}

impl Default for IdleBackoff {
    fn default() -> Self {
        Self::new(INITIAL_IDLE_BACKOFF, MAX_IDLE_BACKOFF)
    }
}

impl IdleBackoff {
    /// A backoff starting near `initial`, doubling, ±50 % jitter, never above `cap`.
    pub fn new(initial: Duration, cap: Duration) -> Self {
        let inner = ExponentialBackoff {
            initial_interval: initial,
            current_interval: initial,
            randomization_factor: 0.5,
            multiplier: 2.0,
            max_interval: cap,
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        };
        IdleBackoff {
            inner,
            cap,
            grown: false,
        }
    }

    /// The next delay (grows until the cap).
    pub fn next_delay(&mut self) -> Duration {
        // `max_elapsed_time` is None, so the crate always yields a value; jitter can exceed
        // `max_interval`, hence the explicit cap.
        self.grown = true;
        self.inner.next_backoff().unwrap_or(self.cap).min(self.cap)
    }

    /// Back to the initial delay (data arrived).
    pub fn reset(&mut self) {
        if std::mem::take(&mut self.grown) {
            self.inner.reset();
        }
    }

    /// Sleeps for the next delay.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_exceeds_the_cap_and_grows_to_it() {
        let mut b = IdleBackoff::default();
        let delays: Vec<_> = (0..200).map(|_| b.next_delay()).collect();
        assert!(delays.iter().all(|d| *d <= MAX_IDLE_BACKOFF), "{delays:?}");
        assert!(delays[0] <= INITIAL_IDLE_BACKOFF * 3 / 2);
        // After many attempts the delay sits in the top band: jitter of the capped interval.
        assert!(
            delays[100..].iter().all(|d| *d >= MAX_IDLE_BACKOFF / 2),
            "{delays:?}"
        );
        // Jitter: not every capped delay is identical.
        assert!(delays[100..].iter().any(|d| *d != delays[199]));
    }

    #[test]
    fn reset_returns_to_the_initial_delay() {
        let mut b = IdleBackoff::default();
        for _ in 0..50 {
            b.next_delay();
        }
        b.reset();
        assert!(b.next_delay() <= INITIAL_IDLE_BACKOFF * 3 / 2);
        // Resets with nothing to undo in between (the driver resets on every record), then
        // growth again: the next reset still takes it back.
        b.reset();
        b.reset();
        assert!(b.next_delay() <= INITIAL_IDLE_BACKOFF * 3 / 2);
        for _ in 0..50 {
            b.next_delay();
        }
        b.reset();
        assert!(b.next_delay() <= INITIAL_IDLE_BACKOFF * 3 / 2);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_uses_tokio_time() {
        let mut b = IdleBackoff::default();
        let start = tokio::time::Instant::now();
        for _ in 0..20 {
            b.wait().await;
        }
        let elapsed = start.elapsed();
        // 20 waits: at most 20 × 5 s, and well above the first few short ones.
        assert!(elapsed <= MAX_IDLE_BACKOFF * 20, "{elapsed:?}");
        assert!(elapsed >= Duration::from_secs(20), "{elapsed:?}");
    }
}

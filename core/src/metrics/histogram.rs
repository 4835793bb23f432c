//! [`Histogram`]: a lock-free latency histogram with fixed buckets, cheap enough for the hot path
//! (one relaxed add per bucket boundary passed), read as a plain [`HistogramSnapshot`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (Prometheus' `le`); `+Inf` is the count.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observations of a duration: how many fell at or below each of [`BUCKETS`], their count and
/// their sum.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Cumulative: `le[i]` counts observations ≤ `BUCKETS[i]`.
    le: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, counter) in BUCKETS.iter().zip(&self.le) {
            if secs <= *bound {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut le = [0; BUCKETS.len()];
        for (out, c) in le.iter_mut().zip(&self.le) {
            *out = c.load(Ordering::Relaxed);
        }
        HistogramSnapshot {
            le,
            count: self.count.load(Ordering::Relaxed),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
        }
    }
}

/// A plain copy of a [`Histogram`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Cumulative counts per bucket of [`BUCKETS`].
    pub le: [u64; BUCKETS.len()],
    /// Observations.
    pub count: u64,
    /// Their sum, in microseconds.
    pub sum_micros: u64,
}

impl HistogramSnapshot {
    /// The sum in seconds.
    pub fn sum_secs(&self) -> f64 {
        self.sum_micros as f64 / 1e6
    }

    /// The mean in milliseconds (0 without observations).
    pub fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_micros as f64 / 1e3 / self.count as f64
        }
    }

    /// `(upper bound, cumulative count)` per bucket.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        BUCKETS.iter().copied().zip(self.le.iter().copied())
    }
}

impl std::ops::AddAssign for HistogramSnapshot {
    fn add_assign(&mut self, other: Self) {
        for (a, b) in self.le.iter_mut().zip(other.le) {
            *a += b;
        }
        self.count += other.count;
        self.sum_micros += other.sum_micros;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_fall_in_cumulative_buckets() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(20));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.sum_micros, 500 + 30_000 + 20_000_000);
        let le: Vec<(f64, u64)> = s.buckets().collect();
        assert_eq!(le[0], (0.001, 1));
        assert_eq!(le[3], (0.025, 1));
        assert_eq!(le[4], (0.05, 2));
        assert_eq!(le[11], (10.0, 2));
        assert!((s.mean_ms() - 20_030.5 / 3.0).abs() < 1e-6);
        let mut total = s;
        total += s;
        assert_eq!(total.count, 6);
        assert_eq!(total.le[4], 4);
    }
}

//! A connector's rate limits (`max.records.per.second`, `max.bytes.per.second`): token buckets
//! shared by all its tasks, so a backfill does not flood a shared cluster.
//!
//! Each bucket refills at its rate and holds at most a tenth of a second's worth, so a limited
//! connector never bursts above its rate for long. A record takes its tokens at once, going
//! into debt when the bucket holds too few; the task then waits until the debt is paid off.
//! Tasks therefore wait in the order they asked, and a record larger than the bucket (a big
//! value under `max.bytes.per.second`) waits for its whole size instead of blocking forever.
//! Time is tokio's, so tests run it with paused time.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// One token bucket: `rate` tokens a second, at most `burst` at hand.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    /// Tokens at hand (negative: owed).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl TokenBucket {
    /// A bucket of `rate` tokens a second (at least 1), full, holding a tenth of a second's
    /// worth (at least one token).
    pub fn new(rate: u64) -> Self {
        let rate = rate.max(1) as f64;
        let burst = (rate / 10.0).max(1.0);
        TokenBucket {
            rate,
            burst,
            state: Mutex::new(BucketState {
                tokens: burst,
                at: Instant::now(),
            }),
        }
    }

    /// Takes `n` tokens now and returns how long the caller must wait before going on (zero
    /// when the bucket held them). The lock is never held across an await.
    pub fn reserve(&self, n: u64) -> Duration {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(s.at).as_secs_f64();
        s.tokens = (s.tokens + elapsed * self.rate).min(self.burst);
        s.at = now;
        s.tokens -= n as f64;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / self.rate)
        }
    }
}

/// The limits of one connector: records and bytes per second, either or both.
#[derive(Debug)]
pub struct RateLimits {
    records: Option<TokenBucket>,
    bytes: Option<TokenBucket>,
}

impl RateLimits {
    /// The limits, or `None` when neither is set (then nothing is checked per record).
    pub fn new(records_per_second: Option<u64>, bytes_per_second: Option<u64>) -> Option<Self> {
        if records_per_second.is_none() && bytes_per_second.is_none() {
            return None;
        }
        Some(RateLimits {
            records: records_per_second.map(TokenBucket::new),
            bytes: bytes_per_second.map(TokenBucket::new),
        })
    }

    /// Takes one record of `bytes` bytes from the buckets; returns how long to wait before
    /// producing it.
    pub fn reserve(&self, bytes: u64) -> Duration {
        let records = self
            .records
            .as_ref()
            .map_or(Duration::ZERO, |b| b.reserve(1));
        let bytes = self
            .bytes
            .as_ref()
            .map_or(Duration::ZERO, |b| b.reserve(bytes));
        records.max(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `n` records of `size` bytes through `limits` as a task would; returns the time it
    /// took (tokio's paused clock).
    async fn send(limits: &RateLimits, n: u64, size: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            let wait = limits.reserve(size);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn records_per_second_bounds_the_duration() {
        let limits = RateLimits::new(Some(1000), None).unwrap();
        let took = send(&limits, 2000, 10).await;
        // 100 records at hand, the other 1900 at 1000/s.
        assert!(
            took >= Duration::from_millis(1899) && took <= Duration::from_millis(1910),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_per_second_bounds_the_duration_and_big_records_pass() {
        let limits = RateLimits::new(None, Some(10_000)).unwrap();
        // Each record is 5x the bucket (1000 bytes): it waits for its whole size.
        let took = send(&limits, 4, 5_000).await;
        assert!(
            took >= Duration::from_millis(1899) && took <= Duration::from_millis(1910),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_tighter_limit_wins_and_idle_time_refills_only_a_burst() {
        let limits = RateLimits::new(Some(100), Some(1_000_000)).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        // A minute idle still leaves only 10 records at hand.
        let took = send(&limits, 110, 1).await;
        assert!(
            took >= Duration::from_millis(999) && took <= Duration::from_millis(1010),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_share_one_connectors_buckets() {
        let limits = std::sync::Arc::new(RateLimits::new(Some(1000), None).unwrap());
        let start = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let l = limits.clone();
                tokio::spawn(async move { send(&l, 500, 1).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1899) && took <= Duration::from_millis(1910),
            "2000 records among 4 tasks at 1000/s: {took:?}"
        );
    }

    #[test]
    fn no_limit_is_none() {
        assert!(RateLimits::new(None, None).is_none());
    }
}

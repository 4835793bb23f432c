//! Native (C) heap housekeeping: librdkafka copies every record it is given with glibc's
//! `malloc`, so a backlog held while a broker is down (tens of MB) is glibc heap. Once delivered
//! it is free, but glibc returns free memory to the system only from the top of each arena; a
//! few chunks still in use above it keep the rest resident, so RSS after a backlog depends on
//! where the last live chunks happened to be. Every few seconds this looks at how much free
//! memory glibc holds and, when it has grown by [`TRIM_STEP`] since the last trim, hands the
//! free pages back (`malloc_trim(0)`, which releases whole free pages anywhere in the heap).
//!
//! Only on glibc targets; elsewhere [`spawn_trimmer`] does nothing. Sluice's own allocations go
//! through mimalloc, which returns memory on its own; with the `system-allocator` feature they
//! are glibc's too and are covered as well.

use std::time::Duration;

/// How often glibc's free memory is looked at (`mallinfo2` walks the free lists: cheap, but not
/// free, so not on every record).
const EVERY: Duration = Duration::from_secs(5);

/// Growth of glibc's free memory since the last trim that triggers the next one.
pub(crate) const TRIM_STEP: usize = 8 << 20;

/// Whether to trim now: `free` bytes are free in glibc's arenas, `after_last` were free right
/// after the last trim (or the lowest seen since). Returns the new baseline and the decision.
pub(crate) fn decide(free: usize, after_last: usize) -> (usize, bool) {
    if free >= after_last.saturating_add(TRIM_STEP) {
        (free, true)
    } else {
        (after_last.min(free), false)
    }
}

/// Starts the periodic trim on the current Tokio runtime (a no-op off glibc).
pub(crate) fn spawn_trimmer() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(async {
        let mut baseline = 0usize;
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (in_use, free) = glibc::in_use_and_free();
            let (next, trim) = decide(free, baseline);
            baseline = next;
            if trim {
                let released = glibc::trim();
                tracing::debug!(
                    in_use_bytes = in_use,
                    free_bytes = free,
                    released,
                    "returned free native heap pages to the system (malloc_trim)"
                );
            }
        }
    });
}

// The only unsafe code in Sluice: two glibc calls with no preconditions.
#[allow(unsafe_code)]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    /// Bytes of glibc's heap in use and free in its arenas (mmapped chunks count as in use;
    /// they are unmapped when freed).
    pub(super) fn in_use_and_free() -> (usize, usize) {
        // SAFETY: mallinfo2 has no preconditions; it only reads the allocator's state.
        let m = unsafe { libc::mallinfo2() };
        (m.uordblks + m.hblkhd, m.fordblks)
    }

    /// `malloc_trim(0)`: whether any memory was released.
    pub(super) fn trim() -> bool {
        // SAFETY: malloc_trim has no preconditions; it takes the arenas' locks itself.
        unsafe { libc::malloc_trim(0) != 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_when_free_memory_grew_by_a_step_and_follows_it_down() {
        let mib = 1 << 20;
        // Free memory below a step above the baseline: no trim; the baseline follows it down.
        assert_eq!(decide(3 * mib, 0), (0, false));
        assert_eq!(decide(3 * mib, 5 * mib), (3 * mib, false));
        // A backlog delivered: 20 MiB free, from a 3 MiB baseline.
        assert_eq!(decide(20 * mib, 3 * mib), (20 * mib, true));
        // Still 20 MiB free after the trim (trimmed pages stay on the free lists): no new trim.
        assert_eq!(decide(21 * mib, 20 * mib), (20 * mib, false));
        // Reused, then another backlog freed.
        assert_eq!(decide(6 * mib, 20 * mib), (6 * mib, false));
        assert_eq!(
            decide(6 * mib + TRIM_STEP, 6 * mib),
            (6 * mib + TRIM_STEP, true)
        );
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)] // malloc and free, to build the fragmented heap the trim is for
    #[test]
    fn trim_hands_back_pages_held_below_a_live_chunk() {
        // 32 MiB of small glibc chunks, freed but for the last one, which pins the arena's
        // top: free() alone cannot return the pages below it; malloc_trim can.
        fn rss_kib() -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        }
        let chunks: Vec<*mut libc::c_void> = (0..32 * 1024)
            // SAFETY: plain malloc of 1 KiB; every pointer is freed below.
            .map(|_| unsafe {
                let p = libc::malloc(1024);
                assert!(!p.is_null());
                libc::memset(p, 1, 1024);
                p
            })
            .collect();
        let (pinned, rest) = chunks.split_last().unwrap();
        for &p in rest {
            // SAFETY: each pointer came from malloc above and is freed once.
            unsafe { libc::free(p) };
        }
        let before = rss_kib();
        let (_, free) = glibc::in_use_and_free();
        assert!(free >= 30 << 20, "glibc holds {free} bytes free");
        assert!(glibc::trim(), "malloc_trim released nothing");
        let after = rss_kib();
        // SAFETY: the last pointer from malloc above, freed once.
        unsafe { libc::free(*pinned) };
        assert!(
            before.saturating_sub(after) >= 16 * 1024,
            "RSS {before} KiB before the trim, {after} KiB after"
        );
    }
}

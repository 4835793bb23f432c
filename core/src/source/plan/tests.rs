use super::*;
use std::collections::BTreeSet;

use proptest::prelude::*;

const MIN: Duration = Duration::from_secs(60);

fn p(k: &str) -> Path {
    Path::from(k)
}

fn after(k: &str) -> Option<Listing> {
    Some(Listing {
        start_after: Some(p(k)),
        until: None,
    })
}

fn full() -> Option<Listing> {
    Some(Listing {
        start_after: None,
        until: None,
    })
}

/// Lists `keys` (sorted) as a backend would for `listing`, feeding them to the plan; returns
/// the keys of the pass.
fn run_listing(plan: &mut ListingPlan, listing: &Listing, keys: &BTreeSet<String>) -> Vec<String> {
    let mut got = Vec::new();
    for k in keys {
        if listing.start_after.as_ref().is_some_and(|s| p(k) <= *s) {
            continue;
        }
        match plan.listed(&p(k)) {
            Key::InPass => got.push(k.clone()),
            Key::PastEnd => return got,
        }
    }
    plan.listing_ended();
    got
}

/// Runs passes at `now` until the plan is idle or done; returns the keys listed, and the end.
fn run_pass(
    plan: &mut ListingPlan,
    now: Instant,
    keys: &BTreeSet<String>,
) -> (Vec<String>, PassEnd) {
    let mut got = Vec::new();
    let mut listing = plan.start_pass(now);
    loop {
        if let Some(l) = &listing {
            got.extend(run_listing(plan, l, keys));
        }
        match plan.readers_idle() {
            PassEnd::List(l) => listing = Some(l),
            end => return (got, end),
        }
    }
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[test]
fn the_first_pass_is_full_then_passes_resume_after_the_greatest_key() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(false, 5 * MIN);
    plan.resume(None, t0);
    assert_eq!(plan.start_pass(t0), full(), "nothing listed yet");
    assert_eq!(plan.listed(&p("k1")), Key::InPass);
    assert_eq!(plan.listed(&p("k2")), Key::InPass);
    assert_eq!(plan.start_pass(t0), None, "a pass is under way");
    plan.listing_ended();
    assert_eq!(plan.start_pass(t0), None, "its objects are still read");
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(plan.start_pass(t0 + MIN), after("k2"));
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(plan.start_pass(t0 + 2 * MIN), after("k2"), "nothing new");
}

#[test]
fn a_full_relist_on_schedule_picks_up_a_late_key() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(false, 5 * MIN);
    plan.resume(None, t0);
    let (got, end) = run_pass(&mut plan, t0, &set(&["k1", "k2"]));
    assert_eq!((got, end), (vec!["k1".into(), "k2".into()], PassEnd::Idle));
    // k0 arrives late (before the keys seen), k3 after them.
    let bucket = set(&["k0", "k1", "k2", "k3"]);
    let (got, _) = run_pass(&mut plan, t0 + MIN, &bucket);
    assert_eq!(got, ["k3"], "incremental: only the new key");
    let (got, _) = run_pass(&mut plan, t0 + 4 * MIN, &bucket);
    assert!(got.is_empty(), "the full listing is not due yet");
    let (got, _) = run_pass(&mut plan, t0 + 5 * MIN, &bucket);
    assert_eq!(got, ["k0", "k1", "k2", "k3"], "full: the late key too");
    assert_eq!(
        plan.start_pass(t0 + 6 * MIN),
        after("k3"),
        "the next full listing is due at t0 + 10 min"
    );
}

#[test]
fn a_zero_interval_lists_fully_every_pass() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(false, Duration::ZERO);
    plan.resume(None, t0);
    for _ in 0..3 {
        assert_eq!(plan.start_pass(t0), full());
        plan.listed(&p("k9"));
        plan.listing_ended();
        assert_eq!(plan.readers_idle(), PassEnd::Idle);
    }
}

/// A full listing that took 2 s (a big folder) holds the next full one back until 20 s
/// after it began: the passes between list after the greatest key (new keys are found at
/// once), and a late key or a deferred object waits for the next full listing.
#[test]
fn full_listings_of_a_continuous_task_are_spaced_by_their_cost() {
    let s = Duration::from_secs(1);
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(false, Duration::ZERO);
    plan.resume(None, t0);
    assert_eq!(plan.start_pass(t0), full());
    plan.listed(&p("k5"));
    plan.listing_took(2 * s);
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    // A new key after the greatest is found; a late one (k1) is not yet.
    let bucket = set(&["k1", "k5", "k6"]);
    let (got, _) = run_pass(&mut plan, t0 + 3 * s, &bucket);
    assert_eq!(got, ["k6"], "after the greatest key, not a full listing");
    // A deferred object asks for a full pass: it waits for the spacing too.
    plan.defer();
    assert_eq!(plan.start_pass(t0 + 19 * s), after("k6"));
    plan.listing_took(Duration::from_millis(1));
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    // 20 s after the last full listing began (the incremental pass's duration did not
    // count): full, so the late key and the deferred object are listed.
    let listing = plan.start_pass(t0 + 20 * s).unwrap();
    assert_eq!(Some(listing.clone()), full());
    assert_eq!(
        run_listing(&mut plan, &listing, &bucket),
        ["k1", "k5", "k6"]
    );
    plan.listing_took(Duration::ZERO);
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(
        plan.start_pass(t0 + 20 * s),
        full(),
        "a full listing that took no time holds nothing back"
    );
}

/// A pass that also read many objects took long for that: the spacing is capped at 5
/// minutes. A backfill is never held back (a deferred object's next pass is full at once).
#[test]
fn the_spacing_is_capped_and_a_backfill_is_not_held_back() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(false, Duration::ZERO);
    plan.resume(None, t0);
    assert_eq!(plan.start_pass(t0), full());
    plan.listed(&p("k5"));
    plan.listing_took(Duration::from_secs(3600));
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(
        plan.start_pass(t0 + 5 * MIN - Duration::from_secs(1)),
        after("k5")
    );
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(plan.start_pass(t0 + 5 * MIN), full());

    let mut backfill = ListingPlan::new(true, Duration::ZERO);
    backfill.resume(None, t0);
    assert_eq!(backfill.start_pass(t0), full());
    backfill.listed(&p("k5"));
    backfill.defer();
    backfill.listing_took(Duration::from_secs(60));
    backfill.listing_ended();
    assert_eq!(backfill.readers_idle(), PassEnd::Idle);
    assert_eq!(backfill.start_pass(t0 + Duration::from_secs(61)), full());
}

#[test]
fn after_a_restart_a_zero_interval_lists_after_the_position_first_then_fully() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(false, Duration::ZERO);
    plan.resume(Some(p("k5")), t0);
    let bucket = set(&["k1", "k5", "k6"]);
    let (got, end) = run_pass(&mut plan, t0, &bucket);
    assert_eq!(
        (got, end),
        (vec!["k6".into()], PassEnd::Idle),
        "the new key first"
    );
    for _ in 0..2 {
        let (got, _) = run_pass(&mut plan, t0, &bucket);
        assert_eq!(got, ["k1", "k5", "k6"], "then every pass is full");
    }
    // A backfill: the new keys, then the keys up to the position, then done.
    let mut plan = ListingPlan::new(true, Duration::ZERO);
    plan.resume(Some(p("k5")), t0);
    let (got, end) = run_pass(&mut plan, t0, &bucket);
    assert_eq!(
        (got, end),
        (vec!["k6".into(), "k1".into(), "k5".into()], PassEnd::Done)
    );
}

#[test]
fn an_object_deferred_in_the_first_pass_after_a_restart_makes_the_next_one_full() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(false, Duration::ZERO);
    plan.resume(Some(p("k5")), t0);
    assert_eq!(plan.start_pass(t0), after("k5"));
    plan.listed(&p("k6"));
    plan.defer();
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(plan.start_pass(t0), full());
}

#[test]
fn a_restart_lists_after_the_restart_position() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(false, 5 * MIN);
    plan.resume(Some(p("k1")), t0);
    let bucket = set(&["k0", "k1", "k2"]);
    assert_eq!(plan.start_pass(t0), after("k1"));
    plan.listed(&p("k2"));
    plan.listing_ended();
    assert_eq!(
        plan.readers_idle(),
        PassEnd::Idle,
        "continuous: no catch-up pass"
    );
    let (got, _) = run_pass(&mut plan, t0 + MIN, &bucket);
    assert!(got.is_empty());
    let (got, _) = run_pass(&mut plan, t0 + 5 * MIN, &bucket);
    assert_eq!(
        got,
        ["k0", "k1", "k2"],
        "the full listing finds the keys before it"
    );
}

#[test]
fn a_restarted_backfill_lists_after_the_restart_position_then_up_to_it() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(true, 5 * MIN);
    plan.resume(Some(p("k2")), t0);
    assert_eq!(plan.start_pass(t0), after("k2"));
    assert_eq!(plan.listed(&p("k3")), Key::InPass);
    plan.listing_ended();
    assert_eq!(
        plan.readers_idle(),
        PassEnd::List(Listing {
            start_after: None,
            until: Some(p("k2")),
        })
    );
    assert_eq!(plan.listed(&p("k1")), Key::InPass);
    assert_eq!(plan.listed(&p("k2")), Key::InPass);
    assert_eq!(
        plan.listed(&p("k3")),
        Key::PastEnd,
        "the keys after it were listed"
    );
    assert_eq!(
        plan.start_pass(t0),
        None,
        "the catch-up pass's objects are read"
    );
    assert_eq!(plan.readers_idle(), PassEnd::Done);
    assert_eq!(plan.start_pass(t0 + 10 * MIN), None, "done for good");
    assert_eq!(plan.readers_idle(), PassEnd::Done);
}

#[test]
fn a_backfill_ends_after_one_pass() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(true, 5 * MIN);
    plan.resume(None, t0);
    let (got, end) = run_pass(&mut plan, t0, &set(&["a", "b"]));
    assert_eq!((got, end), (vec!["a".into(), "b".into()], PassEnd::Done));
    // A restarted backfill whose every pass is full still lists after its restart
    // position first, then the keys up to it: one pass over the bucket in all.
    let mut plan = ListingPlan::new(true, Duration::ZERO);
    plan.resume(Some(p("a")), t0);
    let (got, end) = run_pass(&mut plan, t0, &set(&["a", "b"]));
    assert_eq!((got, end), (vec!["b".into(), "a".into()], PassEnd::Done));
}

#[test]
fn a_deferred_object_makes_the_next_pass_full_and_keeps_a_backfill_going() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(true, 5 * MIN);
    plan.resume(Some(p("k1")), t0);
    assert_eq!(plan.start_pass(t0), after("k1"));
    plan.listed(&p("k2"));
    plan.defer();
    plan.listing_ended();
    // The catch-up pass still runs, then the backfill waits instead of ending.
    assert!(matches!(plan.readers_idle(), PassEnd::List(_)));
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle, "k2 is still to be read");
    assert_eq!(plan.start_pass(t0), full(), "the next pass is a full one");
    plan.listed(&p("k2"));
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Done, "nothing deferred: done");
    // Continuous: a deferral makes the next pass full, once.
    let mut plan = ListingPlan::new(false, 5 * MIN);
    plan.resume(None, t0);
    let (_, end) = run_pass(&mut plan, t0, &set(&["a"]));
    assert_eq!(end, PassEnd::Idle);
    assert_eq!(plan.start_pass(t0), after("a"));
    plan.defer();
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(plan.start_pass(t0), full());
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(plan.start_pass(t0), after("a"));
}

#[test]
fn a_failed_listing_abandons_the_pass() {
    let t0 = Instant::now();
    let mut plan = ListingPlan::new(true, 5 * MIN);
    plan.resume(Some(p("k1")), t0);
    assert_eq!(plan.start_pass(t0), after("k1"));
    plan.listed(&p("k2"));
    plan.listing_failed();
    assert_eq!(
        plan.start_pass(t0),
        after("k2"),
        "a new pass resumes after k2"
    );
}

/// A step of the continuous simulation.
#[derive(Debug, Clone)]
enum Step {
    /// A key arrives.
    Arrive(u8),
    /// Time passes (seconds).
    Wait(u16),
    /// A pass runs.
    Pass,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        any::<u8>().prop_map(Step::Arrive),
        (0u16..200).prop_map(Step::Wait),
        Just(Step::Pass),
    ]
}

fn key(n: u8) -> String {
    format!("k{n:03}")
}

proptest! {
    /// A backfill lists every key in the bucket exactly once, whatever its restart position
    /// (the keys up to it were the ones listed last), then is done.
    #[test]
    fn a_backfill_lists_every_key_exactly_once(
        keys in proptest::collection::btree_set(any::<u8>(), 0..40),
        restart in proptest::option::of(any::<u8>()),
        zero_interval in any::<bool>(),
    ) {
        let keys: BTreeSet<String> = keys.into_iter().map(key).collect();
        let interval = if zero_interval { Duration::ZERO } else { 5 * MIN };
        let t0 = Instant::now();
        let mut plan = ListingPlan::new(true, interval);
        plan.resume(restart.map(|r| p(&key(r))), t0);
        let (got, end) = run_pass(&mut plan, t0, &keys);
        prop_assert_eq!(end, PassEnd::Done);
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), got.len(), "a key listed twice: {:?}", got);
        prop_assert_eq!(sorted, keys.into_iter().collect::<Vec<_>>());
    }

    /// A continuous task: a full pass starts exactly when one is due (never the first pass
    /// after a restart position) and lists every key; any other pass lists exactly the keys
    /// after the greatest one listed so far. So a new
    /// key is listed by the next pass, a late one by the next full pass, never later.
    #[test]
    fn a_continuous_task_lists_fully_when_due_else_after_the_greatest_key(
        restart in proptest::option::of(any::<u8>()),
        steps in proptest::collection::vec(step(), 0..60),
        interval_s in 0u64..300,
    ) {
        let interval = Duration::from_secs(interval_s);
        let t0 = Instant::now();
        let mut now = t0;
        let mut bucket: BTreeSet<String> = BTreeSet::new();
        let mut plan = ListingPlan::new(false, interval);
        let restart = restart.map(key);
        plan.resume(restart.as_ref().map(|r| p(r)), t0);
        // The model: the greatest key listed, when the last full pass began, whether a
        // pass has run (the first after a restart position lists after it, even when every
        // pass is otherwise full).
        let mut greatest: Option<String> = restart.clone();
        let mut last_full = t0;
        let mut first = true;
        for s in steps {
            match s {
                Step::Arrive(n) => {
                    bucket.insert(key(n));
                }
                Step::Wait(secs) => now += Duration::from_secs(secs.into()),
                Step::Pass => {
                    let listing = plan.start_pass(now).expect("between passes");
                    let after_restart = std::mem::take(&mut first) && restart.is_some();
                    let due = greatest.is_none()
                        || (!after_restart
                            && (interval.is_zero() || now.duration_since(last_full) >= interval));
                    prop_assert_eq!(listing.start_after.is_none(), due, "full exactly when due");
                    prop_assert_eq!(listing.until.as_ref(), None);
                    let expected: Vec<String> = if due {
                        last_full = now;
                        bucket.iter().cloned().collect()
                    } else {
                        prop_assert_eq!(
                            listing.start_after.as_ref().map(|k| k.to_string()),
                            greatest.clone()
                        );
                        bucket
                            .iter()
                            .filter(|k| Some(*k) > greatest.as_ref())
                            .cloned()
                            .collect()
                    };
                    let got = run_listing(&mut plan, &listing, &bucket);
                    prop_assert_eq!(&got, &expected);
                    prop_assert_eq!(plan.readers_idle(), PassEnd::Idle);
                    if let Some(max) = got.last() {
                        if Some(max) > greatest.as_ref() {
                            greatest = Some(max.clone());
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn with_notifications_only_the_first_pass_and_reconciliations_list() {
    let t0 = Instant::now();
    let hour = 60 * MIN;
    let mut plan = ListingPlan::new(false, hour).reconcile_only();
    plan.resume(Some(p("k5")), t0);
    assert_eq!(
        plan.start_pass(t0),
        after("k5"),
        "the first pass runs at start"
    );
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(
        plan.start_pass(t0 + MIN),
        None,
        "notifications find new objects"
    );
    assert_eq!(plan.start_pass(t0 + hour - MIN), None);
    assert_eq!(
        plan.start_pass(t0 + hour),
        full(),
        "the reconciliation is a full listing"
    );
    plan.listing_ended();
    assert_eq!(plan.readers_idle(), PassEnd::Idle);
    assert_eq!(plan.start_pass(t0 + hour + MIN), None);
    plan.defer();
    assert_eq!(
        plan.start_pass(t0 + hour + 2 * MIN),
        full(),
        "a deferred object is looked at again"
    );
    // A backfill ignores notifications: one pass, as always.
    let mut once = ListingPlan::new(true, hour).reconcile_only();
    once.resume(None, t0);
    assert_eq!(once.start_pass(t0), full());
}

//! Long faults: the broker down for longer than the delivery timeout, mid-backfill. A
//! `sluice run` over a local bucket against librdkafka's mock cluster, whose broker is taken
//! down and brought back; a consumer counts what landed. Heavy variants (2 and 10 minutes):
//! `SLUICE_HEAVY=1`.
// Measurements go to the test log.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::time::{Duration, Instant};

use support::harness::*;
use support::*;

/// What the driver logs when it sends records again whose delivery timed out.
const RESENT: &str = "sending them again, in order";

/// Takes the broker down for `outage` once a tenth of the records arrived, with `worker`
/// settings added; checks that everything arrives, that no record overtook an earlier one of
/// its object in its partition, and whether records were sent again (`resend`: a delivery
/// timeout shorter than the outage) or not (the default, unbounded one).
fn broker_outage_case(outage: Duration, worker: &[(&str, &str)], resend: bool) {
    let h = Harness::new(BrokerKind::Mock, Offsets::File, 20, 40_000, 5);
    h.worker_settings(worker);
    let total = h.total();
    let Broker::Mock(cluster) = &h.broker else {
        unreachable!()
    };
    let mut collector = Collector::new(&h.broker.bootstrap());
    let mut child = h.spawn_logged(0);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    while collector.distinct() < total / 10 {
        assert!(Instant::now() < deadline, "no progress before the outage");
        collector.pump(Duration::from_millis(20));
    }
    let before = collector.distinct() as f64 / started.elapsed().as_secs_f64();
    cluster.broker_down(1).unwrap();
    let at_outage = collector.distinct();
    std::thread::sleep(outage);
    cluster.broker_up(1).unwrap();
    let back = Instant::now();
    let at_back = collector.distinct();
    let mut first_after = None;
    let deadline = back + Duration::from_secs(180);
    while collector.distinct() < total {
        assert!(
            Instant::now() < deadline,
            "after the outage the run did not deliver everything: {} of {total}; log:\n{}",
            collector.distinct(),
            std::fs::read_to_string(h.log(0)).unwrap_or_default()
        );
        collector.pump(Duration::from_millis(20));
        if first_after.is_none() && collector.distinct() > at_back {
            first_after = Some(back.elapsed());
        }
    }
    let finished = back.elapsed();
    collector.pump(Duration::from_secs(1));
    let status = child.terminate();
    let log = std::fs::read_to_string(h.log(0)).unwrap_or_default();
    assert!(status.success(), "{status:?}; log:\n{log}");
    let duplicates: u64 = collector.seen.values().map(|n| u64::from(n - 1)).sum();
    let resent = log.lines().filter(|l| l.contains(RESENT)).count();
    let after = (total - at_back) as f64 / finished.as_secs_f64();
    println!(
        "broker outage of {outage:?} (worker settings {worker:?}) after {at_outage} of {total} records: consumed={} duplicates={duplicates} lost=0 out-of-order={}; resend rounds logged: {resent}; {before:.0} records/s before the outage, first record {:?} after the broker was back, everything {finished:.1?} after ({after:.0} records/s)",
        collector.records,
        collector.out_of_order(),
        first_after.unwrap_or_default(),
    );
    assert!(
        at_outage < total,
        "the outage came after everything was delivered"
    );
    assert!(!log.contains("task failed"), "the task failed:\n{log}");
    assert_eq!(collector.out_of_order(), 0, "records overtook each other");
    if resend {
        assert!(resent > 0, "no record was sent again:\n{log}");
    } else {
        assert_eq!(
            resent, 0,
            "records timed out under the default settings:\n{log}"
        );
    }
}

fn heavy() -> bool {
    std::env::var_os("SLUICE_HEAVY").is_some()
}

/// The default delivery timeout is unbounded (Kafka Connect's): records wait out the outage.
#[test]
fn a_broker_outage_mid_run_loses_nothing() {
    let outage = if heavy() { 120 } else { 15 };
    broker_outage_case(Duration::from_secs(outage), &[], false);
}

/// A delivery timeout shorter than the outage: the records that timed out are sent again,
/// in order, the task goes on.
#[test]
fn records_whose_delivery_timed_out_are_sent_again_in_order() {
    let outage = if heavy() { 120 } else { 15 };
    broker_outage_case(
        Duration::from_secs(outage),
        &[("producer.message.timeout.ms", "5000")],
        true,
    );
}

/// `SLUICE_HEAVY=1`: the broker down for 10 minutes, past a 30 s delivery timeout.
#[test]
fn a_ten_minute_broker_outage_loses_nothing() {
    if !heavy() {
        return;
    }
    broker_outage_case(
        Duration::from_secs(600),
        &[("producer.delivery.timeout.ms", "30000")],
        true,
    );
}

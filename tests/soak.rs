//! The soak test (`SLUICE_HEAVY=1`; `SLUICE_SOAK_SECS`, default 1800): one `sluice run` with
//! default at-least-once settings reads jsonl objects that arrive in an S3-compatible store (moto
//! behind the test proxy) every second for the whole run, while faults come and go in cycles:
//! the offsets topic's broker down, the records' broker down, the store refusing connections,
//! the store answering 503 to everything. Every 10 s the test samples the process's RSS, open
//! file descriptors and threads (`/proc/<pid>/`), and its REST status and `/metrics` (as a
//! monitoring system would); at the end it consumes and counts every (object, record) and
//! checks: nothing lost, descriptors and threads bounded, anonymous memory flat after the
//! warm-up (the least-squares slope of its floor, the lowest `RssAnon` of each half fault cycle,
//! under [`RSS_SLOPE_MAX_KB_PER_MIN`]; the whole RSS is printed beside it). The figures of the
//! 30-minute runs are in `docs/guarantees.md` ("Soak").
// The samples table and the figures go to the test log.
#![allow(clippy::print_stdout)]

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sluice_testkit::servers::{ObjectServer, StoreKind};
use support::harness::*;
use support::*;

/// Slope allowed for the floor of the anonymous memory (`RssAnon`) after the warm-up, KiB per
/// minute. What Sluice keeps by design grows with the objects it has finished: a finished
/// object's offset is a 40-byte slot plus its ETag in the offsets cache
/// (`core/src/offsets/finished.rs`), under 200 bytes an object, so under 12 KiB/min at one
/// object a second; the bound is ten times that. A leak of 11 bytes per record (~200 records/s
/// here) or of 3 KiB per object exceeds it.
///
/// The floor, not every sample: RSS moves in steps of 10-30 MiB with the faults (records held
/// while the broker is down) and comes back down within minutes (see the "Soak" section of
/// `docs/guarantees.md`), so the slope over all samples depends on where such a step falls in
/// the window (a step in the last minutes of a run failed it with no leak). A leak raises every
/// sample, the lowest of each cycle too; a step tied to one fault does not.
///
/// Anonymous memory, not the whole RSS: the whole RSS also counts the pages of the (debug,
/// ~400 MB) binary and its libraries that happen to be resident, 42 of 63 MiB in a run of
/// 2026-12-04. Those come in as code paths run (a fault's error handling) and go when the
/// kernel reclaims page cache (a build beside the test), so the RSS floor moved by up to 15 MiB
/// from one outage to the next with no allocation behind it. What the process allocates (heap,
/// stacks) is `RssAnon`.
const RSS_SLOPE_MAX_KB_PER_MIN: f64 = 128.0;

/// Open descriptors allowed above the warm-up's maximum (connections come and go: the test
/// proxy closes each after one request).
const FD_MARGIN: u64 = 8;

/// Threads allowed above the warm-up's maximum (tokio's blocking pool grows and shrinks).
const THREAD_MARGIN: u64 = 4;

const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// One object a second.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// The connector's name.
const NAME: &str = "soak";

/// A fault the test injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The broker leading the offsets topic down (records keep flowing).
    OffsetsBrokerDown,
    /// The broker leading the records' topic down.
    BrokerDown,
    /// The object store down, this way.
    Store(StoreDown),
}

impl Fault {
    fn label(self) -> &'static str {
        match self {
            Fault::OffsetsBrokerDown => "offsets broker down",
            Fault::BrokerDown => "broker down",
            Fault::Store(StoreDown::Refused) => "store refusing connections",
            Fault::Store(StoreDown::Status503) => "store answering 503",
        }
    }
}

/// The faults of a run of `run` seconds, as (start, end, fault) in seconds from the start. In
/// units of a thirtieth of the run (60 s in 30 minutes), a cycle of 8: the offsets broker down
/// 1, the records' broker down 1.5, the store refusing connections 1.5, then answering 503
/// for 1.5, each after half a unit without fault. Cycles repeat while a fault ends by 28/30
/// of the run, so the end sees no fault.
fn schedule(run: f64) -> Vec<(f64, f64, Fault)> {
    let u = run / 30.0;
    let cycle = [
        (0.5, 1.5, Fault::OffsetsBrokerDown),
        (2.0, 3.5, Fault::BrokerDown),
        (4.0, 5.5, Fault::Store(StoreDown::Refused)),
        (6.0, 7.5, Fault::Store(StoreDown::Status503)),
    ];
    let mut out = Vec::new();
    for c in 0.. {
        let base = 8.0 * f64::from(c);
        if base + cycle[0].1 > 28.0 {
            break;
        }
        for (a, b, f) in cycle {
            if base + b <= 28.0 {
                out.push(((base + a) * u, (base + b) * u, f));
            }
        }
    }
    out
}

/// The warm-up: the first two fault cycles (16/30 of the run), so each fault's own descriptors
/// and threads are part of what "bounded" is measured against, and the allocator has settled.
/// A broker outage holds its backlog in memory, and after it is delivered the process keeps
/// some of it for a while: in the run of 2026-12-04 16:08 UTC the floor rose after the first
/// two outages (+11.2 and +7.6 MiB) and not after the later ones, which suggested two cycles
/// to settle; in the run of 17:09 UTC it rose after the second (+7 MiB), fell back after the
/// third, and rose after the fourth (+14 MiB, kept to the end), failing the floor's slope. So
/// the floor after an outage varies between runs by up to 15 MiB with no growth over time, and
/// this assertion is not yet dependable (docs/guarantees.md, "Soak").
fn warm_up(run: f64) -> f64 {
    run * 16.0 / 30.0
}

/// The windows of the RSS floor: half a fault cycle (4/30 of the run), so a 30-minute run has
/// four after the warm-up.
fn floor_window(run: f64) -> f64 {
    run * 4.0 / 30.0
}

#[test]
fn the_schedule_cycles_every_fault_and_ends_quiet() {
    let s = schedule(1800.0);
    assert_eq!(s.len(), 14);
    assert_eq!(s[0], (30.0, 90.0, Fault::OffsetsBrokerDown));
    assert_eq!(s[1], (120.0, 210.0, Fault::BrokerDown));
    // The warm-up holds two of each.
    let warm: Vec<&str> = s
        .iter()
        .filter(|f| f.1 <= warm_up(1800.0))
        .map(|f| f.2.label())
        .collect();
    assert_eq!(warm.len(), 8);
    assert_eq!(warm.iter().collect::<HashSet<_>>().len(), 4);
    // Four floor windows after it, each a half cycle.
    let after = 1800.0 - warm_up(1800.0);
    assert_eq!((after / floor_window(1800.0)).ceil(), 4.0);
    assert!(s.windows(2).all(|w| w[0].1 < w[1].0), "faults overlap");
    assert!(s.last().unwrap().1 <= 1680.0);
}

/// What `/proc/<pid>/` says about a process.
#[derive(Debug, Clone, Copy)]
struct ProcSample {
    rss_kb: u64,
    /// `RssAnon`: the resident pages the process allocated (heap, stacks), not mapped files.
    anon_kb: u64,
    fds: u64,
    threads: u64,
}

fn proc_sample(pid: u32) -> ProcSample {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {path}:\n{status}"))
    };
    let fd_dir = format!("/proc/{pid}/fd");
    let fds = std::fs::read_dir(&fd_dir)
        .unwrap_or_else(|e| panic!("read {fd_dir}: {e}"))
        .count() as u64;
    ProcSample {
        rss_kb: field("VmRSS:"),
        anon_kb: field("RssAnon:"),
        fds,
        threads: field("Threads:"),
    }
}

/// The least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

/// The RSS floor: for each window of `cycle` seconds after the warm-up (from `warm`), the
/// sample with the lowest RSS, as (minutes from the start, KiB). A last window shorter than half
/// of one joins the one before it.
fn rss_floor(points: &[(f64, u64)], warm: f64, cycle: f64) -> Vec<(f64, f64)> {
    let end = points.iter().map(|p| p.0).fold(warm, f64::max);
    let mut cycles = (((end - warm) / cycle).floor() as usize).max(1);
    if end - warm - cycle * cycles as f64 >= cycle / 2.0 {
        cycles += 1;
    }
    let mut floors: Vec<Option<(f64, u64)>> = vec![None; cycles];
    for &(t, rss) in points.iter().filter(|p| p.0 >= warm) {
        let i = (((t - warm) / cycle) as usize).min(cycles - 1);
        if floors[i].is_none_or(|f| rss < f.1) {
            floors[i] = Some((t, rss));
        }
    }
    floors
        .into_iter()
        .flatten()
        .map(|(t, rss)| (t / 60.0, rss as f64))
        .collect()
}

#[test]
fn the_floor_ignores_a_step_but_not_a_leak() {
    // Flat at 50 MiB with a 20 MiB step in the last minutes (a broker outage's backlog).
    let step: Vec<(f64, u64)> = (48..180)
        .map(|i| {
            let t = f64::from(i) * 10.0;
            (t, if t >= 1650.0 { 71_000 } else { 51_200 })
        })
        .collect();
    assert!(
        slope(
            &step
                .iter()
                .map(|p| (p.0 / 60.0, p.1 as f64))
                .collect::<Vec<_>>()
        ) > 128.0
    );
    let floor = rss_floor(&step, 480.0, 480.0);
    assert_eq!(floor.len(), 3, "{floor:?}");
    assert!(slope(&floor).abs() < 1.0, "{floor:?}");
    // A leak of 200 KiB a minute under the same step.
    let leak: Vec<(f64, u64)> = step
        .iter()
        .map(|&(t, rss)| (t, rss + (t / 60.0 * 200.0) as u64))
        .collect();
    let floor = rss_floor(&leak, 480.0, 480.0);
    assert!((slope(&floor) - 200.0).abs() < 20.0, "{floor:?}");
    // A short run: one partial cycle after the warm-up still gives a floor.
    assert_eq!(rss_floor(&step[..10], 480.0, 480.0).len(), 1);
}

#[test]
fn slope_is_least_squares() {
    assert!((slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) - 2.0).abs() < 1e-9);
    assert!(slope(&[(0.0, 5.0), (1.0, 4.0), (2.0, 5.0), (3.0, 4.0)]).abs() < 0.5);
}

/// One fault as it happened.
#[derive(Debug)]
struct FaultRun {
    fault: Fault,
    /// Seconds from the start.
    from: f64,
    to: f64,
    /// Distinct records delivered when it began and when it ended.
    at_begin: usize,
    at_end: usize,
    /// Records written (in objects) when it ended.
    written_at_end: usize,
    /// Seconds from its end until everything written by then had arrived.
    recovered: Option<f64>,
    /// 503 answers the proxy gave during it.
    injected: u64,
}

/// One 10 s sample.
struct Sample {
    t: f64,
    proc: ProcSample,
    fault: Option<Fault>,
    written: usize,
    delivered: usize,
    /// Records the run says it had acknowledged (its `/metrics`).
    acked: Option<f64>,
    /// The task's state and whether its status said it waits (REST), or why there was no answer.
    status: Result<(String, bool), String>,
}

#[test]
fn objects_arriving_through_cycling_faults_for_half_an_hour() {
    if !heavy() {
        println!("soak: skipped (set SLUICE_HEAVY=1)");
        return;
    }
    let run_secs: u64 = match std::env::var("SLUICE_SOAK_SECS") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|e| panic!("SLUICE_SOAK_SECS={v}: not a number of seconds: {e}")),
        Err(_) => 1800,
    };
    assert!(run_secs >= 120, "SLUICE_SOAK_SECS={run_secs}: at least 120");
    let run = run_secs as f64;
    let faults = schedule(run);
    let warm = warm_up(run);

    let server = ObjectServer::start(StoreKind::S3);
    let proxy = server.proxy.as_ref().expect("S3 is behind the test proxy");
    let cluster = rdkafka::mocking::MockCluster::new(2).expect("a two-broker mock cluster");
    let broker = Broker::Mock(cluster);
    broker.create_topic(TOPIC);
    let Broker::Mock(cluster) = &broker else {
        unreachable!()
    };
    records_on_1_offsets_on_2(cluster);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let port = free_port();
    let worker = dir.path().join("worker.properties");
    let bootstrap = broker.bootstrap();
    let listener = format!("http://127.0.0.1:{port}");
    let mut w = vec![
        ("bootstrap.servers", bootstrap.as_str()),
        ("value.converter.schemas.enable", "false"),
        ("listeners", listener.as_str()),
    ];
    w.extend_from_slice(&OFFSETS_TOPIC_SETTINGS);
    write_props(&worker, &w);
    let mut connector: Vec<(String, String)> = server.connector_settings();
    for (k, v) in [("name", NAME), ("topic", TOPIC), ("input.format", "jsonl")] {
        connector.push((k.into(), v.into()));
    }
    let connector_file = dir.path().join("connector.properties");
    write_props_from(&connector_file, connector);
    let log = dir.path().join("run.log");
    let log_tail = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };

    let mut child = spawn_run_logged(&worker, &connector_file, &log);
    let pid = child.0.id();
    let api = support::rest::Api::new(port);
    api.wait_up(&mut child, &log);
    let mut collector = Collector::new(&bootstrap);
    let mut rng = Rng(16);
    let mut objects: Vec<(String, usize)> = Vec::new();
    let mut written = 0usize;
    let mut samples: Vec<Sample> = Vec::new();
    let mut runs: Vec<FaultRun> = Vec::new();
    let mut active: Option<(usize, Fault)> = None;
    println!(
        "soak: {run_secs} s, one object a second, warm-up {warm:.0} s; faults (s from start): {}",
        faults
            .iter()
            .map(|(a, b, f)| format!("{a:.0}-{b:.0} {}", f.label()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:>6} {:>9} {:>9} {:>5} {:>7} {:>8} {:>9} {:>9}  {:<26} status",
        "t s", "RSS KiB", "anon KiB", "fds", "threads", "objects", "written", "delivered", "fault"
    );
    let started = Instant::now();
    let mut next_write = started;
    let mut next_sample = started;
    while started.elapsed().as_secs_f64() < run {
        collector.pump(Duration::from_millis(100));
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("sluice exited ({status}); log:\n{}", log_tail());
        }
        let t = started.elapsed().as_secs_f64();
        // Faults begin and end on schedule.
        let want = faults.iter().position(|(a, b, _)| *a <= t && t < *b);
        if active.map(|(i, _)| i) != want {
            if let Some((_, f)) = active.take() {
                match f {
                    Fault::OffsetsBrokerDown => cluster.broker_up(2).expect("broker 2 up"),
                    Fault::BrokerDown => cluster.broker_up(1).expect("broker 1 up"),
                    Fault::Store(down) => down.end(proxy),
                }
                let r = runs.last_mut().expect("the fault that ends");
                r.to = t;
                r.at_end = collector.distinct();
                r.written_at_end = written;
                r.injected = proxy.injected() - r.injected;
            }
            if let Some(i) = want {
                let f = faults[i].2;
                match f {
                    Fault::OffsetsBrokerDown => cluster.broker_down(2).expect("broker 2 down"),
                    Fault::BrokerDown => cluster.broker_down(1).expect("broker 1 down"),
                    Fault::Store(down) => down.begin(proxy),
                }
                active = Some((i, f));
                runs.push(FaultRun {
                    fault: f,
                    from: t,
                    to: t,
                    at_begin: collector.distinct(),
                    at_end: 0,
                    written_at_end: 0,
                    recovered: None,
                    injected: proxy.injected(),
                });
            }
        }
        for r in runs.iter_mut() {
            if r.recovered.is_none() && r.to > r.from && collector.distinct() >= r.written_at_end {
                r.recovered = Some(t - r.to);
            }
        }
        // Objects arrive (written straight to the store, so also while it is "down").
        if Instant::now() >= next_write {
            next_write += WRITE_EVERY;
            let o = objects.len();
            let n = rng.range(20, 400) as usize;
            let key = format!("obj-{o:06}.jsonl");
            let body: String = (0..n).map(|r| jsonl_line(o, r) + "\n").collect();
            server.put(&key, body.as_bytes());
            objects.push((key, n));
            written += n;
        }
        if Instant::now() >= next_sample {
            next_sample += SAMPLE_EVERY;
            let s = take_sample(
                &api,
                pid,
                t,
                active.map(|a| a.1),
                written,
                collector.distinct(),
            );
            print_row(&s, objects.len());
            samples.push(s);
            // The proxy logs every request; the test keeps no more than it needs.
            server.clear_log();
        }
    }
    assert!(active.is_none(), "a fault still on at the end: {active:?}");

    // Objects stop arriving; everything written must arrive.
    let end_writes = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    while collector.distinct() < written {
        assert!(
            Instant::now() < deadline,
            "5 minutes after the last object only {} of {written} records arrived; log:\n{}",
            collector.distinct(),
            log_tail()
        );
        collector.pump(Duration::from_millis(200));
    }
    let drained = started.elapsed() - end_writes;
    collector.pump(Duration::from_secs(3));
    let t = started.elapsed().as_secs_f64();
    let last = take_sample(&api, pid, t, None, written, collector.distinct());
    print_row(&last, objects.len());
    samples.push(last);
    let status = child.terminate();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{status:?}; log:\n{}", log_tail());

    // Count.
    let known: HashMap<&str, usize> = objects.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    let lost: usize = objects
        .iter()
        .map(|(k, n)| {
            (0..*n as u64)
                .filter(|r| !collector.seen.contains_key(&(k.clone(), *r)))
                .count()
        })
        .sum();
    let unknown: Vec<&(String, u64)> = collector
        .seen
        .keys()
        .filter(|(k, r)| known.get(k.as_str()).is_none_or(|n| *r >= *n as u64))
        .collect();
    let duplicates: u64 = collector.seen.values().map(|n| u64::from(n - 1)).sum();

    // Memory, descriptors, threads.
    let (warm_s, after): (Vec<&Sample>, Vec<&Sample>) = samples.iter().partition(|s| s.t < warm);
    let rss_points: Vec<(f64, f64)> = after
        .iter()
        .map(|s| (s.t / 60.0, s.proc.rss_kb as f64))
        .collect();
    let rss_slope = slope(&rss_points);
    // The floors: the lowest sample of each half fault cycle after the warm-up, of the whole
    // RSS (printed) and of the anonymous memory (asserted).
    let floor_of = |f: fn(&ProcSample) -> u64| {
        let floor = rss_floor(
            &after.iter().map(|s| (s.t, f(&s.proc))).collect::<Vec<_>>(),
            warm,
            floor_window(run),
        );
        let slope = if floor.len() >= 2 { slope(&floor) } else { 0.0 };
        (floor, slope)
    };
    let (rss_floor_points, rss_floor_slope) = floor_of(|p| p.rss_kb);
    let (floor, floor_slope) = floor_of(|p| p.anon_kb);
    let anon_slope = slope(
        &after
            .iter()
            .map(|s| (s.t / 60.0, s.proc.anon_kb as f64))
            .collect::<Vec<_>>(),
    );
    let per_min = |f: fn(&ProcSample) -> u64| {
        slope(
            &after
                .iter()
                .map(|s| (s.t / 60.0, f(&s.proc) as f64))
                .collect::<Vec<_>>(),
        )
    };
    let fd_slope = per_min(|p| p.fds);
    let thread_slope = per_min(|p| p.threads);
    let max = |v: &[&Sample], f: fn(&ProcSample) -> u64| v.iter().map(|s| f(&s.proc)).max();
    let min = |v: &[&Sample], f: fn(&ProcSample) -> u64| v.iter().map(|s| f(&s.proc)).min();
    let objects_per_min = objects.len() as f64 / (end_writes.as_secs_f64() / 60.0);
    let rss_after: Vec<u64> = after.iter().map(|s| s.proc.rss_kb).collect();
    let anon_after: Vec<u64> = after.iter().map(|s| s.proc.anon_kb).collect();
    let floor_text = |floor: &[(f64, f64)]| {
        floor
            .iter()
            .map(|(t, kb)| format!("{t:.1}:{kb:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    };

    println!("faults:");
    for r in &runs {
        println!(
            "  {:>6.0}-{:<6.0} s {:<26} delivered {:>6} during it; everything written by its end arrived {}{}",
            r.from,
            r.to,
            r.fault.label(),
            r.at_end - r.at_begin,
            r.recovered
                .map_or("never".to_owned(), |s| format!("{s:.1} s after")),
            if r.fault == Fault::Store(StoreDown::Status503) {
                format!("; {} answers 503", r.injected)
            } else {
                String::new()
            }
        );
    }
    println!(
        "soak: {run_secs} s of writes, {} objects, {written} records written, consumed={} distinct={} duplicates={duplicates} lost={lost} unknown={}; drained {drained:.1?} after the last object; consumer re-reads {}, positions holding two records {}, offsets passed over {}",
        objects.len(),
        collector.records,
        collector.distinct(),
        unknown.len(),
        collector.reread,
        collector.collisions,
        collector.skipped_offsets,
    );
    println!(
        "  after the warm-up ({warm:.0} s, {} samples; {} after): RSS {}..{} KiB, slope {rss_slope:+.1} KiB/min over all samples, floor (lowest per half cycle, min:KiB) {}, slope {rss_floor_slope:+.1} KiB/min; anonymous memory (RssAnon) {}..{} KiB, slope {anon_slope:+.1} KiB/min over all samples, floor {}, slope {floor_slope:+.1} KiB/min (bound {RSS_SLOPE_MAX_KB_PER_MIN}; {:+.0} bytes per object at {objects_per_min:.1} objects/min); fds {}..{} (warm-up {}..{}), slope {fd_slope:+.3}/min; threads {}..{} (warm-up {}..{}), slope {thread_slope:+.3}/min",
        warm_s.len(),
        after.len(),
        rss_after.iter().min().copied().unwrap_or_default(),
        rss_after.iter().max().copied().unwrap_or_default(),
        floor_text(&rss_floor_points),
        anon_after.iter().min().copied().unwrap_or_default(),
        anon_after.iter().max().copied().unwrap_or_default(),
        floor_text(&floor),
        floor_slope * 1024.0 / objects_per_min,
        min(&after, |p| p.fds).unwrap_or_default(),
        max(&after, |p| p.fds).unwrap_or_default(),
        min(&warm_s, |p| p.fds).unwrap_or_default(),
        max(&warm_s, |p| p.fds).unwrap_or_default(),
        min(&after, |p| p.threads).unwrap_or_default(),
        max(&after, |p| p.threads).unwrap_or_default(),
        min(&warm_s, |p| p.threads).unwrap_or_default(),
        max(&warm_s, |p| p.threads).unwrap_or_default(),
    );

    assert!(unknown.is_empty(), "records never written: {unknown:?}");
    assert_eq!(lost, 0, "records lost");
    assert!(!text.contains("task failed"), "the task failed:\n{text}");
    let unanswered: Vec<(f64, &String)> = samples
        .iter()
        .filter_map(|s| s.status.as_ref().err().map(|e| (s.t, e)))
        .collect();
    assert!(
        unanswered.is_empty(),
        "the REST API did not answer: {unanswered:?}"
    );
    let not_running: Vec<(f64, &String)> = samples
        .iter()
        .filter_map(|s| match &s.status {
            Ok((state, _)) if state != "RUNNING" => Some((s.t, state)),
            _ => None,
        })
        .collect();
    assert!(
        not_running.is_empty(),
        "the task was not running: {not_running:?}"
    );
    for r in &runs {
        assert!(
            r.recovered.is_some(),
            "not everything written by the end of {r:?} arrived"
        );
        if r.fault == Fault::Store(StoreDown::Status503) {
            assert!(r.injected > 0, "no request was answered 503 during {r:?}");
        }
    }
    assert!(
        after.len() >= 5,
        "too few samples after the warm-up to measure a slope"
    );
    let (fd_warm, fd_after) = (
        max(&warm_s, |p| p.fds).unwrap_or_default(),
        max(&after, |p| p.fds).unwrap_or_default(),
    );
    assert!(
        fd_after <= fd_warm + FD_MARGIN,
        "open descriptors grew: {fd_after} after the warm-up, {fd_warm} during it"
    );
    let (th_warm, th_after) = (
        max(&warm_s, |p| p.threads).unwrap_or_default(),
        max(&after, |p| p.threads).unwrap_or_default(),
    );
    assert!(
        th_after <= th_warm + THREAD_MARGIN,
        "threads grew: {th_after} after the warm-up, {th_warm} during it"
    );
    assert!(
        floor.len() >= 2,
        "too few samples after the warm-up to measure the RSS floor's slope: {floor:?}"
    );
    assert!(
        floor_slope <= RSS_SLOPE_MAX_KB_PER_MIN,
        "the anonymous memory's floor grew {floor_slope:.1} KiB/min after the warm-up (bound {RSS_SLOPE_MAX_KB_PER_MIN}): {floor:?}"
    );
}

/// Samples the process and its REST API (status, `/metrics`).
fn take_sample(
    api: &support::rest::Api,
    pid: u32,
    t: f64,
    fault: Option<Fault>,
    written: usize,
    delivered: usize,
) -> Sample {
    let proc = proc_sample(pid);
    let status = api
        .try_call("GET", &format!("/connectors/{NAME}/status"), None)
        .and_then(|(code, s)| {
            let state = s["tasks"][0]["state"]
                .as_str()
                .ok_or_else(|| format!("status {code} without a task state: {s}"))?;
            let waiting = s["tasks"][0]["trace"].as_str().is_some();
            Ok((state.to_owned(), waiting))
        });
    let acked = match api.try_call("GET", "/metrics", None) {
        Ok((200, serde_json::Value::String(text))) => Some(support::rest::metric_sum(
            &text,
            "sluice_source_record_write_total",
            NAME,
        )),
        _ => None,
    };
    Sample {
        t,
        proc,
        fault,
        written,
        delivered,
        acked,
        status,
    }
}

fn print_row(s: &Sample, objects: usize) {
    println!(
        "{:>6.0} {:>9} {:>9} {:>5} {:>7} {:>8} {:>9} {:>9}  {:<26} {}",
        s.t,
        s.proc.rss_kb,
        s.proc.anon_kb,
        s.proc.fds,
        s.proc.threads,
        objects,
        s.written,
        s.delivered,
        s.fault.map_or("-", Fault::label),
        match &s.status {
            Ok((state, waiting)) => format!(
                "{state}{}{}",
                if *waiting { " (waiting)" } else { "" },
                s.acked
                    .map_or(String::new(), |a| format!(", {a:.0} acknowledged"))
            ),
            Err(e) => format!("no answer: {e}"),
        }
    );
}

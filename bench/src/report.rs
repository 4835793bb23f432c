//! `docs/BENCHMARKS.md`: the tables, the targets and how everything was measured.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::{CaseResult, Contender, Kind, RunArgs, Section};

/// Where and how the numbers were taken.
pub(crate) struct Meta {
    quick: bool,
    reps: usize,
    idle_secs: u64,
    elapsed: Duration,
    cores: usize,
    cpu_model: String,
    mem_gib: f64,
    kernel: String,
    commit: String,
    date: String,
    versions: Vec<(String, String)>,
    command: String,
}

fn cmd_out(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.lines().next().unwrap_or("").trim().to_owned()
        })
        .unwrap_or_default()
}

impl Meta {
    /// Reads the machine's description.
    pub(crate) fn collect(
        args: &RunArgs,
        reps: usize,
        idle_secs: u64,
        elapsed: Duration,
        root: &Path,
    ) -> Meta {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        let mem_gib = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map(|kb| kb / 1024.0 / 1024.0)
            .unwrap_or(0.0);
        let dirty = !cmd_out(
            Command::new("git")
                .args(["status", "--porcelain"])
                .current_dir(root),
        )
        .is_empty();
        let commit = format!(
            "{}{}",
            cmd_out(
                Command::new("git")
                    .args(["rev-parse", "--short", "HEAD"])
                    .current_dir(root)
            ),
            if dirty {
                " (with uncommitted changes)"
            } else {
                ""
            }
        );
        let mut versions = vec![(
            "rustc".to_owned(),
            cmd_out(Command::new("rustc").arg("--version")),
        )];
        if let Some(t) = crate::kafka::find_tansu(root) {
            versions.push(("tansu".into(), cmd_out(Command::new(t).arg("--version"))));
        }
        let py = root.join(".test-servers/bench-venv/bin/python");
        if py.exists() {
            versions.push((
                "baseline".into(),
                cmd_out(Command::new(&py).args([
                    "-c",
                    "import sys, confluent_kafka, boto3; print('Python', sys.version.split()[0], '· confluent-kafka', confluent_kafka.__version__, '(librdkafka', confluent_kafka.libversion()[0] + ') · boto3', boto3.__version__)",
                ])),
            ));
        }
        let moto = root.join(".test-servers/moto-venv/bin/python");
        if moto.exists() {
            versions.push((
                "moto".into(),
                cmd_out(Command::new(&moto).args(["-c", "import moto; print(moto.__version__)"])),
            ));
        }
        let mut command = args.command_line.clone();
        if args.quick && !command.contains("--quick") {
            command.push_str(" --quick");
        }
        for o in &args.only {
            let _ = write!(command, " --only '{o}'");
        }
        if let Some(r) = args.reps {
            let _ = write!(command, " --reps {r}");
        }
        Meta {
            quick: args.quick,
            reps,
            idle_secs,
            elapsed,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            cpu_model,
            mem_gib,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            commit,
            date: cmd_out(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])),
            versions,
            command,
        }
    }
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

fn mb(bytes: u64) -> String {
    let m = bytes as f64 / 1e6;
    if m >= 100.0 {
        format!("{m:.0}")
    } else {
        format!("{m:.1}")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "—".into())
}

fn verdict(held: Option<bool>) -> &'static str {
    match held {
        Some(true) => "✅",
        Some(false) => "❌",
        None => "—",
    }
}

/// Sluice's records/s in the case `r` repeats without transforms, when it ran.
fn without_transforms(results: &[CaseResult], r: &CaseResult) -> Option<f64> {
    let c = &r.case;
    results
        .iter()
        .find(|o| {
            !o.case.transforms
                && o.case.kind == c.kind
                && o.case.format == c.format
                && o.case.backend == c.backend
                && o.case.broker == c.broker
                && o.case.dataset == c.dataset
                && o.case.tasks == c.tasks
        })
        .and_then(|o| o.rate(Contender::Sluice))
}

/// Sluice's own CPU per record, in µs: its CPU seconds minus those of the raw produce
/// contender (the same records, keys and headers through a bare producer), over the records.
fn own_cpu_us(r: &CaseResult) -> Option<f64> {
    let sluice = r.get(Contender::Sluice)?.cpu()?;
    let produce = r.get(Contender::RawProduce)?.cpu()?;
    (r.records > 0).then(|| (sluice - produce) / r.records as f64 * 1e6)
}

/// min(raw produce, raw read) in records/s.
fn bound(r: &CaseResult) -> Option<f64> {
    match (r.rate(Contender::RawProduce), r.rate(Contender::RawRead)) {
        (Some(p), Some(q)) => Some(p.min(q)),
        _ => None,
    }
}

fn cell_escape(s: &str) -> String {
    let s = s.replace('|', "\\|").replace('\n', " ");
    if s.chars().count() > 300 {
        let cut: String = s.chars().take(300).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn status_of(r: &CaseResult, c: Contender) -> Option<String> {
    let x = r.get(c)?;
    if let Some(s) = &x.skipped {
        return Some(s.clone());
    }
    if !x.ok() {
        return Some(format!("failed: {}", x.failure().unwrap_or("?")));
    }
    None
}

/// The report.
pub(crate) fn markdown(meta: &Meta, results: &[CaseResult]) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Generated by `{}` — every number below comes from that one command; do not edit by hand.\n",
        meta.command
    );
    if meta.quick {
        let _ = writeln!(
            w,
            "> **QUICK RUN — NOT A BENCHMARK.** Small datasets, {} run(s) per contender, {} s idle, \
             on a machine shared with other work. It checks that the harness works; the numbers are \
             noisy and say little. Run `scripts/bench.sh` (without `--quick`) on a quiet machine \
             for the real table.\n",
            meta.reps, meta.idle_secs
        );
    }
    let _ = writeln!(
        w,
        "- Machine: **{} cores** ({}), {:.0} GiB RAM, Linux {}.",
        meta.cores, meta.cpu_model, meta.mem_gib, meta.kernel
    );
    let _ = writeln!(
        w,
        "- Taken {} at commit {}; {} timed run(s) per contender (median wall time; peak RSS is the largest of the runs); the whole command took {:.0} min.",
        meta.date,
        meta.commit,
        meta.reps,
        meta.elapsed.as_secs_f64() / 60.0
    );
    for (k, v) in &meta.versions {
        let _ = writeln!(w, "- {k}: {v}");
    }
    let _ = writeln!(
        w,
        "- Reproduce: `{}` (builds the `profiling` profile: release code with line tables; installs the broker, moto and the baseline's venv, generates the data under `target/bench-data/` once, runs every case, rewrites this file). `--quick` for a small smoke run, `--only <text>` for the cases whose name contains it.\n",
        meta.command
    );

    // ---- Targets
    let _ = writeln!(w, "## Targets\n");
    let _ = writeln!(w, "| target | case | measured | held |");
    let _ = writeln!(w, "|---|---|---|---|");
    for r in results.iter().filter(|r| r.skipped.is_none()) {
        let c = &r.case;
        match c.kind {
            Kind::Throughput if c.transforms => {
                let x = ratio(r.rate(Contender::Sluice), without_transforms(results, r));
                let _ = writeln!(
                    w,
                    "| ≥ 0.85 × the same case without transforms | {} | {} | {} |",
                    c.id,
                    fmt_ratio(x),
                    verdict(x.map(|x| x >= 0.85))
                );
            }
            Kind::Throughput => {
                let s = r.rate(Contender::Sluice);
                if let Some(t) = c.format.bound_target() {
                    let x = ratio(s, bound(r));
                    let _ = writeln!(
                        w,
                        "| ≥ {t} × min(raw produce, raw read) | {} | {} | {} |",
                        c.id,
                        fmt_ratio(x),
                        verdict(x.map(|x| x >= t))
                    );
                }
                // Issue 15: the per-record cost of a 1 KiB jsonl record, one task.
                if c.format == crate::Format::Jsonl && c.tasks == 1 && c.section == Section::Formats
                {
                    let x = ratio(s, bound(r));
                    let _ = writeln!(
                        w,
                        "| jsonl end to end ≥ 0.9 × min(raw produce, raw read), 1 task | {} | {} | {} |",
                        c.id,
                        fmt_ratio(x),
                        verdict(x.map(|x| x >= 0.9))
                    );
                    let own = own_cpu_us(r);
                    let _ = writeln!(
                        w,
                        "| Sluice's own CPU ≤ 1 µs per 1 KiB jsonl record | {} | {} | {} |",
                        c.id,
                        own.map(|u| format!("{u:.2} µs")).unwrap_or("—".into()),
                        verdict(own.map(|u| u <= 1.0))
                    );
                }
                if r.get(Contender::PyParse).is_some() {
                    let x = ratio(s, r.rate(Contender::PyParse));
                    let _ = writeln!(
                        w,
                        "| ≥ 3 × {} | {} | {} | {} |",
                        Contender::PyParse.name(c.format),
                        c.id,
                        fmt_ratio(x),
                        verdict(x.map(|x| x >= 3.0))
                    );
                }
                if r.get(Contender::PyPass).is_some() {
                    let x = ratio(s, r.rate(Contender::PyPass));
                    let _ = writeln!(
                        w,
                        "| ≥ 1 × python baseline (passthrough), parsing | {} | {} | {} |",
                        c.id,
                        fmt_ratio(x),
                        verdict(x.map(|x| x >= 1.0))
                    );
                }
                if c.section == Section::Big {
                    let rss = r.get(Contender::Sluice).and_then(|x| x.rss());
                    let _ = writeln!(
                        w,
                        "| peak RSS ≤ 200 MB | {} | {} | {} |",
                        c.id,
                        rss.map(|b| format!("{} MB", mb(b))).unwrap_or("—".into()),
                        verdict(rss.map(|b| b <= 200_000_000))
                    );
                }
            }
            Kind::Restart => {
                let first = crate::median(r.extra.first_record.clone());
                // The 1M case's targets (issue 15): < 10 s and ≤ 200 MB.
                let million = c.dataset == "jsonl-1m";
                let limit = if million { 10.0 } else { 5.0 };
                let _ = writeln!(
                    w,
                    "| restart: first new record < {limit} s | {} | {} | {} |",
                    c.id,
                    first.map(|f| format!("{f:.2} s")).unwrap_or("—".into()),
                    verdict(first.map(|f| f < limit))
                );
                if million {
                    let rss = r.get(Contender::Sluice).and_then(|x| x.rss());
                    let _ = writeln!(
                        w,
                        "| restart: peak RSS ≤ 200 MB | {} | {} | {} |",
                        c.id,
                        rss.map(|b| format!("{} MB", mb(b))).unwrap_or("—".into()),
                        verdict(rss.map(|b| b <= 200_000_000))
                    );
                }
                let _ = writeln!(
                    w,
                    "| restart: 0 GETs of finished objects | {} | {} | {} |",
                    c.id,
                    r.extra
                        .finished_gets
                        .map(|g| g.to_string())
                        .unwrap_or("not counted".into()),
                    verdict(r.extra.finished_gets.map(|g| g == 0))
                );
            }
            Kind::Idle => {
                let pct = r.get(Contender::Sluice).and_then(|x| {
                    x.runs.first()?.ok.then_some(())?;
                    r.extra.idle_steady.map(|s| 100.0 * s)
                });
                let _ = writeln!(
                    w,
                    "| idle CPU < 1 % of a core (after start-up) | {} | {} | {} |",
                    c.id,
                    pct.map(|p| format!("{p:.2} %")).unwrap_or("—".into()),
                    verdict(pct.map(|p| p < 1.0))
                );
            }
        }
    }
    let _ = writeln!(w);

    // ---- Throughput
    let sections = [
        (Section::Formats, "Formats (local folder, tansu broker)"),
        (Section::Backends, "Object stores (tansu broker)"),
        (
            Section::Brokers,
            "In-process mock cluster (client-side bound)",
        ),
        (Section::Big, "One object of 2 GiB (streaming)"),
        (
            Section::Many,
            "100k objects of 1 KiB (listing and per-object cost)",
        ),
        (
            Section::Offsets,
            "Offset writes: continuous against every 5 s (Kafka Connect's timer)",
        ),
    ];
    let _ = writeln!(
        w,
        "## Throughput: Sluice against the limits and the baseline\n"
    );
    let _ = writeln!(
        w,
        "Records/s and MB/s of input are end to end: records counted in Kafka over the wall time of the process, start-up and final flush included. \
         Ratios are Sluice's records/s over the other contender's, measured in the same run. \
         *bound* = min(raw produce limit, raw read limit). \
         *own CPU* = Sluice's CPU seconds minus the raw produce contender's (the same records through a bare producer), per record.\n"
    );
    for (section, title) in sections {
        let rows: Vec<&CaseResult> = results
            .iter()
            .filter(|r| r.case.section == section)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(w, "### {title}\n");
        let _ = writeln!(
            w,
            "| case | records | input MB | records/s | MB/s | peak RSS MB | CPU s | own CPU µs/record | × raw produce | × raw read | × bound | × python (parse) | × python (passthrough) |"
        );
        let _ = writeln!(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for r in rows {
            let c = &r.case;
            if let Some(s) = &r.skipped {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} |  |  |  |  |  |  |  |  |  |",
                    c.id,
                    if r.records > 0 {
                        thousands(r.records as f64)
                    } else {
                        "—".into()
                    },
                    if r.bytes > 0 {
                        mb(r.bytes)
                    } else {
                        "—".into()
                    },
                    cell_escape(s)
                );
                continue;
            }
            if let Some(s) = status_of(r, Contender::Sluice) {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} |  |  |  |  |  |  |  |  |  |",
                    c.id,
                    thousands(r.records as f64),
                    mb(r.bytes),
                    cell_escape(&s)
                );
                continue;
            }
            let sl = r.get(Contender::Sluice).expect("sluice");
            let rate = r.rate(Contender::Sluice);
            let wall = sl.wall().unwrap_or(f64::NAN);
            let _ = writeln!(
                w,
                "| {} | {} | {} | **{}** | {:.1} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
                c.id,
                thousands(r.records as f64),
                mb(r.bytes),
                rate.map(thousands).unwrap_or_default(),
                r.bytes as f64 / 1e6 / wall,
                sl.rss().map(mb).unwrap_or_default(),
                sl.cpu().unwrap_or(f64::NAN),
                own_cpu_us(r)
                    .map(|u| format!("{u:.2}"))
                    .unwrap_or("—".into()),
                fmt_ratio(ratio(rate, r.rate(Contender::RawProduce))),
                fmt_ratio(ratio(rate, r.rate(Contender::RawRead))),
                fmt_ratio(ratio(rate, bound(r))),
                fmt_ratio(ratio(rate, r.rate(Contender::PyParse))),
                fmt_ratio(ratio(rate, r.rate(Contender::PyPass))),
            );
        }
        let _ = writeln!(w);
    }

    // ---- Every contender
    let _ = writeln!(w, "## Every contender, every run\n");
    let _ = writeln!(
        w,
        "Wall seconds of each timed run; the rate uses the median. *checked* = records counted by consuming the topic back after the first run \
         (count / distinct (object, record index) pairs); the mock cluster's check runs as an extra untimed run that consumes while producing. Raw read reports bytes, not records.\n"
    );
    let _ = writeln!(
        w,
        "| case | contender | wall s per run | records/s | MB/s | peak RSS MB | CPU s | checked |"
    );
    let _ = writeln!(w, "|---|---|---|--:|--:|--:|--:|---|");
    for r in results
        .iter()
        .filter(|r| r.skipped.is_none() && r.case.kind == Kind::Throughput)
    {
        for x in &r.contenders {
            let name = x.contender.name(r.case.format);
            if let Some(s) = status_of(r, x.contender) {
                let _ = writeln!(
                    w,
                    "| {} | {name} | {} |  |  |  |  |  |",
                    r.case.id,
                    cell_escape(&s)
                );
                continue;
            }
            let walls: Vec<String> = x
                .runs
                .iter()
                .map(|run| format!("{:.2}", run.wall))
                .collect();
            let checked = x
                .runs
                .iter()
                .find_map(|run| run.counted)
                .map(|(n, d)| format!("{} / {}", thousands(n as f64), thousands(d as f64)))
                .unwrap_or_else(|| {
                    if x.contender == Contender::RawRead {
                        "bytes match".into()
                    } else {
                        "—".into()
                    }
                });
            let checked = match x.runs.iter().find(|run| !run.remark.is_empty()) {
                Some(run) => format!("{checked} ({})", cell_escape(&run.remark)),
                None => checked,
            };
            let wall = x.wall().unwrap_or(f64::NAN);
            let reused = x
                .reused_from
                .as_ref()
                .map(|f| format!(" (from *{f}*)"))
                .unwrap_or_default();
            let _ = writeln!(
                w,
                "| {} | {name}{reused} | {} | {} | {:.1} | {} | {:.1} | {checked} |",
                r.case.id,
                walls.join(", "),
                thousands(r.records as f64 / wall),
                r.bytes as f64 / 1e6 / wall,
                x.rss().map(mb).unwrap_or_default(),
                x.cpu().unwrap_or(f64::NAN),
            );
        }
    }
    let _ = writeln!(w);

    // ---- RSS curves of the big object
    let big: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.case.section == Section::Big && r.skipped.is_none())
        .collect();
    if !big.is_empty() {
        let _ = writeln!(w, "## Memory over time on the 2 GiB object\n");
        let _ = writeln!(
            w,
            "Sluice's RSS (MB) sampled every 250 ms from `/proc/<pid>/status`, at each tenth of the first timed run. Flat = streaming.\n"
        );
        let _ = writeln!(
            w,
            "| case | 10% | 20% | 30% | 40% | 50% | 60% | 70% | 80% | 90% | 100% |"
        );
        let _ = writeln!(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for r in big {
            let Some(run) = r
                .get(Contender::Sluice)
                .and_then(|x| x.runs.iter().find(|run| run.ok && !run.curve.is_empty()))
            else {
                continue;
            };
            let curve = &run.curve;
            let cells: Vec<String> = (1..=10)
                .map(|i| {
                    let t = run.wall * i as f64 / 10.0;
                    curve
                        .iter()
                        .rev()
                        .find(|(s, _, _)| *s <= t)
                        .or(curve.first())
                        .map(|(_, b, _)| mb(*b))
                        .unwrap_or_default()
                })
                .collect();
            let _ = writeln!(w, "| {} | {} |", r.case.id, cells.join(" | "));
        }
        let _ = writeln!(w);
    }

    // ---- Restart
    let restarts: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.case.kind == Kind::Restart)
        .collect();
    if !restarts.is_empty() {
        let _ = writeln!(w, "## Restart with finished objects\n");
        let _ = writeln!(
            w,
            "The offsets of a finished backfill of the 100k objects, then one new object of {} records whose key sorts after all of them; `sluice backfill` is restarted. \
             (The 1M case's offsets are written by the harness as a backfill would leave them.) \
             *first new record* = spawn of the process to the first new record consumed from Kafka. GETs of finished objects: S3 from moto's request log; local folder from `openat` calls on object files under `strace` (one extra untimed run).\n",
            crate::NEW_RECORDS
        );
        let _ = writeln!(
            w,
            "| case | objects | first new record, s (per run) | whole run, s | GETs of finished objects | GETs in all | LIST requests | peak RSS MB | CPU s |"
        );
        let _ = writeln!(w, "|---|--:|---|--:|--:|--:|--:|--:|--:|");
        for r in &restarts {
            if let Some(s) = &r.skipped {
                let _ = writeln!(
                    w,
                    "| {} | {} |  |  |  |  |  |  |  |",
                    r.case.id,
                    cell_escape(s)
                );
                continue;
            }
            if let Some(s) = status_of(r, Contender::Sluice) {
                let _ = writeln!(
                    w,
                    "| {} | {} |  |  |  |  |  |  |  |",
                    r.case.id,
                    cell_escape(&s)
                );
                continue;
            }
            let sl = r.get(Contender::Sluice).expect("sluice");
            let firsts: Vec<String> = r
                .extra
                .first_record
                .iter()
                .map(|f| format!("{f:.2}"))
                .collect();
            let _ = writeln!(
                w,
                "| {} | {} | {} | {:.2} | {} | {} | {} | {} | {:.2} |",
                r.case.id,
                thousands(r.objects as f64),
                firsts.join(", "),
                sl.wall().unwrap_or(f64::NAN),
                r.extra
                    .finished_gets
                    .map(|g| g.to_string())
                    .unwrap_or("—".into()),
                r.extra
                    .total_gets
                    .map(|g| g.to_string())
                    .unwrap_or("—".into()),
                r.extra.lists.map(|g| g.to_string()).unwrap_or("—".into()),
                sl.rss().map(mb).unwrap_or_default(),
                sl.cpu().unwrap_or(f64::NAN),
            );
        }
        let _ = writeln!(w);
        per_finished_object(w, &restarts);
    }

    // ---- Idle
    let idles: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.case.kind == Kind::Idle)
        .collect();
    if !idles.is_empty() {
        let _ = writeln!(w, "## Idle\n");
        let _ = writeln!(
            w,
            "`sluice run` on an empty bucket, stopped with SIGTERM after {} s. *Steady* = CPU share from `/proc/<pid>/stat` between the end of the warm-up (start-up: connecting, loading offsets, first listing) and the end; *whole run* = rusage CPU seconds over the wall time.\n",
            meta.idle_secs
        );
        let _ = writeln!(
            w,
            "| case | seconds | CPU s | % of a core, steady | % of a core, whole run | LIST requests | peak RSS MB |"
        );
        let _ = writeln!(w, "|---|--:|--:|--:|--:|--:|--:|");
        for r in idles {
            if let Some(s) = r
                .skipped
                .clone()
                .or_else(|| status_of(r, Contender::Sluice))
            {
                let _ = writeln!(w, "| {} | {} |  |  |  |  |  |", r.case.id, cell_escape(&s));
                continue;
            }
            let run = &r.get(Contender::Sluice).expect("sluice").runs[0];
            let _ = writeln!(
                w,
                "| {} | {:.1} | {:.3} | {} (after {:.0} s) | {:.2} % | {} | {} |",
                r.case.id,
                run.wall,
                run.cpu,
                r.extra
                    .idle_steady
                    .map(|x| format!("{:.2} %", 100.0 * x))
                    .unwrap_or("—".into()),
                r.extra.idle_warmup,
                100.0 * run.cpu / run.wall,
                r.extra.lists.map(|g| g.to_string()).unwrap_or("—".into()),
                mb(run.rss)
            );
        }
        let _ = writeln!(w);
    }

    // ---- Method
    let _ = writeln!(w, "## How it is measured\n");
    let _ = write!(
        w,
        "\
- **Data** (generated once by `sluice-bench`, reused): `jsonl` — 1 KiB JSON objects of 11 fields (numbers, strings, a boolean, an array, a random alphanumeric payload); \
`csv` — the same fields as 1 KiB rows under a header row; `avro` — the same fields as an object container file (null codec); `parquet` — the same fields, snappy pages, row groups of 16384 rows; \
`bytes` — the jsonl objects read as 64 KiB chunks. Full size: 64 objects × 16384 records (1 GiB of jsonl) per format; one 2 GiB jsonl object; 100k objects of one 1 KiB record.
- **Sluice**: `sluice backfill worker.properties connector.properties` with its defaults (idempotent producer, `acks=all`, `linger.ms=5`, `max.poll.records=500`, `object.read.concurrency=4`), \
offsets in a file, `JsonConverter` with `schemas.enable=false` (`ByteArrayConverter` for bytes), record key = object key, the four `sluice.*` headers. Topic of {partitions} partitions; a fresh broker for every run (tansu keeps everything in memory).
- **Transforms case** (*jsonl + 3 SMTs*): the jsonl case with Kafka Connect's `InsertField$Value` (static field `source`), `ReplaceField$Value` (renames `user:customer,tier:level`) \
and `Cast$Value` (`index:int32,amount:string`) on every record; its target compares it with the same case without transforms, measured in the same run.
- **Raw produce limit**: `sluice-bench raw-produce`, a minimal rdkafka `BaseProducer` with Sluice's producer settings sending the same number of records with the same keys and headers, \
cycling through values sampled from Sluice's own output of that case: no reading, no parsing, no offsets.
- **Raw read limit**: `sluice-bench raw-read`, the backend Sluice builds from the same connector file (same `object_store` client, same listing), `tasks.max × 4` objects at once, bytes discarded.
- **Python baseline**: `scripts/bench/baseline.py`, what a user would write instead: plain file reads (or boto3 for S3), one object after the other; \
*parse* = `json.loads` + compact `json.dumps` per line (csv: `csv.reader` rows → JSON objects), *passthrough* = the line as it is; confluent-kafka with the same producer settings, same key and headers; \
delivery callbacks only for errors; flush at the end.
- **Each contender is a child process**: wall time from spawn to exit, CPU seconds (user + system) and peak RSS from `wait4`'s rusage. \
Records are counted by consuming the topic back after the first run of each contender (tansu's watermarks are wrong, so nothing relies on them); \
later runs use the count the process printed, checked against the expected count.
- **Mock cluster**: librdkafka's in-process mock broker runs inside `sluice-bench`, which also consumes; it keeps about 5 MiB per partition, so its count check consumes while the contender produces, in an extra untimed run. It measures the client side: no network stack of a real broker, no storage.
- The brokers and moto run on the same {cores} cores as the contender, and take their share of them.
"
        , partitions = crate::kafka::PARTITIONS, cores = meta.cores
    );
    let _ = writeln!(w);
    md_cases_not_run(w, results);
    md
}

fn md_cases_not_run(w: &mut String, results: &[CaseResult]) {
    let skipped: Vec<&CaseResult> = results.iter().filter(|r| r.skipped.is_some()).collect();
    if skipped.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Cases not measured in this run\n");
    let _ = writeln!(w, "They fill in by themselves when the feature lands (the harness asks `sluice validate` first).\n");
    for r in skipped {
        let _ = writeln!(
            w,
            "- {}: {}",
            r.case.id,
            cell_escape(r.skipped.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(w);
}

/// Memory per finished object: the slope of peak RSS between two local restart cases with
/// different numbers of finished objects (what a process holds per finished object, start-up
/// costs and the new object's read cancelling out).
fn per_finished_object(w: &mut String, restarts: &[&CaseResult]) {
    let local: Vec<(u64, u64)> = restarts
        .iter()
        .filter(|r| r.case.backend == crate::Backend::Local && r.skipped.is_none())
        .filter_map(|r| Some((r.objects, r.get(Contender::Sluice)?.rss()?)))
        .collect();
    let (Some(small), Some(big)) = (
        local.iter().min_by_key(|(n, _)| *n),
        local.iter().max_by_key(|(n, _)| *n),
    ) else {
        return;
    };
    if big.0 <= small.0 {
        return;
    }
    let slope = (big.1 as f64 - small.1 as f64) / (big.0 - small.0) as f64;
    let _ = writeln!(
        w,
        "Memory per finished object (local restarts, (peak RSS of {} − of {}) ÷ {} objects): **{:.0} bytes** (target ≤ 100).\n",
        thousands(big.0 as f64),
        thousands(small.0 as f64),
        thousands((big.0 - small.0) as f64),
        slope
    );
}

//! Runs a child process and measures it the way `/usr/bin/time -v` does: wall time from spawn to
//! exit, CPU seconds and peak RSS from `wait4`'s `rusage`, plus RSS and CPU curves sampled from
//! `/proc/<pid>/` (to show whether memory stays flat, and CPU once start-up is over).
//!
//! The child is started through a small trampoline (`sluice-bench __measure`) that `fork`s and
//! `exec`s it and reports its rusage: a process spawned straight from this one would inherit this
//! process's peak RSS in `ru_maxrss` (`posix_spawn` shares the parent's memory until `exec`, and
//! Linux keeps the larger high-water mark across `exec`).

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a finished child cost.
#[derive(Debug, Clone, Default)]
pub(crate) struct Usage {
    /// Spawn to exit.
    pub wall: Duration,
    /// User + system CPU time of the child.
    pub cpu: Duration,
    /// Peak resident set size, bytes (`ru_maxrss`).
    pub max_rss: u64,
    /// Exit code, or minus the signal number that ended it.
    pub status: i32,
    /// `(seconds since spawn, RSS bytes, CPU seconds so far)`, sampled every
    /// [`RunOpts::sample_every`].
    pub samples: Vec<(f64, u64, f64)>,
}

/// How to run a measured child.
#[derive(Debug, Clone)]
pub(crate) struct RunOpts {
    /// Sample RSS and CPU this often (None: no curves).
    pub sample_every: Option<Duration>,
    /// Send SIGTERM after this long (continuous runs).
    pub terminate_after: Option<Duration>,
    /// SIGKILL after this long.
    pub timeout: Duration,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts {
            sample_every: None,
            terminate_after: None,
            timeout: Duration::from_secs(3600),
        }
    }
}

/// A measured child: its usage and what it printed.
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    /// When the child was spawned.
    pub started: Instant,
    /// Resource usage.
    pub usage: Usage,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// The last lines it wrote to stderr.
    pub stderr_tail: String,
}

impl Measured {
    /// True when the child exited with code 0.
    pub(crate) fn ok(&self) -> bool {
        self.usage.status == 0
    }

    /// A one-line reason for a failure: the last error-looking stderr line, else the status.
    pub(crate) fn failure(&self) -> String {
        let line = self
            .stderr_tail
            .lines()
            .rev()
            .find(|l| l.contains("error") || l.contains("ERROR") || l.contains("Error"))
            .or_else(|| self.stderr_tail.lines().last())
            .unwrap_or("")
            .trim()
            .to_owned();
        format!("exit status {}: {}", self.usage.status, strip_ansi(&line))
    }

    /// CPU share of one core between `from` seconds after spawn and the last sample.
    pub(crate) fn cpu_share_after(&self, from: f64) -> Option<f64> {
        let s = &self.usage.samples;
        let a = s.iter().find(|x| x.0 >= from)?;
        let b = s.last()?;
        (b.0 > a.0 + 1.0).then(|| (b.2 - a.2) / (b.0 - a.0))
    }
}

/// Removes terminal colour codes.
pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn rss_of(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn cpu_of(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// `sluice-bench __measure <usage file> <program> [args]`: forks, execs the program, forwards
/// SIGTERM/SIGINT to it, and writes `<maxrss KiB> <user µs> <system µs>` of the child to the usage
/// file (and its pid to `<usage file>.pid`); exits with the child's status.
pub(crate) fn trampoline(usage: &Path, program: &OsStr, args: &[OsString]) -> i32 {
    let cstr = |s: &OsStr| CString::new(s.as_bytes()).expect("no NUL in arguments");
    let prog = cstr(program);
    let mut argv: Vec<CString> = vec![prog.clone()];
    argv.extend(args.iter().map(|a| cstr(a)));
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: this process has a single thread here (the trampoline runs before anything
    // else); the child only calls exec and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        eprintln!("error: fork: {}", std::io::Error::last_os_error());
        return 126;
    }
    if pid == 0 {
        // SAFETY: argv is NUL-terminated and outlives the call.
        unsafe {
            libc::execvp(prog.as_ptr(), ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    CHILD.store(pid, Ordering::Relaxed);
    // SAFETY: `forward` only calls kill.
    unsafe {
        libc::signal(libc::SIGTERM, forward as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, forward as *const () as libc::sighandler_t);
    }
    let _ = std::fs::write(pid_file(usage), pid.to_string());
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value to be overwritten by wait4.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our child; status and rusage point to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return 126;
        }
    }
    let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        -1
    };
    let _ = std::fs::write(
        usage,
        format!(
            "{} {} {} {code}",
            ru.ru_maxrss,
            us(ru.ru_utime),
            us(ru.ru_stime)
        ),
    );
    if code >= 0 {
        code
    } else {
        128 - code
    }
}

fn pid_file(usage: &Path) -> PathBuf {
    let mut p = usage.as_os_str().to_owned();
    p.push(".pid");
    PathBuf::from(p)
}

/// Spawns `cmd` through the trampoline (stdout and stderr go to files in `dir`), waits for it
/// and returns what it cost.
pub(crate) fn run(
    cmd: &mut Command,
    dir: &Path,
    name: &str,
    opts: &RunOpts,
) -> std::io::Result<Measured> {
    std::fs::create_dir_all(dir)?;
    let out_path = dir.join(format!("{name}.stdout"));
    let err_path = dir.join(format!("{name}.stderr"));
    let usage_path = dir.join(format!("{name}.usage"));
    let _ = std::fs::remove_file(&usage_path);
    let _ = std::fs::remove_file(pid_file(&usage_path));
    let mut wrapped = Command::new(std::env::current_exe()?);
    wrapped
        .arg("__measure")
        .arg(&usage_path)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        wrapped.current_dir(d);
    }
    wrapped
        .stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?);
    let started = Instant::now();
    let mut child = wrapped.spawn()?;
    let tpid = child.id() as i32;
    let done = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::new()));

    let sampler = opts.sample_every.map(|every| {
        let done = done.clone();
        let samples = samples.clone();
        let pid_path = pid_file(&usage_path);
        std::thread::spawn(move || {
            let mut pid = None;
            while !done.load(Ordering::Relaxed) {
                if pid.is_none() {
                    pid = std::fs::read_to_string(&pid_path)
                        .ok()
                        .and_then(|s| s.trim().parse::<i32>().ok());
                }
                if let Some(p) = pid {
                    if let (Some(rss), Some(cpu)) = (rss_of(p), cpu_of(p)) {
                        samples
                            .lock()
                            .unwrap()
                            .push((started.elapsed().as_secs_f64(), rss, cpu));
                    }
                }
                std::thread::sleep(every);
            }
        })
    });
    let signaller = {
        let done = done.clone();
        let term = opts.terminate_after;
        let timeout = opts.timeout;
        std::thread::spawn(move || {
            let mut termed = false;
            loop {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                let t = started.elapsed();
                if let Some(after) = term {
                    if !termed && t >= after {
                        // SAFETY: `tpid` is our child, not reaped yet (checked just above);
                        // the trampoline forwards the signal.
                        unsafe { libc::kill(tpid, libc::SIGTERM) };
                        termed = true;
                    }
                }
                if t >= timeout {
                    // SAFETY: as above.
                    unsafe { libc::kill(tpid, libc::SIGTERM) };
                    std::thread::sleep(Duration::from_secs(5));
                    if !done.load(Ordering::Relaxed) {
                        // SAFETY: as above.
                        unsafe { libc::kill(tpid, libc::SIGKILL) };
                    }
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let status = child.wait()?;
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = signaller.join();
    if let Some(s) = sampler {
        let _ = s.join();
    }
    let usage = std::fs::read_to_string(&usage_path).unwrap_or_default();
    let f: Vec<i64> = usage
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let (max_rss, cpu, code) = if f.len() == 4 {
        (
            f[0] as u64 * 1024,
            Duration::from_micros((f[1] + f[2]) as u64),
            f[3] as i32,
        )
    } else {
        (0, Duration::ZERO, status.code().unwrap_or(-1))
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    Ok(Measured {
        started,
        usage: Usage {
            wall,
            cpu,
            max_rss,
            status: code,
            samples,
        },
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr_tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

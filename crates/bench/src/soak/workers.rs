//! The CLI workers: random commands on random tenants until the deadline, each run's exit code,
//! time and memory tallied.

use super::{signal, CLI_LIMIT, CLI_PAUSE, HUNG};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The CLI and the environment every process of the soak gets.
pub(super) struct Env {
    pub(super) cli: PathBuf,
    pub(super) vars: Vec<(String, PathBuf)>,
}

/// What the CLI workers saw.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) runs: u64,
    /// Runs per (command, exit code); a signal is its negative number, [`HUNG`] a killed run.
    pub(super) codes: BTreeMap<(&'static str, i32), u64>,
    pub(super) peak_rss_kib: i64,
    pub(super) longest: Duration,
    /// Tenants any run reported as needing sign-in.
    pub(super) sign_in_required: BTreeSet<String>,
}

impl Tally {
    pub(super) fn merge(mut self, other: Tally) -> Tally {
        self.runs += other.runs;
        for (k, n) in other.codes {
            *self.codes.entry(k).or_default() += n;
        }
        self.peak_rss_kib = self.peak_rss_kib.max(other.peak_rss_kib);
        self.longest = self.longest.max(other.longest);
        self.sign_in_required.extend(other.sign_in_required);
        self
    }

    /// Runs per exit code, all commands together.
    pub(super) fn by_code(&self) -> BTreeMap<i32, u64> {
        let mut out = BTreeMap::new();
        for (&(_, code), &n) in &self.codes {
            *out.entry(code).or_default() += n;
        }
        out
    }
}

/// One CLI worker: random commands on random tenants until the deadline. Failed runs are logged
/// with their stderr to `cli.log`.
pub(super) fn worker(
    w: usize,
    env: &Env,
    names: &[String],
    deadline: Instant,
    t0: Instant,
    logs: &Path,
) -> Tally {
    let mut rng = Rng::seeded(w);
    let mut tally = Tally::default();
    let err_path = logs.join(format!("worker{w}.stderr"));
    let mut log = File::options()
        .create(true)
        .append(true)
        .open(logs.join("cli.log"))
        .expect("cli log");
    while Instant::now() < deadline {
        let tenant = names[rng.below(names.len())].as_str();
        let roll = rng.below(200);
        let (what, args): (&'static str, Vec<&str>) = if roll == 0 {
            ("refresh --all", vec!["refresh", "--all"])
        } else if roll < 80 {
            ("refresh T", vec!["refresh", tenant])
        } else {
            ("token T", vec!["token", tenant, "--min-valid", "40"])
        };
        let started = t0.elapsed();
        let run = run_cli(env, &args, &err_path);
        tally.runs += 1;
        *tally.codes.entry((what, run.code)).or_default() += 1;
        tally.peak_rss_kib = tally.peak_rss_kib.max(run.rss_kib);
        tally.longest = tally.longest.max(run.wall);
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        tally.sign_in_required.extend(signed_out_in(&stderr));
        if run.code != 0 {
            let _ = writeln!(
                log,
                "+{:.1}s worker {w}: {} -> exit {} after {:.1} s\n{}",
                started.as_secs_f64(),
                args.join(" "),
                run.code,
                run.wall.as_secs_f64(),
                stderr.trim_end()
            );
        }
        sleep(CLI_PAUSE);
    }
    tally
}

/// xorshift64*: enough randomness to pick tenants and commands, without a dependency.
struct Rng(u64);

impl Rng {
    fn seeded(worker: usize) -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng((nanos ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    }
}

/// Tenants named in `... <tenant>: sign-in required (...)` messages.
fn signed_out_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(": sign-in required ("))
        .filter_map(|(before, _)| before.split_whitespace().last())
        .map(String::from)
        .collect()
}

pub(super) struct Run {
    pub(super) code: i32,
    rss_kib: i64,
    wall: Duration,
}

/// Runs the CLI with stdout discarded and stderr to `err`; exit code and peak RSS from wait4.
pub(super) fn run_cli(env: &Env, args: &[&str], err: &Path) -> Run {
    let start = Instant::now();
    let child = Command::new(&env.cli)
        .args(args)
        .envs(env.vars.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(File::create(err).expect("stderr file"))
        .spawn()
        .expect("run the CLI");
    let pid = child.id() as libc::pid_t;
    std::mem::forget(child); // reaped by wait4 below
    let mut status = 0;
    // SAFETY: plain FFI calls with valid out-pointers on our own, not yet reaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut hung = false;
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if !hung && start.elapsed() > CLI_LIMIT {
            hung = true;
            signal(&[pid as u32], libc::SIGKILL);
        }
        sleep(Duration::from_millis(5));
    }
    let code = if hung {
        HUNG
    } else if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Run {
        code,
        rss_kib: usage.ru_maxrss,
        wall: start.elapsed(),
    }
}

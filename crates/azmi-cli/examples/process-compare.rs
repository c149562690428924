//! Whole processes side by side, in one run: `azmi token` (compiled
//! component already in its disk cache, as every run after the first),
//! curl, and `native-token` (the same request from a plain native
//! program), each asking the emulated IMDS for a token, from exec to exit.
//! Prints each one's median and spread, the ratios BENCHMARKS.md reports,
//! and the peak RSS of each (when GNU time is installed).
//!
//! ```sh
//! cargo run --release -p azmi-cli --example process-compare
//! cargo run --release -p azmi-cli --example process-compare -- --runs 200
//! cargo run --release -p azmi-cli --example process-compare -- --baseline OTHER/azmi
//! ```
//!
//! `--baseline` adds another build of `azmi` (an earlier commit's, say) to
//! the same run, with its own cache directory.
//!
//! It builds the release `azmi` and `native-token` first (through the
//! `cargo` that runs it). The commands run pinned to the first CPU and the
//! emulator to the last, interleaved (azmi, curl, native, azmi, ...), so
//! that drift in the machine's speed touches all three alike. Loopback
//! only: the emulator listens on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use azmi_emulator::{Emulator, EmulatorConfig};

const RESOURCE: &str = "https://vault.azure.net";

fn main() {
    let (runs, baseline) = options();
    let release = build();
    let azmi = release.join("azmi");
    let native = release.join("examples/native-token");
    let cpus = rustix::thread::sched_getaffinity(None).expect("the CPU affinity");
    let allowed: Vec<usize> = (0..rustix::thread::CpuSet::MAX_CPU)
        .filter(|&c| cpus.is_set(c))
        .collect();
    let (imds, _emulator_thread) = start_emulator(allowed.last().copied());
    if let Some(&first) = allowed.first() {
        // The commands inherit this thread's affinity.
        pin(first);
    }
    let cache = tempfile::tempdir().expect("a temporary cache directory");
    let baseline_cache = tempfile::tempdir().expect("a temporary cache directory");
    let url =
        format!("{imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={RESOURCE}");
    let curl = which("curl");
    let mut commands = vec![
        Candidate::new("azmi token", {
            let mut c = Command::new(&azmi);
            c.args(["token", "--resource", RESOURCE, "--imds-endpoint", &imds])
                .env_clear()
                .env("AZMI_CACHE_DIR", cache.path());
            c
        }),
        Candidate::new("native-token", {
            let mut c = Command::new(&native);
            c.args(["--resource", RESOURCE, "--imds-endpoint", &imds])
                .env_clear();
            c
        }),
    ];
    if let Some(baseline) = &baseline {
        commands.push(Candidate::new("azmi baseline", {
            let mut c = Command::new(baseline);
            c.args(["token", "--resource", RESOURCE, "--imds-endpoint", &imds])
                .env_clear()
                .env("AZMI_CACHE_DIR", baseline_cache.path());
            c
        }));
    }
    if let Some(curl) = &curl {
        commands.insert(
            1,
            Candidate::new("curl", {
                let mut c = Command::new(curl);
                c.args(["-sSf", "-H", "Metadata: true", &url]).env_clear();
                c
            }),
        );
    } else {
        println!("curl is not installed: compared with native-token only");
    }
    // The first azmi run compiles the component into the cache; one run of
    // each warms the page cache.
    for candidate in &mut commands {
        candidate.run_once();
    }
    for _ in 0..runs {
        for candidate in &mut commands {
            let took = candidate.run_once();
            candidate.times.push(took);
        }
    }
    let rss = peak_rss(&mut commands);
    report(&commands, rss.as_deref(), allowed.len());
}

/// `--runs N` (default 100) and `--baseline PATH`.
fn options() -> (usize, Option<PathBuf>) {
    let mut runs = 100;
    let mut baseline = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| {
            panic!("{flag} takes a value; usage: process-compare [--runs N] [--baseline AZMI]")
        });
        match flag.as_str() {
            "--runs" => runs = value.parse().expect("--runs takes a number"),
            "--baseline" => baseline = Some(PathBuf::from(value)),
            other => {
                panic!("unknown flag {other}; usage: process-compare [--runs N] [--baseline AZMI]")
            }
        }
    }
    (runs, baseline)
}

/// Builds the release `azmi` and `native-token`; returns the release
/// directory.
fn build() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "azmi-cli",
            "--bin",
            "azmi",
            "--example",
            "native-token",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building azmi and native-token failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("release")
}

/// The emulator on a thread of its own, pinned to `cpu`; its IMDS URL.
fn start_emulator(cpu: Option<usize>) -> (String, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            pin(cpu);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let emulator = Emulator::start(EmulatorConfig::demo())
                .await
                .expect("the emulator starts");
            tx.send(emulator.imds_endpoint()).expect("main waits");
            std::future::pending::<()>().await;
        });
    });
    let imds = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the emulator starts within 30 s");
    (imds, thread)
}

fn pin(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).expect("pinning to a CPU");
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

struct Candidate {
    name: &'static str,
    command: Command,
    times: Vec<Duration>,
}

impl Candidate {
    fn new(name: &'static str, mut command: Command) -> Candidate {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Candidate {
            name,
            command,
            times: Vec::new(),
        }
    }

    /// One run, exec to exit, its output read as a caller reads it; the
    /// run must print a token.
    fn run_once(&mut self) -> Duration {
        let started = Instant::now();
        let output = self.command.output().expect("the command runs");
        let took = started.elapsed();
        assert!(
            output.status.success() && output.stdout.starts_with(b"{\"access_token\":\""),
            "{} failed: {}",
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
        took
    }
}

/// Each command's peak resident set, in KiB, over a few runs under GNU
/// time; `None` without it.
fn peak_rss(commands: &mut [Candidate]) -> Option<Vec<u64>> {
    let time = Path::new("/usr/bin/time");
    if !time.is_file() {
        println!("GNU time (/usr/bin/time) is not installed: peak RSS not measured");
        return None;
    }
    let mut peaks = Vec::new();
    for candidate in commands.iter() {
        let mut peak = 0;
        for _ in 0..5 {
            let program = candidate.command.get_program();
            let mut c = Command::new(time);
            c.arg("-f")
                .arg("%M")
                .arg(program)
                .args(candidate.command.get_args());
            c.env_clear();
            for (name, value) in candidate.command.get_envs() {
                if let Some(value) = value {
                    c.env(name, value);
                }
            }
            let output = c.stdout(Stdio::null()).output().expect("GNU time runs");
            let kib: u64 = String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .expect("GNU time prints the peak RSS");
            peak = peak.max(kib);
        }
        peaks.push(peak);
    }
    Some(peaks)
}

fn report(commands: &[Candidate], rss: Option<&[u64]>, cpus: usize) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let stats = |times: &[Duration]| {
        let mut sorted = times.to_vec();
        sorted.sort();
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.1), at(0.9))
    };
    println!(
        "\n{} runs each, interleaved; commands pinned to one CPU{}",
        commands[0].times.len(),
        if cpus > 1 {
            ", the emulator to another"
        } else {
            " (the only one)"
        }
    );
    println!(
        "{:<14} {:>10} {:>18} {:>14}",
        "command", "median", "p10-p90", "peak RSS"
    );
    for (i, c) in commands.iter().enumerate() {
        let (median, p10, p90) = stats(&c.times);
        let peak = rss.map_or("-".to_owned(), |r| {
            format!("{:.1} MiB", r[i] as f64 / 1024.0)
        });
        println!(
            "{:<14} {:>7.2} ms {:>8.2}-{:.2} ms {:>14}",
            c.name,
            ms(median),
            ms(p10),
            ms(p90),
            peak
        );
    }
    let median_of = |name: &str| {
        commands
            .iter()
            .find(|c| c.name == name)
            .map(|c| ms(stats(&c.times).0))
    };
    let azmi = median_of("azmi token").expect("azmi ran");
    if let Some(curl) = median_of("curl") {
        println!(
            "azmi token / curl         = {:.2}x (target <= 0.5x)",
            azmi / curl
        );
    }
    if let Some(native) = median_of("native-token") {
        println!(
            "azmi token / native-token = {:.2}x (target <= 3x)",
            azmi / native
        );
    }
    if let Some(baseline) = median_of("azmi baseline") {
        println!("azmi token / azmi baseline = {:.2}x", azmi / baseline);
    }
}

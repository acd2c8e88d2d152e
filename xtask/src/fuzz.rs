//! `cargo xtask fuzz`: a long differential run. Random valid modules from `wasm-smith` go
//! through every kwasm tier configuration and the wasmi oracle (the harness is
//! `cli/tests/differential.rs`, the same one `cargo test` runs on a fixed batch); the first
//! mismatch stops the run, prints the differing step and leaves the module as
//! `$TMPDIR/kwasm-diff-SEED.wasm` (reproduce with `--start SEED --seeds 1`).

use std::process::Command;

const USAGE: &str = "\
usage: cargo xtask fuzz [--seeds N] [--start S] [--seconds T] [--release]
  --seeds N     seeds to try (default 100000)
  --start S     first seed (default: the current time, so runs differ)
  --seconds T   stop after T seconds (default 600)
  --release     build the harness optimized (slower to build, faster to run)";

/// Runs the differential harness over a seed range and time budget.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut seeds = 100_000u64;
    let mut start: Option<u64> = None;
    let mut seconds = 600u64;
    let mut release = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{name} needs a number\n{USAGE}"))
        };
        match a.as_str() {
            "--seeds" => seeds = num("--seeds")?,
            "--start" => start = Some(num("--start")?),
            "--seconds" => seconds = num("--seconds")?,
            "--release" => release = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let start = start.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() * 1000)
    });
    eprintln!(
        "fuzz: seeds {start}..{} for at most {seconds} s (reproduce a failure with --start SEED --seeds 1)",
        start + seeds
    );
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["test", "-p", "kwasm-cli", "--test", "differential"]);
    if release {
        cmd.arg("--release");
    }
    cmd.args(["--", "--nocapture"])
        .env("KWASM_DIFF_START", start.to_string())
        .env("KWASM_DIFF_SEEDS", seeds.to_string())
        .env("KWASM_DIFF_SECONDS", seconds.to_string());
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the differential run failed ({status}); see the mismatch above"))
    }
}

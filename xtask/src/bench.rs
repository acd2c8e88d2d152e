//! `cargo xtask bench`: run the compute workloads natively and under kwasm, side by side.
//!
//! The workloads are the C programs in `experiments/compute/` (listed with their
//! input sizes in `experiments/compute/workloads.tsv`), built by
//! `experiments/build.sh` for wasm32-wasi (clang-19, wasi-libc) and natively (gcc,
//! glibc). Every kwasm run's stdout must be byte-identical to the native run's; a
//! mismatch is shown in the table and makes the command fail.
//!
//! The native column is the reference for both output and time. Note what the
//! ratios include: the native build uses gcc and glibc, the wasm build clang and
//! wasi-libc, so libc algorithm differences (qsort, malloc, printf) are part of
//! the ratio; `--peers` adds wasmtime as a column to separate runtime cost from
//! toolchain cost. Wall time is per process, so it includes module loading and
//! translation; CPU time (user + system, from `wait4`) is recorded as well because
//! it is steadier when other jobs share the machine.
//!
//! Translation speed comes from `kwasm compile --tier T` (validate and translate
//! every function, run nothing) when the binary has it, and is reported as not
//! measured otherwise. The kwasm binary is copied before timing so that a rebuild
//! of the shared target directory during the run cannot mix binaries.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: cargo xtask bench [OPTIONS]
  --tiers T1,T2     kwasm tiers to run (default interp; known: interp,baseline,optimizing,
                    auto = tier-up from the interpreter; the others pin one tier);
                    a tier may carry knobs as T+NAME=VALUE+..., and T+guard means
                    T+bounds_mode=guard (e.g. --tiers optimizing,optimizing+guard,auto)
  --runs N          timed runs per program and column, median reported (default 3)
  --quick           small inputs and 1 run (CI smoke); results go to experiments/build/quick/
  --check           verification only: every requested tier must run and match native
                    output (an n/a tier fails too); no result files are written
  --peers           add wasmtime as a peer column when available (never required)
  --only P1,P2      run only these programs
  --kwasm PATH      use this kwasm binary instead of building target/release/kwasm
  --out DIR         where to write bench-compute.{csv,md}, bench-translate.csv, bench-env.txt
  --timeout SECS    per-run limit (default 600); a run over it counts as failed";

/// The tiers `kwasm run --tier` knows, in table order, then `auto` (tier-up from the interpreter).
const KNOWN_TIERS: &[&str] = &["interp", "baseline", "optimizing", "auto"];

/// Parsed command line.
#[derive(Debug, Clone)]
struct Options {
    tiers: Vec<String>,
    runs: usize,
    quick: bool,
    check: bool,
    peers: bool,
    only: Option<Vec<String>>,
    kwasm: Option<PathBuf>,
    out: Option<PathBuf>,
    timeout: Duration,
}

/// One line of `workloads.tsv`.
#[derive(Debug, Clone)]
struct Workload {
    name: String,
    full_arg: String,
    quick_arg: String,
    what: String,
    /// Optional features the program needs (manifest column 5, comma-separated): `simd` means
    /// it is built with `-msimd128` and runs only on tiers in [`SIMD_TIERS`].
    needs: Vec<String>,
}

/// The tiers that implement fixed-width SIMD (v128); the others show `n/a` for workloads that
/// need it, without failing the run. `auto` skips the tier that refuses a SIMD function (baseline).
const SIMD_TIERS: &[&str] = &["interp", "optimizing", "auto"];

/// How one program is run for a column: a command prefix to which the program's
/// path and argument are appended.
#[derive(Debug, Clone)]
struct Column {
    /// Table heading, e.g. `native`, `interp`, `wasmtime`.
    name: String,
    kind: ColumnKind,
    program: PathBuf,
    prefix: Vec<String>,
}

/// What a column measures; decides which binary it runs and how failures read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Native,
    Tier,
    Peer,
}

/// The outcome of one program in one column.
#[derive(Debug, Clone)]
enum Cell {
    /// Median wall time and median CPU time (user + system) in milliseconds;
    /// output matched native.
    Time(f64, f64),
    /// The tier says it is not implemented (reason from its stderr).
    NotAvailable(String),
    /// Not run: the workload needs a feature the tier does not implement (manifest `needs`);
    /// shown like `n/a` but never a failure, not even with `--check`.
    Skipped(String),
    /// Non-zero exit, timeout, or output differing from native.
    Failed(String),
}

/// One finished program row: its cells in column order (native first).
#[derive(Debug, Clone)]
struct Row {
    workload: Workload,
    arg: String,
    code_bytes: Option<u64>,
    cells: Vec<Cell>,
}

/// What a single process run produced.
struct RunOutput {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    success: bool,
    exit: String,
    wall: Duration,
    /// User plus system CPU time of the child, from `wait4`'s rusage.
    cpu: Duration,
    timed_out: bool,
}

/// Entry point of `cargo xtask bench`.
pub fn main(args: &[String]) -> Result<(), String> {
    let opts = parse_args(args)?;
    let root = repo_root();
    let workloads = select(read_manifest(&root)?, &opts)?;

    build_workloads(&root)?;
    let built = match &opts.kwasm {
        Some(path) => path.clone(),
        None => build_kwasm(&root)?,
    };
    let snapshot = Snapshot::take(&root, &built)?;
    let kwasm = snapshot.0.clone();
    let columns = columns(&root, &kwasm, &opts);

    // Other processes on a 2-core machine distort wall times; record the load so a
    // reader can tell a quiet run from a busy one.
    let load_before = load_average();
    if load_before.split_whitespace().next().and_then(|l| l.parse::<f64>().ok()).unwrap_or(0.0) > 0.5 {
        eprintln!("bench: warning: load average is {load_before} before timing; results may be noisy");
    }
    // Taken now, not after the runs: the commit and date must describe the binary
    // just built, and others may commit while the bench runs.
    let env_before = env_report(&root, &built, &columns, &opts);
    let mut rows = Vec::new();
    for w in &workloads {
        rows.push(run_row(&root, w, &columns, &opts));
    }
    let translation = measure_translation(&kwasm, &rows, &opts);

    let table = render_markdown(&rows, &columns, &opts, &render_translation(&translation, &rows));
    println!("\n{table}");

    if !opts.check {
        let out = opts.out.clone().unwrap_or_else(|| default_out(&root, &opts));
        let env =
            format!("{env_before}load average (1/5/15 min): {load_before} before timing, {} after\n", load_average());
        let mut files = vec![
            ("bench-compute.csv", render_csv(&rows, &columns)),
            ("bench-compute.md", table.clone()),
            ("bench-env.txt", env),
        ];
        if let Some(t) = &translation {
            files.push(("bench-translate.csv", render_translation_csv(t)));
        }
        write_results(&out, &files)?;
        println!("wrote {}", out.display());
    }
    verdict(&rows, &columns, &opts)
}

/// Parses `cargo xtask bench` options.
fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        tiers: vec!["interp".to_string()],
        runs: 3,
        quick: false,
        check: false,
        peers: false,
        only: None,
        kwasm: None,
        out: None,
        timeout: Duration::from_secs(600),
    };
    let mut runs_given = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--tiers" => opts.tiers = split_list(&value("--tiers")?),
            "--runs" => {
                opts.runs = parse_positive(&value("--runs")?, "--runs")?;
                runs_given = true;
            }
            "--quick" => opts.quick = true,
            "--check" => opts.check = true,
            "--peers" => opts.peers = true,
            "--only" => opts.only = Some(split_list(&value("--only")?)),
            "--kwasm" => opts.kwasm = Some(PathBuf::from(value("--kwasm")?)),
            "--out" => opts.out = Some(PathBuf::from(value("--out")?)),
            "--timeout" => {
                let secs = parse_positive(&value("--timeout")?, "--timeout")?;
                opts.timeout = Duration::from_secs(secs as u64);
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if let Some(bad) = opts.tiers.iter().find(|t| !KNOWN_TIERS.contains(&tier_spec(t).0)) {
        return Err(format!("unknown tier {bad} (known: {})", KNOWN_TIERS.join(",")));
    }
    // Quick and check runs exist to verify output, so one run is enough unless asked.
    if (opts.quick || opts.check) && !runs_given {
        opts.runs = 1;
    }
    Ok(opts)
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()
}

fn parse_positive(s: &str, name: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name} needs a positive integer, got {s:?}")),
    }
}

/// The workspace root: xtask lives one level below it.
fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Reads `experiments/compute/workloads.tsv` (tab-separated, `#` comments).
fn read_manifest(root: &Path) -> Result<Vec<Workload>, String> {
    let path = root.join("experiments/compute/workloads.tsv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 4 {
            return Err(format!("{}:{}: expected 4 tab-separated fields", path.display(), i + 1));
        }
        out.push(Workload {
            name: fields[0].to_string(),
            full_arg: fields[1].to_string(),
            quick_arg: fields[2].to_string(),
            what: fields[3].to_string(),
            needs: fields.get(4).map(|f| split_list(f)).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Applies `--only`, rejecting names that are not in the manifest.
fn select(all: Vec<Workload>, opts: &Options) -> Result<Vec<Workload>, String> {
    let Some(only) = &opts.only else {
        return Ok(all);
    };
    if let Some(bad) = only.iter().find(|n| !all.iter().any(|w| &w.name == *n)) {
        return Err(format!("--only: no workload named {bad}"));
    }
    Ok(all.into_iter().filter(|w| only.contains(&w.name)).collect())
}

/// Runs `experiments/build.sh`; it explains itself when a compiler is missing.
fn build_workloads(root: &Path) -> Result<(), String> {
    eprintln!("bench: building workloads (experiments/build.sh)");
    let status = Command::new("bash")
        .arg(root.join("experiments/build.sh"))
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run experiments/build.sh: {e}"))?;
    if !status.success() {
        return Err("experiments/build.sh failed (see its message above)".into());
    }
    Ok(())
}

/// Builds `kwasm` in release mode and returns the binary's path.
fn build_kwasm(root: &Path) -> Result<PathBuf, String> {
    eprintln!("bench: building kwasm (cargo build --release -p kwasm-cli)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "kwasm-cli"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !status.success() {
        return Err("cargo build --release -p kwasm-cli failed".into());
    }
    let bin = target_dir(root).join("release/kwasm");
    if !bin.is_file() {
        return Err(format!("built kwasm but {} does not exist", bin.display()));
    }
    Ok(bin)
}

/// A private copy of the kwasm binary for the duration of the bench: the shared
/// target directory may be rebuilt by someone else mid-run, and every cell must
/// come from the same binary. Removed on drop.
struct Snapshot(PathBuf);

impl Snapshot {
    fn take(root: &Path, kwasm: &Path) -> Result<Snapshot, String> {
        let dir = root.join("experiments/build/bench-bin");
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let copy = dir.join(format!("kwasm.{}", std::process::id()));
        std::fs::copy(kwasm, &copy).map_err(|e| format!("cannot copy {}: {e}", kwasm.display()))?;
        Ok(Snapshot(copy))
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The cargo target directory, honouring `CARGO_TARGET_DIR` (relative paths are
/// taken from the workspace root, as cargo does).
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// A `--tiers` entry split into the tier and its `--knob` assignments (`T+NAME=VALUE+...`;
/// `guard` is short for `bounds_mode=guard`).
fn tier_spec(entry: &str) -> (&str, Vec<String>) {
    let mut parts = entry.split('+');
    let tier = parts.next().unwrap_or_default();
    let knobs = parts.map(|k| if k == "guard" { "bounds_mode=guard".to_string() } else { k.to_string() }).collect();
    (tier, knobs)
}

/// Native, then one column per requested tier, then peers if asked and found.
fn columns(root: &Path, kwasm: &Path, opts: &Options) -> Vec<Column> {
    let mut cols =
        vec![Column { name: "native".into(), kind: ColumnKind::Native, program: PathBuf::new(), prefix: Vec::new() }];
    for entry in &opts.tiers {
        let (tier, knobs) = tier_spec(entry);
        let mut prefix = vec!["run".to_string(), "--tier".into(), tier.to_string()];
        for k in knobs {
            prefix.extend(["--knob".to_string(), k]);
        }
        cols.push(Column { name: entry.clone(), kind: ColumnKind::Tier, program: kwasm.to_path_buf(), prefix });
    }
    if opts.peers {
        match find_wasmtime(root) {
            Some(col) => cols.push(col),
            None => {
                eprintln!("bench: --peers: no wasmtime binary or python wasmtime module; skipping")
            }
        }
    }
    cols
}

/// A wasmtime peer: the CLI if on PATH, else the PyPI package via a small runner.
fn find_wasmtime(root: &Path) -> Option<Column> {
    if run_quiet("wasmtime", &["--version"]).is_some() {
        return Some(Column {
            name: "wasmtime".into(),
            kind: ColumnKind::Peer,
            program: PathBuf::from("wasmtime"),
            prefix: vec!["run".into()],
        });
    }
    run_quiet("python3", &["-c", "import wasmtime"])?;
    let runner = root.join("experiments/wasmtime_run.py");
    Some(Column {
        name: "wasmtime-py".into(),
        kind: ColumnKind::Peer,
        program: PathBuf::from("python3"),
        prefix: vec![runner.display().to_string()],
    })
}

/// Runs a command and returns its trimmed stdout if it exited successfully.
fn run_quiet(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs one workload in every column and verifies outputs against native.
fn run_row(root: &Path, w: &Workload, columns: &[Column], opts: &Options) -> Row {
    let arg = if opts.quick { &w.quick_arg } else { &w.full_arg };
    let native_bin = root.join("experiments/build/native").join(&w.name);
    let wasm = root.join("experiments/build/wasm").join(format!("{}.wasm", w.name));
    let code_bytes = std::fs::read(&wasm).ok().and_then(|b| code_section_size(&b));

    let mut cells = Vec::new();
    let mut reference: Option<Vec<u8>> = None;
    for col in columns {
        let (program, mut args) = match col.kind {
            ColumnKind::Native => (native_bin.clone(), Vec::new()),
            _ => (col.program.clone(), col.prefix.clone()),
        };
        if col.kind != ColumnKind::Native {
            args.push(wasm.display().to_string());
        }
        args.push(arg.clone());
        eprint!("bench: {:<8} {:<12}", w.name, col.name);
        let tier = col.prefix.get(2).map(String::as_str).unwrap_or_default();
        let cell = if col.kind == ColumnKind::Tier && w.needs.iter().any(|n| n == "simd") && !SIMD_TIERS.contains(&tier)
        {
            Cell::Skipped(format!("the {tier} tier has no SIMD"))
        } else {
            measure(&program, &args, opts, &mut reference, col.kind)
        };
        eprintln!(" {}", cell_text(&cell));
        cells.push(cell);
    }
    Row { workload: w.clone(), arg: arg.clone(), code_bytes, cells }
}

/// Runs a command `opts.runs` times; the first native output becomes the reference
/// that every other run (of any column) must reproduce byte for byte.
fn measure(program: &Path, args: &[String], opts: &Options, reference: &mut Option<Vec<u8>>, kind: ColumnKind) -> Cell {
    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    for _ in 0..opts.runs {
        let out = match run_timed(program, args, opts.timeout) {
            Ok(out) => out,
            Err(e) => return Cell::Failed(e),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.success {
            if kind == ColumnKind::Tier {
                if let Some(reason) = not_implemented_reason(&stderr) {
                    return Cell::NotAvailable(reason);
                }
            }
            if out.timed_out {
                return Cell::Failed(format!("timed out after {}s", opts.timeout.as_secs()));
            }
            return Cell::Failed(format!("{}: {}", out.exit, first_line(&stderr)));
        }
        match reference {
            None if kind == ColumnKind::Native => *reference = Some(out.stdout.clone()),
            None => return Cell::Failed("no native output to compare with".into()),
            Some(expected) if *expected != out.stdout => {
                return Cell::Failed(format!(
                    "output differs from native: {}",
                    first_difference(expected, &out.stdout)
                ));
            }
            Some(_) => {}
        }
        times.push(out.wall.as_secs_f64() * 1000.0);
        cpu_times.push(out.cpu.as_secs_f64() * 1000.0);
    }
    Cell::Time(median(&mut times), median(&mut cpu_times))
}

/// The line of a tier's stderr that says it is not implemented, if any.
fn not_implemented_reason(stderr: &str) -> Option<String> {
    stderr.lines().find(|l| l.to_ascii_lowercase().contains("not implemented")).map(|l| l.trim().to_string())
}

fn first_line(s: &str) -> String {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("(no stderr)").trim().to_string()
}

/// Describes where two outputs first diverge, by line, for the error message.
fn first_difference(expected: &[u8], got: &[u8]) -> String {
    let e = String::from_utf8_lossy(expected);
    let g = String::from_utf8_lossy(got);
    let mut el = e.lines();
    let mut gl = g.lines();
    for line in 1.. {
        match (el.next(), gl.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => return format!("line {line}: expected {a:?}, got {b:?}"),
            (Some(a), None) => return format!("line {line}: expected {a:?}, got end of output"),
            (None, Some(b)) => return format!("line {line}: unexpected extra {b:?}"),
            (None, None) => break,
        }
    }
    "outputs differ only in trailing bytes".into()
}

/// Spawns a process with stdout/stderr captured, enforcing `timeout`, and times it.
fn run_timed(program: &Path, args: &[String], timeout: Duration) -> Result<RunOutput, String> {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (status, cpu, timed_out) = wait_with_rusage(&mut child, start, timeout)?;
    let wall = start.elapsed();
    Ok(RunOutput {
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        success: status.success() && !timed_out,
        exit: status.to_string(),
        wall,
        cpu,
        timed_out,
    })
}

/// Waits for `child` (killing it after `timeout`) and returns its exit status, its CPU
/// time and whether it timed out. Uses `wait4` rather than `Child::wait` because only
/// `wait4` reports the child's resource usage; CPU time is far less disturbed than wall
/// time when other processes share the machine.
fn wait_with_rusage(
    child: &mut std::process::Child,
    start: Instant,
    timeout: Duration,
) -> Result<(std::process::ExitStatus, Duration, bool), String> {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut timed_out = false;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data, so all-zero bytes are a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if timed_out { 0 } else { libc::WNOHANG };
        // SAFETY: pid is our own unreaped child; both out-pointers are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if r == pid {
            let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
            return Ok((std::process::ExitStatus::from_raw(status), cpu, timed_out));
        }
        if r < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("wait4: {err}"));
        }
        if start.elapsed() > timeout {
            // Not reaped yet, so the pid still names our child and kill is safe.
            let _ = child.kill();
            timed_out = true;
            continue;
        }
        // 1 ms polling bounds the wall-time error well below the runs we measure.
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Size in bytes of the code section (id 10) of a wasm binary, if it parses.
fn code_section_size(wasm: &[u8]) -> Option<u64> {
    if wasm.len() < 8 || &wasm[0..4] != b"\0asm" {
        return None;
    }
    let mut pos = 8;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let size = read_leb_u32(wasm, &mut pos)? as usize;
        if id == 10 {
            return Some(size as u64);
        }
        pos = pos.checked_add(size)?;
    }
    None
}

fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        result |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(result);
        }
    }
    None
}

/// What `kwasm compile` reported for one module and tier (best of its repeats).
#[derive(Debug, Clone, PartialEq)]
struct CompileStats {
    code_bytes: u64,
    functions: u64,
    validate_ms: f64,
    translate_ms: f64,
}

/// One tier's translation measurements: per program, stats or the reason there are none.
struct TierTranslation {
    tier: String,
    results: Vec<(String, Result<CompileStats, String>)>,
}

/// Parses `kwasm compile`'s one-line `key value key value ...` report.
fn parse_compile_output(text: &str) -> Option<CompileStats> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let get = |key: &str| words.windows(2).find(|w| w[0] == key).map(|w| w[1]);
    Some(CompileStats {
        code_bytes: get("code_bytes")?.parse().ok()?,
        functions: get("functions")?.parse().ok()?,
        validate_ms: get("validate_ms")?.parse().ok()?,
        translate_ms: get("translate_ms")?.parse().ok()?,
    })
}

/// Measures translation with `kwasm compile --tier T --repeat N` (validate and translate
/// every function, run nothing) when this kwasm has that command; `None` otherwise, so
/// the report says translation was not measured rather than inventing a number.
fn measure_translation(kwasm: &Path, rows: &[Row], opts: &Options) -> Option<Vec<TierTranslation>> {
    let help = Command::new(kwasm).arg("--help").output().ok()?;
    let help = String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
    if !help.contains("kwasm compile") {
        return None;
    }
    let repeat = if opts.quick { 1 } else { 5 }.to_string();
    let mut out = Vec::new();
    // Knob variants of a tier translate the same way: measure each tier once.
    let mut tiers: Vec<&str> = Vec::new();
    for entry in &opts.tiers {
        let tier = tier_spec(entry).0;
        // `auto` compiles with the other tiers, lazily: nothing of its own to measure.
        if tier != "auto" && !tiers.contains(&tier) {
            tiers.push(tier);
        }
    }
    for tier in tiers {
        let mut results = Vec::new();
        for row in rows {
            let wasm = repo_root().join("experiments/build/wasm").join(format!("{}.wasm", row.workload.name));
            let args = ["compile", "--tier", tier, "--repeat", &repeat, &wasm.display().to_string()].map(String::from);
            let result = match run_timed(kwasm, &args, opts.timeout) {
                Ok(o) if o.success => parse_compile_output(&String::from_utf8_lossy(&o.stdout))
                    .ok_or_else(|| format!("unexpected output {:?}", String::from_utf8_lossy(&o.stdout).trim())),
                Ok(o) => Err(first_line(&String::from_utf8_lossy(&o.stderr))),
                Err(e) => Err(e),
            };
            let shown = match &result {
                Ok(c) => format!("{:.3} ms, {} MB/s", c.translate_ms, mb_per_s(c.code_bytes, c.translate_ms)),
                Err(why) => format!("n/a ({why})"),
            };
            eprintln!("bench: translate {tier:<10} {:<8} {shown}", row.workload.name);
            results.push((row.workload.name.clone(), result));
        }
        out.push(TierTranslation { tier: tier.to_string(), results });
    }
    Some(out)
}

fn mb_per_s(bytes: u64, ms: f64) -> String {
    if ms > 0.0 {
        format!("{:.2}", bytes as f64 / (ms / 1e3) / 1e6)
    } else {
        "∞".into()
    }
}

/// The translation section of the Markdown report.
fn render_translation(translation: &Option<Vec<TierTranslation>>, rows: &[Row]) -> String {
    let mut s = String::new();
    let Some(tiers) = translation else {
        let total: u64 = rows.iter().filter_map(|r| r.code_bytes).sum();
        let _ = writeln!(
            s,
            "Translation MB/s: not measured. This `kwasm` has no load/translate-only mode \
             (no `kwasm compile` in `kwasm --help`), so translation time cannot be separated \
             from run time. Code section sizes are in the table above ({total} bytes in all)."
        );
        return s;
    };
    let _ = writeln!(
        s,
        "`kwasm compile --tier T` validates the module and translates every function without \
         running it; best of its repeats, wall time inside the process. MB/s is code-section \
         bytes per second.\n"
    );
    let _ = writeln!(s, "| tier | program | code bytes | functions | validate ms | translate ms | translate MB/s |");
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|");
    for t in tiers {
        // A tier that failed everywhere for one reason (not implemented) gets one line.
        let first_err = t.results.first().and_then(|(_, r)| r.as_ref().err());
        if let Some(why) = first_err.filter(|w| t.results.iter().all(|(_, r)| r.as_ref().err() == Some(*w))) {
            let _ = writeln!(s, "| {} | all | | | | n/a | {why} |", t.tier);
            continue;
        }
        let (mut bytes, mut ms) = (0u64, 0.0f64);
        for (name, result) in &t.results {
            match result {
                Ok(c) => {
                    bytes += c.code_bytes;
                    ms += c.translate_ms;
                    let _ = writeln!(
                        s,
                        "| {} | {name} | {} | {} | {:.3} | {:.3} | {} |",
                        t.tier,
                        c.code_bytes,
                        c.functions,
                        c.validate_ms,
                        c.translate_ms,
                        mb_per_s(c.code_bytes, c.translate_ms)
                    );
                }
                Err(why) => {
                    let _ = writeln!(s, "| {} | {name} | | | | n/a | {why} |", t.tier);
                }
            }
        }
        if bytes > 0 {
            let _ = writeln!(s, "| {} | **all** | {bytes} | | | {ms:.3} | **{}** |", t.tier, mb_per_s(bytes, ms));
        }
    }
    s
}

/// The translation measurements as CSV, one row per tier and program.
fn render_translation_csv(tiers: &[TierTranslation]) -> String {
    let mut s = String::from("tier,program,code_bytes,functions,validate_ms,translate_ms,translate_mb_s,status\n");
    for t in tiers {
        for (name, result) in &t.results {
            let _ = match result {
                Ok(c) => writeln!(
                    s,
                    "{},{name},{},{},{:.3},{:.3},{},ok",
                    t.tier,
                    c.code_bytes,
                    c.functions,
                    c.validate_ms,
                    c.translate_ms,
                    mb_per_s(c.code_bytes, c.translate_ms)
                ),
                Err(why) => writeln!(s, "{},{name},,,,,,{}", t.tier, csv_quote(&format!("n/a: {why}"))),
            };
        }
    }
    s
}

fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Time(ms, cpu) => format!("{ms:.1} ms (cpu {cpu:.1} ms)"),
        Cell::NotAvailable(why) | Cell::Skipped(why) => format!("n/a ({why})"),
        Cell::Failed(why) => format!("ERROR ({why})"),
    }
}

/// Time of column `i` relative to native, when both ran.
fn ratio(row: &Row, i: usize, metric: Metric) -> Option<f64> {
    let pick = |wall: f64, cpu: f64| match metric {
        Metric::Wall => wall,
        Metric::Cpu => cpu,
    };
    match (&row.cells[0], &row.cells[i]) {
        (Cell::Time(nw, nc), Cell::Time(w, c)) if pick(*nw, *nc) > 0.0 => Some(pick(*w, *c) / pick(*nw, *nc)),
        _ => None,
    }
}

/// Which time a ratio compares: wall time (the headline) or CPU time (steadier under load).
#[derive(Debug, Clone, Copy)]
enum Metric {
    Wall,
    Cpu,
}

/// Geometric mean of column `i`'s ratios over the rows where it has one.
fn geomean(rows: &[Row], i: usize, metric: Metric) -> Option<f64> {
    let ratios: Vec<f64> = rows.iter().filter_map(|r| ratio(r, i, metric)).collect();
    if ratios.is_empty() {
        return None;
    }
    Some((ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp())
}

/// The Markdown report: the table, the geometric means, notes and errors.
fn render_markdown(rows: &[Row], columns: &[Column], opts: &Options, translation: &str) -> String {
    let mut s = String::new();
    let mode = if opts.quick { "quick (small inputs)" } else { "full inputs" };
    let _ = writeln!(s, "# kwasm compute benchmark\n");
    let _ = writeln!(
        s,
        "{mode}; median of {} run(s) of wall time per cell; ratio = time / native time. \
         The CSV also has median CPU (user + system) times, steadier when the machine is busy.\n",
        opts.runs
    );

    let mut head = String::from("| program | arg | code bytes | native ms |");
    let mut rule = String::from("|---|---:|---:|---:|");
    for col in &columns[1..] {
        let _ = write!(head, " {0} ms | {0} ×native |", col.name);
        rule.push_str("---:|---:|");
    }
    let _ = writeln!(s, "{head}\n{rule}");
    for row in rows {
        let code = row.code_bytes.map_or("?".into(), |b| b.to_string());
        let _ = write!(s, "| {} | {} | {code} | {} |", row.workload.name, row.arg, short_cell(&row.cells[0]));
        for i in 1..columns.len() {
            let r = ratio(row, i, Metric::Wall).map_or("".into(), |r| format!("{r:.2}"));
            let _ = write!(s, " {} | {r} |", short_cell(&row.cells[i]));
        }
        s.push('\n');
    }
    let _ = write!(s, "| **geomean** | | | |");
    for i in 1..columns.len() {
        let g = geomean(rows, i, Metric::Wall).map_or("n/a".into(), |g| format!("**{g:.2}**"));
        let _ = write!(s, " | {g} |");
    }
    let _ = write!(s, "\n| geomean of CPU-time ratios | | | |");
    for i in 1..columns.len() {
        let g = geomean(rows, i, Metric::Cpu).map_or("n/a".into(), |g| format!("{g:.2}"));
        let _ = write!(s, " | {g} |");
    }
    s.push_str("\n\n");

    let notes: Vec<String> = rows
        .iter()
        .flat_map(|row| {
            row.cells.iter().zip(columns).filter_map(move |(cell, col)| match cell {
                Cell::Time(..) => None,
                other => Some(format!("- {} / {}: {}", row.workload.name, col.name, cell_text(other))),
            })
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "Cells that did not produce a time:\n\n{}\n", notes.join("\n"));
    }
    let _ = writeln!(s, "## Translation\n\n{translation}");
    let _ = writeln!(s, "## Workloads\n");
    for row in rows {
        let _ = writeln!(s, "- **{}**: {}", row.workload.name, row.workload.what);
    }
    let _ = writeln!(
        s,
        "\nNative: gcc -O2 with glibc. Wasm: clang-19 -O2 --target=wasm32-wasi with wasi-libc. \
         Library differences (qsort, malloc, printf) are therefore part of every ratio; \
         a peer runtime column separates them from kwasm's own cost."
    );
    s
}

/// A table cell: the time, or a short marker whose reason is listed under the table.
fn short_cell(cell: &Cell) -> String {
    match cell {
        Cell::Time(ms, _) => format!("{ms:.1}"),
        Cell::NotAvailable(_) | Cell::Skipped(_) => "n/a".into(),
        Cell::Failed(_) => "**ERROR**".into(),
    }
}

/// The same table as CSV, one row per program plus a geomean row.
fn render_csv(rows: &[Row], columns: &[Column]) -> String {
    let mut s = String::from("program,arg,code_bytes,native_ms,native_cpu_ms");
    for col in &columns[1..] {
        let _ = write!(s, ",{0}_ms,{0}_cpu_ms,{0}_ratio,{0}_status", col.name);
    }
    s.push('\n');
    for row in rows {
        let code = row.code_bytes.map_or(String::new(), |b| b.to_string());
        let native = match &row.cells[0] {
            Cell::Time(ms, cpu) => format!("{ms:.3},{cpu:.3}"),
            _ => ",".to_string(),
        };
        let _ = write!(s, "{},{},{code},{native}", row.workload.name, row.arg);
        for i in 1..columns.len() {
            let (ms, status) = match &row.cells[i] {
                Cell::Time(ms, cpu) => (format!("{ms:.3},{cpu:.3}"), "ok".to_string()),
                Cell::NotAvailable(why) | Cell::Skipped(why) => (",".to_string(), format!("n/a: {why}")),
                Cell::Failed(why) => (",".to_string(), format!("error: {why}")),
            };
            let r = ratio(row, i, Metric::Wall).map_or(String::new(), |r| format!("{r:.4}"));
            let _ = write!(s, ",{ms},{r},{}", csv_quote(&status));
        }
        s.push('\n');
    }
    for (label, metric) in [("geomean", Metric::Wall), ("geomean_cpu", Metric::Cpu)] {
        let _ = write!(s, "{label},,,,");
        for i in 1..columns.len() {
            let g = geomean(rows, i, metric).map_or(String::new(), |g| format!("{g:.4}"));
            let _ = write!(s, ",,,{g},");
        }
        s.push('\n');
    }
    s
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Quick runs must not overwrite the committed full results.
fn default_out(root: &Path, opts: &Options) -> PathBuf {
    if opts.quick {
        root.join("experiments/build/quick")
    } else {
        root.join("results")
    }
}

/// Writes each `(file name, contents)` pair into `out`.
fn write_results(out: &Path, files: &[(&str, String)]) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for (name, text) in files {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg`.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The machine and toolchain the numbers came from.
fn env_report(root: &Path, kwasm: &Path, columns: &[Column], opts: &Options) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown".into(), |m| m.trim().to_string());
    let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let first = |prog: &str, args: &[&str]| {
        run_quiet(prog, args).and_then(|o| o.lines().next().map(String::from)).unwrap_or_else(|| "unavailable".into())
    };
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (the work tree had uncommitted changes, which kwasm may include)"
    };
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".into());
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".into());
    let mut s = String::new();
    let _ = writeln!(s, "date (start of timing): {}", first("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]));
    let _ = writeln!(s, "git commit: {}{dirty}", git(&["rev-parse", "HEAD"]));
    let _ = writeln!(s, "cpu: {cpu} ({cores} logical CPUs)");
    let _ = writeln!(s, "kernel: {}", first("uname", &["-srm"]));
    let _ = writeln!(
        s,
        "native compiler: {} (-O2, {})",
        first(&cc, &["--version"]),
        first("getconf", &["GNU_LIBC_VERSION"])
    );
    let _ = writeln!(s, "wasm compiler: {} (--target=wasm32-wasi -O2)", first(&clang, &["--version"]));
    let _ = writeln!(s, "wasi-libc: {}", first("dpkg-query", &["-W", "-f=${Version}", "wasi-libc"]));
    let _ = writeln!(s, "rustc: {}", first("rustc", &["--version"]));
    let _ = writeln!(s, "kwasm: {} (copied before timing)", kwasm.display());
    for col in columns.iter().filter(|c| c.kind == ColumnKind::Peer) {
        let version = if col.program == Path::new("wasmtime") {
            first("wasmtime", &["--version"])
        } else {
            first("python3", &["-c", "import importlib.metadata as m; print('wasmtime (PyPI)', m.version('wasmtime'))"])
        };
        let _ = writeln!(s, "peer {}: {version}", col.name);
    }
    let _ = writeln!(s, "tiers: {}", opts.tiers.join(","));
    let _ = writeln!(s, "runs per cell: {} (median)", opts.runs);
    let _ = writeln!(s, "inputs: {}", if opts.quick { "quick" } else { "full" });
    s
}

/// Fails on any error cell; with `--check`, also on tiers that did not run.
fn verdict(rows: &[Row], columns: &[Column], opts: &Options) -> Result<(), String> {
    let mut errors = 0;
    let mut unavailable = 0;
    for row in rows {
        for (cell, col) in row.cells.iter().zip(columns) {
            match cell {
                Cell::Failed(_) => errors += 1,
                Cell::NotAvailable(_) if col.kind == ColumnKind::Tier => unavailable += 1,
                _ => {}
            }
        }
    }
    if errors > 0 {
        return Err(format!("{errors} run(s) failed or did not match native output"));
    }
    if opts.check && unavailable > 0 {
        return Err(format!("--check: {unavailable} tier run(s) not available"));
    }
    if opts.check {
        println!("bench --check: every workload matched native output in every requested tier");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_section_is_found() {
        // header, type section (id 1, 4 bytes), code section (id 10, 2 bytes)
        let wasm = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x0a\x02\x00\x00";
        assert_eq!(code_section_size(wasm), Some(2));
        assert_eq!(code_section_size(b"\0asm\x01\0\0\0"), None);
        assert_eq!(code_section_size(b"junk"), None);
    }

    #[test]
    fn median_and_geomean() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        let w = Workload {
            name: "x".into(),
            full_arg: "1".into(),
            quick_arg: "1".into(),
            what: String::new(),
            needs: Vec::new(),
        };
        let row = |native, t| Row {
            workload: w.clone(),
            arg: "1".into(),
            code_bytes: None,
            cells: vec![Cell::Time(native, native), Cell::Time(t, t)],
        };
        let rows = [row(1.0, 2.0), row(1.0, 8.0)];
        assert!((geomean(&rows, 1, Metric::Wall).unwrap() - 4.0).abs() < 1e-9);
        assert!((geomean(&rows, 1, Metric::Cpu).unwrap() - 4.0).abs() < 1e-9);
    }

    #[test]
    fn not_implemented_is_recognised() {
        let err = "kwasm: error\nthe baseline tier is not implemented yet\n";
        assert_eq!(not_implemented_reason(err).as_deref(), Some("the baseline tier is not implemented yet"));
        assert_eq!(not_implemented_reason("trap: unreachable"), None);
    }

    #[test]
    fn differences_are_located() {
        assert_eq!(first_difference(b"a\nb\n", b"a\nc\n"), "line 2: expected \"b\", got \"c\"");
        assert!(first_difference(b"a\n", b"a\nx\n").contains("extra"));
    }

    #[test]
    fn compile_output_parses() {
        let line = "code_bytes 29859 functions 62 validate_ms 0.246 translate_ms 0.503 validate_mb_s 121.3 translate_mb_s 59.4\n";
        let c = parse_compile_output(line).expect("parses");
        assert_eq!((c.code_bytes, c.functions), (29859, 62));
        assert_eq!((c.validate_ms, c.translate_ms), (0.246, 0.503));
        assert_eq!(parse_compile_output("usage: kwasm ..."), None);
        assert_eq!(mb_per_s(1_000_000, 1000.0), "1.00");
    }

    #[test]
    fn manifest_parses() {
        let all = read_manifest(&repo_root()).expect("manifest");
        assert!(all.len() >= 6);
        assert!(all.iter().all(|w| !w.quick_arg.is_empty() && !w.full_arg.is_empty()));
    }
}

//! The WebAssembly spec test suite, run through `kwasm wast`'s runner on each tier.
//!
//! Runs every non-SIMD `.wast` at the top of the testsuite plus the tail-call and extended-const
//! proposals (the post-2.0 features kwasm enables); configurations of tiers that implement SIMD
//! (the interpreter and the optimizing tier) also run every `simd_*.wast` (fixed-width SIMD,
//! Wasm 2.0). Each configuration prints how many SIMD scripts and directives it ran, or, where
//! it runs none, why ([`NO_SIMD`]). The testsuite lives at
//! `<repo>/../shared/testsuite` unless `KWASM_TESTSUITE` names another directory; a missing
//! testsuite is a failure, never a silent pass. Skips come only from `<repo>/tests/spec-skips.txt`.
//!
//! To cover another tier or configuration, add one `#[test]` that calls [`run_suite`] with its knobs.

use std::path::{Path, PathBuf};

use kwasm_cli::wast::{self, SkipList};
use kwasm_runtime::Knobs;

/// Proposal directories whose scripts run too, because kwasm enables those features.
const PROPOSALS: &[&str] = &["tail-call", "extended-const"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn testsuite_dir() -> PathBuf {
    match std::env::var_os("KWASM_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/testsuite"),
    }
}

/// The `.wast` files in `dir` (sorted) whose file name `keep` accepts.
fn wast_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .filter(|p| keep(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    files.sort();
    files
}

/// Every script the suite runs (with the `simd_*` scripts if `simd`); panics (fails the test) if
/// the testsuite is missing or empty.
fn suite_files(simd: bool) -> Vec<PathBuf> {
    let root = testsuite_dir();
    assert!(root.is_dir(), "spec testsuite not found at {} (set KWASM_TESTSUITE to its directory)", root.display());
    let mut files = wast_files(&root, |name| simd || !name.starts_with("simd_"));
    for p in PROPOSALS {
        files.extend(wast_files(&root.join("proposals").join(p), |_| true));
    }
    assert!(!files.is_empty(), "no .wast files under {}", root.display());
    files
}

/// Why a configuration does not run the `simd_*` scripts.
struct NoSimd(&'static str);

/// The baseline tier refuses every function that uses v128 with `Unsupported` at compile time,
/// so pinned to it (`tier_up=0`) every SIMD directive would fail; [`spec_baseline_simd`] runs
/// the SIMD scripts with those functions falling back to the interpreter instead.
const NO_SIMD: NoSimd = NoSimd(
    "the baseline tier does not implement SIMD (v128 functions are refused with Unsupported at \
     compile time); spec_baseline_simd runs them with such functions falling back to the interpreter",
);

/// Runs the suite with the knob assignments `config` (`tier=...` and more) without the SIMD
/// scripts, says so and why, and fails if any directive failed.
fn run_suite(config: &[&str], why: NoSimd) {
    let simd = wast_files(&testsuite_dir(), |name| name.starts_with("simd_")).len();
    println!("{config:?}: SIMD: {simd} simd_*.wast files not run: {}", why.0);
    run_files(config, suite_files(false));
}

/// [`run_suite`] plus the SIMD scripts, for tiers that implement SIMD.
fn run_suite_with_simd(config: &[&str]) {
    let files = suite_files(true);
    assert!(files.iter().any(|f| f.ends_with("simd_lane.wast")), "no simd_*.wast in the testsuite");
    run_files(config, files);
}

fn run_files(config: &[&str], files: Vec<PathBuf>) {
    let skips = SkipList::load(&repo_root().join("tests/spec-skips.txt")).unwrap_or_else(|e| panic!("{e}"));
    let mut knobs = Knobs::default();
    for k in config {
        knobs.set_text(k).unwrap_or_else(|e| panic!("knob {k}: {e}"));
    }
    println!("spec suite with {config:?}: {} files from {}", files.len(), testsuite_dir().display());
    let (reports, totals) = wast::run_and_print(&files, &knobs, &skips);
    warn_unused_skips(&skips, &reports);
    let is_simd = |r: &&wast::FileReport| {
        Path::new(&r.name).file_name().is_some_and(|n| n.to_string_lossy().starts_with("simd_"))
    };
    let simd: Vec<_> = reports.iter().filter(is_simd).collect();
    if !simd.is_empty() {
        println!(
            "{config:?}: SIMD: {} simd_*.wast files, passed {} failed {} skipped {}",
            simd.len(),
            simd.iter().map(|r| r.passed).sum::<usize>(),
            simd.iter().map(|r| r.failed()).sum::<usize>(),
            simd.iter().map(|r| r.skipped()).sum::<usize>()
        );
    }
    assert_eq!(totals.failed, 0, "{config:?}: {}", totals.summary());
}

/// Skip entries that matched nothing are stale: say so, so they get removed.
fn warn_unused_skips(skips: &SkipList, reports: &[wast::FileReport]) {
    for e in skips.entries() {
        let used = reports
            .iter()
            .filter(|r| r.name == e.file)
            .any(|r| r.skips.iter().any(|s| e.line.is_none_or(|l| l == s.line)));
        if !used {
            println!("warning: unused skip entry {}:{:?} ({})", e.file, e.line, e.reason);
        }
    }
}

#[test]
fn spec_interp() {
    run_suite_with_simd(&["tier=interp"]);
}

#[test]
fn spec_optimizing() {
    run_suite_with_simd(&["tier=optimizing"]);
}

/// Guard-region addressing: unchecked accesses, faults turned into traps by the platform.
#[test]
fn spec_optimizing_guard() {
    run_suite_with_simd(&["tier=optimizing", "bounds_mode=guard"]);
}

#[test]
fn spec_baseline() {
    run_suite(&["tier=baseline"], NO_SIMD);
}

/// The SIMD scripts with functions starting in the baseline tier and no optimizing tier: the
/// baseline tier refuses every v128 function, which falls back to the interpreter (mixed-tier
/// execution), while the scalar functions of the scripts run as baseline code.
#[test]
fn spec_baseline_simd() {
    let files = wast_files(&testsuite_dir(), |name| name.starts_with("simd_"));
    assert!(files.iter().any(|f| f.ends_with("simd_lane.wast")), "no simd_*.wast in the testsuite");
    run_files(&["tier=baseline", "tier_up=1", "optimizing_enabled=0"], files);
}

/// A few SIMD scripts (calls, lanes, loads/stores, arithmetic) for the mixed-tier
/// configurations: the whole SIMD suite through them would double the suite's time.
const SIMD_SAMPLE: &[&str] = &["simd_address.wast", "simd_lane.wast", "simd_i32x4_arith.wast", "simd_linking.wast"];

/// [`run_suite`] plus [`SIMD_SAMPLE`].
fn run_suite_with_simd_sample(config: &[&str]) {
    let mut files = suite_files(false);
    for name in SIMD_SAMPLE {
        let f = testsuite_dir().join(name);
        assert!(f.is_file(), "{} missing from the testsuite", f.display());
        files.push(f);
    }
    run_files(config, files);
}

/// Mixed tiers with tier-up: every function starts in the interpreter and is promoted after 2
/// calls or loop iterations to the baseline JIT and after 5 to the optimizing JIT (checked at
/// calls and at the end of every 500-unit fuel slice), so functions change tiers in the middle
/// of scripts and loops, and calls cross tiers all the time. With a sample of SIMD scripts:
/// functions the interpreter and the baseline tier cannot run fall back to the optimizing tier.
#[test]
fn spec_tiered() {
    run_suite_with_simd_sample(&[
        "tier=interp",
        "tier_up=1",
        "baseline_threshold=2",
        "optimizing_threshold=5",
        "fuel_slice=500",
    ]);
}

/// Mixed tiers without tier-up: each function pinned to a tier picked by a hash of its store
/// address (interp, baseline or optimizing), so neighbouring functions run in different tiers
/// (SIMD functions picked for baseline fall back to optimizing).
#[test]
fn spec_mixed() {
    run_suite_with_simd_sample(&["tier=interp", "tier_mix_seed=7"]);
}

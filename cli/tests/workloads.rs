//! The compute workloads (`experiments/compute/*.c`) run under `kwasm run` with output
//! byte-identical to the same programs compiled natively.
//!
//! Uses the small `quick_arg` inputs from `experiments/compute/workloads.tsv` and the
//! same build script as `cargo xtask bench`. Needs clang-19, lld-19, wasi-libc,
//! libclang-rt-19-dev-wasm32 and gcc: when they are missing this test fails with the
//! build script's message rather than skipping, so a machine without them cannot
//! pass silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// One workload from the manifest: its name, small-input argument and needed features
/// (optional column 5: `simd` = built with `-msimd128`).
struct Workload {
    name: String,
    quick_arg: String,
    needs_simd: bool,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ has a parent").to_path_buf()
}

fn read_manifest(root: &Path) -> Vec<Workload> {
    let path = root.join("experiments/compute/workloads.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert!(fields.len() >= 4, "bad manifest line: {l:?}");
            let needs_simd = fields.get(4).is_some_and(|f| f.split(',').any(|n| n.trim() == "simd"));
            Workload { name: fields[0].to_string(), quick_arg: fields[2].to_string(), needs_simd }
        })
        .collect()
}

/// Builds every workload for wasm32-wasi and natively; panics with the script's
/// own explanation (e.g. which compiler is missing and how to install it).
fn build_workloads(root: &Path) {
    let out = Command::new("bash")
        .arg(root.join("experiments/build.sh"))
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run bash experiments/build.sh");
    assert!(
        out.status.success(),
        "experiments/build.sh failed; the workload test needs the wasm and native C toolchains:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

/// The tiers every workload runs on.
const TIERS: &[&str] = &["interp", "baseline", "optimizing", "auto"];

/// The tiers that implement SIMD: workloads that need it run only there (the others refuse
/// v128 with an Unsupported error, tested elsewhere). `auto` runs SIMD functions in the tiers
/// that have SIMD (a tier that refuses one, like the baseline tier, is skipped for it).
const SIMD_TIERS: &[&str] = &["interp", "optimizing", "auto"];

/// Compares one workload on `tier`; returns a description of what went wrong, if anything.
fn check(root: &Path, w: &Workload, tier: &str) -> Option<String> {
    let native = run(&root.join("experiments/build/native").join(&w.name), &[&w.quick_arg]);
    if !native.status.success() {
        return Some(format!("{}: native run failed ({})", w.name, native.status));
    }
    let wasm = root.join("experiments/build/wasm").join(format!("{}.wasm", w.name));
    let wasm = wasm.to_str().expect("utf-8 path");
    let kwasm = run(Path::new(env!("CARGO_BIN_EXE_kwasm")), &["run", "--tier", tier, wasm, &w.quick_arg]);
    if !kwasm.status.success() {
        return Some(format!(
            "{} (tier {tier}): kwasm run failed ({}): {}",
            w.name,
            kwasm.status,
            String::from_utf8_lossy(&kwasm.stderr).trim()
        ));
    }
    if kwasm.stdout != native.stdout {
        return Some(format!(
            "{} (tier {tier}): output differs\n--- native\n{}--- kwasm\n{}",
            w.name,
            String::from_utf8_lossy(&native.stdout),
            String::from_utf8_lossy(&kwasm.stdout)
        ));
    }
    None
}

#[test]
fn workloads_match_native_output() {
    let root = repo_root();
    build_workloads(&root);
    let workloads = read_manifest(&root);
    assert!(!workloads.is_empty(), "no workloads in the manifest");
    // Check them all before failing, so one report shows every broken workload.
    let failures: Vec<String> = workloads
        .iter()
        .flat_map(|w| TIERS.iter().map(move |t| (w, *t)))
        .filter(|(w, t)| !w.needs_simd || SIMD_TIERS.contains(t))
        .filter_map(|(w, t)| check(&root, w, t))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} workload runs failed:\n{}",
        failures.len(),
        workloads.len() * TIERS.len(),
        failures.join("\n")
    );
}

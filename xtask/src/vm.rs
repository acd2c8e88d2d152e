//! The test VM: `cargo xtask vm-test` and `cargo xtask vm --add FILE… -- COMMAND…`.
//!
//! Both build kwasm.ko (and the kernel, cached), pack an initramfs (busybox-static, kwasm.ko, a
//! generated `/init`, the test files) and boot it in QEMU (TCG, `-cpu max -m 1536`, 2 CPUs as two
//! sockets), reading the serial console line by line with a deadline per phase.
//!
//! - `vm-test` runs `kmod/tests/vm-test.sh`, which prints `KWASM-TEST <name> PASS|FAIL <detail>`
//!   per check and `KWASM-DONE <passed> <failed>`; any FAIL, a missing DONE, a kernel panic or a
//!   timeout fails the command. It boots twice, with `panic_on_warn=1`: the whole suite on 2 CPUs,
//!   then the FPU integrity test alone on 1 CPU. The serial logs are kept in `target/vm/`
//!   (`vm-test.log`, `vm-test-fpu-smp1.log`).
//! - `vm` loads the module, runs one command in `/work` (where the `--add`ed files are; the
//!   `kwasm` CLI is on PATH), prints its output and exits with its status.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kwasm_runtime::knobs::{KnobRange, KNOBS};

use crate::kernel::{self, fmt_dur, run, Progress};

const BUSYBOX: &str = "/bin/busybox";
/// Boot until `/init` says hello.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// The whole test suite (each probe inside also has its own 20 s `timeout`).
const SUITE_TIMEOUT: Duration = Duration::from_secs(1500);

/// The cargo target directory (`$CARGO_TARGET_DIR` or `<repo>/target`).
fn target_root() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => kernel::repo_root().join("target"),
    }
}

fn vm_dir() -> PathBuf {
    target_root().join("vm")
}

/// The common start of `/init`: mounts, busybox applets, quiet console.
const INIT_PROLOGUE: &str = r#"#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin /work
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
dmesg -n 1
export PATH=/work:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
echo KWASM-BOOTED
"#;

/// `/tests/knobs.txt`: every knob of the runtime's table, its default, and writes to try with the
/// expected read-back (or EINVAL). Derived from `kwasm_runtime::knobs`, the one source of truth.
fn knob_cases() -> String {
    let mut out = String::new();
    for spec in KNOBS {
        let _ = writeln!(out, "knob {} {}", spec.name, spec.render(spec.default));
    }
    for spec in KNOBS {
        let mut cases: Vec<(String, String)> = Vec::new();
        match spec.range {
            KnobRange::Int { min, max } => {
                cases.push((min.to_string(), min.to_string()));
                cases.push((max.to_string(), max.to_string()));
                if max > min {
                    let mid = min + (max - min) / 2;
                    cases.push((mid.to_string(), mid.to_string()));
                }
                if max < u64::MAX {
                    cases.push(((u128::from(max) + 1).to_string(), "EINVAL".into()));
                }
                if min > 0 {
                    cases.push(((min - 1).to_string(), "EINVAL".into()));
                }
                cases.push(("-1".into(), "EINVAL".into()));
                cases.push(("banana".into(), "EINVAL".into()));
                cases.push(("<newline>".into(), "EINVAL".into()));
                cases.push(("<empty>".into(), "UNCHANGED".into()));
                cases.push(("99999999999999999999999".into(), "EINVAL".into()));
                cases.push(("1_000".into(), if (min..=max).contains(&1000) { "1000".into() } else { "EINVAL".into() }));
                cases.push(("0x10".into(), "EINVAL".into()));
            }
            KnobRange::Choice(names) => {
                for (i, n) in names.iter().enumerate() {
                    cases.push(((*n).to_string(), (*n).to_string()));
                    cases.push((i.to_string(), (*n).to_string()));
                }
                cases.push((names.len().to_string(), "EINVAL".into()));
                cases.push(("bogus".into(), "EINVAL".into()));
                cases.push(("<newline>".into(), "EINVAL".into()));
                cases.push(("<empty>".into(), "UNCHANGED".into()));
            }
        }
        // Back to the default last, so later checks see a clean state.
        cases.push((spec.render(spec.default), spec.render(spec.default)));
        for (text, want) in cases {
            // Every accepted value must read back the way the runtime renders it.
            if want == "UNCHANGED" || text == "<newline>" {
                // no parse check: the kernel handles these before the knob sees them / trivially
            } else if want != "EINVAL" {
                debug_assert_eq!(spec.parse(&text).map(|v| spec.render(v)).ok().as_deref(), Some(want.as_str()));
            } else {
                debug_assert!(spec.parse(&text).is_err(), "{} {text}", spec.name);
            }
            let _ = writeln!(out, "set {} {} {}", spec.name, text, want);
        }
    }
    out
}

/// Shared libraries an ELF file needs (from `ldd`), to copy next to it into the initramfs.
fn elf_deps(file: &Path) -> Vec<PathBuf> {
    let Ok(out) = Command::new("ldd").arg(file).output() else { return Vec::new() };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v = Vec::new();
    for line in text.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            v.push(PathBuf::from(p));
        }
    }
    v
}

/// Builds a gzip'd newc cpio from `files` (source, path inside the VM) and the `/init` text.
fn build_initramfs(name: &str, files: &[(PathBuf, String)], init: &str) -> Result<PathBuf, String> {
    let dir = vm_dir();
    let root = dir.join(format!("{name}-root"));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("bin")).map_err(|e| e.to_string())?;
    let mut all: Vec<(PathBuf, String)> = vec![(PathBuf::from(BUSYBOX), "/bin/busybox".into())];
    all.extend(files.iter().cloned());
    let mut libs = Vec::new();
    for (src, _) in &all {
        for lib in elf_deps(src) {
            if !libs.contains(&lib) {
                libs.push(lib);
            }
        }
    }
    for lib in libs {
        let dest = lib.to_string_lossy().into_owned();
        all.push((lib, dest));
    }
    for (src, dest) in &all {
        let to = root.join(dest.trim_start_matches('/'));
        fs::create_dir_all(to.parent().expect("has parent")).map_err(|e| e.to_string())?;
        fs::copy(src, &to).map_err(|e| format!("{} -> {}: {e}", src.display(), to.display()))?;
    }
    let init_path = root.join("init");
    fs::write(&init_path, init).map_err(|e| e.to_string())?;
    run(Command::new("chmod").arg("755").arg(&init_path))?;
    let out = dir.join(format!("{name}.cpio.gz"));
    let script = format!(
        "cd '{}' && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0 | gzip -1 > '{}'",
        root.display(),
        out.display()
    );
    run(Command::new("sh").arg("-c").arg(script))?;
    Ok(out)
}

/// What a boot produced.
struct BootResult {
    lines: Vec<String>,
    timed_out: Option<String>,
}

/// Boots the VM and collects console lines until QEMU exits or a deadline passes. `phase` is
/// called for every line and returns the next deadline (or None to keep the current one).
fn boot(
    bzimage: &Path,
    initrd: &Path,
    smp: u32,
    append: &str,
    log: &Path,
    mut on_line: impl FnMut(&str) -> Option<(Duration, &'static str)>,
) -> Result<BootResult, String> {
    let mut child = Command::new("qemu-system-x86_64")
        // One socket per CPU: the kernel has no ACPI (tinyconfig), so it finds CPUs in SeaBIOS's
        // MP table, which lists only the first CPU of each package; plain `-smp 2` (two cores in
        // one socket) boots with a single CPU.
        // 1.5 GiB: `kwasm run` and `kwasm wast` run on a 1 GiB thread stack (cli/src/wast.rs,
        // SCRIPT_STACK_SIZE), which the overcommit heuristic refuses (EAGAIN) in 1 GiB; less than
        // 1.83 GiB, so that grow.wasm's memory.grow still fails (vm-test grow_too_big_fails).
        .args(["-accel", "tcg", "-cpu", "max", "-m", "1536", "-nographic", "-no-reboot"])
        .arg("-smp")
        .arg(format!("{smp},sockets={smp},cores=1,threads=1"))
        .arg("-kernel")
        .arg(bzimage)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(append)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
            let s = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
            if tx.send(s).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx2.send(format!("[qemu stderr] {line}")).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let mut deadline = Instant::now() + BOOT_TIMEOUT;
    let mut phase = "boot";
    let mut timed_out = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = Some(phase.to_string());
            let _ = child.kill();
            break;
        }
        match rx.recv_timeout(deadline - now) {
            Ok(line) => {
                if let Some((d, name)) = on_line(&line) {
                    deadline = Instant::now() + d;
                    phase = name;
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.wait();
    fs::write(log, lines.join("\n") + "\n").map_err(|e| e.to_string())?;
    Ok(BootResult { lines, timed_out })
}

fn kernel_append(extra: &str) -> String {
    // panic=-1: reboot (= QEMU exits, -no-reboot) at once on a panic instead of hanging.
    format!("console=ttyS0 quiet loglevel=4 panic=-1 {extra}")
}

/// `(module (func (export "_start") (loop (br 0))))`: runs until fuel or a signal stops it.
const LOOP_WASM: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x03, 0x02, 0x01, 0x00, // function section
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, // export "_start"
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end end
];

/// `(module (func (export "_start") unreachable))`: traps in function 0.
const TRAP_WASM: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x03, 0x02, 0x01, 0x00, // function section
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, // export "_start"
    0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // unreachable end
];

/// Grows its memory by 30000 pages (1.83 GiB: more than the VM has) and exits 10 if that worked,
/// 11 if `memory.grow` returned -1:
/// `(import "wasi_snapshot_preview1" "proc_exit" (func (param i32))) (memory 1)
///  (func (export "_start") (call 0 (i32.add (i32.const 10)
///    (i32.eq (memory.grow (i32.const 30000)) (i32.const -1)))))`
const GROW_WASM: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x08, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00, // types: (i32) -> (), () -> ()
    0x02, 0x24, 0x01, 0x16, b'w', b'a', b's', b'i', b'_', b's', b'n', b'a', b'p', b's', b'h', b'o', b't', b'_', b'p',
    b'r', b'e', b'v', b'i', b'e', b'w', b'1', 0x09, b'p', b'r', b'o', b'c', b'_', b'e', b'x', b'i', b't', 0x00,
    0x00, // import proc_exit: func type 0
    0x03, 0x02, 0x01, 0x01, // function section: type 1
    0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x01, // export "_start" = func 1
    0x0a, 0x12, 0x01, 0x10, 0x00, // code: one body of 16 bytes, no locals
    0x41, 0x0a, 0x41, 0xb0, 0xea, 0x01, 0x40, 0x00, // i32.const 10; i32.const 30000; memory.grow
    0x41, 0x7f, 0x46, 0x6a, 0x10, 0x00, 0x0b, // i32.const -1; i32.eq; i32.add; call 0; end
];

/// The compute workloads (experiments/compute, quick inputs) with their user-mode outputs as
/// the expected kernel-mode outputs: `/tests/workloads.txt` ("name arg [needs]"),
/// `/tests/wasm/NAME.wasm`, `/tests/expect/NAME.out` and `NAME.status`. User mode runs the same
/// runtime with the interpreter (`kwasm run --tier interp`).
fn workload_files(p: &Progress, dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let root = kernel::repo_root();
    p.say("workloads: experiments/build.sh + cargo build --release -p kwasm-cli (user-mode reference)");
    run(Command::new(root.join("experiments/build.sh")).stdout(Stdio::null()))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).current_dir(&root).args(["build", "--release", "--quiet", "-p", "kwasm-cli"]))?;
    let kwasm = target_root().join("release/kwasm");
    let table = fs::read_to_string(root.join("experiments/compute/workloads.tsv")).map_err(|e| e.to_string())?;
    let exp = dir.join("expect");
    fs::create_dir_all(&exp).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    let mut list = String::new();
    for line in table.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let (name, arg) = (f[0], f.get(2).copied().unwrap_or(""));
        // The optional `needs` column (`simd`) is passed on: the default suite runs such
        // workloads on the kernel's interpreter (which implements SIMD); the jit suite runs them
        // on the optimizing tier only (the baseline tier has no SIMD).
        let needs = f.get(4).copied().unwrap_or("").trim();
        let wasm = root.join(format!("experiments/build/wasm/{name}.wasm"));
        let out = Command::new(&kwasm)
            .args(["run", "--tier", "interp"])
            .arg(&wasm)
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", kwasm.display()))?;
        let status = out.status.code().unwrap_or(-1);
        fs::write(exp.join(format!("{name}.out")), &out.stdout).map_err(|e| e.to_string())?;
        fs::write(exp.join(format!("{name}.status")), format!("{status}\n")).map_err(|e| e.to_string())?;
        files.push((exp.join(format!("{name}.out")), format!("/tests/expect/{name}.out")));
        files.push((exp.join(format!("{name}.status")), format!("/tests/expect/{name}.status")));
        files.push((wasm, format!("/tests/wasm/{name}.wasm")));
        let _ = writeln!(list, "{name} {arg} {needs}");
    }
    let list_path = dir.join("workloads.txt");
    fs::write(&list_path, list).map_err(|e| e.to_string())?;
    files.push((list_path, "/tests/workloads.txt".to_string()));
    // The float workloads of the FPU tests (kmod/tests/vm-test.sh, fpu_*), with larger inputs
    // than the quick ones (each run long enough to be preempted and migrated many times).
    let mut fpu_list = String::new();
    for (name, arg) in FPU_WORKLOADS {
        let wasm = root.join(format!("experiments/build/wasm/{name}.wasm"));
        let out = Command::new(&kwasm)
            .args(["run", "--tier", "interp"])
            .arg(&wasm)
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", kwasm.display()))?;
        let status = out.status.code().unwrap_or(-1);
        for (ext, data) in [("out", out.stdout), ("status", format!("{status}\n").into_bytes())] {
            let f = exp.join(format!("fpu-{name}.{ext}"));
            fs::write(&f, data).map_err(|e| e.to_string())?;
            files.push((f, format!("/tests/expect/fpu-{name}.{ext}")));
        }
        let _ = writeln!(fpu_list, "{name} {arg}");
    }
    let fpu_path = dir.join("fpu-workloads.txt");
    fs::write(&fpu_path, fpu_list).map_err(|e| e.to_string())?;
    files.push((fpu_path, "/tests/fpu-workloads.txt".to_string()));
    Ok(files)
}

/// The WASI programs of vm-test's kernel-mode WASI checks, as `/tests/wasi/NAME.wasm`: the echo
/// server and the file I/O program from `experiments/wasi/` (built by `experiments/build.sh`, which
/// `workload_files` has run), and `proc`, `sandbox` and `files` from `cli/tests/wasi-programs/` (compiled
/// here the way `cli/tests/wasi.rs` does).
fn wasi_files(p: &Progress, dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let root = kernel::repo_root();
    let out = dir.join("wasi");
    fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for name in ["echo", "fileio"] {
        files.push((root.join(format!("experiments/build/wasm/{name}.wasm")), format!("/tests/wasi/{name}.wasm")));
    }
    p.say("wasi: clang-19 --target=wasm32-wasi cli/tests/wasi-programs/{proc,sandbox,files}.c");
    for name in ["proc", "sandbox", "files"] {
        let wasm = out.join(format!("{name}.wasm"));
        run(Command::new("clang-19")
            .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wall", "-o"])
            .arg(&wasm)
            .arg(root.join(format!("cli/tests/wasi-programs/{name}.c"))))?;
        files.push((wasm, format!("/tests/wasi/{name}.wasm")));
    }
    Ok(files)
}

/// Float workloads and inputs for the FPU integrity test and the soft-float/SSE timing note.
const FPU_WORKLOADS: &[(&str, &str)] = &[("nbody", "60"), ("matrix", "80")];

/// Workloads and inputs the JIT suite times per tier (`jit_timing` notes): large enough for the
/// optimizing tier's run to outweigh its compile time under TCG (~1-1.5 s per module), small
/// enough for the interpreter (~2-4 s each in the VM).
const TIMING_WORKLOADS: &[(&str, &str)] =
    &[("nbody", "300"), ("matrix", "160"), ("primes", "1000000"), ("strfmt", "5000"), ("lz", "1000")];

/// A module with a memory, for the check that `bounds_mode=guard` is refused in kernel mode.
const GUARD_WAST: &str = "(module (memory 1) (func (export \"f\") (result i32) (i32.load (i32.const 0))))\n\
                          (assert_return (invoke \"f\") (i32.const 0))\n";

/// Files of the `jit` suite only: `/tests/timing-workloads.txt` with the user-mode outputs
/// (`/tests/expect/timing-NAME.out`), `/tests/guard.wast`, and `/tests/spec-expect-TIER.txt`: the
/// spec suite's summary lines in user space on each JIT tier, which kernel mode on that tier must
/// reproduce exactly.
fn jit_files(p: &Progress, dir: &Path, tiers: &[String]) -> Result<Vec<(PathBuf, String)>, String> {
    let root = kernel::repo_root();
    let kwasm = target_root().join("release/kwasm");
    let mut files = Vec::new();
    let mut list = String::new();
    for (name, arg) in TIMING_WORKLOADS {
        let out = Command::new(&kwasm)
            .args(["run", "--tier", "interp"])
            .arg(root.join(format!("experiments/build/wasm/{name}.wasm")))
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", kwasm.display()))?;
        if !out.status.success() {
            return Err(format!("timing workload {name} {arg} failed in user space: {}", out.status));
        }
        let f = dir.join(format!("expect/timing-{name}.out"));
        fs::write(&f, &out.stdout).map_err(|e| e.to_string())?;
        files.push((f, format!("/tests/expect/timing-{name}.out")));
        let _ = writeln!(list, "{name} {arg}");
    }
    let list_path = dir.join("timing-workloads.txt");
    fs::write(&list_path, list).map_err(|e| e.to_string())?;
    files.push((list_path, "/tests/timing-workloads.txt".to_string()));
    let guard = dir.join("guard.wast");
    fs::write(&guard, GUARD_WAST).map_err(|e| e.to_string())?;
    files.push((guard, "/tests/guard.wast".to_string()));
    let suite = testsuite_dir();
    let scripts = spec_scripts(&suite)?;
    for tier in tiers {
        let summary = user_space_summary(
            p,
            &format!("spec on {tier}"),
            tier,
            &suite,
            &scripts,
            &root.join("tests/spec-skips.txt"),
        )?;
        let f = dir.join(format!("spec-expect-{tier}.txt"));
        fs::write(&f, summary).map_err(|e| e.to_string())?;
        files.push((f, format!("/tests/spec-expect-{tier}.txt")));
    }
    Ok(files)
}

/// The float-heavy spec scripts run once per `fpu_mode` in kernel mode.
fn is_float_script(name: &str) -> bool {
    ["f32", "f64", "float_", "conversions"].iter().any(|p| name.starts_with(p)) && !name.contains('/')
}

/// The WebAssembly testsuite: `$KWASM_TESTSUITE`, else `../shared/testsuite` beside the repo.
fn testsuite_dir() -> PathBuf {
    match std::env::var_os("KWASM_TESTSUITE") {
        Some(d) => PathBuf::from(d),
        None => kernel::repo_root().join("../shared/testsuite"),
    }
}

/// The spec scripts `cli/tests/spec.rs` runs (every non-SIMD `.wast` at the top of the testsuite,
/// plus the tail-call and extended-const proposals), relative to the testsuite, sorted.
fn spec_scripts(suite: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (sub, all) in [("", false), ("proposals/tail-call", true), ("proposals/extended-const", true)] {
        let dir = suite.join(sub);
        let rd =
            fs::read_dir(&dir).map_err(|e| format!("spec testsuite: {}: {e} (set KWASM_TESTSUITE)", dir.display()))?;
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.ends_with(".wast") && (all || !n.starts_with("simd_")))
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| if sub.is_empty() { n } else { format!("{sub}/{n}") }));
    }
    if out.is_empty() {
        return Err(format!("no .wast files in {}", suite.display()));
    }
    Ok(out)
}

/// The fixed-width SIMD scripts (`simd_*.wast` at the top of the testsuite), sorted. The kernel
/// runs them on the interpreter only (their own list, so the JIT tiers' spec run is unchanged).
fn simd_scripts(suite: &Path) -> Result<Vec<String>, String> {
    let rd =
        fs::read_dir(suite).map_err(|e| format!("spec testsuite: {}: {e} (set KWASM_TESTSUITE)", suite.display()))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".wast") && n.starts_with("simd_"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("no simd_*.wast in {}", suite.display()));
    }
    Ok(names)
}

/// The summary lines (per file, then the total) of `scripts` run in user space on `tier`, which
/// kernel mode must reproduce exactly; an error if anything failed.
fn user_space_summary(
    p: &Progress,
    what: &str,
    tier: &str,
    suite: &Path,
    scripts: &[String],
    skips: &Path,
) -> Result<String, String> {
    let kwasm = target_root().join("release/kwasm");
    let t = Instant::now();
    let out = Command::new(&kwasm)
        .args(["wast", "--tier", tier, "--skips"])
        .arg(skips)
        .args(scripts.iter().map(|s| suite.join(s)))
        .current_dir(suite)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", kwasm.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = text.lines().filter(|l| !l.starts_with("  ")).collect();
    let total = summary.last().copied().unwrap_or("");
    if !out.status.success() || !total.starts_with("total (") {
        return Err(format!("{what} in user space failed ({}): {total}", out.status));
    }
    p.say(format!("{what}: user space {total} ({})", fmt_dur(t.elapsed())));
    Ok(summary.join("\n") + "\n")
}

/// The spec suite for kernel mode: the scripts under `/tests/testsuite/` (so that report names
/// and the skip list match user space), `/tests/spec-files.txt`, `/tests/spec-skips.txt`, and
/// `/tests/spec-expect.txt`: the per-file and total summary lines of the same scripts run in user
/// space with the interpreter (`kwasm wast`), which kernel mode must reproduce exactly. The SIMD
/// scripts come with their own `/tests/spec-simd-files.txt` and `/tests/spec-simd-expect.txt`.
fn spec_files(p: &Progress, dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let root = kernel::repo_root();
    let suite = testsuite_dir();
    let scripts = spec_scripts(&suite)?;
    let skips = root.join("tests/spec-skips.txt");
    let summary_text = user_space_summary(p, "spec", "interp", &suite, &scripts, &skips)?;
    let summary: Vec<&str> = summary_text.lines().collect();
    let expect = dir.join("spec-expect.txt");
    fs::write(&expect, summary.join("\n") + "\n").map_err(|e| e.to_string())?;
    let list = dir.join("spec-files.txt");
    fs::write(&list, scripts.join("\n") + "\n").map_err(|e| e.to_string())?;
    // The float subset: its per-file lines of the user-space run, in the same order.
    let float: Vec<&String> = scripts.iter().filter(|s| is_float_script(s)).collect();
    let float_expect: Vec<&str> = summary
        .iter()
        .copied()
        .filter(|l| l.split_once(": ").is_some_and(|(f, _)| float.iter().any(|s| s.as_str() == f)))
        .collect();
    if float.is_empty() || float_expect.len() != float.len() {
        return Err(format!("spec: float scripts {float:?} do not match the summary lines {float_expect:?}"));
    }
    let float_list = dir.join("spec-float-files.txt");
    fs::write(&float_list, float.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n") + "\n")
        .map_err(|e| e.to_string())?;
    let float_expect_path = dir.join("spec-float-expect.txt");
    fs::write(&float_expect_path, float_expect.join("\n") + "\n").map_err(|e| e.to_string())?;
    let simd = simd_scripts(&suite)?;
    let simd_expect = dir.join("spec-simd-expect.txt");
    fs::write(&simd_expect, user_space_summary(p, "spec SIMD", "interp", &suite, &simd, &skips)?)
        .map_err(|e| e.to_string())?;
    let simd_list = dir.join("spec-simd-files.txt");
    fs::write(&simd_list, simd.join("\n") + "\n").map_err(|e| e.to_string())?;
    let mut files = vec![
        (simd_list, "/tests/spec-simd-files.txt".to_string()),
        (simd_expect, "/tests/spec-simd-expect.txt".to_string()),
        (float_list, "/tests/spec-float-files.txt".to_string()),
        (float_expect_path, "/tests/spec-float-expect.txt".to_string()),
        (expect, "/tests/spec-expect.txt".to_string()),
        (list, "/tests/spec-files.txt".to_string()),
        (skips, "/tests/spec-skips.txt".to_string()),
    ];
    files.extend(scripts.iter().chain(&simd).map(|s| (suite.join(s), format!("/tests/testsuite/{s}"))));
    Ok(files)
}

/// `cargo xtask vm-test`.
///
/// With `--tiers baseline[,optimizing]` it builds the module with those JIT tiers instead and
/// boots once for the `jit` part of `vm-test.sh`: the spec suite in kernel mode on each tier
/// (the same per-file counts as user space's interpreter run), then the usual dmesg check.
pub fn vm_test(args: &[String]) -> Result<(), String> {
    let tiers = match args {
        [] => crate::kmod::Tiers::default(),
        [a, list] if a == "--tiers" => crate::kmod::Tiers::parse(list)?,
        _ => return Err(format!("vm-test: unexpected arguments {args:?} (usage: cargo xtask vm-test [--tiers LIST])")),
    };
    let p = Progress::new("vm-test");
    let built = crate::kmod::build_with(&p, &tiers)?;
    let root = kernel::repo_root();
    let dir = vm_dir();
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let helper = dir.join("vmhelper");
    run(Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-Werror", "-I"])
        .arg(root.join("kmod/include"))
        .arg("-o")
        .arg(&helper)
        .arg(root.join("kmod/tests/vmhelper.c")))?;
    let knobs = dir.join("knobs.txt");
    fs::write(&knobs, knob_cases()).map_err(|e| e.to_string())?;
    // /tests/stats.txt: the runtime's global counters (runtime/src/kstats.rs), one name a line.
    let stats = dir.join("stats.txt");
    let names: Vec<String> = kwasm_runtime::kstats::global().into_iter().map(|(n, _)| n).collect();
    fs::write(&stats, names.join("\n") + "\n").map_err(|e| e.to_string())?;
    let mut files = vec![
        (built.ko.clone(), "/kwasm.ko".to_string()),
        (helper, "/tests/vmhelper".to_string()),
        (knobs, "/tests/knobs.txt".to_string()),
        (stats, "/tests/stats.txt".to_string()),
        (root.join("kmod/tests/vm-test.sh"), "/tests/vm-test.sh".to_string()),
    ];
    let loop_wasm = dir.join("loop.wasm");
    fs::write(&loop_wasm, LOOP_WASM).map_err(|e| e.to_string())?;
    files.push((loop_wasm, "/tests/loop.wasm".to_string()));
    let grow_wasm = dir.join("grow.wasm");
    fs::write(&grow_wasm, GROW_WASM).map_err(|e| e.to_string())?;
    files.push((grow_wasm, "/tests/grow.wasm".to_string()));
    let trap_wasm = dir.join("trap.wasm");
    fs::write(&trap_wasm, TRAP_WASM).map_err(|e| e.to_string())?;
    files.push((trap_wasm, "/tests/trap.wasm".to_string()));
    files.extend(workload_files(&p, &dir)?);
    files.extend(wasi_files(&p, &dir)?);
    files.extend(spec_files(&p, &dir)?);
    // The kwasm CLI (user-mode reference and `--loader kernel`), with its shared libraries.
    files.push((target_root().join("release/kwasm"), "/bin/kwasm".to_string()));
    let run_rs = fs::read_to_string(root.join("cli/src/run.rs")).unwrap_or_default();
    if run_rs.contains("kernel_loader::intercept") {
        let flag = dir.join("cli-kernel-loader");
        fs::write(&flag, "").map_err(|e| e.to_string())?;
        files.push((flag, "/tests/cli-kernel-loader".to_string()));
    } else {
        p.say(
            "note: cli/src/run.rs has no kernel_loader::intercept hook yet; `kwasm run --loader kernel` checks skipped",
        );
    }
    // The suite part comes from the kernel command line (`KWASM_SUITE=…` becomes init's
    // environment): the whole suite, or only the FPU tests.
    let init = format!(
        "{INIT_PROLOGUE}timeout {} sh /tests/vm-test.sh $KWASM_SUITE\necho KWASM-SUITE-EXIT $?\nreboot -f\n",
        SUITE_TIMEOUT.as_secs()
    );
    if !tiers.0.is_empty() {
        files.extend(jit_files(&p, &dir, &tiers.0)?);
    }
    let tier_list = dir.join("jit-tiers.txt");
    fs::write(&tier_list, tiers.0.join("\n") + "\n").map_err(|e| e.to_string())?;
    files.push((tier_list, "/tests/jit-tiers.txt".to_string()));
    let initrd = build_initramfs(if tiers.0.is_empty() { "vm-test" } else { "vm-test-jit" }, &files, &init)?;
    p.say(format!("initramfs: {}", initrd.display()));
    // Two boots: everything on 2 CPUs, then the FPU tests again on 1 CPU (where every preemption
    // of kernel-mode wasm is a switch to another task on the same CPU). panic_on_warn: a WARN
    // (e.g. from the FPU code's X86_DEBUG_FPU checks) ends the run as a failure at once.
    let mut problems = Vec::new();
    let mut total_passed = 0;
    let boots: &[(u32, &str)] = if tiers.0.is_empty() { &[(2, "all"), (1, "fpu")] } else { &[(2, "jit")] };
    for &(smp, suite) in boots {
        let log =
            dir.join(if suite == "all" { "vm-test.log".to_string() } else { format!("vm-test-{suite}-smp{smp}.log") });
        let (passed, mut found) = boot_suite(&p, &built.kernel.bzimage, &initrd, smp, suite, &log)?;
        total_passed += passed;
        problems.append(&mut found);
    }
    if problems.is_empty() {
        p.say(format!("vm-test: PASS ({total_passed} checks; logs in {})", dir.display()));
        Ok(())
    } else {
        Err(format!("vm-test failed:\n  {}", problems.join("\n  ")))
    }
}

/// Boots the test VM with `smp` CPUs, runs `vm-test.sh <suite>`, returns the passed checks and
/// the problems found (failed checks, timeouts, kernel panics).
fn boot_suite(
    p: &Progress,
    bzimage: &Path,
    initrd: &Path,
    smp: u32,
    suite: &str,
    log: &Path,
) -> Result<(usize, Vec<String>), String> {
    let t = Instant::now();
    let mut booted_at = None;
    p.say(format!("qemu: booting (TCG, -smp {smp}), suite '{suite}'"));
    let append = kernel_append(&format!("panic_on_warn=1 KWASM_SUITE={suite}"));
    let res = boot(bzimage, initrd, smp, &append, log, |line| {
        if line.starts_with("KWASM-BOOTED") {
            booted_at = Some(t.elapsed());
            return Some((SUITE_TIMEOUT + Duration::from_secs(30), "test suite"));
        }
        if line.starts_with("KWASM-NOTE ") || line.starts_with("KWASM-TEST ") && line.contains(" FAIL") {
            println!("  {line}");
        }
        None
    })?;
    let total = t.elapsed();
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut done = None;
    for line in &res.lines {
        if let Some(rest) = line.strip_prefix("KWASM-TEST ") {
            let mut it = rest.splitn(3, ' ');
            let (name, verdict) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            match verdict {
                "PASS" => passed += 1,
                _ => failed.push(format!("{name}: {}", it.next().unwrap_or(""))),
            }
        } else if let Some(rest) = line.strip_prefix("KWASM-DONE ") {
            done = Some(rest.to_string());
        }
    }
    let panic_lines: Vec<&String> =
        res.lines.iter().filter(|l| l.contains("Kernel panic") || l.contains("BUG:") || l.contains("Oops")).collect();
    p.say(format!(
        "-smp {smp} '{suite}': boot {} + suite {} = {} wall; {passed} passed, {} failed",
        booted_at.map(fmt_dur).unwrap_or_else(|| "?".into()),
        booted_at.map(|b| fmt_dur(total.saturating_sub(b))).unwrap_or_else(|| "?".into()),
        fmt_dur(total),
        failed.len()
    ));
    let mut problems = Vec::new();
    let at = format!("-smp {smp} '{suite}'");
    if let Some(phase) = &res.timed_out {
        problems.push(format!("{at}: timed out during {phase}"));
    }
    if done.is_none() {
        problems.push(format!("{at}: the suite did not finish (no KWASM-DONE)"));
    }
    if passed == 0 {
        problems.push(format!("{at}: no test passed"));
    }
    for f in &failed {
        problems.push(format!("{at}: FAIL {f}"));
    }
    for l in &panic_lines {
        problems.push(format!("{at}: console: {l}"));
    }
    if !problems.is_empty() {
        let tail: Vec<&String> = res.lines.iter().rev().take(30).collect();
        eprintln!("--- last console lines ({}) ---", log.display());
        for l in tail.iter().rev() {
            eprintln!("  | {l}");
        }
    }
    Ok((passed, problems))
}

/// Quotes a word for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `cargo xtask vm [--add FILE]... -- COMMAND...`: never returns on success (exits with the
/// command's status).
pub fn vm(args: &[String]) -> Result<(), String> {
    let mut adds = Vec::new();
    let mut it = args.iter();
    let mut command: Vec<String> = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--add" => {
                let f = it.next().ok_or("vm: --add needs a FILE")?;
                adds.push(PathBuf::from(f));
            }
            "--" => {
                command = it.by_ref().cloned().collect();
            }
            other => return Err(format!("vm: unexpected argument {other} (usage: vm [--add FILE]... -- COMMAND...)")),
        }
    }
    if command.is_empty() {
        return Err("usage: cargo xtask vm [--add FILE]... -- COMMAND...".into());
    }
    let p = Progress::new("vm");
    let built = crate::kmod::build(&p)?;
    let root = kernel::repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).current_dir(&root).args(["build", "--release", "--quiet", "-p", "kwasm-cli"]))?;
    let mut files = vec![
        (built.ko.clone(), "/kwasm.ko".to_string()),
        // The kwasm CLI (with its shared libraries), for `kwasm run --loader kernel ...`.
        (target_root().join("release/kwasm"), "/bin/kwasm".to_string()),
    ];
    for f in &adds {
        let name = f.file_name().ok_or_else(|| format!("vm: {} has no file name", f.display()))?;
        files.push((f.clone(), format!("/work/{}", name.to_string_lossy())));
    }
    let cmdline = command.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ");
    let init = format!(
        "{INIT_PROLOGUE}insmod /kwasm.ko || echo 'vm: insmod failed'\ncd /work\necho KWASM-CMD-BEGIN\n{cmdline}\necho \"KWASM-CMD-EXIT $?\"\nreboot -f\n"
    );
    let initrd = build_initramfs("vm", &files, &init)?;
    let log = vm_dir().join("vm.log");
    p.say(format!("qemu: booting; running: {cmdline}"));
    let mut inside = false;
    let mut status = None;
    let res = boot(&built.kernel.bzimage, &initrd, 2, &kernel_append(""), &log, |line| {
        if line.starts_with("KWASM-BOOTED") {
            return Some((SUITE_TIMEOUT, "command"));
        }
        if line == "KWASM-CMD-BEGIN" {
            inside = true;
            return None;
        }
        if let Some(rest) = line.strip_prefix("KWASM-CMD-EXIT ") {
            inside = false;
            status = rest.trim().parse::<i32>().ok();
            return None;
        }
        if inside {
            println!("{line}");
        }
        None
    })?;
    if let Some(phase) = res.timed_out {
        return Err(format!("vm: timed out during {phase} (log {})", log.display()));
    }
    match status {
        Some(s) => std::process::exit(s),
        None => {
            for l in res.lines.iter().rev().take(30).collect::<Vec<_>>().iter().rev() {
                eprintln!("  | {l}");
            }
            Err(format!("vm: the command did not finish (log {})", log.display()))
        }
    }
}

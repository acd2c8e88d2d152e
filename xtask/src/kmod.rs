//! `cargo xtask kmod`: builds `kwasm.ko` against the cached test kernel (`cargo xtask kernel`).
//!
//! 1. The runtime side, `kmod/rt` with feature `kernel`, as a `no_std` staticlib with Debian's
//!    rustc (`-Zbuild-std=core,alloc`, static relocation model, kernel code model, `-Z plt=yes` so
//!    that no call goes through the GOT), twice (see [`RT_VARIANTS`]): for the custom target
//!    `kmod/rt/x86_64-kwasm_sse-none.json` (hard-float ABI, SSE2: the runtime's floats are SSE
//!    instructions; the glue runs every entry into it inside a kernel FPU section) and for
//!    `x86_64-unknown-none` (soft-float: never touches FPU registers; `fpu_mode=soft`).
//! 2. Each: `ld -r --whole-archive` into one object, `.llvmbc`/`.llvmcmd` removed, every symbol
//!    but the `kwasm_rt_*` API made local (compiler_builtins' memcpy, soft-float and libm helpers
//!    then cannot clash with the kernel's), checked: undefined symbols only from the glue, only
//!    relocation types the 6.12 module loader accepts, SSE code only in the SSE object. The SSE
//!    object's calls into the glue are renamed to the glue's `kwasm_fpu_*` wrappers (which close
//!    the FPU section around the call); the soft object's API is renamed `kwasm_rtsoft_*`.
//! 3. Stages `kmod/{Kbuild,*.rs,*.c}`, the headers and the `*.o_shipped` objects in `target/kmod/`
//!    and runs the kernel's `make M=… modules` there (the source tree stays clean).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::kernel::{self, clean_rust_env, output, run, run_logged, Progress, KERNEL_RUSTC};

const RUSTFLAGS: &str = "-C relocation-model=static -C code-model=kernel -C no-redzone=y -Z plt=yes";

/// One build of the runtime linked into the module.
struct RtVariant {
    /// `--target`: a built-in triple, or a target JSON under `kmod/rt/`.
    target: &'static str,
    /// Name of the object in the module (`<object>.o`, from `<object>.o_shipped`).
    object: &'static str,
    /// Prefix the API symbols get in the module (`kwasm_rt_` = unchanged).
    api_prefix: &'static str,
    /// Whether the code is expected to use SSE registers (checked both ways).
    sse: bool,
}

/// The two runtimes in kwasm.ko; the glue picks one per open file by the `fpu_mode` knob.
/// The SSE target's name must parse as a target triple (arch-vendor-os: a custom vendor
/// `kwasm_sse`, OS `none`): cranelift-codegen's dependency target-lexicon parses `$TARGET` in its
/// build script and panics on anything else (`x86_64-kwasm-kernel-sse` did).
const RT_VARIANTS: &[RtVariant] = &[
    RtVariant { target: "x86_64-kwasm_sse-none.json", object: "rt", api_prefix: "kwasm_rt_", sse: true },
    RtVariant { target: "x86_64-unknown-none", object: "rt_soft", api_prefix: "kwasm_rtsoft_", sse: false },
];

/// Symbols `rt.o` may leave undefined: all provided by `kwasm_glue.c`.
const GLUE_SYMBOLS: &[&str] = &[
    "kwasm_kalloc",
    "kwasm_kfree",
    "kwasm_rt_abort",
    "kwasm_copy_from_user",
    "kwasm_copy_to_user",
    "kwasm_fget",
    "kwasm_fput",
    "kwasm_kwrite",
    "kwasm_kread",
    "kwasm_clock_ns",
    "kwasm_random",
    "kwasm_check_interrupt",
    // Only with JIT tiers (see `Tiers`): executable memory.
    "kwasm_rt_exec_alloc",
    "kwasm_rt_exec_protect",
    "kwasm_rt_exec_free",
];
/// Glue functions the SSE runtime may call while its FPU section stays open: they neither sleep
/// nor use the FPU. Every other glue symbol it calls goes through a `kwasm_fpu_<name>` wrapper in
/// `kwasm_glue.c` (the `kwasm_` prefix replaced), which ends the section around the call.
/// Data symbols (`kwasm_heap_limit`, a module parameter the allocator reads) are listed here too:
/// only functions can be wrapped.
const FPU_SAFE_CALLS: &[&str] = &["kwasm_clock_ns", "kwasm_random", "kwasm_heap_limit"];
/// Relocation types the Linux 6.12 x86-64 module loader (`apply_relocate_add`) accepts.
const KERNEL_RELOCS: &[&str] = &[
    "R_X86_64_NONE",
    "R_X86_64_64",
    "R_X86_64_32",
    "R_X86_64_32S",
    "R_X86_64_PC32",
    "R_X86_64_PLT32",
    "R_X86_64_PC64",
];
/// Files of `kmod/` that make up the module.
const MODULE_FILES: &[&str] = &["Kbuild", "kwasm_main.rs", "kwasm_glue.c", "kwasm_wasi.c"];
/// Symbols `rt.o` may leave undefined that `kwasm_wasi.c` provides (WASI sockets, waiting, files).
const WASI_GLUE_SYMBOLS: &[&str] = &[
    "kwasm_sock_listener",
    "kwasm_sock_put_listener",
    "kwasm_sock_accept",
    "kwasm_sock_release",
    "kwasm_sock_recv",
    "kwasm_sock_send",
    "kwasm_sock_shutdown",
    "kwasm_wait",
    "kwasm_yield",
    "kwasm_cpu_time_ns",
    "kwasm_file_seek",
    "kwasm_file_stat",
    "kwasm_file_pread",
    "kwasm_file_pwrite",
    "kwasm_file_is_dir",
    "kwasm_open_beneath",
    "kwasm_stat_beneath",
    "kwasm_mkdir_beneath",
    "kwasm_unlink_beneath",
    "kwasm_rename_beneath",
    "kwasm_read_dir",
    "kwasm_file_sync",
    "kwasm_file_set_size",
    // kwasm_glue.c: the allocation-failure fallback and the heap_limit test knob.
    "kwasm_kalloc_nofail",
    "kwasm_heap_limit",
];
const HEADERS: &[&str] = &["rt/include/kwasm_rt.h", "rt/include/kwasm_rt_kernel.h", "include/uapi/kwasm.h"];

/// JIT tiers built into the module's SSE runtime (`rt.o`): none by default, so the default
/// module stays interpreter-only and its size unchanged. The soft-float runtime never gets them:
/// JIT code uses SSE registers, so it runs only inside the SSE runtime's FPU sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tiers(pub Vec<String>);

impl Tiers {
    /// Parses `baseline`, `optimizing` or both, comma-separated.
    pub fn parse(list: &str) -> Result<Tiers, String> {
        let mut tiers: Vec<String> = Vec::new();
        for t in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !["baseline", "optimizing"].contains(&t) {
                return Err(format!("--tiers: unknown JIT tier {t:?} (baseline, optimizing)"));
            }
            if !tiers.iter().any(|x| x == t) {
                tiers.push(t.to_string());
            }
        }
        if tiers.is_empty() {
            return Err("--tiers needs baseline and/or optimizing".into());
        }
        Ok(Tiers(tiers))
    }

    fn any(&self) -> bool {
        !self.0.is_empty()
    }

    /// Directory-name suffix keeping JIT builds out of the default build's caches.
    fn suffix(&self) -> &'static str {
        if self.any() {
            "-jit"
        } else {
            ""
        }
    }
}

/// A built module.
pub struct KmodBuild {
    pub ko: PathBuf,
    pub kernel: kernel::KernelTree,
}

fn target_root(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => root.join("target"),
    }
}

/// Copies `from` to `to` only if the content differs (keeps make's timestamps meaningful).
fn stage(from: &Path, to: &Path) -> Result<(), String> {
    let data = fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    if fs::read(to).ok().as_deref() != Some(&data[..]) {
        fs::write(to, &data).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    Ok(())
}

/// The wrapper in `kwasm_glue.c` that the SSE runtime calls instead of glue symbol `sym`.
fn fpu_wrapper(sym: &str) -> String {
    format!("kwasm_fpu_{}", sym.strip_prefix("kwasm_").unwrap_or(sym))
}

/// Builds one runtime variant and turns it into the module's `<object>.o`.
fn build_rt(root: &Path, out: &Path, v: &RtVariant, tiers: &Tiers, p: &Progress) -> Result<PathBuf, String> {
    let cargo =
        if Path::new(kernel::KERNEL_CARGO).exists() { kernel::KERNEL_CARGO.to_string() } else { "cargo".into() };
    let target_dir = target_root(root).join(format!("kmod-rt{}", tiers.suffix()));
    let rt_dir = root.join("kmod/rt");
    let mut features = vec!["kernel".to_string()];
    if v.sse {
        features.extend(tiers.0.iter().cloned());
    }
    let features = features.join(",");
    p.say(format!("{}: cargo build kmod/rt --features {features} ({}, build-std)", v.object, v.target));
    let mut cmd = Command::new(&cargo);
    clean_rust_env(&mut cmd);
    cmd.current_dir(&rt_dir).env("RUSTC", KERNEL_RUSTC).env("RUSTC_BOOTSTRAP", "1").env("RUSTFLAGS", RUSTFLAGS).args([
        "build",
        "--release",
        "--quiet",
        "-Zbuild-std=core,alloc",
        "--features",
        &features,
    ]);
    let triple = match v.target.strip_suffix(".json") {
        Some(name) => {
            cmd.arg("-Zjson-target-spec").arg("--target").arg(rt_dir.join(v.target));
            name
        }
        None => {
            cmd.args(["--target", v.target]);
            v.target
        }
    };
    cmd.arg("--target-dir").arg(&target_dir);
    run(&mut cmd)?;
    let archive = target_dir.join(triple).join("release/libkwasm_kmod_rt.a");
    let merged = out.join(format!("{}-merged.o", v.object));
    let object = out.join(format!("{}.o_shipped.new", v.object));
    run(Command::new("ld").args(["-r", "--whole-archive"]).arg(&archive).arg("-o").arg(&merged))?;
    run(Command::new("objcopy")
        .args(["--remove-section=.llvmbc", "--remove-section=.llvmcmd", "-w", "--keep-global-symbol=kwasm_rt_*"])
        .arg(&merged)
        .arg(&object))?;
    // Undefined symbols: only what the glue provides.
    let nm = output(Command::new("nm").args(["-u", "--format=posix"]).arg(&object))?;
    let undefined: Vec<&str> = nm.lines().filter_map(|l| l.split_whitespace().next()).collect();
    let bad: Vec<&str> =
        undefined.iter().copied().filter(|s| !GLUE_SYMBOLS.contains(s) && !WASI_GLUE_SYMBOLS.contains(s)).collect();
    if !bad.is_empty() {
        return Err(format!("{}.o has undefined symbols the glue does not provide: {}", v.object, bad.join(" ")));
    }
    // Relocations: only types the module loader takes.
    let relocs = output(Command::new("readelf").args(["-rW"]).arg(&object))?;
    let mut odd: Vec<String> = relocs
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|t| t.starts_with("R_X86_64_") && !KERNEL_RELOCS.contains(t))
        .map(str::to_string)
        .collect();
    odd.sort();
    odd.dedup();
    if !odd.is_empty() {
        return Err(format!("{}.o has relocations the 6.12 module loader rejects: {}", v.object, odd.join(" ")));
    }
    let exported = output(Command::new("nm").args(["-g", "--defined-only", "--format=posix"]).arg(&object))?;
    let api: Vec<&str> = exported.lines().filter_map(|l| l.split_whitespace().next()).collect();
    if api.iter().any(|s| !s.starts_with("kwasm_rt_")) {
        return Err(format!("{}.o exports non-API symbols: {api:?}", v.object));
    }
    // SSE register use: everywhere in the SSE object (floats, and memcpy), nowhere in the soft one.
    let asm = output(Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(&object))?;
    let sse_lines = asm.lines().filter(|l| l.contains("%xmm") || l.contains("%ymm") || l.contains("%zmm")).count();
    if v.sse != (sse_lines > 0) {
        return Err(format!(
            "{}.o ({}) has {sse_lines} instructions on SSE/AVX registers; expected {}",
            v.object,
            v.target,
            if v.sse { "some (hard-float target)" } else { "none (soft-float: the kernel does not save them)" }
        ));
    }
    // The SSE object: glue calls go through the FPU wrappers; every wrapper must exist.
    // The soft object: its API gets its own names so that both objects link into one module.
    let mut renames = String::new();
    if v.sse {
        let mut glue = String::new();
        for f in MODULE_FILES.iter().filter(|f| f.ends_with(".c")) {
            glue.push_str(&fs::read_to_string(root.join("kmod").join(f)).map_err(|e| format!("kmod/{f}: {e}"))?);
        }
        for sym in undefined.iter().filter(|s| !FPU_SAFE_CALLS.contains(s)) {
            let wrapper = fpu_wrapper(sym);
            if !glue.contains(&wrapper) {
                return Err(format!(
                    "rt.o (SSE) calls {sym}, but no kmod/*.c file has {wrapper}: add one (KWASM_FPU_HOST_CALL), \
                     or list {sym} in FPU_SAFE_CALLS if it can neither sleep nor use the FPU"
                ));
            }
            renames.push_str(&format!("{sym} {wrapper}\n"));
        }
    }
    if v.api_prefix != "kwasm_rt_" {
        for sym in &api {
            renames.push_str(&format!("{sym} {}{}\n", v.api_prefix, &sym["kwasm_rt_".len()..]));
        }
    }
    if !renames.is_empty() {
        let list = out.join(format!("{}.renames", v.object));
        fs::write(&list, renames).map_err(|e| e.to_string())?;
        run(Command::new("objcopy").arg(format!("--redefine-syms={}", list.display())).arg(&object))?;
    }
    let size = fs::metadata(&object).map(|m| m.len()).unwrap_or(0);
    p.say(format!(
        "{}: {}.o {:.0} KiB, {} API symbols ({}*), relocations ok, {sse_lines} SSE register uses",
        v.object,
        v.object,
        size as f64 / 1024.0,
        api.len(),
        v.api_prefix
    ));
    Ok(object)
}

/// Builds kwasm.ko (and the kernel first, if needed).
pub fn build(p: &Progress) -> Result<KmodBuild, String> {
    build_with(p, &Tiers::default())
}

/// Builds kwasm.ko with JIT `tiers` in its SSE runtime (in `target/kmod-jit`, so that the default
/// module in `target/kmod` and its caches stay as they are).
pub fn build_with(p: &Progress, tiers: &Tiers) -> Result<KmodBuild, String> {
    check_abi_doc(false)?;
    check_uapi_layout(p)?;
    let kernel = kernel::ensure(p)?;
    let root = kernel::repo_root();
    let out = target_root(&root).join(format!("kmod{}", tiers.suffix()));
    fs::create_dir_all(out.join("include")).map_err(|e| e.to_string())?;
    for v in RT_VARIANTS {
        let object = build_rt(&root, &out, v, tiers, p)?;
        stage(&object, &out.join(format!("{}.o_shipped", v.object)))?;
        let _ = fs::remove_file(&object);
    }
    for f in MODULE_FILES {
        stage(&root.join("kmod").join(f), &out.join(f))?;
    }
    for h in HEADERS {
        let name = Path::new(h).file_name().expect("header name");
        stage(&root.join("kmod").join(h), &out.join("include").join(name))?;
    }
    p.say(format!("module: make M={} modules", out.display()));
    let mut cmd = kernel::kernel_make(&kernel.src);
    cmd.arg(format!("M={}", out.display())).arg("modules");
    if tiers.any() {
        // The glue's executable-memory functions (Kbuild: -DKWASM_JIT).
        cmd.arg("KWASM_JIT=y");
    }
    run_logged(&mut cmd, &out.join("build.log"), p, "module build")?;
    let log = fs::read_to_string(out.join("build.log")).unwrap_or_default();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("warning") || l.contains("WARNING")).collect();
    if !warnings.is_empty() {
        for w in &warnings {
            eprintln!("  | {w}");
        }
        return Err(format!("module build printed {} warning(s); see {}/build.log", warnings.len(), out.display()));
    }
    let ko = out.join("kwasm.ko");
    let size = fs::metadata(&ko).map(|m| m.len()).map_err(|e| format!("{}: {e}", ko.display()))?;
    p.say(format!("module: {} ({:.0} KiB)", ko.display(), size as f64 / 1024.0));
    Ok(KmodBuild { ko, kernel })
}

pub fn main(args: &[String]) -> Result<(), String> {
    let usage = "usage: cargo xtask kmod [--write-doc | --tiers baseline,optimizing]";
    let tiers = match args {
        [] => Tiers::default(),
        [a] if a == "--write-doc" => return check_abi_doc(true),
        [a, list] if a == "--tiers" => Tiers::parse(list)?,
        _ => return Err(format!("kmod: unexpected arguments {args:?} ({usage})")),
    };
    let p = Progress::new("kmod");
    build_with(&p, &tiers)?;
    Ok(())
}

/// `kmod/sysfs-kernel-kwasm`: the Documentation/ABI-style description of `/sys/kernel/kwasm/`,
/// generated from the runtime's knob table (so it cannot drift from it).
pub fn abi_doc() -> String {
    use kwasm_runtime::knobs::KNOBS;
    use std::fmt::Write as _;
    let mut s = String::from(
        "# /sys/kernel/kwasm/ — generated by `cargo xtask kmod --write-doc` from runtime/src/knobs.rs;\n\
         # `cargo xtask kmod` fails when this file is out of date.\n\n",
    );
    for k in KNOBS {
        let _ = write!(
            s,
            "What:\t\t/sys/kernel/kwasm/{}\nDate:\t\t2026\nContact:\tkwasm project\nDescription:\n\t\t(RW) {}\n\t\tValues: {}. Default: {}.\n\t\tReads return the value and a newline. Writes need CAP_SYS_ADMIN\n\t\t(else EPERM); a value outside the range is rejected with EINVAL.\n\t\tA run started through /dev/kwasm uses the values current at its start.\n\n",
            k.name,
            k.meaning,
            k.render_range(),
            k.render(k.default)
        );
    }
    let stats: &[(&str, &str)] = &[
        ("opens", "Successful opens of /dev/kwasm since load."),
        ("open_denied", "Opens refused by the driver (no CAP_SYS_ADMIN, not in the `group`)."),
        ("open_files", "Open file descriptions of /dev/kwasm now."),
        ("ioctls", "ioctl calls on /dev/kwasm since load."),
        ("knob_writes", "Accepted knob writes since load."),
        ("knob_rejected", "Knob writes rejected with EINVAL since load."),
        ("heap_bytes", "Bytes of runtime heap (kvmalloc) in use now."),
        ("heap_peak_bytes", "High-water mark of heap_bytes since load."),
        ("heap_alloc_failures", "Runtime heap allocations that failed since load."),
        ("instances_live", "WebAssembly instances alive now."),
        ("instances_total", "WebAssembly instances created since load."),
        ("stack_size_bytes", "Size of the stack each /dev/kwasm ioctl runs the runtime on (vmalloc'd per call)."),
        ("stack_peak_bytes", "Deepest use of that stack by any ioctl since load (measured by painting it)."),
        (
            "fpu_sections",
            "Kernel FPU sections opened around calls into the SSE runtime (each ioctl of a file whose \
             fpu_mode is notifier or bracket, and each sysfs/release call into it).",
        ),
        (
            "fpu_suspends",
            "Times a section was closed around a host call that may sleep (allocation, user copy, \
             file read/write, fd reference) and reopened afterwards.",
        ),
        ("fpu_slices", "Fuel-slice boundaries in bracket mode (kernel_fpu_end, reschedule point, kernel_fpu_begin)."),
        (
            "fpu_sched_out",
            "notifier mode: times a task was switched out in the middle of kernel-mode wasm and its \
             registers saved (XSAVE) by the preempt notifier.",
        ),
        (
            "fpu_migrations",
            "notifier mode: of those, times the task resumed on another CPU (registers restored there).",
        ),
        ("fpu_xsave_mask", "XSAVE components the notifier saves (1 x87, 2 SSE, 4 AVX); 0 means FXSAVE (no XSAVE)."),
    ];
    for (name, what) in stats {
        let _ = write!(
            s,
            "What:\t\t/sys/kernel/kwasm/stats/{name}\nDate:\t\t2026\nContact:\tkwasm project\nDescription:\n\t\t(RO) {what}\n\t\tA decimal number and a newline.\n\n"
        );
    }
    // The runtime's own counters (runtime/src/kstats.rs), summed over both runtimes.
    for (name, what) in kwasm_runtime::kstats::global() {
        let _ = write!(
            s,
            "What:\t\t/sys/kernel/kwasm/stats/{name}\nDate:\t\t2026\nContact:\tkwasm project\nDescription:\n\t\t(RO) {what}\n\t\tA decimal number and a newline; counted since the module was loaded.\n\n"
        );
    }
    s.push_str(
        "What:\t\t/sys/kernel/kwasm/instances/\nDate:\t\t2026\nContact:\tkwasm project\nDescription:\n\t\tOne directory per live store: an open /dev/kwasm file with a LOAD'ed\n\t\tprogram or a session. Named by a number counted up from 1 since load\n\t\t(never reused); created after the LOAD or SESSION ioctl, removed by\n\t\tRELEASE or the last close. Its files are read-only counters, each a\n\t\tdecimal number and a newline, readable while the store runs.\n\n",
    );
    for (name, what) in kwasm_runtime::kstats::INSTANCE {
        let _ = write!(
            s,
            "What:\t\t/sys/kernel/kwasm/instances/<id>/{name}\nDate:\t\t2026\nContact:\tkwasm project\nDescription:\n\t\t(RO) {what}\n\n"
        );
    }
    s
}

/// Checks (or with `write`, rewrites) `kmod/sysfs-kernel-kwasm`.
fn check_abi_doc(write: bool) -> Result<(), String> {
    let path = kernel::repo_root().join("kmod/sysfs-kernel-kwasm");
    let want = abi_doc();
    if write {
        return fs::write(&path, want).map_err(|e| e.to_string());
    }
    if fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
        return Err(format!("{} is out of date: run `cargo xtask kmod --write-doc`", path.display()));
    }
    Ok(())
}

/// Compiles `_Static_assert`s generated from `kwasm_runtime::kabi` against
/// `kmod/include/uapi/kwasm.h`: every size, field offset and constant must agree.
fn check_uapi_layout(p: &Progress) -> Result<(), String> {
    use std::fmt::Write as _;
    let root = kernel::repo_root();
    let out = target_root(&root).join("kmod");
    fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let facts = kwasm_runtime::kabi::layout_facts();
    let mut c = String::from("#include <stddef.h>\n#include \"uapi/kwasm.h\"\n");
    for (expr, value) in &facts {
        let _ = writeln!(
            c,
            "_Static_assert((unsigned long long)({expr}) == {value}ULL, \"{expr} != {value} (runtime/src/kabi.rs)\");"
        );
    }
    let file = out.join("kabi_check.c");
    fs::write(&file, c).map_err(|e| e.to_string())?;
    run(Command::new("gcc")
        .args(["-fsyntax-only", "-Wall", "-Werror", "-I"])
        .arg(root.join("kmod/include"))
        .arg(&file))
    .map_err(|e| format!("uapi header and runtime/src/kabi.rs disagree: {e}"))?;
    p.say(format!("uapi: kmod/include/uapi/kwasm.h matches runtime/src/kabi.rs ({} facts)", facts.len()));
    Ok(())
}

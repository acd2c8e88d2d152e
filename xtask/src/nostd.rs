//! `cargo xtask nostd-check`: proves that the runtime core and the interpreter build and run
//! without `std`, the way the kernel module will link them.
//!
//! 1. Builds `kmod/rt` (`kwasm-kmod-rt`: `kwasm-runtime` + `kwasm-interp` with default features
//!    off, a panic handler, a bump allocator and a C ABI self-test) as a staticlib for
//!    `x86_64-unknown-none` with Debian's rustc (`/usr/bin/rustc`, which has rust-src) and
//!    `-Zbuild-std=core,alloc`, using kernel code-generation flags. Only `core` and `alloc` are
//!    built, so any use of `std` fails to compile.
//! 2. Merges the archive into one relocatable object (`ld -r --whole-archive`), drops the embedded
//!    LLVM bitcode and checks it: no undefined symbol outside [`ALLOWED_UNDEFINED`], no symbol from
//!    `std`, only relocation types the kernel's module loader accepts ([`KERNEL_RELOCS`]; in
//!    particular no `R_X86_64_GOTPCREL*`), no SSE/AVX register use.
//! 3. Makes every symbol but the `kwasm_rt_*` API local (as the kernel module build will) and links
//!    the object into a C host program (`kmod/rt/host/selftest.c`, `gcc -no-pie`, since the code is
//!    static relocation model + kernel code model) that runs the embedded module and checks the
//!    results.
//!
//! All of this runs twice: once for the default library (interpreter only, as the kernel module
//! links it) and once for the JIT variant (`--features optimizing,baseline`), whose C host also
//! provides executable memory (mmap RW, then mprotect RX) and compiles the test module with
//! Cranelift and with the baseline tier (dynasm into our no_std sink), running each on a painted
//! stack to measure what a compile takes.
//!
//! The builds use their own target directories (`target/nostd` and `target/nostd-jit`, or the
//! same under `$CARGO_TARGET_DIR`) so that they never disturb the workspace's user-space builds
//! or each other's cache (the JIT variant's cold build, Cranelift with fat LTO, takes minutes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// Debian's rustc 1.96 (package `rustc-web`): the toolchain the kernel build uses.
const RUSTC: &str = "/usr/bin/rustc";
/// Debian's cargo (package `cargo-web`), used when present; else the `cargo` running xtask.
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const TARGET: &str = "x86_64-unknown-none";
/// Code generation as for the kernel (see /work/shared/notes/kernel-toolchain.md): without
/// `relocation-model=static` and `-Z plt=yes`, calls to memcpy and soft-float helpers go through
/// the GOT, which the module loader rejects.
const RUSTFLAGS: &str = "-C relocation-model=static -C code-model=kernel -C no-redzone=y -Z plt=yes";
const APT_HINT: &str = "apt-get install -y --no-install-recommends rustc-web rust-web-src cargo-web";

/// Symbols the object may leave undefined: what the host (kernel glue or C test host) provides.
/// memcpy/memset/memmove/memcmp/bcmp, the soft-float, 128-bit and libm helpers all come from the
/// archive's own `compiler_builtins` (its `mem` functions are on for `x86_64-unknown-none`).
pub const ALLOWED_UNDEFINED: &[&str] = &["kwasm_rt_abort"];

/// What the host must provide in addition when a JIT tier is built in: executable memory.
pub const JIT_UNDEFINED: &[&str] = &["kwasm_rt_exec_alloc", "kwasm_rt_exec_free", "kwasm_rt_exec_protect"];

/// The C API the object exports; every other symbol is made local.
pub const API: &[&str] = &["kwasm_rt_heap_peak", "kwasm_rt_last_error", "kwasm_rt_selftest"];

/// The API the JIT variant adds.
pub const JIT_API: &[&str] = &["kwasm_rt_selftest_tier"];

/// One way of building `kmod/rt`.
pub struct Variant {
    /// For messages and the output directory.
    pub name: &'static str,
    /// Cargo features of `kwasm-kmod-rt`.
    pub features: &'static [&'static str],
    /// Target directory under the nostd root (`target/` or `$CARGO_TARGET_DIR`).
    pub target_subdir: &'static str,
    /// Symbols the host provides.
    pub undefined: Vec<&'static str>,
    /// Symbols left global.
    pub api: Vec<&'static str>,
    /// `-D` flags for the C host.
    pub host_defines: &'static [&'static str],
}

impl Variant {
    /// Runtime + interpreter, as the kernel module links it today.
    pub fn default_lib() -> Self {
        Variant {
            name: "runtime + interp",
            features: &[],
            target_subdir: "nostd",
            undefined: ALLOWED_UNDEFINED.to_vec(),
            api: API.to_vec(),
            host_defines: &[],
        }
    }

    /// Runtime + interpreter + the optimizing and baseline tiers.
    pub fn jit() -> Self {
        Variant {
            name: "runtime + interp + optimizing + baseline",
            features: &["optimizing", "baseline"],
            target_subdir: "nostd-jit",
            undefined: [ALLOWED_UNDEFINED, JIT_UNDEFINED].concat(),
            api: [API, JIT_API].concat(),
            host_defines: &["-DKWASM_RT_JIT"],
        }
    }
}

/// Relocation types the Linux 6.12 x86-64 module loader (`apply_relocate_add`) accepts.
pub const KERNEL_RELOCS: &[&str] = &[
    "R_X86_64_NONE",
    "R_X86_64_64",
    "R_X86_64_32",
    "R_X86_64_32S",
    "R_X86_64_PC32",
    "R_X86_64_PLT32",
    "R_X86_64_PC64",
];

/// Where the build puts things.
pub struct NostdBuild {
    /// The staticlib cargo produced.
    pub archive: PathBuf,
    /// The archive merged into one object (`ld -r`), without the embedded bitcode.
    pub merged: PathBuf,
    /// `merged` with every symbol but the [`API`] made local: what a kernel module links.
    pub object: PathBuf,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent directory").to_path_buf()
}

fn target_dir(root: &Path, subdir: &str) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join(subdir),
        None => root.join("target").join(subdir),
    }
}

pub struct Progress(Instant);

impl Progress {
    pub fn say(&self, msg: impl AsRef<str>) {
        println!("[nostd-check {:>6.1}s] {}", self.0.elapsed().as_secs_f64(), msg.as_ref());
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd`, returning its output; fails (with stderr) if it cannot start or exits non-zero.
fn output(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.output().map_err(|e| format!("cannot run `{}`: {e}", describe(cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed ({}):\n{}{}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out)
}

fn stdout_of(cmd: &mut Command) -> Result<String, String> {
    Ok(String::from_utf8_lossy(&output(cmd)?.stdout).into_owned())
}

/// Runs `cmd` with inherited stdout/stderr (for cargo's own progress).
fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot run `{}`: {e}", describe(cmd)))?;
    if !status.success() {
        return Err(format!("`{}` failed ({status})", describe(cmd)));
    }
    Ok(())
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

/// Checks that Debian's rustc with its library source and the binutils/gcc tools are installed.
fn preflight(p: &Progress) -> Result<PathBuf, String> {
    if !Path::new(RUSTC).is_file() {
        return Err(format!(
            "{RUSTC} (Debian's rustc 1.96, which has rust-src) is missing; install it with: {APT_HINT}"
        ));
    }
    let version = stdout_of(Command::new(RUSTC).arg("--version"))?;
    let sysroot = stdout_of(Command::new(RUSTC).args(["--print", "sysroot"]))?;
    let library = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library");
    if !library.join("core/Cargo.toml").is_file() || !library.join("alloc/Cargo.toml").is_file() {
        return Err(format!(
            "the Rust library source for {RUSTC} is missing (looked in {}); install it with: {APT_HINT}",
            library.display()
        ));
    }
    let cargo = if Path::new(DEBIAN_CARGO).is_file() {
        PathBuf::from(DEBIAN_CARGO)
    } else {
        PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
    };
    for (tool, pkg) in [("ld", "binutils"), ("objcopy", "binutils"), ("nm", "binutils"), ("readelf", "binutils")] {
        if !on_path(tool) {
            return Err(format!("`{tool}` not found; install it with: apt-get install -y {pkg}"));
        }
    }
    if !on_path("objdump") {
        return Err("`objdump` not found; install it with: apt-get install -y binutils".into());
    }
    if !on_path("gcc") {
        return Err("`gcc` not found; install it with: apt-get install -y gcc".into());
    }
    p.say(format!("toolchain: {} (library source: {}), cargo: {}", version.trim(), library.display(), cargo.display()));
    Ok(cargo)
}

/// Builds `kmod/rt` for the kernel target and produces the object a kernel module links.
pub fn build(root: &Path, cargo: &Path, variant: &Variant, p: &Progress) -> Result<NostdBuild, String> {
    let tdir = target_dir(root, variant.target_subdir);
    let manifest = root.join("kmod/rt/Cargo.toml");
    p.say(format!(
        "building kwasm-kmod-rt ({}; crate features {:?}, dependencies without default features) as a staticlib \
         for {TARGET} (-Zbuild-std=core,alloc; RUSTFLAGS: {RUSTFLAGS}; target dir {})",
        variant.name,
        variant.features,
        tdir.display()
    ));
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "-Zbuild-std=core,alloc", "--target", TARGET, "--manifest-path"])
        .arg(&manifest)
        .env("RUSTC", RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", RUSTFLAGS)
        .env("CARGO_TARGET_DIR", &tdir);
    if !variant.features.is_empty() {
        cmd.arg("--features").arg(variant.features.join(","));
    }
    // Nothing from the outer (rustup, user-space) build may leak into this one.
    for var in [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTDOC",
        "RUSTUP_TOOLCHAIN",
    ] {
        cmd.env_remove(var);
    }
    let t = Instant::now();
    run(&mut cmd)?;
    let archive = tdir.join(TARGET).join("release/libkwasm_kmod_rt.a");
    if !archive.is_file() {
        return Err(format!("cargo succeeded but {} does not exist", archive.display()));
    }
    p.say(format!(
        "built {} ({} KiB) in {:.1}s",
        archive.display(),
        std::fs::metadata(&archive).map(|m| m.len() / 1024).unwrap_or(0),
        t.elapsed().as_secs_f64()
    ));

    let out = tdir.join("check");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let merged = out.join("rt-merged.o");
    let stripped = out.join("rt-global.o");
    let object = out.join("rt.o");
    output(Command::new("ld").args(["-r", "--whole-archive"]).arg(&archive).arg("-o").arg(&merged))?;
    // `.llvmbc`/`.llvmcmd` (embedded bitcode) confuse binutils' LTO plugin and make modpost warn.
    output(
        Command::new("objcopy")
            .args(["--remove-section=.llvmbc", "--remove-section=.llvmcmd"])
            .arg(&merged)
            .arg(&stripped),
    )?;
    let mut localize = Command::new("objcopy");
    for sym in &variant.api {
        localize.arg(format!("--keep-global-symbol={sym}"));
    }
    output(localize.arg(&stripped).arg(&object))?;
    p.say(format!("merged the archive into {} (ld -r --whole-archive; bitcode sections removed)", stripped.display()));
    Ok(NostdBuild { archive, merged: stripped, object })
}

/// The symbol names `nm` lists with `args` (one per line; the name is the last field).
fn nm_names(args: &[&str], file: &Path) -> Result<Vec<String>, String> {
    let text = stdout_of(Command::new("nm").args(args).arg(file))?;
    Ok(text.lines().filter_map(|l| l.split_whitespace().last()).map(str::to_string).collect())
}

/// (a) Undefined symbols: only the variant's allow-list; and nothing from `std`.
fn check_symbols(object: &Path, allowed: &[&str], p: &Progress) -> Result<(), String> {
    let undefined = nm_names(&["-u"], object)?;
    let unexpected: Vec<&String> = undefined.iter().filter(|s| !allowed.contains(&s.as_str())).collect();
    if !unexpected.is_empty() {
        return Err(format!(
            "the no_std object has undefined symbols outside the allow-list {allowed:?} \
             (a kernel module could not resolve them): {unexpected:?}"
        ));
    }
    let all = stdout_of(Command::new("nm").arg("--demangle").arg(object))?;
    let from_std: Vec<&str> = all
        .lines()
        .filter(|l| l.contains(" std::") || l.contains("<std::") || l.contains(" _ZN3std"))
        .take(10)
        .collect();
    if !from_std.is_empty() {
        return Err(format!("symbols from `std` in the no_std object: {from_std:#?}"));
    }
    let defined = all.lines().filter(|l| !l.trim_start().starts_with("U ")).count();
    p.say(format!(
        "symbols ok: {defined} defined, undefined only {undefined:?} (allow-list {allowed:?}); \
         memcpy/memset/soft-float helpers come from compiler_builtins; no std symbols"
    ));
    Ok(())
}

/// (b) Relocation types, counted over every member of the archive and over the merged object.
fn check_relocations(files: &[&Path], p: &Progress) -> Result<(), String> {
    for file in files {
        let text = stdout_of(Command::new("readelf").arg("-rW").arg(file))?;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for line in text.lines() {
            if let Some(ty) = line.split_whitespace().find(|w| w.starts_with("R_X86_64_")) {
                *counts.entry(ty.to_string()).or_default() += 1;
            }
        }
        let bad: Vec<String> = counts
            .iter()
            .filter(|(ty, _)| !KERNEL_RELOCS.contains(&ty.as_str()))
            .map(|(ty, n)| format!("{ty} x{n}"))
            .collect();
        if !bad.is_empty() {
            return Err(format!(
                "{} has relocations the kernel module loader rejects: {} (it accepts {}); \
                 GOTPCREL means some code was not built with -C relocation-model=static -Z plt=yes",
                file.display(),
                bad.join(", "),
                KERNEL_RELOCS.join("/")
            ));
        }
        if counts.is_empty() {
            return Err(format!("no relocations found in {}: readelf output unexpected", file.display()));
        }
        let summary: Vec<String> = counts.iter().map(|(ty, n)| format!("{ty} x{n}")).collect();
        p.say(format!("relocations ok in {}: {}", file.display(), summary.join(", ")));
    }
    Ok(())
}

/// (c) No SSE/AVX registers: the kernel does not save them around our code (x86_64-unknown-none is
/// soft-float, so this holds by construction; a stray target-feature flag would break it).
fn check_no_simd(object: &Path, p: &Progress) -> Result<(), String> {
    let text = stdout_of(Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(object))?;
    let hits: Vec<&str> =
        text.lines().filter(|l| l.contains("%xmm") || l.contains("%ymm") || l.contains("%zmm")).take(5).collect();
    if !hits.is_empty() {
        return Err(format!("SSE/AVX instructions in the kernel-target object: {hits:#?}"));
    }
    p.say("no SSE/AVX register use in the code");
    Ok(())
}

/// Section sizes of the object, for the log.
fn sizes(object: &Path) -> String {
    let text = stdout_of(Command::new("size").arg(object)).unwrap_or_default();
    let nums: Vec<&str> = text.lines().nth(1).map(|l| l.split_whitespace().take(3).collect()).unwrap_or_default();
    match nums.as_slice() {
        [t, d, b] => format!("text {t} B, data {d} B, bss {b} B"),
        _ => "sizes unknown".to_string(),
    }
}

/// (d) Links the localized object into the C host and runs it.
fn run_c_host(root: &Path, build: &NostdBuild, variant: &Variant, p: &Progress) -> Result<(), String> {
    let object = &build.object;
    let globals = nm_names(&["-g", "--defined-only"], object)?;
    let mut want: Vec<String> = variant.api.iter().map(|s| s.to_string()).collect();
    want.sort();
    let mut got = globals.clone();
    got.sort();
    if got != want {
        return Err(format!("after localizing, the global symbols are {got:?}, expected exactly {want:?}"));
    }
    p.say(format!(
        "localized {}: global symbols are exactly the API {:?} ({})",
        object.display(),
        variant.api,
        sizes(object)
    ));
    let rt = root.join("kmod/rt");
    let exe = object.with_file_name("selftest");
    output(
        Command::new("gcc")
            .args(["-O2", "-no-pie", "-Wall", "-Wextra", "-Werror"])
            .args(variant.host_defines)
            .arg("-I")
            .arg(rt.join("include"))
            .arg(rt.join("host/selftest.c"))
            .arg(object)
            .arg("-o")
            .arg(&exe),
    )?;
    p.say(format!(
        "linked the C host {} (gcc -no-pie {}host/selftest.c rt.o); running it:",
        exe.display(),
        variant.host_defines.iter().map(|d| format!("{d} ")).collect::<String>()
    ));
    let out = Command::new(&exe).output().map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(format!("the C host {} failed ({})", exe.display(), out.status));
    }
    if !String::from_utf8_lossy(&out.stdout).contains("all checks passed") {
        return Err("the C host exited 0 but did not report `all checks passed`".into());
    }
    Ok(())
}

/// `cargo xtask nostd-check`.
pub fn main(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("nostd-check takes no arguments (got {a:?})"));
    }
    let p = Progress(Instant::now());
    let root = repo_root();
    let cargo = preflight(&p)?;
    for variant in [Variant::default_lib(), Variant::jit()] {
        let build = build(&root, &cargo, &variant, &p)?;
        check_symbols(&build.merged, &variant.undefined, &p)?;
        check_relocations(&[&build.archive, &build.object], &p)?;
        check_no_simd(&build.object, &p)?;
        run_c_host(&root, &build, &variant, &p)?;
        p.say(format!("PASS ({}): builds without std for the kernel target, links into C and runs wasm", variant.name));
    }
    Ok(())
}

//! `cargo xtask kernel`: builds (once) the Rust-for-Linux kernel that kwasm.ko runs on.
//!
//! Steps: install missing Debian packages, install bindgen-cli 0.71.1, extract Debian's
//! `linux-source-6.12`, apply `kmod/patches/*.patch`, configure (`tinyconfig` + `kmod/kernel.config`,
//! every fragment line verified), build `bzImage modules`. The tree is cached outside the clone in
//! `${KWASM_CACHE:-$HOME/.cache/kwasm}/kernel-<hash>/`, the hash covering the source package version,
//! the fragment, the patches, the Rust toolchain and this recipe; a second run is a cache hit. An
//! interrupted build resumes in the same directory (make is incremental); a `READY` file marks a
//! finished one.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bump when the build recipe below changes in a way that changes the result.
const RECIPE: &str = "kwasm-kernel-recipe-1";
/// Debian package with the kernel source tarball.
const SOURCE_PKG: &str = "linux-source-6.12";
const SOURCE_TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
const SOURCE_DIR: &str = "linux-source-6.12";
/// The Rust compiler the kernel (and every module build) must use: Debian's, which has rust-src.
pub const KERNEL_RUSTC: &str = "/usr/bin/rustc";
pub const KERNEL_CARGO: &str = "/usr/bin/cargo";
const LIBCLANG_PATH: &str = "/usr/lib/llvm-19/lib";
const BINDGEN_VERSION: &str = "0.71.1";

/// Debian packages needed by the kernel build, the module build and the VM tests.
const PACKAGES: &[&str] = &[
    "linux-source-6.12",
    "rustc-web",
    "rust-web-src",
    "cargo-web",
    "libclang-dev",
    "clang-19",
    "lld-19",
    "llvm-19",
    "libclang-19-dev",
    "flex",
    "bison",
    "bc",
    "libelf-dev",
    "libssl-dev",
    "cpio",
    "busybox-static",
    "zstd",
    "xz-utils",
    "make",
    "pahole",
    "rsync",
    "kmod",
    "qemu-system-x86",
    // Not always on a minimal image: the patch step, the C compiler and the static libc that
    // vm-test's helper links against.
    "patch",
    "gcc",
    "libc6-dev",
    "binutils",
    "perl",
];

/// A finished kernel build.
pub struct KernelTree {
    /// The built source tree (`make -C` target for out-of-tree modules).
    pub src: PathBuf,
    /// `arch/x86/boot/bzImage`.
    pub bzimage: PathBuf,
}

/// Prints progress lines with the time since the command started.
pub struct Progress {
    start: Instant,
    tag: &'static str,
}

impl Progress {
    pub fn new(tag: &'static str) -> Self {
        Progress { start: Instant::now(), tag }
    }
    pub fn say(&self, msg: impl AsRef<str>) {
        let t = self.start.elapsed().as_secs_f64();
        println!("[{} {:>7.1}s] {}", self.tag, t, msg.as_ref());
        let _ = std::io::stdout().flush();
    }
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The repository root (xtask lives in `<root>/xtask`).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().expect("xtask has a parent directory").to_path_buf()
}

/// `${KWASM_CACHE:-$HOME/.cache/kwasm}`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("KWASM_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/kwasm")
}

/// Where `cargo install` puts bindgen.
fn bindgen_path() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"));
    cargo_home.join("bin/bindgen")
}

/// The variables every kernel `make` (kernel and module builds) needs.
pub fn make_vars() -> Vec<String> {
    vec![
        format!("RUSTC={KERNEL_RUSTC}"),
        format!("HOSTRUSTC={KERNEL_RUSTC}"),
        format!("BINDGEN={}", bindgen_path().display()),
    ]
}

/// A `make` command for the kernel tree, with a clean Rust environment (no rustup overrides, no
/// cargo variables leaking in from `cargo xtask`).
pub fn kernel_make(tree: &Path) -> Command {
    let mut cmd = Command::new("make");
    cmd.arg("-C").arg(tree).args(make_vars());
    clean_rust_env(&mut cmd);
    cmd.env("LIBCLANG_PATH", LIBCLANG_PATH);
    cmd
}

/// Removes variables set by rustup/cargo for xtask itself that would confuse nested builds.
pub fn clean_rust_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("CARGO_") && k != "CARGO_HOME"
            || k.starts_with("RUSTUP_TOOLCHAIN")
            || k == "RUSTC"
            || k == "RUSTC_WRAPPER"
            || k == "RUSTFLAGS"
            || k == "RUSTDOC"
            || k == "CARGO"
            || k == "MAKEFLAGS"
            || k == "MFLAGS"
        {
            cmd.env_remove(&k);
        }
    }
}

/// Runs a command, failing with its name on a non-zero status.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}"));
    }
    Ok(())
}

/// Runs a command and returns its stdout.
pub fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.stderr(Stdio::inherit()).output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a long command with its output in `log`, printing a heartbeat every 30 s and the log's
/// tail on failure.
pub fn run_logged(cmd: &mut Command, log: &Path, p: &Progress, what: &str) -> Result<(), String> {
    let file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd.stdout(file).stderr(err).spawn().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let mut last = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if status.success() {
                return Ok(());
            }
            let text = fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            for line in tail.iter().rev() {
                eprintln!("  | {line}");
            }
            return Err(format!("{what} failed ({status}); full log: {}", log.display()));
        }
        if last.elapsed() >= Duration::from_secs(30) {
            last = Instant::now();
            let text = fs::read_to_string(log).unwrap_or_default();
            let n = text.lines().count();
            let latest = text.lines().last().unwrap_or("").trim();
            p.say(format!("  … {what}: {n} log lines, latest: {latest}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn is_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Installs missing Debian packages (waiting up to 15 min for another dpkg user).
pub fn ensure_packages(p: &Progress) -> Result<(), String> {
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !is_installed(p)).collect();
    if missing.is_empty() {
        p.say(format!("packages: all {} present", PACKAGES.len()));
        return Ok(());
    }
    p.say(format!("packages: installing {}", missing.join(" ")));
    let root = output(Command::new("id").arg("-u")).map(|s| s.trim() == "0").unwrap_or(false);
    let mut cmd = if root {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    cmd.env("DEBIAN_FRONTEND", "noninteractive").args([
        "-o",
        "DPkg::Lock::Timeout=900",
        "install",
        "-y",
        "--no-install-recommends",
    ]);
    cmd.args(&missing);
    if run(&mut cmd).is_err() {
        p.say("packages: install failed, running apt-get update and retrying");
        let mut upd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        run(upd.args(["-o", "DPkg::Lock::Timeout=900", "update"]))?;
        run(&mut cmd)?;
    }
    Ok(())
}

/// Installs bindgen-cli (the version the kernel's Rust support accepts with libclang 19).
fn ensure_bindgen(p: &Progress) -> Result<String, String> {
    let path = bindgen_path();
    let version = Command::new(&path)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(v) = version.as_deref().filter(|v| v.contains(BINDGEN_VERSION)) {
        p.say(format!("bindgen: {v} at {}", path.display()));
        return Ok(v.to_string());
    }
    p.say(format!("bindgen: installing bindgen-cli {BINDGEN_VERSION} (cargo install, ~2.5 min)"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).args(["install", "bindgen-cli", "--version", BINDGEN_VERSION, "--locked"]))?;
    let v = output(Command::new(&path).arg("--version"))?;
    Ok(v.trim().to_string())
}

/// Patches in `kmod/patches/`, sorted by name.
fn patches() -> Result<Vec<PathBuf>, String> {
    let dir = repo_root().join("kmod/patches");
    let mut v: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "patch"))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    Ok(v)
}

fn sha256_hex(data: &[u8]) -> Result<String, String> {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("sha256sum: {e}"))?;
    child.stdin.take().expect("piped").write_all(data).map_err(|e| e.to_string())?;
    let mut out = String::new();
    child.stdout.take().expect("piped").read_to_string(&mut out).map_err(|e| e.to_string())?;
    child.wait().map_err(|e| e.to_string())?;
    Ok(out.split_whitespace().next().unwrap_or_default().to_string())
}

/// The cache key: everything that changes the built tree.
fn cache_key(bindgen: &str) -> Result<(String, String), String> {
    let pkg_version = output(Command::new("dpkg-query").args(["-W", "-f=${Version}", SOURCE_PKG]))?;
    let rustc = output(Command::new(KERNEL_RUSTC).arg("-V"))?;
    let fragment = fs::read(repo_root().join("kmod/kernel.config")).map_err(|e| format!("kmod/kernel.config: {e}"))?;
    let mut data = Vec::new();
    let mut describe = format!("{RECIPE}\n{SOURCE_PKG} {pkg_version}\n{}\n{bindgen}\n", rustc.trim());
    data.extend_from_slice(describe.as_bytes());
    data.extend_from_slice(b"--fragment--\n");
    data.extend_from_slice(&fragment);
    for patch in patches()? {
        let name = patch.file_name().unwrap_or_default().to_string_lossy().into_owned();
        describe.push_str(&format!("patch {name}\n"));
        data.extend_from_slice(format!("--patch {name}--\n").as_bytes());
        data.extend_from_slice(&fs::read(&patch).map_err(|e| format!("{}: {e}", patch.display()))?);
    }
    let hash = sha256_hex(&data)?;
    Ok((hash[..16].to_string(), describe))
}

/// Parses `CONFIG_X=v` / `# CONFIG_X is not set` lines into (name, value) pairs.
fn parse_config(text: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# CONFIG_") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                v.push((format!("CONFIG_{name}"), "n".to_string()));
            }
        } else if line.starts_with("CONFIG_") {
            if let Some((k, val)) = line.split_once('=') {
                v.push((k.to_string(), val.to_string()));
            }
        }
    }
    v
}

/// Checks that every line of the fragment survived `olddefconfig`.
fn verify_config(fragment: &str, config: &str) -> Result<(), String> {
    let have = parse_config(config);
    let mut bad = Vec::new();
    for (k, want) in parse_config(fragment) {
        let got = have.iter().find(|(hk, _)| *hk == k).map(|(_, v)| v.as_str()).unwrap_or("n");
        if got != want {
            bad.push(format!("{k}: wanted {want}, got {got}"));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("kernel config lost fragment options:\n  {}", bad.join("\n  ")))
    }
}

/// Builds the kernel unless a cached build exists; returns the tree.
pub fn ensure(p: &Progress) -> Result<KernelTree, String> {
    ensure_packages(p)?;
    let bindgen = ensure_bindgen(p)?;
    let (key, describe) = cache_key(&bindgen)?;
    let dir = cache_root().join(format!("kernel-{key}"));
    let src = dir.join(SOURCE_DIR);
    let tree = KernelTree { bzimage: src.join("arch/x86/boot/bzImage"), src: src.clone() };
    let ready = dir.join("READY");
    if ready.exists() && tree.bzimage.exists() {
        p.say(format!("kernel: cache hit {}", dir.display()));
        return Ok(tree);
    }
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    p.say(format!("kernel: building in {} (key {key})", dir.display()));
    let lock = fs::File::create(dir.join("LOCK")).map_err(|e| e.to_string())?;
    if lock.try_lock().is_err() {
        p.say("kernel: another build holds the lock; waiting for it");
        lock.lock().map_err(|e| e.to_string())?;
        if ready.exists() && tree.bzimage.exists() {
            p.say("kernel: the other build finished; cache hit");
            return Ok(tree);
        }
    }
    fs::write(dir.join("KEY"), &describe).map_err(|e| e.to_string())?;

    // Extract (into a temporary name, renamed when complete).
    if !src.join("Makefile").exists() {
        p.say(format!("extract: {SOURCE_TARBALL}"));
        let tmp = dir.join("extract.tmp");
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        run(Command::new("tar").arg("xf").arg(SOURCE_TARBALL).arg("-C").arg(&tmp))?;
        let _ = fs::remove_dir_all(&src);
        fs::rename(tmp.join(SOURCE_DIR), &src).map_err(|e| e.to_string())?;
        let _ = fs::remove_dir_all(&tmp);
    } else {
        p.say("extract: already done (resuming)");
    }

    // Patches.
    let stamp = src.join(".kwasm-patched");
    if !stamp.exists() {
        for patch in patches()? {
            p.say(format!("patch: {}", patch.file_name().unwrap_or_default().to_string_lossy()));
            let data = fs::read(&patch).map_err(|e| e.to_string())?;
            let mut child = Command::new("patch")
                .args(["-p1", "--forward", "--batch", "-d"])
                .arg(&src)
                .stdin(Stdio::piped())
                .spawn()
                .map_err(|e| format!("patch: {e}"))?;
            child.stdin.take().expect("piped").write_all(&data).map_err(|e| e.to_string())?;
            let st = child.wait().map_err(|e| e.to_string())?;
            if !st.success() {
                return Err(format!("patch {} does not apply", patch.display()));
            }
        }
        fs::write(&stamp, "").map_err(|e| e.to_string())?;
    }

    // Configuration.
    let fragment_path = repo_root().join("kmod/kernel.config");
    let fragment = fs::read_to_string(&fragment_path).map_err(|e| e.to_string())?;
    let config_stamp = src.join(".kwasm-configured");
    if !config_stamp.exists() {
        p.say("config: tinyconfig + kmod/kernel.config");
        run(kernel_make(&src).arg("tinyconfig").stdout(Stdio::null()))?;
        run(Command::new(src.join("scripts/kconfig/merge_config.sh"))
            .current_dir(&src)
            .args(["-m", ".config"])
            .arg(&fragment_path)
            .stdout(Stdio::null()))?;
        run(kernel_make(&src).arg("olddefconfig").stdout(Stdio::null()))?;
        let config = fs::read_to_string(src.join(".config")).map_err(|e| e.to_string())?;
        verify_config(&fragment, &config)?;
        p.say("config: every fragment option is set");
        run(kernel_make(&src).arg("rustavailable").stdout(Stdio::null()))?;
        p.say("config: make rustavailable passes");
        fs::write(&config_stamp, "").map_err(|e| e.to_string())?;
    }

    // Build.
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    p.say(format!("build: make -j{jobs} bzImage modules (~6.5 min on 2 cores; log {}/build.log)", dir.display()));
    let t = Instant::now();
    run_logged(
        kernel_make(&src).arg(format!("-j{jobs}")).args(["bzImage", "modules"]),
        &dir.join("build.log"),
        p,
        "kernel build",
    )?;
    let secs = t.elapsed().as_secs_f64();
    let size = fs::metadata(&tree.bzimage).map(|m| m.len()).unwrap_or(0);
    p.say(format!("build: done in {secs:.0} s, bzImage {:.1} MB", size as f64 / 1e6));
    fs::write(&ready, format!("{describe}build_seconds {secs:.0}\nbzimage_bytes {size}\n"))
        .map_err(|e| e.to_string())?;
    Ok(tree)
}

pub fn main(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        if a == "--path" {
            // Machine-readable: just the tree.
            let p = Progress::new("kernel");
            let t = ensure(&p)?;
            println!("{}", t.src.display());
            return Ok(());
        }
        return Err(format!("kernel: unknown argument {a} (usage: cargo xtask kernel [--path])"));
    }
    let p = Progress::new("kernel");
    let t = ensure(&p)?;
    p.say(format!("ready: {} ({} total)", t.bzimage.display(), fmt_dur(p.elapsed())));
    Ok(())
}

pub fn fmt_dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}

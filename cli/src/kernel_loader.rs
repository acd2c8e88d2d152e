//! `kwasm run --loader kernel FILE.wasm [ARGS...]`: runs a WASI command in kernel mode through
//! `/dev/kwasm` (kwasm.ko), with the same output and exit status as user mode.
//!
//! The module is read here and passed to the kernel with the arguments, the environment and this
//! process's fds 0, 1 and 2 (`KWASM_IOC_LOAD`); `KWASM_IOC_RUN` then runs `_start` in this task, in
//! kernel mode, until it exits, traps or a fatal signal kills the process. The ABI types are
//! `kwasm_runtime::kabi` (the Rust side of `kmod/include/uapi/kwasm.h`).
//!
//! Supported options: `--env K[=V]`, `--fuel N`, `--knob fuel=N|max_memory_pages=N`,
//! `--tier interp`, `--tcplisten ADDR:PORT` and `--dir HOST[::GUEST]` (ABI 3). Everything else is
//! a system-wide setting in `/sys/kernel/kwasm/` (the kernel uses those knobs for every run) and
//! is refused with a message rather than silently ignored.
//!
//! `--tcplisten` and `--dir` work as in user mode, and the privileged part stays here: this
//! process binds and listens (normal permission checks) and opens the directories, and passes
//! the fds; the kernel takes references to them in this task (`sockfd_lookup`/`fget`) and
//! resolves every path the program opens beneath its preopen with `LOOKUP_BENEATH`, as user
//! mode's `openat2(RESOLVE_BENEATH)` does.
//!
//! Hook: `run::main` calls [`intercept`] first; it returns `None` unless `--loader kernel` is
//! among the options.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use kwasm_runtime::kabi;
use kwasm_runtime::knobs::{Knob, Knobs};
use kwasm_runtime::{Module, Trap, TrapKind};

/// The device kwasm.ko provides.
pub(crate) const DEVICE: &str = "/dev/kwasm";

struct KernelRun {
    knobs: Knobs,
    env: Vec<(String, String)>,
    tcplisten: Option<String>,
    /// (host directory, guest path)
    dirs: Vec<(String, String)>,
    file: String,
    args: Vec<String>,
}

/// Handles `kwasm run` when its options contain `--loader kernel` (or `--loader=kernel`);
/// `None` otherwise (including `--loader user`, which is the default).
pub fn intercept(args: &[String]) -> Option<ExitCode> {
    let mut kernel = false;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if !a.starts_with('-') || a == "--" {
            rest.push(a.clone());
            rest.extend(it.by_ref().cloned());
            break;
        }
        match a.as_str() {
            "--loader" => match it.next().map(String::as_str) {
                Some("kernel") => kernel = true,
                Some("user") => {}
                other => {
                    eprintln!("kwasm: --loader takes 'user' or 'kernel', not {other:?}");
                    return Some(ExitCode::from(2));
                }
            },
            "--loader=kernel" => kernel = true,
            "--loader=user" => {}
            _ => rest.push(a.clone()),
        }
    }
    if !kernel {
        return None;
    }
    Some(match parse(&rest) {
        Ok(r) => run(&r),
        Err(e) => {
            eprintln!("kwasm: {e}");
            ExitCode::from(2)
        }
    })
}

fn parse(args: &[String]) -> Result<KernelRun, String> {
    let mut r = KernelRun {
        knobs: Knobs::default(),
        env: Vec::new(),
        tcplisten: None,
        dirs: Vec::new(),
        file: String::new(),
        args: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" || !arg.starts_with('-') {
            let file = if arg == "--" { it.next().ok_or("no module file given")?.clone() } else { arg.clone() };
            r.file = file;
            r.args = it.cloned().collect();
            return Ok(r);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{name} needs a value"));
        match name {
            "--fuel" => r.knobs.set_text(&format!("fuel={}", value()?))?,
            "--tier" => {
                let v = value()?;
                if v != "interp" {
                    return Err(format!("--tier {v}: only the interpreter runs in kernel mode so far"));
                }
            }
            "--knob" => {
                let v = value()?;
                let knob = v.split_once('=').map(|(k, _)| k.trim()).unwrap_or("");
                if knob != "fuel" && knob != "max_memory_pages" {
                    return Err(format!(
                        "--knob {v}: in kernel mode only fuel and max_memory_pages are per run; \
                         set the others in /sys/kernel/kwasm/"
                    ));
                }
                r.knobs.set_text(&v)?;
            }
            "--env" => {
                let v = value()?;
                match v.split_once('=') {
                    Some((k, val)) => r.env.push((k.to_string(), val.to_string())),
                    None => {
                        if let Ok(val) = std::env::var(&v) {
                            r.env.push((v, val));
                        }
                    }
                }
            }
            "--tcplisten" => r.tcplisten = Some(value()?),
            "--dir" => {
                let v = value()?;
                r.dirs.push(match v.split_once("::") {
                    Some((h, g)) => (h.to_string(), g.to_string()),
                    None => (v.clone(), v.clone()),
                });
            }
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    Err("no module file given".into())
}

/// NUL-terminated strings back to back.
fn strings_block<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    for s in items {
        if s.as_bytes().contains(&0) {
            return Err(format!("{s:?} contains a NUL byte"));
        }
        v.extend_from_slice(s.as_bytes());
        v.push(0);
    }
    Ok(v)
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("kwasm: {msg}");
    ExitCode::FAILURE
}

/// `ioctl(fd, cmd, arg)` with the errno on failure.
pub(crate) fn ioctl<T>(dev: &File, cmd: u32, arg: &mut T) -> std::io::Result<()> {
    // SAFETY: `arg` points to a live, properly sized `#[repr(C)]` struct for the duration of the
    // call; `cmd` encodes exactly that size (kabi), so the kernel accesses only that struct and
    // the buffers it points to, which the caller keeps alive.
    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn run(r: &KernelRun) -> ExitCode {
    let bytes = match std::fs::read(&r.file) {
        Ok(b) => b,
        Err(e) => return fail(format_args!("cannot read {}: {e}", r.file)),
    };
    let argv0 = Path::new(&r.file).file_name().map_or(r.file.clone(), |n| n.to_string_lossy().into_owned());
    let args = match strings_block(std::iter::once(argv0.as_str()).chain(r.args.iter().map(String::as_str))) {
        Ok(b) => b,
        Err(e) => return fail(format_args!("argument {e}")),
    };
    let env_pairs: Vec<String> = r.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let env = match strings_block(env_pairs.iter().map(String::as_str)) {
        Ok(b) => b,
        Err(e) => return fail(format_args!("environment variable {e}")),
    };
    let dev = match File::options().read(true).write(true).open(DEVICE) {
        Ok(f) => f,
        Err(e) => {
            return fail(format_args!("cannot open {DEVICE}: {e} (is kwasm.ko loaded, and may this user open it?)"))
        }
    };
    let mut version = kabi::Version::default();
    if let Err(e) = ioctl(&dev, kabi::IOC_VERSION, &mut version) {
        return fail(format_args!("{DEVICE}: version query failed: {e}"));
    }
    // LOAD/RUN are ABI 1; later versions only add to it.
    if version.abi_version < 1 || version.features & kabi::FEATURE_RUN == 0 {
        return fail(format_args!(
            "{DEVICE} speaks ABI {} (features {:#x}); this kwasm needs ABI 1 or later with RUN",
            version.abi_version, version.features
        ));
    }
    // The listening socket and the directories: opened here, passed as fds (see the module doc).
    let needs = (r.tcplisten.is_some(), kabi::FEATURE_LISTEN, "--tcplisten");
    let needs_dirs = (!r.dirs.is_empty(), kabi::FEATURE_PREOPEN_DIRS, "--dir");
    for (wanted, feature, opt) in [needs, needs_dirs] {
        if wanted && version.features & feature == 0 {
            return fail(format_args!(
                "{opt}: the loaded kwasm.ko (ABI {}) does not support it; load a newer module",
                version.abi_version
            ));
        }
    }
    let listener = match &r.tcplisten {
        Some(addr) => match std::net::TcpListener::bind(addr) {
            Ok(l) => Some(l),
            Err(e) => return fail(format_args!("cannot listen on {addr}: {e}")),
        },
        None => None,
    };
    let mut dir_files = Vec::new();
    for (host, _) in &r.dirs {
        let opened = File::options().read(true).custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC).open(host);
        match opened {
            Ok(d) => dir_files.push(d),
            Err(e) => return fail(format_args!("cannot open directory {host}: {e}")),
        }
    }
    let preopens: Vec<kabi::Preopen> = dir_files
        .iter()
        .zip(&r.dirs)
        .map(|(d, (_, guest))| kabi::Preopen {
            fd: d.as_raw_fd(),
            reserved: 0,
            path: guest.as_ptr() as u64,
            path_len: guest.len() as u64,
        })
        .collect();
    let mut load = kabi::Load {
        size: std::mem::size_of::<kabi::Load>() as u64,
        wasm: bytes.as_ptr() as u64,
        wasm_len: bytes.len() as u64,
        args: args.as_ptr() as u64,
        args_len: args.len() as u64,
        env: env.as_ptr() as u64,
        env_len: env.len() as u64,
        stdin_fd: 0,
        stdout_fd: 1,
        stderr_fd: 2,
        listen_fd: listener.as_ref().map_or(-1, |l| l.as_raw_fd()),
        max_memory_pages: r.knobs.get(Knob::MaxMemoryPages),
        fuel: r.knobs.get(Knob::Fuel),
        flags: 0,
        preopens: if preopens.is_empty() { 0 } else { preopens.as_ptr() as u64 },
        npreopens: preopens.len() as u64,
        reserved: [0; 2],
    };
    if let Err(e) = ioctl(&dev, kabi::IOC_LOAD, &mut load) {
        return fail(match e.raw_os_error() {
            Some(libc::ENOEXEC) => format!("{}: not a valid WebAssembly module, or it cannot be instantiated", r.file),
            Some(libc::ENOENT) => "the module exports no `_start` function (it is not a WASI command)".into(),
            Some(libc::E2BIG) => format!("{}: too large for the kernel loader", r.file),
            Some(libc::ENOTDIR) => "a --dir is not a directory".into(),
            _ => format!("{DEVICE}: load failed: {e}"),
        });
    }
    let mut result = kabi::RunResult { size: std::mem::size_of::<kabi::RunResult>() as u64, ..Default::default() };
    if let Err(e) = ioctl(&dev, kabi::IOC_RUN, &mut result) {
        return fail(format_args!("{DEVICE}: run failed: {e}"));
    }
    match result.outcome {
        // Like a native process: only the low 8 bits of the status survive.
        kabi::OUTCOME_EXIT => ExitCode::from(result.exit_code as u8),
        kabi::OUTCOME_KILLED => fail("the program was stopped by a signal"),
        _ => {
            let kind = kabi::trap_from_number(result.trap_kind)
                .unwrap_or_else(|| TrapKind::Host(format!("unknown trap kind {}", result.trap_kind)));
            let trap = Trap {
                kind,
                func: (result.trap_func != u32::MAX).then_some(result.trap_func),
                offset: u32::try_from(result.trap_offset).ok(),
            };
            // The same message as user mode, with function names from the module.
            match Module::new(&bytes) {
                Ok(m) => eprintln!("kwasm: {}", crate::run::describe(&trap, &m)),
                Err(_) => eprintln!("kwasm: trap: {}", trap.kind.message()),
            }
            ExitCode::from(crate::run::TRAP_EXIT)
        }
    }
}

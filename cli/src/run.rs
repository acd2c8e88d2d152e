//! `kwasm run`: run a WASI command module, with the habits of `wasmtime run`.
//!
//! ```text
//! kwasm run [--tier auto|interp|baseline|optimizing] [--tier-log FILE] [--dir HOST[::GUEST]]...
//!           [--env K[=V]]... [--tcplisten ADDR] [--fuel N] [--knob NAME=VALUE]... FILE.wasm [ARGS...]
//! ```
//!
//! `--tier auto` (the default) starts every function in the interpreter and promotes hot ones to
//! the baseline and then the optimizing JIT (knobs `tier_up`, `*_threshold`, `*_enabled`); a tier
//! name pins every function to that one tier. `--tier-log FILE` writes the tier timeline (one
//! CSV line per promotion or refusal, `kwasm_runtime::tiering::TierEvent`) at exit.
//!
//! The guest's argv\[0\] is the file name of the module; options end at the module file, so
//! everything after it goes to the guest. The exit status is the guest's `proc_exit` code (0 if
//! `_start` returns), 134 after a trap, 1 when the module cannot be loaded or linked and 2 for a
//! bad command line. Every failure is one line on stderr starting with `kwasm: `.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::os::fd::IntoRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use kwasm_runtime::wasi::{self, WasiCtx};
use kwasm_runtime::{Error, Extern, Knobs, Linker, Module, Store, Trap, TrapKind};

use crate::platform::StdPlatform;

/// Exit status after a trap (what an `abort()`ing native program reports: 128 + SIGABRT).
pub const TRAP_EXIT: u8 = 134;

const USAGE: &str = "usage: kwasm run [--tier auto|interp|baseline|optimizing] [--tier-log FILE] [--dir HOST[::GUEST]]... \
[--env K[=V]]... [--tcplisten ADDR] [--fuel N] [--knob NAME=VALUE]... [--loader user|kernel] [--perf-map] FILE.wasm [ARGS...]";

/// A parsed `kwasm run` command line.
#[derive(Debug, Default)]
struct RunOptions {
    knobs: Knobs,
    /// `(host, guest)` directory pairs, in command-line order.
    dirs: Vec<(String, String)>,
    /// Guest environment, in command-line order.
    env: Vec<(String, String)>,
    tcplisten: Option<String>,
    /// Write `/tmp/perf-PID.map` (compiled functions' addresses) for `perf report` at exit.
    perf_map: bool,
    /// Write the tier timeline as CSV to this file at exit.
    tier_log: Option<String>,
    file: String,
    /// Arguments after the module file.
    args: Vec<String>,
}

/// Parses the command line (everything after `run`).
fn parse(args: &[String]) -> Result<RunOptions, String> {
    let mut o = RunOptions::default();
    crate::set_tier(&mut o.knobs, "auto")?;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            o.file = arg.clone();
            o.args = it.cloned().collect();
            return Ok(o);
        }
        // Both `--opt value` and `--opt=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{name} needs a value"));
        match name {
            "--tier" => crate::set_tier(&mut o.knobs, &value()?)?,
            "--tier-log" => o.tier_log = Some(value()?),
            "--fuel" => o.knobs.set_text(&format!("fuel={}", value()?))?,
            "--knob" => o.knobs.set_text(&value()?)?,
            "--dir" => {
                let v = value()?;
                let (host, guest) = match v.split_once("::") {
                    Some((h, g)) => (h.to_string(), g.to_string()),
                    None => (v.clone(), v.clone()),
                };
                o.dirs.push((host, guest));
            }
            "--env" => {
                let v = value()?;
                match v.split_once('=') {
                    Some((k, val)) => o.env.push((k.to_string(), val.to_string())),
                    // `--env NAME` passes the host's value on, as wasmtime does.
                    None => {
                        if let Ok(val) = std::env::var(&v) {
                            o.env.push((v, val));
                        }
                    }
                }
            }
            "--tcplisten" => o.tcplisten = Some(value()?),
            "--perf-map" => o.perf_map = true,
            // `--loader kernel` never gets here (see `kernel_loader::intercept`).
            "--loader" => match value()?.as_str() {
                "user" => {}
                other => return Err(format!("--loader takes 'user' or 'kernel', not '{other}'")),
            },
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    match it.next() {
        Some(file) => {
            o.file = file.clone();
            o.args = it.cloned().collect();
            Ok(o)
        }
        None => Err("no module file given".into()),
    }
}

/// `kwasm run`.
pub fn main(args: &[String]) -> ExitCode {
    if let Some(code) = crate::kernel_loader::intercept(args) {
        return code;
    }
    match parse(args) {
        // Mixed-tier runs nest interpreter activations between compiled frames on the native
        // stack: give them the room `kwasm wast` gives scripts.
        Ok(opts) => crate::wast::on_script_stack(|| run(&opts)).unwrap_or_else(fail),
        Err(e) => {
            eprintln!("kwasm: {e}");
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// One failure line and exit status 1.
fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("kwasm: {msg}");
    ExitCode::FAILURE
}

fn run(o: &RunOptions) -> ExitCode {
    if let Err(e) = ensure_stdio_open() {
        return fail(format_args!("cannot open /dev/null for a closed standard stream: {e}"));
    }
    let bytes = match std::fs::read(&o.file) {
        Ok(b) => b,
        Err(e) => return fail(format_args!("cannot read {}: {e}", o.file)),
    };
    let module = match Module::new(&bytes) {
        Ok(m) => Arc::new(m),
        Err(e) => return fail(e),
    };

    let mut wasi = WasiCtx::builder().stdin(0).stdout(1).stderr(2);
    let argv0 = Path::new(&o.file).file_name().map_or(o.file.clone(), |n| n.to_string_lossy().into_owned());
    wasi = wasi.arg(argv0).args(o.args.iter().cloned());
    for (k, v) in &o.env {
        wasi = wasi.env(k, v);
    }
    if let Some(addr) = &o.tcplisten {
        match TcpListener::bind(addr) {
            Ok(l) => wasi = wasi.preopened_socket(l.into_raw_fd() as u64),
            Err(e) => return fail(format_args!("cannot listen on {addr}: {e}")),
        }
    }
    for (host, guest) in &o.dirs {
        match open_dir(host) {
            Ok(d) => wasi = wasi.preopened_dir(d.into_raw_fd() as u64, guest.clone()),
            Err(e) => return fail(format_args!("cannot open directory {host}: {e}")),
        }
    }

    let tier = crate::make_tier(&o.knobs);
    let mut store = Store::new(tier, o.knobs.clone(), Box::new(StdPlatform::new()));
    crate::wast::limit_native_stack(&mut store);
    store.wasi = Some(wasi.build());
    let mut linker = Linker::new();
    wasi::add_to_linker(&mut linker, &mut store);

    let instance = match linker.instantiate(&mut store, module.clone()) {
        Ok(i) => i,
        Err(Error::Trap(t)) => return trapped(&t, &module),
        Err(e) => return fail(e),
    };
    let Some(Extern::Func(start)) = store.export(instance, "_start") else {
        return fail("the module exports no `_start` function (it is not a WASI command)");
    };
    let ty = &store.funcs[start as usize].ty;
    if !ty.params.is_empty() || !ty.results.is_empty() {
        return fail(format_args!("`_start` has type {ty}, expected () -> ()"));
    }
    let result = store.call(start, &[]);
    if let Some(path) = &o.tier_log {
        if let Err(e) = write_tier_log(&store, path) {
            eprintln!("kwasm: cannot write the tier log {path}: {e}");
        }
    }
    if o.perf_map {
        if let Err(e) = write_perf_map(&store) {
            eprintln!("kwasm: cannot write the perf map: {e}");
        }
    }
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(t) => trapped(&t, &module),
    }
}

/// Writes `/tmp/perf-PID.map`, the format `perf report` reads for JIT code: one line per
/// compiled function, `START LEN NAME` (hex), named from the name section when there is one.
fn write_perf_map(store: &Store) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for r in kwasm_optimizing::code_ranges(store) {
        let name = match &store.funcs[r.func as usize].kind {
            kwasm_runtime::store::FuncKind::Wasm { instance, func_index } => {
                let module = &store.instance(*instance).module;
                match module.func_name(*func_index) {
                    Some(n) => format!("wasm::{n}"),
                    None => format!("wasm::func{func_index}"),
                }
            }
            kwasm_runtime::store::FuncKind::Host(_) => format!("host-trampoline{}", r.func),
        };
        let _ = writeln!(text, "{:x} {:x} {name}", r.start, r.len);
        if std::env::var_os("KWASM_PERF_CODE").is_some() {
            // SAFETY: `start..start + len` is the function's machine code, alive in the store.
            let bytes = unsafe { std::slice::from_raw_parts(r.start as *const u8, r.len) };
            std::fs::write(format!("/tmp/perf-{}-{:x}.bin", std::process::id(), r.start), bytes)?;
        }
    }
    std::fs::write(format!("/tmp/perf-{}.map", std::process::id()), text)
}

/// Writes the tier timeline as CSV (header, one line per event; see
/// [`kwasm_runtime::tiering::TierEvent::csv`]) plus a name column from the name section.
pub fn write_tier_log(store: &Store, path: &str) -> std::io::Result<()> {
    use kwasm_runtime::tiering::TierEvent;
    use std::fmt::Write as _;
    let mut text = format!("{},name\n", TierEvent::CSV_HEADER);
    for e in &store.tiering.events {
        let name = store
            .instances
            .get(e.instance as usize)
            .and_then(|i| i.module.func_name(e.func_index))
            .map(|n| n.replace(['"', ','], "_"))
            .unwrap_or_default();
        let _ = writeln!(text, "{},{name}", e.csv());
    }
    std::fs::write(path, text)
}

/// Makes sure fds 0, 1 and 2 are open (on /dev/null if need be). Otherwise a preopened directory
/// or a file the guest opens could land on one of those numbers, and the guest's stdout would
/// write into it.
fn ensure_stdio_open() -> std::io::Result<()> {
    for fd in 0..3 {
        // SAFETY: F_GETFD only inspects the descriptor table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            // The lowest free number is taken, which is `fd` (the ones below it are open).
            let _ = File::options().read(true).write(true).open("/dev/null")?.into_raw_fd();
        }
    }
    Ok(())
}

/// Opens a host directory to preopen.
fn open_dir(host: &str) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(host)
}

/// The exit status (and message) for a trap: `proc_exit` is a normal end.
fn trapped(t: &Trap, module: &Module) -> ExitCode {
    if let TrapKind::Exit(code) = t.kind {
        // Like a native process: only the low 8 bits of the status survive.
        return ExitCode::from(code as u8);
    }
    eprintln!("kwasm: {}", describe(t, module));
    ExitCode::from(TRAP_EXIT)
}

/// `trap: <kind> in function N (<name>) at offset 0x..`, leaving out what is unknown.
pub fn describe(t: &Trap, module: &Module) -> String {
    let mut s = format!("trap: {}", t.kind.message());
    if let Some(func) = t.func {
        s += &format!(" in function {func}");
        if let Some(name) = module.func_name(func) {
            s += &format!(" ({name})");
        }
    }
    if let Some(off) = t.offset {
        s += &format!(" at offset 0x{off:x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_stop_at_the_module() {
        let o = parse(&strings(&[
            "--dir",
            "/tmp::/t",
            "--env=A=1",
            "--fuel",
            "5",
            "--tier=interp",
            "m.wasm",
            "--dir",
            "x",
        ]))
        .unwrap();
        assert_eq!(o.file, "m.wasm");
        assert_eq!(o.args, strings(&["--dir", "x"]));
        assert_eq!(o.dirs, vec![("/tmp".to_string(), "/t".to_string())]);
        assert_eq!(o.env, vec![("A".to_string(), "1".to_string())]);
        assert_eq!(o.knobs.get(kwasm_runtime::Knob::Fuel), 5);
        assert!(parse(&strings(&["--bogus", "m.wasm"])).is_err());
        assert!(parse(&strings(&["--tier", "fast", "m.wasm"])).is_err());
        // `auto` (the default) tiers up from the interpreter; a tier name pins that tier.
        let auto = parse(&strings(&["m.wasm"])).unwrap().knobs;
        assert_eq!((auto.get(kwasm_runtime::Knob::Tier), auto.get(kwasm_runtime::Knob::TierUp)), (0, 1));
        let pinned = parse(&strings(&["--tier", "baseline", "m.wasm"])).unwrap().knobs;
        assert_eq!((pinned.get(kwasm_runtime::Knob::Tier), pinned.get(kwasm_runtime::Knob::TierUp)), (1, 0));
        assert!(parse(&strings(&["--dir"])).is_err());
        assert!(parse(&strings(&[])).is_err());
    }
}

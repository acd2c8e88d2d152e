//! `kwasm wast`: runs WebAssembly spec scripts (`.wast`) and reports every directive.
//!
//! Each file gets a fresh [`kwasm_runtime::Store`] on the tier chosen by the knobs (so the same
//! runner checks every tier), with the reference interpreter's `spectest` module available for
//! import. Every directive counts as passed, failed (with line:col and a one-line reason) or
//! skipped (only if the skip list names it, with the list's reason). The same code drives the
//! `cli/tests/spec.rs` integration test. With `--loader kernel` the scripts run inside kwasm.ko
//! instead (every module compiled, instantiated and called in kernel mode through a
//! `/dev/kwasm` session), judged by the same runner.

mod backend;
mod kernel;
mod report;
mod runner;
mod skips;
mod values;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kwasm_runtime::Knobs;

pub use backend::{Backend, LoadError, UserBackend};
pub use kernel::KernelBackend;
pub use report::{FileReport, Note, Totals};
pub use runner::{run_file, run_file_with, run_text, run_text_with};
pub use skips::{display_name, SkipEntry, SkipList};

/// Stack size of the thread scripts run on. Tiers may recurse natively per wasm call, and
/// `assert_exhaustion` drives them to `max_call_depth`, deeper than a default 2 MiB thread
/// stack allows (the memory is only touched as far as it is used).
pub const SCRIPT_STACK_SIZE: usize = 1 << 30;

const USAGE: &str =
    "usage: kwasm wast [--loader user|kernel] [--tier T] [--knob NAME=VALUE]... [--skips FILE] FILE.wast...";

/// The smallest stack [`on_script_stack`] settles for when the system refuses bigger ones.
pub const MIN_SCRIPT_STACK_SIZE: usize = 64 << 20;

thread_local! {
    /// Size of the stack [`on_script_stack`] gave the current thread (0 on other threads).
    static SCRIPT_STACK_GRANTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `f` on a thread with a [`SCRIPT_STACK_SIZE`] stack and returns what it returns. A
/// system that refuses so big a stack (strict overcommit, a small VM) gets halving sizes down to
/// [`MIN_SCRIPT_STACK_SIZE`]; stores made on the thread learn the size through
/// [`limit_native_stack`]. Errors only if no size could be had.
pub fn on_script_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    let mut f = Some(f);
    let mut size = SCRIPT_STACK_SIZE;
    loop {
        let spawned = std::thread::scope(|s| {
            let body = || {
                SCRIPT_STACK_GRANTED.with(|g| g.set(size));
                (f.take().expect("the body runs once"))()
            };
            match std::thread::Builder::new().name("wast".into()).stack_size(size).spawn_scoped(s, body) {
                // Panics inside scripts are caught per file; this only fails if reporting itself
                // panicked.
                Ok(handle) => Ok(handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
                Err(e) => Err(e),
            }
        });
        match spawned {
            Ok(v) => return Ok(v),
            Err(e) if size / 2 < MIN_SCRIPT_STACK_SIZE => {
                return Err(format!("cannot create a thread with a {} MiB stack: {e}", size >> 20))
            }
            Err(_) => size /= 2,
        }
    }
}

/// Tells `store` how much native stack mixed-tier execution may use on this thread: half of what
/// [`on_script_stack`] got (the rest covers the compiled tiers' own stack budget below the last
/// crossing and the runtime's frames), if that is less than the tier manager would assume.
pub fn limit_native_stack(store: &mut kwasm_runtime::Store) {
    let granted = SCRIPT_STACK_GRANTED.with(|g| g.get());
    if granted != 0 {
        store.tiering.native_stack_bytes = Some(granted as u64 / 2);
    }
}

/// Runs `files` one after another, printing each file's report as soon as it is done, then the
/// totals. Returns every report.
pub fn run_and_print(files: &[PathBuf], knobs: &Knobs, skips: &SkipList) -> (Vec<FileReport>, Totals) {
    on_script_stack(|| run_and_print_with(files, |path, name| run_file(path, name, knobs, skips))).unwrap_or_else(|e| {
        eprintln!("kwasm: {e}");
        std::process::exit(1)
    })
}

/// Runs `files` through `kwasm.ko` (one `/dev/kwasm` session per file), printing each file's
/// report as soon as it is done, then the totals. Wasm runs in the kernel on the module's own
/// stack, so no big user stack is needed here.
pub fn run_and_print_kernel(files: &[PathBuf], skips: &SkipList) -> (Vec<FileReport>, Totals) {
    run_and_print_with(files, |path, name| run_file_with(path, name, skips, KernelBackend::open))
}

/// Runs every file with `run(path, display name)`, printing reports and totals.
fn run_and_print_with(files: &[PathBuf], run: impl Fn(&Path, &str) -> FileReport) -> (Vec<FileReport>, Totals) {
    let mut totals = Totals::default();
    let mut reports = Vec::with_capacity(files.len());
    for path in files {
        let r = run(path, &display_name(path));
        print!("{}", r.render());
        totals.add(&r);
        reports.push(r);
    }
    println!("{}", totals.summary());
    (reports, totals)
}

/// Command-line options of `kwasm wast`.
struct Options {
    kernel: bool,
    knobs: Knobs,
    skips: SkipList,
    files: Vec<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut knobs = Knobs::default();
    let mut skips = SkipList::default();
    let mut files = Vec::new();
    let mut kernel = false;
    let mut knobs_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| it.next().cloned().ok_or_else(|| format!("{a} needs {what}"));
        match a.as_str() {
            "--loader" => match value("user or kernel")?.as_str() {
                "kernel" => kernel = true,
                "user" => kernel = false,
                other => return Err(format!("--loader takes 'user' or 'kernel', not '{other}'")),
            },
            "--tier" => {
                crate::set_tier(&mut knobs, &value("a tier name or auto")?)?;
                knobs_given = true;
            }
            "--knob" => {
                knobs.set_text(&value("NAME=VALUE")?)?;
                knobs_given = true;
            }
            "--skips" => skips = SkipList::load(Path::new(&value("a file")?))?,
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        return Err(USAGE.into());
    }
    if kernel && knobs_given {
        return Err("--loader kernel: the kernel uses the knobs in /sys/kernel/kwasm/; --tier and --knob are for \
                    user mode"
            .into());
    }
    Ok(Options { kernel, knobs, skips, files })
}

/// `kwasm wast [--loader user|kernel] [--tier T] [--knob NAME=VALUE]... [--skips FILE]
/// FILE.wast...`: prints
/// `file: passed P failed F skipped S` per file (with its failures and skips) and a total; the
/// exit status is 0 iff nothing failed.
pub fn main(args: &[String]) -> ExitCode {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let (_, totals) = if opts.kernel {
        run_and_print_kernel(&opts.files, &opts.skips)
    } else {
        run_and_print(&opts.files, &opts.knobs, &opts.skips)
    };
    if totals.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

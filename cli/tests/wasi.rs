//! End-to-end WASI tests: real programs run through the `kwasm` binary.
//!
//! The C programs in `tests/wasi-programs/` are compiled with `clang-19 --target=wasm32-wasi`
//! (Debian packages clang-19, lld-19, wasi-libc, libclang-rt-19-dev-wasm32). Without that
//! compiler the tests that need it fail and say so; they are never skipped silently. Small
//! modules that test the command line itself are written in WAT.
//!
//! At the end, platform-level tests check the sandbox of `StdPlatform` directly, without wasm.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kwasm_cli::platform::StdPlatform;
use kwasm_runtime::platform::{FileKind, OpenOptions, Platform};
use kwasm_runtime::wasi::errno;

const KWASM: &str = env!("CARGO_BIN_EXE_kwasm");
const CLANG: &str = "clang-19";

/// A fresh, empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasi-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles `tests/wasi-programs/<name>.c` (once per test run) and returns the module's path.
fn program(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-programs").join(format!("{name}.c"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasi-programs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(format!("{name}.wasm"));
    let status = Command::new(CLANG)
        .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {CLANG} ({e}): these tests compile C to wasm32-wasi; install clang-19 lld-19 \
                 wasi-libc libclang-rt-19-dev-wasm32"
            )
        });
    assert!(status.success(), "{CLANG} failed to compile {}", src.display());
    built.insert(name.into(), out.clone());
    out
}

/// Assembles WAT text.
fn wat(text: &str) -> Vec<u8> {
    let buf = wast::parser::ParseBuffer::new(text).unwrap();
    let mut module: wast::Wat = wast::parser::parse(&buf).unwrap();
    module.encode().unwrap()
}

/// Writes a module to the scratch directory `dir` and returns its path.
fn module_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `kwasm run <args>` with `stdin` as input.
fn run_with_input(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(KWASM)
        .arg("run")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kwasm binary");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn run(args: &[&str]) -> Output {
    run_with_input(args, b"")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `key=value` lines of a program's output, as a map.
fn fields(o: &Output) -> HashMap<String, String> {
    stdout(o)
        .split_whitespace()
        .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn args_env_and_argv0() {
    let m = program("proc");
    let o = run(&["--env", "GREETING=hello world", "--env=EMPTY=", p(&m), "args", "two words", "--dir"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "argc=4\nargv[0]=proc.wasm\nargv[1]=args\nargv[2]=two words\nargv[3]=--dir\n\
         env GREETING=hello world\nenv EMPTY=\n"
    );
}

#[test]
fn stdout_stderr_and_stdin() {
    let m = program("proc");
    let o = run(&[p(&m), "stdio"]);
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), ("to stdout\n", "to stderr\n"));
    let o = run_with_input(&[p(&m), "cat"], b"some input\nsecond line\n");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "SOME INPUT\nSECOND LINE\n");
}

#[test]
fn exit_codes() {
    let m = program("proc");
    for (code, expect) in [("0", 0), ("7", 7), ("125", 125), ("300", 300 & 0xff)] {
        let o = run(&[p(&m), "exit", code]);
        assert_eq!(o.status.code(), Some(expect), "exit {code}");
        assert_eq!(stderr(&o), "", "proc_exit is not an error");
    }
    // Returning from main: 0, or main's value through wasi-libc's exit.
    assert_eq!(run(&[p(&m), "args"]).status.code(), Some(0));
    assert_eq!(run(&[p(&m), "no-such-scenario"]).status.code(), Some(2));
}

#[test]
fn files_in_a_preopened_dir() {
    let m = program("files");
    let dir = scratch("files");
    let o = run(&["--dir", &format!("{}::/sandbox", p(&dir)), p(&m)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).ends_with("ok final file\ndone\n"), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(dir.join("final.txt")).unwrap(), "written by the guest\n");
    assert!(!dir.join("sub").exists());
}

#[test]
fn sandbox_escapes_are_refused() {
    let m = program("sandbox");
    let base = scratch("sandbox");
    let sandbox = base.join("sandbox");
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::write(base.join("victim"), "outside\n").unwrap();
    std::fs::write(sandbox.join("inside.txt"), "inside\n").unwrap();
    std::fs::write(base.join("secret"), "secret\n").unwrap();
    symlink("/etc", sandbox.join("link_out")).unwrap();
    symlink("..", sandbox.join("link_up")).unwrap();
    symlink(base.join("secret"), sandbox.join("link_abs")).unwrap();
    symlink("inside.txt", sandbox.join("link_in")).unwrap();

    let o = run(&["--dir", &format!("{}::/sandbox", p(&sandbox)), p(&m)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let f = fields(&o);
    let notcapable = errno::NOTCAPABLE.to_string();
    for attempt in [
        "dotdot",
        "dotdot_create",
        "sub_dotdot_dotdot",
        "absolute",
        "symlink_dir_out",
        "symlink_up",
        "symlink_up_create",
        "symlink_abs",
        "stat_symlink_follow",
        "stat_through_symlink",
        "mkdir_up",
        "mkdir_dotdot",
        "unlink_up",
        "unlink_dotdot",
        "rmdir_dotdot",
        "rename_out",
        "rename_up",
        "rename_in",
        "libc_etc",
        "libc_dotdot",
    ] {
        assert_eq!(f.get(attempt), Some(&notcapable), "{attempt} must be refused; output:\n{}", stdout(&o));
    }
    // Not following a symlink to outside is an error too (ELOOP), just not a capability one.
    assert_ne!(f["symlink_dir_out_nofollow"], "0");
    // Looking at a symlink itself is allowed, and staying inside works.
    assert_eq!((f["stat_symlink_nofollow"].as_str(), f["type"].as_str()), ("0", "7"));
    for ok in ["inside", "symlink_in", "libc_inside"] {
        assert_eq!(f[ok], "0", "{ok}");
    }
    // Nothing outside the sandbox changed.
    let mut names: Vec<String> =
        std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["sandbox", "secret", "victim"]);
    assert_eq!(std::fs::read_to_string(base.join("victim")).unwrap(), "outside\n");
    assert!(sandbox.join("inside.txt").exists());
}

#[test]
fn clocks_and_random() {
    let m = program("proc");
    let o = run(&[p(&m), "clock"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let f = fields(&o);
    let host_now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let guest_now: i64 = f["wall_s"].parse().unwrap();
    assert!((guest_now - host_now).abs() <= 5, "guest wall clock {guest_now}, host {host_now}");
    for k in ["monotonic_ok", "res_ok", "cpu_ok"] {
        assert_eq!(f[k], "1", "{k}");
    }
    let o = run(&[p(&m), "random"]);
    assert_eq!(stdout(&o), "differ=1 nonzero=1\n");
}

#[test]
fn poll_oneoff_with_a_clock_sleeps() {
    let m = program("proc");
    let t0 = Instant::now();
    let o = run(&[p(&m), "sleep"]);
    let wall = t0.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let f = fields(&o);
    let slept: u64 = f["slept_ms"].parse().unwrap();
    let polled: u64 = f["polled_ms"].parse().unwrap();
    assert!((200..2000).contains(&slept), "nanosleep(200ms) took {slept} ms");
    assert!((100..2000).contains(&polled), "poll(100ms) took {polled} ms");
    assert!(wall >= Duration::from_millis(300), "the whole run took only {wall:?}");
    assert_eq!((f["stdout_ready"].as_str(), f["revents_out"].as_str(), f["quick"].as_str()), ("1", "1", "1"));
}

#[test]
fn bad_pointers_give_efault() {
    let m = program("proc");
    let dir = scratch("efault");
    let o = run(&["--dir", p(&dir), p(&m), "efault"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let f = fields(&o);
    let fault = errno::FAULT.to_string();
    for k in [
        "fd_write_iovs",
        "fd_write_buf",
        "fd_write_out",
        "args_get",
        "random_get",
        "clock_time_get",
        "path_open",
        "path_open_out",
        "fd_read_iovs",
    ] {
        assert_eq!(f.get(k), Some(&fault), "{k}: {}", stdout(&o));
    }
    assert_eq!(f["path_symlink"], errno::NOSYS.to_string());
}

#[test]
fn a_trap_is_one_line_and_status_134() {
    let m = program("proc");
    let o = run(&[p(&m), "trap"]);
    assert_eq!(o.status.code(), Some(134));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("kwasm: trap: unreachable in function "), "{err}");
    assert!(err.contains("(main) at offset 0x"), "{err}");

    let dir = scratch("trap-wat");
    let bytes = wat(r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
        (func $boom unreachable)
        (func (export "_start") call $boom))"#);
    let o = run(&[p(&module_file(&dir, "boom.wasm", &bytes))]);
    assert_eq!(o.status.code(), Some(134));
    let err = stderr(&o);
    assert!(err.starts_with("kwasm: trap: unreachable in function 1 (boom) at offset 0x"), "{err}");
    assert!(err.ends_with('\n') && err.lines().count() == 1, "{err}");
}

#[test]
fn hello_world_in_wat() {
    // Needs no C compiler: fd_write and proc_exit by hand.
    let dir = scratch("hello-wat");
    let bytes = wat(r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "hello from wat\n")
        (func (export "_start")
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 15))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            ;; An out-of-bounds iovec array: EFAULT (21) becomes the exit code.
            (call $proc_exit (call $fd_write (i32.const 1) (i32.const 65532) (i32.const 1) (i32.const 8)))))"#);
    let o = run(&[p(&module_file(&dir, "hello.wasm", &bytes))]);
    assert_eq!(stdout(&o), "hello from wat\n");
    assert_eq!(o.status.code(), Some(21));
}

#[test]
fn load_and_link_errors_are_one_line() {
    let dir = scratch("errors");
    let o = run(&[p(&module_file(&dir, "bad.wasm", b"\0asm\x01\0\0\0\x01\x05\x01"))]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("kwasm: invalid module: ") && err.contains("(at offset 0x"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let o = run(&[p(&module_file(&dir, "import.wasm", &wat(r#"(module (import "env" "foo" (func)))"#)))]);
    assert_eq!((o.status.code(), stderr(&o).as_str()), (Some(1), "kwasm: unlinkable: unknown import: env::foo\n"));

    let bytes = wat(r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32))))"#);
    let o = run(&[p(&module_file(&dir, "sig.wasm", &bytes))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("kwasm: unlinkable: "), "{}", stderr(&o));

    let o = run(&[p(&module_file(&dir, "empty.wasm", &wat("(module)")))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("_start"), "{}", stderr(&o));

    let o = run(&[p(&dir.join("missing.wasm"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("kwasm: cannot read "), "{}", stderr(&o));

    let o = run(&["--knob", "no_such_knob=1", "x.wasm"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["--dir", p(&dir.join("no-such-dir")), p(&dir.join("empty.wasm"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("kwasm: cannot open directory "), "{}", stderr(&o));
}

#[test]
fn fuel_runs_out() {
    let m = program("proc");
    let o = run(&["--fuel", "1000", p(&m), "args"]);
    assert_eq!(o.status.code(), Some(134), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("kwasm: trap: out of fuel"), "{}", stderr(&o));
    let o = run(&["--fuel", "100000000", "--tier", "interp", p(&m), "args"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn tcplisten_preopens_a_socket() {
    let m = program("sock");
    let dir = scratch("tcplisten");
    // Find a free port, then let kwasm listen on it.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(KWASM)
        .args(["run", "--tcplisten", &addr, "--dir", &format!("{}::/data", p(&dir)), p(&m), "/data/file"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut conn = loop {
        match TcpStream::connect(&addr) {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => panic!("cannot connect to kwasm on {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    conn.write_all(b"ping").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "PING");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "got=PING send=0 shutdown=0 close=0\n");
    assert_eq!(std::fs::read_to_string(dir.join("file")).unwrap(), "next to a socket\n");
}

// ---- StdPlatform's sandbox, without wasm ----

/// Opens a scratch directory as a platform handle, with a symlink farm around it.
fn platform_sandbox(name: &str) -> (PathBuf, std::fs::File) {
    let base = scratch(name);
    let sandbox = base.join("sandbox");
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::write(base.join("victim"), "outside\n").unwrap();
    std::fs::write(sandbox.join("file"), "inside\n").unwrap();
    symlink("/etc", sandbox.join("link_out")).unwrap();
    symlink("..", sandbox.join("link_up")).unwrap();
    symlink("sub", sandbox.join("link_sub")).unwrap();
    let dir = std::fs::File::open(&sandbox).unwrap();
    (base, dir)
}

#[test]
fn std_platform_resolves_beneath_the_directory() {
    let (base, dir) = platform_sandbox("platform");
    let h = dir.as_raw_fd() as u64;
    let mut pf = StdPlatform::new();
    let read = OpenOptions { read: true, ..OpenOptions::default() };
    let create = OpenOptions { write: true, create: true, ..OpenOptions::default() };
    for path in ["../victim", "/etc/passwd", "link_out/passwd", "link_up/victim", "sub/../../victim"] {
        assert_eq!(pf.open_at(h, path, read), Err(errno::NOTCAPABLE), "open {path}");
        assert_eq!(pf.stat_at(h, path, true).err(), Some(errno::NOTCAPABLE), "stat {path}");
    }
    assert_eq!(pf.open_at(h, "link_up/new", create), Err(errno::NOTCAPABLE));
    assert_eq!(pf.mkdir_at(h, "link_up/newdir"), Err(errno::NOTCAPABLE));
    assert_eq!(pf.mkdir_at(h, ".."), Err(errno::NOTCAPABLE));
    assert_eq!(pf.unlink_at(h, "link_up/victim"), Err(errno::NOTCAPABLE));
    assert_eq!(pf.unlink_at(h, "sub/.."), Err(errno::NOTCAPABLE));
    assert_eq!(pf.rmdir_at(h, "link_up/sandbox"), Err(errno::NOTCAPABLE));
    assert_eq!(pf.rename_at(h, "file", h, "link_up/stolen"), Err(errno::NOTCAPABLE));
    assert_eq!(pf.rename_at(h, "link_up/victim", h, "stolen"), Err(errno::NOTCAPABLE));
    assert!(base.join("victim").exists() && !base.join("stolen").exists() && !base.join("newdir").exists());

    // Inside, everything works, through symlinks that stay inside too.
    let f = pf.open_at(h, "link_sub/../file", read).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(pf.read(f, &mut buf, None), Ok(7));
    pf.close(f).unwrap();
    assert_eq!(pf.stat_at(h, "link_out", false).unwrap().kind, Some(FileKind::Symlink));
    pf.mkdir_at(h, "link_sub/d/").unwrap();
    pf.rename_at(h, "file", h, "sub/d/file2").unwrap();
    assert_eq!(pf.stat_at(h, "sub/d/file2", true).unwrap().size, 7);
    assert_eq!(pf.unlink_at(h, "sub/d/file2/"), Err(errno::NOTDIR));
    assert_eq!(pf.rmdir_at(h, "sub/d"), Err(errno::NOTEMPTY));
    pf.unlink_at(h, "sub/d/file2").unwrap();
    pf.rmdir_at(h, "sub/d").unwrap();
    let names: Vec<String> = pf.read_dir(h).unwrap().into_iter().map(|e| e.name).collect();
    for n in [".", "..", "sub", "link_out", "link_up", "link_sub"] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
}

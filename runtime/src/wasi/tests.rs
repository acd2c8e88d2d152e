//! Unit tests of the WASI host functions, called directly (no tier needed) against a scripted
//! platform and an instance that only exports a one-page memory.

extern crate std;

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use std::sync::Mutex;

use super::*;
use crate::platform::{Clock, DirEntry, FileKind, FileStat, OpenOptions, PollRequest};
use crate::tier::{CompiledCode, Tier, TierId};
use crate::{Error, Extern, FuncAddr, InstanceId, Knobs, Linker, Module, Store, TrapKind};

/// What the scripted platform saw.
#[derive(Default)]
struct Log {
    written: Vec<(HostHandle, Vec<u8>)>,
    opened: Vec<String>,
    slept: Vec<u64>,
}

struct Script {
    log: Arc<Mutex<Log>>,
    now: u64,
    dir: Vec<DirEntry>,
}

impl Platform for Script {
    fn clock_time(&mut self, _c: Clock) -> Result<u64, Errno> {
        Ok(self.now)
    }
    fn random(&mut self, buf: &mut [u8]) -> Result<(), Errno> {
        buf.fill(0xa5);
        Ok(())
    }
    fn read(&mut self, _h: HostHandle, buf: &mut [u8], _o: Option<u64>) -> Result<usize, Errno> {
        let data = b"input";
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }
    fn write(&mut self, h: HostHandle, buf: &[u8], _o: Option<u64>) -> Result<usize, Errno> {
        self.log.lock().unwrap().written.push((h, buf.to_vec()));
        Ok(buf.len())
    }
    fn stat(&mut self, h: HostHandle) -> Result<FileStat, Errno> {
        let kind = if h >= 100 { FileKind::Directory } else { FileKind::CharDevice };
        Ok(FileStat { kind: Some(kind), ..FileStat::default() })
    }
    fn open_at(&mut self, _dir: HostHandle, path: &str, _o: OpenOptions) -> Result<HostHandle, Errno> {
        self.log.lock().unwrap().opened.push(path.into());
        Ok(50)
    }
    fn read_dir(&mut self, _dir: HostHandle) -> Result<Vec<DirEntry>, Errno> {
        Ok(self.dir.clone())
    }
    fn sleep(&mut self, ns: u64) -> Result<(), Errno> {
        self.log.lock().unwrap().slept.push(ns);
        self.now += ns;
        Ok(())
    }
}

struct NoTier;

impl Tier for NoTier {
    fn id(&self) -> TierId {
        TierId::Interp
    }
    fn compile(&self, _s: &Store, _f: FuncAddr) -> Result<CompiledCode, Error> {
        Err(Error::Unsupported("no tier in WASI unit tests".into()))
    }
    fn invoke(&self, _s: &mut Store, _f: FuncAddr, _a: &[u64], _r: &mut [u64]) -> Result<(), Trap> {
        Err(Trap::host("no tier in WASI unit tests"))
    }
}

/// `(module (memory (export "memory") 1))`, or no memory at all.
fn module_bytes(with_memory: bool) -> Vec<u8> {
    let mut b = vec![0, b'a', b's', b'm', 1, 0, 0, 0];
    if with_memory {
        b.extend_from_slice(&[5, 3, 1, 0, 1]);
        b.extend_from_slice(&[7, 10, 1, 6, b'm', b'e', b'm', b'o', b'r', b'y', 2, 0]);
    }
    b
}

struct T {
    store: Store,
    linker: Linker,
    inst: InstanceId,
    log: Arc<Mutex<Log>>,
}

const PAGE: u32 = 65536;

impl T {
    fn new(ctx: WasiCtx) -> T {
        T::with(ctx, true)
    }

    fn with(ctx: WasiCtx, with_memory: bool) -> T {
        let log = Arc::new(Mutex::new(Log::default()));
        let dir = ["a", "bb", "ccc"]
            .iter()
            .enumerate()
            .map(|(i, n)| DirEntry { ino: i as u64 + 7, kind: FileKind::Regular, name: (*n).into() })
            .collect();
        let platform = Script { log: log.clone(), now: 1_000, dir };
        let mut store = Store::new(Arc::new(NoTier), Knobs::default(), Box::new(platform));
        store.wasi = Some(ctx);
        let mut linker = Linker::new();
        add_to_linker(&mut linker, &mut store);
        let module = Module::new(&module_bytes(with_memory)).unwrap();
        let inst = store.instantiate(Arc::new(module), &[]).unwrap();
        T { store, linker, inst, log }
    }

    fn call(&mut self, name: &str, args: &[Val]) -> Result<i32, Trap> {
        let Some(Extern::Func(f)) = self.linker.get(MODULE, name) else { panic!("{name} not defined") };
        let ty = self.store.funcs[f as usize].ty.clone();
        assert_eq!(ty.params.len(), args.len(), "{name} arity");
        let slots: Vec<u64> = args.iter().map(Val::to_slot).collect();
        let mut res = vec![0u64; ty.results.len()];
        self.store.call_host(f, Some(self.inst), &slots, &mut res)?;
        Ok(res.first().map_or(0, |r| *r as i32))
    }

    fn errno(&mut self, name: &str, args: &[Val]) -> u16 {
        self.call(name, args).unwrap() as u16
    }

    fn mem(&mut self) -> &mut [u8] {
        let m = self.store.instance(self.inst).memories[0];
        &mut self.store.memories[m as usize].data
    }

    fn u32_at(&mut self, at: u32) -> u32 {
        let m = self.mem();
        u32::from_le_bytes(m[at as usize..at as usize + 4].try_into().unwrap())
    }

    fn put(&mut self, at: u32, bytes: &[u8]) {
        self.mem()[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }

    fn put_u32(&mut self, at: u32, v: u32) {
        self.put(at, &v.to_le_bytes());
    }
}

fn i(v: u32) -> Val {
    Val::I32(v as i32)
}

fn l(v: u64) -> Val {
    Val::I64(v as i64)
}

fn ctx() -> WasiCtx {
    WasiCtx::builder()
        .args(["prog", "x y"])
        .env("A", "1")
        .stdin(0)
        .stdout(1)
        .stderr(2)
        .preopened_dir(100, "/sandbox")
        .build()
}

#[test]
fn every_preview1_function_is_defined() {
    let t = T::new(ctx());
    let names = [
        "args_get",
        "args_sizes_get",
        "environ_get",
        "environ_sizes_get",
        "clock_res_get",
        "clock_time_get",
        "fd_advise",
        "fd_allocate",
        "fd_close",
        "fd_datasync",
        "fd_fdstat_get",
        "fd_fdstat_set_flags",
        "fd_fdstat_set_rights",
        "fd_filestat_get",
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "fd_pread",
        "fd_prestat_get",
        "fd_prestat_dir_name",
        "fd_pwrite",
        "fd_read",
        "fd_readdir",
        "fd_renumber",
        "fd_seek",
        "fd_sync",
        "fd_tell",
        "fd_write",
        "path_create_directory",
        "path_filestat_get",
        "path_filestat_set_times",
        "path_link",
        "path_open",
        "path_readlink",
        "path_remove_directory",
        "path_rename",
        "path_symlink",
        "path_unlink_file",
        "poll_oneoff",
        "proc_exit",
        "proc_raise",
        "random_get",
        "sched_yield",
        "sock_accept",
        "sock_recv",
        "sock_send",
        "sock_shutdown",
    ];
    for n in names {
        assert!(t.linker.get(MODULE, n).is_some(), "{n}");
    }
    let Some(Extern::Func(f)) = t.linker.get(MODULE, "path_open") else { unreachable!() };
    let ty = &t.store.funcs[f as usize].ty;
    assert_eq!(ty.to_string(), "(i32, i32, i32, i32, i32, i64, i64, i32, i32) -> (i32)");
}

#[test]
fn args_and_environ() {
    let mut t = T::new(ctx());
    assert_eq!(t.errno("args_sizes_get", &[i(0), i(4)]), errno::SUCCESS);
    assert_eq!((t.u32_at(0), t.u32_at(4)), (2, 9));
    assert_eq!(t.errno("args_get", &[i(16), i(64)]), errno::SUCCESS);
    assert_eq!((t.u32_at(16), t.u32_at(20)), (64, 69));
    assert_eq!(&t.mem()[64..73], b"prog\0x y\0");
    assert_eq!(t.errno("environ_sizes_get", &[i(0), i(4)]), errno::SUCCESS);
    assert_eq!((t.u32_at(0), t.u32_at(4)), (1, 4));
    assert_eq!(t.errno("environ_get", &[i(16), i(64)]), errno::SUCCESS);
    assert_eq!(&t.mem()[64..68], b"A=1\0");
}

#[test]
fn bad_pointers_fault() {
    let mut t = T::new(ctx());
    assert_eq!(t.errno("args_get", &[i(PAGE - 4), i(0)]), errno::FAULT);
    assert_eq!(t.errno("args_get", &[i(0), i(PAGE - 3)]), errno::FAULT);
    assert_eq!(t.errno("args_sizes_get", &[i(u32::MAX), i(0)]), errno::FAULT);
    assert_eq!(t.errno("clock_time_get", &[i(0), l(0), i(PAGE - 7)]), errno::FAULT);
    assert_eq!(t.errno("random_get", &[i(PAGE - 10), i(11)]), errno::FAULT);
    // An iovec whose buffer leaves memory: nothing is written at all.
    t.put_u32(0, PAGE - 2);
    t.put_u32(4, 3);
    assert_eq!(t.errno("fd_write", &[i(1), i(0), i(1), i(8)]), errno::FAULT);
    // An iovec array that leaves memory, or one whose length overflows.
    assert_eq!(t.errno("fd_write", &[i(1), i(PAGE - 4), i(1), i(8)]), errno::FAULT);
    assert_eq!(t.errno("fd_write", &[i(1), i(0), i(u32::MAX), i(8)]), errno::FAULT);
    // A result pointer outside memory: the write does not happen.
    t.put_u32(0, 100);
    t.put_u32(4, 3);
    assert_eq!(t.errno("fd_write", &[i(1), i(0), i(1), i(u32::MAX - 1)]), errno::FAULT);
    assert!(t.log.lock().unwrap().written.is_empty());
    assert_eq!(t.errno("path_open", &[i(3), i(0), i(PAGE), i(1), i(0), l(0), l(0), i(0), i(0)]), errno::FAULT);
    assert_eq!(t.errno("poll_oneoff", &[i(0), i(PAGE - 8), i(1), i(0)]), errno::FAULT);
    assert_eq!(t.errno("fd_prestat_dir_name", &[i(3), i(PAGE - 2), i(8)]), errno::FAULT);
    assert_eq!(t.errno("fd_readdir", &[i(3), i(PAGE - 10), i(20), l(0), i(0)]), errno::FAULT);
}

#[test]
fn no_memory_means_every_pointer_faults() {
    let mut t = T::with(ctx(), false);
    assert_eq!(t.errno("args_sizes_get", &[i(0), i(4)]), errno::FAULT);
    assert_eq!(t.errno("sched_yield", &[]), errno::SUCCESS);
}

#[test]
fn writes_are_gathered_into_one_host_call() {
    let mut t = T::new(ctx());
    t.put(100, b"hello world");
    t.put_u32(0, 100);
    t.put_u32(4, 6);
    t.put_u32(8, 106);
    t.put_u32(12, 5);
    assert_eq!(t.errno("fd_write", &[i(1), i(0), i(2), i(16)]), errno::SUCCESS);
    assert_eq!(t.u32_at(16), 11);
    assert_eq!(t.log.lock().unwrap().written, vec![(1, b"hello world".to_vec())]);
    // Reads are scattered the same way.
    t.put_u32(0, 200);
    t.put_u32(4, 2);
    t.put_u32(8, 300);
    t.put_u32(12, 10);
    assert_eq!(t.errno("fd_read", &[i(0), i(0), i(2), i(16)]), errno::SUCCESS);
    assert_eq!(t.u32_at(16), 5);
    assert_eq!(&t.mem()[200..202], b"in");
    assert_eq!(&t.mem()[300..303], b"put");
}

#[test]
fn bad_fds() {
    let mut t = T::new(ctx());
    assert_eq!(t.errno("fd_write", &[i(9), i(0), i(0), i(16)]), errno::BADF);
    assert_eq!(t.errno("fd_close", &[i(9)]), errno::BADF);
    assert_eq!(t.errno("fd_prestat_get", &[i(4), i(0)]), errno::BADF);
    // Path operations need a directory.
    assert_eq!(t.errno("path_open", &[i(1), i(0), i(0), i(1), i(0), l(0), l(0), i(0), i(0)]), errno::NOTDIR);
}

#[test]
fn unimplemented_functions_say_nosys() {
    let mut t = T::new(ctx());
    assert_eq!(t.errno("proc_raise", &[i(6)]), errno::NOSYS);
    assert_eq!(t.errno("path_symlink", &[i(0), i(1), i(3), i(0), i(1)]), errno::NOSYS);
    assert_eq!(t.errno("fd_allocate", &[i(1), l(0), l(10)]), errno::NOSYS);
}

#[test]
fn proc_exit_ends_the_program() {
    let mut t = T::new(ctx());
    let trap = t.call("proc_exit", &[i(3)]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Exit(3));
    assert_eq!(t.store.wasi.as_ref().unwrap().exit_code(), Some(3));
}

#[test]
fn escaping_paths_never_reach_the_platform() {
    let mut t = T::new(ctx());
    for p in ["../x", "/etc/passwd", "a/../../x", "", "a\0b"] {
        t.put(1000, p.as_bytes());
        let e = t.errno("path_open", &[i(3), i(1), i(1000), i(p.len() as u32), i(0), l(!0), l(!0), i(0), i(0)]);
        assert_ne!(e, errno::SUCCESS, "{p:?}");
        if p.starts_with('/') || p.contains("..") {
            assert_eq!(e, errno::NOTCAPABLE, "{p:?}");
        }
    }
    for (f, p) in [("path_unlink_file", "a/.."), ("path_remove_directory", ".."), ("path_create_directory", "../d")] {
        t.put(1000, p.as_bytes());
        assert_eq!(t.errno(f, &[i(3), i(1000), i(p.len() as u32)]), errno::NOTCAPABLE, "{f} {p}");
    }
    assert!(t.log.lock().unwrap().opened.is_empty());
    t.put(1000, b"ok/../fine");
    assert_eq!(t.errno("path_open", &[i(3), i(1), i(1000), i(10), i(0), l(!0), l(!0), i(0), i(0)]), errno::SUCCESS);
    assert_eq!(t.u32_at(0), 4);
    assert_eq!(t.log.lock().unwrap().opened, vec![String::from("ok/../fine")]);
}

#[test]
fn preopens_follow_the_socket() {
    let c = WasiCtx::builder().preopened_socket(77).preopened_dir(100, "/a").preopened_dir(101, ".").build();
    let mut t = T::new(c);
    assert_eq!(t.errno("fd_prestat_get", &[i(3), i(0)]), errno::SUCCESS);
    assert_eq!(t.mem()[0], abi::PREOPENTYPE_SOCKET);
    assert_eq!(t.errno("fd_prestat_get", &[i(4), i(0)]), errno::SUCCESS);
    assert_eq!((t.mem()[0], t.u32_at(4)), (abi::PREOPENTYPE_DIR, 2));
    assert_eq!(t.errno("fd_prestat_dir_name", &[i(4), i(8), i(1)]), errno::NAMETOOLONG);
    assert_eq!(t.errno("fd_prestat_dir_name", &[i(4), i(8), i(2)]), errno::SUCCESS);
    assert_eq!(&t.mem()[8..10], b"/a");
    assert_eq!(t.errno("fd_prestat_get", &[i(5), i(0)]), errno::SUCCESS);
    assert_eq!(t.errno("fd_prestat_get", &[i(6), i(0)]), errno::BADF);
    // A directory reports what it can do and what it hands on (wasi-libc's open() needs both).
    assert_eq!(t.errno("fd_fdstat_get", &[i(4), i(0)]), errno::SUCCESS);
    assert_eq!(t.mem()[0], abi::filetype::DIRECTORY);
    let inheriting = u64::from_le_bytes(t.mem()[16..24].try_into().unwrap());
    assert_ne!(inheriting & abi::rights::FD_READ, 0);
    // stdio was not given: closed.
    assert_eq!(t.errno("fd_fdstat_get", &[i(1), i(0)]), errno::BADF);
}

#[test]
fn poll_with_a_clock_sleeps() {
    let mut t = T::new(ctx());
    let mut sub = [0u8; 48];
    sub[0..8].copy_from_slice(&42u64.to_le_bytes());
    sub[8] = abi::eventtype::CLOCK;
    sub[16..20].copy_from_slice(&abi::clockid::MONOTONIC.to_le_bytes());
    sub[24..32].copy_from_slice(&5_000_000u64.to_le_bytes());
    t.put(0, &sub);
    assert_eq!(t.errno("poll_oneoff", &[i(0), i(100), i(1), i(200)]), errno::SUCCESS);
    assert_eq!(t.u32_at(200), 1);
    assert_eq!(&t.mem()[100..108], &42u64.to_le_bytes());
    assert_eq!(t.mem()[108..111], [0, 0, abi::eventtype::CLOCK]);
    assert_eq!(t.log.lock().unwrap().slept, vec![5_000_000]);
    // Absolute time already past: no sleep.
    sub[40] = 1;
    sub[24..32].copy_from_slice(&10u64.to_le_bytes());
    t.put(0, &sub);
    assert_eq!(t.errno("poll_oneoff", &[i(0), i(100), i(1), i(200)]), errno::SUCCESS);
    assert_eq!(t.log.lock().unwrap().slept.len(), 1);
    // A bad fd is reported as an error event.
    sub[8] = abi::eventtype::FD_READ;
    sub[16..20].copy_from_slice(&9u32.to_le_bytes());
    t.put(0, &sub);
    assert_eq!(t.errno("poll_oneoff", &[i(0), i(100), i(1), i(200)]), errno::SUCCESS);
    assert_eq!(t.mem()[108..111], [errno::BADF as u8, 0, abi::eventtype::FD_READ]);
    assert_eq!(t.errno("poll_oneoff", &[i(0), i(100), i(0), i(200)]), errno::INVAL);
}

#[test]
fn readdir_cookies_and_truncation() {
    let mut t = T::new(ctx());
    // Whole listing: 3 headers + "a" + "bb" + "ccc".
    assert_eq!(t.errno("fd_readdir", &[i(3), i(0), i(1000), l(0), i(2000)]), errno::SUCCESS);
    assert_eq!(t.u32_at(2000), 3 * 24 + 6);
    assert_eq!(&t.mem()[0..8], &1u64.to_le_bytes());
    assert_eq!(&t.mem()[8..16], &7u64.to_le_bytes());
    assert_eq!(t.u32_at(16), 1);
    assert_eq!(t.mem()[20], abi::filetype::REGULAR_FILE);
    assert_eq!(t.mem()[24], b'a');
    // A small buffer is filled completely, the last entry cut off.
    assert_eq!(t.errno("fd_readdir", &[i(3), i(0), i(30), l(0), i(2000)]), errno::SUCCESS);
    assert_eq!(t.u32_at(2000), 30);
    // Continuing after the first entry.
    assert_eq!(t.errno("fd_readdir", &[i(3), i(0), i(1000), l(1), i(2000)]), errno::SUCCESS);
    assert_eq!(t.u32_at(2000), 2 * 24 + 5);
    assert_eq!(&t.mem()[0..8], &2u64.to_le_bytes());
    assert_eq!(t.errno("fd_readdir", &[i(3), i(0), i(1000), l(3), i(2000)]), errno::SUCCESS);
    assert_eq!(t.u32_at(2000), 0);
    assert_eq!(t.errno("fd_readdir", &[i(1), i(0), i(1000), l(0), i(2000)]), errno::NOTDIR);
}

#[test]
fn renumber_and_close() {
    let mut t = T::new(ctx());
    assert_eq!(t.errno("fd_renumber", &[i(3), i(10)]), errno::SUCCESS);
    assert_eq!(t.errno("fd_prestat_get", &[i(3), i(0)]), errno::BADF);
    assert_eq!(t.errno("fd_prestat_get", &[i(10), i(0)]), errno::SUCCESS);
    assert_eq!(t.errno("fd_close", &[i(10)]), errno::SUCCESS);
    assert_eq!(t.errno("fd_close", &[i(10)]), errno::BADF);
    // The lowest free number is reused.
    assert_eq!(t.errno("fd_close", &[i(0)]), errno::SUCCESS);
    let c = t.store.wasi.as_mut().unwrap();
    assert_eq!(c.fds.insert(table::FdEntry::new(5, FdKind::File, true)), Ok(0));
}

#[test]
fn missing_context_traps_instead_of_panicking() {
    let mut t = T::new(ctx());
    t.store.wasi = None;
    assert!(matches!(t.call("sched_yield", &[]), Err(Trap { kind: TrapKind::Host(_), .. })));
}

#[test]
fn poll_request_for_a_real_fd_uses_platform_poll() {
    // The scripted platform has no `poll`: the error reaches the guest as an errno.
    let mut t = T::new(ctx());
    let mut sub = [0u8; 48];
    sub[8] = abi::eventtype::FD_READ;
    t.put(0, &sub);
    assert_eq!(t.errno("poll_oneoff", &[i(0), i(100), i(1), i(200)]), errno::NOSYS);
    let _ = PollRequest { handle: 0, read: true };
}

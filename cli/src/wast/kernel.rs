//! `kwasm wast --loader kernel`: every module of a script compiled, instantiated and called
//! inside kwasm.ko, in kernel mode, through a `/dev/kwasm` session (ioctl ABI 2, see
//! `kmod/include/uapi/kwasm.h` and `kwasm_runtime::kabi`). The script is parsed and its modules
//! are encoded here (the `wast` crate stays in user space); the kernel gets binaries, export
//! names and typed arguments, and answers with typed results, traps or load errors, which the
//! runner judges exactly as it judges the user-space store.

use std::fs::File;

use kwasm_runtime::kabi;
use kwasm_runtime::{Trap, TrapKind, Val};

use super::backend::{Backend, LoadError};
use crate::kernel_loader::{ioctl, DEVICE};

/// Room for an error message from the kernel.
const MSG_CAP: usize = 4096;
/// Room for the results of one call (the kernel refuses a call with more: E2BIG).
const RESULTS_CAP: usize = 1024;

/// One session (one open file of `/dev/kwasm`) per script.
pub struct KernelBackend {
    dev: File,
}

impl KernelBackend {
    /// Opens `/dev/kwasm`, checks that it speaks sessions and starts one with `spectest`.
    pub fn open() -> Result<KernelBackend, String> {
        let dev = File::options()
            .read(true)
            .write(true)
            .open(DEVICE)
            .map_err(|e| format!("cannot open {DEVICE}: {e} (is kwasm.ko loaded, and may this user open it?)"))?;
        let mut version = kabi::Version::default();
        ioctl(&dev, kabi::IOC_VERSION, &mut version).map_err(|e| format!("{DEVICE}: version query failed: {e}"))?;
        if version.abi_version < 2 || version.features & kabi::FEATURE_SESSION == 0 {
            return Err(format!(
                "{DEVICE} speaks ABI {} (features {:#x}); `wast --loader kernel` needs ABI 2 with sessions",
                version.abi_version, version.features
            ));
        }
        let mut s = kabi::Session {
            size: std::mem::size_of::<kabi::Session>() as u64,
            flags: kabi::SESSION_SPECTEST,
            ..Default::default()
        };
        ioctl(&dev, kabi::IOC_SESSION, &mut s).map_err(|e| format!("{DEVICE}: SESSION failed: {e}"))?;
        Ok(KernelBackend { dev })
    }

    /// COMPILE, keeping the module or (`keep` false) only validating it.
    fn compile_flags(&mut self, bytes: &[u8], keep: bool) -> Result<u32, LoadError> {
        let mut msg = vec![0u8; MSG_CAP];
        let mut c = kabi::Compile {
            size: std::mem::size_of::<kabi::Compile>() as u64,
            wasm: bytes.as_ptr() as u64,
            wasm_len: bytes.len() as u64,
            flags: if keep { 0 } else { kabi::COMPILE_VALIDATE_ONLY },
            outcome: outcome_buf(&mut msg),
            ..Default::default()
        };
        ioctl(&self.dev, kabi::IOC_COMPILE, &mut c).map_err(|e| LoadError::Other(format!("COMPILE failed: {e}")))?;
        check(&c.outcome, &msg)?;
        Ok(c.module)
    }
}

/// An outcome block whose message buffer is `msg`.
fn outcome_buf(msg: &mut [u8]) -> kabi::Outcome {
    kabi::Outcome { msg: msg.as_mut_ptr() as u64, msg_cap: msg.len() as u64, ..Default::default() }
}

fn message(o: &kabi::Outcome, msg: &[u8]) -> String {
    let n = (o.msg_len as usize).min(msg.len());
    String::from_utf8_lossy(&msg[..n]).into_owned()
}

/// The trap an outcome describes (a host trap with the kernel's message).
fn trap_of(o: &kabi::Outcome, msg: &[u8]) -> Trap {
    let kind = match kabi::trap_from_number(o.trap_kind) {
        Some(TrapKind::Host(_)) => TrapKind::Host(message(o, msg)),
        Some(k) => k,
        None => TrapKind::Host(format!("unknown trap kind {} from the kernel", o.trap_kind)),
    };
    Trap { kind, func: (o.trap_func != u32::MAX).then_some(o.trap_func), offset: u32::try_from(o.trap_offset).ok() }
}

/// `Ok` for `STATUS_OK`, else the load error the outcome describes.
fn check(o: &kabi::Outcome, msg: &[u8]) -> Result<(), LoadError> {
    match o.status {
        kabi::STATUS_OK => Ok(()),
        kabi::STATUS_INVALID => Err(LoadError::Invalid(message(o, msg))),
        kabi::STATUS_UNLINKABLE => Err(LoadError::Unlinkable(message(o, msg))),
        kabi::STATUS_TRAP => Err(LoadError::Trap(trap_of(o, msg))),
        kabi::STATUS_ERROR => Err(LoadError::Other(message(o, msg))),
        s => Err(LoadError::Other(format!("unknown status {s} from the kernel: {}", message(o, msg)))),
    }
}

fn val_from(v: &kabi::Val) -> Result<Val, String> {
    kabi::val_from_abi(v).ok_or_else(|| format!("the kernel returned an undecodable value {v:?}"))
}

impl Backend for KernelBackend {
    /// A module handle of the session.
    type Module = u32;

    fn compile(&mut self, bytes: &[u8]) -> Result<u32, LoadError> {
        self.compile_flags(bytes, true)
    }

    fn validate(&mut self, bytes: &[u8]) -> Result<(), LoadError> {
        self.compile_flags(bytes, false).map(drop)
    }

    fn instantiate(&mut self, module: &u32) -> Result<u32, LoadError> {
        let mut msg = vec![0u8; MSG_CAP];
        let mut a = kabi::Instantiate {
            size: std::mem::size_of::<kabi::Instantiate>() as u64,
            module: *module,
            outcome: outcome_buf(&mut msg),
            ..Default::default()
        };
        ioctl(&self.dev, kabi::IOC_INSTANTIATE, &mut a)
            .map_err(|e| LoadError::Other(format!("INSTANTIATE failed: {e}")))?;
        check(&a.outcome, &msg)?;
        Ok(a.instance)
    }

    fn register(&mut self, name: &str, instance: u32) -> Result<(), String> {
        let mut r = kabi::Register {
            size: std::mem::size_of::<kabi::Register>() as u64,
            instance,
            name: name.as_ptr() as u64,
            name_len: name.len() as u64,
            ..Default::default()
        };
        ioctl(&self.dev, kabi::IOC_REGISTER, &mut r).map_err(|e| format!("REGISTER failed: {e}"))
    }

    fn invoke(&mut self, instance: u32, name: &str, args: &[Val]) -> Result<Result<Vec<Val>, Trap>, String> {
        let args: Vec<kabi::Val> = args.iter().map(kabi::val_to_abi).collect();
        let mut results = vec![kabi::Val::default(); RESULTS_CAP];
        let mut msg = vec![0u8; MSG_CAP];
        let mut a = kabi::Invoke {
            size: std::mem::size_of::<kabi::Invoke>() as u64,
            instance,
            nargs: args.len() as u32,
            name: name.as_ptr() as u64,
            name_len: name.len() as u64,
            args: args.as_ptr() as u64,
            results: results.as_mut_ptr() as u64,
            results_cap: RESULTS_CAP as u32,
            outcome: outcome_buf(&mut msg),
            ..Default::default()
        };
        match ioctl(&self.dev, kabi::IOC_INVOKE, &mut a) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(format!("no exported function \"{name}\"")),
            Err(e) => return Err(format!("INVOKE \"{name}\" failed: {e}")),
        }
        if a.outcome.status == kabi::STATUS_TRAP {
            return Ok(Err(trap_of(&a.outcome, &msg)));
        }
        if a.outcome.status != kabi::STATUS_OK || a.nresults as usize > RESULTS_CAP {
            return Err(format!("INVOKE: bad answer from the kernel (status {})", a.outcome.status));
        }
        results[..a.nresults as usize].iter().map(val_from).collect::<Result<Vec<_>, _>>().map(Ok)
    }

    fn global(&mut self, instance: u32, name: &str) -> Result<Val, String> {
        let mut g = kabi::Get {
            size: std::mem::size_of::<kabi::Get>() as u64,
            instance,
            what: kabi::GET_GLOBAL,
            name: name.as_ptr() as u64,
            name_len: name.len() as u64,
            ..Default::default()
        };
        match ioctl(&self.dev, kabi::IOC_GET, &mut g) {
            Ok(()) => val_from(&g.value),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Err(format!("no exported global \"{name}\"")),
            Err(e) => Err(format!("GET \"{name}\" failed: {e}")),
        }
    }

    fn func_addr(&self, instance: u32, index: u32) -> Option<u32> {
        let mut g = kabi::Get {
            size: std::mem::size_of::<kabi::Get>() as u64,
            instance,
            what: kabi::GET_FUNC,
            index: u64::from(index),
            ..Default::default()
        };
        ioctl(&self.dev, kabi::IOC_GET, &mut g).ok()?;
        match val_from(&g.value).ok()? {
            Val::FuncRef(Some(a)) => Some(a),
            _ => None,
        }
    }
}

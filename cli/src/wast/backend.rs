//! Where a script's modules are compiled, instantiated and called: the [`Backend`] the runner
//! drives. The runner parses the script, encodes its modules and compares every result; a backend
//! only does what the runtime does. Two exist: [`UserBackend`] (a [`Store`] in this process, on
//! the tier the knobs choose) and `super::kernel::KernelBackend` (a session store inside kwasm.ko,
//! reached through `/dev/kwasm`), so that the same comparisons judge both.

use std::fmt;
use std::sync::Arc;

use kwasm_runtime::{Error, Extern, InstanceId, Knobs, Linker, Module, Store, Trap, Val};

/// Why a module could not be compiled or instantiated.
#[derive(Debug)]
pub enum LoadError {
    /// Malformed or invalid (decoding or validation failed).
    Invalid(String),
    /// An import could not be satisfied.
    Unlinkable(String),
    /// A trap during instantiation (segment initialization or the start function).
    Trap(Trap),
    /// Anything else (an unsupported feature, a resource limit, ...).
    Other(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Invalid(m) | LoadError::Unlinkable(m) | LoadError::Other(m) => f.write_str(m),
            LoadError::Trap(t) => write!(f, "{}", Error::Trap(t.clone())),
        }
    }
}

impl From<Error> for LoadError {
    fn from(e: Error) -> LoadError {
        match e {
            Error::Invalid { .. } => LoadError::Invalid(e.to_string()),
            Error::Unlinkable(_) => LoadError::Unlinkable(e.to_string()),
            Error::Trap(t) => LoadError::Trap(t),
            e => LoadError::Other(e.to_string()),
        }
    }
}

/// A store that runs one script: the runner's view of the runtime.
pub trait Backend {
    /// A compiled (decoded and validated) module that can be instantiated again and again.
    type Module: Clone;

    /// Decodes and validates `bytes`, keeping the result for [`Backend::instantiate`].
    fn compile(&mut self, bytes: &[u8]) -> Result<Self::Module, LoadError>;

    /// Decodes and validates `bytes` and keeps nothing (`assert_invalid`, `assert_malformed`).
    fn validate(&mut self, bytes: &[u8]) -> Result<(), LoadError> {
        self.compile(bytes).map(drop)
    }

    /// Instantiates `module` with the imports defined so far; returns the instance's id.
    fn instantiate(&mut self, module: &Self::Module) -> Result<u32, LoadError>;

    /// Makes `instance`'s exports importable under the module name `name`.
    fn register(&mut self, name: &str, instance: u32) -> Result<(), String>;

    /// Calls the function `instance` exports as `name`. `Err` when there is no such function
    /// (or the call could not be made at all); a trap is `Ok(Err(trap))`.
    fn invoke(&mut self, instance: u32, name: &str, args: &[Val]) -> Result<Result<Vec<Val>, Trap>, String>;

    /// The value of the global `instance` exports as `name`.
    fn global(&mut self, instance: u32, name: &str) -> Result<Val, String>;

    /// The store address of function `index` of `instance` (what a `ref.func index` result
    /// pattern means).
    fn func_addr(&self, instance: u32, index: u32) -> Option<u32>;
}

/// The runtime in this process: one [`Store`] per script with the `spectest` module defined.
pub struct UserBackend {
    store: Store,
    /// Imports by (registered name, field), starting with `spectest`.
    linker: Linker,
}

impl UserBackend {
    /// A fresh store on the tier `knobs` choose.
    pub fn new(knobs: &Knobs) -> Result<UserBackend, Error> {
        let tier = crate::make_tier(knobs);
        let mut store = Store::new(tier, knobs.clone(), Box::new(crate::platform::StdPlatform::new()));
        crate::wast::limit_native_stack(&mut store);
        let mut linker = Linker::new();
        kwasm_runtime::spectest::define(&mut store, &mut linker)?;
        Ok(UserBackend { store, linker })
    }
}

impl Backend for UserBackend {
    type Module = Arc<Module>;

    fn compile(&mut self, bytes: &[u8]) -> Result<Arc<Module>, LoadError> {
        Ok(Arc::new(Module::new(bytes)?))
    }

    fn instantiate(&mut self, module: &Arc<Module>) -> Result<u32, LoadError> {
        Ok(self.linker.instantiate(&mut self.store, module.clone())?.0)
    }

    fn register(&mut self, name: &str, instance: u32) -> Result<(), String> {
        self.linker.define_instance(&self.store, name, InstanceId(instance));
        Ok(())
    }

    fn invoke(&mut self, instance: u32, name: &str, args: &[Val]) -> Result<Result<Vec<Val>, Trap>, String> {
        let Some(Extern::Func(f)) = self.store.export(InstanceId(instance), name) else {
            return Err(format!("no exported function \"{name}\""));
        };
        Ok(self.store.call(f, args))
    }

    fn global(&mut self, instance: u32, name: &str) -> Result<Val, String> {
        match self.store.export(InstanceId(instance), name) {
            Some(Extern::Global(g)) => Ok(self.store.global_value(g)),
            _ => Err(format!("no exported global \"{name}\"")),
        }
    }

    fn func_addr(&self, instance: u32, index: u32) -> Option<u32> {
        self.store.instances.get(instance as usize)?.funcs.get(index as usize).copied()
    }
}

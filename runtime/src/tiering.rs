//! Mixed-tier execution and the tier manager.
//!
//! A store normally runs one tier (`tier_up = 0`). With [`Managed`] as the store's tier, every
//! function has a tier of its own ([`TierState::tier_of`]): functions start in the `tier` knob's
//! tier (or, for tests, in one picked per function by `tier_mix_seed`) and, with `tier_up = 1`,
//! hot functions are promoted to the higher enabled tiers built into the binary.
//!
//! # Calls across tiers
//! The function table ([`crate::vmctx`]) is the one place that says where a function's code is.
//! A compiled function's slot holds its body; the slot of a function the interpreter runs (or of
//! a host function) holds a *forwarder* ([`crate::Tier::compile_forwarder`], made by the baseline
//! tier if built in, else by the optimizing tier) that passes the call to the runtime (`libcalls`
//! `host_call`), which calls [`Managed::invoke`] for wasm functions. The interpreter asks
//! [`on_interp_call`] where each callee runs and calls compiled ones through [`call_compiled`]
//! (which enters them through their tier's entry trampoline). Either way can nest without limit
//! (interpreter → compiled → interpreter → ...): each entry into the interpreter is a new
//! activation with its own value stack, each entry into compiled code a new native frame.
//!
//! Fuel, interrupts, stack limits, traps: every crossing ends the running fuel slice of the side
//! it leaves (charging what it used) and starts a new one on the side it enters
//! ([`crate::libcalls::flush_fuel`]/[`crate::libcalls::next_slice`] for compiled code, the
//! interpreter's own slices), so every unit of fuel is charged once and interrupt requests are
//! honoured at every crossing and slice end. Compiled code's native stack limit is set by the
//! outermost entry into compiled code and holds for every compiled frame below it, whoever is in
//! between; the interpreter limits each activation's depth and value stack by the knobs, as in a
//! single-tier run. A trap keeps the kind and location (function, offset) of its site, whatever
//! tiers it unwinds through; a trap without location (a host trap) gets the location of the call
//! site in the tier that made the call, as in single-tier runs.
//!
//! # Hotness and promotion
//! Each function's hotness is [`crate::vmctx::FuncSlot::hotness`]: calls plus loop iterations.
//! The interpreter counts both (calls when it resolves a callee, iterations at loop headers); the
//! baseline tier's code counts both (at function entry and loop headers) when
//! [`TierState::counts_in_baseline`] asks it to, i.e. when there is a higher tier to promote to;
//! calls from compiled code into interpreted functions are counted by [`Managed::invoke`].
//! Optimizing code counts nothing (there is nothing above it). The counter is cumulative: a
//! function is promoted to the highest enabled tier above its own whose threshold
//! (`baseline_threshold`, `optimizing_threshold`) its counter has reached.
//!
//! Promotion is checked when a function is called through the interpreter or the runtime and, for
//! every function, at the end of every fuel slice ([`at_slice_end`]; so a function hot in a loop,
//! or called only by compiled code, is promoted within `fuel_slice` operators). Promoting compiles
//! the function with the new tier, keeps the code in the store (code memory lives until the store
//! drops, so frames running old code finish in it) and patches the function's slot: new calls
//! from any tier use the new code. A tier that cannot compile a function (an unsupported
//! feature) is recorded as refused for it in the timeline and never tried again; the function
//! stays where it is, or moves to the next tier down that can take it. Never an error for the user.
//!
//! # Timeline
//! Every promotion and refusal is a [`TierEvent`] in [`TierState::events`] (the CLI writes them
//! as CSV with `kwasm run --tier-log FILE`); [`TierState::promotions`] counts them per tier.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::Error;
use crate::knobs::{Knob, Knobs};
use crate::libcalls;
use crate::store::{FuncAddr, FuncKind, Store};
use crate::tier::{tier_name, CompiledCode, Tier, TierId, NUM_TIERS};
use crate::trap::Trap;

/// The tier objects built into this binary, by [`TierId`] (`None`: not built in).
pub type TierSet = [Option<Arc<dyn Tier>>; NUM_TIERS];

/// What happened to a function in a [`TierEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// It moved to the new tier.
    Promoted,
    /// The new tier could not compile it (why); it stays where it was.
    Refused(String),
    /// Its tier refused it (the preceding `Refused` event), so it moved to the new tier.
    FellBack,
}

/// One entry of the tier timeline.
#[derive(Clone, Debug)]
pub struct TierEvent {
    /// Position in the timeline (0, 1, ...).
    pub ordinal: u64,
    /// Fuel the store had used when it happened (a deterministic clock).
    pub fuel_used: u64,
    /// Monotonic time in nanoseconds, if the platform has a clock (0 otherwise).
    pub time_ns: u64,
    /// The function's store address.
    pub func: FuncAddr,
    /// Its instance.
    pub instance: u32,
    /// Its index in the module's function index space.
    pub func_index: u32,
    /// Tier it ran in.
    pub from: TierId,
    /// Tier it was promoted (or refused) to.
    pub to: TierId,
    /// Its hotness counter at that moment.
    pub hotness: u64,
    /// Promotion or refusal.
    pub kind: EventKind,
}

impl TierEvent {
    /// Header of [`TierEvent::csv`].
    pub const CSV_HEADER: &'static str =
        "ordinal,time_ns,fuel_used,func_addr,instance,func_index,from,to,hotness,event";

    /// One CSV line (no newline) matching [`TierEvent::CSV_HEADER`].
    pub fn csv(&self) -> String {
        let what = match &self.kind {
            EventKind::Promoted => String::from("promoted"),
            EventKind::Refused(why) => format!("\"refused: {}\"", why.replace('"', "'")),
            EventKind::FellBack => String::from("fell back"),
        };
        format!(
            "{},{},{},{},{},{},{},{},{},{}",
            self.ordinal,
            self.time_ns,
            self.fuel_used,
            self.func,
            self.instance,
            self.func_index,
            tier_name(self.from),
            tier_name(self.to),
            self.hotness,
            what
        )
    }
}

/// Per-store state of the tier manager (inactive unless the store's tier is [`Managed`]).
#[derive(Default)]
pub struct TierState {
    /// The tiers functions may run in (built in and enabled), by [`TierId`].
    tiers: TierSet,
    /// The tiers making forwarders, in order of preference (baseline: cheap to compile; then
    /// optimizing, e.g. for signatures the baseline tier does not support).
    forwarder_tiers: Vec<Arc<dyn Tier>>,
    active: bool,
    tier_up: bool,
    start: usize,
    mix_seed: u64,
    thresholds: [u64; NUM_TIERS],
    /// Tier of each function, by store address.
    current: Vec<u8>,
    /// Per function, a bit per tier that refused to compile it.
    refused: Vec<u8>,
    /// Forwarders installed in slots (with the tier that made them), kept alive with the store.
    forwarders: Vec<Option<(Arc<dyn Tier>, CompiledCode)>>,
    /// Native stack pointer at each entry into the interpreter from compiled code still running.
    sp_marks: Vec<usize>,
    /// Where the runtime was entered from compiled code for the call being set up.
    entry_mark: Option<usize>,
    /// Native stack pointer at the outermost entry into compiled code.
    base_sp: usize,
    /// Every function-table slot below this has code.
    filled: usize,
    /// Promotions and refusals, in order.
    pub events: Vec<TierEvent>,
    /// Promotions into each tier, by [`TierId`].
    pub promotions: [u64; NUM_TIERS],
    /// Compilations a tier refused (the function stayed where it was).
    pub refusals: u64,
    /// Native stack the embedder gives a run, in bytes from the outermost entry into compiled
    /// code (`None`: assume the `max_call_depth` × [`MIXED_STACK_BYTES_PER_CALL`] it should give).
    /// Mixed-tier execution traps "call stack exhausted" before using more; set it whenever the
    /// thread's stack is smaller than that product (a kernel stack, a constrained thread).
    pub native_stack_bytes: Option<u64>,
}

impl core::fmt::Debug for TierState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TierState")
            .field("active", &self.active)
            .field("tier_up", &self.tier_up)
            .field("events", &self.events.len())
            .finish()
    }
}

impl TierState {
    /// Whether the store runs functions in mixed tiers ([`Managed`]).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The tier function `func` runs in now (`None` if the manager is inactive or has not seen
    /// the function yet).
    pub fn tier_of(&self, func: FuncAddr) -> Option<TierId> {
        if !self.active {
            return None;
        }
        self.current.get(func as usize).and_then(|t| TierId::from_index(*t as usize))
    }

    /// Whether baseline code should count calls and loop iterations into its slot's hotness:
    /// only when a function in the baseline tier can still be promoted.
    pub fn counts_in_baseline(&self) -> bool {
        self.active && self.tier_up && self.tiers[TierId::Optimizing as usize].is_some()
    }

    /// Whether anything counts hotness at all (promotion is possible).
    fn counting(&self) -> bool {
        self.active && self.tier_up
    }

    fn configure(&mut self, tiers: &TierSet, knobs: &Knobs) {
        let enabled = [Knob::InterpEnabled, Knob::BaselineEnabled, Knob::OptimizingEnabled];
        for (i, t) in tiers.iter().enumerate() {
            self.tiers[i] = t.clone().filter(|_| knobs.get(enabled[i]) != 0);
        }
        self.forwarder_tiers =
            [TierId::Baseline, TierId::Optimizing].iter().filter_map(|t| tiers[*t as usize].clone()).collect();
        self.tier_up = knobs.get(Knob::TierUp) != 0;
        self.start = knobs.get(Knob::Tier) as usize;
        self.mix_seed = knobs.get(Knob::TierMixSeed);
        self.thresholds = [0, knobs.get(Knob::BaselineThreshold), knobs.get(Knob::OptimizingThreshold)];
        // Without a higher tier there is nothing to count for.
        if !(self.start + 1..NUM_TIERS).any(|t| self.tiers[t].is_some()) && self.mix_seed == 0 {
            self.tier_up = false;
        }
        self.active = true;
    }

    /// The enabled tiers at or above the start tier, lowest first.
    fn start_candidates(&self) -> Vec<usize> {
        (self.start..NUM_TIERS).filter(|t| self.tiers[*t].is_some()).collect()
    }

    /// The tier a new function starts in.
    fn start_tier(&self, func: FuncAddr) -> Option<usize> {
        let c = self.start_candidates();
        if c.is_empty() {
            return None;
        }
        if self.mix_seed == 0 {
            return Some(c[0]);
        }
        // splitmix64 of (seed, address): neighbouring functions get unrelated tiers.
        let mut x = self.mix_seed.wrapping_add((func as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        Some(c[(x % c.len() as u64) as usize])
    }
}

/// The tier manager as a store's tier: runs every function in the tier that holds it (see the
/// module docs). Build it with the tiers of this binary; the knobs say which may run.
pub struct Managed {
    tiers: TierSet,
    start: TierId,
}

impl core::fmt::Debug for Managed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Managed(start {:?})", self.start)
    }
}

impl Managed {
    /// The manager over `tiers` (by [`TierId`]; `None` for tiers not built in). When no tier at
    /// or above the `tier` knob's is built in and enabled, every call fails with a trap saying
    /// so.
    pub fn new(tiers: TierSet, knobs: &Knobs) -> Managed {
        let mut probe = TierState::default();
        probe.configure(&tiers, knobs);
        let start = probe.start_candidates().first().and_then(|t| TierId::from_index(*t)).unwrap_or(TierId::Interp);
        Managed { tiers, start }
    }
}

impl Managed {
    /// Activates the manager's state in `store` (done by the first call otherwise), so that
    /// [`place`] can be used before anything ran.
    pub fn attach(&self, store: &mut Store) {
        if !store.tiering.active {
            store.tiering.configure(&self.tiers, &store.knobs);
        }
    }
}

/// Moves wasm function `func` to tier `to` now (tests, embedders that know better than the
/// counters): compiles it there and patches its slot (a forwarder for the interpreter). The
/// manager must be active ([`Managed::attach`]); the tier must be built in and enabled.
pub fn place(store: &mut Store, func: FuncAddr, to: TierId) -> Result<(), Error> {
    if !store.tiering.active {
        return Err(Error::Other("tier manager: not active in this store (Managed::attach)".into()));
    }
    if !matches!(store.funcs.get(func as usize).map(|f| &f.kind), Some(FuncKind::Wasm { .. })) {
        return Err(Error::Other(format!("tier manager: {func} is not a wasm function")));
    }
    if store.tiering.tiers[to as usize].is_none() {
        return Err(Error::Unsupported(format!("tier {} is not built in or not enabled", tier_name(to))));
    }
    sync(store).map_err(Error::Trap)?;
    let a = func as usize;
    if to == TierId::Interp {
        store.tiering.current[a] = to as u8;
        // Compiled code may be running: never leave the slot without code.
        return install_forwarder(store, func);
    }
    install(store, func, to as usize).map_err(|()| {
        Error::Unsupported(format!("tier {} cannot compile function {func} (see the timeline)", tier_name(to)))
    })?;
    store.tiering.current[a] = to as u8;
    Ok(())
}

impl Tier for Managed {
    fn id(&self) -> TierId {
        self.start
    }

    fn compile(&self, store: &Store, func: FuncAddr) -> Result<CompiledCode, Error> {
        match &self.tiers[self.start as usize] {
            Some(t) => t.compile(store, func),
            None => Err(Error::Other("tier manager: start tier missing".into())),
        }
    }

    fn invoke(&self, store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap> {
        if let FuncKind::Host(_) = store.funcs[func as usize].kind {
            return store.call_host(func, None, args, results);
        }
        if !store.tiering.active {
            store.tiering.configure(&self.tiers, &store.knobs);
        }
        let tier = on_call(store, func, true)?;
        run_in(store, tier, func, args, results, false)
    }
}

/// Makes the per-function state cover every function of the store (new functions get their
/// start tier) and the function table every function.
fn sync(store: &mut Store) -> Result<(), Trap> {
    if store.vm.slots.len() < store.funcs.len() {
        store.vm_refresh();
    }
    let st = &mut store.tiering;
    while st.current.len() < store.funcs.len() {
        let addr = st.current.len() as FuncAddr;
        let t = st.start_tier(addr).ok_or_else(|| {
            Trap::host(format!(
                "no enabled tier at or above tier={} is built into this binary (knobs *_enabled)",
                crate::knobs::TIER_NAMES[st.start.min(NUM_TIERS - 1)]
            ))
        })?;
        st.current.push(t as u8);
        st.refused.push(0);
        st.forwarders.push(None);
    }
    Ok(())
}

/// Counts a call of `func` (if `count`), promotes it when hot, and returns where it runs.
fn on_call(store: &mut Store, func: FuncAddr, count: bool) -> Result<TierId, Trap> {
    sync(store)?;
    let a = func as usize;
    if count && store.tiering.counting() {
        let slot = &mut store.vm.slots[a];
        slot.hotness = slot.hotness.wrapping_add(1);
        maybe_promote(store, func);
    }
    if store.tiering.current[a] == TierId::Interp as u8 {
        ensure_interp(store, func);
    }
    Ok(TierId::from_index(store.tiering.current[a] as usize).unwrap_or(TierId::Interp))
}

/// Translates `func` for the interpreter if it has not been; a function the interpreter cannot
/// run (a feature it lacks) is refused there and moves to a tier that can run it.
fn ensure_interp(store: &mut Store, func: FuncAddr) {
    let Some(t) = store.tiering.tiers[TierId::Interp as usize].clone() else { return };
    if store.funcs[func as usize].code[TierId::Interp as usize].get().is_some() {
        return;
    }
    if let Err(e) = store.code(func, t.as_ref()) {
        let a = func as usize;
        store.tiering.refused[a] |= 1 << TierId::Interp as usize;
        store.tiering.refusals += 1;
        record(store, func, TierId::Interp as usize, TierId::Interp as usize, EventKind::Refused(format!("{e}")));
        fall_back(store, func);
    }
}

/// Called by the interpreter for every call it makes to wasm function `func` while the store's
/// tier manager is active: counts the call, promotes the function if it became hot, and says
/// which tier runs it (the interpreter runs it itself, or calls [`call_compiled`]).
pub fn on_interp_call(store: &mut Store, func: FuncAddr) -> Result<TierId, Trap> {
    on_call(store, func, true)
}

/// Called by the interpreter at a loop header of `func` while the manager is active.
#[inline]
pub fn count_loop(store: &mut Store, func: FuncAddr) {
    if let Some(slot) = store.vm.slots.get_mut(func as usize) {
        slot.hotness = slot.hotness.wrapping_add(1);
    }
}

/// Runs wasm function `func`, which [`on_interp_call`] placed in a compiled tier, for the
/// interpreter. The interpreter must have accounted its running fuel slice (it starts a new one
/// afterwards).
pub fn call_compiled(store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap> {
    let tier = on_call(store, func, false)?;
    run_in(store, tier, func, args, results, true)
}

/// Runs `func` in `tier`; `from_interp`: called by the innermost interpreter activation.
fn run_in(
    store: &mut Store,
    tier: TierId,
    func: FuncAddr,
    args: &[u64],
    results: &mut [u64],
    from_interp: bool,
) -> Result<(), Trap> {
    let mut tier = tier;
    if tier != TierId::Interp {
        // Gives every slot code; a start tier that refuses a function moves it elsewhere.
        fill_slots(store).map_err(|e| Trap::host(format!("{e}")))?;
        tier = TierId::from_index(store.tiering.current[func as usize] as usize).unwrap_or(TierId::Interp);
    }
    let t = store.tiering.tiers[tier as usize].clone().ok_or_else(|| Trap::host("tier manager: tier missing"))?;
    if tier == TierId::Interp {
        enter_interp(store, t.as_ref(), func, args, results)
    } else {
        enter_compiled(store, t.as_ref(), func, args, results, from_interp)
    }
}

/// Native stack allowed per entry from compiled code into the interpreter beyond what is
/// measured between the two (the runtime's and the tier's frames around the entries).
pub const CROSSING_BYTES: u64 = 4 << 10;

/// Native stack a mixed-tier run may use per permitted wasm call level (`max_call_depth` × this,
/// from the outermost entry into compiled code); an embedder that cannot give the run that much
/// stack says how much it gives in [`TierState::native_stack_bytes`] (`kwasm run` and `kwasm
/// wast` run stores on a thread of up to 1 GiB and do).
pub const MIXED_STACK_BYTES_PER_CALL: u64 = 16 << 10;

/// Runs wasm function `func` for compiled code that called its forwarder (`libcalls`
/// `host_call`, whose frame starts at native stack address `mark`).
pub fn call_from_compiled(
    store: &mut Store,
    func: FuncAddr,
    args: &[u64],
    results: &mut [u64],
    mark: usize,
) -> Result<(), Trap> {
    store.tiering.entry_mark = Some(mark);
    let tier = store.tier.clone();
    let r = tier.invoke(store, func, args, results);
    store.tiering.entry_mark = None;
    r
}

/// The native stack pointer (near enough: the address of a local of the caller's frame).
#[inline(always)]
pub fn native_sp() -> usize {
    let here = 0u8;
    core::hint::black_box(&here) as *const u8 as usize
}

fn enter_interp(
    store: &mut Store,
    t: &dyn Tier,
    func: FuncAddr,
    args: &[u64],
    results: &mut [u64],
) -> Result<(), Trap> {
    // Compiled code below us: charge its slice so far; the interpreter runs its own slices.
    let nested = store.vm.shared.depth > 0;
    if nested {
        // Each crossing is a wasm call: at most `max_call_depth` of them on the stack, and all of
        // mixed execution within `max_call_depth` × `MIXED_STACK_BYTES_PER_CALL` of native stack.
        let depth = store.knobs.get(Knob::MaxCallDepth);
        let used = store.tiering.base_sp.saturating_sub(native_sp()) as u64;
        let mut allowed = depth.saturating_mul(MIXED_STACK_BYTES_PER_CALL);
        if let Some(bytes) = store.tiering.native_stack_bytes {
            allowed = allowed.min(bytes);
        }
        if store.tiering.sp_marks.len() as u64 >= depth || used > allowed {
            return Err(Trap::new(crate::TrapKind::CallStackExhausted));
        }
        libcalls::flush_fuel(store);
        let mark = store.tiering.entry_mark.take().unwrap_or_else(native_sp);
        store.tiering.sp_marks.push(mark);
    }
    let mut r = t.invoke(store, func, args, results);
    if nested {
        store.tiering.sp_marks.pop();
        // Compiled code continues with a fresh slice (it reloads the counter after calls).
        if let Err(k) = libcalls::next_slice(store) {
            if r.is_ok() {
                r = Err(Trap::new(k));
            }
        }
    }
    r
}

fn enter_compiled(
    store: &mut Store,
    t: &dyn Tier,
    func: FuncAddr,
    args: &[u64],
    results: &mut [u64],
    from_interp: bool,
) -> Result<(), Trap> {
    fill_slots(store).map_err(|e| Trap::host(format!("{e}")))?;
    // The outermost compiled entry starts and ends its slice itself; below compiled code (its
    // slice accounted by `enter_interp` or a host call), a nested entry starts one here.
    let nested = store.vm.shared.depth > 0;
    if !nested {
        store.tiering.base_sp = native_sp();
        return t.invoke(store, func, args, results);
    }
    libcalls::next_slice(store).map_err(Trap::new)?;
    // Compiled code's stack limit budgets compiled frames: the native stack an interpreter
    // activation (and the runtime) used since compiled code called into it does not count, so
    // that the call depth compiled code reaches is the same as in a single-tier run. The number
    // of such activations is limited in `enter_interp`.
    // (Host functions re-entering compiled code get no allowance, as in single-tier runs.)
    let mark = store.tiering.sp_marks.last().filter(|_| from_interp);
    let gap = mark.map_or(0, |m| m.saturating_sub(native_sp()) as u64 + CROSSING_BYTES);
    store.vm.shared.stack_limit = store.vm.shared.stack_limit.saturating_sub(gap);
    let r = t.invoke(store, func, args, results);
    store.vm.shared.stack_limit = store.vm.shared.stack_limit.saturating_add(gap);
    libcalls::flush_fuel(store);
    r
}

/// Gives every function-table slot without code its code: the compiled body for functions in a
/// compiled tier, a forwarder for the others. Compiled tiers only fill slots that are empty, so
/// after this they compile nothing on their own.
fn fill_slots(store: &mut Store) -> Result<(), Error> {
    if store.tiering.filled == store.funcs.len() {
        // Nothing new since the last time (the tier's own entry refreshes the contexts).
        return Ok(());
    }
    store.vm_refresh();
    sync(store).map_err(Error::Trap)?;
    for a in 0..store.vm.slots.len() {
        if !store.vm.slots[a].code.is_null() {
            continue;
        }
        let func = a as FuncAddr;
        let cur = store.tiering.current[a] as usize;
        if cur != TierId::Interp as usize && matches!(store.funcs[a].kind, FuncKind::Wasm { .. }) {
            if install(store, func, cur).is_ok() {
                continue;
            }
            // The start tier refused it (recorded); run it where it can run.
            fall_back(store, func);
            if store.tiering.current[a] != TierId::Interp as u8 {
                continue;
            }
        }
        install_forwarder(store, func)?;
    }
    store.tiering.filled = store.vm.slots.len();
    Ok(())
}

/// Puts `func`'s forwarder (made once, kept with the store) into its slot.
fn install_forwarder(store: &mut Store, func: FuncAddr) -> Result<(), Error> {
    let a = func as usize;
    let (ft, code) = match &store.tiering.forwarders[a] {
        Some(made) => made.clone(),
        None => {
            let mut made = Err(Error::Unsupported("no compiled tier is built in to make forwarders".into()));
            for ft in store.tiering.forwarder_tiers.clone() {
                made = ft.compile_forwarder(store, func).map(|c| (ft, c));
                if made.is_ok() {
                    break;
                }
            }
            made?
        }
    };
    let p = ft.slot_code(&code).ok_or_else(|| Error::Other("forwarder without an entry".into()))?;
    store.vm.slots[a].code = p;
    store.tiering.forwarders[a] = Some((ft, code));
    Ok(())
}

/// Compiles `func` with tier `to` and installs it in its slot; a refusal is recorded.
fn install(store: &mut Store, func: FuncAddr, to: usize) -> Result<(), ()> {
    let a = func as usize;
    let Some(t) = store.tiering.tiers[to].clone() else { return Err(()) };
    let from = store.tiering.current[a] as usize;
    let result = store.code(func, t.as_ref()).map(|c| t.slot_code(c));
    match result {
        Ok(Some(p)) => {
            store.vm.slots[a].code = p;
            Ok(())
        }
        Ok(None) => Err(()),
        Err(e) => {
            store.tiering.refused[a] |= 1 << to;
            store.tiering.refusals += 1;
            record(store, func, from, to, EventKind::Refused(format!("{e}")));
            Err(())
        }
    }
}

/// After the start tier refused `func`: the highest other enabled tier that compiles it, or
/// the interpreter.
fn fall_back(store: &mut Store, func: FuncAddr) {
    let a = func as usize;
    let from = store.tiering.current[a] as usize;
    for to in (0..NUM_TIERS).rev() {
        if store.tiering.tiers[to].is_none() || store.tiering.refused[a] & (1 << to) != 0 {
            continue;
        }
        if to == TierId::Interp as usize {
            store.tiering.current[a] = to as u8;
            if install_forwarder(store, func).is_err() {
                store.vm.slots[a].code = core::ptr::null();
                store.tiering.filled = store.tiering.filled.min(a);
            }
            record(store, func, from, to, EventKind::FellBack);
            return;
        }
        store.tiering.current[a] = to as u8;
        if install(store, func, to).is_ok() {
            record(store, func, from, to, EventKind::FellBack);
            return;
        }
    }
    // Nothing can run it: leave it in the interpreter slot-wise; its call reports the error.
    store.tiering.current[a] = TierId::Interp as u8;
}

/// Promotes `func` if its hotness reached the threshold of an enabled tier above its own.
fn maybe_promote(store: &mut Store, func: FuncAddr) {
    let a = func as usize;
    let st = &store.tiering;
    let cur = st.current[a] as usize;
    let h = store.vm.slots[a].hotness;
    for to in (cur + 1..NUM_TIERS).rev() {
        let st = &store.tiering;
        if st.tiers[to].is_none() || h < st.thresholds[to] || st.refused[a] & (1 << to) != 0 {
            continue;
        }
        if install(store, func, to).is_ok() {
            store.tiering.current[a] = to as u8;
            store.tiering.promotions[to] += 1;
            record(store, func, cur, to, EventKind::Promoted);
            return;
        }
    }
}

/// Called at the end of every fuel slice: promotes every function that became hot (in loops,
/// or through calls counted by compiled code).
pub fn at_slice_end(store: &mut Store) {
    if !store.tiering.counting() {
        return;
    }
    let n = store.tiering.current.len().min(store.vm.slots.len());
    for a in 0..n {
        if matches!(store.funcs[a].kind, FuncKind::Wasm { .. }) && store.tiering.current[a] as usize + 1 < NUM_TIERS {
            maybe_promote(store, a as FuncAddr);
        }
    }
}

fn record(store: &mut Store, func: FuncAddr, from: usize, to: usize, kind: EventKind) {
    let (instance, func_index) = match store.funcs[func as usize].kind {
        FuncKind::Wasm { instance, func_index } => (instance.0, func_index),
        FuncKind::Host(_) => (u32::MAX, u32::MAX),
    };
    let time_ns = store.platform.clock_time(crate::platform::Clock::Monotonic).unwrap_or(0);
    let st = &mut store.tiering;
    let ev = TierEvent {
        ordinal: st.events.len() as u64,
        fuel_used: store.fuel_used,
        time_ns,
        func,
        instance,
        func_index,
        from: TierId::from_index(from).unwrap_or(TierId::Interp),
        to: TierId::from_index(to).unwrap_or(TierId::Interp),
        hotness: store.vm.slots.get(func as usize).map_or(0, |s| s.hotness),
        kind,
    };
    st.events.push(ev);
}

/// A summary line of the manager's counters, e.g. for `kwasm run --tier-log`.
pub fn summary(st: &TierState) -> String {
    let mut per_tier = [0u64; NUM_TIERS];
    for t in &st.current {
        if let Some(c) = per_tier.get_mut(*t as usize) {
            *c += 1;
        }
    }
    format!(
        "promotions: baseline {}, optimizing {}; refusals {}; functions now interp {}, baseline {}, optimizing {}",
        st.promotions[1], st.promotions[2], st.refusals, per_tier[0], per_tier[1], per_tier[2]
    )
}

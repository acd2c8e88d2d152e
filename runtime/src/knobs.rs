//! The one table of every kwasm knob: name, default, range and meaning.
//!
//! Every front end reads this table: the CLI (`kwasm knobs`, `--knob name=value`), the kernel
//! module's sysfs directory (`/sys/kernel/kwasm/<name>`) and the experiment definitions. Adding a
//! knob here makes it appear everywhere.

use alloc::format;
use alloc::string::String;
use core::fmt::Write;

/// The values a knob accepts.
#[derive(Clone, Copy, Debug)]
pub enum KnobRange {
    /// An integer in `min..=max`.
    Int {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// One of these names; the stored value is the index into the list.
    Choice(&'static [&'static str]),
}

/// The description of one knob.
#[derive(Clone, Copy, Debug)]
pub struct KnobSpec {
    /// Name used in sysfs, on the command line and in experiment files.
    pub name: &'static str,
    /// Default value (an index for choice knobs).
    pub default: u64,
    /// Accepted values.
    pub range: KnobRange,
    /// What the knob means.
    pub meaning: &'static str,
}

macro_rules! knobs {
    ($( $variant:ident = $name:literal, $default:expr, $range:expr, $meaning:literal; )*) => {
        /// Identifies a knob; `Knob as usize` indexes [`KNOBS`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Knob { $( #[doc = $meaning] $variant, )* }

        /// Every knob, in [`Knob`] order.
        pub const KNOBS: &[KnobSpec] = &[
            $( KnobSpec { name: $name, default: $default, range: $range, meaning: $meaning }, )*
        ];

        impl Knob {
            /// Every knob, in table order.
            pub const ALL: &'static [Knob] = &[ $( Knob::$variant, )* ];
        }
    };
}

const fn int(min: u64, max: u64) -> KnobRange {
    KnobRange::Int { min, max }
}

/// Names of the execution tiers, the values of `tier`.
pub const TIER_NAMES: &[&str] = &["interp", "baseline", "optimizing"];
/// Names of the bounds-check strategies, the values of `bounds_mode`.
pub const BOUNDS_MODES: &[&str] = &["explicit", "guard"];
/// Names of the kernel FPU strategies, the values of `fpu_mode`.
pub const FPU_MODES: &[&str] = &["notifier", "bracket", "soft"];

knobs! {
    Tier = "tier", 0, KnobRange::Choice(TIER_NAMES),
        "Tier functions start in (interp, baseline, optimizing); with tier_up=0 the one tier that runs everything.";
    TierUp = "tier_up", 0, int(0, 1),
        "1: start functions in `tier` and promote hot ones to the higher enabled tiers (kwasm run --tier auto, its default); 0: run every function in `tier` only. User space only so far: the kernel module runs `tier` alone.";
    TierMixSeed = "tier_mix_seed", 0, int(0, u32::MAX as u64),
        "Testing: if non-zero, each function starts in a tier picked by a hash of this seed and its address among the enabled tiers from `tier` up (and stays there when tier_up=0). User space only so far.";
    InterpEnabled = "interp_enabled", 1, int(0, 1),
        "Whether the interpreter tier may run code (1) or not (0).";
    BaselineEnabled = "baseline_enabled", 1, int(0, 1),
        "Whether functions may be promoted to the baseline JIT.";
    OptimizingEnabled = "optimizing_enabled", 1, int(0, 1),
        "Whether functions may be promoted to the optimizing JIT.";
    BaselineThreshold = "baseline_threshold", 1000, int(1, u32::MAX as u64),
        "Calls plus loop iterations after which a function is promoted to the baseline tier (tier_up=1).";
    OptimizingThreshold = "optimizing_threshold", 100_000, int(1, u32::MAX as u64),
        "Calls plus loop iterations (counted since the function was created, in any tier but the optimizing one) after which it is promoted to the optimizing tier (tier_up=1).";
    FuelSlice = "fuel_slice", 1_000_000, int(1, i64::MAX as u64),
        "Fuel units run between two returns to the platform (signal check, reschedule).";
    Fuel = "fuel", 0, int(0, i64::MAX as u64),
        "Total fuel before the program traps 'out of fuel'; 0 means unlimited.";
    MaxCallDepth = "max_call_depth", 20_000, int(1, 1_000_000),
        "Maximum nesting of wasm calls; deeper calls trap 'call stack exhausted'.";
    MaxValueStack = "max_value_stack", 1 << 21, int(1024, 1 << 28),
        "Maximum value-stack size in 8-byte slots; exceeding it traps 'call stack exhausted'.";
    MaxMemoryPages = "max_memory_pages", 65536, int(0, 65536),
        "Cap on the size of any linear memory in 64 KiB pages (growth beyond it fails).";
    MaxTableElements = "max_table_elements", 10_000_000, int(0, u32::MAX as u64),
        "Cap on the number of elements of any table (growth beyond it fails).";
    MaxInstances = "max_instances", 1000, int(1, 1_000_000),
        "Maximum number of module instances in one store.";
    BoundsMode = "bounds_mode", 0, KnobRange::Choice(BOUNDS_MODES),
        "Linear memory safety in compiled tiers: explicit checks, or guard regions (user space).";
    FpuMode = "fpu_mode", 0, KnobRange::Choice(FPU_MODES),
        "Floats in kernel mode: SSE runtime with preempt notifiers saving/restoring its registers (notifier), SSE runtime in kernel_fpu_begin/end per fuel slice (bracket), or the soft-float runtime (soft).";
}

/// A set of knob values.
#[derive(Clone, Debug)]
pub struct Knobs {
    values: [u64; KNOBS.len()],
}

impl Default for Knobs {
    fn default() -> Self {
        let mut values = [0; KNOBS.len()];
        for (v, spec) in values.iter_mut().zip(KNOBS) {
            *v = spec.default;
        }
        Knobs { values }
    }
}

impl Knob {
    /// Finds a knob by name.
    pub fn by_name(name: &str) -> Option<Knob> {
        KNOBS.iter().position(|k| k.name == name).map(|i| Knob::ALL[i])
    }

    /// The knob's description.
    pub fn spec(self) -> &'static KnobSpec {
        &KNOBS[self as usize]
    }
}

impl KnobSpec {
    /// Parses a textual value (a number, or a choice name) and checks the range.
    pub fn parse(&self, text: &str) -> Result<u64, String> {
        let text = text.trim();
        match self.range {
            KnobRange::Int { min, max } => {
                let cleaned: String = text.chars().filter(|c| *c != '_').collect();
                let v: u64 = cleaned.parse().map_err(|_| format!("knob {}: '{text}' is not a number", self.name))?;
                if v < min || v > max {
                    return Err(format!("knob {}: {v} is outside {min}..={max}", self.name));
                }
                Ok(v)
            }
            KnobRange::Choice(names) => names
                .iter()
                .position(|n| *n == text)
                .or_else(|| text.parse::<usize>().ok().filter(|i| *i < names.len()))
                .map(|i| i as u64)
                .ok_or_else(|| format!("knob {}: '{text}' is not one of {names:?}", self.name)),
        }
    }

    /// Renders a value the way [`KnobSpec::parse`] reads it.
    pub fn render(&self, value: u64) -> String {
        match self.range {
            KnobRange::Choice(names) => names.get(value as usize).copied().unwrap_or("?").into(),
            KnobRange::Int { .. } => format!("{value}"),
        }
    }

    /// Renders the accepted range.
    pub fn render_range(&self) -> String {
        match self.range {
            KnobRange::Int { min, max } => format!("{min}..={max}"),
            KnobRange::Choice(names) => names.join("|"),
        }
    }
}

impl Knobs {
    /// The value of a knob.
    pub fn get(&self, knob: Knob) -> u64 {
        self.values[knob as usize]
    }

    /// Sets a knob, checking the range.
    pub fn set(&mut self, knob: Knob, value: u64) -> Result<(), String> {
        let spec = knob.spec();
        let ok = match spec.range {
            KnobRange::Int { min, max } => value >= min && value <= max,
            KnobRange::Choice(names) => (value as usize) < names.len(),
        };
        if !ok {
            return Err(format!("knob {}: {value} is outside {}", spec.name, spec.render_range()));
        }
        self.values[knob as usize] = value;
        Ok(())
    }

    /// Sets a knob from `name=value` text.
    pub fn set_text(&mut self, assignment: &str) -> Result<(), String> {
        let (name, value) = assignment.split_once('=').ok_or_else(|| format!("'{assignment}' is not NAME=VALUE"))?;
        let knob = Knob::by_name(name.trim()).ok_or_else(|| format!("no knob named '{name}'"))?;
        let v = knob.spec().parse(value)?;
        self.set(knob, v)
    }

    /// A table of every knob with its current value, for `kwasm knobs` and documentation.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for (knob, spec) in Knob::ALL.iter().zip(KNOBS) {
            let _ = writeln!(
                out,
                "{:<22} {:>12}  [{}]  {}",
                spec.name,
                spec.render(self.get(*knob)),
                spec.render_range(),
                spec.meaning
            );
        }
        out
    }
}

//! Executes the directives of one `.wast` script against a [`Backend`] (a fresh store).

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use kwasm_runtime::{Knobs, Trap, TrapKind, Val};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, QuoteWatTest, Wast, WastDirective, WastExecute, WastInvoke, Wat};

use super::backend::{Backend, LoadError, UserBackend};
use super::report::FileReport;
use super::skips::SkipList;
use super::values;

/// What running an `invoke`, `get` or module in an assertion produced.
enum Outcome {
    /// Normal completion with these results.
    Values(Vec<Val>),
    /// A trap (during the call, or during instantiation).
    Trapped(Trap),
}

/// Result of one directive: `Err` carries the one-line reason it failed.
type Step = Result<(), String>;

/// Runs the script file at `path` in this process, reported and matched against `skips` under
/// `name`.
pub fn run_file(path: &Path, name: &str, knobs: &Knobs, skips: &SkipList) -> FileReport {
    run_file_with(path, name, skips, || {
        UserBackend::new(knobs).map_err(|e| format!("cannot set up the spectest module: {e}"))
    })
}

/// Runs the script file at `path` on the backend `make` creates (called once, after the script
/// parsed).
pub fn run_file_with<B: Backend>(
    path: &Path,
    name: &str,
    skips: &SkipList,
    make: impl FnOnce() -> Result<B, String>,
) -> FileReport {
    match std::fs::read_to_string(path) {
        Ok(text) => run_text_with(&text, name, skips, make),
        Err(e) => {
            let mut report = FileReport::new(name);
            report.fail((0, 0), &format!("cannot read {}: {e}", path.display()));
            report
        }
    }
}

/// Runs script text in this process (see [`run_text_with`]).
pub fn run_text(text: &str, name: &str, knobs: &Knobs, skips: &SkipList) -> FileReport {
    run_text_with(text, name, skips, || {
        UserBackend::new(knobs).map_err(|e| format!("cannot set up the spectest module: {e}"))
    })
}

/// Runs script text on the backend `make` creates. Never panics: a panic in the runtime or a
/// tier is caught, counted as a failure of the directive that was running, and ends this script
/// (the store may be left half-updated, so nothing after it could be trusted). This needs
/// unwinding: under `panic = "abort"` (the release profile) a panic still ends the process.
pub fn run_text_with<B: Backend>(
    text: &str,
    name: &str,
    skips: &SkipList,
    make: impl FnOnce() -> Result<B, String>,
) -> FileReport {
    let mut report = FileReport::new(name);
    let mut at = (1, 1);
    let result = catch_unwind(AssertUnwindSafe(|| run_script(text, name, skips, make, &mut report, &mut at)));
    if let Err(payload) = result {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string payload)".into());
        report.fail(at, &format!("panic: {msg}; rest of file not run"));
    }
    report
}

/// 1-based line and column of byte offset `offset`.
fn linecol(text: &str, offset: usize) -> (usize, usize) {
    let (l, c) = wast::token::Span::from_offset(offset).linecol_in(text);
    (l + 1, c + 1)
}

fn run_script<B: Backend>(
    text: &str,
    name: &str,
    skips: &SkipList,
    make: impl FnOnce() -> Result<B, String>,
    report: &mut FileReport,
    at: &mut (usize, usize),
) {
    // Names in the scripts deliberately use bidi overrides and other "confusing" characters
    // (names.wast); wast rejects those by default to protect human readers of source code.
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => {
            return report.fail(linecol(text, e.span().offset()), &format!("script does not lex: {}", e.message()))
        }
    };
    let script = match parser::parse::<Wast<'_>>(&buf) {
        Ok(w) => w,
        Err(e) => {
            return report.fail(linecol(text, e.span().offset()), &format!("script does not parse: {}", e.message()))
        }
    };
    let mut state = match make() {
        Ok(b) => Script::new(b),
        Err(e) => return report.fail((1, 1), &e),
    };
    for directive in script.directives {
        *at = linecol(text, directive.span().offset());
        if let Some(reason) = skips.reason(name, at.0) {
            report.skip(*at, reason);
            continue;
        }
        match state.run(directive) {
            Ok(()) => report.passed += 1,
            Err(reason) => report.fail(*at, &reason),
        }
    }
}

/// The state a script builds up: the backend's store, the named instances and definitions.
struct Script<B: Backend> {
    backend: B,
    /// Instances named `$id` in the script.
    instances: HashMap<String, u32>,
    /// The most recently instantiated module, the target of unnamed `invoke`/`get`/`register`.
    /// `None` after a failed `module` directive, so that later directives fail visibly rather
    /// than run against an older module.
    current: Option<u32>,
    /// Module definitions (`module definition`) by `$id`.
    definitions: HashMap<String, B::Module>,
    /// The most recent module definition.
    last_definition: Option<B::Module>,
}

impl<B: Backend> Script<B> {
    fn new(backend: B) -> Script<B> {
        Script { backend, instances: HashMap::new(), current: None, definitions: HashMap::new(), last_definition: None }
    }

    fn run(&mut self, d: WastDirective<'_>) -> Step {
        match d {
            WastDirective::Module(mut m) => self.module(&mut m),
            WastDirective::ModuleDefinition(mut m) => self.module_definition(&mut m),
            WastDirective::ModuleInstance { instance, module, .. } => {
                self.module_instance(instance.map(|i| i.name()), module.map(|m| m.name()))
            }
            WastDirective::Register { name, module, .. } => {
                let id = self.instance(module.map(|m| m.name()))?;
                self.backend.register(name, id)
            }
            WastDirective::Invoke(call) => match self.invoke(&call)? {
                Outcome::Values(_) => Ok(()),
                Outcome::Trapped(t) => Err(format!("invoke \"{}\": unexpected {t}", call.name)),
            },
            WastDirective::AssertReturn { mut exec, results, .. } => self.assert_return(&mut exec, &results),
            WastDirective::AssertTrap { mut exec, message, .. } => {
                let outcome = self.execute(&mut exec)?;
                expect_trap(outcome, message)
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let outcome = self.invoke(&call)?;
                expect_trap(outcome, message)
            }
            WastDirective::AssertUnlinkable { mut module, .. } => self.assert_unlinkable(&mut module),
            WastDirective::AssertInvalid { mut module, message, .. } => self.assert_invalid(&mut module, message),
            WastDirective::AssertMalformed { mut module, .. } => self.assert_malformed(&mut module),
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Err("thread/wait: the threads proposal is not supported".into())
            }
            WastDirective::AssertException { .. } => {
                Err("assert_exception: exception handling is not supported".into())
            }
            WastDirective::AssertSuspension { .. } => Err("assert_suspension: stack switching is not supported".into()),
            WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
                Err("assert_{invalid,malformed}_custom: custom-section checks are not supported".into())
            }
        }
    }

    /// `(module ...)`: decode, validate, instantiate, make it current (and named, if it has a name).
    fn module(&mut self, m: &mut QuoteWat<'_>) -> Step {
        let name = m.name().map(|n| n.name().to_string());
        // Whatever happens, neither the current module nor a reused name may keep referring to
        // an older instance: later directives would silently run against the wrong module.
        self.current = None;
        if let Some(name) = &name {
            self.instances.remove(name);
        }
        let module = self.compile(&encode_quote(m)?)?;
        let id = self.backend.instantiate(&module).map_err(|e| format!("instantiation failed: {e}"))?;
        if let Some(name) = name {
            self.instances.insert(name.clone(), id);
            self.definitions.insert(name, module.clone());
        }
        self.last_definition = Some(module);
        self.current = Some(id);
        Ok(())
    }

    /// `(module definition $M ...)`: decode and validate only.
    fn module_definition(&mut self, m: &mut QuoteWat<'_>) -> Step {
        let name = m.name().map(|n| n.name().to_string());
        self.last_definition = None;
        if let Some(name) = &name {
            self.definitions.remove(name);
        }
        let module = self.compile(&encode_quote(m)?)?;
        if let Some(name) = name {
            self.definitions.insert(name, module.clone());
        }
        self.last_definition = Some(module);
        Ok(())
    }

    /// `(module instance $I $M)`: instantiate a definition.
    fn module_instance(&mut self, instance: Option<&str>, module: Option<&str>) -> Step {
        self.current = None;
        if let Some(i) = instance {
            self.instances.remove(i);
        }
        let def = match module {
            Some(m) => self.definitions.get(m).cloned().ok_or_else(|| format!("no module definition ${m}"))?,
            None => self.last_definition.clone().ok_or("no module definition")?,
        };
        let id = self.backend.instantiate(&def).map_err(|e| format!("instantiation failed: {e}"))?;
        if let Some(i) = instance {
            self.instances.insert(i.to_string(), id);
        }
        self.current = Some(id);
        Ok(())
    }

    /// Decodes and validates a module the script needs.
    fn compile(&mut self, bytes: &[u8]) -> Result<B::Module, String> {
        self.backend.compile(bytes).map_err(|e| format!("module rejected: {e}"))
    }

    /// The instance named `name`, or the current one.
    fn instance(&self, name: Option<&str>) -> Result<u32, String> {
        match name {
            Some(n) => self.instances.get(n).copied().ok_or_else(|| format!("no instance named ${n}")),
            None => self.current.ok_or_else(|| "no current instance (the last module failed)".into()),
        }
    }

    fn invoke(&mut self, call: &WastInvoke<'_>) -> Result<Outcome, String> {
        let id = self.instance(call.module.map(|m| m.name()))?;
        let args = call.args.iter().map(values::arg).collect::<Result<Vec<_>, _>>()?;
        Ok(match self.backend.invoke(id, call.name, &args)? {
            Ok(vals) => Outcome::Values(vals),
            Err(t) => Outcome::Trapped(t),
        })
    }

    /// Runs what an assertion asserts about: a call, a global read, or an instantiation.
    fn execute(&mut self, exec: &mut WastExecute<'_>) -> Result<Outcome, String> {
        match exec {
            WastExecute::Invoke(call) => self.invoke(call),
            WastExecute::Get { module, global, .. } => {
                let id = self.instance(module.map(|m| m.name()))?;
                Ok(Outcome::Values(vec![self.backend.global(id, global)?]))
            }
            WastExecute::Wat(wat) => {
                let module = self.compile(&encode_wat(wat)?)?;
                // As in the reference interpreter, the instance is neither named nor made current.
                match self.backend.instantiate(&module) {
                    Ok(_) => Ok(Outcome::Values(Vec::new())),
                    Err(LoadError::Trap(t)) => Ok(Outcome::Trapped(t)),
                    Err(e) => Err(format!("instantiation failed: {e}")),
                }
            }
        }
    }

    fn assert_return(&mut self, exec: &mut WastExecute<'_>, expected: &[wast::WastRet<'_>]) -> Step {
        let target = match exec {
            WastExecute::Invoke(call) => self.instance(call.module.map(|m| m.name())).ok(),
            _ => None,
        };
        let actual = match self.execute(exec)? {
            Outcome::Values(v) => v,
            Outcome::Trapped(t) => return Err(format!("unexpected {t}")),
        };
        if actual.len() != expected.len() {
            return Err(format!("got {} results, expected {}", actual.len(), expected.len()));
        }
        // `ref.func N` patterns name function N of the instance that was called.
        let backend = &self.backend;
        let func_addr = |n: u32| target.and_then(|id| backend.func_addr(id, n));
        for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
            values::check(e, a, &func_addr).map_err(|m| format!("result {i}: {m}"))?;
        }
        Ok(())
    }

    fn assert_unlinkable(&mut self, wat: &mut Wat<'_>) -> Step {
        let module = self.compile(&encode_wat(wat)?)?;
        match self.backend.instantiate(&module) {
            Ok(_) => Err("module linked, expected it to be unlinkable".into()),
            Err(LoadError::Unlinkable(_)) => Ok(()),
            Err(e) => Err(format!("expected a link error, got: {e}")),
        }
    }

    /// `assert_invalid`: the module must encode, and then fail validation.
    fn assert_invalid(&mut self, m: &mut QuoteWat<'_>, message: &str) -> Step {
        let bytes =
            m.encode().map_err(|e| format!("text does not encode ({}), so validation was not tested", e.message()))?;
        match self.backend.validate(&bytes) {
            Ok(()) => Err(format!("module validated, expected invalid: \"{message}\"")),
            Err(LoadError::Invalid(_)) => Ok(()),
            Err(e) => Err(format!("expected a validation error, got: {e}")),
        }
    }

    /// `assert_malformed`: the text must not parse, or the binary must not decode.
    fn assert_malformed(&mut self, m: &mut QuoteWat<'_>) -> Step {
        let bytes = match m.to_test() {
            // A text-level error (wast's parser) is exactly what a malformed quoted module tests.
            Ok(QuoteWatTest::Text(text)) => match encode_text(&text) {
                Some(b) => b,
                None => return Ok(()),
            },
            Ok(QuoteWatTest::Binary(b)) => b,
            Err(_) => return Ok(()),
        };
        match self.backend.validate(&bytes) {
            Ok(()) => Err("module decoded, expected it to be malformed".into()),
            Err(LoadError::Invalid(_)) => Ok(()),
            Err(e) => Err(format!("expected a decoding error, got: {e}")),
        }
    }
}

/// Passes iff `outcome` is a trap whose message agrees with `expected` (see [`trap_matches`]).
fn expect_trap(outcome: Outcome, expected: &str) -> Step {
    match outcome {
        Outcome::Values(v) => Err(format!(
            "returned [{}], expected trap \"{expected}\"",
            v.iter().map(values::show).collect::<Vec<_>>().join(", ")
        )),
        Outcome::Trapped(t) if trap_matches(&t.kind, expected) => Ok(()),
        Outcome::Trapped(t) => Err(format!("trapped with \"{}\", expected \"{expected}\"", t.kind.message())),
    }
}

/// Whether a trap of `kind` is the trap the script expects. The scripts often give only a prefix
/// of the reference interpreter's message, so a prefix in either direction is accepted.
fn trap_matches(kind: &TrapKind, expected: &str) -> bool {
    let ours = kind.message();
    if !ours.is_empty() && (expected.starts_with(ours) || ours.starts_with(expected)) {
        return true;
    }
    // The reference interpreter says "undefined element" when a `call_indirect` index is past
    // the end of the table; kwasm has one kind for every out-of-bounds table index.
    expected == "undefined element" && *kind == TrapKind::TableOutOfBounds
}

/// Parses and encodes module text; `None` if the text is not a well-formed module.
fn encode_text(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let buf = ParseBuffer::new(text).ok()?;
    let mut wat = parser::parse::<Wat<'_>>(&buf).ok()?;
    wat.encode().ok()
}

/// Encodes a (possibly quoted) module to its binary.
fn encode_quote(m: &mut QuoteWat<'_>) -> Result<Vec<u8>, String> {
    if matches!(m, QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))) {
        return Err("components are not supported".into());
    }
    m.encode().map_err(|e| format!("text does not encode: {}", e.message()))
}

/// Encodes a module to its binary.
fn encode_wat(wat: &mut Wat<'_>) -> Result<Vec<u8>, String> {
    if matches!(wat, Wat::Component(_)) {
        return Err("components are not supported".into());
    }
    wat.encode().map_err(|e| format!("text does not encode: {}", e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `text` on the default tier with `skips`, under the name `t.wast`.
    fn run(text: &str, skips: &str) -> FileReport {
        run_text(text, "t.wast", &Knobs::default(), &SkipList::parse(skips).unwrap())
    }

    // These scripts call only host functions and read globals, so they need no tier to run code.
    const LINKING: &str = r#"
        (module $A
          (import "spectest" "global_i32" (global $g i32))
          (import "spectest" "print_i32" (func $p (param i32)))
          (global (export "f") f32 (f32.const nan:0x200000))
          (export "g" (global $g))
          (export "p" (func $p)))
        (register "A" $A)
        (module (import "A" "g" (global i32)))
        (assert_return (get $A "g") (i32.const 666))
        (assert_return (get $A "f") (f32.const nan:0x200000))
        (assert_return (invoke $A "p" (i32.const 1)))
        (assert_unlinkable (module (import "A" "nope" (func))) "unknown import")
        (assert_unlinkable (module (import "A" "g" (global i64))) "incompatible import type")
        (assert_invalid (module (func (result i32))) "type mismatch")
        (assert_malformed (module quote "(func (i32.const))") "unexpected token")
        (assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
    "#;

    #[test]
    fn runs_non_executing_directives() {
        let r = run(LINKING, "");
        assert_eq!((r.passed, r.failed(), r.skipped()), (11, 0, 0), "{}", r.render());
    }

    #[test]
    fn reports_wrong_results_with_location() {
        let r =
            run("(module (global (export \"g\") i32 (i32.const 1)))\n(assert_return (get \"g\") (i32.const 2))", "");
        assert_eq!(r.failed(), 1, "{}", r.render());
        assert_eq!((r.failures[0].line, r.failures[0].col), (2, 2));
        assert!(r.failures[0].text.contains("got i32:1, expected i32:2"), "{}", r.render());
    }

    #[test]
    fn valid_module_under_assert_invalid_fails() {
        let r = run("(assert_invalid (module (func)) \"x\")", "");
        assert_eq!(r.failed(), 1, "{}", r.render());
    }

    #[test]
    fn skips_only_listed_directives() {
        let r = run(LINKING, "t.wast:10 testing skips");
        assert_eq!((r.passed, r.skipped()), (10, 1), "{}", r.render());
        assert_eq!(r.skips[0].text, "testing skips");
    }

    #[test]
    fn failed_module_leaves_no_current_instance() {
        let r = run("(module (global (export \"g\") i32 (i32.const 1)))\n(module (import \"x\" \"y\" (func)))\n(assert_return (get \"g\") (i32.const 1))", "");
        assert_eq!(r.failed(), 2, "{}", r.render());
    }

    #[test]
    fn failed_module_unbinds_its_name() {
        let r = run(
            "(module $M (global (export \"g\") i32 (i32.const 1)))\n(module $M (import \"x\" \"y\" (func)))\n(assert_return (get $M \"g\") (i32.const 1))",
            "",
        );
        assert_eq!(r.failed(), 2, "{}", r.render());
        assert!(r.failures[1].text.contains("no instance named $M"), "{}", r.render());
    }

    #[test]
    fn nan_patterns() {
        use wast::core::NanPattern::*;
        let w = |bits| wast::token::F32 { bits };
        assert!(values_f32(&CanonicalNan, 0xffc0_0000));
        assert!(!values_f32(&CanonicalNan, 0x7fc0_0001));
        assert!(values_f32(&ArithmeticNan, 0x7fc0_0001));
        assert!(!values_f32(&ArithmeticNan, 0x7f80_0001));
        assert!(values_f32(&Value(w(0x8000_0000)), 0x8000_0000));
        assert!(!values_f32(&Value(w(0x8000_0000)), 0));
    }

    fn values_f32(p: &wast::core::NanPattern<wast::token::F32>, bits: u32) -> bool {
        let ret = wast::WastRet::Core(wast::core::WastRetCore::F32(match p {
            wast::core::NanPattern::CanonicalNan => wast::core::NanPattern::CanonicalNan,
            wast::core::NanPattern::ArithmeticNan => wast::core::NanPattern::ArithmeticNan,
            wast::core::NanPattern::Value(v) => wast::core::NanPattern::Value(*v),
        }));
        values::check(&ret, &Val::F32(bits), &|_| None).is_ok()
    }

    #[test]
    fn trap_messages_match_by_prefix() {
        assert!(trap_matches(&TrapKind::MemoryOutOfBounds, "out of bounds memory access"));
        assert!(trap_matches(&TrapKind::IndirectCallToNull, "uninitialized element 2"));
        assert!(trap_matches(&TrapKind::TableOutOfBounds, "undefined element"));
        assert!(!trap_matches(&TrapKind::Unreachable, "integer overflow"));
        assert!(!trap_matches(&TrapKind::Host(String::new()), "anything"));
    }
}

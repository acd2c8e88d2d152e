//! Times the same exported function in kwasm's interpreter and in wasmi (a peer register-based
//! Rust interpreter), side by side: `cargo run --release -p kwasm-cli --example peer_wasmi --
//! FILE.wasm|FILE.wat EXPORT ARG`. The module must export `EXPORT: (i32) -> i32` and import nothing.

use std::sync::Arc;
use std::time::Instant;

use kwasm_runtime::platform::NullPlatform;
use kwasm_runtime::{Extern, Knobs, Linker, Module, Store, Val};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, export, arg] = &args[..] else {
        eprintln!("usage: peer_wasmi FILE.wasm EXPORT ARG");
        std::process::exit(2);
    };
    let mut bytes = std::fs::read(file).expect("read module");
    if file.ends_with(".wat") {
        let text = String::from_utf8(bytes).expect("utf-8 text");
        let buf = wast::parser::ParseBuffer::new(&text).expect("lex");
        let mut wat = wast::parser::parse::<wast::Wat>(&buf).expect("parse");
        bytes = wat.encode().expect("encode");
    }
    let arg: i32 = arg.parse().expect("ARG is an i32");

    let knobs = Knobs::default();
    let mut store = Store::new(kwasm_cli::make_tier(&knobs), knobs, Box::new(NullPlatform));
    let module = Arc::new(Module::new(&bytes).expect("valid module"));
    let inst = Linker::new().instantiate(&mut store, module).expect("instantiate");
    let Some(Extern::Func(f)) = store.export(inst, export) else { panic!("no export {export}") };
    let t = Instant::now();
    let ours = store.call(f, &[Val::I32(arg)]).expect("kwasm run");
    let kwasm_s = t.elapsed().as_secs_f64();

    let engine = wasmi::Engine::default();
    let wmod = wasmi::Module::new(&engine, &bytes).expect("wasmi module");
    let mut wstore = wasmi::Store::new(&engine, ());
    let winst = wasmi::Linker::<()>::new(&engine).instantiate_and_start(&mut wstore, &wmod).expect("wasmi inst");
    let wf = winst.get_typed_func::<i32, i32>(&wstore, export).expect("wasmi export");
    let t = Instant::now();
    let theirs = wf.call(&mut wstore, arg).expect("wasmi run");
    let wasmi_s = t.elapsed().as_secs_f64();

    assert_eq!(ours, vec![Val::I32(theirs)], "engines disagree");
    println!(
        "{export}({arg}) = {theirs}: kwasm {kwasm_s:.3} s, wasmi {wasmi_s:.3} s, kwasm/wasmi {:.2}",
        kwasm_s / wasmi_s
    );
}

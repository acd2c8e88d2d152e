//! `kwasm compile`: validates and translates without running, and reports what it measured.

use std::process::Command;

fn wat_to_file(text: &str, name: &str) -> std::path::PathBuf {
    let buf = wast::parser::ParseBuffer::new(text).unwrap();
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).unwrap();
    let bytes = wat.encode().unwrap();
    let path = std::env::temp_dir().join(format!("kwasm-compile-{}-{name}.wasm", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn compile_translates_every_function_and_reports_speed() {
    let path = wat_to_file(
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
             (func (export "a") (result i32) (i32.const 1))
             (func (export "b") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
             (func (export "_start") (call 0 (i32.const 3))))"#,
        "ok",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kwasm")).args(["compile", "--repeat", "2"]).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("functions 3 "), "{stdout}");
    assert!(stdout.contains("translate_mb_s "), "{stdout}");
    // Nothing ran: `_start` would have exited with 3.
    std::fs::remove_file(path).ok();
}

#[test]
fn compile_reports_invalid_modules_in_one_line() {
    let path = std::env::temp_dir().join(format!("kwasm-compile-{}-bad.wasm", std::process::id()));
    std::fs::write(&path, b"\0asm\x01\0\0\0\x01\x05").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kwasm")).arg("compile").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("kwasm: invalid module:"), "{stderr}");
    std::fs::remove_file(path).ok();
}

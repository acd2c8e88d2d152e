#!/usr/bin/env python3
"""Run a WASI command module under the PyPI `wasmtime` package (a peer runtime for
`cargo xtask bench --peers`). Usage: wasmtime_run.py FILE.wasm [ARGS...]

stdout/stderr are inherited so output can be compared byte for byte with native runs.
Exits with the guest's exit code. Only for comparison: kwasm never depends on it.
"""
import sys

import wasmtime


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: wasmtime_run.py FILE.wasm [ARGS...]", file=sys.stderr)
        return 2
    path = sys.argv[1]
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, path)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    wasi = wasmtime.WasiConfig()
    wasi.argv = [path] + sys.argv[2:]
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    wasi.inherit_stdin()
    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    try:
        start(store)
    except wasmtime.ExitTrap as e:
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main())

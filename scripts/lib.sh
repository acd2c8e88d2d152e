# Shared helpers for scripts/*.sh (sourced, not run).

# Installs the Debian packages among "$@" that are not installed yet (asks dpkg first, so a
# prepared machine pays nothing). Needs root or sudo when something is missing.
ensure_apt_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    echo "installing missing Debian packages: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || {
            echo "error: need root (or sudo) to run: apt-get install -y ${missing[*]}" >&2
            return 1
        }
        sudo=(sudo)
    fi
    # Another process may hold the dpkg lock (unattended upgrades, a parallel job): wait for it.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -o DPkg::Lock::Timeout=900 -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=900 "${missing[@]}"
}

# Makes sure rustup's cargo is on PATH (user space builds with it; the kernel-target check uses
# Debian's rustc from rustc-web).
ensure_rust() {
    if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null || {
        echo "error: cargo not found: install a Rust toolchain with rustup (https://rustup.rs), 1.95 or newer" >&2
        return 1
    }
    if command -v rustup >/dev/null; then
        local installed comp
        installed="$(rustup component list --installed 2>/dev/null || true)"
        for comp in "$@"; do
            grep -q "^$comp" <<<"$installed" || rustup component add "$comp"
        done
    fi
}

# The packages the user-space tests and the demo need: clang-19 + wasi-libc compile C to
# wasm32-wasi, gcc builds the native reference programs.
USER_SPACE_PACKAGES=(clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 gcc libc6-dev binutils)
# The kernel-target check (cargo xtask nostd-check): Debian's rustc 1.96 with rust-src.
KERNEL_TARGET_PACKAGES=(rustc-web rust-web-src cargo-web)

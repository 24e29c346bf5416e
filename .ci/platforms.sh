#!/usr/bin/env bash
# Type-checks the other front-ends from this Linux host, and checks licences:
#   - Windows (WinFsp):  x86_64-pc-windows-msvc with --features winfsp-check
#   - macOS (macFUSE):   x86_64-apple-darwin and aarch64-apple-darwin with --features macos-check
#   - cargo deny check licenses (deny.toml)
# Nothing here runs on Windows or macOS: these builds are type-checked, not tested
# (docs/windows.md, docs/macos.md). Run by .ci/run; runnable alone.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"
# A target dir of its own: these builds never share artifacts with the Linux ones.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/platforms}"

windows=x86_64-pc-windows-msvc
macs=(x86_64-apple-darwin aarch64-apple-darwin)

# Route 1: rustup's prebuilt standard libraries for the targets.
# Route 2 (when rustup cannot fetch them): Debian's rustc-web with its std sources,
# building std for the target on the fly (-Zbuild-std, allowed by RUSTC_BOOTSTRAP).
if rustup target add "$windows" "${macs[@]}"; then
    check() { # target feature
        cargo check --target "$1" --features "$2" --all-targets
        cargo clippy --target "$1" --features "$2" --all-targets -- -D warnings
    }
else
    echo "rustup target add failed; using Debian's rustc-web with -Zbuild-std"
    apt-get install -y rustc-web cargo-web rust-web-src
    check() { # target feature
        RUSTC_BOOTSTRAP=1 /usr/bin/cargo check -Zbuild-std=std,panic_abort \
            --target "$1" --features "$2" --all-targets
        RUSTC_BOOTSTRAP=1 /usr/bin/cargo clippy -Zbuild-std=std,panic_abort \
            --target "$1" --features "$2" --all-targets -- -D warnings
    }
fi

echo "--- Windows front-end ($windows)"
check "$windows" winfsp-check
for t in "${macs[@]}"; do
    echo "--- macOS FUSE front-end ($t)"
    check "$t" macos-check
done

echo "--- licences (cargo deny)"
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny
cargo deny check licenses

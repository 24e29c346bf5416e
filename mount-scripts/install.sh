#!/usr/bin/env bash
# install.sh — install the built sharefs binary, the mount(8) helper, shell
# completions and the man page (run after `cargo build --release`, as root or via sudo).
#
#   bash mount-scripts/install.sh [PREFIX]     # PREFIX defaults to /usr/local
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREFIX="${1:-/usr/local}"
BIN=target/release/sharefs
[ -x "$BIN" ] || { echo "install.sh: $BIN is missing: run cargo build --release first" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
    exec sudo bash "$0" "$@"
fi

install -D -m 0755 "$BIN" "$PREFIX/bin/sharefs"
install -D -m 0755 mount-scripts/mount.fuse.sharefs /sbin/mount.fuse.sharefs
install -d "$PREFIX/share/bash-completion/completions" "$PREFIX/share/zsh/site-functions" \
    "$PREFIX/share/fish/vendor_completions.d" "$PREFIX/share/man/man1"
"$BIN" completions bash > "$PREFIX/share/bash-completion/completions/sharefs"
"$BIN" completions zsh > "$PREFIX/share/zsh/site-functions/_sharefs"
"$BIN" completions fish > "$PREFIX/share/fish/vendor_completions.d/sharefs.fish"
"$BIN" man > "$PREFIX/share/man/man1/sharefs.1"
echo "installed sharefs $("$PREFIX/bin/sharefs" --version | awk '{print $2}') into $PREFIX (and /sbin/mount.fuse.sharefs)"

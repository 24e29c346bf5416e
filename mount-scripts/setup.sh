#!/usr/bin/env bash
# setup.sh — install what sharefs needs to build, mount, test and benchmark on a
# fresh Debian 12 (bookworm) machine. Idempotent: safe to run again.
#
# Usage:
#   bash mount-scripts/setup.sh                # system packages only
#   bash mount-scripts/setup.sh --test-tools   # + pjdfstest, fsx, diskcache, users for pjdfstest
#
# Runs as root, or re-executes itself through sudo when not root.
# Needs: apt (Debian's packages) and, for --test-tools, cargo with access to crates.io.
set -euo pipefail

log() { printf '==> setup.sh: %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
}

TEST_TOOLS=0
for arg in "$@"; do
    case "$arg" in
        --test-tools) TEST_TOOLS=1 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done

# --- root ---------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo is not installed"
    log "not root: re-running through sudo"
    # Keep PATH so that a user's ~/.cargo/bin is still found for cargo install.
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME bash "$0" "$@"
fi

# --- system packages ------------------------------------------------------------
PACKAGES=(
    fuse3          # fusermount3, /etc/fuse.conf, mount.fuse3
    libfuse3-dev   # headers for anything that links libfuse (not sharefs itself)
    pkg-config
    attr           # getfattr / setfattr (control API, xattr tests)
    acl            # getfacl / setfacl
    libacl1-dev    # needed to build pjdfstest
    bindfs         # baseline FUSE passthrough for bench/run.sh
    python3
    python3-pip    # pip for the test-only Python packages (--test-tools)
    git
    tar
    coreutils
    strace
    build-essential # cc for bench/helpers/*.c and -sys crates
    # The runtimes whose Windows behaviour tests/runtimes.rs checks row by row
    # (RUNTIMES.md); python3 and Rust are above.
    nodejs
    golang-go
    default-jdk-headless
)

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    log "all ${#PACKAGES[@]} Debian packages already installed"
else
    log "missing Debian packages: ${missing[*]}"
fi
# Always refresh the lists and let apt confirm: cheap, and it repairs a half
# configured package from an earlier interrupted run.
log "apt-get update"
apt-get update -q
log "apt-get install -y ${PACKAGES[*]}"
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

# /dev/fuse must exist for any mount; in a container it comes from --device.
if [ -e /dev/fuse ]; then
    log "/dev/fuse present"
else
    # Try loading the module; harmless if it is built in or if we are in a container.
    modprobe fuse 2>/dev/null || true
    if [ -e /dev/fuse ]; then
        log "/dev/fuse present after modprobe"
    else
        log "WARNING: /dev/fuse is missing: mounts will fail (in Docker use --device /dev/fuse)"
    fi
fi

if [ "$TEST_TOOLS" -eq 0 ]; then
    log "done (system packages). Use --test-tools for pjdfstest and fsx."
    exit 0
fi

# --- test tools (crates.io) -----------------------------------------------------
# cargo installs into $CARGO_HOME/bin (default ~/.cargo/bin); make sure it is on PATH.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
    *":$CARGO_BIN:"*) ;;
    *) export PATH="$CARGO_BIN:$PATH" ;;
esac
command -v cargo >/dev/null 2>&1 || die "cargo not found (PATH=$PATH); install Rust via rustup first"

install_crate() {  # install_crate CRATE BINARY
    local crate="$1" bin="$2"
    if command -v "$bin" >/dev/null 2>&1; then
        log "$bin already installed: $(command -v "$bin") — skipping cargo install $crate"
        return 0
    fi
    log "cargo install --locked $crate"
    cargo install --locked "$crate"
    command -v "$bin" >/dev/null 2>&1 || die "cargo install $crate did not put $bin on PATH ($CARGO_BIN)"
    log "installed $bin: $(command -v "$bin")"
}
install_crate pjdfstest pjdfstest
install_crate fsx fsx

# --- Python packages (PyPI) for the tests --------------------------------------------
# tests/sqlite.rs runs diskcache (SQLite in WAL mode) from several processes, with the
# python3 the tests run. A Debian python3 is "externally managed" (PEP 668): pip then
# needs --break-system-packages, which only adds this one package to it.
if python3 -c 'import diskcache' 2>/dev/null; then
    log "python3 has diskcache already"
else
    log "python3 -m pip install diskcache==5.6.3"
    python3 -m pip install --quiet 'diskcache==5.6.3' \
        || python3 -m pip install --quiet --break-system-packages 'diskcache==5.6.3'
    python3 -c 'import diskcache' || die "diskcache did not install for $(command -v python3)"
fi

# --- users and groups for pjdfstest ------------------------------------------------
# pjdfstest switches to nobody/nogroup and tests/tests for its permission cases.
ensure_group() {
    if getent group "$1" >/dev/null; then
        log "group $1 exists"
    else
        log "adding group $1"
        groupadd "$1"
    fi
}
ensure_user() {  # ensure_user USER GROUP
    if getent passwd "$1" >/dev/null; then
        log "user $1 exists"
    else
        log "adding user $1 (group $2)"
        useradd --system --no-create-home --shell /usr/sbin/nologin -g "$2" "$1"
    fi
}
ensure_group nogroup
ensure_user nobody nogroup
ensure_group tests
ensure_user tests tests

log "done (system packages + test tools)"

#!/usr/bin/env bash
# docker-steps.sh — the Dockerfile's steps, checked without a Docker engine.
#
# Usage: bash tests/docker-steps.sh PATH/TO/sharefs      (e.g. target/release/sharefs)
#
# Building the image would recompile everything (too slow here), so this takes
# an already built binary and checks what the image relies on:
#   1. copy it into a temporary "image root" at usr/local/bin/sharefs;
#   2. `ldd`: it needs only libraries that debian:bookworm-slim (+ fuse3) has;
#   3. `sharefs --version` runs from there with a minimal environment;
#   4. smoke test as `docker run ... sharefs mount /data /mnt` runs it:
#      foreground, write through the mount, read it from the backing dir (and
#      the reverse), then SIGTERM (what `docker stop` sends): the process must
#      exit 0 and the mount must be gone;
#   5. smoke test as mount.fuse.sharefs / fstab run it: `mount --daemon`
#      returns once mounted, then `fusermount3 -u`; the daemon must exit;
#   6. nothing of ours is left in /proc/self/mountinfo.
# Exits non-zero on the first failure; a trap unmounts and kills what it started.
set -euo pipefail

die() { printf 'docker-steps: FAIL: %s\n' "$*" >&2; exit 1; }
step() { printf '\n=== docker-steps: %s\n' "$*"; }
ok() { printf 'docker-steps: ok: %s\n' "$*"; }

[ $# -eq 1 ] || { echo "usage: $0 PATH/TO/sharefs" >&2; exit 2; }
SRC_BIN="$1"
if ! [ -f "$SRC_BIN" ] || ! [ -x "$SRC_BIN" ]; then die "$SRC_BIN is not an executable file"; fi
command -v fusermount3 >/dev/null || die "fusermount3 missing (apt-get install fuse3; the image has it)"
[ -c /dev/fuse ] || die "/dev/fuse missing (the image is run with --device /dev/fuse)"

ROOT="$(mktemp -d /tmp/sharefs-image.XXXXXX)"
BIN="$ROOT/usr/local/bin/sharefs"
MOUNTS=()   # mount points we created
PIDS=()     # processes we started

# --- helpers -------------------------------------------------------------------
# Field 5 of mountinfo is the mount point; the fstype follows the " - " separator.
fstype_of() {
    awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i+1); exit } }' \
        /proc/self/mountinfo
}
is_mounted() { [ -n "$(fstype_of "$1")" ]; }

wait_mounted() {  # wait_mounted MNT PID: until MNT is a mount, PID must stay alive
    local mnt="$1" pid="$2" _
    for _ in $(seq 1 100); do
        is_mounted "$mnt" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

wait_gone() {  # wait_gone PID SECONDS: true once PID has exited
    local pid="$1" _
    for _ in $(seq 1 $(( $2 * 10 ))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

cleanup() {
    local rc=$? m p
    set +e
    for m in "${MOUNTS[@]}"; do
        if is_mounted "$m"; then
            echo "docker-steps: cleanup: unmounting $m" >&2
            fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"
        fi
    done
    for p in "${PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            echo "docker-steps: cleanup: killing $p" >&2
            kill -TERM "$p" 2>/dev/null
            wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null
        fi
    done
    # Remove the temp tree only when nothing is mounted inside it.
    if ! grep -qF " $ROOT/" /proc/self/mountinfo; then
        rm -rf "$ROOT"
    else
        echo "docker-steps: cleanup: mount left under $ROOT, not removing it" >&2
        rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

check_io() {  # check_io MNT BACKING TAG: data goes both ways through the mount
    local mnt="$1" backing="$2" tag="$3" got
    printf 'written through the mount %s\n' "$tag" | timeout 20 tee "$mnt/via-mount.txt" >/dev/null \
        || die "$tag: write through the mount failed"
    got="$(cat "$backing/via-mount.txt")" || die "$tag: file missing in backing dir"
    [ "$got" = "written through the mount $tag" ] || die "$tag: backing dir has '$got'"
    printf 'written to backing %s\n' "$tag" > "$backing/via-backing.txt"
    got="$(timeout 20 cat "$mnt/via-backing.txt")" || die "$tag: read through the mount failed"
    [ "$got" = "written to backing $tag" ] || die "$tag: mount shows '$got'"
    timeout 20 ls -la "$mnt" >/dev/null || die "$tag: ls of the mount failed"
    ok "$tag: write/read both ways through $(fstype_of "$mnt") mount"
}

# --- 1. image root -----------------------------------------------------------------
step "1. copy $SRC_BIN into image root $ROOT"
install -D -m 0755 "$SRC_BIN" "$BIN"
ok "$(ls -la "$BIN")"

# --- 2. shared libraries -------------------------------------------------------------
step "2. ldd: only libraries that bookworm-slim + fuse3 provide"
# libc6 (libc, libm, ld-linux, and the now-empty libpthread/libdl/librt/libutil
# stubs) and libgcc-s1 are in bookworm-slim; fuse3 pulls libfuse3-3, which
# sharefs should not need (fuser is pure Rust), so it is reported, not failed.
ALLOWED='^(linux-vdso\.so\.1|linux-gate\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libutil\.so\.1|ld-linux[-a-z0-9_.]*\.so\.[0-9]+|libfuse3\.so\.3)$'
if ldd_out="$(ldd "$BIN" 2>&1)"; then
    printf '%s\n' "$ldd_out"
    bad=0
    while read -r name _; do
        [ -n "$name" ] || continue
        lib="$(basename "$name")"
        if ! [[ "$lib" =~ $ALLOWED ]]; then
            echo "docker-steps: library not in bookworm-slim+fuse3: $lib" >&2
            bad=1
        fi
        [ "$lib" = libfuse3.so.3 ] && echo "docker-steps: note: links libfuse3 (present via fuse3, but fuser should not need it)"
    done <<< "$ldd_out"
    if grep -q 'not found' <<< "$ldd_out"; then
        die "unresolved library: $(grep 'not found' <<< "$ldd_out")"
    fi
    [ "$bad" -eq 0 ] || die "binary needs libraries the runtime image does not have"
    ok "libraries: $(awk '{print $1}' <<< "$ldd_out" | xargs -n1 basename | tr '\n' ' ')"
else
    # Static binaries: "not a dynamic executable" — fine for the image.
    printf '%s\n' "$ldd_out"
    grep -q 'not a dynamic executable' <<< "$ldd_out" || die "ldd failed"
    ok "static binary"
fi

# --- 3. --version -------------------------------------------------------------------
step "3. sharefs --version from the image root (ENTRYPOINT [\"sharefs\"])"
version="$(env -i PATH="$ROOT/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" sharefs --version)" \
    || die "sharefs --version failed"
printf '%s\n' "$version"
[[ "$version" == *sharefs* ]] || die "--version output does not name sharefs: $version"
ok "--version"

# --- 4. foreground mount, stopped by SIGTERM -------------------------------------------
step "4. docker run ... sharefs mount /data /mnt  (foreground, then SIGTERM as docker stop)"
DATA="$ROOT/data"; MNT="$ROOT/mnt"
mkdir -p "$DATA" "$MNT"
MOUNTS+=("$MNT")
env -i PATH="$ROOT/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" RUST_LOG="${RUST_LOG:-info}" \
    sharefs mount "$DATA" "$MNT" >"$ROOT/fg.log" 2>&1 &
FG_PID=$!
PIDS+=("$FG_PID")
if ! wait_mounted "$MNT" "$FG_PID"; then
    cat "$ROOT/fg.log" >&2
    die "foreground mount did not appear in /proc/self/mountinfo within 10 s"
fi
fstype="$(fstype_of "$MNT")"
[[ "$fstype" == fuse || "$fstype" == fuse.* ]] || die "$MNT is mounted as '$fstype', not FUSE"
ok "mounted ($fstype), pid $FG_PID"
check_io "$MNT" "$DATA" foreground
kill -TERM "$FG_PID"
wait_gone "$FG_PID" 10 || { cat "$ROOT/fg.log" >&2; die "sharefs did not exit within 10 s of SIGTERM"; }
set +e; wait "$FG_PID"; fg_rc=$?; set -e
if is_mounted "$MNT"; then cat "$ROOT/fg.log" >&2; die "mount still present after SIGTERM"; fi
[ "$fg_rc" -eq 0 ] || { cat "$ROOT/fg.log" >&2; die "sharefs exited $fg_rc after SIGTERM (want 0: clean unmount)"; }
ok "SIGTERM: exit 0, mount gone"

# --- 5. --daemon mount, fusermount3 -u ----------------------------------------------------
step "5. sharefs mount --daemon (mount.fuse.sharefs/fstab path), then fusermount3 -u"
rm -f "$DATA"/via-*.txt
env -i PATH="$ROOT/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    timeout 30 sharefs mount --daemon "$DATA" "$MNT" >"$ROOT/daemon.log" 2>&1 \
    || { cat "$ROOT/daemon.log" >&2; die "sharefs mount --daemon failed"; }
# The daemon's pid, found by its unique mount point argument (for cleanup and
# to check it exits after the unmount).
DAEMON_PID="$(pgrep -f -- "sharefs.* $MNT" | head -n1 || true)"
[ -n "$DAEMON_PID" ] && PIDS+=("$DAEMON_PID")
# --daemon promises the mount is ready when it returns: no waiting here.
is_mounted "$MNT" || die "--daemon returned 0 but $MNT is not mounted yet"
ok "mounted ($(fstype_of "$MNT")) when --daemon returned; daemon pid ${DAEMON_PID:-unknown}"
check_io "$MNT" "$DATA" daemon
fusermount3 -u "$MNT" || die "fusermount3 -u $MNT failed"
is_mounted "$MNT" && die "mount still present after fusermount3 -u"
if [ -n "$DAEMON_PID" ]; then
    wait_gone "$DAEMON_PID" 10 || die "daemon $DAEMON_PID still running 10 s after unmount"
    ok "fusermount3 -u: mount gone, daemon exited"
else
    echo "docker-steps: note: daemon pid not found by pgrep; skipped its exit check"
    ok "fusermount3 -u: mount gone"
fi

# --- 6. nothing left -------------------------------------------------------------------------
step "6. no mount left under $ROOT"
if grep -F " $ROOT/" /proc/self/mountinfo; then die "mount left behind"; fi
ok "mountinfo clean"
echo
echo "docker-steps: all steps passed"

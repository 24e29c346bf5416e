#!/usr/bin/env bash
# bench/run.sh — sharefs vs bindfs vs native, one run, interleaved rounds.
#
# Usage (as root, from anywhere):
#   cargo build --release && bash bench/run.sh
#   BENCH_QUICK=1 bash bench/run.sh                       # everything 10x smaller
#   SHAREFS_VARIANTS="windows:--profile windows posix:--profile posix" bash bench/run.sh
#
# Targets: native (the backing dir itself), bindfs (default options),
# bindfs-mt (bindfs --multithreaded), sharefs ($SHAREFS_BIN $SHAREFS_ARGS) and
# one extra sharefs column per $SHAREFS_VARIANTS entry. Each target gets its
# own fresh backing dir under one temp dir. Every workload runs ROUNDS times
# on every target; the target order rotates each round. The report is a
# markdown table of medians; see bench/README.md.
#
# Environment:
#   SHAREFS_BIN      sharefs binary (default: <repo>/target/release/sharefs;
#                    "none" = baselines only)
#   SHAREFS_ARGS     extra `sharefs mount` arguments for the sharefs column
#   SHAREFS_VARIANTS extra sharefs columns: "NAME:ARGS NAME:ARGS ..." (a word
#                    "NAME:" starts a new variant) or "NAME:ARGS;NAME:ARGS"
#   ROUNDS           rounds per workload (default 5; 3 with BENCH_QUICK=1)
#   BENCH_QUICK=1    divide every size below by 10
#   BENCH_META_FILES files created/stat'ed/unlinked      (default 10000)
#   BENCH_OPENS      open+close pairs                    (default 20000)
#   BENCH_SEQ_MIB    sequential write/read size, MiB     (default 1024)
#   BENCH_RAND_READS 4 KiB random preads                 (default 20000)
#   BENCH_RAND_MIB   size of the random-read file, MiB   (default 256)
#   BENCH_TAR_FILES  generated small files in the tarball (default 5000)
#   BENCH_WORKLOADS  subset, e.g. "meta openclose" (default: all of
#                    meta openclose seq randread untar)
#   BENCH_TMPDIR     where the temp dir goes (default /tmp; use a real disk fs)
#   BENCH_DROP_CACHES=1  drop the page cache before each sequential read
#                    (all targets; needs a writable /proc/sys/vm/drop_caches)
#   BENCH_OUT        also write the report to this file
#   BENCH_KEEP=1     keep the temp dir (logs, raw results)
#   RUST_LOG         passed to sharefs as is (unset: sharefs's own default)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# --- configuration ------------------------------------------------------------------
QUICK="${BENCH_QUICK:-0}"
if [ "$QUICK" = 1 ]; then div=10; def_rounds=3; else div=1; def_rounds=5; fi
ROUNDS="${ROUNDS:-$def_rounds}"
META_FILES="${BENCH_META_FILES:-$(( 10000 / div ))}"
OPENS="${BENCH_OPENS:-$(( 20000 / div ))}"
SEQ_MIB="${BENCH_SEQ_MIB:-$(( 1024 / div ))}"
RAND_READS="${BENCH_RAND_READS:-$(( 20000 / div ))}"
RAND_MIB="${BENCH_RAND_MIB:-$(( 256 / div ))}"
TAR_FILES="${BENCH_TAR_FILES:-$(( 5000 / div ))}"
WORKLOADS="${BENCH_WORKLOADS:-meta openclose seq randread untar}"
RAND_BS=4096
RAND_SEED=20240601
SHAREFS_BIN="${SHAREFS_BIN:-$REPO/target/release/sharefs}"
SHAREFS_ARGS="${SHAREFS_ARGS:-}"
SHAREFS_VARIANTS="${SHAREFS_VARIANTS:-}"

for v in ROUNDS META_FILES OPENS SEQ_MIB RAND_READS RAND_MIB TAR_FILES; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
for w in $WORKLOADS; do
    case "$w" in meta|openclose|seq|randread|untar) ;; *) die "unknown workload '$w'" ;; esac
done

# --- preflight -----------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || log "warning: not root; bindfs/sharefs mounts need /etc/fuse.conf and fusermount3"
for tool in bindfs fusermount3 cc python3 dd tar findmnt; do
    command -v "$tool" >/dev/null || die "$tool not found (run: bash mount-scripts/setup.sh)"
done
[ -c /dev/fuse ] || die "/dev/fuse missing"
if [ "$SHAREFS_BIN" != none ]; then
    [ -x "$SHAREFS_BIN" ] || die "sharefs binary $SHAREFS_BIN not found: cargo build --release, or set SHAREFS_BIN (or SHAREFS_BIN=none)"
    case "$SHAREFS_BIN" in */debug/*) log "warning: $SHAREFS_BIN looks like a debug build";; esac
fi

# --- state and cleanup ----------------------------------------------------------------
TMP="$(mktemp -d "${BENCH_TMPDIR:-/tmp}/sharefs-bench.XXXXXX")"
MOUNTS=()     # mount points to unmount at exit
PIDS=()       # foreground sharefs processes to stop at exit
RESULTS="$TMP/results.tsv"   # workload  target  round  seconds
: > "$RESULTS"

fstype_of() {
    awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i+1); exit } }' \
        /proc/self/mountinfo
}
is_mounted() { [ -n "$(fstype_of "$1")" ]; }

cleanup() {
    local rc=$? m p _
    set +e
    trap - INT TERM
    for m in "${MOUNTS[@]}"; do
        if is_mounted "$m"; then
            fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"
        fi
    done
    for p in "${PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null || continue
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if grep -qF " $TMP/" /proc/self/mountinfo; then
        echo "bench: a mount is still present under $TMP; not removing it" >&2
        rc=1
    elif [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# --- helpers (C, compiled now) ---------------------------------------------------------------
mkdir -p "$TMP/bin" "$TMP/logs"
for src in "$HERE"/helpers/*.c; do
    cc -O2 -Wall -o "$TMP/bin/$(basename "$src" .c)" "$src" || die "compiling $src failed"
done

# --- targets -----------------------------------------------------------------------------------
# Parallel arrays: name, kind (native|bindfs|sharefs), extra args.
T_NAME=(); T_KIND=(); T_ARGS=()
add_target() { T_NAME+=("$1"); T_KIND+=("$2"); T_ARGS+=("$3"); }
add_target native native ""
add_target bindfs bindfs ""
add_target bindfs-mt bindfs "--multithreaded"
if [ "$SHAREFS_BIN" != none ]; then
    add_target sharefs sharefs "$SHAREFS_ARGS"
    if [ -n "$SHAREFS_VARIANTS" ]; then
        if [[ "$SHAREFS_VARIANTS" == *";"* ]]; then
            IFS=';' read -r -a parts <<< "$SHAREFS_VARIANTS"
            for part in "${parts[@]}"; do
                part="$(echo "$part" | sed 's/^ *//; s/ *$//')"
                [ -n "$part" ] || continue
                [[ "$part" == *:* ]] || die "SHAREFS_VARIANTS entry '$part' has no NAME:"
                add_target "sharefs:${part%%:*}" sharefs "${part#*:}"
            done
        else
            vname=""; vargs=""
            for word in $SHAREFS_VARIANTS; do
                if [[ "$word" =~ ^([A-Za-z][A-Za-z0-9_.+-]*):(.*)$ ]]; then
                    [ -n "$vname" ] && add_target "sharefs:$vname" sharefs "$vargs"
                    vname="${BASH_REMATCH[1]}"; vargs="${BASH_REMATCH[2]}"
                else
                    [ -n "$vname" ] || die "SHAREFS_VARIANTS must start with NAME: (got '$word')"
                    vargs="${vargs:+$vargs }$word"
                fi
            done
            [ -n "$vname" ] && add_target "sharefs:$vname" sharefs "$vargs"
        fi
    fi
fi
NT=${#T_NAME[@]}
T_DIR=()   # where workloads run: the mount point (or the native dir)

safe_name() { echo "$1" | tr -c 'A-Za-z0-9_.\n-' '_'; }

mount_target() {  # mount_target INDEX
    local i="$1" name="${T_NAME[$1]}" kind="${T_KIND[$1]}" args="${T_ARGS[$1]}"
    local sn back mnt pid _
    sn="$(safe_name "$name")"
    back="$TMP/backing/$sn"; mnt="$TMP/mnt/$sn"
    mkdir -p "$back"
    case "$kind" in
        native)
            T_DIR[i]="$back"
            log "target $name: $back"
            return 0 ;;
        bindfs)
            mkdir -p "$mnt"; MOUNTS+=("$mnt")
            # shellcheck disable=SC2086  # args are words by design
            bindfs $args "$back" "$mnt" >"$TMP/logs/$sn.log" 2>&1 \
                || { cat "$TMP/logs/$sn.log" >&2; die "bindfs mount for $name failed"; } ;;
        sharefs)
            mkdir -p "$mnt"; MOUNTS+=("$mnt")
            # Foreground, so we hold its pid; stopped with SIGTERM at exit.
            # shellcheck disable=SC2086
            "$SHAREFS_BIN" mount $args "$back" "$mnt" >"$TMP/logs/$sn.log" 2>&1 &
            pid=$!; PIDS+=("$pid") ;;
    esac
    for _ in $(seq 1 100); do
        is_mounted "$mnt" && break
        if [ "$kind" = sharefs ] && ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if ! is_mounted "$mnt"; then
        cat "$TMP/logs/$sn.log" >&2
        die "$name did not mount on $mnt"
    fi
    T_DIR[i]="$mnt"
    log "target $name: $mnt ($(fstype_of "$mnt"), backing $back${args:+, args: $args})"
}

# --- timing --------------------------------------------------------------------------------
# elapsed START END -> seconds (EPOCHREALTIME strings)
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; }

# Each run_* function: run_WORKLOAD DIR TARGET ROUND; records its rows; returns
# non-zero on failure (the caller records nan and goes on).
run_meta() {
    local d="$1/meta" out c s u
    mkdir -p "$d" || return 1
    out="$("$TMP/bin/meta" "$d" "$META_FILES")" || return 1
    c="$(awk '$1 == "create" { print $2 }' <<< "$out")"
    s="$(awk '$1 == "stat" { print $2 }' <<< "$out")"
    u="$(awk '$1 == "unlink" { print $2 }' <<< "$out")"
    record meta_create "$2" "$3" "$c"
    record meta_stat "$2" "$3" "$s"
    record meta_unlink "$2" "$3" "$u"
    record meta_total "$2" "$3" "$(awk -v a="$c" -v b="$s" -v c="$u" 'BEGIN { printf "%.6f", a + b + c }')"
    rmdir "$d"
}
run_openclose() {
    local f="$1/openclose.dat" t
    [ -e "$f" ] || : > "$f" || return 1
    t="$("$TMP/bin/openclose" "$f" "$OPENS")" || return 1
    record openclose "$2" "$3" "$t"
}
drop_caches() {
    [ "${BENCH_DROP_CACHES:-0}" = 1 ] || return 0
    sync
    echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || log "warning: cannot drop caches"
}
run_seq() {
    local f="$1/seq.dat" a b
    a=$EPOCHREALTIME
    dd if=/dev/zero of="$f" bs=1M count="$SEQ_MIB" conv=fsync status=none || return 1
    b=$EPOCHREALTIME
    record seq_write "$2" "$3" "$(elapsed "$a" "$b")"
    drop_caches
    a=$EPOCHREALTIME
    dd if="$f" of=/dev/null bs=1M status=none || return 1
    b=$EPOCHREALTIME
    record seq_read "$2" "$3" "$(elapsed "$a" "$b")"
    rm -f "$f"
}
run_randread() {
    local t
    t="$("$TMP/bin/randread" "$1/rand.dat" "$RAND_READS" "$RAND_BS" "$RAND_SEED")" || return 1
    record randread "$2" "$3" "$t"
}
run_untar() {
    local d="$1/untar" a b
    rm -rf "$d"; mkdir -p "$d" || return 1
    a=$EPOCHREALTIME
    tar -xf "$TMP/tree.tar" -C "$d" || return 1
    b=$EPOCHREALTIME
    record untar "$2" "$3" "$(elapsed "$a" "$b")"
    a=$EPOCHREALTIME
    rm -rf "$d" || return 1
    b=$EPOCHREALTIME
    record rmtree "$2" "$3" "$(elapsed "$a" "$b")"
}

# Rows each workload records (for nan on failure).
rows_of() {
    case "$1" in
        meta) echo "meta_total meta_create meta_stat meta_unlink" ;;
        seq) echo "seq_write seq_read" ;;
        untar) echo "untar rmtree" ;;
        *) echo "$1" ;;
    esac
}

# --- per-workload preparation (untimed) -------------------------------------------------------
prepare_untar() {
    local src="$TMP/tarsrc"
    log "generating tarball: repo src/ + $TAR_FILES small files"
    mkdir -p "$src"
    [ -d "$REPO/src" ] && cp -r "$REPO/src" "$src/src"
    python3 - "$src/gen" "$TAR_FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 100), "s%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    size = rng.choice([0, 100, 512, 1500, 4096, 8000, rng.randrange(16384)])
    with open(os.path.join(d, "f%05d.txt" % i), "wb") as f:
        f.write(rng.randbytes(size))
PY
    tar -cf "$TMP/tree.tar" -C "$src" .
    rm -rf "$src"
    log "tarball: $(tar -tf "$TMP/tree.tar" | wc -l) entries, $(du -h "$TMP/tree.tar" | cut -f1)"
}
prepare_randread() {
    local i
    log "creating ${RAND_MIB} MiB random-read file in each target"
    dd if=/dev/urandom of="$TMP/rand.src" bs=1M count="$RAND_MIB" status=none
    # Copied into the backing dirs directly (equal on-disk layout for all).
    for (( i = 0; i < NT; i++ )); do
        cp "$TMP/rand.src" "$TMP/backing/$(safe_name "${T_NAME[i]}")/rand.dat"
    done
    rm -f "$TMP/rand.src"
}
finish_randread() {
    local i
    for (( i = 0; i < NT; i++ )); do rm -f "$TMP/backing/$(safe_name "${T_NAME[i]}")/rand.dat"; done
}

# --- run ----------------------------------------------------------------------------------------
log "temp dir $TMP ($(findmnt -n -o FSTYPE -T "$TMP"))"
for (( i = 0; i < NT; i++ )); do mount_target "$i"; done

for w in $WORKLOADS; do
    case "$w" in untar) prepare_untar ;; randread) prepare_randread ;; esac
    for (( r = 0; r < ROUNDS; r++ )); do
        order=""
        for (( k = 0; k < NT; k++ )); do
            i=$(( (k + r) % NT ))
            order="$order ${T_NAME[i]}"
            if ! "run_$w" "${T_DIR[i]}" "${T_NAME[i]}" "$r"; then
                log "FAILED: $w on ${T_NAME[i]} round $r (see $TMP/logs)"
                for row in $(rows_of "$w"); do record "$row" "${T_NAME[i]}" "$r" nan; done
            fi
        done
        log "$w round $(( r + 1 ))/$ROUNDS done (order:$order)"
    done
    case "$w" in randread) finish_randread ;; esac
done

# --- report --------------------------------------------------------------------------------------
names=$(IFS=,; echo "${T_NAME[*]}")
sharefs_version="none"
[ "$SHAREFS_BIN" != none ] && sharefs_version="$("$SHAREFS_BIN" --version 2>&1 | head -n1)"
{
    echo "## sharefs benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "- machine: $(nproc) cores, $(uname -r), backing fs $(findmnt -n -o FSTYPE -T "$TMP")"
    echo "- sharefs: \`$SHAREFS_BIN\` ($sharefs_version)${SHAREFS_ARGS:+, args \`$SHAREFS_ARGS\`}"
    for (( i = 4; i < NT; i++ )); do echo "- ${T_NAME[i]}: args \`${T_ARGS[i]}\`"; done
    echo "- bindfs: $(bindfs --version 2>&1 | head -n1)"
    echo "- rounds: $ROUNDS (median shown)$([ "$QUICK" = 1 ] && echo '; BENCH_QUICK=1 (sizes / 10)')"
    echo
    python3 "$HERE/report.py" "$RESULTS" "$names" \
        "$META_FILES" "$OPENS" "$SEQ_MIB" "$RAND_READS" "$RAND_MIB" "$TAR_FILES"
} > "$TMP/report.md"
cat "$TMP/report.md"
if [ -n "${BENCH_OUT:-}" ]; then cp "$TMP/report.md" "$BENCH_OUT"; log "report written to $BENCH_OUT"; fi

#!/usr/bin/env bash
# bench/semantics.sh — what the Windows semantics cost: share modes, many open
# handles, mandatory byte-range locks, the lock table, write-through.
#
# Usage (as root, from anywhere):
#   cargo build --release && bash bench/semantics.sh
#   BENCH_QUICK=1 bash bench/semantics.sh              # smaller sizes, about 1-2 min
#   BENCH_SECTIONS="locks sync" bash bench/semantics.sh  # a subset
#
# Targets (each with its own fresh backing dir under one temp dir):
#   native         the backing dir itself
#   bindfs         bindfs -f BACKING MNT (default options, single-threaded)
#   sharefs        sharefs mount --profile windows  (the default profile)
#   sharefs-posix  sharefs mount --profile posix
#   sharefs-wt     sharefs mount --profile windows -o write_through
# Every round runs every workload of the selected sections on its targets, the
# target order rotating each round, so drift of a noisy machine hits all columns
# alike; the report shows medians over rounds and ratios. See bench/README.md.
#
# Environment (defaults; BENCH_QUICK=1 shrinks the sizes, see bench/README.md):
#   SHAREFS_BIN        sharefs binary (default <repo>/target/release/sharefs)
#   SHAREFS_ARGS       extra `sharefs mount` arguments for every sharefs target
#   ROUNDS             rounds (5)
#   BENCH_SECTIONS     subset of: share handles locks table sync (all)
#   BENCH_OPENS        open+close pairs per loop                    (20000)
#   BENCH_META_FILES   files created/stat'ed/unlinked               (2000)
#   BENCH_HOLD_COUNTS  other handles holding the file in section 2  ("1 100 10000")
#   BENCH_RAND_IOS     4 KiB random preads, and as many pwrites      (20000)
#   BENCH_RAND_MIB     size of the random-I/O file, MiB              (64)
#   BENCH_SEQ_MIB      sequential write+read, MiB                    (256)
#   BENCH_LOCKS        OFD locks held by another process             (1000)
#   BENCH_LOCK_PAIRS   lock/unlock pairs                             (20000)
#   BENCH_TABLE_HANDLES handles held while the lock table is read    (10000)
#   BENCH_TABLE_READS  lock-table reads per round                    (20)
#   BENCH_SYNC4K       O_DSYNC 4 KiB writes                          (2000)
#   BENCH_SYNC64K      O_DSYNC 64 KiB writes                         (500)
#   BENCH_PLAIN64K     plain 64 KiB writes next to an O_DSYNC writer (8192)
#   BENCH_DSYNC_PACE   writes/s of the paced O_DSYNC writer          (500)
#   BENCH_TMPDIR       where the temp dir goes (default /tmp; a disk fs)
#   BENCH_OUT          also write the report to this file
#   BENCH_KEEP=1       keep the temp dir (logs, raw results.tsv, info.tsv)
#   RUST_LOG           passed to sharefs as is
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

log() { printf '[semantics %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'semantics: error: %s\n' "$*" >&2; exit 1; }

# --- configuration ---------------------------------------------------------------------
QUICK="${BENCH_QUICK:-0}"
if [ "$QUICK" = 1 ]; then
    d_opens=2000; d_meta=200; d_hold="1 100 1000"; d_rand_ios=2000; d_rand_mib=16
    d_seq_mib=32; d_lock_pairs=2000; d_table_handles=1000; d_sync4k=200; d_sync64k=50
    d_plain64k=800
else
    d_opens=20000; d_meta=2000; d_hold="1 100 10000"; d_rand_ios=20000; d_rand_mib=64
    d_seq_mib=256; d_lock_pairs=20000; d_table_handles=10000; d_sync4k=2000; d_sync64k=500
    d_plain64k=8192
fi
ROUNDS="${ROUNDS:-5}"
SECTIONS="${BENCH_SECTIONS:-share handles locks table sync}"
OPENS="${BENCH_OPENS:-$d_opens}"
META_FILES="${BENCH_META_FILES:-$d_meta}"
HOLD_COUNTS="${BENCH_HOLD_COUNTS:-$d_hold}"
RAND_IOS="${BENCH_RAND_IOS:-$d_rand_ios}"
RAND_MIB="${BENCH_RAND_MIB:-$d_rand_mib}"
SEQ_MIB="${BENCH_SEQ_MIB:-$d_seq_mib}"
LOCKS="${BENCH_LOCKS:-1000}"
LOCK_PAIRS="${BENCH_LOCK_PAIRS:-$d_lock_pairs}"
TABLE_HANDLES="${BENCH_TABLE_HANDLES:-$d_table_handles}"
TABLE_READS="${BENCH_TABLE_READS:-20}"
SYNC4K="${BENCH_SYNC4K:-$d_sync4k}"
SYNC64K="${BENCH_SYNC64K:-$d_sync64k}"
PLAIN64K="${BENCH_PLAIN64K:-$d_plain64k}"
DSYNC_PACE="${BENCH_DSYNC_PACE:-500}"
RAND_SEED=20240601
# The other process's locks: 1-byte exclusive OFD locks at LOCK_BASE + k*4096, far
# beyond every file the I/O touches (the random file and the sequential file), so
# no read or write ever conflicts with them: what is measured is the check.
LOCK_BASE=$(( 1 << 30 ))
SHAREFS_BIN="${SHAREFS_BIN:-$REPO/target/release/sharefs}"
SHAREFS_ARGS="${SHAREFS_ARGS:-}"

for v in ROUNDS OPENS META_FILES RAND_IOS RAND_MIB SEQ_MIB LOCKS LOCK_PAIRS TABLE_HANDLES \
         TABLE_READS SYNC4K SYNC64K PLAIN64K DSYNC_PACE; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
for n in $HOLD_COUNTS; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "BENCH_HOLD_COUNTS: '$n' is not a positive integer"; done
for s in $SECTIONS; do
    case "$s" in share|handles|locks|table|sync) ;; *) die "unknown section '$s' (share handles locks table sync)" ;; esac
done
has_section() { [[ " $SECTIONS " == *" $1 "* ]]; }
(( LOCK_BASE > (RAND_MIB > SEQ_MIB ? RAND_MIB : SEQ_MIB) * 1048576 )) \
    || die "BENCH_RAND_MIB/BENCH_SEQ_MIB must stay below $(( LOCK_BASE >> 20 )) MiB (the locks' offset)"

# --- preflight ----------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || log "warning: not root; bindfs/sharefs mounts need /etc/fuse.conf and fusermount3"
for tool in bindfs fusermount3 cc python3 findmnt; do
    command -v "$tool" >/dev/null || die "$tool not found (run: bash mount-scripts/setup.sh)"
done
[ -c /dev/fuse ] || die "/dev/fuse missing"
[ -x "$SHAREFS_BIN" ] || die "sharefs binary $SHAREFS_BIN not found: cargo build --release, or set SHAREFS_BIN"
case "$SHAREFS_BIN" in */debug/*) log "warning: $SHAREFS_BIN looks like a debug build";; esac

# Many handles: the holder, bindfs (one backing fd per handle) and sharefs (same,
# and it raises its own limit to the hard limit) all need RLIMIT_NOFILE above the
# largest handle count. Raised here, before anything is started, so all inherit it.
max_handles=0
if has_section handles; then for n in $HOLD_COUNTS; do (( n > max_handles )) && max_handles=$n; done; fi
if has_section table && (( TABLE_HANDLES > max_handles )); then max_handles=$TABLE_HANDLES; fi
need_fds=$(( max_handles + 256 ))
hard="$(ulimit -Hn)"
if [ "$hard" != unlimited ] && (( hard < need_fds )); then
    die "RLIMIT_NOFILE hard limit $hard < $need_fds needed for $max_handles handles (raise it, or lower BENCH_HOLD_COUNTS / BENCH_TABLE_HANDLES)"
fi
ulimit -n "$hard" 2>/dev/null || ulimit -n "$need_fds"

# --- state and cleanup --------------------------------------------------------------------
TMP="$(mktemp -d "${BENCH_TMPDIR:-/tmp}/sharefs-semantics.XXXXXX")"
MOUNTS=()    # mount points to unmount at exit
PIDS=()      # foreground sharefs / bindfs processes (the daemons)
BG=()        # helper processes running in the background (holders, readers, writers)
RESULTS="$TMP/results.tsv"   # row  column  round  seconds|nan
INFO="$TMP/info.tsv"         # key  column  round  value   (context, not timed results)
: > "$RESULTS"; : > "$INFO"

fstype_of() {
    awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i+1); exit } }' \
        /proc/self/mountinfo
}
is_mounted() { [ -n "$(fstype_of "$1")" ]; }

stop_pid() {  # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; reaps it
    local p="$1" _
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
}

stop_all_bg() {
    local p
    for p in "${BG[@]}"; do stop_pid "$p"; done
    BG=()
}

cleanup() {
    local rc=$? m p
    set +e
    trap - INT TERM
    stop_all_bg
    for m in "${MOUNTS[@]}"; do
        if is_mounted "$m"; then
            fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"
        fi
    done
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    wait 2>/dev/null
    if grep -qF " $TMP/" /proc/self/mountinfo; then
        echo "semantics: a mount is still present under $TMP; not removing it" >&2
        rc=1
    elif [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "semantics: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "semantics: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# --- helpers (C, compiled now) ---------------------------------------------------------------
mkdir -p "$TMP/bin" "$TMP/logs" "$TMP/out"
for h in openclose meta holder randio seqio lockpairs readloop syncwrite; do
    cc -O2 -Wall -o "$TMP/bin/$h" "$HERE/helpers/$h.c" || die "compiling helpers/$h.c failed"
done
B="$TMP/bin"

# --- targets -----------------------------------------------------------------------------------
declare -A T_KIND T_ARGS T_DIR T_BACK T_PID T_FDS
TARGETS=(native bindfs sharefs)
T_KIND[native]=native; T_ARGS[native]=""
T_KIND[bindfs]=bindfs; T_ARGS[bindfs]=""
T_KIND[sharefs]=sharefs; T_ARGS[sharefs]="--profile windows${SHAREFS_ARGS:+ $SHAREFS_ARGS}"
if has_section share || has_section handles; then
    TARGETS+=(sharefs-posix)
    T_KIND[sharefs-posix]=sharefs; T_ARGS[sharefs-posix]="--profile posix${SHAREFS_ARGS:+ $SHAREFS_ARGS}"
fi
if has_section sync; then
    TARGETS+=(sharefs-wt)
    T_KIND[sharefs-wt]=sharefs; T_ARGS[sharefs-wt]="--profile windows -o write_through${SHAREFS_ARGS:+ $SHAREFS_ARGS}"
fi

mount_target() {  # mount_target NAME
    local name="$1" kind="${T_KIND[$1]}" args="${T_ARGS[$1]}" back mnt pid _
    back="$TMP/backing/$name"; mnt="$TMP/mnt/$name"
    mkdir -p "$back"
    T_BACK[$name]="$back"
    if [ "$kind" = native ]; then
        T_DIR[$name]="$back"
        log "target $name: $back"
        return 0
    fi
    mkdir -p "$mnt"; MOUNTS+=("$mnt")
    # Both daemons in the foreground, so we hold their pids (stopped at exit).
    # shellcheck disable=SC2086  # args are words by design
    if [ "$kind" = bindfs ]; then
        bindfs -f $args "$back" "$mnt" >"$TMP/logs/$name.log" 2>&1 &
    else
        "$SHAREFS_BIN" mount $args "$back" "$mnt" >"$TMP/logs/$name.log" 2>&1 &
    fi
    pid=$!; PIDS+=("$pid"); T_PID[$name]=$pid
    for _ in $(seq 1 100); do
        is_mounted "$mnt" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! is_mounted "$mnt"; then
        cat "$TMP/logs/$name.log" >&2
        die "$name did not mount on $mnt"
    fi
    T_DIR[$name]="$mnt"
    log "target $name: $mnt ($(fstype_of "$mnt"), backing $back${args:+, args: $args})"
}

base_of() { echo "${1%%+*}"; }            # "sharefs+locks" -> "sharefs"
dir_of() { echo "${T_DIR[$(base_of "$1")]}"; }

# settle COLUMN: wait until the daemon behind it has no handle left open (FUSE
# RELEASE is asynchronous: after a holder of 10,000 handles exits, the daemon may
# still be closing them when the next timed loop starts).
settle() {
    local t; t="$(base_of "$1")"
    local kind="${T_KIND[$t]}" dir="${T_DIR[$t]}" n _
    for _ in $(seq 1 600); do
        case "$kind" in
            sharefs) n="$(awk '$1 == "handles.open" { print $2 }' "$dir/.sharefs/stats" 2>/dev/null || true)"
                     [ "${n:-1}" -eq 0 ] && return 0 ;;
            bindfs)  n="$( (ls "/proc/${T_PID[$t]}/fd" 2>/dev/null || true) | wc -l)"
                     [ "$n" -le "${T_FDS[$t]}" ] && return 0 ;;
            *) return 0 ;;
        esac
        sleep 0.05
    done
    log "warning: $t still has open handles after 30 s"
}

# --- background helpers ----------------------------------------------------------------------
LAST_BG=""
start_bg() {  # start_bg OUTFILE CMD...: runs CMD in the background, stdout to OUTFILE
    local out="$1"; shift
    # Emptied here, not only by the child's redirection: wait_ready must never see
    # the "ready" line of an earlier helper that used the same file.
    : > "$out"; : > "$out.err"
    "$@" >"$out" 2>"$out.err" &
    LAST_BG=$!
    BG+=("$LAST_BG")
}
wait_ready() {  # wait_ready PID OUTFILE: until OUTFILE says "ready" (120 s at most)
    local pid="$1" out="$2" _
    for _ in $(seq 1 2400); do
        grep -q '^ready' "$out" 2>/dev/null && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            log "helper failed: $(cat "$out.err" 2>/dev/null)"
            return 1
        fi
        sleep 0.05
    done
    log "helper $pid not ready after 120 s"
    return 1
}
finish_bg() {  # finish_bg PID: stop it (SIGTERM) and forget it
    local p="$1" q keep=()
    stop_pid "$p"
    for q in "${BG[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    BG=("${keep[@]}")
}

# --- recording -------------------------------------------------------------------------------
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; }
info() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$INFO"; }
median_of() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) printf "%.6f", a[(NR+1)/2]; else printf "%.6f", (a[NR/2] + a[NR/2+1]) / 2 }'; }
rotate() {  # rotate R ITEMS...: ITEMS rotated left by R
    local r="$1"; shift
    local items=("$@") n=$# k
    for (( k = 0; k < n; k++ )); do printf '%s\n' "${items[(k + r) % n]}"; done
}

# --- workloads ---------------------------------------------------------------------------------
# Each run_* COLUMN ROUND records its rows and returns non-zero on failure (the
# caller then records nan for the rows it owns, stops leftover helpers and goes on).

# 1. share-mode enforcement: open+close loop and metadata loop.
run_openclose() {
    local t
    t="$("$B/openclose" "$(dir_of "$1")/oc.dat" "$OPENS")" || return 1
    record share_openclose "$1" "$2" "$t"
}
run_meta() {
    local d out
    d="$(dir_of "$1")/meta"
    rm -rf "$d"; mkdir -p "$d" || return 1
    out="$("$B/meta" "$d" "$META_FILES")" || return 1
    local c s u
    c="$(awk '$1 == "create" { print $2 }' <<< "$out")"
    s="$(awk '$1 == "stat" { print $2 }' <<< "$out")"
    u="$(awk '$1 == "unlink" { print $2 }' <<< "$out")"
    record share_meta_create "$1" "$2" "$c"
    record share_meta_stat "$1" "$2" "$s"
    record share_meta_unlink "$1" "$2" "$u"
    record share_meta_total "$1" "$2" "$(awk -v a="$c" -v b="$s" -v c="$u" 'BEGIN { printf "%.6f", a + b + c }')"
    rmdir "$d"
}

# 2. open+close of held.dat while a holder keeps N other handles on it.
HELD_N=1
run_held() {
    local f out pid t
    f="$(dir_of "$1")/held.dat"
    out="$TMP/out/held.$1"
    start_bg "$out" "$B/holder" open "$f" "$HELD_N"; pid=$LAST_BG
    wait_ready "$pid" "$out" || return 1
    info "held_setup_$HELD_N" "$1" "$2" "$(awk '{ print $3 }' "$out")"
    t="$("$B/openclose" "$f" "$OPENS")" || return 1
    record "held_$HELD_N" "$1" "$2" "$t"
    finish_bg "$pid"
}

# 3. I/O with and without another process's locks; lock/unlock pairs.
start_locker() {  # start_locker COLUMN FILE: on "+locks" columns, LOCKS locks on FILE
    LOCKER=""
    [[ "$1" == *+locks ]] || return 0
    local out="$TMP/out/locker.$1"
    start_bg "$out" "$B/holder" lock "$2" "$LOCKS" "$LOCK_BASE" 4096; LOCKER=$LAST_BG
    wait_ready "$LOCKER" "$out" || return 1
    if [ "$CHECKED_LOCKS" = 0 ]; then   # once: the locks are visible in the lock table
        info lock_rows_seen "$1" 0 "$(grep -c ' RANGE ' "$(dir_of "$1")/.sharefs/locks")"
        CHECKED_LOCKS=1
    fi
}
CHECKED_LOCKS=0
run_randio() {
    local f t
    f="$(dir_of "$1")/rand.dat"
    start_locker "$1" "$f" || return 1
    t="$("$B/randio" read "$f" "$RAND_IOS" 4096 "$RAND_SEED")" || return 1
    record lock_randread "$1" "$2" "$t"
    t="$("$B/randio" write "$f" "$RAND_IOS" 4096 "$(( RAND_SEED + 1 ))")" || return 1
    record lock_randwrite "$1" "$2" "$t"
    [ -z "$LOCKER" ] || finish_bg "$LOCKER"
}
run_seqio() {
    local f out
    f="$(dir_of "$1")/seq.dat"
    rm -f "$f"
    start_locker "$1" "$f" || return 1    # creates seq.dat (empty) and locks beyond 1 GiB
    out="$("$B/seqio" "$f" "$SEQ_MIB" 1048576)" || return 1
    record lock_seqwrite "$1" "$2" "$(awk '$1 == "write" { print $2 }' <<< "$out")"
    record lock_seqread "$1" "$2" "$(awk '$1 == "read" { print $2 }' <<< "$out")"
    [ -z "$LOCKER" ] || finish_bg "$LOCKER"
    rm -f "$f"
}
run_lockpairs() {
    local t
    t="$("$B/lockpairs" "$(dir_of "$1")/lp.dat" "$LOCK_PAIRS")" || return 1
    record lock_pairs "$1" "$2" "$t"
}

# 4. the lock table with TABLE_HANDLES handles open.
run_table() {
    local d out pid rpid t reads r
    d="$(dir_of "$1")"
    out="$TMP/out/table.holder"
    start_bg "$out" "$B/holder" open "$d/held4.dat" "$TABLE_HANDLES"; pid=$LAST_BG
    wait_ready "$pid" "$out" || return 1
    "$B/readloop" "$d/.sharefs/locks" "$TABLE_READS" > "$TMP/out/table.reads" || return 1
    record table_read "$1" "$2" "$(awk '{ print $1 }' "$TMP/out/table.reads" | median_of)"
    info table_bytes "$1" "$2" "$(awk 'END { print $2 }' "$TMP/out/table.reads")"
    info table_lines "$1" "$2" "$(awk 'END { print $3 }' "$TMP/out/table.reads")"
    awk -v n="$TABLE_HANDLES" '$3 < n { bad = 1 } END { exit bad }' "$TMP/out/table.reads" \
        || log "warning: the lock table had fewer than $TABLE_HANDLES rows in round $(( $2 + 1 ))"
    "$B/readloop" "$d/.sharefs/locks.json" "$TABLE_READS" > "$TMP/out/table.jreads" || return 1
    record table_read_json "$1" "$2" "$(awk '{ print $1 }' "$TMP/out/table.jreads" | median_of)"
    info table_json_bytes "$1" "$2" "$(awk 'END { print $2 }' "$TMP/out/table.jreads")"
    # Open+close of another file, without and with a reader looping over the table;
    # which goes first alternates by round.
    local modes=(alone reader)
    (( $2 % 2 )) && modes=(reader alone)
    for m in "${modes[@]}"; do
        rpid=""
        if [ "$m" = reader ]; then
            start_bg "$TMP/out/table.loop" "$B/readloop" "$d/.sharefs/locks" 0; rpid=$LAST_BG
            sleep 0.2
        fi
        t="$("$B/openclose" "$d/other.dat" "$OPENS")" || return 1
        record "table_oc_$m" "$1" "$2" "$t"
        if [ -n "$rpid" ]; then
            finish_bg "$rpid"
            reads="$(awk '$1 == "reads" { print $2 / $3 }' "$TMP/out/table.loop")"
            info table_reader_rate "$1" "$2" "${reads:-nan}"
        fi
    done
    finish_bg "$pid"
}

# 5. write-through.
run_dsync() {
    local d mode=dsync t
    d="$(dir_of "$1")"
    # On the -o write_through mount the program opens without O_DSYNC: the mount adds it.
    [ "$1" = sharefs-wt ] && mode=plain
    t="$("$B/syncwrite" "$d/ds4.dat" "$SYNC4K" 4096 "$mode")" || return 1
    record sync_4k "$1" "$2" "$t"
    t="$("$B/syncwrite" "$d/ds64.dat" "$SYNC64K" 65536 "$mode")" || return 1
    record sync_64k "$1" "$2" "$t"
    rm -f "$d/ds4.dat" "$d/ds64.dat"
}
# Columns: "T" alone, "T+dsync" next to an unpaced O_DSYNC writer, "T+paced" next
# to one paced at DSYNC_PACE writes/s.
run_interfere() {
    local d t wpid="" rate=""
    d="$(dir_of "$1")"
    case "$1" in *+dsync) rate=0 ;; *+paced) rate=$DSYNC_PACE ;; esac
    if [ -n "$rate" ]; then
        start_bg "$TMP/out/dsync.bg" "$B/syncwrite" "$d/B.dat" 0 4096 dsync 256 "$rate"; wpid=$LAST_BG
        sleep 0.3
        kill -0 "$wpid" 2>/dev/null || { log "O_DSYNC writer failed: $(cat "$TMP/out/dsync.bg.err")"; return 1; }
    fi
    t="$("$B/syncwrite" "$d/A.dat" "$PLAIN64K" 65536 plain)" || return 1
    record sync_plain "$1" "$2" "$t"
    if [ -n "$wpid" ]; then
        finish_bg "$wpid"
        info sync_bg_rate "$1" "$2" "$(awk '$1 == "writes" { print $2 / $3 }' "$TMP/out/dsync.bg")"
    fi
    rm -f "$d/A.dat" "$d/B.dat"
}

rows_of() {
    case "$1" in
        openclose) echo share_openclose ;;
        meta) echo "share_meta_total share_meta_create share_meta_stat share_meta_unlink" ;;
        held) echo "held_$HELD_N" ;;
        randio) echo "lock_randread lock_randwrite" ;;
        seqio) echo "lock_seqwrite lock_seqread" ;;
        lockpairs) echo lock_pairs ;;
        table) echo "table_read table_read_json table_oc_alone table_oc_reader" ;;
        dsync) echo "sync_4k sync_64k" ;;
        interfere) echo sync_plain ;;
    esac
}

# run_workload W ROUND COLUMNS...: every column once, order rotated by ROUND.
run_workload() {
    local w="$1" r="$2"; shift 2
    local c order="" row
    for c in $(rotate "$r" "$@"); do
        order="$order $c"
        settle "$c"
        sync
        if ! "run_$w" "$c" "$r"; then
            log "FAILED: $w on $c round $(( r + 1 )) (see $TMP/logs, $TMP/out)"
            for row in $(rows_of "$w"); do record "$row" "$c" "$r" nan; done
        fi
        stop_all_bg
    done
    log "  $w$([ "$w" = held ] && echo " ($HELD_N handles)"):$order"
}

# --- prepare (untimed) --------------------------------------------------------------------------
log "temp dir $TMP ($(findmnt -n -o FSTYPE -T "$TMP")), RLIMIT_NOFILE $(ulimit -n)"
for t in "${TARGETS[@]}"; do mount_target "$t"; done
for t in "${TARGETS[@]}"; do
    [ "${T_KIND[$t]}" = bindfs ] && T_FDS[$t]="$(ls "/proc/${T_PID[$t]}/fd" | wc -l)"
    : > "${T_DIR[$t]}/oc.dat"; : > "${T_DIR[$t]}/held.dat"
done
: > "${T_DIR[sharefs]}/held4.dat"; : > "${T_DIR[sharefs]}/other.dat"
if has_section locks; then
    log "creating the ${RAND_MIB} MiB random-I/O file in native, bindfs, sharefs"
    dd if=/dev/urandom of="$TMP/rand.src" bs=1M count="$RAND_MIB" status=none
    for t in native bindfs sharefs; do cp "$TMP/rand.src" "${T_BACK[$t]}/rand.dat"; done
    rm -f "$TMP/rand.src"
fi
sync

S1=(native bindfs sharefs sharefs-posix)
S3=(native bindfs sharefs sharefs+locks)
S5=(native bindfs sharefs sharefs-wt)
S5B=(native native+dsync native+paced sharefs sharefs+dsync sharefs+paced)
START=$EPOCHREALTIME
for (( r = 0; r < ROUNDS; r++ )); do
    log "round $(( r + 1 ))/$ROUNDS"
    if has_section share; then
        run_workload openclose "$r" "${S1[@]}"
        run_workload meta "$r" "${S1[@]}"
    fi
    if has_section handles; then
        for HELD_N in $HOLD_COUNTS; do run_workload held "$r" "${S1[@]}"; done
    fi
    if has_section locks; then
        run_workload randio "$r" "${S3[@]}"
        run_workload seqio "$r" "${S3[@]}"
        run_workload lockpairs "$r" native bindfs sharefs
    fi
    if has_section table; then
        run_workload table "$r" sharefs
    fi
    if has_section sync; then
        run_workload dsync "$r" "${S5[@]}"
        run_workload interfere "$r" "${S5B[@]}"
    fi
done
log "measured in $(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"

# Check that write-through really reached the backing files: the daemon's counters.
for t in sharefs sharefs-wt; do
    [ -n "${T_DIR[$t]:-}" ] || continue
    info stats_writes "$t" 0 "$(awk '$1 == "io.writes" { print $2 }' "${T_DIR[$t]}/.sharefs/stats")"
    info stats_wt_writes "$t" 0 "$(awk '$1 == "io.write_through_writes" { print $2 }' "${T_DIR[$t]}/.sharefs/stats")"
done

# --- report --------------------------------------------------------------------------------------
{
    echo "## sharefs semantics benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "- machine: $(nproc) cores, $(uname -r), backing fs $(findmnt -n -o FSTYPE -T "$TMP"), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- sharefs: \`$SHAREFS_BIN\` ($("$SHAREFS_BIN" --version 2>&1 | head -n1))${SHAREFS_ARGS:+, extra args \`$SHAREFS_ARGS\`}; bindfs: $(bindfs --version 2>&1 | head -n1)"
    echo "- rounds: $ROUNDS (medians shown; target order rotates each round)$([ "$QUICK" = 1 ] && echo '; BENCH_QUICK=1 (smaller sizes)')"
    echo
    python3 "$HERE/semantics_report.py" "$RESULTS" "$INFO" \
        sections="$SECTIONS" opens="$OPENS" meta="$META_FILES" hold="$HOLD_COUNTS" \
        rand_ios="$RAND_IOS" rand_mib="$RAND_MIB" seq_mib="$SEQ_MIB" locks="$LOCKS" \
        lock_base="$LOCK_BASE" lock_pairs="$LOCK_PAIRS" table_handles="$TABLE_HANDLES" \
        table_reads="$TABLE_READS" sync4k="$SYNC4K" sync64k="$SYNC64K" plain64k="$PLAIN64K" \
        dsync_pace="$DSYNC_PACE"
} > "$TMP/report.md"
cat "$TMP/report.md"
if [ -n "${BENCH_OUT:-}" ]; then cp "$TMP/report.md" "$BENCH_OUT"; log "report written to $BENCH_OUT"; fi

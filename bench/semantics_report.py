#!/usr/bin/env python3
"""Turn bench/semantics.sh raw results into one markdown table per section.

usage: semantics_report.py RESULTS.tsv INFO.tsv key=value...
RESULTS.tsv rows: row <TAB> column <TAB> round <TAB> seconds|nan
INFO.tsv rows:    key <TAB> column <TAB> round <TAB> value   (context: sizes, counts)
key=value: the sizes semantics.sh used (sections, opens, meta, hold, ...).

Every cell is the median over rounds. Ratios are throughput ratios
(time of the reference / time of the column; >1 = the column is faster), computed
from the medians; the "target" cells also give the range of the per-round ratios
(the two runs of one round ran next to each other, so that range shows the noise).
"""
import math
import statistics
import sys


def load(path):
    data = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            key, col, rnd, v = parts
            try:
                x = float(v)
            except ValueError:
                x = math.nan
            data.setdefault((key, col), {})[int(rnd)] = x
    return data


def main() -> None:
    res = load(sys.argv[1])
    info = load(sys.argv[2])
    p = dict(a.split("=", 1) for a in sys.argv[3:])
    sections = p["sections"].split()
    num = {k: int(v) for k, v in p.items() if v.isdigit()}

    def vals(key, col, src=res):
        return [x for x in src.get((key, col), {}).values() if not math.isnan(x)]

    def failed(key, col):
        return any(math.isnan(x) for x in res.get((key, col), {}).values())

    def med(key, col, src=res):
        xs = vals(key, col, src)
        return statistics.median(xs) if xs else None

    def cell(key, col, unit, amount=None):
        """A median: unit "s"/"ms" shows time, else amount / time."""
        m = med(key, col)
        mark = " †" if failed(key, col) else ""
        if m is None:
            return "fail" if failed(key, col) else "–"
        if unit == "s":
            return f"{m:.3g} s{mark}"
        if unit == "ms":
            return f"{m * 1000:.1f} ms{mark}"
        rate = amount / m if m > 0 else float("inf")
        return (f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}") + mark

    def ratio(key, ref, col, key_ref=None):
        """Throughput ratio of col vs ref: time(ref) / time(col)."""
        a, b = med(key_ref or key, ref), med(key, col)
        if a is None or b is None or b <= 0:
            return None
        return a / b

    def rfmt(x):
        return "–" if x is None else f"{x:.2f}"

    def round_range(key, ref, col, key_ref=None):
        ra, rb = res.get((key_ref or key, ref), {}), res.get((key, col), {})
        rs = [ra[r] / rb[r] for r in ra if r in rb and not math.isnan(ra[r])
              and not math.isnan(rb[r]) and rb[r] > 0]
        return (min(rs), max(rs)) if rs else None

    def target(key, ref, col, threshold, key_ref=None):
        """'**met**: 0.970 (needs ≥ 0.952) (rounds 0.93–1.01)'."""
        x = ratio(key, ref, col, key_ref)
        if x is None:
            return "–"
        rr = round_range(key, ref, col, key_ref)
        rng = f" (rounds {rr[0]:.2f}–{rr[1]:.2f})" if rr else ""
        ok = "**met**" if x >= threshold else "**missed**"
        return f"{ok}: {x:.3f} (needs ≥ {threshold:.3f}){rng}"

    def table(header, rows):
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print()

    def info_med(key, col, fmt="{:,.0f}"):
        m = med(key, col, info)
        return "–" if m is None else fmt.format(m)

    # ---------------------------------------------------------------- 1
    if "share" in sections:
        print("### 1. Share-mode enforcement: `--profile windows` vs `--profile posix`")
        print()
        cols = ["native", "bindfs", "sharefs", "sharefs-posix"]
        header = ["workload", "unit", "native", "bindfs", "sharefs windows",
                  "sharefs posix", "windows/posix", "windows/bindfs", "posix/bindfs",
                  "target: windows/posix ≥ 0.95 (within 5%)"]
        opens, meta = num["opens"], num["meta"]
        rows = []
        for key, label, unit, amount, tgt in [
            ("share_openclose", f"open+close of one file ×{opens:,}", "ops/s", opens, True),
            ("share_meta_total", f"metadata: create+stat+unlink {meta:,} files", "s", None, True),
            ("share_meta_create", "&nbsp;&nbsp;create (O_CREAT\\|O_EXCL + close)", "ops/s", meta, False),
            ("share_meta_stat", "&nbsp;&nbsp;stat", "ops/s", meta, False),
            ("share_meta_unlink", "&nbsp;&nbsp;unlink", "ops/s", meta, False),
        ]:
            r = [label, "s (lower is better)" if unit == "s" else unit]
            r += [cell(key, c, unit, amount) for c in cols]
            r += [rfmt(ratio(key, "sharefs-posix", "sharefs")),
                  rfmt(ratio(key, "bindfs", "sharefs")),
                  rfmt(ratio(key, "bindfs", "sharefs-posix"))]
            r.append(target(key, "sharefs-posix", "sharefs", 1 / 1.05) if tgt else "")
            rows.append(r)
        table(header, rows)

    # ---------------------------------------------------------------- 2
    if "handles" in sections:
        hold = [int(x) for x in p["hold"].split()]
        opens = num["opens"]
        lo, hi = hold[0], hold[-1]
        print(f"### 2. Open+close of one file (×{opens:,}) while other handles hold it open")
        print()
        cols = ["native", "bindfs", "sharefs", "sharefs-posix"]
        header = ["other handles on the file", "unit", "native", "bindfs",
                  "sharefs windows", "sharefs posix"]
        rows = []
        for n in hold:
            rows.append([f"{n:,}", "ops/s"] + [cell(f"held_{n}", c, "ops/s", opens) for c in cols])
        rows.append([f"{hi:,} vs {lo:,} (throughput ratio)", "ratio"]
                    + [rfmt(ratio(f"held_{hi}", c, c, key_ref=f"held_{lo}")) for c in cols])
        rows.append([f"target: {hi:,}-handle time ≤ 1.5× {lo:,}-handle time (ratio ≥ 0.67)", ""]
                    + ["", ""]
                    + [target(f"held_{hi}", c, c, 1 / 1.5, key_ref=f"held_{lo}")
                       for c in ["sharefs", "sharefs-posix"]])
        rows.append([f"time for the holder to open {hi:,} handles", "s"]
                    + [info_med(f"held_setup_{hi}", c, "{:.3f} s") for c in cols])
        table(header, rows)

    # ---------------------------------------------------------------- 3
    if "locks" in sections:
        locks, base = num["locks"], num["lock_base"]
        rios, rmib, smib = num["rand_ios"], num["rand_mib"], num["seq_mib"]
        print(f"### 3. Mandatory byte-range locks: I/O with (b) and without (a) "
              f"{locks:,} exclusive OFD locks held by another process")
        print()
        print(f"(b): the other process holds 1-byte F_WRLCK OFD locks at "
              f"{base >> 20} MiB + k×4096, k < {locks:,}, on the very file the I/O uses "
              f"(never overlapping it).")
        print()
        cols = ["native", "bindfs", "sharefs", "sharefs+locks"]
        header = ["workload", "unit", "native", "bindfs", "sharefs (a) no locks",
                  f"sharefs (b) {locks:,} locks", "(a)/native", "(a)/bindfs", "(b)/(a)",
                  "target: (b)/(a) ≥ 0.87 (≤ 15% slower)"]
        rows = []
        for key, label, unit, amount in [
            ("lock_randread", f"4 KiB random pread ×{rios:,} ({rmib} MiB file)", "ops/s", rios),
            ("lock_randwrite", f"4 KiB random pwrite ×{rios:,} ({rmib} MiB file)", "ops/s", rios),
            ("lock_seqwrite", f"seq write {smib} MiB, 1 MiB pwrites (fsync not counted)", "MiB/s", smib),
            ("lock_seqread", f"seq read {smib} MiB, 1 MiB preads", "MiB/s", smib),
        ]:
            r = [label, unit] + [cell(key, c, unit, amount) for c in cols]
            r += [rfmt(ratio(key, "native", "sharefs")), rfmt(ratio(key, "bindfs", "sharefs")),
                  rfmt(ratio(key, "sharefs", "sharefs+locks")),
                  target(key, "sharefs", "sharefs+locks", 1 / 1.15)]
            rows.append(r)
        table(header, rows)
        seen = info_med("lock_rows_seen", "sharefs+locks")
        print(f"Check: RANGE rows in `.sharefs/locks` while the other process held its locks: {seen}.")
        print()
        pairs = num["lock_pairs"]
        cols = ["native", "bindfs", "sharefs"]
        header = ["workload", "unit", "native (backing fs)", "bindfs", "sharefs",
                  "sharefs/native", "sharefs/bindfs"]
        table(header, [[f"F_OFD_SETLK lock + unlock on distinct ranges ×{pairs:,}", "pairs/s"]
                       + [cell("lock_pairs", c, "pairs/s", pairs) for c in cols]
                       + [rfmt(ratio("lock_pairs", "native", "sharefs")),
                          rfmt(ratio("lock_pairs", "bindfs", "sharefs"))]])

    # ---------------------------------------------------------------- 4
    if "table" in sections:
        th, reads, opens = num["table_handles"], num["table_reads"], num["opens"]
        print(f"### 4. The lock table with {th:,} handles open (sharefs, windows profile)")
        print()
        c = "sharefs"
        rows = []
        tr = med("table_read", c)
        tr_all = vals("table_read", c)
        rng = f" (rounds {min(tr_all) * 1000:.1f}–{max(tr_all) * 1000:.1f} ms)" if tr_all else ""
        verdict = "–" if tr is None else ("**met**" if tr < 0.050 else "**missed**")
        rows.append([f"read `.sharefs/locks` (open + read all + close; median of {reads} reads, then median over rounds)",
                     cell("table_read", c, "ms") + rng, f"{verdict}: < 50 ms"])
        rows.append(["&nbsp;&nbsp;its size", f"{info_med('table_bytes', c)} bytes, "
                     f"{info_med('table_lines', c)} rows", ""])
        rows.append([f"read `.sharefs/locks.json` (same)", cell("table_read_json", c, "ms"),
                     f"{info_med('table_json_bytes', c)} bytes"])
        rows.append([f"open+close of another file ×{opens:,}, nobody reading the table",
                     cell("table_oc_alone", c, "ops/s", opens) + " ops/s", ""])
        rows.append([f"open+close of another file ×{opens:,}, a reader re-reading the table in a loop",
                     cell("table_oc_reader", c, "ops/s", opens) + " ops/s", ""])
        x = ratio("table_oc_reader", c, c, key_ref="table_oc_alone")
        rr = round_range("table_oc_reader", c, c, key_ref="table_oc_alone")
        rows.append(["with reader / without (throughput ratio)",
                     rfmt(x) + (f" (rounds {rr[0]:.2f}–{rr[1]:.2f})" if rr else ""), ""])
        rows.append(["&nbsp;&nbsp;table reads the reader completed meanwhile",
                     info_med("table_reader_rate", c, "{:,.1f}") + " reads/s", ""])
        table(["measurement", "median", "target"], rows)

    # ---------------------------------------------------------------- 5
    if "sync" in sections:
        s4, s64, plain = num["sync4k"], num["sync64k"], num["plain64k"]
        print("### 5. Write-through (O_DSYNC)")
        print()
        cols = ["native", "bindfs", "sharefs", "sharefs-wt"]
        header = ["workload", "unit", "native (O_DSYNC)", "bindfs (O_DSYNC)",
                  "sharefs (program opens O_DSYNC)", "sharefs -o write_through (plain open)",
                  "sharefs/native", "write_through/native",
                  "target: sharefs/native ≥ 0.8", "target: write_through/native ≥ 0.8"]
        rows = []
        for key, label, amount in [
            ("sync_4k", f"4 KiB synchronous writes ×{s4:,} (new file, sequential)", s4),
            ("sync_64k", f"64 KiB synchronous writes ×{s64:,} (new file, sequential)", s64),
        ]:
            r = [label, "writes/s"] + [cell(key, c, "writes/s", amount) for c in cols]
            r += [rfmt(ratio(key, "native", "sharefs")), rfmt(ratio(key, "native", "sharefs-wt")),
                  target(key, "native", "sharefs", 0.8), target(key, "native", "sharefs-wt", 0.8)]
            rows.append(r)
        table(header, rows)
        mib = plain * 65536 / 1048576
        pace = num["dsync_pace"]
        cols = ["native", "native+dsync", "native+paced", "sharefs", "sharefs+dsync", "sharefs+paced"]
        header = ["workload", "unit", "native alone", "native + O_DSYNC writer",
                  f"native + writer at {pace}/s", "sharefs alone", "sharefs + O_DSYNC writer",
                  f"sharefs + writer at {pace}/s", "native: with/alone",
                  f"native: with {pace}/s / alone", "sharefs: with/alone",
                  f"sharefs: with {pace}/s / alone"]
        rows = [[f"plain 64 KiB writes ×{plain:,} on file A ({mib:.0f} MiB, no sync)", "MiB/s"]
                + [cell("sync_plain", c, "MiB/s", mib) for c in cols]
                + [rfmt(ratio("sync_plain", "native", "native+dsync")),
                   rfmt(ratio("sync_plain", "native", "native+paced")),
                   rfmt(ratio("sync_plain", "sharefs", "sharefs+dsync")),
                   rfmt(ratio("sync_plain", "sharefs", "sharefs+paced"))]]
        rows.append(["&nbsp;&nbsp;the other process's O_DSYNC 4 KiB writes on file B meanwhile",
                     "writes/s", ""]
                    + [info_med("sync_bg_rate", c) for c in ["native+dsync", "native+paced"]]
                    + [""]
                    + [info_med("sync_bg_rate", c) for c in ["sharefs+dsync", "sharefs+paced"]]
                    + ["", "", "", ""])
        table(header, rows)
        checks = []
        for c, what in [("sharefs", "sharefs"), ("sharefs-wt", "sharefs -o write_through")]:
            w, wt = med("stats_writes", c, info), med("stats_wt_writes", c, info)
            if w is not None and wt is not None:
                checks.append(f"{what}: {wt:,.0f} of {w:,.0f} writes went through an O_DSYNC backing fd")
        if checks:
            print("Check (`.sharefs/stats` at the end of the run, counting every write of the run, "
                  "the isolation test's O_DSYNC writer included): " + "; ".join(checks) + ".")
            print()

    print("Medians over rounds. Ratios are throughput ratios (time of the reference / time "
          "of the column): 1.00 = same speed, >1 = the column is faster, 0.50 = it takes "
          "twice as long. † = some rounds failed (see the log). Targets: met/missed is "
          "decided on the ratio of medians; \"rounds\" gives the range of the per-round ratios.")


if __name__ == "__main__":
    main()

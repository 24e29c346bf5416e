#!/usr/bin/env python3
"""Turn bench/run.sh raw results into a markdown table of medians.

usage: report.py RESULTS.tsv TARGETS META_FILES OPENS SEQ_MIB RAND_READS RAND_MIB TAR_FILES
RESULTS.tsv rows: workload <TAB> target <TAB> round <TAB> seconds|nan
TARGETS: comma-separated column order (native,bindfs,bindfs-mt,sharefs,sharefs:NAME...).
"""
import math
import statistics
import sys


def main() -> None:
    results, targets = sys.argv[1], sys.argv[2].split(",")
    meta, opens, seq_mib, rand_reads, rand_mib, tar_files = map(int, sys.argv[3:9])

    # row key -> (label, unit, amount); unit "s" = seconds shown as is (lower is
    # better), otherwise amount / seconds (higher is better).
    rows = {
        "meta_total": (f"metadata: create+stat+unlink {meta} files", "s", None),
        "meta_create": ("&nbsp;&nbsp;create (open O_CREAT+close)", "ops/s", meta),
        "meta_stat": ("&nbsp;&nbsp;stat", "ops/s", meta),
        "meta_unlink": ("&nbsp;&nbsp;unlink", "ops/s", meta),
        "openclose": (f"open+close of one file ×{opens}", "ops/s", opens),
        "seq_write": (f"seq write {seq_mib} MiB (dd bs=1M, fsync)", "MiB/s", seq_mib),
        "seq_read": (f"seq read {seq_mib} MiB (dd bs=1M)", "MiB/s", seq_mib),
        "randread": (f"4 KiB random pread ×{rand_reads} ({rand_mib} MiB file)", "ops/s", rand_reads),
        "untar": (f"tar -xf (repo src + {tar_files} small files)", "s", None),
        "rmtree": ("rm -rf of the extracted tree", "s", None),
    }

    samples: dict[tuple[str, str], list[float]] = {}
    failed: dict[tuple[str, str], int] = {}
    with open(results) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            w, t, _, v = parts
            x = float(v)
            if math.isnan(x):
                failed[(w, t)] = failed.get((w, t), 0) + 1
            else:
                samples.setdefault((w, t), []).append(x)

    def median_time(w: str, t: str) -> float | None:
        xs = samples.get((w, t))
        return statistics.median(xs) if xs else None

    def fmt(w: str, t: str) -> str:
        unit, amount = rows[w][1], rows[w][2]
        m = median_time(w, t)
        mark = " †" if failed.get((w, t)) else ""
        if m is None:
            return "fail" if failed.get((w, t)) else "–"
        if unit == "s":
            return f"{m:.3g} s{mark}"
        rate = amount / m if m > 0 else float("inf")
        if unit == "MiB/s":
            return f"{rate:,.0f}{mark}"
        return f"{rate:,.0f}{mark}"

    def ratio(w: str, num_targets: list[str], t: str) -> str:
        """Throughput ratio t vs the best of num_targets: >1 means t is faster."""
        mt = median_time(w, t)
        others = [median_time(w, o) for o in num_targets if o in targets]
        others = [o for o in others if o is not None]
        if mt is None or not others or mt <= 0:
            return "–"
        return f"{min(others) / mt:.2f}"

    variants = [t for t in targets if t.startswith("sharefs:")]
    has_sharefs = "sharefs" in targets
    header = ["workload", "unit"] + targets
    if has_sharefs:
        header += ["sharefs/native", "sharefs/best-bindfs"]
        header += [f"{v}/sharefs" for v in variants]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|")
    for w, (label, unit, _) in rows.items():
        if not any((w, t) in samples or (w, t) in failed for t in targets):
            continue
        cells = [label, "s (lower is better)" if unit == "s" else unit]
        cells += [fmt(w, t) for t in targets]
        if has_sharefs:
            cells.append(ratio(w, ["native"], "sharefs"))
            cells.append(ratio(w, ["bindfs", "bindfs-mt"], "sharefs"))
            cells += [ratio(w, ["sharefs"], v) for v in variants]
        print("| " + " | ".join(cells) + " |")
    print()
    print("Medians over all rounds. Ratio columns are throughput ratios "
          "(time of the reference / time of sharefs): >1 means sharefs is faster, "
          "0.50 means it takes twice as long. best-bindfs = the faster of bindfs "
          "and bindfs-mt for that row. † = some rounds failed (see the run log). "
          "native seq read is served from the page cache.")


if __name__ == "__main__":
    main()

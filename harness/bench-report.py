#!/usr/bin/env python3
"""make bench's host side: read the guest's '@@' lines (pt-savings and
mshare-bench output, see harness/bench.sh), print one table per figure with
ratios against mshare of the same run, a summary line, and write CSV, JSON
and the page-table plot (gnuplot: PNG and SVG) into --out.

Every number comes from the guest; this script only divides.
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time

MODES = ["memfd", "thp", "hugetlb", "ext4", "mshare"]
LABEL = {
    "memfd": "MAP_SHARED memfd",
    "thp": "memfd THP",
    "hugetlb": "hugetlbfs 2M",
    "ext4": "MAP_SHARED ext4",
    "mshare": "mshare",
    "limit": "physical limit",
}


def human_kb(kb):
    if kb is None:
        return "-"
    b = kb * 1024.0
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(b) < 1024 or unit == "TiB":
            if unit == "B":
                return "%d B" % b
            return ("%.0f %s" if abs(b) >= 100 else "%.1f %s") % (b, unit)
        b /= 1024.0


def human_mib(mib):
    return "%d GiB" % (mib // 1024) if mib % 1024 == 0 else "%d MiB" % mib


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt_ratio(r):
    if r is None:
        return "-"
    if r >= 100:
        return "%.0fx" % r
    if r >= 1:
        return "%.1fx" % r
    return "%.2gx" % r


def table(title, head, rows, note=None):
    print()
    print("== " + title)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    print(line)
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(head, widths)) + " |")
    print(line)
    for r in rows:
        print("| " + " | ".join(str(x).rjust(w) for x, w in zip(r, widths)) + " |")
    print(line)
    if note:
        print(note)


def num(x, conv=float):
    try:
        return conv(x)
    except (TypeError, ValueError):
        return None


def parse(path):
    data = {"info": {}, "phase": {}, "pt": [], "attach": [], "mprotect": [],
            "lifecycle": [], "ipi": []}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("@@"):
                continue
            parts = line[2:].split(",")
            kind = parts[0]
            if kind == "info" and len(parts) >= 3:
                data["info"][parts[1]] = ",".join(parts[2:])
            elif kind == "phase" and len(parts) >= 3:
                data["phase"][parts[1]] = num(parts[2])
            elif kind == "pt" and len(parts) >= 9:
                s, n, mode, pt, ctl, flt, wall, st = parts[1:9]
                data["pt"].append({"size_mib": int(s), "n": int(n), "mode": mode,
                                   "pt_kb": num(pt, int), "control_kb": num(ctl, int),
                                   "faults_per_proc": num(flt, int), "wall_s": num(wall),
                                   "status": st})
            elif kind == "attach" and len(parts) >= 7:
                s, k, mode, flt, sec, st = parts[1:7]
                data["attach"].append({"size_mib": int(s), "k": int(k), "mode": mode,
                                       "faults": num(flt, int), "seconds": num(sec),
                                       "status": st})
            elif kind == "mprotect" and len(parts) >= 9:
                s, n, mode, calls, sec, tlb, cal, st = parts[1:9]
                tc, cc = (parts[9:11] + [None, None])[:2]
                data["mprotect"].append({"size_mib": int(s), "n": int(n), "mode": mode,
                                         "calls": num(calls, int), "seconds": num(sec),
                                         "tlb_ipis": num(tlb, int), "cal_ipis": num(cal, int),
                                         "status": st, "tlb_control": num(tc, int),
                                         "cal_control": num(cc, int)})
            elif kind == "lifecycle" and len(parts) >= 6:
                s, mode, op, sec, st = parts[1:6]
                data["lifecycle"].append({"size_mib": int(s), "mode": mode, "op": op,
                                          "seconds": num(sec), "status": st})
            elif kind == "ipi" and len(parts) >= 8 and parts[1] != "skip":
                where, op, cpu, role, tlb, cal, us = parts[1:8]
                data["ipi"].append({"where": where, "op": op, "cpu": int(cpu), "role": role,
                                    "tlb_per_op": num(tlb), "cal_per_op": num(cal),
                                    "us_per_op": num(us)})
    return data


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def cell_status(r):
    return r["status"] if r else "-"


def fig_pt(data):
    rows = data["pt"]
    if not rows:
        return None
    idx = {(r["size_mib"], r["n"], r["mode"]): r for r in rows}
    sets = sorted({(r["size_mib"], r["n"]) for r in rows}, key=lambda x: (x[0] != 1024, x[0], x[1]))
    head = ["S", "N"] + [LABEL[m] for m in MODES] + ["limit"] + \
        ["%s/mshare" % m for m in MODES if m != "mshare"] + ["mshare/limit"]
    out = []
    for s, n in sets:
        ms = idx.get((s, n, "mshare"))
        ms_kb = ms["pt_kb"] if ms and ms["status"] == "ok" else None
        line = [human_mib(s), n]
        for m in MODES:
            r = idx.get((s, n, m))
            if not r:
                line.append("-")
            elif r["status"] != "ok":
                line.append(r["status"].upper())
            else:
                line.append(human_kb(r["pt_kb"]))
        lim = idx.get((s, n, "limit"))
        line.append(human_kb(lim["pt_kb"]) if lim else "-")
        for m in MODES:
            if m == "mshare":
                continue
            r = idx.get((s, n, m))
            line.append(fmt_ratio(ratio(r["pt_kb"], ms_kb)) if r and r["status"] == "ok" else
                        (r["status"].upper() if r else "-"))
        line.append(fmt_ratio(ratio(ms_kb, lim["pt_kb"] if lim else None)))
        out.append(line)
    table("Figure 1: page-table bytes (PageTables growth, control run subtracted) "
          "of N processes each reading all of S",
          head, out,
          "(populated with MADV_POPULATE_READ, then every 4 KiB page read; mshare includes the\n"
          " region's own tables; limit = S/512 + one 8-byte PUD entry per GiB per process,\n"
          " computed; OOM: that baseline ran out of memory; ratios: mode / mshare)")
    # Summary: the largest N at 1 GiB (or the largest set).
    best = None
    for s, n in sets:
        if idx.get((s, n, "memfd")) and idx.get((s, n, "mshare")):
            key = (s == 1024, n, s)
            if best is None or key > best[0]:
                best = (key, s, n)
    if best:
        _, s, n = best
        mf, ms = idx[(s, n, "memfd")], idx[(s, n, "mshare")]
        if mf["status"] == "ok" and ms["status"] == "ok":
            return "N = %d, S = %s: MAP_SHARED %s of page tables, mshare %s: %s less" % (
                n, human_mib(s), human_kb(mf["pt_kb"]), human_kb(ms["pt_kb"]),
                fmt_ratio(ratio(mf["pt_kb"], ms["pt_kb"])).replace("x", "\u00d7"))
        return "N = %d, S = %s: MAP_SHARED %s, mshare %s" % (
            n, human_mib(s), mf["status"] if mf["status"] != "ok" else human_kb(mf["pt_kb"]),
            ms["status"] if ms["status"] != "ok" else human_kb(ms["pt_kb"]))
    return None


def fig_attach(data):
    rows = data["attach"]
    if not rows:
        return
    idx = {(r["k"], r["mode"]): r for r in rows}
    ks = sorted({r["k"] for r in rows})
    size = rows[0]["size_mib"]
    head = ["k"] + ["%s faults" % m for m in MODES] + ["%s time/mshare" % m for m in MODES if m != "mshare"]
    out = []
    for k in ks:
        ms = idx.get((k, "mshare"))
        line = [k]
        for m in MODES:
            r = idx.get((k, m))
            line.append(r["faults"] if r and r["status"] == "ok" else cell_status(r).upper())
        for m in MODES:
            if m == "mshare":
                continue
            r = idx.get((k, m))
            line.append(fmt_ratio(ratio(r["seconds"], ms["seconds"] if ms and ms["status"] == "ok" else None))
                        if r and r["status"] == "ok" else cell_status(r).upper())
        out.append(line)
    table("Figure 2: the k-th process to map and read all of S = %s once the first populated it "
          "(minor faults; wall time as a ratio to mshare's)" % human_mib(size), head, out,
          "(mshare's k-th process: %s)" % ", ".join(
              "k=%d %s faults %.4f s" % (k, idx[(k, "mshare")]["faults"], idx[(k, "mshare")]["seconds"])
              for k in ks if (k, "mshare") in idx and idx[(k, "mshare")]["status"] == "ok"))


def fig_mprotect(data):
    rows = data["mprotect"]
    if not rows:
        return
    idx = {(r["n"], r["mode"]): r for r in rows}
    ns = sorted({r["n"] for r in rows})
    size = rows[0]["size_mib"]
    head = ["N"] + ["%s time/mshare" % m for m in MODES if m != "mshare"] + \
        ["%s TLB,CAL (ctl)" % m for m in MODES]
    out = []
    for n in ns:
        ms = idx.get((n, "mshare"))
        line = [n]
        for m in MODES:
            if m == "mshare":
                continue
            r = idx.get((n, m))
            line.append(fmt_ratio(ratio(r["seconds"], ms["seconds"] if ms and ms["status"] == "ok" else None))
                        if r and r["status"] == "ok" else cell_status(r).upper())
        for m in MODES:
            r = idx.get((n, m))
            if r and r["status"] == "ok":
                line.append("%d,%d (%s,%s)" % (r["tlb_ipis"], r["cal_ipis"],
                                               r["tlb_control"] if r["tlb_control"] is not None else "?",
                                               r["cal_control"] if r["cal_control"] is not None else "?"))
            else:
                line.append(cell_status(r).upper())
        out.append(line)
    table("Figure 3: one mprotect() of S = %s seen by N sharers (mshare) vs N processes each "
          "mprotect()ing their own mapping: total time of the calls as a ratio to mshare's, "
          "and IPIs (/proc/interrupts TLB, CAL)" % human_mib(size), head, out,
          "(ctl: the IPIs of a control pass of the same signal/pipe handshakes without the\n"
          " mprotect(): remote wakeups are function-call IPIs too)")


def fig_lifecycle(data):
    rows = data["lifecycle"]
    if not rows:
        return
    idx = {(r["size_mib"], r["op"], r["mode"]): r for r in rows}
    keys = sorted({(r["size_mib"], r["op"]) for r in rows},
                  key=lambda x: (x[0], ["fork", "detach", "exit", "forks"].index(x[1])))
    head = ["S", "operation", "mshare s"] + ["%s/mshare" % m for m in MODES if m != "mshare"]
    out = []
    for s, op in keys:
        ms = idx.get((s, op, "mshare"))
        msv = ms["seconds"] if ms and ms["status"] == "ok" else None
        line = [human_mib(s), {"forks": "fork+exit x children", "detach": "detach (munmap)"}.get(op, op),
                "%.5f" % msv if msv is not None else cell_status(ms).upper()]
        for m in MODES:
            if m == "mshare":
                continue
            r = idx.get((s, op, m))
            line.append(fmt_ratio(ratio(r["seconds"], msv)) if r and r["status"] == "ok"
                        else cell_status(r).upper())
        out.append(line)
    table("Figure 4: exit, detach and fork of a process holding S mapped and read, and fork+exit "
          "of many children of it (time; ratio: mode / mshare)", head, out)


def fig_ipi(data):
    rows = data["ipi"]
    if not rows:
        return
    idx = {(r["where"], r["op"], r["cpu"]): r for r in rows}
    ops = []
    for r in rows:
        if r["op"] not in ops:
            ops.append(r["op"])
    roles = {r["cpu"]: r["role"] for r in rows}
    head = ["operation", "where"] + ["cpu%d %s TLB/CAL" % (c, roles[c]) for c in sorted(roles)] + ["us/op"]
    out = []
    for op in ops:
        for where in ("outside", "inside"):
            if (where, op, 0) not in idx:
                continue
            line = [op, where]
            for c in sorted(roles):
                r = idx.get((where, op, c))
                line.append("%.2f/%.2f" % (r["tlb_per_op"], r["cal_per_op"]) if r else "-")
            line.append("%.1f" % idx[(where, op, 0)]["us_per_op"])
            out.append(line)
    table("Figure 5: IPIs per operation (TLB shootdowns / function calls) received by each CPU, "
          "for an operation on 256 KiB inside a region vs outside (MAP_SHARED memfd)", head, out)


def plot(data, outdir):
    rows = [r for r in data["pt"] if r["status"] in ("ok", "computed")]
    if not rows:
        return
    # The size with the most N values (1 GiB in the full run).
    by_size = {}
    for r in rows:
        by_size.setdefault(r["size_mib"], set()).add(r["n"])
    size = max(by_size, key=lambda s: (len(by_size[s]), s == 1024))
    dat = os.path.join(outdir, "pagetables.dat")
    modes = [m for m in MODES + ["limit"] if any(r["mode"] == m and r["size_mib"] == size for r in rows)]
    with open(dat, "w") as f:
        for m in modes:
            f.write("# %s\n" % m)
            for r in sorted((r for r in rows if r["mode"] == m and r["size_mib"] == size),
                            key=lambda r: r["n"]):
                f.write("%d %d\n" % (r["n"], max(r["pt_kb"], 1) * 1024))
            f.write("\n\n")
    styles = {"memfd": "lc rgb '#d62728' pt 7", "thp": "lc rgb '#ff7f0e' pt 5",
              "hugetlb": "lc rgb '#2ca02c' pt 9", "ext4": "lc rgb '#9467bd' pt 11",
              "mshare": "lc rgb '#1f77b4' lw 3 pt 13", "limit": "lc rgb '#444444' dt 2 pt 0"}
    def title(m):
        zero = all(r["pt_kb"] <= 0 for r in rows if r["mode"] == m and r["size_mib"] == size)
        return LABEL[m] + (" (0 B measured, drawn at 1 KiB)" if zero else "")
    plots = ", ".join("'%s' index %d using 1:2 with linespoints %s title '%s'" % (
        dat, i, styles[m], title(m)) for i, m in enumerate(modes))
    info = data["info"]
    title = "Page tables of N processes reading the same %s (%s, qemu TCG)" % (
        human_mib(size), info.get("kernel", "?"))
    script = """
set logscale xy
set xlabel 'processes (N)'
set ylabel 'page-table bytes (PageTables growth)'
set format y '%%.0s %%cB'
set key bottom right box opaque
set grid
set title "%s"
""" % title
    ok = True
    for term, ext in (("pngcairo noenhanced size 1000,650", "png"), ("svg noenhanced size 1000,650", "svg")):
        gp = script + "set terminal %s\nset output '%s'\nplot %s\n" % (
            term, os.path.join(outdir, "pagetables." + ext), plots)
        try:
            subprocess.run(["gnuplot"], input=gp, text=True, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (OSError, subprocess.CalledProcessError) as e:
            print("bench: gnuplot failed (%s): no %s plot" % (e, ext), file=sys.stderr)
            ok = False
    with open(os.path.join(outdir, "pagetables.gp"), "w") as f:
        f.write(script + "set terminal pngcairo noenhanced size 1000,650\nset output 'pagetables.png'\nplot %s\n"
                % plots.replace(dat, "pagetables.dat"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--commit", default="")
    ap.add_argument("--machine", default="")
    a = ap.parse_args()
    data = parse(a.raw)
    os.makedirs(a.out, exist_ok=True)
    info = data["info"]
    print()
    print("mshare bench (%s run): kernel %s, guest %s CPUs, %s MiB; commit %s; %s" % (
        info.get("mode", "?"), info.get("kernel", "?"), info.get("cpus", "?"),
        info.get("mem_mib", "?"), a.commit, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    summary = fig_pt(data)
    fig_attach(data)
    fig_mprotect(data)
    fig_lifecycle(data)
    fig_ipi(data)
    if data["phase"]:
        print()
        print("guest time per figure: " + ", ".join("%s %.0fs" % kv for kv in data["phase"].items()))
    for name in ("pt", "attach", "mprotect", "lifecycle", "ipi"):
        write_csv(os.path.join(a.out, {"pt": "pagetables"}.get(name, name) + ".csv"), data[name])
    data["meta"] = {"commit": a.commit, "machine": a.machine,
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "summary": summary}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
    ok = plot(data, a.out)
    print()
    print("results: %s/{pagetables,attach,mprotect,lifecycle,ipi}.csv, results.json%s" % (
        a.out, ", pagetables.png, pagetables.svg" if ok else ""))
    if summary:
        print(summary)
    else:
        print("no page-table figure in this run")
    return 0 if (summary or not data["pt"]) else 1


if __name__ == "__main__":
    sys.exit(main())

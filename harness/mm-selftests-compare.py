#!/usr/bin/env python3
"""The kernel's mm selftests, patched against unpatched.

Reads the results that tests/mm_selftests.sh printed in a guest job log
("# MMST ..." lines and the tests' own TAP, indented) and either

  --write-baseline FILE   records them as the unpatched kernel's baseline, or
  --baseline FILE         compares them with it and prints TAP, one result
                          per test: "not ok" when a test, or one of its
                          subtests, that passes unpatched does not pass here
                          (fails, skips, is missing or did not finish), or
                          when a test has no baseline.  A test that fails or
                          skips unpatched too is reported as a SKIP with the
                          baseline's result.  Exits 1 if any result is "not ok".

  mm-selftests-compare.py --job build/check.job.log --baseline tests/mm-selftests/baseline.txt
"""
import argparse
import re
import sys

MMST = re.compile(r"^# MMST (BEGIN|RESULT) (\S+)(?: (\S+) rc=(-?\d+) secs=(\d+))?")
RUN = re.compile(r"^#\| # \[RUN\] (.*?)\s*$")
UFFD = re.compile(r"^#\| Testing (.*?)\.\.\. (done|skipped|failed)")
SUB = re.compile(r"^#\| (not ok|ok) \d+ (?:- )?(.*?)\s*(?:#\s*(SKIP|TODO|XFAIL)\b.*)?$", re.I)


def parse_job(text):
    """{test: {"result", "rc", "secs", "subs": {desc: pass|fail|skip}}}"""
    tests = {}
    order = []
    cur = None
    last_run = None
    for line in text.splitlines():
        m = MMST.match(line)
        if m:
            kind, tid = m.group(1), m.group(2)
            if kind == "BEGIN":
                cur = {"result": "unfinished", "rc": None, "secs": 0, "subs": {}}
                tests[tid] = cur
                order.append(tid)
            else:
                t = tests.setdefault(tid, {"subs": {}})
                t["result"] = m.group(3)
                t["rc"] = int(m.group(4))
                t["secs"] = int(m.group(5))
                cur = None
            continue
        if cur is None:
            continue
        m = RUN.match(line)
        if m:
            # kselftest's "# [RUN] name" then a result without a name
            # (cow, gup_longterm...): the result takes the name.
            last_run = m.group(1)
            continue
        m = SUB.match(line)
        u = UFFD.match(line)
        if u:
            # uffd-unit-tests: "Testing NAME on MEM... done|skipped|failed"
            desc = u.group(1)
            r = {"done": "pass", "skipped": "skip", "failed": "fail"}[u.group(2)]
        elif m:
            ok, desc, directive = m.groups()
            if directive:
                r = "skip"
            else:
                r = "pass" if ok == "ok" else "fail"
        if u or m:
            if not desc:
                desc = last_run or "?"
            last_run = None
            key = desc
            n = 2
            while key in cur["subs"]:
                key = "%s [%d]" % (desc, n)
                n += 1
            cur["subs"][key] = r
    return tests, order


def write_baseline(path, tests, order, header):
    with open(path, "w") as f:
        for h in header:
            f.write("# %s\n" % h)
        f.write("# test ID RESULT SECONDS / sub ID<TAB>SUBTEST<TAB>RESULT\n")
        for tid in order:
            t = tests[tid]
            f.write("test %s %s %d\n" % (tid, t["result"], t["secs"]))
            for desc, r in t["subs"].items():
                f.write("sub %s\t%s\t%s\n" % (tid, desc, r))


def read_baseline(path):
    tests = {}
    order = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("test "):
                _, tid, r, secs = line.split(" ", 3)
                tests[tid] = {"result": r, "secs": int(secs), "subs": {}}
                order.append(tid)
            elif line.startswith("sub "):
                tid, desc, r = line[4:].split("\t")
                tests[tid]["subs"][desc] = r
    return tests, order


def compare(base, border, got, gorder):
    """TAP lines and the number of failures."""
    out = []
    fails = 0
    names = list(border) + [t for t in gorder if t not in base]
    for i, tid in enumerate(names, 1):
        b = base.get(tid)
        g = got.get(tid)
        why = []
        if b is None:
            why.append("no baseline for this test (run harness/mm-selftests-baseline.sh)")
        elif g is None:
            why.append("did not run (baseline: %s)" % b["result"])
        else:
            if b["result"] == "pass" and g["result"] != "pass":
                why.append("%s (rc=%s), passes unpatched" % (g["result"], g.get("rc")))
            lost = [d for d, r in b["subs"].items()
                    if r == "pass" and g["subs"].get(d) != "pass"]
            if lost:
                why.append("%d subtests that pass unpatched do not pass: %s" % (
                    len(lost), "; ".join("%s (%s)" % (d, g["subs"].get(d, "missing"))
                                         for d in lost[:8])))
        if why:
            fails += 1
            out.append("not ok %d - mm/%s: %s" % (i, tid, "; ".join(why)))
            continue
        nsub = sum(1 for r in g["subs"].values() if r == "pass")
        desc = "mm/%s: %s in %ds (unpatched: %s in %ds), %d subtests pass" % (
            tid, g["result"], g["secs"], b["result"], b["secs"], nsub)
        if b["result"] == "pass":
            out.append("ok %d - %s" % (i, desc))
        else:
            out.append("ok %d - %s # SKIP does not pass unpatched either" % (i, desc))
    return ["TAP version 13", "1..%d" % len(names)] + out, fails


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--job", required=True, help="guest job log with tests/mm_selftests.sh output")
    ap.add_argument("--baseline", help="baseline file to compare with")
    ap.add_argument("--write-baseline", help="write the job's results as the baseline")
    ap.add_argument("--header", action="append", default=[], help="baseline header line")
    a = ap.parse_args(argv)
    with open(a.job, errors="replace") as f:
        got, gorder = parse_job(f.read())
    if a.write_baseline:
        if not got:
            print("mm-selftests-compare: no MMST results in %s" % a.job, file=sys.stderr)
            return 1
        write_baseline(a.write_baseline, got, gorder, a.header)
        return 0
    if not a.baseline:
        ap.error("--baseline or --write-baseline")
    try:
        base, border = read_baseline(a.baseline)
    except OSError as e:
        print("TAP version 13\n1..1\nnot ok 1 - mm selftests: no baseline (%s);"
              " run harness/mm-selftests-baseline.sh and commit it" % e)
        return 1
    if not got:
        print("TAP version 13\n1..1\nnot ok 1 - mm selftests: no results in %s" % a.job)
        return 1
    lines, fails = compare(base, border, got, gorder)
    print("\n".join(lines))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

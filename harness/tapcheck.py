#!/usr/bin/env python3
"""Host-side verdict on a guest test run.

Reads the job log (TAP streams framed by '### BEGIN name' / '### END name
rc=N' markers from harness/run-tests.sh) and the guest's console log, and
prints one summary line as the very last line:

    N passed, N failed, N skipped

It exits non-zero if any test failed, if a program crashed or stopped short
of its plan, if the job did not finish, or if the kernel log holds a
warning, BUG, KASAN, UBSAN, kmemleak or lockdep report, a bad rss-counter or
page, an RCU stall, a hung task, an oops or a panic.  Extra TAP files
(host-side tests) may be given with --tap.

Each kernel report is named after the test program it appeared in: the
guest's run-tests writes '### BEGIN name' / '### END name rc=N' into the
kernel log as well, so a report between the two belongs to 'name'.  Reports
before the first BEGIN are 'boot', after the last END 'shutdown', between
one program's END and the next BEGIN 'after NAME' (deferred work of NAME:
RCU callbacks, the last mmput in a kworker, ...).

The kernel log must carry every message level: a WARNING is KERN_WARNING
(4), so a console at loglevel=4 hides it.  The guest boots with
ignore_loglevel and run-tests writes its markers at KERN_DEBUG, so when the
job ran programs but the kernel log holds none of their markers, the log
was filtered or lost and the run fails ('kernel log is blind').
"""
import argparse
import re
import sys

# Kernel log lines that fail a run whatever the tests said.
KERNEL_GATES = [
    r"WARNING:",
    r"\bBUG:",
    r"kernel BUG at",
    r"KASAN:",
    r"UBSAN:",
    r"possible circular locking",
    r"possible recursive locking",
    r"inconsistent lock state",
    r"possible irq lock inversion",
    r"suspicious RCU usage",
    r"lock held when returning to user space",
    r"DEBUG_LOCKS_WARN_ON",
    r"bad unlock balance",
    r"held lock freed",
    r"INFO: trying to register non-static key",
    r"Bad rss-counter",
    r"Bad page",
    r"\bOops\b",
    r"general protection fault",
    r"Kernel panic",
    r"list_add corruption",
    r"list_del corruption",
    r"page_table_check",
    r"INFO: task .* blocked for more than",
    r"blocked for more than \d+ seconds",
    r"watchdog: BUG: soft lockup",
    r"rcu_preempt detected stalls|rcu: INFO:",
    r"\brcu\w* (self-)?detected stalls?\b",
    r"kmemleak: \d+ new suspected memory leaks",
    r"unreferenced object 0x",
    r"\*\* \d+ printk messages dropped \*\*",
    r"Out of memory: Killed process",
]
GATE_RE = re.compile("|".join("(?:%s)" % g for g in KERNEL_GATES))
# Lines inside a report that repeat a gate word without being a report of
# their own: stack frames (" page_table_check_set+0x1a/0x80"), RIP, Code.
FRAME_RE = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*(?:\? )?[\w.$]+\+0x[0-9a-f]+/0x[0-9a-f]+"
                      r"|^\s*(?:\[[^\]]*\]\s*)*(?:RIP: |Code: )")
# run-tests' markers in the kernel log (after a printk timestamp, if any).
MARK_RE = re.compile(r"### (BEGIN|END) (\S+)")
TAP_RE = re.compile(r"^(not ok|ok)\s+(\d+)\s*-?\s*([^#]*?)\s*(?:#\s*(.*))?$")
PLAN_RE = re.compile(r"^1\.\.(\d+)")


class Result:
    def __init__(self):
        self.passed = []
        self.failed = []
        self.skipped = []

    def add(self, status, name, why=""):
        {"pass": self.passed, "fail": self.failed, "skip": self.skipped}[status].append(
            (name, why))


def parse_tap_lines(prog, lines, res):
    """One TAP stream.  Only top-level results count; indented lines are
    subtests or diagnostics.  Returns (plan, number of results seen)."""
    plan = None
    seen = 0
    for line in lines:
        if line.startswith((" ", "\t")):
            continue
        m = PLAN_RE.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = TAP_RE.match(line)
        if not m:
            continue
        seen += 1
        ok, _num, desc, directive = m.groups()
        name = "%s: %s" % (prog, desc or "#" + _num)
        directive = (directive or "").strip()
        if directive.upper().startswith("SKIP"):
            res.add("skip", name, directive)
        elif directive.upper().startswith("TODO"):
            res.add("skip", name, directive)
        elif ok == "ok":
            res.add("pass", name)
        else:
            res.add("fail", name, directive)
    return plan, seen


def parse_job(text, res, label=""):
    """The guest job log.  Returns True if the job ran to its end.  A
    label ('prod') prefixes the program names ('prod/mshare_core')."""
    lines = text.splitlines()
    finished = any(l.startswith("### JOB-EXIT") for l in lines)
    prog = None
    body = []
    for line in lines + ["### EOF"]:
        if line.startswith("### BEGIN "):
            if prog is not None:
                check_prog(prog, body, None, res)
            prog = label + line.split(None, 2)[2].strip()
            body = []
        elif line.startswith("### END ") or line.startswith("### EOF"):
            if prog is None:
                continue
            rc = None
            m = re.search(r"rc=(-?\d+)", line)
            if m:
                rc = int(m.group(1))
            check_prog(prog, body, rc if line.startswith("### END") else "missing", res)
            prog = None
        elif prog is not None:
            body.append(line)
    return finished


def check_prog(prog, body, rc, res):
    before = len(res.failed)
    plan, seen = parse_tap_lines(prog, body, res)
    if rc == "missing" or rc is None:
        res.add("fail", "%s: did not finish (crashed, hung or killed)" % prog)
        return
    if plan is None and seen == 0:
        res.add("fail", "%s: printed no TAP results (rc=%d)" % (prog, rc))
        return
    if plan is not None and seen < plan:
        res.add("fail", "%s: only %d of %d planned results" % (prog, seen, plan))
    # kselftest exits 4 (KSFT_SKIP) when everything was skipped.
    if rc not in (0, 4) and len(res.failed) == before:
        res.add("fail", "%s: exited with rc=%d" % (prog, rc))


def kernel_log_reports(text):
    """The report lines of a kernel log, each with the program it belongs
    to.  Returns ([(line index, program, line)], number of BEGIN markers)."""
    lines = text.splitlines()
    hits = []
    where = "boot"
    begins = 0
    for i, line in enumerate(lines):
        m = MARK_RE.search(line)
        if m:
            kind, prog = m.groups()
            if kind == "BEGIN":
                begins += 1
                where = prog
            else:
                where = "after " + prog
            continue
        if GATE_RE.search(line) and not FRAME_RE.search(line):
            hits.append((i, where, line.strip()))
    # After the last program ended: shutdown.
    if begins and where.startswith("after "):
        hits = [(i, "shutdown" if w == where else w, l) for i, w, l in hits]
    return hits, begins


def check_kernel_log(text, res, job_programs=0, label=""):
    lines = text.splitlines()
    hits, begins = kernel_log_reports(text)
    if job_programs and not begins:
        res.add("fail", "kernel log is blind: the job ran %d program(s) but the kernel "
                "log holds none of their ### BEGIN markers (console loglevel too low, "
                "or the log was lost)" % job_programs)
    for i, where, line in hits[:20]:
        ctx = "\n".join("      " + l for l in lines[max(0, i - 2):i + 12])
        res.add("fail", "kernel log [%s%s] line %d: %s" % (label, where, i + 1, line), ctx)
    if len(hits) > 20:
        more = {}
        for _i, where, _l in hits[20:]:
            more[where] = more.get(where, 0) + 1
        res.add("fail", "kernel log: %d more report lines (%s)" % (
            len(hits) - 20, ", ".join("%s: %d" % kv for kv in sorted(more.items()))))
    return hits


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--job", help="guest job log with framed TAP")
    ap.add_argument("--guest", help="guest console log (kernel messages)")
    ap.add_argument("--tap", action="append", default=[],
                    help="a plain TAP file, NAME=PATH (host-side tests)")
    ap.add_argument("--run", action="append", default=[],
                    help="another guest run, LABEL=JOB-LOG,GUEST-LOG: checked as --job and "
                    "--guest are, its programs named LABEL/PROGRAM")
    ap.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    a = ap.parse_args(argv)

    res = Result()
    for spec in a.tap:
        name, _, path = spec.rpartition("=")
        with open(path, errors="replace") as f:
            body = f.read().splitlines()
        plan, seen = parse_tap_lines(name or path, body, res)
        if plan is not None and seen < plan:
            res.add("fail", "%s: only %d of %d planned results" % (name or path, seen, plan))
    if a.job is not None:
        try:
            with open(a.job, errors="replace") as f:
                job = f.read()
        except OSError as e:
            job = ""
            res.add("fail", "job log %s unreadable: %s" % (a.job, e.strerror))
        if not parse_job(job, res):
            res.add("fail", "the guest job did not run to its end")
        programs = sum(1 for l in job.splitlines() if l.startswith("### BEGIN "))
    else:
        programs = 0
    if a.guest is not None:
        try:
            with open(a.guest, errors="replace") as f:
                check_kernel_log(f.read(), res, programs)
        except OSError as e:
            res.add("fail", "guest log %s unreadable: %s" % (a.guest, e.strerror))

    for spec in a.run:
        label, _, logs = spec.partition("=")
        job_path, _, guest_path = logs.partition(",")
        label = label + "/" if label else ""
        try:
            with open(job_path, errors="replace") as f:
                job = f.read()
        except OSError as e:
            job = ""
            res.add("fail", "%sjob log %s unreadable: %s" % (label, job_path, e.strerror))
        if not parse_job(job, res, label):
            res.add("fail", "%sthe guest job did not run to its end" % label)
        programs = sum(1 for l in job.splitlines() if l.startswith("### BEGIN "))
        if guest_path:
            try:
                with open(guest_path, errors="replace") as f:
                    check_kernel_log(f.read(), res, programs, label)
            except OSError as e:
                res.add("fail", "%sguest log %s unreadable: %s" % (label, guest_path, e.strerror))

    if not a.quiet:
        for name, why in res.skipped:
            print("SKIP  %s%s" % (name, " (%s)" % why if why else ""))
    for name, why in res.failed:
        print("FAIL  %s" % name)
        if why:
            print(why)
    if res.failed and a.guest:
        print("full guest log: %s" % a.guest)
    line = "%d passed, %d failed" % (len(res.passed), len(res.failed))
    if res.skipped:
        line += ", %d skipped" % len(res.skipped)
    print(line)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())

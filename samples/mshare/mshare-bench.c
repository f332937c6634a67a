// SPDX-License-Identifier: GPL-2.0
/*
 * mshare-bench: the timing figures of make bench (pt-savings measures the
 * page tables).  Every figure is measured here, in the guest, for each mode
 * of bench.h side by side; the host divides.  Output: one CSV line per
 * measurement, "@@FIGURE,field,...", and readable lines around them.
 *
 *   mshare-bench attach    [-s MiB] [-m MODES] [-P] K...
 *	the k-th process to map S and read all of it, once k-1 others hold
 *	it populated: minor faults and wall time of the k-th.
 *	@@attach,size_mib,k,mode,faults,seconds,status
 *
 *   mshare-bench mprotect  [-s MiB] [-m MODES] [-P] N...
 *	N processes hold S mapped and read.  mshare: one of them mprotect()s
 *	the region's mapping (every sharer sees it); the others: each of the
 *	N mprotect()s its own mapping, one after the other.  Total time of
 *	the calls, and TLB shootdown / function-call IPIs (/proc/interrupts),
 *	and those of a control pass of the same handshakes without mprotect().
 *	@@mprotect,size_mib,n,mode,calls,seconds,tlb_ipis,cal_ipis,status,
 *	tlb_control,cal_control
 *
 *   mshare-bench lifecycle [-s MiB] [-m MODES] [-P] [-f CHILDREN] [-r REPS]
 *	a process that holds S mapped and read: its fork() (the child exits
 *	at once), munmap() (detach), exit (SIGKILL to waitpid() returning),
 *	and CHILDREN fork()+exit()+wait() in a row.  Medians of REPS.
 *	@@lifecycle,size_mib,mode,op,seconds,status
 *
 *   mshare-bench ipi [-s MiB] [-r REPS]
 *	>= 4 CPUs.  A (CPU 0) works on 256 KiB of its mapping: DONTNEED,
 *	PAGEOUT, mprotect, munmap (+ map again); B (CPU 1) shares the memory
 *	and keeps reading it; C (CPU 2) spins in a process that shares
 *	nothing; CPU 3 runs nothing.  Inside a region (A and B attached) and
 *	outside (A and B map the same memfd): TLB and CAL IPIs per operation
 *	received by each CPU.
 *	@@ipi,where,op,cpu,role,tlb_per_op,cal_per_op
 *
 * MODES: memfd,thp,hugetlb,ext4,mshare (default all; ext4 needs an ext4
 * file system at -e DIR, default /mnt/ext4).  -P populates with
 * MADV_POPULATE_READ before reading every page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mshare.h>

#include "bench.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static int populate;
static int want[NMETHODS];

/* Map the target and read every page (populating first with -P). */
static char *map_and_read(const struct target *t, int prot)
{
	char *p = target_map(t, prot);

	if (!p)
		return NULL;
	if (populate && t->m != MSHARE)
		madvise(p, size, MADV_POPULATE_READ);
	touch_all(p, size);
	return p;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Read one readiness byte from @fd, unless child @pid dies first: 0 or -1. */
static int wait_ready(int fd, pid_t pid)
{
	char c;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int status;

		if (poll(&pfd, 1, 500) > 0)
			return read(fd, &c, 1) == 1 ? 0 : -1;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
	}
}

/*
 * Holders: processes that map the target, read it and wait for a signal.
 * They report readiness (or death) on a pipe.
 */
struct holders {
	pid_t *pid;
	int n, cap;
	int ready[2];
};

static void holder_body(const struct target *t, int ready, int prot)
{
	sigset_t set;
	char c = 1;
	int sig;

	write_str("/proc/self/oom_score_adj", "1000");
	if (!map_and_read(t, prot))
		_exit(12);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (write(ready, &c, 1) != 1)
		_exit(3);
	sigwait(&set, &sig);
	_exit(0);
}

/* Grow the holders to n; 0, or -1 if one could not map (or died). */
static int holders_grow(struct holders *h, const struct target *t, int n, int prot)
{
	if (!h->pid) {
		h->cap = n > 16 ? n : 16;
		h->pid = calloc(h->cap, sizeof(pid_t));
		if (!h->pid || pipe(h->ready))
			die("holders");
	}
	if (n > h->cap) {
		h->pid = realloc(h->pid, n * sizeof(pid_t));
		if (!h->pid)
			die("realloc");
		h->cap = n;
	}
	while (h->n < n) {
		pid_t pid = fork();

		if (pid < 0)
			return -1;
		if (!pid) {
			close(h->ready[0]);
			holder_body(t, h->ready[1], prot);
		}
		/* One at a time: a holder that fails is seen at once. */
		if (wait_ready(h->ready[0], pid))
			return -1;
		h->pid[h->n++] = pid;
	}
	return 0;
}

static void holders_stop(struct holders *h)
{
	for (int i = 0; i < h->n; i++)
		kill(h->pid[i], SIGTERM);
	for (int i = 0; i < h->n; i++)
		waitpid(h->pid[i], NULL, 0);
	h->n = 0;
	if (h->pid) {
		close(h->ready[0]);
		close(h->ready[1]);
	}
	free(h->pid);
	memset(h, 0, sizeof(*h));
}

static int memfd_for(int need)
{
	int fd;

	if (!need)
		return -1;
	fd = memfd_create("mshare-bench", 0);
	if (fd < 0 || fill_file(fd, size))
		die("memfd");
	return fd;
}

/* ---- attach: the k-th process ---------------------------------------- */

struct kth {
	long faults;
	double seconds;
	int ok;
};

static void measure_kth(const struct target *t, struct kth *out)
{
	struct kth *shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;

	if (shared == MAP_FAILED)
		die("mmap");
	memset(shared, 0, sizeof(*shared));
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		long f0 = minflt();
		double t0 = now();

		if (!map_and_read(t, PROT_WRITE))
			_exit(12);
		shared->seconds = now() - t0;
		shared->faults = minflt() - f0;
		shared->ok = 1;
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	*out = *shared;
	munmap(shared, sizeof(*shared));
}

static int cmd_attach(int argc, char **argv)
{
	int memfd = memfd_for(want[MEMFD] || want[MSHARE]);

	printf("attach: the k-th process maps %zu MiB that k-1 others hold, and reads all of it\n",
	       size / MiB);
	for (int k = MEMFD; k < NMETHODS; k++) {
		struct holders h = { 0 };
		struct target t;

		if (!want[k])
			continue;
		if (setup(k, memfd, &t)) {
			printf("  %-8s skipped: %s\n", names[k], t.why);
			for (int i = 0; i < argc; i++)
				printf("@@attach,%zu,%s,%s,,,%s\n", size / MiB, argv[i],
				       names[k], strncmp(t.why, "oom", 3) ? "skip" : "oom");
			teardown(&t);
			continue;
		}
		for (int i = 0; i < argc; i++) {
			int kk = atoi(argv[i]);
			struct kth r = { 0 };
			const char *st = "ok";

			if (kk < 1)
				continue;
			if (holders_grow(&h, &t, kk - 1, PROT_WRITE))
				st = "oom";
			else
				measure_kth(&t, &r);
			if (!r.ok && !strcmp(st, "ok"))
				st = "fail";
			printf("  %-8s k=%-5d faults %8ld  %9.4f s  %s\n", names[k], kk,
			       r.faults, r.seconds, st);
			printf("@@attach,%zu,%d,%s,%ld,%.6f,%s\n", size / MiB, kk,
			       names[k], r.faults, r.seconds, st);
			fflush(stdout);
		}
		holders_stop(&h);
		teardown(&t);
	}
	return 0;
}

/* ---- mprotect: one call seen by N sharers, or N calls ---------------- */

/* A sharer that, on SIGUSR1, mprotect()s its mapping (or for mshare the
 * inner mapping of the region) to @prot and reports the call's time. */
struct slot {
	double seconds;
	int done, err, noop;
};

static void mprot_body(const struct target *t, int ready, struct slot *slot)
{
	sigset_t set;
	char c = 1, *p;
	int sig, prot = PROT_READ;

	write_str("/proc/self/oom_score_adj", "1000");
	p = map_and_read(t, PROT_WRITE);
	if (!p)
		_exit(12);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (write(ready, &c, 1) != 1)
		_exit(3);
	for (;;) {
		double t0;

		sigwait(&set, &sig);
		if (sig == SIGTERM)
			_exit(0);
		t0 = now();
		if (!slot->noop) {
			slot->err = mprotect(p, size, prot) ? errno : 0;
			prot = prot == PROT_READ ? PROT_READ | PROT_WRITE : PROT_READ;
		}
		slot->seconds = now() - t0;
		__atomic_store_n(&slot->done, 1, __ATOMIC_RELEASE);
		if (write(ready, &c, 1) != 1)
			_exit(3);
	}
}

static int cmd_mprotect(int argc, char **argv)
{
	int memfd = memfd_for(want[MEMFD] || want[MSHARE]);

	printf("mprotect: N processes hold %zu MiB mapped; mshare: one mprotect() inside the region, seen by all;\n"
	       "          others: each of the N mprotect()s its own mapping\n", size / MiB);
	for (int k = MEMFD; k < NMETHODS; k++) {
		struct target t;

		if (!want[k])
			continue;
		if (setup(k, memfd, &t)) {
			printf("  %-8s skipped: %s\n", names[k], t.why);
			teardown(&t);
			continue;
		}
		for (int i = 0; i < argc; i++) {
			int n = atoi(argv[i]), got = 0, calls, bad = 0;
			struct slot *slots;
			pid_t *pids;
			long tlb0 = 0, cal0 = 0, tlb1 = 0, cal1 = 0, tlbc = 0, calc = 0;
			double total = 0;
			int ready[2];

			if (n < 1)
				continue;
			slots = mmap(NULL, n * sizeof(*slots), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			pids = calloc(n, sizeof(*pids));
			if (slots == MAP_FAILED || !pids || pipe(ready))
				die("mprotect setup");
			for (got = 0; got < n; got++) {
				pids[got] = fork();
				if (pids[got] < 0)
					break;
				if (!pids[got]) {
					close(ready[0]);
					mprot_body(&t, ready[1], &slots[got]);
				}
				if (wait_ready(ready[0], pids[got]))
					break;
			}
			if (got < n) {
				bad = 1;
				printf("  %-8s N=%-5d could not start all holders (%d): oom\n",
				       names[k], n, got);
			}
			calls = k == MSHARE ? 1 : n;
			/*
			 * The control pass first: the same signal and pipe
			 * handshakes without the mprotect() (remote wakeups
			 * are function-call IPIs too); its IPIs are shown
			 * beside the measured ones.
			 */
			for (int pass = 0; pass < 2 && !bad; pass++) {
				tlb0 = irq_count("TLB", NULL, 0);
				cal0 = irq_count("CAL", NULL, 0);
				for (int j = 0; !bad && j < calls; j++) {
					slots[j].noop = !pass;
					kill(pids[j], SIGUSR1);
					if (wait_ready(ready[0], pids[j]) || slots[j].err) {
						bad = 1;
						break;
					}
					if (pass)
						total += slots[j].seconds;
				}
				tlb1 = irq_count("TLB", NULL, 0);
				cal1 = irq_count("CAL", NULL, 0);
				if (!pass) {
					tlbc = tlb1 - tlb0;
					calc = cal1 - cal0;
				}
			}
			for (int j = 0; j < got; j++)
				kill(pids[j], SIGTERM);
			for (int j = 0; j < got; j++)
				waitpid(pids[j], NULL, 0);
			close(ready[0]);
			close(ready[1]);
			printf("  %-8s N=%-5d %5d call(s) %9.5f s  TLB IPIs %6ld (control %ld)  CAL IPIs %6ld (control %ld)  %s\n",
			       names[k], n, calls, total, tlb1 - tlb0, tlbc, cal1 - cal0, calc,
			       bad ? (got < n ? "oom" : "fail") : "ok");
			printf("@@mprotect,%zu,%d,%s,%d,%.6f,%ld,%ld,%s,%ld,%ld\n", size / MiB, n,
			       names[k], calls, total, tlb1 - tlb0, cal1 - cal0,
			       bad ? (got < n ? "oom" : "fail") : "ok", tlbc, calc);
			fflush(stdout);
			munmap(slots, n * sizeof(*slots));
			free(pids);
		}
		teardown(&t);
	}
	return 0;
}

/* ---- lifecycle: fork, detach, exit, N x fork+exit -------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : 0;
}

enum { OP_FORK, OP_DETACH, OP_EXIT, OP_FORKS, NOPS };
static const char *const opnames[NOPS] = { "fork", "detach", "exit", "forks" };

/* In a child that maps the target: time op; the result in *out. */
static void lifecycle_once(const struct target *t, int op, int forks, double *out)
{
	double *shared = mmap(NULL, sizeof(double), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ready[2];
	pid_t pid;
	char c;

	if (shared == MAP_FAILED || pipe(ready))
		die("lifecycle");
	*shared = -1;
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		char *p = map_and_read(t, PROT_WRITE);
		double t0;

		close(ready[0]);
		if (!p)
			_exit(12);
		switch (op) {
		case OP_FORK: {
			pid_t g;

			t0 = now();
			g = fork();
			if (!g)
				_exit(0);
			*shared = now() - t0;
			waitpid(g, NULL, 0);
			break;
		}
		case OP_DETACH:
			t0 = now();
			munmap(p, t->maplen);
			*shared = now() - t0;
			break;
		case OP_EXIT:
			if (write(ready[1], &c, 1) != 1)
				_exit(3);
			pause();
			break;
		case OP_FORKS:
			t0 = now();
			for (int i = 0; i < forks; i++) {
				pid_t g = fork();

				if (!g)
					_exit(0);
				if (g < 0 || waitpid(g, NULL, 0) != g)
					_exit(4);
			}
			*shared = now() - t0;
			break;
		}
		_exit(0);
	}
	close(ready[1]);
	if (op == OP_EXIT) {
		double t0;

		if (read(ready[0], &c, 1) == 1) {
			t0 = now();
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			*shared = now() - t0;
		} else {
			waitpid(pid, NULL, 0);
		}
	} else {
		waitpid(pid, NULL, 0);
	}
	close(ready[0]);
	*out = *shared;
	munmap(shared, sizeof(double));
}

static int cmd_lifecycle(int forks, int reps)
{
	int memfd = memfd_for(want[MEMFD] || want[MSHARE]);

	printf("lifecycle: a process holding %zu MiB mapped and read: fork, detach (munmap), exit;\n"
	       "           and %d fork()+exit()+wait() in a row (medians of %d)\n",
	       size / MiB, forks, reps);
	for (int k = MEMFD; k < NMETHODS; k++) {
		struct target t;

		if (!want[k])
			continue;
		if (setup(k, memfd, &t)) {
			printf("  %-8s skipped: %s\n", names[k], t.why);
			for (int op = 0; op < NOPS; op++)
				printf("@@lifecycle,%zu,%s,%s,,%s\n", size / MiB,
				       names[k], opnames[op],
				       strncmp(t.why, "oom", 3) ? "skip" : "oom");
			teardown(&t);
			continue;
		}
		for (int op = 0; op < NOPS; op++) {
			double v[16];
			int n = op == OP_FORKS ? 1 : reps, ok = 1;

			for (int r = 0; r < n && r < 16; r++) {
				lifecycle_once(&t, op, forks, &v[r]);
				ok &= v[r] >= 0;
			}
			printf("  %-8s %-7s %10.5f s  %s\n", names[k], opnames[op],
			       median(v, n), ok ? "ok" : "fail");
			printf("@@lifecycle,%zu,%s,%s,%.6f,%s\n", size / MiB, names[k],
			       opnames[op], median(v, n), ok ? "ok" : "fail");
			fflush(stdout);
		}
		teardown(&t);
	}
	return 0;
}

/* ---- ipi: TLB shootdowns per operation, inside and outside ----------- */

#define IPI_CPUS 4
#define OP_LEN (256 * 1024UL)

static pid_t spawn_on(int cpu, void (*fn)(const struct target *, char *),
		      const struct target *t, char *arg)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (!pid) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
		fn(t, arg);
		_exit(0);
	}
	return pid;
}

/* B: the sharer, reading the first OP_LEN of its mapping for ever (not the
 * second, which A unmaps and maps again). */
static void sharer_loop(const struct target *t, char *unused)
{
	volatile char *p = map_and_read(t, PROT_WRITE);
	unsigned long sum = 0;

	(void)unused;
	if (!p)
		_exit(12);
	for (;;)
		for (size_t off = 0; off < OP_LEN; off += 4096)
			sum += p[off];
}

/* C: a busy process that shares nothing. */
static void spinner(const struct target *t, char *unused)
{
	volatile unsigned long x = 0;

	(void)t;
	(void)unused;
	for (;;)
		x++;
}

static const char *const ipi_ops[] = { "dontneed", "pageout", "mprotect", "munmap" };

static int cmd_ipi(int reps)
{
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), memfd;
	static const char *const roles[IPI_CPUS] = {
		"caller", "sharer", "busy-non-sharer", "idle"
	};

	if (ncpu < IPI_CPUS) {
		printf("ipi: needs %d CPUs, the guest has %d: skipped\n", IPI_CPUS, ncpu);
		printf("@@ipi,skip,,,,,\n");
		return 0;
	}
	memfd = memfd_for(1);
	printf("ipi: TLB shootdown (TLB) and function-call (CAL) IPIs per operation on %lu KiB,\n"
	       "     received by: CPU0 the caller, CPU1 a sharer that keeps reading, CPU2 a busy\n"
	       "     process that shares nothing, CPU3 idle (%d operations each)\n",
	       OP_LEN / 1024, reps);
	for (int inside = 1; inside >= 0; inside--) {
		struct target t;
		pid_t b, c;
		char *p;
		cpu_set_t set;

		if (setup(inside ? MSHARE : MEMFD, memfd, &t)) {
			printf("  setup: %s\n", t.why);
			continue;
		}
		b = spawn_on(1, sharer_loop, &t, NULL);
		c = spawn_on(2, spinner, &t, NULL);
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		sched_setaffinity(0, sizeof(set), &set);
		p = map_and_read(&t, PROT_WRITE);
		if (!p)
			die("map");
		sleep(1);
		for (unsigned int op = 0; op < sizeof(ipi_ops) / sizeof(ipi_ops[0]); op++) {
			long tlb0[IPI_CPUS] = { 0 }, tlb1[IPI_CPUS] = { 0 };
			long cal0[IPI_CPUS] = { 0 }, cal1[IPI_CPUS] = { 0 };
			double sec = 0;

			irq_count("TLB", tlb0, IPI_CPUS);
			irq_count("CAL", cal0, IPI_CPUS);
			for (int r = 0; r < reps; r++) {
				char *q = p + OP_LEN;	/* the second OP_LEN */
				double t0 = now();
				int err = 0;

				switch (op) {
				case 0:
					err = madvise(q, OP_LEN, MADV_DONTNEED);
					break;
				case 1:
					err = madvise(q, OP_LEN, MADV_PAGEOUT);
					break;
				case 2:
					err = mprotect(q, OP_LEN, r & 1 ? PROT_READ | PROT_WRITE : PROT_READ);
					break;
				case 3:
					err = munmap(q, OP_LEN);
					break;
				}
				sec += now() - t0;
				if (err)
					printf("  %s: %s\n", ipi_ops[op], strerror(errno));
				if (op == 3 && mmap(q, OP_LEN, PROT_READ | PROT_WRITE,
						    MAP_SHARED | MAP_FIXED, memfd,
						    OP_LEN) == MAP_FAILED)
					die("map again");
				touch_all(q, OP_LEN);
			}
			if (op == 2 && reps % 2)
				mprotect(p + OP_LEN, OP_LEN, PROT_READ | PROT_WRITE);
			irq_count("TLB", tlb1, IPI_CPUS);
			irq_count("CAL", cal1, IPI_CPUS);
			printf("  %-7s %-8s", inside ? "inside" : "outside", ipi_ops[op]);
			for (int cpu = 0; cpu < IPI_CPUS; cpu++) {
				double tl = (double)(tlb1[cpu] - tlb0[cpu]) / reps;
				double ca = (double)(cal1[cpu] - cal0[cpu]) / reps;

				printf("  cpu%d TLB %5.2f CAL %5.2f", cpu, tl, ca);
				printf("%s", cpu == IPI_CPUS - 1 ? "" : ";");
			}
			printf("  (%.1f us/op)\n", sec / reps * 1e6);
			for (int cpu = 0; cpu < IPI_CPUS; cpu++)
				printf("@@ipi,%s,%s,%d,%s,%.3f,%.3f,%.2f\n",
				       inside ? "inside" : "outside", ipi_ops[op], cpu,
				       roles[cpu], (double)(tlb1[cpu] - tlb0[cpu]) / reps,
				       (double)(cal1[cpu] - cal0[cpu]) / reps,
				       sec / reps * 1e6);
			fflush(stdout);
		}
		kill(b, SIGKILL);
		kill(c, SIGKILL);
		waitpid(b, NULL, 0);
		waitpid(c, NULL, 0);
		munmap(p, t.maplen);
		teardown(&t);
		CPU_ZERO(&set);
		for (int cpu = 0; cpu < ncpu; cpu++)
			CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *modes = "memfd,thp,hugetlb,ext4,mshare", *cmd;
	int opt, forks = 1000, reps = 5, any = 0;

	if (argc < 2)
		goto usage;
	cmd = argv[1];
	argv++;
	argc--;
	while ((opt = getopt(argc, argv, "s:m:Pe:H:f:r:")) != -1) {
		switch (opt) {
		case 's':
			size = strtoul(optarg, NULL, 0) * MiB;
			break;
		case 'm':
			modes = optarg;
			break;
		case 'P':
			populate = 1;
			break;
		case 'e':
			ext4_dir = optarg;
			break;
		case 'H':
			huge_dir = optarg;
			break;
		case 'f':
			forks = atoi(optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (!size || size % (2 * MiB) || reps < 1)
		goto usage;
	modes = strdup(modes);
	for (char *tok = strtok(modes, ","); tok; tok = strtok(NULL, ",")) {
		int k;

		for (k = MEMFD; k < NMETHODS; k++)
			if (!strcmp(tok, names[k]))
				break;
		if (k == NMETHODS)
			goto usage;
		want[k] = any = 1;
	}
	if (!any)
		goto usage;
	write_str("/proc/self/oom_score_adj", "-1000");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "attach") && optind < argc)
		return cmd_attach(argc - optind, argv + optind);
	if (!strcmp(cmd, "mprotect") && optind < argc)
		return cmd_mprotect(argc - optind, argv + optind);
	if (!strcmp(cmd, "lifecycle"))
		return cmd_lifecycle(forks, reps);
	if (!strcmp(cmd, "ipi"))
		return cmd_ipi(reps);
usage:
	fprintf(stderr, "usage: mshare-bench attach|mprotect [-s MiB] [-m MODES] [-P] N...\n"
		"       mshare-bench lifecycle [-s MiB] [-m MODES] [-P] [-f FORKS] [-r REPS]\n"
		"       mshare-bench ipi [-r REPS]\n");
	return 2;
}

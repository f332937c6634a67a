// SPDX-License-Identifier: GPL-2.0
/*
 * pt-savings: what N processes pay in page tables to read the same memory,
 * with ordinary mappings and with an mshare region, side by side.
 *
 *	pt-savings [-s SIZE_MIB] [-m MODES] [-P] [-e EXT4_DIR] [-H HUGETLB_DIR]
 *		   [-c CSV_FILE] N...
 *
 * For each N, N child processes map SIZE MiB (default 256) that the parent
 * has populated, read every 4 KiB page and wait; the parent reads
 * PageTables from /proc/meminfo while they wait, less a control run of N
 * children that map nothing.  Modes (-m, comma-separated; default
 * memfd,mshare):
 *
 *   memfd    MAP_SHARED of a memfd, 4 KiB pages
 *   thp      the same with shmem THP (shmem_enabled=always while it runs)
 *   hugetlb  a hugetlbfs file of 2 MiB pages at a 1 GiB-aligned address
 *            (mainline shares its PMD tables between processes)
 *   ext4     MAP_SHARED of a file on the ext4 mounted at -e DIR
 *   mshare   an mshare region with the memfd mapped inside, populated by
 *            the parent; the children attach it.  Its figure includes the
 *            region's own page tables (paid once, by the parent).
 *
 * -P populates each child's mapping with MADV_POPULATE_READ before it reads
 * every page (the same page tables, fewer exceptions: under TCG the page by
 * page faults of N x S are what make large runs slow).  A child that cannot
 * map or populate (ENOMEM) or that the OOM killer kills makes that mode's
 * figure "oom"; the run goes on with the next mode.
 *
 * -c appends one CSV line per N and mode:
 *   size_mib,n,mode,pt_kb,control_kb,faults_per_proc,wall_s,status
 * with mode "limit" for the physical limit (S/512 plus one 8-byte PUD
 * entry per GiB per process).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mshare.h>

#include "bench.h"

static int populate;
static FILE *csv;

/* A child: map, populate, read every page, report faults, wait. */
static void child(enum method m, const struct target *t, int ready, int go)
{
	struct rusage ru0, ru1;
	long faults;
	char *p;
	char c;

	write_str("/proc/self/oom_score_adj", "1000");
	getrusage(RUSAGE_SELF, &ru0);
	if (m != CONTROL) {
		p = target_map(t, 0);
		if (!p)
			_exit(errno == ENOMEM ? 12 : 2);
		if (populate && m != MSHARE &&
		    madvise(p, size, MADV_POPULATE_READ))
			_exit(errno == ENOMEM || errno == EFAULT ? 12 : 5);
		touch_all(p, size);
	}
	getrusage(RUSAGE_SELF, &ru1);
	faults = ru1.ru_minflt - ru0.ru_minflt;
	if (write(ready, &faults, sizeof(faults)) != sizeof(faults))
		_exit(3);
	while (read(go, &c, 1) > 0)
		;
	_exit(0);
}

struct result {
	long pt_kb;		/* PageTables growth while all hold */
	long faults;		/* minor faults per child */
	double wall;		/* fork to all ready, s */
	const char *status;	/* ok, oom, fail */
};

/* Run n children; fills *r (pt_kb is the raw growth, control included). */
static void run(enum method m, const struct target *t, int n, struct result *r)
{
	int ready[2], go[2], status, got = 0, dead = 0, oom = 0, bad = 0;
	long before, during = 0, f, total = 0;
	double t0;

	memset(r, 0, sizeof(*r));
	if (pipe(ready) || pipe(go))
		die("pipe");
	before = meminfo_kb("PageTables");
	t0 = now();
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			/* No memory for more children: the others still count. */
			oom = 1;
			n = i;
			break;
		}
		if (!pid) {
			close(ready[0]);
			close(go[1]);
			child(m, t, ready[1], go[0]);
		}
	}
	close(ready[1]);
	close(go[0]);
	/* Until every child reported, or one died (then the rest never will). */
	while (got < n && !dead) {
		struct pollfd pfd = { .fd = ready[0], .events = POLLIN };
		pid_t pid;

		if (poll(&pfd, 1, 1000) > 0) {
			if (read(ready[0], &f, sizeof(f)) != sizeof(f))
				break;
			total += f;
			got++;
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			dead++;
			if ((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
			    (WIFEXITED(status) && WEXITSTATUS(status) == 12))
				oom = 1;
			else
				bad = 1;
		}
	}
	r->wall = now() - t0;
	if (got == n)
		during = meminfo_kb("PageTables");
	close(go[1]);
	close(ready[0]);
	while (waitpid(-1, &status, 0) > 0) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			oom = 1;
		else if (!WIFEXITED(status) || (WEXITSTATUS(status) &&
						WEXITSTATUS(status) != 12))
			bad = 1;
		else if (WEXITSTATUS(status) == 12)
			oom = 1;
	}
	r->status = oom ? "oom" : (bad || got < n) ? "fail" : "ok";
	r->pt_kb = during - before;
	r->faults = got ? total / got : 0;
}

int main(int argc, char **argv)
{
	int opt, memfd, want[NMETHODS] = { 0 }, any = 0;
	char *modes = "memfd,mshare";

	while ((opt = getopt(argc, argv, "s:m:Pe:H:c:")) != -1) {
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
		case 'c':
			csv = fopen(optarg, "a");
			if (!csv)
				die(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || !size || size % (2 * MiB))
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

	/* The memory, populated once, without mapping it here (memfd and
	 * mshare share it; the other modes bring their own). */
	memfd = -1;
	if (want[MEMFD] || want[MSHARE]) {
		memfd = memfd_create("pt-savings", 0);
		if (memfd < 0 || fill_file(memfd, size))
			die("memfd");
	}

	printf("%zu MiB of shared memory read by N processes (4 KiB pages unless said)%s\n",
	       size / MiB, populate ? ", MADV_POPULATE_READ then every page read" :
	       ", every page read (faulted in)");
	printf("%6s  %-8s %14s %10s %9s  %s\n", "N", "mode", "PageTables kB",
	       "faults/p", "wall s", "");
	for (int i = optind; i < argc; i++) {
		int n = atoi(argv[i]);
		struct result ctl, r;
		long limit_kb, base_kb = -1;

		if (n <= 0)
			goto usage;
		run(CONTROL, NULL, n, &ctl);
		/* The physical limit: the data's own PTEs, once, and a PUD
		 * entry per GiB in each process. */
		limit_kb = size / 512 / 1024 +
			   (long)n * 8 * ((size + GiB - 1) / GiB) / 1024;
		for (int k = MEMFD; k < NMETHODS; k++) {
			struct target t;
			const char *why = t.why;
			long extra;

			if (!want[k])
				continue;
			if (setup(k, memfd, &t)) {
				const char *st = strncmp(why, "oom", 3) ? "skip" : "oom";

				printf("%6d  %-8s %14s %10s %9s  %s\n", n, names[k],
				       st, "", "", why);
				if (csv)
					fprintf(csv, "%zu,%d,%s,,%ld,,,%s\n", size / MiB,
						n, names[k], ctl.pt_kb, st);
				teardown(&t);
				continue;
			}
			extra = t.extra_kb;
			run(k, &t, n, &r);
			r.pt_kb += extra - ctl.pt_kb;
			if (k == MEMFD && !strcmp(r.status, "ok"))
				base_kb = r.pt_kb;
			printf("%6d  %-8s %14ld %10ld %9.2f  %s%s%s", n, names[k],
			       r.pt_kb, r.faults, r.wall, r.status,
			       *why ? "; " : "", why);
			if (k == MSHARE)
				printf("; the region's own tables %ld kB", extra);
			if (base_kb > 0 && k != MEMFD && r.pt_kb > 0)
				printf("; memfd/this %.1fx", (double)base_kb / r.pt_kb);
			printf("\n");
			if (csv)
				fprintf(csv, "%zu,%d,%s,%ld,%ld,%ld,%.3f,%s\n",
					size / MiB, n, names[k], r.pt_kb, ctl.pt_kb,
					r.faults, r.wall, r.status);
			teardown(&t);
		}
		printf("%6d  %-8s %14ld  (S/512 + 8 bytes per GiB per process)\n",
		       n, "limit", limit_kb);
		if (csv) {
			fprintf(csv, "%zu,%d,limit,%ld,%ld,,,computed\n",
				size / MiB, n, limit_kb, ctl.pt_kb);
			fflush(csv);
		}
		fflush(stdout);
	}
	printf("(PageTables growth while all N hold, less a control run of N processes that\n"
	       " map nothing; mshare includes the region's own tables, paid once)\n");
	return 0;
usage:
	fprintf(stderr, "usage: %s [-s SIZE_MIB] [-m memfd,thp,hugetlb,ext4,mshare] [-P]\n"
		"       [-e EXT4_DIR] [-H HUGETLB_DIR] [-c CSV] N...\n", argv[0]);
	return 2;
}

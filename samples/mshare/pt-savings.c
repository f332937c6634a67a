// SPDX-License-Identifier: GPL-2.0
/*
 * pt-savings: what N processes pay in page tables to read the same memory,
 * with an ordinary MAP_SHARED memfd and with an mshare region, side by side.
 *
 *	pt-savings [-s SIZE_MIB] N...
 *
 * For each N, N child processes map SIZE MiB (default 256) that the parent
 * has populated, read every page and wait; the parent reads PageTables from
 * /proc/meminfo while they wait, less a control run of N children that map
 * nothing.  Prints one line per N and method, and the saving.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mshare.h>

#define MiB (1UL << 20)

enum method { CONTROL, MEMFD, MSHARE };

static long meminfo_kb(const char *field)
{
	size_t len = strlen(field);
	char line[256];
	long val = -1;
	FILE *f;
	int fd;

	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			perror("stat_refresh");
		close(fd);
	}
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			val = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return val;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* A child: map (per method), read every page, report faults, wait. */
static void child(enum method m, int fd, size_t size, int ready, int go)
{
	volatile char *p = NULL;
	struct rusage ru0, ru1;
	unsigned long sum = 0;
	long faults;
	char c;

	if (m == MEMFD)
		p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	else if (m == MSHARE)
		p = mmap(NULL, MSHARE_ALIGN, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(2);
	getrusage(RUSAGE_SELF, &ru0);
	if (p)
		for (size_t off = 0; off < size; off += 4096)
			sum += p[off];
	getrusage(RUSAGE_SELF, &ru1);
	(void)sum;
	faults = ru1.ru_minflt - ru0.ru_minflt;
	if (write(ready, &faults, sizeof(faults)) != sizeof(faults))
		_exit(3);
	while (read(go, &c, 1) > 0)
		;
	_exit(0);
}

/* Run n children; returns PageTables growth in kB, *faults per child. */
static long run(enum method m, int fd, size_t size, int n, long *faults)
{
	int ready[2], go[2], status, bad = 0;
	long before, during, f, total = 0;

	if (pipe(ready) || pipe(go))
		die("pipe");
	before = meminfo_kb("PageTables");
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			close(ready[0]);
			close(go[1]);
			child(m, fd, size, ready[1], go[0]);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < n; i++) {
		if (read(ready[0], &f, sizeof(f)) != sizeof(f))
			die("a child failed");
		total += f;
	}
	during = meminfo_kb("PageTables");
	close(go[1]);
	close(ready[0]);
	while (wait(&status) > 0)
		bad += !WIFEXITED(status) || WEXITSTATUS(status);
	if (bad)
		die("children");
	*faults = total / n;
	return during - before;
}

int main(int argc, char **argv)
{
	size_t size = 256 * MiB;
	int opt, memfd, region;
	long pt0, region_pt;
	char *att;

	while ((opt = getopt(argc, argv, "s:")) != -1) {
		if (opt != 's')
			goto usage;
		size = strtoul(optarg, NULL, 0) * MiB;
	}
	if (optind >= argc || !size || size > MSHARE_ALIGN)
		goto usage;

	/* The memory, populated once, without mapping it here. */
	memfd = memfd_create("pt-savings", 0);
	if (memfd < 0 || fallocate(memfd, 0, 0, size))
		die("memfd");
	/* The same memory in a region: mapped inside, populated there. */
	pt0 = meminfo_kb("PageTables");
	region = syscall(__NR_mshare_create, MSHARE_ALIGN, 0);
	if (region < 0)
		die("mshare_create");
	att = mmap(NULL, MSHARE_ALIGN, PROT_READ | PROT_WRITE, MAP_SHARED,
		   region, 0);
	if (att == MAP_FAILED)
		die("attach");
	if (mmap(att, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED | MAP_POPULATE, memfd, 0) == MAP_FAILED)
		die("map inside");
	munmap(att, MSHARE_ALIGN);	/* the parent keeps only the fd */
	region_pt = meminfo_kb("PageTables") - pt0;

	printf("%zu MiB of shared memory read by N processes (4 KiB pages)\n",
	       size / MiB);
	printf("%6s  %14s %10s  %14s %10s  %12s %8s\n", "N",
	       "memfd PT kB", "faults/p", "mshare PT kB", "faults/p",
	       "PT saved kB", "ratio");
	for (int i = optind; i < argc; i++) {
		int n = atoi(argv[i]);
		long ctl, mf, ms, ff, fs, fc;

		if (n <= 0)
			goto usage;
		ctl = run(CONTROL, -1, size, n, &fc);
		mf = run(MEMFD, memfd, size, n, &ff) - ctl;
		ms = run(MSHARE, region, size, n, &fs) - ctl;
		printf("%6d  %14ld %10ld  %14ld %10ld  %12ld %7.0fx\n", n, mf,
		       ff, ms, fs, mf - ms,
		       ms > 0 ? (double)mf / ms : (double)mf / 4);
	}
	printf("The region's own page tables, paid once for all: %ld kB.\n",
	       region_pt);
	printf("(ratio: memfd page tables over mshare's; where mshare's growth is\n"
	       " below measure, it is taken as one 4 kB page)\n");
	return 0;
usage:
	fprintf(stderr, "usage: %s [-s SIZE_MIB (<= 1024)] N...\n", argv[0]);
	return 2;
}

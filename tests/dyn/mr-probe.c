// SPDX-License-Identifier: GPL-2.0
/*
 * mr-probe: an ordinary, dynamically linked program with shared memory,
 * for tests/mshare_run.sh to run with and without mshare-run(1).  It does
 * what programs do with shared memory and prints what it saw as
 * "key=value" lines; the test script decides what is right.  Exit status
 * 0 unless the program's own expectations (data shared with its children,
 * the children all well) fail.
 *
 *   mr-probe mmap SIZE [hugetlb|sparse]  shared anonymous memory: map,
 *                                    fill (sparse: a word every 64 MiB,
 *                                    no populating), share with a child,
 *                                    munmap
 *   mr-probe partial SIZE            munmap of the second half only
 *   mr-probe sysv SIZE [hugetlb]     System V: shmget by key, EEXIST,
 *                                    lookup, shmat twice, IPC_STAT,
 *                                    SHM_RDONLY, shmdt, IPC_RMID
 *   mr-probe hold SIZE FILE [N]      N mappings of SIZE (default 1), filled;
 *                                    "ready", then wait until FILE exists,
 *                                    munmap and exit
 *   mr-probe forks N SIZE [native]   fill SIZE, fork N children that read
 *                                    all of it and wait; PageTables growth
 *                                    and the children's minor faults.
 *                                    native: the region by libmshare's API
 *
 * SIZE takes K, M, G suffixes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <mshare.h>
#include "util.h"

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define ALIGN_1G	(1UL << 30)

static int failed;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		printf("# FAILED: %s: ", #cond); \
		printf(__VA_ARGS__); \
		printf("\n"); \
		failed = 1; \
	} \
} while (0)

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'G': case 'g': v <<= 10;	/* fall through */
	case 'M': case 'm': v <<= 10;	/* fall through */
	case 'K': case 'k': v <<= 10;
	}
	return (size_t)v;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "ok";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EIDRM: return "EIDRM";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOSPC: return "ENOSPC";
	default: return strerror(e);
	}
}

/*
 * The /proc/self/maps line of the VMA holding @p: its path (after the
 * inode), "" if none, "-" if @p is not mapped.  mshare=1 if the VMA is an
 * attachment (named in msharefs or "/mshare (deleted)").
 */
static void where(const char *tag, const void *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s, e, a = (unsigned long)p;
	char line[512], path[512];
	int found = 0;

	snprintf(path, sizeof(path), "-");
	while (f && fgets(line, sizeof(line), f)) {
		int n = 0;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &s, &e, &n) < 2 || a < s || a >= e)
			continue;
		found = 1;
		snprintf(path, sizeof(path), "%s", n ? line + n : "");
		path[strcspn(path, "\n")] = 0;
		printf("%s_vma=%#lx-%#lx\n", tag, s, e);
	}
	if (f)
		fclose(f);
	printf("%s_path=%s\n", tag, path);
	printf("%s_mapped=%d\n", tag, found);
	printf("%s_mshare=%d\n", tag, found && (!strncmp(path, "/sys/fs/mshare/", 15) ||
					       !strncmp(path, "/mshare", 7)));
}

static uint64_t pat(uint64_t tag, size_t i)
{
	return (tag << 40) ^ i;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * Populate [p, p + len) in one call (under TCG a fault per page is costly;
 * best effort: a kernel without it faults below).
 */
static void populate(char *p, size_t len)
{
	madvise(p, len, MADV_POPULATE_WRITE);
}

/* The pattern in the first word of every @step bytes, after populating. */
static void fill(char *p, size_t len, size_t step, uint64_t tag)
{
	if (step < (64UL << 20))
		populate(p, len);
	for (size_t off = 0; off < len; off += step)
		*(volatile uint64_t *)(p + off) = pat(tag, off / step);
}

static long check(const char *p, size_t len, size_t step, uint64_t tag)
{
	for (size_t off = 0; off < len; off += step)
		if (*(volatile const uint64_t *)(p + off) != pat(tag, off / step))
			return (long)off;
	return -1;
}

/* A child writes @tag into the page at @off of @p; the parent waits. */
static int child_writes(char *p, size_t off, uint64_t tag)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		*(volatile uint64_t *)(p + off) = tag;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

/* Patterns every 64 KiB: every page is populated, and checked where written */
#define STEP	(64UL << 10)

static int do_mmap(size_t size, int huge, int sparse)
{
	size_t step = huge ? HPAGE : sparse ? (64UL << 20) : STEP;
	long hfree = meminfo_kb("HugePages_Free");
	int flags = MAP_SHARED | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0);
	char *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	printf("mmap=%s\n", p == MAP_FAILED ? errname(errno) : "ok");
	if (p == MAP_FAILED)
		return 0;
	printf("aligned=%d\n", !((uintptr_t)p % ALIGN_1G));
	where("map", p);
	fill(p, size, step, 0xa1);
	if (huge)
		printf("hugepages_used=%ld\n", hfree - meminfo_kb("HugePages_Free"));
	CHECK(check(p, size, step, 0xa1) == -1, "pattern");
	/* MAP_SHARED: a child's write is the parent's */
	CHECK(!child_writes(p, size - step, 0xc0ffee), "child");
	printf("shared=%d\n", *(volatile uint64_t *)(p + size - step) == 0xc0ffee);
	errno = 0;
	printf("munmap=%s\n", errname(munmap(p, size) ? errno : 0));
	where("after", p);
	return 0;
}

static int do_partial(size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("mmap=%s\n", errname(errno));
		return 1;
	}
	where("map", p);
	p[0] = 1;
	printf("partial_munmap=%s\n", errname(munmap(p + size / 2, size / 2) ? errno : 0));
	/* the first half is still there either way */
	printf("first_half=%d\n", p[0] == 1);
	printf("munmap=%s\n", errname(munmap(p, size / 2) ? errno : 0));
	return 0;
}

static int do_sysv(size_t size, int huge)
{
	key_t key = 0x6d720000 | (getpid() & 0xffff);
	int fl = 0600 | (huge ? SHM_HUGETLB : 0), id, id2;
	struct shmid_ds ds;
	char *p, *q;
	pid_t pid;
	int st;

	id = shmget(key, size, IPC_CREAT | IPC_EXCL | fl);
	printf("shmget=%s\n", id < 0 ? errname(errno) : "ok");
	if (id < 0)
		return 0;
	id2 = shmget(key, size, IPC_CREAT | IPC_EXCL | fl);
	printf("excl=%s\n", id2 < 0 ? errname(errno) : "ok");
	id2 = shmget(key, size, 0600);
	printf("lookup_same=%d\n", id2 == id);
	id2 = shmget(key, 0, 0);
	printf("lookup0_same=%d\n", id2 == id);
	id2 = shmget(key, size + (huge ? HPAGE : PAGE), 0600);
	printf("bigger=%s\n", id2 < 0 ? errname(errno) : "ok");

	p = shmat(id, NULL, 0);
	printf("shmat=%s\n", p == (void *)-1 ? errname(errno) : "ok");
	if (p == (void *)-1)
		goto rmid;
	printf("aligned=%d\n", !((uintptr_t)p % ALIGN_1G));
	where("shm", p);
	fill(p, size, huge ? HPAGE : STEP, 0x5a);
	CHECK(!shmctl(id, IPC_STAT, &ds), "IPC_STAT");
	printf("segsz=%zu\n", (size_t)ds.shm_segsz);
	printf("nattch=%lu\n", (unsigned long)ds.shm_nattch);

	/* a child attaches it once more (an inherited attachment and a new one) */
	pid = fork();
	if (pid == 0) {
		char *c = shmat(id, NULL, 0);
		struct shmid_ds cds;

		if (c == (void *)-1 || c == p)
			_exit(2);
		if (check(c, size, huge ? HPAGE : STEP, 0x5a) != -1)
			_exit(3);
		*(volatile uint64_t *)(c + PAGE * 3) = 0xfeed;
		if (shmctl(id, IPC_STAT, &cds) || cds.shm_nattch != 3)
			_exit(4);
		if (shmdt(c))
			_exit(5);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st),
	      "child: status %#x", st);
	printf("shared=%d\n", *(volatile uint64_t *)(p + PAGE * 3) == 0xfeed);
	CHECK(!shmctl(id, IPC_STAT, &ds), "IPC_STAT");
	printf("nattch_after_child=%lu\n", (unsigned long)ds.shm_nattch);

	q = shmat(id, NULL, SHM_RDONLY);
	printf("rdonly=%s\n", q == (void *)-1 ? errname(errno) : "ok");
	if (q != (void *)-1) {
		printf("rdonly_reads=%d\n", *(volatile uint64_t *)(q + PAGE * 3) == 0xfeed);
		printf("rdonly_shmdt=%s\n", errname(shmdt(q) ? errno : 0));
	}
	printf("shmdt=%s\n", errname(shmdt(p) ? errno : 0));
	where("after", p);
	CHECK(!shmctl(id, IPC_STAT, &ds), "IPC_STAT");
	printf("nattch_end=%lu\n", (unsigned long)ds.shm_nattch);
rmid:
	printf("rmid=%s\n", errname(shmctl(id, IPC_RMID, NULL) ? errno : 0));
	p = shmat(id, NULL, 0);
	printf("after_rmid=%s\n", p == (void *)-1 ? errname(errno) : "ok");
	return 0;
}

static int do_hold(size_t size, const char *file, int n)
{
	char *p[16];
	struct stat st;

	if (n < 1 || n > 16)
		return 2;
	for (int i = 0; i < n; i++) {
		char tag[16];

		p[i] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		CHECK(p[i] != MAP_FAILED, "mmap %d: %s", i, strerror(errno));
		if (p[i] == MAP_FAILED)
			return 1;
		snprintf(tag, sizeof(tag), "map%d", i);
		where(tag, p[i]);
		fill(p[i], size, STEP, 0x40 + i);
	}
	printf("ready\n");
	while (stat(file, &st))
		usleep(100000);
	for (int i = 0; i < n; i++)
		CHECK(!munmap(p[i], size), "munmap %d: %s", i, strerror(errno));
	return 0;
}

/* The first word of every page of [p, p + len), summed (children read). */
static uint64_t sum_pages(const char *p, size_t len)
{
	uint64_t s = 0;

	for (size_t off = 0; off < len; off += PAGE)
		s += *(volatile const uint64_t *)(p + off);
	return s;
}

static int do_forks(int n, size_t size, int native)
{
	struct barrier b;
	long pt0, pt1;
	uint64_t want = 0;
	long *flt;
	char *p;
	int bad;

	if (native) {
		int fd = mshare_create((size + ALIGN_1G - 1) & ~(ALIGN_1G - 1), 0), ret;
		void *base;

		CHECK(fd >= 0, "mshare_create: %s", strerror(-fd));
		if (fd < 0)
			return 1;
		ret = mshare_attach(fd, NULL, PROT_READ | PROT_WRITE, &base);
		CHECK(!ret, "mshare_attach: %s", strerror(-ret));
		if (ret)
			return 1;
		ret = mshare_map_at(base, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED, -1, 0);
		CHECK(!ret, "mshare_map_at: %s", strerror(-ret));
		if (ret)
			return 1;
		close(fd);
		p = base;
	} else {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
		if (p == MAP_FAILED)
			return 1;
	}
	where("map", p);
	/* per-child minor faults, in memory too small for mshare-run */
	flt = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(flt != MAP_FAILED, "mmap");
	populate(p, size);
	for (size_t off = 0; off < size; off += PAGE) {
		*(volatile uint64_t *)(p + off) = off / PAGE;
		want += off / PAGE;
	}
	CHECK(!barrier_init(&b), "barrier");
	pt0 = meminfo_kb("PageTables");
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			CHECK(0, "fork %d: %s", i, strerror(errno));
			n = i;
			break;
		}
		if (pid == 0) {
			long f0 = minflt_self();

			if (sum_pages(p, size) != want)
				_exit(3);
			flt[i] = minflt_self() - f0;
			barrier_child_wait(&b);
			_exit(0);
		}
	}
	CHECK(!barrier_parent_wait(&b, n), "children did not all get ready");
	pt1 = meminfo_kb("PageTables");
	barrier_release(&b);
	bad = reap_children();
	CHECK(!bad, "%d children failed", bad);
	printf("children=%d\n", n);
	printf("pt_before_kb=%ld\npt_during_kb=%ld\n", pt0, pt1);
	printf("pt_growth_kb=%ld\n", pt1 - pt0);
	printf("pt_per_child_kb=%ld\n", n ? (pt1 - pt0) / n : 0);
	{
		long tot = 0;

		for (int i = 0; i < n; i++)
			tot += flt[i];
		printf("minflt_per_child=%ld\n", n ? tot / n : 0);
	}
	return 0;
}

int main(int argc, char *argv[])
{
	int ret = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "mmap"))
		ret = do_mmap(parse_size(argv[2]), argc > 3 && !strcmp(argv[3], "hugetlb"),
			      argc > 3 && !strcmp(argv[3], "sparse"));
	else if (argc >= 3 && !strcmp(argv[1], "partial"))
		ret = do_partial(parse_size(argv[2]));
	else if (argc >= 3 && !strcmp(argv[1], "sysv"))
		ret = do_sysv(parse_size(argv[2]), argc > 3 && !strcmp(argv[3], "hugetlb"));
	else if (argc >= 4 && !strcmp(argv[1], "hold"))
		ret = do_hold(parse_size(argv[2]), argv[3], argc > 4 ? atoi(argv[4]) : 1);
	else if (argc >= 4 && !strcmp(argv[1], "forks"))
		ret = do_forks(atoi(argv[2]), parse_size(argv[3]),
			       argc > 4 && !strcmp(argv[4], "native"));
	else
		fprintf(stderr, "usage: see the comment at the top of mr-probe.c\n");
	return ret ? ret : failed;
}

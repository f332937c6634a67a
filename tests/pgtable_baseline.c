// SPDX-License-Identifier: GPL-2.0
/*
 * The yardstick: what N processes mapping the same memory pay in page tables
 * on this kernel without mshare.
 *
 * N processes each map one 256 MiB memfd MAP_SHARED and touch every page;
 * PageTables growth, less a control run of N processes that map nothing,
 * must be N * 256 MiB / 512 (+-25%).
 *
 * The same for a 1 GiB hugetlbfs file of 2 MiB pages at a 1 GiB-aligned
 * address: unshared, that costs each process one 4 KiB PMD table; with
 * hugetlb PMD sharing one table serves all.  The total must stay within
 * N * 4 KiB plus slack, and the test reports which of the two it saw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "kselftest_harness.h"
#include "util.h"

#define MEMFD_SIZE	(256 * MiB)
#define HUGE_SIZE	(1 * GiB)
#define HUGE_ADDR	((void *)(64 * GiB))
#define PAGE		4096UL

enum kind { CONTROL, MEMFD, HUGETLB };

/* One child: map (unless CONTROL), read every page, report, wait. */
static void child(enum kind kind, int fd, struct barrier *b)
{
	volatile char *p = NULL;
	size_t size = kind == MEMFD ? MEMFD_SIZE : HUGE_SIZE;
	size_t step = kind == MEMFD ? PAGE : 2 * MiB;
	unsigned long sum = 0;

	if (kind == MEMFD)
		p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	else if (kind == HUGETLB)
		p = mmap(HUGE_ADDR, size, PROT_READ,
			 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	if (p == MAP_FAILED)
		_exit(3);
	if (p)
		for (size_t off = 0; off < size; off += step)
			sum += p[off];
	if (sum)	/* the files were filled with zeroes */
		_exit(4);
	barrier_child_wait(b);
	_exit(0);
}

/* PageTables growth in kB while n children of this kind wait. */
static long run(struct __test_metadata *_metadata, enum kind kind, int fd, int n)
{
	struct barrier b;
	long before, during;

	ASSERT_EQ(0, barrier_init(&b));
	before = meminfo_kb("PageTables");
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0)
			child(kind, fd, &b);
	}
	ASSERT_EQ(0, barrier_parent_wait(&b, n));
	during = meminfo_kb("PageTables");
	barrier_release(&b);
	EXPECT_EQ(0, reap_children());
	return during - before;
}

static void memfd_case(struct __test_metadata *_metadata, int n)
{
	long ctl, map, growth, want = n * (long)(MEMFD_SIZE / 512 / KiB);
	int fd = memfd_create("baseline", 0);

	ASSERT_GE(fd, 0);
	/* Populate without mapping it here: the parent pays no page tables. */
	ASSERT_EQ(0, fallocate(fd, 0, 0, MEMFD_SIZE));
	ctl = run(_metadata, CONTROL, fd, n);
	map = run(_metadata, MEMFD, fd, n);
	growth = map - ctl;
	TH_LOG("memfd 256 MiB x %d processes: PageTables +%ld kB (control +%ld kB), predicted %ld kB, %.2f of predicted",
	       n, growth, ctl, want, (double)growth / want);
	EXPECT_GE(growth, want * 3 / 4);
	EXPECT_LE(growth, want * 5 / 4);
	close(fd);
}

FIXTURE(pt) {};
FIXTURE_SETUP(pt) {}
FIXTURE_TEARDOWN(pt) {}

TEST_F_TIMEOUT(pt, memfd_1, 120) { memfd_case(_metadata, 1); }
TEST_F_TIMEOUT(pt, memfd_8, 300) { memfd_case(_metadata, 8); }
TEST_F_TIMEOUT(pt, memfd_32, 600) { memfd_case(_metadata, 32); }

static void hugetlb_case(struct __test_metadata *_metadata, int n)
{
	const char *path = "/dev/hugepages/pgtable_baseline";
	long ctl, map, free_before = meminfo_kb("HugePages_Free");
	int fd;

	if (free_before < (long)(HUGE_SIZE / (2 * MiB)))
		SKIP(return, "need %lu free 2 MiB huge pages, have %ld",
		     HUGE_SIZE / (2 * MiB), free_before);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	ASSERT_GE(fd, 0);
	unlink(path);
	ASSERT_EQ(0, fallocate(fd, 0, 0, HUGE_SIZE));
	ctl = run(_metadata, CONTROL, fd, n);
	map = run(_metadata, HUGETLB, fd, n);
	TH_LOG("hugetlb 1 GiB x %d processes: PageTables +%ld kB; unshared would be %d kB: PMD table %s",
	       n, map - ctl, n * 4,
	       n > 1 && map - ctl < n * 4 / 2 ? "SHARED" : "not shared");
	EXPECT_LE(map - ctl, n * 4 + 32);
	/* With a single mapper there is one table either way. */
	EXPECT_GE(map - ctl, 0);
	close(fd);
}

TEST_F_TIMEOUT(pt, hugetlb_1, 120) { hugetlb_case(_metadata, 1); }
TEST_F_TIMEOUT(pt, hugetlb_8, 120) { hugetlb_case(_metadata, 8); }
TEST_F_TIMEOUT(pt, hugetlb_32, 300) { hugetlb_case(_metadata, 32); }

TEST(guest_has_2_cpus)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	TH_LOG("online CPUs: %ld", n);
	ASSERT_GE(n, 2);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Minimal reproducers of kernel bugs that mshare_fuzz found, one test
 * each, kept as regression tests.
 *
 *  - hugetlb over a kept PTE table: a region keeps its PTE tables across
 *    munmap/mmap cycles inside it, so a 2 MiB hugetlb mapping made where
 *    4 KiB pages were mapped before finds a PTE table under its PMD
 *    entry; its first fault hit BUG_ON(pte_present && !pte_huge) in
 *    huge_pte_alloc() (mm/hugetlb.c), a kernel BUG (panic_on_oops) that
 *    any user with a region could trigger.  Found with
 *    mshare_fuzz --seed 0x1 --seconds 40.  Three ways to get there: munmap
 *    then mmap, mmap(MAP_FIXED) over the 4 KiB mapping, and
 *    MSHAREFS_CREATE_MAPPING of MAP_HUGETLB.
 *  - hugetlb over a kept PTE table, never faulted: hugetlb's lookup of a
 *    PMD entry (huge_pte_offset()) took the PMD entry that points to the
 *    kept PTE table for a 2 MiB page, so the first walk of the untouched
 *    hugetlb mapping by anything but a fault (munmap or region teardown,
 *    MADV_DONTNEED, mprotect) "unmapped" the PTE table's page as a huge
 *    page: kernel BUG in page_table_check (page_table_check.c:90) on the
 *    debug kernel, a page table freed as a hugetlb folio without it.
 *    Found by make check's fixed fuzz seed 0xf689101615c1c2cc in CI
 *    (worker killed, its exit dropped the last reference to a region).
 *  - the fd of an unnamed region (mshare_create()) reads its stats with
 *    read() once: pread() and lseek() gave ESPIPE (alloc_file_pseudo()
 *    sets no FMODE_LSEEK/FMODE_PREAD), unlike the fd of a named region,
 *    so a second look at the stats through the same open file (passed
 *    over SCM_RIGHTS, inherited) read nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/msharefs.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define HUGE		(2 * MiB)

/* Free 2 MiB huge pages (a count, not kB). */
static long free_huge_pages(void)
{
	return meminfo_kb("HugePages_Free");
}

/*
 * A region with a 4 KiB page faulted in at offset @off and unmapped
 * again: its PTE table stays.  Returns the attachment.
 */
static char *region_with_kept_pte_table(struct __test_metadata *_metadata,
					int *fd, size_t off, bool unmap)
{
	char *a;

	*fd = ms_must_create(_metadata, RGN);
	a = ms_must_attach(_metadata, *fd, RGN, NULL, RW);
	ms_must_map(_metadata, a + off, PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	*wordp(a + off, 0, 0) = 0x1234;
	if (unmap) {
		ASSERT_EQ(0, munmap(a + off, PG));
	}
	return a;
}

/* Write every huge page of [p, p + len), then read it back. */
static void touch_huge(struct __test_metadata *_metadata, char *p, size_t len)
{
	for (size_t o = 0; o < len; o += HUGE)
		*wordp(p, o, 0) = pat(7, o / HUGE);
	for (size_t o = 0; o < len; o += HUGE)
		ASSERT_EQ(pat(7, o / HUGE), *wordp(p, o, 0));
}

FIXTURE(regress) {};
FIXTURE_SETUP(regress)
{
	if (free_huge_pages() < 2)
		SKIP(return, "needs 2 free huge pages (vm.nr_hugepages)");
}
FIXTURE_TEARDOWN(regress) {}

TEST_F(regress, hugetlb_after_munmap_over_kept_pte_table)
{
	int fd;
	char *a = region_with_kept_pte_table(_metadata, &fd, 0, true);

	ms_must_map(_metadata, a, HUGE, RW,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, -1);
	touch_huge(_metadata, a, HUGE);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

TEST_F(regress, hugetlb_map_fixed_over_pte_mapping)
{
	int fd;
	char *a = region_with_kept_pte_table(_metadata, &fd, 2 * HUGE, false);

	ms_must_map(_metadata, a + 2 * HUGE, HUGE, RW,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, -1);
	touch_huge(_metadata, a + 2 * HUGE, HUGE);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

TEST_F(regress, hugetlb_create_mapping_over_kept_pte_table)
{
	int fd;
	char *a = region_with_kept_pte_table(_metadata, &fd, 4 * HUGE, true);
	struct mshare_create mc = {
		.region_offset = 4 * HUGE, .size = HUGE, .prot = RW,
		.flags = MAP_SHARED | MAP_FIXED | MAP_HUGETLB, .fd = (uint32_t)-1,
	};

	ASSERT_EQ(0, ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc))
		TH_LOG("MSHAREFS_CREATE_MAPPING hugetlb: %s", strerror(errno));
	touch_huge(_metadata, a + 4 * HUGE, HUGE);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/*
 * A 2 MiB hugetlb mapping over a kept PTE table, never faulted, then one
 * operation that walks it; each of these hit the kernel BUG before.
 */
enum untouched_op { UT_TEARDOWN, UT_MUNMAP, UT_DONTNEED, UT_MPROTECT, UT_MLOCK };

static void hugetlb_untouched(struct __test_metadata *_metadata, enum untouched_op op)
{
	long free0 = free_huge_pages();
	int fd;
	char *a = region_with_kept_pte_table(_metadata, &fd, 6 * HUGE, true);

	ms_must_map(_metadata, a + 6 * HUGE, HUGE, RW,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, -1);
	switch (op) {
	case UT_TEARDOWN:
		break;
	case UT_MUNMAP:
		ASSERT_EQ(0, munmap(a + 6 * HUGE, HUGE));
		break;
	case UT_DONTNEED:
		ASSERT_EQ(0, madvise(a + 6 * HUGE, HUGE, MADV_DONTNEED));
		break;
	case UT_MPROTECT:
		ASSERT_EQ(0, mprotect(a + 6 * HUGE, HUGE, PROT_READ));
		ASSERT_EQ(0, mprotect(a + 6 * HUGE, HUGE, RW));
		break;
	case UT_MLOCK:
		ASSERT_EQ(0, mlock(a + 6 * HUGE, HUGE)) TH_LOG("mlock: %s", strerror(errno));
		ASSERT_EQ(0, munlock(a + 6 * HUGE, HUGE));
		break;
	}
	if (op != UT_TEARDOWN && op != UT_MUNMAP)
		/* The mapping still works, and was empty: a fault makes the page. */
		touch_huge(_metadata, a + 6 * HUGE, HUGE);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	/* The region is gone: its huge page (if one was made) is back. */
	EXPECT_EQ(free0, free_huge_pages());
}

TEST_F(regress, hugetlb_untouched_over_kept_pte_table_teardown)
{
	hugetlb_untouched(_metadata, UT_TEARDOWN);
}

TEST_F(regress, hugetlb_untouched_over_kept_pte_table_munmap)
{
	hugetlb_untouched(_metadata, UT_MUNMAP);
}

TEST_F(regress, hugetlb_untouched_over_kept_pte_table_dontneed)
{
	hugetlb_untouched(_metadata, UT_DONTNEED);
}

TEST_F(regress, hugetlb_untouched_over_kept_pte_table_mprotect)
{
	hugetlb_untouched(_metadata, UT_MPROTECT);
}

TEST_F(regress, hugetlb_untouched_over_kept_pte_table_mlock)
{
	hugetlb_untouched(_metadata, UT_MLOCK);
}

/* The stats of a region fd, read with pread() from offset 0, twice. */
static void pread_stats(struct __test_metadata *_metadata, int fd, const char *what)
{
	char a[4096], b[4096];
	ssize_t n;

	for (int i = 0; i < 2; i++) {
		char *buf = i ? b : a;

		n = pread(fd, buf, sizeof(a) - 1, 0);
		ASSERT_LT(0, n) TH_LOG("%s: pread #%d: %s", what, i + 1,
				       n ? strerror(errno) : "end of file");
		buf[n] = 0;
		ASSERT_EQ(0, strncmp(buf, "size: ", 6)) TH_LOG("%s: %.40s", what, buf);
	}
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET)) TH_LOG("%s: lseek: %s", what, strerror(errno));
	n = read(fd, a, sizeof(a) - 1);
	ASSERT_LT(0, n) TH_LOG("%s: read after lseek: %s", what, n ? strerror(errno) : "EOF");
}

TEST(unnamed_region_fd_pread_and_lseek)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "regress-%d", getpid());
	fd = msfs_create(name, RGN);
	ASSERT_LE(0, fd) TH_LOG("named region: %s", strerror(errno));
	msfs_unlink(name);
	pread_stats(_metadata, fd, "named region");
	close(fd);

	fd = ms_must_create(_metadata, RGN);
	pread_stats(_metadata, fd, "mshare_create() region");
	close(fd);
}

TEST_HARNESS_MAIN

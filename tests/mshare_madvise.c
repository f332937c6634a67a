// SPDX-License-Identifier: GPL-2.0
/*
 * madvise() of a whole attachment (issue 14).  Until then every advice on
 * a whole attachment gave EINVAL; now, as mlock() and msync() of a whole
 * attachment do, it acts on what the region maps there:
 *
 *  - region advice (MADV_NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTNEED,
 *    DONTNEED_LOCKED, FREE, REMOVE, COLD, PAGEOUT, HUGEPAGE, NOHUGEPAGE,
 *    POPULATE_READ, POPULATE_WRITE) acts on every mapping of the region
 *    under the attachment, for every sharer; the region's holes are
 *    skipped (no ENOMEM: the attachment has none).  Changing advice needs
 *    a writable attachment of a writable fd (EACCES); WILLNEED and
 *    POPULATE_READ do not;
 *  - advice about the attachment itself acts on the attachment VMA, for
 *    this process alone: MADV_DONTFORK (a child gets no attachment),
 *    MADV_DOFORK, MADV_DONTDUMP / MADV_DODUMP (VmFlags "dd"),
 *    MADV_KEEPONFORK (a no-op); MADV_WIPEONFORK gives EINVAL, as on any
 *    shared file mapping;
 *  - the rest (MERGEABLE, UNMERGEABLE, COLLAPSE, HWPOISON, SOFT_OFFLINE)
 *    gives EINVAL, and so does any advice over an attachment and more.
 *
 * Upstream mshare's selftest pages out a whole attachment and expects the
 * region's memory in swap: pageout_whole does that with swap on a ram
 * disk.  Every test here fails on the kernel before the change (EINVAL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/msharefs.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define SHARED_ANON	(MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
#define PRIVATE_ANON	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

static char swap_dev[32];

FIXTURE(madv) {
	int fd;
	char *att;
};

/*
 * A 1 GiB region attached read-write, with shared anonymous memory at
 * 0 (16 MiB), private anonymous memory at 64 MiB (8 MiB) and a hole
 * between and after, all written.
 */
#define SH_OFF	0
#define SH_LEN	(16 * MiB)
#define PR_OFF	(64 * MiB)
#define PR_LEN	(8 * MiB)

FIXTURE_SETUP(madv)
{
	self->fd = ms_must_create(_metadata, RGN);
	self->att = ms_must_attach(_metadata, self->fd, RGN, NULL, RW);
	ms_must_map(_metadata, self->att + SH_OFF, SH_LEN, RW, SHARED_ANON, -1);
	ms_must_map(_metadata, self->att + PR_OFF, PR_LEN, RW, PRIVATE_ANON, -1);
	fill_pat(self->att + SH_OFF, SH_LEN, PG, 0x51, 0);
	fill_pat(self->att + PR_OFF, PR_LEN, PG, 0x52, 0);
}

FIXTURE_TEARDOWN(madv)
{
	munmap(self->att, RGN);
	close(self->fd);
}

/* MADV_PAGEOUT of the whole attachment puts the region's memory in swap. */
TEST_F_TIMEOUT(madv, pageout_whole, 300)
{
	struct mshare_stat st0, st1;
	long swap0, swap1, res;
	int err;

	if (!swap_dev[0]) {
		err = ramdisk_swapon(swap_dev, sizeof(swap_dev));
		ASSERT_EQ(0, err) TH_LOG("swap on a ram disk: %s", strerror(-err));
	}
	ms_must_stat(_metadata, self->fd, &st0);
	swap0 = meminfo_kb("SwapFree");
	ASSERT_EQ(0, madvise(self->att, RGN, MADV_PAGEOUT)) TH_LOG("PAGEOUT: %s", strerror(errno));
	ms_must_stat(_metadata, self->fd, &st1);
	swap1 = meminfo_kb("SwapFree");
	res = ms_mincore_pages(self->att, 128 * MiB);
	TH_LOG("region resident %llu -> %llu kB, SwapFree %ld -> %ld kB, mincore %ld pages",
	       (unsigned long long)st0.resident >> 10, (unsigned long long)st1.resident >> 10,
	       swap0, swap1, res);
	/* Most of it went out (a page may be busy at the time). */
	EXPECT_LE(st1.resident, st0.resident / 4);
	EXPECT_GE(swap0 - swap1, (long)((SH_LEN + PR_LEN) * 3 / 4 / KiB));
	EXPECT_LE(res, (long)((SH_LEN + PR_LEN) / PG / 4));
	/* And comes back intact, through this attachment and another. */
	char *b = ms_must_attach(_metadata, self->fd, RGN, NULL, PROT_READ);

	EXPECT_EQ(-1, check_pat(b + SH_OFF, SH_LEN, PG, 0x51, 0));
	EXPECT_EQ(-1, check_pat(b + PR_OFF, PR_LEN, PG, 0x52, 0));
	EXPECT_EQ(-1, check_pat(self->att + SH_OFF, SH_LEN, PG, 0x51, 0));
	EXPECT_EQ(0, munmap(b, RGN));
	swapoff(swap_dev);
	swap_dev[0] = 0;
}

/* MADV_COLD of the whole attachment: accepted, nothing lost. */
TEST_F(madv, cold_whole)
{
	EXPECT_EQ(0, madvise(self->att, RGN, MADV_COLD)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-1, check_pat(self->att + SH_OFF, SH_LEN, PG, 0x51, 0));
	EXPECT_EQ(-1, check_pat(self->att + PR_OFF, PR_LEN, PG, 0x52, 0));
}

/*
 * MADV_DONTNEED of the whole attachment drops the region's pages for every
 * sharer: private anonymous memory reads zero, shared memory keeps its
 * contents (as for shmem anywhere); a child attached since fork sees both.
 */
TEST_F(madv, dontneed_whole)
{
	struct mshare_stat st;
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		CHILD_CHECK(sock_recv(sv[1]) == 'g');
		CHILD_CHECK(check_zero(self->att + PR_OFF, PR_LEN, PG, 0) == -1);
		CHILD_CHECK(check_pat(self->att + SH_OFF, SH_LEN, PG, 0x51, 0) == -1);
		_exit(0);
	}
	close(sv[1]);
	ASSERT_EQ(0, madvise(self->att, RGN, MADV_DONTNEED)) TH_LOG("%s", strerror(errno));
	ms_must_stat(_metadata, self->fd, &st);
	EXPECT_LE(st.resident, SH_LEN + 64 * KiB);
	EXPECT_EQ(-1, check_zero(self->att + PR_OFF, PR_LEN, PG, 0));
	EXPECT_EQ(-1, check_pat(self->att + SH_OFF, SH_LEN, PG, 0x51, 0));
	EXPECT_EQ(0, sock_send(sv[0], 'g'));
	EXPECT_TRUE(child_ok(pid, "sharer"));
	close(sv[0]);
}

/*
 * MADV_POPULATE_WRITE / READ and WILLNEED of the whole attachment populate
 * every mapping of the region and skip its holes (no ENOMEM).
 */
TEST_F(madv, populate_whole_skips_holes)
{
	struct mshare_stat st;
	char *ro;

	/* Fresh, unpopulated memory beyond the written mappings. */
	ms_must_map(_metadata, self->att + 256 * MiB, 4 * MiB, RW, SHARED_ANON, -1);
	ms_must_map(_metadata, self->att + 512 * MiB, 4 * MiB, RW, PRIVATE_ANON, -1);
	EXPECT_EQ(0, ms_mincore_pages(self->att + 256 * MiB, 4 * MiB));
	EXPECT_EQ(0, madvise(self->att, RGN, MADV_POPULATE_WRITE)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ((long)(4 * MiB / PG), ms_mincore_pages(self->att + 256 * MiB, 4 * MiB));
	EXPECT_EQ((long)(4 * MiB / PG), ms_mincore_pages(self->att + 512 * MiB, 4 * MiB));
	ms_must_stat(_metadata, self->fd, &st);
	EXPECT_GE(st.resident, SH_LEN + PR_LEN + 8 * MiB);
	EXPECT_EQ(0, madvise(self->att, RGN, MADV_POPULATE_READ)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, madvise(self->att, RGN, MADV_WILLNEED)) TH_LOG("%s", strerror(errno));

	/* Hints from a read-only attachment: allowed; changes: EACCES. */
	ro = ms_must_attach(_metadata, self->fd, RGN, NULL, PROT_READ);
	EXPECT_EQ(0, madvise(ro, RGN, MADV_WILLNEED));
	EXPECT_EQ(0, madvise(ro, RGN, MADV_POPULATE_READ));
	MS_EXPECT_ERRNO(EACCES, madvise(ro, RGN, MADV_DONTNEED));
	MS_EXPECT_ERRNO(EACCES, madvise(ro, RGN, MADV_POPULATE_WRITE));
	MS_EXPECT_ERRNO(EACCES, madvise(ro, RGN, MADV_PAGEOUT));
	EXPECT_EQ(-1, check_pat(self->att + PR_OFF, PR_LEN, PG, 0x52, 0));
	EXPECT_EQ(0, munmap(ro, RGN));
}

/* Access-pattern and THP advice: the region takes them. */
TEST_F(madv, hints_whole)
{
	static const int advice[] = {
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_HUGEPAGE,
		MADV_NOHUGEPAGE, MADV_NORMAL,
	};

	for (size_t i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		EXPECT_EQ(0, madvise(self->att, RGN, advice[i]))
			TH_LOG("advice %d: %s", advice[i], strerror(errno));
	}
	EXPECT_EQ(-1, check_pat(self->att + SH_OFF, SH_LEN, PG, 0x51, 0));
	EXPECT_EQ(-1, check_pat(self->att + PR_OFF, PR_LEN, PG, 0x52, 0));
}

/* MADV_FREE and MADV_REMOVE: as inside, on every mapping. */
TEST_F(madv, free_and_remove_whole)
{
	/* FREE: private anonymous pages may go; shared memory refuses it. */
	errno = 0;
	EXPECT_EQ(-1, madvise(self->att, RGN, MADV_FREE));
	EXPECT_EQ(EINVAL, errno);	/* the shared mapping comes first */
	/* REMOVE punches holes in shared memory; the private one refuses. */
	MS_EXPECT_ERRNO(EINVAL, madvise(self->att, RGN, MADV_REMOVE));
	EXPECT_EQ(-1, check_zero(self->att + SH_OFF, SH_LEN, PG, 0));
}

/*
 * MADV_DONTFORK of the whole attachment: a child gets no attachment (and
 * the region no sharer); MADV_DOFORK gives it back.
 */
TEST_F(madv, dontfork_whole)
{
	struct mshare_stat st;
	pid_t pid;

	ASSERT_EQ(0, madvise(self->att, RGN, MADV_DONTFORK)) TH_LOG("%s", strerror(errno));
	EXPECT_TRUE(smaps_vmflag(self->att, "dc"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct mshare_stat cst;

		CHILD_CHECK(maps_count((unsigned long)self->att,
				       (unsigned long)self->att + RGN) == 0);
		CHILD_CHECK(!probe(self->att, false));
		memset(&cst, 0, sizeof(cst));
		CHILD_CHECK(ioctl(self->fd, MSHAREFS_GET_STAT, &cst) == 0);
		CHILD_CHECK(cst.attachments == 1);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "DONTFORK child"));

	ASSERT_EQ(0, madvise(self->att, RGN, MADV_DOFORK)) TH_LOG("%s", strerror(errno));
	EXPECT_FALSE(smaps_vmflag(self->att, "dc"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct mshare_stat cst;

		CHILD_CHECK(check_pat(self->att + PR_OFF, PR_LEN, PG, 0x52, 0) == -1);
		memset(&cst, 0, sizeof(cst));
		CHILD_CHECK(ioctl(self->fd, MSHAREFS_GET_STAT, &cst) == 0);
		CHILD_CHECK(cst.attachments == 2);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "DOFORK child"));
	ms_must_stat(_metadata, self->fd, &st);
	EXPECT_EQ(1, st.attachments);
}

/*
 * MADV_DONTDUMP / MADV_DODUMP of the whole attachment: the attachment's
 * own flag (VmFlags "dd"), in this process only; WIPEONFORK is refused as
 * on any shared mapping, KEEPONFORK is a no-op.
 */
TEST_F(madv, dump_and_wipe_whole)
{
	char *b = ms_must_attach(_metadata, self->fd, RGN, NULL, RW);

	EXPECT_FALSE(smaps_vmflag(self->att, "dd"));
	ASSERT_EQ(0, madvise(self->att, RGN, MADV_DONTDUMP)) TH_LOG("%s", strerror(errno));
	EXPECT_TRUE(smaps_vmflag(self->att, "dd"));
	EXPECT_FALSE(smaps_vmflag(b, "dd"));	/* the other attachment: not */
	ASSERT_EQ(0, madvise(self->att, RGN, MADV_DODUMP)) TH_LOG("%s", strerror(errno));
	EXPECT_FALSE(smaps_vmflag(self->att, "dd"));

	MS_EXPECT_ERRNO(EINVAL, madvise(self->att, RGN, MADV_WIPEONFORK));
	EXPECT_FALSE(smaps_vmflag(self->att, "wf"));
	EXPECT_EQ(0, madvise(self->att, RGN, MADV_KEEPONFORK));
	/* Per-process advice strictly inside cannot split the attachment. */
	MS_EXPECT_ERRNO(EINVAL, madvise(self->att + 4 * MiB, MiB, MADV_DONTFORK));
	MS_EXPECT_ERRNO(EINVAL, madvise(self->att + 4 * MiB, MiB, MADV_WIPEONFORK));
	EXPECT_EQ(0, munmap(b, RGN));
}

/*
 * Advice a region does not take, on the whole attachment, and any advice
 * over the attachment and more: EINVAL, and nothing changes.
 */
TEST_F(madv, refused_whole)
{
	static const int refused[] = {
		MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_COLLAPSE, MADV_HWPOISON,
		MADV_SOFT_OFFLINE,
	};
	struct mshare_stat st0, st1;
	char *around;

	ms_must_stat(_metadata, self->fd, &st0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		MS_EXPECT_ERRNO(EINVAL, madvise(self->att, RGN, refused[i]));
	/* Ordinary memory just after the attachment, if that is free. */
	around = mmap(self->att + RGN, 2 * MiB, RW,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (around != MAP_FAILED) {
		fill_pat(around, 2 * MiB, PG, 0x53, 0);
		MS_EXPECT_ERRNO(EINVAL, madvise(self->att, RGN + 2 * MiB, MADV_DONTNEED));
		MS_EXPECT_ERRNO(EINVAL, madvise(self->att, RGN + 2 * MiB, MADV_DONTFORK));
		EXPECT_EQ(-1, check_pat(around, 2 * MiB, PG, 0x53, 0));
		munmap(around, 2 * MiB);
	}
	ms_must_stat(_metadata, self->fd, &st1);
	EXPECT_EQ(st0.resident, st1.resident);
	EXPECT_EQ(-1, check_pat(self->att + PR_OFF, PR_LEN, PG, 0x52, 0));
}

TEST_HARNESS_MAIN

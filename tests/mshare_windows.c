// SPDX-License-Identifier: GPL-2.0
/*
 * Partial attach windows (issue 14): mmap(addr, len, prot, MAP_SHARED, fd,
 * off) with off and len multiples of the alignment (1 GiB) attaches
 * [off, off + len) of the region.  Until then any offset, and any length
 * but the region's, gave EINVAL; every test here but window_refusals fails
 * on that kernel.
 *
 *  - refusals: misaligned offset or length, an offset at or past the size,
 *    a window reaching past the end, offsets that would wrap: EINVAL, and
 *    nothing left behind;
 *  - a window maps its part of the region: what another attachment wrote
 *    there, and writes, mappings made, unmapped and protected inside it,
 *    land at the region offsets of the window; /proc/PID/maps shows the
 *    offset;
 *  - two processes with different, overlapping windows see each other's
 *    writes;
 *  - fork() of a window: the child's copy is the same window, and is a
 *    sharer until it exits;
 *  - whole-window operations act on the window's part of the region only:
 *    madvise(MADV_DONTNEED), mlock() (ENOMEM only for a hole in the
 *    window), msync();
 *  - GUP through a window (/proc/self/mem, process_vm_readv()), mincore()
 *    and smaps see the window's part;
 *  - stats: attachments, processes and pids count a window;
 *    pgtable_saved counts each GiB once per attachment that maps it;
 *    RssMshare counts a window's share of the region;
 *  - TLB flushes reach a window's sharer at its own addresses: a sharer
 *    that keeps reading a page through a window sees it replaced; and
 *    only the sharers whose window maps the range (TLB/CAL interrupts of
 *    a sharer's CPU);
 *  - page tables do not grow per sharer of a window;
 *  - munmap() of the whole window detaches; of a part, unmaps the region
 *    there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/msharefs.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define SHARED_ANON	(MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
#define PRIVATE_ANON	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
#define NGIB		3	/* the region: 3 GiB */
#define MEM		(8 * MiB)	/* written at the start of each GiB */

FIXTURE(win) {
	int fd;
	char *all;	/* the whole region, attached */
};

/*
 * A 3 GiB region, attached whole, with MEM of shared anonymous memory at
 * the start of every GiB, written with tag 0x60 + GiB.
 */
FIXTURE_SETUP(win)
{
	self->fd = ms_must_create(_metadata, NGIB * RGN);
	self->all = ms_must_attach(_metadata, self->fd, NGIB * RGN, NULL, RW);
	for (int g = 0; g < NGIB; g++) {
		ms_must_map(_metadata, self->all + g * RGN, MEM, RW, SHARED_ANON, -1);
		fill_pat(self->all + g * RGN, MEM, PG, 0x60 + g, 0);
	}
}

FIXTURE_TEARDOWN(win)
{
	if (self->all)
		munmap(self->all, NGIB * RGN);
	close(self->fd);
}

TEST_F(win, window_refusals)
{
	static const struct { off_t off; size_t len; int flags, err; } bad[] = {
		{ PG, RGN, MAP_SHARED, EINVAL },		/* misaligned offset */
		{ RGN / 2, RGN, MAP_SHARED, EINVAL },
		{ 0, RGN / 2, MAP_SHARED, EINVAL },		/* misaligned length */
		{ RGN, RGN + PG, MAP_SHARED, EINVAL },
		{ NGIB * RGN, RGN, MAP_SHARED, EINVAL },	/* at the end */
		{ 4 * RGN, RGN, MAP_SHARED, EINVAL },		/* past it */
		{ 2 * RGN, 2 * RGN, MAP_SHARED, EINVAL },	/* reaching past it */
		{ 0, (NGIB + 1) * RGN, MAP_SHARED, EINVAL },
		{ (off_t)1 << 62, RGN, MAP_SHARED, EINVAL },	/* far past it */
		{ ((off_t)1 << 62) - RGN, 2 * RGN, MAP_SHARED, EINVAL },
		/*
		 * An offset whose end would wrap is 2^63 or more, beyond any
		 * file's size: do_mmap() refuses it for every file.
		 */
		{ -(off_t)RGN, RGN, MAP_SHARED, EOVERFLOW },
		{ RGN, RGN, MAP_PRIVATE, EINVAL },		/* not shared */
	};
	struct mshare_stat st;
	char *hole;

	/* A free, aligned stretch to try them at. */
	hole = mmap(NULL, 6 * RGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	hole = (char *)(((uintptr_t)hole + RGN - 1) & ~(RGN - 1));
	ASSERT_EQ(0, munmap(hole, 4 * RGN));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *p;

		errno = 0;
		p = mmap(hole, bad[i].len, RW, bad[i].flags | MAP_FIXED_NOREPLACE, self->fd,
			 bad[i].off);
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("window %#llx+%#zx succeeded",
						(long long)bad[i].off, bad[i].len);
		EXPECT_EQ(bad[i].err, errno)
			TH_LOG("window %#llx+%#zx: %s", (long long)bad[i].off, bad[i].len,
			       strerror(errno));
		if (p != MAP_FAILED)
			munmap(p, bad[i].len);
	}
	/* Misaligned address, fixed. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(hole + 2 * MiB, RGN, RW, MAP_SHARED | MAP_FIXED,
					 self->fd, RGN));
	EXPECT_EQ(0, maps_count((unsigned long)hole, (unsigned long)hole + 4 * RGN));
	ms_must_stat(_metadata, self->fd, &st);
	EXPECT_EQ(1, st.attachments);

	/* The good ones, for contrast: every GiB, and the last two. */
	for (int g = 0; g < NGIB; g++) {
		char *w = ms_must_attach_window(_metadata, self->fd, g * RGN, RGN, hole, RW);

		EXPECT_EQ(-1, check_pat(w, MEM, PG, 0x60 + g, 0));
		EXPECT_EQ(0, munmap(w, RGN));
	}
	char *w = ms_must_attach_window(_metadata, self->fd, RGN, 2 * RGN, hole, RW);

	EXPECT_EQ(-1, check_pat(w, MEM, PG, 0x61, 0));
	EXPECT_EQ(-1, check_pat(w + RGN, MEM, PG, 0x62, 0));
	EXPECT_EQ(0, munmap(w, 2 * RGN));
}

/*
 * A window maps its part of the region, and what is done inside it lands
 * at the region offsets of the window.
 */
TEST_F(win, window_maps_its_part)
{
	char *w = ms_must_attach_window(_metadata, self->fd, RGN, RGN, NULL, RW);
	char want[64];
	void *p;

	EXPECT_EQ(-1, check_pat(w, MEM, PG, 0x61, 0));
	/* maps shows the offset. */
	snprintf(want, sizeof(want), "%lx-%lx rw-s 40000000 ", (unsigned long)w,
		 (unsigned long)w + RGN);
	EXPECT_TRUE(file_contains("/proc/self/maps", want)) TH_LOG("no \"%s\" in maps", want);

	/* Writes through the window reach offset RGN + x. */
	fill_pat(w, MEM, PG, 0x71, 1);
	EXPECT_EQ(-1, check_pat(self->all + RGN, MEM, PG, 0x71, 1));

	/* A mapping made inside the window is at RGN + 16 MiB of the region. */
	p = mmap(w + 16 * MiB, 2 * MiB, RW, PRIVATE_ANON, -1, 0);
	ASSERT_EQ(w + 16 * MiB, p) TH_LOG("mmap inside the window gave %p: %s", p,
					   p == MAP_FAILED ? strerror(errno) : "wrong address");
	fill_pat(w + 16 * MiB, 2 * MiB, PG, 0x72, 0);
	EXPECT_EQ(-1, check_pat(self->all + RGN + 16 * MiB, 2 * MiB, PG, 0x72, 0));
	EXPECT_FALSE(probe(self->all + 16 * MiB, false));	/* not in GiB 0 */

	/* mprotect inside it: read-only at RGN + 16 MiB, for every sharer. */
	ASSERT_EQ(0, mprotect(w + 16 * MiB, 2 * MiB, PROT_READ));
	EXPECT_FALSE(probe(self->all + RGN + 16 * MiB, true));
	EXPECT_TRUE(probe(self->all + RGN + 16 * MiB, false));

	/* munmap inside it unmaps the region there. */
	ASSERT_EQ(0, munmap(w + 16 * MiB, 2 * MiB));
	EXPECT_FALSE(probe(self->all + RGN + 16 * MiB, false));
	EXPECT_EQ(-1, check_pat(self->all + RGN, MEM, PG, 0x71, 1));

	/* MSHAREFS_CREATE_MAPPING at region offset RGN + 32 MiB shows in the window. */
	struct mshare_create mc = {
		.region_offset = RGN + 32 * MiB, .size = 2 * MiB, .prot = RW,
		.flags = MAP_SHARED | MAP_FIXED, .fd = (__u32)-1,
	};
	ASSERT_EQ(0, ioctl(self->fd, MSHAREFS_CREATE_MAPPING, &mc)) TH_LOG("%s", strerror(errno));
	*wordp(w, 32 * MiB, 0) = 0xabcd;
	EXPECT_EQ(0xabcd, *wordp(self->all, RGN + 32 * MiB, 0));
	EXPECT_EQ(0, munmap(w, RGN));
}

/*
 * Two processes with different windows that overlap in GiB 1 see each
 * other's writes there: the parent has [0, 2 GiB), the child [1, 3 GiB).
 */
TEST_F(win, two_processes_windows)
{
	char *pw = ms_must_attach_window(_metadata, self->fd, 0, 2 * RGN, NULL, RW);
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *cw;

		close(sv[0]);
		/* Its own window, attached after fork(). */
		CHILD_CHECK(munmap(pw, 2 * RGN) == 0);
		CHILD_CHECK(munmap(self->all, NGIB * RGN) == 0);
		cw = ms_attach_window(self->fd, RGN, 2 * RGN, NULL, RW);
		CHILD_CHECK(cw != NULL);
		CHILD_CHECK(check_pat(cw, MEM, PG, 0x61, 0) == -1);
		CHILD_CHECK(check_pat(cw + RGN, MEM, PG, 0x62, 0) == -1);
		fill_pat(cw, MEM, PG, 0x81, 1);			/* region GiB 1 */
		CHILD_CHECK(sock_send(sv[1], 'w') == 0);
		CHILD_CHECK(sock_recv(sv[1]) == 'p');
		CHILD_CHECK(check_pat(cw, MEM, PG, 0x82, 2) == -1);
		CHILD_CHECK(munmap(cw, 2 * RGN) == 0);
		_exit(0);
	}
	close(sv[1]);
	ASSERT_EQ('w', sock_recv(sv[0]));
	EXPECT_EQ(-1, check_pat(pw + RGN, MEM, PG, 0x81, 1));
	EXPECT_EQ(-1, check_pat(self->all + RGN, MEM, PG, 0x81, 1));
	fill_pat(pw + RGN, MEM, PG, 0x82, 2);
	EXPECT_EQ(0, sock_send(sv[0], 'p'));
	EXPECT_TRUE(child_ok(pid, "window child"));
	close(sv[0]);
	EXPECT_EQ(0, munmap(pw, 2 * RGN));
}

/* fork() of a window: the child's copy is the same window, and a sharer. */
TEST_F(win, fork_window)
{
	char *w = ms_must_attach_window(_metadata, self->fd, 2 * RGN, RGN, NULL, RW);
	struct mshare_stat st;
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, munmap(self->all, NGIB * RGN));	/* only the window */
	self->all = NULL;
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char want[64];

		close(sv[0]);
		snprintf(want, sizeof(want), "%lx-%lx rw-s 80000000 ", (unsigned long)w,
			 (unsigned long)w + RGN);
		CHILD_CHECK(file_contains("/proc/self/maps", want));
		CHILD_CHECK(check_pat(w, MEM, PG, 0x62, 0) == -1);
		fill_pat(w, MEM, PG, 0x91, 1);
		CHILD_CHECK(sock_send(sv[1], 'w') == 0);
		CHILD_CHECK(sock_recv(sv[1]) == 'q');
		_exit(0);
	}
	close(sv[1]);
	ASSERT_EQ('w', sock_recv(sv[0]));
	EXPECT_EQ(-1, check_pat(w, MEM, PG, 0x91, 1));
	ms_must_stat(_metadata, self->fd, &st);
	EXPECT_EQ(2, st.attachments);
	EXPECT_EQ(2, st.processes);
	EXPECT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "fork child"));
	close(sv[0]);
	ms_must_stat(_metadata, self->fd, &st);
	EXPECT_EQ(1, st.attachments);
	EXPECT_EQ(1, st.processes);
	EXPECT_EQ(0, munmap(w, RGN));
}

/*
 * Whole-window operations act on the window's part of the region only:
 * MADV_DONTNEED of the window zaps GiB 1, not GiB 0 or 2; mlock() of the
 * window populates and locks GiB 1's mappings; msync() of it is accepted.
 */
TEST_F(win, whole_window_operations)
{
	char *w = ms_must_attach_window(_metadata, self->fd, RGN, RGN, NULL, RW);
	long ml0;

	/* Private anonymous memory in every GiB, written. */
	for (int g = 0; g < NGIB; g++) {
		ms_must_map(_metadata, self->all + g * RGN + 64 * MiB, MEM, RW, PRIVATE_ANON, -1);
		fill_pat(self->all + g * RGN + 64 * MiB, MEM, PG, 0xa0 + g, 0);
	}
	ASSERT_EQ(0, madvise(w, RGN, MADV_DONTNEED)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-1, check_zero(self->all + RGN + 64 * MiB, MEM, PG, 0));
	EXPECT_EQ(-1, check_pat(self->all + 64 * MiB, MEM, PG, 0xa0, 0));
	EXPECT_EQ(-1, check_pat(self->all + 2 * RGN + 64 * MiB, MEM, PG, 0xa2, 0));
	EXPECT_EQ(-1, check_pat(self->all + 2 * RGN, MEM, PG, 0x62, 0));

	/*
	 * mlock of the window: GiB 1's two mappings, 2 * MEM, locked.  mlock
	 * of a whole attachment needs it without holes (ENOMEM, as for a hole
	 * in an address space): fill the rest of GiB 1 with PROT_NONE, while
	 * GiBs 0 and 2 keep theirs, which the window must not meet.
	 */
	ms_must_map(_metadata, w + MEM, 64 * MiB - MEM, PROT_NONE, PRIVATE_ANON, -1);
	ms_must_map(_metadata, w + 64 * MiB + MEM, RGN - 64 * MiB - MEM, PROT_NONE,
		    PRIVATE_ANON, -1);
	MS_EXPECT_ERRNO(ENOMEM, mlock(self->all, NGIB * RGN));
	ml0 = meminfo_kb("Mlocked");
	ASSERT_EQ(0, mlock(w, RGN)) TH_LOG("%s", strerror(errno));
	TH_LOG("Mlocked %ld -> %ld kB", ml0, meminfo_kb("Mlocked"));
	EXPECT_GE(meminfo_kb("Mlocked") - ml0, (long)(2 * MEM / KiB) - 256);
	EXPECT_LE(meminfo_kb("Mlocked") - ml0, (long)(2 * MEM / KiB) + 256);
	EXPECT_EQ((long)(MEM / PG), ms_mincore_pages(w + 64 * MiB, MEM));
	ASSERT_EQ(0, munlock(w, RGN));
	EXPECT_EQ(0, msync(w, RGN, MS_SYNC));
	EXPECT_EQ(0, munmap(w, RGN));
}

/* GUP, mincore() and smaps through a window see the window's part. */
TEST_F(win, gup_and_walkers)
{
	char *w = ms_must_attach_window(_metadata, self->fd, 2 * RGN, RGN, NULL, RW);
	uint64_t v = 0, put = 0x1234567890ULL;
	struct iovec local, remote;
	char blk[4096];
	int mem;

	/* /proc/self/mem: access_remote_vm(), GUP through the window. */
	mem = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, mem);
	ASSERT_EQ((ssize_t)sizeof(v), pread(mem, &v, sizeof(v), (uintptr_t)w + 5 * PG));
	EXPECT_EQ(pat(0x62, 5), v);
	ASSERT_EQ((ssize_t)sizeof(put), pwrite(mem, &put, sizeof(put), (uintptr_t)w + 7 * PG + 8));
	EXPECT_EQ(put, *wordp(self->all, 2 * RGN + 7 * PG, 1));
	close(mem);
	/* process_vm_readv(): pins through the window. */
	local.iov_base = &v;
	local.iov_len = sizeof(v);
	remote.iov_base = w + 9 * PG;
	remote.iov_len = sizeof(v);
	ASSERT_EQ((ssize_t)sizeof(v), process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(pat(0x62, 9), v);

	/* mincore: GiB 2's MEM is resident, the rest of the window a hole. */
	EXPECT_EQ((long)(MEM / PG), ms_mincore_pages(w, 2 * MEM));

	/* smaps: the window's Rss is GiB 2's MEM, not the region's 3 * MEM. */
	ASSERT_TRUE(smaps_block(getpid(), w, blk, sizeof(blk)));
	TH_LOG("window Rss %ld kB", block_get(blk, "Rss", NULL, 0));
	EXPECT_EQ((long)(MEM / KiB), block_get(blk, "Rss", NULL, 0));
	EXPECT_EQ(0, munmap(w, RGN));
}

/* pgtable_saved for tables needed @need and held @held: never negative. */
static unsigned long long saved(unsigned long long need, unsigned long long held)
{
	return need > held ? need - held : 0;
}

/*
 * Stats: pgtable_saved counts each GiB's tables once for every attachment
 * that maps it; RssMshare counts a window's share.
 */
TEST_F(win, stats)
{
	struct mshare_stat st0, st1, st2;
	char *w1, *w2;
	long rss0, rss1;
	pid_t pids[8];
	struct mshare_pids mp = { .pids = (uintptr_t)pids, .nr = 8 };

	ms_must_stat(_metadata, self->fd, &st0);
	EXPECT_EQ(1, st0.attachments);
	/* Each GiB needs MEM / 2 MiB PTE tables and a PMD table, per attachment. */
	const unsigned long per_gib = (MEM / (2 * MiB) + 1) * PG;

	EXPECT_EQ(saved(NGIB * per_gib, st0.pgtable), st0.pgtable_saved)
		TH_LOG("pgtable %llu saved %llu", (unsigned long long)st0.pgtable,
		       (unsigned long long)st0.pgtable_saved);
	rss0 = kv_kb(getpid(), "status", "RssMshare");
	w1 = ms_must_attach_window(_metadata, self->fd, RGN, RGN, NULL, RW);
	ms_must_stat(_metadata, self->fd, &st1);
	EXPECT_EQ(2, st1.attachments);
	EXPECT_EQ(1, st1.processes);
	EXPECT_EQ(saved((NGIB + 1) * per_gib, st1.pgtable), st1.pgtable_saved);
	rss1 = kv_kb(getpid(), "status", "RssMshare");
	TH_LOG("RssMshare %ld -> %ld kB (region resident %llu kB)", rss0, rss1,
	       (unsigned long long)st1.resident >> 10);
	/* A third of the region's resident pages, give or take. */
	EXPECT_GE(rss1 - rss0, (long)(st1.resident / 3 / KiB) - 512);
	EXPECT_LE(rss1 - rss0, (long)(st1.resident / 3 / KiB) + 512);

	w2 = ms_must_attach_window(_metadata, self->fd, RGN, 2 * RGN, NULL, RW);
	ms_must_stat(_metadata, self->fd, &st2);
	EXPECT_EQ(3, st2.attachments);
	EXPECT_EQ(saved((NGIB + 3) * per_gib, st2.pgtable), st2.pgtable_saved);
	ASSERT_EQ(0, ioctl(self->fd, MSHAREFS_GET_PIDS, &mp));
	EXPECT_EQ(1, mp.nr);
	EXPECT_EQ(getpid(), pids[0]);
	EXPECT_EQ(0, munmap(w2, 2 * RGN));
	EXPECT_EQ(0, munmap(w1, RGN));
}

/*
 * TLB flushes reach a window's sharer at its own addresses: a child on
 * another CPU keeps reading a page of GiB 1 through its window (so its TLB
 * holds the translation) while the parent replaces the page through the
 * whole attachment; the child must see the new page.  A flush at the
 * wrong address (the window as if it mapped offset 0) leaves it reading
 * the old one.
 */
TEST_F_TIMEOUT(win, flush_reaches_window, 120)
{
	char *w = ms_must_attach_window(_metadata, self->fd, RGN, RGN, NULL, RW);
	volatile uint64_t *stop;
	int sv[2];
	pid_t pid;

	stop = mmap(NULL, PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, (void *)stop);
	*stop = 0;
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint64_t tag = 0;

		close(sv[0]);
		pin_to_cpu(1);
		CHILD_CHECK(munmap(self->all, NGIB * RGN) == 0);
		CHILD_CHECK(*wordp(w, 0, 0) == pat(0x61, 0));
		CHILD_CHECK(sock_send(sv[1], 'r') == 0);
		/* Read until the parent says the page was replaced ... */
		while (!*stop)
			tag = *wordp(w, 0, 0);
		/* ... then a few more times: the new page must show. */
		for (int i = 0; i < 1000; i++)
			tag = *wordp(w, 0, 0);
		CHILD_CHECK(tag == 0xfeed);
		_exit(0);
	}
	close(sv[1]);
	pin_to_cpu(0);
	ASSERT_EQ('r', sock_recv(sv[0]));
	for (int i = 0; i < 20; i++) {
		/* Replace GiB 1's first 2 MiB with fresh memory, then write it. */
		ASSERT_EQ(self->all + RGN, mmap(self->all + RGN, 2 * MiB, RW, SHARED_ANON, -1, 0));
		*wordp(self->all, RGN, 0) = i == 19 ? 0xfeed : 0xbad;
		sleep_ms(5);
	}
	*stop = 1;
	EXPECT_TRUE(child_ok(pid, "reader"));
	close(sv[0]);
	EXPECT_EQ(0, munmap(w, RGN));
}

/*
 * Flushes go only to the sharers whose window maps the range: a sharer
 * that runs on CPU 1 with a window of GiB 2 gets TLB interrupts when a
 * page of GiB 2 changes protection (through the whole attachment, on
 * CPU 0), and no more than an ordinary mapping of CPU 0's process gives
 * it (the control) when a page of GiB 0 does.
 */
#define FT_TOGGLES	64

/* @n protection toggles of page @p: CPU 1's CAL + TLB interrupts meanwhile. */
static long long toggles_ipis(char *p, int n, double *secs)
{
	struct ipis b, e;
	double t0 = now_sec();

	if (ipis_read(1, &b))
		return -1;
	for (int i = 0; i < n; i++) {
		if (mprotect(p, PG, PROT_READ) || mprotect(p, PG, RW))
			return -1;
		*(volatile char *)p = 1;
	}
	if (ipis_read(1, &e))
		return -1;
	*secs = now_sec() - t0;
	return e.cal - b.cal + e.tlb - b.tlb;
}

TEST_F_TIMEOUT(win, flush_targets_windows, 300)
{
	volatile uint64_t *state;
	long long ctl, out, in;
	double sc = 0, so = 0, si = 0;
	struct ipis probe1;
	char *own;
	pid_t pid;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: nothing to target");
	ASSERT_EQ(0, ipis_read(1, &probe1)) TH_LOG("no CAL/TLB line for CPU 1");
	ASSERT_EQ(0, pin_to_cpu(0));
	state = mmap(NULL, PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, (void *)state);
	state[0] = state[1] = 0;
	/* One-page mappings to toggle: in GiB 0, in GiB 2, and our own. */
	ms_must_map(_metadata, self->all + 32 * MiB, PG, RW, PRIVATE_ANON, -1);
	ms_must_map(_metadata, self->all + 2 * RGN + 32 * MiB, PG, RW, PRIVATE_ANON, -1);
	own = mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, own);
	*(volatile char *)own = 1;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *w;

		CHILD_CHECK(pin_to_cpu(1) == 0);
		CHILD_CHECK(munmap(self->all, NGIB * RGN) == 0);
		w = ms_attach_window(self->fd, 2 * RGN, RGN, NULL, RW);
		CHILD_CHECK(w != NULL);
		/* Busy on CPU 1 in its window, so its mm is live there. */
		state[0] = 1;
		while (!state[1])
			(void)*wordp(w, 32 * MiB, 0);
		_exit(0);
	}
	for (int i = 0; i < 500 && !state[0]; i++)
		sleep_ms(10);
	ASSERT_EQ(1, state[0]) TH_LOG("the window sharer did not start");

	ctl = toggles_ipis(own, FT_TOGGLES, &sc);
	out = toggles_ipis(self->all + 32 * MiB, FT_TOGGLES, &so);
	in = toggles_ipis(self->all + 2 * RGN + 32 * MiB, FT_TOGGLES, &si);
	state[1] = 1;
	EXPECT_TRUE(child_ok(pid, "window sharer"));
	TH_LOG("CPU 1 interrupts for %d toggles: own memory %lld (%.2f s), GiB 0 %lld (%.2f s), GiB 2 (the sharer's window) %lld (%.2f s)",
	       FT_TOGGLES, ctl, sc, out, so, in, si);
	ASSERT_LE(0, ctl);
	ASSERT_LE(0, out);
	EXPECT_LE(out, ctl + 3 + 2 * (long long)(so > sc ? so - sc + 1 : 1))
		TH_LOG("a change outside the sharer's window interrupted it");
	EXPECT_GE(in, FT_TOGGLES / 2) TH_LOG("the sharer's window was not flushed");
}

/*
 * Page tables do not grow per sharer of a window: children that attach
 * GiB 1 only and read all of its 64 MiB, populated, hold no PTE table of
 * their own for it (VmPTE), and PageTables grows by far less than the
 * 32 PTE tables (128 kB) that each would need.
 */
#define PT_KIDS	8
#define PT_MEM	(64 * MiB)
TEST_F_TIMEOUT(win, pagetables_per_sharer, 300)
{
	struct mshare_create mc = {
		.region_offset = RGN + 128 * MiB, .size = PT_MEM, .prot = RW,
		.flags = MAP_SHARED | MAP_FIXED | MAP_POPULATE, .fd = (__u32)-1,
	};
	int sv[PT_KIDS][2];
	pid_t pid[PT_KIDS];
	long pt0, pt1;
	struct mshare_stat st;

	ASSERT_EQ(0, ioctl(self->fd, MSHAREFS_CREATE_MAPPING, &mc)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, munmap(self->all, NGIB * RGN));
	self->all = NULL;
	mem_settle();
	pt0 = meminfo_kb("PageTables");
	for (int i = 0; i < PT_KIDS; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]));
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			char *w = ms_attach_window(self->fd, RGN, RGN, NULL, PROT_READ);
			volatile uint64_t sum = 0;

			CHILD_CHECK(w != NULL);
			for (size_t o = 0; o < PT_MEM; o += PG)
				sum += *wordp(w, 128 * MiB + o, 0);
			(void)sum;
			/* 32 PTE tables would be 128 kB. */
			CHILD_CHECK(kv_kb(getpid(), "status", "VmPTE") < 128);
			CHILD_CHECK(sock_send(sv[i][1], 'a') == 0);
			CHILD_CHECK(sock_recv(sv[i][1]) == 'q');
			_exit(0);
		}
		ASSERT_EQ('a', sock_recv(sv[i][0]));
	}
	pt1 = meminfo_kb("PageTables");
	ms_must_stat(_metadata, self->fd, &st);
	TH_LOG("PageTables %ld -> %ld kB for %d window sharers; pgtable_saved %llu kB",
	       pt0, pt1, PT_KIDS, (unsigned long long)st.pgtable_saved >> 10);
	EXPECT_EQ(PT_KIDS, st.attachments);
	EXPECT_LT(pt1 - pt0, PT_KIDS * 128);
	EXPECT_GE(st.pgtable_saved, (PT_KIDS - 1) * 32 * PG);
	for (int i = 0; i < PT_KIDS; i++) {
		EXPECT_EQ(0, sock_send(sv[i][0], 'q'));
		EXPECT_TRUE(child_ok(pid[i], "window sharer"));
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

/* munmap() of a whole window detaches; of a part, unmaps the region there. */
TEST_F(win, munmap_window)
{
	char *w = ms_must_attach_window(_metadata, self->fd, RGN, 2 * RGN, NULL, RW);
	struct mshare_stat st;

	ms_must_stat(_metadata, self->fd, &st);
	EXPECT_EQ(2, st.attachments);
	/* A part: GiB 2's MEM goes from the region. */
	ASSERT_EQ(0, munmap(w + RGN, MEM));
	EXPECT_FALSE(probe(self->all + 2 * RGN, false));
	EXPECT_EQ(-1, check_pat(w, MEM, PG, 0x61, 0));
	/* Across its edge: refused; so are mprotect and mremap of all of it. */
	MS_EXPECT_ERRNO(EINVAL, munmap(w + 2 * RGN - PG, 2 * PG));
	MS_EXPECT_ERRNO(EINVAL, mprotect(w, 2 * RGN, PROT_READ));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(w, 2 * RGN, 3 * RGN, MREMAP_MAYMOVE));
	/* All of it: detached, the region unchanged. */
	ASSERT_EQ(0, munmap(w, 2 * RGN));
	EXPECT_EQ(0, maps_count((unsigned long)w, (unsigned long)w + 2 * RGN));
	ms_must_stat(_metadata, self->fd, &st);
	EXPECT_EQ(1, st.attachments);
	EXPECT_EQ(-1, check_pat(self->all + RGN, MEM, PG, 0x61, 0));
}

TEST_HARNESS_MAIN

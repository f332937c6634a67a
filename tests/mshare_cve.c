// SPDX-License-Identifier: GPL-2.0
/*
 * Regression tests for the classes of bug that hugetlb PMD sharing had
 * (brief section 2.4), applied to mshare regions:
 *
 *  - transient references (CVE-2024-57883: a share count kept in the page
 *    refcount): /proc/kpageflags, kpagecount and pagemap readers, and GUP
 *    pins, on a region's pages while sharers attach, detach and exit; no
 *    leak, no "Bad page";
 *  - a VMA split that must unshare first (CVE-2025-38084): mprotect() and
 *    munmap() of sub-ranges inside a region split its VMAs while other
 *    sharers fault and write elsewhere in the same 1 GiB slot: every
 *    sharer's data stays right and no sharer faults where it should not;
 *  - unsharing racing GUP-fast (CVE-2025-38085): pins taken by O_DIRECT,
 *    vmsplice() and io_uring buffer registration race a sharer's detach,
 *    its exit and the region's last reference; pinned pages stay valid
 *    until unpinned, then everything is freed.
 *
 * Every test checks that memory returns to its baseline and that the
 * kernel log holds no report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <liburing.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define OFF		(256 * MiB)
#define NPG		64
#define EXT4_DIR	"/tmp/cve-ext4"

FIXTURE(cve) {
	struct memsnap base;
	int kfd;
};

FIXTURE_SETUP(cve)
{
	self->kfd = kmsg_from_now();
	mem_settle();
	memsnap_take(&self->base);
}

FIXTURE_TEARDOWN(cve)
{
	struct memsnap now;
	char line[400];
	bool back;

	mem_settle();
	back = mem_back_to(&self->base, &now, 512, 100, 100);
	EXPECT_TRUE(back) TH_LOG("PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
				 now.pagetables - self->base.pagetables,
				 now.shmem - self->base.shmem, now.anon - self->base.anon);
	EXPECT_FALSE(self->kfd >= 0 && kmsg_report(self->kfd, line, sizeof(line)))
		TH_LOG("kernel report: %s", line);
	if (self->kfd >= 0)
		close(self->kfd);
}

/* A region with NPG pages of @flags memory at OFF, filled with pat(tag, i). */
static char *region_filled(struct __test_metadata *_metadata, int *fd, int flags,
			   uint64_t tag)
{
	char *a;

	*fd = ms_must_create(_metadata, RGN);
	a = ms_must_attach(_metadata, *fd, RGN, NULL, RW);
	ms_must_map(_metadata, a + OFF, NPG * PG, RW, MAP_FIXED | flags, -1);
	fill_pat(a + OFF, NPG * PG, PG, tag, 0);
	return a;
}

/* ---- GUP pins outliving the region ---------------------------------------- */

/* vmsplice() takes page references; the region goes; the pipe still reads right. */
TEST_F(cve, vmsplice_pins_outlive_last_reference)
{
	int fd, pp[2];
	char *a = region_filled(_metadata, &fd, MAP_PRIVATE | MAP_ANONYMOUS, 0x5b1);
	struct iovec iov = { a + OFF, 16 * PG };
	char *buf = malloc(16 * PG);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, pipe(pp));
	ASSERT_EQ(0, fcntl(pp[1], F_SETPIPE_SZ, 1 * MiB) < 0 ? -1 : 0);
	ASSERT_EQ((ssize_t)(16 * PG), vmsplice(pp[1], &iov, 1, 0))
		TH_LOG("vmsplice: %s", strerror(errno));
	/* The region's last references go: the attachment and the fd. */
	ASSERT_EQ(0, munmap(a, RGN));
	close(fd);
	mem_settle();
	for (size_t got = 0; got < 16 * PG;) {
		ssize_t n = read(pp[0], buf + got, 16 * PG - got);

		ASSERT_LT(0, n);
		got += n;
	}
	EXPECT_EQ(-1, check_pat(buf, 16 * PG, PG, 0x5b1, 0)) TH_LOG("spliced pages changed");
	close(pp[0]);
	close(pp[1]);
	free(buf);
}

/*
 * io_uring fixed buffers (long-term pins) in region memory; the region's
 * last reference goes; reads into the buffers and writes out of them still
 * work on the pinned pages; unregistering frees them.
 */
static void uring_pins_outlive(struct __test_metadata *_metadata, int flags)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int fd, src, dst;
	char *a = region_filled(_metadata, &fd, flags, 0x0f1);
	struct iovec iov = { a + OFF, 16 * PG };
	char *buf = malloc(16 * PG);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	ASSERT_EQ(0, io_uring_register_buffers(&ring, &iov, 1))
		TH_LOG("register region memory: %s", strerror(errno));
	ASSERT_EQ(0, munmap(a, RGN));
	close(fd);
	mem_settle();

	/* Read new data into the pinned pages, then write it out elsewhere. */
	src = memfd_sized("cve-src", 16 * PG);
	dst = memfd_sized("cve-dst", 16 * PG);
	ASSERT_LE(0, src);
	ASSERT_LE(0, dst);
	fill_pat(buf, 16 * PG, PG, 0x0f2, 0);
	ASSERT_EQ((ssize_t)(16 * PG), pwrite(src, buf, 16 * PG, 0));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, src, a + OFF, 16 * PG, 0, 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
	EXPECT_EQ((int)(16 * PG), cqe->res) TH_LOG("READ_FIXED: %s", strerror(-cqe->res));
	io_uring_cqe_seen(&ring, cqe);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write_fixed(sqe, dst, a + OFF, 16 * PG, 0, 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
	EXPECT_EQ((int)(16 * PG), cqe->res) TH_LOG("WRITE_FIXED: %s", strerror(-cqe->res));
	io_uring_cqe_seen(&ring, cqe);
	memset(buf, 0, 16 * PG);
	ASSERT_EQ((ssize_t)(16 * PG), pread(dst, buf, 16 * PG, 0));
	EXPECT_EQ(-1, check_pat(buf, 16 * PG, PG, 0x0f2, 0)) TH_LOG("through the pinned pages");
	ASSERT_EQ(0, io_uring_unregister_buffers(&ring));
	io_uring_queue_exit(&ring);
	close(src);
	close(dst);
	free(buf);
}

TEST_F(cve, uring_fixed_buffers_outlive_region_anon)
{
	uring_pins_outlive(_metadata, MAP_PRIVATE | MAP_ANONYMOUS);
}

TEST_F(cve, uring_fixed_buffers_outlive_region_shmem)
{
	uring_pins_outlive(_metadata, MAP_SHARED | MAP_ANONYMOUS);
}

/* A child registers buffers in region memory and exits with them pinned. */
TEST_F(cve, uring_pins_dropped_by_exit_race_last_reference)
{
	for (int round = 0; round < 8; round++) {
		int fd, status;
		char *a = region_filled(_metadata, &fd, MAP_PRIVATE | MAP_ANONYMOUS, round);
		pid_t pid;

		fflush(NULL);
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct io_uring ring;
			struct iovec iov = { a + OFF, NPG * PG };

			if (io_uring_queue_init(4, &ring, 0) ||
			    io_uring_register_buffers(&ring, &iov, 1))
				_exit(2);
			_exit(0);	/* the ring, and its pins, go with the exit */
		}
		/* Meanwhile the parent drops the region. */
		if (round & 1)
			sleep_ms(round);
		ASSERT_EQ(0, munmap(a, RGN));
		close(fd);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("round %d: child status %#x", round, status);
	}
}

/* ---- O_DIRECT pins racing detach and the last reference ------------------- */

struct dio_arg {
	int dfd;
	char *buf;
	volatile int stop;
	long ok, efault;
};

static void *dio_loop(void *p)
{
	struct dio_arg *d = p;

	while (!d->stop) {
		ssize_t r = pwrite(d->dfd, d->buf, 16 * PG, 0);

		if (r == (ssize_t)(16 * PG))
			d->ok++;
		else if (r < 0 && errno == EFAULT)
			d->efault++;
		else
			return (void *)1;
		r = pread(d->dfd, d->buf, 16 * PG, 16 * PG);
		if (r < 0 && errno != EFAULT)
			return (void *)2;
	}
	return NULL;
}

TEST_F_TIMEOUT(cve, odirect_pins_race_detach_and_last_reference, 300)
{
	char why[200], path[64];
	long ok = 0, efault = 0;

	if (ramdisk_ext4_mount(EXT4_DIR, why, sizeof(why)))
		SKIP(return, "%s", why);
	snprintf(path, sizeof(path), EXT4_DIR "/dio");
	{
		int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		char *z = calloc(1, 32 * PG);

		ASSERT_LE(0, f);
		ASSERT_EQ((ssize_t)(32 * PG), pwrite(f, z, 32 * PG, 0));
		fsync(f);
		close(f);
		free(z);
	}
	for (int round = 0; round < 20; round++) {
		struct dio_arg d = { 0 };
		pthread_t t;
		void *res;
		int fd;
		char *a = region_filled(_metadata, &fd,
					round & 1 ? MAP_SHARED | MAP_ANONYMOUS :
						    MAP_PRIVATE | MAP_ANONYMOUS, round);

		d.dfd = open(path, O_RDWR | O_DIRECT);
		ASSERT_LE(0, d.dfd);
		d.buf = a + OFF;
		if (round & 2)
			close(fd);	/* the attachment is the last reference */
		ASSERT_EQ(0, pthread_create(&t, NULL, dio_loop, &d));
		sleep_ms(2 + round % 7);
		/* Detach under the pins: the I/O sees the pages or EFAULT. */
		ASSERT_EQ(0, munmap(a, RGN));
		sleep_ms(5);
		d.stop = 1;
		ASSERT_EQ(0, pthread_join(t, &res));
		EXPECT_EQ(NULL, res) TH_LOG("round %d: O_DIRECT gave an unexpected error", round);
		if (!(round & 2))
			close(fd);
		close(d.dfd);
		ok += d.ok;
		efault += d.efault;
	}
	TH_LOG("O_DIRECT writes from region memory: %ld done, %ld EFAULT after detach",
	       ok, efault);
	unlink(path);
	ramdisk_ext4_umount(EXT4_DIR);
}

/* ---- VMA splits while sharers fault in the same GiB ------------------------- */

#define SPLIT_SECS	6.0

/*
 * Sharers (at their own addresses) write and check their own stripes of
 * a 64-page mapping in the region; the test process splits the mapping's
 * VMA over and over with mprotect() and munmap()+mmap() of the other
 * stripes, in the same PMD and PUD.
 */
TEST_F_TIMEOUT(cve, splits_while_sharers_fault_same_gib, 300)
{
	int fd, status, bad = 0;
	char *a;
	pid_t pids[2];
	double end;
	long splits = 0;

	fd = ms_must_create(_metadata, RGN);
	a = ms_must_attach(_metadata, fd, RGN, NULL, RW);
	ms_must_map(_metadata, a + OFF, NPG * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	end = now_sec() + SPLIT_SECS;
	for (int s = 0; s < 2; s++) {
		fflush(NULL);
		pids[s] = fork();
		ASSERT_LE(0, pids[s]);
		if (pids[s] == 0) {
			/* Sharer s owns pages with i % 4 == s. */
			char *b;
			uint64_t n = 0;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			b = mmap(NULL, RGN, RW, MAP_SHARED, fd, 0);
			CHILD_CHECK(b != MAP_FAILED);
			while (now_sec() < end) {
				for (int i = s; i < NPG; i += 4) {
					volatile uint64_t *w = wordp(b + OFF, i * PG, 1);

					CHILD_CHECK(*w == n);
					*w = n + 1;
				}
				n++;
				if (n % 16 == 0) {
					/* Detach and attach again: a new sharer, new links. */
					CHILD_CHECK(munmap(b, RGN) == 0);
					b = mmap(NULL, RGN, RW, MAP_SHARED, fd, 0);
					CHILD_CHECK(b != MAP_FAILED);
				}
			}
			_exit(0);
		}
	}
	/* Pages with i % 4 >= 2 are the splitter's. */
	while (now_sec() < end) {
		for (int i = 2; i < NPG; i += 4) {
			char *p = a + OFF + i * PG;

			ASSERT_EQ(0, mprotect(p, PG, PROT_READ));
			ASSERT_EQ(0, mprotect(p, PG, RW));
			if (i % 8 == 2) {
				ASSERT_EQ(0, munmap(p, 2 * PG));
				ASSERT_EQ((void *)p, mmap(p, 2 * PG, RW,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
			}
			splits++;
		}
	}
	for (int s = 0; s < 2; s++)
		if (!child_ok(pids[s], "sharer"))
			bad++;
	EXPECT_EQ(0, bad);
	TH_LOG("%ld split rounds under two faulting sharers", splits);
	(void)status;
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ---- transient references: page-flag readers and pins ---------------------- */

/* The PFN of the page at @p in this process (pagemap; root), or 0. */
static uint64_t pfn_of(void *p)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, ((uintptr_t)p / PG) * 8) != 8)
		e = 0;
	close(fd);
	return (e & (1ULL << 63)) ? e & ((1ULL << 55) - 1) : 0;
}

TEST_F_TIMEOUT(cve, kpageflags_and_pins_while_sharers_come_and_go, 300)
{
	int fd, kf, kc, status;
	uint64_t pfn[NPG];
	char *a;
	pid_t reader, churn;
	double end;

	kf = open("/proc/kpageflags", O_RDONLY);
	kc = open("/proc/kpagecount", O_RDONLY);
	if (kf < 0 || kc < 0)
		SKIP(return, "no /proc/kpageflags or kpagecount");
	a = region_filled(_metadata, &fd, MAP_PRIVATE | MAP_ANONYMOUS, 0xabc);
	for (int i = 0; i < NPG; i++) {
		pfn[i] = pfn_of(a + OFF + i * PG);
		ASSERT_NE(0, pfn[i]) TH_LOG("no PFN for page %d through the attachment", i);
	}
	end = now_sec() + 6;
	fflush(NULL);
	/* A reader of the pages' flags and counts, and of their data by GUP. */
	reader = fork();
	ASSERT_LE(0, reader);
	if (reader == 0) {
		pid_t parent = getppid();

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (now_sec() < end) {
			for (int i = 0; i < NPG; i++) {
				uint64_t v;
				struct iovec l = { &v, 8 }, r = { a + OFF + i * PG, 8 };

				CHILD_CHECK(pread(kf, &v, 8, pfn[i] * 8) == 8);
				CHILD_CHECK(pread(kc, &v, 8, pfn[i] * 8) == 8);
				/* A GUP pin, briefly, through the parent's attachment. */
				if (process_vm_readv(parent, &l, 1, &r, 1, 0) == 8)
					CHILD_CHECK(v == pat(0xabc, i));
			}
		}
		_exit(0);
	}
	/* Sharers that attach, read, detach and exit, over and over. */
	churn = fork();
	ASSERT_LE(0, churn);
	if (churn == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (now_sec() < end) {
			pid_t p = fork();

			CHILD_CHECK(p >= 0);
			if (p == 0) {
				char *b = mmap(NULL, RGN, PROT_READ, MAP_SHARED, fd, 0);

				CHILD_CHECK(b != MAP_FAILED);
				CHILD_CHECK(check_pat(b + OFF, NPG * PG, PG, 0xabc, 0) == -1);
				if (getpid() & 1)
					munmap(b, RGN);
				_exit(0);	/* or exit attached */
			}
			CHILD_CHECK(waitpid(p, &status, 0) == p && WIFEXITED(status) &&
				    WEXITSTATUS(status) == 0);
		}
		_exit(0);
	}
	EXPECT_TRUE(child_ok(reader, "flag reader"));
	EXPECT_TRUE(child_ok(churn, "sharer churn"));
	EXPECT_EQ(-1, check_pat(a + OFF, NPG * PG, PG, 0xabc, 0));
	/* The pages' counts: one mapping (the region's) each. */
	for (int i = 0; i < NPG; i++) {
		uint64_t c = 0;

		ASSERT_EQ(8, pread(kc, &c, 8, pfn[i] * 8));
		EXPECT_EQ(1, c) TH_LOG("page %d: kpagecount %llu", i, (unsigned long long)c);
	}
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	close(kf);
	close(kc);
}

TEST_HARNESS_MAIN

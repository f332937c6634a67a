// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection sweep: for every mshare entry point, make the N-th
 * fault point of one call fail (/proc/thread-self/fail-nth: kmalloc,
 * page allocations, user copies) for N = 1, 2, 3, ... until the call runs
 * through without reaching the N-th point.  For every injected failure:
 *
 *  - the call fails with a clean errno, or succeeds (a fallback took the
 *    failure); a faulting child may die of SIGBUS, SIGSEGV or SIGKILL;
 *  - a call that failed changed nothing visible (no name, no mapping, no
 *    size, the old protection), and the process and a sharer process
 *    (attached to the same region at its own address) keep working;
 *  - no kernel report appears in the log (WARNING, BUG, KASAN, ...).
 *
 * After each sweep, PageTables, Shmem, AnonPages, the slab caches that
 * regions use (mm_struct, vm_area_struct, filp, ...) and the fd count are
 * back where they were before it.  Each test logs how many injection
 * points it swept.
 *
 * Needs CONFIG_FAULT_INJECTION, FAILSLAB, FAIL_PAGE_ALLOC and
 * FAULT_INJECTION_DEBUG_FS (debugfs lets the injection reach GFP_KERNEL
 * and order-0 allocations; the defaults skip them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/msharefs.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define DBG		"/sys/kernel/debug"
#define MAXN		5000	/* more points than any call has */
#define HUGE		(2 * MiB)
#define OFF		(64 * MiB)	/* where the work mappings go */
#define CTRL_TAG	0xc0ffeeULL

/* ---- /proc/thread-self/fail-nth ---------------------------------------- */

static int fnth_fd = -1;

static const char *const knobs[][2] = {
	{ DBG "/failslab/ignore-gfp-wait", "N" },
	{ DBG "/failslab/verbose", "0" },
	{ DBG "/fail_page_alloc/ignore-gfp-wait", "N" },
	{ DBG "/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DBG "/fail_page_alloc/min-order", "0" },
	{ DBG "/fail_page_alloc/verbose", "0" },
	{ DBG "/fail_usercopy/verbose", "0" },
};
static const char *const knob_defaults[] = { "Y", "2", "Y", "Y", "1", "2", "2" };

/* Make fail-nth reach every allocation; false (and why) if it cannot. */
static bool fnth_setup(char *why, size_t len)
{
	struct stat st;

	if (stat(DBG "/failslab", &st)) {
		mkdir(DBG, 0755);
		mount("debugfs", DBG, "debugfs", 0, NULL);
	}
	if (stat(DBG "/failslab", &st) || stat(DBG "/fail_page_alloc", &st)) {
		snprintf(why, len, "no failslab/fail_page_alloc in debugfs "
			 "(CONFIG_FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS)");
		return false;
	}
	for (unsigned int i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		write_file(knobs[i][0], knobs[i][1]);
	fnth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fnth_fd < 0) {
		snprintf(why, len, "/proc/thread-self/fail-nth: %s", strerror(errno));
		return false;
	}
	return true;
}

static void fnth_restore(void)
{
	for (unsigned int i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		write_file(knobs[i][0], knob_defaults[i]);
	if (fnth_fd >= 0)
		close(fnth_fd);
	fnth_fd = -1;
}

/* Fail the @n-th fault point from now on, in this thread. */
static inline void fnth_arm(int n)
{
	char b[16];
	int l = snprintf(b, sizeof(b), "%d", n);

	if (write(fnth_fd, b, l) != l)
		abort();
}

/*
 * Disarm.  Writing is a user copy, itself a fault point while the count
 * runs: if it takes the last one it fails (EFAULT) and the count is 0
 * anyway; the next write goes through.
 */
static inline void fnth_disarm(void)
{
	for (int i = 0; i < 3; i++)
		if (write(fnth_fd, "0", 1) == 1)
			return;
	abort();
}

/*
 * Was the armed failure injected?  Reads the count back (0: injected) and
 * disarms.  The read's own user copy is a fault point: if it was the one
 * (EFAULT), the count was 1, not injected.
 */
static inline bool fnth_injected(void)
{
	char b[16] = "";
	ssize_t n = pread(fnth_fd, b, sizeof(b) - 1, 0);
	bool inj = n > 0 && atoi(b) == 0;

	fnth_disarm();
	return inj;
}

/* ---- bookkeeping ---------------------------------------------------------- */

struct sweep {
	const char *name;
	int points;		/* injected failures */
	int failed;		/* ... of which the call failed */
	int survived;		/* ... of which the call succeeded anyway */
	int killed;		/* ... of which the (child) caller died */
	int errnos[160];
	int kfd;		/* /dev/kmsg, for kernel reports */
	int fds;
	struct memsnap mem;
	long slab[8];
};

static const char *const slab_caches[] = {
	"mm_struct", "vm_area_struct", "filp", "anon_vma", "anon_vma_chain",
	"shmem_inode_cache", "dentry", "signal_cache",
};

/* Active objects of slab cache @name (/proc/slabinfo), or -1. */
static long slab_active(const char *name)
{
	char line[512], n[64];
	long active = -1, v;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", n, &v) == 2 && !strcmp(n, name)) {
			active = v;
			break;
		}
	fclose(f);
	return active;
}

static void slab_take(long *v)
{
	for (unsigned int i = 0; i < sizeof(slab_caches) / sizeof(slab_caches[0]); i++)
		v[i] = slab_active(slab_caches[i]);
}

/* Start a sweep; false (the test skipped) without fault injection. */
static bool sweep_begin(struct __test_metadata *_metadata, struct sweep *sw,
			const char *name)
{
	char why[200];

	memset(sw, 0, sizeof(*sw));
	sw->name = name;
	if (!fnth_setup(why, sizeof(why)))
		SKIP(return false, "%s", why);
	sw->kfd = kmsg_from_now();
	mem_settle();
	memsnap_take(&sw->mem);
	slab_take(sw->slab);
	sw->fds = count_fds();
	return true;
}

/* After each injected failure: no kernel report. */
static void sweep_point(struct __test_metadata *_metadata, struct sweep *sw,
			int n, int ret, int err)
{
	char line[400];

	sw->points++;
	if (ret == 0) {
		sw->survived++;
	} else if (ret > 0) {
		sw->killed++;
	} else {
		sw->failed++;
		if (err > 0 && err < 160)
			sw->errnos[err]++;
	}
	ASSERT_FALSE(sw->kfd >= 0 && kmsg_report(sw->kfd, line, sizeof(line)))
		TH_LOG("%s, fault point %d: kernel report: %s", sw->name, n, line);
}

/* A clean errno for an injected allocation or copy failure. */
static bool clean_errno(int e)
{
	return e == ENOMEM || e == EFAULT || e == EAGAIN || e == ENFILE ||
	       e == ENOSPC || e == EINTR;
}

/* The sweep is over: log it, and everything must be back. */
static void sweep_end(struct __test_metadata *_metadata, struct sweep *sw, int n)
{
	struct memsnap now;
	long slab[8];
	char errs[200] = "";
	bool back;
	int len = 0;

	fnth_disarm();
	for (int e = 1; e < 160; e++)
		if (sw->errnos[e])
			len += snprintf(errs + len, sizeof(errs) - len, " %s:%d",
					strerrorname_np(e) ? strerrorname_np(e) : "?",
					sw->errnos[e]);
	TH_LOG("%s: %d fault points swept (the call ran through at N=%d): "
	       "%d failed (%s ), %d succeeded anyway, %d killed the caller",
	       sw->name, sw->points, n, sw->failed, errs, sw->survived, sw->killed);
	printf("# SWEEP %s points=%d failed=%d survived=%d killed=%d\n", sw->name,
	       sw->points, sw->failed, sw->survived, sw->killed);
	EXPECT_LT(n, MAXN) TH_LOG("%s still failed at N=%d", sw->name, n);

	EXPECT_EQ(sw->fds, count_fds()) TH_LOG("%s: fds %d -> %d", sw->name, sw->fds,
					       count_fds());
	mem_settle();
	back = mem_back_to(&sw->mem, &now, 256, 50, 100);
	EXPECT_TRUE(back) TH_LOG("%s: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
				 sw->name, now.pagetables - sw->mem.pagetables,
				 now.shmem - sw->mem.shmem, now.anon - sw->mem.anon);
	/* Slab objects: RCU and KASAN's quarantine free late; poll a while. */
	for (int t = 0; t < 40; t++) {
		bool ok = true;

		if (t) {
			sleep_ms(250);
			mem_settle();
		}
		slab_take(slab);
		for (unsigned int i = 0; i < sizeof(slab_caches) / sizeof(slab_caches[0]); i++)
			if (sw->slab[i] >= 0 && slab[i] > sw->slab[i] + 32)
				ok = false;
		if (ok)
			break;
	}
	for (unsigned int i = 0; i < sizeof(slab_caches) / sizeof(slab_caches[0]); i++) {
		EXPECT_LE(slab[i], sw->slab[i] + 32)
			TH_LOG("%s: slab %s %ld -> %ld objects", sw->name, slab_caches[i],
			       sw->slab[i], slab[i]);
	}
	if (sw->kfd >= 0)
		close(sw->kfd);
	fnth_restore();
}

/*
 * for (N = 1; ; N++) { setup; arm N; call; injected?; checks; cleanup }
 * until the call runs through without reaching the N-th point.
 */
#define SWEEP_LOOP(n) for (int n = 1; n < MAXN; n++)

/* ---- a region with a control page and a sharer ----------------------------- */

struct scene {
	int fd;
	char *a;
	struct sharer sh;
	bool has_sharer;
};

/* A 1 GiB region, attached; its page 0 holds CTRL_TAG; a sharer if asked. */
static void scene_up(struct __test_metadata *_metadata, struct scene *s, bool sharer)
{
	memset(s, 0, sizeof(*s));
	s->fd = ms_must_create(_metadata, RGN);
	s->a = ms_must_attach(_metadata, s->fd, RGN, NULL, RW);
	ms_must_map(_metadata, s->a, PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	*wordp(s->a, 0, 0) = CTRL_TAG;
	if (sharer) {
		ASSERT_EQ(0, sharer_start(&s->sh, s->fd, RGN));
		s->has_sharer = true;
	}
}

/* The process and the sharer still work: page 0 reads and writes. */
static void scene_alive(struct __test_metadata *_metadata, struct scene *s, int n)
{
	uint64_t v = 0;

	ASSERT_EQ(CTRL_TAG, *wordp(s->a, 0, 0)) TH_LOG("fault point %d: control page", n);
	*wordp(s->a, 0, 1) = n;
	if (s->has_sharer) {
		ASSERT_EQ(0, sharer_read(&s->sh, 0, &v)) TH_LOG("fault point %d: sharer", n);
		ASSERT_EQ(CTRL_TAG, v);
		ASSERT_EQ(0, sharer_read(&s->sh, 8, &v));
		ASSERT_EQ((uint64_t)n, v) TH_LOG("fault point %d: sharer sees %llu", n,
						 (unsigned long long)v);
	}
}

static void scene_down(struct __test_metadata *_metadata, struct scene *s)
{
	if (s->has_sharer) {
		EXPECT_TRUE(sharer_stop(&s->sh));
	}
	if (s->a)
		EXPECT_EQ(0, munmap(s->a, RGN));
	close(s->fd);
}

/* ---- regions, names, sizes -------------------------------------------------- */

FIXTURE(failnth) {};
FIXTURE_SETUP(failnth) {}
FIXTURE_TEARDOWN(failnth) {}

TEST_F_TIMEOUT(failnth, mshare_create, 600)
{
	struct sweep sw;
	int last = 0;

	if (!sweep_begin(_metadata, &sw, "mshare_create"))
		return;
	SWEEP_LOOP(n) {
		int fd, e, nfd = count_fds();
		bool inj;

		fnth_arm(n);
		fd = sys_mshare_create(RGN, 0);
		e = errno;
		inj = fnth_injected();
		last = n;
		if (fd >= 0) {
			struct stat st;

			ASSERT_EQ(0, fstat(fd, &st));
			ASSERT_EQ((off_t)RGN, st.st_size);
			close(fd);
		} else {
			ASSERT_TRUE(inj) TH_LOG("mshare_create failed uninjected: %s", strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
			ASSERT_EQ(nfd, count_fds());
		}
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, fd >= 0 ? 0 : -1, e);
	}
	sweep_end(_metadata, &sw, last);
}

TEST_F_TIMEOUT(failnth, msharefs_open_creat, 600)
{
	struct sweep sw;
	char name[64], path[128];
	int last = 0, names_left = 0;

	snprintf(name, sizeof(name), "failnth-%d", getpid());
	snprintf(path, sizeof(path), MSFS_DIR "/%s", name);
	if (!sweep_begin(_metadata, &sw, "open(O_CREAT) in msharefs"))
		return;
	TH_LOG("(a failed open(O_CREAT) may leave the name, as on any filesystem)");
	SWEEP_LOOP(n) {
		int fd, e;
		bool inj;

		fnth_arm(n);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		e = errno;
		inj = fnth_injected();
		last = n;
		if (fd >= 0) {
			close(fd);
			ASSERT_EQ(0, unlink(path));
		} else {
			ASSERT_TRUE(inj) TH_LOG("open failed uninjected: %s", strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
			/*
			 * A failure after the create step leaves the name, as
			 * open(O_CREAT) does on any filesystem: counted, removed.
			 */
			if (!unlink(path))
				names_left++;
			else
				ASSERT_EQ(ENOENT, errno);
		}
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, fd >= 0 ? 0 : -1, e);
	}
	TH_LOG("%d failed creates left the (unsized) name", names_left);
	sweep_end(_metadata, &sw, last);
}

TEST_F_TIMEOUT(failnth, msharefs_ftruncate, 600)
{
	struct sweep sw;
	char name[64];
	int last = 0;

	snprintf(name, sizeof(name), "failnth-t-%d", getpid());
	if (!sweep_begin(_metadata, &sw, "ftruncate() in msharefs"))
		return;
	SWEEP_LOOP(n) {
		int fd, r, e;
		struct stat st;
		bool inj;

		fd = msfs_open(name, O_RDWR | O_CREAT | O_EXCL);
		ASSERT_LE(0, fd) TH_LOG("create %s: %s", name, strerror(errno));
		fnth_arm(n);
		r = ftruncate(fd, RGN);
		e = errno;
		inj = fnth_injected();
		last = n;
		ASSERT_EQ(0, fstat(fd, &st));
		if (r) {
			ASSERT_TRUE(inj) TH_LOG("ftruncate failed uninjected: %s", strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
			/* Not set: the size may be set again, and then works. */
			ASSERT_EQ(0, st.st_size) TH_LOG("N=%d: size %lld after a failure", n,
							(long long)st.st_size);
			ASSERT_EQ(0, ftruncate(fd, RGN)) TH_LOG("N=%d: retry: %s", n, strerror(errno));
		} else {
			ASSERT_EQ((off_t)RGN, st.st_size);
		}
		{
			char *a = ms_attach(fd, RGN, NULL, RW, 0);

			ASSERT_NE(NULL, a) TH_LOG("N=%d: attach after ftruncate: %s", n, strerror(errno));
			ASSERT_EQ(0, munmap(a, RGN));
		}
		close(fd);
		ASSERT_EQ(0, msfs_unlink(name));
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, r ? -1 : 0, e);
	}
	sweep_end(_metadata, &sw, last);
}

TEST_F_TIMEOUT(failnth, msharefs_link, 600)
{
	struct mshare_link ml = { .mode = 0600 };
	struct sweep sw;
	int last = 0;

	snprintf(ml.name, sizeof(ml.name), "failnth-l-%d", getpid());
	if (!sweep_begin(_metadata, &sw, "MSHAREFS_LINK"))
		return;
	SWEEP_LOOP(n) {
		int fd = ms_must_create(_metadata, RGN), r, e, o;
		bool inj;

		fnth_arm(n);
		r = ioctl(fd, MSHAREFS_LINK, &ml);
		e = errno;
		inj = fnth_injected();
		last = n;
		if (r) {
			ASSERT_TRUE(inj) TH_LOG("link failed uninjected: %s", strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
			o = msfs_open(ml.name, O_RDONLY);
			ASSERT_EQ(-1, o) TH_LOG("N=%d: a name after a failed link", n);
			/* Still unnamed: linking again works. */
			ASSERT_EQ(0, ioctl(fd, MSHAREFS_LINK, &ml))
				TH_LOG("N=%d: link again: %s", n, strerror(errno));
		}
		o = msfs_open(ml.name, O_RDWR);
		ASSERT_LE(0, o);
		{
			struct stat st;

			ASSERT_EQ(0, fstat(o, &st));
			ASSERT_EQ((off_t)RGN, st.st_size);
		}
		close(o);
		ASSERT_EQ(0, msfs_unlink(ml.name));
		close(fd);
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, r ? -1 : 0, e);
	}
	sweep_end(_metadata, &sw, last);
}

/* ---- mappings made in a region ------------------------------------------- */

enum { M_ANON, M_MEMFD, M_HUGE };

static void sweep_create_mapping(struct __test_metadata *_metadata, int kind,
				 const char *name)
{
	struct sweep sw;
	int last = 0;

	if (!sweep_begin(_metadata, &sw, name))
		return;
	SWEEP_LOOP(n) {
		struct scene s;
		struct mshare_create mc = {
			.region_offset = OFF, .size = kind == M_HUGE ? HUGE : 16 * PG,
			.prot = RW, .flags = MAP_SHARED | MAP_FIXED, .fd = (uint32_t)-1,
		};
		struct mshare_stat st;
		int memfd = -1, r, e;
		bool inj;

		scene_up(_metadata, &s, true);
		if (kind == M_MEMFD) {
			memfd = memfd_sized("failnth", 16 * PG);
			ASSERT_LE(0, memfd);
			mc.fd = memfd;
		} else if (kind == M_HUGE) {
			mc.flags |= MAP_HUGETLB;
		}
		fnth_arm(n);
		r = ioctl(s.fd, MSHAREFS_CREATE_MAPPING, &mc);
		e = errno;
		inj = fnth_injected();
		last = n;
		ASSERT_EQ(0, ioctl(s.fd, MSHAREFS_GET_STAT, &st));
		if (r) {
			ASSERT_TRUE(inj) TH_LOG("create mapping failed uninjected: %s", strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
			/* Nothing was mapped: a hole, for both. */
			ASSERT_EQ(1, st.mappings) TH_LOG("N=%d: %llu mappings after a failure", n,
							 (unsigned long long)st.mappings);
			ASSERT_FALSE(probe(s.a + OFF, false));
			ASSERT_EQ(1, sharer_read(&s.sh, OFF, NULL));
		} else {
			uint64_t v = 0;

			ASSERT_EQ(2, st.mappings);
			*wordp(s.a + OFF, 0, 0) = n;
			ASSERT_EQ(0, sharer_read(&s.sh, OFF, &v));
			ASSERT_EQ((uint64_t)n, v);
		}
		scene_alive(_metadata, &s, n);
		if (memfd >= 0)
			close(memfd);
		scene_down(_metadata, &s);
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, r ? -1 : 0, e);
	}
	sweep_end(_metadata, &sw, last);
}

TEST_F_TIMEOUT(failnth, create_mapping_anon, 900)
{
	sweep_create_mapping(_metadata, M_ANON, "MSHAREFS_CREATE_MAPPING anonymous");
}

TEST_F_TIMEOUT(failnth, create_mapping_memfd, 900)
{
	sweep_create_mapping(_metadata, M_MEMFD, "MSHAREFS_CREATE_MAPPING memfd");
}

TEST_F_TIMEOUT(failnth, create_mapping_hugetlb, 900)
{
	if (meminfo_kb("HugePages_Free") < 2)
		SKIP(return, "no free huge pages");
	sweep_create_mapping(_metadata, M_HUGE, "MSHAREFS_CREATE_MAPPING hugetlb");
}

TEST_F_TIMEOUT(failnth, attach, 900)
{
	struct sweep sw;
	int last = 0;
	struct scene s;

	scene_up(_metadata, &s, true);
	if (!sweep_begin(_metadata, &sw, "attach (mmap of the region fd)"))
		return;
	SWEEP_LOOP(n) {
		int nv = maps_count(0, ~0UL), e;
		struct mshare_stat st0, st;
		char *a;
		bool inj;

		ASSERT_EQ(0, ioctl(s.fd, MSHAREFS_GET_STAT, &st0));
		fnth_arm(n);
		a = mmap(NULL, RGN, RW, MAP_SHARED, s.fd, 0);
		e = errno;
		inj = fnth_injected();
		last = n;
		ASSERT_EQ(0, ioctl(s.fd, MSHAREFS_GET_STAT, &st));
		if (a == MAP_FAILED) {
			ASSERT_TRUE(inj) TH_LOG("attach failed uninjected: %s", strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
			ASSERT_EQ(nv, maps_count(0, ~0UL)) TH_LOG("N=%d: a VMA left", n);
			ASSERT_EQ(st0.attachments, st.attachments) TH_LOG("N=%d: attachments %llu -> %llu",
				n, (unsigned long long)st0.attachments,
				(unsigned long long)st.attachments);
		} else {
			ASSERT_EQ(CTRL_TAG, *wordp(a, 0, 0));
			ASSERT_EQ(st0.attachments + 1, st.attachments);
			ASSERT_EQ(0, munmap(a, RGN));
		}
		scene_alive(_metadata, &s, n);
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, a == MAP_FAILED ? -1 : 0, e);
	}
	sweep_end(_metadata, &sw, last);
	scene_down(_metadata, &s);
}

static void sweep_map_inside(struct __test_metadata *_metadata, int flags, int kind,
			     const char *name)
{
	struct sweep sw;
	int last = 0;

	if (!sweep_begin(_metadata, &sw, name))
		return;
	SWEEP_LOOP(n) {
		size_t len = kind == M_HUGE ? HUGE : 16 * PG;
		int memfd = -1, e;
		struct scene s;
		void *p;
		bool inj;

		scene_up(_metadata, &s, true);
		if (kind == M_MEMFD) {
			memfd = memfd_sized("failnth", len);
			ASSERT_LE(0, memfd);
		}
		fnth_arm(n);
		p = mmap(s.a + OFF, len, RW, MAP_FIXED | flags, memfd, 0);
		e = errno;
		inj = fnth_injected();
		last = n;
		if (p == MAP_FAILED) {
			ASSERT_TRUE(inj) TH_LOG("mmap inside failed uninjected: %s", strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
			ASSERT_FALSE(probe(s.a + OFF, false)) TH_LOG("N=%d: mapped after a failure", n);
			ASSERT_EQ(1, sharer_read(&s.sh, OFF, NULL));
		} else {
			uint64_t v = 0;

			ASSERT_EQ(s.a + OFF, p);
			*wordp(p, 0, 0) = n;
			ASSERT_EQ(0, sharer_read(&s.sh, OFF, &v));
			ASSERT_EQ((uint64_t)n, v);
		}
		scene_alive(_metadata, &s, n);
		if (memfd >= 0)
			close(memfd);
		scene_down(_metadata, &s);
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, p == MAP_FAILED ? -1 : 0, e);
	}
	sweep_end(_metadata, &sw, last);
}

TEST_F_TIMEOUT(failnth, mmap_inside_anon_shared, 900)
{
	sweep_map_inside(_metadata, MAP_SHARED | MAP_ANONYMOUS, M_ANON,
			 "mmap inside: anonymous shared");
}

TEST_F_TIMEOUT(failnth, mmap_inside_anon_private_populate, 900)
{
	sweep_map_inside(_metadata, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, M_ANON,
			 "mmap inside: anonymous private, MAP_POPULATE");
}

TEST_F_TIMEOUT(failnth, mmap_inside_memfd_locked, 900)
{
	sweep_map_inside(_metadata, MAP_SHARED | MAP_LOCKED, M_MEMFD,
			 "mmap inside: memfd, MAP_LOCKED");
}

TEST_F_TIMEOUT(failnth, mmap_inside_hugetlb, 900)
{
	if (meminfo_kb("HugePages_Free") < 2)
		SKIP(return, "no free huge pages");
	sweep_map_inside(_metadata, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, M_HUGE,
			 "mmap inside: hugetlb");
}

/* ---- the first fault on a fresh page, in a child ------------------------ */

struct fault_arg {
	char *p;
	int n;
	int pipe;
};

static void fault_child(void *arg)
{
	struct fault_arg *fa = arg;
	int fd = open("/proc/thread-self/fail-nth", O_RDWR);
	char b[16];
	int l = snprintf(b, sizeof(b), "%d", fa->n), inj;
	ssize_t r;

	if (fd < 0 || write(fd, b, l) != l)
		_exit(3);
	*(volatile uint64_t *)fa->p = 0x600d;
	r = pread(fd, b, sizeof(b) - 1, 0);
	inj = r > 0 && atoi(b) == 0;	/* EFAULT: the read was the point, count 1 */
	/*
	 * Disarm before the pipe write, which allocates: with the count still
	 * running (the fault took fewer points) it failed the write, and the
	 * child exited 4 (seen at N=6 of first_fault_memfd).  The disarming
	 * write is a user copy that may take the last point (EFAULT): retry.
	 */
	for (int i = 0; i < 3 && write(fd, "0", 1) != 1; i++)
		;
	if (write(fa->pipe, &inj, sizeof(inj)) != sizeof(inj))
		_exit(4);
	_exit(0);
}

static void sweep_fault(struct __test_metadata *_metadata, int flags, int kind,
			const char *name)
{
	struct sweep sw;
	int last = 0, kills_in_a_row = 0;

	if (!sweep_begin(_metadata, &sw, name))
		return;
	SWEEP_LOOP(n) {
		size_t len = kind == M_HUGE ? HUGE : 16 * PG;
		struct fault_arg fa;
		int memfd = -1, pp[2], status, inj = 1;
		struct scene s;
		uint64_t v;

		scene_up(_metadata, &s, true);
		if (kind == M_MEMFD) {
			memfd = memfd_sized("failnth", len);
			ASSERT_LE(0, memfd);
		}
		ms_must_map(_metadata, s.a + OFF, len, RW, MAP_FIXED | flags, memfd);
		ASSERT_EQ(0, pipe(pp));
		fa = (struct fault_arg){ .p = s.a + OFF + PG * (kind != M_HUGE), .n = n,
					 .pipe = pp[1] };
		status = child_status(fault_child, &fa);
		close(pp[1]);
		last = n;
		if (exited_ok(status)) {
			ASSERT_EQ((ssize_t)sizeof(inj), read(pp[0], &inj, sizeof(inj)));
		} else {
			/* Killed by the injected failure: an allowed way to fail. */
			ASSERT_TRUE(killed_by(status, SIGBUS) || killed_by(status, SIGSEGV) ||
				    killed_by(status, SIGKILL))
				TH_LOG("N=%d: faulting child: status %#x", n, status);
			ASSERT_GT(50, ++kills_in_a_row) TH_LOG("N=%d: the child keeps dying", n);
		}
		if (exited_ok(status))
			kills_in_a_row = 0;
		close(pp[0]);
		/* The page reads 0 or the child's write, for the process and the sharer. */
		v = *(volatile uint64_t *)fa.p;
		ASSERT_TRUE(v == 0 || v == 0x600d) TH_LOG("N=%d: page reads %#llx", n,
							  (unsigned long long)v);
		{
			uint64_t sv = ~0ULL;

			ASSERT_EQ(0, sharer_read(&s.sh, fa.p - s.a, &sv));
			ASSERT_EQ(v, sv);
		}
		scene_alive(_metadata, &s, n);
		if (memfd >= 0)
			close(memfd);
		scene_down(_metadata, &s);
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, exited_ok(status) ? 0 : 1, 0);
	}
	sweep_end(_metadata, &sw, last);
}

TEST_F_TIMEOUT(failnth, first_fault_anon_private, 900)
{
	sweep_fault(_metadata, MAP_PRIVATE | MAP_ANONYMOUS, M_ANON,
		    "first fault: anonymous private");
}

TEST_F_TIMEOUT(failnth, first_fault_anon_shared, 900)
{
	sweep_fault(_metadata, MAP_SHARED | MAP_ANONYMOUS, M_ANON,
		    "first fault: anonymous shared");
}

TEST_F_TIMEOUT(failnth, first_fault_memfd, 900)
{
	sweep_fault(_metadata, MAP_SHARED, M_MEMFD, "first fault: memfd");
}

TEST_F_TIMEOUT(failnth, first_fault_hugetlb, 900)
{
	if (meminfo_kb("HugePages_Free") < 2)
		SKIP(return, "no free huge pages");
	sweep_fault(_metadata, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, M_HUGE,
		    "first fault: hugetlb");
}

/* ---- fork() with two attachments ---------------------------------------- */

TEST_F_TIMEOUT(failnth, fork_two_attachments, 1200)
{
	struct sweep sw;
	struct scene s;
	int last = 0, fd2;
	char *b;

	scene_up(_metadata, &s, true);
	fd2 = ms_must_create(_metadata, RGN);
	b = ms_must_attach(_metadata, fd2, RGN, NULL, RW);
	ms_must_map(_metadata, b, 16 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	*wordp(b, 0, 0) = 0xb0b;
	if (!sweep_begin(_metadata, &sw, "fork() with two attachments"))
		return;
	SWEEP_LOOP(n) {
		int e, status;
		pid_t pid;
		bool inj;

		fflush(NULL);
		fnth_arm(n);
		pid = fork();
		if (pid == 0) {
			/* (fork clears fail-nth) The child sees both attachments. */
			_exit(*wordp(s.a, 0, 0) == CTRL_TAG && *wordp(b, 0, 0) == 0xb0b ? 0 : 7);
		}
		e = errno;
		inj = fnth_injected();
		last = n;
		if (pid < 0) {
			ASSERT_TRUE(inj) TH_LOG("fork failed uninjected: %s", strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
		} else {
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
			ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
				TH_LOG("N=%d: child status %#x", n, status);
		}
		ASSERT_EQ(0xb0b, *wordp(b, 0, 0));
		scene_alive(_metadata, &s, n);
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, pid < 0 ? -1 : 0, e);
	}
	sweep_end(_metadata, &sw, last);
	EXPECT_EQ(0, munmap(b, RGN));
	close(fd2);
	scene_down(_metadata, &s);
}

/* ---- operations inside an attachment ------------------------------------- */

enum { OP_MPROTECT, OP_POPULATE, OP_MLOCK, OP_MUNMAP };

static void sweep_inside(struct __test_metadata *_metadata, int op, const char *name)
{
	struct sweep sw;
	int last = 0;

	if (!sweep_begin(_metadata, &sw, name))
		return;
	SWEEP_LOOP(n) {
		struct scene s;
		char *p;
		int r, e;
		bool inj;

		scene_up(_metadata, &s, true);
		p = s.a + OFF;
		ms_must_map(_metadata, p, 16 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
		if (op != OP_POPULATE)
			for (int i = 0; i < 16; i++)
				*wordp(p, i * PG, 0) = pat(3, i);
		fnth_arm(n);
		switch (op) {
		case OP_MPROTECT:	/* splits the region's VMA */
			r = mprotect(p + 4 * PG, 4 * PG, PROT_READ);
			break;
		case OP_POPULATE:
			r = madvise(p, 16 * PG, MADV_POPULATE_WRITE);
			break;
		case OP_MLOCK:
			r = mlock(p + 4 * PG, 4 * PG);
			break;
		default:		/* splits too */
			r = munmap(p + 4 * PG, 4 * PG);
			break;
		}
		e = errno;
		inj = fnth_injected();
		last = n;
		if (r) {
			ASSERT_TRUE(inj) TH_LOG("%s failed uninjected: %s", name, strerror(e));
			ASSERT_TRUE(clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
		}
		/* The mapping as the result says, for the process and the sharer. */
		for (int i = 0; i < 16; i++) {
			bool in = i >= 4 && i < 8, gone = !r && op == OP_MUNMAP && in;
			uint64_t want = op == OP_POPULATE ? 0 : pat(3, i), v = ~0ULL;
			int sf = sharer_read(&s.sh, OFF + i * PG, &v);

			ASSERT_EQ(!gone, probe(p + i * PG, false)) TH_LOG("N=%d page %d", n, i);
			ASSERT_EQ(gone ? 1 : 0, sf) TH_LOG("N=%d page %d: sharer", n, i);
			if (!gone) {
				ASSERT_EQ(want, *wordp(p, i * PG, 0)) TH_LOG("N=%d page %d", n, i);
				ASSERT_EQ(want, v);
			}
			if (op == OP_MPROTECT && !gone) {
				bool ro = !r && in;

				ASSERT_EQ(!ro, probe(p + i * PG, true))
					TH_LOG("N=%d page %d: writable %d, mprotect gave %d", n, i,
					       !ro, r);
				ASSERT_EQ(ro ? 1 : 0, sharer_write(&s.sh, OFF + i * PG, want))
					TH_LOG("N=%d page %d: sharer's write", n, i);
			}
		}
		scene_alive(_metadata, &s, n);
		scene_down(_metadata, &s);
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, r ? -1 : 0, e);
	}
	sweep_end(_metadata, &sw, last);
}

TEST_F_TIMEOUT(failnth, mprotect_inside, 900)
{
	sweep_inside(_metadata, OP_MPROTECT, "mprotect inside");
}

TEST_F_TIMEOUT(failnth, madvise_populate_write_inside, 900)
{
	sweep_inside(_metadata, OP_POPULATE, "madvise(MADV_POPULATE_WRITE) inside");
}

TEST_F_TIMEOUT(failnth, mlock_inside, 900)
{
	sweep_inside(_metadata, OP_MLOCK, "mlock inside");
}

TEST_F_TIMEOUT(failnth, munmap_inside, 900)
{
	sweep_inside(_metadata, OP_MUNMAP, "munmap inside");
}

/* ---- teardown: the last reference goes --------------------------------- */

TEST_F_TIMEOUT(failnth, region_teardown, 900)
{
	struct sweep sw;
	int last = 0;

	if (!sweep_begin(_metadata, &sw, "region teardown (last munmap)"))
		return;
	SWEEP_LOOP(n) {
		int fd = ms_must_create(_metadata, RGN), r, e;
		char *a = ms_must_attach(_metadata, fd, RGN, NULL, RW);
		bool inj;

		ms_must_map(_metadata, a + OFF, 64 * PG, RW,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1);
		ms_must_map(_metadata, a + 2 * OFF, 64 * PG, RW,
			    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1);
		close(fd);
		fnth_arm(n);
		r = munmap(a, RGN);	/* the last reference: the region goes */
		e = errno;
		inj = fnth_injected();
		last = n;
		if (r) {
			/* (the maple tree may need a node) Still attached, and working. */
			ASSERT_TRUE(inj && clean_errno(e)) TH_LOG("N=%d: %s", n, strerror(e));
			ASSERT_EQ(1, maps_count((uintptr_t)a, (uintptr_t)a + RGN));
			ASSERT_EQ(0, *wordp(a + OFF, 0, 0));
			ASSERT_EQ(0, munmap(a, RGN));
		}
		ASSERT_EQ(0, maps_count((uintptr_t)a, (uintptr_t)a + RGN));
		if (!inj)
			break;
		sweep_point(_metadata, &sw, n, r ? -1 : 0, e);
	}
	sweep_end(_metadata, &sw, last);
}

TEST_HARNESS_MAIN

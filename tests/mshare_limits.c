// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: limits, memcg failure, locks held across I/O, and TLB flushes.
 *
 *  - max_bytes_per_user: vm.mshare_max_bytes bounds the bytes of regions
 *    that one user (the euid that sets a region's size) has at once.  At
 *    8 GiB: a 16 GiB region is refused with ENOSPC outright; 1 GiB regions
 *    (mshare_create() fds and regions created by name in msharefs, mixed)
 *    succeed exactly 8 times, then ENOSPC for either kind; uid 1000 has a
 *    budget of its own; a region's bytes come back only when its last fd,
 *    attachment and name are all gone; at the end the whole budget is
 *    back.  The sysctl is put back.
 *  - largest_size_in_small_memcg: with the sysctl at its maximum, a child
 *    in a memcg with memory.max = 16M asks for the largest region (the
 *    user address space less 2 GiB: 64 PiB - 2 GiB with 5-level page
 *    tables, 128 TiB - 2 GiB with 4-level ones; a PMD table per GiB) by
 *    mshare_create() and by ftruncate() of a region created by name; 1 GiB
 *    more is EINVAL.  It must fail cleanly with ENOMEM, not by the
 *    memcg OOM killer killing the child (the old kernel's outcome: its
 *    tables were allocated with OOM kills allowed); the parent is unaffected,
 *    PageTables comes back to where it was, the user's budget is whole
 *    again, and the kernel reports nothing.
 *  - no_sharer_lock_across_region_io: a region fault that waits for I/O
 *    (a null_blk device that takes 0.8 s per read, mapped inside an
 *    attachment) does not hold the sharer's mmap_lock: while one thread
 *    reads a cold page with process_vm_readv() (GUP), another thread's
 *    mmap()+munmap() takes well under the I/O time.  Two more rounds read
 *    with a plain load (a user fault, per-VMA lock first) in a forked
 *    sharer, which must not be killed.  The same for an ordinary
 *    MAP_SHARED mapping of the device, as a control.
 *  - detach_flushes_lazy_cpus: munmap() of a whole attachment (a detach:
 *    the process's link to the region's page tables goes) flushes a CPU
 *    that is idle in lazy-TLB mode with the process's mm, as freeing page
 *    tables does: nr_tlb_remote_flush_received goes up.  munmap() of one
 *    anonymous page, which frees no table, is the control: the lazy CPU
 *    is skipped there.
 *  - teardown_sends_no_flush: dropping the last reference of a region
 *    with nothing attached (its last fd, or its name) frees its tables
 *    without a remote TLB flush: the region's mm never ran on a CPU, and
 *    each sharer's detach flushed its CPUs as for freed tables (issue 11:
 *    flushes go to the sharers, and nothing is attached any more).  The
 *    old kernel flushed every CPU there.
 *
 * The flush tests read the CONFIG_DEBUG_TLBFLUSH counters of /proc/vmstat
 * (nr_tlb_remote_flush: flushes a CPU started that had other CPUs in the
 * mm's cpumask, lazy ones included; nr_tlb_remote_flush_received: flush
 * IPIs that arrived).  Each test also fails if the kernel logged a report
 * (BUG, WARNING, Bad rss-counter, Bad page, ...) while it ran.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)

#define MAX_BYTES	"/proc/sys/vm/mshare_max_bytes"
#define NAME_PREFIX	"limits-"
#define LIMITS_CG	"/sys/fs/cgroup/mshare-limits"
#define NULLB_CFS	"/sys/kernel/config"
#define NULLB_NAME	"slow"
#define NULLB_DIR	NULLB_CFS "/nullb/" NULLB_NAME

/*
 * The largest region: (TASK_SIZE_MAX & PUD_MASK) - MSHARE_BASE (1 GiB),
 * where TASK_SIZE_MAX is 2^47 - 4096 with 4-level page tables and
 * 2^56 - 4096 with 5-level ones (QEMU's "-cpu max" has LA57, and the
 * kernel has CONFIG_X86_5LEVEL).  The kernel uses 5-level tables if a
 * fixed mapping above 2^47 works.
 */
static int va_bits(void)
{
	void *hint = (void *)(1UL << 52);
	void *p = mmap(hint, PG, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return 47;
	munmap(p, PG);
	return p == hint ? 56 : 47;
}

static unsigned long largest_size(void)
{
	unsigned long task_size_max = (1UL << va_bits()) - 4096;

	return (task_size_max & ~(RGN - 1)) - RGN;
}

/* --- small helpers ------------------------------------------------------ */

/* Write @s to @path: 0 or -errno. */
static int put_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(s))
		err = -EIO;
	close(fd);
	return err;
}

static int put_ulong(const char *path, unsigned long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", v);
	return put_str(path, buf);
}

/* An unsigned decimal file: 0 with the value in *@v, or -errno. */
static int get_ulong(const char *path, unsigned long *v)
{
	char buf[64];
	int ret = read_first_line(path, buf, sizeof(buf));

	if (ret)
		return ret;
	*v = strtoul(buf, NULL, 10);
	return 0;
}

struct flushes {
	long long sent, received;
};

static void flushes_take(struct flushes *f)
{
	f->sent = vmstat_raw("nr_tlb_remote_flush");
	f->received = vmstat_raw("nr_tlb_remote_flush_received");
}

/* Remove every msharefs name this program may have left. */
static void sweep_names(void)
{
	DIR *d = opendir(MSFS_DIR);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, NAME_PREFIX, strlen(NAME_PREFIX)))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

/* The names in msharefs, for a log line. */
static void list_names(char *buf, size_t len)
{
	DIR *d = opendir(MSFS_DIR);
	struct dirent *e;
	size_t off = 0;

	buf[0] = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && off + 2 < len)
		if (e->d_name[0] != '.' && strcmp(e->d_name, "mshare_info"))
			off += snprintf(buf + off, len - off, "%s ", e->d_name);
	closedir(d);
}

/*
 * A 1 GiB region of the kind @i picks: even, mshare_create(); odd, a
 * region created by name (@tag, @i) in msharefs.  Its fd, or -1 with errno.
 */
static int region_of_kind(int i, const char *tag, size_t size)
{
	char name[64];

	if (i % 2 == 0)
		return sys_mshare_create(size, 0);
	snprintf(name, sizeof(name), NAME_PREFIX "%s%d", tag, i);
	return msfs_create(name, size);
}

/*
 * mshare_create(@size) retried for up to 2 s while it gives ENOSPC (a
 * region may be freed a little after its last reference goes).  The fd or
 * -1; *@tries says how many attempts it took.
 */
static int create_retry(size_t size, int *tries)
{
	int fd = -1;

	for (*tries = 1; *tries <= 40; (*tries)++) {
		fd = sys_mshare_create(size, 0);
		if (fd >= 0 || errno != ENOSPC)
			break;
		sleep_ms(50);
	}
	return fd;
}

/*
 * How many GiB of budget the caller has left, up to @max: the largest
 * single region of 1..@max GiB that can be created (and is closed again).
 */
static int free_gib(int max)
{
	for (int n = max; n > 0; n--) {
		int tries, fd = create_retry(n * RGN, &tries);

		if (fd >= 0) {
			close(fd);
			return n;
		}
		if (errno != ENOSPC)
			return -1;
	}
	return 0;
}

/* --- the fixture: whatever a test changed is put back ------------------ */

FIXTURE(limits) {
	char saved_max[64];	/* the sysctl as it was; "" if untouched */
	bool nullb_made;
	bool cg_made;
	int kmsg;
};

FIXTURE_SETUP(limits)
{
	self->saved_max[0] = 0;
	self->nullb_made = false;
	self->cg_made = false;
	self->kmsg = kmsg_from_now();
}

static void nullb_down(void)
{
	put_str(NULLB_DIR "/power", "0");
	rmdir(NULLB_DIR);
}

FIXTURE_TEARDOWN(limits)
{
	sweep_names();
	if (self->saved_max[0])
		put_str(MAX_BYTES, self->saved_max);
	if (self->nullb_made)
		nullb_down();
	if (self->cg_made)
		rmdir(LIMITS_CG);
	if (self->kmsg >= 0)
		close(self->kmsg);
}

/* Save the sysctl (ASSERTs that it exists) for the teardown. */
static void save_max(struct __test_metadata *_metadata,
		     FIXTURE_DATA(limits) *self)
{
	int ret = read_first_line(MAX_BYTES, self->saved_max,
				  sizeof(self->saved_max));

	if (ret)
		self->saved_max[0] = 0;
	ASSERT_EQ(0, ret) TH_LOG("no %s (%s): this kernel has no per-user limit on mshare bytes",
				 MAX_BYTES, strerror(-ret));
}

static void set_max(struct __test_metadata *_metadata, unsigned long v)
{
	unsigned long back = 0;

	ASSERT_EQ(0, put_ulong(MAX_BYTES, v)) TH_LOG("writing %lu to %s", v, MAX_BYTES);
	ASSERT_EQ(0, get_ulong(MAX_BYTES, &back));
	ASSERT_EQ(v, back) TH_LOG("%s reads back %lu after writing %lu", MAX_BYTES,
				  back, v);
}

/* No kernel report since the fixture was set up. */
static void no_kernel_report(struct __test_metadata *_metadata,
			     FIXTURE_DATA(limits) *self)
{
	char line[512];

	if (self->kmsg < 0)
		return;
	EXPECT_FALSE(kmsg_report(self->kmsg, line, sizeof(line)))
		TH_LOG("kernel report: %s", line);
}

/* ------------------------------------------------------------------------ */

/*
 * The budget of one user, from a child running as uid 1000: create 1 GiB
 * regions (mixed kinds) until one fails.  Exit 0 if exactly 8 succeeded and
 * the 9th of each kind got ENOSPC.
 */
static void user_budget_child(void)
{
	int fds[16], n = 0, err = 0, fd;
	char name[64];

	CHILD_CHECK(setresgid(1000, 1000, 1000) == 0);
	CHILD_CHECK(setresuid(1000, 1000, 1000) == 0);
	CHILD_CHECK(geteuid() == 1000);
	while (n < 16) {
		fd = region_of_kind(n, "u", RGN);
		if (fd < 0) {
			err = errno;
			break;
		}
		fds[n++] = fd;
	}
	fprintf(stderr, "# uid 1000: %d regions of 1 GiB, then %s\n", n,
		strerror(err));
	/* The other kind too. */
	fd = region_of_kind(n + 1, "u", RGN);
	CHILD_CHECK(fd < 0 && errno == ENOSPC);
	for (int i = 0; i < n; i++) {
		close(fds[i]);
		if (i % 2) {
			snprintf(name, sizeof(name), NAME_PREFIX "u%d", i);
			CHILD_CHECK(msfs_unlink(name) == 0);
		}
	}
	CHILD_CHECK(n == 8);
	CHILD_CHECK(err == ENOSPC);
	_exit(0);
}

TEST_F_TIMEOUT(limits, max_bytes_per_user, 120)
{
	unsigned long def = 0;
	int fds[16], n = 0, err = 0, fd, fd2, tries, base;
	char names[512], *att;
	pid_t pid;

	save_max(_metadata, self);
	ASSERT_EQ(0, get_ulong(MAX_BYTES, &def));
	EXPECT_EQ(16UL << 40, def) TH_LOG("default %s is %lu, not 16 TiB", MAX_BYTES, def);
	set_max(_metadata, 8 * RGN);

	/* More than the limit at once: ENOSPC, whatever the user holds. */
	fd = sys_mshare_create(16 * RGN, 0);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENOSPC, errno) TH_LOG("mshare_create(16 GiB) under an 8 GiB limit: %s",
					fd < 0 ? strerror(errno) : "succeeded");
	if (fd >= 0)
		close(fd);
	fd = msfs_create(NAME_PREFIX "big", 16 * RGN);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENOSPC, errno) TH_LOG("ftruncate(16 GiB) of a named region under an 8 GiB limit: %s",
					fd < 0 ? strerror(errno) : "succeeded");
	if (fd >= 0)
		close(fd);
	msfs_unlink(NAME_PREFIX "big");

	/* Root holds nothing else: the whole 8 GiB is free. */
	base = free_gib(8);
	list_names(names, sizeof(names));
	ASSERT_EQ(8, base) TH_LOG("root can have only %d GiB of regions under an 8 GiB limit before this test made any (msharefs holds: %s)",
				  base, names);

	/* Exactly 8 regions of 1 GiB, then ENOSPC for either kind. */
	while (n < 16) {
		fd = region_of_kind(n, "r", RGN);
		if (fd < 0) {
			err = errno;
			break;
		}
		fds[n++] = fd;
	}
	TH_LOG("8 GiB limit: %d regions of 1 GiB (mshare_create and named, mixed), then %s",
	       n, strerror(err));
	ASSERT_EQ(8, n);
	ASSERT_EQ(ENOSPC, err);
	fd = region_of_kind(n + 1, "r", RGN);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENOSPC, errno) TH_LOG("the 9th region of the other kind: %s",
					fd < 0 ? strerror(errno) : "succeeded");

	/* Another user has a budget of its own. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		user_budget_child();
	EXPECT_TRUE(child_ok(pid, "uid 1000 budget"));
	fd = sys_mshare_create(RGN, 0);
	EXPECT_EQ(-1, fd) TH_LOG("root got a 9th GiB after uid 1000's regions went");
	if (fd >= 0)
		close(fd);

	/*
	 * fds[0], fds[2], ... are mshare_create() fds; fds[1], fds[3], ...
	 * named regions NAME_PREFIX "r1", "r3", ...
	 *
	 * An attachment holds the bytes after the fd is closed; the detach
	 * gives them back.
	 */
	att = ms_attach(fds[0], RGN, NULL, RW, 0);
	ASSERT_NE(NULL, att) TH_LOG("attach: %s", strerror(errno));
	close(fds[0]);
	fd = sys_mshare_create(RGN, 0);
	EXPECT_EQ(-1, fd) TH_LOG("a region's bytes came back while it was still attached");
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, munmap(att, RGN));
	fds[0] = create_retry(RGN, &tries);
	ASSERT_LE(0, fds[0]) TH_LOG("no region after the last attachment of one went: %s",
				    strerror(errno));
	if (tries > 1)
		TH_LOG("the detached region's bytes came back after %d tries", tries);
	fd = sys_mshare_create(RGN, 0);
	EXPECT_EQ(-1, fd) TH_LOG("two regions for the one freed");
	if (fd >= 0)
		close(fd);

	/* A name holds them after the fd is closed; the unlink gives them back. */
	close(fds[1]);
	fd = sys_mshare_create(RGN, 0);
	EXPECT_EQ(-1, fd) TH_LOG("a region's bytes came back while it still had a name");
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, msfs_unlink(NAME_PREFIX "r1"));
	fds[1] = create_retry(RGN, &tries);
	ASSERT_LE(0, fds[1]) TH_LOG("no region after the name of one went: %s",
				    strerror(errno));
	fd = sys_mshare_create(RGN, 0);
	EXPECT_EQ(-1, fd) TH_LOG("two regions for the one freed");
	if (fd >= 0)
		close(fd);

	/* An fd holds them after the unlink; closing it gives them back. */
	ASSERT_EQ(0, msfs_unlink(NAME_PREFIX "r3"));
	fd = sys_mshare_create(RGN, 0);
	EXPECT_EQ(-1, fd) TH_LOG("a region's bytes came back while an fd was still open");
	if (fd >= 0)
		close(fd);
	close(fds[3]);
	fds[3] = msfs_create(NAME_PREFIX "r3", RGN);
	if (fds[3] < 0 && errno == ENOSPC) {
		sleep_ms(500);
		fds[3] = msfs_create(NAME_PREFIX "r3", RGN);
	}
	ASSERT_LE(0, fds[3]) TH_LOG("no named region after the last fd of an unlinked one closed: %s",
				    strerror(errno));

	/* The plain case: closing the only fd of an unnamed region. */
	close(fds[2]);
	fds[2] = create_retry(RGN, &tries);
	ASSERT_LE(0, fds[2]) TH_LOG("no region after the fd of one closed: %s",
				    strerror(errno));
	fd2 = region_of_kind(1, "x", RGN);
	EXPECT_EQ(-1, fd2) TH_LOG("a 9th region after one was freed and replaced");
	if (fd2 >= 0)
		close(fd2);

	/* Everything freed: the whole budget is back. */
	for (int i = 0; i < n; i++)
		close(fds[i]);
	sweep_names();
	fd = create_retry(8 * RGN, &tries);
	EXPECT_LE(0, fd) TH_LOG("8 GiB not free again after every region went: %s",
				strerror(errno));
	if (fd >= 0)
		close(fd);
	no_kernel_report(_metadata, self);
}

/* ------------------------------------------------------------------------ */

/* Join the memcg, then ask for a region of @size as @how says. */
static void largest_child(int how, unsigned long size)
{
	char me[32], cg[256];
	int fd;

	snprintf(me, sizeof(me), "%d", getpid());
	CHILD_CHECK(put_str(LIMITS_CG "/cgroup.procs", me) == 0);
	CHILD_CHECK(read_first_line("/proc/self/cgroup", cg, sizeof(cg)) == 0);
	CHILD_CHECK(strstr(cg, "mshare-limits") != NULL);
	if (how == 0) {
		fd = sys_mshare_create(size, 0);
	} else {
		fd = open(MSFS_DIR "/" NAME_PREFIX "largest", O_RDWR | O_CREAT | O_EXCL, 0600);
		CHILD_CHECK(fd >= 0);
		if (ftruncate(fd, size))
			fd = -1;
	}
	if (fd >= 0)
		_exit(0);
	if (errno == ENOMEM)
		_exit(10);
	if (errno == EINTR)
		_exit(11);
	if (errno == EINVAL)
		_exit(13);
	fprintf(stderr, "# child: %s\n", strerror(errno));
	_exit(12);
}

/* The value of @key in LIMITS_CG's @file (memory.events, memory.stat), or -1. */
static long cg_value(const char *file, const char *key)
{
	char line[128], path[128];
	size_t len = strlen(key);
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), LIMITS_CG "/%s", file);
	f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ' ')
			val = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return val;
}

static long cg_event(const char *key)
{
	return cg_value("memory.events", key);
}

TEST_F_TIMEOUT(limits, largest_size_in_small_memcg, 300)
{
	static const char *const what[] = { "mshare_create()", "ftruncate() of a named region" };
	bool have_max = read_first_line(MAX_BYTES, self->saved_max,
					sizeof(self->saved_max)) == 0;
	unsigned long largest = largest_size();
	struct memsnap before, now;
	int fd, status;

	if (!have_max) {
		self->saved_max[0] = 0;
		TH_LOG("no %s: this kernel has no per-user limit", MAX_BYTES);
	} else {
		set_max(_metadata, ~0UL);
	}

	/* Nothing larger is taken (this fails before allocating anything). */
	TH_LOG("%d-bit user address space: the largest region is %#lx (%lu GiB, %lu MiB of PMD tables)",
	       va_bits(), largest, largest / RGN, (largest / RGN) >> 8);
	fd = sys_mshare_create(largest + RGN, 0);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EINVAL, errno) TH_LOG("mshare_create(%#lx), 1 GiB above the largest: %s",
					largest + RGN, fd < 0 ? strerror(errno) : "succeeded");
	if (fd >= 0)
		close(fd);

	ASSERT_EQ(0, put_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory"));
	rmdir(LIMITS_CG);
	ASSERT_EQ(0, mkdir(LIMITS_CG, 0755)) TH_LOG("mkdir %s: %s", LIMITS_CG, strerror(errno));
	self->cg_made = true;
	ASSERT_EQ(0, put_str(LIMITS_CG "/memory.max", "16M"));

	mem_settle();
	memsnap_take(&before);
	for (int how = 0; how < 2; how++) {
		long oom0 = cg_event("oom_kill"), max0 = cg_event("max");
		double t0 = now_sec();
		const char *outcome;
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			largest_child(how, largest);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (killed_by(status, SIGKILL))
			outcome = "the child was killed (SIGKILL, memcg OOM)";
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 10)
			outcome = "ENOMEM";
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 11)
			outcome = "EINTR";
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			outcome = "SUCCEEDED";
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 13)
			outcome = "EINVAL (the size was refused: not the largest?)";
		else
			outcome = NULL;
		TH_LOG("%s of %lu GiB in a 16M memcg: %s (in %.2f s; memcg events: oom_kill %+ld, max %+ld)",
		       what[how], largest / RGN,
		       outcome ? outcome : "unexpected", now_sec() - t0,
		       cg_event("oom_kill") - oom0, cg_event("max") - max0);
		EXPECT_NE(NULL, outcome) TH_LOG("child status %#x", status);
		if (outcome) {
			EXPECT_STRNE("SUCCEEDED", outcome)
				TH_LOG("the region's page tables were not limited by the memcg");
			/* A clear errno, not the memcg OOM killer. */
			EXPECT_STREQ("ENOMEM", outcome);
		}
		msfs_unlink(NAME_PREFIX "largest");

		/* The page tables it got are all freed again. */
		EXPECT_TRUE(mem_back_to(&before, &now, 1024, 100, 100))
			TH_LOG("after %s: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
			       what[how], now.pagetables - before.pagetables,
			       now.shmem - before.shmem, now.anon - before.anon);
		TH_LOG("PageTables after %s: %+ld kB from before", what[how],
		       now.pagetables - before.pagetables);
	}

	/* The parent is fine, and can make a region. */
	fd = sys_mshare_create(RGN, 0);
	EXPECT_LE(0, fd) TH_LOG("mshare_create(1 GiB) in the parent: %s", strerror(errno));
	if (fd >= 0)
		close(fd);

	/* The failed sizes gave their bytes back to the user. */
	if (have_max) {
		int got;

		set_max(_metadata, 8 * RGN);
		got = free_gib(8);
		EXPECT_EQ(8, got) TH_LOG("after the failures root has %d GiB of an 8 GiB budget",
					 got);
	}
	for (int i = 0; i < 50 && rmdir(LIMITS_CG) && errno == EBUSY; i++)
		sleep_ms(100);
	self->cg_made = access(LIMITS_CG, F_OK) == 0;
	EXPECT_FALSE(self->cg_made) TH_LOG("rmdir %s: %s", LIMITS_CG, strerror(errno));
	no_kernel_report(_metadata, self);
}

/* ------------------------------------------------------------------------ */

/* Bring up null_blk "slow": 64 MB, 0.8 s per I/O.  Its device path. */
static void nullb_up(struct __test_metadata *_metadata,
		     FIXTURE_DATA(limits) *self, char *dev, size_t len)
{
	char path[128], buf[64], name[32];
	unsigned long idx;
	unsigned int maj, min;
	struct stat st;
	int ret;

	if (access(NULLB_CFS "/nullb", F_OK)) {
		mkdir(NULLB_CFS, 0755);
		syscall(SYS_mount, "none", NULLB_CFS, "configfs", 0UL, NULL);
	}
	ASSERT_EQ(0, access(NULLB_CFS "/nullb", F_OK))
		TH_LOG("no %s/nullb: this kernel has no null_blk (CONFIG_BLK_DEV_NULL_BLK) or no configfs",
		       NULLB_CFS);
	if (!access(NULLB_DIR, F_OK))
		nullb_down();	/* left by an earlier run */
	ASSERT_EQ(0, mkdir(NULLB_DIR, 0755)) TH_LOG("mkdir %s: %s", NULLB_DIR, strerror(errno));
	self->nullb_made = true;
	ASSERT_EQ(0, put_str(NULLB_DIR "/irqmode", "2"));
	ASSERT_EQ(0, put_str(NULLB_DIR "/completion_nsec", "800000000"));
	ASSERT_EQ(0, put_str(NULLB_DIR "/size", "64"));
	ASSERT_EQ(0, put_str(NULLB_DIR "/blocksize", "4096"));
	ret = put_str(NULLB_DIR "/power", "1");
	ASSERT_EQ(0, ret) TH_LOG("power on null_blk: %s", strerror(-ret));
	/* A configfs device is named after its directory; else nullbN. */
	ASSERT_EQ(0, get_ulong(NULLB_DIR "/index", &idx));
	if (!access("/sys/block/" NULLB_NAME, F_OK))
		snprintf(name, sizeof(name), "%s", NULLB_NAME);
	else
		snprintf(name, sizeof(name), "nullb%lu", idx);
	snprintf(dev, len, "/dev/%s", name);
	for (int i = 0; i < 40 && stat(dev, &st); i++)
		sleep_ms(50);
	if (stat(dev, &st)) {
		snprintf(path, sizeof(path), "/sys/block/%s/dev", name);
		ASSERT_EQ(0, read_first_line(path, buf, sizeof(buf)));
		ASSERT_EQ(2, sscanf(buf, "%u:%u", &maj, &min));
		ASSERT_EQ(0, mknod(dev, S_IFBLK | 0600, makedev(maj, min)))
			TH_LOG("mknod %s: %s", dev, strerror(errno));
	}
}

struct io_reader {
	char *addr;
	bool plain;
	volatile int started;
	double t_start, t_end;
	ssize_t ret;
	int err;
};

/*
 * Thread 1: one byte at @addr, with process_vm_readv() of itself (GUP,
 * under the mmap_lock) or with a plain load (a user fault, which tries the
 * per-VMA lock first).
 */
static void *io_reader_fn(void *arg)
{
	struct io_reader *r = arg;
	char byte;
	struct iovec local = { &byte, 1 }, remote = { r->addr, 1 };

	r->t_start = now_sec();
	__atomic_store_n(&r->started, 1, __ATOMIC_RELEASE);
	if (r->plain) {
		byte = *(volatile char *)r->addr;
		r->ret = 1;
	} else {
		r->ret = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	}
	r->err = errno;
	r->t_end = now_sec();
	(void)byte;
	return NULL;
}

/*
 * One round: thread 1 reads a cold page at @addr; 100 ms later this thread
 * times an mmap()+munmap() of its own.  The I/O time and the lock time.
 */
static int lock_round(char *addr, bool plain, double *io, double *lock,
		      char *why, size_t len)
{
	struct io_reader r = { .addr = addr, .plain = plain };
	pthread_t th;
	double t0, t1;
	void *p;

	if (pthread_create(&th, NULL, io_reader_fn, &r)) {
		snprintf(why, len, "pthread_create failed");
		return -1;
	}
	while (!__atomic_load_n(&r.started, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	while (now_sec() < r.t_start + 0.1)
		sleep_ms(5);
	t0 = now_sec();
	p = mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		munmap(p, PG);
	t1 = now_sec();
	pthread_join(th, NULL);
	*io = r.t_end - r.t_start;
	*lock = t1 - t0;
	if (p == MAP_FAILED) {
		snprintf(why, len, "mmap: %s", strerror(errno));
		return -1;
	}
	if (r.ret != 1) {
		snprintf(why, len, "process_vm_readv of %p: %zd (%s)", addr, r.ret,
			 strerror(r.err));
		return -1;
	}
	return 0;
}

struct round_result {
	double io, lock;
	int ret;
	char why[200];
};

/*
 * A plain-load round in a forked child (a sharer by fork), so that a
 * fault that fails with SIGSEGV/SIGBUS kills the child only.  The child's
 * wait status; its figures in *@res.
 */
static int lock_round_child(char *addr, struct round_result *res)
{
	int pfd[2], status = -1;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->ret = -1;
	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct round_result r = { 0 };

		close(pfd[0]);
		r.ret = lock_round(addr, true, &r.io, &r.lock, r.why, sizeof(r.why));
		if (write(pfd[1], &r, sizeof(r)) != sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], res, sizeof(*res)) != sizeof(*res))
		res->ret = -1;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return status;
}

TEST_F_TIMEOUT(limits, no_sharer_lock_across_region_io, 180)
{
	static const char *const kind[] = { "inside a region", "ordinary MAP_SHARED" };
	char dev[64], *att, *ctl, *base;
	int fd, bfd, slow[2] = { 0, 0 }, killed[2] = { 0, 0 };
	const int gup_rounds = 4, rounds = 6;

	nullb_up(_metadata, self, dev, sizeof(dev));
	bfd = open(dev, O_RDONLY);
	ASSERT_LE(0, bfd) TH_LOG("open %s: %s", dev, strerror(errno));

	fd = ms_must_create(_metadata, RGN);
	att = ms_must_attach(_metadata, fd, RGN, NULL, RW);
	ms_must_map(_metadata, att, 64 * MiB, PROT_READ, MAP_SHARED | MAP_FIXED, bfd);
	ctl = mmap(NULL, 64 * MiB, PROT_READ, MAP_SHARED, bfd, 0);
	ASSERT_NE(MAP_FAILED, ctl);

	for (int k = 0; k < 2; k++) {
		base = k == 0 ? att : ctl;
		for (int i = 0; i < rounds; i++) {
			/* A page that neither mapping nor readahead has read. */
			size_t off = (k * 32 + 2 + i * 4) * MiB;
			bool plain = i >= gup_rounds;
			struct round_result r;
			const char *how = plain ? "plain load (child)" : "GUP read";

			if (plain) {
				int status = lock_round_child(base + off, &r);

				if (WIFSIGNALED(status)) {
					TH_LOG("%s, round %d: %s of a cold page: killed by signal %d (%s)",
					       kind[k], i, how, WTERMSIG(status),
					       strsignal(WTERMSIG(status)));
					killed[k]++;
					continue;
				}
			} else {
				r.ret = lock_round(base + off, false, &r.io, &r.lock,
						   r.why, sizeof(r.why));
			}
			ASSERT_EQ(0, r.ret) TH_LOG("%s, round %d: %s", kind[k], i, r.why);
			TH_LOG("%s, round %d: %s of a cold page %.3f s, mmap+munmap meanwhile %.3f s",
			       kind[k], i, how, r.io, r.lock);
			EXPECT_LE(0.7, r.io) TH_LOG("the read did not wait for the device's I/O");
			if (r.lock >= 0.3)
				slow[k]++;
		}
	}
	EXPECT_EQ(0, slow[0]) TH_LOG("%d of %d rounds: mmap() waited for a region fault's I/O (the sharer's mmap_lock held across it)",
				     slow[0], rounds);
	EXPECT_EQ(0, killed[0]) TH_LOG("%d of %d plain loads of a cold page inside the region killed the sharer",
				       killed[0], rounds - gup_rounds);
	EXPECT_EQ(0, slow[1]) TH_LOG("control: %d of %d rounds: mmap() waited for an ordinary fault's I/O",
				     slow[1], rounds);
	EXPECT_EQ(0, killed[1]) TH_LOG("control: %d plain loads killed the process", killed[1]);

	EXPECT_EQ(0, munmap(ctl, 64 * MiB));
	EXPECT_EQ(0, munmap(att, RGN));
	close(fd);
	close(bfd);
	nullb_down();
	self->nullb_made = access(NULLB_DIR, F_OK) == 0;
	EXPECT_FALSE(self->nullb_made) TH_LOG("null_blk device %s not removed", NULLB_DIR);
	no_kernel_report(_metadata, self);
}

/* ------------------------------------------------------------------------ */

/* ASSERTs that the counters exist; false if there is one CPU only. */
static bool need_flush_counters(struct __test_metadata *_metadata)
{
	struct flushes f;

	flushes_take(&f);
	ASSERT_TRUE(f.sent >= 0 && f.received >= 0)
		TH_LOG("no nr_tlb_remote_flush/nr_tlb_remote_flush_received in /proc/vmstat: a kernel without CONFIG_VM_EVENT_COUNTERS and CONFIG_DEBUG_TLBFLUSH cannot show its TLB flushes");
	return sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

/* Thread B: on CPU 1, touch what it is told, then block in read(). */
struct lazy_b {
	int cmd[2], done[2];
	volatile char *att;	/* populated region pages */
	size_t att_len;
	volatile char *anon;	/* the control's pages */
	size_t anon_len;
	pid_t tid;
	int bad_cpu;
};

static void *lazy_b_fn(void *arg)
{
	struct lazy_b *b = arg;
	char c;

	b->tid = syscall(SYS_gettid);
	if (pin_to_cpu(1))
		b->bad_cpu = -1;
	for (;;) {
		if (read(b->cmd[0], &c, 1) != 1 || c == 'Q')
			break;
		for (size_t off = 0; off < b->att_len; off += PG)
			(void)b->att[off];
		for (size_t off = 0; off < b->anon_len; off += PG)
			(void)b->anon[off];
		if (sched_getcpu() != 1)
			b->bad_cpu = sched_getcpu();
		if (write(b->done[1], &c, 1) != 1)
			break;
	}
	return NULL;
}

/* Have B touch its pages on CPU 1 and block again; CPU 1 then idles lazily. */
static int lazy_b_touch(struct lazy_b *b)
{
	char c = 'T';

	if (write(b->cmd[1], &c, 1) != 1 || read(b->done[0], &c, 1) != 1)
		return -1;
	for (int i = 0; i < 200 && !thread_sleeping(b->tid); i++)
		sleep_ms(5);
	if (!thread_sleeping(b->tid))
		return -1;
	sleep_ms(20);
	return 0;
}

TEST_F_TIMEOUT(limits, detach_flushes_lazy_cpus, 120)
{
	const int rounds = 10;
	struct lazy_b b = { .att_len = 2 * MiB };
	struct flushes f0, f1;
	int flushed = 0, ctl_sent = 0, ctl_ipi = 0;
	pthread_t th;
	char c = 'Q';

	if (!need_flush_counters(_metadata))
		SKIP(return, "one CPU: no remote flushes");
	ASSERT_EQ(0, pin_to_cpu(0));
	ASSERT_EQ(0, pipe(b.cmd));
	ASSERT_EQ(0, pipe(b.done));

	for (int i = 0; i < rounds; i++) {
		int fd = ms_must_create(_metadata, RGN);
		char *att = ms_must_attach(_metadata, fd, RGN, NULL, RW);
		char *res, *anon;
		long long sent, recv;

		/*
		 * Populated by the region (MAP_POPULATE), not by faults of
		 * this process: B reads it through the linked tables.
		 */
		ms_must_map(_metadata, att, b.att_len, RW,
			    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1);

		/* Three pages in one PTE table, no THP: unmapping one frees no table. */
		res = mmap(NULL, 4 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, res);
		ASSERT_EQ(0, madvise(res, 4 * MiB, MADV_NOHUGEPAGE));
		anon = (char *)(((uintptr_t)res + 2 * MiB - 1) & ~(2 * MiB - 1)) + 8 * PG;
		memset(anon, 1, 3 * PG);

		b.att = att;
		b.anon = anon;
		b.anon_len = 3 * PG;
		if (i == 0) {
			ASSERT_EQ(0, pthread_create(&th, NULL, lazy_b_fn, &b));
		}

		/* The control: clear one PTE while CPU 1 is lazy in this mm. */
		ASSERT_EQ(0, lazy_b_touch(&b)) TH_LOG("thread B did not block after touching");
		flushes_take(&f0);
		ASSERT_EQ(0, munmap(anon + PG, PG));
		flushes_take(&f1);
		sent = f1.sent - f0.sent;
		recv = f1.received - f0.received;
		ctl_sent += sent > 0;
		ctl_ipi += recv > 0;
		TH_LOG("round %d: munmap of 1 anonymous page: nr_tlb_remote_flush %+lld, received %+lld",
		       i, sent, recv);

		/* The detach, in the same conditions (B skips the page unmapped). */
		b.anon = anon + 2 * PG;
		b.anon_len = PG;
		ASSERT_EQ(0, lazy_b_touch(&b)) TH_LOG("thread B did not block after touching");
		flushes_take(&f0);
		ASSERT_EQ(0, munmap(att, RGN));
		flushes_take(&f1);
		sent = f1.sent - f0.sent;
		recv = f1.received - f0.received;
		flushed += sent > 0 && recv > 0;
		TH_LOG("round %d: detach (munmap of the attachment): nr_tlb_remote_flush %+lld, received %+lld",
		       i, sent, recv);

		close(fd);
		munmap(res, 4 * MiB);
	}
	ASSERT_EQ(1, write(b.cmd[1], &c, 1));
	pthread_join(th, NULL);
	EXPECT_EQ(0, b.bad_cpu) TH_LOG("thread B ran on CPU %d, not 1", b.bad_cpu);
	TH_LOG("detach flushed the lazy CPU in %d of %d rounds; the 1-page control sent %d and delivered %d",
	       flushed, rounds, ctl_sent, ctl_ipi);
	EXPECT_LE(rounds * 7 / 10, flushed)
		TH_LOG("a detach did not flush CPU 1, idle in lazy-TLB mode with this mm, in most rounds");
	no_kernel_report(_metadata, self);
}

TEST_F_TIMEOUT(limits, teardown_sends_no_flush, 60)
{
	const int rounds = 3;
	struct flushes f0, f1;
	long long noise_sent, noise_recv;
	int quiet = 0;

	if (!need_flush_counters(_metadata))
		SKIP(return, "one CPU: no remote flushes");

	for (int i = 0; i < rounds; i++) {
		for (int named = 0; named < 2; named++) {
			int fd = named ? msfs_create(NAME_PREFIX "teardown", RGN)
				       : sys_mshare_create(RGN, 0);
			int fd2;
			char *att;
			long long sent, recv;

			ASSERT_LE(0, fd) TH_LOG("region: %s", strerror(errno));
			att = ms_must_attach(_metadata, fd, RGN, NULL, RW);
			ms_must_map(_metadata, att, 2 * MiB, RW,
				    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1);
			ASSERT_EQ(0, munmap(att, RGN));

			/* The noise: closing an fd that is not the last. */
			fd2 = dup(fd);
			flushes_take(&f0);
			close(fd2);
			flushes_take(&f1);
			noise_sent = f1.sent - f0.sent;
			noise_recv = f1.received - f0.received;

			/* The last reference: the fd, or (named) the name. */
			if (named)
				close(fd);
			flushes_take(&f0);
			if (named) {
				ASSERT_EQ(0, msfs_unlink(NAME_PREFIX "teardown"));
			} else {
				close(fd);
			}
			flushes_take(&f1);
			sent = f1.sent - f0.sent;
			recv = f1.received - f0.received;
			quiet += sent == 0;
			TH_LOG("round %d: %s: nr_tlb_remote_flush %+lld, received %+lld (closing another fd: %+lld, %+lld)",
			       i, named ? "unlink of the last name" : "close of the last fd",
			       sent, recv, noise_sent, noise_recv);
		}
	}
	/* Most rounds: another CPU may start a flush of its own meanwhile. */
	EXPECT_LE(2 * rounds - 1, quiet) TH_LOG("freeing an unattached region flushed remote CPUs in %d of %d rounds",
						2 * rounds - quiet, 2 * rounds);
	no_kernel_report(_metadata, self);
}

/* ------------------------------------------------------------------------ */

/*
 * RLIMIT_MEMLOCK is per user, not per region: a child running as uid 1000
 * with RLIMIT_MEMLOCK of 1 MiB maps 512 KiB of shared anonymous memory
 * inside each of three regions and mlock()s each: the first two fit the
 * limit together, the third must fail with ENOMEM (on a kernel that
 * counts per region, all three succeed); after munlock() of one, it fits.
 * Exit 0 if so.
 */
#define ML_LEN	(512 * 1024UL)

static void memlock_child(void)
{
	struct rlimit rl = { 1024 * 1024, 1024 * 1024 };
	char *att[3], *in[3];
	int fd[3], r[3];

	CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	CHILD_CHECK(setresgid(1000, 1000, 1000) == 0);
	CHILD_CHECK(setresuid(1000, 1000, 1000) == 0);
	for (int i = 0; i < 3; i++) {
		fd[i] = sys_mshare_create(RGN, 0);
		CHILD_CHECK(fd[i] >= 0);
		att[i] = ms_attach(fd[i], RGN, NULL, RW, 0);
		CHILD_CHECK(att[i] != MAP_FAILED);
		in[i] = mmap(att[i] + 2 * MiB, ML_LEN, RW,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		CHILD_CHECK(in[i] == att[i] + 2 * MiB);
	}
	for (int i = 0; i < 3; i++) {
		r[i] = mlock(in[i], ML_LEN) ? errno : 0;
		fprintf(stderr, "# uid 1000, RLIMIT_MEMLOCK 1 MiB: mlock of 512 KiB in region %d: %s\n",
			i, r[i] ? strerror(r[i]) : "ok");
	}
	CHILD_CHECK(r[0] == 0 && r[1] == 0);
	CHILD_CHECK(r[2] == ENOMEM);
	CHILD_CHECK(munlock(in[0], ML_LEN) == 0);
	CHILD_CHECK(mlock(in[2], ML_LEN) == 0);
	for (int i = 0; i < 3; i++) {
		CHILD_CHECK(munmap(att[i], RGN) == 0);
		close(fd[i]);
	}
	_exit(0);
}

TEST_F_TIMEOUT(limits, memlock_per_user_across_regions, 60)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0)
		memlock_child();
	EXPECT_TRUE(child_ok(pid, "uid 1000 mlocks inside three regions"));
	no_kernel_report(_metadata, self);
}

/* ------------------------------------------------------------------------ */

/*
 * What khugepaged allocates for a region (a collapse into a THP) is
 * charged to the memcg of the region's creator, not to the root: a child
 * in LIMITS_CG creates a region, fills 4 MiB of private anonymous memory
 * inside it in small pages, then madvise(MADV_HUGEPAGE) (acted on by the
 * region), and waits; khugepaged collapses it.  The cgroup's anon_thp must
 * grow.  On a kernel that charges khugepaged's work on a region to the
 * root, the system's AnonHugePages grows and the cgroup's anon_thp stays 0.
 */
#define KHP_SYS		"/sys/kernel/mm/transparent_hugepage/"
#define KHP_LEN		(4 * MiB)

static const char *const khp_knobs[] = {
	KHP_SYS "enabled", KHP_SYS "khugepaged/scan_sleep_millisecs",
	KHP_SYS "khugepaged/alloc_sleep_millisecs", KHP_SYS "khugepaged/pages_to_scan",
};
static const char *const khp_vals[] = { "madvise", "10", "10", "4096" };

static void khp_child(int sock)
{
	char *att, *in;
	int fd;

	CHILD_CHECK(put_str(LIMITS_CG "/cgroup.procs", "0") == 0);
	fd = sys_mshare_create(RGN, 0);
	CHILD_CHECK(fd >= 0);
	att = ms_attach(fd, RGN, NULL, RW, 0);
	CHILD_CHECK(att != MAP_FAILED);
	in = mmap(att + 4 * MiB, KHP_LEN, RW,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHILD_CHECK(in == att + 4 * MiB);
	fill_pat(in, KHP_LEN, PG, 0x4b, 0);
	CHILD_CHECK(madvise(in, KHP_LEN, MADV_HUGEPAGE) == 0);
	CHILD_CHECK(sock_send(sock, 'r') == 0);
	sock_recv(sock);	/* until the parent has looked */
	CHILD_CHECK(check_pat(in, KHP_LEN, PG, 0x4b, 0) < 0);
	_exit(0);
}

TEST_F_TIMEOUT(limits, khugepaged_charges_creator_memcg, 120)
{
	char saved[4][64];
	long thp = 0, sys0, sys = 0;
	int sv[2];
	pid_t pid;

	if (access(KHP_SYS "khugepaged", F_OK))
		SKIP(return, "no THP in this kernel");
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, read_first_line(khp_knobs[i], saved[i], sizeof(saved[i])));
		ASSERT_EQ(0, put_str(khp_knobs[i], khp_vals[i]));
	}
	ASSERT_EQ(0, put_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory"));
	rmdir(LIMITS_CG);
	ASSERT_EQ(0, mkdir(LIMITS_CG, 0755));
	self->cg_made = true;
	sys0 = meminfo_kb("AnonHugePages");

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		khp_child(sv[1]);
	}
	close(sv[1]);
	ASSERT_EQ('r', sock_recv(sv[0]));
	for (int t = 0; t < 600 && thp <= 0; t++) {
		sleep_ms(100);
		thp = cg_value("memory.stat", "anon_thp");
		sys = meminfo_kb("AnonHugePages") - sys0;
	}
	TH_LOG("after khugepaged: the creator's memcg anon_thp %ld kB; system AnonHugePages %+ld kB",
	       thp / 1024, sys);
	EXPECT_LT(0, thp) TH_LOG("khugepaged's collapse in the region was not charged to its creator's memcg");
	sock_send(sv[0], 'q');
	EXPECT_TRUE(child_ok(pid, "region creator in the memcg"));
	close(sv[0]);
	for (int i = 0; i < 4; i++) {
		/* "enabled" reads "always [madvise] never": put the chosen one back */
		char *b = strchr(saved[i], '['), *e = b ? strchr(b, ']') : NULL;

		if (b && e) {
			*e = 0;
			put_str(khp_knobs[i], b + 1);
		} else {
			put_str(khp_knobs[i], saved[i]);
		}
	}
	rmdir(LIMITS_CG);
	self->cg_made = access(LIMITS_CG, F_OK) == 0;
	no_kernel_report(_metadata, self);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: the region boundary.  Regression tests for paths where what a
 * sharer's own attachment VMA says (its flags, its mm, its ABI) was used
 * for the region's memory, or where the flags of the region's own VMAs
 * were not applied through an attachment:
 *
 *  - reaper_mrelease_ro_sharer: process_mrelease() of an exiting sharer
 *    that attached read-only (its attachment VMA is not VM_SHARED, which
 *    the reaper takes for private memory) must not zap the region: the
 *    other sharers' private anonymous, shared anonymous and memfd data
 *    survive, and no rss counter goes bad
 *  - memcg_oom_ro_sharer: the same for the OOM reaper, after a memcg OOM
 *    kill of a read-only sharer
 *  - protnone_inside_gup, protread_inside_gup: after mprotect(PROT_NONE or
 *    PROT_READ) of a range strictly inside an attachment, every GUP user
 *    (process_vm_readv/writev from the process and from a child sharer,
 *    /proc/PID/mem with FOLL_FORCE, O_DIRECT read and write on ext4,
 *    vmsplice, io_uring buffer registration) gives what it gives for an
 *    ordinary mapping of the same kind with the same protection
 *  - protnone_attachment: an attachment made PROT_NONE reads nothing of
 *    the region (SIGSEGV, process_vm_readv EFAULT); a refusal of the
 *    attach itself with EINVAL or EACCES is accepted instead
 *  - noexec_attachment: code mapped PROT_EXEC in the region runs through
 *    a PROT_EXEC attachment and not through one without PROT_EXEC
 *  - dontdump_inside_coredump: MADV_DONTDUMP inside an attachment keeps
 *    that range's data out of a sharer's core dump; the rest is dumped
 *  - compat_last_reference: a 32-bit process (build/tests/mshare_compat32,
 *    from tests/compat32/) that drops the last reference to a populated
 *    region frees all of it: PageTables, Shmem and AnonPages go back to
 *    where they were, and the kernel reports nothing
 *
 * Each test also fails if the kernel logged a report (BUG, WARNING, Bad
 * rss-counter, Bad page, ...) while it ran.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <liburing.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define RWX		(PROT_READ | PROT_WRITE | PROT_EXEC)
#define ADDR_C		((char *)(256 * GiB))

#define EXT4_DIR	"/tmp/mshare_boundary.ext4"
#define CORE_PATTERN	"/proc/sys/kernel/core_pattern"

/* What the fixture's teardown puts back. */
static char saved_core_pattern[256];
static char cgroup_dir[128];

FIXTURE(boundary) {};
FIXTURE_SETUP(boundary) {}
FIXTURE_TEARDOWN(boundary)
{
	if (saved_core_pattern[0]) {
		write_file(CORE_PATTERN, saved_core_pattern);
		saved_core_pattern[0] = 0;
	}
	ramdisk_ext4_umount(EXT4_DIR);
	if (cgroup_dir[0]) {
		for (int i = 0; i < 50 && rmdir(cgroup_dir) && errno == EBUSY; i++)
			sleep_ms(100);
		cgroup_dir[0] = 0;
	}
}

/*
 * EXPECT that the kernel logged no report (the lines the host's verdict
 * fails a run on) since @kfd was opened with kmsg_from_now().  Reports can
 * come a moment late (the last mmdrop() of an exited task), so wait a
 * little first.
 */
static void expect_no_report(struct __test_metadata *_metadata, int kfd)
{
	char line[512] = "";

	if (kfd < 0)
		return;
	sleep_ms(300);
	EXPECT_FALSE(kmsg_report(kfd, line, sizeof(line)))
		TH_LOG("the kernel reported: %s", line);
	close(kfd);
}

/* ------------------------------------------------------------------------ */
/* Three kinds of memory inside a region, at these offsets of it. */

#define NKINDS		3
#define K_LEN		(1 * MiB)
#define K_TAG(k)	(0xb0 + (k))

static const size_t k_off[NKINDS] = { 2 * MiB, 6 * MiB, 10 * MiB };
static const char *const k_name[NKINDS] = {
	"private anonymous", "shared anonymous", "memfd",
};

/* Map the three kinds inside attachment @a and fill them; the memfd. */
static int kinds_populate(struct __test_metadata *_metadata, char *a)
{
	int memfd = memfd_sized("boundary", K_LEN);

	ASSERT_LE(0, memfd);
	ms_must_map(_metadata, a + k_off[0], K_LEN, RW,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	ms_must_map(_metadata, a + k_off[1], K_LEN, RW,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	ms_must_map(_metadata, a + k_off[2], K_LEN, RW, MAP_SHARED | MAP_FIXED, memfd);
	for (int k = 0; k < NKINDS; k++)
		fill_pat(a + k_off[k], K_LEN, PG, K_TAG(k), 0);
	return memfd;
}

/* Pages of kind @k at attachment @a that do not hold their pattern. */
static size_t kind_bad_pages(const char *a, int k)
{
	size_t bad = 0;

	for (size_t off = 0; off < K_LEN; off += PG)
		if (*wordp((char *)a + k_off[k], off, 0) != pat(K_TAG(k), off / PG))
			bad++;
	return bad;
}

/* The first kind damaged at attachment @a, or -1. */
static int kinds_damaged(const char *a)
{
	for (int k = 0; k < NKINDS; k++)
		if (check_pat(a + k_off[k], K_LEN, PG, K_TAG(k), 0) >= 0)
			return k;
	return -1;
}

static void kinds_expect_intact(struct __test_metadata *_metadata,
				const char *a, const char *who)
{
	for (int k = 0; k < NKINDS; k++) {
		long off = check_pat(a + k_off[k], K_LEN, PG, K_TAG(k), 0);

		EXPECT_EQ(-1, off)
			TH_LOG("%s: the region's %s data is damaged: %zu of %lu pages wrong, the first at +%#lx reads %#llx (wrote %#llx)",
			       who, k_name[k], kind_bad_pages(a, k), K_LEN / PG, off,
			       off >= 0 ? (unsigned long long)*wordp((char *)a + k_off[k], off, 0) : 0ULL,
			       off >= 0 ? (unsigned long long)pat(K_TAG(k), off / PG) : 0ULL);
	}
}

/*
 * A third sharer, attached read-write at ADDR_C (it inherits the region
 * fd @fd): it checks the data at once, then again each time it gets 'c',
 * answering 'y' (intact) or 'n'; anything else ends it.
 */
static pid_t third_start(struct __test_metadata *_metadata, int fd, int *sock)
{
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *c;
		int k;

		close(sv[0]);
		c = ms_attach(fd, RGN, ADDR_C, RW, MAP_FIXED_NOREPLACE);
		CHILD_CHECK(c == ADDR_C);
		CHILD_CHECK(kinds_damaged(c) < 0);
		CHILD_CHECK(sock_send(sv[1], 'r') == 0);
		while (sock_recv(sv[1]) == 'c') {
			k = kinds_damaged(c);
			if (k >= 0)
				fprintf(stderr, "# third sharer: the region's %s data is damaged: %zu of %lu pages wrong\n",
					k_name[k], kind_bad_pages(c, k), K_LEN / PG);
			CHILD_CHECK(sock_send(sv[1], k < 0 ? 'y' : 'n') == 0);
		}
		_exit(0);
	}
	close(sv[1]);
	ASSERT_EQ('r', sock_recv(sv[0])) TH_LOG("the third sharer did not start");
	*sock = sv[0];
	return pid;
}

/* Ask the third sharer to check; true if its view is intact. */
static bool third_check(int sock)
{
	return sock_send(sock, 'c') == 0 && sock_recv(sock) == 'y';
}

static bool third_stop(int sock, pid_t pid)
{
	sock_send(sock, 'q');
	close(sock);
	return child_ok(pid, "third sharer");
}

/*
 * In a forked child: detach the attachment @inherited from fork(), attach
 * the region named @name through an O_RDONLY fd (a read-only attachment,
 * whose VMA do_mmap() leaves without VM_SHARED) and read every page of
 * every kind through it.
 */
static void ro_sharer_attach(char *inherited, const char *name)
{
	char *b;
	int ro;

	CHILD_CHECK(munmap(inherited, RGN) == 0);
	ro = msfs_open(name, O_RDONLY);
	CHILD_CHECK(ro >= 0);
	b = ms_attach(ro, RGN, NULL, PROT_READ, 0);
	CHILD_CHECK(b != NULL);
	CHILD_CHECK(kinds_damaged(b) < 0);
}

/*
 * Wait for traced child @pid to reach its PTRACE_EVENT_EXIT stop (passing
 * on any other signal it stops with); its exit code (as in a wait status)
 * in *@code.  False, with the reason logged, if it went away first.
 */
static bool wait_exit_stop(struct __test_metadata *_metadata, pid_t pid,
			   unsigned long *code)
{
	int status;

	for (;;) {
		if (waitpid(pid, &status, 0) != pid) {
			TH_LOG("waitpid(%d): %s", pid, strerror(errno));
			return false;
		}
		if (!WIFSTOPPED(status)) {
			TH_LOG("child %d ended without an exit stop: status %#x", pid, status);
			return false;
		}
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8)))
			break;
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(status))) {
			TH_LOG("PTRACE_CONT: %s", strerror(errno));
			return false;
		}
	}
	if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, code)) {
		TH_LOG("PTRACE_GETEVENTMSG: %s", strerror(errno));
		return false;
	}
	return true;
}

/* A child that has done PTRACE_TRACEME and stopped: trace its exit, run it. */
static void trace_exit_of(struct __test_metadata *_metadata, pid_t pid)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP)
		TH_LOG("the child did not stop for tracing: status %#x", status);
	ASSERT_EQ(0, ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)PTRACE_O_TRACEEXIT))
		TH_LOG("PTRACE_SETOPTIONS: %s", strerror(errno));
	ASSERT_EQ(0, ptrace(PTRACE_CONT, pid, NULL, NULL));
}

/*
 * The scene of the reaper tests: a named region with the three kinds of
 * memory inside, attached read-write here, and a third sharer watching.
 */
struct reap_scene {
	char name[64];
	int rw, memfd, sock;
	pid_t third;
	char *a;
};

static void reap_scene_start(struct __test_metadata *_metadata,
			     struct reap_scene *sc, const char *tag)
{
	snprintf(sc->name, sizeof(sc->name), "boundary-%s-%d", tag, getpid());
	sc->rw = msfs_create(sc->name, RGN);
	ASSERT_LE(0, sc->rw) TH_LOG("create %s: %s", sc->name, strerror(errno));
	sc->a = ms_must_attach(_metadata, sc->rw, RGN, NULL, RW);
	sc->memfd = kinds_populate(_metadata, sc->a);
	sc->third = third_start(_metadata, sc->rw, &sc->sock);
}

/* After the read-only sharer is gone: everyone's data intact; clean up. */
static void reap_scene_end(struct __test_metadata *_metadata,
			   struct reap_scene *sc, const char *what)
{
	kinds_expect_intact(_metadata, sc->a, what);
	EXPECT_TRUE(third_check(sc->sock)) TH_LOG("the third sharer's view is damaged");
	EXPECT_TRUE(third_stop(sc->sock, sc->third));
	EXPECT_EQ(0, munmap(sc->a, RGN));
	close(sc->memfd);
	close(sc->rw);
	EXPECT_EQ(0, msfs_unlink(sc->name));
}

/* ------------------------------------------------------------------------ */
/*
 * process_mrelease() of a read-only sharer.
 *
 * process_mrelease() reaps only a task whose memory is about to go
 * (task_will_free_mem(): SIGNAL_GROUP_EXIT or PF_EXITING), and the reaping
 * must happen before exit_mmap() sets MMF_OOM_SKIP, or there is nothing to
 * do.  So the sharer is traced with PTRACE_O_TRACEEXIT and exits
 * normally: at its PTRACE_EVENT_EXIT stop, do_exit() has already marked the
 * group exiting (synchronize_group_exit() sets SIGNAL_GROUP_EXIT) and the
 * mm is still whole.  process_mrelease() then walks the sharer's VMAs as
 * the OOM reaper does: a read-only attachment is not VM_SHARED, so it is
 * taken for private memory and unmap_page_range() is run on it.
 */
TEST_F_TIMEOUT(boundary, reaper_mrelease_ro_sharer, 120)
{
	int kfd = kmsg_from_now(), pidfd, status;
	unsigned long code = ~0UL;
	struct reap_scene sc;
	pid_t pid;

	reap_scene_start(_metadata, &sc, "mrelease");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0);
		raise(SIGSTOP);
		ro_sharer_attach(sc.a, sc.name);
		_exit(0);
	}
	trace_exit_of(_metadata, pid);
	ASSERT_TRUE(wait_exit_stop(_metadata, pid, &code));
	EXPECT_EQ(0, code) TH_LOG("the read-only sharer failed (exit status %#lx)", code);

	/* It is exiting, its mm still whole: release it. */
	pidfd = sys_pidfd_open(pid, 0);
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	EXPECT_EQ(0, sys_process_mrelease(pidfd, 0))
		TH_LOG("process_mrelease of the exiting read-only sharer: %s", strerror(errno));
	close(pidfd);
	ASSERT_EQ(0, ptrace(PTRACE_CONT, pid, NULL, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(exited_ok(status)) TH_LOG("status %#x", status);

	reap_scene_end(_metadata, &sc, "the creator after process_mrelease of a read-only sharer");
	expect_no_report(_metadata, kfd);
}

/* ------------------------------------------------------------------------ */
/*
 * The OOM reaper on a read-only sharer killed by a memcg OOM.
 *
 * The reaper runs OOM_REAPER_DELAY (2 s) after the kill, and only if the
 * victim has not torn its mm down by then.  The victim is traced with
 * PTRACE_O_TRACEEXIT: a SIGKILLed task still makes its PTRACE_EVENT_EXIT
 * stop (get_signal() dequeues the SIGKILL before do_exit()), so it is held
 * there, its mm whole, until the kernel log says the reaper reaped it.
 */
#define OOM_MAX		"8M"

TEST_F_TIMEOUT(boundary, memcg_oom_ro_sharer, 180)
{
	int kfd = kmsg_from_now(), status, reaper;
	unsigned long code = ~0UL;
	char needle[64], line[512] = "";
	struct reap_scene sc;
	bool reaped = false;
	pid_t pid;

	snprintf(cgroup_dir, sizeof(cgroup_dir), "/sys/fs/cgroup/boundary-oom-%d", getpid());
	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	ASSERT_EQ(0, mkdir(cgroup_dir, 0755)) TH_LOG("mkdir %s: %s", cgroup_dir, strerror(errno));
	ASSERT_TRUE(cg_write(cgroup_dir, "memory.max", OOM_MAX))
		TH_LOG("memory.max: %s (no memory controller?)", strerror(errno));
	cg_write(cgroup_dir, "memory.swap.max", "0");

	reap_scene_start(_metadata, &sc, "oom");
	reaper = kmsg_from_now();

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char me[32];

		CHILD_CHECK(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0);
		raise(SIGSTOP);
		snprintf(me, sizeof(me), "%d", getpid());
		CHILD_CHECK(cg_write(cgroup_dir, "cgroup.procs", me));
		ro_sharer_attach(sc.a, sc.name);
		/* Its own memory, until the memcg's OOM killer kills it. */
		for (int i = 0; i < 512; i++) {
			char *m = mmap(NULL, MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			CHILD_CHECK(m != MAP_FAILED);
			for (size_t off = 0; off < MiB; off += PG)
				m[off] = 1;
		}
		_exit(3);	/* 512 MiB in an OOM_MAX memcg, and not killed */
	}
	trace_exit_of(_metadata, pid);
	ASSERT_TRUE(wait_exit_stop(_metadata, pid, &code));
	EXPECT_EQ(SIGKILL, code) TH_LOG("the read-only sharer was not OOM-killed: exit code %#lx", code);

	/* Held at its exit stop: the OOM reaper gets to it. */
	snprintf(needle, sizeof(needle), "oom_reaper: reaped process %d ", pid);
	for (int i = 0; i < 200 && !reaped; i++) {
		reaped = kmsg_find(reaper, needle, line, sizeof(line));
		if (!reaped)
			sleep_ms(100);
	}
	close(reaper);
	EXPECT_TRUE(reaped) TH_LOG("no \"%s\" in the kernel log within 20 s", needle);
	if (reaped)
		TH_LOG("kernel: %s", line);

	ASSERT_EQ(0, ptrace(PTRACE_CONT, pid, NULL, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(killed_by(status, SIGKILL)) TH_LOG("status %#x", status);

	reap_scene_end(_metadata, &sc, "the creator after the OOM reaper reaped a read-only sharer");
	expect_no_report(_metadata, kfd);
}

/* ------------------------------------------------------------------------ */
/*
 * GUP on a range made PROT_NONE or PROT_READ inside an attachment, against
 * an ordinary mapping of the same kind with the same protection in the
 * same process: each operation must give the same result for both.  Each
 * operation works on a page of its own (page i for operation i).
 */
enum {
	G_PVR, G_PVW, G_PVR_CHILD, G_PVW_CHILD, G_MEM_R, G_MEM_W,
	G_DIO_INTO, G_DIO_FROM, G_VMSPLICE, G_URING, G_NOPS
};

static const char *const g_name[G_NOPS] = {
	[G_PVR] = "process_vm_readv (self)",
	[G_PVW] = "process_vm_writev (self)",
	[G_PVR_CHILD] = "process_vm_readv (child sharer -> parent)",
	[G_PVW_CHILD] = "process_vm_writev (child sharer -> parent)",
	[G_MEM_R] = "/proc/self/mem pread (FOLL_FORCE)",
	[G_MEM_W] = "/proc/self/mem pwrite (FOLL_FORCE)",
	[G_DIO_INTO] = "O_DIRECT read() into the range",
	[G_DIO_FROM] = "O_DIRECT write() from the range",
	[G_VMSPLICE] = "vmsplice() of the range into a pipe",
	[G_URING] = "io_uring_register_buffers() of the range",
};

#define G_LEN		(16 * PG)
#define WRONG_DATA	(-100000L)	/* the call worked, the data did not */
#define G_KINDS		2		/* private anonymous, memfd */

static const char *const g_kind[G_KINDS] = { "private anonymous", "memfd MAP_SHARED" };

static char gbuf[PG] __attribute__((aligned(4096)));

/* The result of a read of page @pg of a range tagged @tag into @buf. */
static long read_result(ssize_t n, int err, const void *buf, uint64_t tag, int pg)
{
	if (n < 0)
		return -err;
	if (n >= 8 && *(const uint64_t *)buf != pat(tag, pg))
		return WRONG_DATA;
	return n;
}

static long res_of(ssize_t n, int err)
{
	return n < 0 ? -err : n;
}

static const char *res_str(long r, char *buf, size_t len)
{
	if (r == WRONG_DATA)
		snprintf(buf, len, "wrong data");
	else if (r < 0)
		snprintf(buf, len, "%s", strerrorname_np(-r) ?: "?");
	else
		snprintf(buf, len, "ok (%ld)", r);
	return buf;
}

struct gup_env {
	int dfd, bfd;		/* the ext4 file: O_DIRECT, buffered */
	struct io_uring ring;
};

#define FILE_TAG	0xf1

/* Every operation but the child's on range @p (tagged @tag): into @res. */
static void gup_ops(struct gup_env *e, char *p, uint64_t tag, long *res)
{
	struct iovec l = { gbuf, PG }, r = { NULL, PG };
	ssize_t n;
	int fd, pp[2];

	r.iov_base = p + G_PVR * PG;
	n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	res[G_PVR] = read_result(n, errno, gbuf, tag, G_PVR);

	memset(gbuf, 0x5a, PG);
	r.iov_base = p + G_PVW * PG;
	n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	res[G_PVW] = res_of(n, errno);

	fd = open("/proc/self/mem", O_RDWR);
	n = pread(fd, gbuf, PG, (off_t)(uintptr_t)(p + G_MEM_R * PG));
	res[G_MEM_R] = read_result(n, errno, gbuf, tag, G_MEM_R);
	memset(gbuf, 0x5b, PG);
	n = pwrite(fd, gbuf, PG, (off_t)(uintptr_t)(p + G_MEM_W * PG));
	res[G_MEM_W] = res_of(n, errno);
	close(fd);

	/* O_DIRECT: the file's page 0 into the range; the range to page 1. */
	n = pread(e->dfd, p + G_DIO_INTO * PG, PG, 0);
	res[G_DIO_INTO] = res_of(n, errno);
	n = pwrite(e->dfd, p + G_DIO_FROM * PG, PG, PG);
	res[G_DIO_FROM] = res_of(n, errno);
	if (n == PG) {
		n = pread(e->bfd, gbuf, PG, PG);
		res[G_DIO_FROM] = read_result(n, errno, gbuf, tag, G_DIO_FROM);
	}

	res[G_VMSPLICE] = -EPIPE;
	if (!pipe(pp)) {
		r.iov_base = p + G_VMSPLICE * PG;
		n = vmsplice(pp[1], &r, 1, 0);
		res[G_VMSPLICE] = res_of(n, errno);
		if (n > 0) {
			memset(gbuf, 0, PG);
			res[G_VMSPLICE] = read_result(read(pp[0], gbuf, n), errno,
						      gbuf, tag, G_VMSPLICE);
		}
		close(pp[0]);
		close(pp[1]);
	}

	r.iov_base = p + G_URING * PG;
	res[G_URING] = io_uring_register_buffers(&e->ring, &r, 1);
	if (!res[G_URING])
		io_uring_unregister_buffers(&e->ring);
}

/* In a child sharer: process_vm_readv/writev of its parent's range @p. */
static void gup_child_ops(char *p, uint64_t tag, long *res)
{
	static char cbuf[PG];
	struct iovec l = { cbuf, PG }, r = { p + G_PVR_CHILD * PG, PG };
	pid_t parent = getppid();
	ssize_t n;

	n = process_vm_readv(parent, &l, 1, &r, 1, 0);
	res[G_PVR_CHILD] = read_result(n, errno, cbuf, tag, G_PVR_CHILD);
	memset(cbuf, 0x5c, PG);
	r.iov_base = p + G_PVW_CHILD * PG;
	n = process_vm_writev(parent, &l, 1, &r, 1, 0);
	res[G_PVW_CHILD] = res_of(n, errno);
}

static void gup_case(struct __test_metadata *_metadata, int prot)
{
	const char *pname = prot == PROT_NONE ? "PROT_NONE" : "PROT_READ";
	int kfd = kmsg_from_now(), fd, memfd_in, memfd_ctl, mismatches = 0;
	char why[256] = "", path[128], *a, *in[G_KINDS], *ctl[G_KINDS];
	uint64_t tag_in[G_KINDS] = { 0xc0, 0xc1 }, tag_ctl[G_KINDS] = { 0xd0, 0xd1 };
	long (*res)[G_KINDS][G_NOPS];	/* [0]: inside, [1]: control */
	struct gup_env e;
	char *fbuf;
	pid_t pid;

	/* An ext4 file of two pages for O_DIRECT. */
	ASSERT_EQ(0, ramdisk_ext4_mount(EXT4_DIR, why, sizeof(why))) TH_LOG("%s", why);
	snprintf(path, sizeof(path), EXT4_DIR "/gup.%d", getpid());
	e.bfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, e.bfd) TH_LOG("open %s: %s", path, strerror(errno));
	fbuf = calloc(1, 2 * PG);
	ASSERT_NE(NULL, fbuf);
	fill_pat(fbuf, 2 * PG, PG, FILE_TAG, 0);
	ASSERT_EQ((ssize_t)(2 * PG), pwrite(e.bfd, fbuf, 2 * PG, 0));
	ASSERT_EQ(0, fsync(e.bfd));
	free(fbuf);
	e.dfd = open(path, O_RDWR | O_DIRECT);
	ASSERT_LE(0, e.dfd) TH_LOG("open %s O_DIRECT: %s", path, strerror(errno));
	unlink(path);
	ASSERT_EQ(0, io_uring_queue_init(4, &e.ring, 0));

	res = mmap(NULL, 2 * sizeof(*res), RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);

	/* Inside: private anonymous and memfd memory, populated, then prot. */
	fd = ms_must_create(_metadata, RGN);
	a = ms_must_attach(_metadata, fd, RGN, NULL, RW);
	memfd_in = memfd_sized("boundary-in", G_LEN);
	memfd_ctl = memfd_sized("boundary-ctl", G_LEN);
	ASSERT_LE(0, memfd_in);
	ASSERT_LE(0, memfd_ctl);
	in[0] = a + 2 * MiB;
	in[1] = a + 4 * MiB;
	ms_must_map(_metadata, in[0], G_LEN, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	ms_must_map(_metadata, in[1], G_LEN, RW, MAP_SHARED | MAP_FIXED, memfd_in);
	/* The controls: the same kinds, ordinary mappings of this process. */
	ctl[0] = mmap(NULL, G_LEN, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ctl[1] = mmap(NULL, G_LEN, RW, MAP_SHARED, memfd_ctl, 0);
	ASSERT_NE(MAP_FAILED, ctl[0]);
	ASSERT_NE(MAP_FAILED, ctl[1]);
	for (int k = 0; k < G_KINDS; k++) {
		fill_pat(in[k], G_LEN, PG, tag_in[k], 0);
		fill_pat(ctl[k], G_LEN, PG, tag_ctl[k], 0);
		ASSERT_EQ(0, mprotect(in[k], G_LEN, prot))
			TH_LOG("mprotect(%s) of %s inside: %s", pname, g_kind[k], strerror(errno));
		ASSERT_EQ(0, mprotect(ctl[k], G_LEN, prot));
	}

	for (int k = 0; k < G_KINDS; k++) {
		gup_ops(&e, in[k], tag_in[k], res[0][k]);
		gup_ops(&e, ctl[k], tag_ctl[k], res[1][k]);
	}
	/* A child sharer (it inherits the attachment) at the parent's ranges. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (int k = 0; k < G_KINDS; k++) {
			gup_child_ops(in[k], tag_in[k], res[0][k]);
			gup_child_ops(ctl[k], tag_ctl[k], res[1][k]);
		}
		_exit(0);
	}
	ASSERT_TRUE(child_ok(pid, "child sharer"));

	for (int k = 0; k < G_KINDS; k++) {
		for (int op = 0; op < G_NOPS; op++) {
			long ri = res[0][k][op], rc = res[1][k][op];
			/*
			 * The one documented difference (mshare.7): a forced
			 * write into a region mapping that is not writable is
			 * refused (EIO from /proc/PID/mem), since the private
			 * copy it would make is the region's, seen by every
			 * sharer; on ordinary private memory it writes a copy.
			 */
			bool forced_cow = op == G_MEM_W && k == 0;
			bool bad = forced_cow ? ri != -EIO || rc != (long)PG : ri != rc;
			char si[32], sc[32];

			if (bad)
				mismatches++;
			TH_LOG("%s %-17s %-42s inside: %-10s control: %-10s%s", pname, g_kind[k],
			       g_name[op], res_str(ri, si, sizeof(si)), res_str(rc, sc, sizeof(sc)),
			       bad ? "  <-- differs" : forced_cow ? "  (refused by design)" : "");
		}
	}
	EXPECT_EQ(0, mismatches)
		TH_LOG("%d operations on %s memory inside an attachment differ from the same operation on an ordinary %s mapping",
		       mismatches, pname, pname);

	io_uring_queue_exit(&e.ring);
	close(e.dfd);
	close(e.bfd);
	munmap(res, 2 * sizeof(*res));
	munmap(ctl[0], G_LEN);
	munmap(ctl[1], G_LEN);
	EXPECT_EQ(0, munmap(a, RGN));
	close(memfd_in);
	close(memfd_ctl);
	close(fd);
	expect_no_report(_metadata, kfd);
}

TEST_F_TIMEOUT(boundary, protnone_inside_gup, 120)
{
	gup_case(_metadata, PROT_NONE);
}

TEST_F_TIMEOUT(boundary, protread_inside_gup, 120)
{
	gup_case(_metadata, PROT_READ);
}

/* ------------------------------------------------------------------------ */
/*
 * An attachment made with PROT_NONE.  The design: PROT_NONE attachments
 * are allowed, and nothing of the region is accessible through them.  A
 * kernel that refuses the attach instead must say so with EINVAL or
 * EACCES, which is accepted.
 */
TEST_F_TIMEOUT(boundary, protnone_attachment, 120)
{
	int kfd = kmsg_from_now(), fd, memfd, own_fd;
	struct iovec l = { gbuf, PG }, r = { NULL, PG };
	char *a, *p, *own;
	ssize_t n;

	fd = ms_must_create(_metadata, RGN);
	a = ms_must_attach(_metadata, fd, RGN, NULL, RW);
	memfd = kinds_populate(_metadata, a);

	/* Control: an ordinary PROT_NONE mapping of populated memfd memory. */
	own_fd = memfd_sized("boundary-own", PG);
	ASSERT_LE(0, own_fd);
	own = mmap(NULL, PG, RW, MAP_SHARED, own_fd, 0);
	ASSERT_NE(MAP_FAILED, own);
	own[0] = 1;
	ASSERT_EQ(0, mprotect(own, PG, PROT_NONE));
	ASSERT_FALSE(probe(own, false)) TH_LOG("control: a PROT_NONE mapping is readable");
	r.iov_base = own;
	errno = 0;
	ASSERT_EQ(-1, process_vm_readv(getpid(), &l, 1, &r, 1, 0));
	ASSERT_EQ(EFAULT, errno);

	errno = 0;
	p = mmap(NULL, RGN, PROT_NONE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		TH_LOG("attaching PROT_NONE is refused: %s", strerror(errno));
		EXPECT_TRUE(errno == EINVAL || errno == EACCES)
			TH_LOG("a refusal must be EINVAL or EACCES, not %s", strerror(errno));
	} else {
		EXPECT_EQ(0, (uintptr_t)p % RGN);
		for (int k = 0; k < NKINDS; k++) {
			volatile char *q = p + k_off[k] + PG;

			EXPECT_FALSE(probe(q, false))
				TH_LOG("the region's %s data reads through a PROT_NONE attachment: %#llx",
				       k_name[k], (unsigned long long)*(volatile uint64_t *)q);
			EXPECT_FALSE(probe(q, true))
				TH_LOG("the region's %s data is writable through a PROT_NONE attachment",
				       k_name[k]);
			r.iov_base = (void *)q;
			errno = 0;
			n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
			EXPECT_EQ(-1, n) TH_LOG("process_vm_readv of %s data through a PROT_NONE attachment read %zd bytes",
						k_name[k], n);
			EXPECT_EQ(EFAULT, errno) TH_LOG("process_vm_readv: %s", strerror(errno));
		}
		/* A hole of the region. */
		EXPECT_FALSE(probe(p + 64 * MiB, false));
		EXPECT_EQ(0, munmap(p, RGN));
	}
	/* The region is unharmed, for the read-write attachment. */
	kinds_expect_intact(_metadata, a, "the read-write attachment");

	munmap(own, PG);
	close(own_fd);
	EXPECT_EQ(0, munmap(a, RGN));
	close(memfd);
	close(fd);
	expect_no_report(_metadata, kfd);
}

/*
 * Code in the region: `mov eax, 42; ret`, in a memfd mapped PROT_READ |
 * PROT_EXEC inside an attachment made PROT_READ | PROT_WRITE | PROT_EXEC,
 * runs there (the control); through a second attachment of the same
 * region made PROT_READ | PROT_WRITE, it must not: SIGSEGV.  Also checked
 * on ordinary mappings of the same memfd, so that the CPU (QEMU's) is
 * known to enforce NX.
 */
static const unsigned char code42[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };

static void call_code(void *p)
{
	int (*fn)(void) = (int (*)(void))p;

	_exit(fn() == 42 ? 0 : 3);
}

static const char *status_str(int status, char *buf, size_t len)
{
	if (status == -1)
		snprintf(buf, len, "fork/wait failed");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s", strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) == 0)
		snprintf(buf, len, "ran, returned 42");
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	return buf;
}

TEST_F_TIMEOUT(boundary, noexec_attachment, 120)
{
	int kfd = kmsg_from_now(), fd, codefd, st;
	char *a, *b, *own_x, *own_nx, s[64];

	codefd = memfd_sized("boundary-code", PG);
	ASSERT_LE(0, codefd);
	ASSERT_EQ((ssize_t)sizeof(code42), pwrite(codefd, code42, sizeof(code42), 0));

	/* Controls: ordinary mappings of the code. */
	own_x = mmap(NULL, PG, PROT_READ | PROT_EXEC, MAP_SHARED, codefd, 0);
	own_nx = mmap(NULL, PG, PROT_READ, MAP_SHARED, codefd, 0);
	ASSERT_NE(MAP_FAILED, own_x);
	ASSERT_NE(MAP_FAILED, own_nx);
	st = child_status(call_code, own_x);
	ASSERT_TRUE(exited_ok(st)) TH_LOG("control PROT_EXEC mapping: %s", status_str(st, s, sizeof(s)));
	st = child_status(call_code, own_nx);
	ASSERT_TRUE(killed_by(st, SIGSEGV))
		TH_LOG("control PROT_READ mapping: %s (no NX enforcement?)", status_str(st, s, sizeof(s)));

	fd = ms_must_create(_metadata, RGN);
	a = ms_attach(fd, RGN, NULL, RWX, 0);
	if (!a) {
		/*
		 * No PROT_EXEC attachment: only the non-exec half, with the
		 * code mapped PROT_EXEC inside a read-write attachment.
		 */
		TH_LOG("attaching PROT_READ|PROT_WRITE|PROT_EXEC: %s; testing only a read-write attachment",
		       strerror(errno));
		a = ms_must_attach(_metadata, fd, RGN, NULL, RW);
		ms_must_map(_metadata, a + 2 * MiB, PG, PROT_READ | PROT_EXEC,
			    MAP_SHARED | MAP_FIXED, codefd);
		EXPECT_EQ(0xb8, *(volatile unsigned char *)(a + 2 * MiB));
		st = child_status(call_code, a + 2 * MiB);
		EXPECT_TRUE(killed_by(st, SIGSEGV))
			TH_LOG("region code called through a read-write attachment: %s",
			       status_str(st, s, sizeof(s)));
		EXPECT_EQ(0, munmap(a, RGN));
		goto out;
	}
	ms_must_map(_metadata, a + 2 * MiB, PG, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, codefd);
	st = child_status(call_code, a + 2 * MiB);
	EXPECT_TRUE(exited_ok(st)) TH_LOG("region code through the PROT_EXEC attachment: %s",
					   status_str(st, s, sizeof(s)));

	/* The same region, attached again without PROT_EXEC. */
	b = ms_must_attach(_metadata, fd, RGN, NULL, RW);
	EXPECT_EQ(0xb8, *(volatile unsigned char *)(b + 2 * MiB));
	st = child_status(call_code, b + 2 * MiB);
	EXPECT_TRUE(killed_by(st, SIGSEGV))
		TH_LOG("region code called through an attachment made without PROT_EXEC: %s",
		       status_str(st, s, sizeof(s)));
	/* And read-only. */
	EXPECT_EQ(0, munmap(b, RGN));
	b = ms_must_attach(_metadata, fd, RGN, NULL, PROT_READ);
	st = child_status(call_code, b + 2 * MiB);
	EXPECT_TRUE(killed_by(st, SIGSEGV))
		TH_LOG("region code called through a PROT_READ attachment: %s",
		       status_str(st, s, sizeof(s)));
	EXPECT_EQ(0, munmap(b, RGN));
	/* The PROT_EXEC attachment still runs it. */
	st = child_status(call_code, a + 2 * MiB);
	EXPECT_TRUE(exited_ok(st)) TH_LOG("region code through the PROT_EXEC attachment, again: %s",
					   status_str(st, s, sizeof(s)));
	EXPECT_EQ(0, munmap(a, RGN));
out:
	munmap(own_x, PG);
	munmap(own_nx, PG);
	close(codefd);
	close(fd);
	expect_no_report(_metadata, kfd);
}

/* ------------------------------------------------------------------------ */
/*
 * MADV_DONTDUMP inside an attachment: a sharer's core dump leaves that
 * range's data out (absent, or zeroes), and has the data of the ranges
 * not so marked.
 */
#define DD_LEN		(64 * KiB)

struct dd_range {
	size_t off;
	int type;		/* MAP_SHARED or MAP_PRIVATE anonymous */
	bool dontdump;
	const char *what;
};

static const struct dd_range dd[] = {
	{ 4 * MiB, MAP_SHARED, true, "shared anonymous, MADV_DONTDUMP" },
	{ 5 * MiB, MAP_PRIVATE, true, "private anonymous, MADV_DONTDUMP" },
	{ 8 * MiB, MAP_SHARED, false, "shared anonymous" },
	{ 9 * MiB, MAP_PRIVATE, false, "private anonymous" },
};
#define NDD	(sizeof(dd) / sizeof(dd[0]))

/* Never zero, so that zeroes in the core are told from the data. */
static unsigned char dd_byte(unsigned int r, size_t i)
{
	return (unsigned char)(((i * 131 + (i >> 12) * 17 + r * 29) % 255) + 1);
}

/*
 * How many bytes of range @r (at @addr in the dumped process) the core
 * @cfd holds with their data; -1 if no PT_LOAD segment covers the range.
 */
static long core_bytes_of(struct __test_metadata *_metadata, int cfd,
			  uintptr_t addr, int r)
{
	unsigned char *buf;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	long present = 0;

	ASSERT_EQ((ssize_t)sizeof(eh), pread(cfd, &eh, sizeof(eh), 0));
	ASSERT_EQ(0, memcmp(eh.e_ident, ELFMAG, SELFMAG));
	ASSERT_EQ(ET_CORE, eh.e_type);
	for (int i = 0; i < eh.e_phnum; i++) {
		uint64_t in, avail;

		ASSERT_EQ((ssize_t)sizeof(ph),
			  pread(cfd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)));
		if (ph.p_type != PT_LOAD || addr < ph.p_vaddr ||
		    addr + DD_LEN > ph.p_vaddr + ph.p_memsz)
			continue;
		in = addr - ph.p_vaddr;
		avail = ph.p_filesz > in ? ph.p_filesz - in : 0;
		if (avail > DD_LEN)
			avail = DD_LEN;
		TH_LOG("%s at %#lx: PT_LOAD %#llx-%#llx, p_filesz %#llx: %#llx bytes of the range in the file",
		       dd[r].what, (unsigned long)addr, (unsigned long long)ph.p_vaddr,
		       (unsigned long long)(ph.p_vaddr + ph.p_memsz),
		       (unsigned long long)ph.p_filesz, (unsigned long long)avail);
		if (!avail)
			return 0;
		buf = malloc(avail);
		ASSERT_NE(NULL, buf);
		ASSERT_EQ((ssize_t)avail, pread(cfd, buf, avail, ph.p_offset + in));
		for (size_t j = 0; j < avail; j++)
			if (buf[j] == dd_byte(r, j))
				present++;
		free(buf);
		return present;
	}
	TH_LOG("%s at %#lx: no PT_LOAD covers it", dd[r].what, (unsigned long)addr);
	return -1;
}

TEST_F_TIMEOUT(boundary, dontdump_inside_coredump, 300)
{
	int kfd = kmsg_from_now(), fd, cfd, status;
	char core[64];
	unsigned char *a;
	pid_t pid;

	ASSERT_EQ(0, read_first_line(CORE_PATTERN, saved_core_pattern, sizeof(saved_core_pattern)));
	write_file(CORE_PATTERN, "/tmp/core.%p");

	fd = ms_must_create(_metadata, RGN);
	a = (unsigned char *)ms_must_attach(_metadata, fd, RGN, NULL, RW);
	for (size_t r = 0; r < NDD; r++) {
		ms_must_map(_metadata, a + dd[r].off, DD_LEN, RW,
			    dd[r].type | MAP_ANONYMOUS | MAP_FIXED, -1);
		for (size_t i = 0; i < DD_LEN; i++)
			a[dd[r].off + i] = dd_byte(r, i);
		if (dd[r].dontdump)
			ASSERT_EQ(0, madvise(a + dd[r].off, DD_LEN, MADV_DONTDUMP))
				TH_LOG("MADV_DONTDUMP inside: %s", strerror(errno));
	}

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		CHILD_CHECK(setrlimit(RLIMIT_CORE, &rl) == 0);
		CHILD_CHECK(a[dd[0].off] == dd_byte(0, 0));
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(killed_by(status, SIGABRT)) TH_LOG("status %#x", status);
	ASSERT_TRUE(WCOREDUMP(status)) TH_LOG("no core dumped (status %#x)", status);
	snprintf(core, sizeof(core), "/tmp/core.%d", pid);
	cfd = open(core, O_RDONLY);
	ASSERT_LE(0, cfd) TH_LOG("open %s: %s", core, strerror(errno));

	for (size_t r = 0; r < NDD; r++) {
		long present = core_bytes_of(_metadata, cfd, (uintptr_t)(a + dd[r].off), r);

		if (dd[r].dontdump) {
			EXPECT_GE(0, present)
				TH_LOG("the core holds %ld of %lu bytes of the %s range's data",
				       present, DD_LEN, dd[r].what);
		} else {
			EXPECT_EQ((long)DD_LEN, present)
				TH_LOG("the core holds %ld of %lu bytes of the %s range's data",
				       present, DD_LEN, dd[r].what);
		}
	}
	close(cfd);
	unlink(core);
	write_file(CORE_PATTERN, saved_core_pattern);
	saved_core_pattern[0] = 0;
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	expect_no_report(_metadata, kfd);
}

/* ------------------------------------------------------------------------ */
/*
 * A 32-bit process drops the last reference to a populated region.  The
 * region is freed in that process's context, where TASK_SIZE is the
 * 32-bit one.  The helper (tests/compat32/mshare_compat32.c, built with
 * gcc -m32 -static next to this program) opens the region by name O_RDWR,
 * unlinks the name, says 'R' on stdout, waits for EOF on stdin, then
 * closes the fd and exits.
 */
#define COMPAT_HELPER	"mshare_compat32"
#define CP_SHANON	(64 * MiB)
#define CP_MEMFD	(8 * MiB)
#define CP_PRIV		(8 * MiB)

TEST_F_TIMEOUT(boundary, compat_last_reference, 240)
{
	int kfd, rw, memfd, in[2], out[2], status, err = 0;
	char name[64], path[128], exe[PATH_MAX], helper[PATH_MAX + 32];
	struct memsnap base, full, now;
	ssize_t n;
	char *a, c = 0;
	bool back;
	pid_t pid;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = 0;
	snprintf(helper, sizeof(helper), "%s/" COMPAT_HELPER, dirname(exe));
	ASSERT_EQ(0, access(helper, X_OK))
		TH_LOG("%s: %s (make tests builds it with gcc -m32)", helper, strerror(errno));

	mem_settle();
	memsnap_take(&base);
	kfd = kmsg_from_now();

	snprintf(name, sizeof(name), "boundary-compat-%d", getpid());
	snprintf(path, sizeof(path), MSFS_DIR "/%s", name);
	rw = msfs_create(name, RGN);
	ASSERT_LE(0, rw) TH_LOG("create %s: %s", name, strerror(errno));
	a = ms_must_attach(_metadata, rw, RGN, NULL, RW);
	memfd = memfd_sized("boundary-compat", CP_MEMFD);
	ASSERT_LE(0, memfd);
	ms_must_map(_metadata, a, CP_SHANON, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	ms_must_map(_metadata, a + CP_SHANON, CP_MEMFD, RW, MAP_SHARED | MAP_FIXED, memfd);
	ms_must_map(_metadata, a + CP_SHANON + CP_MEMFD, CP_PRIV, RW,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(a, CP_SHANON + CP_MEMFD + CP_PRIV, PG, 0xe0, 0);
	memsnap_take(&full);
	TH_LOG("populated: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       full.pagetables - base.pagetables, full.shmem - base.shmem, full.anon - base.anon);
	/* Only the name holds the region now. */
	EXPECT_EQ(0, munmap(a, RGN));
	close(memfd);
	close(rw);

	ASSERT_EQ(0, pipe(in));
	ASSERT_EQ(0, pipe(out));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(helper, helper, path, (char *)NULL);
		err = errno;
		c = 'E';
		n = write(1, &c, 1);
		n = write(1, &err, sizeof(err));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (read(out[0], &c, 1) != 1)
		c = 0;
	if (c != 'R') {
		/* 'E': execve failed, 'O': open, 'U': unlink; then the errno. */
		if (!c || read(out[0], &err, sizeof(err)) != sizeof(err))
			err = 0;
		close(in[1]);
		waitpid(pid, &status, 0);
		msfs_unlink(name);
		ASSERT_EQ('R', c)
			TH_LOG("the 32-bit helper did not take the region: %s: %s%s",
			       c == 'E' ? "execve" : c == 'O' ? "open" : c == 'U' ? "unlink" : "no answer",
			       err ? strerror(err) : "-",
			       c == 'E' && err == ENOEXEC ?
			       " (the kernel runs no 32-bit programs: CONFIG_IA32_EMULATION is off)" : "");
	}
	EXPECT_NE(0, access(path, F_OK)) TH_LOG("the helper did not unlink %s", path);

	/* Let it go: it closes the last reference and exits. */
	close(in[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(exited_ok(status)) TH_LOG("the 32-bit helper: status %#x", status);
	close(out[0]);

	mem_settle();
	back = mem_back_to(&base, &now, 256, 50, 100);
	EXPECT_TRUE(back)
		TH_LOG("after a 32-bit process dropped the last reference: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB from before the region",
		       now.pagetables - base.pagetables, now.shmem - base.shmem,
		       now.anon - base.anon);
	expect_no_report(_metadata, kfd);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: the core behaviour.
 *
 *  - fd basics: fstat size, O_RDWR, MSHARE_CLOEXEC, statfs magic
 *  - attaching: NULL picks a 1 GiB-aligned address, fixed addresses,
 *    twice in one process, detach/reattach cycles
 *  - three processes (creator, forked child, SCM_RIGHTS receiver) at
 *    three addresses see each other's writes to memfd, shared and private
 *    anonymous memory in the region
 *  - page tables are shared: 32 readers of 512 MiB add next to nothing to
 *    PageTables, and one reader takes a handful of minor faults
 *  - mappings made later appear to attached processes without reattaching
 *  - SIGSEGV for holes, for writes to PROT_READ region mappings and writes
 *    through a PROT_READ attachment
 *  - the region survives its creator's SIGKILL; everything is freed at
 *    the end
 *  - fork: children inherit attachments (shared, no COW); either side
 *    may detach
 *  - TLB coherence when a mapping is replaced under a spinning sharer
 *  - every refusal's errno, and 1000 refusals leak nothing
 *  - munmap(), mprotect() and madvise() inside an attachment act on the
 *    region, seen by a sharer attached before the call
 *  - memcg: a sharer's faults into the region are charged to its memcg
 *  - a shared futex in the region's private anonymous, shared anonymous and
 *    memfd memory wakes a waiter attached at another address
 *  - attach and fork link all of the region's tables: a new sharer sees
 *    populated memory in pagemap/mincore and reads it without faults
 *  - the region keeps its page tables across munmap/mmap cycles inside,
 *    and frees them all with the region
 *  - msync/fsync and mlock/munlock of a whole attachment act on the whole
 *    region; madvise of an attachment and more is refused for every advice
 *  - MAP_FIXED_NOREPLACE over an attachment gives EEXIST
 *  - long-term writable pins of ext4 MAP_SHARED pages inside a region are
 *    refused as outside one
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
/* Fixed attach addresses, far from where the kernel puts NULL mappings. */
#define ADDR_B		((char *)(128 * GiB))
#define ADDR_C		((char *)(256 * GiB))
#define ADDR_D		((char *)(512 * GiB))

FIXTURE(mshare) {};
FIXTURE_SETUP(mshare) {}
FIXTURE_TEARDOWN(mshare) {}

/* mshare_create() that must succeed. */
static int create(struct __test_metadata *_metadata, size_t size,
		  unsigned int flags)
{
	int fd = sys_mshare_create(size, flags);

	ASSERT_LE(0, fd) TH_LOG("mshare_create(%#zx, %#x): %s", size, flags,
				strerror(errno));
	return fd;
}

/* Attach that must succeed, at @addr exactly if given (NOREPLACE). */
static char *attach(struct __test_metadata *_metadata, int fd, size_t size,
		    char *addr, int prot)
{
	char *p = ms_attach(fd, size, addr, prot, addr ? MAP_FIXED_NOREPLACE : 0);

	ASSERT_NE(NULL, p) TH_LOG("attach %#zx at %p: %s", size, addr,
				  strerror(errno));
	ASSERT_EQ(0, (uintptr_t)p % RGN) TH_LOG("attachment at %p not 1 GiB aligned", p);
	if (addr) {
		ASSERT_EQ(addr, p);
	}
	return p;
}

/* A memfd of @len bytes whose page i holds pat(tag, i) in word 0. */
static int memfd_pat(struct __test_metadata *_metadata, size_t len, uint64_t tag)
{
	int fd = memfd_sized("mshare-test", len);
	size_t chunk = len < MiB ? len : MiB;
	char *buf;

	ASSERT_LE(0, fd);
	buf = calloc(1, chunk);
	ASSERT_NE(NULL, buf);
	for (size_t off = 0; off < len; off += chunk) {
		for (size_t o = 0; o < chunk; o += PG)
			*(uint64_t *)(buf + o) = pat(tag, (off + o) / PG);
		ASSERT_EQ((ssize_t)chunk, pwrite(fd, buf, chunk, off));
	}
	free(buf);
	return fd;
}

/* A fixed mapping inside an attachment that must land where asked. */
static void map_in(struct __test_metadata *_metadata, char *addr, size_t len,
		   int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags, fd, 0);

	ASSERT_EQ((void *)addr, p) TH_LOG("mmap inside at %p len %#zx flags %#x: %s",
					  addr, len, flags,
					  p == MAP_FAILED ? strerror(errno) : "wrong address");
}

/* ------------------------------------------------------------------------ */

TEST_F(mshare, fd_basics)
{
	size_t sizes[] = { RGN, 2 * RGN, 4 * RGN };
	struct statfs sfs;
	struct stat st;

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int fd = create(_metadata, sizes[i], 0);

		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ((off_t)sizes[i], st.st_size);
		EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
		EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
		ASSERT_EQ(0, fstatfs(fd, &sfs));
		EXPECT_EQ(MSHARE_MAGIC, (unsigned long)sfs.f_type);
		close(fd);
	}

	int fd = create(_metadata, RGN, MSHARE_CLOEXEC);

	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	close(fd);
}

TEST_F(mshare, attach_basics)
{
	int fd = create(_metadata, 2 * RGN, 0);
	char *a, *b;

	a = ms_attach(fd, 2 * RGN, NULL, RW, 0);
	ASSERT_NE(NULL, a) TH_LOG("attach at NULL: %s", strerror(errno));
	EXPECT_EQ(0, (uintptr_t)a % RGN) TH_LOG("NULL attach picked %p", a);
	EXPECT_TRUE(maps_has_exact((unsigned long)a, (unsigned long)a + 2 * RGN));

	/* An unaligned hint: an aligned attachment, or EINVAL. */
	b = ms_attach(fd, 2 * RGN, ADDR_B + 2 * MiB, RW, 0);
	if (b) {
		EXPECT_EQ(0, (uintptr_t)b % RGN) TH_LOG("hint attach picked %p", b);
		EXPECT_NE(a, b);
		EXPECT_EQ(0, munmap(b, 2 * RGN));
	} else {
		EXPECT_EQ(EINVAL, errno) TH_LOG("attach with an unaligned hint: %s", strerror(errno));
	}

	/* MAP_FIXED at an aligned address. */
	ASSERT_EQ(0, maps_count((unsigned long)ADDR_C, (unsigned long)ADDR_C + 2 * RGN));
	b = ms_attach(fd, 2 * RGN, ADDR_C, RW, MAP_FIXED);
	EXPECT_EQ(ADDR_C, b) TH_LOG("MAP_FIXED attach: %s", strerror(errno));
	if (b) {
		EXPECT_TRUE(maps_has_exact((unsigned long)b, (unsigned long)b + 2 * RGN));
		EXPECT_EQ(0, munmap(b, 2 * RGN));
		EXPECT_EQ(0, maps_count((unsigned long)b, (unsigned long)b + 2 * RGN));
	}

	/* A PROT_READ attachment of the O_RDWR fd. */
	b = ms_attach(fd, 2 * RGN, NULL, PROT_READ, 0);
	EXPECT_NE(NULL, b) TH_LOG("PROT_READ attach: %s", strerror(errno));
	if (b) {
		EXPECT_EQ(0, munmap(b, 2 * RGN));
	}

	EXPECT_EQ(0, munmap(a, 2 * RGN));
	EXPECT_EQ(0, maps_count((unsigned long)a, (unsigned long)a + 2 * RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/*
 * Three processes: A (the test) creates the region and maps a memfd, shared
 * and private anonymous memory in it; B (forked) and C (forked before the
 * region existed, gets the fd over SCM_RIGHTS) attach at their own
 * addresses.  Word 0 of each page is A's, word 1 B's, word 2 C's, word 3
 * A's second round.
 */
#define HP_LEN		(4 * MiB)
static const size_t hp_off[3] = { 0, 64 * MiB, 128 * MiB };
#define HP_TAG(who, area)	((uint64_t)(who) << 8 | (area))

static bool hp_check(char *att, int who, int word)
{
	for (int k = 0; k < 3; k++)
		if (check_pat(att + hp_off[k], HP_LEN, PG, HP_TAG(who, k), word) != -1)
			return false;
	return true;
}

static void hp_fill(char *att, int who, int word)
{
	for (int k = 0; k < 3; k++)
		fill_pat(att + hp_off[k], HP_LEN, PG, HP_TAG(who, k), word);
}

static void hp_child_c(int sock)
{
	struct stat st;
	char *att;
	int fd;

	fd = recv_fd(sock);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)RGN);
	att = ms_attach(fd, RGN, ADDR_C, RW, MAP_FIXED_NOREPLACE);
	CHILD_CHECK(att == ADDR_C);
	CHILD_CHECK(sock_send(sock, 'a') == 0);

	CHILD_CHECK(sock_recv(sock) == 'c');
	CHILD_CHECK(hp_check(att, 0xA, 0));
	CHILD_CHECK(hp_check(att, 0xB, 1));
	hp_fill(att, 0xC, 2);
	CHILD_CHECK(sock_send(sock, 'c') == 0);

	CHILD_CHECK(sock_recv(sock) == 'v');
	CHILD_CHECK(hp_check(att, 0xA, 0));
	CHILD_CHECK(hp_check(att, 0xB, 1));
	CHILD_CHECK(hp_check(att, 0xC, 2));
	CHILD_CHECK(hp_check(att, 0xA2, 3));
	CHILD_CHECK(sock_send(sock, 'v') == 0);
	_exit(0);
}

static void hp_child_b(int sock, int fd)
{
	char *att = ms_attach(fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);

	CHILD_CHECK(att == ADDR_B);
	CHILD_CHECK(hp_check(att, 0xA, 0));
	hp_fill(att, 0xB, 1);
	CHILD_CHECK(sock_send(sock, 'b') == 0);

	CHILD_CHECK(sock_recv(sock) == 'v');
	CHILD_CHECK(hp_check(att, 0xA, 0));
	CHILD_CHECK(hp_check(att, 0xB, 1));
	CHILD_CHECK(hp_check(att, 0xC, 2));
	CHILD_CHECK(hp_check(att, 0xA2, 3));
	CHILD_CHECK(sock_send(sock, 'v') == 0);
	_exit(0);
}

TEST_F_TIMEOUT(mshare, three_processes, 120)
{
	int sc[2], sb[2], fd, memfd;
	pid_t pb, pc;
	char *att;

	/* C exists before the region: it can only get the fd by SCM_RIGHTS. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sc));
	pc = fork();
	ASSERT_LE(0, pc);
	if (pc == 0) {
		close(sc[0]);
		hp_child_c(sc[1]);
	}
	close(sc[1]);

	fd = create(_metadata, RGN, 0);
	att = attach(_metadata, fd, RGN, NULL, RW);
	EXPECT_NE(ADDR_B, att);
	EXPECT_NE(ADDR_C, att);

	memfd = memfd_sized("hp", HP_LEN);
	ASSERT_LE(0, memfd);
	map_in(_metadata, att + hp_off[0], HP_LEN, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + hp_off[1], HP_LEN, RW,
	       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1);
	map_in(_metadata, att + hp_off[2], HP_LEN, RW,
	       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	hp_fill(att, 0xA, 0);
	/* The memfd mapping really is the memfd. */
	for (size_t i = 0; i < HP_LEN / PG; i += 97) {
		ASSERT_EQ(pat(HP_TAG(0xA, 0), i), pread_word(memfd, i, 0));
	}

	ASSERT_EQ(0, send_fd(sc[0], fd));
	ASSERT_EQ('a', sock_recv(sc[0]));

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sb));
	pb = fork();
	ASSERT_LE(0, pb);
	if (pb == 0) {
		close(sb[0]);
		close(sc[0]);
		hp_child_b(sb[1], fd);
	}
	close(sb[1]);

	ASSERT_EQ('b', sock_recv(sb[0]));
	EXPECT_TRUE(hp_check(att, 0xB, 1)) TH_LOG("A does not see B's writes");
	ASSERT_EQ(0, sock_send(sc[0], 'c'));
	ASSERT_EQ('c', sock_recv(sc[0]));
	EXPECT_TRUE(hp_check(att, 0xC, 2)) TH_LOG("A does not see C's writes");
	EXPECT_TRUE(hp_check(att, 0xA, 0));
	for (size_t i = 0; i < HP_LEN / PG; i += 97) {
		EXPECT_EQ(pat(HP_TAG(0xB, 0), i), pread_word(memfd, i, 1));
		EXPECT_EQ(pat(HP_TAG(0xC, 0), i), pread_word(memfd, i, 2));
	}
	hp_fill(att, 0xA2, 3);
	ASSERT_EQ(0, sock_send(sb[0], 'v'));
	ASSERT_EQ(0, sock_send(sc[0], 'v'));
	EXPECT_EQ('v', sock_recv(sb[0]));
	EXPECT_EQ('v', sock_recv(sc[0]));
	EXPECT_TRUE(child_ok(pb, "B"));
	EXPECT_TRUE(child_ok(pc, "C"));

	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* Shared page tables: 512 MiB populated, then read by many processes. */

#define PT_LEN		(512 * MiB)
#define PT_N		32
#define PT_TAG		0x5a

/* A 1 GiB region with a PT_LEN memfd (page i: pat(PT_TAG, i)) populated at 0, detached. */
static int populated_region(struct __test_metadata *_metadata)
{
	int fd = create(_metadata, RGN, 0);
	int memfd = memfd_pat(_metadata, PT_LEN, PT_TAG);
	char *att = attach(_metadata, fd, RGN, NULL, RW);

	map_in(_metadata, att, PT_LEN, RW, MAP_SHARED | MAP_FIXED | MAP_POPULATE, memfd);
	close(memfd);
	/* The creator reads it all too: it is populated either way. */
	ASSERT_EQ(-1, check_pat(att, PT_LEN, PG, PT_TAG, 0));
	ASSERT_EQ(0, munmap(att, RGN));
	return fd;
}

static void pt_child(int fd, bool do_attach, int prot, struct barrier *b)
{
	int ret = 0;

	if (do_attach) {
		char *att = ms_attach(fd, RGN, NULL, prot, 0);

		if (!att)
			ret = 3;
		else if (check_pat(att, PT_LEN, PG, PT_TAG, 0) != -1)
			ret = 4;
	}
	/* Report ready even on failure: the others would wait for us. */
	barrier_child_wait(b);
	_exit(ret);
}

/* PageTables growth in kB while n children (attached or not) wait. */
static long pt_run(struct __test_metadata *_metadata, int fd, bool do_attach, int n)
{
	struct barrier b;
	long before, during;

	ASSERT_EQ(0, barrier_init(&b));
	before = meminfo_kb("PageTables");
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			pt_child(fd, do_attach, i & 1 ? RW : PROT_READ, &b);
	}
	ASSERT_EQ(0, barrier_parent_wait(&b, n));
	during = meminfo_kb("PageTables");
	barrier_release(&b);
	EXPECT_EQ(0, reap_children()) TH_LOG("some %s children failed",
					     do_attach ? "attaching" : "control");
	return during - before;
}

TEST_F_TIMEOUT(mshare, pagetables_shared_32, 600)
{
	long ctl, att, growth, memfd_pred = PT_N * (long)(PT_LEN / 512 / KiB);
	int fd = populated_region(_metadata);

	ctl = pt_run(_metadata, fd, false, PT_N);
	att = pt_run(_metadata, fd, true, PT_N);
	growth = att - ctl;
	TH_LOG("%d processes reading 512 MiB of one region: PageTables %+ld kB (attached run %+ld kB, control run %+ld kB); unshared memfd mappings would take %ld kB",
	       PT_N, growth, att, ctl, memfd_pred);
	EXPECT_LT(growth, 1024);
	close(fd);
}

TEST_F_TIMEOUT(mshare, minflt_populated, 300)
{
	int fd = populated_region(_metadata);
	long before, after;
	char *att;

	att = attach(_metadata, fd, RGN, NULL, PROT_READ);
	before = minflt_self();
	EXPECT_EQ(-1, check_pat(att, PT_LEN, PG, PT_TAG, 0));
	after = minflt_self();
	TH_LOG("reading 512 MiB (%lu pages) of a populated region: %ld minor faults",
	       PT_LEN / PG, after - before);
	EXPECT_LE(after - before, 16);
	EXPECT_EQ(0, munmap(att, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* Mappings made after B attached (and faulted) appear to B. */

#define NM_LEN		(4 * MiB)

static void nm_child(int sock, int fd)
{
	char *att = ms_attach(fd, 2 * RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);

	CHILD_CHECK(att == ADDR_B);
	CHILD_CHECK(sock_send(sock, 'a') == 0);
	CHILD_CHECK(sock_recv(sock) == '1');
	CHILD_CHECK(check_pat(att, NM_LEN, PG, 0x1, 0) == -1);
	CHILD_CHECK(sock_send(sock, '1') == 0);
	CHILD_CHECK(sock_recv(sock) == '2');
	/* memfd 4 replaced memfd 1 at 0; 2 and 3 are new; 5 is shared anon. */
	CHILD_CHECK(check_pat(att, NM_LEN, PG, 0x4, 0) == -1);
	CHILD_CHECK(check_pat(att + NM_LEN, NM_LEN, PG, 0x2, 0) == -1);
	CHILD_CHECK(check_pat(att + RGN + NM_LEN, NM_LEN, PG, 0x3, 0) == -1);
	CHILD_CHECK(check_pat(att + 2 * NM_LEN, NM_LEN, PG, 0x5, 0) == -1);
	fill_pat(att + NM_LEN, NM_LEN, PG, 0x22, 1);
	fill_pat(att + 2 * NM_LEN, NM_LEN, PG, 0x55, 1);
	CHILD_CHECK(sock_send(sock, '2') == 0);
	_exit(0);
}

TEST_F_TIMEOUT(mshare, new_mappings_visible, 120)
{
	int fd = create(_metadata, 2 * RGN, 0);
	int m1, m2, m3, m4, sv[2];
	char *att;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		nm_child(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_EQ('a', sock_recv(sv[0]));

	att = attach(_metadata, fd, 2 * RGN, NULL, RW);
	m1 = memfd_pat(_metadata, NM_LEN, 0x1);
	map_in(_metadata, att, NM_LEN, RW, MAP_SHARED | MAP_FIXED, m1);
	ASSERT_EQ(0, sock_send(sv[0], '1'));
	ASSERT_EQ('1', sock_recv(sv[0]));

	/* B has faulted the first GiB: its PUD entry is linked. */
	m2 = memfd_pat(_metadata, NM_LEN, 0x2);
	m3 = memfd_pat(_metadata, NM_LEN, 0x3);
	m4 = memfd_pat(_metadata, NM_LEN, 0x4);
	map_in(_metadata, att + NM_LEN, NM_LEN, RW, MAP_SHARED | MAP_FIXED, m2);
	map_in(_metadata, att + RGN + NM_LEN, NM_LEN, RW, MAP_SHARED | MAP_FIXED, m3);
	map_in(_metadata, att, NM_LEN, RW, MAP_SHARED | MAP_FIXED, m4);
	map_in(_metadata, att + 2 * NM_LEN, NM_LEN, RW,
	       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att + 2 * NM_LEN, NM_LEN, PG, 0x5, 0);
	ASSERT_EQ(0, sock_send(sv[0], '2'));
	ASSERT_EQ('2', sock_recv(sv[0]));
	EXPECT_TRUE(child_ok(pid, "B"));

	for (size_t i = 0; i < NM_LEN / PG; i += 31) {
		EXPECT_EQ(pat(0x22, i), pread_word(m2, i, 1));
	}
	EXPECT_EQ(-1, check_pat(att + 2 * NM_LEN, NM_LEN, PG, 0x55, 1));
	/* memfd 1 is out of the region: nobody wrote to it. */
	EXPECT_EQ(0, pread_word(m1, 0, 1));
	EXPECT_EQ(-1, check_pat(att, NM_LEN, PG, 0x4, 0));

	EXPECT_EQ(0, munmap(att, 2 * RGN));
	close(m1);
	close(m2);
	close(m3);
	close(m4);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* Faults that must fail. */

struct touch {
	volatile char *p;
	bool write;
};

static void do_touch(void *arg)
{
	struct touch *t = arg;

	if (t->write)
		*t->p = 0x5c;
	else
		(void)*t->p;
}

static int touch_status(volatile char *p, bool write)
{
	struct touch t = { p, write };

	return child_status(do_touch, &t);
}

TEST_F_TIMEOUT(mshare, faults_sigsegv, 120)
{
	int fd = create(_metadata, 2 * RGN, 0);
	int ro = memfd_pat(_metadata, 64 * KiB, 0x70);
	int rw = memfd_pat(_metadata, 64 * KiB, 0x71);
	char *att = attach(_metadata, fd, 2 * RGN, NULL, RW);
	int st;

	map_in(_metadata, att, 64 * KiB, PROT_READ, MAP_SHARED | MAP_FIXED, ro);
	map_in(_metadata, att + MiB, 64 * KiB, RW, MAP_SHARED | MAP_FIXED, rw);
	map_in(_metadata, att + 2 * MiB, 64 * KiB, RW,
	       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);

	/* Controls: reads of mappings, writes of writable ones, survive. */
	st = touch_status(att + PG, false);
	EXPECT_TRUE(exited_ok(st)) TH_LOG("read of a PROT_READ mapping: status %#x", st);
	st = touch_status(att + MiB + PG, true);
	EXPECT_TRUE(exited_ok(st)) TH_LOG("write of a RW memfd mapping: status %#x", st);
	st = touch_status(att + 2 * MiB + PG, true);
	EXPECT_TRUE(exited_ok(st)) TH_LOG("write of a RW anon mapping: status %#x", st);
	EXPECT_EQ(0x5c, (unsigned char)att[MiB + PG]) TH_LOG("child's write not seen");

	/* Write to a PROT_READ region mapping. */
	st = touch_status(att + PG, true);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("write of a PROT_READ mapping: status %#x", st);
	EXPECT_EQ(pat(0x70, 1), pread_word(ro, 1, 0));
	EXPECT_EQ(pat(0x70, 1), *wordp(att, PG, 0));

	/* Holes: in a populated PMD range, past a mapping's end, elsewhere, in an empty GiB. */
	st = touch_status(att + 64 * KiB, false);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("read past a mapping: status %#x", st);
	st = touch_status(att + MiB + 64 * KiB, true);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("write past a mapping: status %#x", st);
	st = touch_status(att + 512 * MiB, false);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("read of a hole: status %#x", st);
	st = touch_status(att + 512 * MiB, true);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("write of a hole: status %#x", st);
	st = touch_status(att + RGN + 4 * MiB, false);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("read of an empty GiB: status %#x", st);
	st = touch_status(att + 2 * RGN - PG, true);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("write of the last page: status %#x", st);

	/* The same in this process (after the children faulted). */
	EXPECT_FALSE(probe(att + 512 * MiB, false));
	EXPECT_FALSE(probe(att + PG, true));
	EXPECT_TRUE(probe(att + PG, false));

	EXPECT_EQ(0, munmap(att, 2 * RGN));
	close(ro);
	close(rw);
	close(fd);
}

TEST_F_TIMEOUT(mshare, prot_read_attachment, 120)
{
	int fd = create(_metadata, RGN, 0);
	int memfd = memfd_pat(_metadata, 64 * KiB, 0x72);
	char *att = attach(_metadata, fd, RGN, NULL, RW);
	char *ro;
	int st;

	map_in(_metadata, att, 64 * KiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + MiB, 64 * KiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att + MiB, 64 * KiB, PG, 0x73, 0);
	ro = attach(_metadata, fd, RGN, NULL, PROT_READ);
	ASSERT_NE(att, ro);

	EXPECT_EQ(-1, check_pat(ro, 64 * KiB, PG, 0x72, 0));
	EXPECT_EQ(-1, check_pat(ro + MiB, 64 * KiB, PG, 0x73, 0));
	st = touch_status(ro + PG, true);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("write via a PROT_READ attachment: status %#x", st);
	st = touch_status(ro + MiB + PG, true);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("write via a PROT_READ attachment (anon): status %#x", st);
	EXPECT_FALSE(probe(ro + PG, true));
	EXPECT_EQ(-1, check_pat(att, 64 * KiB, PG, 0x72, 0));
	EXPECT_EQ(-1, check_pat(att + MiB, 64 * KiB, PG, 0x73, 0));
	/* The writable attachment still writes, and the read-only one sees it. */
	*wordp(att, PG, 1) = 0x1234;
	EXPECT_EQ(0x1234, *wordp(ro, PG, 1));
	EXPECT_EQ(0x1234, pread_word(memfd, 1, 1));

	EXPECT_EQ(0, munmap(ro, RGN));
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* The creator dies; the sharers go on; then everything is freed. */

#define SV_N		8
#define SV_MEMFD_LEN	(16 * MiB)
#define SV_SANON_OFF	(16 * MiB)
#define SV_SANON_LEN	(16 * MiB)
#define SV_PANON_OFF	(32 * MiB)
#define SV_PANON_LEN	(RGN - 96 * MiB)
#define SV_PSTEP	(2 * MiB)
#define SV_NEW_OFF	(RGN - 64 * MiB)
#define SV_NEW_LEN	(4 * MiB)

static bool sv_check_creator(char *att)
{
	return check_pat(att, SV_MEMFD_LEN, PG, 0x51, 0) == -1 &&
	       check_pat(att + SV_SANON_OFF, SV_SANON_LEN, PG, 0x52, 0) == -1 &&
	       check_pat(att + SV_PANON_OFF, SV_PANON_LEN, SV_PSTEP, 0x53, 0) == -1;
}

static void sv_mark(char *att, int i)
{
	*wordp(att, i * PG, 1) = pat(0x60 + i, 1);
	*wordp(att, SV_SANON_OFF + i * PG, 1) = pat(0x60 + i, 2);
	*wordp(att, SV_PANON_OFF + i * SV_PSTEP, 1) = pat(0x60 + i, 3);
}

static bool sv_check_mark(char *att, int i)
{
	return *wordp(att, i * PG, 1) == pat(0x60 + i, 1) &&
	       *wordp(att, SV_SANON_OFF + i * PG, 1) == pat(0x60 + i, 2) &&
	       *wordp(att, SV_PANON_OFF + i * SV_PSTEP, 1) == pat(0x60 + i, 3);
}

static void sv_sharer(int i, int sock)
{
	char *att;
	int fd;

	fd = recv_fd(sock);
	CHILD_CHECK(fd >= 0);
	att = ms_attach(fd, RGN, NULL, RW, 0);
	CHILD_CHECK(att != NULL);
	/* Half of them keep the region alive by their attachment alone. */
	if (i & 1)
		close(fd);
	CHILD_CHECK(sv_check_creator(att));
	CHILD_CHECK(sock_send(sock, 'r') == 0);

	CHILD_CHECK(sock_recv(sock) == 'k');
	CHILD_CHECK(sv_check_creator(att));
	sv_mark(att, i);
	CHILD_CHECK(sv_check_mark(att, i));
	if (i == 0) {
		void *p = mmap(att + SV_NEW_OFF, SV_NEW_LEN, RW,
			       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

		CHILD_CHECK(p == att + SV_NEW_OFF);
		fill_pat(p, SV_NEW_LEN, PG, 0x54, 0);
	}
	CHILD_CHECK(sock_send(sock, 'w') == 0);

	CHILD_CHECK(sock_recv(sock) == 'v');
	CHILD_CHECK(sv_check_creator(att));
	for (int j = 0; j < SV_N; j++)
		CHILD_CHECK(sv_check_mark(att, j));
	CHILD_CHECK(check_pat(att + SV_NEW_OFF, SV_NEW_LEN, PG, 0x54, 0) == -1);
	CHILD_CHECK(sock_send(sock, 'v') == 0);
	_exit(0);
}

static void sv_creator(int socks[SV_N], int done)
{
	int fd = sys_mshare_create(RGN, 0), memfd;
	char *att;

	CHILD_CHECK(fd >= 0);
	att = ms_attach(fd, RGN, NULL, RW, 0);
	CHILD_CHECK(att != NULL);
	memfd = memfd_sized("survival", SV_MEMFD_LEN);
	CHILD_CHECK(memfd >= 0);
	CHILD_CHECK(ms_map_fd(att, SV_MEMFD_LEN, RW, memfd) == att);
	close(memfd);
	CHILD_CHECK(ms_map_anon(att + SV_SANON_OFF, SV_SANON_LEN, RW, MAP_SHARED) ==
		    att + SV_SANON_OFF);
	CHILD_CHECK(ms_map_anon(att + SV_PANON_OFF, SV_PANON_LEN, RW, MAP_PRIVATE) ==
		    att + SV_PANON_OFF);
	fill_pat(att, SV_MEMFD_LEN, PG, 0x51, 0);
	fill_pat(att + SV_SANON_OFF, SV_SANON_LEN, PG, 0x52, 0);
	fill_pat(att + SV_PANON_OFF, SV_PANON_LEN, SV_PSTEP, 0x53, 0);
	for (int i = 0; i < SV_N; i++)
		CHILD_CHECK(send_fd(socks[i], fd) == 0);
	CHILD_CHECK(sock_send(done, 'd') == 0);
	for (;;)
		pause();
}

TEST_F_TIMEOUT(mshare, survives_creator_kill, 300)
{
	int sv[SV_N][2], done[2], st;
	pid_t sharer[SV_N], creator;
	struct memsnap base, now;

	memsnap_take(&base);
	for (int i = 0; i < SV_N; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]));
	}
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, done));

	for (int i = 0; i < SV_N; i++) {
		sharer[i] = fork();
		ASSERT_LE(0, sharer[i]);
		if (sharer[i] == 0) {
			for (int j = 0; j < SV_N; j++) {
				close(sv[j][0]);
				if (j != i)
					close(sv[j][1]);
			}
			close(done[0]);
			close(done[1]);
			sv_sharer(i, sv[i][1]);
		}
	}
	creator = fork();
	ASSERT_LE(0, creator);
	if (creator == 0) {
		int socks[SV_N];

		for (int j = 0; j < SV_N; j++) {
			close(sv[j][1]);
			socks[j] = sv[j][0];
		}
		close(done[0]);
		sv_creator(socks, done[1]);
	}
	for (int i = 0; i < SV_N; i++)
		close(sv[i][1]);
	close(done[1]);

	ASSERT_EQ('d', sock_recv(done[0])) TH_LOG("the creator failed");
	for (int i = 0; i < SV_N; i++) {
		ASSERT_EQ('r', sock_recv(sv[i][0])) TH_LOG("sharer %d failed", i);
	}

	ASSERT_EQ(0, kill(creator, SIGKILL));
	ASSERT_EQ(creator, waitpid(creator, &st, 0));
	EXPECT_TRUE(killed_by(st, SIGKILL)) TH_LOG("creator status %#x", st);
	close(done[0]);

	for (int i = 0; i < SV_N; i++) {
		ASSERT_EQ(0, sock_send(sv[i][0], 'k'));
	}
	for (int i = 0; i < SV_N; i++) {
		ASSERT_EQ('w', sock_recv(sv[i][0])) TH_LOG("sharer %d failed after the kill", i);
	}
	for (int i = 0; i < SV_N; i++) {
		ASSERT_EQ(0, sock_send(sv[i][0], 'v'));
	}
	for (int i = 0; i < SV_N; i++) {
		EXPECT_EQ('v', sock_recv(sv[i][0])) TH_LOG("sharer %d failed the final check", i);
	}
	for (int i = 0; i < SV_N; i++) {
		EXPECT_TRUE(child_ok(sharer[i], "sharer"));
		close(sv[i][0]);
	}

	bool back = mem_back_to(&base, &now, 256, 100, 100);

	TH_LOG("after all exited: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       now.pagetables - base.pagetables, now.shmem - base.shmem,
	       now.anon - base.anon);
	EXPECT_TRUE(back) TH_LOG("memory did not return to its baseline");
}

/* ------------------------------------------------------------------------ */
/* fork(): the child inherits the attachment; either side may detach. */

#define FK_LEN		MiB
#define FK_MEMFD	0
#define FK_PANON	(2 * MiB)

static bool fk_check(char *att, uint64_t tag, int word)
{
	return check_pat(att + FK_MEMFD, FK_LEN, PG, tag, word) == -1 &&
	       check_pat(att + FK_PANON, FK_LEN, PG, tag + 1, word) == -1;
}

static void fk_fill(char *att, uint64_t tag, int word)
{
	fill_pat(att + FK_MEMFD, FK_LEN, PG, tag, word);
	fill_pat(att + FK_PANON, FK_LEN, PG, tag + 1, word);
}

static void fk_child1(int sock, char *att)
{
	CHILD_CHECK(fk_check(att, 0x80, 0));
	fk_fill(att, 0xC10, 1);
	CHILD_CHECK(sock_send(sock, 'a') == 0);
	CHILD_CHECK(sock_recv(sock) == 'b');
	CHILD_CHECK(fk_check(att, 0xB10, 2));
	CHILD_CHECK(sock_send(sock, 'c') == 0);
	CHILD_CHECK(sock_recv(sock) == 'd');
	/* The parent has detached. */
	fk_fill(att, 0xC20, 3);
	CHILD_CHECK(fk_check(att, 0x80, 0));
	CHILD_CHECK(fk_check(att, 0xC10, 1));
	CHILD_CHECK(fk_check(att, 0xB10, 2));
	CHILD_CHECK(fk_check(att, 0xC20, 3));
	CHILD_CHECK(sock_send(sock, 'e') == 0);
	CHILD_CHECK(sock_recv(sock) == 'f');
	_exit(0);
}

static void fk_child2(int sock, char *att, int fd)
{
	CHILD_CHECK(fk_check(att, 0xC20, 3));
	CHILD_CHECK(munmap(att, RGN) == 0);
	CHILD_CHECK(!probe(att, false));
	CHILD_CHECK(!probe(att + FK_PANON, false));
	CHILD_CHECK(sock_send(sock, 'g') == 0);
	CHILD_CHECK(sock_recv(sock) == 'h');
	att = ms_attach(fd, RGN, ADDR_C, RW, MAP_FIXED_NOREPLACE);
	CHILD_CHECK(att == ADDR_C);
	CHILD_CHECK(fk_check(att, 0xB20, 4));
	fk_fill(att, 0xC30, 5);
	CHILD_CHECK(sock_send(sock, 'i') == 0);
	CHILD_CHECK(sock_recv(sock) == 'j');
	_exit(0);
}

TEST_F_TIMEOUT(mshare, fork_inherits, 120)
{
	int fd = create(_metadata, RGN, 0);
	int memfd = memfd_sized("fork", FK_LEN);
	char *att = attach(_metadata, fd, RGN, NULL, RW);
	int sv[2];
	pid_t pid;

	ASSERT_LE(0, memfd);
	map_in(_metadata, att + FK_MEMFD, FK_LEN, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + FK_PANON, FK_LEN, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	fk_fill(att, 0x80, 0);

	/* Child writes, parent sees (also the MAP_PRIVATE pages: no COW). */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		fk_child1(sv[1], att);
	}
	close(sv[1]);
	ASSERT_EQ('a', sock_recv(sv[0]));
	EXPECT_TRUE(fk_check(att, 0xC10, 1)) TH_LOG("parent does not see the child's writes");
	fk_fill(att, 0xB10, 2);
	ASSERT_EQ(0, sock_send(sv[0], 'b'));
	ASSERT_EQ('c', sock_recv(sv[0]));

	/* The parent detaches; the child goes on. */
	ASSERT_EQ(0, munmap(att, RGN));
	EXPECT_EQ(0, maps_count((unsigned long)att, (unsigned long)att + RGN));
	EXPECT_FALSE(probe(att, false)) TH_LOG("detached attachment still readable");
	EXPECT_FALSE(probe(att + FK_PANON, false)) TH_LOG("detached attachment still readable");
	ASSERT_EQ(0, sock_send(sv[0], 'd'));
	ASSERT_EQ('e', sock_recv(sv[0]));
	for (size_t i = 0; i < FK_LEN / PG; i++) {
		ASSERT_EQ(pat(0xC20, i), pread_word(memfd, i, 3));
	}
	att = attach(_metadata, fd, RGN, NULL, RW);
	EXPECT_TRUE(fk_check(att, 0xC20, 3));
	EXPECT_TRUE(fk_check(att, 0xB10, 2));
	ASSERT_EQ(0, sock_send(sv[0], 'f'));
	EXPECT_TRUE(child_ok(pid, "child 1"));
	close(sv[0]);

	/* The reverse: the child detaches, the parent goes on. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		fk_child2(sv[1], att, fd);
	}
	close(sv[1]);
	ASSERT_EQ('g', sock_recv(sv[0]));
	EXPECT_TRUE(fk_check(att, 0xC20, 3));
	fk_fill(att, 0xB20, 4);
	EXPECT_TRUE(fk_check(att, 0xB20, 4));
	ASSERT_EQ(0, sock_send(sv[0], 'h'));
	ASSERT_EQ('i', sock_recv(sv[0]));
	EXPECT_TRUE(fk_check(att, 0xC30, 5)) TH_LOG("parent does not see the reattached child's writes");
	ASSERT_EQ(0, sock_send(sv[0], 'j'));
	EXPECT_TRUE(child_ok(pid, "child 2"));
	close(sv[0]);

	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/*
 * TLB coherence.  B spins on a page of the region (its own attachment, on
 * the other CPU): iteration i writes i to word 1, reads word 0 (the round's
 * magic of the memfd mapped there), publishes i, then a full fence.  A
 * replaces the mapping with the next round's memfd, reads B's published
 * count t right after mmap() returns, and requires: B reads the new magic
 * from iteration t + 2 on (every later load follows A's read), and the old
 * memfd never holds a value above t + 1 (every later store follows it).
 */
#define TLB_ROUNDS	24
#define TLB_OFF		(2 * MiB)
#define TLB_MAGIC	0x7e57000000000000ULL

struct tlb_ctl {
	long stop;
	long iter;
	long first_seen[TLB_ROUNDS + 1];
	long unexpected, regress;
	uint64_t unexpected_val;
};

static void tlb_spin(struct tlb_ctl *c, volatile uint64_t *p)
{
	long i = 0, last = 0;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint64_t v;

		i++;
		p[1] = i;
		v = p[0];
		if (v >= TLB_MAGIC && v <= TLB_MAGIC + TLB_ROUNDS) {
			long r = v - TLB_MAGIC;

			if (!__atomic_load_n(&c->first_seen[r], __ATOMIC_RELAXED))
				__atomic_store_n(&c->first_seen[r], i, __ATOMIC_RELAXED);
			if (r < last)
				__atomic_add_fetch(&c->regress, 1, __ATOMIC_RELAXED);
			last = r;
		} else {
			c->unexpected_val = v;
			__atomic_add_fetch(&c->unexpected, 1, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&c->iter, i, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
}

struct tlb_thread_arg {
	struct tlb_ctl *c;
	volatile uint64_t *p;
};

static void *tlb_thread(void *arg)
{
	struct tlb_thread_arg *a = arg;

	pin_to_cpu(1);
	tlb_spin(a->c, a->p);
	return NULL;
}

/* Wait until @cond or 20 s; the condition's final value. */
#define WAIT_FOR(cond) ({ \
	double _end = now_sec() + 20; \
	while (!(cond) && now_sec() < _end) \
		; \
	(cond); \
})

static void tlb_case(struct __test_metadata *_metadata, bool thread)
{
	int memfds[TLB_ROUNDS + 1], neighbour, fd;
	long t[TLB_ROUNDS + 1], worst = 0;
	struct tlb_thread_arg ta;
	struct tlb_ctl *c;
	pthread_t th;
	pid_t pid = -1;
	char *att;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs 2 online CPUs");

	fd = create(_metadata, RGN, 0);
	att = attach(_metadata, fd, RGN, NULL, RW);
	for (int r = 0; r <= TLB_ROUNDS; r++) {
		memfds[r] = memfd_sized("tlb", PG);
		ASSERT_LE(0, memfds[r]);
		uint64_t magic = TLB_MAGIC + r;

		ASSERT_EQ(8, pwrite(memfds[r], &magic, 8, 0));
	}
	neighbour = memfd_sized("tlb-neighbour", PG);
	ASSERT_LE(0, neighbour);
	map_in(_metadata, att + TLB_OFF, PG, RW, MAP_SHARED | MAP_FIXED, memfds[0]);

	c = mmap(NULL, sizeof(*c), RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c);
	memset(c, 0, sizeof(*c));

	if (thread) {
		/* B: a thread spinning through a second attachment. */
		char *att2 = attach(_metadata, fd, RGN, ADDR_B, RW);

		ta.c = c;
		ta.p = (volatile uint64_t *)(att2 + TLB_OFF);
		ASSERT_EQ(0, pthread_create(&th, NULL, tlb_thread, &ta));
	} else {
		/* B: a process, attached on its own at another address. */
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			char *b;

			/* Do not spin on if the test dies. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(1);
			CHILD_CHECK(munmap(att, RGN) == 0);
			b = ms_attach(fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);
			CHILD_CHECK(b == ADDR_B);
			CHILD_CHECK(pin_to_cpu(1) == 0);
			tlb_spin(c, (volatile uint64_t *)(b + TLB_OFF));
			_exit(0);
		}
	}
	ASSERT_EQ(0, pin_to_cpu(0));
	ASSERT_TRUE(WAIT_FOR(__atomic_load_n(&c->first_seen[0], __ATOMIC_ACQUIRE) &&
			     __atomic_load_n(&c->iter, __ATOMIC_ACQUIRE) >
			     c->first_seen[0] + 100)) TH_LOG("B does not run");

	for (int r = 1; r <= TLB_ROUNDS; r++) {
		/* Half the rounds keep the PTE table alive, half may free it. */
		if (r == TLB_ROUNDS / 2)
			map_in(_metadata, att + TLB_OFF + PG, PG, RW,
			       MAP_SHARED | MAP_FIXED, neighbour);
		map_in(_metadata, att + TLB_OFF, PG, RW, MAP_SHARED | MAP_FIXED, memfds[r]);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		t[r] = __atomic_load_n(&c->iter, __ATOMIC_ACQUIRE);

		ASSERT_TRUE(WAIT_FOR(__atomic_load_n(&c->first_seen[r], __ATOMIC_ACQUIRE)))
			TH_LOG("round %d: B never saw the new mapping (iter %ld, t %ld)",
			       r, c->iter, t[r]);
		long seen = __atomic_load_n(&c->first_seen[r], __ATOMIC_ACQUIRE);

		EXPECT_LE(seen, t[r] + 2)
			TH_LOG("round %d: B still read the old page at iteration %ld, after mmap() returned at iteration %ld",
			       r, seen - 1, t[r]);
		if (seen - t[r] > worst)
			worst = seen - t[r];
		ASSERT_TRUE(WAIT_FOR(__atomic_load_n(&c->iter, __ATOMIC_ACQUIRE) > seen + 100));
		uint64_t old = pread_word(memfds[r - 1], 0, 1);

		EXPECT_LE(old, (uint64_t)t[r] + 1)
			TH_LOG("round %d: B wrote %lu to the old memfd after mmap() returned at iteration %ld",
			       r, (unsigned long)old, t[r]);
	}
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	if (thread) {
		ASSERT_EQ(0, pthread_join(th, NULL));
	} else {
		EXPECT_TRUE(child_ok(pid, "B"));
	}

	for (int r = 1; r <= TLB_ROUNDS; r++) {
		uint64_t old = pread_word(memfds[r - 1], 0, 1);
		uint64_t cur = pread_word(memfds[r], 0, 1);

		EXPECT_LE(old, (uint64_t)t[r] + 1) TH_LOG("round %d: late write to the old memfd", r);
		EXPECT_GT(cur, (uint64_t)c->first_seen[r])
			TH_LOG("round %d: B's writes did not reach the new memfd", r);
		EXPECT_EQ(TLB_MAGIC + r, pread_word(memfds[r], 0, 0));
	}
	EXPECT_EQ(0, c->unexpected) TH_LOG("B read %#lx", (unsigned long)c->unexpected_val);
	EXPECT_EQ(0, c->regress) TH_LOG("B saw an older mapping after a newer one");
	EXPECT_EQ(0, pread_word(neighbour, 0, 1));
	TH_LOG("%d replacements under a spinning %s; B saw the new page at most %ld iterations after mmap() returned; %ld iterations in all",
	       TLB_ROUNDS, thread ? "thread" : "process", worst, c->iter);

	munmap(c, sizeof(*c));
	for (int r = 0; r <= TLB_ROUNDS; r++)
		close(memfds[r]);
	close(neighbour);
	EXPECT_EQ(0, munmap(att, RGN));
	close(fd);
}

TEST_F_TIMEOUT(mshare, tlb_coherence_process, 300) { tlb_case(_metadata, false); }
TEST_F_TIMEOUT(mshare, tlb_coherence_thread, 300) { tlb_case(_metadata, true); }

/* ------------------------------------------------------------------------ */
/* Refusals. */

TEST_F(mshare, create_refusals)
{
	struct { size_t size; unsigned int flags; } bad[] = {
		{ 0, 0 }, { PG, 0 }, { 2 * MiB, 0 }, { RGN - PG, 0 }, { RGN + PG, 0 },
		{ RGN / 2, 0 }, { 3 * RGN / 2, 0 }, { 0, MSHARE_CLOEXEC },
		{ RGN, 0x2 }, { RGN, 0x80000000U }, { RGN, ~0U },
		{ RGN, MSHARE_CLOEXEC | 0x4 }, { RGN, O_CLOEXEC },
	};
	size_t huge[] = { 1ULL << 62, SIZE_MAX & ~(RGN - 1), 1ULL << 63 };
	int fd;

	/* The syscall exists and works. */
	fd = create(_metadata, RGN, 0);
	close(fd);

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		fd = sys_mshare_create(bad[i].size, bad[i].flags);
		EXPECT_EQ(-1, fd) TH_LOG("mshare_create(%#zx, %#x) succeeded",
					 bad[i].size, bad[i].flags);
		EXPECT_EQ(EINVAL, errno) TH_LOG("mshare_create(%#zx, %#x): %s",
						bad[i].size, bad[i].flags, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	for (unsigned int i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		errno = 0;
		fd = sys_mshare_create(huge[i], 0);
		EXPECT_EQ(-1, fd) TH_LOG("mshare_create(%#zx) succeeded", huge[i]);
		EXPECT_TRUE(errno == EINVAL || errno == ENOMEM)
			TH_LOG("mshare_create(%#zx): %s", huge[i], strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

TEST_F(mshare, attach_refusals)
{
	int fd = create(_metadata, 2 * RGN, 0);
	char *fixed = ADDR_D;

	ASSERT_EQ(0, maps_count((unsigned long)fixed - RGN, (unsigned long)fixed + 4 * RGN));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, 2 * RGN, RW, MAP_PRIVATE, fd, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, 2 * RGN, PROT_READ, MAP_PRIVATE, fd, 0));
	/* Windows must be whole GiBs inside the region (mshare_windows). */
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, PG, RW, MAP_SHARED, fd, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, 2 * RGN - PG, RW, MAP_SHARED, fd, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, 2 * RGN, RW, MAP_SHARED, fd, RGN));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, RGN, RW, MAP_SHARED, fd, 2 * RGN));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, 2 * RGN, RW, MAP_SHARED, fd, PG));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, 3 * RGN, RW, MAP_SHARED, fd, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(fixed + 2 * MiB, 2 * RGN, RW, MAP_SHARED | MAP_FIXED, fd, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(fixed + PG, 2 * RGN, RW, MAP_SHARED | MAP_FIXED, fd, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(fixed + RGN / 2, 2 * RGN, RW, MAP_SHARED | MAP_FIXED, fd, 0));
	/* Nothing was left behind, and a good attach still works. */
	EXPECT_EQ(0, maps_count((unsigned long)fixed - RGN, (unsigned long)fixed + 4 * RGN));
	char *att = attach(_metadata, fd, 2 * RGN, fixed, RW);

	EXPECT_EQ(0, munmap(att, 2 * RGN));
	close(fd);
}

TEST_F(mshare, inside_refusals)
{
	int fd = create(_metadata, 2 * RGN, 0);
	int fd2 = create(_metadata, RGN, 0);
	int memfd = memfd_pat(_metadata, 64 * KiB, 0x90);
	char *att, *att2, *ro;
	int st;

	ASSERT_EQ(0, maps_count((unsigned long)ADDR_D - RGN, (unsigned long)ADDR_D + 5 * RGN));
	att = attach(_metadata, fd, 2 * RGN, ADDR_D, RW);
	att2 = attach(_metadata, fd, 2 * RGN, ADDR_D + 2 * RGN, RW);	/* adjacent */
	ro = attach(_metadata, fd, 2 * RGN, NULL, PROT_READ);
	map_in(_metadata, att, 64 * KiB, RW, MAP_SHARED | MAP_FIXED, memfd);

	/* Through a PROT_READ attachment: EACCES, whatever the mapping. */
	MS_EXPECT_MAP_ERRNO(EACCES, mmap(ro + 4 * MiB, PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	MS_EXPECT_MAP_ERRNO(EACCES, mmap(ro + 4 * MiB, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	MS_EXPECT_MAP_ERRNO(EACCES, mmap(ro + 4 * MiB, PG, RW, MAP_SHARED | MAP_FIXED, memfd, 0));
	MS_EXPECT_MAP_ERRNO(EACCES, mmap(ro + 4 * MiB, PG, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, memfd, 0));
	MS_EXPECT_MAP_ERRNO(EACCES, mmap(ro, PG, RW, MAP_SHARED | MAP_FIXED, memfd, 0));

	/* Straddling an edge of the attachment. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att - PG, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	/* MAP_FIXED_NOREPLACE finds the attachment in its way. */
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att - PG, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att2 + 2 * RGN - PG, 2 * PG, RW, MAP_SHARED | MAP_FIXED, memfd, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att - PG, 2 * RGN + 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	/* ... or between two adjacent attachments. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att + 2 * RGN - PG, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0));

	/* A region inside a region. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att + RGN, RGN, RW, MAP_SHARED | MAP_FIXED, fd2, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att + RGN, RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd2, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att, 2 * RGN, RW, MAP_SHARED | MAP_FIXED, fd, 0));

	/* MAP_FIXED_NOREPLACE over what is there. */
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att, PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att + 60 * KiB, 8 * KiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att2 + 16 * KiB, PG, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, memfd, 0));

	/* All left as it was: the attachments, the memfd mapping, the holes. */
	EXPECT_TRUE(maps_has_exact((unsigned long)att, (unsigned long)att + 2 * RGN));
	EXPECT_TRUE(maps_has_exact((unsigned long)att2, (unsigned long)att2 + 2 * RGN));
	EXPECT_TRUE(maps_has_exact((unsigned long)ro, (unsigned long)ro + 2 * RGN));
	EXPECT_EQ(0, maps_count((unsigned long)att - RGN, (unsigned long)att));
	EXPECT_EQ(-1, check_pat(att, 64 * KiB, PG, 0x90, 0));
	EXPECT_EQ(-1, check_pat(att2, 64 * KiB, PG, 0x90, 0));
	EXPECT_EQ(-1, check_pat(ro, 64 * KiB, PG, 0x90, 0));
	st = touch_status(att + 4 * MiB, false);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("a refused mapping left something: %#x", st);
	st = touch_status(att + 2 * RGN - PG, false);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("a refused mapping left something: %#x", st);
	st = touch_status(att + RGN, false);
	EXPECT_TRUE(killed_by(st, SIGSEGV)) TH_LOG("a refused mapping left something: %#x", st);

	EXPECT_EQ(0, munmap(ro, 2 * RGN));
	EXPECT_EQ(0, munmap(att2, 2 * RGN));
	EXPECT_EQ(0, munmap(att, 2 * RGN));
	close(memfd);
	close(fd2);
	close(fd);
}

TEST_F(mshare, attachment_op_refusals)
{
	int fd = create(_metadata, 2 * RGN, 0);
	int memfd = memfd_pat(_metadata, MiB, 0x91);
	char *att, *other = ADDR_D + 8 * RGN;
	int advice[] = { MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK,
			 MADV_WIPEONFORK, MADV_COLD, MADV_PAGEOUT, MADV_RANDOM,
			 MADV_HUGEPAGE, MADV_MERGEABLE };

	ASSERT_EQ(0, maps_count((unsigned long)ADDR_D - RGN, (unsigned long)ADDR_D + 10 * RGN));
	att = attach(_metadata, fd, 2 * RGN, ADDR_D, RW);
	map_in(_metadata, att, MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + 4 * MiB, MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att + 4 * MiB, MiB, PG, 0x92, 0);

	/*
	 * munmap() of a range that straddles an edge of the attachment.
	 * (Ranges strictly inside act on the region: ops_inside_*.)
	 */
	MS_EXPECT_ERRNO(EINVAL, munmap(att - PG, 2 * PG));
	MS_EXPECT_ERRNO(EINVAL, munmap(att + 2 * RGN - PG, 2 * PG));
	MS_EXPECT_ERRNO(EINVAL, munmap(att - RGN, 2 * RGN));

	/* mprotect of the attachment itself, or across its edge. */
	MS_EXPECT_ERRNO(EINVAL, mprotect(att, 2 * RGN, PROT_READ));
	MS_EXPECT_ERRNO(EINVAL, mprotect(att, 2 * RGN, PROT_NONE));
	MS_EXPECT_ERRNO(EINVAL, mprotect(att - PG, 2 * PG, PROT_READ));
	MS_EXPECT_ERRNO(EINVAL, mprotect(att + 2 * RGN - PG, 2 * PG, PROT_READ));

	/*
	 * madvise across the attachment's edge; of the attachment itself,
	 * advice a region does not take (the rest: mshare_madvise).
	 */
	MS_EXPECT_ERRNO(EINVAL, madvise(att, 2 * RGN, MADV_MERGEABLE));
	MS_EXPECT_ERRNO(EINVAL, madvise(att, 2 * RGN, MADV_WIPEONFORK));
	for (unsigned int i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, madvise(att - PG, 2 * PG, advice[i])) TH_LOG("madvise(edge, %d) succeeded", advice[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("madvise(edge, %d): %s", advice[i], strerror(errno));
	}
	/* Advice a region does not take, inside: refused. */
	MS_EXPECT_ERRNO(EINVAL, madvise(att + 4 * MiB, MiB, MADV_MERGEABLE));
	MS_EXPECT_ERRNO(EINVAL, madvise(att + 4 * MiB, MiB, MADV_DONTFORK));
	MS_EXPECT_ERRNO(EINVAL, madvise(att + 4 * MiB, MiB, MADV_WIPEONFORK));

	/* mremap. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(att, 2 * RGN, 4 * RGN, MREMAP_MAYMOVE));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(att, 2 * RGN, RGN, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(att, 2 * RGN, 2 * RGN, MREMAP_MAYMOVE | MREMAP_FIXED, other));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(att, 2 * RGN, 2 * RGN, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(att, 0, 2 * RGN, MREMAP_MAYMOVE));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(att + 4 * MiB, PG, 2 * PG, MREMAP_MAYMOVE));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(att + 4 * MiB, MiB, MiB, MREMAP_MAYMOVE | MREMAP_FIXED, other));

	/* Nothing changed. */
	EXPECT_TRUE(maps_has_exact((unsigned long)att, (unsigned long)att + 2 * RGN));
	EXPECT_EQ(0, maps_count((unsigned long)other, (unsigned long)other + 2 * RGN));
	EXPECT_EQ(-1, check_pat(att, MiB, PG, 0x91, 0));
	EXPECT_EQ(-1, check_pat(att + 4 * MiB, MiB, PG, 0x92, 0));
	EXPECT_TRUE(probe(att + 4 * MiB, true));
	EXPECT_TRUE(probe(att, true));

	EXPECT_EQ(0, munmap(att, 2 * RGN));
	close(memfd);
	close(fd);
}

/* One refused call of kind @k; true if it failed with the right errno. */
static bool refuse_one(int k, int fd, int fd2, int memfd, char *att, char *ro)
{
	void *p = NULL;
	long r = 0;
	int want = EINVAL;

	errno = 0;
	switch (k) {
	case 0: r = sys_mshare_create(0, 0); break;
	case 1: r = sys_mshare_create(RGN + PG, 0); break;
	case 2: r = sys_mshare_create(RGN, 0x2); break;
	case 3: r = sys_mshare_create(RGN, ~0U); break;
	case 4:
		r = sys_mshare_create(1ULL << 62, 0);
		if (r == -1 && errno == ENOMEM)
			want = ENOMEM;
		break;
	case 5: p = mmap(NULL, RGN, RW, MAP_PRIVATE, fd, 0); break;
	case 6: p = mmap(NULL, RGN - PG, RW, MAP_SHARED, fd, 0); break;
	case 7: p = mmap(NULL, RGN, RW, MAP_SHARED, fd, PG); break;
	case 8: p = mmap(ADDR_C + 2 * MiB, RGN, RW, MAP_SHARED | MAP_FIXED, fd, 0); break;
	case 9:
		want = EACCES;
		p = mmap(ro + 8 * MiB, PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 10: p = mmap(att + RGN - PG, 2 * PG, RW, MAP_SHARED | MAP_FIXED, memfd, 0); break;
	case 11: p = mmap(att, RGN, RW, MAP_SHARED | MAP_FIXED, fd2, 0); break;
	case 12:
		want = EEXIST;
		p = mmap(att, PG, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, memfd, 0);
		break;
	case 13: r = munmap(att - PG, 2 * PG); break;
	case 14: r = mprotect(att, RGN, PROT_READ); break;
	case 15: r = madvise(att, RGN, MADV_MERGEABLE); break;
	default: p = mremap(att, RGN, 2 * RGN, MREMAP_MAYMOVE); break;
	}
	if (k <= 4 && r >= 0)
		close(r);
	if (p == NULL)
		return r == -1 && errno == want;
	return p == MAP_FAILED && errno == want;
}
#define REFUSE_KINDS	17

TEST_F_TIMEOUT(mshare, refusals_leak_nothing, 600)
{
	struct memsnap base0, before, after, end;
	int fd, fd2, memfd, fds_before, fds_after, bad = 0;
	char *att, *ro;

	mem_settle();
	memsnap_take(&base0);

	fd = create(_metadata, RGN, 0);
	fd2 = create(_metadata, RGN, 0);
	memfd = memfd_sized("leak", 16 * MiB);
	ASSERT_LE(0, memfd);
	/* att has free space around it, should a refusal wrongly succeed. */
	ASSERT_EQ(0, maps_count((unsigned long)ADDR_D - RGN, (unsigned long)ADDR_D + 2 * RGN));
	ASSERT_EQ(0, maps_count((unsigned long)ADDR_C, (unsigned long)ADDR_C + 2 * RGN));
	att = attach(_metadata, fd, RGN, ADDR_D, RW);
	ro = attach(_metadata, fd, RGN, NULL, PROT_READ);
	map_in(_metadata, att, 16 * MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	fill_pat(att, 16 * MiB, PG, 0x93, 0);
	close(memfd);
	memfd = memfd_sized("leak2", PG);
	ASSERT_LE(0, memfd);

	/* Warm up the caches the calls use, then measure. */
	for (int i = 0; i < 2 * REFUSE_KINDS; i++)
		refuse_one(i % REFUSE_KINDS, fd, fd2, memfd, att, ro);
	mem_settle();
	memsnap_take(&before);
	fds_before = count_fds();

	for (int i = 0; i < 1000; i++)
		if (!refuse_one(i % REFUSE_KINDS, fd, fd2, memfd, att, ro)) {
			if (bad++ < 10)
				TH_LOG("refusal kind %d: %s", i % REFUSE_KINDS, strerror(errno));
		}
	EXPECT_EQ(0, bad);

	fds_after = count_fds();
	mem_settle();
	memsnap_take(&after);
	TH_LOG("1000 refusals: fds %d -> %d; PageTables %+ld kB, Slab %+ld kB, MemFree %+ld kB",
	       fds_before, fds_after, after.pagetables - before.pagetables,
	       after.slab - before.slab, after.memfree - before.memfree);
	EXPECT_EQ(fds_before, fds_after);
	EXPECT_LE(after.pagetables - before.pagetables, 64);
	EXPECT_LE(after.slab - before.slab, 512);
	EXPECT_GE(after.memfree - before.memfree, -4096);

	/* Still intact, and freed in full at the end: no reference leaked. */
	EXPECT_EQ(-1, check_pat(att, 16 * MiB, PG, 0x93, 0));
	EXPECT_EQ(0, maps_count((unsigned long)ADDR_D - RGN, (unsigned long)ADDR_D));
	EXPECT_EQ(0, maps_count((unsigned long)ADDR_D + RGN, (unsigned long)ADDR_D + 2 * RGN));
	EXPECT_EQ(0, maps_count((unsigned long)ADDR_C, (unsigned long)ADDR_C + 2 * RGN));
	EXPECT_EQ(0, munmap(ro, RGN));
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd2);
	close(fd);
	mem_settle();
	bool back = mem_back_to(&base0, &end, 256, 50, 100);

	TH_LOG("after closing: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       end.pagetables - base0.pagetables, end.shmem - base0.shmem,
	       end.anon - base0.anon);
	EXPECT_TRUE(back) TH_LOG("the region was not freed");
}

/* ------------------------------------------------------------------------ */

TEST_F_TIMEOUT(mshare, detach_reattach_cycles, 300)
{
	int fd = create(_metadata, RGN, 0);
	int memfd = memfd_sized("cycles", 64 * KiB);
	const int cycles = 100;
	int fds_before;
	char *att;

	ASSERT_LE(0, memfd);
	att = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, att, 64 * KiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + MiB, 64 * KiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + 2 * MiB, 64 * KiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	ASSERT_EQ(0, munmap(att, RGN));
	EXPECT_FALSE(probe(att, false));

	fds_before = count_fds();
	for (int i = 0; i < cycles; i++) {
		char *want = NULL;

		if (i % 3 == 1)
			want = ADDR_B + (i % 16) * RGN;
		else if (i % 3 == 2)
			want = att;	/* the same address again */
		att = attach(_metadata, fd, RGN, want, RW);
		ASSERT_TRUE(maps_has_exact((unsigned long)att, (unsigned long)att + RGN));
		for (int k = 0; k < 3; k++) {
			ASSERT_EQ((uint64_t)i, *wordp(att, k * MiB + PG, 0))
				TH_LOG("cycle %d area %d", i, k);
			*wordp(att, k * MiB + PG, 0) = i + 1;
		}
		ASSERT_EQ(0, munmap(att, RGN));
		ASSERT_EQ(0, maps_count((unsigned long)att, (unsigned long)att + RGN));
		ASSERT_FALSE(probe(att + PG, false)) TH_LOG("cycle %d: detached but readable", i);
	}
	EXPECT_EQ(fds_before, count_fds());
	EXPECT_EQ((uint64_t)cycles, pread_word(memfd, 1, 0));
	close(memfd);
	close(fd);
}

TEST_F_TIMEOUT(mshare, attach_twice, 120)
{
	int fd = create(_metadata, 2 * RGN, 0);
	int memfd = memfd_sized("twice", MiB);
	char *a, *b;

	ASSERT_LE(0, memfd);
	a = attach(_metadata, fd, 2 * RGN, NULL, RW);
	b = attach(_metadata, fd, 2 * RGN, NULL, RW);
	ASSERT_NE(a, b);
	EXPECT_TRUE(maps_has_exact((unsigned long)a, (unsigned long)a + 2 * RGN));
	EXPECT_TRUE(maps_has_exact((unsigned long)b, (unsigned long)b + 2 * RGN));

	map_in(_metadata, a + RGN, MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, b, MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(a + RGN, MiB, PG, 0xA1, 0);
	fill_pat(b, MiB, PG, 0xB1, 0);
	EXPECT_EQ(-1, check_pat(b + RGN, MiB, PG, 0xA1, 0));
	EXPECT_EQ(-1, check_pat(a, MiB, PG, 0xB1, 0));
	fill_pat(b + RGN, MiB, PG, 0xB2, 1);
	fill_pat(a, MiB, PG, 0xA2, 1);
	EXPECT_EQ(-1, check_pat(a + RGN, MiB, PG, 0xB2, 1));
	EXPECT_EQ(-1, check_pat(b, MiB, PG, 0xA2, 1));
	EXPECT_EQ(pat(0xB2, 5), pread_word(memfd, 5, 1));

	/* A mapping made through b appears in a; mmap returns b's address. */
	map_in(_metadata, b + RGN + 4 * MiB, MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(b + RGN + 4 * MiB, MiB, PG, 0xB3, 0);
	EXPECT_EQ(-1, check_pat(a + RGN + 4 * MiB, MiB, PG, 0xB3, 0));

	/* Detach one; the other still works. */
	ASSERT_EQ(0, munmap(a, 2 * RGN));
	EXPECT_FALSE(probe(a, false));
	EXPECT_FALSE(probe(a + RGN, false));
	EXPECT_EQ(-1, check_pat(b, MiB, PG, 0xB1, 0));
	EXPECT_EQ(-1, check_pat(b + RGN, MiB, PG, 0xA1, 0));
	fill_pat(b + RGN, MiB, PG, 0xB4, 2);
	EXPECT_EQ(pat(0xB4, 7), pread_word(memfd, 7, 2));
	EXPECT_EQ(0, munmap(b, 2 * RGN));
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */

/*
 * A sharer attached at ADDR_D before each step, serving the parent's
 * questions over @sock: 'r'/'w' + offset probe a read/write and answer
 * 1 (done) or 0 (SIGSEGV); 'v' + offset answers the first word there.
 */
static void oi_sharer(int sock, int fd)
{
	char *b = ms_attach(fd, RGN, ADDR_D, RW, MAP_FIXED_NOREPLACE);
	struct { char op; size_t off; } q;

	CHILD_CHECK(b);
	CHILD_CHECK(sock_send(sock, 'k') == 0);
	while (read(sock, &q, sizeof(q)) == sizeof(q)) {
		uint64_t v = 0;

		if (q.op == 'r' || q.op == 'w')
			v = probe(b + q.off, q.op == 'w');
		else if (q.op == 'v')
			v = *wordp(b, q.off, 0);
		CHILD_CHECK(write(sock, &v, sizeof(v)) == sizeof(v));
	}
	_exit(0);
}

static uint64_t oi_ask(int sock, char op, size_t off)
{
	struct { char op; size_t off; } q = { op, off };
	uint64_t v = ~0ULL;

	if (write(sock, &q, sizeof(q)) != sizeof(q) ||
	    read(sock, &v, sizeof(v)) != sizeof(v))
		return ~0ULL;
	return v;
}

/*
 * munmap(), mprotect() and madvise() strictly inside an attachment act on
 * the region: a sharer attached before the call sees each effect.
 */
TEST_F_TIMEOUT(mshare, ops_inside_act_on_region, 120)
{
	int fd = create(_metadata, RGN, 0), memfd = memfd_pat(_metadata, 4 * MiB, 0xa1);
	char *att = attach(_metadata, fd, RGN, NULL, RW), *ro;
	int sv[2];
	pid_t pid;

	map_in(_metadata, att, 4 * MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + 4 * MiB, 4 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + 8 * MiB, 4 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att + 4 * MiB, 8 * MiB, PG, 0xa2, 0);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		oi_sharer(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_EQ('k', sock_recv(sv[0]));
	ASSERT_EQ(pat(0xa1, 0), oi_ask(sv[0], 'v', 0));
	ASSERT_EQ(pat(0xa2, 0), oi_ask(sv[0], 'v', 4 * MiB));
	ASSERT_EQ(1, oi_ask(sv[0], 'w', 4 * MiB));

	/* mprotect: one call makes it read-only for every sharer, and back. */
	ASSERT_EQ(0, mprotect(att, 2 * MiB, PROT_READ));
	EXPECT_EQ(0, oi_ask(sv[0], 'w', 0));
	EXPECT_EQ(0, oi_ask(sv[0], 'w', 2 * MiB - PG));
	EXPECT_EQ(1, oi_ask(sv[0], 'r', 0));
	EXPECT_EQ(1, oi_ask(sv[0], 'w', 2 * MiB));
	EXPECT_FALSE(probe(att, true));
	ASSERT_EQ(0, mprotect(att, 2 * MiB, PROT_READ | PROT_WRITE));
	EXPECT_EQ(1, oi_ask(sv[0], 'w', 0));
	ASSERT_EQ(0, mprotect(att + 4 * MiB, PG, PROT_NONE));
	EXPECT_EQ(0, oi_ask(sv[0], 'r', 4 * MiB));
	ASSERT_EQ(0, mprotect(att + 4 * MiB, PG, PROT_READ | PROT_WRITE));
	EXPECT_EQ(pat(0xa2, 0), oi_ask(sv[0], 'v', 4 * MiB));

	/* MADV_DONTNEED on private anonymous memory: zeroes for everyone. */
	ASSERT_EQ(0, madvise(att + 4 * MiB, MiB, MADV_DONTNEED));
	EXPECT_EQ(0, oi_ask(sv[0], 'v', 4 * MiB));
	EXPECT_EQ(0, oi_ask(sv[0], 'v', 5 * MiB - PG));
	EXPECT_EQ(pat(0xa2, MiB / PG), oi_ask(sv[0], 'v', 5 * MiB));
	/* ... and on the memfd: the file's data comes back. */
	*wordp(att, 0, 0) = 0x5555;
	ASSERT_EQ(0, madvise(att, PG, MADV_DONTNEED));
	EXPECT_EQ(0x5555, oi_ask(sv[0], 'v', 0));
	/* MADV_REMOVE on shared anonymous memory frees the page: zeroes. */
	ASSERT_EQ(0, madvise(att + 8 * MiB, PG, MADV_REMOVE));
	EXPECT_EQ(0, oi_ask(sv[0], 'v', 8 * MiB));
	EXPECT_EQ(pat(0xa2, (4 * MiB + PG) / PG), oi_ask(sv[0], 'v', 8 * MiB + PG));
	/* Hints are taken. */
	EXPECT_EQ(0, madvise(att + 4 * MiB, 4 * MiB, MADV_WILLNEED));
	EXPECT_EQ(0, madvise(att + 4 * MiB, 4 * MiB, MADV_COLD));
	EXPECT_EQ(0, madvise(att + 4 * MiB, 4 * MiB, MADV_POPULATE_WRITE));

	/* Holes in the region behave as holes in an address space. */
	MS_EXPECT_ERRNO(ENOMEM, mprotect(att + 64 * MiB, PG, PROT_READ));
	MS_EXPECT_ERRNO(ENOMEM, madvise(att + 64 * MiB, PG, MADV_DONTNEED));
	EXPECT_EQ(0, munmap(att + 64 * MiB, PG));

	/* munmap: gone for every sharer, and the space can be reused. */
	ASSERT_EQ(0, munmap(att + 4 * MiB, 4 * MiB));
	EXPECT_EQ(0, oi_ask(sv[0], 'r', 4 * MiB));
	EXPECT_EQ(0, oi_ask(sv[0], 'r', 8 * MiB - PG));
	EXPECT_EQ(1, oi_ask(sv[0], 'r', 8 * MiB));
	EXPECT_FALSE(probe(att + 4 * MiB, false));
	map_in(_metadata, att + 4 * MiB, PG, RW,
	       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1);
	EXPECT_EQ(0, oi_ask(sv[0], 'v', 4 * MiB));
	EXPECT_TRUE(maps_has_exact((unsigned long)att, (unsigned long)att + RGN));

	/* Through a read-only attachment only hints are allowed. */
	ro = attach(_metadata, fd, RGN, ADDR_C, PROT_READ);
	MS_EXPECT_ERRNO(EACCES, munmap(ro, PG));
	MS_EXPECT_ERRNO(EACCES, mprotect(ro, PG, PROT_READ));
	MS_EXPECT_ERRNO(EACCES, madvise(ro, PG, MADV_DONTNEED));
	MS_EXPECT_ERRNO(EINVAL, madvise(ro, PG, MADV_MERGEABLE));
	EXPECT_EQ(0, madvise(ro, PG, MADV_WILLNEED));
	EXPECT_EQ(0x5555, *wordp(ro, 0, 0));
	EXPECT_EQ(0, munmap(ro, RGN));

	close(sv[0]);
	EXPECT_TRUE(child_ok(pid, "sharer"));
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
}


/*
 * A region whose mappings were all unmapped from inside keeps its PMD,
 * PUD and P4D tables while it lives (sharers point at them); tearing it
 * down must free them all.  The kernel reports a leak as "BUG: non-zero
 * pgtables_bytes on freeing mm", which fails the run, and PageTables must
 * come back.
 */
TEST_F_TIMEOUT(mshare, teardown_after_inside_unmaps, 120)
{
	struct memsnap base, now;
	int round;

	mem_settle();
	memsnap_take(&base);
	for (round = 0; round < 4; round++) {
		int fd = create(_metadata, 4 * RGN, 0);
		char *att = attach(_metadata, fd, 4 * RGN, NULL, RW);

		for (int g = 0; g < 4; g++) {
			map_in(_metadata, att + g * RGN + 8 * MiB, 4 * MiB, RW,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
			fill_pat(att + g * RGN + 8 * MiB, 4 * MiB, PG, 0xb0 + g, 0);
		}
		/* Empty two slots from inside, one whole, one piece by piece. */
		ASSERT_EQ(0, munmap(att + RGN, RGN));
		ASSERT_EQ(0, munmap(att + 2 * RGN + 8 * MiB, 2 * MiB));
		ASSERT_EQ(0, munmap(att + 2 * RGN + 10 * MiB, 2 * MiB));
		EXPECT_FALSE(probe(att + RGN + 8 * MiB, false));
		EXPECT_FALSE(probe(att + 2 * RGN + 8 * MiB, false));
		EXPECT_EQ(-1, check_pat(att + 3 * RGN + 8 * MiB, 4 * MiB, PG, 0xb3, 0));
		if (round & 1) {
			/* And the rest, so that no mapping is left at all. */
			ASSERT_EQ(0, munmap(att + 8 * MiB, 4 * MiB));
			ASSERT_EQ(0, munmap(att + 3 * RGN, RGN));
		}
		EXPECT_EQ(0, munmap(att, 4 * RGN));
		close(fd);
	}
	EXPECT_TRUE(mem_back_to(&base, &now, 64, 50, 100))
		TH_LOG("PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
		       now.pagetables - base.pagetables, now.shmem - base.shmem,
		       now.anon - base.anon);
}

/*
 * msync() inside an attachment acts on the region's mappings: it succeeds
 * on a region file mapping (the attachment's own file has nothing to
 * sync), reports a hole in the region as ENOMEM, and MS_INVALIDATE of a
 * region mapping made with MAP_LOCKED gives EBUSY.
 */
TEST_F_TIMEOUT(mshare, msync_inside, 60)
{
	int fd = create(_metadata, RGN, 0), memfd = memfd_pat(_metadata, 4 * MiB, 0xc1);
	char *att = attach(_metadata, fd, RGN, NULL, RW), *ro;

	map_in(_metadata, att, 4 * MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + 8 * MiB, 2 * MiB, RW,
	       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_LOCKED, -1);
	*wordp(att, PG, 0) = 0x77;

	EXPECT_EQ(0, msync(att, 4 * MiB, MS_SYNC)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, msync(att + PG, PG, MS_ASYNC));
	EXPECT_EQ(0x77, pread_word(memfd, 1, 0));
	/* A hole in the region, as in any address space. */
	MS_EXPECT_ERRNO(ENOMEM, msync(att + 4 * MiB, 2 * MiB, MS_SYNC));
	MS_EXPECT_ERRNO(ENOMEM, msync(att, 6 * MiB, MS_SYNC));
	/* A locked mapping in the region cannot be invalidated. */
	MS_EXPECT_ERRNO(EBUSY, msync(att + 8 * MiB, PG, MS_INVALIDATE));
	EXPECT_EQ(0, msync(att + 8 * MiB, PG, MS_SYNC));
	/* Bad flags, and the edges of the attachment. */
	MS_EXPECT_ERRNO(EINVAL, msync(att, PG, MS_SYNC | MS_ASYNC));
	MS_EXPECT_ERRNO(EINVAL, msync(att - PG, 2 * PG, MS_SYNC));
	/* Any sharer may sync. */
	ro = attach(_metadata, fd, RGN, ADDR_C, PROT_READ);
	EXPECT_EQ(0, msync(ro, 4 * MiB, MS_SYNC));
	EXPECT_EQ(0, munmap(ro, RGN));
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
}

/* A field of /proc/self/status in kB, or -1. */
static long status_kb(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long val = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			val = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return val;
}

/*
 * mlock() inside an attachment locks the region's pages for every sharer:
 * they are populated and counted in Mlocked once, not in the caller's
 * VmLck; munlock() undoes it; MLOCK_ONFAULT locks only what is touched.
 */
TEST_F_TIMEOUT(mshare, mlock_inside, 120)
{
	int fd = create(_metadata, RGN, 0);
	char *att = attach(_metadata, fd, RGN, NULL, RW), *ro;
	long ml0, ml;

	map_in(_metadata, att, 8 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + 16 * MiB, 8 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	ml0 = meminfo_kb("Mlocked");

	ASSERT_EQ(0, mlock(att + 2 * MiB, 4 * MiB)) TH_LOG("%s", strerror(errno));
	ml = meminfo_kb("Mlocked");
	TH_LOG("mlock of 4 MiB inside: Mlocked %+ld kB, VmLck %ld kB", ml - ml0,
	       status_kb("VmLck"));
	EXPECT_GE(ml - ml0, 4096);
	EXPECT_LE(ml - ml0, 4096 + 512);
	EXPECT_EQ(0, status_kb("VmLck"));
	/* Populated for everyone: a reader of another attachment takes no faults. */
	ro = attach(_metadata, fd, RGN, ADDR_C, PROT_READ);
	{
		long f0 = minflt_self();
		unsigned long sum = 0;

		for (size_t off = 2 * MiB; off < 6 * MiB; off += PG)
			sum += *(volatile char *)(ro + off);
		EXPECT_EQ(0, sum);
		EXPECT_LE(minflt_self() - f0, 4);
	}
	/* Through a read-only attachment: refused. */
	MS_EXPECT_ERRNO(EACCES, mlock(ro + 16 * MiB, PG));
	MS_EXPECT_ERRNO(EACCES, munlock(ro + 2 * MiB, PG));
	/* A hole in the region. */
	MS_EXPECT_ERRNO(ENOMEM, mlock(att + 8 * MiB, PG));

	ASSERT_EQ(0, munlock(att + 2 * MiB, 4 * MiB));
	EXPECT_LE(meminfo_kb("Mlocked") - ml0, 256);

	/* MLOCK_ONFAULT: nothing is locked until it is touched. */
	ASSERT_EQ(0, syscall(SYS_mlock2, att + 16 * MiB, 4 * MiB, MLOCK_ONFAULT));
	EXPECT_LE(meminfo_kb("Mlocked") - ml0, 256);
	for (size_t off = 16 * MiB; off < 18 * MiB; off += PG)
		att[off] = 1;
	ml = meminfo_kb("Mlocked");
	EXPECT_GE(ml - ml0, 2048);
	EXPECT_LE(ml - ml0, 2048 + 512);

	/* Unmapping and tearing down unlocks. */
	EXPECT_EQ(0, munmap(ro, RGN));
	EXPECT_EQ(0, munmap(att, RGN));
	close(fd);
	EXPECT_LE(meminfo_kb("Mlocked") - ml0, 256);
}

#define MEMCG_DIR "/sys/fs/cgroup/mshare-test"

static long memcg_current(void)
{
	char buf[64] = "";
	int fd = open(MEMCG_DIR "/memory.current", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

/*
 * A region has no owner: what a sharer faults into it is charged to the
 * sharer's memcg (the rule shmem follows), and stays charged there while
 * the region keeps the pages, after the sharer has gone.
 */
TEST_F_TIMEOUT(mshare, memcg_charges_faulting_task, 60)
{
	int fd = create(_metadata, RGN, 0), status;
	char *att = attach(_metadata, fd, RGN, NULL, RW);
	long before, after;
	pid_t pid;

	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	rmdir(MEMCG_DIR);
	ASSERT_EQ(0, mkdir(MEMCG_DIR, 0755)) TH_LOG("%s", strerror(errno));
	before = memcg_current();
	ASSERT_LE(0, before) TH_LOG("no memory controller in cgroup2");
	map_in(_metadata, att, 32 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char me[32];

		snprintf(me, sizeof(me), "%d", getpid());
		write_file(MEMCG_DIR "/cgroup.procs", me);
		for (size_t off = 0; off < 16 * MiB; off += PG)
			att[off] = 1;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(exited_ok(status));
	after = memcg_current();
	TH_LOG("a sharer in the memcg faulted 16 MiB into the region: memory.current %+ld kB",
	       (after - before) / 1024);
	EXPECT_GE(after - before, (long)(16 * MiB));
	EXPECT_LE(after - before, (long)(20 * MiB));
	/* The creator, in the root memcg, faulting more does not charge it. */
	for (size_t off = 16 * MiB; off < 24 * MiB; off += PG)
		att[off] = 1;
	EXPECT_LE(memcg_current() - after, (long)(1 * MiB));

	/* Freeing the region uncharges it. */
	EXPECT_EQ(0, munmap(att, RGN));
	close(fd);
	for (int i = 0; i < 50 && memcg_current() - before > (long)(1 * MiB); i++)
		sleep_ms(100);
	EXPECT_LE(memcg_current() - before, (long)(1 * MiB));
	EXPECT_EQ(0, rmdir(MEMCG_DIR)) TH_LOG("%s", strerror(errno));
}

/* ------------------------------------------------------------------------ */

static long sys_futex(uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

/* Is @pid asleep (state S) in the kernel? */
static bool task_sleeping(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/*
 * A process-shared futex in region memory: the waiter is attached at one
 * address, the waker at another.  The waiter must be asleep in FUTEX_WAIT
 * before the wake, and FUTEX_WAKE must find it: the futex key of a region
 * page is the region's, not each sharer's (mm, address).
 */
TEST_F_TIMEOUT(mshare, futex_across_sharers, 120)
{
	int fd = create(_metadata, RGN, 0), memfd = memfd_sized("futex", 2 * MiB);
	char *att = attach(_metadata, fd, RGN, NULL, RW);
	static const char * const kind[] = { "private anon", "shared anon", "memfd" };

	ASSERT_LE(0, memfd);
	map_in(_metadata, att, 2 * MiB, RW,
	       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + 2 * MiB, 2 * MiB, RW,
	       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + 4 * MiB, 2 * MiB, RW, MAP_SHARED | MAP_FIXED, memfd);

	for (int k = 0; k < 3; k++) {
		size_t off = k * 2 * MiB + 5 * PG + 64;
		uint32_t *f = (uint32_t *)(att + off);
		int status = 0, i;
		long woken;
		pid_t pid, r = 0;

		*f = 0;
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			char *b = ms_attach(fd, RGN, ADDR_D, RW, MAP_FIXED_NOREPLACE);
			uint32_t *g;

			if (!b)
				_exit(2);
			g = (uint32_t *)(b + off);
			while (__atomic_load_n(g, __ATOMIC_ACQUIRE) == 0)
				sys_futex(g, FUTEX_WAIT, 0);
			_exit(0);
		}
		/* Wait until the child sleeps in FUTEX_WAIT (at most 20 s). */
		for (i = 0; i < 2000 && !task_sleeping(pid); i++)
			sleep_ms(10);
		ASSERT_LT(i, 2000) TH_LOG("%s: the waiter never slept", kind[k]);
		sleep_ms(100);
		__atomic_store_n(f, 1, __ATOMIC_RELEASE);
		woken = sys_futex(f, FUTEX_WAKE, 1);
		for (i = 0; i < 50 && r == 0; i++) {
			r = waitpid(pid, &status, WNOHANG);
			if (!r)
				sleep_ms(100);
		}
		TH_LOG("%s: FUTEX_WAKE woke %ld; the waiter %s", kind[k], woken,
		       r == pid ? "exited" : "is STUCK");
		if (r != pid) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		EXPECT_EQ(1, woken);
		EXPECT_EQ(pid, r);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	munmap(att, RGN);
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/*
 * Attachments link all of the region's tables when made and at fork; the
 * region keeps its tables while it lives and frees them all with itself;
 * msync(), mlock() and madvise() of a whole attachment; MAP_FIXED_NOREPLACE
 * over an attachment; long-term pins of ext4 mappings inside a region.
 */
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <linux/msharefs.h>
#include <liburing.h>

/* <sys/mount.h> clashes with <linux/mount.h>, which liburing pulls in. */
extern int mount(const char *source, const char *target, const char *fstype,
		 unsigned long flags, const void *data);
extern int umount2(const char *target, int flags);

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif

/* Pages of [p, p + len) that /proc/self/pagemap shows present (bit 63), or -1. */
static long pagemap_present(const void *p, size_t len)
{
	static uint64_t ent[2048];
	const size_t per = sizeof(ent) / sizeof(ent[0]);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	long n = 0;

	if (fd < 0)
		return -1;
	for (size_t pg = 0; pg < len / PG; pg += per) {
		size_t cnt = len / PG - pg < per ? len / PG - pg : per;
		off_t off = ((uintptr_t)p / PG + pg) * sizeof(uint64_t);

		if (pread(fd, ent, cnt * sizeof(uint64_t), off) !=
		    (ssize_t)(cnt * sizeof(uint64_t))) {
			close(fd);
			return -1;
		}
		for (size_t i = 0; i < cnt; i++)
			n += ent[i] >> 63;
	}
	close(fd);
	return n;
}

/* Pages of [p, p + len) (at most 64 MiB) that mincore() reports resident, or -1. */
static long mincore_resident(void *p, size_t len)
{
	static unsigned char vec[64 * MiB / PG];
	long n = 0;

	if (len / PG > sizeof(vec) || mincore(p, len, vec))
		return -1;
	for (size_t i = 0; i < len / PG; i++)
		n += vec[i] & 1;
	return n;
}

static void region_stat(struct __test_metadata *_metadata, int fd,
			struct mshare_stat *st)
{
	memset(st, 0, sizeof(*st));
	ASSERT_EQ(0, ioctl(fd, MSHAREFS_GET_STAT, st)) TH_LOG("MSHAREFS_GET_STAT: %s",
							   strerror(errno));
}

/* Read a word that may be unmapped under us: false on SIGSEGV/SIGBUS. */
static bool read_word_probe(volatile uint64_t *p, uint64_t *v)
{
	struct sigaction sa = { .sa_handler = probe_handler };
	struct sigaction old_segv, old_bus;
	volatile bool ok = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(probe_env, 1) == 0) {
		*v = *p;
		ok = true;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return ok;
}

/* ------------------------------------------------------------------------ */
/*
 * A sharer attaching a region that another sharer populated, and a forked
 * child of a sharer, find every populated page through the region's tables
 * from the start: pagemap and mincore show them before anything is
 * touched, and reading them takes no faults.  Pages never faulted in show
 * as absent.
 */
#define LK_LEN		(16 * MiB)	/* [0, 8 MiB) memfd, [8, 16 MiB) private anon */
#define LK_UNTOUCHED	(32 * MiB)	/* shared anonymous, never faulted */
#define LK_UNTOUCHED_LEN (4 * MiB)
#define LK_TAG		0x1c

struct lk_res {
	long present, resident, faults, bad;
	long untouched_present, untouched_resident;
};

static void lk_populate(struct __test_metadata *_metadata, char *att, int memfd)
{
	map_in(_metadata, att, LK_LEN / 2, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + LK_LEN / 2, LK_LEN / 2, RW,
	       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + LK_UNTOUCHED, LK_UNTOUCHED_LEN, RW,
	       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att, LK_LEN, PG, LK_TAG, 0);
}

/* In the sharer: look before touching, then read it all, counting faults. */
static void lk_measure(char *att, struct lk_res *r)
{
	long f0;

	r->present = pagemap_present(att, LK_LEN);
	r->untouched_present = pagemap_present(att + LK_UNTOUCHED, LK_UNTOUCHED_LEN);
	r->resident = mincore_resident(att, LK_LEN);
	r->untouched_resident = mincore_resident(att + LK_UNTOUCHED, LK_UNTOUCHED_LEN);
	f0 = minflt_self();
	r->bad = check_pat(att, LK_LEN, PG, LK_TAG, 0);
	r->faults = minflt_self() - f0;
}

static void lk_check(struct __test_metadata *_metadata, const struct lk_res *r,
		     const char *who)
{
	TH_LOG("%s: before touching, pagemap present %ld/%lu, mincore resident %ld/%lu (never-faulted range: %ld, %ld); reading 16 MiB: %ld minor faults",
	       who, r->present, LK_LEN / PG, r->resident, LK_LEN / PG,
	       r->untouched_present, r->untouched_resident, r->faults);
	EXPECT_EQ((long)(LK_LEN / PG), r->present);
	EXPECT_EQ((long)(LK_LEN / PG), r->resident);
	EXPECT_EQ(0, r->untouched_present);
	EXPECT_EQ(0, r->untouched_resident);
	EXPECT_EQ(-1, r->bad) TH_LOG("%s read wrong data at offset %#lx", who, r->bad);
	EXPECT_LE(r->faults, 4);
}

TEST_F_TIMEOUT(mshare, attach_links_populated_tables, 120)
{
	int fd = create(_metadata, RGN, 0), memfd = memfd_sized("lk", LK_LEN / 2);
	struct lk_res r = { 0 };
	int sv[2];
	char *att;
	pid_t pid;

	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	/* Forked before anything is attached: it inherits no attachment. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *b;

		close(sv[0]);
		CHILD_CHECK(sock_recv(sv[1]) == 'g');
		b = ms_attach(fd, RGN, NULL, PROT_READ, 0);
		CHILD_CHECK(b);
		lk_measure(b, &r);
		CHILD_CHECK(write(sv[1], &r, sizeof(r)) == sizeof(r));
		_exit(0);
	}
	close(sv[1]);
	att = attach(_metadata, fd, RGN, NULL, RW);
	lk_populate(_metadata, att, memfd);
	ASSERT_EQ(0, sock_send(sv[0], 'g'));
	ASSERT_EQ((ssize_t)sizeof(r), read(sv[0], &r, sizeof(r)));
	EXPECT_TRUE(child_ok(pid, "attaching sharer"));
	lk_check(_metadata, &r, "a process attaching a populated region");

	/* A second attachment in this process: the same. */
	{
		char *b = attach(_metadata, fd, RGN, ADDR_C, PROT_READ);

		lk_measure(b, &r);
		lk_check(_metadata, &r, "a second attachment of the populating process");
		EXPECT_EQ(0, munmap(b, RGN));
	}
	close(sv[0]);
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
}

TEST_F_TIMEOUT(mshare, fork_links_populated_tables, 120)
{
	int fd = create(_metadata, RGN, 0), memfd = memfd_sized("lk", LK_LEN / 2);
	struct lk_res r = { 0 };
	int pfd[2];
	char *att;
	pid_t pid;

	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, pipe(pfd));
	att = attach(_metadata, fd, RGN, NULL, RW);
	lk_populate(_metadata, att, memfd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		lk_measure(att, &r);
		CHILD_CHECK(write(pfd[1], &r, sizeof(r)) == sizeof(r));
		_exit(0);
	}
	close(pfd[1]);
	ASSERT_EQ((ssize_t)sizeof(r), read(pfd[0], &r, sizeof(r)));
	EXPECT_TRUE(child_ok(pid, "forked child"));
	lk_check(_metadata, &r, "a forked child of a sharer");

	/* A read-only attachment is inherited linked too. */
	{
		char *ro = attach(_metadata, fd, RGN, ADDR_C, PROT_READ);

		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(pfd[0]);
			munmap(att, RGN);	/* only the read-only one */
			lk_measure(ro, &r);
			_exit(r.present == (long)(LK_LEN / PG) &&
			      r.resident == (long)(LK_LEN / PG) &&
			      r.bad == -1 && r.faults <= 4 ? 0 : 1);
		}
		EXPECT_TRUE(child_ok(pid, "forked child of a read-only sharer"));
		EXPECT_EQ(0, munmap(ro, RGN));
	}
	close(pfd[0]);
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/*
 * The region keeps every page table while it lives: munmap() inside never
 * lowers MSHAREFS_GET_STAT's pgtable, the space maps again, and 50 map/
 * unmap cycles reuse the tables while another sharer reads the region.
 * Once the region is gone, PageTables is back to where it was.
 */
#define KC_SLOT		(8 * MiB)
#define KC_SLOTS	4
#define KC_CYCLES	50
#define KC_STABLE	(512 * MiB)
#define KC_STABLE_LEN	(4 * MiB)
#define KC_TAG(i)	(0xd200 + (i))

struct kc_res {
	long iters, seen, faulted, bad, final_ok;
};

/*
 * The reading sharer: checks the stable area, and reads one word of each
 * cycling slot, which must be unmapped (SIGSEGV), zero (fresh) or a cycle's
 * pattern.  'c' checks slot 0 for the final pattern; 'q' ends with the
 * counts.
 */
static void kc_reader(int sock, int fd)
{
	char *b = ms_attach(fd, RGN, ADDR_D, PROT_READ, MAP_FIXED_NOREPLACE);
	struct kc_res r = { 0 };

	CHILD_CHECK(b);
	CHILD_CHECK(sock_send(sock, 'k') == 0);
	for (;;) {
		char c;
		ssize_t n = recv(sock, &c, 1, MSG_DONTWAIT);

		if (n == 0)
			_exit(3);
		if (n == 1 && c == 'q')
			break;
		if (n == 1 && c == 'c') {
			r.final_ok = check_pat(b, KC_SLOT, PG, KC_TAG(KC_CYCLES), 0) == -1;
			CHILD_CHECK(sock_send(sock, 'C') == 0);
		}
		if (check_pat(b + KC_STABLE, KC_STABLE_LEN, PG, 0xd1, 0) != -1)
			r.bad++;
		for (int s = 0; s < KC_SLOTS; s++) {
			size_t pg = (r.iters * 7 + s) % (KC_SLOT / PG);
			uint64_t v;

			if (!read_word_probe(wordp(b, s * KC_SLOT + pg * PG, 0), &v)) {
				r.faulted++;
				continue;
			}
			r.seen++;
			if (v && ((v >> 40) != 0xd2 || (v & 0xffffffffULL) != pg)) {
				if (r.bad++ < 5)
					fprintf(stderr, "# reader: slot %d page %zu holds %#llx\n",
						s, pg, (unsigned long long)v);
			}
		}
		r.iters++;
	}
	CHILD_CHECK(write(sock, &r, sizeof(r)) == sizeof(r));
	_exit(0);
}

TEST_F_TIMEOUT(mshare, pgtables_kept_then_freed, 300)
{
	struct mshare_stat s0, s1;
	struct kc_res r = { 0 };
	uint64_t full = 0, drops = 0, first_drop[2] = { 0, 0 };
	long base, now = 0;
	int fd, memfd, sv[2], i;
	char *att;
	pid_t pid;

	/* Warm up this process's own tables where it attaches, then measure. */
	fd = create(_metadata, RGN, 0);
	att = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, att, KC_SLOT, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att, KC_SLOT, PG, 1, 0);
	ASSERT_EQ(0, munmap(att, RGN));
	close(fd);
	mem_settle();
	base = meminfo_kb("PageTables");

	fd = create(_metadata, RGN, 0);
	memfd = memfd_sized("kc", KC_SLOT);
	ASSERT_LE(0, memfd);
	att = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, att + KC_STABLE, KC_STABLE_LEN, RW,
	       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att + KC_STABLE, KC_STABLE_LEN, PG, 0xd1, 0);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		kc_reader(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_EQ('k', sock_recv(sv[0]));

	for (i = 0; i < KC_CYCLES; i++) {
		char *p = att + (i % KC_SLOTS) * KC_SLOT;
		static const int kind[3] = {
			MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS, MAP_SHARED,
		};

		map_in(_metadata, p, KC_SLOT, RW, kind[i % 3] | MAP_FIXED,
		       i % 3 == 2 ? memfd : -1);
		fill_pat(p, KC_SLOT, PG, KC_TAG(i), 0);
		ASSERT_EQ(-1, check_pat(p, KC_SLOT, PG, KC_TAG(i), 0));
		region_stat(_metadata, fd, &s0);
		ASSERT_EQ(0, munmap(p, KC_SLOT)) TH_LOG("cycle %d: munmap inside: %s", i,
						       strerror(errno));
		region_stat(_metadata, fd, &s1);
		if (s1.pgtable < s0.pgtable && !drops++) {
			first_drop[0] = s0.pgtable;
			first_drop[1] = s1.pgtable;
		}
		ASSERT_FALSE(probe(p, false)) TH_LOG("cycle %d: unmapped but readable", i);
		if (i == KC_SLOTS - 1)
			full = s1.pgtable;
	}
	region_stat(_metadata, fd, &s1);
	TH_LOG("%d map/unmap cycles of 8 MiB: region pgtable %llu bytes after the first %d, %llu at the end; %llu drops at munmap (first %llu -> %llu)",
	       KC_CYCLES, (unsigned long long)full, KC_SLOTS,
	       (unsigned long long)s1.pgtable, (unsigned long long)drops,
	       (unsigned long long)first_drop[0], (unsigned long long)first_drop[1]);
	EXPECT_EQ(0, drops);
	EXPECT_LE(s1.pgtable, full) TH_LOG("the region's tables grew: not reused");

	/* The space maps again, and the reader sees it. */
	map_in(_metadata, att, KC_SLOT, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att, KC_SLOT, PG, KC_TAG(KC_CYCLES), 0);
	ASSERT_EQ(0, sock_send(sv[0], 'c'));
	ASSERT_EQ('C', sock_recv(sv[0]));
	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	ASSERT_EQ((ssize_t)sizeof(r), read(sv[0], &r, sizeof(r)));
	close(sv[0]);
	EXPECT_TRUE(child_ok(pid, "reader"));
	TH_LOG("reader: %ld rounds, %ld words read, %ld faulted, %ld bad", r.iters,
	       r.seen, r.faulted, r.bad);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ(1, r.final_ok) TH_LOG("the reader does not see the mapping made after the cycles");
	EXPECT_LT(0, r.iters);

	/* Free the region: no attachment, no fd, no name. */
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
	mem_settle();
	for (i = 0; i < 50; i++) {
		if (i)
			sleep_ms(100);
		now = meminfo_kb("PageTables");
		if (now - base <= 8)
			break;
	}
	TH_LOG("PageTables after freeing the region: %+ld kB from the baseline", now - base);
	EXPECT_LE(now - base, 8);
}

/* ------------------------------------------------------------------------ */
/* ext4 on a brd ram disk, made when first needed, unmounted at the end. */

#define CORE_EXT4	"/tmp/mshare_core.ext4"
#define EXT4_MAGIC	0xEF53

static pid_t core_main_pid;

static bool is_ext4(const char *dir)
{
	struct statfs s;

	return !statfs(dir, &s) && s.f_type == EXT4_MAGIC;
}

__attribute__((constructor)) static void core_init(void)
{
	core_main_pid = getpid();
}

__attribute__((destructor)) static void core_fini(void)
{
	if (getpid() == core_main_pid && is_ext4(CORE_EXT4)) {
		umount2(CORE_EXT4, 0);
		rmdir(CORE_EXT4);
	}
}

static long ram_sectors(int n)
{
	char path[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/ram%d/size", n);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void ext4_setup(struct __test_metadata *_metadata)
{
	char dev[32], cmd[160];
	struct stat st;
	long sectors = -1;
	int n;

	if (is_ext4(CORE_EXT4))
		return;
	ASSERT_TRUE(mkdir(CORE_EXT4, 0755) == 0 || errno == EEXIST);
	/* A ram disk nobody has mounted, /dev/ram15 first. */
	for (n = 15; n >= 0; n--) {
		snprintf(dev, sizeof(dev), "/dev/ram%d", n);
		if (stat(dev, &st) && mknod(dev, S_IFBLK | 0600, makedev(1, n)))
			continue;
		if (blkdev_mounted(dev))
			continue;
		sectors = ram_sectors(n);
		if (sectors > 0)
			break;
	}
	ASSERT_LE(0, n) TH_LOG("no free brd ram disk (/dev/ramN)");
	ASSERT_LE(16L * 2048, sectors) TH_LOG("%s is too small: %ld sectors", dev, sectors);
	snprintf(cmd, sizeof(cmd), "mke2fs -F -b 4096 %s >/dev/null 2>&1", dev);
	ASSERT_EQ(0, system(cmd)) TH_LOG("%s failed", cmd);
	ASSERT_EQ(0, mount(dev, CORE_EXT4, "ext4", 0, NULL))
		TH_LOG("mount %s on " CORE_EXT4 " as ext4: %s", dev, strerror(errno));
	ASSERT_TRUE(is_ext4(CORE_EXT4));
}

/* A new ext4 file of @len bytes, written (zeroes) and synced; its fd. */
static int ext4_file(struct __test_metadata *_metadata, const char *name, size_t len)
{
	char path[128], *buf = calloc(1, MiB);
	int fd;

	ASSERT_NE(NULL, buf);
	snprintf(path, sizeof(path), CORE_EXT4 "/%s.%d", name, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	for (size_t off = 0; off < len; off += MiB)
		ASSERT_EQ((ssize_t)MiB, pwrite(fd, buf, MiB, off));
	ASSERT_EQ(0, fsync(fd));
	unlink(path);	/* the fd keeps it */
	free(buf);
	return fd;
}

/* ------------------------------------------------------------------------ */
/*
 * msync(MS_SYNC) of a whole attachment, and fsync() of the region fd,
 * write back the region's shared file mappings: dirty ext4 pages made
 * through the region are written (nr_written) and clean afterwards
 * (nr_dirty), and writing them again dirties them again (the write-back
 * write-protected them for every sharer).  It works with holes, memfd
 * mappings and an empty region; a read-only attachment may do it too.
 */
#define MS_FOFF		(8 * MiB)
#define MS_FLEN		(4 * MiB)

struct ms_counts {
	long dirty, written;
};

static void ms_counts(struct ms_counts *c)
{
	c->written = vmstat_val("nr_written");
	c->dirty = vmstat_val("nr_dirty");
}

/* Dirty the ext4 range through @p with @tag; true if it shows as dirtied. */
static bool ms_dirty(struct __test_metadata *_metadata, char *p, uint64_t tag,
		     const char *what)
{
	struct ms_counts a, b;

	ms_counts(&a);
	fill_pat(p, MS_FLEN, PG, tag, 0);
	ms_counts(&b);
	TH_LOG("%s: nr_dirty %+ld", what, b.dirty - a.dirty);
	return b.dirty - a.dirty >= (long)(MS_FLEN / PG) - 8;
}

/* Did a sync since @a write the range back?  Logged. */
static bool ms_synced(struct __test_metadata *_metadata, const struct ms_counts *a,
		      const char *what)
{
	struct ms_counts b;

	ms_counts(&b);
	TH_LOG("%s: nr_written %+ld, nr_dirty %+ld", what, b.written - a->written,
	       b.dirty - a->dirty);
	return b.written - a->written >= (long)(MS_FLEN / PG) &&
	       b.dirty - a->dirty <= -(long)(MS_FLEN / PG) + 8;
}

TEST_F_TIMEOUT(mshare, msync_whole_attachment, 120)
{
	int fd, efd, memfd, fd0, rofd;
	char *att, *a0, *ro, name[64];
	struct ms_counts c;
	pid_t pid;

	ext4_setup(_metadata);
	ASSERT_LE(0, vmstat_val("nr_written"));
	fd = create(_metadata, RGN, 0);
	efd = ext4_file(_metadata, "msync", MS_FLEN);
	memfd = memfd_pat(_metadata, 4 * MiB, 0xe0);
	att = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, att, 4 * MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + MS_FOFF, MS_FLEN, RW, MAP_SHARED | MAP_FIXED, efd);
	map_in(_metadata, att + 16 * MiB, 2 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);

	/* An empty region: nothing to write, and no error. */
	fd0 = create(_metadata, RGN, 0);
	a0 = attach(_metadata, fd0, RGN, NULL, RW);
	EXPECT_EQ(0, msync(a0, RGN, MS_SYNC)) TH_LOG("empty region: %s", strerror(errno));
	EXPECT_EQ(0, msync(a0, RGN, MS_ASYNC)) TH_LOG("empty region: %s", strerror(errno));
	EXPECT_EQ(0, fsync(fd0)) TH_LOG("empty region: %s", strerror(errno));
	EXPECT_EQ(0, fdatasync(fd0)) TH_LOG("empty region: %s", strerror(errno));
	EXPECT_EQ(0, munmap(a0, RGN));
	EXPECT_EQ(0, fsync(fd0)) TH_LOG("empty unattached region: %s", strerror(errno));
	close(fd0);

	/* msync(MS_SYNC) of the whole attachment. */
	*wordp(att, PG, 1) = 0xe1;
	EXPECT_TRUE(ms_dirty(_metadata, att + MS_FOFF, 0xe2, "writing ext4 through the region"));
	ms_counts(&c);
	EXPECT_EQ(0, msync(att, RGN, MS_SYNC)) TH_LOG("msync of the whole attachment: %s",
						    strerror(errno));
	EXPECT_TRUE(ms_synced(_metadata, &c, "msync(whole attachment, MS_SYNC)"));
	EXPECT_EQ(0xe1, pread_word(memfd, 1, 1));
	EXPECT_EQ(pat(0xe2, 5), pread_word(efd, 5, 0));

	/* Clean now, and write-protected: writing again dirties again. */
	EXPECT_TRUE(ms_dirty(_metadata, att + MS_FOFF, 0xe3, "writing again after msync"));
	ms_counts(&c);
	EXPECT_EQ(0, fsync(fd)) TH_LOG("fsync of the region fd: %s", strerror(errno));
	EXPECT_TRUE(ms_synced(_metadata, &c, "fsync(region fd)"));
	EXPECT_TRUE(ms_dirty(_metadata, att + MS_FOFF, 0xe4, "writing again after fsync"));
	ms_counts(&c);
	EXPECT_EQ(0, fdatasync(fd)) TH_LOG("fdatasync of the region fd: %s", strerror(errno));
	EXPECT_TRUE(ms_synced(_metadata, &c, "fdatasync(region fd)"));

	/* msync() of a range inside still acts on that range. */
	EXPECT_TRUE(ms_dirty(_metadata, att + MS_FOFF, 0xe5, "writing again after fdatasync"));
	ms_counts(&c);
	EXPECT_EQ(0, msync(att + MS_FOFF, MS_FLEN, MS_SYNC)) TH_LOG("%s", strerror(errno));
	EXPECT_TRUE(ms_synced(_metadata, &c, "msync(inside, MS_SYNC)"));
	EXPECT_EQ(0, msync(att, 4 * MiB, MS_SYNC)) TH_LOG("%s", strerror(errno));

	/* Another sharer, attached PROT_READ, syncs what this one dirtied. */
	EXPECT_TRUE(ms_dirty(_metadata, att + MS_FOFF, 0xe6, "writing again after msync inside"));
	ms_counts(&c);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *b = ms_attach(fd, RGN, ADDR_C, PROT_READ, MAP_FIXED_NOREPLACE);

		CHILD_CHECK(b);
		CHILD_CHECK(check_pat(b + MS_FOFF, MS_FLEN, PG, 0xe6, 0) == -1);
		CHILD_CHECK(msync(b, RGN, MS_SYNC) == 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "PROT_READ sharer"));
	EXPECT_TRUE(ms_synced(_metadata, &c, "msync(another sharer's whole PROT_READ attachment)"));

	/* A read-only fd's attachment: msync of all of it succeeds. */
	snprintf(name, sizeof(name), "mshare-core-msync.%d", getpid());
	{
		struct mshare_link ml = { .mode = 0600 };
		char path[128];

		strcpy(ml.name, name);
		ASSERT_EQ(0, ioctl(fd, MSHAREFS_LINK, &ml)) TH_LOG("MSHAREFS_LINK: %s",
								  strerror(errno));
		snprintf(path, sizeof(path), "/sys/fs/mshare/%s", name);
		rofd = open(path, O_RDONLY);
		unlink(path);
	}
	ASSERT_LE(0, rofd);
	ro = attach(_metadata, rofd, RGN, NULL, PROT_READ);
	EXPECT_EQ(0, msync(ro, RGN, MS_SYNC)) TH_LOG("read-only fd: %s", strerror(errno));
	EXPECT_EQ(0, msync(ro, RGN, MS_ASYNC)) TH_LOG("read-only fd: %s", strerror(errno));
	EXPECT_EQ(0, fsync(rofd)) TH_LOG("read-only fd: %s", strerror(errno));
	EXPECT_EQ(-1, check_pat(ro + MS_FOFF, MS_FLEN, PG, 0xe6, 0));
	EXPECT_EQ(0, munmap(ro, RGN));
	close(rofd);

	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(efd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/*
 * mlock() of a whole attachment locks the whole region: its mappings are
 * populated and locked (Mlocked, not the caller's VmLck), so that another
 * sharer finds them resident and reads them without faults; munlock()
 * undoes it.  Through a read-only attachment: EACCES.  A region with a
 * hole: ENOMEM, as mlock() over unmapped memory.
 */
#define WL_LEN		(16 * MiB)	/* [0, 8 MiB) private anon, [8, 16 MiB) shared anon */

/* The sharer: 'm' answers mincore's count over WL_LEN, 'r' the faults of reading it. */
static void wl_sharer(int sock, int fd)
{
	char *b = ms_attach(fd, RGN, ADDR_C, PROT_READ, MAP_FIXED_NOREPLACE);
	char q;

	CHILD_CHECK(b);
	CHILD_CHECK(sock_send(sock, 'k') == 0);
	while (read(sock, &q, 1) == 1) {
		long v = -1;

		if (q == 'm') {
			v = mincore_resident(b, WL_LEN);
		} else if (q == 'r') {
			long f0 = minflt_self();
			uint64_t sum = 0;

			for (size_t off = 0; off < WL_LEN; off += PG)
				sum += *wordp(b, off, 0);
			v = minflt_self() - f0;
			if (sum)
				v = 100000;	/* never written: must read zeroes */
		}
		CHILD_CHECK(write(sock, &v, sizeof(v)) == sizeof(v));
	}
	_exit(0);
}

static long wl_ask(int sock, char q)
{
	long v = -2;

	if (write(sock, &q, 1) != 1 || read(sock, &v, sizeof(v)) != sizeof(v))
		return -2;
	return v;
}

TEST_F_TIMEOUT(mshare, mlock_whole_attachment, 120)
{
	int fd = create(_metadata, RGN, 0), fd2 = create(_metadata, RGN, 0), sv[2];
	char *att, *ro, *a2;
	long ml0, ml, lck0, v;
	pid_t pid;

	att = attach(_metadata, fd, RGN, NULL, RW);
	/* All of the region mapped: what is not PROT_NONE gets populated. */
	map_in(_metadata, att, WL_LEN / 2, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + WL_LEN / 2, WL_LEN / 2, RW,
	       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + WL_LEN, RGN - WL_LEN, PROT_NONE,
	       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		wl_sharer(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_EQ('k', sock_recv(sv[0]));
	EXPECT_EQ(0, wl_ask(sv[0], 'm')) TH_LOG("resident before mlock");

	ml0 = meminfo_kb("Mlocked");
	lck0 = status_kb("VmLck");
	ASSERT_EQ(0, mlock(att, RGN)) TH_LOG("mlock of the whole attachment: %s", strerror(errno));
	ml = meminfo_kb("Mlocked");
	TH_LOG("mlock of the whole attachment: Mlocked %+ld kB, VmLck %ld -> %ld kB",
	       ml - ml0, lck0, status_kb("VmLck"));
	EXPECT_GE(ml - ml0, (long)(WL_LEN / KiB));
	EXPECT_LE(ml - ml0, (long)(WL_LEN / KiB) + 1024);
	EXPECT_EQ(lck0, status_kb("VmLck"));
	EXPECT_EQ((long)(WL_LEN / PG), mincore_resident(att, WL_LEN));

	/* Another sharer finds it all resident and reads it without faults. */
	v = wl_ask(sv[0], 'm');
	EXPECT_EQ((long)(WL_LEN / PG), v) TH_LOG("the sharer sees %ld pages resident", v);
	v = wl_ask(sv[0], 'r');
	TH_LOG("the sharer reads 16 MiB of the locked region: %ld minor faults", v);
	EXPECT_LE(0, v);
	EXPECT_LE(v, 4);

	/* Through a read-only attachment: refused, and nothing changes. */
	ro = attach(_metadata, fd, RGN, ADDR_D, PROT_READ);
	MS_EXPECT_ERRNO(EACCES, mlock(ro, RGN));
	MS_EXPECT_ERRNO(EACCES, munlock(ro, RGN));
	MS_EXPECT_ERRNO(EACCES, syscall(SYS_mlock2, ro, RGN, MLOCK_ONFAULT));
	EXPECT_GE(meminfo_kb("Mlocked") - ml0, (long)(WL_LEN / KiB));
	EXPECT_EQ(0, munmap(ro, RGN));

	ASSERT_EQ(0, munlock(att, RGN)) TH_LOG("munlock of the whole attachment: %s", strerror(errno));
	ml = meminfo_kb("Mlocked");
	TH_LOG("after munlock of the whole attachment: Mlocked %+ld kB", ml - ml0);
	EXPECT_LE(ml - ml0, 256);
	/* Unlocked, not unmapped. */
	EXPECT_EQ((long)(WL_LEN / PG), wl_ask(sv[0], 'm'));

	close(sv[0]);
	EXPECT_TRUE(child_ok(pid, "sharer"));

	/* A region with holes: ENOMEM, empty or not. */
	a2 = attach(_metadata, fd2, RGN, NULL, RW);
	MS_EXPECT_ERRNO(ENOMEM, mlock(a2, RGN));
	MS_EXPECT_ERRNO(ENOMEM, munlock(a2, RGN));
	map_in(_metadata, a2, 2 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	MS_EXPECT_ERRNO(ENOMEM, mlock(a2, RGN));
	EXPECT_EQ(0, munlock(a2, 2 * MiB));
	map_in(_metadata, a2 + 4 * MiB, 2 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, a2 + RGN - 2 * MiB, 2 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	MS_EXPECT_ERRNO(ENOMEM, mlock(a2, RGN));
	EXPECT_EQ(0, munlock(a2, 2 * MiB));
	EXPECT_LE(meminfo_kb("Mlocked") - ml0, 256 + 2048);
	EXPECT_EQ(0, munmap(a2, RGN));

	EXPECT_EQ(0, munmap(att, RGN));
	close(fd2);
	close(fd);
	EXPECT_LE(meminfo_kb("Mlocked") - ml0, 256);
}

/* ------------------------------------------------------------------------ */
/*
 * madvise() over a range that holds an attachment and ordinary memory
 * around it is refused for every advice, hints and population included:
 * nothing happens to either.  (Until issue 14 the whole attachment alone
 * was refused too; now it acts on the region: mshare_madvise.)
 */
TEST_F_TIMEOUT(mshare, madvise_beyond_refused_every_advice, 120)
{
	static const int advice[] = {
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
		MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK,
		MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
		MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK,
		MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
		MADV_DONTNEED_LOCKED, MADV_COLLAPSE, MADV_HWPOISON, MADV_SOFT_OFFLINE,
	};
	const size_t n = sizeof(advice) / sizeof(advice[0]);
	int fd = create(_metadata, RGN, 0), memfd = memfd_pat(_metadata, MiB, 0xf1);
	char *att = ADDR_D, *before = ADDR_D - 2 * MiB, *after = ADDR_D + RGN;
	struct mshare_stat st0, st1;
	long hwc0 = meminfo_kb("HardwareCorrupted"), bad = 0;
	pid_t pid;

	ASSERT_EQ(0, maps_count((unsigned long)before, (unsigned long)after + 2 * MiB));
	att = attach(_metadata, fd, RGN, ADDR_D, RW);
	map_in(_metadata, before, 2 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1);
	map_in(_metadata, after, 2 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1);
	fill_pat(before, 2 * MiB, PG, 0xf2, 0);
	fill_pat(after, 2 * MiB, PG, 0xf3, 0);
	map_in(_metadata, att, MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + 4 * MiB, MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + 8 * MiB, 2 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	fill_pat(att, MiB, PG, 0xf4, 1);
	fill_pat(att + 4 * MiB, MiB, PG, 0xf5, 0);
	region_stat(_metadata, fd, &st0);

	for (size_t i = 0; i < n; i++) {
		struct { char *p; size_t len; const char *what; } r[] = {
			{ before, 2 * MiB + RGN + 2 * MiB, "ordinary memory, the attachment, ordinary memory" },
			{ before, 2 * MiB + RGN, "ordinary memory and the attachment" },
			{ att, RGN + 2 * MiB, "the attachment and ordinary memory" },
		};

		for (size_t k = 0; k < sizeof(r) / sizeof(r[0]); k++) {
			int ret, err;

			errno = 0;
			ret = madvise(r[k].p, r[k].len, advice[i]);
			err = errno;
			if (ret != -1 || err != EINVAL) {
				if (bad++ < 20)
					TH_LOG("madvise(%s, advice %d) gave %d (%s), expected EINVAL",
					       r[k].what, advice[i], ret,
					       ret ? strerror(err) : "success");
			}
		}
	}
	EXPECT_EQ(0, bad);

	/* Nothing happened: to the ordinary memory around ... */
	EXPECT_EQ(-1, check_pat(before, 2 * MiB, PG, 0xf2, 0)) TH_LOG("the memory before was changed");
	EXPECT_EQ(-1, check_pat(after, 2 * MiB, PG, 0xf3, 0)) TH_LOG("the memory after was changed");
	/* ... nor to the region: nothing populated, dropped or poisoned. */
	region_stat(_metadata, fd, &st1);
	TH_LOG("region resident %llu -> %llu bytes", (unsigned long long)st0.resident,
	       (unsigned long long)st1.resident);
	EXPECT_EQ(st0.resident, st1.resident);
	EXPECT_EQ(st0.mappings, st1.mappings);
	EXPECT_EQ(0, mincore_resident(att + 8 * MiB, 2 * MiB));
	EXPECT_EQ(0, mincore_resident(att + 16 * MiB, 2 * MiB));
	EXPECT_EQ(-1, check_pat(att, MiB, PG, 0xf4, 1));
	EXPECT_EQ(-1, check_pat(att + 4 * MiB, MiB, PG, 0xf5, 0));
	EXPECT_EQ(hwc0, meminfo_kb("HardwareCorrupted"));
	EXPECT_TRUE(probe(before, true));
	EXPECT_TRUE(probe(after + 2 * MiB - PG, true));

	/* Another sharer finds the region as it was, fork advice or not. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *b = ms_attach(fd, RGN, ADDR_C, PROT_READ, MAP_FIXED_NOREPLACE);

		CHILD_CHECK(b);
		CHILD_CHECK(check_pat(b, MiB, PG, 0xf4, 1) == -1);
		CHILD_CHECK(check_pat(b + 4 * MiB, MiB, PG, 0xf5, 0) == -1);
		/* The inherited attachment and memory, not wiped. */
		CHILD_CHECK(check_pat(att + 4 * MiB, MiB, PG, 0xf5, 0) == -1);
		CHILD_CHECK(check_pat(before, 2 * MiB, PG, 0xf2, 0) == -1);
		CHILD_CHECK(mincore_resident(b + 8 * MiB, 2 * MiB) == 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "sharer"));

	/* Advice inside still works. */
	EXPECT_EQ(0, madvise(att + 8 * MiB, 2 * MiB, MADV_POPULATE_WRITE)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ((long)(2 * MiB / PG), mincore_resident(att + 8 * MiB, 2 * MiB));

	EXPECT_EQ(0, munmap(before, 2 * MiB));
	EXPECT_EQ(0, munmap(after, 2 * MiB));
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/*
 * MAP_FIXED_NOREPLACE of a region fd where an attachment is, exactly or in
 * part: EEXIST, like any mapping in the way.  MAP_FIXED of a region fd
 * inside an attachment stays EINVAL (a region inside a region).
 */
TEST_F_TIMEOUT(mshare, noreplace_over_attachment, 60)
{
	int fd = create(_metadata, 2 * RGN, 0), fd2 = create(_metadata, RGN, 0);
	int memfd = memfd_pat(_metadata, MiB, 0x6e);
	char *att, *ro, *p;
	struct mshare_stat s0, s1, t0, t1;

	ASSERT_EQ(0, maps_count((unsigned long)ADDR_D - 2 * RGN, (unsigned long)ADDR_D + 6 * RGN));
	att = attach(_metadata, fd, 2 * RGN, ADDR_D, RW);
	ro = attach(_metadata, fd2, RGN, ADDR_D + 4 * RGN, PROT_READ);
	map_in(_metadata, att, MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	region_stat(_metadata, fd, &s0);
	region_stat(_metadata, fd2, &t0);

	/* Exactly the attachment, by its own region or another. */
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att, 2 * RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att, 2 * RGN, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(ro, RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd2, 0));
	/* Inside it. */
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att, RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd2, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att + RGN, RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd2, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(ro, RGN, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd2, 0));
	/* Partly: from before it, and reaching past its end. */
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att - RGN, 2 * RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att + RGN, 2 * RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0));
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(ro - RGN, 2 * RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0));
	/* Over two attachments at once. */
	p = attach(_metadata, fd2, RGN, ADDR_D + 2 * RGN, RW);
	MS_EXPECT_MAP_ERRNO(EEXIST, mmap(att + RGN, 2 * RGN, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0));
	EXPECT_EQ(0, munmap(p, RGN));

	/* MAP_FIXED inside an attachment or exactly over it: a region inside a region. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att + RGN, RGN, RW, MAP_SHARED | MAP_FIXED, fd2, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att, RGN, RW, MAP_SHARED | MAP_FIXED, fd2, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att, 2 * RGN, RW, MAP_SHARED | MAP_FIXED, fd, 0));
	/* Straddling an edge with MAP_FIXED: EINVAL too. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mmap(att + RGN, 2 * RGN, RW, MAP_SHARED | MAP_FIXED, fd, 0));

	/* Nothing was added or replaced. */
	region_stat(_metadata, fd, &s1);
	region_stat(_metadata, fd2, &t1);
	EXPECT_EQ(s0.attachments, s1.attachments);
	EXPECT_EQ(s0.mappings, s1.mappings);
	EXPECT_EQ(t0.attachments, t1.attachments);
	EXPECT_EQ(t0.mappings, t1.mappings);
	EXPECT_TRUE(maps_has_exact((unsigned long)att, (unsigned long)att + 2 * RGN));
	EXPECT_TRUE(maps_has_exact((unsigned long)ro, (unsigned long)ro + RGN));
	EXPECT_EQ(0, maps_count((unsigned long)att - 2 * RGN, (unsigned long)att));
	EXPECT_EQ(0, maps_count((unsigned long)att + 2 * RGN, (unsigned long)ro));
	EXPECT_EQ(-1, check_pat(att, MiB, PG, 0x6e, 0));
	EXPECT_FALSE(probe(att + RGN, false));

	/* Next to the attachment, NOREPLACE is fine. */
	p = ms_attach(fd2, RGN, att + 2 * RGN, PROT_READ, MAP_FIXED_NOREPLACE);
	EXPECT_EQ(att + 2 * RGN, p) TH_LOG("NOREPLACE next to an attachment: %s", strerror(errno));
	if (p) {
		EXPECT_EQ(0, munmap(p, RGN));
	}
	p = ms_attach(fd, 2 * RGN, att - 2 * RGN, RW, MAP_FIXED_NOREPLACE);
	EXPECT_EQ(att - 2 * RGN, p) TH_LOG("NOREPLACE just before an attachment: %s", strerror(errno));
	if (p) {
		EXPECT_EQ(-1, check_pat(p, MiB, PG, 0x6e, 0));
		EXPECT_EQ(0, munmap(p, 2 * RGN));
	}

	EXPECT_EQ(0, munmap(ro, RGN));
	EXPECT_EQ(0, munmap(att, 2 * RGN));
	close(memfd);
	close(fd2);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/*
 * A long-term writable pin (io_uring fixed-buffer registration) of a
 * MAP_SHARED ext4 mapping is refused with EFAULT inside a region as it is
 * outside, whether the pinning sharer faulted the pages itself or finds
 * them through the region's tables; shared anonymous (shmem), memfd and
 * private anonymous memory of the region register fine.
 */
#define LP_LEN		(256 * KiB)

/* io_uring_register_buffers() of [p, p + len): 0 or -errno. */
static int lp_register(void *p, size_t len)
{
	struct io_uring ring;
	struct iovec iov = { p, len };
	int ret = io_uring_queue_init(4, &ring, 0);

	if (ret)
		return 1000 + ret;	/* no ring: not an answer about the pin */
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (!ret)
		io_uring_unregister_buffers(&ring);
	io_uring_queue_exit(&ring);
	return ret;
}

TEST_F_TIMEOUT(mshare, longterm_pin_ext4_inside, 120)
{
	static const char *const what[4] = {
		"MAP_SHARED ext4 file", "shared anonymous", "memfd", "private anonymous",
	};
	int fd, efd, memfd, want[4] = { -EFAULT, 0, 0, 0 }, got[4], out;
	char *att, *ext4_out;
	pid_t pid;

	ext4_setup(_metadata);
	efd = ext4_file(_metadata, "pin", LP_LEN);
	memfd = memfd_sized("pin", LP_LEN);
	ASSERT_LE(0, memfd);
	fd = create(_metadata, RGN, 0);
	att = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, att, LP_LEN, RW, MAP_SHARED | MAP_FIXED, efd);
	map_in(_metadata, att + 2 * MiB, LP_LEN, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_in(_metadata, att + 4 * MiB, LP_LEN, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, att + 6 * MiB, LP_LEN, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	for (int k = 0; k < 4; k++)
		fill_pat(att + k * 2 * MiB, LP_LEN, PG, 0x70 + k, 0);

	/* The control: the same file mapped outside any region. */
	ext4_out = mmap(NULL, LP_LEN, RW, MAP_SHARED, efd, 0);
	ASSERT_NE(MAP_FAILED, ext4_out);
	EXPECT_EQ(-1, check_pat(ext4_out, LP_LEN, PG, 0x70, 0));
	out = lp_register(ext4_out, LP_LEN);
	TH_LOG("MAP_SHARED ext4 file outside a region: register %d", out);
	EXPECT_EQ(-EFAULT, out);

	for (int k = 0; k < 4; k++) {
		got[k] = lp_register(att + k * 2 * MiB, LP_LEN);
		TH_LOG("%s inside the region: register %d", what[k], got[k]);
		EXPECT_EQ(want[k], got[k]) TH_LOG("%s inside: %d, expected %d", what[k], got[k], want[k]);
	}

	/* Another sharer that never faulted them: GUP-fast finds the pages. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *b = ms_attach(fd, RGN, ADDR_C, RW, MAP_FIXED_NOREPLACE);
		int r;

		CHILD_CHECK(b);
		for (int k = 0; k < 4; k++) {
			r = lp_register(b + k * 2 * MiB, LP_LEN);
			if (r != want[k]) {
				fprintf(stderr, "# sharer: %s: register %d, expected %d\n",
					what[k], r, want[k]);
				_exit(1);
			}
		}
		CHILD_CHECK(check_pat(b, LP_LEN, PG, 0x70, 0) == -1);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "another sharer registering"));

	/* The data is intact, and the file was not written behind our back. */
	for (int k = 0; k < 4; k++)
		EXPECT_EQ(-1, check_pat(att + k * 2 * MiB, LP_LEN, PG, 0x70 + k, 0));
	EXPECT_EQ(pat(0x70, 3), pread_word(efd, 3, 0));

	munmap(ext4_out, LP_LEN);
	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(efd);
	close(fd);
}

/*
 * A sharer's mlockall(MCL_CURRENT) and a MAP_POPULATE attach do not fill
 * the region through the attachment: the region is populated from inside
 * (MAP_POPULATE or mlock inside an attachment), by whoever builds it.
 */
TEST_F_TIMEOUT(mshare, sharer_populate_leaves_region, 120)
{
	int fd = create(_metadata, RGN, 0);
	char *att = attach(_metadata, fd, RGN, NULL, RW), *p;
	struct mshare_stat st;
	pid_t pid;

	map_in(_metadata, att, 16 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
	region_stat(_metadata, fd, &st);
	ASSERT_EQ(0u, st.resident);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(mlockall(MCL_CURRENT) == 0);
		CHILD_CHECK(munlockall() == 0);
		p = mmap(NULL, RGN, RW, MAP_SHARED | MAP_POPULATE, fd, 0);
		CHILD_CHECK(p != MAP_FAILED);
		_exit(0);
	}
	ASSERT_TRUE(child_ok(pid, "mlockall and MAP_POPULATE in a sharer"));
	region_stat(_metadata, fd, &st);
	TH_LOG("after a sharer's mlockall() and MAP_POPULATE attach: region resident %llu bytes",
	       (unsigned long long)st.resident);
	EXPECT_EQ(0u, st.resident);

	/* Control: populating from inside does fill it. */
	ASSERT_EQ(0, madvise(att, 16 * MiB, MADV_POPULATE_WRITE));
	region_stat(_metadata, fd, &st);
	EXPECT_EQ(16 * MiB, st.resident);
	ASSERT_EQ(0, munmap(att, RGN));
	close(fd);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * libmshare (userspace/libmshare): the library against the real kernel.
 *
 *  - the system: mshare_query(), mshare_alignment(), mshare_dir(); errno is
 *    left alone by failing calls
 *  - unnamed regions: create, attach (anywhere, fixed, twice, read-only fd),
 *    detach, MSHARE_CLOEXEC, refusals; windows (mshare_attach_window)
 *  - names: create_named with modes, O_EXCL (-EEXIST), same size (opened),
 *    other size (-EBUSY), bad sizes (-EINVAL, no name left behind), open,
 *    open of a missing name (-ENOENT), unlink; mshare_link
 *  - mapping: mshare_map (ioctl) and mshare_map_at (mmap inside), of shared
 *    anonymous memory and a memfd, seen by a forked child that attaches on
 *    its own; mshare_unmap/unmap_at make holes and mshare_protect_at makes
 *    an already attached sharer's write fault (SIGSEGV)
 *  - stats: attachments across attach, fork, a second attach and detach;
 *    mappings, resident, pgtable, pgtable_saved
 *  - fd passing: a 1 MiB message between processes, NULL data, a peer that
 *    closes mid-message (-ECONNRESET), data without an fd and with two fds
 *    (-EBADMSG, nothing leaked), a signal while recv blocks (before and in
 *    the middle of a message) loses nothing, -EPIPE without SIGPIPE
 *  - non-region fds (memfd, pipe, the msharefs root and mshare_info): clean
 *    errors; bad fds -EBADF; NULL arguments -EINVAL
 *  - MSHARE_DIR on plain tmpfs: name functions -ENODEV, query mounted=0;
 *    MSHARE_DIR on a second msharefs mount works
 *  - 8 processes that attach through the library and read 64 MiB add next
 *    to nothing to PageTables, against a memfd control
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "mshare.h"
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define PFX		"kst-lib-"	/* every name this test makes */
#define ADDR_B		((char *)(128 * GiB))
#define ADDR_C		((char *)(256 * GiB))
#define NOMOUNT_DIR	"/tmp/kst-lib-nomount"
#define M2		"/tmp/kst-lib-m2"

static const char *const names[] = {
	PFX "a", PFX "b", PFX "c", PFX "badsize", PFX "link", PFX "m2",
};

FIXTURE(lib) {
	bool m2_mounted;
};

FIXTURE_SETUP(lib)
{
	self->m2_mounted = false;
	unsetenv("MSHARE_DIR");
	umask(022);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		mshare_unlink(names[i]);
}

FIXTURE_TEARDOWN(lib)
{
	unsetenv("MSHARE_DIR");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		mshare_unlink(names[i]);
	if (self->m2_mounted)
		umount2(M2, MNT_DETACH);
}

/* A region that must be made, of @size bytes. */
static int create(struct __test_metadata *_metadata, size_t size)
{
	int fd = mshare_create(size, 0);

	ASSERT_LE(0, fd) TH_LOG("mshare_create(%#zx): %s", size, strerror(-fd));
	return fd;
}

static char *attach(struct __test_metadata *_metadata, int fd, void *addr,
		    int prot)
{
	void *p = NULL;
	int ret = mshare_attach(fd, addr, prot, &p);

	ASSERT_EQ(0, ret) TH_LOG("mshare_attach(%p): %s", addr, strerror(-ret));
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, (uintptr_t)p % RGN) TH_LOG("attachment at %p", p);
	if (addr) {
		ASSERT_EQ(addr, p);
	}
	return p;
}

static uint64_t attachments(int fd)
{
	struct mshare_stats st;

	if (mshare_stat(fd, &st))
		return ~0ULL;
	return st.attachments;
}

static bool is_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & FD_CLOEXEC);
}

/* ------------------------------------------------------------------------ */

TEST_F(lib, system)
{
	struct mshare_sysinfo info;
	long long align;

	EXPECT_STREQ(MSHARE_FS_DIR, mshare_dir());
	memset(&info, 0xff, sizeof(info));
	ASSERT_EQ(0, mshare_query(&info));
	EXPECT_EQ(1, info.syscall);
	EXPECT_EQ(1, info.mounted);
	EXPECT_EQ(MSHARE_ALIGN, info.align);
	EXPECT_STREQ(MSHARE_FS_DIR, info.dir);
	align = mshare_alignment();
	EXPECT_EQ((long long)MSHARE_ALIGN, align);
	EXPECT_EQ(-EINVAL, mshare_query(NULL));

	/* Failing calls leave errno alone. */
	errno = 4242;
	EXPECT_EQ(-EINVAL, mshare_create(0, 0));
	EXPECT_EQ(-EBADF, mshare_stat(-1, &(struct mshare_stats){ 0 }));
	EXPECT_EQ(-ENOENT, mshare_open(PFX "missing", O_RDWR));
	EXPECT_EQ(4242, errno);
	/* ... and so do successful ones. */
	errno = 4243;
	EXPECT_LT(0, mshare_alignment());
	EXPECT_EQ(4243, errno);

	/* MSHARE_DIR points the library elsewhere. */
	setenv("MSHARE_DIR", "/tmp", 1);
	EXPECT_STREQ("/tmp", mshare_dir());
	setenv("MSHARE_DIR", "", 1);
	EXPECT_STREQ(MSHARE_FS_DIR, mshare_dir());
	unsetenv("MSHARE_DIR");
}

TEST_F(lib, create_attach_detach)
{
	int fd = create(_metadata, RGN), fd2;
	char *p, *q;
	void *out = (void *)1;

	EXPECT_EQ(1, mshare_is_region(fd));
	EXPECT_EQ((long long)RGN, mshare_size(fd));
	EXPECT_FALSE(is_cloexec(fd));
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(0, attachments(fd));

	ASSERT_EQ(0, mshare_map(fd, 0, 2 * MiB, RW, MAP_SHARED, -1, 0));
	p = attach(_metadata, fd, NULL, RW);
	EXPECT_EQ(1, attachments(fd));
	p[0] = 'x';
	p[2 * MiB - 1] = 'y';

	/* Fixed address, a second attachment in the same process */
	q = attach(_metadata, fd, ADDR_B, RW);
	EXPECT_EQ(2, attachments(fd));
	EXPECT_EQ('x', q[0]);
	EXPECT_EQ('y', q[2 * MiB - 1]);
	/* ... which is taken now: NOREPLACE */
	EXPECT_EQ(-EEXIST, mshare_attach(fd, ADDR_B, RW, &out));
	EXPECT_EQ((void *)1, out);
	EXPECT_EQ(2, attachments(fd));
	/* partly over it (a 2 GiB region one GiB below), or over plain memory */
	fd2 = create(_metadata, 2 * RGN);
	EXPECT_EQ(-EEXIST, mshare_attach(fd2, ADDR_B - RGN, RW, &out));
	close(fd2);
	ASSERT_EQ(ADDR_C + 5 * PG, mmap(ADDR_C + 5 * PG, PG, RW,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	EXPECT_EQ(-EEXIST, mshare_attach(fd, ADDR_C, RW, &out));
	EXPECT_EQ(0, munmap(ADDR_C + 5 * PG, PG));
	/* only the attachment at ADDR_B is there */
	EXPECT_EQ(1, maps_count((unsigned long)ADDR_B - RGN, (unsigned long)ADDR_C + RGN));
	EXPECT_EQ(-EINVAL, mshare_attach(fd, ADDR_B + 2 * MiB, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach(fd, NULL, RW, NULL));
	EXPECT_EQ(-EINVAL, mshare_attach(fd, NULL, PROT_NONE, &out));
	EXPECT_EQ(-EINVAL, mshare_attach(fd, NULL, RW | 0x100, &out));
	EXPECT_EQ(-EBADF, mshare_attach(-1, NULL, RW, &out));
	EXPECT_EQ((void *)1, out);

	EXPECT_EQ(-EINVAL, mshare_detach(NULL, RGN));
	EXPECT_EQ(-EINVAL, mshare_detach(q, 0));
	EXPECT_EQ(-EINVAL, mshare_detach(q + PG, RGN));
	EXPECT_EQ(-EINVAL, mshare_detach(q, RGN - PG));
	EXPECT_EQ(2, attachments(fd));
	EXPECT_EQ(0, mshare_detach(q, RGN));
	EXPECT_EQ(1, attachments(fd));
	EXPECT_EQ(0, maps_count((unsigned long)q, (unsigned long)q + RGN));
	EXPECT_EQ(0, mshare_detach(p, RGN));
	EXPECT_EQ(0, attachments(fd));

	/* A 2 GiB region, close-on-exec */
	fd2 = mshare_create(2 * RGN, MSHARE_CLOEXEC);
	ASSERT_LE(0, fd2);
	EXPECT_TRUE(is_cloexec(fd2));
	EXPECT_EQ((long long)(2 * RGN), mshare_size(fd2));
	p = attach(_metadata, fd2, ADDR_C, PROT_READ);
	EXPECT_TRUE(maps_has_exact((unsigned long)p, (unsigned long)p + 2 * RGN));
	EXPECT_EQ(0, mshare_detach(p, 2 * RGN));
	close(fd2);

	/* Refusals */
	EXPECT_EQ(-EINVAL, mshare_create(0, 0));
	EXPECT_EQ(-EINVAL, mshare_create(RGN + PG, 0));
	EXPECT_EQ(-EINVAL, mshare_create(RGN / 2, 0));
	EXPECT_EQ(-EINVAL, mshare_create(RGN, 2));
	EXPECT_EQ(-EINVAL, mshare_create(RGN, MSHARE_CLOEXEC | 0x80000000U));
	close(fd);
}

/*
 * mshare_attach_window(): a window of GiB 1-2 of a 3 GiB region shows the
 * region from offset 1 GiB, at the address asked for or one the kernel
 * picks; a bad window is -EINVAL and maps nothing.  Fails to link before
 * the library had the call.
 */
TEST_F(lib, attach_window)
{
	int fd = create(_metadata, 3 * RGN);
	void *out = (void *)1, *w;
	char *all;
	int ret;

	all = attach(_metadata, fd, NULL, RW);
	ASSERT_EQ(0, mshare_map(fd, RGN, 2 * MiB, RW, MAP_SHARED, -1, 0));
	ASSERT_EQ(0, mshare_map(fd, 2 * RGN, 2 * MiB, RW, MAP_SHARED, -1, 0));
	all[RGN] = 'g';
	all[2 * RGN + 5] = 'h';

	ret = mshare_attach_window(fd, RGN, 2 * RGN, ADDR_B, RW, &w);
	ASSERT_EQ(0, ret) TH_LOG("mshare_attach_window: %s", strerror(-ret));
	ASSERT_EQ(ADDR_B, w);
	EXPECT_TRUE(maps_has_exact((unsigned long)ADDR_B, (unsigned long)ADDR_B + 2 * RGN));
	EXPECT_EQ('g', ADDR_B[0]);
	EXPECT_EQ('h', ADDR_B[RGN + 5]);
	ADDR_B[1] = 'w';
	EXPECT_EQ('w', all[RGN + 1]);
	EXPECT_EQ(2, attachments(fd));
	/* taken now */
	EXPECT_EQ(-EEXIST, mshare_attach_window(fd, RGN, RGN, ADDR_B + RGN, RW, &out));

	/* anywhere, the last GiB */
	ret = mshare_attach_window(fd, 2 * RGN, RGN, NULL, PROT_READ, &w);
	ASSERT_EQ(0, ret) TH_LOG("mshare_attach_window(NULL): %s", strerror(-ret));
	EXPECT_EQ(0, (uintptr_t)w % RGN);
	EXPECT_EQ('h', ((char *)w)[5]);
	EXPECT_EQ(3, attachments(fd));
	EXPECT_EQ(0, mshare_detach(w, RGN));

	/* bad windows */
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, PG, RGN, NULL, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, RGN, RGN / 2, NULL, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, RGN, 0, NULL, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, 3 * RGN, RGN, NULL, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, 2 * RGN, 2 * RGN, NULL, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, RGN, SIZE_MAX - RGN + 1, NULL, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, SIZE_MAX - RGN + 1, RGN, NULL, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, 0, RGN, ADDR_C + PG, RW, &out));
	EXPECT_EQ(-EINVAL, mshare_attach_window(fd, 0, RGN, NULL, RW, NULL));
	EXPECT_EQ(-EBADF, mshare_attach_window(-1, 0, RGN, NULL, RW, &out));
	EXPECT_EQ((void *)1, out);
	EXPECT_EQ(2, attachments(fd));
	EXPECT_EQ(0, maps_count((unsigned long)ADDR_C, (unsigned long)ADDR_C + 3 * RGN));

	EXPECT_EQ(0, mshare_detach(ADDR_B, 2 * RGN));
	EXPECT_EQ(0, mshare_detach(all, 3 * RGN));
	EXPECT_EQ(0, attachments(fd));
	close(fd);
}

TEST_F(lib, names)
{
	char longname[300];
	struct mshare_stats st;
	struct stat sb;
	int fd, fd2, fd3, ro;
	char *p;

	fd = mshare_create_named(PFX "a", RGN, 0640, O_EXCL);
	ASSERT_LE(0, fd) TH_LOG("create_named: %s", strerror(-fd));
	EXPECT_FALSE(is_cloexec(fd));
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ((long long)RGN, mshare_size(fd));
	ASSERT_EQ(0, stat(MSHARE_FS_DIR "/" PFX "a", &sb));
	EXPECT_EQ(0640, sb.st_mode & 07777);
	EXPECT_EQ((off_t)RGN, sb.st_size);

	/* O_EXCL: the name is taken; without it: the same size opens it */
	EXPECT_EQ(-EEXIST, mshare_create_named(PFX "a", RGN, 0640, O_EXCL));
	fd2 = mshare_create_named(PFX "a", RGN, 0600, O_CLOEXEC);
	ASSERT_LE(0, fd2) TH_LOG("create_named of an existing name: %s", strerror(-fd2));
	EXPECT_TRUE(is_cloexec(fd2));
	/* a different size is refused and leaves the region alone */
	EXPECT_EQ(-EBUSY, mshare_create_named(PFX "a", 2 * RGN, 0600, 0));
	EXPECT_EQ((long long)RGN, mshare_size(fd));

	/* The same region through both fds and by name */
	ASSERT_EQ(0, mshare_map(fd, 0, 2 * MiB, RW, MAP_SHARED, -1, 0));
	p = attach(_metadata, fd2, NULL, RW);
	strcpy(p, "through fd2");
	ASSERT_EQ(0, mshare_stat_name(PFX "a", &st));
	EXPECT_EQ(RGN, st.size);
	EXPECT_EQ(1, st.attachments);
	EXPECT_EQ(1, st.mappings);

	/* open: read-only attaches read-only, whatever prot asks for */
	ro = mshare_open(PFX "a", O_RDONLY);
	ASSERT_LE(0, ro) TH_LOG("mshare_open: %s", strerror(-ro));
	EXPECT_FALSE(is_cloexec(ro));
	EXPECT_EQ(O_RDONLY, fcntl(ro, F_GETFL) & O_ACCMODE);
	{
		char *r = attach(_metadata, ro, NULL, RW);

		EXPECT_STREQ("through fd2", r);
		EXPECT_TRUE(probe(r, false));
		EXPECT_FALSE(probe(r, true));
		EXPECT_EQ(-EACCES, mshare_map(ro, 2 * MiB, 2 * MiB, RW, MAP_SHARED, -1, 0));
		EXPECT_EQ(-EACCES, mshare_unmap(ro, 0, 2 * MiB));
		EXPECT_EQ(0, mshare_detach(r, RGN));
	}
	close(ro);
	fd3 = mshare_open(PFX "a", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd3);
	EXPECT_TRUE(is_cloexec(fd3));
	close(fd3);

	/* Refusals */
	EXPECT_EQ(-ENOENT, mshare_open(PFX "missing", O_RDONLY));
	EXPECT_EQ(-EINVAL, mshare_open(PFX "a", O_WRONLY));
	EXPECT_EQ(-EINVAL, mshare_open(PFX "a", O_RDWR | O_CREAT));
	EXPECT_EQ(-EINVAL, mshare_open(NULL, O_RDWR));
	EXPECT_EQ(-EINVAL, mshare_open("", O_RDWR));
	EXPECT_EQ(-EINVAL, mshare_open("../etc", O_RDWR));
	EXPECT_EQ(-EINVAL, mshare_open(".", O_RDWR));
	EXPECT_EQ(-EINVAL, mshare_open("..", O_RDWR));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, mshare_open(longname, O_RDWR));
	EXPECT_EQ(-ENAMETOOLONG, mshare_create_named(longname, RGN, 0600, 0));
	EXPECT_EQ(-EINVAL, mshare_create_named(PFX "b", RGN, 0600, O_TRUNC));
	EXPECT_EQ(-EINVAL, mshare_create_named(PFX "b", RGN, 0600, O_RDONLY | O_APPEND));
	EXPECT_EQ(-EINVAL, mshare_create_named(NULL, RGN, 0600, 0));
	EXPECT_EQ(-EINVAL, mshare_create_named(PFX "b", RGN, 0100600, 0));
	EXPECT_EQ(-EINVAL, mshare_stat_name(PFX "a", NULL));
	EXPECT_EQ(-ENOENT, mshare_stat_name(PFX "missing", &st));
	/* A bad size leaves no half-made name behind */
	EXPECT_EQ(-EINVAL, mshare_create_named(PFX "badsize", RGN / 2, 0600, 0));
	EXPECT_EQ(-ENOENT, mshare_open(PFX "badsize", O_RDONLY));
	EXPECT_EQ(-EINVAL, mshare_create_named(PFX "badsize", RGN + PG, 0600, O_EXCL));
	EXPECT_EQ(-ENOENT, mshare_open(PFX "badsize", O_RDONLY));
	EXPECT_EQ(-EINVAL, mshare_create_named(PFX "badsize", 0, 0600, 0));
	EXPECT_EQ(-ENOENT, mshare_open(PFX "badsize", O_RDONLY));
	/* but an existing region is not removed by a failed call */
	EXPECT_EQ(-EBUSY, mshare_create_named(PFX "a", 3 * RGN, 0600, 0));
	EXPECT_EQ(0, mshare_stat_name(PFX "a", &st));

	/* Unlink: the name goes, the region stays */
	EXPECT_EQ(0, mshare_unlink(PFX "a"));
	EXPECT_EQ(-ENOENT, mshare_unlink(PFX "a"));
	EXPECT_EQ(-ENOENT, mshare_open(PFX "a", O_RDWR));
	EXPECT_EQ(-EINVAL, mshare_unlink(NULL));
	EXPECT_EQ(-EINVAL, mshare_unlink("a/b"));
	EXPECT_EQ((long long)RGN, mshare_size(fd));
	EXPECT_STREQ("through fd2", p);
	EXPECT_EQ(0, mshare_detach(p, RGN));
	/* A new region may take the name */
	fd3 = mshare_create_named(PFX "a", 2 * RGN, 0600, O_EXCL);
	ASSERT_LE(0, fd3);
	EXPECT_EQ((long long)(2 * RGN), mshare_size(fd3));
	close(fd3);
	close(fd2);
	close(fd);
}

TEST_F(lib, link)
{
	int fd = create(_metadata, RGN), other = create(_metadata, RGN);
	int byname, memfd = memfd_sized("kst-lib", PG);
	char *p, *q;

	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, mshare_map(fd, 0, 2 * MiB, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(0, mshare_link(fd, PFX "link", 0600));
	byname = mshare_open(PFX "link", O_RDWR);
	ASSERT_LE(0, byname) TH_LOG("open the linked name: %s", strerror(-byname));
	p = attach(_metadata, fd, NULL, RW);
	q = attach(_metadata, byname, NULL, RW);
	strcpy(p, "linked");
	EXPECT_STREQ("linked", q);
	EXPECT_EQ(2, attachments(byname));

	EXPECT_EQ(-EBUSY, mshare_link(fd, PFX "b", 0600));
	EXPECT_EQ(-EEXIST, mshare_link(other, PFX "link", 0600));
	EXPECT_EQ(-EINVAL, mshare_link(memfd, PFX "b", 0600));
	EXPECT_EQ(-EBADF, mshare_link(-1, PFX "b", 0600));
	EXPECT_EQ(-EINVAL, mshare_link(other, "x/y", 0600));
	EXPECT_EQ(-EINVAL, mshare_link(other, "", 0600));
	EXPECT_EQ(-EINVAL, mshare_link(other, NULL, 0600));
	EXPECT_EQ(-ENOENT, mshare_open(PFX "b", O_RDONLY));

	EXPECT_EQ(0, mshare_detach(q, RGN));
	EXPECT_EQ(0, mshare_detach(p, RGN));
	EXPECT_EQ(0, mshare_unlink(PFX "link"));
	close(byname);
	close(memfd);
	close(other);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* What is in a region: seen by a forked child that attaches by itself. */

#define MAP_TAG(n)	(0x11 + (n))

/* The child: attach, check the four mappings, write its own tag, report. */
static void map_child(int fd, int sock)
{
	void *p;
	char *a;

	CHILD_CHECK(mshare_attach(fd, NULL, RW, &p) == 0);
	a = p;
	CHILD_CHECK(check_pat(a, 4 * MiB, PG, MAP_TAG(0), 0) == -1);
	CHILD_CHECK(check_pat(a + 4 * MiB, 4 * MiB, PG, MAP_TAG(1), 0) == -1);
	CHILD_CHECK(check_pat(a + 8 * MiB, 2 * MiB, PG, MAP_TAG(2), 0) == -1);
	CHILD_CHECK(check_pat(a + 16 * MiB, 2 * MiB, PG, MAP_TAG(3), 0) == -1);
	fill_pat(a, 4 * MiB, PG, MAP_TAG(4), 1);
	fill_pat(a + 4 * MiB, 4 * MiB, PG, MAP_TAG(5), 1);
	fill_pat(a + 8 * MiB, 2 * MiB, PG, MAP_TAG(6), 1);
	fill_pat(a + 16 * MiB, 2 * MiB, PG, MAP_TAG(7), 1);
	CHILD_CHECK(mshare_detach(p, RGN) == 0);
	CHILD_CHECK(sock_send(sock, 'd') == 0);
	_exit(0);
}

TEST_F_TIMEOUT(lib, map_seen_by_child, 120)
{
	int fd = create(_metadata, RGN);
	int memfd = memfd_sized("kst-lib", 8 * MiB);
	struct mshare_stats st;
	int sp[2];
	pid_t pid;
	char *p;

	ASSERT_LE(0, memfd);
	/* by fd (the ioctl): anonymous at 0, memfd at 4 MiB (file offset 0) */
	ASSERT_EQ(0, mshare_map(fd, 0, 4 * MiB, RW, MAP_SHARED | MAP_POPULATE, -1, 0));
	ASSERT_EQ(0, mshare_map(fd, 4 * MiB, 4 * MiB, RW, MAP_SHARED, memfd, 0));
	p = attach(_metadata, fd, NULL, RW);
	/* via the attachment: anonymous at 8 MiB, memfd from 4 MiB at 16 MiB */
	ASSERT_EQ(0, mshare_map_at(p, 8 * MiB, 2 * MiB, RW, MAP_SHARED, -1, 0));
	ASSERT_EQ(0, mshare_map_at(p, 16 * MiB, 2 * MiB, RW, MAP_SHARED, memfd, 4 * MiB));
	/* NOREPLACE on an existing mapping */
	EXPECT_EQ(-EEXIST, mshare_map_at(p, 8 * MiB, 2 * MiB, RW,
					 MAP_SHARED | MAP_FIXED_NOREPLACE, -1, 0));
	EXPECT_EQ(-EEXIST, mshare_map(fd, 0, 2 * MiB, RW,
				      MAP_SHARED | MAP_FIXED_NOREPLACE, -1, 0));
	fill_pat(p, 4 * MiB, PG, MAP_TAG(0), 0);
	fill_pat(p + 4 * MiB, 4 * MiB, PG, MAP_TAG(1), 0);
	fill_pat(p + 8 * MiB, 2 * MiB, PG, MAP_TAG(2), 0);
	fill_pat(p + 16 * MiB, 2 * MiB, PG, MAP_TAG(3), 0);
	/* the memfd holds what was written through the region */
	EXPECT_EQ(pat(MAP_TAG(1), 5), pread_word(memfd, 5, 0));
	EXPECT_EQ(pat(MAP_TAG(3), 7), pread_word(memfd, 1024 + 7, 0));

	ASSERT_EQ(0, mshare_stat(fd, &st));
	EXPECT_EQ(4, st.mappings);
	EXPECT_LE(4 * MiB, st.resident);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sp[0]);
		/* not through the inherited attachment: the child's own */
		CHILD_CHECK(mshare_detach(p, RGN) == 0);
		map_child(fd, sp[1]);
	}
	close(sp[1]);
	EXPECT_EQ('d', sock_recv(sp[0]));
	EXPECT_TRUE(child_ok(pid, "map child"));
	EXPECT_EQ(-1, check_pat(p, 4 * MiB, PG, MAP_TAG(4), 1));
	EXPECT_EQ(-1, check_pat(p + 4 * MiB, 4 * MiB, PG, MAP_TAG(5), 1));
	EXPECT_EQ(-1, check_pat(p + 8 * MiB, 2 * MiB, PG, MAP_TAG(6), 1));
	EXPECT_EQ(-1, check_pat(p + 16 * MiB, 2 * MiB, PG, MAP_TAG(7), 1));
	EXPECT_EQ(1, attachments(fd));

	/* Refusals */
	EXPECT_EQ(-EINVAL, mshare_map(fd, 0, 0, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, 100, PG, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, 0, 100, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, RGN, PG, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, RGN - PG, 2 * PG, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, 32 * MiB, PG, RW, MAP_PRIVATE, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, 32 * MiB, PG, RW, MAP_SHARED | MAP_GROWSDOWN, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, 32 * MiB, PG, RW | 0x100, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, 32 * MiB, PG, RW, MAP_SHARED, memfd, -PG));
	EXPECT_EQ(-EINVAL, mshare_map(fd, 32 * MiB, PG, RW, MAP_SHARED | MAP_HUGETLB, memfd, 0));
	EXPECT_EQ(-EINVAL, mshare_map(fd, 32 * MiB, PG, RW, MAP_SHARED, fd, 0));
	EXPECT_EQ(-EBADF, mshare_map(fd, 32 * MiB, PG, RW, MAP_SHARED, -7, 0));
	EXPECT_EQ(-EBADF, mshare_map(-1, 0, PG, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map(memfd, 0, PG, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map_at(NULL, 0, PG, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map_at(p + PG, 0, PG, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map_at(p, 32 * MiB, 0, RW, MAP_SHARED, -1, 0));
	EXPECT_EQ(-EINVAL, mshare_map_at(p, 32 * MiB, PG, RW, MAP_PRIVATE, -1, 0));
	/* half in, half out of the attachment */
	EXPECT_EQ(-EINVAL, mshare_map_at(p, RGN - PG, 2 * PG, RW, MAP_SHARED, -1, 0));
	ASSERT_EQ(0, mshare_stat(fd, &st));
	EXPECT_EQ(4, st.mappings);

	EXPECT_EQ(0, mshare_detach(p, RGN));
	close(sp[0]);
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* unmap, unmap_at and protect_at act for every sharer. */

struct probe_arg {
	int fd;
	size_t off;
	bool write;
};

/* In a child: attach on its own and touch one byte (may be killed). */
static void touch_child(void *arg)
{
	struct probe_arg *a = arg;
	volatile char *p;
	void *v;

	CHILD_CHECK(mshare_attach(a->fd, NULL, RW, &v) == 0);
	p = (volatile char *)v + a->off;
	if (a->write)
		*p = 'w';
	else
		(void)*p;
}

static int touch(int fd, size_t off, bool write)
{
	struct probe_arg a = { fd, off, write };

	return child_status(touch_child, &a);
}

TEST_F_TIMEOUT(lib, unmap_and_protect, 120)
{
	int fd = create(_metadata, RGN), sp[2], status;
	struct mshare_stats st;
	pid_t pid;
	char *p;

	ASSERT_EQ(0, mshare_map(fd, 0, 8 * MiB, RW, MAP_SHARED, -1, 0));
	p = attach(_metadata, fd, NULL, RW);
	memset(p, 'a', 8 * MiB);
	EXPECT_TRUE(exited_ok(touch(fd, 0, true)));
	EXPECT_TRUE(exited_ok(touch(fd, 6 * MiB, true)));

	/* A sharer attached before the changes, waiting for them */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		volatile char *c;
		void *v;

		close(sp[0]);
		CHILD_CHECK(mshare_attach(fd, NULL, RW, &v) == 0);
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
		c = v;
		c[4 * MiB] = 'b';
		CHILD_CHECK(c[6 * MiB] == 'w');	/* touch() wrote it */
		CHILD_CHECK(sock_send(sp[1], 'r') == 0);
		CHILD_CHECK(sock_recv(sp[1]) == 'p');
		/* still readable, and visible to the parent */
		CHILD_CHECK(c[4 * MiB] == 'b');
		CHILD_CHECK(c[6 * MiB] == 'w');
		c[6 * MiB] = 'c';
		signal(SIGSEGV, SIG_DFL);
		c[4 * MiB] = 'x';	/* read-only now: SIGSEGV */
		_exit(0);
	}
	close(sp[1]);
	ASSERT_EQ('r', sock_recv(sp[0]));
	EXPECT_EQ('b', p[4 * MiB]);

	EXPECT_EQ(0, mshare_unmap(fd, 0, 2 * MiB));
	EXPECT_EQ(0, mshare_unmap_at(p, 2 * MiB, 2 * MiB));
	EXPECT_EQ(0, mshare_protect_at(p, 4 * MiB, 2 * MiB, PROT_READ));
	ASSERT_EQ(0, sock_send(sp[0], 'p'));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(killed_by(status, SIGSEGV)) TH_LOG("the sharer's write after protect: status %#x", status);
	EXPECT_EQ('c', p[6 * MiB]);
	EXPECT_EQ('b', p[4 * MiB]);
	close(sp[0]);

	/* The holes and the protection, for us and for new sharers */
	EXPECT_FALSE(probe(p, false));
	EXPECT_FALSE(probe(p + 3 * MiB, false));
	EXPECT_TRUE(probe(p + 4 * MiB, false));
	EXPECT_FALSE(probe(p + 4 * MiB, true));
	EXPECT_TRUE(probe(p + 6 * MiB, true));
	EXPECT_TRUE(killed_by(touch(fd, 0, false), SIGSEGV));
	EXPECT_TRUE(killed_by(touch(fd, 2 * MiB + PG, false), SIGSEGV));
	EXPECT_TRUE(exited_ok(touch(fd, 5 * MiB, false)));
	EXPECT_TRUE(killed_by(touch(fd, 5 * MiB, true), SIGSEGV));
	EXPECT_TRUE(exited_ok(touch(fd, 7 * MiB, true)));
	ASSERT_EQ(0, mshare_stat(fd, &st));
	EXPECT_EQ(2, st.mappings);

	/* and back to writable */
	EXPECT_EQ(0, mshare_protect_at(p, 4 * MiB, 2 * MiB, RW));
	EXPECT_TRUE(exited_ok(touch(fd, 5 * MiB, true)));

	/* Refusals */
	EXPECT_EQ(-EINVAL, mshare_unmap(fd, 0, 0));
	EXPECT_EQ(-EINVAL, mshare_unmap(fd, PG / 2, PG));
	EXPECT_EQ(-EINVAL, mshare_unmap(fd, RGN, PG));
	EXPECT_EQ(-EBADF, mshare_unmap(-1, 0, PG));
	EXPECT_EQ(-EINVAL, mshare_unmap_at(NULL, 0, PG));
	EXPECT_EQ(-EINVAL, mshare_unmap_at(p + PG, 0, PG));
	EXPECT_EQ(-EINVAL, mshare_unmap_at(p, 0, 0));
	EXPECT_EQ(-EINVAL, mshare_protect_at(p, 4 * MiB, 0, PROT_READ));
	EXPECT_EQ(-EINVAL, mshare_protect_at(p, 4 * MiB + 1, PG, PROT_READ));
	EXPECT_EQ(-EINVAL, mshare_protect_at(p, 4 * MiB, PG, PROT_READ | 0x100));
	EXPECT_EQ(-EINVAL, mshare_protect_at(NULL, 4 * MiB, PG, PROT_READ));
	/* the whole attachment or beyond: refused by the kernel */
	EXPECT_EQ(-EINVAL, mshare_protect_at(p, 0, RGN, PROT_READ));
	EXPECT_EQ(-EINVAL, mshare_protect_at(p, RGN - PG, 2 * PG, PROT_READ));
	EXPECT_EQ(1, attachments(fd));

	EXPECT_EQ(0, mshare_detach(p, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */

/*
 * pgtable_saved: the tables each attachment would need for what the region
 * has mapped (@need bytes), summed over the attachments, less what the
 * region holds, or 0.
 */
static uint64_t saved_of(const struct mshare_stats *st, uint64_t need)
{
	return st->attachments * need > st->pgtable ?
	       st->attachments * need - st->pgtable : 0;
}

/* 4 MiB populated at offset 0: two PTE tables and the PMD table. */
#define SA_NEED		(3 * PG)

TEST_F_TIMEOUT(lib, stat_attachments, 120)
{
	int fd = create(_metadata, RGN), sp[2];
	struct mshare_stats st;
	pid_t pid;
	char *p;

	ASSERT_EQ(0, mshare_stat(fd, &st));
	EXPECT_EQ(RGN, st.size);
	EXPECT_EQ(0, st.attachments);
	EXPECT_EQ(0, st.mappings);
	EXPECT_EQ(0, st.resident);
	EXPECT_EQ(0, st.pgtable_saved);

	ASSERT_EQ(0, mshare_map(fd, 0, 4 * MiB, RW, MAP_SHARED | MAP_POPULATE, -1, 0));
	p = attach(_metadata, fd, NULL, RW);
	ASSERT_EQ(0, mshare_stat(fd, &st));
	EXPECT_EQ(1, st.attachments);
	EXPECT_EQ(1, st.mappings);
	EXPECT_LE(4 * MiB, st.resident);
	EXPECT_LT(0, st.pgtable);
	EXPECT_EQ(saved_of(&st, SA_NEED), st.pgtable_saved);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	pid = fork();	/* inherits the attachment: 2 */
	ASSERT_LE(0, pid);
	if (pid == 0) {
		void *v;

		close(sp[0]);
		CHILD_CHECK(sock_send(sp[1], '1') == 0);
		CHILD_CHECK(sock_recv(sp[1]) == 'a');
		CHILD_CHECK(mshare_attach(fd, NULL, PROT_READ, &v) == 0);
		CHILD_CHECK(sock_send(sp[1], '2') == 0);
		CHILD_CHECK(sock_recv(sp[1]) == 'd');
		CHILD_CHECK(mshare_detach(v, RGN) == 0);
		CHILD_CHECK(sock_send(sp[1], '3') == 0);
		CHILD_CHECK(sock_recv(sp[1]) == 'x');
		_exit(0);
	}
	close(sp[1]);
	ASSERT_EQ('1', sock_recv(sp[0]));
	ASSERT_EQ(0, mshare_stat(fd, &st));
	EXPECT_EQ(2, st.attachments);
	EXPECT_EQ(saved_of(&st, SA_NEED), st.pgtable_saved);
	EXPECT_LT(0, st.pgtable_saved);
	ASSERT_EQ(0, sock_send(sp[0], 'a'));
	ASSERT_EQ('2', sock_recv(sp[0]));
	ASSERT_EQ(0, mshare_stat(fd, &st));
	EXPECT_EQ(3, st.attachments);
	EXPECT_EQ(saved_of(&st, SA_NEED), st.pgtable_saved);
	ASSERT_EQ(0, sock_send(sp[0], 'd'));
	ASSERT_EQ('3', sock_recv(sp[0]));
	EXPECT_EQ(2, attachments(fd));
	ASSERT_EQ(0, sock_send(sp[0], 'x'));
	EXPECT_TRUE(child_ok(pid, "stat child"));
	EXPECT_EQ(1, attachments(fd));
	EXPECT_EQ(0, mshare_detach(p, RGN));
	EXPECT_EQ(0, attachments(fd));
	ASSERT_EQ(0, mshare_stat(fd, &st));
	EXPECT_EQ(0, st.pgtable_saved);
	EXPECT_EQ(1, st.mappings);
	close(sp[0]);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* Passing regions over Unix sockets */

#define BIG_MSG		(1 * MiB)
#define SEND_TAG	0x77

static void big_msg_fill(unsigned char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 31 + seed + (i >> 12));
}

/* The child: make a region, fill it, send it with a 1 MiB message. */
static void sender_child(int sock)
{
	unsigned char *buf = malloc(BIG_MSG);
	void *p;
	int fd;

	CHILD_CHECK(buf);
	fd = mshare_create(RGN, MSHARE_CLOEXEC);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(mshare_map(fd, 0, 2 * MiB, RW, MAP_SHARED, -1, 0) == 0);
	CHILD_CHECK(mshare_attach(fd, NULL, RW, &p) == 0);
	fill_pat(p, 2 * MiB, PG, SEND_TAG, 0);
	CHILD_CHECK(mshare_detach(p, RGN) == 0);
	big_msg_fill(buf, BIG_MSG, 5);
	CHILD_CHECK(mshare_send_fd(sock, fd, buf, BIG_MSG) == 0);
	/* and a one-byte message with no data of ours */
	CHILD_CHECK(mshare_send_fd(sock, fd, NULL, 0) == 0);
	close(fd);
	/* wait for the parent to be done with the socket */
	CHILD_CHECK(sock_recv(sock) == 'k');
	free(buf);
	_exit(0);
}

TEST_F_TIMEOUT(lib, send_recv_between_processes, 120)
{
	unsigned char *buf = malloc(BIG_MSG), *want = malloc(BIG_MSG);
	int sp[2], fd = -1, fd2 = -1, ret;
	pid_t pid;
	char *p;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sp[0]);
		sender_child(sp[1]);
	}
	close(sp[1]);
	ret = mshare_recv_fd(sp[0], &fd, buf, BIG_MSG);
	ASSERT_EQ(0, ret) TH_LOG("mshare_recv_fd: %s", strerror(-ret));
	big_msg_fill(want, BIG_MSG, 5);
	EXPECT_EQ(0, memcmp(buf, want, BIG_MSG));
	EXPECT_EQ(1, mshare_is_region(fd));
	EXPECT_TRUE(is_cloexec(fd));
	p = attach(_metadata, fd, NULL, PROT_READ);
	EXPECT_EQ(-1, check_pat(p, 2 * MiB, PG, SEND_TAG, 0));
	EXPECT_EQ(0, mshare_detach(p, RGN));

	ret = mshare_recv_fd(sp[0], &fd2, NULL, 0);
	ASSERT_EQ(0, ret) TH_LOG("second mshare_recv_fd: %s", strerror(-ret));
	EXPECT_TRUE(is_cloexec(fd2));
	EXPECT_EQ((long long)RGN, mshare_size(fd2));
	ASSERT_EQ(0, sock_send(sp[0], 'k'));
	EXPECT_TRUE(child_ok(pid, "sender"));
	/* and the peer is gone: nothing more comes */
	EXPECT_EQ(-ECONNRESET, mshare_recv_fd(sp[0], &fd2, buf, 16));
	close(fd2);
	close(fd);
	close(sp[0]);
	free(buf);
	free(want);
}

/* Send @nfds copies of @fd with @len bytes (raw sendmsg); 0 or -1. */
static int raw_send(int sock, int fd, int nfds, const void *data, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	if (nfds) {
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		for (int i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

enum bad_peer { PEER_CLOSE, PEER_ONE_BYTE_FD, PEER_ONE_BYTE, PEER_NO_FD,
		PEER_TWO_FDS, PEER_FD_LATER };

/* Run a peer doing @what; mshare_recv_fd() of 16 bytes must give @want. */
static void bad_peer_case(struct __test_metadata *_metadata, enum bad_peer what,
			  int want)
{
	int sp[2], fd = -12345, before, after, ret;
	char buf[16];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int rfd = mshare_create(RGN, 0);

		close(sp[0]);
		CHILD_CHECK(rfd >= 0);
		switch (what) {
		case PEER_CLOSE:
			break;
		case PEER_ONE_BYTE_FD:
			CHILD_CHECK(raw_send(sp[1], rfd, 1, "x", 1) == 0);
			break;
		case PEER_ONE_BYTE:
			CHILD_CHECK(raw_send(sp[1], rfd, 0, "x", 1) == 0);
			break;
		case PEER_NO_FD:
			CHILD_CHECK(raw_send(sp[1], rfd, 0, "0123456789abcdef", 16) == 0);
			break;
		case PEER_TWO_FDS:
			CHILD_CHECK(raw_send(sp[1], rfd, 2, "0123456789abcdef", 16) == 0);
			break;
		case PEER_FD_LATER:
			/* 8 bytes with our fd, then 8 bytes carrying another fd */
			CHILD_CHECK(raw_send(sp[1], rfd, 1, "01234567", 8) == 0);
			CHILD_CHECK(raw_send(sp[1], rfd, 1, "89abcdef", 8) == 0);
			break;
		}
		_exit(0);	/* closes the socket */
	}
	close(sp[1]);
	EXPECT_TRUE(child_ok(pid, "bad peer"));
	before = count_fds();
	ret = mshare_recv_fd(sp[0], &fd, buf, sizeof(buf));
	after = count_fds();
	EXPECT_EQ(want, ret) TH_LOG("case %d: got %d (%s)", what, ret, strerror(-ret));
	EXPECT_EQ(-12345, fd);
	EXPECT_EQ(before, after) TH_LOG("case %d: fds leaked", what);
	close(sp[0]);
}

TEST_F(lib, recv_bad_messages)
{
	bad_peer_case(_metadata, PEER_CLOSE, -ECONNRESET);
	bad_peer_case(_metadata, PEER_ONE_BYTE_FD, -ECONNRESET);
	bad_peer_case(_metadata, PEER_ONE_BYTE, -EBADMSG);
	bad_peer_case(_metadata, PEER_NO_FD, -EBADMSG);
	bad_peer_case(_metadata, PEER_TWO_FDS, -EBADMSG);
	bad_peer_case(_metadata, PEER_FD_LATER, -EBADMSG);
}

static volatile sig_atomic_t got_usr1;

static void usr1_handler(int sig)
{
	got_usr1++;
}

/* Is @pid asleep ('S' in /proc/pid/stat)? */
static bool sleeping(pid_t pid)
{
	char path[64], buf[256], *s;
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
	buf[n] = '\0';
	s = strrchr(buf, ')');
	return s && s[1] == ' ' && s[2] == 'S';
}

static void wait_sleeping(pid_t pid)
{
	for (int i = 0; i < 2000 && !sleeping(pid); i++)
		sleep_ms(5);
	sleep_ms(20);
}

TEST_F_TIMEOUT(lib, recv_eintr, 60)
{
	struct sigaction sa = { .sa_handler = usr1_handler, .sa_flags = 0 };
	struct sigaction old;
	char buf[16];
	int sp[2], fd = -1, ret;
	pid_t pid, parent = getpid();

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	got_usr1 = 0;
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int rfd = mshare_create(RGN, 0);

		close(sp[0]);
		CHILD_CHECK(rfd >= 0);
		/* a signal while the parent waits for the first byte */
		wait_sleeping(parent);
		CHILD_CHECK(kill(parent, SIGUSR1) == 0);
		sleep_ms(50);
		CHILD_CHECK(raw_send(sp[1], rfd, 1, "0123", 4) == 0);
		/* and one while it waits for the rest */
		wait_sleeping(parent);
		CHILD_CHECK(kill(parent, SIGUSR1) == 0);
		sleep_ms(50);
		CHILD_CHECK(raw_send(sp[1], rfd, 0, "456789abcdef", 12) == 0);
		_exit(0);
	}
	close(sp[1]);
	ret = mshare_recv_fd(sp[0], &fd, buf, sizeof(buf));
	EXPECT_EQ(0, ret) TH_LOG("mshare_recv_fd: %s", strerror(-ret));
	EXPECT_EQ(2, got_usr1);
	EXPECT_EQ(0, memcmp(buf, "0123456789abcdef", 16));
	EXPECT_EQ(1, mshare_is_region(fd));
	EXPECT_TRUE(child_ok(pid, "signalling peer"));
	sigaction(SIGUSR1, &old, NULL);
	close(fd);
	close(sp[0]);
}

TEST_F(lib, send_recv_refusals)
{
	int sp[2], pfd[2], fd = create(_metadata, RGN), out = -1, before;
	char buf[8] = "data";

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	ASSERT_EQ(0, pipe(pfd));
	EXPECT_EQ(-EBADF, mshare_send_fd(sp[0], -1, buf, 4));
	EXPECT_EQ(-EBADF, mshare_send_fd(-1, fd, buf, 4));
	EXPECT_EQ(-EINVAL, mshare_send_fd(sp[0], fd, buf, 0));
	EXPECT_EQ(-EINVAL, mshare_send_fd(sp[0], fd, NULL, 5));
	EXPECT_EQ(-ENOTSOCK, mshare_send_fd(pfd[1], fd, buf, 4));
	EXPECT_EQ(-EINVAL, mshare_recv_fd(sp[1], NULL, buf, 4));
	EXPECT_EQ(-EINVAL, mshare_recv_fd(sp[1], &out, buf, 0));
	EXPECT_EQ(-EINVAL, mshare_recv_fd(sp[1], &out, NULL, 4));
	EXPECT_EQ(-EBADF, mshare_recv_fd(-1, &out, buf, 4));
	EXPECT_EQ(-ENOTSOCK, mshare_recv_fd(pfd[0], &out, buf, 4));
	EXPECT_EQ(-1, out);

	/* a socket whose peer is gone: -EPIPE, and no SIGPIPE kills us */
	close(sp[1]);
	EXPECT_EQ(-EPIPE, mshare_send_fd(sp[0], fd, buf, 4));
	close(sp[0]);

	/* any fd may be sent: a pipe end arrives as a pipe */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	EXPECT_EQ(0, mshare_send_fd(sp[0], pfd[1], buf, 4));
	ASSERT_EQ(0, mshare_recv_fd(sp[1], &out, buf, 4));
	EXPECT_EQ(0, mshare_is_region(out));
	EXPECT_EQ(1, write(out, "z", 1));
	EXPECT_EQ(1, read(pfd[0], buf, 1));
	EXPECT_EQ('z', buf[0]);
	close(out);

	/* SOCK_SEQPACKET: a message longer than asked for is refused */
	close(sp[0]);
	close(sp[1]);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp));
	before = count_fds();
	EXPECT_EQ(0, mshare_send_fd(sp[0], fd, "seqpacket", 9));
	out = -1;
	EXPECT_EQ(-EBADMSG, mshare_recv_fd(sp[1], &out, buf, 8));
	EXPECT_EQ(-1, out);
	EXPECT_EQ(before, count_fds());
	/* and so is a shorter one */
	EXPECT_EQ(0, mshare_send_fd(sp[0], fd, "seq", 3));
	EXPECT_EQ(-EBADMSG, mshare_recv_fd(sp[1], &out, buf, 8));
	EXPECT_EQ(before, count_fds());
	/* the right length arrives */
	EXPECT_EQ(0, mshare_send_fd(sp[0], fd, "seqpack", 7));
	EXPECT_EQ(0, mshare_recv_fd(sp[1], &out, buf, 7));
	EXPECT_EQ(0, memcmp(buf, "seqpack", 7));
	EXPECT_EQ(1, mshare_is_region(out));
	close(out);
	close(sp[0]);
	close(sp[1]);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
}

/* ------------------------------------------------------------------------ */

TEST_F(lib, non_region_fds)
{
	int memfd = memfd_sized("kst-lib", PG), pfd[2], root, info, closed;
	struct mshare_stats st;
	void *out = NULL;

	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, pipe(pfd));
	root = open(MSHARE_FS_DIR, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, root);
	info = open(MSHARE_FS_DIR "/mshare_info", O_RDONLY);
	ASSERT_LE(0, info);
	closed = dup(memfd);
	ASSERT_LE(0, closed);
	close(closed);

	int fds[] = { memfd, pfd[0], pfd[1], root, info };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		int fd = fds[i];

		EXPECT_EQ(0, mshare_is_region(fd)) TH_LOG("fd #%zu", i);
		EXPECT_EQ(-EINVAL, mshare_stat(fd, &st)) TH_LOG("fd #%zu", i);
		EXPECT_EQ(-EINVAL, mshare_size(fd)) TH_LOG("fd #%zu", i);
		EXPECT_EQ(-EINVAL, mshare_attach(fd, NULL, RW, &out)) TH_LOG("fd #%zu", i);
		EXPECT_EQ(-EINVAL, mshare_map(fd, 0, PG, RW, MAP_SHARED, -1, 0)) TH_LOG("fd #%zu", i);
		EXPECT_EQ(-EINVAL, mshare_unmap(fd, 0, PG)) TH_LOG("fd #%zu", i);
		EXPECT_EQ(-EINVAL, mshare_link(fd, PFX "b", 0600)) TH_LOG("fd #%zu", i);
	}
	EXPECT_EQ(NULL, out);
	EXPECT_EQ(-ENOENT, mshare_open(PFX "b", O_RDONLY));
	/* the memfd is untouched */
	EXPECT_EQ((off_t)PG, lseek(memfd, 0, SEEK_END));

	/* bad fds */
	int bad[] = { -1, -100, closed, 1 << 20 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EBADF, mshare_is_region(bad[i])) TH_LOG("bad fd %d", bad[i]);
		EXPECT_EQ(-EBADF, mshare_stat(bad[i], &st));
		EXPECT_EQ(-EBADF, mshare_size(bad[i]));
		EXPECT_EQ(-EBADF, mshare_attach(bad[i], NULL, RW, &out));
		EXPECT_EQ(-EBADF, mshare_map(bad[i], 0, PG, RW, MAP_SHARED, -1, 0));
		EXPECT_EQ(-EBADF, mshare_unmap(bad[i], 0, PG));
		EXPECT_EQ(-EBADF, mshare_link(bad[i], PFX "b", 0600));
	}
	EXPECT_EQ(-EINVAL, mshare_stat(memfd, NULL));

	/* A named region whose size is not set yet */
	{
		int fd = open(MSHARE_FS_DIR "/" PFX "c", O_RDWR | O_CREAT | O_EXCL, 0600);

		ASSERT_LE(0, fd);
		EXPECT_EQ(1, mshare_is_region(fd));
		EXPECT_EQ(0, mshare_size(fd));
		EXPECT_EQ(-EINVAL, mshare_attach(fd, NULL, RW, &out));
		EXPECT_EQ(-EINVAL, mshare_map(fd, 0, PG, RW, MAP_SHARED, -1, 0));
		close(fd);
	}
	close(info);
	close(root);
	close(pfd[0]);
	close(pfd[1]);
	close(memfd);
}

TEST_F(lib, msharefs_not_mounted)
{
	struct mshare_sysinfo info;
	struct mshare_stats st;
	int fd = create(_metadata, RGN), n = 0;
	struct dirent *e;
	DIR *d;

	ASSERT_EQ(0, mkdir(NOMOUNT_DIR, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, setenv("MSHARE_DIR", NOMOUNT_DIR, 1));
	EXPECT_STREQ(NOMOUNT_DIR, mshare_dir());
	EXPECT_EQ(-ENODEV, mshare_create_named(PFX "a", RGN, 0600, 0));
	EXPECT_EQ(-ENODEV, mshare_create_named(PFX "a", RGN, 0600, O_EXCL));
	EXPECT_EQ(-ENODEV, mshare_open(PFX "a", O_RDWR));
	EXPECT_EQ(-ENODEV, mshare_unlink(PFX "a"));
	EXPECT_EQ(-ENODEV, mshare_stat_name(PFX "a", &st));
	EXPECT_EQ(-ENODEV, mshare_link(fd, PFX "a", 0600));
	EXPECT_EQ(-ENODEV, mshare_alignment());
	memset(&info, 0xff, sizeof(info));
	EXPECT_EQ(0, mshare_query(&info));
	EXPECT_EQ(0, info.mounted);
	EXPECT_EQ(1, info.syscall);
	EXPECT_EQ(MSHARE_ALIGN, info.align);
	EXPECT_STREQ(NOMOUNT_DIR, info.dir);
	/* nothing was made there */
	d = opendir(NOMOUNT_DIR);
	ASSERT_NE(NULL, d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	EXPECT_EQ(0, n);
	/* the region functions do not care */
	EXPECT_EQ((long long)RGN, mshare_size(fd));

	/* a directory that does not exist */
	ASSERT_EQ(0, setenv("MSHARE_DIR", NOMOUNT_DIR "/nonexistent", 1));
	EXPECT_EQ(-ENODEV, mshare_open(PFX "a", O_RDWR));
	EXPECT_EQ(-ENODEV, mshare_alignment());
	EXPECT_EQ(0, mshare_query(&info));
	EXPECT_EQ(0, info.mounted);

	unsetenv("MSHARE_DIR");
	/* the name is free in the real msharefs: the link above did nothing */
	EXPECT_EQ(-ENOENT, mshare_open(PFX "a", O_RDWR));
	rmdir(NOMOUNT_DIR);
	close(fd);
}

TEST_F(lib, other_msharefs_mount)
{
	struct mshare_sysinfo info;
	struct stat sb;
	int fd;

	ASSERT_EQ(0, mkdir(M2, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, mount("none", M2, "msharefs", 0, NULL)) TH_LOG("mount: %s", strerror(errno));
	self->m2_mounted = true;
	ASSERT_EQ(0, setenv("MSHARE_DIR", M2, 1));
	EXPECT_EQ(0, mshare_query(&info));
	EXPECT_EQ(1, info.mounted);
	EXPECT_STREQ(M2, info.dir);
	EXPECT_EQ((long long)MSHARE_ALIGN, mshare_alignment());
	fd = mshare_create_named(PFX "m2", RGN, 0600, O_EXCL);
	ASSERT_LE(0, fd) TH_LOG("create_named in the second mount: %s", strerror(-fd));
	/* the same name in the usual place */
	EXPECT_EQ(0, stat(MSHARE_FS_DIR "/" PFX "m2", &sb));
	EXPECT_EQ(0, mshare_unlink(PFX "m2"));
	EXPECT_EQ(-1, stat(MSHARE_FS_DIR "/" PFX "m2", &sb));
	unsetenv("MSHARE_DIR");
	close(fd);
	EXPECT_EQ(0, umount(M2));
	self->m2_mounted = false;
	rmdir(M2);
}

/* ------------------------------------------------------------------------ */
/* Page tables are paid once: 8 processes, 64 MiB each, through the library. */

#define PT_LEN		(64 * MiB)
#define PT_N		8
#define PT_TAG		0x3c

enum pt_mode { PT_IDLE, PT_MEMFD, PT_MSHARE };

static void pt_child(enum pt_mode mode, int fd, int memfd, struct barrier *b)
{
	int ret = 0;
	void *p = NULL;

	if (mode == PT_MSHARE) {
		if (mshare_attach(fd, NULL, PROT_READ, &p))
			ret = 3;
	} else if (mode == PT_MEMFD) {
		p = mmap(NULL, PT_LEN, PROT_READ, MAP_SHARED, memfd, 0);
		if (p == MAP_FAILED) {
			p = NULL;
			ret = 3;
		}
	}
	if (p && check_pat(p, PT_LEN, PG, PT_TAG, 0) != -1)
		ret = 4;
	barrier_child_wait(b);
	_exit(ret);
}

/* PageTables growth (kB) while PT_N children in @mode wait. */
static long pt_run(struct __test_metadata *_metadata, enum pt_mode mode,
		   int fd, int memfd, uint64_t *natt)
{
	struct barrier b;
	long before, during;

	ASSERT_EQ(0, barrier_init(&b));
	before = meminfo_kb("PageTables");
	for (int i = 0; i < PT_N; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			pt_child(mode, fd, memfd, &b);
	}
	ASSERT_EQ(0, barrier_parent_wait(&b, PT_N));
	during = meminfo_kb("PageTables");
	if (natt)
		*natt = attachments(fd);
	barrier_release(&b);
	EXPECT_EQ(0, reap_children()) TH_LOG("some children (mode %d) failed", mode);
	return during - before;
}

TEST_F_TIMEOUT(lib, pagetables_paid_once, 600)
{
	int fd = create(_metadata, RGN), memfd = memfd_sized("kst-lib-pt", PT_LEN);
	long idle, mf, ms, unshared = PT_N * (long)(PT_LEN / 512 / KiB);
	struct mshare_stats st;
	uint64_t natt = 0;
	char *p;

	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, mshare_map(fd, 0, PT_LEN, RW, MAP_SHARED | MAP_POPULATE, memfd, 0));
	p = attach(_metadata, fd, NULL, RW);
	fill_pat(p, PT_LEN, PG, PT_TAG, 0);
	ASSERT_EQ(0, mshare_detach(p, RGN));

	idle = pt_run(_metadata, PT_IDLE, fd, memfd, NULL);
	mf = pt_run(_metadata, PT_MEMFD, fd, memfd, NULL);
	ms = pt_run(_metadata, PT_MSHARE, fd, memfd, &natt);
	ASSERT_EQ(0, mshare_stat(fd, &st));
	TH_LOG("%d processes reading %lu MiB: PageTables %+ld kB with a memfd, %+ld kB attached through libmshare, %+ld kB idle (PTEs per memfd reader: %ld kB; region tables %lu kB)",
	       PT_N, PT_LEN / MiB, mf, ms, idle, unshared / PT_N,
	       (unsigned long)(st.pgtable / KiB));
	EXPECT_EQ(PT_N, natt);
	/* the control must show the cost the region avoids ... */
	EXPECT_LE(unshared * 3 / 4, mf - idle);
	/* ... and the attached processes must not pay it */
	EXPECT_LT(ms - idle, 128) TH_LOG("attached readers added %ld kB", ms - idle);
	EXPECT_LT(ms - idle, (mf - idle) / 8);
	EXPECT_EQ(0, attachments(fd));
	close(memfd);
	close(fd);
}

TEST_HARNESS_MAIN

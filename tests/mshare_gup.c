// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: GUP (pinning and remote access) through attachments.
 *
 *  - O_DIRECT write from region memory to an ext4 file and O_DIRECT reads
 *    back into populated and never-faulted anonymous and memfd memory of
 *    the region; the data checked by another sharer attached at another
 *    address, and the file by a buffered read
 *  - io_uring IORING_OP_READ/WRITE, buffered and O_DIRECT, inline and in
 *    io-wq (IOSQE_ASYNC), with region buffers
 *  - io_uring fixed buffers registered from region memory: READ_FIXED and
 *    WRITE_FIXED with O_DIRECT, seen by another sharer; register/unregister
 *    cycles leak no fds, page tables or shmem
 *  - process_vm_readv/writev and /proc/PID/mem on another process's
 *    attachment, including pages that process (or the region) never faulted
 *  - ptrace PEEKDATA/POKEDATA on a stopped child's attachment
 *  - write pins through a read-only attachment (read-only fd or PROT_READ
 *    attachment) fail cleanly: O_DIRECT and io_uring reads, buffer
 *    registration, process_vm_writev, /proc/PID/mem, POKEDATA; read pins work
 *  - a long-term pin of a MAP_SHARED ext4 mapping inside the region gets the
 *    same answer as outside a region
 *  - a pinned page outlives its unmapping from the region (munmap,
 *    MSHAREFS_UNMAP, MADV_DONTNEED of private anonymous memory)
 *  - pins (O_DIRECT, io_uring, fixed-buffer registration) racing another
 *    sharer's munmap/mmap/MADV_DONTNEED of the range: no crash, pinned data
 *    intact, the region works afterwards, memory back to its baseline
 *
 * The ext4 file system lives on a brd ram disk, made and mounted once per
 * program at EXT4_DIR and unmounted when the program ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/msharefs.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

/* <sys/mount.h> clashes with <linux/mount.h>, which liburing pulls in. */
extern int mount(const char *source, const char *target, const char *fstype,
		 unsigned long flags, const void *data);
extern int umount2(const char *target, int flags);

#define RW		(PROT_READ | PROT_WRITE)
#define RSIZE		(2 * RGN)	/* GiB 0: touched by the test; GiB 1: not */
#define ADDR_B		((char *)(128 * GiB))
#define ADDR_C		((char *)(256 * GiB))
#define IOLEN		(256 * KiB)

#define EXT4_DIR	"/tmp/mshare_gup.ext4"
#define EXT4_MAGIC	0xEF53

/* ------------------------------------------------------------------------ */
/* Data: every 64-bit word differs, so misplaced pages and offsets show. */

static inline uint64_t seqv(uint64_t seed, size_t i)
{
	return seed ? (seed << 40) ^ i : 0;
}

static void fill_seq(void *p, size_t len, uint64_t seed)
{
	volatile uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = seqv(seed, i);
}

/* Byte offset of the first word that differs, or -1. */
static long check_seq(const void *p, size_t len, uint64_t seed)
{
	const volatile uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != seqv(seed, i))
			return (long)(i * 8);
	return -1;
}

/* check_seq() of words @first.. of the sequence. */
static long check_seq_from(const void *p, size_t len, uint64_t seed, size_t first)
{
	const volatile uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != seqv(seed, first + i))
			return (long)(i * 8);
	return -1;
}

/* A private buffer outside any region (munmapped, so AnonPages returns). */
static void *bounce(size_t len)
{
	void *p = mmap(NULL, len, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ------------------------------------------------------------------------ */
/* ext4 on a ram disk, once per program. */

static pid_t main_pid;

static bool is_ext4(const char *dir)
{
	struct statfs s;

	return !statfs(dir, &s) && s.f_type == EXT4_MAGIC;
}

__attribute__((constructor)) static void gup_init(void)
{
	main_pid = getpid();
}

__attribute__((destructor)) static void gup_fini(void)
{
	if (getpid() == main_pid && is_ext4(EXT4_DIR))
		umount2(EXT4_DIR, 0);
}

/* Sectors of /dev/ram@n, or -1. */
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
	struct statfs s;
	struct stat st;
	long sectors = -1;
	int n;

	if (is_ext4(EXT4_DIR))
		return;
	ASSERT_TRUE(mkdir(EXT4_DIR, 0755) == 0 || errno == EEXIST);
	/* A ram disk nobody has mounted; the high numbers first. */
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
	TH_LOG("ext4 on %s, %ld KiB", dev, sectors / 2);
	ASSERT_LE(2048L * 2, sectors) TH_LOG("%s is too small", dev);
	snprintf(cmd, sizeof(cmd), "mke2fs -F -b 4096 %s >/dev/null 2>&1", dev);
	ASSERT_EQ(0, system(cmd)) TH_LOG("%s failed", cmd);
	ASSERT_EQ(0, mount(dev, EXT4_DIR, "ext4", 0, NULL))
		TH_LOG("mount %s on %s as ext4: %s", dev, EXT4_DIR, strerror(errno));
	ASSERT_TRUE(is_ext4(EXT4_DIR));
	ASSERT_EQ(0, statfs(EXT4_DIR, &s));
	ASSERT_LE(2 * MiB, (size_t)s.f_bavail * s.f_bsize);
}

/* An ext4 file, written buffered and synced (so its blocks exist). */
struct tfile {
	char path[128];
	int dfd;	/* O_DIRECT */
	int bfd;	/* buffered */
};

static void tfile_make(struct __test_metadata *_metadata, struct tfile *f,
		       const char *name, size_t size, uint64_t seed)
{
	char *buf = bounce(size);

	ASSERT_NE(NULL, buf);
	snprintf(f->path, sizeof(f->path), EXT4_DIR "/%s.%d", name, getpid());
	f->bfd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, f->bfd) TH_LOG("open %s: %s", f->path, strerror(errno));
	fill_seq(buf, size, seed);
	ASSERT_EQ((ssize_t)size, pwrite(f->bfd, buf, size, 0));
	ASSERT_EQ(0, fsync(f->bfd));
	munmap(buf, size);
	f->dfd = open(f->path, O_RDWR | O_DIRECT);
	ASSERT_LE(0, f->dfd) TH_LOG("open %s O_DIRECT: %s", f->path, strerror(errno));
}

static void tfile_done(struct tfile *f)
{
	close(f->dfd);
	close(f->bfd);
	unlink(f->path);
}

/*
 * check_seq() of [off, off + len) of the file, read buffered, against the
 * sequence from word @first; -2 on error.
 */
static long tfile_check_from(struct tfile *f, off_t off, size_t len,
			     uint64_t seed, size_t first)
{
	char *buf = bounce(len);
	long r = -2;

	if (!buf)
		return -2;
	if (pread(f->bfd, buf, len, off) == (ssize_t)len)
		r = check_seq_from(buf, len, seed, first);
	munmap(buf, len);
	return r;
}

/* The same, for data that starts the sequence at @off. */
static long tfile_check(struct tfile *f, off_t off, size_t len, uint64_t seed)
{
	return tfile_check_from(f, off, len, seed, 0);
}

/* ------------------------------------------------------------------------ */
/* Regions. */

static int region(struct __test_metadata *_metadata, size_t size)
{
	int fd = sys_mshare_create(size, 0);

	ASSERT_LE(0, fd) TH_LOG("mshare_create: %s", strerror(errno));
	return fd;
}

/* A named region: a read-write and a read-only fd of it; the name is gone. */
static void named_region(struct __test_metadata *_metadata, size_t size,
			 int *rw, int *ro)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/fs/mshare/gup-test-%d", getpid());
	*rw = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, *rw) TH_LOG("open %s: %s", path, strerror(errno));
	ASSERT_EQ(0, ftruncate(*rw, size));
	*ro = open(path, O_RDONLY);
	ASSERT_LE(0, *ro) TH_LOG("open %s O_RDONLY: %s", path, strerror(errno));
	ASSERT_EQ(0, unlink(path));
}

static char *attach(struct __test_metadata *_metadata, int fd, size_t size,
		    char *addr, int prot)
{
	char *p = ms_attach(fd, size, addr, prot, addr ? MAP_FIXED_NOREPLACE : 0);

	ASSERT_NE(NULL, p) TH_LOG("attach at %p: %s", addr, strerror(errno));
	ASSERT_EQ(0, (uintptr_t)p % RGN);
	return p;
}

/* Anonymous memory (MAP_SHARED or MAP_PRIVATE) inside an attachment. */
static void map_anon_in(struct __test_metadata *_metadata, char *at, size_t len,
			int type)
{
	void *p = ms_map_anon(at, len, RW, type);

	ASSERT_EQ((void *)at, p) TH_LOG("anon mmap inside at %p: %s", at,
					p == MAP_FAILED ? strerror(errno) : "moved");
}

/* A new memfd of @len bytes mapped MAP_SHARED inside an attachment. */
static int map_memfd_in(struct __test_metadata *_metadata, char *at, size_t len)
{
	int memfd = memfd_sized("gup", len);
	void *p;

	ASSERT_LE(0, memfd);
	p = ms_map_fd(at, len, RW, memfd);
	ASSERT_EQ((void *)at, p) TH_LOG("memfd mmap inside at %p: %s", at,
					p == MAP_FAILED ? strerror(errno) : "moved");
	return memfd;
}

/* check_seq() of a memfd's [off, off + len), by pread(); -2 on error. */
static long memfd_check(int memfd, off_t off, size_t len, uint64_t seed)
{
	char *buf = bounce(len);
	long r = -2;

	if (!buf)
		return -2;
	if (pread(memfd, buf, len, off) == (ssize_t)len)
		r = check_seq(buf, len, seed);
	munmap(buf, len);
	return r;
}

/* ------------------------------------------------------------------------ */
/*
 * A peer: another sharer, a forked process with its own attachment at
 * another address, driven over a SOCK_SEQPACKET socket.  Offsets are
 * region offsets.  It is forked before the test process attaches, so the
 * only attachment it has is its own.
 */
enum {
	P_CHECK = 1,	/* check_seq_from(att + off, len, seed, arg) */
	P_FILL,		/* fill_seq(att + off, len, seed) */
	P_MUNMAP,	/* munmap(att + off, len) */
	P_MAP_ANON,	/* mmap shared (arg 0) or private (arg 1) anon at att + off */
	P_DONTNEED,	/* madvise(att + off, len, MADV_DONTNEED) */
	P_IOCTL_UNMAP,	/* MSHAREFS_UNMAP of [off, off + len) */
	P_CHURN,	/* the race loop for arg ms; returns iterations */
	P_EXIT,
};

struct preq {
	uint32_t op, arg;
	uint64_t off, len, seed;
};

struct prep {
	int64_t ret;
	int32_t err, pad;
};

struct peer {
	pid_t pid;
	int sock;
	char *att;
};

/*
 * Unmap [p, p + len) and map fresh anonymous memory there (shared and
 * private in turn), fault some of it in by reading (which gives the range
 * a PTE table), zap it with MADV_DONTNEED, fault it again and zap half: for
 * @ms milliseconds.  Never writes, so
 * pages pinned from the range keep what the pinner put there.
 */
static int64_t churn(char *p, size_t len, uint32_t ms)
{
	double end = now_sec() + ms / 1000.0;
	int64_t n = 0;

	while (now_sec() < end) {
		int type = (n & 1) ? MAP_PRIVATE : MAP_SHARED;

		if (munmap(p, len))
			return -errno;
		if (ms_map_anon(p, len, RW, type) != p)
			return -errno;
		/* A few pages only: page allocation is slow under TCG + KASAN. */
		for (size_t o = 0; o < len; o += 32 * PG)
			(void)*(volatile char *)(p + o);
		if (madvise(p, len, MADV_DONTNEED))
			return -errno;
		for (size_t o = 0; o < len; o += 64 * PG)
			(void)*(volatile char *)(p + o);
		if (madvise(p + len / 2, len / 2, MADV_DONTNEED))
			return -errno;
		n++;
	}
	return n;
}

static void peer_main(int sock, int rfd, size_t size, char *addr, int prot)
{
	struct preq q;
	struct prep r;
	char *att;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != sock && fd != rfd)
			close(fd);
	att = ms_attach(rfd, size, addr, prot, MAP_FIXED_NOREPLACE);
	CHILD_CHECK(att == addr);
	r.ret = (intptr_t)att;
	r.err = 0;
	CHILD_CHECK(send(sock, &r, sizeof(r), 0) == sizeof(r));

	while (recv(sock, &q, sizeof(q), 0) == sizeof(q)) {
		char *p = att + q.off;
		int64_t ret = 0;

		errno = 0;
		switch (q.op) {
		case P_CHECK:
			ret = check_seq_from(p, q.len, q.seed, q.arg);
			break;
		case P_FILL:
			fill_seq(p, q.len, q.seed);
			break;
		case P_MUNMAP:
			ret = munmap(p, q.len);
			break;
		case P_MAP_ANON:
			ret = ms_map_anon(p, q.len, RW, q.arg ? MAP_PRIVATE : MAP_SHARED)
				== p ? 0 : -1;
			break;
		case P_DONTNEED:
			ret = madvise(p, q.len, MADV_DONTNEED);
			break;
		case P_IOCTL_UNMAP: {
			struct mshare_unmap u = { .region_offset = q.off, .size = q.len };

			ret = ioctl(rfd, MSHAREFS_UNMAP, &u);
			break;
		}
		case P_CHURN:
			ret = churn(p, q.len, q.arg);
			break;
		case P_EXIT:
			_exit(0);
		default:
			_exit(3);
		}
		r.ret = ret;
		r.err = errno;
		CHILD_CHECK(send(sock, &r, sizeof(r), 0) == sizeof(r));
	}
	_exit(0);
}

static void peer_start(struct __test_metadata *_metadata, struct peer *pe,
		       int rfd, size_t size, char *addr, int prot)
{
	struct prep r;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	fflush(stdout);
	fflush(stderr);
	pe->pid = fork();
	ASSERT_LE(0, pe->pid);
	if (pe->pid == 0) {
		close(sv[0]);
		peer_main(sv[1], rfd, size, addr, prot);
	}
	close(sv[1]);
	pe->sock = sv[0];
	ASSERT_EQ((ssize_t)sizeof(r), recv(pe->sock, &r, sizeof(r), 0))
		TH_LOG("the peer did not attach at %p", addr);
	pe->att = (char *)(intptr_t)r.ret;
}

static int peer_send(struct peer *pe, uint32_t op, uint64_t off, uint64_t len,
		     uint64_t seed, uint32_t arg)
{
	struct preq q = { .op = op, .arg = arg, .off = off, .len = len, .seed = seed };

	return send(pe->sock, &q, sizeof(q), 0) == sizeof(q) ? 0 : -1;
}

/* The peer's answer; INT64_MIN if it is gone.  errno is the peer's. */
static int64_t peer_recv(struct peer *pe)
{
	struct prep r;

	if (recv(pe->sock, &r, sizeof(r), 0) != sizeof(r)) {
		errno = EPIPE;
		return INT64_MIN;
	}
	errno = r.err;
	return r.ret;
}

static int64_t peer_call(struct peer *pe, uint32_t op, uint64_t off,
			 uint64_t len, uint64_t seed, uint32_t arg)
{
	if (peer_send(pe, op, off, len, seed, arg)) {
		errno = EPIPE;
		return INT64_MIN;
	}
	return peer_recv(pe);
}

#define peer_check(pe, off, len, seed)	peer_call(pe, P_CHECK, off, len, seed, 0)
#define peer_check_from(pe, off, len, seed, first) \
	peer_call(pe, P_CHECK, off, len, seed, first)
#define peer_fill(pe, off, len, seed)	peer_call(pe, P_FILL, off, len, seed, 0)

static bool peer_stop(struct peer *pe)
{
	peer_send(pe, P_EXIT, 0, 0, 0, 0);
	close(pe->sock);
	return child_ok(pe->pid, "peer");
}

/* ------------------------------------------------------------------------ */
/* io_uring: one request, waited for; the cqe's res. */

static int uring_rw(struct io_uring *ring, int op, int fd, void *buf,
		    unsigned int len, off_t off, int idx, bool async)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	if (!sqe)
		return -EBUSY;
	switch (op) {
	case IORING_OP_READ:
		io_uring_prep_read(sqe, fd, buf, len, off);
		break;
	case IORING_OP_WRITE:
		io_uring_prep_write(sqe, fd, buf, len, off);
		break;
	case IORING_OP_READ_FIXED:
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, idx);
		break;
	case IORING_OP_WRITE_FIXED:
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, idx);
		break;
	default:
		return -EINVAL;
	}
	if (async)
		sqe->flags |= IOSQE_ASYNC;
	res = io_uring_submit(ring);
	if (res != 1)
		return res < 0 ? res : -EIO;
	res = io_uring_wait_cqe(ring, &cqe);
	if (res)
		return res;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/* ------------------------------------------------------------------------ */

FIXTURE(gup) {};
FIXTURE_SETUP(gup)
{
	ext4_setup(_metadata);
}
FIXTURE_TEARDOWN(gup) {}

/*
 * O_DIRECT to and from ext4.  GiB 0 holds the sources and a populated
 * destination, GiB 1 destinations that nothing has faulted (not even this
 * process's PUD entry is linked there): GUP must fault the region first.
 */
#define RT_SRC		0UL
#define RT_DST_POP	(4 * MiB)
#define RT_MSRC		(16 * MiB)
#define RT_DST_NEW	(RGN)
#define RT_MDST_NEW	(RGN + 16 * MiB)
#define RT_ZERO_NEW	(RGN + 32 * MiB)

TEST_F_TIMEOUT(gup, odirect_ext4_roundtrip, 120)
{
	int rfd = region(_metadata, RSIZE), msrc, mdst;
	struct peer b;
	struct tfile f;
	char *att;

	peer_start(_metadata, &b, rfd, RSIZE, ADDR_B, RW);
	att = attach(_metadata, rfd, RSIZE, NULL, RW);
	ASSERT_NE(ADDR_B, att);
	map_anon_in(_metadata, att + RT_SRC, IOLEN, MAP_SHARED);
	map_anon_in(_metadata, att + RT_DST_POP, IOLEN, MAP_SHARED);
	msrc = map_memfd_in(_metadata, att + RT_MSRC, IOLEN);
	map_anon_in(_metadata, att + RT_DST_NEW, IOLEN, MAP_SHARED);
	mdst = map_memfd_in(_metadata, att + RT_MDST_NEW, IOLEN);
	map_anon_in(_metadata, att + RT_ZERO_NEW, IOLEN, MAP_SHARED);
	tfile_make(_metadata, &f, "rt", 3 * IOLEN, 0x77);

	/* The peer writes the source; this process has never touched it. */
	ASSERT_EQ(0, peer_fill(&b, RT_SRC, IOLEN, 0x11));
	ASSERT_EQ((ssize_t)IOLEN, pwrite(f.dfd, att + RT_SRC, IOLEN, 0))
		TH_LOG("O_DIRECT write from the attachment: %s", strerror(errno));
	EXPECT_EQ(-1, tfile_check(&f, 0, IOLEN, 0x11)) TH_LOG("the file after the O_DIRECT write");

	/* Into never-faulted region memory (GiB 1). */
	ASSERT_EQ((ssize_t)IOLEN, pread(f.dfd, att + RT_DST_NEW, IOLEN, 0))
		TH_LOG("O_DIRECT read into never-faulted memory: %s", strerror(errno));
	EXPECT_EQ(-1, peer_check(&b, RT_DST_NEW, IOLEN, 0x11)) TH_LOG("peer's view");
	EXPECT_EQ(-1, check_seq(att + RT_DST_NEW, IOLEN, 0x11));

	/* Into populated memory (the peer wrote other data there). */
	ASSERT_EQ(0, peer_fill(&b, RT_DST_POP, IOLEN, 0x12));
	EXPECT_EQ(-1, check_seq(att + RT_DST_POP, IOLEN, 0x12));
	ASSERT_EQ((ssize_t)IOLEN, pread(f.dfd, att + RT_DST_POP, IOLEN, 0));
	EXPECT_EQ(-1, peer_check(&b, RT_DST_POP, IOLEN, 0x11)) TH_LOG("peer's view");
	EXPECT_EQ(-1, check_seq(att + RT_DST_POP, IOLEN, 0x11));

	/* memfd memory in the region, both ways. */
	ASSERT_EQ(0, peer_fill(&b, RT_MSRC, IOLEN, 0x13));
	ASSERT_EQ((ssize_t)IOLEN, pwrite(f.dfd, att + RT_MSRC, IOLEN, IOLEN))
		TH_LOG("O_DIRECT write from memfd memory: %s", strerror(errno));
	EXPECT_EQ(-1, tfile_check(&f, IOLEN, IOLEN, 0x13));
	ASSERT_EQ((ssize_t)IOLEN, pread(f.dfd, att + RT_MDST_NEW, IOLEN, IOLEN))
		TH_LOG("O_DIRECT read into never-faulted memfd memory: %s", strerror(errno));
	EXPECT_EQ(-1, peer_check(&b, RT_MDST_NEW, IOLEN, 0x13)) TH_LOG("peer's view");
	EXPECT_EQ(-1, memfd_check(mdst, 0, IOLEN, 0x13)) TH_LOG("the memfd itself");

	/* A write from never-faulted memory writes zeros. */
	EXPECT_EQ(-1, tfile_check_from(&f, 2 * IOLEN, IOLEN, 0x77, 2 * IOLEN / 8));
	ASSERT_EQ((ssize_t)IOLEN, pwrite(f.dfd, att + RT_ZERO_NEW, IOLEN, 2 * IOLEN));
	EXPECT_EQ(-1, tfile_check(&f, 2 * IOLEN, IOLEN, 0));
	EXPECT_EQ(-1, peer_check(&b, RT_ZERO_NEW, IOLEN, 0));

	/* A sector-aligned buffer that is not page-aligned: partial pages pinned. */
	ASSERT_EQ((ssize_t)(64 * KiB), pread(f.dfd, att + RT_DST_NEW + 512, 64 * KiB, IOLEN));
	EXPECT_EQ(-1, peer_check(&b, RT_DST_NEW + 512, 64 * KiB, 0x13));

	EXPECT_TRUE(peer_stop(&b));
	tfile_done(&f);
	close(msrc);
	close(mdst);
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rfd);
}

/* io_uring READ/WRITE, buffered and O_DIRECT, inline and from io-wq. */
TEST_F_TIMEOUT(gup, uring_read_write, 120)
{
	int rfd = region(_metadata, RSIZE), memfd, ret;
	struct io_uring ring;
	struct peer b;
	struct tfile f;
	char *att;

	peer_start(_metadata, &b, rfd, RSIZE, ADDR_B, RW);
	att = attach(_metadata, rfd, RSIZE, NULL, RW);
	map_anon_in(_metadata, att, IOLEN, MAP_SHARED);
	memfd = map_memfd_in(_metadata, att + 4 * MiB, IOLEN);
	tfile_make(_metadata, &f, "uring", IOLEN, 0x77);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));

	for (int i = 0; i < 4; i++) {
		bool direct = i & 1, async = i & 2;
		int fd = direct ? f.dfd : f.bfd;
		uint64_t seed = 0x20 + i;
		size_t src = (i & 1) ? 4 * MiB : 0;	/* memfd or anon */
		size_t dst = RGN + i * 4 * MiB;		/* never faulted */

		if (i == 2) {
			int m = map_memfd_in(_metadata, att + dst, IOLEN);

			close(m);
		} else {
			map_anon_in(_metadata, att + dst, IOLEN, MAP_SHARED);
		}
		ASSERT_EQ(0, peer_fill(&b, src, IOLEN, seed));
		ret = uring_rw(&ring, IORING_OP_WRITE, fd, att + src, IOLEN, 0, 0, async);
		ASSERT_EQ((int)IOLEN, ret) TH_LOG("WRITE %s%s: %s", direct ? "O_DIRECT" : "buffered",
						  async ? " async" : "", strerror(-ret));
		EXPECT_EQ(-1, tfile_check(&f, 0, IOLEN, seed));
		ret = uring_rw(&ring, IORING_OP_READ, fd, att + dst, IOLEN, 0, 0, async);
		ASSERT_EQ((int)IOLEN, ret) TH_LOG("READ %s%s: %s", direct ? "O_DIRECT" : "buffered",
						  async ? " async" : "", strerror(-ret));
		EXPECT_EQ(-1, peer_check(&b, dst, IOLEN, seed))
			TH_LOG("peer's view after READ %s%s", direct ? "O_DIRECT" : "buffered",
			       async ? " async" : "");
		EXPECT_EQ(-1, check_seq(att + dst, IOLEN, seed));
	}
	EXPECT_EQ(-1, memfd_check(memfd, 0, IOLEN, 0x23));

	io_uring_queue_exit(&ring);
	EXPECT_TRUE(peer_stop(&b));
	tfile_done(&f);
	close(memfd);
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rfd);
}

/* Fixed buffers registered from region memory. */
#define FX_ANON		(RGN)		/* never faulted before registration */
#define FX_MEMFD	(8 * MiB)	/* populated by the peer */

TEST_F_TIMEOUT(gup, uring_fixed_buffers, 180)
{
	int rfd = region(_metadata, RSIZE), memfd, ret, fds;
	struct memsnap before, after;
	struct io_uring ring;
	struct iovec iov[2];
	struct peer b;
	struct tfile f;
	char *att;

	peer_start(_metadata, &b, rfd, RSIZE, ADDR_B, RW);
	att = attach(_metadata, rfd, RSIZE, NULL, RW);
	map_anon_in(_metadata, att + FX_ANON, IOLEN, MAP_SHARED);
	memfd = map_memfd_in(_metadata, att + FX_MEMFD, IOLEN);
	ASSERT_EQ(0, peer_fill(&b, FX_MEMFD, IOLEN, 0x31));
	tfile_make(_metadata, &f, "fixed", 2 * IOLEN, 0x30);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));

	iov[0] = (struct iovec){ att + FX_ANON, IOLEN };
	iov[1] = (struct iovec){ att + FX_MEMFD, IOLEN };
	ret = io_uring_register_buffers(&ring, iov, 2);
	ASSERT_EQ(0, ret) TH_LOG("register region buffers: %s", strerror(-ret));

	/* READ_FIXED O_DIRECT into the never-faulted buffer. */
	ret = uring_rw(&ring, IORING_OP_READ_FIXED, f.dfd, att + FX_ANON, IOLEN, 0, 0, false);
	ASSERT_EQ((int)IOLEN, ret) TH_LOG("READ_FIXED: %s", strerror(-ret));
	EXPECT_EQ(-1, peer_check(&b, FX_ANON, IOLEN, 0x30)) TH_LOG("peer's view");
	EXPECT_EQ(-1, check_seq(att + FX_ANON, IOLEN, 0x30));

	/* Part of a buffer, from io-wq. */
	ret = uring_rw(&ring, IORING_OP_READ_FIXED, f.dfd, att + FX_ANON + 64 * KiB,
		       64 * KiB, IOLEN, 0, true);
	ASSERT_EQ((int)(64 * KiB), ret) TH_LOG("READ_FIXED async: %s", strerror(-ret));
	EXPECT_EQ(-1, peer_check_from(&b, FX_ANON + 64 * KiB, 64 * KiB, 0x30, IOLEN / 8))
		TH_LOG("peer's view");

	/* The peer writes the registered memfd buffer after registration. */
	ASSERT_EQ(0, peer_fill(&b, FX_MEMFD, IOLEN, 0x32));
	ret = uring_rw(&ring, IORING_OP_WRITE_FIXED, f.dfd, att + FX_MEMFD, IOLEN, IOLEN, 1, false);
	ASSERT_EQ((int)IOLEN, ret) TH_LOG("WRITE_FIXED: %s", strerror(-ret));
	EXPECT_EQ(-1, tfile_check(&f, IOLEN, IOLEN, 0x32));
	/* And READ_FIXED into it lands in the memfd. */
	ret = uring_rw(&ring, IORING_OP_READ_FIXED, f.dfd, att + FX_MEMFD, IOLEN, 0, 1, false);
	ASSERT_EQ((int)IOLEN, ret) TH_LOG("READ_FIXED memfd: %s", strerror(-ret));
	EXPECT_EQ(-1, memfd_check(memfd, 0, IOLEN, 0x30));
	EXPECT_EQ(-1, peer_check(&b, FX_MEMFD, IOLEN, 0x30));

	ASSERT_EQ(0, io_uring_unregister_buffers(&ring));

	/* Register/unregister cycles leak nothing. */
	memsnap_take(&before);
	fds = count_fds();
	for (int i = 0; i < 40; i++) {
		ret = io_uring_register_buffers(&ring, iov, 2);
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: register: %s", i, strerror(-ret));
		if (i % 8 == 0) {
			ret = uring_rw(&ring, IORING_OP_READ_FIXED, f.dfd,
				       att + FX_ANON, IOLEN, IOLEN, 0, false);
			ASSERT_EQ((int)IOLEN, ret);
		}
		ASSERT_EQ(0, io_uring_unregister_buffers(&ring));
	}
	EXPECT_EQ(fds, count_fds());
	bool back = mem_back_to(&before, &after, 256, 20, 100);

	TH_LOG("40 register/unregister cycles: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       after.pagetables - before.pagetables, after.shmem - before.shmem,
	       after.anon - before.anon);
	EXPECT_TRUE(back);
	EXPECT_EQ(-1, peer_check(&b, FX_ANON, IOLEN, 0x32)) TH_LOG("the last READ_FIXED");

	io_uring_queue_exit(&ring);
	EXPECT_TRUE(peer_stop(&b));
	tfile_done(&f);
	close(memfd);
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rfd);
}

/*
 * Remote access to the peer's attachment.  RA_POP is populated by this
 * process (the peer never touched its attachment), RA_NEW is faulted by
 * nobody, RA_MEMFD is memfd memory.
 */
#define RA_POP		0UL
#define RA_MEMFD	(4 * MiB)
#define RA_NEW		(RGN)
#define RA_NEW2		(RGN + 4 * MiB)

static void ra_setup(struct __test_metadata *_metadata, char *att, int *memfd)
{
	map_anon_in(_metadata, att + RA_POP, IOLEN, MAP_SHARED);
	fill_seq(att + RA_POP, IOLEN, 0x41);
	*memfd = map_memfd_in(_metadata, att + RA_MEMFD, IOLEN);
	fill_seq(att + RA_MEMFD, IOLEN, 0x42);
	map_anon_in(_metadata, att + RA_NEW, IOLEN, MAP_SHARED);
	map_anon_in(_metadata, att + RA_NEW2, IOLEN, MAP_PRIVATE);
}

TEST_F_TIMEOUT(gup, process_vm_rw, 120)
{
	int rfd = region(_metadata, RSIZE), memfd, m2;
	struct iovec liov[2], riov[2];
	struct peer b;
	char *att, *buf = bounce(IOLEN);
	ssize_t r;

	ASSERT_NE(NULL, buf);
	peer_start(_metadata, &b, rfd, RSIZE, ADDR_B, RW);
	att = attach(_metadata, rfd, RSIZE, NULL, RW);
	ra_setup(_metadata, att, &memfd);

	/* Read what the peer has never faulted in its attachment. */
	liov[0] = (struct iovec){ buf, IOLEN };
	riov[0] = (struct iovec){ b.att + RA_POP, IOLEN };
	r = process_vm_readv(b.pid, liov, 1, riov, 1, 0);
	ASSERT_EQ((ssize_t)IOLEN, r) TH_LOG("process_vm_readv: %s", strerror(errno));
	EXPECT_EQ(-1, check_seq(buf, IOLEN, 0x41));

	/* Two remote pieces in two region mappings (anon and memfd). */
	memset(buf, 0, IOLEN);
	riov[0] = (struct iovec){ b.att + RA_POP + IOLEN / 2, IOLEN / 2 };
	riov[1] = (struct iovec){ b.att + RA_MEMFD, IOLEN / 2 };
	r = process_vm_readv(b.pid, liov, 1, riov, 2, 0);
	ASSERT_EQ((ssize_t)IOLEN, r) TH_LOG("process_vm_readv, 2 pieces: %s", strerror(errno));
	EXPECT_EQ(-1, check_seq(buf + IOLEN / 2, IOLEN / 2, 0x42));
	EXPECT_EQ(seqv(0x41, IOLEN / 16), *(uint64_t *)buf);

	/* Write into memory nobody has faulted, shared and private anon. */
	for (int k = 0; k < 2; k++) {
		size_t off = k ? RA_NEW2 : RA_NEW;

		fill_seq(buf, IOLEN, 0x43 + k);
		riov[0] = (struct iovec){ b.att + off, IOLEN };
		r = process_vm_writev(b.pid, liov, 1, riov, 1, 0);
		ASSERT_EQ((ssize_t)IOLEN, r) TH_LOG("process_vm_writev: %s", strerror(errno));
		EXPECT_EQ(-1, check_seq(att + off, IOLEN, 0x43 + k));
		EXPECT_EQ(-1, peer_check(&b, off, IOLEN, 0x43 + k));
	}

	/* Write into populated memfd memory. */
	fill_seq(buf, IOLEN, 0x45);
	riov[0] = (struct iovec){ b.att + RA_MEMFD, IOLEN };
	r = process_vm_writev(b.pid, liov, 1, riov, 1, 0);
	ASSERT_EQ((ssize_t)IOLEN, r) TH_LOG("process_vm_writev memfd: %s", strerror(errno));
	EXPECT_EQ(-1, memfd_check(memfd, 0, IOLEN, 0x45));
	EXPECT_EQ(-1, check_seq(att + RA_MEMFD, IOLEN, 0x45));

	/* The local side in the region too (a never-faulted memfd mapping). */
	m2 = map_memfd_in(_metadata, att + RGN + 8 * MiB, IOLEN);
	liov[0] = (struct iovec){ att + RGN + 8 * MiB, IOLEN };
	riov[0] = (struct iovec){ b.att + RA_POP, IOLEN };
	r = process_vm_readv(b.pid, liov, 1, riov, 1, 0);
	ASSERT_EQ((ssize_t)IOLEN, r) TH_LOG("process_vm_readv into the region: %s", strerror(errno));
	EXPECT_EQ(-1, peer_check(&b, RGN + 8 * MiB, IOLEN, 0x41));
	EXPECT_EQ(-1, memfd_check(m2, 0, IOLEN, 0x41));

	/* A hole in the peer's attachment: EFAULT, nothing else. */
	liov[0] = (struct iovec){ buf, PG };
	riov[0] = (struct iovec){ b.att + 512 * MiB, PG };
	EXPECT_EQ(-1, process_vm_readv(b.pid, liov, 1, riov, 1, 0));
	EXPECT_EQ(EFAULT, errno);

	EXPECT_TRUE(peer_stop(&b));
	close(memfd);
	close(m2);
	munmap(buf, IOLEN);
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rfd);
}

TEST_F_TIMEOUT(gup, proc_pid_mem, 120)
{
	int rfd = region(_metadata, RSIZE), memfd, mfd;
	struct peer b;
	char *att, *buf = bounce(IOLEN), path[64];

	ASSERT_NE(NULL, buf);
	peer_start(_metadata, &b, rfd, RSIZE, ADDR_B, RW);
	att = attach(_metadata, rfd, RSIZE, NULL, RW);
	ra_setup(_metadata, att, &memfd);
	snprintf(path, sizeof(path), "/proc/%d/mem", b.pid);
	mfd = open(path, O_RDWR);
	ASSERT_LE(0, mfd) TH_LOG("open %s: %s", path, strerror(errno));

	ASSERT_EQ((ssize_t)IOLEN, pread(mfd, buf, IOLEN, (off_t)(uintptr_t)(b.att + RA_POP)))
		TH_LOG("read of the peer's attachment: %s", strerror(errno));
	EXPECT_EQ(-1, check_seq(buf, IOLEN, 0x41));
	ASSERT_EQ((ssize_t)IOLEN, pread(mfd, buf, IOLEN, (off_t)(uintptr_t)(b.att + RA_MEMFD)));
	EXPECT_EQ(-1, check_seq(buf, IOLEN, 0x42));

	for (int k = 0; k < 2; k++) {
		size_t off = k ? RA_NEW2 : RA_NEW;

		fill_seq(buf, IOLEN, 0x51 + k);
		ASSERT_EQ((ssize_t)IOLEN, pwrite(mfd, buf, IOLEN, (off_t)(uintptr_t)(b.att + off)))
			TH_LOG("write into never-faulted memory: %s", strerror(errno));
		EXPECT_EQ(-1, peer_check(&b, off, IOLEN, 0x51 + k));
		EXPECT_EQ(-1, check_seq(att + off, IOLEN, 0x51 + k));
	}
	fill_seq(buf, IOLEN, 0x53);
	ASSERT_EQ((ssize_t)IOLEN, pwrite(mfd, buf, IOLEN, (off_t)(uintptr_t)(b.att + RA_MEMFD)));
	EXPECT_EQ(-1, memfd_check(memfd, 0, IOLEN, 0x53));
	/* A hole: EIO, as anywhere. */
	EXPECT_EQ(-1, pread(mfd, buf, PG, (off_t)(uintptr_t)(b.att + 512 * MiB)));

	close(mfd);
	EXPECT_TRUE(peer_stop(&b));
	close(memfd);
	munmap(buf, IOLEN);
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rfd);
}

/* ptrace: a child with a read-write attachment at ADDR_B and a read-only one at ADDR_C. */
#define PK_WORDS	64
#define PK_STEP		97	/* words apart: spread over pages */
#define PK_POKE(i)	(0xfeed000000000000ULL | (i))

static void ptrace_child(int rfd)
{
	char *b = ms_attach(rfd, RSIZE, ADDR_B, RW, MAP_FIXED_NOREPLACE);
	char *c = ms_attach(rfd, RSIZE, ADDR_C, PROT_READ, MAP_FIXED_NOREPLACE);

	CHILD_CHECK(b == ADDR_B);
	CHILD_CHECK(c == ADDR_C);
	CHILD_CHECK(ptrace(PTRACE_TRACEME, 0, 0, 0) == 0);
	raise(SIGSTOP);
	/* Resumed: the pokes are in its memory; it never faulted before. */
	for (int i = 0; i < PK_WORDS; i++) {
		CHILD_CHECK(*wordp(b + RA_NEW, 0, i * PK_STEP) == PK_POKE(i));
		CHILD_CHECK(*wordp(b + RA_POP, 0, i * PK_STEP) == PK_POKE(i + 1000));
		CHILD_CHECK(*wordp(c + RA_POP, 0, i * PK_STEP) == PK_POKE(i + 1000));
	}
	CHILD_CHECK(*wordp(c + RA_MEMFD, 0, 0) == seqv(0x42, 0));
	_exit(0);
}

TEST_F_TIMEOUT(gup, ptrace_peek_poke, 120)
{
	int rfd = region(_metadata, RSIZE), memfd, st;
	char *att;
	pid_t pid;
	long v;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		ptrace_child(rfd);
	ASSERT_EQ(pid, waitpid(pid, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st)) TH_LOG("child status %#x", st);
	ASSERT_EQ(SIGSTOP, WSTOPSIG(st));

	att = attach(_metadata, rfd, RSIZE, NULL, RW);
	ra_setup(_metadata, att, &memfd);

	for (int i = 0; i < PK_WORDS; i++) {
		size_t w = i * PK_STEP;

		errno = 0;
		v = ptrace(PTRACE_PEEKDATA, pid, ADDR_B + RA_POP + 8 * w, 0);
		ASSERT_EQ(0, errno) TH_LOG("PEEKDATA word %zu: %s", w, strerror(errno));
		EXPECT_EQ(seqv(0x41, w), (uint64_t)v);
		errno = 0;
		v = ptrace(PTRACE_PEEKDATA, pid, ADDR_C + RA_MEMFD + 8 * w, 0);
		ASSERT_EQ(0, errno) TH_LOG("PEEKDATA read-only word %zu: %s", w, strerror(errno));
		EXPECT_EQ(seqv(0x42, w), (uint64_t)v);
		/* Never-faulted memory reads as zeros. */
		errno = 0;
		v = ptrace(PTRACE_PEEKDATA, pid, ADDR_B + RA_NEW2 + 8 * w, 0);
		ASSERT_EQ(0, errno);
		EXPECT_EQ(0, v);
	}
	for (int i = 0; i < PK_WORDS; i++) {
		size_t w = i * PK_STEP;

		ASSERT_EQ(0, ptrace(PTRACE_POKEDATA, pid, ADDR_B + RA_NEW + 8 * w,
				    (void *)PK_POKE(i)))
			TH_LOG("POKEDATA into never-faulted memory: %s", strerror(errno));
		ASSERT_EQ(0, ptrace(PTRACE_POKEDATA, pid, ADDR_B + RA_POP + 8 * w,
				    (void *)PK_POKE(i + 1000)))
			TH_LOG("POKEDATA into populated memory: %s", strerror(errno));
		/* Not through the read-only attachment, though. */
		errno = 0;
		EXPECT_EQ(-1, ptrace(PTRACE_POKEDATA, pid, ADDR_C + RA_MEMFD + 8 * w,
				     (void *)PK_POKE(i)));
		EXPECT_EQ(EIO, errno);
		EXPECT_EQ(seqv(0x42, w), *wordp(att + RA_MEMFD, 0, w));
		EXPECT_EQ(PK_POKE(i), *wordp(att + RA_NEW, 0, w));
		EXPECT_EQ(PK_POKE(i + 1000), *wordp(att + RA_POP, 0, w));
	}
	EXPECT_EQ(-1, memfd_check(memfd, 0, IOLEN, 0x42));
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, pid, 0, 0));
	EXPECT_TRUE(child_ok(pid, "traced child"));

	close(memfd);
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rfd);
}

/*
 * Write pins through a read-only attachment fail; read pins work.  Two
 * kinds: an attachment of a read-only fd, and a PROT_READ attachment of a
 * read-write fd.
 */
#define RO_POP		0UL
#define RO_MEMFD	(4 * MiB)
#define RO_NEW		(RGN)

static void ro_case(struct __test_metadata *_metadata, bool ro_fd)
{
	int rw, rofd, memfd, mfd, ret;
	struct io_uring ring;
	struct iovec liov, riov, iov;
	char *att, *ro, *buf = bounce(IOLEN), path[64];
	struct peer b;
	struct tfile f;
	ssize_t r;

	ASSERT_NE(NULL, buf);
	named_region(_metadata, RSIZE, &rw, &rofd);
	peer_start(_metadata, &b, ro_fd ? rofd : rw, RSIZE, ADDR_B, PROT_READ);
	att = attach(_metadata, rw, RSIZE, NULL, RW);
	map_anon_in(_metadata, att + RO_POP, IOLEN, MAP_SHARED);
	fill_seq(att + RO_POP, IOLEN, 0x61);
	memfd = map_memfd_in(_metadata, att + RO_MEMFD, IOLEN);
	fill_seq(att + RO_MEMFD, IOLEN, 0x62);
	map_anon_in(_metadata, att + RO_NEW, IOLEN, MAP_SHARED);
	ro = attach(_metadata, ro_fd ? rofd : rw, RSIZE, NULL, PROT_READ);
	tfile_make(_metadata, &f, "ro", IOLEN, 0x63);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));

	/* Fault the read-only attachment in (its PUD entry gets linked). */
	ASSERT_EQ(-1, check_seq(ro + RO_POP, IOLEN, 0x61));
	ASSERT_EQ(-1, check_seq(ro + RO_MEMFD, IOLEN, 0x62));

	/* O_DIRECT reads into it: populated anon, memfd, never faulted. */
	errno = 0;
	EXPECT_EQ(-1, pread(f.dfd, ro + RO_POP, IOLEN, 0));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, pread(f.dfd, ro + RO_MEMFD, IOLEN, 0));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, pread(f.dfd, ro + RO_NEW, IOLEN, 0));
	EXPECT_EQ(EFAULT, errno);
	/* A buffered read() too (a copy, not a pin). */
	errno = 0;
	EXPECT_EQ(-1, pread(f.bfd, ro + RO_POP, IOLEN, 0));
	EXPECT_EQ(EFAULT, errno);

	/* io_uring: READ fails, buffer registration fails. */
	ret = uring_rw(&ring, IORING_OP_READ, f.dfd, ro + RO_POP, IOLEN, 0, 0, false);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("io_uring O_DIRECT READ into read-only: %d", ret);
	ret = uring_rw(&ring, IORING_OP_READ, f.dfd, ro + RO_MEMFD, IOLEN, 0, 0, true);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("io_uring async O_DIRECT READ into read-only: %d", ret);
	iov = (struct iovec){ ro + RO_POP, IOLEN };
	ret = io_uring_register_buffers(&ring, &iov, 1);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("registering a read-only buffer: %d", ret);
	if (!ret)
		io_uring_unregister_buffers(&ring);

	/* Read pins work: O_DIRECT write from it. */
	ASSERT_EQ((ssize_t)IOLEN, pwrite(f.dfd, ro + RO_MEMFD, IOLEN, 0))
		TH_LOG("O_DIRECT write from a read-only attachment: %s", strerror(errno));
	EXPECT_EQ(-1, tfile_check(&f, 0, IOLEN, 0x62));
	ret = uring_rw(&ring, IORING_OP_WRITE, f.dfd, ro + RO_POP, IOLEN, 0, 0, false);
	EXPECT_EQ((int)IOLEN, ret);
	EXPECT_EQ(-1, tfile_check(&f, 0, IOLEN, 0x61));

	/* process_vm_writev into the peer's read-only attachment. */
	fill_seq(buf, IOLEN, 0x64);
	liov = (struct iovec){ buf, IOLEN };
	riov = (struct iovec){ b.att + RO_POP, IOLEN };
	errno = 0;
	EXPECT_EQ(-1, process_vm_writev(b.pid, &liov, 1, &riov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	riov = (struct iovec){ b.att + RO_NEW, IOLEN };
	errno = 0;
	EXPECT_EQ(-1, process_vm_writev(b.pid, &liov, 1, &riov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	riov = (struct iovec){ b.att + RO_MEMFD, IOLEN };
	r = process_vm_readv(b.pid, &liov, 1, &riov, 1, 0);
	EXPECT_EQ((ssize_t)IOLEN, r) TH_LOG("process_vm_readv of a read-only attachment: %s",
					    strerror(errno));
	EXPECT_EQ(-1, check_seq(buf, IOLEN, 0x62));

	/* /proc/PID/mem: FOLL_FORCE does not write a shared read-only mapping. */
	snprintf(path, sizeof(path), "/proc/%d/mem", b.pid);
	mfd = open(path, O_RDWR);
	ASSERT_LE(0, mfd);
	fill_seq(buf, IOLEN, 0x65);
	errno = 0;
	r = pwrite(mfd, buf, PG, (off_t)(uintptr_t)(b.att + RO_POP));
	EXPECT_EQ(-1, r);
	EXPECT_TRUE(errno == EIO || errno == EFAULT) TH_LOG("errno %d (%s)", errno, strerror(errno));
	errno = 0;
	r = pwrite(mfd, buf, PG, (off_t)(uintptr_t)(b.att + RO_NEW));
	EXPECT_EQ(-1, r);
	EXPECT_TRUE(errno == EIO || errno == EFAULT) TH_LOG("errno %d (%s)", errno, strerror(errno));
	ASSERT_EQ((ssize_t)IOLEN, pread(mfd, buf, IOLEN, (off_t)(uintptr_t)(b.att + RO_POP)));
	EXPECT_EQ(-1, check_seq(buf, IOLEN, 0x61));
	close(mfd);

	/* Nothing changed, for anyone. */
	EXPECT_EQ(-1, check_seq(att + RO_POP, IOLEN, 0x61));
	EXPECT_EQ(-1, check_seq(att + RO_MEMFD, IOLEN, 0x62));
	EXPECT_EQ(-1, memfd_check(memfd, 0, IOLEN, 0x62));
	EXPECT_EQ(-1, check_seq(att + RO_NEW, IOLEN, 0));
	EXPECT_EQ(-1, peer_check(&b, RO_POP, IOLEN, 0x61));
	EXPECT_EQ(-1, peer_check(&b, RO_NEW, IOLEN, 0));

	io_uring_queue_exit(&ring);
	EXPECT_TRUE(peer_stop(&b));
	tfile_done(&f);
	close(memfd);
	EXPECT_EQ(0, munmap(ro, RSIZE));
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rofd);
	close(rw);
	munmap(buf, IOLEN);
}

TEST_F_TIMEOUT(gup, readonly_fd_refuses_write_pins, 120) { ro_case(_metadata, true); }
TEST_F_TIMEOUT(gup, prot_read_attachment_refuses_write_pins, 120) { ro_case(_metadata, false); }

/*
 * A long-term writable pin (fixed-buffer registration) of a MAP_SHARED
 * ext4 mapping, of a MAP_PRIVATE one and of memfd memory: the same answer
 * inside a region as outside.
 */
TEST_F_TIMEOUT(gup, longterm_pin_like_outside, 60)
{
	int rfd = region(_metadata, RGN), memfd = memfd_sized("lt", IOLEN);
	struct io_uring ring;
	struct iovec iov;
	struct tfile f;
	char *att;

	ASSERT_LE(0, memfd);
	tfile_make(_metadata, &f, "longterm", IOLEN, 0x71);
	att = attach(_metadata, rfd, RGN, NULL, RW);
	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));

	for (int kind = 0; kind < 3; kind++) {
		static const char *const names[] = {
			"MAP_SHARED ext4 file", "MAP_PRIVATE ext4 file", "MAP_SHARED memfd",
		};
		int fd = kind == 2 ? memfd : f.bfd;
		int type = kind == 1 ? MAP_PRIVATE : MAP_SHARED;
		char *in = att + kind * 4 * MiB;
		char *out = mmap(NULL, IOLEN, RW, type, fd, 0);
		int r_out, r_in;

		ASSERT_NE(MAP_FAILED, out);
		ASSERT_EQ((void *)in, mmap(in, IOLEN, RW, type | MAP_FIXED, fd, 0));
		(void)*(volatile char *)out;
		(void)*(volatile char *)in;

		iov = (struct iovec){ out, IOLEN };
		r_out = io_uring_register_buffers(&ring, &iov, 1);
		if (!r_out)
			io_uring_unregister_buffers(&ring);
		iov = (struct iovec){ in, IOLEN };
		r_in = io_uring_register_buffers(&ring, &iov, 1);
		if (!r_in)
			io_uring_unregister_buffers(&ring);
		TH_LOG("%s: register outside %d, inside %d", names[kind], r_out, r_in);
		EXPECT_EQ(r_out, r_in) TH_LOG("%s: a long-term pin inside the region differs from outside",
					      names[kind]);
		munmap(out, IOLEN);
	}

	io_uring_queue_exit(&ring);
	EXPECT_EQ(0, munmap(att, RGN));
	tfile_done(&f);
	close(memfd);
	close(rfd);
}

/*
 * A pinned page survives its unmapping from the region: register a fixed
 * buffer holding X, have the peer remove the memory, map new memory
 * holding Y there: WRITE_FIXED still writes X, and READ_FIXED into the
 * buffer does not reach the new memory.
 */
#define PS_OFF		(RGN + 2 * MiB)

enum { PS_MUNMAP, PS_IOCTL_UNMAP, PS_DONTNEED_PRIVATE };

static void pin_survives(struct __test_metadata *_metadata, int how)
{
	int rfd, ret;
	struct memsnap base, now;
	struct io_uring ring;
	struct iovec iov;
	struct peer b;
	struct tfile f;
	char *att;

	memsnap_take(&base);
	rfd = region(_metadata, RSIZE);
	peer_start(_metadata, &b, rfd, RSIZE, ADDR_B, RW);
	att = attach(_metadata, rfd, RSIZE, NULL, RW);
	map_anon_in(_metadata, att + PS_OFF, IOLEN,
		    how == PS_DONTNEED_PRIVATE ? MAP_PRIVATE : MAP_SHARED);
	fill_seq(att + PS_OFF, IOLEN, 0x81);
	tfile_make(_metadata, &f, "pin", 3 * IOLEN, 0x80);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	iov = (struct iovec){ att + PS_OFF, IOLEN };
	ret = io_uring_register_buffers(&ring, &iov, 1);
	ASSERT_EQ(0, ret) TH_LOG("register: %s", strerror(-ret));

	switch (how) {
	case PS_MUNMAP:
		ASSERT_EQ(0, peer_call(&b, P_MUNMAP, PS_OFF, IOLEN, 0, 0));
		EXPECT_FALSE(probe(att + PS_OFF, false)) TH_LOG("still mapped after munmap");
		break;
	case PS_IOCTL_UNMAP:
		ASSERT_EQ(0, peer_call(&b, P_IOCTL_UNMAP, PS_OFF, IOLEN, 0, 0));
		EXPECT_FALSE(probe(att + PS_OFF, false)) TH_LOG("still mapped after MSHAREFS_UNMAP");
		break;
	case PS_DONTNEED_PRIVATE:
		ASSERT_EQ(0, peer_call(&b, P_DONTNEED, PS_OFF, IOLEN, 0, 0));
		EXPECT_EQ(-1, check_seq(att + PS_OFF, IOLEN, 0)) TH_LOG("not zapped");
		break;
	}
	if (how != PS_DONTNEED_PRIVATE) {
		ASSERT_EQ(0, peer_call(&b, P_MAP_ANON, PS_OFF, IOLEN, 0, 0));
	}
	ASSERT_EQ(0, peer_fill(&b, PS_OFF, IOLEN, 0x82));
	EXPECT_EQ(-1, check_seq(att + PS_OFF, IOLEN, 0x82));

	/* The pinned page still holds X. */
	ret = uring_rw(&ring, IORING_OP_WRITE_FIXED, f.dfd, att + PS_OFF, IOLEN, 0, 0, false);
	ASSERT_EQ((int)IOLEN, ret) TH_LOG("WRITE_FIXED: %s", strerror(-ret));
	EXPECT_EQ(-1, tfile_check(&f, 0, IOLEN, 0x81)) TH_LOG("the pin did not keep the old page");

	/* I/O into the pinned page goes there, not into the new memory. */
	ret = uring_rw(&ring, IORING_OP_READ_FIXED, f.dfd, att + PS_OFF, IOLEN, 2 * IOLEN, 0, false);
	ASSERT_EQ((int)IOLEN, ret) TH_LOG("READ_FIXED: %s", strerror(-ret));
	ret = uring_rw(&ring, IORING_OP_WRITE_FIXED, f.dfd, att + PS_OFF, IOLEN, IOLEN, 0, true);
	ASSERT_EQ((int)IOLEN, ret) TH_LOG("WRITE_FIXED async: %s", strerror(-ret));
	EXPECT_EQ(-1, tfile_check_from(&f, IOLEN, IOLEN, 0x80, 2 * IOLEN / 8));
	EXPECT_EQ(-1, peer_check(&b, PS_OFF, IOLEN, 0x82)) TH_LOG("the new memory changed");

	ASSERT_EQ(0, io_uring_unregister_buffers(&ring));
	io_uring_queue_exit(&ring);
	EXPECT_EQ(-1, check_seq(att + PS_OFF, IOLEN, 0x82));
	EXPECT_TRUE(peer_stop(&b));
	tfile_done(&f);
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rfd);

	bool back = mem_back_to(&base, &now, 256, 50, 100);

	TH_LOG("after teardown: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       now.pagetables - base.pagetables, now.shmem - base.shmem,
	       now.anon - base.anon);
	EXPECT_TRUE(back) TH_LOG("memory did not return to its baseline");
}

TEST_F_TIMEOUT(gup, pin_survives_munmap, 60) { pin_survives(_metadata, PS_MUNMAP); }
TEST_F_TIMEOUT(gup, pin_survives_ioctl_unmap, 60) { pin_survives(_metadata, PS_IOCTL_UNMAP); }
TEST_F_TIMEOUT(gup, pin_survives_dontneed, 60) { pin_survives(_metadata, PS_DONTNEED_PRIVATE); }

/*
 * Pins racing another sharer's munmap/mmap/MADV_DONTNEED of the range.
 * The range is a whole, 2 MiB-aligned PMD range with nothing else mapped
 * in it, so the region frees and reallocates its PTE table each round
 * while this process's GUP-fast walks it through its own PUD entry.
 */
#define RACE_OFF	(RGN + 64 * MiB)
#define RACE_LEN	(2 * MiB)
#define RACE_IO		(16 * KiB)
#define RACE_NIO	16		/* file size in RACE_IOs */
#define RACE_MS		12000

enum { RACE_ODIRECT, RACE_URING, RACE_FIXED };

/* Is @r an acceptable result of I/O that raced an unmap? */
static bool race_ok(long r)
{
	return (r > 0 && r <= (long)RACE_IO) || r == -EFAULT;
}

static void race_case(struct __test_metadata *_metadata, int kind)
{
	long done = 0, efault = 0, bad = 0, last_bad = 0;
	struct memsnap base, now;
	struct io_uring ring;
	struct tfile f, g;
	struct peer b;
	char *att, *buf;
	int64_t iters;
	double end;
	int rfd;

	memsnap_take(&base);
	rfd = region(_metadata, RSIZE);
	peer_start(_metadata, &b, rfd, RSIZE, ADDR_B, RW);
	att = attach(_metadata, rfd, RSIZE, NULL, RW);
	map_anon_in(_metadata, att + RACE_OFF, RACE_LEN, MAP_SHARED);
	tfile_make(_metadata, &f, "race-src", RACE_NIO * RACE_IO, 0x91);
	tfile_make(_metadata, &g, "race-dst", RACE_NIO * RACE_IO, 0x92);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	buf = bounce(RACE_IO);
	ASSERT_NE(NULL, buf);

	ASSERT_EQ(0, peer_send(&b, P_CHURN, RACE_OFF, RACE_LEN, 0, RACE_MS));
	end = now_sec() + RACE_MS / 1000.0;
	for (unsigned long i = 0; now_sec() < end; i++) {
		char *p = att + RACE_OFF + (i * 7 % (RACE_LEN / RACE_IO)) * RACE_IO;
		off_t off = (i % RACE_NIO) * RACE_IO;
		long r;

		switch (kind) {
		case RACE_ODIRECT:
			if (i & 1)
				r = pwrite(g.dfd, p, RACE_IO, off);
			else
				r = pread(f.dfd, p, RACE_IO, off);
			if (r < 0)
				r = -errno;
			break;
		case RACE_URING:
			r = uring_rw(&ring, i & 1 ? IORING_OP_WRITE : IORING_OP_READ,
				     i & 1 ? g.dfd : f.dfd, p, RACE_IO, off, 0, i & 2);
			break;
		default: {
			/* Pin, read into the pinned pages, write them out, compare. */
			struct iovec iov = { p, RACE_IO };

			r = io_uring_register_buffers(&ring, &iov, 1);
			if (r == -EFAULT)
				break;
			if (r) {
				TH_LOG("register: %ld", r);
				break;
			}
			r = uring_rw(&ring, IORING_OP_READ_FIXED, f.dfd, p, RACE_IO, off, 0, i & 2);
			if (r == (long)RACE_IO)
				r = uring_rw(&ring, IORING_OP_WRITE_FIXED, g.dfd, p, RACE_IO,
					     off, 0, false);
			if (r != (long)RACE_IO) {
				/* Pinned pages never fault: no short I/O, no EFAULT. */
				TH_LOG("fixed-buffer I/O: %ld", r);
				r = -EIO;
			} else if (pread(g.dfd, buf, RACE_IO, off) != (ssize_t)RACE_IO ||
				   check_seq_from(buf, RACE_IO, 0x91, off / 8) != -1) {
				/* What went out of the pinned pages is not what came in. */
				TH_LOG("fixed buffer at %p, file offset %ld: data differs", p,
				       (long)off);
				r = -EIO;
			}
			if (io_uring_unregister_buffers(&ring))
				r = -EIO;
			break;
		}
		}
		if (r == -EFAULT)
			efault++;
		else if (race_ok(r))
			done++;
		else {
			bad++;
			last_bad = r;
		}
	}
	iters = peer_recv(&b);
	TH_LOG("%s: %ld I/Os done, %ld EFAULT, %ld bad (last %ld); %lld rounds of the peer's munmap/mmap/MADV_DONTNEED",
	       kind == RACE_ODIRECT ? "O_DIRECT" : kind == RACE_URING ? "io_uring" : "fixed buffers",
	       done, efault, bad, last_bad, (long long)iters);
	EXPECT_EQ(0, bad);
	EXPECT_LT(0, done);
	EXPECT_LT(10, iters) TH_LOG("the peer's loop: %s", iters < 0 ? strerror(-iters) : "too few rounds");

	/* The region works normally afterwards. */
	ASSERT_EQ(0, peer_call(&b, P_MUNMAP, RACE_OFF, RACE_LEN, 0, 0));
	ASSERT_EQ(0, peer_call(&b, P_MAP_ANON, RACE_OFF, RACE_LEN, 0, 0));
	ASSERT_EQ(0, peer_fill(&b, RACE_OFF, RACE_IO, 0x93));
	ASSERT_EQ((ssize_t)RACE_IO, pwrite(f.dfd, att + RACE_OFF, RACE_IO, 0));
	EXPECT_EQ(-1, tfile_check(&f, 0, RACE_IO, 0x93));
	ASSERT_EQ((ssize_t)RACE_IO, pread(f.dfd, att + RACE_OFF + RACE_LEN / 2, RACE_IO, 0));
	EXPECT_EQ(-1, peer_check(&b, RACE_OFF + RACE_LEN / 2, RACE_IO, 0x93));

	io_uring_queue_exit(&ring);
	EXPECT_TRUE(peer_stop(&b));
	tfile_done(&f);
	tfile_done(&g);
	munmap(buf, RACE_IO);
	EXPECT_EQ(0, munmap(att, RSIZE));
	close(rfd);

	bool back = mem_back_to(&base, &now, 512, 50, 100);

	TH_LOG("after teardown: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       now.pagetables - base.pagetables, now.shmem - base.shmem,
	       now.anon - base.anon);
	EXPECT_TRUE(back) TH_LOG("memory did not return to its baseline");
}

TEST_F_TIMEOUT(gup, race_fixed_buffers_vs_unmap, 90) { race_case(_metadata, RACE_FIXED); }
TEST_F_TIMEOUT(gup, race_uring_vs_unmap, 90) { race_case(_metadata, RACE_URING); }
TEST_F_TIMEOUT(gup, race_odirect_vs_unmap, 90) { race_case(_metadata, RACE_ODIRECT); }

TEST_HARNESS_MAIN

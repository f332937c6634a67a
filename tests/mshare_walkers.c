// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: per-process page-table walkers and introspection on attachments.
 *
 * A sharer's attachment is a VMA of its own whose page tables below the PUD
 * are the region's.  Walkers that run in the sharer's context must neither
 * change the region's tables nor count the region's pages as the sharer's:
 *
 *  - /proc/PID/maps names attachments ("/sys/fs/mshare/NAME", or
 *    "/mshare (deleted)" for mshare_create() regions) and shows nothing of
 *    the mappings inside the region
 *  - smaps / smaps_rollup / status: an attachment shows the region's
 *    resident pages it reaches (Rss), its share of them (Pss, divided
 *    among the attachments) as Shared_Dirty with two attachments; VmRSS
 *    grows by the region's resident memory (RssMshare), and reading the
 *    region through an attachment adds nothing more; THPeligible 0;
 *    reading smaps, numa_maps and pagemap is safe
 *  - pagemap and mincore see pages that another sharer populated
 *  - clear_refs (soft-dirty and young) in one sharer leaves the region's
 *    PTEs alone
 *  - KSM: MADV_MERGEABLE refused, PR_SET_MEMORY_MERGE + ksmd merge nothing
 *    of the region (own memory merges: control)
 *  - THP: khugepaged full scans leave the region intact; MADV_HUGEPAGE,
 *    MADV_NOHUGEPAGE, MADV_COLLAPSE of the attachment refused
 *  - fork: children share the region, PageTables does not grow per child
 *  - NUMA: mbind refused, migrate_pages() of a sharer does not move region
 *    pages (its own pages move: control); NUMA balancing does not make the
 *    region's PTEs PROT_NONE
 *  - process_madvise(): whole attachment, MADV_COLD acts on the region,
 *    the attachment and more is refused; inside, MADV_COLD and
 *    MADV_PAGEOUT act on the region (with swap on a free ram disk, the
 *    region's resident figure drops and the data comes back)
 *  - userfaultfd registration on attachments refused
 *  - core dumps of a sharer contain the region's data
 *  - mremap inside or of an attachment refused
 *  - mlockall() does not lock the attachment
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/mempolicy.h>
#include <linux/msharefs.h>
#include <linux/userfaultfd.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define ADDR_B		((char *)(128 * GiB))
#define ADDR_C		((char *)(256 * GiB))
#define MSFS		"/sys/fs/mshare"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_COLD
#define MADV_COLD		20
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

#define PM_PRESENT	(1ULL << 63)
#define PM_SOFT_DIRTY	(1ULL << 55)
#define PM_PFN		((1ULL << 55) - 1)

/* --- sysfs/procfs knobs, restored by the fixture's teardown ------------ */

struct knob {
	char path[128];
	char val[256];
};
static struct knob knobs[32];
static int nknobs;
static char swap_dev[64];	/* a swap device this test turned on */

static int file_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		err = -errno;
	close(fd);
	return err;
}

static long file_long(const char *path)
{
	char buf[64];

	if (read_first_line(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/* Set a knob, remembering its first value; 0 or -errno. */
static int knob_set(const char *path, const char *val)
{
	int i;

	for (i = 0; i < nknobs; i++)
		if (!strcmp(knobs[i].path, path))
			break;
	if (i == nknobs && nknobs < (int)(sizeof(knobs) / sizeof(knobs[0]))) {
		char buf[256], *l, *r;
		int err = read_first_line(path, buf, sizeof(buf));

		if (err)
			return err;
		/* "always [madvise] never": the value is the bracketed word */
		l = strchr(buf, '[');
		r = l ? strchr(l, ']') : NULL;
		if (l && r) {
			*r = 0;
			memmove(buf, l + 1, strlen(l + 1) + 1);
		}
		snprintf(knobs[i].path, sizeof(knobs[i].path), "%s", path);
		snprintf(knobs[i].val, sizeof(knobs[i].val), "%s", buf);
		nknobs++;
	}
	return file_write(path, val);
}

static void knobs_restore(void)
{
	while (nknobs > 0) {
		nknobs--;
		file_write(knobs[nknobs].path, knobs[nknobs].val);
	}
	if (swap_dev[0]) {
		swapoff(swap_dev);
		swap_dev[0] = 0;
	}
}

/* --- /proc parsing --------------------------------------------------------- */

struct mapline {
	unsigned long start, end;
	char perms[8];
	char path[512];
};

/* The maps line of @pid whose VMA starts at @addr. */
static bool maps_find(pid_t pid, const void *addr, struct mapline *ml)
{
	char path[64], line[1024];
	bool found = false;
	FILE *f;

	proc_path(path, sizeof(path), pid, "maps");
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long off, ino;
		int n = 0;
		char dev[32];

		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %31s %lu %n", &ml->start, &ml->end,
			   ml->perms, &off, dev, &ino, &n) < 6)
			continue;
		if (ml->start != (unsigned long)addr)
			continue;
		snprintf(ml->path, sizeof(ml->path), "%s", n ? line + n : "");
		found = true;
	}
	fclose(f);
	return found;
}

/* VMAs of @pid that overlap [lo, hi). */
static int maps_count_pid(pid_t pid, const void *lo, const void *hi)
{
	char path[64], line[1024];
	unsigned long s, e;
	int n = 0;
	FILE *f;

	proc_path(path, sizeof(path), pid, "maps");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (is_vma_header(line, &s, &e) && s < (unsigned long)hi &&
		    e > (unsigned long)lo)
			n++;
	fclose(f);
	return n;
}

static long smaps_kb(pid_t pid, const void *start, const char *field)
{
	char blk[4096];

	if (!smaps_block(pid, start, blk, sizeof(blk)))
		return -1;
	return block_get(blk, field, NULL, 0);
}

static long smaps_get(pid_t pid, const void *start, const char *field,
		      char *str, size_t slen)
{
	char blk[4096];

	if (!smaps_block(pid, start, blk, sizeof(blk)))
		return -1;
	return block_get(blk, field, str, slen);
}

/* Has the smaps entry at @start the VmFlags flag @flag (two letters)? */
static int smaps_has_flag(pid_t pid, const void *start, const char *flag)
{
	char flags[256], *tok, *save;

	if (smaps_get(pid, start, "VmFlags", flags, sizeof(flags)))
		return -1;
	for (tok = strtok_r(flags, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (!strcmp(tok, flag))
			return 1;
	return 0;
}

/*
 * An attachment's smaps figures against the region's resident memory
 * (@res_kb, all of it written) and @natt attachments: Rss is all of it,
 * Pss its share, Shared_Dirty with two attachments or more (Private_Dirty
 * with one).  How many figures are off by more than 64 kB (listed in
 * @why); also Size and THPeligible.
 */
static int smaps_attachment_share(pid_t pid, const void *start, long res_kb, int natt,
				  char *why, size_t len, long *size, long *thp)
{
	const char *const names[] = {
		"Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
	};
	const long want[] = {
		res_kb, res_kb / natt, 0, natt >= 2 ? res_kb : 0, 0, natt >= 2 ? 0 : res_kb,
	};
	char blk[4096];
	int bad = 0;

	why[0] = 0;
	if (!smaps_block(pid, start, blk, sizeof(blk))) {
		snprintf(why, len, " no smaps entry at %p", start);
		*size = *thp = -1;
		return 1;
	}
	*size = block_get(blk, "Size", NULL, 0);
	*thp = block_get(blk, "THPeligible", NULL, 0);
	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		long v = block_get(blk, names[i], NULL, 0);

		if (labs(v - want[i]) > 64) {
			size_t l = strlen(why);

			snprintf(why + l, len - l, " %s=%ld (expected %ld)", names[i], v, want[i]);
			bad++;
		}
	}
	return bad;
}

/* Read a whole /proc file; bytes read, or -errno. */
static long read_all(pid_t pid, const char *file)
{
	char path[64], buf[4096];
	long total = 0;
	ssize_t n;
	int fd;

	proc_path(path, sizeof(path), pid, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0)
		total = -errno;
	close(fd);
	return total;
}

/* Read the pagemap entries of [p, p+len) of @pid; 0 or -errno. */
static long pagemap_range(pid_t pid, const void *p, size_t len, uint64_t *out)
{
	char path[64];
	size_t n = len / PG, done = 0;
	int fd;

	proc_path(path, sizeof(path), pid, "pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (done < n) {
		ssize_t r = pread(fd, out + done, (n - done) * 8,
				  ((uintptr_t)p / PG + done) * 8);

		if (r <= 0) {
			int err = r < 0 ? -errno : -EIO;

			close(fd);
			return err;
		}
		done += r / 8;
	}
	close(fd);
	return 0;
}

static uint64_t pagemap1(pid_t pid, const void *p)
{
	uint64_t e = 0;

	if (pagemap_range(pid, p, PG, &e))
		return ~0ULL;
	return e;
}

/* --- regions ---------------------------------------------------------------- */

static int create_anon(struct __test_metadata *_metadata, size_t size)
{
	int fd = sys_mshare_create(size, 0);

	ASSERT_LE(0, fd) TH_LOG("mshare_create(%#zx): %s", size, strerror(errno));
	return fd;
}

/* A named region MSFS/@name of @size bytes (the name is replaced if left over). */
static int create_named(struct __test_metadata *_metadata, const char *name,
			size_t size)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), MSFS "/%s", name);
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd) TH_LOG("open(%s, O_CREAT): %s", path, strerror(errno));
	ASSERT_EQ(0, ftruncate(fd, size)) TH_LOG("ftruncate(%s): %s", path, strerror(errno));
	return fd;
}

static void unlink_named(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), MSFS "/%s", name);
	unlink(path);
}

static char *attach(struct __test_metadata *_metadata, int fd, size_t size,
		    char *addr, int prot)
{
	char *p = ms_attach(fd, size, addr, prot, addr ? MAP_FIXED_NOREPLACE : 0);

	ASSERT_NE(NULL, p) TH_LOG("attach %#zx at %p: %s", size, addr, strerror(errno));
	ASSERT_EQ(0, (uintptr_t)p % RGN) TH_LOG("attachment at %p not 1 GiB aligned", p);
	if (addr) {
		ASSERT_EQ(addr, p);
	}
	return p;
}

static void map_in(struct __test_metadata *_metadata, char *addr, size_t len,
		   int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags, fd, 0);

	ASSERT_EQ((void *)addr, p) TH_LOG("mmap inside at %p len %#zx flags %#x: %s",
					  addr, len, flags,
					  p == MAP_FAILED ? strerror(errno) : "wrong address");
}

#define SHARED_ANON	(MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
#define PRIVATE_ANON	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)

static int region_stat(int fd, struct mshare_stat *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, MSHAREFS_GET_STAT, st);
}

/* Read a struct the child sends (exact size), or fail. */
static bool recv_exact(int sock, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = read(sock, (char *)buf + done, len - done);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return false;
		}
		done += r;
	}
	return true;
}

static bool send_exact(int sock, const void *buf, size_t len)
{
	return write(sock, buf, len) == (ssize_t)len;
}

FIXTURE(walkers) {};
FIXTURE_SETUP(walkers) {}
FIXTURE_TEARDOWN(walkers) { knobs_restore(); }

/* ------------------------------------------------------------------------ */
/* 1. /proc/PID/maps */

static void maps_child(int sock, const char *name)
{
	char path[256];
	char *b;
	int fd, memfd;

	snprintf(path, sizeof(path), MSFS "/%s", name);
	fd = open(path, O_RDWR);
	CHILD_CHECK(fd >= 0);
	b = ms_attach(fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);
	CHILD_CHECK(b == ADDR_B);
	memfd = memfd_sized("walkers-inside-b", MiB);
	CHILD_CHECK(memfd >= 0);
	CHILD_CHECK(mmap(b + 8 * MiB, MiB, RW, MAP_SHARED | MAP_FIXED, memfd, 0) == b + 8 * MiB);
	fill_pat(b + 8 * MiB, MiB, PG, 0x13, 0);
	CHILD_CHECK(check_pat(b + 2 * MiB, MiB, PG, 0x12, 0) == -1);
	CHILD_CHECK(sock_send(sock, 'a') == 0);
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

TEST_F_TIMEOUT(walkers, maps_names, 60)
{
	char name[64], want[128];
	struct mapline ml;
	int fd, nfd, rofd, memfd, sv[2];
	char *a, *b, *r;
	pid_t pid;

	/* An mshare_create() region of 2 GiB with three mappings inside. */
	fd = create_anon(_metadata, 2 * RGN);
	a = attach(_metadata, fd, 2 * RGN, NULL, RW);
	memfd = memfd_sized("walkers-inside", MiB);
	ASSERT_LE(0, memfd);
	map_in(_metadata, a + 4 * MiB, MiB, RW, SHARED_ANON, -1);
	map_in(_metadata, a + RGN + 2 * MiB, MiB, RW, MAP_SHARED | MAP_FIXED, memfd);
	map_in(_metadata, a + 16 * MiB, MiB, RW, PRIVATE_ANON, -1);
	fill_pat(a + 4 * MiB, MiB, PG, 0x10, 0);
	fill_pat(a + RGN + 2 * MiB, MiB, PG, 0x11, 0);
	fill_pat(a + 16 * MiB, MiB, PG, 0x12, 0);

	ASSERT_TRUE(maps_find(0, a, &ml)) TH_LOG("no maps line starts at %p", a);
	EXPECT_EQ((unsigned long)a + 2 * RGN, ml.end) TH_LOG("attachment line %lx-%lx", ml.start, ml.end);
	EXPECT_STREQ("/mshare (deleted)", ml.path);
	EXPECT_STREQ("rw-s", ml.perms);
	EXPECT_EQ(1, maps_count_pid(0, a, a + 2 * RGN))
		TH_LOG("mappings inside the region show in the sharer's maps");
	EXPECT_FALSE(file_contains("/proc/self/maps", "walkers-inside"))
		TH_LOG("the memfd mapped inside the region shows in the sharer's maps");

	/* A named region, read-write and read-only. */
	snprintf(name, sizeof(name), "walkers-maps-%d", getpid());
	snprintf(want, sizeof(want), MSFS "/%s", name);
	nfd = create_named(_metadata, name, RGN);
	b = attach(_metadata, nfd, RGN, NULL, RW);
	map_in(_metadata, b + 2 * MiB, MiB, RW, PRIVATE_ANON, -1);
	fill_pat(b + 2 * MiB, MiB, PG, 0x12, 0);
	ASSERT_TRUE(maps_find(0, b, &ml)) TH_LOG("no maps line starts at %p", b);
	EXPECT_EQ((unsigned long)b + RGN, ml.end) TH_LOG("attachment line %lx-%lx", ml.start, ml.end);
	EXPECT_STREQ(want, ml.path);
	EXPECT_EQ(1, maps_count_pid(0, b, b + RGN));

	rofd = open(want, O_RDONLY);
	ASSERT_LE(0, rofd) TH_LOG("%s", strerror(errno));
	r = attach(_metadata, rofd, RGN, NULL, PROT_READ);
	ASSERT_TRUE(maps_find(0, r, &ml));
	EXPECT_EQ((unsigned long)r + RGN, ml.end);
	EXPECT_STREQ(want, ml.path);
	EXPECT_STREQ("r--s", ml.perms);
	EXPECT_EQ(-1, check_pat(r + 2 * MiB, MiB, PG, 0x12, 0));

	/* Another process, seen from here: its own and its inherited attachments. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		maps_child(sv[1], name);
	}
	close(sv[1]);
	ASSERT_EQ('a', sock_recv(sv[0]));
	ASSERT_TRUE(maps_find(pid, ADDR_B, &ml)) TH_LOG("no line at %p in the child's maps", ADDR_B);
	EXPECT_EQ((unsigned long)ADDR_B + RGN, ml.end);
	EXPECT_STREQ(want, ml.path);
	EXPECT_EQ(1, maps_count_pid(pid, ADDR_B, ADDR_B + RGN));
	ASSERT_TRUE(maps_find(pid, a, &ml)) TH_LOG("the inherited attachment is not in the child's maps");
	EXPECT_EQ((unsigned long)a + 2 * RGN, ml.end);
	EXPECT_STREQ("/mshare (deleted)", ml.path);
	EXPECT_EQ(1, maps_count_pid(pid, a, a + 2 * RGN));
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
		EXPECT_FALSE(file_contains(path, "walkers-inside"));
	}
	/* The child's mapping went into the region: here too, and not in our maps. */
	EXPECT_EQ(-1, check_pat(b + 8 * MiB, MiB, PG, 0x13, 0));
	EXPECT_EQ(1, maps_count_pid(0, b, b + RGN));
	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "maps child"));
	close(sv[0]);

	EXPECT_EQ(0, munmap(r, RGN));
	EXPECT_EQ(0, munmap(b, RGN));
	EXPECT_EQ(0, munmap(a, 2 * RGN));
	close(rofd);
	close(nfd);
	close(memfd);
	close(fd);
	unlink_named(name);
}

/* ------------------------------------------------------------------------ */
/* 2. smaps, smaps_rollup, status */

#define SM_SHARED	(12 * MiB)	/* shared anonymous at 0 */
#define SM_POFF		(32 * MiB)
#define SM_PRIV		(4 * MiB)	/* private anonymous at SM_POFF */
#define SM_CTL		(4 * MiB)	/* the controls: own memory, a memfd */

struct sm_report {
	long rss0, rss1, rss2;
};

static void smaps_child(int sock, int fd)
{
	char *b = ms_attach(fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE), *own;
	struct sm_report rep;

	CHILD_CHECK(b == ADDR_B);
	rep.rss0 = kv_kb(0, "status", "VmRSS");
	fill_pat(b, SM_SHARED, PG, 0x21, 0);
	fill_pat(b + SM_POFF, SM_PRIV, PG, 0x22, 0);
	rep.rss1 = kv_kb(0, "status", "VmRSS");
	/* Control: its own memory does show. */
	own = mmap(NULL, SM_CTL, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(own != MAP_FAILED);
	fill_pat(own, SM_CTL, PG, 0x23, 0);
	rep.rss2 = kv_kb(0, "status", "VmRSS");
	CHILD_CHECK(send_exact(sock, &rep, sizeof(rep)));
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

TEST_F_TIMEOUT(walkers, smaps_attachment_shares, 120)
{
	int fd = create_anon(_metadata, RGN), memfd, sv[2];
	char *a = attach(_metadata, fd, RGN, NULL, RW), *m, why[256], flags[256];
	struct mshare_stat st;
	struct sm_report rep;
	long roll0, roll1, roll2, vm0, vm1, size, thp, res_kb;
	pid_t pid;

	map_in(_metadata, a, SM_SHARED, RW, SHARED_ANON, -1);
	map_in(_metadata, a + SM_POFF, SM_PRIV, RW, PRIVATE_ANON, -1);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		smaps_child(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_TRUE(recv_exact(sv[0], &rep, sizeof(rep))) TH_LOG("the writer child failed");
	TH_LOG("writer: VmRSS %ld kB, after writing %lu MiB of the region %ld kB, after %lu MiB of its own %ld kB",
	       rep.rss0, (SM_SHARED + SM_PRIV) / MiB, rep.rss1, SM_CTL / MiB, rep.rss2);
	/* its two attachments (its own and ours, inherited) reach them all */
	EXPECT_GE(rep.rss1 - rep.rss0, 2 * (long)((SM_SHARED + SM_PRIV) / KiB) * 7 / 8)
		TH_LOG("the region's pages the writer reaches are not in its VmRSS once per attachment");
	EXPECT_GE(rep.rss2 - rep.rss1, (long)(SM_CTL / KiB) * 7 / 8) TH_LOG("control: own memory not in VmRSS");

	ASSERT_EQ(0, region_stat(fd, &st)) TH_LOG("GET_STAT: %s", strerror(errno));
	TH_LOG("region: resident %llu kB", (unsigned long long)st.resident / KiB);
	EXPECT_GE(st.resident, SM_SHARED + SM_PRIV);

	/*
	 * Our attachment, which has not touched the region yet: the same
	 * share.  Three attachments: ours, the writer's at ADDR_B and the one
	 * it inherited from us at a.
	 */
	res_kb = st.resident / KiB;
	EXPECT_EQ(0, smaps_attachment_share(0, a, res_kb, 3, why, sizeof(why), &size, &thp))
		TH_LOG("our attachment:%s", why);
	EXPECT_EQ((long)(RGN / KiB), size);
	EXPECT_EQ(0, thp);
	/* The writer's attachment. */
	EXPECT_EQ(0, smaps_attachment_share(pid, ADDR_B, res_kb, 3, why, sizeof(why), &size, &thp))
		TH_LOG("the writer's attachment:%s", why);
	EXPECT_EQ((long)(RGN / KiB), size);
	EXPECT_EQ(0, thp);
	EXPECT_EQ(0, smaps_get(pid, ADDR_B, "VmFlags", flags, sizeof(flags)));
	TH_LOG("writer's attachment VmFlags:%s", flags);

	/* We read it all: it was counted already. */
	roll0 = kv_kb(0, "smaps_rollup", "Rss");
	vm0 = kv_kb(0, "status", "VmRSS");
	EXPECT_EQ(-1, check_pat(a, SM_SHARED, PG, 0x21, 0));
	EXPECT_EQ(-1, check_pat(a + SM_POFF, SM_PRIV, PG, 0x22, 0));
	roll1 = kv_kb(0, "smaps_rollup", "Rss");
	vm1 = kv_kb(0, "status", "VmRSS");
	EXPECT_EQ(0, smaps_attachment_share(0, a, res_kb, 3, why, sizeof(why), &size, &thp))
		TH_LOG("our attachment after reading:%s", why);
	EXPECT_EQ((long)(RGN / KiB), size);
	EXPECT_EQ(0, thp);
	EXPECT_LT(roll1 - roll0, 1024) TH_LOG("smaps_rollup Rss %ld -> %ld kB", roll0, roll1);
	EXPECT_LT(vm1 - vm0, 1024) TH_LOG("VmRSS %ld -> %ld kB", vm0, vm1);
	EXPECT_LE(0, kv_kb(0, "smaps_rollup", "Pss"));

	/* Control: writing a shared memfd does count. */
	memfd = memfd_sized("walkers-ctl", SM_CTL);
	ASSERT_LE(0, memfd);
	m = mmap(NULL, SM_CTL, RW, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, m);
	fill_pat(m, SM_CTL, PG, 0x24, 0);
	roll2 = kv_kb(0, "smaps_rollup", "Rss");
	EXPECT_GE(roll2 - roll1, (long)(SM_CTL / KiB) * 7 / 8)
		TH_LOG("control: smaps_rollup Rss %ld -> %ld kB", roll1, roll2);
	EXPECT_EQ((long)(SM_CTL / KiB), smaps_kb(0, m, "Rss"));

	/* Every reader of both processes, whole. */
	for (int i = 0; i < 2; i++) {
		pid_t p = i ? pid : 0;
		const char *files[] = { "maps", "smaps", "smaps_rollup", "numa_maps", "status" };
		uint64_t *pm = malloc(RGN / PG * 8);

		for (unsigned int k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
			long n = read_all(p, files[k]);

			/* numa_maps exists only with CONFIG_NUMA */
			if (n == -ENOENT && !strcmp(files[k], "numa_maps") &&
			    access("/proc/self/numa_maps", F_OK))
				continue;
			EXPECT_LT(0, n) TH_LOG("reading /proc/%d/%s: %s", p ? p : getpid(),
					       files[k], strerror(n < 0 ? -n : 0));
		}
		ASSERT_NE(NULL, pm);
		EXPECT_EQ(0, pagemap_range(p, i ? ADDR_B : a, RGN, pm));
		free(pm);
	}
	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "writer"));
	close(sv[0]);

	EXPECT_EQ(0, munmap(m, SM_CTL));
	EXPECT_EQ(0, munmap(a, RGN));
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 3. pagemap and mincore of pages another sharer populated */

#define PM_LEN		(4 * MiB)
static const size_t pm_off[2] = { 2 * MiB, 10 * MiB };	/* shared, private anon */

static void pagemap_child(int sock, int fd)
{
	char *b = ms_attach(fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);
	uint64_t pfn[2];

	CHILD_CHECK(b == ADDR_B);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < PM_LEN / PG; i += 2)
			*wordp(b + pm_off[k], i * PG, 0) = pat(0x30 + k, i);
		pfn[k] = pagemap1(0, b + pm_off[k]);
	}
	CHILD_CHECK(send_exact(sock, pfn, sizeof(pfn)));
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

/* Mismatches of pagemap/mincore against "even pages present". */
static int pm_check(struct __test_metadata *_metadata, char *a, const char *when)
{
	static uint64_t pm[PM_LEN / PG];
	static unsigned char vec[PM_LEN / PG];
	int bad = 0;

	for (int k = 0; k < 2; k++) {
		int pbad = 0, mbad = 0;
		long first = -1;

		EXPECT_EQ(0, pagemap_range(0, a + pm_off[k], PM_LEN, pm));
		for (size_t i = 0; i < PM_LEN / PG; i++) {
			bool want = !(i & 1), got = pm[i] & PM_PRESENT;

			if (want != got) {
				if (first < 0)
					first = i;
				pbad++;
			}
		}
		EXPECT_EQ(0, pbad) TH_LOG("%s, %s area: %d pagemap entries wrong, first page %ld: %#llx",
					  when, k ? "private" : "shared", pbad, first,
					  first < 0 ? 0ULL : (unsigned long long)pm[first]);
		first = -1;
		memset(vec, 0xff, sizeof(vec));
		EXPECT_EQ(0, mincore(a + pm_off[k], PM_LEN, vec)) TH_LOG("mincore: %s", strerror(errno));
		for (size_t i = 0; i < PM_LEN / PG; i++) {
			if ((bool)(vec[i] & 1) != !(i & 1)) {
				if (first < 0)
					first = i;
				mbad++;
			}
		}
		EXPECT_EQ(0, mbad) TH_LOG("%s, %s area: %d mincore entries wrong, first page %ld: %#x",
					  when, k ? "private" : "shared", mbad, first,
					  first < 0 ? 0 : vec[first]);
		bad += pbad + mbad;
	}
	/* A hole in the region: never present. */
	EXPECT_EQ(0, pagemap_range(0, a + 32 * MiB, 64 * PG, pm));
	for (int i = 0; i < 64; i++) {
		EXPECT_EQ(0, pm[i] & PM_PRESENT) TH_LOG("%s: hole page %d present: %#llx",
							when, i, (unsigned long long)pm[i]);
	}
	return bad;
}

TEST_F_TIMEOUT(walkers, pagemap_mincore_other_sharer, 120)
{
	int fd = create_anon(_metadata, RGN), sv[2];
	char *a = attach(_metadata, fd, RGN, NULL, RW);
	uint64_t pfn[2];
	pid_t pid;

	map_in(_metadata, a + pm_off[0], PM_LEN, RW, SHARED_ANON, -1);
	map_in(_metadata, a + pm_off[1], PM_LEN, RW, PRIVATE_ANON, -1);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		pagemap_child(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_TRUE(recv_exact(sv[0], pfn, sizeof(pfn))) TH_LOG("the writer child failed");

	/* We have never touched the region: our PUD entry is not even linked. */
	pm_check(_metadata, a, "untouched");
	for (int k = 0; k < 2; k++) {
		uint64_t e = pagemap1(0, a + pm_off[k]);

		EXPECT_NE(0, pfn[k] & PM_PFN) TH_LOG("the writer sees no PFN: %#llx",
						     (unsigned long long)pfn[k]);
		EXPECT_EQ(pfn[k] & PM_PFN, e & PM_PFN) TH_LOG("area %d: writer's pagemap %#llx, ours %#llx",
							      k, (unsigned long long)pfn[k],
							      (unsigned long long)e);
	}
	/* After one read of ours: the same answers. */
	EXPECT_EQ(pat(0x30, 0), *wordp(a + pm_off[0], 0, 0));
	pm_check(_metadata, a, "after one read");
	EXPECT_EQ(pat(0x31, 2), *wordp(a + pm_off[1], 2 * PG, 0));

	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "writer"));
	close(sv[0]);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 4. clear_refs in one sharer leaves the region's PTEs alone */

#define CR_LEN		(1 * MiB)
static const size_t cr_off[2] = { 2 * MiB, 6 * MiB };	/* shared, private anon */

static int cr_count_bits(struct __test_metadata *_metadata, pid_t pid, char *base,
			 uint64_t bit, int *total)
{
	static uint64_t pm[CR_LEN / PG];
	int n = 0;

	*total = 0;
	for (int k = 0; k < 2; k++) {
		EXPECT_EQ(0, pagemap_range(pid, base + cr_off[k], CR_LEN, pm));
		for (size_t i = 0; i < CR_LEN / PG; i++) {
			n += (pm[i] & bit) != 0;
			(*total)++;
		}
	}
	return n;
}

static void cr_fill(char *base, uint64_t tag, int word)
{
	for (int k = 0; k < 2; k++)
		fill_pat(base + cr_off[k], CR_LEN, PG, tag + k, word);
}

static bool cr_ok(char *base, uint64_t tag, int word)
{
	for (int k = 0; k < 2; k++)
		if (check_pat(base + cr_off[k], CR_LEN, PG, tag + k, word) != -1)
			return false;
	return true;
}

static void clear_refs_child(int sock, int fd)
{
	char *b = ms_attach(fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);
	long f0, f1;

	CHILD_CHECK(b == ADDR_B);
	CHILD_CHECK(cr_ok(b, 0x40, 0));
	CHILD_CHECK(sock_send(sock, 'r') == 0);
	/* The parent clears our refs, writes again, and asks us to look. */
	CHILD_CHECK(sock_recv(sock) == 'c');
	CHILD_CHECK(cr_ok(b, 0x42, 1));
	f0 = minflt_self();
	cr_fill(b, 0x44, 2);
	f1 = minflt_self();
	if (f1 - f0 > 8)
		fprintf(stderr, "# child: %ld minor faults writing %lu region pages after clear_refs\n",
			f1 - f0, 2 * CR_LEN / PG);
	CHILD_CHECK(f1 - f0 <= 8);
	CHILD_CHECK(sock_send(sock, 'c') == 0);
	/* The parent cleared its own soft-dirty bits: our writes still do not fault. */
	CHILD_CHECK(sock_recv(sock) == 'd');
	f0 = minflt_self();
	cr_fill(b, 0x46, 3);
	f1 = minflt_self();
	if (f1 - f0 > 8)
		fprintf(stderr, "# child: %ld minor faults writing region pages after the parent's clear_refs\n",
			f1 - f0);
	CHILD_CHECK(f1 - f0 <= 8);
	CHILD_CHECK(sock_send(sock, 'd') == 0);
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

TEST_F_TIMEOUT(walkers, clear_refs_leaves_region, 120)
{
	int fd = create_anon(_metadata, RGN), sv[2], n, total;
	char *a = attach(_metadata, fd, RGN, NULL, RW), *own, path[64];
	const char *ops[] = { "4", "1", "2", "3", "5" };
	long f0, f1;
	pid_t pid;

	map_in(_metadata, a + cr_off[0], CR_LEN, RW, SHARED_ANON, -1);
	map_in(_metadata, a + cr_off[1], CR_LEN, RW, PRIVATE_ANON, -1);
	cr_fill(a, 0x40, 0);
	n = cr_count_bits(_metadata, 0, a, PM_PRESENT, &total);
	ASSERT_EQ(total, n) TH_LOG("%d of %d pages we wrote are present in our pagemap", n, total);
	n = cr_count_bits(_metadata, 0, a, PM_SOFT_DIRTY, &total);
	ASSERT_EQ(total, n) TH_LOG("%d of %d pages we wrote are soft-dirty in our pagemap", n, total);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		clear_refs_child(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_EQ('r', sock_recv(sv[0]));

	/* B, which has read every page (its PUD entry is linked), clears its refs. */
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", pid);
	for (unsigned int i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int err = file_write(path, ops[i]);

		EXPECT_EQ(0, err) TH_LOG("echo %s > %s: %s", ops[i], path, strerror(-err));
	}
	n = cr_count_bits(_metadata, 0, a, PM_SOFT_DIRTY, &total);
	EXPECT_EQ(total, n) TH_LOG("after the other sharer's clear_refs, %d of %d region pages are soft-dirty in our pagemap",
				   n, total);
	n = cr_count_bits(_metadata, 0, a, PM_PRESENT, &total);
	EXPECT_EQ(total, n) TH_LOG("after the other sharer's clear_refs, %d of %d region pages present",
				   n, total);
	/* Our writes take no faults: the region's PTEs were not write-protected. */
	EXPECT_TRUE(cr_ok(a, 0x40, 0));
	f0 = minflt_self();
	cr_fill(a, 0x42, 1);
	f1 = minflt_self();
	EXPECT_LE(f1 - f0, 8) TH_LOG("%ld minor faults writing %lu region pages after the other sharer's clear_refs",
				     f1 - f0, 2 * CR_LEN / PG);
	ASSERT_EQ(0, sock_send(sv[0], 'c'));
	ASSERT_EQ('c', sock_recv(sv[0])) TH_LOG("the other sharer failed");
	EXPECT_TRUE(cr_ok(a, 0x44, 2)) TH_LOG("the other sharer's writes are not seen");

	/* Control: our own private memory's soft-dirty bits do clear. */
	own = mmap(NULL, CR_LEN, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, own);
	fill_pat(own, CR_LEN, PG, 0x48, 0);
	{
		static uint64_t pm[CR_LEN / PG];
		int dirty = 0;

		ASSERT_EQ(0, pagemap_range(0, own, CR_LEN, pm));
		for (size_t i = 0; i < CR_LEN / PG; i++)
			dirty += (pm[i] & PM_SOFT_DIRTY) != 0;
		EXPECT_EQ((int)(CR_LEN / PG), dirty) TH_LOG("control: own pages not soft-dirty after writing");
		ASSERT_EQ(0, file_write("/proc/self/clear_refs", "4"));
		ASSERT_EQ(0, pagemap_range(0, own, CR_LEN, pm));
		dirty = 0;
		for (size_t i = 0; i < CR_LEN / PG; i++)
			dirty += (pm[i] & PM_SOFT_DIRTY) != 0;
		EXPECT_EQ(0, dirty) TH_LOG("control: clear_refs 4 left %d of our own pages soft-dirty", dirty);
		f0 = minflt_self();
		fill_pat(own, CR_LEN, PG, 0x49, 0);
		f1 = minflt_self();
		EXPECT_GE(f1 - f0, (long)(CR_LEN / PG) / 2)
			TH_LOG("control: writing our own write-protected pages took %ld faults", f1 - f0);
	}
	/* ... and our own clear_refs did not write-protect the region for B. */
	ASSERT_EQ(0, sock_send(sv[0], 'd'));
	ASSERT_EQ('d', sock_recv(sv[0])) TH_LOG("the other sharer faulted after our clear_refs");
	EXPECT_TRUE(cr_ok(a, 0x46, 3));
	EXPECT_TRUE(cr_ok(a, 0x42, 1));

	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "other sharer"));
	close(sv[0]);
	EXPECT_EQ(0, munmap(own, CR_LEN));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 5. KSM */

#define KSM		"/sys/kernel/mm/ksm/"
#define KSM_AREA	(2 * MiB)	/* shared anon at 0, private anon at 8 MiB */
#define KSM_POFF	(8 * MiB)
#define KSM_OWN		(2 * MiB)

static void ksm_page(char *page)
{
	for (size_t i = 0; i < PG; i++)
		page[i] = (char)(i * 7 + 3);
}

/* Offset of the first page of [p, p+len) that is not the KSM pattern, or -1. */
static long ksm_check(const char *p, size_t len)
{
	char ref[PG];

	ksm_page(ref);
	for (size_t off = 0; off < len; off += PG)
		if (memcmp(p + off, ref, PG))
			return off;
	return -1;
}

static void ksm_fill(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PG)
		ksm_page(p + off);
}

/* Wait until full_scans reaches @target (and @until, if given, holds); false on timeout. */
static bool scans_wait(const char *path, long target, int secs, bool (*until)(void *), void *arg)
{
	double end = now_sec() + secs;

	while (now_sec() < end) {
		if (file_long(path) >= target && (!until || until(arg)))
			return true;
		sleep_ms(50);
	}
	return false;
}

static bool ksm_merged(void *arg)
{
	return file_long(KSM "pages_sharing") > 0;
}

static void ksm_child(int sock, int fd)
{
	char *b = ms_attach(fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);

	CHILD_CHECK(b == ADDR_B);
	CHILD_CHECK(ksm_check(b, KSM_AREA) == -1);
	CHILD_CHECK(ksm_check(b + KSM_POFF, KSM_AREA) == -1);
	CHILD_CHECK(sock_send(sock, 'r') == 0);
	CHILD_CHECK(sock_recv(sock) == 'w');
	CHILD_CHECK(b[100] == (char)0xee);
	CHILD_CHECK(b[KSM_POFF + PG + 100] == (char)0xef);
	b[100] = (char)(100 * 7 + 3);
	b[KSM_POFF + PG + 100] = (char)(100 * 7 + 3);
	CHILD_CHECK(ksm_check(b, KSM_AREA) == -1);
	CHILD_CHECK(ksm_check(b + KSM_POFF, KSM_AREA) == -1);
	CHILD_CHECK(sock_send(sock, 'w') == 0);
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

TEST_F_TIMEOUT(walkers, ksm_merges_nothing_of_region, 240)
{
	int fd, sv[2];
	char *a, *own;
	long fs0, shared, sharing;
	pid_t pid;

	ASSERT_EQ(0, access(KSM "run", W_OK)) TH_LOG("KSM is not available (%s): %s", KSM "run",
						      strerror(errno));
	fd = create_anon(_metadata, RGN);
	a = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, a, KSM_AREA, RW, SHARED_ANON, -1);
	map_in(_metadata, a + KSM_POFF, KSM_AREA, RW, PRIVATE_ANON, -1);
	ksm_fill(a, KSM_AREA);
	ksm_fill(a + KSM_POFF, KSM_AREA);

	MS_EXPECT_ERRNO(EINVAL, madvise(a, RGN, MADV_MERGEABLE));
	MS_EXPECT_ERRNO(EINVAL, madvise(a + KSM_POFF, KSM_AREA, MADV_MERGEABLE));
	MS_EXPECT_ERRNO(EINVAL, madvise(a, KSM_AREA, MADV_MERGEABLE));
	MS_EXPECT_ERRNO(EINVAL, madvise(a + MiB, MiB, MADV_MERGEABLE));

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		ksm_child(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_EQ('r', sock_recv(sv[0]));

	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) TH_LOG("PR_SET_MEMORY_MERGE: %s",
								     strerror(errno));
	ASSERT_EQ(0, knob_set(KSM "pages_to_scan", "1000"));
	ASSERT_EQ(0, knob_set(KSM "sleep_millisecs", "10"));
	ASSERT_EQ(0, knob_set(KSM "run", "1"));
	fs0 = file_long(KSM "full_scans");
	EXPECT_TRUE(scans_wait(KSM "full_scans", fs0 + 3, 90, NULL, NULL))
		TH_LOG("ksmd did not finish 3 full scans in 90 s (full_scans %ld -> %ld)",
		       fs0, file_long(KSM "full_scans"));
	shared = file_long(KSM "pages_shared");
	sharing = file_long(KSM "pages_sharing");
	TH_LOG("after %ld full scans of %lu MiB of identical region pages: pages_shared %ld, pages_sharing %ld",
	       file_long(KSM "full_scans") - fs0, 2 * KSM_AREA / MiB, shared, sharing);
	EXPECT_EQ(0, shared);
	EXPECT_EQ(0, sharing);
	/* No region page became a KSM page: their PFNs are all different. */
	{
		static uint64_t pm[2 * KSM_AREA / PG];
		int same = 0;

		ASSERT_EQ(0, pagemap_range(0, a, KSM_AREA, pm));
		ASSERT_EQ(0, pagemap_range(0, a + KSM_POFF, KSM_AREA, pm + KSM_AREA / PG));
		for (size_t i = 1; i < 2 * KSM_AREA / PG; i++)
			same += (pm[i] & PM_PFN) == (pm[0] & PM_PFN);
		EXPECT_EQ(0, same) TH_LOG("%d region pages share the first page's PFN %#llx", same,
					  (unsigned long long)(pm[0] & PM_PFN));
	}

	/* Intact and still shared. */
	EXPECT_EQ(-1, ksm_check(a, KSM_AREA));
	EXPECT_EQ(-1, ksm_check(a + KSM_POFF, KSM_AREA));
	a[100] = (char)0xee;
	a[KSM_POFF + PG + 100] = (char)0xef;
	ASSERT_EQ(0, sock_send(sv[0], 'w'));
	EXPECT_EQ('w', sock_recv(sv[0])) TH_LOG("the other sharer does not see our writes");
	EXPECT_EQ(-1, ksm_check(a, KSM_AREA));
	EXPECT_EQ(-1, ksm_check(a + KSM_POFF, KSM_AREA));

	/* Control: our own identical private pages do merge. */
	own = mmap(NULL, KSM_OWN, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, own);
	ksm_fill(own, KSM_OWN);
	fs0 = file_long(KSM "full_scans");
	EXPECT_TRUE(scans_wait(KSM "full_scans", fs0 + 2, 90, ksm_merged, NULL))
		TH_LOG("control: our own %lu identical pages were not merged in 90 s (pages_sharing %ld)",
		       KSM_OWN / PG, file_long(KSM "pages_sharing"));
	TH_LOG("control: %lu own identical pages: pages_shared %ld, pages_sharing %ld",
	       KSM_OWN / PG, file_long(KSM "pages_shared"), file_long(KSM "pages_sharing"));
	EXPECT_LT(0, file_long(KSM "pages_sharing"));
	EXPECT_EQ(-1, ksm_check(own, KSM_OWN));

	/* Stop ksmd and unmerge. */
	EXPECT_EQ(0, file_write(KSM "run", "2"));
	EXPECT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	EXPECT_EQ(0, file_long(KSM "pages_sharing"));
	EXPECT_EQ(-1, ksm_check(own, KSM_OWN));
	EXPECT_EQ(-1, ksm_check(a, KSM_AREA));

	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "other sharer"));
	close(sv[0]);
	EXPECT_EQ(0, munmap(own, KSM_OWN));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 6. THP and khugepaged */

#define THP		"/sys/kernel/mm/transparent_hugepage/"
#define KHP		THP "khugepaged/"
#define THP_AREA	(8 * MiB)	/* shared anon at 0 */
#define THP_POFF	(16 * MiB)
#define THP_PRIV	(2 * MiB)	/* private anon at THP_POFF */

static void thp_fill(char *a, uint64_t tag, int word)
{
	fill_pat(a, THP_AREA, PG, tag, word);
	fill_pat(a + THP_POFF, THP_PRIV, PG, tag + 1, word);
}

static bool thp_ok(char *a, uint64_t tag, int word)
{
	return check_pat(a, THP_AREA, PG, tag, word) == -1 &&
	       check_pat(a + THP_POFF, THP_PRIV, PG, tag + 1, word) == -1;
}

static void thp_child(int sock, int fd)
{
	char *b = ms_attach(fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);

	CHILD_CHECK(b == ADDR_B);
	CHILD_CHECK(thp_ok(b, 0x60, 0));
	CHILD_CHECK(sock_send(sock, 'r') == 0);
	CHILD_CHECK(sock_recv(sock) == 'w');
	CHILD_CHECK(thp_ok(b, 0x60, 0));
	CHILD_CHECK(thp_ok(b, 0x62, 1));
	thp_fill(b, 0x64, 2);
	CHILD_CHECK(sock_send(sock, 'w') == 0);
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

static bool own_collapsed(void *arg)
{
	return smaps_kb(0, arg, "AnonHugePages") >= 2048;
}

TEST_F_TIMEOUT(walkers, khugepaged_leaves_region, 240)
{
	int fd, sv[2];
	char *a, *raw, *own;
	long fs0, f0, f1;
	bool collapsed;
	pid_t pid;

	ASSERT_EQ(0, knob_set(THP "enabled", "always")) TH_LOG("THP enabled: %s", strerror(errno));
	ASSERT_EQ(0, knob_set(KHP "scan_sleep_millisecs", "10"));
	ASSERT_EQ(0, knob_set(KHP "alloc_sleep_millisecs", "10"));
	ASSERT_EQ(0, knob_set(KHP "pages_to_scan", "4096"));

	fd = create_anon(_metadata, RGN);
	a = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, a, THP_AREA, RW, SHARED_ANON, -1);
	map_in(_metadata, a + THP_POFF, THP_PRIV, RW, PRIVATE_ANON, -1);
	thp_fill(a, 0x60, 0);

	/*
	 * THP advice on the whole attachment goes to the region's mappings
	 * (issue 14); ending with MADV_HUGEPAGE invites khugepaged all the
	 * more.  MADV_COLLAPSE is refused.
	 */
	EXPECT_EQ(0, madvise(a, RGN, MADV_NOHUGEPAGE)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, madvise(a, RGN, MADV_HUGEPAGE)) TH_LOG("%s", strerror(errno));
	MS_EXPECT_ERRNO(EINVAL, madvise(a, RGN, MADV_COLLAPSE));

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		thp_child(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_EQ('r', sock_recv(sv[0]));

	/* Control: 4 MiB of our own memory, faulted in small pages, then MADV_HUGEPAGE. */
	raw = mmap(NULL, 8 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	own = (char *)(((uintptr_t)raw + 2 * MiB - 1) & ~(2 * MiB - 1));
	ASSERT_EQ(0, madvise(own, 4 * MiB, MADV_NOHUGEPAGE));
	fill_pat(own, 4 * MiB, PG, 0x66, 0);
	ASSERT_EQ(0, smaps_kb(0, own, "AnonHugePages"));
	ASSERT_EQ(0, madvise(own, 4 * MiB, MADV_HUGEPAGE));

	fs0 = file_long(KHP "full_scans");
	EXPECT_TRUE(scans_wait(KHP "full_scans", fs0 + 2, 120, NULL, NULL))
		TH_LOG("khugepaged did not finish 2 full scans in 120 s (%ld -> %ld)",
		       fs0, file_long(KHP "full_scans"));
	collapsed = scans_wait(KHP "full_scans", 0, 60, own_collapsed, own);
	TH_LOG("khugepaged: full_scans %ld -> %ld, pages_collapsed %ld; control AnonHugePages %ld kB",
	       fs0, file_long(KHP "full_scans"), file_long(KHP "pages_collapsed"),
	       smaps_kb(0, own, "AnonHugePages"));
	EXPECT_TRUE(collapsed) TH_LOG("control: khugepaged did not collapse our own memory");
	EXPECT_EQ(-1, check_pat(own, 4 * MiB, PG, 0x66, 0));

	/* The region: intact, shared, and its page tables still ours. */
	f0 = minflt_self();
	EXPECT_TRUE(thp_ok(a, 0x60, 0)) TH_LOG("region data changed under khugepaged");
	f1 = minflt_self();
	TH_LOG("reading the region again: %ld minor faults", f1 - f0);
	thp_fill(a, 0x62, 1);
	ASSERT_EQ(0, sock_send(sv[0], 'w'));
	EXPECT_EQ('w', sock_recv(sv[0])) TH_LOG("the other sharer does not see our writes");
	EXPECT_TRUE(thp_ok(a, 0x64, 2)) TH_LOG("we do not see the other sharer's writes");
	MS_EXPECT_ERRNO(EINVAL, madvise(a, RGN, MADV_COLLAPSE));

	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "other sharer"));
	close(sv[0]);
	EXPECT_EQ(0, munmap(raw, 8 * MiB));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 7. fork */

#define FK_LEN		(64 * MiB)
#define FK_N		8

static void fk_third(int sock, int fd)
{
	char *c = ms_attach(fd, RGN, ADDR_C, RW, MAP_FIXED_NOREPLACE);

	CHILD_CHECK(c == ADDR_C);
	CHILD_CHECK(check_pat(c, FK_LEN, PG, 0x70, 0) == -1);
	CHILD_CHECK(sock_send(sock, 'a') == 0);
	CHILD_CHECK(sock_recv(sock) == 'b');
	CHILD_CHECK(check_pat(c, FK_LEN, PG, 0x72, 1) == -1);
	fill_pat(c, FK_LEN, PG, 0x73, 2);
	CHILD_CHECK(sock_send(sock, 'b') == 0);
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

/*
 * PageTables growth (kB) while FK_N forked children that read [p, +FK_LEN)
 * (a word every @step bytes) wait.
 */
static long fk_run(struct __test_metadata *_metadata, char *p, size_t step, uint64_t tag)
{
	pid_t pids[FK_N];
	struct barrier b;
	long before, during;
	int bad = 0;

	ASSERT_EQ(0, barrier_init(&b));
	before = meminfo_kb("PageTables");
	for (int i = 0; i < FK_N; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			int ret = 0;

			if (p && check_pat(p, FK_LEN, step, tag, 0) != -1)
				ret = 4;
			barrier_child_wait(&b);
			_exit(ret);
		}
	}
	ASSERT_EQ(0, barrier_parent_wait(&b, FK_N));
	during = meminfo_kb("PageTables");
	barrier_release(&b);
	for (int i = 0; i < FK_N; i++)
		bad += !child_ok(pids[i], "fork reader");
	EXPECT_EQ(0, bad);
	return during - before;
}

TEST_F_TIMEOUT(walkers, fork_shares_region, 240)
{
	int fd = create_anon(_metadata, RGN), memfd, sv[2];
	char *a = attach(_metadata, fd, RGN, NULL, RW), *m;
	long base, ms, mf;
	pid_t third, kid;

	map_in(_metadata, a, FK_LEN, RW, SHARED_ANON, -1);
	fill_pat(a, FK_LEN, PG, 0x70, 0);
	memfd = memfd_sized("walkers-fork", FK_LEN);
	ASSERT_LE(0, memfd);
	m = mmap(NULL, FK_LEN, RW, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, m);
	/* One page every 2 MiB: a child reading those pays one PTE table for each. */
	fill_pat(m, FK_LEN, 2 * MiB, 0x71, 0);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	third = fork();
	ASSERT_LE(0, third);
	if (third == 0) {
		close(sv[0]);
		fk_third(sv[1], fd);
	}
	close(sv[1]);
	ASSERT_EQ('a', sock_recv(sv[0]));

	/* A forked child: same address, same data; its writes reach everyone. */
	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0) {
		CHILD_CHECK(maps_count((unsigned long)a, (unsigned long)a + RGN) == 1);
		CHILD_CHECK(check_pat(a, FK_LEN, PG, 0x70, 0) == -1);
		fill_pat(a, FK_LEN, PG, 0x72, 1);
		_exit(0);
	}
	ASSERT_TRUE(child_ok(kid, "forked child"));
	EXPECT_EQ(-1, check_pat(a, FK_LEN, PG, 0x72, 1)) TH_LOG("the parent does not see the child's writes");
	ASSERT_EQ(0, sock_send(sv[0], 'b'));
	EXPECT_EQ('b', sock_recv(sv[0])) TH_LOG("the third sharer does not see the child's writes");
	EXPECT_EQ(-1, check_pat(a, FK_LEN, PG, 0x73, 2));
	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(third, "third sharer"));
	close(sv[0]);

	/* Page tables: children reading the region pay nothing per child. */
	base = fk_run(_metadata, NULL, PG, 0);
	ms = fk_run(_metadata, a, PG, 0x70);
	mf = fk_run(_metadata, m, 2 * MiB, 0x71);
	TH_LOG("%d forked children reading 64 MiB: PageTables %+ld kB idle, %+ld kB region, %+ld kB memfd (a page every 2 MiB; each child pays %lu kB unshared)",
	       FK_N, base, ms, mf, FK_LEN / 512 / KiB);
	EXPECT_LT(ms - base, (long)(FK_N * FK_LEN / 512 / KiB / 4));
	EXPECT_GE(mf - base, (long)(FK_N * FK_LEN / 512 / KiB * 3 / 4))
		TH_LOG("control: memfd children did not pay their page tables");

	EXPECT_EQ(-1, check_pat(a, FK_LEN, PG, 0x70, 0));
	EXPECT_EQ(0, munmap(m, FK_LEN));
	EXPECT_EQ(0, munmap(a, RGN));
	close(memfd);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 8. NUMA: mbind, set_mempolicy, migrate_pages, move_pages */

#define NODE1		"/sys/devices/system/node/node1"
#define NUMA_AREA	(1 * MiB)	/* shared anon at 2 MiB, private anon at 6 MiB */
static const size_t nm_off[2] = { 2 * MiB, 6 * MiB };
#define NM_MAXNODE	(8 * sizeof(unsigned long) + 1)

static long sys_mbind(void *p, size_t len, int mode, unsigned long mask)
{
	return syscall(SYS_mbind, p, len, mode, &mask, NM_MAXNODE, 0);
}

static long sys_set_mempolicy(int mode, unsigned long mask)
{
	return syscall(SYS_set_mempolicy, mode, mode == MPOL_DEFAULT ? NULL : &mask,
		       mode == MPOL_DEFAULT ? 0 : NM_MAXNODE);
}

/*
 * The node of each page of [p, p+len) of @pid (move_pages query): how many
 * are on @node; the first other status in *@other.
 */
static int pages_on_node(pid_t pid, char *p, size_t len, int node, int *other)
{
	size_t n = len / PG;
	void **pages = calloc(n, sizeof(*pages));
	int *status = calloc(n, sizeof(*status));
	int on = 0;

	*other = 0;
	if (!pages || !status) {
		free(pages);
		free(status);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		pages[i] = p + i * PG;
		status[i] = -12345;
	}
	if (syscall(SYS_move_pages, pid, n, pages, NULL, status, 0)) {
		*other = -errno;
		on = -1;
	} else {
		for (size_t i = 0; i < n; i++) {
			if (status[i] == node)
				on++;
			else if (!*other)
				*other = status[i] == 0 ? 1000 : status[i];
		}
	}
	free(pages);
	free(status);
	return on;
}

struct nm_info {
	char *own;
};

static void numa_child(int sock, char *a)
{
	struct nm_info info;

	/* Our own memory on node 0, then the default policy again. */
	CHILD_CHECK(sys_set_mempolicy(MPOL_BIND, 1UL << 0) == 0);
	info.own = mmap(NULL, NUMA_AREA, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(info.own != MAP_FAILED);
	fill_pat(info.own, NUMA_AREA, PG, 0x83, 0);
	CHILD_CHECK(sys_set_mempolicy(MPOL_DEFAULT, 0) == 0);
	/* The region, read through the inherited attachment. */
	CHILD_CHECK(check_pat(a + nm_off[0], NUMA_AREA, PG, 0x81, 0) == -1);
	CHILD_CHECK(check_pat(a + nm_off[1], NUMA_AREA, PG, 0x82, 0) == -1);
	CHILD_CHECK(send_exact(sock, &info, sizeof(info)));
	CHILD_CHECK(sock_recv(sock) == 'c');
	CHILD_CHECK(check_pat(a + nm_off[0], NUMA_AREA, PG, 0x81, 0) == -1);
	CHILD_CHECK(check_pat(a + nm_off[1], NUMA_AREA, PG, 0x82, 0) == -1);
	CHILD_CHECK(check_pat(info.own, NUMA_AREA, PG, 0x83, 0) == -1);
	fill_pat(a + nm_off[0], NUMA_AREA, PG, 0x84, 1);
	CHILD_CHECK(sock_send(sock, 'c') == 0);
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

TEST_F_TIMEOUT(walkers, numa_policies_and_migration, 180)
{
	unsigned long old = 1UL << 0, new = 1UL << 1;
	int fd, sv[2], on, other;
	struct nm_info info;
	char *a, *own;
	long r;
	pid_t pid;

	ASSERT_EQ(0, access(NODE1, F_OK))
		TH_LOG("this machine has no NUMA node 1 (%s missing): the NUMA tests need two nodes", NODE1);

	fd = create_anon(_metadata, RGN);
	a = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, a + nm_off[0], NUMA_AREA, RW, SHARED_ANON, -1);
	map_in(_metadata, a + nm_off[1], NUMA_AREA, RW, PRIVATE_ANON, -1);

	/* mbind of the attachment, or inside it: refused. */
	MS_EXPECT_ERRNO(EINVAL, sys_mbind(a, RGN, MPOL_BIND, new));
	MS_EXPECT_ERRNO(EINVAL, sys_mbind(a + nm_off[0], NUMA_AREA, MPOL_BIND, new));
	MS_EXPECT_ERRNO(EINVAL, sys_mbind(a + nm_off[1], PG, MPOL_PREFERRED, new));
	MS_EXPECT_ERRNO(EINVAL, sys_mbind(a + 32 * MiB, 2 * MiB, MPOL_BIND, new));
	/* Control: the same call on our own memory works. */
	own = mmap(NULL, NUMA_AREA, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, own);
	EXPECT_EQ(0, sys_mbind(own, NUMA_AREA, MPOL_BIND, new)) TH_LOG("control mbind: %s", strerror(errno));

	/* set_mempolicy in a sharer: fine; populate the region on node 0. */
	ASSERT_EQ(0, sys_set_mempolicy(MPOL_BIND, old)) TH_LOG("set_mempolicy: %s", strerror(errno));
	fill_pat(a + nm_off[0], NUMA_AREA, PG, 0x81, 0);
	fill_pat(a + nm_off[1], NUMA_AREA, PG, 0x82, 0);
	ASSERT_EQ(0, sys_set_mempolicy(MPOL_DEFAULT, 0));
	for (int k = 0; k < 2; k++) {
		on = pages_on_node(0, a + nm_off[k], NUMA_AREA, 0, &other);
		ASSERT_EQ((int)(NUMA_AREA / PG), on)
			TH_LOG("region area %d: %d pages on node 0 per move_pages (first other status %d)",
			       k, on, other);
	}

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		numa_child(sv[1], a);
	}
	close(sv[1]);
	ASSERT_TRUE(recv_exact(sv[0], &info, sizeof(info))) TH_LOG("the sharer child failed");

	/* Before: everything of interest on node 0, seen through the sharer. */
	for (int k = 0; k < 2; k++) {
		on = pages_on_node(pid, a + nm_off[k], NUMA_AREA, 0, &other);
		EXPECT_EQ((int)(NUMA_AREA / PG), on)
			TH_LOG("before: sharer's view of region area %d: %d pages on node 0 (first other status %d)",
			       k, on, other);
	}
	on = pages_on_node(pid, info.own, NUMA_AREA, 0, &other);
	ASSERT_EQ((int)(NUMA_AREA / PG), on) TH_LOG("control: sharer's own pages not on node 0 (%d, %d)", on, other);

	/* migrate_pages(sharer, 0 -> 1). */
	errno = 0;
	r = syscall(SYS_migrate_pages, pid, NM_MAXNODE, &old, &new);
	EXPECT_LE(0, r) TH_LOG("migrate_pages: %s", strerror(errno));
	TH_LOG("migrate_pages(sharer, 0 -> 1) = %ld", r);

	for (int k = 0; k < 2; k++) {
		on = pages_on_node(pid, a + nm_off[k], NUMA_AREA, 0, &other);
		EXPECT_EQ((int)(NUMA_AREA / PG), on)
			TH_LOG("after: sharer's view of region area %d: %d pages still on node 0 (first other status %d)",
			       k, on, other);
		on = pages_on_node(0, a + nm_off[k], NUMA_AREA, 0, &other);
		EXPECT_EQ((int)(NUMA_AREA / PG), on)
			TH_LOG("after: our view of region area %d: %d pages still on node 0 (first other status %d)",
			       k, on, other);
	}
	on = pages_on_node(pid, info.own, NUMA_AREA, 1, &other);
	EXPECT_GE(on, (int)(NUMA_AREA / PG) * 9 / 10)
		TH_LOG("control: only %d of the sharer's own pages moved to node 1 (first other status %d)",
		       on, other);

	ASSERT_EQ(0, sock_send(sv[0], 'c'));
	EXPECT_EQ('c', sock_recv(sv[0])) TH_LOG("the sharer's data changed");
	EXPECT_EQ(-1, check_pat(a + nm_off[0], NUMA_AREA, PG, 0x84, 1));
	EXPECT_EQ(-1, check_pat(a + nm_off[1], NUMA_AREA, PG, 0x82, 0));
	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "sharer"));
	close(sv[0]);
	EXPECT_EQ(0, munmap(own, NUMA_AREA));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 9. NUMA balancing */

#define NB_AREA		(2 * MiB)	/* shared anon at 0, private anon at 8 MiB */
#define NB_POFF		(8 * MiB)
#define NB_SECS		5

struct nb_report {
	long passes, region_flt, own_flt;
};

static int first_cpu(const char *node)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/devices/system/node/%s/cpulist", node);
	if (read_first_line(path, buf, sizeof(buf)) || !buf[0])
		return -1;
	return atoi(buf);
}

static bool nb_read(char *p)
{
	return check_pat(p, NB_AREA, PG, 0x90, 0) == -1 &&
	       check_pat(p + NB_POFF, NB_AREA, PG, 0x91, 0) == -1;
}

/*
 * Read the region (and, @own, our own memory on node 0) in a loop for at
 * least NB_SECS s on @cpu; with @own, also until NUMA balancing has made
 * some of our own PTEs PROT_NONE, which shows as (hinting) minor faults on
 * our own memory (at most 30 s).  Minor faults of region reads are
 * counted (the region was read once before).
 */
static void nb_child(int sock, char *p, int cpu, bool own)
{
	struct nb_report rep = { 0 };
	char *mine = NULL;
	double end, hard_end;

	CHILD_CHECK(pin_to_cpu(cpu) == 0);
	if (own) {
		CHILD_CHECK(sys_set_mempolicy(MPOL_BIND, 1UL << 0) == 0);
		mine = mmap(NULL, NB_AREA, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHILD_CHECK(mine != MAP_FAILED);
		fill_pat(mine, NB_AREA, PG, 0x92, 0);
		CHILD_CHECK(sys_set_mempolicy(MPOL_DEFAULT, 0) == 0);
	}
	CHILD_CHECK(nb_read(p));
	CHILD_CHECK(sock_send(sock, 'r') == 0);
	CHILD_CHECK(sock_recv(sock) == 'g');
	end = now_sec() + NB_SECS;
	hard_end = now_sec() + 30;
	for (;;) {
		long f0 = minflt_self(), f1;

		CHILD_CHECK(nb_read(p));
		f1 = minflt_self();
		rep.region_flt += f1 - f0;
		if (mine) {
			CHILD_CHECK(check_pat(mine, NB_AREA, PG, 0x92, 0) == -1);
			rep.own_flt += minflt_self() - f1;
		}
		rep.passes++;
		if (now_sec() >= hard_end)
			break;
		if (now_sec() >= end && (!own || rep.own_flt > 0))
			break;
	}
	CHILD_CHECK(send_exact(sock, &rep, sizeof(rep)));
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

TEST_F_TIMEOUT(walkers, numa_balancing_leaves_region, 180)
{
	int fd, sr[2], so[2], cpu0, cpu1;
	struct nb_report rr, ro;
	pid_t reader, other;
	char *a;

	ASSERT_EQ(0, access(NODE1, F_OK))
		TH_LOG("this machine has no NUMA node 1 (%s missing): the NUMA tests need two nodes", NODE1);
	cpu0 = first_cpu("node0");
	cpu1 = first_cpu("node1");
	ASSERT_LE(0, cpu1) TH_LOG("node 1 has no CPU");
	ASSERT_LE(0, cpu0) TH_LOG("node 0 has no CPU");
	ASSERT_EQ(0, knob_set("/proc/sys/kernel/numa_balancing", "1"))
		TH_LOG("numa_balancing: %s", strerror(errno));

	fd = create_anon(_metadata, RGN);
	a = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, a, NB_AREA, RW, SHARED_ANON, -1);
	map_in(_metadata, a + NB_POFF, NB_AREA, RW, PRIVATE_ANON, -1);
	ASSERT_EQ(0, sys_set_mempolicy(MPOL_BIND, 1UL << 0));
	fill_pat(a, NB_AREA, PG, 0x90, 0);
	fill_pat(a + NB_POFF, NB_AREA, PG, 0x91, 0);
	ASSERT_EQ(0, sys_set_mempolicy(MPOL_DEFAULT, 0));

	/* The reader on node 1, through the inherited attachment. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sr));
	reader = fork();
	ASSERT_LE(0, reader);
	if (reader == 0) {
		close(sr[0]);
		nb_child(sr[1], a, cpu1, true);
	}
	close(sr[1]);
	/* The other sharer on node 0, attached at its own address. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, so));
	other = fork();
	ASSERT_LE(0, other);
	if (other == 0) {
		char *c = ms_attach(fd, RGN, ADDR_C, PROT_READ, MAP_FIXED_NOREPLACE);

		close(so[0]);
		close(sr[0]);
		CHILD_CHECK(c == ADDR_C);
		nb_child(so[1], c, cpu0, false);
	}
	close(so[1]);
	ASSERT_EQ('r', sock_recv(sr[0]));
	ASSERT_EQ('r', sock_recv(so[0]));
	ASSERT_EQ(0, sock_send(sr[0], 'g'));
	ASSERT_EQ(0, sock_send(so[0], 'g'));
	ASSERT_TRUE(recv_exact(sr[0], &rr, sizeof(rr))) TH_LOG("the node-1 reader failed");
	ASSERT_TRUE(recv_exact(so[0], &ro, sizeof(ro))) TH_LOG("the other sharer failed");
	TH_LOG("node-1 reader: %ld passes, %ld faults on region reads, %ld (NUMA hinting) on its own memory; other sharer: %ld passes, %ld faults on region reads",
	       rr.passes, rr.region_flt, rr.own_flt, ro.passes, ro.region_flt);
	EXPECT_LE(ro.region_flt, 32) TH_LOG("the other sharer took faults reading populated region memory");
	EXPECT_LE(rr.region_flt, 32) TH_LOG("the node-1 reader took faults reading populated region memory");
	EXPECT_LT(0, rr.own_flt) TH_LOG("control: NUMA balancing never made the reader's own memory fault");
	EXPECT_TRUE(nb_read(a));

	ASSERT_EQ(0, sock_send(sr[0], 'q'));
	ASSERT_EQ(0, sock_send(so[0], 'q'));
	EXPECT_TRUE(child_ok(reader, "node-1 reader"));
	EXPECT_TRUE(child_ok(other, "other sharer"));
	close(sr[0]);
	close(so[0]);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 10. process_madvise */

#define PMV_AREA	(1 * MiB)
static const size_t pmv_off[3] = { 2 * MiB, 6 * MiB, 10 * MiB };	/* shared, private, memfd */

static long sys_process_madvise(int pidfd, const struct iovec *iov, size_t n, int advice)
{
	return syscall(SYS_process_madvise, pidfd, iov, n, advice, 0);
}

static void pmv_child(int sock, char *a)
{
	for (int k = 0; k < 3; k++)
		CHILD_CHECK(check_pat(a + pmv_off[k], PMV_AREA, PG, 0xa0 + k, 0) == -1);
	CHILD_CHECK(sock_send(sock, 'r') == 0);
	CHILD_CHECK(sock_recv(sock) == 'c');
	for (int k = 0; k < 3; k++)
		CHILD_CHECK(check_pat(a + pmv_off[k], PMV_AREA, PG, 0xa0 + k, 0) == -1);
	fill_pat(a + pmv_off[0], PMV_AREA, PG, 0xa8, 1);
	CHILD_CHECK(sock_send(sock, 'c') == 0);
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

static int resident_pages(char *p, size_t len)
{
	static unsigned char vec[PMV_AREA / PG];
	int n = 0;

	if (len > PMV_AREA || mincore(p, len, vec))
		return -1;
	for (size_t i = 0; i < len / PG; i++)
		n += vec[i] & 1;
	return n;
}

TEST_F_TIMEOUT(walkers, process_madvise_attachment, 180)
{
	int fd, memfd, sv[2], pidfd, selffd, swerr;
	struct mshare_stat st0, st1;
	struct iovec iov[3];
	char *a;
	long r;
	pid_t pid;

	swerr = ramdisk_swapon(swap_dev, sizeof(swap_dev));
	fd = create_anon(_metadata, RGN);
	a = attach(_metadata, fd, RGN, NULL, RW);
	memfd = memfd_sized("walkers-pmv", PMV_AREA);
	ASSERT_LE(0, memfd);
	map_in(_metadata, a + pmv_off[0], PMV_AREA, RW, SHARED_ANON, -1);
	map_in(_metadata, a + pmv_off[1], PMV_AREA, RW, PRIVATE_ANON, -1);
	map_in(_metadata, a + pmv_off[2], PMV_AREA, RW, MAP_SHARED | MAP_FIXED, memfd);
	for (int k = 0; k < 3; k++)
		fill_pat(a + pmv_off[k], PMV_AREA, PG, 0xa0 + k, 0);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		pmv_child(sv[1], a);
	}
	close(sv[1]);
	ASSERT_EQ('r', sock_recv(sv[0]));
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	selffd = syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_LE(0, selffd) TH_LOG("pidfd_open(self): %s", strerror(errno));

	/*
	 * The whole attachment: MADV_COLD acts on the region (since issue
	 * 14), for the other sharer and for us; the attachment and more is
	 * refused.  (MADV_PAGEOUT of a whole attachment: mshare_madvise.)
	 */
	iov[0] = (struct iovec){ a, RGN };
	errno = 0;
	EXPECT_EQ((long)RGN, sys_process_madvise(pidfd, iov, 1, MADV_COLD)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ((long)RGN, sys_process_madvise(selffd, iov, 1, MADV_COLD)) TH_LOG("%s", strerror(errno));
	iov[0] = (struct iovec){ a, RGN + PG };
	MS_EXPECT_ERRNO(EINVAL, sys_process_madvise(pidfd, iov, 1, MADV_PAGEOUT));
	MS_EXPECT_ERRNO(EINVAL, sys_process_madvise(selffd, iov, 1, MADV_COLD));

	/* Inside: MADV_COLD acts and succeeds. */
	for (int k = 0; k < 3; k++)
		iov[k] = (struct iovec){ a + pmv_off[k], PMV_AREA };
	errno = 0;
	r = sys_process_madvise(pidfd, iov, 3, MADV_COLD);
	EXPECT_EQ((long)(3 * PMV_AREA), r) TH_LOG("process_madvise(sharer, inside, MADV_COLD): %s", strerror(errno));
	errno = 0;
	r = sys_process_madvise(selffd, iov, 1, MADV_COLD);
	EXPECT_EQ((long)PMV_AREA, r) TH_LOG("process_madvise(self, inside, MADV_COLD): %s", strerror(errno));
	for (int k = 0; k < 3; k++) {
		EXPECT_EQ(-1, check_pat(a + pmv_off[k], PMV_AREA, PG, 0xa0 + k, 0));
	}

	/* Inside: MADV_PAGEOUT pages the region's pages out (we have swap). */
	EXPECT_EQ(0, swerr) TH_LOG("no swap on a ram disk: %s", strerror(-swerr));
	ASSERT_EQ(0, region_stat(fd, &st0));
	errno = 0;
	r = sys_process_madvise(pidfd, iov, 3, MADV_PAGEOUT);
	EXPECT_EQ((long)(3 * PMV_AREA), r) TH_LOG("process_madvise(sharer, inside, MADV_PAGEOUT): %s", strerror(errno));
	ASSERT_EQ(0, region_stat(fd, &st1));
	TH_LOG("MADV_PAGEOUT of %lu MiB inside: region resident %llu -> %llu kB; resident per mincore %d/%d/%d of %lu",
	       3 * PMV_AREA / MiB, (unsigned long long)st0.resident / KiB,
	       (unsigned long long)st1.resident / KiB,
	       resident_pages(a + pmv_off[0], PMV_AREA), resident_pages(a + pmv_off[1], PMV_AREA),
	       resident_pages(a + pmv_off[2], PMV_AREA), PMV_AREA / PG);
	if (!swerr) {
		EXPECT_GE((long long)st0.resident - (long long)st1.resident, (long long)(3 * PMV_AREA / 2))
			TH_LOG("MADV_PAGEOUT inside did not page the region out");
	}
	/* The data comes back, for both. */
	for (int k = 0; k < 3; k++) {
		EXPECT_EQ(-1, check_pat(a + pmv_off[k], PMV_AREA, PG, 0xa0 + k, 0));
	}
	ASSERT_EQ(0, sock_send(sv[0], 'c'));
	EXPECT_EQ('c', sock_recv(sv[0])) TH_LOG("the sharer's data changed");
	EXPECT_EQ(-1, check_pat(a + pmv_off[0], PMV_AREA, PG, 0xa8, 1));
	/* And once more by ourselves, through our own pidfd. */
	errno = 0;
	r = sys_process_madvise(selffd, &iov[1], 1, MADV_PAGEOUT);
	EXPECT_EQ((long)PMV_AREA, r) TH_LOG("process_madvise(self, inside, MADV_PAGEOUT): %s", strerror(errno));
	EXPECT_EQ(-1, check_pat(a + pmv_off[1], PMV_AREA, PG, 0xa1, 0));

	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "sharer"));
	close(sv[0]);
	close(pidfd);
	close(selffd);
	EXPECT_EQ(0, munmap(a, RGN));
	close(memfd);
	close(fd);
	if (swap_dev[0]) {
		EXPECT_EQ(0, swapoff(swap_dev)) TH_LOG("swapoff: %s", strerror(errno));
		swap_dev[0] = 0;
	}
}

/* ------------------------------------------------------------------------ */
/* 11. userfaultfd */

static int uffd_new(struct __test_metadata *_metadata, uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int ufd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	ASSERT_LE(0, ufd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(ufd, UFFDIO_API, &api))
		TH_LOG("UFFDIO_API features %#llx: %s", (unsigned long long)features, strerror(errno));
	return ufd;
}

static int uffd_register(int ufd, void *p, size_t len, uint64_t mode)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = mode,
	};

	return ioctl(ufd, UFFDIO_REGISTER, &reg);
}

TEST_F_TIMEOUT(walkers, userfaultfd_refused, 60)
{
	int fd, u1, u2;
	char *a, *own;

	knob_set("/proc/sys/vm/unprivileged_userfaultfd", "1");
	fd = create_anon(_metadata, RGN);
	a = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, a + 2 * MiB, 2 * MiB, RW, SHARED_ANON, -1);
	map_in(_metadata, a + 6 * MiB, 2 * MiB, RW, PRIVATE_ANON, -1);
	fill_pat(a + 2 * MiB, 2 * MiB, PG, 0xb0, 0);
	fill_pat(a + 6 * MiB, 2 * MiB, PG, 0xb1, 0);

	u1 = uffd_new(_metadata, 0);
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u1, a, RGN, UFFDIO_REGISTER_MODE_MISSING));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u1, a + 2 * MiB, 2 * MiB, UFFDIO_REGISTER_MODE_MISSING));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u1, a + 6 * MiB, PG, UFFDIO_REGISTER_MODE_MISSING));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u1, a + 32 * MiB, 2 * MiB, UFFDIO_REGISTER_MODE_MISSING));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u1, a, RGN, UFFDIO_REGISTER_MODE_WP));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u1, a + 2 * MiB, 2 * MiB, UFFDIO_REGISTER_MODE_WP));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u1, a + 6 * MiB, 2 * MiB, UFFDIO_REGISTER_MODE_WP));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u1, a + 6 * MiB, 2 * MiB,
					   UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP));

	u2 = uffd_new(_metadata, UFFD_FEATURE_WP_ASYNC);
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u2, a, RGN, UFFDIO_REGISTER_MODE_WP));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u2, a + 2 * MiB, 2 * MiB, UFFDIO_REGISTER_MODE_WP));
	MS_EXPECT_ERRNO(EINVAL, uffd_register(u2, a + 6 * MiB, 2 * MiB, UFFDIO_REGISTER_MODE_WP));

	/* Control: our own memory registers, in every mode. */
	own = mmap(NULL, 4 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, own);
	EXPECT_EQ(0, uffd_register(u1, own, 2 * MiB, UFFDIO_REGISTER_MODE_MISSING))
		TH_LOG("control MISSING: %s", strerror(errno));
	EXPECT_EQ(0, uffd_register(u2, own + 2 * MiB, 2 * MiB, UFFDIO_REGISTER_MODE_WP))
		TH_LOG("control WP_ASYNC: %s", strerror(errno));
	close(u1);
	close(u2);

	/* The region works as before. */
	EXPECT_EQ(-1, check_pat(a + 2 * MiB, 2 * MiB, PG, 0xb0, 0));
	EXPECT_EQ(-1, check_pat(a + 6 * MiB, 2 * MiB, PG, 0xb1, 0));
	fill_pat(a + 2 * MiB, 2 * MiB, PG, 0xb2, 1);
	EXPECT_EQ(-1, check_pat(a + 2 * MiB, 2 * MiB, PG, 0xb2, 1));
	EXPECT_EQ(1, maps_count((unsigned long)a, (unsigned long)a + RGN));
	EXPECT_EQ(0, munmap(own, 4 * MiB));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 12. core dumps */

#define CD_OFF		(4 * MiB)
#define CD_LEN		(64 * KiB)

static unsigned char cd_byte(unsigned int tag, size_t i)
{
	return (unsigned char)((i * 131 + (i >> 12) * 17) ^ tag);
}

static void core_case(struct __test_metadata *_metadata, bool named)
{
	char name[64], core[64];
	unsigned char *buf;
	int fd, cfd, status;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	bool found = false;
	unsigned int tag = named ? 0x5c : 0xc5;
	char *a;
	pid_t pid;

	snprintf(name, sizeof(name), "walkers-core-%d", getpid());
	fd = named ? create_named(_metadata, name, RGN) : create_anon(_metadata, RGN);
	a = attach(_metadata, fd, RGN, NULL, RW);
	map_in(_metadata, a + CD_OFF, CD_LEN, RW, SHARED_ANON, -1);
	for (size_t i = 0; i < CD_LEN; i++)
		((unsigned char *)a)[CD_OFF + i] = cd_byte(tag, i);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		CHILD_CHECK(setrlimit(RLIMIT_CORE, &rl) == 0);
		CHILD_CHECK(((unsigned char *)a)[CD_OFF + 1] == cd_byte(tag, 1));
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
		TH_LOG("%s region: the child did not die of SIGABRT (status %#x)",
		       named ? "named" : "anonymous", status);
	snprintf(core, sizeof(core), "/tmp/core.%d", pid);
	EXPECT_TRUE(WCOREDUMP(status)) TH_LOG("no core dumped (status %#x)", status);
	cfd = open(core, O_RDONLY);
	ASSERT_LE(0, cfd) TH_LOG("open(%s): %s", core, strerror(errno));
	ASSERT_EQ((ssize_t)sizeof(eh), pread(cfd, &eh, sizeof(eh), 0));
	ASSERT_EQ(0, memcmp(eh.e_ident, ELFMAG, SELFMAG));
	ASSERT_EQ(ET_CORE, eh.e_type);
	for (int i = 0; i < eh.e_phnum && !found; i++) {
		ASSERT_EQ((ssize_t)sizeof(ph), pread(cfd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)));
		found = ph.p_type == PT_LOAD && ph.p_vaddr == (uintptr_t)a;
	}
	ASSERT_TRUE(found) TH_LOG("%s region: no PT_LOAD at the attachment %p in %s",
				  named ? "named" : "anonymous", a, core);
	TH_LOG("%s region: PT_LOAD at %p: p_memsz %#llx, p_filesz %#llx, p_offset %#llx",
	       named ? "named" : "anonymous", a, (unsigned long long)ph.p_memsz,
	       (unsigned long long)ph.p_filesz, (unsigned long long)ph.p_offset);
	EXPECT_EQ(RGN, ph.p_memsz);
	EXPECT_GE(ph.p_filesz, CD_OFF + CD_LEN) TH_LOG("the dump does not cover the region's data");
	if (ph.p_filesz >= CD_OFF + CD_LEN) {
		size_t bad = 0, first = 0;

		buf = malloc(CD_LEN);
		ASSERT_NE(NULL, buf);
		ASSERT_EQ((ssize_t)CD_LEN, pread(cfd, buf, CD_LEN, ph.p_offset + CD_OFF));
		for (size_t i = 0; i < CD_LEN; i++)
			if (buf[i] != cd_byte(tag, i) && !bad++)
				first = i;
		EXPECT_EQ(0, bad) TH_LOG("%zu bytes of the region's data wrong in the core, first at %#zx: %#x",
					 bad, first, buf[first]);
		free(buf);
	}
	close(cfd);
	unlink(core);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	if (named)
		unlink_named(name);
}

TEST_F_TIMEOUT(walkers, core_dump_has_region, 240)
{
	char filter[32] = "";

	ASSERT_EQ(0, knob_set("/proc/sys/kernel/core_pattern", "/tmp/core.%p"));
	read_first_line("/proc/self/coredump_filter", filter, sizeof(filter));
	TH_LOG("coredump_filter %s", filter);
	core_case(_metadata, false);
	core_case(_metadata, true);
}

/* ------------------------------------------------------------------------ */
/* 13. mremap */

TEST_F_TIMEOUT(walkers, mremap_refused, 60)
{
	int fd = create_anon(_metadata, RGN);
	char *a = attach(_metadata, fd, RGN, NULL, RW), *own, *far, *p;

	map_in(_metadata, a + 2 * MiB, 2 * MiB, RW, PRIVATE_ANON, -1);
	map_in(_metadata, a + 8 * MiB, 2 * MiB, RW, SHARED_ANON, -1);
	fill_pat(a + 2 * MiB, 2 * MiB, PG, 0xd0, 0);
	fill_pat(a + 8 * MiB, 2 * MiB, PG, 0xd1, 0);
	far = ADDR_C + 4 * RGN;
	ASSERT_EQ(0, maps_count((unsigned long)far, (unsigned long)far + RGN));

	/* Strictly inside. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 2 * MiB, 2 * MiB, 4 * MiB, MREMAP_MAYMOVE));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 2 * MiB, 2 * MiB, 1 * MiB, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 2 * MiB, 1 * MiB, 2 * MiB, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 2 * MiB, 2 * MiB, 2 * MiB,
					MREMAP_MAYMOVE | MREMAP_FIXED, a + 16 * MiB));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 2 * MiB, 2 * MiB, 2 * MiB,
					MREMAP_MAYMOVE | MREMAP_FIXED, far));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 2 * MiB, 2 * MiB, 2 * MiB,
					MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 8 * MiB, 2 * MiB, 4 * MiB, MREMAP_MAYMOVE));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 8 * MiB, 0, 2 * MiB, MREMAP_MAYMOVE));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 8 * MiB, 2 * MiB, 2 * MiB,
					MREMAP_MAYMOVE | MREMAP_FIXED, far));
	/* A hole inside. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a + 32 * MiB, 2 * MiB, 4 * MiB, MREMAP_MAYMOVE));

	/* The whole attachment. */
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a, RGN, 2 * RGN, MREMAP_MAYMOVE));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a, RGN, RGN / 2, 0));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a, RGN, RGN, MREMAP_MAYMOVE | MREMAP_FIXED, far));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a, RGN, RGN, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
	MS_EXPECT_MAP_ERRNO(EINVAL, mremap(a, 0, RGN, MREMAP_MAYMOVE));

	/* Control: the same calls on our own memory work. */
	own = mmap(NULL, 2 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, own);
	fill_pat(own, 2 * MiB, PG, 0xd2, 0);
	p = mremap(own, 2 * MiB, 4 * MiB, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("control mremap grow: %s", strerror(errno));
	p = mremap(p, 4 * MiB, 2 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED, far);
	ASSERT_EQ(far, p) TH_LOG("control mremap move: %s", strerror(errno));
	EXPECT_EQ(-1, check_pat(p, 2 * MiB, PG, 0xd2, 0));
	EXPECT_EQ(0, munmap(p, 2 * MiB));

	/* Nothing changed. */
	EXPECT_TRUE(maps_has_exact((unsigned long)a, (unsigned long)a + RGN));
	EXPECT_EQ(1, maps_count((unsigned long)a, (unsigned long)a + RGN));
	EXPECT_EQ(0, maps_count((unsigned long)far, (unsigned long)far + RGN));
	EXPECT_EQ(-1, check_pat(a + 2 * MiB, 2 * MiB, PG, 0xd0, 0));
	EXPECT_EQ(-1, check_pat(a + 8 * MiB, 2 * MiB, PG, 0xd1, 0));
	EXPECT_FALSE(probe(a + 16 * MiB, false)) TH_LOG("a hole of the region became readable");
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* 14. mlockall */

#define ML_SHARED	(4 * MiB)	/* at 2 MiB */
#define ML_PRIV		(2 * MiB)	/* at 16 MiB */

struct ml_report {
	int rc, err;
	long att_locked, att_lo, own_locked, own_lo, vmlck, rollup_locked;
	long mlocked0, mlocked1, mlocked2;
	char *own;
};

static void mlockall_child(int sock, char *a)
{
	struct ml_report rep = { 0 };

	rep.own = mmap(NULL, 2 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(rep.own != MAP_FAILED);
	CHILD_CHECK(check_pat(a + 2 * MiB, ML_SHARED, PG, 0xe0, 0) == -1);
	CHILD_CHECK(check_pat(a + 16 * MiB, ML_PRIV, PG, 0xe1, 0) == -1);
	rep.mlocked0 = meminfo_kb("Mlocked");
	errno = 0;
	rep.rc = mlockall(MCL_CURRENT | MCL_FUTURE);
	rep.err = errno;
	rep.mlocked1 = meminfo_kb("Mlocked");
	rep.att_locked = smaps_kb(0, a, "Locked");
	rep.att_lo = smaps_has_flag(0, a, "lo");
	rep.own_locked = smaps_kb(0, rep.own, "Locked");
	rep.own_lo = smaps_has_flag(0, rep.own, "lo");
	rep.vmlck = kv_kb(0, "status", "VmLck");
	rep.rollup_locked = kv_kb(0, "smaps_rollup", "Locked");
	CHILD_CHECK(send_exact(sock, &rep, sizeof(rep)));
	/* The region goes on: the parent writes, we check and write. */
	CHILD_CHECK(sock_recv(sock) == 'w');
	CHILD_CHECK(check_pat(a + 2 * MiB, ML_SHARED, PG, 0xe2, 1) == -1);
	fill_pat(a + 16 * MiB, ML_PRIV, PG, 0xe3, 1);
	errno = 0;
	rep.rc = munlockall();
	rep.err = errno;
	rep.mlocked2 = meminfo_kb("Mlocked");
	rep.att_lo = smaps_has_flag(0, a, "lo");
	rep.own_lo = smaps_has_flag(0, rep.own, "lo");
	CHILD_CHECK(send_exact(sock, &rep, sizeof(rep)));
	CHILD_CHECK(sock_recv(sock) == 'q');
	_exit(0);
}

TEST_F_TIMEOUT(walkers, mlockall_leaves_attachment, 180)
{
	int fd = create_anon(_metadata, RGN), sv[2];
	char *a = attach(_metadata, fd, RGN, NULL, RW);
	struct ml_report rep;
	pid_t pid;

	map_in(_metadata, a + 2 * MiB, ML_SHARED, RW, SHARED_ANON, -1);
	map_in(_metadata, a + 16 * MiB, ML_PRIV, RW, PRIVATE_ANON, -1);
	fill_pat(a + 2 * MiB, ML_SHARED, PG, 0xe0, 0);
	fill_pat(a + 16 * MiB, ML_PRIV, PG, 0xe1, 0);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		mlockall_child(sv[1], a);
	}
	close(sv[1]);
	ASSERT_TRUE(recv_exact(sv[0], &rep, sizeof(rep))) TH_LOG("the mlockall child failed");
	TH_LOG("mlockall = %d (%s); attachment Locked %ld kB lo %ld; own Locked %ld kB lo %ld; VmLck %ld kB; rollup Locked %ld kB; Mlocked %ld -> %ld kB",
	       rep.rc, strerror(rep.err), rep.att_locked, rep.att_lo, rep.own_locked, rep.own_lo,
	       rep.vmlck, rep.rollup_locked, rep.mlocked0, rep.mlocked1);
	EXPECT_EQ(0, rep.rc);
	EXPECT_EQ(0, rep.att_locked);
	EXPECT_EQ(0, rep.att_lo) TH_LOG("the attachment VMA is marked locked");
	EXPECT_LT(rep.vmlck, (long)(RGN / KiB / 2)) TH_LOG("VmLck counts the attachment");
	/* Control: the sharer's own memory is locked. */
	EXPECT_EQ(2048, rep.own_locked);
	EXPECT_EQ(1, rep.own_lo);
	/* The region's pages were not mlocked. */
	EXPECT_LT(rep.mlocked1 - rep.mlocked0 - rep.rollup_locked, (long)((ML_SHARED + ML_PRIV) / KiB / 2))
		TH_LOG("Mlocked grew by %ld kB, the sharer's own locked memory is %ld kB",
		       rep.mlocked1 - rep.mlocked0, rep.rollup_locked);

	EXPECT_EQ(-1, check_pat(a + 16 * MiB, ML_PRIV, PG, 0xe1, 0));
	fill_pat(a + 2 * MiB, ML_SHARED, PG, 0xe2, 1);
	ASSERT_EQ(0, sock_send(sv[0], 'w'));
	ASSERT_TRUE(recv_exact(sv[0], &rep, sizeof(rep))) TH_LOG("the mlockall child failed after mlockall");
	EXPECT_EQ(0, rep.rc) TH_LOG("munlockall: %s", strerror(rep.err));
	EXPECT_EQ(0, rep.att_lo);
	EXPECT_EQ(0, rep.own_lo);
	EXPECT_LE(rep.mlocked2 - rep.mlocked0, 512) TH_LOG("Mlocked %ld kB after munlockall, %ld before mlockall",
							  rep.mlocked2, rep.mlocked0);
	EXPECT_EQ(-1, check_pat(a + 16 * MiB, ML_PRIV, PG, 0xe3, 1));
	ASSERT_EQ(0, sock_send(sv[0], 'q'));
	EXPECT_TRUE(child_ok(pid, "mlockall sharer"));
	close(sv[0]);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
}

TEST_HARNESS_MAIN

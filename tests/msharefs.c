// SPDX-License-Identifier: GPL-2.0
/*
 * msharefs: names, permissions, stats and the ioctls of mshare regions
 * (include/uapi/linux/msharefs.h).
 *
 *  - the filesystem: statfs magic, mshare_info, root mode 1777, a second
 *    mount shows the same names
 *  - creating by name: size 0 until ftruncate()/fallocate() sets it, once;
 *    refusals before the size is set; mkstemp(); EEXIST, ENOENT, opening an
 *    existing name gives the same region
 *  - opening by name obeys mode and owner (uid 1000, 65534); a read-only fd
 *    attaches PROT_READ only and may not change the region; the root's
 *    sticky bit; MSHAREFS_LINK and O_CREAT need write permission on it
 *  - unlink() removes only the name: sharers and fd holders go on, the name
 *    can be reused, memory returns at the end; the name alone keeps a
 *    region; rename() and link(); write() gives EINVAL
 *  - MSHAREFS_LINK names an mshare_create() region: mode, umask, owner,
 *    same data through the name; EEXIST, EINVAL; linkat() gives EXDEV
 *  - MSHAREFS_GET_STAT and read(): attachments and processes across
 *    processes (and fork), mappings, resident, pgtable, pgtable_saved (the
 *    tables each attachment would need for what the test populated, summed,
 *    less pgtable); the text agrees and has a "pids:" line
 *  - the mainline (mshare v3) program: MSHAREFS_CREATE_MAPPING of shared
 *    anonymous memory, a memfd at an offset and hugetlb; two processes see
 *    each other's writes; MSHAREFS_UNMAP gives a sharer SIGSEGV; a daemon
 *    builds a region without attaching, a client attaches by name
 *  - 200 create/map/unlink cycles (and 50 of naming mshare_create()
 *    regions) and 200 refusals leak no fd, memory or name
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/msharefs.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define MSFS		"/sys/fs/mshare"
#define PFX		"kst-"		/* every name this test makes */
#define NAME(n)		MSFS "/" PFX n
#define M2		"/tmp/kst-msharefs-m2"
#define UID_USER	1000
#define UID_NOBODY	65534

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#endif

/* ------------------------------------------------------------------------ */
/* The ioctls. */

static int mc_create(int fd, uint64_t roff, uint64_t size, uint64_t off,
		     uint32_t prot, uint32_t flags, int mfd)
{
	struct mshare_create mc = {
		.region_offset = roff, .size = size, .offset = off,
		.prot = prot, .flags = flags, .fd = (uint32_t)mfd,
	};

	return ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc);
}

/* Shared anonymous memory, the way this header allows (fd -1 only). */
static int mc_anon(int fd, uint64_t roff, uint64_t size)
{
	return mc_create(fd, roff, size, 0, RW, MAP_SHARED | MAP_FIXED, -1);
}

static int mc_unmap(int fd, uint64_t roff, uint64_t size)
{
	struct mshare_unmap mu = { .region_offset = roff, .size = size };

	return ioctl(fd, MSHAREFS_UNMAP, &mu);
}

static int ms_link(int fd, const char *name, uint32_t mode)
{
	struct mshare_link ml;

	memset(&ml, 0, sizeof(ml));
	ml.mode = mode;
	memcpy(ml.name, name, strnlen(name, sizeof(ml.name) - 1));
	return ioctl(fd, MSHAREFS_LINK, &ml);
}

static int ms_getstat(int fd, struct mshare_stat *st)
{
	memset(st, 0xa5, sizeof(*st));
	return ioctl(fd, MSHAREFS_GET_STAT, st);
}

/* ------------------------------------------------------------------------ */
/* Helpers. */

static bool is_msharefs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == MSHAREFS_MAGIC;
}

static bool fs_registered(const char *name)
{
	FILE *f = fopen("/proc/filesystems", "r");
	char line[128];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, '\t');

		p = p ? p + 1 : line;
		p[strcspn(p, "\n")] = 0;
		if (!strcmp(p, name))
			found = true;
	}
	fclose(f);
	return found;
}

/* Unlink every name of @dir that starts with PFX; how many there were. */
static int remove_ours(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, PFX, strlen(PFX)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
		n++;
	}
	closedir(d);
	return n;
}

/* Entries of @dir, "." and ".." not counted; -1 if it cannot be read. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The names of @dir, sorted and joined by '/', into @buf. */
static void dir_names(const char *dir, char *buf, size_t len)
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);
	size_t used = 0;

	buf[0] = 0;
	if (n < 0) {
		snprintf(buf, len, "<scandir: %s>", strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..") &&
		    used < len)
			used += snprintf(buf + used, len - used, "%s/", list[i]->d_name);
		free(list[i]);
	}
	free(list);
}

/* Everything read() gives from where @fd is, NUL-terminated; -1 on error. */
static ssize_t read_text(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n < len - 1) {
		ssize_t r = read(fd, buf + n, len - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = 0;
	return n;
}

/* Open a new region by name (O_EXCL), size it if @size; must succeed. */
static int named(struct __test_metadata *_metadata, const char *path,
		 size_t size, mode_t mode)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, mode);

	ASSERT_LE(0, fd) TH_LOG("open(%s, O_CREAT|O_EXCL): %s", path, strerror(errno));
	if (size) {
		ASSERT_EQ(0, ftruncate(fd, size)) TH_LOG("ftruncate(%s, %#zx): %s",
							 path, size, strerror(errno));
	}
	return fd;
}

static char *attach(struct __test_metadata *_metadata, int fd, size_t size,
		    int prot)
{
	char *p = ms_attach(fd, size, NULL, prot, 0);

	ASSERT_NE(NULL, p) TH_LOG("attach %#zx: %s", size, strerror(errno));
	ASSERT_EQ(0, (uintptr_t)p % RGN) TH_LOG("attachment at %p", p);
	return p;
}

/* A memfd of @len bytes whose page i holds pat(tag, i) in word 0. */
static int memfd_pat(struct __test_metadata *_metadata, size_t len, uint64_t tag)
{
	int fd = memfd_sized("msharefs-test", len);
	char *buf;

	ASSERT_LE(0, fd);
	buf = calloc(1, len);
	ASSERT_NE(NULL, buf);
	for (size_t o = 0; o < len; o += PG)
		*(uint64_t *)(buf + o) = pat(tag, o / PG);
	ASSERT_EQ((ssize_t)len, pwrite(fd, buf, len, 0));
	free(buf);
	return fd;
}

/* For child_status(): a write that may kill. */
static void touch_word(void *p)
{
	*(volatile uint64_t *)p = 1;
}

/* fork() a child that runs as @id:@id with no supplementary groups. */
static pid_t fork_as(uid_t id)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
		if (setgroups(0, NULL) || setgid(id) || setuid(id)) {
			fprintf(stderr, "# child: cannot become %u: %s\n", id, strerror(errno));
			_exit(99);
		}
	}
	return pid;
}

/* fork() a child that stays root. */
static pid_t fork_root(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
	}
	return pid;
}

/* Either of two errnos (where the brief allows both). */
#define EXPECT_ERRNO2(err1, err2, call) do { \
	long _r; \
	int _e; \
	errno = 0; \
	_r = (long)(call); \
	_e = errno; \
	EXPECT_EQ(-1, _r) TH_LOG("%s succeeded", #call); \
	EXPECT_TRUE(_e == (err1) || _e == (err2)) \
		TH_LOG("%s: %s, expected %s or %s", #call, strerror(_e), \
		       strerror(err1), strerror(err2)); \
} while (0)

#define EXPECT_MAP_ERRNO(err, call) do { \
	void *_p; \
	errno = 0; \
	_p = (call); \
	EXPECT_EQ(MAP_FAILED, _p) TH_LOG("%s succeeded at %p", #call, _p); \
	EXPECT_EQ(err, errno) TH_LOG("%s: %s, expected %s", #call, \
				     strerror(errno), strerror(err)); \
	if (_p != MAP_FAILED) \
		munmap(_p, RGN); \
} while (0)

/* In a forked child: a call that must fail with @err. */
#define CHILD_ERRNO(err, call) do { \
	long _r; \
	errno = 0; \
	_r = (long)(call); \
	if (_r != -1 || errno != (err)) { \
		fprintf(stderr, "# child %d: %s:%d: %s gave %ld (%s), expected %s\n", \
			getpid(), __FILE__, __LINE__, #call, _r, \
			_r == -1 ? strerror(errno) : "success", strerror(err)); \
		_exit(1); \
	} \
} while (0)

/* ------------------------------------------------------------------------ */
/* The text of read(). */

enum { T_SIZE, T_ATT, T_MAPPINGS, T_RES, T_PGT, T_SAVED, T_PROCS, T_N };
static const char *const tkeys[T_N] = {
	"size", "attachments", "mappings", "resident", "pgtable", "pgtable_saved",
	"processes",
};

struct tstat {
	unsigned long long v[T_N];
	bool have[T_N];
	int maplines;
	int pidlines;		/* "pids:" lines */
	bool pids_late;		/* a "pids:" line after a "mapping:" line */
};

static void parse_text(const char *buf, struct tstat *t)
{
	const char *line = buf;

	memset(t, 0, sizeof(*t));
	while (*line) {
		const char *eol = strchrnul(line, '\n');
		const char *p = line;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "mapping:", 8)) {
			t->maplines++;
		} else if (!strncmp(p, "pids:", 5)) {
			t->pidlines++;
			t->pids_late |= t->maplines > 0;
		} else {
			for (int k = 0; k < T_N; k++) {
				size_t kl = strlen(tkeys[k]);

				if (!strncmp(p, tkeys[k], kl) && p[kl] == ':') {
					t->v[k] = strtoull(p + kl + 1, NULL, 0);
					t->have[k] = true;
				}
			}
		}
		line = *eol ? eol + 1 : eol;
	}
}

/*
 * read() all of @fd (from its current position, normally 0) and check it
 * against @st: the required keys equal, "mappings" if present equal, one
 * "pids:" line before at least one "mapping:" line per mapping.
 */
static void check_text(struct __test_metadata *_metadata, int fd,
		       const struct mshare_stat *st, const char *what)
{
	static char buf[65536];
	const unsigned long long want[T_N] = {
		st->size, st->attachments, st->mappings, st->resident,
		st->pgtable, st->pgtable_saved, st->processes,
	};
	struct tstat t;
	ssize_t n = read_text(fd, buf, sizeof(buf));

	ASSERT_LT(0, n) TH_LOG("%s: read() of the region fd: %s", what,
			       n < 0 ? strerror(errno) : "nothing");
	parse_text(buf, &t);
	for (int k = 0; k < T_N; k++) {
		if (k == T_MAPPINGS && !t.have[k])
			continue;	/* optional in the text */
		EXPECT_TRUE(t.have[k]) TH_LOG("%s: no \"%s:\" line in:\n%s", what, tkeys[k], buf);
		if (t.have[k]) {
			EXPECT_EQ(want[k], t.v[k]) TH_LOG("%s: \"%s:\" reads %llu, GET_STAT %llu; text:\n%s",
							  what, tkeys[k], t.v[k], want[k], buf);
		}
	}
	EXPECT_LE((long long)st->mappings, (long long)t.maplines)
		TH_LOG("%s: %llu mappings but %d \"mapping:\" lines:\n%s", what,
		       (unsigned long long)st->mappings, t.maplines, buf);
	EXPECT_EQ(1, t.pidlines) TH_LOG("%s: %d \"pids:\" lines:\n%s", what, t.pidlines, buf);
	EXPECT_FALSE(t.pids_late) TH_LOG("%s: \"pids:\" after the mappings:\n%s", what, buf);
}

/* ------------------------------------------------------------------------ */

FIXTURE(msharefs) {
	bool root_changed;	/* the test chmod()ed the msharefs root */
	bool m2_mounted;
};

FIXTURE_SETUP(msharefs)
{
	self->root_changed = false;
	self->m2_mounted = false;
	umask(022);
	if (!is_msharefs(MSFS)) {
		struct stat st;
		int r = mount("none", MSFS, "msharefs", 0, NULL);
		int err = errno;

		ASSERT_EQ(0, r) TH_LOG("msharefs is not mounted at " MSFS " and mount() failed: %s (%s %s; msharefs %s in /proc/filesystems)",
				       strerror(err), MSFS,
				       stat(MSFS, &st) ? "does not exist" : "exists",
				       fs_registered("msharefs") ? "is" : "is not");
		ASSERT_TRUE(is_msharefs(MSFS)) TH_LOG("mounted, but statfs(" MSFS ") is not MSHAREFS_MAGIC");
	}
	/* Names left over by an earlier test that died. */
	remove_ours(MSFS);
}

FIXTURE_TEARDOWN_PARENT(msharefs)
{
	if (self->root_changed)
		chmod(MSFS, 01777);
	if (self->m2_mounted)
		umount2(M2, MNT_DETACH);
	remove_ours(MSFS);
}

/* ------------------------------------------------------------------------ */
/* 1. The filesystem. */

TEST_F(msharefs, filesystem)
{
	char buf[64], names1[4096], names2[4096];
	struct stat st, st1, st2;
	struct statfs sfs;
	int fd, fd2;
	ssize_t n;

	ASSERT_EQ(0, statfs(MSFS, &sfs));
	EXPECT_EQ(MSHAREFS_MAGIC, (unsigned long)sfs.f_type);

	ASSERT_EQ(0, stat(MSFS, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(01777, st.st_mode & 07777) TH_LOG("root mode %#o", st.st_mode & 07777);

	fd = open(MSFS "/mshare_info", O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open mshare_info: %s", strerror(errno));
	n = read_text(fd, buf, sizeof(buf));
	EXPECT_STREQ("1073741824\n", buf) TH_LOG("mshare_info read %zd bytes", n);
	close(fd);

	/* A second mount: the same names, both ways. */
	fd = named(_metadata, NAME("mnt-a"), RGN, 0600);
	close(fd);
	ASSERT_TRUE(mkdir(M2, 0755) == 0 || errno == EEXIST);
	ASSERT_EQ(0, mount("none", M2, "msharefs", 0, NULL)) TH_LOG("second mount: %s", strerror(errno));
	self->m2_mounted = true;
	EXPECT_TRUE(is_msharefs(M2));
	ASSERT_EQ(0, stat(M2, &st));
	EXPECT_EQ(01777, st.st_mode & 07777) TH_LOG("second mount: root mode %#o", st.st_mode & 07777);

	ASSERT_EQ(0, stat(NAME("mnt-a"), &st1));
	ASSERT_EQ(0, stat(M2 "/" PFX "mnt-a", &st2)) TH_LOG("the second mount does not show a name: %s", strerror(errno));
	EXPECT_EQ(st1.st_ino, st2.st_ino);
	EXPECT_EQ(st1.st_dev, st2.st_dev);
	EXPECT_EQ((off_t)RGN, st2.st_size);

	fd2 = open(M2 "/" PFX "mnt-b", O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd2) TH_LOG("create in the second mount: %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(fd2, RGN));
	ASSERT_EQ(0, stat(NAME("mnt-b"), &st1)) TH_LOG("the first mount does not show a name made in the second: %s", strerror(errno));
	EXPECT_EQ((off_t)RGN, st1.st_size);

	fd = open(M2 "/mshare_info", O_RDONLY);
	ASSERT_LE(0, fd);
	read_text(fd, buf, sizeof(buf));
	EXPECT_STREQ("1073741824\n", buf);
	close(fd);

	dir_names(MSFS, names1, sizeof(names1));
	dir_names(M2, names2, sizeof(names2));
	EXPECT_STREQ(names1, names2);
	EXPECT_NE(NULL, strstr(names1, "mshare_info/"));
	EXPECT_NE(NULL, strstr(names1, PFX "mnt-a/"));
	EXPECT_NE(NULL, strstr(names1, PFX "mnt-b/"));

	ASSERT_EQ(0, unlink(M2 "/" PFX "mnt-a"));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("mnt-a"), &st1));
	ASSERT_EQ(0, unlink(NAME("mnt-b")));
	MS_EXPECT_ERRNO(ENOENT, stat(M2 "/" PFX "mnt-b", &st1));
	close(fd2);

	EXPECT_EQ(0, umount(M2)) TH_LOG("umount of the second mount: %s", strerror(errno));
	self->m2_mounted = false;
	rmdir(M2);
	/* The first mount is unaffected. */
	EXPECT_TRUE(is_msharefs(MSFS));
	EXPECT_EQ(0, stat(MSFS "/mshare_info", &st));
}

/* ------------------------------------------------------------------------ */
/* 2. Creating by name. */

TEST_F(msharefs, create_sets_size_once)
{
	struct stat st;
	int fd, fd2;

	fd = open(NAME("size"), O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd) TH_LOG("create by name: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_TRUE(S_ISREG(st.st_mode)) TH_LOG("mode %#o", st.st_mode);
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0u, st.st_uid);
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);

	ASSERT_EQ(0, ftruncate(fd, RGN)) TH_LOG("ftruncate 1 GiB: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	ASSERT_EQ(0, stat(NAME("size"), &st));
	EXPECT_EQ((off_t)RGN, st.st_size);

	EXPECT_ERRNO2(EBUSY, EINVAL, ftruncate(fd, 2 * RGN));
	EXPECT_ERRNO2(EBUSY, EINVAL, ftruncate(fd, 0));
	EXPECT_ERRNO2(EBUSY, EINVAL, truncate(NAME("size"), 2 * RGN));
	EXPECT_EQ(0, ftruncate(fd, RGN)) TH_LOG("ftruncate to the same size: %s", strerror(errno));
	EXPECT_ERRNO2(EBUSY, EINVAL, fallocate(fd, 0, 0, 2 * RGN));

	/* Through another fd of the same name too. */
	fd2 = open(NAME("size"), O_RDWR);
	ASSERT_LE(0, fd2);
	EXPECT_ERRNO2(EBUSY, EINVAL, ftruncate(fd2, 2 * RGN));
	EXPECT_EQ(0, ftruncate(fd2, RGN));
	ASSERT_EQ(0, fstat(fd2, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	close(fd2);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	close(fd);

	/* A 2 GiB region. */
	fd = named(_metadata, NAME("size2"), 2 * RGN, 0600);
	ASSERT_EQ(0, stat(NAME("size2"), &st));
	EXPECT_EQ((off_t)(2 * RGN), st.st_size);
	close(fd);
	EXPECT_EQ(0, unlink(NAME("size2")));
	EXPECT_EQ(0, unlink(NAME("size")));
}

TEST_F(msharefs, size_refusals_on_fresh_region)
{
	const off_t bad[] = { 0, PG, 2 * MiB, RGN - PG, RGN + PG, RGN / 2, 3 * RGN / 2 };
	struct mshare_stat ms;
	struct stat st;
	int fd = named(_metadata, NAME("fresh"), 0, 0600);

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(-1, ftruncate(fd, bad[i])) TH_LOG("ftruncate(%#lx) succeeded", (long)bad[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("ftruncate(%#lx): %s", (long)bad[i], strerror(errno));
		if (bad[i]) {
			errno = 0;
			EXPECT_EQ(-1, fallocate(fd, 0, 0, bad[i])) TH_LOG("fallocate(%#lx) succeeded", (long)bad[i]);
			EXPECT_EQ(EINVAL, errno) TH_LOG("fallocate(%#lx): %s", (long)bad[i], strerror(errno));
		}
	}
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	/* O_TRUNC is a no-op here too. */
	{
		int fdt = open(NAME("fresh"), O_RDWR | O_TRUNC);

		EXPECT_LE(0, fdt) TH_LOG("O_TRUNC of a fresh region: %s", strerror(errno));
		if (fdt >= 0)
			close(fdt);
	}

	/* Before a size is set: no attaching, no mappings. */
	EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, RGN, RW, MAP_SHARED, fd, 0));
	EXPECT_MAP_ERRNO(EINVAL, mmap(NULL, RGN, PROT_READ, MAP_SHARED, fd, 0));
	MS_EXPECT_ERRNO(EINVAL, mc_anon(fd, 0, 2 * MiB));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 0, 2 * MiB, 0, RW,
				       MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS, -1));
	ASSERT_EQ(0, ms_getstat(fd, &ms)) TH_LOG("GET_STAT of an unsized region: %s", strerror(errno));
	EXPECT_EQ(0u, ms.size);
	EXPECT_EQ(0u, ms.attachments);
	EXPECT_EQ(0u, ms.mappings);
	EXPECT_EQ(0u, ms.pgtable_saved);

	/* After all that, the size can still be set, and then used. */
	EXPECT_EQ(0, ftruncate(fd, RGN)) TH_LOG("ftruncate after refusals: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	EXPECT_EQ(0, mc_anon(fd, RGN - 2 * MiB, 2 * MiB)) TH_LOG("CREATE_MAPPING once sized: %s", strerror(errno));
	char *a = attach(_metadata, fd, RGN, RW);

	a[RGN - PG] = 7;
	EXPECT_EQ(7, a[RGN - PG]);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	EXPECT_EQ(0, unlink(NAME("fresh")));
}

TEST_F(msharefs, fallocate_sets_size)
{
	struct stat st;
	int fd = named(_metadata, NAME("falloc"), 0, 0600);
	char *a;

	ASSERT_EQ(0, fallocate(fd, 0, 0, RGN)) TH_LOG("fallocate 1 GiB: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	ASSERT_EQ(0, stat(NAME("falloc"), &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	EXPECT_ERRNO2(EBUSY, EINVAL, fallocate(fd, 0, 0, 2 * RGN));
	EXPECT_ERRNO2(EBUSY, EINVAL, ftruncate(fd, 2 * RGN));
	EXPECT_EQ(0, ftruncate(fd, RGN));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);

	ASSERT_EQ(0, mc_anon(fd, 0, 2 * MiB)) TH_LOG("CREATE_MAPPING: %s", strerror(errno));
	a = attach(_metadata, fd, RGN, RW);
	a[PG] = 3;
	EXPECT_EQ(3, a[PG]);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	EXPECT_EQ(0, unlink(NAME("falloc")));
}

TEST_F(msharefs, mkstemp_works)
{
	char path[] = MSFS "/tmpXXXXXX";
	struct stat st;
	int fd = mkstemp(path);
	char *a;

	ASSERT_LE(0, fd) TH_LOG("mkstemp(%s): %s", path, strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, ftruncate(fd, RGN)) TH_LOG("ftruncate: %s", strerror(errno));
	EXPECT_EQ(0, stat(path, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	EXPECT_EQ(0, mc_anon(fd, 0, 2 * MiB));
	a = ms_attach(fd, RGN, NULL, RW, 0);
	EXPECT_NE(NULL, a) TH_LOG("attach: %s", strerror(errno));
	if (a) {
		a[0] = 1;
		EXPECT_EQ(0, munmap(a, RGN));
	}
	EXPECT_EQ(0, unlink(path));
	close(fd);
}

TEST_F(msharefs, open_existing_and_missing)
{
	struct stat st1, st2;
	int fd, fd2, fd3;
	char *a, *b;

	fd = named(_metadata, NAME("exist"), RGN, 0600);
	ASSERT_EQ(0, mc_anon(fd, 0, 4 * MiB)) TH_LOG("CREATE_MAPPING: %s", strerror(errno));

	MS_EXPECT_ERRNO(EEXIST, open(NAME("exist"), O_RDWR | O_CREAT | O_EXCL, 0600));
	MS_EXPECT_ERRNO(EEXIST, open(MSFS "/mshare_info", O_RDWR | O_CREAT | O_EXCL, 0600));
	MS_EXPECT_ERRNO(ENOENT, open(NAME("missing"), O_RDWR));
	MS_EXPECT_ERRNO(ENOENT, open(NAME("missing"), O_RDONLY));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("missing"), &st1));

	fd2 = open(NAME("exist"), O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd2) TH_LOG("O_CREAT on an existing name: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st1));
	ASSERT_EQ(0, fstat(fd2, &st2));
	EXPECT_EQ(st1.st_ino, st2.st_ino);
	EXPECT_EQ((off_t)RGN, st2.st_size);
	fd3 = open(NAME("exist"), O_RDWR);
	ASSERT_LE(0, fd3);

	a = attach(_metadata, fd, RGN, RW);
	b = attach(_metadata, fd2, RGN, RW);
	EXPECT_NE(a, b);
	fill_pat(a, 4 * MiB, PG, 0x11, 0);
	EXPECT_EQ(-1, check_pat(b, 4 * MiB, PG, 0x11, 0)) TH_LOG("not the same region");
	fill_pat(b, 4 * MiB, PG, 0x12, 1);
	EXPECT_EQ(-1, check_pat(a, 4 * MiB, PG, 0x12, 1));
	/* O_TRUNC of a sized region is a no-op: size, mapping and data stay. */
	{
		int fdt = open(NAME("exist"), O_RDWR | O_TRUNC);

		ASSERT_LE(0, fdt) TH_LOG("O_TRUNC: %s", strerror(errno));
		ASSERT_EQ(0, fstat(fdt, &st1));
		EXPECT_EQ((off_t)RGN, st1.st_size);
		close(fdt);
		EXPECT_EQ(-1, check_pat(a, 4 * MiB, PG, 0x11, 0)) TH_LOG("O_TRUNC lost the data");
	}
	EXPECT_EQ(0, munmap(b, RGN));
	b = attach(_metadata, fd3, RGN, RW);
	EXPECT_EQ(-1, check_pat(b, 4 * MiB, PG, 0x11, 0));
	EXPECT_EQ(0, munmap(b, RGN));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd3);
	close(fd2);
	close(fd);
	EXPECT_EQ(0, unlink(NAME("exist")));
}

/* ------------------------------------------------------------------------ */
/* 3. Permissions. */

#define PERM_TAG	0x77

TEST_F_TIMEOUT(msharefs, open_permissions, 120)
{
	struct mshare_stat ms;
	int fd, ro;
	pid_t pid;
	char *a, *r;

	fd = named(_metadata, NAME("perm"), RGN, 0600);
	ASSERT_EQ(0, mc_anon(fd, 0, 2 * MiB)) TH_LOG("CREATE_MAPPING: %s", strerror(errno));
	ASSERT_EQ(0, mc_anon(fd, 4 * MiB, 2 * MiB));
	a = attach(_metadata, fd, RGN, RW);
	fill_pat(a, 2 * MiB, PG, PERM_TAG, 0);

	/* 0600 root: uid 1000 may not open it at all. */
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stat st;

		CHILD_ERRNO(EACCES, open(NAME("perm"), O_RDWR));
		CHILD_ERRNO(EACCES, open(NAME("perm"), O_RDONLY));
		CHILD_CHECK(stat(NAME("perm"), &st) == 0 && st.st_uid == 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 on a 0600 root region"));

	/* 0666: it may, and shares the data. */
	ASSERT_EQ(0, chmod(NAME("perm"), 0666)) TH_LOG("chmod: %s", strerror(errno));
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct mshare_stat cs;
		int cfd = open(NAME("perm"), O_RDWR);
		char *c;

		CHILD_CHECK(cfd >= 0);
		c = ms_attach(cfd, RGN, NULL, RW, 0);
		CHILD_CHECK(c != NULL);
		CHILD_CHECK(check_pat(c, 2 * MiB, PG, PERM_TAG, 0) == -1);
		fill_pat(c, 2 * MiB, PG, PERM_TAG + 1, 1);
		CHILD_CHECK(ms_getstat(cfd, &cs) == 0 && cs.size == RGN);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 on a 0666 region"));
	EXPECT_EQ(-1, check_pat(a, 2 * MiB, PG, PERM_TAG + 1, 1)) TH_LOG("uid 1000's writes not seen");

	/* 0644: read-only for uid 1000, and read-only means read-only. */
	ASSERT_EQ(0, chmod(NAME("perm"), 0644));
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct mshare_stat cs;
		int cfd;
		char *c;

		CHILD_ERRNO(EACCES, open(NAME("perm"), O_RDWR));
		cfd = open(NAME("perm"), O_RDONLY);
		CHILD_CHECK(cfd >= 0);
		CHILD_CHECK(ms_attach(cfd, RGN, NULL, RW, 0) == NULL && errno == EACCES);
		CHILD_ERRNO(EACCES, mc_anon(cfd, 8 * MiB, 2 * MiB));
		CHILD_ERRNO(EACCES, mc_unmap(cfd, 0, 2 * MiB));
		CHILD_CHECK(ms_getstat(cfd, &cs) == 0 && cs.size == RGN);
		c = ms_attach(cfd, RGN, NULL, PROT_READ, 0);
		CHILD_CHECK(c != NULL);
		CHILD_CHECK(check_pat(c, 2 * MiB, PG, PERM_TAG, 0) == -1);
		CHILD_CHECK(munmap(c, RGN) == 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 on a 0644 region"));
	/* The refused calls changed nothing. */
	EXPECT_EQ(-1, check_pat(a, 2 * MiB, PG, PERM_TAG, 0));
	ASSERT_EQ(0, ms_getstat(fd, &ms));
	EXPECT_EQ(2u, ms.mappings);

	/* Owned by uid 1000, 0600: uid 1000 may, nobody may not. */
	ASSERT_EQ(0, chown(NAME("perm"), UID_USER, UID_USER)) TH_LOG("chown: %s", strerror(errno));
	ASSERT_EQ(0, chmod(NAME("perm"), 0600));
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd = open(NAME("perm"), O_RDWR);
		char *c;

		CHILD_CHECK(cfd >= 0);
		c = ms_attach(cfd, RGN, NULL, RW, 0);
		CHILD_CHECK(c != NULL);
		CHILD_CHECK(check_pat(c, 2 * MiB, PG, PERM_TAG, 0) == -1);
		fill_pat(c, 2 * MiB, PG, PERM_TAG + 2, 2);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 on its own 0600 region"));
	EXPECT_EQ(-1, check_pat(a, 2 * MiB, PG, PERM_TAG + 2, 2));
	pid = fork_as(UID_NOBODY);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_ERRNO(EACCES, open(NAME("perm"), O_RDWR));
		CHILD_ERRNO(EACCES, open(NAME("perm"), O_RDONLY));
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "nobody on uid 1000's 0600 region"));

	/* Root's own read-only fd. */
	ro = open(NAME("perm"), O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_MAP_ERRNO(EACCES, mmap(NULL, RGN, RW, MAP_SHARED, ro, 0));
	MS_EXPECT_ERRNO(EACCES, mc_anon(ro, 8 * MiB, 2 * MiB));
	MS_EXPECT_ERRNO(EACCES, mc_create(ro, 8 * MiB, 2 * MiB, 0, PROT_READ,
				       MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS, -1));
	MS_EXPECT_ERRNO(EACCES, mc_unmap(ro, 0, 2 * MiB));
	MS_EXPECT_ERRNO(EACCES, mc_unmap(ro, 4 * MiB, 2 * MiB));
	ASSERT_EQ(0, ms_getstat(ro, &ms)) TH_LOG("GET_STAT through an O_RDONLY fd: %s", strerror(errno));
	EXPECT_EQ(RGN, ms.size);
	EXPECT_EQ(2u, ms.mappings) TH_LOG("a refused call through a read-only fd changed the region");
	EXPECT_EQ(1u, ms.attachments);
	r = ms_attach(ro, RGN, NULL, PROT_READ, 0);
	ASSERT_NE(NULL, r) TH_LOG("PROT_READ attach of an O_RDONLY fd: %s", strerror(errno));
	ASSERT_EQ(0, ms_getstat(ro, &ms));
	EXPECT_EQ(2u, ms.attachments);
	/* Both mappings still there, seen read-only. */
	EXPECT_EQ(-1, check_pat(r, 2 * MiB, PG, PERM_TAG, 0));
	EXPECT_EQ(0, *(volatile char *)(r + 4 * MiB));
	a[4 * MiB] = 9;
	EXPECT_EQ(9, r[4 * MiB]);
	/* Read-only stays read-only: no writes, no changes from inside. */
	{
		int status = child_status(touch_word, r + 4 * MiB);

		EXPECT_TRUE(killed_by(status, SIGSEGV)) TH_LOG("write through a read-only attachment: status %#x", status);
	}
	EXPECT_EQ(-1, mprotect(r, RGN, RW)) TH_LOG("mprotect(RW) of a read-only attachment succeeded");
	MS_EXPECT_ERRNO(EACCES, mprotect(r + 4 * MiB, 2 * MiB, RW));
	MS_EXPECT_ERRNO(EACCES, munmap(r + 4 * MiB, 2 * MiB));
	MS_EXPECT_ERRNO(EACCES, madvise(r + 4 * MiB, 2 * MiB, MADV_DONTNEED));
	EXPECT_EQ(9, r[4 * MiB]);
	EXPECT_EQ(9, a[4 * MiB]);
	a[4 * MiB + PG] = 8;
	EXPECT_EQ(8, r[4 * MiB + PG]) TH_LOG("the read-only attachment lost the mapping");
	ASSERT_EQ(0, ms_getstat(ro, &ms));
	EXPECT_EQ(2u, ms.mappings);
	EXPECT_EQ(0, munmap(r, RGN));
	EXPECT_EQ(0, munmap(a, RGN));
	close(ro);
	close(fd);
	EXPECT_EQ(0, unlink(NAME("perm")));
}

TEST_F_TIMEOUT(msharefs, owner_sticky_root_write, 120)
{
	struct stat st;
	pid_t pid;

	/* uid 1000 creates a name: it owns it. */
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd = open(NAME("u1000"), O_RDWR | O_CREAT | O_EXCL, 0600);

		CHILD_CHECK(cfd >= 0);
		CHILD_CHECK(ftruncate(cfd, RGN) == 0);
		_exit(0);
	}
	ASSERT_TRUE(child_ok(pid, "uid 1000 creates a region"));
	ASSERT_EQ(0, stat(NAME("u1000"), &st));
	EXPECT_EQ((uid_t)UID_USER, st.st_uid);
	EXPECT_EQ((gid_t)UID_USER, st.st_gid);
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ((off_t)RGN, st.st_size);

	/* The sticky root: nobody cannot remove or rename it, but can create. */
	pid = fork_as(UID_NOBODY);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd;

		CHILD_ERRNO(EPERM, unlink(NAME("u1000")));
		CHILD_ERRNO(EPERM, rename(NAME("u1000"), NAME("stolen")));
		CHILD_ERRNO(EACCES, open(NAME("u1000"), O_RDWR));
		cfd = open(NAME("u65534"), O_RDWR | O_CREAT | O_EXCL, 0600);
		CHILD_CHECK(cfd >= 0);
		CHILD_CHECK(ftruncate(cfd, RGN) == 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "nobody in the sticky root"));
	EXPECT_EQ(0, stat(NAME("u1000"), &st));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("stolen"), &st));
	ASSERT_EQ(0, stat(NAME("u65534"), &st));
	EXPECT_EQ((uid_t)UID_NOBODY, st.st_uid);

	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(unlink(NAME("u1000")) == 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 removes its own name"));
	EXPECT_EQ(0, unlink(NAME("u65534")));

	/* Without write permission on the root: no O_CREAT, no LINK. */
	self->root_changed = true;
	ASSERT_EQ(0, chmod(MSFS, 0755)) TH_LOG("chmod of the msharefs root: %s", strerror(errno));
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int rfd = sys_mshare_create(RGN, 0);

		CHILD_ERRNO(EACCES, open(NAME("nowrite"), O_RDWR | O_CREAT | O_EXCL, 0600));
		CHILD_CHECK(rfd >= 0);
		CHILD_ERRNO(EACCES, ms_link(rfd, PFX "nowrite", 0600));
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 with a 0755 root"));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("nowrite"), &st));
	ASSERT_EQ(0, chmod(MSFS, 01777));
	self->root_changed = false;
	ASSERT_EQ(0, stat(MSFS, &st));
	EXPECT_EQ(01777, st.st_mode & 07777);

	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int rfd = sys_mshare_create(RGN, 0);

		CHILD_CHECK(rfd >= 0);
		CHILD_CHECK(ms_link(rfd, PFX "nowrite", 0600) == 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 with the 1777 root back"));
	EXPECT_EQ(0, stat(NAME("nowrite"), &st));
	EXPECT_EQ(0, unlink(NAME("nowrite")));

	/* Root may remove anyone's name in the sticky root. */
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd = open(NAME("u1000b"), O_RDWR | O_CREAT | O_EXCL, 0600);

		CHILD_CHECK(cfd >= 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 creates another"));
	EXPECT_EQ(0, unlink(NAME("u1000b")));
}

/*
 * What a reader (or a stranger) may not do to someone else's region: name
 * it with MSHAREFS_LINK (named or not: the fd is read-only), set its size,
 * change its mode or owner.
 */
TEST_F_TIMEOUT(msharefs, readers_cannot_take_over, 120)
{
	int fd, fresh, sv[2];
	struct stat st;
	pid_t pid;

	fd = named(_metadata, NAME("owned"), RGN, 0644);
	fresh = named(_metadata, NAME("owned-fresh"), 0, 0644);
	ASSERT_EQ(0, stat(NAME("owned"), &st));
	ASSERT_EQ(0644, st.st_mode & 07777);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));

	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ro = open(NAME("owned"), O_RDONLY);
		int rof = open(NAME("owned-fresh"), O_RDONLY);
		struct stat cst;
		long r;

		close(sv[0]);
		CHILD_CHECK(ro >= 0 && rof >= 0);
		/* Named, and read-only: either refusal will do. */
		errno = 0;
		r = ms_link(ro, PFX "owned-stolen", 0666);
		CHILD_CHECK(r == -1 && (errno == EACCES || errno == EBUSY));
		errno = 0;
		r = ms_link(rof, PFX "owned-fresh-stolen", 0666);
		CHILD_CHECK(r == -1 && (errno == EACCES || errno == EBUSY));
		CHILD_ERRNO(ENOENT, stat(NAME("owned-stolen"), &cst));
		CHILD_ERRNO(ENOENT, stat(NAME("owned-fresh-stolen"), &cst));
		CHILD_ERRNO(EACCES, open(NAME("owned"), O_RDWR));
		CHILD_ERRNO(EACCES, open(NAME("owned-fresh"), O_RDWR));
		/* No sizing through a read-only fd. */
		CHILD_ERRNO(EINVAL, ftruncate(rof, RGN));
		CHILD_ERRNO(EBADF, fallocate(rof, 0, 0, RGN));
		CHILD_ERRNO(EACCES, truncate(NAME("owned-fresh"), RGN));
		/* Not the owner: no chmod, no chown. */
		CHILD_ERRNO(EPERM, chmod(NAME("owned"), 0666));
		CHILD_ERRNO(EPERM, chown(NAME("owned"), UID_USER, UID_USER));
		CHILD_ERRNO(EPERM, fchmod(ro, 0666));
		CHILD_CHECK(sock_send(sv[1], 'a') == 0);
		/* Root unlinks it: unnamed now, but the fd is still read-only. */
		CHILD_CHECK(sock_recv(sv[1]) == 'u');
		CHILD_ERRNO(EACCES, ms_link(ro, PFX "owned-stolen", 0666));
		CHILD_ERRNO(ENOENT, stat(NAME("owned-stolen"), &cst));
		CHILD_CHECK(fstat(ro, &cst) == 0 && cst.st_uid == 0 && (cst.st_mode & 07777) == 0644);
		_exit(0);
	}
	close(sv[1]);
	ASSERT_EQ('a', sock_recv(sv[0])) TH_LOG("uid 1000's first checks failed");
	ASSERT_EQ(0, stat(NAME("owned"), &st));
	EXPECT_EQ(0u, st.st_uid) TH_LOG("root's region now belongs to uid %u", st.st_uid);
	EXPECT_EQ(0u, st.st_gid);
	EXPECT_EQ(0644, st.st_mode & 07777) TH_LOG("root's region now has mode %#o", st.st_mode & 07777);
	ASSERT_EQ(0, stat(NAME("owned-fresh"), &st));
	EXPECT_EQ(0u, st.st_uid) TH_LOG("root's fresh region now belongs to uid %u", st.st_uid);
	EXPECT_EQ(0644, st.st_mode & 07777) TH_LOG("root's fresh region now has mode %#o", st.st_mode & 07777);
	EXPECT_EQ(0, st.st_size) TH_LOG("a reader set the size");
	ASSERT_EQ(0, unlink(NAME("owned")));
	ASSERT_EQ(0, sock_send(sv[0], 'u'));
	EXPECT_TRUE(child_ok(pid, "uid 1000 with read-only fds of root's regions"));
	close(sv[0]);
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("owned-stolen"), &st));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("owned-fresh-stolen"), &st));

	/* The owner's writable fd may name it again. */
	EXPECT_EQ(0, ms_link(fd, PFX "owned-again", 0600)) TH_LOG("LINK of an unlinked region: %s", strerror(errno));
	if (stat(NAME("owned-again"), &st) == 0) {
		EXPECT_EQ(0u, st.st_uid);
		EXPECT_EQ((off_t)RGN, st.st_size);
		EXPECT_EQ(0, unlink(NAME("owned-again")));
	}
	close(fresh);
	close(fd);
	unlink(NAME("owned-stolen"));
	unlink(NAME("owned-fresh-stolen"));
	EXPECT_EQ(0, unlink(NAME("owned-fresh")));
}

/* ------------------------------------------------------------------------ */
/* 4. Unlink, rename, link, write. */

#define UL_LEN		(32 * MiB)

TEST_F_TIMEOUT(msharefs, unlink_removes_only_the_name, 300)
{
	struct memsnap base, mid, now;
	int fd, fd_new, sa[2], sh[2];
	struct stat st, st_new;
	ino_t old_ino;
	pid_t pa, ph;
	char *b;

	mem_settle();
	memsnap_take(&base);

	fd = named(_metadata, NAME("unlink"), RGN, 0600);
	ASSERT_EQ(0, mc_anon(fd, 0, UL_LEN)) TH_LOG("CREATE_MAPPING: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	old_ino = st.st_ino;
	close(fd);

	/* A: attached; H: holds an fd only. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sa));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sh));
	pa = fork_root();
	ASSERT_LE(0, pa);
	if (pa == 0) {
		struct stat cst;
		int cfd = open(NAME("unlink"), O_RDWR);
		char *c;

		close(sa[0]);
		close(sh[0]);
		close(sh[1]);
		CHILD_CHECK(cfd >= 0);
		c = ms_attach(cfd, RGN, NULL, RW, 0);
		CHILD_CHECK(c != NULL);
		close(cfd);
		fill_pat(c, UL_LEN, PG, 0xa1, 0);
		CHILD_CHECK(sock_send(sa[1], 'a') == 0);
		CHILD_CHECK(sock_recv(sa[1]) == 'u');
		CHILD_CHECK(stat(NAME("unlink"), &cst) == -1 && errno == ENOENT);
		CHILD_CHECK(check_pat(c, UL_LEN, PG, 0xa1, 0) == -1);
		fill_pat(c, UL_LEN, PG, 0xa2, 1);
		CHILD_CHECK(sock_send(sa[1], 'w') == 0);
		CHILD_CHECK(sock_recv(sa[1]) == 'v');
		CHILD_CHECK(check_pat(c, UL_LEN, PG, 0xb1, 2) == -1);
		CHILD_CHECK(sock_send(sa[1], 'v') == 0);
		CHILD_CHECK(sock_recv(sa[1]) == 'x');
		_exit(0);
	}
	close(sa[1]);
	ph = fork_root();
	ASSERT_LE(0, ph);
	if (ph == 0) {
		int cfd = open(NAME("unlink"), O_RDWR);
		struct mshare_stat cs;
		char *c;

		close(sa[0]);
		close(sh[0]);
		CHILD_CHECK(cfd >= 0);
		CHILD_CHECK(sock_send(sh[1], 'h') == 0);
		CHILD_CHECK(sock_recv(sh[1]) == 'u');
		/* Attaches only now, after the unlink. */
		CHILD_CHECK(ms_getstat(cfd, &cs) == 0 && cs.size == RGN && cs.mappings == 1);
		c = ms_attach(cfd, RGN, NULL, RW, 0);
		CHILD_CHECK(c != NULL);
		CHILD_CHECK(check_pat(c, UL_LEN, PG, 0xa1, 0) == -1);
		CHILD_CHECK(check_pat(c, UL_LEN, PG, 0xa2, 1) == -1);
		fill_pat(c, UL_LEN, PG, 0xb1, 2);
		CHILD_CHECK(sock_send(sh[1], 'w') == 0);
		CHILD_CHECK(sock_recv(sh[1]) == 'x');
		_exit(0);
	}
	close(sh[1]);
	ASSERT_EQ('a', sock_recv(sa[0]));
	ASSERT_EQ('h', sock_recv(sh[0]));

	ASSERT_EQ(0, unlink(NAME("unlink"))) TH_LOG("unlink: %s", strerror(errno));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("unlink"), &st));
	MS_EXPECT_ERRNO(ENOENT, open(NAME("unlink"), O_RDWR));
	MS_EXPECT_ERRNO(ENOENT, unlink(NAME("unlink")));

	ASSERT_EQ(0, sock_send(sa[0], 'u'));
	ASSERT_EQ('w', sock_recv(sa[0])) TH_LOG("the attached sharer failed after the unlink");
	ASSERT_EQ(0, sock_send(sh[0], 'u'));
	ASSERT_EQ('w', sock_recv(sh[0])) TH_LOG("the fd holder failed after the unlink");
	ASSERT_EQ(0, sock_send(sa[0], 'v'));
	ASSERT_EQ('v', sock_recv(sa[0])) TH_LOG("the attached sharer did not see the fd holder's writes");

	/* The name is free for a new, different region. */
	fd_new = open(NAME("unlink"), O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd_new) TH_LOG("reusing the name: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd_new, &st_new));
	EXPECT_EQ(0, st_new.st_size) TH_LOG("the reused name is the old region");
	EXPECT_NE(old_ino, st_new.st_ino);
	ASSERT_EQ(0, ftruncate(fd_new, RGN));
	ASSERT_EQ(0, mc_anon(fd_new, 0, 2 * MiB));
	b = attach(_metadata, fd_new, RGN, RW);
	EXPECT_EQ(0, *wordp(b, 0, 0)) TH_LOG("the new region has the old data");
	EXPECT_EQ(0, *wordp(b, PG, 1));
	EXPECT_EQ(0, munmap(b, RGN));
	close(fd_new);
	EXPECT_EQ(0, unlink(NAME("unlink")));

	/* While they live, the old region's memory is still in use. */
	memsnap_take(&mid);
	EXPECT_LE((long)(UL_LEN / KiB) - 1024, mid.shmem - base.shmem)
		TH_LOG("Shmem %+ld kB with a live 32 MiB region", mid.shmem - base.shmem);

	ASSERT_EQ(0, sock_send(sa[0], 'x'));
	ASSERT_EQ(0, sock_send(sh[0], 'x'));
	EXPECT_TRUE(child_ok(pa, "attached sharer"));
	EXPECT_TRUE(child_ok(ph, "fd holder"));
	close(sa[0]);
	close(sh[0]);

	mem_settle();
	bool back = mem_back_to(&base, &now, 256, 50, 100);

	TH_LOG("after everything closed: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       now.pagetables - base.pagetables, now.shmem - base.shmem,
	       now.anon - base.anon);
	EXPECT_TRUE(back) TH_LOG("the unlinked region was not freed");
}

TEST_F_TIMEOUT(msharefs, name_alone_keeps_region, 120)
{
	struct memsnap base, mid, now;
	int fd;
	char *a;

	mem_settle();
	memsnap_take(&base);
	fd = named(_metadata, NAME("keep"), RGN, 0600);
	ASSERT_EQ(0, mc_anon(fd, 0, 16 * MiB));
	a = attach(_metadata, fd, RGN, RW);
	fill_pat(a, 16 * MiB, PG, 0x4b, 0);
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);

	/* No fd, no attachment: only the name. */
	memsnap_take(&mid);
	EXPECT_LE((long)(16 * MiB / KiB) - 512, mid.shmem - base.shmem)
		TH_LOG("Shmem %+ld kB: the named region's memory is gone", mid.shmem - base.shmem);
	fd = open(NAME("keep"), O_RDWR);
	ASSERT_LE(0, fd);
	a = attach(_metadata, fd, RGN, PROT_READ);
	EXPECT_EQ(-1, check_pat(a, 16 * MiB, PG, 0x4b, 0)) TH_LOG("the data did not survive with only a name");
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);

	EXPECT_EQ(0, unlink(NAME("keep")));
	mem_settle();
	bool back = mem_back_to(&base, &now, 256, 50, 100);

	TH_LOG("after the unlink: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       now.pagetables - base.pagetables, now.shmem - base.shmem,
	       now.anon - base.anon);
	EXPECT_TRUE(back) TH_LOG("the region was not freed when its last name went");
}

TEST_F(msharefs, rename_link_write)
{
	struct stat st0, st1, st2;
	int fd, fd2;
	char *a;

	fd = named(_metadata, NAME("rn-a"), RGN, 0600);
	ASSERT_EQ(0, mc_anon(fd, 0, 2 * MiB));
	a = attach(_metadata, fd, RGN, RW);
	fill_pat(a, 2 * MiB, PG, 0x52, 0);
	EXPECT_EQ(0, munmap(a, RGN));
	ASSERT_EQ(0, fstat(fd, &st0));

	ASSERT_EQ(0, rename(NAME("rn-a"), NAME("rn-b"))) TH_LOG("rename: %s", strerror(errno));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("rn-a"), &st1));
	MS_EXPECT_ERRNO(ENOENT, open(NAME("rn-a"), O_RDWR));
	fd2 = open(NAME("rn-b"), O_RDWR);
	ASSERT_LE(0, fd2) TH_LOG("open the new name: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd2, &st1));
	EXPECT_EQ(st0.st_ino, st1.st_ino);
	EXPECT_EQ((off_t)RGN, st1.st_size);
	a = attach(_metadata, fd2, RGN, PROT_READ);
	EXPECT_EQ(-1, check_pat(a, 2 * MiB, PG, 0x52, 0));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd2);

	ASSERT_EQ(0, link(NAME("rn-b"), NAME("rn-c"))) TH_LOG("link: %s", strerror(errno));
	ASSERT_EQ(0, stat(NAME("rn-b"), &st1));
	ASSERT_EQ(0, stat(NAME("rn-c"), &st2));
	EXPECT_EQ(st0.st_ino, st2.st_ino);
	EXPECT_EQ(2u, st2.st_nlink);
	EXPECT_EQ(0, unlink(NAME("rn-b")));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("rn-b"), &st1));
	fd2 = open(NAME("rn-c"), O_RDWR);
	ASSERT_LE(0, fd2) TH_LOG("open the other link: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd2, &st2));
	EXPECT_EQ(1u, st2.st_nlink);
	a = attach(_metadata, fd2, RGN, RW);
	EXPECT_EQ(-1, check_pat(a, 2 * MiB, PG, 0x52, 0));
	EXPECT_EQ(0, munmap(a, RGN));

	/* With every name unlinked, the open fd may name it again. */
	ASSERT_EQ(0, unlink(NAME("rn-c")));
	ASSERT_EQ(0, ms_link(fd2, PFX "rn-c", 0600)) TH_LOG("LINK of a region whose names were unlinked: %s",
							  strerror(errno));
	{
		int fd3 = open(NAME("rn-c"), O_RDWR);

		ASSERT_LE(0, fd3);
		ASSERT_EQ(0, fstat(fd3, &st2));
		EXPECT_EQ(st0.st_ino, st2.st_ino);
		a = attach(_metadata, fd3, RGN, RW);
		EXPECT_EQ(-1, check_pat(a, 2 * MiB, PG, 0x52, 0));
		EXPECT_EQ(0, munmap(a, RGN));
		close(fd3);
	}

	/* Out of msharefs: not possible. */
	MS_EXPECT_ERRNO(EXDEV, rename(NAME("rn-c"), "/tmp/kst-renamed"));
	MS_EXPECT_ERRNO(EXDEV, link(NAME("rn-c"), "/tmp/kst-linked"));

	/* write() is not how a region changes. */
	MS_EXPECT_ERRNO(EINVAL, write(fd2, "x", 1));
	MS_EXPECT_ERRNO(EINVAL, pwrite(fd2, "x", 1, 0));
	MS_EXPECT_ERRNO(EINVAL, write(fd, "xyz", 3));
	close(fd2);
	close(fd);
	EXPECT_EQ(0, unlink(NAME("rn-c")));

	int rfd = sys_mshare_create(RGN, 0);

	ASSERT_LE(0, rfd);
	MS_EXPECT_ERRNO(EINVAL, write(rfd, "x", 1));
	close(rfd);
}

/* ------------------------------------------------------------------------ */
/* 5. Naming an mshare_create() region. */

TEST_F_TIMEOUT(msharefs, link_anonymous_region, 120)
{
	char longname[300];
	struct mshare_link ml;
	struct stat st;
	int fd, fd2, fd3, fd4;
	char *a, *b;
	pid_t pid;

	umask(0);
	fd = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, fd) TH_LOG("mshare_create: %s", strerror(errno));
	ASSERT_EQ(0, mc_anon(fd, 0, 4 * MiB)) TH_LOG("CREATE_MAPPING on an mshare_create() fd: %s", strerror(errno));
	a = attach(_metadata, fd, RGN, RW);
	fill_pat(a, 4 * MiB, PG, 0xa0, 0);

	ASSERT_EQ(0, ms_link(fd, PFX "anon1", 0640)) TH_LOG("MSHAREFS_LINK: %s", strerror(errno));
	ASSERT_EQ(0, stat(NAME("anon1"), &st)) TH_LOG("the linked name: %s", strerror(errno));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0640, st.st_mode & 07777) TH_LOG("mode %#o", st.st_mode & 07777);
	EXPECT_EQ(getuid(), st.st_uid);
	EXPECT_EQ(getgid(), st.st_gid);
	EXPECT_EQ((off_t)RGN, st.st_size);

	fd2 = open(NAME("anon1"), O_RDWR);
	ASSERT_LE(0, fd2) TH_LOG("open the linked name: %s", strerror(errno));
	b = attach(_metadata, fd2, RGN, RW);
	EXPECT_EQ(-1, check_pat(b, 4 * MiB, PG, 0xa0, 0)) TH_LOG("the name is not the region");
	fill_pat(b, 4 * MiB, PG, 0xa1, 1);
	EXPECT_EQ(-1, check_pat(a, 4 * MiB, PG, 0xa1, 1));
	/* A mapping made through the name is seen through the fd. */
	ASSERT_EQ(0, mc_anon(fd2, 8 * MiB, 2 * MiB));
	b[8 * MiB] = 0x3c;
	EXPECT_EQ(0x3c, a[8 * MiB]);
	EXPECT_EQ(0, munmap(b, RGN));

	/* Refusals.  A region with a name gets EBUSY; link() gives more. */
	EXPECT_ERRNO2(EEXIST, EBUSY, ms_link(fd, PFX "anon1", 0640));
	MS_EXPECT_ERRNO(EBUSY, ms_link(fd, PFX "anon1-second", 0640));
	MS_EXPECT_ERRNO(EBUSY, ms_link(fd2, PFX "anon1-third", 0640));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("anon1-second"), &st));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("anon1-third"), &st));
	fd3 = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, fd3);
	MS_EXPECT_ERRNO(EEXIST, ms_link(fd3, PFX "anon1", 0600));
	MS_EXPECT_ERRNO(EEXIST, ms_link(fd3, "mshare_info", 0600));
	MS_EXPECT_ERRNO(EINVAL, ms_link(fd3, PFX "a/b", 0600));
	MS_EXPECT_ERRNO(EINVAL, ms_link(fd3, "/", 0600));
	MS_EXPECT_ERRNO(EINVAL, ms_link(fd3, "", 0600));
	memset(&ml, 0, sizeof(ml));
	ml.mode = 0600;
	ml.__reserved = 1;
	strcpy(ml.name, PFX "resv");
	MS_EXPECT_ERRNO(EINVAL, ioctl(fd3, MSHAREFS_LINK, &ml));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("resv"), &st));
	memset(&ml, 'k', sizeof(ml));
	ml.mode = 0600;
	ml.__reserved = 0;
	/* 256 name bytes and no NUL. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd3, MSHAREFS_LINK, &ml)) TH_LOG("an unterminated name was taken");
	EXPECT_TRUE(errno == EINVAL || errno == ENAMETOOLONG) TH_LOG("unterminated name: %s", strerror(errno));
	MS_EXPECT_ERRNO(EINVAL, ms_link(fd3, ".", 0600));
	MS_EXPECT_ERRNO(EINVAL, ms_link(fd3, "..", 0600));

	/* linkat() cannot name it: another mount. */
	errno = 0;
	EXPECT_EQ(-1, linkat(fd3, "", AT_FDCWD, NAME("x"), AT_EMPTY_PATH)) TH_LOG("linkat succeeded");
	EXPECT_EQ(EXDEV, errno) TH_LOG("linkat(AT_EMPTY_PATH) of an mshare_create() fd: %s (the header says EXDEV)",
				       strerror(errno));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("x"), &st));

	/* The refusals did not name fd3; a good name still does. */
	ASSERT_EQ(0, ms_link(fd3, PFX "anon3", 0600)) TH_LOG("LINK after refusals: %s", strerror(errno));
	/* Once all its names are unlinked, it can be named again. */
	ASSERT_EQ(0, unlink(NAME("anon3")));
	EXPECT_EQ(0, ms_link(fd3, PFX "anon3", 0600)) TH_LOG("LINK after the unlink: %s", strerror(errno));
	/* The longest name: 255 bytes. */
	memset(longname, 0, sizeof(longname));
	strcpy(longname, PFX);
	memset(longname + strlen(PFX), 'k', 255 - strlen(PFX));
	fd4 = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, fd4);
	EXPECT_EQ(0, ms_link(fd4, longname, 0600)) TH_LOG("a 255-byte name: %s", strerror(errno));
	{
		char lpath[320];

		snprintf(lpath, sizeof(lpath), MSFS "/%s", longname);
		EXPECT_EQ(0, stat(lpath, &st));
		EXPECT_EQ(0, unlink(lpath));
	}
	close(fd4);

	/* mode & 0777, less the umask. */
	umask(022);
	fd4 = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, fd4);
	ASSERT_EQ(0, ms_link(fd4, PFX "anon4", 0666));
	ASSERT_EQ(0, stat(NAME("anon4"), &st));
	EXPECT_EQ(0644, st.st_mode & 07777) TH_LOG("mode %#o", st.st_mode & 07777);
	close(fd4);
	fd4 = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, fd4);
	/* Bits beyond 0777 are dropped ("@mode & 0777"), not refused. */
	EXPECT_EQ(0, ms_link(fd4, PFX "anon5", 07777)) TH_LOG("LINK with mode 07777: %s", strerror(errno));
	if (stat(NAME("anon5"), &st) == 0) {
		EXPECT_EQ(0755, st.st_mode & 07777) TH_LOG("mode %#o", st.st_mode & 07777);
		EXPECT_TRUE(S_ISREG(st.st_mode)) TH_LOG("mode %#o", st.st_mode);
		EXPECT_EQ(0, unlink(NAME("anon5")));
	}
	close(fd4);

	/* The owner is the caller. */
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd = sys_mshare_create(RGN, 0);

		CHILD_CHECK(cfd >= 0);
		CHILD_CHECK(ms_link(cfd, PFX "anon-u", 0600) == 0);
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000 names a region"));
	ASSERT_EQ(0, stat(NAME("anon-u"), &st));
	EXPECT_EQ((uid_t)UID_USER, st.st_uid);
	EXPECT_EQ((gid_t)UID_USER, st.st_gid);
	EXPECT_EQ(0600, st.st_mode & 07777);

	/* The name outlives the creator's fd: anon-u's creator is gone. */
	fd4 = open(NAME("anon-u"), O_RDWR);
	ASSERT_LE(0, fd4);
	ASSERT_EQ(0, fstat(fd4, &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	close(fd4);

	EXPECT_EQ(0, munmap(a, RGN));
	close(fd3);
	close(fd2);
	close(fd);
	fd = open(NAME("anon1"), O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("the name alone does not keep the region");
	a = attach(_metadata, fd, RGN, PROT_READ);
	EXPECT_EQ(-1, check_pat(a, 4 * MiB, PG, 0xa1, 1));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	EXPECT_EQ(0, unlink(NAME("anon1")));
	EXPECT_EQ(0, unlink(NAME("anon3")));
	EXPECT_EQ(0, unlink(NAME("anon4")));
	EXPECT_EQ(0, unlink(NAME("anon-u")));
}

/*
 * Races: two processes set the size of a fresh region, name two unnamed
 * regions with the same name, create the same name with O_EXCL.  Exactly
 * one wins each time, and what the name shows is the winner's.
 */
#define RACE_ROUNDS	30

/* Run @fn(@arg, i) in two children released at once; their return codes. */
static void race2(int (*fn)(int, void *), void *arg, int rc[2])
{
	int go[2], res[2][2];
	pid_t pid[2];

	rc[0] = rc[1] = -100;
	if (pipe(go))
		return;
	for (int i = 0; i < 2; i++) {
		if (pipe(res[i]))
			return;
		pid[i] = fork();
		if (pid[i] < 0)
			return;
		if (pid[i] == 0) {
			char c;
			int r;

			close(go[1]);
			close(res[i][0]);
			if (read(go[0], &c, 1) != 0)
				_exit(2);
			r = fn(i, arg);
			if (write(res[i][1], &r, sizeof(r)) != sizeof(r))
				_exit(2);
			_exit(0);
		}
		close(res[i][1]);
	}
	close(go[0]);
	close(go[1]);	/* both children go */
	for (int i = 0; i < 2; i++) {
		if (read(res[i][0], &rc[i], sizeof(rc[i])) != sizeof(rc[i]))
			rc[i] = -101;
		close(res[i][0]);
		waitpid(pid[i], NULL, 0);
	}
}

struct race_arg {
	int fd[2];
};

/* 0 or the errno. */
static int race_size(int i, void *p)
{
	struct race_arg *ra = p;

	return ftruncate(ra->fd[i], (i + 1) * RGN) ? errno : 0;
}

static int race_link(int i, void *p)
{
	struct race_arg *ra = p;

	return ms_link(ra->fd[i], PFX "race-link", 0600) ? errno : 0;
}

static int race_create(int i, void *p)
{
	/* The mode says who won. */
	int fd = open(NAME("race-create"), O_RDWR | O_CREAT | O_EXCL, i ? 0640 : 0600);

	if (fd < 0)
		return errno;
	return ftruncate(fd, RGN) ? 1000 + errno : 0;
}

TEST_F_TIMEOUT(msharefs, races_have_one_winner, 300)
{
	int rc[2], bad = 0, wins[3][2] = { { 0 } };
	struct race_arg ra;
	struct stat st;

	for (int r = 0; r < RACE_ROUNDS; r++) {
		int w;

		/* Size. */
		ra.fd[0] = named(_metadata, NAME("race-size"), 0, 0600);
		ra.fd[1] = open(NAME("race-size"), O_RDWR);
		ASSERT_LE(0, ra.fd[1]);
		race2(race_size, &ra, rc);
		w = rc[0] == 0 ? 0 : 1;
		wins[0][w]++;
		if (!((rc[0] == 0) ^ (rc[1] == 0)) || rc[!w] != EBUSY) {
			if (bad++ < 5)
				TH_LOG("size race %d: %s / %s", r, strerror(rc[0]), strerror(rc[1]));
		} else if (fstat(ra.fd[0], &st) || st.st_size != (off_t)((w + 1) * RGN)) {
			if (bad++ < 5)
				TH_LOG("size race %d: winner %d but size %#lx", r, w, (long)st.st_size);
		}
		close(ra.fd[0]);
		close(ra.fd[1]);
		ASSERT_EQ(0, unlink(NAME("race-size")));

		/* LINK of two unnamed regions, 1 and 2 GiB, to one name. */
		ra.fd[0] = sys_mshare_create(RGN, 0);
		ra.fd[1] = sys_mshare_create(2 * RGN, 0);
		ASSERT_LE(0, ra.fd[0]);
		ASSERT_LE(0, ra.fd[1]);
		race2(race_link, &ra, rc);
		w = rc[0] == 0 ? 0 : 1;
		wins[1][w]++;
		if (!((rc[0] == 0) ^ (rc[1] == 0)) || rc[!w] != EEXIST) {
			if (bad++ < 5)
				TH_LOG("LINK race %d: %s / %s", r, strerror(rc[0]), strerror(rc[1]));
		} else if (stat(NAME("race-link"), &st) || st.st_size != (off_t)((w + 1) * RGN)) {
			if (bad++ < 5)
				TH_LOG("LINK race %d: winner %d but the name shows size %#lx", r, w,
				       (long)st.st_size);
		}
		close(ra.fd[0]);
		close(ra.fd[1]);
		ASSERT_EQ(0, unlink(NAME("race-link")));

		/* O_CREAT | O_EXCL. */
		race2(race_create, NULL, rc);
		w = rc[0] == 0 ? 0 : 1;
		wins[2][w]++;
		if (!((rc[0] == 0) ^ (rc[1] == 0)) || rc[!w] != EEXIST) {
			if (bad++ < 5)
				TH_LOG("O_EXCL race %d: %d / %d", r, rc[0], rc[1]);
		} else if (stat(NAME("race-create"), &st) || st.st_size != (off_t)RGN ||
			   (st.st_mode & 0777) != (w ? 0640u : 0600u)) {
			if (bad++ < 5)
				TH_LOG("O_EXCL race %d: winner %d but size %#lx mode %#o", r, w,
				       (long)st.st_size, st.st_mode & 0777);
		}
		ASSERT_EQ(0, unlink(NAME("race-create")));
	}
	TH_LOG("wins of the first/second child: size %d/%d, LINK %d/%d, O_EXCL %d/%d",
	       wins[0][0], wins[0][1], wins[1][0], wins[1][1], wins[2][0], wins[2][1]);
	EXPECT_EQ(0, bad);
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("race-size"), &st));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("race-link"), &st));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("race-create"), &st));
}

/* ------------------------------------------------------------------------ */
/* 6. Stats. */

#define ST_ANON		(64 * MiB)
#define ST_FILE_OFF	(128 * MiB)
#define ST_FILE		(4 * MiB)

/*
 * The tables an attachment needs for what the test populated: a PTE table
 * per 2 MiB of the 64 MiB and of the 4 MiB, and the PMD table.
 */
#define ST_NEED		((ST_ANON / (2 * MiB) + ST_FILE / (2 * MiB) + 1) * PG)

/*
 * GET_STAT that must succeed, and the text of a fresh fd that must agree.
 * pgtable_saved is what the attachments would need unshared, @need bytes
 * each, less what the region holds; @procs processes are attached.
 */
static void stat_both(struct __test_metadata *_metadata, int fd,
		      struct mshare_stat *st, uint64_t need, uint64_t procs,
		      const char *what)
{
	uint64_t saved;
	int tfd;

	ASSERT_EQ(0, ms_getstat(fd, st)) TH_LOG("%s: GET_STAT: %s", what, strerror(errno));
	TH_LOG("%s: size %llu attachments %llu processes %llu mappings %llu resident %llu pgtable %llu pgtable_saved %llu",
	       what, (unsigned long long)st->size, (unsigned long long)st->attachments,
	       (unsigned long long)st->processes,
	       (unsigned long long)st->mappings, (unsigned long long)st->resident,
	       (unsigned long long)st->pgtable, (unsigned long long)st->pgtable_saved);
	saved = st->attachments * need > st->pgtable ? st->attachments * need - st->pgtable : 0;
	EXPECT_EQ(saved, st->pgtable_saved)
		TH_LOG("%s: pgtable_saved: %llu attachments x %llu bytes of tables each, less pgtable %llu",
		       what, (unsigned long long)st->attachments, (unsigned long long)need,
		       (unsigned long long)st->pgtable);
	EXPECT_EQ(procs, st->processes) TH_LOG("%s: processes", what);
	tfd = open(NAME("stat"), O_RDONLY);
	ASSERT_LE(0, tfd);
	check_text(_metadata, tfd, st, what);
	close(tfd);
}

TEST_F_TIMEOUT(msharefs, stats, 300)
{
	struct mshare_stat st;
	int fd, memfd, sv[2], sc[2], rfd;
	pid_t pb, pc;
	char *a1, *a2;

	fd = named(_metadata, NAME("stat"), RGN, 0600);
	stat_both(_metadata, fd, &st, 0, 0, "fresh");
	EXPECT_EQ(RGN, st.size);
	EXPECT_EQ(0u, st.attachments);
	EXPECT_EQ(0u, st.mappings);
	EXPECT_EQ(0u, st.resident);
	EXPECT_EQ(0u, st.pgtable_saved);
	EXPECT_EQ(0u, st.processes);
	EXPECT_EQ(0u, st.__reserved);

	ASSERT_EQ(0, mc_anon(fd, 0, ST_ANON));
	memfd = memfd_sized("stat", ST_FILE);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, mc_create(fd, ST_FILE_OFF, ST_FILE, 0, RW, MAP_SHARED | MAP_FIXED, memfd))
		TH_LOG("CREATE_MAPPING of a memfd: %s", strerror(errno));
	close(memfd);
	stat_both(_metadata, fd, &st, 0, 0, "two mappings");
	EXPECT_EQ(2u, st.mappings);
	EXPECT_EQ(0u, st.attachments);
	EXPECT_EQ(0u, st.resident);

	/* B attaches once, in its own process. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pb = fork_root();
	ASSERT_LE(0, pb);
	if (pb == 0) {
		char *c;

		close(sv[0]);
		c = ms_attach(fd, RGN, NULL, RW, 0);
		CHILD_CHECK(c != NULL);
		CHILD_CHECK(sock_send(sv[1], 'a') == 0);
		CHILD_CHECK(sock_recv(sv[1]) == 'x');
		_exit(0);
	}
	close(sv[1]);
	ASSERT_EQ('a', sock_recv(sv[0]));
	stat_both(_metadata, fd, &st, 0, 1, "B attached");
	EXPECT_EQ(1u, st.attachments);
	EXPECT_EQ(0u, st.pgtable_saved);

	/* The test attaches twice. */
	a1 = attach(_metadata, fd, RGN, RW);
	a2 = attach(_metadata, fd, RGN, RW);
	stat_both(_metadata, fd, &st, 0, 2, "3 attachments");
	EXPECT_EQ(3u, st.attachments);

	/* Populate: 64 MiB anonymous and 4 MiB of the memfd. */
	fill_pat(a1, ST_ANON, PG, 0x5a, 0);
	fill_pat(a2 + ST_FILE_OFF, ST_FILE, PG, 0x5b, 0);
	stat_both(_metadata, fd, &st, ST_NEED, 2, "populated, 3 attachments");
	EXPECT_EQ(3u, st.attachments);
	EXPECT_EQ(2u, st.mappings);
	EXPECT_LE((uint64_t)(ST_ANON + ST_FILE), st.resident);
	EXPECT_GE((uint64_t)(ST_ANON + ST_FILE), st.resident) TH_LOG("more resident than was mapped");
	/* At least the PTE tables of 68 MiB, at most a few more tables. */
	EXPECT_LE((uint64_t)((ST_ANON + ST_FILE) / 512), st.pgtable);
	EXPECT_GE((uint64_t)(512 * KiB), st.pgtable);
	EXPECT_LT(0u, st.pgtable_saved);

	/* A fork inherits the test's two attachments. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sc));
	pc = fork_root();
	ASSERT_LE(0, pc);
	if (pc == 0) {
		close(sc[0]);
		close(sv[0]);
		CHILD_CHECK(check_pat(a1, ST_ANON, PG, 0x5a, 0) == -1);
		CHILD_CHECK(sock_send(sc[1], 'f') == 0);
		CHILD_CHECK(sock_recv(sc[1]) == 'x');
		_exit(0);
	}
	close(sc[1]);
	ASSERT_EQ('f', sock_recv(sc[0]));
	stat_both(_metadata, fd, &st, ST_NEED, 3, "forked: 5 attachments");
	EXPECT_EQ(5u, st.attachments);
	ASSERT_EQ(0, sock_send(sc[0], 'x'));
	EXPECT_TRUE(child_ok(pc, "forked child"));
	close(sc[0]);
	stat_both(_metadata, fd, &st, ST_NEED, 2, "fork gone: 3 attachments");
	EXPECT_EQ(3u, st.attachments);

	ASSERT_EQ(0, sock_send(sv[0], 'x'));
	EXPECT_TRUE(child_ok(pb, "B"));
	close(sv[0]);
	stat_both(_metadata, fd, &st, ST_NEED, 1, "B gone: 2 attachments");
	EXPECT_EQ(2u, st.attachments);

	EXPECT_EQ(0, munmap(a2, RGN));
	EXPECT_EQ(0, munmap(a1, RGN));
	stat_both(_metadata, fd, &st, ST_NEED, 0, "detached");
	EXPECT_EQ(0u, st.attachments);
	EXPECT_EQ(0u, st.pgtable_saved);
	EXPECT_EQ(2u, st.mappings);
	/* The region keeps its memory without attachments. */
	EXPECT_LE((uint64_t)(ST_ANON + ST_FILE), st.resident);

	ASSERT_EQ(0, mc_unmap(fd, ST_FILE_OFF, ST_FILE)) TH_LOG("UNMAP: %s", strerror(errno));
	stat_both(_metadata, fd, &st, 0, 0, "memfd unmapped");
	EXPECT_EQ(1u, st.mappings);
	EXPECT_LE((uint64_t)ST_ANON, st.resident);
	EXPECT_GE((uint64_t)ST_ANON, st.resident);
	ASSERT_EQ(0, mc_unmap(fd, 0, ST_ANON));
	stat_both(_metadata, fd, &st, 0, 0, "all unmapped");
	EXPECT_EQ(0u, st.mappings);
	EXPECT_EQ(0u, st.resident);
	close(fd);
	EXPECT_EQ(0, unlink(NAME("stat")));

	/* read() of an mshare_create() fd. */
	rfd = sys_mshare_create(2 * RGN, 0);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(0, ms_getstat(rfd, &st));
	EXPECT_EQ(2 * RGN, st.size);
	EXPECT_EQ(0u, st.attachments);
	check_text(_metadata, rfd, &st, "mshare_create() fd");
	close(rfd);
}

/* ------------------------------------------------------------------------ */
/* 7. The mainline (mshare v3) interface. */

#define V3_ANON_OFF	0
#define V3_ANON_LEN	(2 * MiB)
#define V3_FILE_OFF	(4 * MiB)
#define V3_FILE_LEN	(2 * MiB)
#define V3_FILE_PGOFF	(1 * MiB)	/* where in the memfd */
#define V3_MEMFD_LEN	(8 * MiB)
#define V3_HUGE_OFF	(64 * MiB)
#define V3_HUGE_LEN	(8 * MiB)
#define V3_MEMFD_TAG	0x3e

static const size_t v3_off[3] = { V3_ANON_OFF, V3_FILE_OFF, V3_HUGE_OFF };
static const size_t v3_len[3] = { V3_ANON_LEN, V3_FILE_LEN, V3_HUGE_LEN };

static void v3_fill(char *att, uint64_t who, int word)
{
	for (int k = 0; k < 3; k++)
		fill_pat(att + v3_off[k], v3_len[k], PG, who << 8 | k, word);
}

static bool v3_check(char *att, uint64_t who, int word)
{
	for (int k = 0; k < 3; k++)
		if (check_pat(att + v3_off[k], v3_len[k], PG, who << 8 | k, word) != -1)
			return false;
	return true;
}

/* The memfd shows through at region offset V3_FILE_OFF from V3_FILE_PGOFF. */
static bool v3_memfd_seen(char *att)
{
	for (size_t j = 0; j < V3_FILE_LEN / PG; j++)
		if (*wordp(att, V3_FILE_OFF + j * PG, 0) !=
		    pat(V3_MEMFD_TAG, V3_FILE_PGOFF / PG + j))
			return false;
	return true;
}

TEST_F_TIMEOUT(msharefs, mainline_v3_program, 300)
{
	long huge_free0, huge_free1, huge_free2 = -1;
	struct mshare_stat st;
	int fd, memfd, other, sv[2], status;
	char *att;
	pid_t pb;

	huge_free0 = meminfo_kb("HugePages_Free");

	/* The program, as written for mshare v3. */
	fd = open(NAME("v3"), O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(fd, RGN)) TH_LOG("ftruncate: %s", strerror(errno));
	ASSERT_EQ(0, mc_create(fd, V3_ANON_OFF, V3_ANON_LEN, 0, RW,
			       MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED, -1))
		TH_LOG("CREATE_MAPPING anonymous (MAP_ANONYMOUS, fd -1): %s", strerror(errno));

	/* The memfd: page i holds pat(V3_MEMFD_TAG, i); mapped from 1 MiB on. */
	memfd = memfd_pat(_metadata, V3_MEMFD_LEN, V3_MEMFD_TAG);
	ASSERT_EQ(0, mc_create(fd, V3_FILE_OFF, V3_FILE_LEN, V3_FILE_PGOFF, RW,
			       MAP_SHARED | MAP_FIXED, memfd))
		TH_LOG("CREATE_MAPPING memfd at offset 1 MiB: %s", strerror(errno));
	ASSERT_EQ(0, mc_create(fd, V3_HUGE_OFF, V3_HUGE_LEN, 0, RW,
			       MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED | MAP_HUGETLB | MAP_HUGE_2MB, -1))
		TH_LOG("CREATE_MAPPING hugetlb: %s", strerror(errno));
	ASSERT_EQ(0, ms_getstat(fd, &st));
	EXPECT_EQ(3u, st.mappings);
	EXPECT_EQ(0u, st.attachments);

	/* Refusals. */
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB, 2 * MiB, 0, RW,
				       MAP_ANONYMOUS | MAP_PRIVATE | MAP_FIXED, -1));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB, 2 * MiB, 0, RW,
				       MAP_ANONYMOUS | MAP_SHARED, -1));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB, 2 * MiB, 0, RW, MAP_FIXED, -1));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB, 2 * MiB, 0, RW, MAP_PRIVATE | MAP_FIXED, memfd));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB, 2 * MiB, 0, RW, MAP_SHARED, memfd));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, RGN - MiB, 2 * MiB, 0, RW,
				       MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED, -1));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, RGN, 2 * MiB, 0, RW,
				       MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED, -1));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, RGN - MiB, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, memfd));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB + 123, 2 * MiB, 0, RW,
				       MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED, -1));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB + PG / 2, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, memfd));
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, fd));
	other = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, other);
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 16 * MiB, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, other));
	MS_EXPECT_ERRNO(EINVAL, mc_create(other, 0, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, fd));
	close(other);
	ASSERT_EQ(0, ms_getstat(fd, &st));
	EXPECT_EQ(3u, st.mappings) TH_LOG("a refused CREATE_MAPPING left a mapping");

	/* Attach, like every v3 user: mmap(NULL, size, RW, MAP_SHARED, fd, 0). */
	att = mmap(NULL, RGN, RW, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, att) TH_LOG("attach: %s", strerror(errno));
	EXPECT_TRUE(v3_memfd_seen(att)) TH_LOG("the memfd is not mapped from 1 MiB");
	v3_fill(att, 0xA, 1);
	huge_free1 = meminfo_kb("HugePages_Free");
	EXPECT_LE(huge_free1, huge_free0 - (long)(V3_HUGE_LEN / (2 * MiB)))
		TH_LOG("HugePages_Free %ld -> %ld: the hugetlb mapping is not in huge pages",
		       huge_free0, huge_free1);
	/* The test's writes reached the memfd at 1 MiB on, and only there. */
	for (size_t j = 0; j < V3_FILE_LEN / PG; j += 37) {
		EXPECT_EQ(pat(0xA << 8 | 1, j), pread_word(memfd, V3_FILE_PGOFF / PG + j, 1));
	}
	EXPECT_EQ(0u, pread_word(memfd, 0, 1));
	EXPECT_EQ(0u, pread_word(memfd, V3_FILE_PGOFF / PG - 1, 1));
	EXPECT_EQ(0u, pread_word(memfd, (V3_FILE_PGOFF + V3_FILE_LEN) / PG, 1));

	/* B: another process, opens by name and attaches. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pb = fork_root();
	ASSERT_LE(0, pb);
	if (pb == 0) {
		struct stat cst;
		int cfd;
		char *c;

		close(sv[0]);
		munmap(att, RGN);	/* B's own attachment only */
		close(fd);
		cfd = open(NAME("v3"), O_RDWR);
		CHILD_CHECK(cfd >= 0);
		CHILD_CHECK(fstat(cfd, &cst) == 0 && cst.st_size == (off_t)RGN);
		c = mmap(NULL, cst.st_size, RW, MAP_SHARED, cfd, 0);
		CHILD_CHECK(c != MAP_FAILED);
		CHILD_CHECK(v3_memfd_seen(c));
		CHILD_CHECK(v3_check(c, 0xA, 1));
		v3_fill(c, 0xB, 2);
		CHILD_CHECK(sock_send(sv[1], 'b') == 0);
		CHILD_CHECK(sock_recv(sv[1]) == 'c');
		CHILD_CHECK(v3_check(c, 0xA2, 3));
		CHILD_CHECK(sock_send(sv[1], 'c') == 0);
		/* After MSHAREFS_UNMAP of [0, 2 MiB): the rest stays, that is gone. */
		CHILD_CHECK(sock_recv(sv[1]) == 'u');
		CHILD_CHECK(v3_memfd_seen(c));
		CHILD_CHECK(check_pat(c + V3_HUGE_OFF, V3_HUGE_LEN, PG, 0xB << 8 | 2, 2) == -1);
		signal(SIGSEGV, SIG_DFL);
		touch_word(c + PG);
		_exit(3);	/* survived */
	}
	close(sv[1]);
	ASSERT_EQ('b', sock_recv(sv[0])) TH_LOG("B failed");
	EXPECT_TRUE(v3_check(att, 0xB, 2)) TH_LOG("the test does not see B's writes");
	for (size_t j = 0; j < V3_FILE_LEN / PG; j += 37) {
		EXPECT_EQ(pat(0xB << 8 | 1, j), pread_word(memfd, V3_FILE_PGOFF / PG + j, 2));
	}
	v3_fill(att, 0xA2, 3);
	ASSERT_EQ(0, sock_send(sv[0], 'c'));
	ASSERT_EQ('c', sock_recv(sv[0])) TH_LOG("B does not see the test's second writes");

	/* UNMAP refusals, then the real one. */
	MS_EXPECT_ERRNO(EINVAL, mc_unmap(fd, PG / 2, 2 * MiB));
	MS_EXPECT_ERRNO(EINVAL, mc_unmap(fd, RGN - MiB, 2 * MiB));
	MS_EXPECT_ERRNO(EINVAL, mc_unmap(fd, RGN, 2 * MiB));
	EXPECT_TRUE(v3_check(att, 0xA2, 3)) TH_LOG("a refused UNMAP unmapped something");
	ASSERT_EQ(0, mc_unmap(fd, 0, 2 * MiB)) TH_LOG("MSHAREFS_UNMAP: %s", strerror(errno));
	ASSERT_EQ(0, ms_getstat(fd, &st));
	EXPECT_EQ(2u, st.mappings);
	ASSERT_EQ(0, sock_send(sv[0], 'u'));
	ASSERT_EQ(pb, waitpid(pb, &status, 0));
	EXPECT_TRUE(killed_by(status, SIGSEGV))
		TH_LOG("B touching the unmapped range: status %#x (exit 3: it survived; exit 1: a check failed)", status);
	close(sv[0]);
	status = child_status(touch_word, att);
	EXPECT_TRUE(killed_by(status, SIGSEGV)) TH_LOG("the test's fork touching the unmapped range: status %#x", status);
	status = child_status(touch_word, att + 2 * MiB - PG);
	EXPECT_TRUE(killed_by(status, SIGSEGV)) TH_LOG("the last unmapped page: status %#x", status);
	EXPECT_TRUE(v3_memfd_seen(att));
	EXPECT_TRUE(check_pat(att + V3_HUGE_OFF, V3_HUGE_LEN, PG, 0xA2 << 8 | 2, 3) == -1);

	/* And it can be mapped again. */
	EXPECT_EQ(0, mc_create(fd, 0, 2 * MiB, 0, RW, MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED, -1));
	EXPECT_EQ(0, *wordp(att, PG, 1)) TH_LOG("the new mapping has the old data");

	EXPECT_EQ(0, munmap(att, RGN));
	close(memfd);
	close(fd);
	EXPECT_EQ(0, unlink(NAME("v3")));
	for (int i = 0; i < 50; i++) {
		huge_free2 = meminfo_kb("HugePages_Free");
		if (huge_free2 == huge_free0)
			break;
		sleep_ms(100);
	}
	EXPECT_EQ(huge_free0, huge_free2) TH_LOG("huge pages not returned");
}

TEST_F_TIMEOUT(msharefs, create_mapping_details, 120)
{
	struct mshare_stat st0, st1;
	int fd, memfd, ro_memfd, status;
	char path[64];
	char *a;

	fd = named(_metadata, NAME("cmd"), RGN, 0600);

	/* fd -1 without MAP_ANONYMOUS: shared anonymous too. */
	ASSERT_EQ(0, mc_create(fd, 0, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, -1))
		TH_LOG("CREATE_MAPPING fd -1, MAP_SHARED|MAP_FIXED: %s", strerror(errno));
	/* MAP_FIXED_NOREPLACE: refused over a mapping, fine elsewhere. */
	MS_EXPECT_ERRNO(EEXIST, mc_create(fd, 0, 2 * MiB, 0, RW,
				       MAP_SHARED | MAP_FIXED | MAP_FIXED_NOREPLACE, -1));
	EXPECT_EQ(0, mc_create(fd, 4 * MiB, 2 * MiB, 0, RW,
			       MAP_SHARED | MAP_FIXED | MAP_FIXED_NOREPLACE, -1))
		TH_LOG("MAP_FIXED_NOREPLACE at a free offset: %s", strerror(errno));
	/* A read-only mapping. */
	ASSERT_EQ(0, mc_create(fd, 8 * MiB, 2 * MiB, 0, PROT_READ, MAP_SHARED | MAP_FIXED, -1));
	/* MAP_POPULATE populates without anyone attached. */
	ASSERT_EQ(0, ms_getstat(fd, &st0));
	ASSERT_EQ(0, mc_create(fd, 16 * MiB, 4 * MiB, 0, RW, MAP_SHARED | MAP_FIXED | MAP_POPULATE, -1))
		TH_LOG("MAP_POPULATE: %s", strerror(errno));
	ASSERT_EQ(0, ms_getstat(fd, &st1));
	EXPECT_LE(st0.resident + 4 * MiB, st1.resident) TH_LOG("resident %llu -> %llu after MAP_POPULATE of 4 MiB",
							  (unsigned long long)st0.resident,
							  (unsigned long long)st1.resident);
	EXPECT_EQ(0u, st1.attachments);
	EXPECT_EQ(4u, st1.mappings);

	/* Bad sizes, offsets and files. */
	MS_EXPECT_ERRNO(EINVAL, mc_anon(fd, 32 * MiB, 0));
	MS_EXPECT_ERRNO(EINVAL, mc_anon(fd, 2 * MiB, (uint64_t)0 - 2 * MiB));
	MS_EXPECT_ERRNO(EINVAL, mc_anon(fd, (uint64_t)0 - 2 * MiB, 4 * MiB));
	MS_EXPECT_ERRNO(EBADF, mc_create(fd, 32 * MiB, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, 9999));
	memfd = memfd_sized("cmd", 8 * MiB);
	ASSERT_LE(0, memfd);
	MS_EXPECT_ERRNO(EINVAL, mc_create(fd, 32 * MiB, 2 * MiB, PG / 2, RW, MAP_SHARED | MAP_FIXED, memfd));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	ro_memfd = open(path, O_RDONLY);
	ASSERT_LE(0, ro_memfd);
	MS_EXPECT_ERRNO(EACCES, mc_create(fd, 32 * MiB, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, ro_memfd));
	EXPECT_EQ(0, mc_create(fd, 32 * MiB, 2 * MiB, 0, PROT_READ, MAP_SHARED | MAP_FIXED, ro_memfd))
		TH_LOG("PROT_READ mapping of an O_RDONLY memfd: %s", strerror(errno));
	close(ro_memfd);
	ASSERT_EQ(0, ms_getstat(fd, &st1));
	EXPECT_EQ(5u, st1.mappings);

	a = attach(_metadata, fd, RGN, RW);
	a[0] = 1;
	a[4 * MiB] = 2;
	EXPECT_EQ(0, a[8 * MiB]);
	EXPECT_EQ(0, a[32 * MiB]);
	status = child_status(touch_word, a + 8 * MiB);
	EXPECT_TRUE(killed_by(status, SIGSEGV)) TH_LOG("write to a PROT_READ mapping: status %#x", status);
	status = child_status(touch_word, a + 32 * MiB);
	EXPECT_TRUE(killed_by(status, SIGSEGV)) TH_LOG("write to a PROT_READ memfd mapping: status %#x", status);
	/* MAP_FIXED over a mapping replaces it, as mmap() would. */
	ASSERT_EQ(0, mc_create(fd, 0, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, -1));
	EXPECT_EQ(0, a[0]) TH_LOG("the replaced mapping kept its data");
	EXPECT_EQ(2, a[4 * MiB]);
	ASSERT_EQ(0, ms_getstat(fd, &st1));
	EXPECT_EQ(5u, st1.mappings);
	EXPECT_EQ(1u, st1.attachments);
	EXPECT_EQ(0, munmap(a, RGN));
	close(memfd);
	close(fd);
	EXPECT_EQ(0, unlink(NAME("cmd")));
}

#define DM_FILE_LEN	(4 * MiB)
#define DM_ANON_OFF	(64 * MiB)
#define DM_ANON_LEN	(2 * MiB)
#define DM_TAG		0x6d

TEST_F_TIMEOUT(msharefs, daemon_builds_client_attaches, 120)
{
	int sd[2], sc[2], fd;
	pid_t daemon, client;
	char *a;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sd));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sc));

	/* The daemon builds the region and never attaches. */
	daemon = fork_root();
	ASSERT_LE(0, daemon);
	if (daemon == 0) {
		struct mshare_stat cs;
		int dfd, memfd = memfd_sized("daemon", DM_FILE_LEN);
		uint64_t *buf = calloc(1, DM_FILE_LEN);

		close(sd[0]);
		close(sc[0]);
		close(sc[1]);
		umask(0);
		CHILD_CHECK(memfd >= 0 && buf);
		for (size_t i = 0; i < DM_FILE_LEN / PG; i++)
			buf[i * PG / 8] = pat(DM_TAG, i);
		CHILD_CHECK(pwrite(memfd, buf, DM_FILE_LEN, 0) == (ssize_t)DM_FILE_LEN);
		dfd = open(NAME("daemon"), O_RDWR | O_CREAT | O_EXCL, 0666);
		CHILD_CHECK(dfd >= 0);
		CHILD_CHECK(ftruncate(dfd, RGN) == 0);
		CHILD_CHECK(mc_create(dfd, 0, DM_FILE_LEN, 0, RW, MAP_SHARED | MAP_FIXED, memfd) == 0);
		CHILD_CHECK(mc_create(dfd, DM_ANON_OFF, DM_ANON_LEN, 0, RW,
				      MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED, -1) == 0);
		CHILD_CHECK(ms_getstat(dfd, &cs) == 0 && cs.mappings == 2 && cs.attachments == 0);
		CHILD_CHECK(sock_send(sd[1], 'r') == 0);
		CHILD_CHECK(sock_recv(sd[1]) == 'c');
		/* The client's writes reached the daemon's memfd. */
		for (size_t i = 0; i < DM_FILE_LEN / PG; i += 17)
			CHILD_CHECK(pread_word(memfd, i, 1) == pat(DM_TAG + 1, i));
		CHILD_CHECK(ms_getstat(dfd, &cs) == 0 && cs.attachments == 1);
		CHILD_CHECK(sock_send(sd[1], 'd') == 0);
		_exit(0);
	}
	close(sd[1]);
	ASSERT_EQ('r', sock_recv(sd[0])) TH_LOG("the daemon failed");

	/* The client: uid 1000, by name. */
	client = fork_as(UID_USER);
	ASSERT_LE(0, client);
	if (client == 0) {
		struct stat cst;
		int cfd;
		char *c;

		close(sd[0]);
		close(sc[0]);
		cfd = open(NAME("daemon"), O_RDWR);
		CHILD_CHECK(cfd >= 0);
		CHILD_CHECK(fstat(cfd, &cst) == 0 && cst.st_size == (off_t)RGN);
		c = mmap(NULL, cst.st_size, RW, MAP_SHARED, cfd, 0);
		CHILD_CHECK(c != MAP_FAILED);
		CHILD_CHECK(check_pat(c, DM_FILE_LEN, PG, DM_TAG, 0) == -1);
		fill_pat(c, DM_FILE_LEN, PG, DM_TAG + 1, 1);
		fill_pat(c + DM_ANON_OFF, DM_ANON_LEN, PG, DM_TAG + 2, 0);
		CHILD_CHECK(sock_send(sc[1], 'c') == 0);
		CHILD_CHECK(sock_recv(sc[1]) == 'x');
		_exit(0);
	}
	close(sc[1]);
	ASSERT_EQ('c', sock_recv(sc[0])) TH_LOG("the client failed");
	ASSERT_EQ(0, sock_send(sd[0], 'c'));
	EXPECT_EQ('d', sock_recv(sd[0])) TH_LOG("the daemon's checks failed");
	EXPECT_TRUE(child_ok(daemon, "daemon"));
	ASSERT_EQ(0, sock_send(sc[0], 'x'));
	EXPECT_TRUE(child_ok(client, "client"));
	close(sd[0]);
	close(sc[0]);

	/* Both gone: the name holds everything they made. */
	fd = open(NAME("daemon"), O_RDWR);
	ASSERT_LE(0, fd);
	a = attach(_metadata, fd, RGN, PROT_READ);
	EXPECT_EQ(-1, check_pat(a, DM_FILE_LEN, PG, DM_TAG, 0));
	EXPECT_EQ(-1, check_pat(a, DM_FILE_LEN, PG, DM_TAG + 1, 1));
	EXPECT_EQ(-1, check_pat(a + DM_ANON_OFF, DM_ANON_LEN, PG, DM_TAG + 2, 0));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	EXPECT_EQ(0, unlink(NAME("daemon")));
}

/* ------------------------------------------------------------------------ */
/* 8. Leaks. */

struct refuse_ctx {
	int sized, fresh, ro, anon, memfd;
};

/* One refused call of kind @k; true if it failed with the expected errno. */
static bool refuse_one(int k, const struct refuse_ctx *c)
{
	struct stat st;
	long r = 0;
	void *p = NULL;
	int want;

	errno = 0;
	switch (k) {
	case 0: want = EEXIST; r = open(NAME("leak-sized"), O_RDWR | O_CREAT | O_EXCL, 0600); break;
	case 1: want = ENOENT; r = open(NAME("leak-missing"), O_RDWR); break;
	case 2: want = EBUSY; r = ftruncate(c->sized, 0); break;
	case 3: want = EINVAL; r = ftruncate(c->fresh, RGN + PG); break;
	case 4: want = EINVAL; r = mc_create(c->sized, 0, 2 * MiB, 0, RW, MAP_PRIVATE | MAP_FIXED, -1); break;
	case 5: want = EINVAL; r = mc_create(c->sized, 0, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, c->anon); break;
	case 6: want = EINVAL; r = mc_anon(c->fresh, 0, 2 * MiB); break;
	case 7: want = EINVAL; p = mmap(NULL, RGN, RW, MAP_SHARED, c->fresh, 0); break;
	case 8: want = EEXIST; r = ms_link(c->anon, PFX "leak-sized", 0600); break;
	case 9: want = EINVAL; r = ms_link(c->anon, PFX "a/b", 0600); break;
	case 10: want = EINVAL; r = write(c->sized, "x", 1); break;
	case 11: want = EXDEV; r = linkat(c->anon, "", AT_FDCWD, NAME("leak-x"), AT_EMPTY_PATH); break;
	case 12: want = EACCES; r = mc_anon(c->ro, 4 * MiB, 2 * MiB); break;
	case 13: want = EINVAL; r = mc_unmap(c->sized, PG / 2, 2 * MiB); break;
	case 14: want = EACCES; p = mmap(NULL, RGN, RW, MAP_SHARED, c->ro, 0); break;
	case 15: want = EINVAL; r = mc_create(c->sized, RGN - MiB, 2 * MiB, 0, RW, MAP_SHARED | MAP_FIXED, c->memfd); break;
	default: want = ENOENT; r = stat(NAME("leak-missing"), &st); break;
	}
	if (p) {
		if (p != MAP_FAILED) {
			munmap(p, RGN);
			return false;
		}
		return errno == want;
	}
	if (r >= 0) {
		if (k <= 1)
			close(r);
		return false;
	}
	/* EINVAL is allowed for a change of size. */
	return errno == want || (k == 2 && errno == EINVAL);
}
#define REFUSE_KINDS	17

/* One create-by-name, size, map, touch, unlink, close cycle. */
static bool leak_cycle(int i)
{
	size_t off = (size_t)(i % 16) * 2 * MiB;
	bool ok = false;
	char *a = NULL;
	int fd;

	fd = open(NAME("leak"), O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return false;
	if (ftruncate(fd, RGN) || mc_anon(fd, off, 2 * MiB))
		goto out;
	a = ms_attach(fd, RGN, NULL, RW, 0);
	if (!a)
		goto out;
	for (int k = 0; k < 8; k++)
		*wordp(a, off + k * PG, 0) = i + k;
	ok = true;
	for (int k = 0; k < 8; k++)
		if (*wordp(a, off + k * PG, 0) != (uint64_t)(i + k))
			ok = false;
	munmap(a, RGN);
out:
	if (unlink(NAME("leak")))
		ok = false;
	close(fd);
	return ok;
}

/* mshare_create(), map, LINK, open by name, attach, touch, unlink, close. */
static bool link_cycle(int i)
{
	bool ok = false;
	int fd, fd2 = -1;
	char *a;

	fd = sys_mshare_create(RGN, 0);
	if (fd < 0)
		return false;
	if (mc_anon(fd, 0, 2 * MiB) || ms_link(fd, PFX "leakl", 0600))
		goto out;
	fd2 = open(NAME("leakl"), O_RDWR);
	if (fd2 < 0)
		goto out_unlink;
	a = ms_attach(fd2, RGN, NULL, RW, 0);
	if (!a)
		goto out_unlink;
	*wordp(a, 0, 0) = i;
	ok = *wordp(a, 0, 0) == (uint64_t)i;
	munmap(a, RGN);
out_unlink:
	if (unlink(NAME("leakl")))
		ok = false;
out:
	if (fd2 >= 0)
		close(fd2);
	close(fd);
	return ok;
}

TEST_F_TIMEOUT(msharefs, no_leaks, 600)
{
	int fds0, fds1, ents0, ents1, bad = 0, bad_l = 0, bad_r = 0;
	struct memsnap base, now;
	struct refuse_ctx c;
	double t0;

	/* Warm up, then measure. */
	for (int i = 0; i < 2; i++) {
		leak_cycle(i);
		link_cycle(i);
	}
	mem_settle();
	memsnap_take(&base);
	fds0 = count_fds();
	ents0 = count_entries(MSFS);
	ASSERT_LE(1, ents0);

	t0 = now_sec();
	for (int i = 0; i < 200; i++)
		if (!leak_cycle(i) && bad++ < 5)
			TH_LOG("cycle %d failed: %s", i, strerror(errno));
	for (int i = 0; i < 50; i++)
		if (!link_cycle(i) && bad_l++ < 5)
			TH_LOG("link cycle %d failed: %s", i, strerror(errno));
	TH_LOG("250 cycles in %.1f s", now_sec() - t0);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, bad_l);

	/* 200 refusals, on objects made for them (and freed after). */
	c.sized = named(_metadata, NAME("leak-sized"), RGN, 0600);
	c.fresh = named(_metadata, NAME("leak-fresh"), 0, 0600);
	c.ro = open(NAME("leak-sized"), O_RDONLY);
	c.anon = sys_mshare_create(RGN, 0);
	c.memfd = memfd_sized("leak", 4 * MiB);
	ASSERT_LE(0, c.ro);
	ASSERT_LE(0, c.anon);
	ASSERT_LE(0, c.memfd);
	ASSERT_EQ(0, mc_anon(c.sized, 0, 2 * MiB));
	for (int i = 0; i < 200; i++)
		if (!refuse_one(i % REFUSE_KINDS, &c) && bad_r++ < 10)
			TH_LOG("refusal kind %d: %s", i % REFUSE_KINDS, strerror(errno));
	EXPECT_EQ(0, bad_r);
	close(c.memfd);
	close(c.anon);
	close(c.ro);
	close(c.fresh);
	close(c.sized);
	EXPECT_EQ(0, unlink(NAME("leak-sized")));
	EXPECT_EQ(0, unlink(NAME("leak-fresh")));

	fds1 = count_fds();
	ents1 = count_entries(MSFS);
	mem_settle();
	bool back = mem_back_to(&base, &now, 256, 50, 100);

	TH_LOG("fds %d -> %d, entries %d -> %d; PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB, Slab %+ld kB",
	       fds0, fds1, ents0, ents1, now.pagetables - base.pagetables,
	       now.shmem - base.shmem, now.anon - base.anon, now.slab - base.slab);
	EXPECT_EQ(fds0, fds1);
	EXPECT_EQ(ents0, ents1);
	EXPECT_TRUE(back) TH_LOG("memory did not return to its baseline");
	EXPECT_LE(now.slab - base.slab, 1024) TH_LOG("Slab grew by %ld kB", now.slab - base.slab);
}

/*
 * A region whose mappings were all removed with MSHAREFS_UNMAP, after
 * faults built page tables in it, is freed in full: 64 of them leave
 * PageTables at the baseline.
 */
TEST_F_TIMEOUT(msharefs, free_after_unmapping_everything, 300)
{
	struct mshare_stat st;
	struct memsnap base = { 0 }, now;
	int bad = 0;

	for (int i = 0; i < 66; i++) {
		int fd = open(NAME("unmapall"), O_RDWR | O_CREAT | O_EXCL, 0600);
		char *a;

		if (i == 2) {
			/* Two rounds of warm-up. */
			mem_settle();
			memsnap_take(&base);
		}
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ftruncate(fd, RGN));
		ASSERT_EQ(0, mc_anon(fd, (size_t)(i % 8) * 2 * MiB, 2 * MiB));
		a = attach(_metadata, fd, RGN, RW);
		for (int k = 0; k < 4; k++)
			*wordp(a, (size_t)(i % 8) * 2 * MiB + k * PG, 0) = k + 1;
		ASSERT_EQ(0, munmap(a, RGN));
		ASSERT_EQ(0, mc_unmap(fd, 0, RGN)) TH_LOG("UNMAP of the whole region: %s", strerror(errno));
		ASSERT_EQ(0, ms_getstat(fd, &st));
		if (st.mappings != 0 && bad++ < 3)
			TH_LOG("round %d: %llu mappings after UNMAP of all", i,
			       (unsigned long long)st.mappings);
		if (i == 0)
			TH_LOG("no mappings left: pgtable %llu", (unsigned long long)st.pgtable);
		close(fd);
		ASSERT_EQ(0, unlink(NAME("unmapall")));
	}
	EXPECT_EQ(0, bad);
	mem_settle();
	bool back = mem_back_to(&base, &now, 128, 50, 100);

	TH_LOG("64 regions freed with no mappings left: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       now.pagetables - base.pagetables, now.shmem - base.shmem,
	       now.anon - base.anon);
	EXPECT_TRUE(back) TH_LOG("memory (page tables?) not freed");
}

/* ------------------------------------------------------------------------ */
/*
 * mshare_info is not a region: it cannot be unlinked, renamed, renamed
 * over (a region renamed onto it, or exchanged with it) or hard-linked,
 * even by root, through either mount: EPERM each time, and it still reads
 * the alignment.  Regions are still renamed and linked.
 */
static void info_intact(struct __test_metadata *_metadata, const char *dir)
{
	char path[256], buf[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/mshare_info", dir);
	ASSERT_EQ(0, stat(path, &st)) TH_LOG("stat %s: %s", path, strerror(errno));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(1u, st.st_nlink);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	read_text(fd, buf, sizeof(buf));
	EXPECT_STREQ("1073741824\n", buf);
	close(fd);
}

TEST_F(msharefs, mshare_info_stays)
{
	struct stat st, st0, st1;
	int fd, fd2;
	char *a;
	pid_t pid;

	info_intact(_metadata, MSFS);
	ASSERT_EQ(0, stat(MSFS "/mshare_info", &st0));
	fd = named(_metadata, NAME("info-r"), RGN, 0600);
	ASSERT_EQ(0, mc_anon(fd, 0, 2 * MiB));
	a = attach(_metadata, fd, RGN, RW);
	fill_pat(a, 2 * MiB, PG, 0x1f, 0);

	MS_EXPECT_ERRNO(EPERM, unlink(MSFS "/mshare_info"));
	MS_EXPECT_ERRNO(EPERM, rename(MSFS "/mshare_info", NAME("info-moved")));
	if (!stat(NAME("info-moved"), &st))
		rename(NAME("info-moved"), MSFS "/mshare_info");	/* put it back */
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("info-moved"), &st));
	MS_EXPECT_ERRNO(EPERM, rename(NAME("info-r"), MSFS "/mshare_info"));
	MS_EXPECT_ERRNO(EPERM, renameat2(AT_FDCWD, NAME("info-r"), AT_FDCWD,
				      MSFS "/mshare_info", RENAME_EXCHANGE));
	MS_EXPECT_ERRNO(EPERM, renameat2(AT_FDCWD, MSFS "/mshare_info", AT_FDCWD,
				      NAME("info-r"), RENAME_EXCHANGE));
	MS_EXPECT_ERRNO(EPERM, link(MSFS "/mshare_info", NAME("info-link")));
	MS_EXPECT_ERRNO(ENOENT, stat(NAME("info-link"), &st));
	fd2 = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, fd2);
	MS_EXPECT_ERRNO(EEXIST, ms_link(fd2, "mshare_info", 0600));
	close(fd2);

	/* Through a second mount of the same names. */
	ASSERT_TRUE(mkdir(M2, 0755) == 0 || errno == EEXIST);
	ASSERT_EQ(0, mount("none", M2, "msharefs", 0, NULL)) TH_LOG("second mount: %s", strerror(errno));
	self->m2_mounted = true;
	MS_EXPECT_ERRNO(EPERM, unlink(M2 "/mshare_info"));
	MS_EXPECT_ERRNO(EPERM, rename(M2 "/mshare_info", M2 "/" PFX "info-moved2"));
	MS_EXPECT_ERRNO(EPERM, rename(M2 "/" PFX "info-r", M2 "/mshare_info"));
	MS_EXPECT_ERRNO(EPERM, link(M2 "/mshare_info", M2 "/" PFX "info-link2"));
	info_intact(_metadata, M2);
	EXPECT_EQ(0, umount(M2));
	self->m2_mounted = false;
	rmdir(M2);

	/* Not as another user either (the sticky root says EPERM too). */
	pid = fork_as(UID_USER);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_ERRNO(EPERM, unlink(MSFS "/mshare_info"));
		CHILD_ERRNO(EPERM, rename(MSFS "/mshare_info", NAME("info-u")));
		_exit(0);
	}
	EXPECT_TRUE(child_ok(pid, "uid 1000"));

	/* mshare_info is as it was ... */
	info_intact(_metadata, MSFS);
	ASSERT_EQ(0, stat(MSFS "/mshare_info", &st1));
	EXPECT_EQ(st0.st_ino, st1.st_ino);
	/* ... and so is the region that was to replace it. */
	ASSERT_EQ(0, stat(NAME("info-r"), &st));
	EXPECT_EQ((off_t)RGN, st.st_size);
	EXPECT_EQ(-1, check_pat(a, 2 * MiB, PG, 0x1f, 0));

	/* Regions are still renamed and linked, also over another region. */
	ASSERT_EQ(0, rename(NAME("info-r"), NAME("info-r2"))) TH_LOG("rename: %s", strerror(errno));
	ASSERT_EQ(0, link(NAME("info-r2"), NAME("info-r3"))) TH_LOG("link: %s", strerror(errno));
	fd2 = named(_metadata, NAME("info-other"), RGN, 0600);
	close(fd2);
	ASSERT_EQ(0, rename(NAME("info-r3"), NAME("info-other"))) TH_LOG("rename over a region: %s",
									strerror(errno));
	fd2 = open(NAME("info-other"), O_RDWR);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, fstat(fd2, &st1));
	ASSERT_EQ(0, stat(NAME("info-r2"), &st));
	EXPECT_EQ(st.st_ino, st1.st_ino);
	EXPECT_EQ(2u, st1.st_nlink);
	{
		char *b = attach(_metadata, fd2, RGN, PROT_READ);

		EXPECT_EQ(-1, check_pat(b, 2 * MiB, PG, 0x1f, 0));
		EXPECT_EQ(0, munmap(b, RGN));
	}
	close(fd2);
	EXPECT_EQ(0, unlink(NAME("info-r2")));
	EXPECT_EQ(0, unlink(NAME("info-other")));
	EXPECT_EQ(0, munmap(a, RGN));
	close(fd);
	info_intact(_metadata, MSFS);
}

TEST_HARNESS_MAIN

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What pt-savings and mshare-bench (make bench) share: the modes a figure
 * compares (mshare against memfd, shmem THP, hugetlbfs and ext4 files), how
 * each one's memory is set up and populated, and /proc readers.
 */
#ifndef MSHARE_SAMPLES_BENCH_H
#define MSHARE_SAMPLES_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/mshare.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define MiB (1UL << 20)
#define GiB (1UL << 30)
#define HUGE_ADDR ((char *)(64 * GiB))
#define THP_KNOB "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

static inline int fill_file(int fd, size_t len);

enum method { CONTROL, MEMFD, THP, HUGETLB, EXT4, MSHARE, NMETHODS };
static const char *const names[NMETHODS] = {
	"control", "memfd", "thp", "hugetlb", "ext4", "mshare"
};

static size_t size = 256 * MiB;

static inline void vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			perror("stat_refresh");
		close(fd);
	}
}

static inline long meminfo_kb(const char *field)
{
	size_t len = strlen(field);
	char line[256];
	long val = -1;
	FILE *f;

	vmstat_refresh();
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			val = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return val;
}

static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	int ret = -1;

	if (fd >= 0) {
		ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
		close(fd);
	}
	return ret;
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

/* A mode's memory, set up: what a process maps, the fd and where. */
struct target {
	enum method m;
	int fd;
	size_t maplen;		/* bytes mmap()ed (a whole region for mshare) */
	char *addr;		/* fixed address, or NULL */
	long extra_kb;		/* page tables paid once (the region's own) */
	char thp_old[32];	/* shmem_enabled before THP mode */
	long huge_old;		/* nr_hugepages before hugetlb mode */
	char why[640];		/* why setup failed, or a note */
};

/* Where the ext4 and hugetlbfs files go (make bench mounts them). */
static const char *ext4_dir = "/mnt/ext4", *huge_dir = "/dev/hugepages";

/* The previous value of a [bracketed] sysfs choice, e.g. "never". */
static inline void sysfs_choice(const char *path, char *buf, size_t len)
{
	char line[256], *a, *b;
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "never");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && (a = strchr(line, '[')) &&
	    (b = strchr(a, ']'))) {
		*b = 0;
		snprintf(buf, len, "%s", a + 1);
	}
	fclose(f);
}

/* Write every byte of the file: its page cache is then populated and
 * up to date (fallocate()d shmem pages are not, and fault-around skips
 * them). */
static inline int fill_file(int fd, size_t len)
{
	static char buf[1 << 20];

	memset(buf, 0x5a, sizeof(buf));
	for (size_t off = 0; off < len; off += sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), off) != sizeof(buf))
			return -1;
	return 0;
}

/*
 * Set up mode @m's memory of size bytes, populated (page cache, huge pages,
 * or the region's page tables): 0, or -1 (the mode is skipped; t->why says
 * why, starting with "oom" if memory ran out).  memfd and mshare use
 * @memfd (mshare maps it inside a new region).
 */
static inline int setup(enum method m, int memfd, struct target *t)
{
	char path[512], *why = t->why;
	size_t wlen = sizeof(t->why);
	char *thp_old = t->thp_old;
	long *huge_old = &t->huge_old, *extra_kb = &t->extra_kb;
	long pt0;

	memset(t, 0, sizeof(*t));
	t->m = m;
	t->fd = -1;
	t->maplen = size;
	t->huge_old = -1;
	snprintf(t->thp_old, sizeof(t->thp_old), "never");
	switch (m) {
	case CONTROL:
		return 0;
	case MEMFD:
		t->fd = memfd;
		return 0;
	case THP:
		sysfs_choice(THP_KNOB, thp_old, 32);
		if (write_str(THP_KNOB, "always")) {
			snprintf(why, wlen, "cannot set %s", THP_KNOB);
			return -1;
		}
		t->fd = memfd_create("bench-thp", 0);
		if (t->fd < 0 || fill_file(t->fd, size)) {
			snprintf(why, wlen, "THP memfd: %s", strerror(errno));
			return -1;
		}
		snprintf(why, wlen, "ShmemHugePages %ld kB of %zu kB",
			 meminfo_kb("ShmemHugePages"), size >> 10);
		return 0;
	case HUGETLB: {
		long need = size / (2 * MiB), have = meminfo_kb("HugePages_Free");
		char num[32];

		*huge_old = meminfo_kb("HugePages_Total");
		if (have < need) {
			snprintf(num, sizeof(num), "%ld", *huge_old + need - have);
			write_str("/proc/sys/vm/nr_hugepages", num);
			have = meminfo_kb("HugePages_Free");
		}
		if (have < need) {
			snprintf(why, wlen, "oom: %ld free 2 MiB huge pages, need %ld",
				 have, need);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/pt-savings", huge_dir);
		t->fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
		if (t->fd < 0 || unlink(path) || fallocate(t->fd, 0, 0, size)) {
			snprintf(why, wlen, "hugetlbfs file in %s: %s", huge_dir,
				 strerror(errno));
			return -1;
		}
		t->addr = HUGE_ADDR;
		return 0;
	}
	case EXT4:
		snprintf(path, sizeof(path), "%s/pt-savings", ext4_dir);
		t->fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
		if (t->fd < 0) {
			snprintf(why, wlen, "no ext4 file %s: %s", path, strerror(errno));
			return -1;
		}
		unlink(path);
		if (fill_file(t->fd, size)) {
			snprintf(why, wlen, "oom: filling %zu MiB on ext4: %s",
				 size / MiB, strerror(errno));
			return -1;
		}
		return 0;
	case MSHARE: {
		size_t rsize = (size + MSHARE_ALIGN - 1) & ~(MSHARE_ALIGN - 1);
		char *att;

		pt0 = meminfo_kb("PageTables");
		t->fd = syscall(__NR_mshare_create, rsize, 0);
		if (t->fd < 0) {
			snprintf(why, wlen, "mshare_create: %s", strerror(errno));
			return -1;
		}
		att = mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_SHARED,
			   t->fd, 0);
		if (att == MAP_FAILED) {
			snprintf(why, wlen, "attach: %s", strerror(errno));
			return -1;
		}
		if (mmap(att, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_POPULATE, memfd, 0) == MAP_FAILED) {
			snprintf(why, wlen, "map inside: %s", strerror(errno));
			return -1;
		}
		munmap(att, rsize);	/* the parent keeps only the fd */
		*extra_kb = meminfo_kb("PageTables") - pt0;
		t->maplen = rsize;
		return 0;
	}
	default:
		return -1;
	}
}

static inline void teardown(struct target *t)
{
	char num[32];

	if (t->m != MEMFD && t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->m == THP)
		write_str(THP_KNOB, t->thp_old);
	if (t->m == HUGETLB && t->huge_old >= 0) {
		snprintf(num, sizeof(num), "%ld", t->huge_old);
		write_str("/proc/sys/vm/nr_hugepages", num);
	}
}

/* Map the target in this process (PROT_READ | @prot); NULL on failure. */
static inline char *target_map(const struct target *t, int prot)
{
	void *p = mmap(t->addr, t->maplen, PROT_READ | prot, MAP_SHARED |
		       (t->addr ? MAP_FIXED_NOREPLACE : 0), t->fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Read one byte of every 4 KiB page of [p, p + len). */
static inline unsigned long touch_all(const volatile char *p, size_t len)
{
	unsigned long sum = 0;

	for (size_t off = 0; off < len; off += 4096)
		sum += p[off];
	return sum;
}

/* Sum of the per-CPU counts of the /proc/interrupts line @name ("TLB",
 * "CAL"); @percpu (if not NULL) gets up to @ncpu per-CPU counts. */
static inline long irq_count(const char *name, long *percpu, int ncpu)
{
	char line[4096], *p, *end;
	long total = 0;
	size_t n = strlen(name);
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, name, n) || p[n] != ':')
			continue;
		p += n + 1;
		for (int c = 0;; c++) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			if (percpu && c < ncpu)
				percpu[c] = v;
			total += v;
			p = end;
		}
	}
	fclose(f);
	return total;
}

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the mshare tests: the syscall, attaching, mapping inside a
 * region, page patterns, SCM_RIGHTS, parent/child handshakes over unix
 * sockets, fd counting, /proc/self/maps and memory-baseline checks; named
 * regions, pidfd syscalls, reading the kernel log (/dev/kmsg), ext4 and
 * swap on a brd ram disk, /proc/PID files (status, smaps and VmFlags,
 * thread states), cgroup files, a CPU's TLB/CAL interrupts, attach
 * windows and errno checks (MS_EXPECT_ERRNO).  The ms_must_*() helpers are
 * for test bodies: they ASSERT.
 *
 * Include after defining _GNU_SOURCE and after kselftest_harness.h.
 *
 * Forked children must not use the harness's ASSERT/EXPECT macros (their
 * results would not reach the harness): they use CHILD_CHECK(), which
 * prints what failed and _exit()s non-zero, and the parent checks the exit
 * status with child_ok().
 */
#ifndef MSHARE_TESTS_MSHARE_UTIL_H
#define MSHARE_TESTS_MSHARE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <linux/mshare.h>
#include "util.h"

#ifndef __NR_mshare_create
#define __NR_mshare_create 463
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PG		4096UL
#define RGN		((size_t)MSHARE_ALIGN)	/* 1 GiB */

static inline int sys_mshare_create(size_t size, unsigned int flags)
{
	return syscall(__NR_mshare_create, size, flags);
}

/* Attach the whole region at @addr (NULL: anywhere), MAP_SHARED | @extra. */
static inline char *ms_attach(int fd, size_t size, void *addr, int prot,
			      int extra)
{
	void *p = mmap(addr, size, prot, MAP_SHARED | extra, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A fixed mapping of @len bytes of @memfd (from offset 0) at @addr. */
static inline void *ms_map_fd(void *addr, size_t len, int prot, int memfd)
{
	return mmap(addr, len, prot, MAP_SHARED | MAP_FIXED, memfd, 0);
}

/* A fixed anonymous mapping, MAP_SHARED or MAP_PRIVATE per @type. */
static inline void *ms_map_anon(void *addr, size_t len, int prot, int type)
{
	return mmap(addr, len, prot, type | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/* A memfd of @size bytes (zero-filled), or -1. */
static inline int memfd_sized(const char *name, size_t size)
{
	int fd = memfd_create(name, 0);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The 64-bit pattern word of page @idx for a mapping tagged @tag. */
static inline uint64_t pat(uint64_t tag, uint64_t idx)
{
	return (tag << 32) | (idx & 0xffffffffULL);
}

/* Write pat(tag, page) into word @word of every @step-th byte of [p, p+len). */
static inline void fill_pat(void *p, size_t len, size_t step, uint64_t tag,
			    int word)
{
	for (size_t off = 0; off < len; off += step)
		((volatile uint64_t *)((char *)p + off))[word] = pat(tag, off / step);
}

/* The offset of the first word that is not the pattern, or -1. */
static inline long check_pat(const void *p, size_t len, size_t step,
			     uint64_t tag, int word)
{
	for (size_t off = 0; off < len; off += step)
		if (((const volatile uint64_t *)((const char *)p + off))[word] !=
		    pat(tag, off / step))
			return (long)off;
	return -1;
}

/* Word @word of page @page of a file, read with pread(), or ~0 on error. */
static inline uint64_t pread_word(int fd, size_t page, int word)
{
	uint64_t v;

	if (pread(fd, &v, sizeof(v), page * PG + word * sizeof(v)) != sizeof(v))
		return ~0ULL;
	return v;
}

static inline volatile uint64_t *wordp(void *base, size_t off, int word)
{
	return (volatile uint64_t *)((char *)base + off) + word;
}

/* --- for test bodies: these ASSERT ------------------------------------- */

/* mshare_create(@size, 0), which must succeed. */
static inline int ms_must_create(struct __test_metadata *_metadata, size_t size)
{
	int fd = sys_mshare_create(size, 0);

	ASSERT_LE(0, fd) TH_LOG("mshare_create(%#zx): %s", size, strerror(errno));
	return fd;
}

/* Attach all of @fd's region (@size bytes) at @addr exactly (NOREPLACE) or anywhere. */
static inline char *ms_must_attach(struct __test_metadata *_metadata, int fd,
				   size_t size, void *addr, int prot)
{
	char *p = ms_attach(fd, size, addr, prot, addr ? MAP_FIXED_NOREPLACE : 0);

	ASSERT_NE(NULL, p) TH_LOG("attach %#zx at %p prot %#x: %s", size, addr,
				  prot, strerror(errno));
	ASSERT_EQ(0, (uintptr_t)p % RGN) TH_LOG("attachment at %p not aligned", p);
	if (addr) {
		ASSERT_EQ(addr, (void *)p);
	}
	return p;
}

/* mmap(@addr, @len, @prot, @flags, @fd, 0) that must land at @addr. */
static inline void ms_must_map(struct __test_metadata *_metadata, void *addr,
			       size_t len, int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags, fd, 0);

	ASSERT_EQ(addr, p) TH_LOG("mmap at %p len %#zx prot %#x flags %#x: %s",
				  addr, len, prot, flags,
				  p == MAP_FAILED ? strerror(errno) : "wrong address");
}

/* @call must fail with -1 (MAP_FAILED for the _MAP_ one) and errno @err. */
#define MS_EXPECT_ERRNO(err, call) do { \
	long _r; \
	errno = 0; \
	_r = (long)(call); \
	EXPECT_EQ(-1, _r) TH_LOG("%s succeeded", #call); \
	EXPECT_EQ(err, errno) TH_LOG("%s: %s, expected %s", #call, \
				     strerror(errno), strerror(err)); \
} while (0)

#define MS_EXPECT_MAP_ERRNO(err, call) do { \
	void *_p; \
	errno = 0; \
	_p = (call); \
	EXPECT_EQ(MAP_FAILED, _p) TH_LOG("%s succeeded at %p", #call, _p); \
	EXPECT_EQ(err, errno) TH_LOG("%s: %s, expected %s", #call, \
				     strerror(errno), strerror(err)); \
} while (0)

/*
 * Attach the window [@off, @off + @len) of @fd's region at @addr exactly
 * (NOREPLACE) or anywhere; NULL with errno on failure.
 */
static inline char *ms_attach_window(int fd, off_t off, size_t len, void *addr,
				     int prot)
{
	void *p = mmap(addr, len, prot,
		       MAP_SHARED | (addr ? MAP_FIXED_NOREPLACE : 0), fd, off);

	return p == MAP_FAILED ? NULL : p;
}

/* ms_attach_window() that must succeed (and land at @addr if given). */
static inline char *ms_must_attach_window(struct __test_metadata *_metadata,
					  int fd, off_t off, size_t len,
					  void *addr, int prot)
{
	char *p = ms_attach_window(fd, off, len, addr, prot);

	ASSERT_NE(NULL, p) TH_LOG("attach window %#llx+%#zx at %p prot %#x: %s",
				  (long long)off, len, addr, prot, strerror(errno));
	ASSERT_EQ(0, (uintptr_t)p % RGN) TH_LOG("window at %p not aligned", p);
	if (addr) {
		ASSERT_EQ(addr, (void *)p);
	}
	return p;
}

#ifdef MSHAREFS_GET_STAT
/* The region's MSHAREFS_GET_STAT figures, which must be there. */
static inline void ms_must_stat(struct __test_metadata *_metadata, int fd,
				struct mshare_stat *st)
{
	memset(st, 0, sizeof(*st));
	ASSERT_EQ(0, ioctl(fd, MSHAREFS_GET_STAT, st))
		TH_LOG("MSHAREFS_GET_STAT: %s", strerror(errno));
}
#endif

/* Pages of [p, p + len) that mincore() reports resident, or -1. */
static inline long ms_mincore_pages(void *p, size_t len)
{
	unsigned char *vec = malloc(len / PG + 1);
	long n = 0;

	if (!vec)
		return -1;
	if (mincore(p, len, vec)) {
		free(vec);
		return -1;
	}
	for (size_t i = 0; i < len / PG; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

/* The word @word of every @step-th byte of [p, p + len) that is not 0: offset, or -1. */
static inline long check_zero(const void *p, size_t len, size_t step, int word)
{
	for (size_t off = 0; off < len; off += step)
		if (((const volatile uint64_t *)((const char *)p + off))[word])
			return (long)off;
	return -1;
}

/* --- children ---------------------------------------------------------- */

#define CHILD_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "# child %d: %s:%d: check failed: %s (errno %d: %s)\n", \
			getpid(), __FILE__, __LINE__, #cond, errno, strerror(errno)); \
		_exit(1); \
	} \
} while (0)

/* Wait for @pid; true if it exited 0, else print why not. */
static inline bool child_ok(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		fprintf(stderr, "# %s (pid %d): waitpid: %s\n", what, pid, strerror(errno));
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFSIGNALED(status))
		fprintf(stderr, "# %s (pid %d): killed by signal %d (%s)\n", what,
			pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		fprintf(stderr, "# %s (pid %d): exit status %d\n", what, pid,
			WEXITSTATUS(status));
	return false;
}

/*
 * Run @fn(@arg) in a forked child, which _exit(0)s if fn returns; the raw
 * wait status.  For accesses that are expected to kill the child.
 */
static inline int child_status(void (*fn)(void *), void *arg)
{
	int status = -1;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* No core dumps, and report the signal as it is. */
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static inline bool killed_by(int status, int sig)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

static inline bool exited_ok(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * Can this process read (or write: rewrite the byte in place) @p?  Catches
 * SIGSEGV/SIGBUS in the calling process, which must be single-threaded.
 */
static sigjmp_buf probe_env;

static void probe_handler(int sig)
{
	siglongjmp(probe_env, 1);
}

static inline bool probe(volatile char *p, bool write)
{
	struct sigaction sa = { .sa_handler = probe_handler };
	struct sigaction old_segv, old_bus;
	volatile bool ok = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(probe_env, 1) == 0) {
		if (write)
			*p = *p;
		else
			(void)*p;
		ok = true;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return ok;
}

/* --- unix sockets: one-byte handshakes and SCM_RIGHTS -------------------- */

static inline int sock_send(int sock, char c)
{
	return write(sock, &c, 1) == 1 ? 0 : -1;
}

/* The byte received, or -1 on EOF/error. */
static inline int sock_recv(int sock)
{
	unsigned char c;
	ssize_t r;

	do
		r = read(sock, &c, 1);
	while (r < 0 && errno == EINTR);
	return r == 1 ? c : -1;
}

static inline int send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cmsg;

	memset(&u, 0, sizeof(u));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* The fd received, or -1. */
static inline int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_level != SOL_SOCKET ||
	    cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* --- the process's own state ------------------------------------------- */

/* Open fds of this process (the directory's own fd not counted). */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* VMAs of this process that overlap [lo, hi), per /proc/self/maps. */
static inline int maps_count(unsigned long lo, unsigned long hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s, e;
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < hi && e > lo)
			n++;
	fclose(f);
	return n;
}

/* Is [lo, hi) exactly one VMA of this process? */
static inline bool maps_has_exact(unsigned long lo, unsigned long hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s, e;
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s == lo && e == hi)
			found = true;
	fclose(f);
	return found;
}

static inline int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static inline double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --- memory accounting ------------------------------------------------- */

struct memsnap {
	long pagetables, shmem, anon, slab, memfree;
};

static inline void memsnap_take(struct memsnap *m)
{
	m->pagetables = meminfo_kb("PageTables");
	m->shmem = meminfo_kb("Shmem");
	m->anon = meminfo_kb("AnonPages");
	m->slab = meminfo_kb("Slab");
	m->memfree = meminfo_kb("MemFree");
}

static inline void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		ssize_t r = write(fd, s, strlen(s));

		(void)r;
		close(fd);
	}
}

/* The first line of file @path, newline stripped, into @buf; 0 or -errno. */
static inline int read_first_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/*
 * Let deferred frees happen and make Slab meaningful: drop caches and
 * shrink every slab cache (which also empties KASAN's quarantine of that
 * cache's objects).  Best effort.
 */
static inline void mem_settle(void)
{
	DIR *d;
	struct dirent *e;
	char path[512];

	sleep_ms(50);
	write_file("/proc/sys/vm/drop_caches", "3");
	d = opendir("/sys/kernel/slab");
	if (d) {
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
				 e->d_name);
			write_file(path, "1");
		}
		closedir(d);
	}
	vmstat_refresh();
}

/*
 * Poll (up to @tries times, @ms apart) until PageTables, Shmem and
 * AnonPages are at most @slack_kb above @base; the last reading in @now.
 */
static inline bool mem_back_to(const struct memsnap *base, struct memsnap *now,
			       long slack_kb, int tries, long ms)
{
	for (int i = 0; i < tries; i++) {
		if (i)
			sleep_ms(ms);
		memsnap_take(now);
		if (now->pagetables - base->pagetables <= slack_kb &&
		    now->shmem - base->shmem <= slack_kb &&
		    now->anon - base->anon <= slack_kb)
			return true;
	}
	return false;
}

/* --- /proc/PID files ---------------------------------------------------- */

/* /proc/@pid/@file, or /proc/self/@file for pid 0. */
static inline void proc_path(char *buf, size_t len, pid_t pid, const char *file)
{
	if (pid)
		snprintf(buf, len, "/proc/%d/%s", pid, file);
	else
		snprintf(buf, len, "/proc/self/%s", file);
}

/* "Field:   N kB" (or any number) in /proc/@pid/@file; -1 if absent. */
static inline long kv_kb(pid_t pid, const char *file, const char *field)
{
	char path[64];

	proc_path(path, sizeof(path), pid, file);
	return file_field(path, field);
}

/* Does a line of file @path contain @needle? */
static inline bool file_contains(const char *path, const char *needle)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* Is @line a maps/smaps VMA header ("start-end ...")? */
static inline bool is_vma_header(const char *line, unsigned long *s,
				 unsigned long *e)
{
	int n = 0;

	return sscanf(line, "%lx-%lx %n", s, e, &n) == 2 && n > 0;
}

/* The smaps entry (all its lines) of the VMA of @pid that starts at @start. */
static inline bool smaps_block(pid_t pid, const void *start, char *buf, size_t len)
{
	char path[64], line[1024];
	unsigned long s, e;
	bool in = false;
	size_t used = 0;
	FILE *f;

	buf[0] = 0;
	proc_path(path, sizeof(path), pid, "smaps");
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (is_vma_header(line, &s, &e)) {
			if (in)
				break;
			in = s == (unsigned long)start;
			continue;
		}
		if (in && used + strlen(line) < len) {
			strcpy(buf + used, line);
			used += strlen(line);
		}
	}
	fclose(f);
	return in;
}

/*
 * A field of "Key: value" lines in @blk (an smaps block, a whole status
 * file): its number (kB for sizes), or -1; with @str, the rest of the line
 * there instead (and 0).
 */
static inline long block_get(const char *blk, const char *field, char *str,
			     size_t slen)
{
	size_t len = strlen(field);
	const char *l = blk;

	while (l && *l) {
		if (!strncmp(l, field, len) && l[len] == ':') {
			if (str) {
				size_t n = strcspn(l + len + 1, "\n");

				snprintf(str, slen, "%.*s", (int)n, l + len + 1);
				return 0;
			}
			return strtol(l + len + 1, NULL, 10);
		}
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return -1;
}

/* Does the smaps entry of our VMA at @start list VmFlags flag @flag? */
static inline bool smaps_vmflag(const void *start, const char *flag)
{
	char blk[4096], flags[256], want[8];

	if (!smaps_block(getpid(), start, blk, sizeof(blk)) ||
	    block_get(blk, "VmFlags", flags, sizeof(flags)))
		return false;
	snprintf(want, sizeof(want), " %s ", flag);
	strncat(flags, " ", sizeof(flags) - strlen(flags) - 1);
	return strstr(flags, want) != NULL;
}

/* All of /proc/@pid/@file in @buf (one read: one snapshot); 0 or -errno. */
static inline int proc_read(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	size_t used = 0;
	ssize_t n;
	int fd;

	proc_path(path, sizeof(path), pid, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (used < len - 1 && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	close(fd);
	buf[used] = 0;
	return 0;
}

/* Is thread @tid of this process asleep (state S)? */
static inline bool thread_sleeping(pid_t tid)
{
	char path[64], buf[256], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if (read_first_line(path, buf, sizeof(buf)))
		return false;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* --- cgroup v2 ---------------------------------------------------------- */

/* Write @val to @dir/@file; true if all of it was taken. */
static inline bool cg_write(const char *dir, const char *file, const char *val)
{
	char path[256];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return false;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

/* "key N" in @dir/@file (memory.events, memory.stat); -1 if absent. */
static inline long cg_key(const char *dir, const char *file, const char *key)
{
	char path[256], line[256];
	size_t len = strlen(key);
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ' ') {
			val = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

/* --- named regions ------------------------------------------------------ */

#define MSFS_DIR	"/sys/fs/mshare"

/*
 * A new region named @name in msharefs (O_CREAT | O_EXCL, mode 0600) of
 * @size bytes: its O_RDWR fd, or -1 with errno set (and no name left).
 */
static inline int msfs_create(const char *name, size_t size)
{
	char path[sizeof(MSFS_DIR) + 256];
	int fd, err;

	snprintf(path, sizeof(path), MSFS_DIR "/%s", name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, size)) {
		err = errno;
		close(fd);
		unlink(path);
		errno = err;
		return -1;
	}
	return fd;
}

/* open() of the region named @name with @flags (O_RDONLY, O_RDWR). */
static inline int msfs_open(const char *name, int flags)
{
	char path[sizeof(MSFS_DIR) + 256];

	snprintf(path, sizeof(path), MSFS_DIR "/%s", name);
	return open(path, flags);
}

static inline int msfs_unlink(const char *name)
{
	char path[sizeof(MSFS_DIR) + 256];

	snprintf(path, sizeof(path), MSFS_DIR "/%s", name);
	return unlink(path);
}

/* --- pidfds ------------------------------------------------------------ */

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_process_mrelease
#define __NR_process_mrelease 448
#endif

static inline int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(__NR_pidfd_open, pid, flags);
}

static inline int sys_process_mrelease(int pidfd, unsigned int flags)
{
	return syscall(__NR_process_mrelease, pidfd, flags);
}

/* --- the kernel log ---------------------------------------------------- */

/*
 * /dev/kmsg opened for reading records from now on (kmsg_from_now()) or
 * from the oldest one kept (kmsg_from_start()); -1 if it cannot be read.
 */
static inline int kmsg_from_start(void)
{
	return open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

static inline int kmsg_from_now(void)
{
	int fd = kmsg_from_start();

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* A record's text into @line (@len > 0 bytes), cut short if need be. */
static inline void kmsg_copy(char *line, size_t len, const char *text)
{
	size_t n = strlen(text);

	if (n > len - 1)
		n = len - 1;
	memcpy(line, text, n);
	line[n] = 0;
}

/*
 * The text of the next record of @fd not yet read (its header and newline
 * stripped), in @rec; NULL when there is none.
 */
static inline char *kmsg_next(int fd, char *rec, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, rec, len - 1);
		char *text;

		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten: go on */
		if (n <= 0)
			return NULL;
		rec[n] = 0;
		text = strchr(rec, ';');
		text = text ? text + 1 : rec;
		text[strcspn(text, "\n")] = 0;
		return text;
	}
}

/*
 * Read the records of @fd that have not been read yet; true at the first
 * whose text contains @needle (copied, without its header, into @line).
 * A later call goes on after that record.
 */
static inline bool kmsg_find(int fd, const char *needle, char *line, size_t len)
{
	char rec[2048], *text;

	while ((text = kmsg_next(fd, rec, sizeof(rec))))
		if (strstr(text, needle)) {
			if (line && len)
				kmsg_copy(line, len, text);
			return true;
		}
	return false;
}

/*
 * The first kernel report (the lines tapcheck.py fails a run on: BUG,
 * WARNING, Bad rss-counter, Bad page) among the records of @fd not yet
 * read, into @line; false if there is none.
 */
static inline bool kmsg_report(int fd, char *line, size_t len)
{
	static const char *const gates[] = {
		"BUG:", "WARNING:", "Bad rss-counter", "Bad page", "KASAN:",
		"kernel BUG at", "page_table_check",
	};
	char rec[2048], *text;

	while ((text = kmsg_next(fd, rec, sizeof(rec))))
		for (size_t i = 0; i < sizeof(gates) / sizeof(gates[0]); i++)
			if (strstr(text, gates[i])) {
				kmsg_copy(line, len, text);
				return true;
			}
	return false;
}

/* --- ext4 on a ram disk ------------------------------------------------ */

#ifndef EXT4_SUPER_MAGIC
#define EXT4_SUPER_MAGIC 0xEF53
#endif

static inline bool dir_is_ext4(const char *dir)
{
	struct statfs s;

	return !statfs(dir, &s) && s.f_type == EXT4_SUPER_MAGIC;
}

/* Is block device @dev mounted (per /proc/mounts)? */
static inline bool blkdev_mounted(const char *dev)
{
	FILE *f = fopen("/proc/mounts", "r");
	size_t n = strlen(dev);
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, dev, n) && line[n] == ' ')
			found = true;
	fclose(f);
	return found;
}

/*
 * Make ext4 on a brd ram disk that nobody has mounted (the highest numbers
 * first: other programs use them from the top too, one program at a time)
 * and mount it at @dir, made if missing.  Nothing to do if @dir is ext4
 * already.  0, or -1 with the reason in @why.  Its size (64 MiB in the
 * guest) is what CONFIG_BLK_DEV_RAM_SIZE gives.
 */
static inline int ramdisk_ext4_mount(const char *dir, char *why, size_t len)
{
	char dev[32], cmd[160], path[64];
	struct stat st;
	long sectors = -1;
	FILE *f;
	int n;

	if (dir_is_ext4(dir))
		return 0;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		snprintf(why, len, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	for (n = 15; n >= 0; n--) {
		snprintf(dev, sizeof(dev), "/dev/ram%d", n);
		if (stat(dev, &st) && mknod(dev, S_IFBLK | 0600, makedev(1, n)))
			continue;
		if (blkdev_mounted(dev))
			continue;
		snprintf(path, sizeof(path), "/sys/block/ram%d/size", n);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%ld", &sectors) != 1)
			sectors = -1;
		fclose(f);
		if (sectors >= 2 * 2048)
			break;
	}
	if (n < 0) {
		snprintf(why, len, "no free brd ram disk (/dev/ramN) of 2 MiB or more");
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "mke2fs -F -b 4096 %s >/dev/null 2>&1", dev);
	if (system(cmd)) {
		snprintf(why, len, "%s failed", cmd);
		return -1;
	}
	/* syscall(): <sys/mount.h> clashes with liburing's <linux/mount.h>. */
	if (syscall(SYS_mount, dev, dir, "ext4", 0UL, NULL)) {
		snprintf(why, len, "mount %s on %s as ext4: %s", dev, dir, strerror(errno));
		return -1;
	}
	if (!dir_is_ext4(dir)) {
		snprintf(why, len, "%s is not ext4 after mounting %s", dir, dev);
		return -1;
	}
	return 0;
}

static inline void ramdisk_ext4_umount(const char *dir)
{
	if (dir_is_ext4(dir))
		syscall(SYS_umount2, dir, 0);
	rmdir(dir);
}

/* --- a sharer process that reads and writes on request ------------------ */

/*
 * sharer_start() forks a process that attaches the region of @fd (of
 * @size bytes) anywhere, read-write, and serves requests over a socketpair
 * until told to quit: sharer_read() and sharer_write() access a word at a
 * region offset through its own attachment, guarded, and report whether
 * it faulted.  For checking that a sharer sees what the test does, and
 * keeps working, while the test process is made to fail.
 */
struct sharer {
	pid_t pid;
	int sock;
};

struct sharer_req {
	char op;		/* 'r', 'w', 'q' */
	uint64_t off;
	uint64_t val;
};

struct sharer_rep {
	int faulted;		/* -1: could not attach */
	uint64_t val;
};

static inline int sharer_start(struct sharer *s, int fd, size_t size)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		return -1;
	fflush(NULL);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		struct sharer_req q;
		struct sharer_rep r;
		char *a;

		close(sv[0]);
		a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		while (read(sv[1], &q, sizeof(q)) == sizeof(q) && q.op != 'q') {
			memset(&r, 0, sizeof(r));
			if (a == MAP_FAILED) {
				r.faulted = -1;
			} else if (q.op == 'r') {
				r.faulted = !probe(a + q.off, false);
				if (!r.faulted)
					r.val = *(volatile uint64_t *)(a + q.off);
			} else {
				r.faulted = !probe(a + q.off, true);
				if (!r.faulted)
					*(volatile uint64_t *)(a + q.off) = q.val;
			}
			if (write(sv[1], &r, sizeof(r)) != sizeof(r))
				break;
		}
		_exit(0);
	}
	close(sv[1]);
	s->sock = sv[0];
	return 0;
}

/* 0 and the word in *@val, 1 if the sharer faulted, -1 on trouble. */
static inline int sharer_req(struct sharer *s, char op, uint64_t off, uint64_t *val)
{
	struct sharer_req q = { .op = op, .off = off, .val = val ? *val : 0 };
	struct sharer_rep r;

	if (write(s->sock, &q, sizeof(q)) != sizeof(q) ||
	    read(s->sock, &r, sizeof(r)) != sizeof(r) || r.faulted < 0)
		return -1;
	if (val && op == 'r')
		*val = r.val;
	return r.faulted;
}

static inline int sharer_read(struct sharer *s, uint64_t off, uint64_t *val)
{
	return sharer_req(s, 'r', off, val);
}

static inline int sharer_write(struct sharer *s, uint64_t off, uint64_t val)
{
	return sharer_req(s, 'w', off, &val);
}

/* Tell the sharer to go; true if it exited cleanly. */
static inline bool sharer_stop(struct sharer *s)
{
	struct sharer_req q = { .op = 'q' };
	bool ok;

	if (write(s->sock, &q, sizeof(q)) != sizeof(q))
		kill(s->pid, SIGKILL);
	close(s->sock);
	ok = child_ok(s->pid, "sharer");
	s->pid = 0;
	return ok;
}

/* --- IPIs: /proc/interrupts -------------------------------------------- */

struct ipis {
	long long cal, tlb;
};

/* CPU @cpu's "CAL" (function call) and "TLB" (shootdown) interrupts. */
static inline int ipis_read(int cpu, struct ipis *out)
{
	char line[4096], *save, *tok;
	int col = -1, ncol = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	out->cal = out->tlb = -1;
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	for (tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
		if (!strncmp(tok, "CPU", 3)) {
			if (atoi(tok + 3) == cpu)
				col = ncol;
			ncol++;
		}
	while (col >= 0 && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " "), *end;
		long long *dst = !strncmp(p, "CAL:", 4) ? &out->cal :
				 !strncmp(p, "TLB:", 4) ? &out->tlb : NULL;

		if (!dst)
			continue;
		p += 4;
		for (int i = 0; i <= col; i++) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			if (i == col)
				*dst = v;
			p = end;
		}
	}
	fclose(f);
	return out->cal >= 0 && out->tlb >= 0 ? 0 : -1;
}

/* --- swap on a ram disk ------------------------------------------------- */

#ifndef BLKGETSIZE64
#define BLKGETSIZE64 _IOR(0x12,114,size_t)
#endif

/*
 * Swap on a brd ram disk that nobody uses (not mounted, not swap: O_EXCL on
 * a block device fails while it is claimed), so that MADV_PAGEOUT has
 * somewhere to put pages: the lowest free one (ramdisk_ext4_mount() takes
 * them from the top).  0 with the device in @dev (for swapoff()), or
 * -errno.  Its size (64 MiB in the guest) is CONFIG_BLK_DEV_RAM_SIZE's.
 */
static inline int ramdisk_swapon(char *dev, size_t len)
{
	for (int i = 0; i < 16; i++) {
		char path[32], mnt[40], *hdr;
		struct stat st;
		uint64_t size;
		int fd, err;

		snprintf(path, sizeof(path), "/dev/ram%d", i);
		snprintf(mnt, sizeof(mnt), "%s ", path);
		if (stat(path, &st) && mknod(path, S_IFBLK | 0600, makedev(1, i)))
			continue;
		if (file_contains("/proc/swaps", mnt) || file_contains("/proc/mounts", mnt))
			continue;
		fd = open(path, O_RDWR | O_EXCL);
		if (fd < 0)
			continue;
		if (ioctl(fd, BLKGETSIZE64, &size) || size < 4 * MiB) {
			close(fd);
			continue;
		}
		hdr = calloc(1, PG);
		if (!hdr) {
			close(fd);
			return -ENOMEM;
		}
		/* The swap header, version 1 (what mkswap writes). */
		*(uint32_t *)(hdr + 1024) = 1;
		*(uint32_t *)(hdr + 1028) = size / PG - 1;
		memcpy(hdr + PG - 10, "SWAPSPACE2", 10);
		err = pwrite(fd, hdr, PG, 0) == (ssize_t)PG ? 0 : -errno;
		free(hdr);
		fsync(fd);
		close(fd);
		if (err)
			return err;
		if (swapon(path, 0))
			return -errno;
		snprintf(dev, len, "%s", path);
		return 0;
	}
	return -ENODEV;
}

#endif

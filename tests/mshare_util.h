/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the mshare tests: the syscall, attaching, mapping inside a
 * region, page patterns, SCM_RIGHTS, parent/child handshakes over unix
 * sockets, fd counting, /proc/self/maps and memory-baseline checks.
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

#endif

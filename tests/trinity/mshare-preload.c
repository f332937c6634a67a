// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim that makes Debian's trinity fuzz inside an mshare
 * attachment (harness/trinity.sh).
 *
 * trinity makes its "initial mappings" in the main process with
 * mmap(NULL, size, prot, MAP_ANONYMOUS | MAP_SHARED or MAP_PRIVATE,
 * fd of /dev/zero, 0), one per size and protection; its children inherit
 * them and pass them (get_map()) as the address arguments of mmap, munmap,
 * mprotect, madvise, mremap, mlock, msync, mincore, ... and write to them.
 * This shim creates one 1 GiB region (mshare_create()), attaches it, and
 * places each of those mappings up to 16 MiB strictly inside the
 * attachment with mmap(MAP_FIXED) (which maps in the region), so that the
 * children's fuzzed calls act on the region's VMAs and page tables, and,
 * since the region is one for all of them (fork links the child's
 * attachment to the same tables), on what every other child sees.  Bigger
 * mappings, and every other mmap (malloc, trinity's own shared memory,
 * which fd -1 tells apart), go to libc as usual.
 *
 * MSHARE_TRINITY_LOG=FILE: one line per placement and a summary at exit.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NR_MSHARE_CREATE 463
#define REGION (1UL << 30)
#define MAX_PLACED (16UL << 20)

static char *base;		/* the attachment */
static unsigned long next_off;	/* next free offset inside it */
static int placed, refused;
static FILE *log;

static void say(const char *fmt, ...)
{
	va_list ap;

	if (!log)
		return;
	va_start(ap, fmt);
	vfprintf(log, fmt, ap);
	va_end(ap);
	fflush(log);
}

static void *real_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	return (void *)syscall(SYS_mmap, a, l, p, f, fd, o);
}

static void setup(void)
{
	const char *path = getenv("MSHARE_TRINITY_LOG");
	long fd;
	void *p;

	if (path)
		log = fopen(path, "a");
	fd = syscall(NR_MSHARE_CREATE, REGION, 0);
	if (fd < 0) {
		say("MSHARE-TRINITY mshare_create: %s\n", strerror(errno));
		return;
	}
	p = real_mmap(NULL, REGION, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		say("MSHARE-TRINITY attach: %s\n", strerror(errno));
		return;
	}
	base = p;
	/* strictly inside: leave the first page free */
	next_off = 1UL << 21;
	say("MSHARE-TRINITY attached pid=%d at %p size %lu\n", getpid(), p, REGION);
}

static void __attribute__((destructor)) summary(void)
{
	if (base && getpid() == getpgrp())
		say("MSHARE-TRINITY placed=%d refused=%d\n", placed, refused);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static int once;
	unsigned long size, a;
	void *p;

	if (addr || !(flags & MAP_ANONYMOUS) || fd < 0 || (flags & MAP_FIXED) ||
	    len == 0 || len > MAX_PLACED)
		return real_mmap(addr, len, prot, flags, fd, off);
	if (!once) {
		once = 1;
		setup();
	}
	if (!base)
		return real_mmap(addr, len, prot, flags, fd, off);
	size = (len + 4095) & ~4095UL;
	/* 2 MiB-aligned starts, and a guard gap between mappings */
	a = (next_off + (1UL << 21) - 1) & ~((1UL << 21) - 1);
	if (a + size + (1UL << 21) > REGION) {
		refused++;
		return real_mmap(addr, len, prot, flags, fd, off);
	}
	p = real_mmap(base + a, size, prot, (flags & (MAP_SHARED | MAP_PRIVATE)) |
		      MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		say("MSHARE-TRINITY place %lu prot %d flags %#x: %s\n", size, prot, flags,
		     strerror(errno));
		refused++;
		return real_mmap(addr, len, prot, flags, fd, off);
	}
	next_off = a + size + (1UL << 21);
	placed++;
	say("MSHARE-TRINITY placed %p+%lu prot %d %s\n", p, size, prot,
	     (flags & MAP_SHARED) ? "shared" : "private");
	return p;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

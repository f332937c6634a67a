// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libmshare-run.so: put a program's large shared memory in mshare regions,
 * so that the processes it forks share one set of page tables for it.
 * Loaded with LD_PRELOAD by mshare-run(1); see mshare-run.1.
 *
 * Shared anonymous memory.  mmap(NULL, len, PROT_READ[|PROT_WRITE],
 * MAP_SHARED | MAP_ANONYMOUS [| MAP_NORESERVE | MAP_POPULATE |
 * MAP_HUGETLB], fd, 0) with len at least the threshold becomes: a new
 * region of len rounded up to the alignment, attached (PROT_READ |
 * PROT_WRITE) where the kernel puts it, and shared anonymous memory (or
 * hugetlb) of len mapped at its offset 0 through the attachment; the
 * attachment's address is returned.  Children that fork() inherit the
 * attachment, and with it the region's page tables.  munmap() of the whole
 * mapping detaches; munmap() of part of it gives EINVAL (it cannot be
 * unmapped for one process only).
 *
 * System V shared memory.  shmget() of a segment of at least the threshold
 * creates a real, one-page "stub" segment with the same key, mode and
 * owner (the kernel keeps the id, the key, permissions, nattch and
 * IPC_RMID's lifetime rules) and a named region that holds the memory.
 * The stub's page records the region's name; shmat() of a stub attaches
 * both the stub and the region and returns the region; shmdt() detaches
 * both; shmctl(IPC_STAT) reports the requested size; shmctl(IPC_RMID)
 * removes the region's name and the stub.
 *
 * Anything that fails on the mshare path falls back to the plain call, so
 * the program sees what it would have seen without mshare-run (a
 * MAP_HUGETLB request without free huge pages fails with ENOMEM either
 * way).  On a kernel without mshare every call passes through.
 *
 * The hooks use the system calls directly (no dlsym()), take no lock
 * unless the call is one of theirs, and never allocate memory themselves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <mshare.h>
#include "preload.h"

#define MR_API		__attribute__((visibility("default")))

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#define MAP_HUGE_MASK	0x3f
#endif
#ifndef SHM_HUGETLB
#define SHM_HUGETLB	04000
#endif
#ifndef SHM_NORESERVE
#define SHM_NORESERVE	010000
#endif
#ifndef SHM_EXEC
#define SHM_EXEC	0100000
#endif
#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY	15
#endif

#define HUGE_BITS	((int)(MAP_HUGE_MASK << MAP_HUGE_SHIFT))
/* The extra mmap() flags a region mapping takes over. */
#define MMAP_EXTRA	(MAP_NORESERVE | MAP_POPULATE | MAP_HUGETLB | HUGE_BITS)

/* The stub segment: this size exactly, and a header in its page. */
#define STUB_SIZE	3989
#define STUB_MAGIC	"mshare-run shm1"

struct stub_hdr {
	char magic[16];
	uint64_t size;		/* the size shmget() was asked for */
	uint64_t rsize;		/* the region's size */
	uint32_t shmflg;	/* SHM_HUGETLB, SHM_NORESERVE */
	uint32_t ready;		/* written last by the creator */
	char name[NAME_MAX + 1];
};

enum { MR_MMAP = 1, MR_SYSV = 2 };

/* One attachment made here. */
struct mr_map {
	uintptr_t base;		/* the attachment, rsize bytes */
	size_t rsize;
	size_t len;		/* what the program has, page-rounded */
	uint64_t size;		/* MR_SYSV: the size shmget() was asked for */
	int kind;
	int shmid;		/* MR_SYSV: the stub's id ... */
	uintptr_t stub;		/* ... and where it is attached */
	pid_t creator;		/* MR_MMAP with a name: unlinks it */
	ino_t ino;		/* the name's inode when it was made */
	char name[NAME_MAX + 1];	/* "" if none */
};

#define MR_MAX	64

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	int verbose;
	int sysv;
	uint64_t min_size;
	mode_t mode;
	const char *name;	/* NULL: unnamed */
	size_t page;
	uint64_t align;		/* 0 until known */
	int missing;		/* this kernel has no mshare */
	int said_missing, said_unnamed;
	int nmaps;		/* read without the lock: 0 means none */
	struct mr_map maps[MR_MAX];
} mr = {
	.once = PTHREAD_ONCE_INIT,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- the system calls, without the hooks ---- */

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

static int sys_shmget(key_t key, size_t size, int flg)
{
	return (int)syscall(SYS_shmget, key, size, flg);
}

static void *sys_shmat(int id, const void *addr, int flg)
{
	return (void *)syscall(SYS_shmat, id, addr, flg);
}

static int sys_shmdt(const void *addr)
{
	return (int)syscall(SYS_shmdt, addr);
}

static int sys_shmctl(int id, int cmd, struct shmid_ds *buf)
{
	return (int)syscall(SYS_shmctl, id, cmd, buf);
}

/* ---- logging: write(2) of a stack buffer, no stdio ---- */

static void mr_vsay(const char *fmt, va_list ap)
{
	char buf[512];
	int n, m;

	n = snprintf(buf, sizeof(buf), "mshare-run[%d]: ", (int)getpid());
	if (n < 0)
		return;
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

/* Only with --verbose. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	if (!mr.verbose)
		return;
	va_start(ap, fmt);
	mr_vsay(fmt, ap);
	va_end(ap);
	errno = err;
}

/* Always: a behaviour that differs from the plain call. */
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	mr_vsay(fmt, ap);
	va_end(ap);
	errno = err;
}

/* ---- setup ---- */

static int env_u64(const char *var, uint64_t *out, int base)
{
	const char *s = getenv(var);
	unsigned long long v;
	char *end;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || *s == '-') {
		say("ignoring %s=%s: not a number", var, s);
		return 0;
	}
	*out = v;
	return 1;
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&mr.lock);
}

static void atfork_release(void)
{
	pthread_mutex_unlock(&mr.lock);
}

static void mr_setup(void)
{
	int err = errno;
	uint64_t v;
	const char *name;
	long pg = sysconf(_SC_PAGESIZE);

	mr.page = pg > 0 ? (size_t)pg : 4096;
	v = 0;
	mr.verbose = env_u64(MR_ENV_VERBOSE, &v, 10) && v;
	mr.min_size = MR_DEFAULT_MIN_SIZE;
	if (env_u64(MR_ENV_MIN_SIZE, &v, 10)) {
		if (v)
			mr.min_size = v;
		else
			say("ignoring %s=0", MR_ENV_MIN_SIZE);
	}
	mr.mode = MR_DEFAULT_MODE;
	if (env_u64(MR_ENV_MODE, &v, 8)) {
		if (v <= 0777)
			mr.mode = (mode_t)v;
		else
			say("ignoring %s: not a mode", MR_ENV_MODE);
	}
	mr.sysv = 1;
	if (env_u64(MR_ENV_SYSV, &v, 10))
		mr.sysv = v != 0;
	name = getenv(MR_ENV_NAME);
	if (name && *name) {
		if (strchr(name, '/') || strlen(name) > NAME_MAX - 24)
			say("ignoring %s=%s: not a usable region name",
			    MR_ENV_NAME, name);
		else
			mr.name = name;
	}
	pthread_atfork(atfork_prepare, atfork_release, atfork_release);
	errno = err;
}

static void mr_init(void)
{
	pthread_once(&mr.once, mr_setup);
}

__attribute__((constructor)) static void mr_constructor(void)
{
	mr_init();
}

/*
 * Is mshare there?  Decided at the first request, and said once (with
 * --verbose) when it is not.  The alignment comes with it.
 */
static int mr_available(void)
{
	struct mshare_sysinfo si;

	if (mr.missing)
		return 0;
	if (__atomic_load_n(&mr.align, __ATOMIC_ACQUIRE))
		return 1;
	if (mshare_query(&si) || !si.syscall) {
		mr.missing = 1;
		if (!mr.said_missing) {
			mr.said_missing = 1;
			say("this kernel has no mshare (mshare_create: ENOSYS): "
			    "everything passes through unchanged");
		}
		return 0;
	}
	if (!si.mounted && !mr.said_unnamed) {
		mr.said_unnamed = 1;
		say("msharefs is not mounted at %s (ENODEV): regions stay unnamed, "
		    "System V segments pass through", si.dir);
	}
	__atomic_store_n(&mr.align, si.align, __ATOMIC_RELEASE);
	return 1;
}

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static const char *human(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (v >= 1024 && !(v & 1023) && u < 5) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	return buf;
}

/* ---- the table of attachments (callers hold mr.lock) ---- */

static struct mr_map *map_add(void)
{
	if (mr.nmaps == MR_MAX)
		return NULL;
	memset(&mr.maps[mr.nmaps], 0, sizeof(mr.maps[0]));
	return &mr.maps[mr.nmaps];
}

static void map_commit(void)
{
	__atomic_store_n(&mr.nmaps, mr.nmaps + 1, __ATOMIC_RELEASE);
}

static void map_del(struct mr_map *m)
{
	int i = (int)(m - mr.maps);

	memmove(&mr.maps[i], &mr.maps[i + 1],
		sizeof(mr.maps[0]) * (size_t)(mr.nmaps - i - 1));
	__atomic_store_n(&mr.nmaps, mr.nmaps - 1, __ATOMIC_RELEASE);
}

static struct mr_map *map_find_base(uintptr_t base, int kind)
{
	for (int i = 0; i < mr.nmaps; i++)
		if (mr.maps[i].base == base && mr.maps[i].kind == kind)
			return &mr.maps[i];
	return NULL;
}

static struct mr_map *map_find_shmid(int id)
{
	for (int i = 0; i < mr.nmaps; i++)
		if (mr.maps[i].kind == MR_SYSV && mr.maps[i].shmid == id)
			return &mr.maps[i];
	return NULL;
}

/* ---- names ---- */

static int name_path(const char *name, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/%s", mshare_dir(), name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * A new region of @size bytes, named @name (NULL: unnamed) with @mode
 * exactly (open(O_CREAT) applies the umask), close-on-exec: its fd, or
 * -errno (-EEXIST if the name is taken).  A named region is made in
 * msharefs directly, so that /proc/PID/maps shows the name.  The name's
 * inode goes to *@ino.
 */
static int create_region(const char *name, size_t size, mode_t mode,
			 ino_t *ino)
{
	struct stat st;
	int fd;

	if (!name)
		return mshare_create(size, MSHARE_CLOEXEC);
	fd = mshare_create_named(name, size, mode, O_EXCL | O_CLOEXEC);
	if (fd < 0)
		return fd;
	if (fchmod(fd, mode))
		say("chmod %s %o: %s", name, (unsigned int)mode, strerror(errno));
	if (!fstat(fd, &st))
		*ino = st.st_ino;
	return fd;
}

/* Remove @name if it still is the region we named (inode @ino). */
static void unname_region(const char *name, ino_t ino)
{
	char path[PATH_MAX];
	struct stat st;

	if (!*name || name_path(name, path, sizeof(path)))
		return;
	if (stat(path, &st) || st.st_ino != ino)
		return;
	if (unlink(path))
		say("unlink %s: %s", path, strerror(errno));
	else
		say("removed the name %s", name);
}

/* ---- shared anonymous memory ---- */

static int mmap_eligible(void *addr, size_t len, int prot, int flags,
			 off_t off)
{
	if (addr || off || (flags & MAP_TYPE) != MAP_SHARED ||
	    !(flags & MAP_ANONYMOUS) ||
	    (flags & ~(MAP_SHARED | MAP_ANONYMOUS | MMAP_EXTRA)))
		return 0;
	if (prot != PROT_READ && prot != (PROT_READ | PROT_WRITE))
		return 0;
	mr_init();
	return len >= mr.min_size && len <= SIZE_MAX / 2;
}

/*
 * A new region of @size bytes for a mapping: named NAME, or NAME-2,
 * NAME-3, ... if taken, with --name (@m gets the name and its inode);
 * unnamed without it, or if no name can be had.  Its fd, or -errno.
 */
static int create_mmap_region(size_t size, struct mr_map *m)
{
	char name[NAME_MAX + 1];
	int fd = -EEXIST;

	for (int i = 1; mr.name && i <= 99 && fd == -EEXIST; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "%s", mr.name);
		else
			snprintf(name, sizeof(name), "%s-%d", mr.name, i);
		fd = create_region(name, size, mr.mode, &m->ino);
	}
	if (fd >= 0) {
		memcpy(m->name, name, sizeof(name));
		m->creator = getpid();
		return fd;
	}
	if (mr.name)
		say("cannot name the region %s: %s", mr.name, strerror(-fd));
	return create_region(NULL, size, 0, NULL);
}

/*
 * The mshare path of mmap(): 0 with the address in *@out, or -errno (the
 * caller falls back to the plain call).
 */
static int region_mmap(size_t len, int prot, int flags, void **out)
{
	struct mr_map m, *slot;
	size_t plen, rsize;
	void *base, *p;
	int fd, ret;
	char h1[32], h2[32];

	if (!mr_available())
		return -ENOSYS;
	plen = round_up(len, mr.page);
	rsize = round_up(plen, mr.align);
	memset(&m, 0, sizeof(m));

	fd = create_mmap_region(rsize, &m);
	if (fd < 0) {
		if (fd == -ENOSYS) {
			mr.missing = 1;
			say("mshare_create: ENOSYS: everything passes through unchanged");
		} else {
			say("mshare_create(%s): %s: plain mmap", human(rsize, h1, sizeof(h1)),
			    strerror(-fd));
		}
		return fd;
	}
	base = sys_mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		ret = -errno;
		say("attaching a region of %s: %s: plain mmap",
		    human(rsize, h1, sizeof(h1)), strerror(errno));
		goto fail;
	}
	p = sys_mmap(base, plen, prot,
		     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | (flags & MMAP_EXTRA),
		     -1, 0);
	if (p != base) {
		ret = p == MAP_FAILED ? -errno : -EFAULT;
		say("mapping %s%s in the region: %s: plain mmap",
		    human(plen, h1, sizeof(h1)),
		    flags & MAP_HUGETLB ? " of huge pages" : "", strerror(-ret));
		sys_munmap(base, rsize);
		goto fail;
	}
	close(fd);
	fd = -1;

	m.base = (uintptr_t)base;
	m.rsize = rsize;
	m.len = plen;
	m.kind = MR_MMAP;
	pthread_mutex_lock(&mr.lock);
	slot = map_add();
	if (slot) {
		*slot = m;
		map_commit();
	}
	pthread_mutex_unlock(&mr.lock);
	if (!slot) {
		ret = -ENOSPC;
		say("more than %d mshare mappings: plain mmap", MR_MAX);
		sys_munmap(base, rsize);
		goto fail;
	}
	say("mmap %s%s: region %s%s%s of %s at %p", human(plen, h1, sizeof(h1)),
	    flags & MAP_HUGETLB ? " (hugetlb)" : "",
	    m.name[0] ? "'" : "", m.name[0] ? m.name : "(unnamed)",
	    m.name[0] ? "'" : "", human(rsize, h2, sizeof(h2)), base);
	*out = base;
	return 0;
fail:
	if (m.name[0])
		unname_region(m.name, m.ino);
	if (fd >= 0)
		close(fd);
	return ret;
}

MR_API void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	if (mmap_eligible(addr, len, prot, flags, off)) {
		int err = errno;
		void *p;

		if (!region_mmap(len, prot, flags, &p)) {
			errno = err;
			return p;
		}
		errno = err;
	}
	return sys_mmap(addr, len, prot, flags, fd, off);
}

MR_API void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off) __attribute__((alias("mmap")));

/* Detach @m (the caller holds the lock) and forget it. */
static int detach(struct mr_map *m)
{
	int ret = 0;

	if (sys_munmap((void *)m->base, m->rsize))
		ret = -errno;
	if (m->kind == MR_SYSV && m->stub && sys_shmdt((void *)m->stub))
		ret = ret ? ret : -errno;
	if (m->kind == MR_MMAP && m->name[0] && m->creator == getpid())
		unname_region(m->name, m->ino);
	say("detached %p (%s)", (void *)m->base,
	    m->kind == MR_SYSV ? "System V" : "mmap");
	map_del(m);
	return ret;
}

MR_API int munmap(void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi, cur;
	struct mr_map *hit[MR_MAX];
	int nhit = 0, ret = 0;

	if (!__atomic_load_n(&mr.nmaps, __ATOMIC_ACQUIRE))
		return sys_munmap(addr, len);
	mr_init();
	if (lo & (mr.page - 1) || !len || len > SIZE_MAX - mr.page ||
	    lo + round_up(len, mr.page) < lo)
		return sys_munmap(addr, len);	/* EINVAL from the kernel */
	hi = lo + round_up(len, mr.page);

	pthread_mutex_lock(&mr.lock);
	for (int i = 0; i < mr.nmaps; i++) {
		struct mr_map *m = &mr.maps[i];

		if (m->base >= hi || m->base + m->rsize <= lo)
			continue;
		if (lo > m->base || hi < m->base + m->len) {
			pthread_mutex_unlock(&mr.lock);
			warn("munmap(%p, %zu) covers part of the mshare mapping at %p "
			     "(%zu bytes): EINVAL (only a whole mapping can be unmapped)",
			     addr, len, (void *)m->base, m->len);
			errno = EINVAL;
			return -1;
		}
		hit[nhit++] = m;
	}
	if (!nhit) {
		pthread_mutex_unlock(&mr.lock);
		return sys_munmap(addr, len);
	}
	/* The parts of [lo, hi) outside the attachments, in address order. */
	cur = lo;
	for (;;) {
		struct mr_map *next = NULL;

		for (int i = 0; i < nhit; i++)
			if (hit[i] && hit[i]->base >= cur &&
			    (!next || hit[i]->base < next->base))
				next = hit[i];
		if (!next)
			break;
		if (next->base > cur && sys_munmap((void *)cur, next->base - cur))
			ret = -errno;
		cur = next->base + next->rsize;
		for (int i = 0; i < nhit; i++)
			if (hit[i] == next)
				hit[i] = NULL;
	}
	if (cur < hi && sys_munmap((void *)cur, hi - cur))
		ret = -errno;
	/* Detach, highest slot first: map_del() moves the later ones. */
	for (int i = mr.nmaps - 1; i >= 0; i--) {
		struct mr_map *m = &mr.maps[i];

		if (m->base < hi && m->base + m->rsize > lo) {
			int r = detach(m);

			ret = ret ? ret : r;
		}
	}
	pthread_mutex_unlock(&mr.lock);
	if (ret) {
		errno = -ret;
		return -1;
	}
	return 0;
}

/* ---- System V shared memory ---- */

/*
 * Is @id a stub of ours?  1 with its header in *@h, 0 if not (or it
 * cannot be read), -errno if IPC_STAT fails.
 */
static int stub_read(int id, struct stub_hdr *h)
{
	struct shmid_ds ds;
	volatile struct stub_hdr *p;
	int tries;

	if (sys_shmctl(id, IPC_STAT, &ds))
		return -errno;
	if (ds.shm_segsz != STUB_SIZE)
		return 0;
	p = sys_shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return 0;
	/* A creator fills it in right after making it: wait up to 2 s. */
	for (tries = 0; tries < 2000 && !__atomic_load_n(&p->ready, __ATOMIC_ACQUIRE);
	     tries++)
		usleep(1000);
	memcpy(h, (const void *)p, sizeof(*h));
	sys_shmdt((const void *)p);
	h->name[NAME_MAX] = '\0';
	return h->ready && !memcmp(h->magic, STUB_MAGIC, sizeof(STUB_MAGIC));
}

/* The size the program asked for, if @id is a stub, else 0. */
static uint64_t stub_size(int id)
{
	struct stub_hdr h;
	struct mr_map *m;
	uint64_t size = 0;

	pthread_mutex_lock(&mr.lock);
	m = map_find_shmid(id);
	if (m)
		size = m->size;
	pthread_mutex_unlock(&mr.lock);
	if (!size && stub_read(id, &h) == 1)
		size = h.size;
	return size;
}

/*
 * Make the region of a new stub @id: @size bytes of shared memory (huge
 * pages with SHM_HUGETLB) in a region named PREFIX-shm-ID with the
 * segment's mode, then the stub's header.  0 or -errno.
 */
static int sysv_make(int id, size_t size, int shmflg)
{
	struct stub_hdr *h;
	size_t plen = round_up(size, mr.page), rsize = round_up(plen, mr.align);
	mode_t mode = (mode_t)shmflg & 0777;
	char name[NAME_MAX + 1], path[PATH_MAX];
	void *base, *p;
	int fd, ret, mflags;
	ino_t ino = 0;

	snprintf(name, sizeof(name), "%s-shm-%d", mr.name ? mr.name : "mshare-run", id);
	fd = create_region(name, rsize, mode, &ino);
	if (fd == -EEXIST && !name_path(name, path, sizeof(path))) {
		/* Left by a segment removed behind our back (ipcrm): ids are unique */
		unlink(path);
		fd = create_region(name, rsize, mode, &ino);
	}
	if (fd < 0)
		return fd;
	base = sys_mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	mflags = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED;
	if (shmflg & SHM_HUGETLB)
		mflags |= MAP_HUGETLB | (shmflg & HUGE_BITS);
	if (shmflg & SHM_NORESERVE)
		mflags |= MAP_NORESERVE;
	p = sys_mmap(base, plen, PROT_READ | PROT_WRITE, mflags, -1, 0);
	ret = p == base ? 0 : -errno;
	sys_munmap(base, rsize);	/* the mapping stays in the region */
	if (ret)
		goto fail;

	h = sys_shmat(id, NULL, 0);
	if (h == (void *)-1) {
		ret = -errno;
		goto fail;
	}
	memcpy(h->magic, STUB_MAGIC, sizeof(STUB_MAGIC));
	h->size = size;
	h->rsize = rsize;
	h->shmflg = (uint32_t)shmflg & (SHM_HUGETLB | SHM_NORESERVE);
	memcpy(h->name, name, sizeof(name));
	__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
	sys_shmdt(h);
	close(fd);
	return 0;
fail:
	unname_region(name, ino);
	close(fd);
	return ret;
}

MR_API int shmget(key_t key, size_t size, int shmflg)
{
	int excl = (shmflg & (IPC_CREAT | IPC_EXCL)) == (IPC_CREAT | IPC_EXCL);
	int id, ret, err = errno;
	struct stub_hdr h;
	char hs[32];

	mr_init();
	if (!mr.sysv)
		return sys_shmget(key, size, shmflg);
	for (int tries = 0; tries < 100; tries++) {
		/* An existing segment of this key: a stub? */
		if (key != IPC_PRIVATE && !excl) {
			id = sys_shmget(key, 0, 0);
			if (id >= 0 && stub_read(id, &h) == 1) {
				if (size > h.size) {
					errno = EINVAL;
					return -1;
				}
				/* the kernel checks the permissions */
				return sys_shmget(key, 0, shmflg & ~(IPC_CREAT | IPC_EXCL));
			}
			if (id >= 0 || !(shmflg & IPC_CREAT))
				break;	/* not ours, or nothing to create */
		}
		if (!(shmflg & IPC_CREAT) || size < mr.min_size ||
		    size > SIZE_MAX / 2 || !mr_available())
			break;
		/* msharefs must be mounted: other processes open by name */
		if (mshare_alignment() <= 0)
			break;
		id = sys_shmget(key, STUB_SIZE,
				(shmflg & ~(SHM_HUGETLB | SHM_NORESERVE | HUGE_BITS)) |
				IPC_CREAT | IPC_EXCL);
		if (id < 0 && errno == EEXIST && !excl)
			continue;	/* someone made it meanwhile: look again */
		if (id < 0)
			return -1;	/* EEXIST, EACCES, ENOSPC: as for the segment */
		ret = sysv_make(id, size, shmflg);
		if (!ret) {
			say("shmget %s%s: region %s-shm-%d, id %d",
			    human(size, hs, sizeof(hs)),
			    shmflg & SHM_HUGETLB ? " (hugetlb)" : "",
			    mr.name ? mr.name : "mshare-run", id, id);
			errno = err;
			return id;
		}
		say("shmget %s: no region (%s): plain segment",
		    human(size, hs, sizeof(hs)), strerror(-ret));
		sys_shmctl(id, IPC_RMID, NULL);
		break;
	}
	errno = err;
	return sys_shmget(key, size, shmflg);
}

MR_API void *shmat(int shmid, const void *shmaddr, int shmflg)
{
	int ro = shmflg & SHM_RDONLY, fd, ret, prot, mflags = MAP_SHARED;
	struct mr_map m, *slot;
	struct stub_hdr h;
	void *stub, *base;
	uintptr_t addr = (uintptr_t)shmaddr;

	mr_init();
	if (!mr.sysv || mr.missing || stub_read(shmid, &h) != 1)
		return sys_shmat(shmid, shmaddr, shmflg);

	if (addr) {
		if (shmflg & SHM_RND)
			addr &= ~(uintptr_t)(SHMLBA - 1);
		if (!mr_available() || addr & (mr.align - 1)) {
			warn("shmat(%d, %p): a System V segment in mshare can only "
			     "be attached at a multiple of %llu: EINVAL", shmid,
			     shmaddr, (unsigned long long)mr.align);
			errno = EINVAL;
			return (void *)-1;
		}
		mflags |= shmflg & SHM_REMAP ? MAP_FIXED : MAP_FIXED_NOREPLACE;
	}
	/* The stub: the kernel's permission checks, nattch, IPC_RMID */
	stub = sys_shmat(shmid, NULL, ro);
	if (stub == (void *)-1)
		return stub;
	fd = mshare_open(h.name, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		sys_shmdt(stub);
		/* Gone: IPC_RMID removed the name before our look at the stub */
		errno = fd == -ENOENT ? EIDRM : -fd;
		return (void *)-1;
	}
	prot = PROT_READ | (ro ? 0 : PROT_WRITE);
	base = sys_mmap((void *)addr, h.rsize, prot, mflags, fd, 0);
	ret = base == MAP_FAILED ? -errno : 0;
	close(fd);
	if (!ret && addr && base != (void *)addr) {
		sys_munmap(base, h.rsize);
		ret = -EINVAL;
	}
	if (ret) {
		sys_shmdt(stub);
		errno = ret == -EEXIST ? EINVAL : -ret;
		return (void *)-1;
	}
	memset(&m, 0, sizeof(m));
	m.base = (uintptr_t)base;
	m.rsize = h.rsize;
	m.len = round_up(h.size, mr.page);
	m.size = h.size;
	m.kind = MR_SYSV;
	m.shmid = shmid;
	m.stub = (uintptr_t)stub;
	memcpy(m.name, h.name, sizeof(m.name));
	pthread_mutex_lock(&mr.lock);
	slot = map_add();
	if (slot) {
		*slot = m;
		map_commit();
	}
	pthread_mutex_unlock(&mr.lock);
	if (!slot) {
		sys_munmap(base, h.rsize);
		sys_shmdt(stub);
		warn("shmat(%d): more than %d mshare attachments: ENOMEM", shmid, MR_MAX);
		errno = ENOMEM;
		return (void *)-1;
	}
	say("shmat %d: region '%s' at %p%s", shmid, h.name, base, ro ? " (read-only)" : "");
	return base;
}

MR_API int shmdt(const void *shmaddr)
{
	struct mr_map *m;
	int ret;

	if (!__atomic_load_n(&mr.nmaps, __ATOMIC_ACQUIRE))
		return sys_shmdt(shmaddr);
	pthread_mutex_lock(&mr.lock);
	m = map_find_base((uintptr_t)shmaddr, MR_SYSV);
	if (!m) {
		pthread_mutex_unlock(&mr.lock);
		return sys_shmdt(shmaddr);
	}
	ret = detach(m);
	pthread_mutex_unlock(&mr.lock);
	if (ret) {
		errno = -ret;
		return -1;
	}
	return 0;
}

MR_API int shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	struct stub_hdr h;
	uint64_t size;
	int ret;

	mr_init();
	if (!mr.sysv || mr.missing)
		return sys_shmctl(shmid, cmd, buf);
	switch (cmd) {
	case IPC_RMID:
		if (stub_read(shmid, &h) == 1) {
			ret = sys_shmctl(shmid, IPC_RMID, buf);
			if (!ret) {
				int err = errno, r = mshare_unlink(h.name);

				if (r && r != -ENOENT)
					say("removing region '%s': %s", h.name, strerror(-r));
				else
					say("IPC_RMID %d: removed region '%s'", shmid, h.name);
				errno = err;
			}
			return ret;
		}
		break;
	case IPC_STAT:
	case SHM_STAT:
	case SHM_STAT_ANY:
		ret = sys_shmctl(shmid, cmd, buf);
		if (ret < 0 || !buf || buf->shm_segsz != STUB_SIZE)
			return ret;
		/* SHM_STAT takes an index and returns the id */
		size = stub_size(cmd == IPC_STAT ? shmid : ret);
		if (size)
			buf->shm_segsz = size;
		return ret;
	}
	return sys_shmctl(shmid, cmd, buf);
}

/* The names of mappings made by this process go with it. */
__attribute__((destructor)) static void mr_destructor(void)
{
	if (!__atomic_load_n(&mr.nmaps, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&mr.lock);
	for (int i = 0; i < mr.nmaps; i++) {
		struct mr_map *m = &mr.maps[i];

		if (m->kind == MR_MMAP && m->name[0] && m->creator == getpid())
			unname_region(m->name, m->ino);
	}
	pthread_mutex_unlock(&mr.lock);
}

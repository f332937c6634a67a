// SPDX-License-Identifier: GPL-2.0
/*
 * mshare_fuzz: a seeded multi-process fuzzer of mshare regions.
 *
 *	mshare_fuzz [--seed S] [--seconds T] [--workers N] [--verbose] [--no-hugetlb]
 *
 * prints its seed first ("# seed S"): the same seed replays the same
 * sequence of operations in every worker (timing between the processes is
 * not replayed).  Without --seed it takes $MSHARE_FUZZ_SEED (make check
 * sets one, so that the gate is the same run each time; make soak draws
 * new seeds), or draws one.  Output is TAP.
 *
 * N worker processes (forked; a killed or exited worker is replaced by a
 * new incarnation) run random operations on regions: create (libmshare's
 * mshare_create(), by name in msharefs, and with bad arguments), name
 * (MSHAREFS_LINK), open by name (read-only or read-write), unlink, close,
 * dup, pass fds to each other over Unix sockets (SCM_RIGHTS), attach
 * (anywhere or fixed, read-only or read-write, and refused variants:
 * misaligned, partial, private, overlapping an attachment's edge, write
 * on a read-only fd), windows (part of a region: mmap with an offset;
 * kept, read through and detached; refused past the end or misaligned),
 * detach (and refused partial detaches), map inside
 * (file, memfd, shared and private anonymous memory, hugetlb,
 * MAP_POPULATE, MAP_LOCKED; through an attachment or with
 * MSHAREFS_CREATE_MAPPING), munmap, mprotect, madvise with every advice,
 * mlock/munlock, msync, the msharefs ioctls with good and bad arguments,
 * fork, exec of itself, exit, SIGKILL of a random peer,
 * process_vm_readv/writev, O_DIRECT and io_uring reads into region memory,
 * and futex wait/wake in region memory.
 *
 * Invariants checked while it runs:
 *  - a region is cut into 64 slots; slot s of a region is worker
 *    (s % N)'s for s < 48 (only it and its children change it), the rest
 *    are free for all.  Each owned slot's state (what is mapped, its
 *    protection, a tag and a counter) is published with a sequence count
 *    in shared memory; the owner writes word 0 of every page as
 *    pat(tag, page) and word 1 of page 0 as the counter.  Other workers,
 *    attached to the same region at their own addresses, read the slot
 *    while its sequence count is even and unchanged: the data must be
 *    what the owner published, a hole or PROT_NONE slot must fault, a
 *    readable one must not (TLB coherence across sharers);
 *  - the owner reads its writes back through its other attachment and
 *    with process_vm_readv(), and a page made read-only cannot be written
 *    (in-process probe, and a forked child that must die of SIGSEGV);
 *  - an operation that must fail fails with the documented errno, and
 *    changes nothing visible: the owner's slots read back intact;
 *  - the process's fd count does not grow across refused operations;
 *  - at the end PageTables, Shmem, AnonPages and free huge pages return to
 *    what they were before, and no kernel report appeared in /dev/kmsg.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include <linux/msharefs.h>
#include <liburing.h>
#include <mshare.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define MAXW		8		/* workers at most */
#define NSLOT		64		/* slots per region */
#define NTRACK		48		/* slots [0, NTRACK) have owners */
#define MAXREG		2048		/* regions over a whole run */
#define MAXH		4		/* region handles per worker */
#define MAXPUB		(MAXH * 2)	/* published attachments per worker */
#define MAP_MAX		(2 * MiB)	/* largest mapping in a slot */
#define FIX_LO		(64 * GiB)	/* fixed attach addresses: [FIX_LO, FIX_HI) */
#define FIX_HI		(16 * 1024 * GiB)
#define HUGE_SZ		(2 * MiB)
#define FILE_TAG	0xf11eULL	/* the O_DIRECT source file's pattern tag */
#define DIO_PAGES	16
#define EXT4_DIR	"/tmp/fz-ext4"

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 4U
#endif

/* ---- shared state ------------------------------------------------------ */

enum kind { K_NONE, K_ANON_SH, K_ANON_PRIV, K_MEMFD, K_FILE_SH, K_FILE_PRIV,
	    K_HUGE, K_UNKNOWN, NKIND };
static const char *const kind_name[NKIND] = {
	"none", "anon-shared", "anon-private", "memfd", "file-shared",
	"file-private", "hugetlb", "unknown",
};

/*
 * One owned slot.  seq is odd while the owner changes the slot; the
 * fields and the slot's memory are only meaningful while it is even.
 */
struct slot {
	uint32_t seq;
	uint8_t kind;
	uint8_t prot;		/* PROT_NONE, PROT_READ or RW */
	uint8_t pad[2];
	uint32_t pages;		/* mapped pages from the slot's start */
	uint32_t pad2;
	uint64_t tag;
	uint64_t counter;	/* word 1 of page 0 */
};

struct rgn {
	uint64_t size;		/* 0: entry not yet made */
	int creator;
	int named;		/* a name was given (it may be gone again) */
	struct slot slot[NSLOT];
};

/* A worker's published attachment, for process_vm_readv() by peers. */
struct pub {
	int ridx;		/* -1: none */
	int pad;
	uint64_t addr;
};

struct wstat {
	long ops, errs_expected, peer_checks, peer_faults_ok, owner_checks;
	long kills, forks, execs, pvm, dio, uring, futex, maps, creates;
	long op_n[32];
	double op_t[32];
};

struct shared {
	uint64_t seed;
	int nw;
	int verbose;
	double end;
	int nreg;			/* region table entries handed out */
	uint32_t run;			/* name prefix: fz<run>- */
	int have_ext4;
	int no_hugetlb;		/* --no-hugetlb: to hunt past a known hugetlb bug */
	volatile int stop;
	int fails;
	pid_t pid[MAXW];
	int incarnation[MAXW];
	int kill_pending[MAXW];
	uint32_t pubseq[MAXW];
	struct pub pub[MAXW][MAXPUB];
	struct wstat st[MAXW];
	char msg[MAXW][512];
	struct rgn rg[MAXREG];
};

static struct shared *sh;
static int socks[MAXW][MAXW];	/* socks[i][j]: i's end of the i-j socketpair */

/* ---- the worker -------------------------------------------------------- */

struct handle {
	int ridx;		/* -1: free */
	int fd;			/* -1: closed */
	bool ro;		/* fd opened read-only */
	char *att[2];
	bool att_ro[2];
	char *win;		/* a window: region [win_off, win_off + win_len) */
	size_t win_off, win_len;
	bool win_ro;
};

struct worker {
	int id;
	int inc;
	uint64_t rng;
	long it;
	const char *op;
	struct handle h[MAXH];
	struct io_uring ring;
	bool ring_ok;
	int dio_fd;		/* O_DIRECT fd of the ext4 pattern file, or -1 */
	char *bounce;
};

static struct worker *W;	/* this process's worker, for messages */
static bool in_child;		/* a forked child of a worker: publishes nothing */
static pid_t child_parent;	/* in a child: the worker that forked it */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	return splitmix(&W->rng);
}

static unsigned long below(unsigned long n)
{
	return n ? rnd() % n : 0;
}

static bool chance(int pct)
{
	return (int)below(100) < pct;
}

/*
 * Record a failure (the first message per worker is kept) and end this
 * process: a worker exits 1, a child of a worker too.
 */
static void __attribute__((noreturn, format(printf, 2, 3)))
fail_at(int line, const char *fmt, ...)
{
	char buf[400];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/*
	 * A child whose worker was killed (a peer's SIGKILL) saw the
	 * worker's operation cut short: nobody wakes its futex, nobody holds
	 * its slot still.  That proves nothing; PR_SET_PDEATHSIG misses a
	 * parent that died before the child set it.
	 */
	if (in_child && getppid() != child_parent)
		_exit(0);
	__atomic_add_fetch(&sh->fails, 1, __ATOMIC_SEQ_CST);
	if (!sh->msg[W->id][0])
		snprintf(sh->msg[W->id], sizeof(sh->msg[0]),
			 "worker %d.%d (pid %d) iter %ld op %s, line %d: %s (errno %d %s)",
			 W->id, W->inc, getpid(), W->it, W->op, line, buf, e,
			 strerror(e));
	fprintf(stderr, "# FAIL worker %d.%d pid %d iter %ld op %s line %d: %s (errno %d)\n",
		W->id, W->inc, getpid(), W->it, W->op, line, buf, e);
	sh->stop = 1;
	_exit(1);
}
#define FAIL(...) fail_at(__LINE__, __VA_ARGS__)
#define CHECK(cond, fmt, ...) do { \
	if (!(cond)) \
		fail_at(__LINE__, "check failed: %s: " fmt, #cond, ##__VA_ARGS__); \
} while (0)

static void note(const char *fmt, ...)
{
	va_list ap;

	if (!sh->verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "# [w%d.%d %ld] ", W->id, W->inc, W->it);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- guarded memory access --------------------------------------------- */

static sigjmp_buf guard_env;
static volatile sig_atomic_t guard_on;
static volatile int guard_sig;

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	if (guard_on) {
		guard_on = 0;
		guard_sig = sig;
		siglongjmp(guard_env, 1);
	}
	/* An access nobody guarded: a failure, reported as such. */
	if (W && sh && !sh->msg[W->id][0])
		snprintf(sh->msg[W->id], sizeof(sh->msg[0]),
			 "worker %d.%d (pid %d) iter %ld op %s: unguarded signal %d at %p",
			 W->id, W->inc, getpid(), W->it, W->op, sig, si->si_addr);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void guard_install(void)
{
	struct sigaction sa = { .sa_sigaction = fault_handler,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/* Read a word; 0, or the signal number if the access faulted. */
static int __attribute__((noinline)) gread(const volatile uint64_t *p, uint64_t *v)
{
	guard_sig = 0;
	if (sigsetjmp(guard_env, 1))
		return guard_sig ? guard_sig : -1;
	guard_on = 1;
	*v = *p;
	guard_on = 0;
	return 0;
}

/* Write a word; 0, or the signal number if the access faulted. */
static int __attribute__((noinline)) gwrite(volatile uint64_t *p, uint64_t v)
{
	guard_sig = 0;
	if (sigsetjmp(guard_env, 1))
		return guard_sig ? guard_sig : -1;
	guard_on = 1;
	*p = v;
	guard_on = 0;
	return 0;
}

/* Rewrite a word with its own value (a write probe that changes nothing). */
static int __attribute__((noinline)) gprobe_write(volatile uint64_t *p)
{
	guard_sig = 0;
	if (sigsetjmp(guard_env, 1))
		return guard_sig ? guard_sig : -1;
	guard_on = 1;
	__atomic_fetch_add(p, 0, __ATOMIC_RELAXED);	/* a locked RMW: a real write */
	guard_on = 0;
	return 0;
}

/* ---- regions, slots, handles ------------------------------------------- */

static struct rgn *R(int ridx)
{
	return &sh->rg[ridx];
}

static size_t slot_size(int ridx)
{
	return R(ridx)->size / NSLOT;
}

static int slot_owner(int s)
{
	return s < NTRACK ? s % sh->nw : -1;
}

static void region_name(int ridx, char *buf, size_t len)
{
	snprintf(buf, len, "fz%u-%d", sh->run, ridx);
}

static void slot_begin(struct slot *sl)
{
	__atomic_add_fetch(&sl->seq, 1, __ATOMIC_SEQ_CST);
	CHECK(sl->seq & 1, "slot seq %u not odd after begin", sl->seq);
}

static void slot_end(struct slot *sl)
{
	__atomic_add_fetch(&sl->seq, 1, __ATOMIC_SEQ_CST);
}

static bool kind_has_data(int kind)
{
	return kind != K_NONE && kind != K_UNKNOWN;
}

static int free_handle(void)
{
	for (int i = 0; i < MAXH; i++)
		if (W->h[i].ridx < 0)
			return i;
	return -1;
}

static int nhandles(void)
{
	int n = 0;

	for (int i = 0; i < MAXH; i++)
		n += W->h[i].ridx >= 0;
	return n;
}

static struct handle *pick_handle(void)
{
	int n = nhandles(), k;

	if (!n)
		return NULL;
	k = below(n);
	for (int i = 0; i < MAXH; i++)
		if (W->h[i].ridx >= 0 && k-- == 0)
			return &W->h[i];
	return NULL;
}

static struct handle *handle_of(int ridx)
{
	for (int i = 0; i < MAXH; i++)
		if (W->h[i].ridx == ridx)
			return &W->h[i];
	return NULL;
}

static int natt(struct handle *h)
{
	return !!h->att[0] + !!h->att[1];
}

/* One attachment of @h (a writable one if @rw and there is one), or NULL. */
static char *any_att(struct handle *h, bool rw, int *which)
{
	int c[2], n = 0;

	for (int i = 0; i < 2; i++)
		if (h->att[i] && (!rw || !h->att_ro[i]))
			c[n++] = i;
	if (!n)
		return NULL;
	n = c[below(n)];
	if (which)
		*which = n;
	return h->att[n];
}

/*
 * Publish this worker's attachments for peers (process_vm_readv).  pubseq
 * is a sequence count: odd while the list changes.  unpublish_begin() may
 * have made it odd already (a detach), so only an even count is bumped on
 * entry: two bumps there made it odd for good, and peers then skipped
 * every stable list and read the ones being written.
 */
static void publish(void)
{
	int k = 0, id = W->id;

	if (in_child)
		return;
	if (!(__atomic_load_n(&sh->pubseq[id], __ATOMIC_ACQUIRE) & 1))
		__atomic_add_fetch(&sh->pubseq[id], 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < MAXH; i++)
		for (int a = 0; a < 2; a++)
			if (W->h[i].ridx >= 0 && W->h[i].att[a] && k < MAXPUB) {
				sh->pub[id][k].ridx = W->h[i].ridx;
				sh->pub[id][k].addr = (uintptr_t)W->h[i].att[a];
				k++;
			}
	for (; k < MAXPUB; k++)
		sh->pub[id][k].ridx = -1;
	__atomic_add_fetch(&sh->pubseq[id], 1, __ATOMIC_SEQ_CST);
}

/* The list is about to change (a detach): odd until publish(). */
static void unpublish_begin(void)
{
	if (in_child)
		return;
	if (!(__atomic_load_n(&sh->pubseq[W->id], __ATOMIC_ACQUIRE) & 1))
		__atomic_add_fetch(&sh->pubseq[W->id], 1, __ATOMIC_SEQ_CST);
}

/* Drop a handle whose fd is closed and that has no attachment. */
static void handle_gc(struct handle *h)
{
	if (h->ridx >= 0 && h->fd < 0 && !h->att[0] && !h->att[1] && !h->win)
		h->ridx = -1;
}

/* ---- what a slot holds -------------------------------------------------- */

/* The pages of a slot the checks look at: first, last, and a few between. */
static int check_pages(uint32_t pages, uint32_t *out)
{
	int n = 0;

	if (!pages)
		return 0;
	out[n++] = 0;
	if (pages > 1)
		out[n++] = pages - 1;
	for (int i = 0; i < 3 && pages > 2; i++)
		out[n++] = 1 + below(pages - 2);
	return n;
}

/*
 * Does the slot at @base (slot state @sl, a snapshot) read as published?
 * 0 if so; else a description in @why.  Accesses are guarded.
 */
static int slot_reads_ok(char *base, const struct slot *sl, char *why, size_t len)
{
	uint32_t pg[8];
	uint64_t v;
	int n, sig;

	if (sl->kind == K_NONE || (sl->kind != K_UNKNOWN && sl->prot == PROT_NONE)) {
		sig = gread(wordp(base, 0, 0), &v);
		if (!sig) {
			snprintf(why, len, "%s slot (prot %d) read %#llx instead of faulting",
				 kind_name[sl->kind], sl->prot, (unsigned long long)v);
			return -1;
		}
		return 0;
	}
	if (!kind_has_data(sl->kind))
		return 0;
	n = check_pages(sl->pages, pg);
	for (int i = 0; i < n; i++) {
		sig = gread(wordp(base, (size_t)pg[i] * PG, 0), &v);
		if (sig) {
			snprintf(why, len, "%s slot page %u (of %u) faulted (signal %d)",
				 kind_name[sl->kind], pg[i], sl->pages, sig);
			return -1;
		}
		if (v != pat(sl->tag, pg[i])) {
			snprintf(why, len, "%s slot page %u (of %u) word 0 is %#llx, want %#llx",
				 kind_name[sl->kind], pg[i], sl->pages,
				 (unsigned long long)v,
				 (unsigned long long)pat(sl->tag, pg[i]));
			return -1;
		}
	}
	sig = gread(wordp(base, 0, 1), &v);
	if (sig || v != sl->counter) {
		snprintf(why, len, "%s slot counter is %#llx (signal %d), want %#llx",
			 kind_name[sl->kind], (unsigned long long)v, sig,
			 (unsigned long long)sl->counter);
		return -1;
	}
	/* Past the mapping, inside the slot: a hole. */
	if (sl->pages * PG < MAP_MAX && chance(20)) {
		sig = gread(wordp(base, (size_t)sl->pages * PG, 0), &v);
		if (!sig) {
			snprintf(why, len, "hole after %u pages read %#llx",
				 sl->pages, (unsigned long long)v);
			return -1;
		}
	}
	return 0;
}

/* The owner checks its slot @s through every attachment of @h. */
static void owner_verify(struct handle *h, int s, const char *when)
{
	struct slot *sl = &R(h->ridx)->slot[s];
	char why[200];

	if (sl->kind == K_UNKNOWN)
		return;
	for (int a = 0; a < 2; a++) {
		if (!h->att[a])
			continue;
		if (slot_reads_ok(h->att[a] + s * slot_size(h->ridx), sl, why, sizeof(why)))
			FAIL("own slot %d of region %d via attachment %d (%p%s) %s: %s",
			     s, h->ridx, a, h->att[a], h->att_ro[a] ? ", ro" : "", when, why);
		sh->st[W->id].owner_checks++;
	}
	/* and through the window, if it shows the slot */
	if (h->win && s * slot_size(h->ridx) >= h->win_off &&
	    s * slot_size(h->ridx) < h->win_off + h->win_len) {
		if (slot_reads_ok(h->win + s * slot_size(h->ridx) - h->win_off, sl, why,
				  sizeof(why)))
			FAIL("own slot %d of region %d via the window %#zx+%#zx at %p %s: %s",
			     s, h->ridx, h->win_off, h->win_len, h->win, when, why);
		sh->st[W->id].owner_checks++;
	}
}

/* Write the pattern and counter of a writable slot (owner, seq odd). */
static void slot_fill(char *base, struct slot *sl)
{
	for (uint32_t i = 0; i < sl->pages; i++)
		if (gwrite(wordp(base, (size_t)i * PG, 0), pat(sl->tag, i)))
			FAIL("filling %s slot page %u of %u at %p faulted",
			     kind_name[sl->kind], i, sl->pages, base);
	if (sl->pages && gwrite(wordp(base, 0, 1), sl->counter))
		FAIL("writing the counter at %p faulted", base);
}

/* The pattern of a file: page i word 0 = pat(tag, i), the rest zero. */
static int file_fill(int fd, size_t len, uint64_t tag)
{
	static char page[PG];

	memset(page, 0, sizeof(page));
	for (size_t off = 0; off < len; off += PG) {
		*(uint64_t *)page = pat(tag, off / PG);
		if (pwrite(fd, page, PG, off) != (ssize_t)PG)
			return -1;
	}
	return 0;
}

/* ---- region handles: create, open, close ------------------------------- */

static int new_region_entry(size_t size)
{
	int ridx = __atomic_fetch_add(&sh->nreg, 1, __ATOMIC_SEQ_CST);

	if (ridx >= MAXREG)
		return -1;
	memset(&R(ridx)->slot, 0, sizeof(R(ridx)->slot));
	R(ridx)->creator = W->id;
	__atomic_store_n(&R(ridx)->size, size, __ATOMIC_RELEASE);
	return ridx;
}

static size_t pick_size(void)
{
	static const size_t sizes[] = { RGN, RGN, RGN, 2 * RGN, 2 * RGN, 4 * RGN };

	return sizes[below(sizeof(sizes) / sizeof(sizes[0]))];
}

static void op_create(void)
{
	int slot = free_handle(), fd, ridx;
	size_t size = pick_size();
	char name[64];
	bool named = chance(40);

	if (slot < 0)
		return;
	ridx = new_region_entry(size);
	if (ridx < 0)
		return;
	if (named) {
		region_name(ridx, name, sizeof(name));
		fd = mshare_create_named(name, size, 0600, O_EXCL | (chance(50) ? O_CLOEXEC : 0));
		if (fd == -ENOSPC || fd == -ENOMEM)
			return;
		CHECK(fd >= 0, "mshare_create_named(%s, %#zx): %d", name, size, fd);
		R(ridx)->named = 1;
	} else {
		fd = mshare_create(size, chance(50) ? MSHARE_CLOEXEC : 0);
		if (fd == -ENOSPC || fd == -ENOMEM)
			return;
		CHECK(fd >= 0, "mshare_create(%#zx): %d", size, fd);
	}
	CHECK(mshare_size(fd) == (long long)size, "size %lld", mshare_size(fd));
	W->h[slot] = (struct handle){ .ridx = ridx, .fd = fd };
	sh->st[W->id].creates++;
	note("created region %d (%zu GiB%s) fd %d", ridx, size / GiB,
	     named ? ", named" : "", fd);
}

/* Refused creations: nothing is made, no fd is left. */
static void op_create_bad(void)
{
	static const struct { size_t size; unsigned int flags; } bad[] = {
		{ 0, 0 }, { PG, 0 }, { RGN + PG, 0 }, { RGN - 1, 0 }, { RGN / 2, 0 },
		{ RGN, 2 }, { RGN, 0x80000000U }, { RGN, ~0U }, { ~(size_t)0, 0 },
		{ ~(size_t)0 & ~(RGN - 1), 0 }, { (size_t)1 << 62, 0 },
		{ (size_t)1 << 47, 0 },
	};
	int n = count_fds(), r, k = below(sizeof(bad) / sizeof(bad[0]));
	char name[64];

	if (chance(20)) {
		/* A named region whose size is refused: no name is left. */
		snprintf(name, sizeof(name), "fz%u-bad-%d-%ld", sh->run, W->id, W->it);
		static const size_t bad_sizes[] = {
			PG, RGN + PG, RGN - 1, RGN / 2, ~(size_t)0 & ~(RGN - 1),
			(size_t)1 << 62, (size_t)1 << 47,
		};

		k = below(sizeof(bad_sizes) / sizeof(bad_sizes[0]));
		r = mshare_create_named(name, bad_sizes[k], 0600, O_EXCL);
		CHECK(r < 0, "named create of size %#zx succeeded", bad_sizes[k]);
		CHECK(r == -EINVAL || r == -ENOSPC || r == -ENOMEM, "named create: %d", r);
		CHECK(msfs_open(name, O_RDONLY) < 0 && errno == ENOENT,
		      "name %s left after a refused create", name);
	} else {
		r = mshare_create(bad[k].size, bad[k].flags);
		CHECK(r < 0, "mshare_create(%#zx, %#x) succeeded: fd %d", bad[k].size,
		      bad[k].flags, r);
		CHECK(r == -EINVAL || r == -ENOSPC || r == -ENOMEM,
		      "mshare_create(%#zx, %#x): %d", bad[k].size, bad[k].flags, r);
	}
	CHECK(count_fds() == n, "fds %d -> %d after a refused create", n, count_fds());
	sh->st[W->id].errs_expected++;
}

static void op_link(void)
{
	struct handle *h = pick_handle();
	struct mshare_link ml;
	char name[64];
	int r;

	if (!h || h->fd < 0)
		return;
	region_name(h->ridx, name, sizeof(name));
	switch (below(6)) {
	case 0:	/* a bad name */
		memset(&ml, 0, sizeof(ml));
		strcpy(ml.name, chance(50) ? "a/b" : (chance(50) ? "." : ".."));
		ml.mode = 0600;
		r = ioctl(h->fd, MSHAREFS_LINK, &ml);
		CHECK(r < 0 && (errno == EINVAL || errno == EACCES || (h->ro && errno == EBADF)),
		      "link to a bad name: %d", r);
		return;
	case 1:	/* reserved field set */
		memset(&ml, 0, sizeof(ml));
		snprintf(name, sizeof(name), "fz%u-rsv-%d", sh->run, W->id);
		strcpy(ml.name, name);
		ml.__reserved = 1;
		r = ioctl(h->fd, MSHAREFS_LINK, &ml);
		CHECK(r < 0 && (errno == EINVAL || errno == EACCES),
		      "link with __reserved set: %d", r);
		CHECK(msfs_open(name, O_RDONLY) < 0, "name made by a refused link");
		return;
	case 2:	/* a bad pointer */
		r = ioctl(h->fd, MSHAREFS_LINK, (void *)16);
		CHECK(r < 0 && (errno == EFAULT || errno == EACCES), "link from a bad pointer: %d", r);
		return;
	default:
		break;
	}
	r = mshare_link(h->fd, name, 0600);
	if (h->ro) {
		CHECK(r == -EACCES || r == -EBADF, "link of a read-only fd: %d", r);
		return;
	}
	/* Named already (by us or a peer), or not. */
	CHECK(r == 0 || r == -EBUSY || r == -EEXIST, "mshare_link(%s): %d", name, r);
	if (!r)
		R(h->ridx)->named = 1;
}

static void op_open(void)
{
	int slot = free_handle(), nreg = __atomic_load_n(&sh->nreg, __ATOMIC_ACQUIRE);
	int ridx, fd;
	bool ro = chance(30);
	char name[64];
	struct stat st;

	if (slot < 0 || !nreg)
		return;
	ridx = below(nreg < MAXREG ? nreg : MAXREG);
	if (!R(ridx)->named || handle_of(ridx))
		return;
	region_name(ridx, name, sizeof(name));
	fd = mshare_open(name, (ro ? O_RDONLY : O_RDWR) | (chance(50) ? O_CLOEXEC : 0));
	if (fd == -ENOENT)
		return;		/* unlinked, or never made */
	CHECK(fd >= 0, "mshare_open(%s): %d", name, fd);
	CHECK(!fstat(fd, &st) && (uint64_t)st.st_size == R(ridx)->size,
	      "opened %s: size %lld, want %llu", name, (long long)st.st_size,
	      (unsigned long long)R(ridx)->size);
	W->h[slot] = (struct handle){ .ridx = ridx, .fd = fd, .ro = ro };
	note("opened region %d by name%s", ridx, ro ? " read-only" : "");
}

static void op_unlink(void)
{
	int nreg = __atomic_load_n(&sh->nreg, __ATOMIC_ACQUIRE), ridx, r;
	char name[64];

	if (!nreg)
		return;
	ridx = below(nreg < MAXREG ? nreg : MAXREG);
	if (!R(ridx)->named)
		return;
	region_name(ridx, name, sizeof(name));
	r = mshare_unlink(name);
	CHECK(r == 0 || r == -ENOENT, "mshare_unlink(%s): %d", name, r);
	note("unlinked %s: %d", name, r);
}

static void op_close(void)
{
	struct handle *h = pick_handle();

	if (!h || h->fd < 0)
		return;
	CHECK(!close(h->fd), "close");
	h->fd = -1;
	handle_gc(h);
}

static void op_dup(void)
{
	struct handle *h = pick_handle();
	int nfd;

	if (!h || h->fd < 0)
		return;
	nfd = chance(50) ? dup(h->fd) : fcntl(h->fd, F_DUPFD_CLOEXEC, 50 + (int)below(50));
	CHECK(nfd >= 0, "dup");
	CHECK(mshare_is_region(nfd) == 1, "dup of a region fd is not a region");
	close(h->fd);
	h->fd = nfd;
}

/* ---- passing fds ------------------------------------------------------- */

struct fdmsg {
	int ridx;
	int ro;
};

static void op_send(void)
{
	struct handle *h = pick_handle();
	struct fdmsg m;
	int peer, r;

	if (!h || h->fd < 0 || sh->nw < 2)
		return;
	do
		peer = below(sh->nw);
	while (peer == W->id);
	m.ridx = h->ridx;
	m.ro = h->ro;
	/* SEQPACKET, non-blocking: a full queue is not an error. */
	r = mshare_send_fd(socks[W->id][peer], h->fd, &m, sizeof(m));
	CHECK(r == 0 || r == -EAGAIN || r == -EWOULDBLOCK || r == -ENOBUFS,
	      "send to %d: %d", peer, r);
}

static void recv_fds(void)
{
	for (int p = 0; p < sh->nw; p++) {
		struct pollfd pfd = { .fd = socks[W->id][p], .events = POLLIN };
		struct fdmsg m;
		struct handle *h;
		int fd, r, slot;

		if (p == W->id)
			continue;
		while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
			r = mshare_recv_fd(pfd.fd, &fd, &m, sizeof(m));
			CHECK(r == 0, "recv from %d: %d", p, r);
			CHECK(m.ridx >= 0 && m.ridx < MAXREG, "bad ridx %d", m.ridx);
			CHECK(mshare_is_region(fd) == 1, "received fd is not a region");
			CHECK(mshare_size(fd) == (long long)R(m.ridx)->size,
			      "received region %d: size %lld, want %llu", m.ridx,
			      mshare_size(fd), (unsigned long long)R(m.ridx)->size);
			h = handle_of(m.ridx);
			if (h && h->fd < 0) {
				h->fd = fd;
				h->ro = m.ro;
			} else if (!h && (slot = free_handle()) >= 0) {
				W->h[slot] = (struct handle){ .ridx = m.ridx, .fd = fd, .ro = m.ro };
			} else {
				close(fd);
			}
		}
	}
}

/* ---- attach and detach -------------------------------------------------- */

/* Does [a, a + len) meet one of our attachments? */
static bool meets_attachment(uintptr_t a, size_t len)
{
	for (int i = 0; i < MAXH; i++)
		for (int k = 0; k < 2; k++) {
			uintptr_t b = (uintptr_t)W->h[i].att[k];

			if (b && a < b + R(W->h[i].ridx)->size && b < a + len)
				return true;
		}
	for (int i = 0; i < MAXH; i++) {
		uintptr_t b = (uintptr_t)W->h[i].win;

		if (b && a < b + W->h[i].win_len && b < a + len)
			return true;
	}
	return false;
}

static uintptr_t fixed_addr(void)
{
	return FIX_LO + below((FIX_HI - FIX_LO) / RGN) * RGN;
}

static void op_attach(void)
{
	struct handle *h = pick_handle();
	size_t size;
	int k, prot, n = count_fds();
	uintptr_t want = 0;
	void *p;

	if (!h || h->fd < 0)
		return;
	size = R(h->ridx)->size;
	prot = chance(25) ? PROT_READ : RW;
	k = !h->att[0] ? 0 : (!h->att[1] ? 1 : -1);

	switch (below(12)) {
	case 0: {	/* refused: misaligned, partial, private, offset, beyond */
		static const int what[] = { 0, 1, 2, 3, 4, 5 };
		int w = what[below(6)], flags = MAP_SHARED;
		size_t len = size;
		off_t off = 0;

		want = fixed_addr();
		if (meets_attachment(want, size + RGN))
			return;
		switch (w) {
		case 0: want += PG; flags |= MAP_FIXED; break;
		case 1: len = size - RGN / 2; flags |= MAP_FIXED_NOREPLACE; break;	/* not a window */
		case 2: flags = MAP_PRIVATE | MAP_FIXED_NOREPLACE; break;
		case 3: off = RGN; flags |= MAP_FIXED_NOREPLACE; break;
		case 4: len = size + RGN; flags |= MAP_FIXED_NOREPLACE; break;
		case 5: off = PG; flags |= MAP_FIXED_NOREPLACE; break;
		}
		p = mmap((void *)want, len, prot, flags, h->fd, off);
		CHECK(p == MAP_FAILED && (errno == EINVAL || errno == EACCES || errno == ENOMEM),
		      "refused attach case %d (len %#zx off %#llx flags %#x at %#lx) gave %p",
		      w, len, (long long)off, flags, (unsigned long)want, p);
		CHECK(maps_count(want, want + len) == 0,
		      "refused attach case %d left a mapping at %#lx", w, (unsigned long)want);
		CHECK(count_fds() == n, "fd count changed");
		sh->st[W->id].errs_expected++;
		return;
	}
	case 1:		/* overlapping the edge of one of ours: EEXIST */
		if (!natt(h))
			return;
		p = any_att(h, false, NULL);
		want = (uintptr_t)p + size - RGN;
		if (chance(50) && (uintptr_t)p >= FIX_LO + RGN)
			want = (uintptr_t)p - size + RGN;
		{
			void *q = mmap((void *)want, size, prot, MAP_SHARED | MAP_FIXED_NOREPLACE,
				       h->fd, 0);

			if (q != MAP_FAILED) {
				/* Only if it does not meet any attachment after all. */
				CHECK(!meets_attachment(want, size),
				      "attach over an attachment's edge at %#lx succeeded",
				      (unsigned long)want);
				munmap(q, size);
				return;
			}
			CHECK(errno == EEXIST || errno == ENOMEM || (h->ro && errno == EACCES),
			      "attach over an edge: errno %d", errno);
		}
		sh->st[W->id].errs_expected++;
		return;
	default:
		break;
	}
	if (k < 0)
		return;
	if (chance(50)) {
		want = fixed_addr();
		if (meets_attachment(want, size))
			return;
	}
	p = mmap((void *)want, size, prot,
		 MAP_SHARED | (want ? MAP_FIXED_NOREPLACE : 0), h->fd, 0);
	if (h->ro && (prot & PROT_WRITE)) {
		CHECK(p == MAP_FAILED && errno == EACCES,
		      "writable attach of a read-only fd: %p errno %d", p, errno);
		sh->st[W->id].errs_expected++;
		return;
	}
	if (p == MAP_FAILED && errno == ENOMEM)
		return;
	CHECK(p != MAP_FAILED, "attach region %d (%#zx) at %#lx", h->ridx, size,
	      (unsigned long)want);
	CHECK((uintptr_t)p % RGN == 0, "attachment at %p not aligned", p);
	CHECK(!want || (uintptr_t)p == want, "fixed attach at %p, want %#lx", p,
	      (unsigned long)want);
	h->att[k] = p;
	h->att_ro[k] = !(prot & PROT_WRITE);
	publish();
	note("attached region %d at %p%s", h->ridx, p, h->att_ro[k] ? " ro" : "");
	/* A new sharer sees every owned slot at once. */
	for (int s = 0; s < NTRACK; s++)
		if (slot_owner(s) == W->id)
			owner_verify(h, s, "after attaching");
}

/*
 * Read a peer's slot @s of @h's region at @a (where one of our attachments
 * or our window shows it) under the slot's sequence count: the data must
 * be what the owner published unless the owner changed the slot meanwhile.
 */
static void peer_slot_check(struct handle *h, int s, char *a, const char *via)
{
	struct slot *sl = &R(h->ridx)->slot[s], snap;
	uint32_t s1, s2;
	char why[200];
	int rc;

	s1 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
	if (s1 & 1)
		return;
	memcpy(&snap, sl, sizeof(snap));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (snap.kind == K_UNKNOWN)
		return;
	rc = slot_reads_ok(a, &snap, why, sizeof(why));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
	if (s1 != s2) {
		sh->st[W->id].peer_faults_ok++;
		return;
	}
	if (rc)
		FAIL("peer's slot %d (owner %d) of region %d at %p (through %s), seq %u: %s",
		     s, slot_owner(s), h->ridx, a, via, s1, why);
	sh->st[W->id].peer_checks++;
}

/*
 * A window (mmap with an offset: issue 14) of a region: made, checked
 * and kept on the handle, or checked and detached.  Every owned slot the
 * window shows must read as published through it, at once (a new sharer
 * of that part) and after whatever peers did meanwhile (their flushes
 * reach a window's sharer at its own addresses); a peer's slot is read
 * under its sequence count.  A forked child inherits the window
 * (owner_verify checks through it there too); a killed worker's exit
 * tears it down.
 */
static void op_window(void)
{
	struct handle *h = pick_handle();
	size_t size, ngib, off, len, ss;
	uintptr_t want = 0;
	int prot;
	void *p;

	if (!h)
		return;
	size = R(h->ridx)->size;
	ss = slot_size(h->ridx);
	if (!h->win) {
		if (h->fd < 0)
			return;
		ngib = size / RGN;
		off = below(ngib) * RGN;
		len = (1 + below(ngib - off / RGN)) * RGN;
		prot = h->ro || chance(25) ? PROT_READ : RW;
		if (chance(50)) {
			want = fixed_addr();
			if (meets_attachment(want, len))
				return;
		}
		p = mmap((void *)want, len, prot, MAP_SHARED | (want ? MAP_FIXED_NOREPLACE : 0),
			 h->fd, (off_t)off);
		if (p == MAP_FAILED && errno == ENOMEM)
			return;
		CHECK(p != MAP_FAILED, "window %#zx+%#zx of region %d (%#zx) at %#lx",
		      off, len, h->ridx, size, (unsigned long)want);
		CHECK((uintptr_t)p % RGN == 0, "window at %p not aligned", p);
		CHECK(!want || (uintptr_t)p == want, "fixed window at %p, want %#lx", p,
		      (unsigned long)want);
		h->win = p;
		h->win_off = off;
		h->win_len = len;
		h->win_ro = !(prot & PROT_WRITE);
		note("window %#zx+%#zx of region %d at %p%s", off, len, h->ridx, p,
		     h->win_ro ? " ro" : "");
		/* A bad window next to it is refused and leaves it alone. */
		if (chance(30)) {
			void *q = mmap(NULL, RGN, PROT_READ, MAP_SHARED, h->fd,
				       (off_t)(chance(50) ? size : off + PG));

			CHECK(q == MAP_FAILED && errno == EINVAL,
			      "window past the end or misaligned: %p errno %d", q, errno);
			sh->st[W->id].errs_expected++;
		}
	}
	/* Our slots it shows (owner_verify); a few peers' too. */
	for (int s = 0; s < NTRACK; s++)
		if (slot_owner(s) == W->id)
			owner_verify(h, s, "through a window");
	for (int n = 0; n < 4; n++) {
		int s = (int)(h->win_off / ss + below(h->win_len / ss));

		if (s < NTRACK && slot_owner(s) != W->id)
			peer_slot_check(h, s, h->win + s * ss - h->win_off, "a window");
	}
	if (chance(40)) {
		/* Detach it: munmap of the whole window. */
		CHECK(!munmap(h->win, h->win_len), "detach the window at %p", h->win);
		note("window at %p detached", h->win);
		h->win = NULL;
		handle_gc(h);
	}
}

static void detach(struct handle *h, int k)
{
	size_t size = R(h->ridx)->size;

	unpublish_begin();
	CHECK(!munmap(h->att[k], size), "detach %p", h->att[k]);
	h->att[k] = NULL;
	publish();
	handle_gc(h);
}

static void op_detach(void)
{
	struct handle *h = pick_handle();
	size_t size;
	char *a;
	int k, r;

	if (!h || !natt(h))
		return;
	a = any_att(h, false, &k);
	size = R(h->ridx)->size;
	if (chance(25)) {
		/*
		 * Refused: part of the attachment and beyond it.  (A range
		 * strictly inside, even from the attachment's start, is an
		 * munmap() inside the region, not a partial detach.)
		 */
		int w = below(3);

		switch (w) {
		case 0:
			r = munmap(a + size - PG, 2 * PG);
			break;
		case 1:
			r = munmap(a - PG, 2 * PG);
			break;
		default:
			/* (of a 1 GiB attachment that would be all of it, and more) */
			if (size == RGN)
				return;
			r = munmap(a + size - RGN, 2 * RGN);
			break;
		}
		CHECK(r == -1 && errno == EINVAL, "munmap across an edge of %p (case %d): %d",
		      a, w, r);
		CHECK(maps_has_exact((uintptr_t)a, (uintptr_t)a + size),
		      "attachment %p changed by a refused munmap", a);
		for (int s = 0; s < NTRACK; s++)
			if (slot_owner(s) == W->id)
				owner_verify(h, s, "after a refused detach");
		sh->st[W->id].errs_expected++;
		return;
	}
	detach(h, k);
	note("detached region %d", h->ridx);
}

/* ---- mappings inside: the owner's slots --------------------------------- */

/* An owned slot of @h that this worker may change, or -1. */
static int my_slot(struct handle *h)
{
	int s = below(NTRACK / sh->nw) * sh->nw + W->id;

	return s < NTRACK ? s : -1;
}

enum { S_DATA = 1, S_RW };

/*
 * An owned slot of @h that holds data (S_DATA), or data mapped read-write
 * (S_RW), most of the time; any owned slot otherwise.
 */
static int my_slot_as(struct handle *h, int want)
{
	int cand[NTRACK], n = 0;

	for (int s = W->id; s < NTRACK; s += sh->nw) {
		struct slot *sl = &R(h->ridx)->slot[s];

		if (!kind_has_data(sl->kind) || (want == S_RW && sl->prot != RW))
			continue;
		cand[n++] = s;
	}
	if (!n || chance(10))
		return my_slot(h);
	return cand[below(n)];
}

/* A handle with an attachment (a writable one if @rw), or NULL. */
static struct handle *pick_attached(bool rw)
{
	int cand[MAXH], n = 0;

	for (int i = 0; i < MAXH; i++)
		if (W->h[i].ridx >= 0 && any_att(&W->h[i], rw, NULL))
			cand[n++] = i;
	return n ? &W->h[cand[below(n)]] : NULL;
}

static int tmp_file(size_t len, uint64_t tag, bool ext4)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "%s/fz-%d-%ld", ext4 ? EXT4_DIR : "/tmp", getpid(), W->it);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(fd, len) || file_fill(fd, len, tag)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Make slot @s of @h empty for sure (after a failure that may have left
 * anything): munmap through a writable attachment, or MSHAREFS_UNMAP.
 * False if neither is possible.
 */
static bool slot_clear(struct handle *h, int s)
{
	size_t ss = slot_size(h->ridx);
	char *a = any_att(h, true, NULL);
	int r;

	if (a)
		r = munmap(a + s * ss, ss);
	else if (h->fd >= 0 && !h->ro)
		r = mshare_unmap(h->fd, s * ss, ss);
	else
		return false;
	CHECK(r == 0, "clearing slot %d of region %d: %d", s, h->ridx, r);
	return true;
}

static void op_map(void)
{
	struct handle *h = chance(80) ? pick_attached(true) : pick_handle();
	struct slot *sl, snap;
	size_t ss, len;
	int s, kind, fd = -1, extra = 0, r, ioctl_way;
	bool huge_memfd = false;
	char *a, *base;
	uint64_t tag;
	void *p;

	if (!h)
		return;
	s = my_slot(h);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, true, NULL);
	ioctl_way = h->fd >= 0 && !h->ro && (!a || chance(30));
	if (!a && !ioctl_way)
		return;
	kind = 1 + below(K_HUGE);	/* K_ANON_SH .. K_HUGE */
	if (kind == K_HUGE && sh->no_hugetlb)
		kind = K_ANON_SH;
	if (ioctl_way && (kind == K_ANON_PRIV || kind == K_FILE_PRIV))
		kind = K_ANON_SH;	/* the ioctl maps MAP_SHARED only */
	/* Mostly small: every page is touched, and faults are slow under TCG. */
	if (chance(70))
		len = (1 + below(16)) * PG;
	else if (chance(85))
		len = (17 + below(112)) * PG;
	else
		len = MAP_MAX;
	if (kind == K_HUGE)
		len = HUGE_SZ;
	tag = ((uint64_t)W->id << 24 | (rnd() & 0xffffff)) + 1;
	if (chance(20))
		extra |= MAP_POPULATE;
	if (chance(8) && kind != K_HUGE)
		extra |= MAP_LOCKED;

	snap = *sl;
	slot_begin(sl);
	switch (kind) {
	case K_MEMFD:
		fd = chance(20) && !sh->no_hugetlb ? memfd_create("fz", MFD_HUGETLB) : -1;
		if (fd >= 0) {
			len = HUGE_SZ;
			huge_memfd = true;
			if (ftruncate(fd, len) || file_fill(fd, len, tag)) {
				close(fd);
				fd = -1;
				huge_memfd = false;
			}
		}
		if (fd < 0) {
			fd = memfd_sized("fz", len);
			if (fd >= 0 && file_fill(fd, len, tag)) {
				close(fd);
				fd = -1;
			}
		}
		break;
	case K_FILE_SH:
	case K_FILE_PRIV:
		fd = tmp_file(len, tag, sh->have_ext4 && chance(50));
		if (fd < 0)
			fd = tmp_file(len, tag, false);
		break;
	default:
		break;
	}
	if ((kind == K_MEMFD || kind == K_FILE_SH || kind == K_FILE_PRIV) && fd < 0) {
		/* No room for the file (ENOSPC, no huge pages): nothing changed. */
		*sl = snap;
		sl->seq = snap.seq + 1;
		slot_end(sl);
		return;
	}
	if (ioctl_way) {
		int flags = MAP_SHARED | MAP_FIXED | (extra & MAP_POPULATE);

		if (kind == K_HUGE)
			flags |= MAP_HUGETLB;
		r = mshare_map(h->fd, s * ss, len, RW, flags & ~(MAP_SHARED | MAP_FIXED),
			       kind == K_ANON_SH || kind == K_HUGE ? -1 : fd, 0);
		p = r ? MAP_FAILED : (void *)1;
		if (r)
			errno = -r;
	} else {
		int flags = MAP_FIXED | extra;

		flags |= (kind == K_ANON_PRIV || kind == K_FILE_PRIV) ? MAP_PRIVATE : MAP_SHARED;
		if (kind == K_ANON_SH || kind == K_ANON_PRIV || kind == K_HUGE)
			flags |= MAP_ANONYMOUS;
		if (kind == K_HUGE)
			flags |= MAP_HUGETLB;
		p = mmap(a + s * ss, len, RW, flags, fd, 0);
		if (p != MAP_FAILED)
			CHECK(p == a + s * ss, "mmap inside at %p gave %p", a + s * ss, p);
	}
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED) {
		int e = errno;

		/*
		 * MAP_FIXED over the start of a hugetlb mapping with a length
		 * that is no multiple of its page: the hugetlb VMA cannot be
		 * split there (EINVAL, as without mshare), and the old mapping
		 * stays (seed 0xf689101615c1c2cc).
		 */
		if (e == EINVAL && len % HUGE_SZ &&
		    (snap.kind == K_HUGE || snap.kind == K_UNKNOWN)) {
			*sl = snap;
			sl->seq = snap.seq + 1;
			slot_end(sl);
			return;
		}
		/* Huge pages or memory ran out: a clean error, the slot emptied. */
		CHECK(e == ENOMEM || e == EAGAIN || e == ENOSPC,
		      "map %s %#zx in slot %d (%s): %s", kind_name[kind], len, s,
		      ioctl_way ? "ioctl" : "mmap", strerror(e));
		if (slot_clear(h, s)) {
			sl->kind = K_NONE;
			sl->pages = 0;
		} else {
			sl->kind = K_UNKNOWN;
		}
		slot_end(sl);
		return;
	}
	/* What an earlier, longer mapping left after this one goes. */
	if (ioctl_way)
		r = mshare_unmap(h->fd, s * ss + len, ss - len);
	else
		r = munmap(a + s * ss + len, ss - len);
	CHECK(r == 0, "unmapping the rest of slot %d: %d", s, r);
	sl->kind = huge_memfd ? K_HUGE : kind;
	sl->prot = RW;
	sl->pages = len / PG;
	sl->tag = tag;
	sl->counter = rnd();
	sh->st[W->id].maps++;
	base = a ? a + s * ss : NULL;
	if (!base) {
		/* Made by ioctl without an attachment: attach for a moment to fill it. */
		char *t = ms_attach(h->fd, R(h->ridx)->size, NULL, RW, 0);

		if (!t) {
			CHECK(errno == ENOMEM, "attach to fill");
			CHECK(mshare_unmap(h->fd, s * ss, ss) == 0, "unmap after failed attach");
			sl->kind = K_NONE;
			sl->pages = 0;
			slot_end(sl);
			return;
		}
		slot_fill(t + s * ss, sl);
		munmap(t, R(h->ridx)->size);
	} else {
		slot_fill(base, sl);
	}
	slot_end(sl);
	note("mapped %s %#zx in region %d slot %d (%s%s%s)", kind_name[kind], len,
	     h->ridx, s, ioctl_way ? "ioctl" : "mmap",
	     extra & MAP_POPULATE ? ", populate" : "", extra & MAP_LOCKED ? ", locked" : "");
	owner_verify(h, s, "after mapping");
}

static void op_unmap(void)
{
	struct handle *h = pick_handle();
	struct slot *sl;
	size_t ss;
	char *a;
	int s, r, how = below(4);

	if (!h)
		return;
	s = my_slot_as(h, S_DATA);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, false, NULL);
	if (how == 0 && a) {
		/* Through a read-only attachment or fd: EACCES, nothing changed. */
		int k;

		a = any_att(h, false, &k);
		if (h->att_ro[k]) {
			r = munmap(a + s * ss, ss);
			CHECK(r == -1 && errno == EACCES, "munmap inside a read-only attachment: %d", r);
			owner_verify(h, s, "after a refused munmap");
			sh->st[W->id].errs_expected++;
			return;
		}
	}
	if (how == 1 && h->fd >= 0 && h->ro) {
		r = mshare_unmap(h->fd, s * ss, ss);
		CHECK(r == -EACCES || r == -EBADF, "MSHAREFS_UNMAP on a read-only fd: %d", r);
		owner_verify(h, s, "after a refused MSHAREFS_UNMAP");
		sh->st[W->id].errs_expected++;
		return;
	}
	slot_begin(sl);
	if (how == 2 && kind_has_data(sl->kind) && sl->pages > 1 && sl->kind != K_HUGE &&
	    (a = any_att(h, true, NULL))) {
		/* The tail half only. */
		uint32_t keep = sl->pages / 2;

		r = munmap(a + s * ss + (size_t)keep * PG, (size_t)(sl->pages - keep) * PG);
		CHECK(r == 0, "munmap of the tail of slot %d", s);
		sl->pages = keep;
	} else if (slot_clear(h, s)) {
		sl->kind = K_NONE;
		sl->pages = 0;
	}
	slot_end(sl);
	owner_verify(h, s, "after munmap");
}

/* ---- protection ----------------------------------------------------------- */

/* A child writes to @p: it must die of SIGSEGV. */
static void child_write_faults(volatile uint64_t *p, const char *what)
{
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		*p = 0x5a5a5a5a;
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	      "a child's write to %s at %p: status %#x", what, p, status);
	sh->st[W->id].forks++;
}

static void op_protect(void)
{
	struct handle *h = pick_attached(false);
	static const int prots[] = { PROT_NONE, PROT_READ, RW, RW };
	struct slot *sl;
	size_t ss;
	char *a;
	int s, k, prot, r;

	if (!h || !natt(h))
		return;
	s = my_slot_as(h, S_DATA);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, false, &k);
	prot = prots[below(4)];
	if (chance(10)) {
		/* The whole attachment, or a range reaching out of it: EINVAL. */
		size_t size = R(h->ridx)->size;

		r = chance(50) ? mprotect(a, size, prot) : mprotect(a + size - PG, 2 * PG, prot);
		CHECK(r == -1 && (errno == EINVAL || (h->att_ro[k] && errno == EACCES)),
		      "mprotect of a whole attachment/edge: %d", r);
		owner_verify(h, s, "after a refused mprotect");
		sh->st[W->id].errs_expected++;
		return;
	}
	if (!kind_has_data(sl->kind))
		return;
	if (h->att_ro[k]) {
		r = mprotect(a + s * ss, (size_t)sl->pages * PG, prot);
		CHECK(r == -1 && errno == EACCES, "mprotect through a read-only attachment: %d", r);
		owner_verify(h, s, "after a refused mprotect");
		sh->st[W->id].errs_expected++;
		return;
	}
	slot_begin(sl);
	r = mprotect(a + s * ss, (size_t)sl->pages * PG, prot);
	CHECK(r == 0, "mprotect slot %d %s to %d", s, kind_name[sl->kind], prot);
	sl->prot = prot;
	slot_end(sl);
	owner_verify(h, s, "after mprotect");
	if (prot == PROT_READ) {
		volatile uint64_t *w = wordp(a + s * ss, (size_t)below(sl->pages) * PG, 2);

		CHECK(gprobe_write(w) != 0, "write to a read-only slot succeeded");
		if (chance(20))
			child_write_faults(w, "a read-only slot");
	}
}

/* A write through a read-only attachment must fault, whatever the slot. */
static void op_ro_probe(void)
{
	struct handle *h = pick_attached(false);
	struct slot *sl;
	int s;

	if (!h)
		return;
	for (int k = 0; k < 2; k++) {
		if (!h->att[k] || !h->att_ro[k])
			continue;
		s = my_slot(h);
		if (s < 0)
			return;
		sl = &R(h->ridx)->slot[s];
		if (!kind_has_data(sl->kind) || sl->prot != RW)
			continue;
		CHECK(gprobe_write(wordp(h->att[k] + s * slot_size(h->ridx), 0, 2)) != 0,
		      "write through a read-only attachment succeeded");
		if (chance(20))
			child_write_faults(wordp(h->att[k] + s * slot_size(h->ridx), 0, 2),
					   "a read-only attachment");
	}
}

/* ---- advice, locking, msync -------------------------------------------- */

static const int advices[] = {
	MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
	MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE,
	MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP,
	MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
	MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_DONTNEED_LOCKED,
	MADV_COLLAPSE, MADV_HWPOISON, MADV_SOFT_OFFLINE, 26, 99, -1,
};

/* Refused inside a region, whatever the mapping (README, ops.c). */
static bool advice_refused(int adv)
{
	switch (adv) {
	case MADV_DONTFORK: case MADV_DOFORK: case MADV_MERGEABLE:
	case MADV_UNMERGEABLE: case MADV_WIPEONFORK: case MADV_KEEPONFORK:
	case MADV_COLLAPSE: case MADV_HWPOISON: case MADV_SOFT_OFFLINE:
	case 26: case 99: case -1:
		return true;
	default:
		return false;
	}
}

/*
 * After successful advice @adv on all of slot @sl (a snapshot before it),
 * check what page @i holds (word 0 @v): the pattern, zero, or either.
 */
static bool advice_result_ok(int adv, const struct slot *sl, uint64_t v, uint32_t i)
{
	bool pattern = v == pat(sl->tag, i), zero = v == 0;

	switch (adv) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
		if (sl->kind == K_ANON_PRIV)
			return zero;
		/* file-private reverts to the file: the same pattern */
		return pattern;
	case MADV_FREE:
		return sl->kind == K_ANON_PRIV ? (pattern || zero) : pattern;
	case MADV_REMOVE:
		return zero;
	default:
		return pattern;
	}
}

static void op_advise(void)
{
	struct handle *h = pick_attached(false);
	struct slot *sl, snap;
	int s, k, adv, r, e;
	size_t ss, len;
	char *a, *base;
	uint64_t v;

	if (!h || !natt(h))
		return;
	s = my_slot_as(h, S_DATA);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, false, &k);
	adv = advices[below(sizeof(advices) / sizeof(advices[0]))];
	base = a + s * ss;
	if (chance(8)) {
		/*
		 * Reaching out of the attachment: EINVAL.  The whole
		 * attachment acts on the whole region (issue 14), which the
		 * model does not follow: only advice it refuses, there.
		 */
		size_t size = R(h->ridx)->size;

		r = chance(50) ? madvise(a, size, MADV_MERGEABLE) :
				 madvise(a + size - PG, 2 * PG, adv);
		CHECK(r == -1 && errno == EINVAL, "madvise %d of a whole attachment/edge: %d", adv, r);
		owner_verify(h, s, "after refused advice");
		sh->st[W->id].errs_expected++;
		return;
	}
	if (!kind_has_data(sl->kind))
		return;
	len = (size_t)sl->pages * PG;
	snap = *sl;
	slot_begin(sl);
	r = madvise(base, len, adv);
	e = errno;
	if (advice_refused(adv))
		CHECK(r == -1 && e == EINVAL, "advice %d inside: %d", adv, r);
	if (r) {
		/* Refused: nothing changed. */
		slot_end(sl);
		owner_verify(h, s, "after refused advice");
		sh->st[W->id].errs_expected++;
		return;
	}
	/* Through a read-only attachment only hints that read are taken. */
	CHECK(!h->att_ro[k] || adv == MADV_WILLNEED || adv == MADV_POPULATE_READ,
	      "advice %d taken through a read-only attachment", adv);
	if (snap.prot != PROT_NONE) {
		uint32_t pg[8];
		int n = check_pages(snap.pages, pg);

		for (int i = 0; i < n; i++) {
			CHECK(!gread(wordp(base, (size_t)pg[i] * PG, 0), &v),
			      "slot %s page %u faulted after advice %d", kind_name[snap.kind], pg[i], adv);
			CHECK(advice_result_ok(adv, &snap, v, pg[i]),
			      "slot %s (prot %d) page %u after advice %d: %#llx (pattern %#llx)",
			      kind_name[snap.kind], snap.prot, pg[i], adv, (unsigned long long)v,
			      (unsigned long long)pat(snap.tag, pg[i]));
		}
	}
	if (adv == MADV_DONTNEED || adv == MADV_DONTNEED_LOCKED || adv == MADV_FREE ||
	    adv == MADV_REMOVE) {
		/* Restore the pattern (the owner may need to lift the protection). */
		char *wa = any_att(h, true, NULL);

		if (!wa) {
			sl->kind = K_UNKNOWN;
		} else {
			if (snap.prot != RW)
				CHECK(!mprotect(wa + s * ss, len, RW), "mprotect to restore");
			slot_fill(wa + s * ss, sl);
			if (snap.prot != RW)
				CHECK(!mprotect(wa + s * ss, len, snap.prot), "mprotect back");
		}
	}
	slot_end(sl);
	owner_verify(h, s, "after advice");
}

static void op_mlock(void)
{
	struct handle *h = pick_attached(false);
	struct slot *sl;
	int s, k, r;
	size_t ss;
	char *a;

	if (!h || !natt(h))
		return;
	s = my_slot_as(h, S_DATA);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, false, &k);
	if (chance(15)) {
		/* The whole attachment: the whole region. */
		size_t size = R(h->ridx)->size;

		r = chance(50) ? mlock(a, size) : munlock(a, size);
		CHECK(r == 0 || errno == ENOMEM || errno == EAGAIN ||
		      (h->att_ro[k] && errno == EACCES),
		      "mlock/munlock of a whole attachment: %d", r);
		owner_verify(h, s, "after mlock of the region");
		return;
	}
	if (!kind_has_data(sl->kind))
		return;
	switch (below(3)) {
	case 0:
		r = mlock(a + s * ss, (size_t)sl->pages * PG);
		break;
	case 1:
		r = syscall(SYS_mlock2, a + s * ss, (size_t)sl->pages * PG, MLOCK_ONFAULT);
		break;
	default:
		r = munlock(a + s * ss, (size_t)sl->pages * PG);
		break;
	}
	if (h->att_ro[k])
		CHECK(r == -1 && errno == EACCES, "mlock through a read-only attachment: %d", r);
	else
		CHECK(r == 0 || errno == ENOMEM || errno == EAGAIN ||
		      (sl->prot == PROT_NONE && errno == ENOMEM), "mlock of slot %d: %d", s, r);
	owner_verify(h, s, "after mlock");
}

static void op_msync(void)
{
	struct handle *h = pick_attached(false);
	static const int flags[] = { MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC | MS_INVALIDATE,
				     MS_SYNC | MS_ASYNC, 0x80 };
	struct slot *sl;
	int s, f, r;
	size_t ss;
	char *a;

	if (!h || !natt(h))
		return;
	s = my_slot_as(h, S_DATA);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, false, NULL);
	f = flags[below(sizeof(flags) / sizeof(flags[0]))];
	if (chance(20))
		r = msync(a, R(h->ridx)->size, f);
	else if (kind_has_data(sl->kind))
		r = msync(a + s * ss, (size_t)sl->pages * PG, f);
	else
		return;
	if (f == (MS_SYNC | MS_ASYNC) || f == 0x80)
		CHECK(r == -1 && errno == EINVAL, "msync with flags %#x: %d", f, r);
	else
		CHECK(r == 0 || errno == EBUSY || errno == ENOMEM, "msync %#x: %d", f, r);
	owner_verify(h, s, "after msync");
}

/* ---- the counter: writes seen through every path ------------------------ */

static void op_write(void)
{
	struct handle *h = pick_attached(true);
	struct slot *sl;
	uint64_t v, nv;
	size_t ss;
	char *a;
	int s;

	if (!h)
		return;
	s = my_slot_as(h, S_RW);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, true, NULL);
	if (!a || !kind_has_data(sl->kind) || sl->prot != RW)
		return;
	slot_begin(sl);
	nv = sl->counter + 1;
	if (chance(30)) {
		/* process_vm_writev() to our own attachment: GUP through it. */
		struct iovec l = { &nv, sizeof(nv) }, rv = { a + s * ss + 8, sizeof(nv) };

		CHECK(process_vm_writev(getpid(), &l, 1, &rv, 1, 0) == sizeof(nv),
		      "process_vm_writev into slot %d", s);
		sh->st[W->id].pvm++;
	} else {
		CHECK(!gwrite(wordp(a + s * ss, 0, 1), nv), "counter write faulted");
	}
	sl->counter = nv;
	slot_end(sl);
	owner_verify(h, s, "after a counter write");
	/* And read back with process_vm_readv(). */
	{
		struct iovec l = { &v, sizeof(v) }, rv = { a + s * ss + 8, sizeof(v) };

		CHECK(process_vm_readv(getpid(), &l, 1, &rv, 1, 0) == sizeof(v) && v == nv,
		      "process_vm_readv of slot %d: %#llx, want %#llx", s,
		      (unsigned long long)v, (unsigned long long)nv);
	}
}

/* Writes by GUP into a read-only slot fail and change nothing. */
static void op_gup_ro(void)
{
	struct handle *h = pick_attached(false);
	struct slot *sl;
	uint64_t nv = 0xdeadbeef;
	size_t ss;
	char *a;
	int s, k;
	ssize_t r;

	if (!h || !natt(h))
		return;
	s = my_slot_as(h, S_DATA);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, false, &k);
	if (!kind_has_data(sl->kind) || (sl->prot == RW && !h->att_ro[k]))
		return;
	{
		struct iovec l = { &nv, sizeof(nv) }, rv = { a + s * ss + 8, sizeof(nv) };

		r = process_vm_writev(getpid(), &l, 1, &rv, 1, 0);
		CHECK(r == -1 && errno == EFAULT,
		      "process_vm_writev into a %s (prot %d%s) slot: %zd", kind_name[sl->kind],
		      sl->prot, h->att_ro[k] ? ", ro attachment" : "", r);
	}
	if (W->dio_fd >= 0) {
		r = pread(W->dio_fd, a + s * ss, PG, 0);
		CHECK(r == -1 && errno == EFAULT, "O_DIRECT read into a read-only slot: %zd", r);
	}
	owner_verify(h, s, "after refused GUP writes");
	sh->st[W->id].errs_expected++;
}

/* ---- O_DIRECT and io_uring into region memory --------------------------- */

static void op_dio(void)
{
	struct handle *h = pick_attached(true);
	struct slot *sl;
	size_t ss, n;
	char *a, *base;
	int s, use_uring;
	ssize_t r;

	if (!h || W->dio_fd < 0)
		return;
	s = my_slot_as(h, S_RW);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, true, NULL);
	if (!a || !kind_has_data(sl->kind) || sl->prot != RW)
		return;
	base = a + s * ss;
	n = sl->pages < DIO_PAGES ? sl->pages : DIO_PAGES;
	use_uring = W->ring_ok && chance(50);
	slot_begin(sl);
	if (use_uring) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&W->ring);
		struct io_uring_cqe *cqe;

		CHECK(sqe, "no sqe");
		io_uring_prep_read(sqe, W->dio_fd, base, n * PG, 0);
		CHECK(io_uring_submit(&W->ring) == 1, "io_uring_submit");
		CHECK(!io_uring_wait_cqe(&W->ring, &cqe), "io_uring_wait_cqe");
		r = cqe->res;
		io_uring_cqe_seen(&W->ring, cqe);
		sh->st[W->id].uring++;
	} else {
		r = pread(W->dio_fd, base, n * PG, 0);
		if (r < 0)
			r = -errno;
		sh->st[W->id].dio++;
	}
	CHECK(r == (ssize_t)(n * PG), "%s read of %zu pages into %s slot %d: %zd",
	      use_uring ? "io_uring" : "O_DIRECT", n, kind_name[sl->kind], s, r);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = *wordp(base, i * PG, 0);

		CHECK(v == pat(FILE_TAG, i), "page %zu after the read: %#llx", i,
		      (unsigned long long)v);
	}
	slot_fill(base, sl);
	slot_end(sl);
	owner_verify(h, s, "after O_DIRECT");
}

/* ---- futex in region memory --------------------------------------------- */

static long futex(volatile uint32_t *uaddr, int op, uint32_t val, struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static void op_futex(void)
{
	struct handle *h = pick_attached(true);
	struct slot *sl;
	volatile uint32_t *fw, *cw;
	char *a, *ca = NULL;
	int s, status;
	size_t ss;
	pid_t pid;
	double t0;

	if (!h)
		return;
	s = my_slot_as(h, S_RW);
	if (s < 0)
		return;
	ss = slot_size(h->ridx);
	sl = &R(h->ridx)->slot[s];
	a = any_att(h, true, NULL);
	if (!a || !kind_has_data(sl->kind) || sl->prot != RW)
		return;
	fw = (volatile uint32_t *)wordp(a + s * ss, 0, 2);
	slot_begin(sl);
	*fw = 0;
	fflush(NULL);
	child_parent = getpid();
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct timespec ts = { 10, 0 };
		long r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		in_child = true;
		if (getppid() != child_parent)
			_exit(0);
		/* Wait through an attachment of our own, elsewhere, if we can. */
		cw = fw;
		if (h->fd >= 0 && (ca = ms_attach(h->fd, R(h->ridx)->size, NULL,
						   h->ro ? PROT_READ : RW, 0)))
			cw = (volatile uint32_t *)wordp(ca + s * ss, 0, 2);
		r = futex(cw, FUTEX_WAIT, 0, &ts);
		if (r && errno != EAGAIN && errno != EINTR)
			FAIL("futex wait in slot %d (%s) at %p: %ld", s,
			     kind_name[sl->kind], cw, r);
		if (*cw != 1)
			FAIL("futex word %u after the wake, want 1", *cw);
		_exit(0);
	}
	/* Let the child sleep, then wake it until it has gone. */
	t0 = now_sec();
	sleep_ms(below(20));
	*fw = 1;
	for (;;) {
		pid_t r;

		futex(fw, FUTEX_WAKE, 1, NULL);
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		CHECK(now_sec() - t0 < 30, "futex waiter did not wake in 30 s");
		sleep_ms(2);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "futex child: status %#x", status);
	*fw = 0;
	slot_end(sl);
	sh->st[W->id].futex++;
}

/* ---- peers' slots ---------------------------------------------------------- */

static void op_peer_check(void)
{
	struct handle *h = pick_attached(false);
	int s;

	if (!h || !natt(h))
		return;
	for (int n = 0; n < 4; n++) {
		s = below(NTRACK);
		if (slot_owner(s) == W->id)
			continue;
		peer_slot_check(h, s, any_att(h, false, NULL) + s * slot_size(h->ridx),
				"an attachment");
	}
}

/* process_vm_readv() of a peer's attachment. */
static void op_peer_pvm(void)
{
	int peer = below(sh->nw), k = below(MAXPUB), s;
	uint32_t p1, p2, s1, s2;
	struct slot *sl, snap;
	struct pub pb;
	uint64_t v[2];
	pid_t pid;
	ssize_t r;

	if (peer == W->id)
		return;
	p1 = __atomic_load_n(&sh->pubseq[peer], __ATOMIC_ACQUIRE);
	if (p1 & 1)
		return;
	pid = sh->pid[peer];
	pb = sh->pub[peer][k];
	if (pb.ridx < 0 || pid <= 0)
		return;
	s = below(NTRACK);
	sl = &R(pb.ridx)->slot[s];
	s1 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
	memcpy(&snap, sl, sizeof(snap));
	{
		struct iovec l = { v, sizeof(v) },
			     rv = { (void *)(uintptr_t)(pb.addr + s * slot_size(pb.ridx)), sizeof(v) };

		r = process_vm_readv(pid, &l, 1, &rv, 1, 0);
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
	p2 = __atomic_load_n(&sh->pubseq[peer], __ATOMIC_ACQUIRE);
	sh->st[W->id].pvm++;
	if (p1 != p2 || s1 != s2 || (s1 & 1) || snap.kind == K_UNKNOWN ||
	    sh->kill_pending[peer])
		return;
	if (snap.kind == K_NONE || snap.prot == PROT_NONE) {
		CHECK(r == -1 && (errno == EFAULT || errno == ESRCH),
		      "process_vm_readv of peer %d's %s slot %d (prot %d): %zd", peer,
		      kind_name[snap.kind], s, snap.prot, r);
		return;
	}
	if (r == -1 && errno == ESRCH)
		return;		/* it exited */
	CHECK(r == sizeof(v), "process_vm_readv of peer %d's slot %d (%s) in region %d at %#llx",
	      peer, s, kind_name[snap.kind], pb.ridx, (unsigned long long)pb.addr);
	CHECK(v[0] == pat(snap.tag, 0) && v[1] == snap.counter,
	      "peer %d's slot %d via process_vm_readv: %#llx %#llx, want %#llx %#llx", peer, s,
	      (unsigned long long)v[0], (unsigned long long)v[1],
	      (unsigned long long)pat(snap.tag, 0), (unsigned long long)snap.counter);
	sh->st[W->id].peer_checks++;
}

/* ---- the free-for-all slots -------------------------------------------- */

static void op_chaos(void)
{
	struct handle *h = pick_attached(false);
	size_t ss, off;
	char *a;
	uint64_t v;
	int s, r;
	void *p;

	if (!h || !natt(h))
		return;
	a = any_att(h, false, NULL);
	ss = slot_size(h->ridx);
	s = NTRACK + below(NSLOT - NTRACK);
	off = below(MAP_MAX / PG) * PG;
	switch (below(8)) {
	case 0:
	case 1:
		(void)gread(wordp(a + s * ss, off, 0), &v);
		break;
	case 2:
		(void)gwrite(wordp(a + s * ss, off, 3), rnd());
		break;
	case 3:
		p = mmap(a + s * ss + off, (1 + below(64)) * PG, RW,
			 MAP_FIXED | (chance(50) ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS |
			 (chance(20) ? MAP_POPULATE : 0), -1, 0);
		(void)p;
		break;
	case 4:
		r = munmap(a + s * ss + off, (1 + below(64)) * PG);
		(void)r;
		break;
	case 5:
		r = mprotect(a + s * ss + off, (1 + below(64)) * PG,
			     (int)below(4) & (PROT_READ | PROT_WRITE));
		(void)r;
		break;
	case 6:
		r = madvise(a + s * ss + off, (1 + below(64)) * PG,
			    advices[below(sizeof(advices) / sizeof(advices[0]))]);
		(void)r;
		break;
	default:
		if (h->fd >= 0 && !h->ro) {
			r = mshare_map(h->fd, s * ss + off, (1 + below(16)) * PG, RW,
				       chance(30) ? MAP_POPULATE : 0, -1, 0);
			(void)r;
		}
		break;
	}
}

/* ---- msharefs ioctls and reads ------------------------------------------ */

static void op_stat(void)
{
	struct handle *h = pick_handle();
	struct mshare_stats st;
	struct mshare_stat kst;
	char buf[4096];
	ssize_t n;
	int r;

	if (!h || h->fd < 0)
		return;
	r = mshare_stat(h->fd, &st);
	CHECK(r == 0 && st.size == R(h->ridx)->size, "mshare_stat: %d size %llu", r,
	      (unsigned long long)st.size);
	CHECK(st.attachments >= (uint64_t)natt(h), "attachments %llu < ours %d",
	      (unsigned long long)st.attachments, natt(h));
	switch (below(6)) {
	case 0:
		/*
		 * pread: the file description may be shared (SCM_RIGHTS,
		 * fork) and read() past EOF already.  (mshare_regress checks
		 * pread() of unnamed regions, which gave ESPIPE.)
		 */
		n = pread(h->fd, buf, sizeof(buf) - 1, 0);
		if (n < 0 && errno == ESPIPE)
			return;
		CHECK(n > 0, "pread of the region fd: %zd", n);
		buf[n] = 0;
		CHECK(!strncmp(buf, "size: ", 6), "region text starts %.20s", buf);
		break;
	case 1:	/* unknown ioctl */
		r = ioctl(h->fd, _IOR('x', 42, int), &r);
		CHECK(r == -1 && errno == ENOTTY, "unknown ioctl: %d", r);
		break;
	case 2:	/* bad pointers */
		r = ioctl(h->fd, MSHAREFS_GET_STAT, (void *)8);
		CHECK(r == -1 && errno == EFAULT, "GET_STAT to a bad pointer: %d", r);
		r = ioctl(h->fd, MSHAREFS_CREATE_MAPPING, (void *)8);
		CHECK(r == -1 && (errno == EFAULT || errno == EACCES || errno == EBADF),
		      "CREATE_MAPPING from a bad pointer: %d", r);
		break;
	case 3: {	/* CREATE_MAPPING refusals */
		struct mshare_create mc = {
			.region_offset = NTRACK * slot_size(h->ridx), .size = PG,
			.prot = RW, .flags = MAP_SHARED | MAP_FIXED, .fd = (uint32_t)-1,
		};
		int memfd = -1, n0 = count_fds(), w = below(7);

		switch (w) {
		case 0: mc.flags = MAP_PRIVATE | MAP_FIXED; break;
		case 1: mc.flags = MAP_SHARED; break;
		case 2: mc.region_offset += 1; break;
		case 3: mc.region_offset = R(h->ridx)->size; break;
		case 4: mc.size = R(h->ridx)->size; break;
		case 5: mc.fd = h->fd; break;			/* a region in itself */
		default: mc.fd = 1000 + below(1000); break;	/* a bad fd */
		}
		r = ioctl(h->fd, MSHAREFS_CREATE_MAPPING, &mc);
		CHECK(r == -1 && (errno == EINVAL || errno == EBADF || errno == ELOOP ||
				  errno == EACCES),
		      "CREATE_MAPPING refusal %d: %d", w, r);
		if (memfd >= 0)
			close(memfd);
		CHECK(count_fds() == n0, "fd count changed");
		sh->st[W->id].errs_expected++;
		break;
	}
	case 4: {	/* UNMAP refusals */
		struct mshare_unmap mu = { R(h->ridx)->size, PG };

		if (chance(50)) {
			mu.region_offset = PG + 1;
		}
		r = ioctl(h->fd, MSHAREFS_UNMAP, &mu);
		CHECK(r == -1 && (errno == EINVAL || errno == EACCES || errno == EBADF),
		      "UNMAP refusal: %d", r);
		sh->st[W->id].errs_expected++;
		break;
	}
	default: {	/* GET_STAT itself agrees */
		r = ioctl(h->fd, MSHAREFS_GET_STAT, &kst);
		CHECK(r == 0 && kst.size == R(h->ridx)->size, "GET_STAT: %d", r);
		break;
	}
	}
	/* Nothing above changed an owned slot. */
	if (natt(h)) {
		int s = my_slot(h);

		if (s >= 0)
			owner_verify(h, s, "after ioctls");
	}
}

/* Maps of other kinds of fd inside, and regions inside regions: refused. */
static void op_nest(void)
{
	struct handle *h = pick_handle(), *o;
	size_t ss;
	char *a;
	void *p;
	int s;

	if (!h || !(a = any_att(h, true, NULL)) || h->ro)
		return;
	o = pick_handle();
	if (!o || o->fd < 0)
		return;
	ss = slot_size(h->ridx);
	s = NTRACK + below(NSLOT - NTRACK);
	p = mmap(a + s * ss, R(o->ridx)->size, RW, MAP_SHARED | MAP_FIXED, o->fd, 0);
	CHECK(p == MAP_FAILED && (errno == EINVAL || errno == ELOOP || errno == ENOMEM ||
				  errno == EACCES),
	      "a region mapped inside a region: %p", p);
	sh->st[W->id].errs_expected++;
}

/* ---- fork, exec, exit, kill ---------------------------------------------- */

static void op_fork(void)
{
	struct handle *h = pick_attached(true);
	struct slot *sl = NULL;
	int s = -1, status, plan = below(4);
	pid_t pid;
	char *a;
	size_t ss = 0;

	if (h && (a = any_att(h, true, NULL)) && (s = my_slot_as(h, S_RW)) >= 0) {
		sl = &R(h->ridx)->slot[s];
		ss = slot_size(h->ridx);
		if (!kind_has_data(sl->kind) || sl->prot != RW)
			sl = NULL;
	}
	if (sl)
		slot_begin(sl);
	fflush(NULL);
	child_parent = getpid();
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		in_child = true;
		if (getppid() != child_parent)
			_exit(0);
		/* The child sees everything the parent does, and writes for it. */
		for (int i = 0; i < MAXH; i++)
			if (W->h[i].ridx >= 0)
				for (int t = 0; t < NTRACK; t++)
					if (slot_owner(t) == W->id && (!sl || t != s))
						owner_verify(&W->h[i], t, "in a forked child");
		if (sl) {
			a = any_att(h, true, NULL);
			CHECK(!gwrite(wordp(a + s * ss, 0, 1), sl->counter + 1),
			      "child's counter write");
		}
		if (plan == 0)
			op_peer_check();
		else if (plan == 1)
			op_chaos();
		else if (plan == 2 && h && natt(h))
			detach(h, h->att[0] ? 0 : 1);
		_exit(0);
	}
	if (plan == 3 && chance(50)) {
		/* Kill it wherever it is. */
		sleep_ms(below(5));
		kill(pid, SIGKILL);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	sh->st[W->id].forks++;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && plan == 3) {
		/* The counter may or may not have been written. */
		if (sl) {
			uint64_t v = *wordp(any_att(h, true, NULL) + s * ss, 0, 1);

			CHECK(v == sl->counter || v == sl->counter + 1, "counter %#llx after a killed child",
			      (unsigned long long)v);
			sl->counter = v;
		}
	} else {
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "forked child: status %#x (%s)", status, sh->msg[W->id]);
		if (sl)
			sl->counter++;
	}
	if (sl) {
		slot_end(sl);
		owner_verify(h, s, "after a forked child");
	}
}

/*
 * The exec'd child: mshare_fuzz --exec-child FD CLOEXEC_FD SLOT_OFF TAG PAGES COUNTER SIZE
 * attaches the region of FD, checks the slot at SLOT_OFF, and that
 * CLOEXEC_FD was closed by exec.
 */
static int exec_child(char **argv)
{
	int fd = atoi(argv[0]), cfd = atoi(argv[1]);
	size_t off = strtoull(argv[2], NULL, 0), size = strtoull(argv[6], NULL, 0);
	uint64_t tag = strtoull(argv[3], NULL, 0), counter = strtoull(argv[5], NULL, 0);
	uint32_t pages = strtoul(argv[4], NULL, 0);
	char *a;

	if (cfd >= 0 && fcntl(cfd, F_GETFD) != -1) {
		printf("# exec child: close-on-exec fd %d survived exec\n", cfd);
		return 3;
	}
	if (mshare_size(fd) != (long long)size) {
		printf("# exec child: fd %d is not the region (size %lld)\n", fd, mshare_size(fd));
		return 4;
	}
	a = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED) {
		printf("# exec child: attach: %s\n", strerror(errno));
		return 5;
	}
	for (uint32_t i = 0; i < pages; i += 1 + pages / 4)
		if (*wordp(a + off, (size_t)i * PG, 0) != pat(tag, i)) {
			printf("# exec child: page %u reads %#llx\n", i,
			       (unsigned long long)*wordp(a + off, (size_t)i * PG, 0));
			return 6;
		}
	if (*wordp(a + off, 0, 1) != counter) {
		printf("# exec child: counter %#llx, want %#llx\n",
		       (unsigned long long)*wordp(a + off, 0, 1), (unsigned long long)counter);
		return 7;
	}
	return 0;
}

static void op_exec(void)
{
	struct handle *h = pick_handle();
	char args[7][32], *argv[10];
	struct slot *sl;
	int s, fd, cfd, status;
	pid_t pid;

	if (!h || h->fd < 0)
		return;
	s = my_slot_as(h, S_DATA);
	if (s < 0)
		return;
	sl = &R(h->ridx)->slot[s];
	if (!kind_has_data(sl->kind) || sl->prot == PROT_NONE)
		return;
	slot_begin(sl);		/* hold it still while the child looks */
	fd = fcntl(h->fd, F_DUPFD, 200);
	cfd = fcntl(h->fd, F_DUPFD_CLOEXEC, 300);
	CHECK(fd >= 0 && cfd >= 0, "dup for exec");
	snprintf(args[0], 32, "%d", fd);
	snprintf(args[1], 32, "%d", cfd);
	snprintf(args[2], 32, "%#zx", s * slot_size(h->ridx));
	snprintf(args[3], 32, "%#llx", (unsigned long long)sl->tag);
	snprintf(args[4], 32, "%u", sl->pages);
	snprintf(args[5], 32, "%#llx", (unsigned long long)sl->counter);
	snprintf(args[6], 32, "%#llx", (unsigned long long)R(h->ridx)->size);
	argv[0] = "mshare_fuzz";
	argv[1] = "--exec-child";
	for (int i = 0; i < 7; i++)
		argv[2 + i] = args[i];
	argv[9] = NULL;
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(fd);
	close(cfd);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec'd child: status %#x", status);
	slot_end(sl);
	sh->st[W->id].execs++;
}

static void op_kill(void)
{
	int peer = below(sh->nw);
	pid_t pid;

	if (peer == W->id || sh->nw < 2 || !chance(30))
		return;
	pid = sh->pid[peer];
	if (pid <= 0 || __atomic_exchange_n(&sh->kill_pending[peer], 1, __ATOMIC_SEQ_CST))
		return;
	if (kill(pid, SIGKILL))
		sh->kill_pending[peer] = 0;
	else
		sh->st[W->id].kills++;
	note("killed worker %d (pid %d)", peer, pid);
}

/* ---- the worker loop ------------------------------------------------------ */

enum { OP_CREATE, OP_CREATE_BAD, OP_LINK, OP_OPEN, OP_UNLINK, OP_CLOSE, OP_DUP,
       OP_SEND, OP_ATTACH, OP_DETACH, OP_MAP, OP_UNMAP, OP_PROTECT, OP_RO_PROBE,
       OP_ADVISE, OP_MLOCK, OP_MSYNC, OP_WRITE, OP_GUP_RO, OP_DIO, OP_FUTEX,
       OP_PEER, OP_PEER_PVM, OP_CHAOS, OP_STAT, OP_NEST, OP_FORK, OP_EXEC,
       OP_KILL, OP_EXIT, OP_WINDOW, NOPS };
_Static_assert(NOPS <= 32, "wstat.op_n is too small");

static const struct { const char *name; void (*fn)(void); int weight; } ops[NOPS] = {
	[OP_CREATE] = { "create", op_create, 4 },
	[OP_CREATE_BAD] = { "create-bad", op_create_bad, 2 },
	[OP_LINK] = { "link", op_link, 2 },
	[OP_OPEN] = { "open", op_open, 4 },
	[OP_UNLINK] = { "unlink", op_unlink, 2 },
	[OP_CLOSE] = { "close", op_close, 3 },
	[OP_DUP] = { "dup", op_dup, 1 },
	[OP_SEND] = { "send", op_send, 5 },
	[OP_ATTACH] = { "attach", op_attach, 8 },
	[OP_DETACH] = { "detach", op_detach, 5 },
	[OP_MAP] = { "map", op_map, 12 },
	[OP_UNMAP] = { "unmap", op_unmap, 4 },
	[OP_PROTECT] = { "protect", op_protect, 5 },
	[OP_RO_PROBE] = { "ro-probe", op_ro_probe, 2 },
	[OP_ADVISE] = { "advise", op_advise, 6 },
	[OP_MLOCK] = { "mlock", op_mlock, 2 },
	[OP_MSYNC] = { "msync", op_msync, 2 },
	[OP_WRITE] = { "write", op_write, 8 },
	[OP_GUP_RO] = { "gup-ro", op_gup_ro, 2 },
	[OP_DIO] = { "dio", op_dio, 3 },
	[OP_FUTEX] = { "futex", op_futex, 1 },
	[OP_PEER] = { "peer-check", op_peer_check, 10 },
	[OP_PEER_PVM] = { "peer-pvm", op_peer_pvm, 3 },
	[OP_CHAOS] = { "chaos", op_chaos, 6 },
	[OP_STAT] = { "stat", op_stat, 3 },
	[OP_NEST] = { "nest", op_nest, 1 },
	[OP_FORK] = { "fork", op_fork, 2 },
	[OP_EXEC] = { "exec", op_exec, 1 },
	[OP_KILL] = { "kill", op_kill, 1 },
	[OP_EXIT] = { "exit", NULL, 1 },
	[OP_WINDOW] = { "window", op_window, 3 },
};

static int pick_op(void)
{
	static int total;
	int r;

	if (!total)
		for (int i = 0; i < NOPS; i++)
			total += ops[i].weight;
	r = below(total);
	for (int i = 0; i < NOPS; i++) {
		r -= ops[i].weight;
		if (r < 0)
			return i;
	}
	return 0;
}

/* A new incarnation takes over its slots: what its predecessor left half done is unknown. */
static void take_over_slots(void)
{
	int nreg = __atomic_load_n(&sh->nreg, __ATOMIC_ACQUIRE);

	if (nreg > MAXREG)
		nreg = MAXREG;
	for (int r = 0; r < nreg; r++)
		for (int s = 0; s < NTRACK; s++) {
			struct slot *sl = &R(r)->slot[s];

			if (slot_owner(s) != W->id || !(sl->seq & 1))
				continue;
			sl->kind = K_UNKNOWN;
			slot_end(sl);
		}
}

static void worker_main(int id, int inc)
{
	static struct worker w;
	uint64_t x = sh->seed ^ ((uint64_t)id << 48) ^ ((uint64_t)inc << 32);

	memset(&w, 0, sizeof(w));
	w.id = id;
	w.inc = inc;
	w.rng = splitmix(&x);
	w.op = "start";
	w.dio_fd = -1;
	for (int i = 0; i < MAXH; i++)
		w.h[i] = (struct handle){ .ridx = -1, .fd = -1 };
	W = &w;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	guard_install();
	take_over_slots();
	publish();
	w.ring_ok = !io_uring_queue_init(8, &w.ring, 0);
	if (sh->have_ext4)
		w.dio_fd = open(EXT4_DIR "/dio", O_RDONLY | O_DIRECT);

	for (w.it = 0; !sh->stop && now_sec() < sh->end; w.it++) {
		int op;

		recv_fds();
		op = pick_op();
		w.op = ops[op].name;
		sh->st[id].ops++;
		if (op == OP_EXIT) {
			if (chance(10))
				_exit(0);	/* everything goes with the process */
			continue;
		}
		{
			double t0 = now_sec();

			ops[op].fn();
			sh->st[id].op_n[op]++;
			sh->st[id].op_t[op] += now_sec() - t0;
		}
		/* Reclaim a slot a predecessor left unknown, now and then. */
		if (chance(5)) {
			struct handle *h = pick_handle();
			int s;

			if (h && (s = my_slot(h)) >= 0 &&
			    R(h->ridx)->slot[s].kind == K_UNKNOWN) {
				struct slot *sl = &R(h->ridx)->slot[s];

				slot_begin(sl);
				if (slot_clear(h, s)) {
					sl->kind = K_NONE;
					sl->pages = 0;
				}
				slot_end(sl);
			}
		}
	}
	_exit(0);
}

/* ---- the supervisor --------------------------------------------------------- */

static pid_t spawn(int id)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		worker_main(id, sh->incarnation[id]);
	return pid;
}

static void unlink_names(void)
{
	char prefix[32];
	DIR *d = opendir(MSFS_DIR);
	struct dirent *e;

	snprintf(prefix, sizeof(prefix), "fz%u-", sh->run);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static int ntap;

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", ++ntap);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: mshare_fuzz [--seed S] [--seconds T] [--workers N] [--verbose] [--no-hugetlb]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "workers", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "no-hugetlb", no_argument, NULL, 'H' },
		{ "exec-child", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t seed = 0;
	bool have_seed = false;
	double seconds = 100;
	int nw = 4, verbose = 0, no_hugetlb = 0, c, kfd, bad_exits = 0, unexpected = 0, respawns = 0;
	long hp_free0, hp_free1, fds0;
	struct memsnap base, now;
	struct worker sup = { .id = 0, .op = "supervisor" };
	char why[512], line[400];

	if (argc > 1 && !strcmp(argv[1], "--exec-child")) {
		if (argc != 9)
			return 2;
		return exec_child(argv + 2);
	}
	while ((c = getopt_long(argc, argv, "s:t:w:v", lopts, NULL)) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); have_seed = true; break;
		case 't': seconds = atof(optarg); break;
		case 'w': nw = atoi(optarg); break;
		case 'v': verbose = 1; break;
		case 'H': no_hugetlb = 1; break;
		default: usage();
		}
	}
	if (nw < 1 || nw > MAXW || seconds <= 0)
		usage();
	if (!have_seed && getenv("MSHARE_FUZZ_SEED")) {
		seed = strtoull(getenv("MSHARE_FUZZ_SEED"), NULL, 0);
		have_seed = true;
	}
	if (!have_seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) * 2654435761ULL ^ getpid();

	printf("TAP version 13\n");
	printf("1..5\n");
	printf("# seed %#llx seconds %g workers %d (replay: mshare_fuzz --seed %#llx --seconds %g --workers %d)\n",
	       (unsigned long long)seed, seconds, nw, (unsigned long long)seed, seconds, nw);
	fflush(stdout);

	sh = mmap(NULL, sizeof(*sh), RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("Bail out! shared state: %s\n", strerror(errno));
		return 1;
	}
	/* Touch it all now: its pages are Shmem, and the baseline counts them. */
	memset(sh, 0, sizeof(*sh));
	W = &sup;
	sh->seed = seed;
	sh->nw = nw;
	sh->verbose = verbose;
	sh->no_hugetlb = no_hugetlb;
	sh->run = getpid();
	for (int i = 0; i < MAXW; i++)
		for (int k = 0; k < MAXPUB; k++)
			sh->pub[i][k].ridx = -1;
	/* A socketpair per pair of workers, all kept open here. */
	for (int i = 0; i < nw; i++)
		for (int j = i + 1; j < nw; j++) {
			int sv[2];

			if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv)) {
				printf("Bail out! socketpair: %s\n", strerror(errno));
				return 1;
			}
			socks[i][j] = sv[0];
			socks[j][i] = sv[1];
		}
	/* O_DIRECT needs a filesystem that does it: ext4 on a ram disk. */
	if (!ramdisk_ext4_mount(EXT4_DIR, why, sizeof(why))) {
		int fd = open(EXT4_DIR "/dio", O_RDWR | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0 && !file_fill(fd, DIO_PAGES * PG, FILE_TAG) && !fsync(fd))
			sh->have_ext4 = 1;
		if (fd >= 0)
			close(fd);
	} else {
		printf("# no ext4 for O_DIRECT (%s): O_DIRECT and io_uring reads are skipped\n", why);
	}
	kfd = kmsg_from_now();
	mem_settle();
	memsnap_take(&base);
	hp_free0 = meminfo_kb("HugePages_Free");
	fds0 = count_fds();

	sh->end = now_sec() + seconds;
	for (int i = 0; i < nw; i++)
		sh->pid[i] = spawn(i);
	while (1) {
		int status, id = -1;
		pid_t pid = wait(&status);

		if (pid < 0)
			break;
		for (int i = 0; i < nw; i++)
			if (sh->pid[i] == pid)
				id = i;
		if (id < 0)
			continue;	/* not a worker (an orphaned grandchild) */
		/*
		 * Its attachments are gone: peers must not read them by pid.
		 * It may have died with its list half written (odd count).
		 */
		if (!(__atomic_load_n(&sh->pubseq[id], __ATOMIC_ACQUIRE) & 1))
			__atomic_add_fetch(&sh->pubseq[id], 1, __ATOMIC_SEQ_CST);
		for (int k = 0; k < MAXPUB; k++)
			sh->pub[id][k].ridx = -1;
		sh->pid[id] = 0;
		__atomic_add_fetch(&sh->pubseq[id], 1, __ATOMIC_SEQ_CST);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && sh->kill_pending[id]) {
			sh->kill_pending[id] = 0;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			if (WIFSIGNALED(status)) {
				unexpected++;
				printf("# worker %d.%d (pid %d) died of signal %d%s%s\n", id,
				       sh->incarnation[id], pid, WTERMSIG(status),
				       sh->msg[id][0] ? ": " : "", sh->msg[id]);
			} else {
				bad_exits++;
			}
			sh->stop = 1;
		}
		sh->kill_pending[id] = 0;
		if (!sh->stop && now_sec() < sh->end - 1) {
			sh->incarnation[id]++;
			respawns++;
			sh->pid[id] = spawn(id);
		}
	}
	for (int i = 0; i < MAXW; i++)
		for (int j = 0; j < MAXW; j++)
			if (i != j && socks[i][j] > 0)
				close(socks[i][j]);

	struct wstat tot = { 0 };

	for (int i = 0; i < nw; i++) {
		struct wstat *s = &sh->st[i];

		tot.ops += s->ops; tot.errs_expected += s->errs_expected;
		tot.peer_checks += s->peer_checks; tot.peer_faults_ok += s->peer_faults_ok;
		tot.owner_checks += s->owner_checks; tot.kills += s->kills;
		tot.forks += s->forks; tot.execs += s->execs; tot.pvm += s->pvm;
		tot.dio += s->dio; tot.uring += s->uring; tot.futex += s->futex;
		tot.maps += s->maps; tot.creates += s->creates;
	}
	printf("# %ld ops, %d regions, %ld maps, %ld refusals checked, %ld owner checks, "
	       "%ld peer checks (%ld raced), %ld kills, %d respawns, %ld forks, %ld execs, "
	       "%ld process_vm, %ld O_DIRECT, %ld io_uring, %ld futex\n",
	       tot.ops, sh->nreg < MAXREG ? sh->nreg : MAXREG, tot.maps, tot.errs_expected,
	       tot.owner_checks, tot.peer_checks, tot.peer_faults_ok, tot.kills, respawns,
	       tot.forks, tot.execs, tot.pvm, tot.dio, tot.uring, tot.futex);
	for (int i = 0; i < nw; i++)
		if (sh->msg[i][0])
			printf("# worker %d: %s\n", i, sh->msg[i]);
	{
		for (int o = 0; o < NOPS; o++) {
			long n = 0;
			double t = 0;

			for (int i = 0; i < nw; i++) {
				n += sh->st[i].op_n[o];
				t += sh->st[i].op_t[o];
			}
			printf("#   %-12s %6ld ops %8.2f s %8.2f ms/op\n", ops[o].name, n, t,
			       n ? t * 1000 / n : 0);
		}
	}

	tap(!sh->fails && !bad_exits && !unexpected,
	    "workers: no invariant broken, no unexpected death (seed %#llx)",
	    (unsigned long long)seed);
	tap(tot.peer_checks > 0 && tot.owner_checks > 0 && tot.maps > 0,
	    "workers checked each other's slots (%ld peer, %ld owner checks)",
	    tot.peer_checks, tot.owner_checks);

	unlink_names();
	if (sh->have_ext4) {
		unlink(EXT4_DIR "/dio");
		ramdisk_ext4_umount(EXT4_DIR);
	}
	{
		bool back;

		mem_settle();
		back = mem_back_to(&base, &now, 1024, 100, 100);
		hp_free1 = meminfo_kb("HugePages_Free");
		tap(back && hp_free1 == hp_free0,
		    "memory back to baseline: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB, "
		    "free huge pages %+ld kB",
		    now.pagetables - base.pagetables, now.shmem - base.shmem,
		    now.anon - base.anon, hp_free1 - hp_free0);
	}
	tap(count_fds() == fds0 - (nw * (nw - 1)), "fds back to baseline (%ld -> %d)",
	    fds0 - (nw * (nw - 1)), count_fds());
	{
		bool rep = kfd >= 0 && kmsg_report(kfd, line, sizeof(line));

		tap(!rep, "no kernel report in /dev/kmsg%s%s", rep ? ": " : "", rep ? line : "");
	}
	printf("# seed %#llx\n", (unsigned long long)seed);
	return 0;
}

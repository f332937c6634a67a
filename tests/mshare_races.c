// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: operations inside an attachment racing a writer on another CPU.
 *
 * A (this process, on CPU 0) changes a range inside the region through
 * its attachment while B, a sharer attached at another address, stores an
 * incrementing 64-bit pass counter into 8 pages of the range (one store per
 * page per pass) on CPU 1.  Once the call returns in A, no store of B may
 * land any more:
 *
 *  - mprotect(PROT_READ): B takes SIGSEGV; every page keeps the value it
 *    had when mprotect() returned, i.e. no page holds a pass B began after
 *    it returned, and nothing changes while A sleeps.  Shared anonymous,
 *    memfd and private anonymous memory in the region.
 *  - munmap(): B takes SIGSEGV (a hole); the memfd that was mapped there
 *    (read by A through its own mapping outside the region) stops changing.
 *  - mmap(MAP_FIXED) of another memfd over the range: B carries on without
 *    a fault into the new memfd; the old one stops changing.
 *
 * The "threads" variants run two writer threads in B, one on each CPU, each
 * storing to its own half of the pages and reading all of them, so that
 * B's mm has TLB entries on both CPUs, one of them shared with A.
 *
 * B publishes the pass it is in before its stores (x86 keeps stores in
 * order), so a page holding a pass above the one A read right after the
 * call returned was written after the call returned.  Each round also
 * checks that B's stores do land before the operation (the test can fail),
 * and each test ends with PageTables, Shmem, AnonPages and the fd count
 * back at their baselines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
/* B's attachment, far from where the kernel puts NULL mappings. */
#define ADDR_B		((char *)(128 * GiB))

/* The raced range inside the region: 4 MiB, two PMDs' worth. */
#define R_OFF		(8 * MiB)
#define R_LEN		(4 * MiB)
#define NPAGES		8
#define PSTEP		(R_LEN / NPAGES)	/* 512 KiB: pages in both PMDs */
#define MAXW		2

/* Each test runs rounds for BUDGET_S seconds or MAX_ROUNDS rounds. */
#define BUDGET_S	7.0
#define MAX_ROUNDS	250
#define MIN_ROUNDS	20
#define SETTLE_MS	20	/* how long A watches for late stores */
#define WAIT_S		5.0	/* the longest A waits for B to do anything */

/* One writer of B, in the shared control page. */
struct wslot {
	uint64_t cur;		/* the pass in progress (published before its stores) */
	uint64_t fault_cnt;	/* the pass in progress at the last SIGSEGV */
	uint64_t fault_addr;
	uint32_t fault_sig;
	uint32_t faults;	/* SIGSEGVs taken */
	uint32_t parked;	/* 1 from a SIGSEGV until A resumes B */
	uint32_t started;
} __attribute__((aligned(64)));

struct ctl {
	uint32_t go;		/* futex: A bumps it to resume parked writers */
	uint32_t stop;
	uint32_t error;		/* set by B if its setup failed */
	struct wslot w[MAXW];
};

enum backing { BK_SHM, BK_MEMFD, BK_PRIVATE };

struct race {
	struct ctl *c;
	pid_t pid;
	int nw;
	int fd;			/* the region */
	char *att;		/* A's attachment */
	uint64_t resume[MAXW];	/* each writer's pass when last resumed */
	/* Statistics: passes B completed between resuming and the call. */
	long rounds, next_pass_faults;
	uint64_t passes_min, passes_max, passes_sum;
};

static void futex_wait_u32(uint32_t *w, uint32_t v)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	syscall(SYS_futex, w, FUTEX_WAIT, v, &ts, NULL, 0);
}

static void futex_wake_all(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* Poll until @cond or @secs seconds; the condition's final value. */
#define POLL_UNTIL(cond, secs) ({ \
	double _end = now_sec() + (secs); \
	bool _ok; \
	while (!(_ok = (cond)) && now_sec() < _end) \
		sched_yield(); \
	_ok; \
})

static inline uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint32_t ld32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Page @i of the range as seen through @view (the range's first byte). */
static inline uint64_t pageval(const char *view, int i)
{
	return *(const volatile uint64_t *)(view + (size_t)i * PSTEP);
}

/* ------------------------------------------------------------------------ */
/* B */

static __thread sigjmp_buf w_env;
static __thread volatile uintptr_t w_addr;
static __thread volatile int w_sig;

static void w_fault(int sig, siginfo_t *si, void *uc)
{
	w_addr = (uintptr_t)si->si_addr;
	w_sig = sig;
	siglongjmp(w_env, 1);
}

struct warg {
	struct ctl *c;
	char *range;		/* B's view of the range */
	int idx, nw, cpu;
};

/*
 * Store the pass counter into every page this writer owns (page i belongs
 * to writer i % nw), then read all pages; on SIGSEGV record where and in
 * which pass, park until A bumps c->go, and go on with the next pass.
 */
static void *writer(void *arg)
{
	struct warg *a = arg;
	struct ctl *c = a->c;
	struct wslot *s = &c->w[a->idx];
	volatile uint64_t *mine[NPAGES], *all[NPAGES];
	volatile uint64_t sink = 0;
	int n = 0;

	for (int i = 0; i < NPAGES; i++) {
		all[i] = (volatile uint64_t *)(a->range + (size_t)i * PSTEP);
		if (i % a->nw == a->idx)
			mine[n++] = all[i];
	}
	if (pin_to_cpu(a->cpu)) {
		__atomic_store_n(&c->error, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	if (sigsetjmp(w_env, 1)) {
		/* Read the generation before A can see us parked. */
		uint32_t gen = ld32(&c->go);

		s->fault_cnt = s->cur;
		s->fault_addr = w_addr;
		s->fault_sig = w_sig;
		__atomic_add_fetch(&s->faults, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&s->parked, 1, __ATOMIC_RELEASE);
		while (ld32(&c->go) == gen && !ld32(&c->stop))
			futex_wait_u32(&c->go, gen);
		__atomic_store_n(&s->parked, 0, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&s->started, 1, __ATOMIC_RELEASE);
	while (!ld32(&c->stop)) {
		uint64_t cnt = s->cur + 1;

		/* Published before the stores; x86 keeps them in order. */
		__atomic_store_n(&s->cur, cnt, __ATOMIC_RELAXED);
		asm volatile("" ::: "memory");
		for (int i = 0; i < n; i++)
			*mine[i] = cnt;
		for (int i = 0; i < NPAGES; i++)
			sink += *all[i];
	}
	(void)sink;
	return NULL;
}

/* B's process: attach at ADDR_B, run nw writers, on CPU 1 then CPU 0. */
static void b_main(struct race *r, pid_t parent)
{
	struct sigaction sa = { .sa_sigaction = w_fault, .sa_flags = SA_SIGINFO };
	struct warg a[MAXW];
	pthread_t th[MAXW];
	char *b;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	CHILD_CHECK(munmap(r->att, RGN) == 0);
	b = ms_attach(r->fd, RGN, ADDR_B, RW, MAP_FIXED_NOREPLACE);
	CHILD_CHECK(b == ADDR_B);
	sigemptyset(&sa.sa_mask);
	CHILD_CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
	CHILD_CHECK(sigaction(SIGBUS, &sa, NULL) == 0);
	for (int i = 0; i < r->nw; i++)
		a[i] = (struct warg){ r->c, b + R_OFF, i, r->nw, i == 0 ? 1 : 0 };
	if (r->nw == 1) {
		writer(&a[0]);
	} else {
		for (int i = 0; i < r->nw; i++)
			CHILD_CHECK(pthread_create(&th[i], NULL, writer, &a[i]) == 0);
		for (int i = 0; i < r->nw; i++)
			CHILD_CHECK(pthread_join(th[i], NULL) == 0);
	}
	_exit(ld32(&r->c->error) ? 1 : 0);
}

/* ------------------------------------------------------------------------ */
/* A */

static void race_init(struct race *r)
{
	memset(r, 0, sizeof(*r));
	r->pid = -1;
	r->fd = -1;
	r->passes_min = UINT64_MAX;
}

/* Stop B however things went (the fixtures' teardown). */
static void race_kill(struct race *r)
{
	if (r->c) {
		__atomic_store_n(&r->c->stop, 1, __ATOMIC_RELEASE);
		__atomic_add_fetch(&r->c->go, 1, __ATOMIC_RELEASE);
		futex_wake_all(&r->c->go);
	}
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = -1;
	}
}

/*
 * Create the region (the caller then maps the range inside A's attachment),
 * the control page outside it.
 */
static void race_setup(struct __test_metadata *_metadata, struct race *r, int nw)
{
	r->nw = nw;
	r->fd = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, r->fd) TH_LOG("mshare_create: %s", strerror(errno));
	r->att = ms_attach(r->fd, RGN, NULL, RW, 0);
	ASSERT_NE(NULL, r->att) TH_LOG("attach: %s", strerror(errno));
	r->c = mmap(NULL, sizeof(*r->c), RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r->c);
	memset(r->c, 0, sizeof(*r->c));
}

#define NEED_2_CPUS() do { \
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) \
		SKIP(return, "needs 2 online CPUs"); \
} while (0)

/* Fork B once the range is mapped; wait until every writer runs. */
static void race_start(struct __test_metadata *_metadata, struct race *r)
{
	pid_t parent = getpid();

	r->pid = fork();
	ASSERT_LE(0, r->pid);
	if (r->pid == 0)
		b_main(r, parent);
	ASSERT_EQ(0, pin_to_cpu(0));
	for (int w = 0; w < r->nw; w++) {
		ASSERT_TRUE(POLL_UNTIL(ld32(&r->c->w[w].started) || ld32(&r->c->error),
				       20)) TH_LOG("writer %d of B does not start", w);
		ASSERT_EQ(0, ld32(&r->c->error)) TH_LOG("B could not pin its writers");
	}
}

/*
 * B is storing: every writer made a few passes since it was last resumed,
 * and its stores landed in the pages as seen through @view.  A random
 * number of extra passes places the call anywhere in B's pass.
 */
static void wait_writing(struct __test_metadata *_metadata, struct race *r,
			 const char *view, long round)
{
	for (int w = 0; w < r->nw; w++) {
		uint64_t want = r->resume[w] + 2 + rand() % 16;
		struct wslot *s = &r->c->w[w];

		ASSERT_TRUE(POLL_UNTIL(ld(&s->cur) >= want, WAIT_S))
			TH_LOG("round %ld: writer %d of B is stuck at pass %lu (parked %u, faults %u)",
			       round, w, (unsigned long)ld(&s->cur), ld32(&s->parked),
			       ld32(&s->faults));
		for (int i = w; i < NPAGES; i += r->nw) {
			ASSERT_TRUE(POLL_UNTIL(pageval(view, i) > r->resume[w], WAIT_S))
				TH_LOG("round %ld: B's stores do not land: page %d holds %lu, B is at pass %lu, resumed at %lu",
				       round, i, (unsigned long)pageval(view, i),
				       (unsigned long)ld(&s->cur),
				       (unsigned long)r->resume[w]);
		}
	}
}

/*
 * Right after the call returned: read each writer's pass (@c0), then the
 * pages through @view (@snap).  No page may hold a pass B began after the
 * call returned.
 */
static void snapshot(struct __test_metadata *_metadata, struct race *r,
		     const char *view, const char *what, long round,
		     uint64_t *c0, uint64_t *snap)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int w = 0; w < r->nw; w++)
		c0[w] = ld(&r->c->w[w].cur);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int i = 0; i < NPAGES; i++)
		snap[i] = pageval(view, i);
	for (int i = 0; i < NPAGES; i++) {
		ASSERT_LE(snap[i], c0[i % r->nw])
			TH_LOG("round %ld: page %d holds pass %lu of writer %d, which began after %s returned (at pass %lu)",
			       round, i, (unsigned long)snap[i], i % r->nw, what,
			       (unsigned long)c0[i % r->nw]);
	}
	for (int w = 0; w < r->nw; w++) {
		uint64_t p = c0[w] - r->resume[w];

		if (p < r->passes_min)
			r->passes_min = p;
		if (p > r->passes_max)
			r->passes_max = p;
		r->passes_sum += p;
	}
}

/* After SETTLE_MS, the pages seen through @view are still @snap. */
static void settled(struct __test_metadata *_metadata, struct race *r,
		    const char *view, const char *what, long round,
		    const uint64_t *c0, const uint64_t *snap)
{
	sleep_ms(SETTLE_MS);
	for (int i = 0; i < NPAGES; i++) {
		uint64_t v = pageval(view, i);

		ASSERT_EQ(snap[i], v)
			TH_LOG("round %ld: page %d went from %lu to %lu after %s returned (writer %d was at pass %lu when it returned, is at %lu)",
			       round, i, (unsigned long)snap[i], (unsigned long)v,
			       what, i % r->nw, (unsigned long)c0[i % r->nw],
			       (unsigned long)ld(&r->c->w[i % r->nw].cur));
	}
}

/*
 * Every writer took SIGSEGV at an address in the range, in the pass in
 * progress when the call returned or the next one (whose first store
 * faulted), and is parked.
 */
static void faulted(struct __test_metadata *_metadata, struct race *r,
		    const char *view, const char *what, long round,
		    const uint64_t *c0, const uint64_t *snap)
{
	for (int w = 0; w < r->nw; w++) {
		struct wslot *s = &r->c->w[w];
		uintptr_t lo = (uintptr_t)ADDR_B + R_OFF;

		ASSERT_TRUE(POLL_UNTIL(ld32(&s->parked), WAIT_S))
			TH_LOG("round %ld: writer %d of B took no SIGSEGV after %s: pass %lu when it returned, %lu now; page %d went from %lu to %lu",
			       round, w, what, (unsigned long)c0[w],
			       (unsigned long)ld(&s->cur), w,
			       (unsigned long)snap[w], (unsigned long)pageval(view, w));
		ASSERT_EQ(SIGSEGV, (int)s->fault_sig);
		ASSERT_TRUE(s->fault_addr >= lo && s->fault_addr < lo + R_LEN)
			TH_LOG("round %ld: writer %d faulted at %#lx, outside the range",
			       round, w, (unsigned long)s->fault_addr);
		ASSERT_TRUE(s->fault_cnt >= c0[w] && s->fault_cnt <= c0[w] + 1)
			TH_LOG("round %ld: writer %d faulted in pass %lu; %s returned in pass %lu",
			       round, w, (unsigned long)s->fault_cnt, what,
			       (unsigned long)c0[w]);
		if (s->fault_cnt > c0[w])
			r->next_pass_faults++;
	}
}

/* Let the parked writers go on from where they are. */
static void resume(struct race *r)
{
	for (int w = 0; w < r->nw; w++)
		r->resume[w] = ld(&r->c->w[w].cur);
	__atomic_add_fetch(&r->c->go, 1, __ATOMIC_RELEASE);
	futex_wake_all(&r->c->go);
}

/* Stop B, which must exit cleanly, and check its fault count. */
static void race_stop(struct __test_metadata *_metadata, struct race *r,
		      uint32_t faults)
{
	pid_t pid = r->pid;

	__atomic_store_n(&r->c->stop, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&r->c->go, 1, __ATOMIC_RELEASE);
	futex_wake_all(&r->c->go);
	r->pid = -1;
	EXPECT_TRUE(child_ok(pid, "B"));
	for (int w = 0; w < r->nw; w++) {
		EXPECT_EQ(faults, r->c->w[w].faults) TH_LOG("writer %d", w);
	}
}

static void race_log(struct __test_metadata *_metadata, struct race *r,
		     const char *what, double secs)
{
	long n = r->rounds * r->nw;

	TH_LOG("%ld rounds of %s in %.1f s against %d writer(s); between rounds each writer made %lu..%lu passes (mean %.0f) of landed stores; %ld faults came in the pass after the return",
	       r->rounds, what, secs, r->nw,
	       (unsigned long)(n ? r->passes_min : 0), (unsigned long)r->passes_max,
	       n ? (double)r->passes_sum / n : 0.0, r->next_pass_faults);
	EXPECT_LE(MIN_ROUNDS, r->rounds) TH_LOG("too few rounds to mean anything");
}

/* Unmap and close what is left, then everything is back at the baseline. */
static void race_end(struct __test_metadata *_metadata, struct race *r,
		     int fds_before, const struct memsnap *base)
{
	struct memsnap now;
	bool back;

	EXPECT_EQ(0, munmap(r->att, RGN));
	close(r->fd);
	munmap(r->c, sizeof(*r->c));
	r->c = NULL;
	EXPECT_EQ(fds_before, count_fds());
	back = mem_back_to(base, &now, 128, 50, 100);
	TH_LOG("at the end: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       now.pagetables - base->pagetables, now.shmem - base->shmem,
	       now.anon - base->anon);
	EXPECT_TRUE(back) TH_LOG("memory did not return to its baseline");
}

/* A fixed mapping that must land where asked. */
static void map_at(struct __test_metadata *_metadata, char *addr, int flags, int fd)
{
	void *p = mmap(addr, R_LEN, RW, flags, fd, 0);

	ASSERT_EQ((void *)addr, p) TH_LOG("mmap at %p flags %#x: %s", addr, flags,
					  p == MAP_FAILED ? strerror(errno) : "wrong address");
}

/* The memfd mapped outside the region, for A to watch. */
static char *outside(struct __test_metadata *_metadata, int memfd)
{
	char *p = mmap(NULL, R_LEN, PROT_READ, MAP_SHARED, memfd, 0);

	ASSERT_NE(MAP_FAILED, p);
	return p;
}

/* ------------------------------------------------------------------------ */
/* mprotect(PROT_READ) inside A's attachment while B writes. */

FIXTURE(mprotect_race) {
	struct race r;
};

FIXTURE_VARIANT(mprotect_race) {
	enum backing backing;
	int nw;
};

FIXTURE_VARIANT_ADD(mprotect_race, shm) { .backing = BK_SHM, .nw = 1 };
FIXTURE_VARIANT_ADD(mprotect_race, memfd) { .backing = BK_MEMFD, .nw = 1 };
FIXTURE_VARIANT_ADD(mprotect_race, private_anon) { .backing = BK_PRIVATE, .nw = 1 };
FIXTURE_VARIANT_ADD(mprotect_race, shm_threads) { .backing = BK_SHM, .nw = 2 };

FIXTURE_SETUP(mprotect_race) { race_init(&self->r); }
FIXTURE_TEARDOWN(mprotect_race) { race_kill(&self->r); }

TEST_F_TIMEOUT(mprotect_race, vs_writer, 120)
{
	struct race *r = &self->r;
	int fds_before, memfd = -1;
	uint64_t c0[MAXW], snap[NPAGES];
	struct memsnap base;
	char *range;
	double t0;

	NEED_2_CPUS();
	srand(getpid());
	memsnap_take(&base);
	fds_before = count_fds();
	race_setup(_metadata, r, variant->nw);
	range = r->att + R_OFF;
	switch (variant->backing) {
	case BK_SHM:
		map_at(_metadata, range, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
		break;
	case BK_PRIVATE:
		map_at(_metadata, range, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
		break;
	case BK_MEMFD:
		memfd = memfd_sized("races", R_LEN);
		ASSERT_LE(0, memfd);
		map_at(_metadata, range, MAP_SHARED | MAP_FIXED, memfd);
		break;
	}
	race_start(_metadata, r);

	t0 = now_sec();
	while (r->rounds < MAX_ROUNDS && now_sec() - t0 < BUDGET_S) {
		long round = r->rounds;

		wait_writing(_metadata, r, range, round);
		ASSERT_EQ(0, mprotect(range, R_LEN, PROT_READ));
		snapshot(_metadata, r, range, "mprotect()", round, c0, snap);
		faulted(_metadata, r, range, "mprotect()", round, c0, snap);
		settled(_metadata, r, range, "mprotect()", round, c0, snap);
		ASSERT_EQ(0, mprotect(range, R_LEN, RW));
		r->rounds++;
		resume(r);
	}
	race_log(_metadata, r, "mprotect(PROT_READ)", now_sec() - t0);
	race_stop(_metadata, r, r->rounds);
	if (memfd >= 0)
		close(memfd);
	race_end(_metadata, r, fds_before, &base);
}

/* ------------------------------------------------------------------------ */
/* munmap() and mmap(MAP_FIXED) of a memfd inside A's attachment. */

FIXTURE(memfd_race) {
	struct race r;
};

FIXTURE_VARIANT(memfd_race) {
	int nw;
};

FIXTURE_VARIANT_ADD(memfd_race, process) { .nw = 1 };
FIXTURE_VARIANT_ADD(memfd_race, threads) { .nw = 2 };

FIXTURE_SETUP(memfd_race) { race_init(&self->r); }
FIXTURE_TEARDOWN(memfd_race) { race_kill(&self->r); }

/*
 * munmap() of the range: B takes SIGSEGV, and the memfd (watched through
 * A's own mapping of it outside the region) stops changing.  A maps the
 * memfd back at the same place and B goes on.
 */
TEST_F_TIMEOUT(memfd_race, munmap_vs_writer, 120)
{
	struct race *r = &self->r;
	uint64_t c0[MAXW], snap[NPAGES];
	int fds_before, memfd;
	struct memsnap base;
	char *range, *view;
	double t0;

	NEED_2_CPUS();
	srand(getpid());
	memsnap_take(&base);
	fds_before = count_fds();
	race_setup(_metadata, r, variant->nw);
	range = r->att + R_OFF;
	memfd = memfd_sized("races", R_LEN);
	ASSERT_LE(0, memfd);
	map_at(_metadata, range, MAP_SHARED | MAP_FIXED, memfd);
	race_start(_metadata, r);
	view = outside(_metadata, memfd);

	t0 = now_sec();
	while (r->rounds < MAX_ROUNDS && now_sec() - t0 < BUDGET_S) {
		long round = r->rounds;

		wait_writing(_metadata, r, view, round);
		ASSERT_EQ(0, munmap(range, R_LEN));
		snapshot(_metadata, r, view, "munmap()", round, c0, snap);
		faulted(_metadata, r, view, "munmap()", round, c0, snap);
		settled(_metadata, r, view, "munmap()", round, c0, snap);
		EXPECT_FALSE(probe(range, false));
		map_at(_metadata, range, MAP_SHARED | MAP_FIXED_NOREPLACE, memfd);
		r->rounds++;
		resume(r);
	}
	race_log(_metadata, r, "munmap()", now_sec() - t0);
	race_stop(_metadata, r, r->rounds);
	munmap(view, R_LEN);
	close(memfd);
	race_end(_metadata, r, fds_before, &base);
}

/*
 * mmap(MAP_FIXED) of the other of two memfds over the range: B goes on
 * without a fault, its stores reach the new memfd, and the old one stops
 * changing.
 */
TEST_F_TIMEOUT(memfd_race, mmap_replace_vs_writer, 120)
{
	struct race *r = &self->r;
	uint64_t c0[MAXW], snap[NPAGES];
	int fds_before, memfd[2];
	struct memsnap base;
	char *range, *view[2];
	double t0;

	NEED_2_CPUS();
	srand(getpid());
	memsnap_take(&base);
	fds_before = count_fds();
	race_setup(_metadata, r, variant->nw);
	range = r->att + R_OFF;
	for (int k = 0; k < 2; k++) {
		memfd[k] = memfd_sized("races", R_LEN);
		ASSERT_LE(0, memfd[k]);
	}
	map_at(_metadata, range, MAP_SHARED | MAP_FIXED, memfd[0]);
	race_start(_metadata, r);
	for (int k = 0; k < 2; k++)
		view[k] = outside(_metadata, memfd[k]);

	t0 = now_sec();
	while (r->rounds < MAX_ROUNDS && now_sec() - t0 < BUDGET_S) {
		long round = r->rounds;
		int old = round % 2, new = !old;

		wait_writing(_metadata, r, view[old], round);
		map_at(_metadata, range, MAP_SHARED | MAP_FIXED, memfd[new]);
		snapshot(_metadata, r, view[old], "mmap(MAP_FIXED)", round, c0, snap);
		/* B goes on in the new memfd, without a fault. */
		for (int i = 0; i < NPAGES; i++) {
			ASSERT_TRUE(POLL_UNTIL(pageval(view[new], i) > c0[i % r->nw], WAIT_S))
				TH_LOG("round %ld: B's stores do not reach the new memfd: page %d holds %lu, writer %d at pass %lu (was %lu at the return), faults %u",
				       round, i, (unsigned long)pageval(view[new], i),
				       i % r->nw, (unsigned long)ld(&r->c->w[i % r->nw].cur),
				       (unsigned long)c0[i % r->nw],
				       ld32(&r->c->w[i % r->nw].faults));
		}
		settled(_metadata, r, view[old], "mmap(MAP_FIXED)", round, c0, snap);
		for (int w = 0; w < r->nw; w++) {
			ASSERT_EQ(0, ld32(&r->c->w[w].faults))
				TH_LOG("round %ld: writer %d took signal %u at %#lx in pass %lu",
				       round, w, r->c->w[w].fault_sig,
				       (unsigned long)r->c->w[w].fault_addr,
				       (unsigned long)r->c->w[w].fault_cnt);
		}
		r->rounds++;
		memcpy(r->resume, c0, sizeof(c0));
	}
	race_log(_metadata, r, "mmap(MAP_FIXED) replacement", now_sec() - t0);
	race_stop(_metadata, r, 0);
	for (int k = 0; k < 2; k++) {
		munmap(view[k], R_LEN);
		close(memfd[k]);
	}
	race_end(_metadata, r, fds_before, &base);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * mshare stress: 8 worker processes share one 1 GiB region for about 20 s
 * and, in an order drawn from a fixed per-worker seed, attach (up to two
 * attachments each, at kernel-chosen or fixed addresses), detach, read and
 * write, fork a child that touches the attachment (and may map memory in
 * the region or detach), dup and close the region fd, and map new memfd,
 * shared or private anonymous memory anywhere in the region.
 *
 * The region is cut into 4 MiB slots.  Slot w (w < 8) is worker w's: a
 * page of a memfd the test keeps, where only worker w (and its children,
 * one at a time) write a counter; it must always read back, and at the end
 * the memfd must hold each worker's final count.  The other slots are
 * mapped and replaced at random; a slot once mapped is never a hole again,
 * so any fault there that kills a worker is a failure.
 *
 * Afterwards PageTables, Shmem and AnonPages must return to the baseline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "mshare_util.h"

#define RW		(PROT_READ | PROT_WRITE)
#define NW		8
#define DURATION	20.0		/* seconds */
#define MAX_ITERS	50000		/* per worker */
#define SLOT		(4 * MiB)
#define NSLOTS		(RGN / SLOT)
#define TOUCH_PAGES	16		/* touches stay in a slot's first pages */
#define SEED_BASE	0x6d73686172650000ULL	/* "mshare" */

enum { OP_ATTACH, OP_DETACH, OP_READ, OP_WRITE, OP_OWN, OP_FORK, OP_DUP,
       OP_MAP, NOPS };
static const char *const op_name[NOPS] = {
	"attach", "detach", "read", "write", "own", "fork", "dup", "map",
};

struct shared {
	long mapped_len[NSLOTS];	/* bytes mapped from the slot's start; only grows */
	long ops[NW][NOPS];
	long final_counter[NW];
	long iters[NW];
	char msg[NW][200];
};

struct worker {
	int id;
	int fd;
	char *att[2];
	long counter;
	uint64_t rng;
	struct shared *sh;
	int op;			/* the current op, for messages */
};

static uint64_t rnd(struct worker *w)
{
	/* xorshift64* */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545F4914F6CDD1DULL;
}

static unsigned long rnd_below(struct worker *w, unsigned long n)
{
	return rnd(w) % n;
}

#define W_CHECK(w, cond) do { \
	if (!(cond)) { \
		snprintf((w)->sh->msg[(w)->id], sizeof((w)->sh->msg[0]), \
			 "worker %d op %s (iter %ld, pid %d): line %d: %s: errno %d (%s)", \
			 (w)->id, op_name[(w)->op], (w)->sh->iters[(w)->id], \
			 getpid(), __LINE__, #cond, errno, strerror(errno)); \
		_exit(10 + (w)->op); \
	} \
} while (0)

static int natt(struct worker *w)
{
	return !!w->att[0] + !!w->att[1];
}

static char *any_att(struct worker *w)
{
	if (w->att[0] && w->att[1])
		return w->att[rnd_below(w, 2)];
	return w->att[0] ? w->att[0] : w->att[1];
}

static void do_attach(struct worker *w)
{
	int i = w->att[0] ? 1 : 0;
	char *want = NULL, *p;

	if (rnd_below(w, 2))
		want = (char *)((64 + rnd_below(w, 448)) * GiB);
	p = ms_attach(w->fd, RGN, want, RW, want ? MAP_FIXED_NOREPLACE : 0);
	if (want) {
		/* Taken by our other attachment: anywhere will do. */
		if (!p && errno == EEXIST)
			p = ms_attach(w->fd, RGN, NULL, RW, 0);
		else
			W_CHECK(w, p == want);
	}
	W_CHECK(w, p != NULL);
	W_CHECK(w, (uintptr_t)p % RGN == 0);
	w->att[i] = p;
}

static void do_detach(struct worker *w)
{
	int i = w->att[0] && w->att[1] ? (int)rnd_below(w, 2) : (w->att[0] ? 0 : 1);

	W_CHECK(w, munmap(w->att[i], RGN) == 0);
	w->att[i] = NULL;
}

static void ensure_attached(struct worker *w)
{
	if (!natt(w))
		do_attach(w);
}

/* A mapped slot and a page offset in it that may be touched, or -1. */
static long pick_touch(struct worker *w, bool writable, size_t *off)
{
	for (int tries = 0; tries < 8; tries++) {
		long s = rnd_below(w, NSLOTS);
		long len = __atomic_load_n(&w->sh->mapped_len[s], __ATOMIC_ACQUIRE);
		long pages;

		/* Other workers' own slots are read-only to us. */
		if (!len || (writable && s < NW))
			continue;
		pages = len / PG < TOUCH_PAGES ? len / PG : TOUCH_PAGES;
		*off = s * SLOT + rnd_below(w, pages) * PG;
		/* Word 0 of page 0 of an own slot is its owner's counter. */
		return s;
	}
	return -1;
}

static void do_read(struct worker *w)
{
	size_t off;

	ensure_attached(w);
	if (pick_touch(w, false, &off) >= 0)
		(void)*wordp(any_att(w), off, 1);
}

static void do_write(struct worker *w)
{
	size_t off;

	ensure_attached(w);
	if (pick_touch(w, true, &off) >= 0)
		*wordp(any_att(w), off, 1 + rnd_below(w, 8)) = rnd(w);
}

static volatile uint64_t *own_word(struct worker *w, char *att)
{
	return wordp(att, w->id * SLOT, 0);
}

static void do_own(struct worker *w)
{
	char *att;

	ensure_attached(w);
	att = any_att(w);
	W_CHECK(w, *own_word(w, att) == (uint64_t)w->counter);
	*own_word(w, att) = ++w->counter;
	W_CHECK(w, *own_word(w, att) == (uint64_t)w->counter);
	if (natt(w) == 2)
		W_CHECK(w, *own_word(w, w->att[0]) == *own_word(w, w->att[1]));
}

static void do_map(struct worker *w)
{
	static const size_t lens[] = { PG, 64 * KiB, 2 * MiB, SLOT };
	long s = NW + rnd_below(w, NSLOTS - NW);
	size_t len = lens[rnd_below(w, 4)];
	char *addr, *p;
	int kind = rnd_below(w, 3), memfd = -1;

	ensure_attached(w);
	addr = any_att(w) + s * SLOT;
	if (kind == 0) {
		memfd = memfd_sized("stress", len);
		W_CHECK(w, memfd >= 0);
		p = ms_map_fd(addr, len, RW, memfd);
		close(memfd);
	} else {
		p = ms_map_anon(addr, len, RW, kind == 1 ? MAP_SHARED : MAP_PRIVATE);
	}
	W_CHECK(w, p == addr);
	*wordp(p, 0, 1) = rnd(w);
	/* Publish: from now on [slot, slot + len) is never a hole. */
	long cur = __atomic_load_n(&w->sh->mapped_len[s], __ATOMIC_RELAXED);

	while ((long)len > cur &&
	       !__atomic_compare_exchange_n(&w->sh->mapped_len[s], &cur, len, false,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

/* A child that inherits the attachments, bumps the counter, and more. */
static void do_fork(struct worker *w)
{
	pid_t pid;
	int status;
	char *att;

	ensure_attached(w);
	pid = fork();
	W_CHECK(w, pid >= 0);
	if (pid == 0) {
		att = any_att(w);
		W_CHECK(w, *own_word(w, att) == (uint64_t)w->counter);
		*own_word(w, att) = w->counter + 1;
		switch (rnd_below(w, 4)) {
		case 0:
			do_map(w);
			break;
		case 1:
			do_write(w);
			break;
		case 2:
			do_detach(w);
			break;
		default:
			do_read(w);
			break;
		}
		_exit(0);
	}
	W_CHECK(w, waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFSIGNALED(status))
			snprintf(w->sh->msg[w->id], sizeof(w->sh->msg[0]),
				 "worker %d: forked child killed by signal %d",
				 w->id, WTERMSIG(status));
		_exit(30);
	}
	w->counter++;
	W_CHECK(w, *own_word(w, any_att(w)) == (uint64_t)w->counter);
}

static void do_dup(struct worker *w)
{
	struct stat st;
	int nfd;

	if (rnd_below(w, 2))
		nfd = dup(w->fd);
	else
		nfd = fcntl(w->fd, F_DUPFD_CLOEXEC, 100 + (int)rnd_below(w, 100));
	W_CHECK(w, nfd >= 0);
	W_CHECK(w, close(w->fd) == 0);
	w->fd = nfd;
	W_CHECK(w, fstat(w->fd, &st) == 0 && st.st_size == (off_t)RGN);
}

static void worker(int id, int fd, struct shared *sh)
{
	struct worker w = {
		.id = id, .fd = fd, .sh = sh, .rng = SEED_BASE + id,
	};
	double end = now_sec() + DURATION;
	long it;

	for (it = 0; it < MAX_ITERS && now_sec() < end; it++) {
		sh->iters[id] = it;
		w.op = rnd_below(&w, NOPS);
		switch (w.op) {
		case OP_ATTACH:
			if (natt(&w) < 2)
				do_attach(&w);
			else
				do_detach(&w);
			break;
		case OP_DETACH:
			if (natt(&w))
				do_detach(&w);
			else
				do_attach(&w);
			break;
		case OP_READ:
			do_read(&w);
			break;
		case OP_WRITE:
			do_write(&w);
			break;
		case OP_OWN:
			do_own(&w);
			break;
		case OP_FORK:
			/* Forks are slow under emulation: fewer of them. */
			if (rnd_below(&w, 4) == 0)
				do_fork(&w);
			break;
		case OP_DUP:
			do_dup(&w);
			break;
		case OP_MAP:
			do_map(&w);
			break;
		}
		sh->ops[id][w.op]++;
	}
	sh->iters[id] = it;
	sh->final_counter[id] = w.counter;
	_exit(0);
}

FIXTURE(stress) {};
FIXTURE_SETUP(stress) {}
FIXTURE_TEARDOWN(stress) {}

TEST_F_TIMEOUT(stress, workers_20s, 300)
{
	struct memsnap base, now;
	struct shared *sh;
	pid_t pids[NW];
	int fd, memfd, bad = 0;
	char *att;

	memsnap_take(&base);
	sh = mmap(NULL, sizeof(*sh), RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));

	fd = sys_mshare_create(RGN, 0);
	ASSERT_LE(0, fd) TH_LOG("mshare_create: %s", strerror(errno));
	memfd = memfd_sized("own", NW * SLOT);
	ASSERT_LE(0, memfd);
	att = ms_attach(fd, RGN, NULL, RW, 0);
	ASSERT_NE(NULL, att) TH_LOG("attach: %s", strerror(errno));
	ASSERT_EQ((void *)att, ms_map_fd(att, NW * SLOT, RW, memfd));
	for (int s = 0; s < NW; s++)
		sh->mapped_len[s] = SLOT;
	/* The workers start detached. */
	ASSERT_EQ(0, munmap(att, RGN));

	for (int i = 0; i < NW; i++) {
		TH_LOG("worker %d: seed %#llx", i, (unsigned long long)(SEED_BASE + i));
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			close(memfd);
			worker(i, fd, sh);
		}
	}
	/* From here on the workers alone keep the region. */
	close(fd);

	for (int i = 0; i < NW; i++) {
		if (!child_ok(pids[i], "worker")) {
			bad++;
			TH_LOG("worker %d (seed %#llx): %s", i,
			       (unsigned long long)(SEED_BASE + i),
			       sh->msg[i][0] ? sh->msg[i] : "no message");
		}
	}
	EXPECT_EQ(0, bad);

	long total[NOPS] = { 0 };

	for (int i = 0; i < NW; i++) {
		uint64_t v = pread_word(memfd, i * SLOT / PG, 0);

		for (int o = 0; o < NOPS; o++)
			total[o] += sh->ops[i][o];
		EXPECT_EQ((uint64_t)sh->final_counter[i], v)
			TH_LOG("worker %d's counter: memfd holds %llu, worker counted %ld",
			       i, (unsigned long long)v, sh->final_counter[i]);
		TH_LOG("worker %d: %ld iterations, counter %ld", i, sh->iters[i],
		       sh->final_counter[i]);
	}
	TH_LOG("ops: attach %ld, detach %ld, read %ld, write %ld, own %ld, fork-slot %ld, dup %ld, map %ld",
	       total[OP_ATTACH], total[OP_DETACH], total[OP_READ], total[OP_WRITE],
	       total[OP_OWN], total[OP_FORK], total[OP_DUP], total[OP_MAP]);
	long mapped = 0;

	for (int s = 0; s < (int)NSLOTS; s++)
		mapped += !!sh->mapped_len[s];
	TH_LOG("%ld of %lu slots mapped at the end", mapped, NSLOTS);

	close(memfd);
	munmap(sh, sizeof(*sh));
	bool back = mem_back_to(&base, &now, 512, 100, 100);

	TH_LOG("after the workers: PageTables %+ld kB, Shmem %+ld kB, AnonPages %+ld kB",
	       now.pagetables - base.pagetables, now.shmem - base.shmem,
	       now.anon - base.anon);
	EXPECT_TRUE(back) TH_LOG("memory did not return to its baseline");
}

TEST_HARNESS_MAIN

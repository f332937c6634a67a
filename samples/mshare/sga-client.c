// SPDX-License-Identifier: GPL-2.0
/*
 * sga-client: a "server process" of the toy SGA that sgad serves.
 *
 *	sga-client (--name NAME | --socket PATH) [--direct [--populate]]
 *		   [--verify-pages N|all] [--no-touch] [--hold SECS|forever]
 *		   [--id LABEL]
 *	sga-client (--name NAME | --socket PATH) --corrupt FILE:PAGE
 *	sga-client (--name NAME | --socket PATH) --stats
 *
 * It gets the region by name (open() in msharefs) or as an fd from sgad's
 * socket, with the layout (sga.h), attaches it, reads every page of every
 * SGA file (--no-touch: only the verified ones), checks the pattern of
 * N pages of each file completely (spread over the file; "all": every
 * page), adds what it did to the counters in the region's state area and
 * prints one line of key=value pairs:
 *
 *	sga-client: result=ok id=.. mode=name|fd|direct pid=.. files=4
 *	  pages=262144 touched=262144 verified=256 bad=0 minflt=1 majflt=0
 *	  vmpte_kb=12 ms=850 gen=1 sga_mb=1024 region_mb=2048 attachments=3
 *	  region_pgtable_kb=2060 daemon=running
 *
 * minflt/majflt are the page faults taken while reading and checking
 * (getrusage), vmpte_kb the process's own page tables then (VmPTE in
 * /proc/self/status).  Each bad page gets a line of its own ("bad page
 * file=F page=P offset=O want=.. got=..") and the exit status is 1.
 *
 * With --direct it does not attach the region: it maps the SGA files
 * themselves, MAP_SHARED, as processes do without mshare (--populate adds
 * MAP_POPULATE), and reads and checks the same pages.
 *
 * With --hold it then stays: SECS seconds, or until SIGTERM/SIGINT with
 * "forever".  SIGUSR1 meanwhile checks the same pages again and prints
 * another line (event=recheck), whatever became of sgad.  Once attached
 * it closes its region fd: the attachment alone keeps the region.
 *
 * --corrupt FILE:PAGE is a test aid: it flips the bits of one byte (at
 * offset 2048) of that page of that file, through the attachment, and
 * exits.  Run it again to put the byte back.  --stats prints the state
 * area's counters and the region's stats.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mshare.h"
#include "sga.h"

#define MiB		(1UL << 20)
#define MAX_BAD_LINES	16
#define CORRUPT_OFF	2048

enum mode { BY_NAME, BY_FD };

static struct {
	const char *name, *sock_path, *id;
	long verify;		/* pages per file; -1: all */
	long hold;		/* seconds; -1: until SIGTERM */
	int direct, populate, touch, stats;
	long corrupt_file, corrupt_page;
} o = { .verify = 64, .touch = 1, .corrupt_file = -1, .id = "-" };

static struct sga_layout lay;
static char *base;		/* the attachment (not in --direct) */
static size_t base_size;
static struct sga_counters *ctr;	/* NULL if not writable */
static char *file_at[SGA_MAX_FILES];	/* where each file is mapped */
static struct mshare_stats rstat;	/* at attach */

static void __attribute__((noreturn)) fail(const char *what, int err)
{
	printf("sga-client: result=fail id=%s pid=%d error=\"%s: %s\"\n",
	       o.id, (int)getpid(), what, strerror(err));
	exit(2);
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int check_layout(const struct sga_layout *l)
{
	if (l->magic != SGA_LAYOUT_MAGIC || l->version != SGA_VERSION ||
	    l->layout_size != sizeof(*l) ||
	    l->file_size != sizeof(struct sga_file) ||
	    !l->nfiles || l->nfiles > SGA_MAX_FILES ||
	    l->region_size % SGA_ALIGN)
		return -EPROTO;
	for (unsigned int i = 0; i < l->nfiles; i++)
		if (l->files[i].region_off < l->state_size ||
		    l->files[i].size % SGA_PAGE ||
		    l->files[i].region_off + l->files[i].size > l->region_size)
			return -EPROTO;
	return 0;
}

/* The region fd and the layout from sgad's socket. */
static int get_by_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sga_hello hello;
	int s, fd, ret;

	if (strlen(o.sock_path) >= sizeof(sa.sun_path))
		fail("socket path", ENAMETOOLONG);
	strcpy(sa.sun_path, o.sock_path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fail("socket", errno);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		fail(o.sock_path, errno);
	ret = mshare_recv_fd(s, &fd, &hello, sizeof(hello));
	if (ret)
		fail("receive the region fd", -ret);
	if (hello.magic != SGA_PROTO_MAGIC || hello.version != SGA_VERSION ||
	    hello.hello_size != sizeof(hello) ||
	    hello.layout_size != sizeof(lay))
		fail("sgad's hello (protocol version?)", EPROTO);
	ret = read_all(s, &lay, sizeof(lay));
	if (ret)
		fail("receive the layout", -ret);
	close(s);
	if (check_layout(&lay))
		fail("the layout from sgad", EPROTO);
	return fd;
}

static void attach(int fd, enum mode how)
{
	int prot = PROT_READ | PROT_WRITE, fl = fcntl(fd, F_GETFL), ret;
	long long size = mshare_size(fd);

	if (size <= 0)
		fail("region size", size < 0 ? (int)-size : EINVAL);
	if ((fl & O_ACCMODE) == O_RDONLY)
		prot = PROT_READ;
	ret = mshare_attach(fd, NULL, prot, (void **)&base);
	if (ret)
		fail("attach", -ret);
	base_size = (size_t)size;
	if (how == BY_NAME) {
		memcpy(&lay, base, sizeof(lay));
		if (check_layout(&lay))
			fail("the layout in the region", EPROTO);
	} else if (memcmp(&lay, base, sizeof(lay))) {
		fail("the layout from the socket differs from the region's",
		     EPROTO);
	}
	if (lay.region_size != base_size)
		fail("region size against the layout", EPROTO);
	if (prot & PROT_WRITE) {
		struct sga_counters *c = (void *)(base + lay.counters_off);

		if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) ==
		    SGA_COUNTERS_MAGIC)
			ctr = c;
	}
	mshare_stat(fd, &rstat);
}

/* Map the SGA files themselves, MAP_SHARED, as without mshare. */
static void map_direct(void)
{
	for (unsigned int i = 0; i < lay.nfiles; i++) {
		char path[PATH_MAX];
		void *p;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", lay.dir,
			 lay.files[i].name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fail(path, errno);
		p = mmap(NULL, lay.files[i].size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | (o.populate ? MAP_POPULATE : 0), fd, 0);
		if (p == MAP_FAILED)
			fail(path, errno);
		close(fd);
		file_at[i] = p;
	}
}

static long vmpte_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmPTE:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

struct result {
	uint64_t pages, touched, verified, bad;
	long first_bad_file, first_bad_page;
	long minflt, majflt, ms;
};

/* Page @k of the @n pages of a file that are checked. */
static uint64_t sample_page(uint64_t pages, uint64_t n, uint64_t k)
{
	if (n >= pages)
		return k;
	if (n == 1)
		return 0;
	return k * (pages - 1) / (n - 1);
}

static void check_pages(struct result *r, int touch)
{
	struct rusage ru0, ru1;
	struct timespec t0, t1;
	uint64_t sum = 0;

	memset(r, 0, sizeof(*r));
	r->first_bad_file = r->first_bad_page = -1;
	/* Fault in what the clock and rusage calls touch, outside the count. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	getrusage(RUSAGE_SELF, &ru0);
	getrusage(RUSAGE_SELF, &ru0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned int f = 0; f < lay.nfiles; f++) {
		uint64_t pages = lay.files[f].size / SGA_PAGE;

		r->pages += pages;
		if (!touch)
			continue;
		/* Read every page: fault in what is not mapped yet. */
		for (uint64_t pg = 0; pg < pages; pg++)
			sum += *(volatile uint64_t *)(file_at[f] + pg * SGA_PAGE);
		r->touched += pages;
	}
	for (unsigned int f = 0; f < lay.nfiles; f++) {
		uint64_t pages = lay.files[f].size / SGA_PAGE;
		uint64_t n = o.verify < 0 || (uint64_t)o.verify > pages ?
			     pages : (uint64_t)o.verify;

		for (uint64_t k = 0; k < n; k++) {
			uint64_t pg = sample_page(pages, n, k), want, got;
			long off = sga_check_page(file_at[f] + pg * SGA_PAGE, f,
						  pg, lay.generation, &want,
						  &got);

			r->verified++;
			if (off < 0)
				continue;
			if (!r->bad) {
				r->first_bad_file = f;
				r->first_bad_page = (long)pg;
			}
			if (r->bad++ < MAX_BAD_LINES)
				printf("sga-client: bad page id=%s file=%u page=%llu "
				       "offset=%ld want=0x%016llx got=0x%016llx\n",
				       o.id, f, (unsigned long long)pg, off,
				       (unsigned long long)want,
				       (unsigned long long)got);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru1);
	r->minflt = ru1.ru_minflt - ru0.ru_minflt;
	r->majflt = ru1.ru_majflt - ru0.ru_majflt;
	r->ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		(t1.tv_nsec - t0.tv_nsec) / 1000000;
	(void)sum;
	if (ctr) {
		__atomic_add_fetch(&ctr->pages_touched, r->touched, __ATOMIC_RELAXED);
		__atomic_add_fetch(&ctr->pages_verified, r->verified, __ATOMIC_RELAXED);
		__atomic_add_fetch(&ctr->bad_pages, r->bad, __ATOMIC_RELAXED);
	}
}

static const char *mode_name(enum mode how)
{
	return o.direct ? "direct" : how == BY_NAME ? "name" : "fd";
}

static void report(const struct result *r, enum mode how, const char *event)
{
	printf("sga-client: result=%s id=%s mode=%s pid=%d%s%s files=%u "
	       "pages=%llu touched=%llu verified=%llu bad=%llu minflt=%ld "
	       "majflt=%ld vmpte_kb=%ld ms=%ld gen=%llu sga_mb=%llu",
	       r->bad ? "fail" : "ok", o.id, mode_name(how), (int)getpid(),
	       event ? " event=" : "", event ? event : "", lay.nfiles,
	       (unsigned long long)r->pages, (unsigned long long)r->touched,
	       (unsigned long long)r->verified, (unsigned long long)r->bad,
	       r->minflt, r->majflt, vmpte_kb(), r->ms,
	       (unsigned long long)lay.generation,
	       (unsigned long long)(lay.files_bytes / MiB));
	if (base && !o.direct)
		printf(" region_mb=%llu attachments=%llu region_pgtable_kb=%llu",
		       (unsigned long long)(base_size / MiB),
		       (unsigned long long)rstat.attachments,
		       (unsigned long long)(rstat.pgtable >> 10));
	if (ctr)
		printf(" daemon=%s", __atomic_load_n(&ctr->daemon_running,
						     __ATOMIC_ACQUIRE) ?
		       "running" : "stopped");
	if (r->bad)
		printf(" first_bad=%ld:%ld", r->first_bad_file,
		       r->first_bad_page);
	printf("\n");
	fflush(stdout);
}

static int corrupt(void)
{
	volatile unsigned char *p;
	unsigned char old;

	if (o.corrupt_file >= lay.nfiles ||
	    (uint64_t)o.corrupt_page >= lay.files[o.corrupt_file].size / SGA_PAGE) {
		fprintf(stderr, "sga-client: --corrupt %ld:%ld is outside the SGA\n",
			o.corrupt_file, o.corrupt_page);
		return 2;
	}
	p = (unsigned char *)file_at[o.corrupt_file] +
	    o.corrupt_page * SGA_PAGE + CORRUPT_OFF;
	old = *p;
	*p = old ^ 0xff;
	printf("sga-client: corrupted file=%ld page=%ld offset=%d 0x%02x->0x%02x "
	       "(run again to restore)\n", o.corrupt_file, o.corrupt_page,
	       CORRUPT_OFF, old, *p);
	return 0;
}

static int print_stats(void)
{
	if (!ctr) {
		fprintf(stderr, "sga-client: no writable state area\n");
		return 2;
	}
	printf("sga-client: stats attached=%llu attaches=%llu fds_sent=%llu "
	       "pages_touched=%llu pages_verified=%llu bad_pages=%llu "
	       "daemon=%s daemon_pid=%u region_mb=%llu attachments=%llu "
	       "resident_mb=%llu region_pgtable_kb=%llu\n",
	       (unsigned long long)ctr->attached,
	       (unsigned long long)ctr->attaches,
	       (unsigned long long)ctr->fds_sent,
	       (unsigned long long)ctr->pages_touched,
	       (unsigned long long)ctr->pages_verified,
	       (unsigned long long)ctr->bad_pages,
	       ctr->daemon_running ? "running" : "stopped", ctr->daemon_pid,
	       (unsigned long long)(base_size / MiB),
	       (unsigned long long)rstat.attachments,
	       (unsigned long long)(rstat.resident / MiB),
	       (unsigned long long)(rstat.pgtable >> 10));
	return 0;
}

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
"usage: sga-client (--name NAME | --socket PATH) [options]\n"
"  -n, --name NAME         open the region NAME in msharefs\n"
"  -S, --socket PATH       get the region fd from sgad's socket\n"
"  -d, --direct            map the SGA files MAP_SHARED instead of attaching\n"
"  -P, --populate          with --direct: MAP_POPULATE the files\n"
"  -v, --verify-pages N    check N pages of each file completely, or \"all\"\n"
"                          (default 64)\n"
"  -T, --no-touch          read only the checked pages, not every page\n"
"  -H, --hold SECS         stay attached SECS seconds, or \"forever\" (until\n"
"                          SIGTERM); SIGUSR1 checks again\n"
"  -i, --id LABEL          a label for the report line\n"
"  -c, --corrupt F:P       test aid: flip one byte of page P of file F, exit\n"
"  -s, --stats             print the counters and the region's stats, exit\n"
"Exit status: 0 all checked pages right, 1 a bad page, 2 other trouble.\n");
	exit(rc);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 'S' },
		{ "direct", no_argument, NULL, 'd' },
		{ "populate", no_argument, NULL, 'P' },
		{ "verify-pages", required_argument, NULL, 'v' },
		{ "no-touch", no_argument, NULL, 'T' },
		{ "hold", required_argument, NULL, 'H' },
		{ "id", required_argument, NULL, 'i' },
		{ "corrupt", required_argument, NULL, 'c' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	enum mode how;
	struct result r;
	sigset_t sigs;
	int c, fd, bad;
	char *end;

	while ((c = getopt_long(argc, argv, "n:S:dPv:TH:i:c:sh", opts,
				NULL)) != -1) {
		switch (c) {
		case 'n': o.name = optarg; break;
		case 'S': o.sock_path = optarg; break;
		case 'd': o.direct = 1; break;
		case 'P': o.populate = 1; break;
		case 'v':
			if (!strcmp(optarg, "all")) {
				o.verify = -1;
				break;
			}
			o.verify = strtol(optarg, &end, 10);
			if (*end || o.verify < 0)
				usage(2);
			break;
		case 'T': o.touch = 0; break;
		case 'H':
			if (!strcmp(optarg, "forever")) {
				o.hold = -1;
				break;
			}
			o.hold = strtol(optarg, &end, 10);
			if (*end || o.hold < 0)
				usage(2);
			break;
		case 'i': o.id = optarg; break;
		case 'c':
			o.corrupt_file = strtol(optarg, &end, 10);
			if (*end != ':' || o.corrupt_file < 0)
				usage(2);
			o.corrupt_page = strtol(end + 1, &end, 10);
			if (*end || o.corrupt_page < 0)
				usage(2);
			break;
		case 's': o.stats = 1; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || !o.name == !o.sock_path)
		usage(2);

	/* Signals for --hold, taken with sigwait(). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGALRM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	if (o.name) {
		how = BY_NAME;
		fd = mshare_open(o.name, O_RDWR | O_CLOEXEC);
		if (fd == -EACCES)
			fd = mshare_open(o.name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail(o.name, -fd);
	} else {
		how = BY_FD;
		fd = get_by_socket();
	}
	if (o.direct && how == BY_FD) {
		close(fd);		/* the layout came with it */
	} else {
		attach(fd, how);
		close(fd);		/* the attachment keeps the region */
	}
	if (o.direct) {
		if (base) {		/* only needed the layout */
			mshare_detach(base, base_size);
			base = NULL;
			ctr = NULL;
		}
		map_direct();
	} else {
		for (unsigned int i = 0; i < lay.nfiles; i++)
			file_at[i] = base + lay.files[i].region_off;
	}

	if (o.corrupt_file >= 0)
		return corrupt();
	if (o.stats)
		return print_stats();	/* not counted as a client */
	if (ctr) {
		__atomic_add_fetch(&ctr->attached, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&ctr->attaches, 1, __ATOMIC_RELAXED);
	}

	check_pages(&r, o.touch);
	report(&r, how, NULL);
	bad = r.bad != 0;

	if (o.hold) {
		if (o.hold > 0)
			alarm((unsigned int)o.hold);
		for (;;) {
			int sig;

			if (sigwait(&sigs, &sig))
				break;
			if (sig != SIGUSR1)
				break;
			check_pages(&r, 0);
			report(&r, how, "recheck");
			bad |= r.bad != 0;
		}
	}
	if (ctr)
		__atomic_sub_fetch(&ctr->attached, 1, __ATOMIC_RELAXED);
	return bad;
}

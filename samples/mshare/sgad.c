// SPDX-License-Identifier: GPL-2.0
/*
 * sgad: a toy SGA daemon on mshare.
 *
 * It creates (or refreshes) the SGA files in a directory, filling every
 * page with a verifiable pattern through io_uring with several writes in
 * flight; creates an mshare region large enough for them; maps each file
 * into it at a known offset (MAP_SHARED) next to an anonymous shared state
 * area; populates all of it, so that clients do not fault on it; names the
 * region in msharefs with the chosen mode; then hands the region fd, and
 * the layout, to every client that connects to its Unix socket
 * (SCM_RIGHTS).  See sga.h for the layout and the protocol.
 *
 *	sgad [--dir DIR] [--size SIZE] [--files N] [--name NAME] [--mode MODE]
 *	     [--socket PATH] [--qd N] [--daemon] [--log FILE] [--pidfile FILE]
 *	     [--keep-name]
 *
 * It runs in the foreground, logging to stderr, or with --daemon in the
 * background, logging to --log (or nowhere); the --daemon command returns
 * once the region is named and the socket listens (exit 0), or when the
 * daemon failed (exit 1).  SIGUSR1 or SIGHUP logs the counters.
 *
 * SIGTERM (or SIGINT) stops it cleanly: it marks the state area stopped,
 * removes the region's name (unless --keep-name) and its socket, detaches
 * and closes its fd.  Clients that are attached keep the region, and their
 * memory, until they detach; new clients cannot find a stopped daemon's
 * region.  With --keep-name the name outlives the daemon, and the region
 * with it, until someone unlinks it (mshare rm, or rm in msharefs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <liburing.h>

#include "mshare.h"
#include "sga.h"

#define MiB	(1UL << 20)

static struct {
	const char *dir, *name, *sock_path, *log_path, *pidfile;
	uint64_t size, generation;
	unsigned int nfiles, qd;
	size_t chunk;
	mode_t mode;
	int daemon, keep_name;
} o = {
	.dir = "/tmp/sga", .name = "sga", .sock_path = "/tmp/sgad.sock",
	.size = 1UL << 30, .nfiles = 4, .qd = 16, .chunk = MiB, .mode = 0600,
};

static struct timespec t_start;
static int ready_pipe = -1;	/* --daemon: tells the parent how we did */
static int pidfile_written;

static double since_start(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) + (t.tv_nsec - t_start.tv_nsec) / 1e9;
}

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sgad[%d] %8.3fs: ", (int)getpid(), since_start());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void __attribute__((noreturn)) die(const char *fmt, ...)
{
	int status = 1;
	va_list ap;

	fprintf(stderr, "sgad[%d] %8.3fs: error: ", (int)getpid(), since_start());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	if (ready_pipe >= 0 && write(ready_pipe, &status, sizeof(status)) < 0)
		status = 2;
	if (pidfile_written)
		unlink(o.pidfile);
	exit(1);
}

static uint64_t roundup(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- the SGA files ---- */

struct sga {
	unsigned int nfiles;
	int fds[SGA_MAX_FILES];
	uint64_t sizes[SGA_MAX_FILES];
	uint64_t offs[SGA_MAX_FILES];	/* in the region */
	char names[SGA_MAX_FILES][SGA_FILE_NAME];
	uint64_t generation;
	uint64_t total;
};

static void mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(path))
		die("directory name too long: %s", dir);
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = 0;
			if (mkdir(path, 0755) && errno != EEXIST)
				die("mkdir %s: %s", path, strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
}

/* Open (create) the files and pick the generation: one past the newest. */
static void open_files(struct sga *s)
{
	uint64_t each = o.size / o.nfiles / SGA_PAGE * SGA_PAGE;
	uint64_t newest = 0;

	if (!each)
		die("SGA size %llu is too small for %u files",
		    (unsigned long long)o.size, o.nfiles);
	mkdir_p(o.dir);
	s->nfiles = o.nfiles;
	s->total = 0;
	for (unsigned int i = 0; i < s->nfiles; i++) {
		char path[PATH_MAX];
		struct sga_page_hdr h;
		struct stat st;
		int fd;

		snprintf(s->names[i], SGA_FILE_NAME, "sga-%02u.dat", i);
		snprintf(path, sizeof(path), "%s/%s", o.dir, s->names[i]);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, o.mode & 0666);
		if (fd < 0 || fstat(fd, &st))
			die("%s: %s", path, strerror(errno));
		if (pread(fd, &h, sizeof(h), 0) == sizeof(h) &&
		    h.magic == SGA_PAGE_MAGIC && h.file == i && h.page == 0 &&
		    h.generation > newest)
			newest = h.generation;
		s->sizes[i] = i + 1 < s->nfiles ? each :
			roundup(o.size - each * (s->nfiles - 1), SGA_PAGE);
		if (ftruncate(fd, (off_t)s->sizes[i]))
			die("%s: ftruncate: %s", path, strerror(errno));
		s->fds[i] = fd;
		s->total += s->sizes[i];
		logmsg("file %s: %llu MiB%s", path,
		       (unsigned long long)(s->sizes[i] / MiB),
		       st.st_size ? " (exists: refreshing it)" : " (new)");
	}
	s->generation = o.generation ? o.generation : newest + 1;
}

static int stop_requested(void)
{
	sigset_t set;

	return !sigpending(&set) &&
	       (sigismember(&set, SIGTERM) || sigismember(&set, SIGINT));
}

struct slot {
	char *buf;
	unsigned int file;
	uint64_t off;
	size_t len, done;
};

/*
 * Write the pattern of generation s->generation into every page of every
 * file, o.chunk bytes a write, with up to o.qd writes in flight.
 */
static void fill_files(struct sga *s)
{
	struct slot *slots = calloc(o.qd, sizeof(*slots));
	unsigned int *free_slots = calloc(o.qd, sizeof(*free_slots));
	unsigned int nfree = o.qd, inflight = 0, max_inflight = 0, f = 0;
	uint64_t off = 0, writes = 0, resubmits = 0;
	struct io_uring ring;
	double t0 = since_start(), dt;
	char *bufs;
	int ret;

	bufs = aligned_alloc(SGA_PAGE, o.qd * o.chunk);
	if (!slots || !free_slots || !bufs)
		die("out of memory");
	ret = io_uring_queue_init(o.qd * 2, &ring, 0);
	if (ret < 0)
		die("io_uring_queue_init: %s", strerror(-ret));
	for (unsigned int i = 0; i < o.qd; i++) {
		slots[i].buf = bufs + i * o.chunk;
		free_slots[i] = i;
	}

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		/* Keep o.qd writes in flight while there is data left. */
		while (nfree && f < s->nfiles) {
			struct slot *sl = &slots[free_slots[--nfree]];
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			size_t len = s->sizes[f] - off < o.chunk ?
				     s->sizes[f] - off : o.chunk;

			if (!sqe)
				die("io_uring: no sqe");
			for (size_t p = 0; p < len; p += SGA_PAGE)
				sga_fill_page(sl->buf + p, f, (off + p) / SGA_PAGE,
					      s->generation);
			sl->file = f;
			sl->off = off;
			sl->len = len;
			sl->done = 0;
			io_uring_prep_write(sqe, s->fds[f], sl->buf, len, off);
			io_uring_sqe_set_data(sqe, sl);
			inflight++;
			writes++;
			off += len;
			if (off == s->sizes[f]) {
				f++;
				off = 0;
			}
		}
		if (inflight > max_inflight)
			max_inflight = inflight;
		if (!inflight)
			break;
		if (stop_requested())
			die("stopped while filling the files");
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_submit_and_wait: %s", strerror(-ret));
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct slot *sl = io_uring_cqe_get_data(cqe);
			int res = cqe->res;

			seen++;
			if (res < 0)
				die("write %s at %llu: %s", s->names[sl->file],
				    (unsigned long long)(sl->off + sl->done),
				    strerror(-res));
			if (!res)
				die("write %s: no progress", s->names[sl->file]);
			sl->done += (size_t)res;
			if (sl->done < sl->len) {
				/* A short write: send the rest. */
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

				if (!sqe)
					die("io_uring: no sqe");
				io_uring_prep_write(sqe, s->fds[sl->file],
						    sl->buf + sl->done,
						    sl->len - sl->done,
						    sl->off + sl->done);
				io_uring_sqe_set_data(sqe, sl);
				resubmits++;
				continue;
			}
			inflight--;
			free_slots[nfree++] = (unsigned int)(sl - slots);
		}
		io_uring_cq_advance(&ring, seen);
	}

	/* Harmless on tmpfs; makes the files durable elsewhere. */
	for (unsigned int i = 0; i < s->nfiles; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		if (!sqe)
			die("io_uring: no sqe");
		io_uring_prep_fsync(sqe, s->fds[i], 0);
	}
	ret = io_uring_submit_and_wait(&ring, s->nfiles);
	if (ret < 0)
		die("io_uring fsync: %s", strerror(-ret));
	for (unsigned int i = 0; i < s->nfiles; i++) {
		struct io_uring_cqe *cqe;

		ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret < 0 || cqe->res < 0)
			die("fsync: %s", strerror(ret < 0 ? -ret : -cqe->res));
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	free(bufs);
	free(slots);
	free(free_slots);
	dt = since_start() - t0;
	logmsg("filled %llu MiB in %u files, generation %llu: %llu writes of "
	       "up to %zu KiB through io_uring, up to %u in flight, %llu "
	       "short writes resent, %.1fs (%.0f MiB/s)",
	       (unsigned long long)(s->total / MiB), s->nfiles,
	       (unsigned long long)s->generation, (unsigned long long)writes,
	       o.chunk >> 10, max_inflight, (unsigned long long)resubmits, dt,
	       dt > 0 ? s->total / MiB / dt : 0.0);
}

/* ---- the region ---- */

static int region_fd = -1;
static char *base;
static struct sga_layout *layout;
static struct sga_counters *ctr;

static void build_region(struct sga *s)
{
	uint64_t off = SGA_STATE_SIZE, rsize;
	struct mshare_stats st;
	double t0 = since_start();
	int ret;

	for (unsigned int i = 0; i < s->nfiles; i++)
		off += roundup(s->sizes[i], SGA_FILE_ALIGN);
	rsize = roundup(off, SGA_ALIGN);

	region_fd = mshare_create(rsize, MSHARE_CLOEXEC);
	if (region_fd < 0)
		die("mshare_create(%llu MiB): %s%s",
		    (unsigned long long)(rsize / MiB), strerror(-region_fd),
		    region_fd == -ENOSYS ? " (not an mshare kernel)" : "");

	/* The state area, anonymous shared memory, then the files. */
	ret = mshare_map(region_fd, 0, SGA_STATE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, -1, 0);
	if (ret)
		die("map the state area: %s", strerror(-ret));
	off = SGA_STATE_SIZE;
	for (unsigned int i = 0; i < s->nfiles; i++) {
		ret = mshare_map(region_fd, off, s->sizes[i],
				 PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, s->fds[i], 0);
		if (ret)
			die("map %s at %llu: %s", s->names[i],
			    (unsigned long long)off, strerror(-ret));
		close(s->fds[i]);	/* the region's mapping keeps the file */
		s->fds[i] = -1;
		s->offs[i] = off;
		off += roundup(s->sizes[i], SGA_FILE_ALIGN);
	}

	ret = mshare_attach(region_fd, NULL, PROT_READ | PROT_WRITE,
			    (void **)&base);
	if (ret)
		die("attach: %s", strerror(-ret));
	/* Every page of the state area present and writable. */
	if (madvise(base, SGA_STATE_SIZE, MADV_POPULATE_WRITE))
		die("MADV_POPULATE_WRITE of the state area: %s", strerror(errno));

	layout = (struct sga_layout *)base;
	memset(layout, 0, SGA_LAYOUT_SIZE);
	layout->magic = SGA_LAYOUT_MAGIC;
	layout->version = SGA_VERSION;
	layout->file_size = sizeof(struct sga_file);
	layout->layout_size = sizeof(struct sga_layout);
	layout->nfiles = s->nfiles;
	layout->region_size = rsize;
	layout->generation = s->generation;
	layout->state_off = 0;
	layout->state_size = SGA_STATE_SIZE;
	layout->counters_off = SGA_COUNTERS_OFF;
	layout->files_bytes = s->total;
	snprintf(layout->region_name, sizeof(layout->region_name), "%s", o.name);
	snprintf(layout->dir, sizeof(layout->dir), "%s", o.dir);
	for (unsigned int i = 0; i < s->nfiles; i++) {
		memcpy(layout->files[i].name, s->names[i], SGA_FILE_NAME);
		layout->files[i].region_off = s->offs[i];
		layout->files[i].size = s->sizes[i];
	}
	ctr = (struct sga_counters *)(base + SGA_COUNTERS_OFF);
	memset(ctr, 0, sizeof(*ctr));
	ctr->daemon_pid = (uint32_t)getpid();
	ctr->daemon_running = 1;
	__atomic_store_n(&ctr->magic, SGA_COUNTERS_MAGIC, __ATOMIC_RELEASE);

	ret = mshare_stat(region_fd, &st);
	if (ret)
		die("mshare_stat: %s", strerror(-ret));
	logmsg("region: %llu MiB, state area %lu KiB at 0, %u files at "
	       "%lu MiB.., populated in %.1fs: resident %llu MiB, page tables "
	       "%llu KiB",
	       (unsigned long long)(rsize / MiB), SGA_STATE_SIZE >> 10,
	       s->nfiles, SGA_STATE_SIZE / MiB, since_start() - t0,
	       (unsigned long long)(st.resident / MiB),
	       (unsigned long long)(st.pgtable >> 10));
	if (st.resident < s->total + SGA_STATE_SIZE)
		logmsg("warning: only %llu of %llu bytes are resident",
		       (unsigned long long)st.resident,
		       (unsigned long long)(s->total + SGA_STATE_SIZE));
}

static void name_region(void)
{
	int ret = mshare_link(region_fd, o.name, o.mode);

	if (ret == -EEXIST) {
		/* A stale name, from a daemon that was killed or --keep-name. */
		logmsg("%s/%s exists: replacing it (its attachments keep "
		       "the old region)", mshare_dir(), o.name);
		ret = mshare_unlink(o.name);
		if (ret && ret != -ENOENT)
			die("unlink the old %s: %s", o.name, strerror(-ret));
		ret = mshare_link(region_fd, o.name, o.mode);
	}
	if (ret)
		die("name the region %s: %s", o.name, strerror(-ret));
	logmsg("named %s/%s, mode %04o", mshare_dir(), o.name,
	       (unsigned int)o.mode);
}

/* Remove the name if it still names our region. */
static void unname_region(void)
{
	struct stat a, b;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", mshare_dir(), o.name);
	if (stat(path, &a) || fstat(region_fd, &b))
		return;
	if (a.st_ino != b.st_ino) {
		logmsg("%s names another region now: left alone", path);
		return;
	}
	if (mshare_unlink(o.name) == 0)
		logmsg("removed the name %s", path);
}

static void log_counters(const char *why)
{
	struct mshare_stats st = { 0 };

	mshare_stat(region_fd, &st);
	logmsg("%s: clients attached %llu (attaches %llu, fds sent %llu), "
	       "pages touched %llu, verified %llu, bad %llu; region "
	       "attachments %llu, resident %llu MiB, page tables %llu KiB",
	       why,
	       (unsigned long long)__atomic_load_n(&ctr->attached, __ATOMIC_RELAXED),
	       (unsigned long long)__atomic_load_n(&ctr->attaches, __ATOMIC_RELAXED),
	       (unsigned long long)__atomic_load_n(&ctr->fds_sent, __ATOMIC_RELAXED),
	       (unsigned long long)__atomic_load_n(&ctr->pages_touched, __ATOMIC_RELAXED),
	       (unsigned long long)__atomic_load_n(&ctr->pages_verified, __ATOMIC_RELAXED),
	       (unsigned long long)__atomic_load_n(&ctr->bad_pages, __ATOMIC_RELAXED),
	       (unsigned long long)st.attachments,
	       (unsigned long long)(st.resident / MiB),
	       (unsigned long long)(st.pgtable >> 10));
}

/* ---- the socket ---- */

static int listen_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(o.sock_path) >= sizeof(sa.sun_path))
		die("socket path too long: %s", o.sock_path);
	strcpy(sa.sun_path, o.sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	unlink(o.sock_path);	/* a stale one */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind %s: %s", o.sock_path, strerror(errno));
	if (chmod(o.sock_path, o.mode & 0777))
		die("chmod %s: %s", o.sock_path, strerror(errno));
	if (listen(fd, 256))
		die("listen: %s", strerror(errno));
	logmsg("listening on %s", o.sock_path);
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void serve(int lfd)
{
	struct timeval tv = { .tv_sec = 5 };
	struct sga_hello hello = {
		.magic = SGA_PROTO_MAGIC, .version = SGA_VERSION,
		.hello_size = sizeof(hello),
		.layout_size = sizeof(struct sga_layout),
		.daemon_pid = (uint32_t)getpid(),
	};
	struct ucred cred = { .pid = -1 };
	socklen_t clen = sizeof(cred);
	int conn, ret;

	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			logmsg("accept: %s", strerror(errno));
		return;
	}
	setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
	ret = mshare_send_fd(conn, region_fd, &hello, sizeof(hello));
	if (!ret)
		ret = write_all(conn, layout, sizeof(*layout));
	if (ret)
		logmsg("client pid %d: sending the region failed: %s",
		       (int)cred.pid, strerror(-ret));
	else
		__atomic_add_fetch(&ctr->fds_sent, 1, __ATOMIC_RELAXED);
	close(conn);
}

/* ---- main ---- */

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
"usage: sgad [options]\n"
"  -D, --dir DIR        SGA file directory (default /tmp/sga)\n"
"  -s, --size SIZE      total size of the files, K/M/G suffixes (default 1G)\n"
"  -f, --files N        number of files (default 4, at most %d)\n"
"  -n, --name NAME      the region's name in msharefs (default sga)\n"
"  -m, --mode MODE      mode of the name, the socket and the files (default 0600)\n"
"  -S, --socket PATH    Unix socket handing out region fds (default /tmp/sgad.sock)\n"
"  -q, --qd N           io_uring writes in flight while filling (default 16)\n"
"  -g, --generation N   pattern generation (default: one past the files' own)\n"
"  -d, --daemon         run in the background; returns once ready\n"
"  -l, --log FILE       with --daemon: log to FILE (default: no log)\n"
"  -p, --pidfile FILE   write the daemon's pid to FILE\n"
"  -k, --keep-name      leave the region's name in msharefs on exit\n"
"SIGTERM/SIGINT stop it (the region lives on while clients are attached);\n"
"SIGUSR1/SIGHUP log the counters.\n", SGA_MAX_FILES);
	exit(rc);
}

static void daemonize(void)
{
	int p[2], status = -1, fd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid) {
		close(p[1]);
		if (read(p[0], &status, sizeof(status)) != sizeof(status))
			status = -1;
		if (status) {
			fprintf(stderr, "sgad: the daemon failed to start%s%s\n",
				o.log_path ? "; see " : "",
				o.log_path ? o.log_path : "");
			exit(1);
		}
		printf("sgad: ready, pid %d\n", (int)pid);
		exit(0);
	}
	close(p[0]);
	ready_pipe = p[1];
	setsid();
	fd = open(o.log_path ? o.log_path : "/dev/null",
		  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %s", o.log_path, strerror(errno));
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },
		{ "size", required_argument, NULL, 's' },
		{ "files", required_argument, NULL, 'f' },
		{ "name", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, 'S' },
		{ "qd", required_argument, NULL, 'q' },
		{ "generation", required_argument, NULL, 'g' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "log", required_argument, NULL, 'l' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "keep-name", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sga sga = { 0 };
	struct pollfd pfd[2];
	sigset_t sigs;
	int c, lfd, sfd, stop = 0;
	char *end;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	while ((c = getopt_long(argc, argv, "D:s:f:n:m:S:q:g:dl:p:kh", opts,
				NULL)) != -1) {
		switch (c) {
		case 'D': o.dir = optarg; break;
		case 's': o.size = sga_parse_size(optarg); break;
		case 'f': o.nfiles = (unsigned int)atoi(optarg); break;
		case 'n': o.name = optarg; break;
		case 'm':
			o.mode = (mode_t)strtoul(optarg, &end, 8);
			if (*end || o.mode & ~0777U)
				usage(2);
			break;
		case 'S': o.sock_path = optarg; break;
		case 'q': o.qd = (unsigned int)atoi(optarg); break;
		case 'g': o.generation = strtoull(optarg, NULL, 0); break;
		case 'd': o.daemon = 1; break;
		case 'l': o.log_path = optarg; break;
		case 'p': o.pidfile = optarg; break;
		case 'k': o.keep_name = 1; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || !o.size || !o.nfiles ||
	    o.nfiles > SGA_MAX_FILES || !o.qd || o.qd > 1024 ||
	    strlen(o.dir) >= SGA_DIR_NAME || strlen(o.name) >= 64)
		usage(2);

	umask(0);	/* --mode is the mode */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	if (o.daemon)
		daemonize();
	if (o.pidfile) {
		FILE *f = fopen(o.pidfile, "w");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			die("%s: %s", o.pidfile, strerror(errno));
		pidfile_written = 1;
	}
	logmsg("starting: %llu MiB in %u files in %s, region %s, socket %s",
	       (unsigned long long)(o.size >> 20), o.nfiles, o.dir, o.name,
	       o.sock_path);

	open_files(&sga);
	fill_files(&sga);
	build_region(&sga);
	name_region();
	lfd = listen_socket();
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	logmsg("ready in %.1fs", since_start());
	if (ready_pipe >= 0) {
		int status = 0;

		if (write(ready_pipe, &status, sizeof(status)) != sizeof(status))
			die("ready pipe: %s", strerror(errno));
		close(ready_pipe);
		ready_pipe = -1;
	}

	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	while (!stop) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
					logmsg("%s: stopping",
					       strsignal((int)si.ssi_signo));
					stop = 1;
				} else {
					log_counters("counters");
				}
			}
		}
		if (!stop && (pfd[0].revents & POLLIN))
			serve(lfd);
	}

	__atomic_store_n(&ctr->daemon_running, 0, __ATOMIC_RELEASE);
	log_counters("at exit");
	close(lfd);
	unlink(o.sock_path);
	if (!o.keep_name)
		unname_region();
	c = (int)__atomic_load_n(&ctr->attached, __ATOMIC_RELAXED);
	munmap(base, layout->region_size);
	close(region_fd);
	if (pidfile_written)
		unlink(o.pidfile);
	logmsg("stopped; %d client(s) attached keep the region until they "
	       "detach", c);
	return 0;
}

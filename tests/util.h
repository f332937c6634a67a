/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the in-guest tests: /proc/meminfo figures,
 * exact vmstat readings, and a start/ready barrier for forked children.
 */
#ifndef MSHARE_TESTS_UTIL_H
#define MSHARE_TESTS_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define KiB 1024UL
#define MiB (1024UL * KiB)
#define GiB (1024UL * MiB)

/* Fold the per-CPU vmstat deltas so that /proc/meminfo is exact. */
static inline void vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		/* Best effort: without it the figures are a little stale. */
		ssize_t r = write(fd, "1", 1);

		(void)r;
		close(fd);
	}
}

/*
 * "Field<sep>   N ..." in file @path: N, or -1 (sep is ':' in meminfo,
 * status, smaps_rollup; ' ' in vmstat).
 */
static inline long file_field_sep(const char *path, const char *field, char sep)
{
	char line[512];
	size_t len = strlen(field);
	long val = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, len) && line[len] == sep) {
			val = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

static inline long file_field(const char *path, const char *field)
{
	return file_field_sep(path, field, ':');
}

/* A /proc/vmstat counter ("name N") as it reads now; -1 if missing. */
static inline long vmstat_raw(const char *name)
{
	return file_field_sep("/proc/vmstat", name, ' ');
}

/* The same, its per-CPU parts folded first (stat_refresh). */
static inline long vmstat_val(const char *name)
{
	vmstat_refresh();
	return vmstat_raw(name);
}

/* A /proc/meminfo field in kB, or -1. */
static inline long meminfo_kb(const char *field)
{
	vmstat_refresh();
	return file_field("/proc/meminfo", field);
}

/*
 * A barrier between a parent and its forked children: each child writes one
 * byte to 'ready' when it has done its work, then blocks reading 'go' until
 * the parent closes it.
 */
struct barrier {
	int ready[2];
	int go[2];
};

static inline int barrier_init(struct barrier *b)
{
	if (pipe(b->ready))
		return -1;
	if (pipe(b->go)) {
		close(b->ready[0]);
		close(b->ready[1]);
		return -1;
	}
	return 0;
}

/* In the child: report ready, then wait until released. */
static inline void barrier_child_wait(struct barrier *b)
{
	char c = 1;

	close(b->ready[0]);
	close(b->go[1]);
	if (write(b->ready[1], &c, 1) != 1)
		_exit(2);
	while (read(b->go[0], &c, 1) > 0)
		;
}

/* In the parent: wait until n children are ready.  0 or -1. */
static inline int barrier_parent_wait(struct barrier *b, int n)
{
	char c;

	close(b->ready[1]);
	b->ready[1] = -1;
	while (n > 0) {
		ssize_t r = read(b->ready[0], &c, 1);

		if (r <= 0)
			return -1;
		n--;
	}
	return 0;
}

static inline void barrier_release(struct barrier *b)
{
	close(b->go[1]);
	close(b->go[0]);
	close(b->ready[0]);
	if (b->ready[1] >= 0)
		close(b->ready[1]);
}

/* Reap every child; returns how many did not exit with status 0. */
static inline int reap_children(void)
{
	int status, bad = 0;

	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	return bad;
}

static inline long minflt_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

#endif

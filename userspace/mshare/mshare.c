// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * mshare(1): list, inspect, create, remove and attach mshare regions, the
 * way ipcs(1) and ipcrm(1) do for System V shared memory.  See mshare.1.
 *
 * Exit status: 0 on success, 1 when an operation failed, 2 on a usage
 * error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <mshare.h>
#include "util.h"

#ifndef MSHARE_CLI_VERSION
#define MSHARE_CLI_VERSION "1.0"
#endif

#define PROG		"mshare"
#define INFO_FILE	"mshare_info"

#define EXIT_FAIL	1
#define EXIT_USAGE	2

static int opt_json;
static int opt_bytes;

static void err_msg(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void err_msg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fputs(PROG ": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs("Try '" PROG " --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static void usage(void)
{
	printf(
"Usage: " PROG " [--json] [--bytes] COMMAND [ARGS]\n"
"List, inspect, create and remove mshare regions (shared page tables).\n"
"\n"
"Commands:\n"
"  ls                      list every named region: size, owner, mode,\n"
"                            attachments, attached processes, resident\n"
"                            memory, page-table bytes held and saved, and\n"
"                            the attached processes' ids\n"
"  stat NAME               the same for one region, and its mappings\n"
"  create NAME SIZE        create a region of SIZE bytes\n"
"      -m, --mode=MODE       permissions, octal (default 0600; not reduced\n"
"                            by the umask)\n"
"  rm NAME...              remove the names (attached processes keep the\n"
"                            region until they detach)\n"
"      -f, --force           ignore names that do not exist\n"
"  info                    the alignment, where msharefs is mounted, whether\n"
"                            the syscall is there, how many regions exist\n"
"  attach NAME             attach the region and hold it until a signal\n"
"      -r, --read-only       attach read-only\n"
"      --map=SIZE            first map SIZE bytes of shared anonymous memory\n"
"                            at offset 0 of the region\n"
"      --touch=SIZE          read every page of the first SIZE bytes\n"
"      -s, --seconds=N       detach and exit after N seconds\n"
"\n"
"Options:\n"
"  -j, --json              machine-readable output (JSON; sizes in bytes)\n"
"  -b, --bytes             sizes in bytes in tables, not 1.0G, 512M, ...\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"SIZE is a number of bytes with an optional binary suffix K, M, G, T, P, E\n"
"(KiB, KB, ... mean the same); regions are a multiple of the alignment.\n"
"MSHARE_DIR overrides where msharefs is looked for (" MSHARE_FS_DIR ").\n"
"\n"
"Exit status: 0 on success, 1 if an operation failed, 2 on a usage error.\n"
"See mshare(1) and mshare(7).\n");
}

/* ---- names ---- */

/* 0 if @name can name a region, else prints why and returns -1. */
static int check_name(const char *name, int region)
{
	if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..") || strlen(name) > NAME_MAX) {
		err_msg("invalid region name '%s'", name);
		return -1;
	}
	if (region && !strcmp(name, INFO_FILE)) {
		err_msg("'%s' is not a region", name);
		return -1;
	}
	return 0;
}

static int region_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", mshare_dir(), name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int skip_entry(const struct dirent *d)
{
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
	       strcmp(d->d_name, INFO_FILE);
}

/* ---- a region's figures ---- */

struct mapping {
	uint64_t start, end, offset;
	char perms[8];
	char type[16];
};

struct region {
	char *name;
	struct stat sb;		/* stat(2) of the name */
	int have_stats;		/* 0: could not open it to read them */
	struct mshare_stats st;
	int have_procs;		/* 0: the kernel's text has no "processes:" */
	uint64_t processes;	/* distinct processes attached */
	int *pids;		/* their ids, sorted */
	size_t npids;
	struct mapping *maps;
	size_t nmaps;
};

/* The region's text stats (read() of its fd), whole. */
static char *read_text(int fd, int *err)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1), *nb;
	ssize_t n;

	while (buf) {
		n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = errno;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (!buf) {
		*err = ENOMEM;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* "mapping: START-END PERMS TYPE OFFSET" lines (numbers in C notation). */
static int parse_mappings(char *text, struct region *r)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct mapping m = { 0 };
		char *p, *end;

		if (strncmp(line, "mapping:", 8))
			continue;
		p = line + 8;
		m.start = strtoull(p, &end, 0);
		if (end == p || *end != '-')
			return -EPROTO;
		p = end + 1;
		m.end = strtoull(p, &end, 0);
		if (end == p || *end != ' ')
			return -EPROTO;
		if (sscanf(end, " %7s %15s", m.perms, m.type) != 2)
			return -EPROTO;
		p = strrchr(line, ' ');
		m.offset = strtoull(p + 1, &end, 0);
		if (end == p + 1 || *end)
			return -EPROTO;
		if (r->nmaps % 16 == 0) {
			struct mapping *nm = realloc(r->maps, (r->nmaps + 16) *
						     sizeof(*nm));
			if (!nm)
				return -ENOMEM;
			r->maps = nm;
		}
		r->maps[r->nmaps++] = m;
	}
	return 0;
}

/* "processes:" and "pids:" of the text, when the kernel gives them. */
static void parse_procs(const char *text, struct region *r)
{
	r->have_procs = text_u64(text, "processes", &r->processes) == 0 &&
			text_pids(text, &r->pids, &r->npids) == 0;
}

/*
 * Open the region @name read-only and read its figures, processes and
 * (with @maps) mappings: 0, or -errno (-EACCES: not readable by us).
 */
static int load_region(const char *name, struct region *r, int maps)
{
	int fd = mshare_open(name, O_RDONLY | O_CLOEXEC), ret, err = 0;
	char *text;

	if (fd < 0)
		return fd;
	ret = mshare_stat(fd, &r->st);
	if (ret < 0)
		goto out;
	r->have_stats = 1;
	text = read_text(fd, &err);
	if (!text) {
		ret = -err;
		goto out;
	}
	parse_procs(text, r);
	if (maps)
		ret = parse_mappings(text, r);
	free(text);
out:
	close(fd);
	return ret;
}

static void free_region(struct region *r)
{
	free(r->name);
	free(r->maps);
	free(r->pids);
}

/* ---- output ---- */

static const char *size_str(uint64_t v, char buf[HUMAN_LEN])
{
	if (opt_bytes) {
		snprintf(buf, HUMAN_LEN, "%" PRIu64, v);
		return buf;
	}
	return human_size(v, buf);
}

static void json_u64_or_null(const char *key, int have, uint64_t v)
{
	printf(",\"%s\":", key);
	if (have)
		printf("%" PRIu64, v);
	else
		fputs("null", stdout);
}

/* The fields that ls and stat share, without the braces. */
static void json_region(const struct region *r)
{
	int h = r->have_stats;

	fputs("\"name\":", stdout);
	json_string(stdout, r->name);
	printf(",\"size\":%" PRIu64, h ? r->st.size : (uint64_t)r->sb.st_size);
	printf(",\"uid\":%u,\"user\":", (unsigned)r->sb.st_uid);
	json_string(stdout, user_name(r->sb.st_uid));
	printf(",\"gid\":%u,\"group\":", (unsigned)r->sb.st_gid);
	json_string(stdout, group_name(r->sb.st_gid));
	printf(",\"mode\":\"%04o\"", (unsigned)(r->sb.st_mode & 07777));
	json_u64_or_null("attachments", h, r->st.attachments);
	json_u64_or_null("mappings", h, r->st.mappings);
	json_u64_or_null("resident", h, r->st.resident);
	json_u64_or_null("pgtable", h, r->st.pgtable);
	json_u64_or_null("pgtable_saved", h, r->st.pgtable_saved);
	json_u64_or_null("processes", h && r->have_procs, r->processes);
	fputs(",\"pids\":", stdout);
	if (h && r->have_procs) {
		putchar('[');
		for (size_t i = 0; i < r->npids; i++)
			printf("%s%d", i ? "," : "", r->pids[i]);
		putchar(']');
	} else {
		fputs("null", stdout);
	}
}

/* ---- ls ---- */

enum { C_NAME, C_SIZE, C_OWNER, C_MODE, C_ATTACH, C_PROCS, C_RESIDENT,
       C_PGTABLE, C_SAVED, C_PIDS, NCOLS };

static const char *const col_head[NCOLS] = {
	"NAME", "SIZE", "OWNER", "MODE", "ATTACH", "PROCS", "RESIDENT",
	"PGTABLE", "SAVED", "PIDS",
};

/* The PIDS column: at most this wide, "..." when cut short. */
#define PIDS_WIDTH	40

/* Left-aligned columns (the rest are figures, right-aligned). */
static int col_left(size_t c)
{
	return c == C_OWNER || c == C_MODE || c == C_PIDS;
}

static int ls_print_table(struct region *rs, size_t n)
{
	char (*cells)[NCOLS][HUMAN_LEN] = calloc(n ? n : 1, sizeof(*cells));
	char (*pids)[PIDS_WIDTH + 1] = calloc(n ? n : 1, sizeof(*pids));
	size_t w[NCOLS], i, c;

	if (!cells || !pids) {
		free(cells);
		free(pids);
		err_msg("%s", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	for (c = 0; c < NCOLS; c++)
		w[c] = strlen(col_head[c]);
	for (i = 0; i < n; i++) {
		struct region *r = &rs[i];
		char (*cell)[HUMAN_LEN] = cells[i];

		size_str(r->have_stats ? r->st.size : (uint64_t)r->sb.st_size,
			 cell[C_SIZE]);
		snprintf(cell[C_OWNER], HUMAN_LEN, "%s", user_name(r->sb.st_uid));
		mode_string(r->sb.st_mode, cell[C_MODE]);
		if (r->have_stats) {
			snprintf(cell[C_ATTACH], HUMAN_LEN, "%" PRIu64,
				 r->st.attachments);
			size_str(r->st.resident, cell[C_RESIDENT]);
			size_str(r->st.pgtable, cell[C_PGTABLE]);
			size_str(r->st.pgtable_saved, cell[C_SAVED]);
		} else {
			strcpy(cell[C_ATTACH], "-");
			strcpy(cell[C_RESIDENT], "-");
			strcpy(cell[C_PGTABLE], "-");
			strcpy(cell[C_SAVED], "-");
		}
		if (r->have_stats && r->have_procs) {
			snprintf(cell[C_PROCS], HUMAN_LEN, "%" PRIu64,
				 r->processes);
			pids_string(r->pids, r->npids, ',', pids[i],
				    sizeof(pids[i]));
		} else {
			strcpy(cell[C_PROCS], "-");
			strcpy(pids[i], "-");
		}
		if (name_width(r->name) > w[C_NAME])
			w[C_NAME] = name_width(r->name);
		for (c = 1; c < NCOLS; c++)
			if (c != C_PIDS && strlen(cell[c]) > w[c])
				w[c] = strlen(cell[c]);
	}
	/*
	 * NAME, OWNER, MODE and PIDS to the left, the figures to the right;
	 * PIDS is last and not padded.
	 */
	printf("%-*s", (int)w[C_NAME], col_head[C_NAME]);
	for (c = 1; c < NCOLS; c++)
		if (c == C_PIDS)
			printf("  %s", col_head[c]);
		else
			printf(col_left(c) ? "  %-*s" : "  %*s", (int)w[c],
			       col_head[c]);
	putchar('\n');
	for (i = 0; i < n; i++) {
		print_name(stdout, rs[i].name);
		printf("%*s", (int)(w[C_NAME] - name_width(rs[i].name)), "");
		for (c = 1; c < NCOLS; c++)
			if (c == C_PIDS)
				printf("  %s", pids[i]);
			else
				printf(col_left(c) ? "  %-*s" : "  %*s",
				       (int)w[c], cells[i][c]);
		putchar('\n');
	}
	free(cells);
	free(pids);
	return 0;
}

static int need_mounted(struct mshare_sysinfo *info)
{
	int ret = mshare_query(info);

	if (ret < 0) {
		err_msg("cannot query mshare: %s", strerror(-ret));
		return -1;
	}
	if (!info->mounted) {
		err_msg("msharefs is not mounted at '%s'", info->dir);
		return -1;
	}
	return 0;
}

static int cmd_ls(int argc, char **argv)
{
	struct mshare_sysinfo info;
	struct dirent **ents = NULL;
	struct region *rs;
	int n, i, status = 0;
	size_t nr = 0;

	if (argc > 0)
		return usage_error("ls: extra operand '%s'", argv[0]);
	if (need_mounted(&info))
		return EXIT_FAIL;
	n = scandir(info.dir, &ents, skip_entry, alphasort);
	if (n < 0) {
		err_msg("cannot open directory '%s': %s", info.dir,
			strerror(errno));
		return EXIT_FAIL;
	}
	rs = calloc((size_t)n + 1, sizeof(*rs));
	if (!rs) {
		err_msg("%s", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		struct region *r = &rs[nr];
		char path[PATH_MAX];
		int ret;

		r->name = strdup(ents[i]->d_name);
		free(ents[i]);
		if (!r->name) {
			err_msg("%s", strerror(ENOMEM));
			status = EXIT_FAIL;
			continue;
		}
		if (region_path(path, sizeof(path), r->name) ||
		    lstat(path, &r->sb)) {
			ret = errno;
			if (ret != ENOENT) {	/* ENOENT: removed meanwhile */
				err_msg("cannot access '%s': %s", r->name,
					strerror(ret));
				status = EXIT_FAIL;
			}
			free_region(r);
			continue;
		}
		ret = load_region(r->name, r, 0);
		if (ret == -ENOENT) {
			free_region(r);
			continue;
		}
		if (ret != 0 && ret != -EACCES && ret != -EPERM) {
			err_msg("cannot read '%s': %s", r->name, strerror(-ret));
			status = EXIT_FAIL;
		}
		nr++;
	}
	free(ents);

	if (opt_json) {
		fputs("{\"directory\":", stdout);
		json_string(stdout, info.dir);
		fputs(",\"regions\":[", stdout);
		for (size_t k = 0; k < nr; k++) {
			fputs(k ? ",{" : "{", stdout);
			json_region(&rs[k]);
			putchar('}');
		}
		fputs("]}\n", stdout);
	} else if (ls_print_table(rs, nr)) {
		status = EXIT_FAIL;
	}
	for (size_t k = 0; k < nr; k++)
		free_region(&rs[k]);
	free(rs);
	return status;
}

/* ---- stat ---- */

static void stat_print(const struct region *r)
{
	char b1[HUMAN_LEN], b2[HUMAN_LEN], b3[HUMAN_LEN], mb[11];
	size_t i;

	if (opt_json) {
		putchar('{');
		json_region(r);
		fputs(",\"maps\":[", stdout);
		for (i = 0; i < r->nmaps; i++) {
			const struct mapping *m = &r->maps[i];

			printf("%s{\"start\":%" PRIu64 ",\"end\":%" PRIu64
			       ",\"size\":%" PRIu64 ",\"perms\":",
			       i ? "," : "", m->start, m->end, m->end - m->start);
			json_string(stdout, m->perms);
			fputs(",\"type\":", stdout);
			json_string(stdout, m->type);
			printf(",\"offset\":%" PRIu64 "}", m->offset);
		}
		fputs("]}\n", stdout);
		return;
	}
	fputs("name:          ", stdout);
	print_name(stdout, r->name);
	putchar('\n');
	printf("size:          %s\n", size_str(r->st.size, b1));
	printf("owner:         %s (%u)\n", user_name(r->sb.st_uid),
	       (unsigned)r->sb.st_uid);
	printf("group:         %s (%u)\n", group_name(r->sb.st_gid),
	       (unsigned)r->sb.st_gid);
	printf("mode:          %s (%04o)\n", mode_string(r->sb.st_mode, mb),
	       (unsigned)(r->sb.st_mode & 07777));
	printf("attachments:   %" PRIu64 "\n", r->st.attachments);
	if (r->have_procs) {
		printf("processes:     %" PRIu64 "\n", r->processes);
		fputs("pids:         ", stdout);
		for (i = 0; i < r->npids; i++)
			printf(" %d", r->pids[i]);
		if (!r->npids)
			fputs(" -", stdout);
		putchar('\n');
	} else {
		printf("processes:     -\npids:          -\n");
	}
	printf("mappings:      %" PRIu64 "\n", r->st.mappings);
	printf("resident:      %s\n", size_str(r->st.resident, b1));
	printf("pgtable:       %s\n", size_str(r->st.pgtable, b1));
	printf("pgtable_saved: %s\n", size_str(r->st.pgtable_saved, b1));
	if (!r->nmaps)
		return;
	printf("\n%-18s  %-18s  %6s  %-5s  %-7s  %s\n", "START", "END", "SIZE",
	       "PERMS", "TYPE", "OFFSET");
	for (i = 0; i < r->nmaps; i++) {
		const struct mapping *m = &r->maps[i];

		snprintf(b2, sizeof(b2), "%#" PRIx64, m->start);
		snprintf(b3, sizeof(b3), "%#" PRIx64, m->end);
		printf("%-18s  %-18s  %6s  %-5s  %-7s  %#" PRIx64 "\n", b2, b3,
		       size_str(m->end - m->start, b1), m->perms, m->type,
		       m->offset);
	}
}

static int cmd_stat(int argc, char **argv)
{
	struct region r = { 0 };
	char *text;
	int fd, ret, err = 0, status = EXIT_FAIL;

	if (argc < 1)
		return usage_error("stat: missing operand");
	if (argc > 1)
		return usage_error("stat: extra operand '%s'", argv[1]);
	if (check_name(argv[0], 1))
		return EXIT_FAIL;
	fd = mshare_open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_msg("cannot stat '%s': %s", argv[0], strerror(-fd));
		return EXIT_FAIL;
	}
	r.name = argv[0];
	if (fstat(fd, &r.sb)) {
		err_msg("cannot stat '%s': %s", argv[0], strerror(errno));
		goto out;
	}
	ret = mshare_stat(fd, &r.st);
	if (ret < 0) {
		err_msg("cannot stat '%s': %s", argv[0], strerror(-ret));
		goto out;
	}
	r.have_stats = 1;
	text = read_text(fd, &err);
	if (!text) {
		err_msg("cannot read '%s': %s", argv[0], strerror(err));
		goto out;
	}
	parse_procs(text, &r);	/* before parse_mappings() cuts the text up */
	ret = parse_mappings(text, &r);
	free(text);
	if (ret < 0) {
		err_msg("cannot read the mappings of '%s': %s", argv[0],
			strerror(-ret));
		goto out;
	}
	stat_print(&r);
	status = 0;
out:
	free(r.maps);
	free(r.pids);
	close(fd);
	return status;
}

/* ---- create ---- */

static int cmd_create(int argc, char **argv, mode_t mode, int mode_given)
{
	uint64_t size;
	int fd;

	if (argc < 2)
		return usage_error("create: missing operand%s",
				   argc ? " (SIZE)" : "");
	if (argc > 2)
		return usage_error("create: extra operand '%s'", argv[2]);
	if (check_name(argv[0], 0))
		return EXIT_FAIL;
	if (parse_size(argv[1], &size)) {
		err_msg("invalid size '%s'", argv[1]);
		return EXIT_FAIL;
	}
	fd = mshare_create_named(argv[0], (size_t)size, mode,
				 O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		err_msg("cannot create '%s': %s", argv[0], strerror(-fd));
		return EXIT_FAIL;
	}
	/* Like mkdir -m: an explicit mode is not reduced by the umask. */
	if (mode_given && fchmod(fd, mode)) {
		err_msg("cannot set the mode of '%s': %s", argv[0],
			strerror(errno));
		close(fd);
		return EXIT_FAIL;
	}
	close(fd);
	return 0;
}

/* ---- rm ---- */

static int cmd_rm(int argc, char **argv, int force)
{
	int i, ret, status = 0;

	if (argc < 1)
		return usage_error("rm: missing operand");
	for (i = 0; i < argc; i++) {
		if (check_name(argv[i], 1)) {
			status = EXIT_FAIL;
			continue;
		}
		ret = mshare_unlink(argv[i]);
		if (ret == -ENOENT && force)
			continue;
		if (ret < 0) {
			err_msg("cannot remove '%s': %s", argv[i],
				strerror(-ret));
			status = EXIT_FAIL;
		}
	}
	return status;
}

/* ---- info ---- */

static int cmd_info(int argc, char **argv)
{
	struct mshare_sysinfo info;
	struct dirent **ents = NULL;
	char hb[HUMAN_LEN];
	int ret, n = -1, i;

	if (argc > 0)
		return usage_error("info: extra operand '%s'", argv[0]);
	ret = mshare_query(&info);
	if (ret < 0) {
		err_msg("cannot query mshare: %s", strerror(-ret));
		return EXIT_FAIL;
	}
	if (info.mounted) {
		n = scandir(info.dir, &ents, skip_entry, NULL);
		if (n < 0) {
			err_msg("cannot open directory '%s': %s", info.dir,
				strerror(errno));
			return EXIT_FAIL;
		}
		for (i = 0; i < n; i++)
			free(ents[i]);
		free(ents);
	}
	if (opt_json) {
		fputs("{\"alignment\":", stdout);
		if (info.align)
			printf("%" PRIu64, info.align);
		else
			fputs("null", stdout);
		fputs(",\"directory\":", stdout);
		json_string(stdout, info.dir);
		printf(",\"mounted\":%s,\"syscall\":%s,\"regions\":",
		       info.mounted ? "true" : "false",
		       info.syscall ? "true" : "false");
		if (n >= 0)
			printf("%d", n);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
		return 0;
	}
	if (info.align)
		printf("alignment: %s (%" PRIu64 " bytes)\n",
		       human_size(info.align, hb), info.align);
	else
		printf("alignment: -\n");
	fputs("directory: ", stdout);
	print_name(stdout, info.dir);
	putchar('\n');
	printf("mounted:   %s\n", info.mounted ? "yes" : "no");
	printf("syscall:   %s\n", info.syscall ? "yes" : "no");
	if (n >= 0)
		printf("regions:   %d\n", n);
	else
		printf("regions:   -\n");
	return 0;
}

/* ---- attach ---- */

struct attach_opts {
	int read_only;
	int have_map, have_touch, have_time;
	uint64_t map, touch, ns;
};

/*
 * A page that cannot be read (a file mapping beyond its end, memory the
 * kernel cannot give) raises SIGBUS or SIGSEGV: report it, do not die.
 */
static sigjmp_buf touch_jmp;
static volatile sig_atomic_t touch_sig;

static void touch_fault(int sig)
{
	touch_sig = sig;
	siglongjmp(touch_jmp, 1);
}

/* Read every page of the readable mappings in [0, @len) of the region. */
static int touch_region(int fd, const char *name, char *base, uint64_t len,
			uint64_t *touched)
{
	struct sigaction sa = { .sa_handler = touch_fault }, old_bus, old_segv;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	struct region r = { 0 };
	volatile uint64_t at = 0, done = 0;
	volatile char sink = 0;
	int err = 0, ret = -1;
	char *text;
	size_t i;

	text = read_text(fd, &err);
	if (!text) {
		err_msg("cannot read '%s': %s", name, strerror(err));
		return -1;
	}
	err = parse_mappings(text, &r);
	free(text);
	if (err < 0) {
		err_msg("cannot read the mappings of '%s': %s", name,
			strerror(-err));
		free(r.maps);
		return -1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	if (sigsetjmp(touch_jmp, 1)) {
		err_msg("cannot touch '%s' at offset %#" PRIx64 ": %s", name,
			(uint64_t)at, strsignal(touch_sig));
		goto out;
	}
	for (i = 0; i < r.nmaps; i++) {
		uint64_t e = r.maps[i].end;

		if (r.maps[i].perms[0] != 'r' || r.maps[i].start >= len)
			continue;
		if (e > len)
			e = len;
		for (at = r.maps[i].start; at < e; at += pg)
			sink += ((volatile char *)base)[at];
		done += e - r.maps[i].start;
	}
	(void)sink;
	*touched = done;
	ret = 0;
out:
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	free(r.maps);
	return ret;
}

static int cmd_attach(int argc, char **argv, const struct attach_opts *o)
{
	const char *name;
	struct timespec ts;
	uint64_t touched = 0;
	long long size;
	sigset_t set;
	void *base;
	int fd, ret, sig, status = EXIT_FAIL;
	char hb[HUMAN_LEN];

	if (argc < 1)
		return usage_error("attach: missing operand");
	if (argc > 1)
		return usage_error("attach: extra operand '%s'", argv[1]);
	name = argv[0];
	if (check_name(name, 1))
		return EXIT_FAIL;
	if (o->read_only && o->have_map)
		return usage_error("attach: --map needs a writable attachment");

	/* Signals end the hold; they are taken synchronously. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);

	fd = mshare_open(name, (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		err_msg("cannot open '%s': %s", name, strerror(-fd));
		return EXIT_FAIL;
	}
	size = mshare_size(fd);
	if (size < 0) {
		err_msg("cannot attach '%s': %s", name, strerror((int)-size));
		goto out_close;
	}
	if (o->have_map) {
		ret = mshare_map(fd, 0, (size_t)o->map, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED_NOREPLACE, -1, 0);
		if (ret < 0) {
			err_msg("cannot map %s in '%s': %s",
				human_size(o->map, hb), name, strerror(-ret));
			goto out_close;
		}
	}
	ret = mshare_attach(fd, NULL, o->read_only ? PROT_READ :
			    PROT_READ | PROT_WRITE, &base);
	if (ret < 0) {
		err_msg("cannot attach '%s': %s", name, strerror(-ret));
		goto out_close;
	}
	if (o->have_touch &&
	    touch_region(fd, name, base, o->touch, &touched))
		goto out_detach;

	if (opt_json) {
		fputs("{\"name\":", stdout);
		json_string(stdout, name);
		printf(",\"pid\":%d,\"address\":\"%p\",\"size\":%lld"
		       ",\"touched\":%" PRIu64 "}\n", (int)getpid(), base, size,
		       touched);
	} else {
		fputs("attached ", stdout);
		print_name(stdout, name);
		printf(" at %p, %s, pid %d", base,
		       human_size((uint64_t)size, hb), (int)getpid());
		if (o->have_touch)
			printf(", touched %s", human_size(touched, hb));
		putchar('\n');
	}
	fflush(stdout);

	ts.tv_sec = (time_t)(o->ns / 1000000000ULL);
	ts.tv_nsec = (long)(o->ns % 1000000000ULL);
	for (;;) {
		sig = o->have_time ? sigtimedwait(&set, NULL, &ts) :
				     sigwaitinfo(&set, NULL);
		if (sig >= 0 || errno == EAGAIN)
			break;
		if (errno != EINTR) {
			err_msg("cannot wait: %s", strerror(errno));
			break;
		}
		/* EINTR (stopped and continued): sigtimedwait starts over,
		 * which is good enough for a hold. */
	}
	status = 0;
out_detach:
	ret = mshare_detach(base, (size_t)size);
	if (ret < 0) {
		err_msg("cannot detach '%s': %s", name, strerror(-ret));
		status = EXIT_FAIL;
	}
out_close:
	close(fd);
	return status;
}

/* ---- main ---- */

enum { OPT_VERSION = 256, OPT_MAP, OPT_TOUCH };

static const struct option global_opts[] = {
	{ "json",	no_argument,	   NULL, 'j' },
	{ "bytes",	no_argument,	   NULL, 'b' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "version",	no_argument,	   NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

static const struct option cmd_opts[] = {
	{ "json",	no_argument,	   NULL, 'j' },
	{ "bytes",	no_argument,	   NULL, 'b' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "mode",	required_argument, NULL, 'm' },
	{ "force",	no_argument,	   NULL, 'f' },
	{ "read-only",	no_argument,	   NULL, 'r' },
	{ "seconds",	required_argument, NULL, 's' },
	{ "map",	required_argument, NULL, OPT_MAP },
	{ "touch",	required_argument, NULL, OPT_TOUCH },
	{ NULL, 0, NULL, 0 }
};

/* Which command takes which of cmd_opts (beyond -j, -b, -h). */
static int opt_allowed(const char *cmd, int c)
{
	switch (c) {
	case 'm':
		return !strcmp(cmd, "create");
	case 'f':
		return !strcmp(cmd, "rm");
	case 'r': case 's': case OPT_MAP: case OPT_TOUCH:
		return !strcmp(cmd, "attach");
	}
	return 1;
}

static const char *opt_name(int c)
{
	const struct option *o;

	for (o = cmd_opts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

int main(int argc, char **argv)
{
	struct attach_opts ao = { 0 };
	mode_t mode = 0600;
	int mode_given = 0, force = 0, c, nargc, nops = 0;
	const char *cmd;
	char **nargv, **ops;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jbh", global_opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt_json = 1;
			break;
		case 'b':
			opt_bytes = 1;
			break;
		case 'h':
			usage();
			return 0;
		case OPT_VERSION:
			printf(PROG " " MSHARE_CLI_VERSION " (libmshare %d.%d)\n",
			       LIBMSHARE_VERSION_MAJOR, LIBMSHARE_VERSION_MINOR);
			return 0;
		default:
			if (optopt)
				return usage_error("invalid option -- '%c'",
						   optopt);
			return usage_error("unrecognized option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("missing command");
	cmd = argv[optind];
	if (strcmp(cmd, "ls") && strcmp(cmd, "stat") && strcmp(cmd, "create") &&
	    strcmp(cmd, "rm") && strcmp(cmd, "info") && strcmp(cmd, "attach"))
		return usage_error("unknown command '%s'", cmd);

	/* The command's own options, anywhere among its operands. */
	nargc = argc - optind;
	nargv = argv + optind;
	ops = calloc((size_t)nargc + 1, sizeof(*ops));
	if (!ops) {
		err_msg("%s", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	optind = 0;
	while ((c = getopt_long(nargc, nargv, "-:jbhm:frs:", cmd_opts,
				NULL)) != -1) {
		if (c == 1) {	/* an operand, in order */
			ops[nops++] = optarg;
			continue;
		}
		if (c == '?') {
			if (optopt)
				return usage_error("invalid option -- '%c'",
						   optopt);
			return usage_error("unrecognized option '%s'",
					   nargv[optind - 1]);
		}
		if (c == ':')
			return usage_error("option '%s' requires an argument",
					   nargv[optind - 1]);
		if (!opt_allowed(cmd, c))
			return usage_error("%s: invalid option '--%s'", cmd,
					   opt_name(c));
		switch (c) {
		case 'j':
			opt_json = 1;
			break;
		case 'b':
			opt_bytes = 1;
			break;
		case 'h':
			usage();
			return 0;
		case 'm':
			if (parse_mode(optarg, &mode)) {
				err_msg("invalid mode '%s'", optarg);
				return EXIT_FAIL;
			}
			mode_given = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'r':
			ao.read_only = 1;
			break;
		case 's':
			if (parse_seconds(optarg, &ao.ns)) {
				err_msg("invalid number of seconds '%s'", optarg);
				return EXIT_FAIL;
			}
			ao.have_time = 1;
			break;
		case OPT_MAP:
			if (parse_size(optarg, &ao.map)) {
				err_msg("invalid size '%s'", optarg);
				return EXIT_FAIL;
			}
			ao.have_map = 1;
			break;
		case OPT_TOUCH:
			if (parse_size(optarg, &ao.touch)) {
				err_msg("invalid size '%s'", optarg);
				return EXIT_FAIL;
			}
			ao.have_touch = 1;
			break;
		}
	}
	/* Operands after "--" are left at the end. */
	while (optind < nargc && nops < nargc)
		ops[nops++] = nargv[optind++];

	if (!strcmp(cmd, "ls"))
		return cmd_ls(nops, ops);
	if (!strcmp(cmd, "stat"))
		return cmd_stat(nops, ops);
	if (!strcmp(cmd, "create"))
		return cmd_create(nops, ops, mode, mode_given);
	if (!strcmp(cmd, "rm"))
		return cmd_rm(nops, ops, force);
	if (!strcmp(cmd, "info"))
		return cmd_info(nops, ops);
	return cmd_attach(nops, ops, &ao);
}

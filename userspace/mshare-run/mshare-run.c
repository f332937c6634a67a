// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * mshare-run(1): run a program with its large shared memory in mshare
 * regions (LD_PRELOAD of libmshare-run.so), so that the processes it forks
 * share page tables.  See mshare-run.1.
 *
 * Exit status: the program's; 125 if mshare-run itself fails (usage,
 * library not found), 126 if the program cannot be run, 127 if it is not
 * found.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mshare.h>
#include "options.h"
#include "preload.h"

#ifndef MSHARE_RUN_VERSION
#define MSHARE_RUN_VERSION "1.0"
#endif
/* Where make install puts the library */
#ifndef MSHARE_RUN_LIBDIR
#define MSHARE_RUN_LIBDIR "/usr/local/lib/mshare"
#endif

#define PROG		"mshare-run"
#define EXIT_OWN	125

static void usage(void)
{
	printf(
"Usage: " PROG " [OPTIONS] [--] PROGRAM [ARGS...]\n"
"Run PROGRAM with its large shared memory in mshare regions, so that the\n"
"processes it forks share one set of page tables for it.\n"
"\n"
"  -s, --min-size=SIZE   smallest shared mapping or System V segment put in\n"
"                          a region (default 64M)\n"
"  -n, --name=NAME       name the regions in msharefs: NAME, NAME-2, ...;\n"
"                          System V segments NAME-shm-ID (default: unnamed,\n"
"                          System V mshare-run-shm-ID)\n"
"  -m, --mode=MODE       permissions of named regions, octal (default 0600)\n"
"      --no-sysv         leave System V shared memory alone\n"
"  -v, --verbose         say on stderr what is put in regions, and why not\n"
"      --library=PATH    the preload library (default: next to " PROG ",\n"
"                          then " MSHARE_RUN_LIBDIR ")\n"
"      --dry-run         print the environment and the command, run nothing\n"
"  -h, --help            show this help and exit\n"
"      --version         show the version and exit\n"
"\n"
"SIZE takes a binary suffix K, M, G, T.  On a kernel without mshare the\n"
"program runs unchanged.  The program must be dynamically linked.\n"
"\n"
"Exit status: the program's; 125 if " PROG " fails, 126 if PROGRAM cannot\n"
"be run, 127 if it is not found.  See mshare-run(1).\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, PROG ": %s\nTry '" PROG " --help' for more information.\n", msg);
	return EXIT_OWN;
}

static int readable(const char *path)
{
	return !access(path, R_OK);
}

/* The library: --library, next to this program, ../lib/mshare, LIBDIR. */
static int find_library(const char *opt, char *out, size_t len)
{
	char exe[PATH_MAX], cand[PATH_MAX + 64], *slash;
	ssize_t n;

	if (opt) {
		if (!realpath(opt, out) || !readable(out))
			return -errno;
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(cand, sizeof(cand), "%s/" MR_LIBRARY, exe);
			if (readable(cand) && realpath(cand, out))
				return 0;
			snprintf(cand, sizeof(cand), "%s/../lib/mshare/" MR_LIBRARY, exe);
			if (readable(cand) && realpath(cand, out))
				return 0;
		}
	}
	snprintf(cand, sizeof(cand), MSHARE_RUN_LIBDIR "/" MR_LIBRARY);
	if (readable(cand) && realpath(cand, out))
		return 0;
	(void)len;
	return -ENOENT;
}

/* @prog as execvp() would find it, into @out; 0 or -1. */
static int find_program(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *e;

	if (strchr(prog, '/')) {
		snprintf(out, len, "%s", prog);
		return 0;
	}
	for (p = path ? path : "/bin:/usr/bin"; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		snprintf(out, len, "%.*s%s%s", (int)(e - p), p, e > p ? "/" : "", prog);
		if (!access(out, X_OK))
			return 0;
	}
	return -1;
}

/* 1 if @path is an ELF program without an interpreter (static). */
static int is_static_elf(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(path, O_RDONLY | O_CLOEXEC), interp = 0, ok = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(ph)) {
		ok = 1;
		for (int i = 0; i < eh.e_phnum; i++) {
			if (pread(fd, &ph, sizeof(ph),
				  (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) != sizeof(ph)) {
				ok = 0;
				break;
			}
			if (ph.p_type == PT_INTERP)
				interp = 1;
		}
	}
	close(fd);
	return ok && !interp;
}

int main(int argc, char *argv[])
{
	static char env[MR_ENV_MAX][MR_ENV_LEN];
	char err[PATH_MAX + 128], lib[PATH_MAX], prog[PATH_MAX];
	struct mshare_sysinfo si;
	struct mr_opts o;
	int n, ret, have;

	if (mr_parse_args(argc, argv, &o, err, sizeof(err)))
		return usage_error(err);
	if (o.help) {
		usage();
		return 0;
	}
	if (o.version) {
		printf(PROG " " MSHARE_RUN_VERSION "\n");
		return 0;
	}
	ret = find_library(o.library, lib, sizeof(lib));
	if (ret) {
		fprintf(stderr, PROG ": cannot find the preload library %s: %s (use --library)\n",
			o.library ? o.library : MR_LIBRARY, strerror(-ret));
		return EXIT_OWN;
	}
	n = mr_build_env(&o, lib, getenv("LD_PRELOAD"), env, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_OWN;
	}
	mshare_query(&si);
	have = si.syscall;

	if (o.dry_run) {
		printf("# mshare: %s\n", have ? "yes" : "no (the program would run unchanged)");
		for (int i = 0; i < n; i++)
			printf("%s\n", env[i]);
		for (int i = o.argi; i < argc; i++)
			printf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
		return 0;
	}
	if (o.verbose && find_program(argv[o.argi], prog, sizeof(prog)) == 0 &&
	    is_static_elf(prog))
		fprintf(stderr, PROG ": %s is statically linked: LD_PRELOAD cannot reach it, "
			"its memory stays as it is\n", prog);
	if (!have) {
		if (o.verbose)
			fprintf(stderr, PROG ": this kernel has no mshare (ENOSYS): "
				"running %s unchanged\n", argv[o.argi]);
	} else {
		unsetenv(MR_ENV_NAME);
		for (int i = 0; i < n; i++)
			if (putenv(env[i])) {
				fprintf(stderr, PROG ": putenv: %s\n", strerror(errno));
				return EXIT_OWN;
			}
		if (o.verbose)
			fprintf(stderr, PROG ": %s with %s (regions from %llu bytes, alignment %llu)\n",
				argv[o.argi], lib, (unsigned long long)o.min_size,
				(unsigned long long)si.align);
	}
	execvp(argv[o.argi], argv + o.argi);
	ret = errno;
	fprintf(stderr, PROG ": %s: %s\n", argv[o.argi], strerror(ret));
	return ret == ENOENT ? 127 : 126;
}

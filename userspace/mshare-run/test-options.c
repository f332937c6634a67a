// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Unit tests of mshare-run's command line and of the environment it builds,
 * on the host (make check).  TAP output; exit 1 on any failure.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static int n, failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	n++;
	if (!cond)
		failed++;
	printf("%sok %d - ", cond ? "" : "not ", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Parse a space-separated command line (no quoting). */
static int parse(const char *line, struct mr_opts *o, char *err, size_t len)
{
	static char buf[1024];
	static char *argv[64];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	return mr_parse_args(argc, argv, o, err, len);
}

static const char *prog_of(const char *line, const struct mr_opts *o)
{
	static char buf[1024];
	char *t;
	int i = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (t = strtok(buf, " "); t && i < o->argi; t = strtok(NULL, " "))
		i++;
	return t ? t : "";
}

static void good(const char *line, unsigned long long size, const char *name,
		 unsigned int mode, int verbose, int sysv, const char *prog)
{
	struct mr_opts o;
	char err[256];
	int ret = parse(line, &o, err, sizeof(err));

	ok(ret == 0 && o.min_size == size &&
	   (name ? o.name && !strcmp(o.name, name) : !o.name) &&
	   o.mode == mode && o.verbose == verbose && o.sysv == sysv &&
	   !strcmp(prog_of(line, &o), prog),
	   "parses '%s'", line);
	if (ret)
		printf("# error: %s\n", err);
	else
		printf("# size %llu name %s mode %o verbose %d sysv %d program '%s'\n",
		       (unsigned long long)o.min_size, o.name ? o.name : "(none)",
		       (unsigned int)o.mode, o.verbose, o.sysv, prog_of(line, &o));
}

static void bad(const char *line, const char *want)
{
	struct mr_opts o;
	char err[256];
	int ret = parse(line, &o, err, sizeof(err));

	ok(ret == -1 && strstr(err, want), "refuses '%s': %s", line, err);
}

static int env_has(char env[MR_ENV_MAX][MR_ENV_LEN], int count, const char *want)
{
	for (int i = 0; i < count; i++)
		if (!strcmp(env[i], want))
			return 1;
	return 0;
}

int main(void)
{
	static char env[MR_ENV_MAX][MR_ENV_LEN];
	struct mr_opts o;
	char err[256];
	int c;

	printf("TAP version 13\n");
	good("mshare-run prog", 64ULL << 20, NULL, 0600, 0, 1, "prog");
	good("mshare-run -- prog -x", 64ULL << 20, NULL, 0600, 0, 1, "prog");
	good("mshare-run -s 1G -n pg -m 0640 -v prog", 1ULL << 30, "pg", 0640, 1, 1, "prog");
	good("mshare-run --min-size=512K --name=db --mode=644 --no-sysv -- postgres -D x",
	     512 << 10, "db", 0644, 0, 0, "postgres");
	good("mshare-run --min-size 2.5M --verbose prog --name x", 5 << 19, NULL, 0600, 1, 1,
	     "prog");
	/* options end at the program: its own options are left alone */
	good("mshare-run prog -s 1K", 64ULL << 20, NULL, 0600, 0, 1, "prog");
	good("mshare-run prog -s", 64ULL << 20, NULL, 0600, 0, 1, "prog");

	bad("mshare-run", "no program");
	bad("mshare-run -v --", "no program");
	bad("mshare-run -s 0 prog", "invalid size");
	bad("mshare-run -s -1 prog", "invalid size");
	bad("mshare-run -s 12Q prog", "invalid size");
	bad("mshare-run -n a/b prog", "invalid region name");
	bad("mshare-run -n .. prog", "invalid region name");
	bad("mshare-run -m 0999 prog", "invalid mode");
	bad("mshare-run -m 01777 prog", "invalid mode");
	bad("mshare-run --bogus prog", "unknown option '--bogus'");
	bad("mshare-run -x prog", "unknown option '-x'");
	bad("mshare-run -svn 1M prog", "invalid size 'vn'");
	bad("mshare-run --name", "needs an argument");
	{
		char line[300];

		snprintf(line, sizeof(line), "mshare-run -n %0240d prog", 0);
		bad(line, "invalid region name");
	}

	c = parse("mshare-run --help prog", &o, err, sizeof(err));
	ok(c == 0 && o.help, "--help");
	c = parse("mshare-run --version", &o, err, sizeof(err));
	ok(c == 0 && o.version, "--version");
	c = parse("mshare-run --dry-run --library /x/lib.so prog", &o, err, sizeof(err));
	ok(c == 0 && o.dry_run && o.library && !strcmp(o.library, "/x/lib.so"),
	   "--dry-run --library");

	/* the environment */
	parse("mshare-run -s 128M -n pg -m 640 -v prog", &o, err, sizeof(err));
	c = mr_build_env(&o, "/usr/lib/mshare/libmshare-run.so", NULL, env, err, sizeof(err));
	ok(c == 6 && env_has(env, c, "LD_PRELOAD=/usr/lib/mshare/libmshare-run.so") &&
	   env_has(env, c, "MSHARE_RUN_MIN_SIZE=134217728") &&
	   env_has(env, c, "MSHARE_RUN_NAME=pg") &&
	   env_has(env, c, "MSHARE_RUN_MODE=0640") &&
	   env_has(env, c, "MSHARE_RUN_VERBOSE=1") &&
	   env_has(env, c, "MSHARE_RUN_SYSV=1"), "environment of -s 128M -n pg -m 640 -v");
	for (int i = 0; i < c; i++)
		printf("#   %s\n", env[i]);
	parse("mshare-run --no-sysv prog", &o, err, sizeof(err));
	c = mr_build_env(&o, "/l.so", "/other.so", env, err, sizeof(err));
	ok(c == 5 && env_has(env, c, "LD_PRELOAD=/l.so /other.so") &&
	   env_has(env, c, "MSHARE_RUN_SYSV=0") && env_has(env, c, "MSHARE_RUN_VERBOSE=0"),
	   "an existing LD_PRELOAD comes after ours; no name, no System V");
	c = mr_build_env(&o, "lib.so", NULL, env, err, sizeof(err));
	ok(c == -1 && strstr(err, "absolute"), "a relative library path is refused");
	c = mr_build_env(&o, "/a b/lib.so", NULL, env, err, sizeof(err));
	ok(c == -1, "a library path with a space is refused");
	c = mr_build_env(&o, "/a:b/lib.so", NULL, env, err, sizeof(err));
	ok(c == -1, "a library path with a colon is refused");

	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * mshare-run: the command line and the environment for the program.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "preload.h"
#include "../mshare/util.h"

enum { OPT_NO_SYSV = 256, OPT_LIBRARY, OPT_DRY_RUN, OPT_VERSION };

static const struct option longopts[] = {
	{ "min-size", required_argument, NULL, 's' },
	{ "name", required_argument, NULL, 'n' },
	{ "mode", required_argument, NULL, 'm' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "no-sysv", no_argument, NULL, OPT_NO_SYSV },
	{ "library", required_argument, NULL, OPT_LIBRARY },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int fail(char *err, size_t len, const char *fmt, const char *arg)
{
	snprintf(err, len, fmt, arg);
	return -1;
}

int mr_parse_args(int argc, char *argv[], struct mr_opts *o, char *err,
		  size_t errlen)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->min_size = MR_DEFAULT_MIN_SIZE;
	o->mode = MR_DEFAULT_MODE;
	o->sysv = 1;
	err[0] = '\0';
	optind = 0;		/* a full reset: the tests parse many times */
	opterr = 0;
	/* '+': options end at the program's name */
	while ((c = getopt_long(argc, argv, "+:s:n:m:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &o->min_size))
				return fail(err, errlen, "invalid size '%s'", optarg);
			break;
		case 'n':
			/* room for "-shm-ID" and "-NN" after it */
			if (!*optarg || strchr(optarg, '/') || !strcmp(optarg, ".") ||
			    !strcmp(optarg, "..") || strlen(optarg) > NAME_MAX - 24)
				return fail(err, errlen, "invalid region name '%s'", optarg);
			o->name = optarg;
			break;
		case 'm':
			if (parse_mode(optarg, &o->mode))
				return fail(err, errlen, "invalid mode '%s' (octal, at most 0777)",
					    optarg);
			break;
		case 'v':
			o->verbose = 1;
			break;
		case OPT_NO_SYSV:
			o->sysv = 0;
			break;
		case OPT_LIBRARY:
			if (!*optarg)
				return fail(err, errlen, "invalid library '%s'", optarg);
			o->library = optarg;
			break;
		case OPT_DRY_RUN:
			o->dry_run = 1;
			break;
		case 'h':
			o->help = 1;
			return 0;
		case OPT_VERSION:
			o->version = 1;
			return 0;
		case ':':
			return fail(err, errlen, "option '%s' needs an argument",
				    argv[optind - 1]);
		default:
			if (optopt)
				snprintf(err, errlen, "unknown option '-%c'", optopt);
			else
				snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			return -1;
		}
	}
	if (optind >= argc)
		return fail(err, errlen, "%s", "no program to run");
	o->argi = optind;
	return 0;
}

int mr_build_env(const struct mr_opts *o, const char *lib,
		 const char *old_preload, char env[MR_ENV_MAX][MR_ENV_LEN],
		 char *err, size_t errlen)
{
	int n = 0, len;

	if (lib[0] != '/' || strpbrk(lib, " :\t\n"))
		return fail(err, errlen,
			    "the library path '%s' must be absolute, without spaces or colons",
			    lib);
	if (old_preload && *old_preload)
		len = snprintf(env[n], MR_ENV_LEN, "LD_PRELOAD=%s %s", lib, old_preload);
	else
		len = snprintf(env[n], MR_ENV_LEN, "LD_PRELOAD=%s", lib);
	if (len < 0 || len >= MR_ENV_LEN)
		return fail(err, errlen, "%s", "LD_PRELOAD is too long");
	n++;
	snprintf(env[n++], MR_ENV_LEN, MR_ENV_MIN_SIZE "=%llu",
		 (unsigned long long)o->min_size);
	snprintf(env[n++], MR_ENV_LEN, MR_ENV_MODE "=%04o", (unsigned int)o->mode);
	snprintf(env[n++], MR_ENV_LEN, MR_ENV_VERBOSE "=%d", o->verbose);
	snprintf(env[n++], MR_ENV_LEN, MR_ENV_SYSV "=%d", o->sysv);
	if (o->name)
		snprintf(env[n++], MR_ENV_LEN, MR_ENV_NAME "=%s", o->name);
	return n;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * mshare-run: its command line, and the environment it gives the program.
 */
#ifndef MSHARE_RUN_OPTIONS_H
#define MSHARE_RUN_OPTIONS_H

#include <stdint.h>
#include <sys/types.h>

struct mr_opts {
	uint64_t min_size;	/* --min-size */
	const char *name;	/* --name, or NULL */
	mode_t mode;		/* --mode */
	int verbose;		/* --verbose */
	int sysv;		/* 0 with --no-sysv */
	int dry_run;		/* --dry-run */
	const char *library;	/* --library, or NULL */
	int help, version;	/* --help, --version */
	int argi;		/* argv[argi] is the program */
};

/*
 * Parse mshare-run's options (getopt_long; they end at the first word
 * that is not an option, or at "--").  0, or -1 with the reason in @err.
 * With --help or --version set, the rest need not be valid.
 */
int mr_parse_args(int argc, char *argv[], struct mr_opts *o, char *err,
		  size_t errlen);

/* The environment entries mshare-run sets ("VAR=value"), at most this many. */
#define MR_ENV_MAX	6
#define MR_ENV_LEN	4200

/*
 * Fill @env with what the program gets: LD_PRELOAD (the library @lib
 * first, then @old_preload if set) and the MSHARE_RUN_* variables.  The
 * number of entries, or -1 with the reason in @err (a library path that
 * LD_PRELOAD cannot carry: relative, or with a space or a colon in it).
 */
int mr_build_env(const struct mr_opts *o, const char *lib,
		 const char *old_preload, char env[MR_ENV_MAX][MR_ENV_LEN],
		 char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * mshare-run: what the launcher and the preload library agree on.
 *
 * The launcher (mshare-run.c) passes its options to libmshare-run.so in
 * these environment variables; a program started with LD_PRELOAD by hand
 * may set them too.  Unset or invalid values mean the defaults.
 */
#ifndef MSHARE_RUN_PRELOAD_H
#define MSHARE_RUN_PRELOAD_H

/* Smallest mapping or segment put in a region, in bytes (decimal). */
#define MR_ENV_MIN_SIZE	"MSHARE_RUN_MIN_SIZE"
/* Name regions in msharefs: NAME, NAME-2, ... (System V: NAME-shm-ID). */
#define MR_ENV_NAME	"MSHARE_RUN_NAME"
/* Permissions of named regions, octal (default 0600). */
#define MR_ENV_MODE	"MSHARE_RUN_MODE"
/* 1: log what is done (and why not) to stderr. */
#define MR_ENV_VERBOSE	"MSHARE_RUN_VERBOSE"
/* 0: leave System V shared memory alone (default 1). */
#define MR_ENV_SYSV	"MSHARE_RUN_SYSV"

#define MR_DEFAULT_MIN_SIZE	(64ULL << 20)
#define MR_DEFAULT_MODE		0600

/* The preload library's file name. */
#define MR_LIBRARY	"libmshare-run.so"

#endif

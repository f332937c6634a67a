/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * mshare(1): sizes, modes, owners, JSON strings and the region's text.
 */
#ifndef MSHARE_CLI_UTIL_H
#define MSHARE_CLI_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Longest text human_size() writes, with the NUL. */
#define HUMAN_LEN	24

/*
 * Parse a size: decimal digits, an optional fraction, and an optional
 * binary suffix K, M, G, T, P or E (either case, optionally followed by
 * "iB" or "B"); a bare "B" means bytes.  The result must be a whole,
 * non-zero number of bytes that fits in 64 bits.  Returns 0 or -1.
 */
int parse_size(const char *s, uint64_t *out);

/* Parse an octal mode of at most 0777.  Returns 0 or -1. */
int parse_mode(const char *s, mode_t *out);

/*
 * Parse a number of seconds: decimal digits with an optional fraction
 * (at most nine digits).  Returns 0 or -1.
 */
int parse_seconds(const char *s, uint64_t *ns);

/* @v in the style of ls -h: "0", "512", "4.0K", "1.0G", "512M". */
const char *human_size(uint64_t v, char buf[HUMAN_LEN]);

/* The mode as ls -l shows it ("-rw-------"); @buf holds 11 bytes. */
const char *mode_string(mode_t mode, char buf[11]);

/* The user or group name of an id, or the id in decimal. */
const char *user_name(uid_t uid);
const char *group_name(gid_t gid);

/* @s as a JSON string, quotes included; bad UTF-8 becomes U+FFFD. */
void json_string(FILE *f, const char *s);

/* @s with each unprintable byte shown as '?' (for tables). */
void print_name(FILE *f, const char *s);
/* The width print_name() gives @s. */
size_t name_width(const char *s);

/*
 * The number of the "KEY: N" line of a region's text (read() of its fd);
 * 0, or -1 if there is no such line or it is not a number.
 */
int text_u64(const char *text, const char *key, uint64_t *out);

/*
 * The "pids:" line of a region's text: its process ids, sorted, in a
 * malloc()ed array (NULL when there are none) and their number.  0, or -1
 * if there is no such line, it is malformed, or memory runs out.
 */
int text_pids(const char *text, int **pids, size_t *n);

/*
 * @n pids joined by @sep in @buf (@len bytes, at least 8): "-" for none;
 * as many as fit followed by "..." when all do not.
 */
const char *pids_string(const int *pids, size_t n, char sep, char *buf,
			size_t len);

#endif

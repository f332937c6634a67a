// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * mshare(1): sizes, modes, owners, JSON strings and the region's text.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef MSHARE_NO_NSS
#include <grp.h>
#include <pwd.h>
#endif

#include "util.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	unsigned __int128 whole = 0, frac = 0, scale = 1, mult = 1, v;
	const char *p = s, *u;

	if (!is_digit(*p))
		return -1;	/* no sign, no space, no empty string */
	for (; is_digit(*p); p++) {
		whole = whole * 10 + (unsigned)(*p - '0');
		if (whole > UINT64_MAX)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -1;
		for (; is_digit(*p); p++) {
			if (scale >= 1000000000000000000ULL)
				return -1;	/* more digits than any unit needs */
			frac = frac * 10 + (unsigned)(*p - '0');
			scale *= 10;
		}
	}
	if (*p && (u = strchr(units, toupper((unsigned char)*p)))) {
		mult = (unsigned __int128)1 << (10 * (u - units + 1));
		p++;
		if (p[0] == 'i' && p[1] == 'B')
			p += 2;
		else if (p[0] == 'B')
			p++;
	} else if (*p == 'B') {
		p++;
	}
	if (*p)
		return -1;
	if ((frac * mult) % scale)
		return -1;	/* not a whole number of bytes */
	v = whole * mult + frac * mult / scale;
	if (!v || v > UINT64_MAX || v > SIZE_MAX)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int parse_mode(const char *s, mode_t *out)
{
	unsigned long m = 0;
	const char *p;

	if (!*s)
		return -1;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return -1;
		m = m * 8 + (unsigned long)(*p - '0');
		if (m > 0777)
			return -1;
	}
	*out = (mode_t)m;
	return 0;
}

int parse_seconds(const char *s, uint64_t *ns)
{
	uint64_t sec = 0, frac = 0, scale = 1000000000ULL;
	const char *p = s;

	if (!is_digit(*p))
		return -1;
	for (; is_digit(*p); p++) {
		sec = sec * 10 + (uint64_t)(*p - '0');
		if (sec > 100000000000ULL)	/* > 3000 years */
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -1;
		for (; is_digit(*p); p++) {
			if (scale == 1)
				return -1;
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	if (*p)
		return -1;
	*ns = sec * 1000000000ULL + frac;
	return 0;
}

const char *human_size(uint64_t v, char buf[HUMAN_LEN])
{
	static const char units[] = "KMGTPE";
	unsigned __int128 unit = 1024;
	int k = 0;

	if (v < 1024) {
		snprintf(buf, HUMAN_LEN, "%llu", (unsigned long long)v);
		return buf;
	}
	/* The smallest unit that shows @v in under four digits, rounded up. */
	while ((unsigned __int128)v >= unit * 1024 && k < 5) {
		unit *= 1024;
		k++;
	}
	for (;;) {
		unsigned __int128 tenths = ((unsigned __int128)v * 10 + unit - 1) / unit;
		unsigned __int128 whole = ((unsigned __int128)v + unit - 1) / unit;

		if (tenths < 100) {
			snprintf(buf, HUMAN_LEN, "%u.%u%c", (unsigned)(tenths / 10),
				 (unsigned)(tenths % 10), units[k]);
			return buf;
		}
		if (whole < 1024 || k == 5) {
			snprintf(buf, HUMAN_LEN, "%llu%c",
				 (unsigned long long)whole, units[k]);
			return buf;
		}
		unit *= 1024;	/* rounding up reached 1024: "1.0" of the next */
		k++;
	}
}

const char *mode_string(mode_t mode, char buf[11])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	buf[0] = S_ISREG(mode) ? '-' : S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' :
		 S_ISCHR(mode) ? 'c' : S_ISBLK(mode) ? 'b' : S_ISFIFO(mode) ? 'p' :
		 S_ISSOCK(mode) ? 's' : '?';
	for (i = 0; i < 9; i++)
		buf[i + 1] = mode & (0400 >> i) ? rwx[i] : '-';
	if (mode & S_ISUID)
		buf[3] = mode & S_IXUSR ? 's' : 'S';
	if (mode & S_ISGID)
		buf[6] = mode & S_IXGRP ? 's' : 'S';
	if (mode & S_ISVTX)
		buf[9] = mode & S_IXOTH ? 't' : 'T';
	buf[10] = '\0';
	return buf;
}

/*
 * Names of ids: from NSS where the program has it, else from the file
 * itself (a static binary has no NSS modules to load), else the number.
 * A few answers are kept, since ls asks for the same owners again.
 */
struct id_name {
	int used;
	unsigned int id;
	char name[64];
};

static int file_lookup(const char *file, unsigned int id, char *name,
		       size_t len)
{
	char line[1024];
	int found = 0;
	FILE *f;

	f = fopen(file, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		/* name:passwd:id:... */
		char *c1 = strchr(line, ':'), *c2, *end;
		unsigned long v;

		if (!c1 || !(c2 = strchr(c1 + 1, ':')) || !is_digit(c2[1]))
			continue;
		v = strtoul(c2 + 1, &end, 10);
		if (*end != ':' || v != id || c1 == line ||
		    (size_t)(c1 - line) >= len)
			continue;
		memcpy(name, line, (size_t)(c1 - line));
		name[c1 - line] = '\0';
		found = 1;
	}
	fclose(f);
	return found;
}

static const char *id_name(struct id_name *cache, size_t n, unsigned int id,
			   int group)
{
	static size_t next[2];
	struct id_name *e;
	size_t i;

	for (i = 0; i < n; i++)
		if (cache[i].used && cache[i].id == id)
			return cache[i].name;
	e = &cache[next[group]++ % n];
	e->used = 1;
	e->id = id;
	e->name[0] = '\0';
#ifndef MSHARE_NO_NSS
	if (group) {
		struct group *gr = getgrgid(id);

		if (gr && gr->gr_name && strlen(gr->gr_name) < sizeof(e->name))
			strcpy(e->name, gr->gr_name);
	} else {
		struct passwd *pw = getpwuid(id);

		if (pw && pw->pw_name && strlen(pw->pw_name) < sizeof(e->name))
			strcpy(e->name, pw->pw_name);
	}
#endif
	if (!e->name[0] &&
	    !file_lookup(group ? "/etc/group" : "/etc/passwd", id, e->name,
			 sizeof(e->name)))
		snprintf(e->name, sizeof(e->name), "%u", id);
	return e->name;
}

const char *user_name(uid_t uid)
{
	static struct id_name cache[16];

	return id_name(cache, 16, uid, 0);
}

const char *group_name(gid_t gid)
{
	static struct id_name cache[16];

	return id_name(cache, 16, gid, 1);
}

/* The length of the valid UTF-8 sequence at @s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;	/* overlong, out of range, or a surrogate */
	return n;
}

void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', f);
	while (*p) {
		size_t n = utf8_len(p);

		if (!n) {
			fputs("\\ufffd", f);
			p++;
		} else if (n > 1) {
			fwrite(p, 1, n, f);
			p += n;
		} else {
			switch (*p) {
			case '"':  fputs("\\\"", f); break;
			case '\\': fputs("\\\\", f); break;
			case '\b': fputs("\\b", f); break;
			case '\f': fputs("\\f", f); break;
			case '\n': fputs("\\n", f); break;
			case '\r': fputs("\\r", f); break;
			case '\t': fputs("\\t", f); break;
			default:
				if (*p < 0x20 || *p == 0x7f)
					fprintf(f, "\\u%04x", *p);
				else
					putc(*p, f);
			}
			p++;
		}
	}
	putc('"', f);
}

void print_name(FILE *f, const char *s)
{
	for (; *s; s++)
		putc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

size_t name_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* The start of the value of line "KEY:" of @text, or NULL. */
static const char *text_line(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *l = text;

	while (l && *l) {
		if (!strncmp(l, key, kl) && l[kl] == ':')
			return l + kl + 1;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return NULL;
}

int text_u64(const char *text, const char *key, uint64_t *out)
{
	const char *p = text_line(text, key);
	char *end;

	if (!p)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!is_digit(*p))
		return -1;
	errno = 0;
	*out = strtoull(p, &end, 10);
	if (errno || (*end && *end != '\n'))
		return -1;
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int text_pids(const char *text, int **pids, size_t *n)
{
	const char *p = text_line(text, "pids");
	int *v = NULL, *nv;
	size_t cnt = 0;

	*pids = NULL;
	*n = 0;
	if (!p)
		return -1;
	for (;;) {
		unsigned long long x = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n')
			break;
		if (!is_digit(*p))
			goto bad;
		for (; is_digit(*p); p++) {
			x = x * 10 + (unsigned)(*p - '0');
			if (x > INT32_MAX)
				goto bad;
		}
		if (*p && *p != ' ' && *p != '\t' && *p != '\n')
			goto bad;
		if (cnt % 16 == 0) {
			nv = realloc(v, (cnt + 16) * sizeof(*v));
			if (!nv)
				goto bad;
			v = nv;
		}
		v[cnt++] = (int)x;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_pid);
	*pids = v;
	*n = cnt;
	return 0;
bad:
	free(v);
	return -1;
}

const char *pids_string(const int *pids, size_t n, char sep, char *buf,
			size_t len)
{
	size_t used = 0, i;

	if (!n) {
		snprintf(buf, len, "-");
		return buf;
	}
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		char one[16];
		int l = snprintf(one, sizeof(one), "%s%d", i ? (char[]){ sep, 0 } : "",
				 pids[i]);
		/* room for this one, and "..." after it unless it is the last */
		size_t need = used + (size_t)l + (i + 1 < n ? 3 : 0) + 1;

		if (need > len)
			break;
		memcpy(buf + used, one, (size_t)l + 1);
		used += (size_t)l;
	}
	if (i < n)
		snprintf(buf + used, len - used, "...");
	return buf;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sga.h: what sgad (the SGA daemon) and sga-client (its "server processes")
 * share: the region layout, the socket protocol, the run-time counters and
 * the page pattern.  x86-64 only, host byte order throughout.
 *
 * The region (one mshare region, a multiple of 1 GiB):
 *
 *	offset 0                    SGA_STATE_SIZE (2 MiB)      region_size
 *	| state area (anonymous,    | file 0 | file 1 | ... |     (unused) |
 *	|  shared, populated)       |  each at a 2 MiB-aligned offset      |
 *
 * The state area starts with struct sga_layout (SGA_LAYOUT_SIZE bytes,
 * written once by sgad before the region gets its name), followed at
 * SGA_COUNTERS_OFF by struct sga_counters, which every attached client
 * updates with atomic operations.  The files are SGA files in the daemon's
 * directory, mapped MAP_SHARED (and populated) at file[i].region_off.
 * region_size = roundup(SGA_STATE_SIZE + sum of the 2 MiB-rounded file
 * sizes, 1 GiB).
 *
 * The socket protocol (Unix stream socket, sgad --socket PATH).  A client
 * connects and sends nothing; sgad sends
 *	1. struct sga_hello, with the region fd riding on it (SCM_RIGHTS,
 *	   mshare_send_fd()): O_RDWR;
 *	2. hello.layout_size bytes: struct sga_layout, the same bytes as at
 *	   offset 0 of the region;
 * and closes the connection.  A client checks magic and version of both
 * and refuses what it does not know.  A client that opens the region by
 * name (open() in msharefs) learns the same layout by reading it at offset
 * 0 of its attachment.  Version 1 is this header.
 *
 * The page pattern.  Every 4 KiB page of every SGA file is
 *	struct sga_page_hdr { magic, file, page, generation, seed }
 *	then 64-bit words w[i] = seed + i * SGA_GOLDEN, i = 4 .. 511,
 * with seed = sga_page_seed(file, page, generation): so any single page
 * can be checked completely on its own, and a page that moved, went stale
 * (an older generation) or had one bit flipped is found.  sgad bumps the
 * generation each time it refreshes the files.
 */
#ifndef SGA_H
#define SGA_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SGA_PAGE		4096UL
#define SGA_WORDS		(SGA_PAGE / 8)
#define SGA_ALIGN		(1UL << 30)	/* region granularity */
#define SGA_FILE_ALIGN		(2UL << 20)	/* files start 2 MiB-aligned */

#define SGA_PROTO_MAGIC		0x53474148u	/* "HAGS": the hello */
#define SGA_LAYOUT_MAGIC	0x5347414cu	/* "LAGS": the layout */
#define SGA_COUNTERS_MAGIC	0x53474143u	/* "CAGS": the counters */
#define SGA_PAGE_MAGIC		0x53474150u	/* "PAGS": each page */
#define SGA_VERSION		1

#define SGA_STATE_SIZE		(2UL << 20)
#define SGA_LAYOUT_SIZE		8192UL
#define SGA_COUNTERS_OFF	SGA_LAYOUT_SIZE
#define SGA_MAX_FILES		64
#define SGA_FILE_NAME		64
#define SGA_DIR_NAME		192

/* What sgad sends first, with the region fd. */
struct sga_hello {
	uint32_t magic;		/* SGA_PROTO_MAGIC */
	uint16_t version;	/* SGA_VERSION */
	uint16_t hello_size;	/* sizeof(struct sga_hello) */
	uint32_t layout_size;	/* bytes of layout that follow */
	uint32_t daemon_pid;
};

struct sga_file {
	char name[SGA_FILE_NAME];	/* in sga_layout.dir */
	uint64_t region_off;		/* where the file starts in the region */
	uint64_t size;			/* bytes, a multiple of SGA_PAGE */
};

/* At offset 0 of the region, and on the socket after the hello. */
struct sga_layout {
	uint32_t magic;		/* SGA_LAYOUT_MAGIC */
	uint16_t version;	/* SGA_VERSION */
	uint16_t file_size;	/* sizeof(struct sga_file) */
	uint32_t layout_size;	/* sizeof(struct sga_layout) */
	uint32_t nfiles;
	uint64_t region_size;
	uint64_t generation;	/* of the page pattern in every file */
	uint64_t state_off;	/* the state area: 0 */
	uint64_t state_size;	/* SGA_STATE_SIZE */
	uint64_t counters_off;	/* SGA_COUNTERS_OFF */
	uint64_t files_bytes;	/* sum of the file sizes */
	char region_name[64];	/* the msharefs name */
	char dir[SGA_DIR_NAME];	/* the SGA directory */
	struct sga_file files[SGA_MAX_FILES];
};

_Static_assert(sizeof(struct sga_layout) <= SGA_LAYOUT_SIZE, "layout size");

/* In the state area at SGA_COUNTERS_OFF; updated with __atomic builtins. */
struct sga_counters {
	uint32_t magic;		/* SGA_COUNTERS_MAGIC */
	uint32_t daemon_pid;
	uint64_t daemon_running;	/* 1 while sgad serves, 0 once stopped */
	uint64_t attached;	/* clients attached now */
	uint64_t attaches;	/* client attaches, ever */
	uint64_t pages_touched;
	uint64_t pages_verified;
	uint64_t bad_pages;
	uint64_t fds_sent;	/* by sgad, over the socket */
};

struct sga_page_hdr {
	uint32_t magic;		/* SGA_PAGE_MAGIC */
	uint32_t file;
	uint64_t page;
	uint64_t generation;
	uint64_t seed;
};

#define SGA_GOLDEN		0x9e3779b97f4a7c15ULL
#define SGA_HDR_WORDS		(sizeof(struct sga_page_hdr) / 8)

static inline uint64_t sga_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline uint64_t sga_page_seed(uint32_t file, uint64_t page,
				     uint64_t generation)
{
	return sga_mix64(((uint64_t)file << 40) ^ page ^
			 sga_mix64(generation + SGA_GOLDEN));
}

/* Write the pattern of (@file, @page, @generation) into the page at @p. */
static inline void sga_fill_page(void *p, uint32_t file, uint64_t page,
				 uint64_t generation)
{
	uint64_t seed = sga_page_seed(file, page, generation);
	struct sga_page_hdr h = {
		.magic = SGA_PAGE_MAGIC, .file = file, .page = page,
		.generation = generation, .seed = seed,
	};
	uint64_t *w = p;

	memcpy(p, &h, sizeof(h));
	for (size_t i = SGA_HDR_WORDS; i < SGA_WORDS; i++)
		w[i] = seed + i * SGA_GOLDEN;
}

/*
 * Check the page at @p against the pattern of (@file, @page, @generation).
 * Returns -1 if it is right, else the byte offset of the first 64-bit word
 * that is wrong; *@want and *@got get that word's expected and found
 * values.
 */
static inline long sga_check_page(const void *p, uint32_t file, uint64_t page,
				  uint64_t generation, uint64_t *want,
				  uint64_t *got)
{
	uint64_t seed = sga_page_seed(file, page, generation);
	struct sga_page_hdr h = {
		.magic = SGA_PAGE_MAGIC, .file = file, .page = page,
		.generation = generation, .seed = seed,
	};
	const volatile uint64_t *w = p;
	uint64_t hw[SGA_HDR_WORDS];

	memcpy(hw, &h, sizeof(hw));

	for (size_t i = 0; i < SGA_WORDS; i++) {
		uint64_t e = i < SGA_HDR_WORDS ? hw[i] : seed + i * SGA_GOLDEN;
		uint64_t v = w[i];

		if (v != e) {
			*want = e;
			*got = v;
			return (long)(i * 8);
		}
	}
	return -1;
}

/* Parse "123", "64K", "256M", "1G" (binary units); 0 on a bad string. */
static inline uint64_t sga_parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (end == s)
		return 0;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	case 't': case 'T': v <<= 40; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	return *end ? 0 : v;
}

#endif /* SGA_H */

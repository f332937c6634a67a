// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Unit tests of mshare(1)'s sizes, modes, seconds, JSON strings and the
 * parsing of a region's text ("processes:", "pids:"), on the host (make
 * check).  TAP output; exit 1 on any failure.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static int n, failed;

static void ok(int cond, const char *what, const char *arg)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s '%s'\n", cond ? "" : "not ", n, what, arg);
}

static void size_ok(const char *s, unsigned long long want)
{
	uint64_t v = 0;
	int ret = parse_size(s, &v);

	ok(ret == 0 && v == want, "parse_size", s);
	if (ret || v != want)
		printf("# got ret %d value %llu, want %llu\n", ret,
		       (unsigned long long)v, want);
}

static void size_bad(const char *s)
{
	uint64_t v = 0;

	ok(parse_size(s, &v) == -1, "parse_size refuses", s);
}

static void human_ok(unsigned long long v, const char *want)
{
	char buf[HUMAN_LEN];

	human_size(v, buf);
	ok(!strcmp(buf, want), "human_size", want);
	if (strcmp(buf, want))
		printf("# %llu gave '%s'\n", v, buf);
}

static void json_ok(const char *s, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_string(f, s);
	fclose(f);
	ok(!strcmp(buf, want), "json_string", want);
	if (strcmp(buf, want))
		printf("# gave %s\n", buf);
	free(buf);
}

static const char region_text[] =
	"size: 1073741824\nattachments: 3\nmappings: 1\nresident: 16777216\n"
	"pgtable: 40960\npgtable_saved: 69632\nprocesses: 2\npids: 345 12\n"
	"mapping: 0x0-0x1000000 rw-s shmem 0x0\n";

static void pids_ok(const char *text, const char *want)
{
	char buf[64] = "", got[64];
	size_t n = 0;
	int *p = NULL;
	int ret = text_pids(text, &p, &n);

	if (ret == 0)
		pids_string(p, n, ' ', buf, sizeof(buf));
	snprintf(got, sizeof(got), "%s", ret ? "(error)" : buf);
	ok(!strcmp(got, want), "text_pids", want);
	if (strcmp(got, want))
		printf("# gave '%s'\n", got);
	free(p);
}

static void pidstr_ok(const int *p, size_t n, size_t len, const char *want)
{
	char buf[64];

	pids_string(p, n, ',', buf, len);
	ok(!strcmp(buf, want), "pids_string", want);
	if (strcmp(buf, want))
		printf("# gave '%s'\n", buf);
}

int main(void)
{
	static const int many[] = { 101, 2202, 30303, 404, 5, 60606 };
	uint64_t v;
	char mb[11];
	mode_t m;
	uint64_t ns;

	size_ok("1", 1);
	size_ok("4096", 4096);
	size_ok("1K", 1024);
	size_ok("1k", 1024);
	size_ok("1KiB", 1024);
	size_ok("1KB", 1024);
	size_ok("512M", 512ULL << 20);
	size_ok("1G", 1ULL << 30);
	size_ok("1g", 1ULL << 30);
	size_ok("1GiB", 1ULL << 30);
	size_ok("2T", 2ULL << 40);
	size_ok("1.5G", 3ULL << 29);
	size_ok("0.5K", 512);
	size_ok("1.0", 1);
	size_ok("100B", 100);
	size_ok("15E", 15ULL << 60);
	size_ok("18446744073709551615", 18446744073709551615ULL);
	size_bad("");
	size_bad("0");
	size_bad("0G");
	size_bad("0.0M");
	size_bad("abc");
	size_bad("G");
	size_bad("-1");
	size_bad("+1");
	size_bad(" 1");
	size_bad("1 ");
	size_bad("1GG");
	size_bad("1Gi");
	size_bad("1X");
	size_bad("1.");
	size_bad(".5G");
	size_bad("1.5");
	size_bad("0.1K");	/* 102.4 bytes */
	size_bad("16E");
	size_bad("18446744073709551616");
	size_bad("99999999999999999999999G");
	size_bad("0x10");

	human_ok(0, "0");
	human_ok(1, "1");
	human_ok(1023, "1023");
	human_ok(1024, "1.0K");
	human_ok(1025, "1.1K");
	human_ok(4096, "4.0K");
	human_ok(10240, "10K");
	human_ok(10241, "11K");
	human_ok(1047552, "1023K");
	human_ok(1047553, "1.0M");
	human_ok(512ULL << 20, "512M");
	human_ok(1ULL << 30, "1.0G");
	human_ok(3ULL << 29, "1.5G");
	human_ok(16ULL << 30, "16G");
	human_ok(15ULL << 60, "15E");
	human_ok(18446744073709551615ULL, "16E");

	ok(parse_mode("600", &m) == 0 && m == 0600, "parse_mode", "600");
	ok(parse_mode("0644", &m) == 0 && m == 0644, "parse_mode", "0644");
	ok(parse_mode("0", &m) == 0 && m == 0, "parse_mode", "0");
	ok(parse_mode("1777", &m) == -1, "parse_mode refuses", "1777");
	ok(parse_mode("8", &m) == -1, "parse_mode refuses", "8");
	ok(parse_mode("", &m) == -1, "parse_mode refuses", "");
	ok(parse_mode("rw", &m) == -1, "parse_mode refuses", "rw");

	ok(parse_seconds("3", &ns) == 0 && ns == 3000000000ULL,
	   "parse_seconds", "3");
	ok(parse_seconds("0.25", &ns) == 0 && ns == 250000000ULL,
	   "parse_seconds", "0.25");
	ok(parse_seconds("0", &ns) == 0 && ns == 0, "parse_seconds", "0");
	ok(parse_seconds("1.0000000001", &ns) == -1, "parse_seconds refuses",
	   "1.0000000001");
	ok(parse_seconds("-1", &ns) == -1, "parse_seconds refuses", "-1");
	ok(parse_seconds("1s", &ns) == -1, "parse_seconds refuses", "1s");

	ok(!strcmp(mode_string(S_IFREG | 0600, mb), "-rw-------"),
	   "mode_string", "-rw-------");
	ok(!strcmp(mode_string(S_IFREG | 0754, mb), "-rwxr-xr--"),
	   "mode_string", "-rwxr-xr--");
	ok(!strcmp(mode_string(S_IFDIR | 01777, mb), "drwxrwxrwt"),
	   "mode_string", "drwxrwxrwt");

	json_ok("plain", "\"plain\"");
	json_ok("a\"b\\c", "\"a\\\"b\\\\c\"");
	json_ok("tab\there\nnl", "\"tab\\there\\nnl\"");
	json_ok("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	json_ok("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	json_ok("bad\xff\xc3", "\"bad\\ufffd\\ufffd\"");
	json_ok("\xc0\xaf", "\"\\ufffd\\ufffd\"");	/* overlong '/' */
	json_ok("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");	/* surrogate */

	ok(!strcmp(user_name(0), "root"), "user_name", "0 is root");
	ok(!strcmp(user_name(4000000000U), "4000000000"), "user_name",
	   "unknown uid is a number");

	ok(text_u64(region_text, "processes", &v) == 0 && v == 2, "text_u64",
	   "processes: 2");
	ok(text_u64(region_text, "pgtable_saved", &v) == 0 && v == 69632,
	   "text_u64", "pgtable_saved: 69632");
	ok(text_u64(region_text, "pgtable", &v) == 0 && v == 40960, "text_u64",
	   "pgtable, not pgtable_saved");
	ok(text_u64(region_text, "missing", &v) == -1, "text_u64 refuses",
	   "no such line");
	ok(text_u64("processes: x\n", "processes", &v) == -1,
	   "text_u64 refuses", "processes: x");
	ok(text_u64("processes: 3", "processes", &v) == 0 && v == 3,
	   "text_u64", "no newline at the end");
	pids_ok(region_text, "12 345");
	pids_ok("pids:\nmapping: 0x0-0x1000 rw-s shmem 0x0\n", "-");
	pids_ok("pids: \n", "-");
	pids_ok("pids: 7", "7");
	pids_ok("pids: 3 2 1\n", "1 2 3");
	pids_ok("size: 1\n", "(error)");
	pids_ok("pids: 1x\n", "(error)");
	pids_ok("pids: -1\n", "(error)");
	pids_ok("pids: 99999999999\n", "(error)");
	pidstr_ok(many, 0, 32, "-");
	pidstr_ok(many, 1, 32, "101");
	pidstr_ok(many, 3, 32, "101,2202,30303");
	pidstr_ok(many, 6, 32, "101,2202,30303,404,5,60606");
	pidstr_ok(many, 6, 20, "101,2202,30303...");
	pidstr_ok(many, 6, 8, "101...");
	pidstr_ok(many, 2, 9, "101,2202");

	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

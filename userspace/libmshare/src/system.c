/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libmshare: the system side: where msharefs is, the region alignment,
 * and what this kernel offers.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "internal.h"

MSHARE_API const char *mshare_dir(void)
{
	const char *dir = getenv("MSHARE_DIR");

	return dir && *dir ? dir : MSHARE_FS_DIR;
}

/* 1 if msharefs is mounted at @dir, 0 if not (or @dir is unusable). */
int mshare__fs_mounted(const char *dir)
{
	struct statfs sfs;

	if (statfs(dir, &sfs))
		return 0;
	return (unsigned long)sfs.f_type == MSHAREFS_MAGIC;
}

/*
 * "<mshare_dir()>/<name>" into @path: 0, -EINVAL for a name that is not
 * one file name ("", ".", "..", '/' in it), -ENAMETOOLONG, or -ENODEV if
 * msharefs is not mounted at the directory.
 */
int mshare__name_path(const char *name, char *path, size_t size)
{
	const char *dir = mshare_dir();
	size_t len;
	int n;

	if (!name || !*name || strchr(name, '/') ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	len = strlen(name);
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (!mshare__fs_mounted(dir))
		return -ENODEV;
	n = snprintf(path, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Read <dir>/mshare_info: the alignment (> 0), or -errno. */
static long long read_alignment(const char *dir)
{
	char path[PATH_MAX], buf[32], *end;
	unsigned long long val;
	ssize_t n;
	int fd, len;

	len = snprintf(path, sizeof(path), "%s/mshare_info", dir);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mshare__neg_errno();
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = mshare__neg_errno();

		close(fd);
		return err;
	}
	close(fd);
	buf[n] = '\0';
	errno = 0;
	val = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || !val ||
	    (val & (val - 1)) || val > LLONG_MAX)
		return -EIO;	/* not the decimal power of two we expect */
	return (long long)val;
}

MSHARE_API long long mshare_alignment(void)
{
	MSHARE_KEEP_ERRNO;
	const char *dir = mshare_dir();

	if (!mshare__fs_mounted(dir))
		return -ENODEV;
	return read_alignment(dir);
}

/*
 * Does the running kernel have mshare?  Its system call number is not
 * reserved upstream (463 is setxattrat() from Linux 6.13 on), so the
 * number alone proves nothing: the kernel must also list msharefs, which
 * CONFIG_MSHARE always registers.  1: yes, 0: no, -1: cannot tell
 * (/proc not mounted), then callers just try the system call.
 */
int mshare__kernel_has_mshare(void)
{
	static int cached;	/* 0: not looked yet, 1: yes, 2: no */
	int val = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	char line[128];
	FILE *f;

	if (val)
		return val == 1;
	f = fopen("/proc/filesystems", "re");
	if (!f)
		return -1;	/* not cached: /proc may be mounted later */
	val = 2;
	while (fgets(line, sizeof(line), f)) {
		char *tab = strrchr(line, '\t');
		char *name = tab ? tab + 1 : line;

		name[strcspn(name, "\n")] = '\0';
		if (!strcmp(name, "msharefs")) {
			val = 1;
			break;
		}
	}
	fclose(f);
	__atomic_store_n(&cached, val, __ATOMIC_RELAXED);
	return val == 1;
}

/* Is the mshare_create() system call there?  Probe with invalid flags. */
static int have_syscall(void)
{
#ifdef __NR_mshare_create
	long ret;

	if (!mshare__kernel_has_mshare())
		return 0;
	ret = syscall(__NR_mshare_create, 0UL, ~0U, 0UL, 0UL, 0UL, 0UL);

	if (ret >= 0) {		/* cannot happen with these flags */
		close((int)ret);
		return 1;
	}
	return errno != ENOSYS;
#else
	return 0;
#endif
}

MSHARE_API int mshare_query(struct mshare_sysinfo *info)
{
	MSHARE_KEEP_ERRNO;
	const char *dir = mshare_dir();
	long long align;

	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	snprintf(info->dir, sizeof(info->dir), "%s", dir);
	info->syscall = have_syscall();
	info->mounted = mshare__fs_mounted(dir);
	align = info->mounted ? read_alignment(dir) : -ENODEV;
	/* Without msharefs (or a readable mshare_info): the built-in value */
	info->align = align > 0 ? (uint64_t)align : MSHARE_ALIGN;
	return 0;
}

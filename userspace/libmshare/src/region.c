/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libmshare: regions, their names and their figures.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "internal.h"

MSHARE_API int mshare_create(size_t size, unsigned int flags)
{
	MSHARE_KEEP_ERRNO;
#ifdef __NR_mshare_create
	long ret;

	if (!mshare__kernel_has_mshare())
		return -ENOSYS;	/* and 463 may be another system call */
	ret = syscall(__NR_mshare_create, (unsigned long)size, flags);
	if (ret < 0)
		return mshare__neg_errno();
	return (int)ret;
#else
	(void)size;
	(void)flags;
	return -ENOSYS;
#endif
}

/*
 * Open @path creating it if needed; *@created tells whether this call made
 * the file.  Without O_EXCL an existing file is opened, retrying if it goes
 * away in between.
 */
static int open_or_create(const char *path, mode_t mode, int oflags,
			  int *created)
{
	int base = O_RDWR | (oflags & O_CLOEXEC);
	int fd, tries;

	for (tries = 0; tries < 100; tries++) {
		fd = open(path, base | O_CREAT | O_EXCL, mode);
		if (fd >= 0) {
			*created = 1;
			return fd;
		}
		if (errno != EEXIST || (oflags & O_EXCL))
			return mshare__neg_errno();
		fd = open(path, base);
		if (fd >= 0) {
			*created = 0;
			return fd;
		}
		if (errno != ENOENT)
			return mshare__neg_errno();
	}
	return -EAGAIN;
}

MSHARE_API int mshare_create_named(const char *name, size_t size,
				   mode_t mode, int oflags)
{
	MSHARE_KEEP_ERRNO;
	char path[PATH_MAX];
	int fd, ret, created = 0;
	struct stat fst, pst;

	if (oflags & ~(O_EXCL | O_CLOEXEC))
		return -EINVAL;
	if (mode & ~(mode_t)07777)
		return -EINVAL;
	ret = mshare__name_path(name, path, sizeof(path));
	if (ret)
		return ret;
	if (!size || size > (size_t)INT64_MAX)
		return -EINVAL;
	fd = open_or_create(path, mode, oflags, &created);
	if (fd < 0)
		return fd;

	/* The size is set once; the same size again is a no-op (EBUSY if not) */
	if (ftruncate(fd, (off_t)size) == 0)
		return fd;

	ret = mshare__neg_errno();
	/* Made here and left unsized: remove it, if the name is still ours. */
	if (created && !fstat(fd, &fst) && !stat(path, &pst) &&
	    fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino)
		unlink(path);
	close(fd);
	return ret;
}

MSHARE_API int mshare_open(const char *name, int oflags)
{
	MSHARE_KEEP_ERRNO;
	char path[PATH_MAX];
	int fd, ret;

	if ((oflags & ~(O_ACCMODE | O_CLOEXEC)) ||
	    ((oflags & O_ACCMODE) != O_RDONLY && (oflags & O_ACCMODE) != O_RDWR))
		return -EINVAL;
	ret = mshare__name_path(name, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, oflags);
	if (fd < 0)
		return mshare__neg_errno();
	return fd;
}

MSHARE_API int mshare_link(int fd, const char *name, mode_t mode)
{
	MSHARE_KEEP_ERRNO;
	struct mshare_link ml;
	char path[PATH_MAX];
	int ret;

	if (fd < 0)
		return -EBADF;
	if (mode & ~(mode_t)07777)
		return -EINVAL;
	ret = mshare__name_path(name, path, sizeof(path));
	if (ret)
		return ret;
	ret = mshare_is_region(fd);
	if (ret < 0)
		return ret;
	if (!ret)
		return -EINVAL;
	memset(&ml, 0, sizeof(ml));
	ml.mode = mode;
	memcpy(ml.name, name, strlen(name) + 1);	/* <= NAME_MAX, checked */
	if (ioctl(fd, MSHAREFS_LINK, &ml))
		return mshare__neg_errno();
	return 0;
}

MSHARE_API int mshare_unlink(const char *name)
{
	MSHARE_KEEP_ERRNO;
	char path[PATH_MAX];
	int ret;

	ret = mshare__name_path(name, path, sizeof(path));
	if (ret)
		return ret;
	if (unlink(path))
		return mshare__neg_errno();
	return 0;
}

/* 0 if @fd is on msharefs, -EBADF for a bad fd, -EINVAL for another file */
int mshare__check_fs(int fd)
{
	struct statfs sfs;

	if (fd < 0)
		return -EBADF;
	if (fstatfs(fd, &sfs))
		return mshare__neg_errno();
	if ((unsigned long)sfs.f_type != MSHAREFS_MAGIC)
		return -EINVAL;
	return 0;
}

/*
 * MSHAREFS_GET_STAT on @fd: 0, -EBADF for a bad fd, -EINVAL if @fd is not
 * a region (checked by its filesystem first, so no other driver's ioctl is
 * ever called), or another -errno.
 */
int mshare__get_stat(int fd, struct mshare_stat *st)
{
	int ret = mshare__check_fs(fd);

	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	if (ioctl(fd, MSHAREFS_GET_STAT, st)) {
		/* msharefs root or mshare_info: on msharefs, not a region */
		if (errno == ENOTTY)
			return -EINVAL;
		return mshare__neg_errno();
	}
	return 0;
}

MSHARE_API long long mshare_size(int fd)
{
	MSHARE_KEEP_ERRNO;
	struct mshare_stat st;
	int ret;

	ret = mshare__get_stat(fd, &st);
	if (ret)
		return ret;
	if (st.size > (uint64_t)INT64_MAX)
		return -EOVERFLOW;
	return (long long)st.size;
}

static void copy_stats(struct mshare_stats *out, const struct mshare_stat *in)
{
	out->size = in->size;
	out->attachments = in->attachments;
	out->mappings = in->mappings;
	out->resident = in->resident;
	out->pgtable = in->pgtable;
	out->pgtable_saved = in->pgtable_saved;
}

MSHARE_API int mshare_stat(int fd, struct mshare_stats *st)
{
	MSHARE_KEEP_ERRNO;
	struct mshare_stat kst;
	int ret;

	if (!st)
		return -EINVAL;
	ret = mshare__get_stat(fd, &kst);
	if (ret)
		return ret;
	copy_stats(st, &kst);
	return 0;
}

MSHARE_API int mshare_stat_name(const char *name, struct mshare_stats *st)
{
	MSHARE_KEEP_ERRNO;
	struct mshare_stat kst;
	char path[PATH_MAX];
	int fd, ret;

	if (!st)
		return -EINVAL;
	ret = mshare__name_path(name, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mshare__neg_errno();
	ret = mshare__get_stat(fd, &kst);
	close(fd);
	if (ret)
		return ret;
	copy_stats(st, &kst);
	return 0;
}

MSHARE_API int mshare_is_region(int fd)
{
	MSHARE_KEEP_ERRNO;
	struct mshare_stat st;
	int ret;

	ret = mshare__get_stat(fd, &st);
	if (ret == -EINVAL)
		return 0;
	return ret ? ret : 1;
}

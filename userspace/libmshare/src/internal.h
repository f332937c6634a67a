/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libmshare internals.  The public header is included after the kernel's
 * uapi headers, whose MSHARE_CLOEXEC/MSHARE_ALIGN it then leaves alone.
 */
#ifndef LIBMSHARE_INTERNAL_H
#define LIBMSHARE_INTERNAL_H

#include <errno.h>
#include <linux/mshare.h>
#include <linux/msharefs.h>

#include "mshare.h"

#ifndef MSHARE_MAGIC
#define MSHARE_MAGIC		0x4d534852
#endif

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

/* Every exported function is marked; the rest stays hidden. */
#define MSHARE_API	__attribute__((visibility("default")))

/*
 * The API leaves errno alone: MSHARE_KEEP_ERRNO at the top of a public
 * function restores errno when the function returns, after the return
 * value (often -errno) has been computed.
 */
static inline void mshare__restore_errno(int *saved)
{
	errno = *saved;
}
#define MSHARE_KEEP_ERRNO \
	int mshare__saved_errno __attribute__((cleanup(mshare__restore_errno))) = errno

/* -errno of the last failure, never 0 (a failure with errno 0 is -EIO) */
static inline int mshare__neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/* system.c */
int mshare__kernel_has_mshare(void);
int mshare__fs_mounted(const char *dir);
int mshare__name_path(const char *name, char *path, size_t size);

/* region.c */
int mshare__check_fs(int fd);
int mshare__get_stat(int fd, struct mshare_stat *st);

#endif /* LIBMSHARE_INTERNAL_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libmshare: processes that share one set of page tables for a region of
 * memory.  See mshare(7) for the concepts and each function's page in
 * section 3.
 *
 * Error convention (the liburing one): every function that can fail
 * returns a negative errno value (-EINVAL, -ENOSYS, ...) on failure and
 * 0, or the documented non-negative result, on success.  errno is left
 * alone.  Pointers come back through out-parameters, never as MAP_FAILED.
 *
 * On a kernel without mshare, mshare_create() gives -ENOSYS and the name
 * functions give -ENODEV (msharefs is not mounted); nothing else is tried.
 *
 * Self-contained: needs no kernel headers.  Link with -lmshare
 * (pkg-config --cflags --libs libmshare).
 */
#ifndef LIBMSHARE_MSHARE_H
#define LIBMSHARE_MSHARE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBMSHARE_VERSION_MAJOR	1
#define LIBMSHARE_VERSION_MINOR	0

/* Where msharefs is mounted; $MSHARE_DIR overrides it for the library. */
#define MSHARE_FS_DIR		"/sys/fs/mshare"

/* mshare_create() flags (same values as <linux/mshare.h>) */
#ifndef MSHARE_CLOEXEC
#define MSHARE_CLOEXEC		0x0001U
#endif

/*
 * Region sizes and attach addresses are multiples of this (1 GiB, x86-64).
 * Spelt exactly as in <linux/mshare.h>, so that both can be included in
 * either order.
 */
#ifndef MSHARE_ALIGN_SHIFT
#define MSHARE_ALIGN_SHIFT	30
#endif
#ifndef MSHARE_ALIGN
#define MSHARE_ALIGN		(1ULL << MSHARE_ALIGN_SHIFT)
#endif

/* A region's figures, in bytes unless named (MSHAREFS_GET_STAT). */
struct mshare_stats {
	uint64_t size;		/* the region's size; 0 until set */
	uint64_t attachments;	/* attached VMAs, in all processes */
	uint64_t mappings;	/* mappings inside the region */
	uint64_t resident;	/* resident memory mapped by the region */
	uint64_t pgtable;	/* page tables the region holds, paid once */
	uint64_t pgtable_saved;	/* page tables the sharing saves (measured) */
};

/* What mshare_query() finds about this system. */
struct mshare_sysinfo {
	uint64_t align;		/* region alignment, from mshare_info
				   (MSHARE_ALIGN if not mounted) */
	int syscall;		/* 1: mshare_create() is there, 0: -ENOSYS */
	int mounted;		/* 1: msharefs is mounted at the directory */
	char dir[256];		/* the msharefs directory used */
};

/* ---- the system ---- */

/* The region alignment in bytes (> 0), or -errno. */
long long mshare_alignment(void);
/* Fill @info; returns 0 even when the feature is missing (see fields). */
int mshare_query(struct mshare_sysinfo *info);
/* The msharefs directory the library uses (MSHARE_DIR or MSHARE_FS_DIR). */
const char *mshare_dir(void);

/* ---- regions and names ---- */

/* A new unnamed region of @size bytes; returns an O_RDWR fd, or -errno. */
int mshare_create(size_t size, unsigned int flags);
/*
 * Create the region @name in msharefs with permissions @mode and set its
 * size; returns an O_RDWR fd or -errno.  @oflags may hold O_EXCL and
 * O_CLOEXEC.  Without O_EXCL an existing region of the same size is
 * opened (a different size gives -EBUSY).  A region left half made (size
 * not set) by a failure here is unlinked again.
 */
int mshare_create_named(const char *name, size_t size, mode_t mode,
			int oflags);
/* Open the region @name; @oflags is O_RDONLY or O_RDWR, | O_CLOEXEC. */
int mshare_open(const char *name, int oflags);
/* Give the unnamed region behind @fd the name @name (MSHAREFS_LINK). */
int mshare_link(int fd, const char *name, mode_t mode);
/* Remove the name; fds and attachments keep the region. */
int mshare_unlink(const char *name);
/* The region's size in bytes (>= 0), or -errno; -EBADF/-EINVAL if @fd is
 * not a region. */
long long mshare_size(int fd);
/* Stats of the region behind @fd, or of the named region. */
int mshare_stat(int fd, struct mshare_stats *st);
int mshare_stat_name(const char *name, struct mshare_stats *st);
/* 1 if @fd is a region fd, 0 if not, -errno (-EBADF) if @fd is bad. */
int mshare_is_region(int fd);

/* ---- attaching ---- */

/*
 * Attach the whole region behind @fd at @addr (NULL: the kernel picks an
 * aligned address; else it must be aligned and free: MAP_FIXED_NOREPLACE)
 * with @prot (PROT_READ, or PROT_READ | PROT_WRITE; a read-only fd
 * attaches read-only).  The attachment's address goes to *@out.
 */
int mshare_attach(int fd, void *addr, int prot, void **out);
/*
 * Attach only [@off, @off + @len) of the region (a window: @off and @len
 * multiples of the alignment, inside the region), at @addr as above.
 * Region offset @off is at *@out.
 */
int mshare_attach_window(int fd, size_t off, size_t len, void *addr, int prot,
			 void **out);
/* Detach: munmap the whole attachment of @size bytes at @addr. */
int mshare_detach(void *addr, size_t size);

/* ---- what is in a region ---- */

/*
 * Map @len bytes of @file_fd from @file_off (or anonymous shared memory if
 * @file_fd is -1) at @region_off in the region, with @prot and @flags:
 * MAP_SHARED, plus optional MAP_POPULATE, MAP_HUGETLB (| MAP_HUGE_*),
 * MAP_FIXED_NOREPLACE.  mshare_map() uses the region fd and needs no
 * attachment (MSHAREFS_CREATE_MAPPING); mshare_map_at() goes through the
 * attachment at @base with mmap(MAP_FIXED).
 */
int mshare_map(int fd, size_t region_off, size_t len, int prot, int flags,
	       int file_fd, off_t file_off);
int mshare_map_at(void *base, size_t region_off, size_t len, int prot,
		  int flags, int file_fd, off_t file_off);
/* Unmap [@region_off, +@len) of the region, by fd (ioctl) or via @base. */
int mshare_unmap(int fd, size_t region_off, size_t len);
int mshare_unmap_at(void *base, size_t region_off, size_t len);
/* mprotect inside the region, via the attachment at @base; all sharers
 * see it. */
int mshare_protect_at(void *base, size_t region_off, size_t len, int prot);

/* ---- passing regions between processes (SCM_RIGHTS) ---- */

/*
 * Send @fd over the connected Unix socket @sock with @len bytes of @data
 * (@len >= 1; NULL data with @len 0 or 1 sends one zero byte).  Handles
 * EINTR and partial writes; returns 0 or -errno (-EPIPE if the peer went
 * away).
 */
int mshare_send_fd(int sock, int fd, const void *data, size_t len);
/*
 * Receive an fd and exactly @len bytes of data sent by mshare_send_fd()
 * (NULL data with @len 0 or 1: one byte, dropped).  The new fd
 * (close-on-exec) goes to *@fd, only on success.  Returns 0, or -errno:
 * -ECONNRESET if the peer closed before the whole message, -EBADMSG if
 * the message carried no fd (or more than one: extras are closed).
 */
int mshare_recv_fd(int sock, int *fd, void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* LIBMSHARE_MSHARE_H */

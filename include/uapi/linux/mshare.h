/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mshare: processes that share page tables for a region of memory.
 *
 *	int mshare_create(size_t size, unsigned int flags);
 *
 * returns an O_RDWR file descriptor for a new, empty region of @size bytes:
 * an address space that no task runs in.  @size must be a non-zero multiple
 * of MSHARE_ALIGN.  mmap(addr, size, prot, MAP_SHARED, fd, 0) attaches the
 * whole region at an MSHARE_ALIGN-aligned address; mmap(), munmap() and
 * the like at addresses inside an attachment act on the region, and every
 * attached process sees the result.  See mshare(7).
 */
#ifndef _UAPI_LINUX_MSHARE_H
#define _UAPI_LINUX_MSHARE_H

#include <linux/types.h>

/* mshare_create() flags */
#define MSHARE_CLOEXEC		0x0001U		/* close-on-exec on the new fd */
#define MSHARE_CREATE_FLAGS	(MSHARE_CLOEXEC)

/*
 * The region granularity: region sizes, attach addresses and the
 * page-table entry that attachments share (one PUD entry, 1 GiB on x86-64).
 */
#define MSHARE_ALIGN_SHIFT	30
#define MSHARE_ALIGN		(1ULL << MSHARE_ALIGN_SHIFT)

/* f_type of the filesystem that region files live on (statfs) */
#define MSHARE_MAGIC		0x4d534852	/* "MSHR" */

#ifndef __NR_mshare_create
#if defined(__x86_64__) && !defined(__ILP32__)
#define __NR_mshare_create	463
#endif
#endif

#endif /* _UAPI_LINUX_MSHARE_H */

/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * msharefs: names, permissions, stats and the ioctls of mshare regions.
 *
 * msharefs is mounted at /sys/fs/mshare (mount -t msharefs none
 * /sys/fs/mshare); every mount shows the same regions.  Its root holds one
 * file per named region and "mshare_info", which reads back the region
 * alignment in decimal.  The root is mode 1777, like /dev/shm.
 *
 * Creating a region by name, the mainline (mshare v3) way:
 *	fd = open("/sys/fs/mshare/NAME", O_RDWR | O_CREAT | O_EXCL, 0600);
 *	ftruncate(fd, size);	(or fallocate(fd, 0, 0, size): once)
 * The size is a non-zero multiple of the alignment (else -EINVAL) and is
 * set once: a later change gives -EBUSY, setting the same size again is a
 * no-op, and so is O_TRUNC.  Attaching or MSHAREFS_CREATE_MAPPING before
 * the size is set gives -EINVAL.  Opening by name obeys the file's mode and
 * owner; a read-only fd attaches read-only and cannot change the region.
 * unlink() removes only the name: fds and attachments keep the region.
 *
 * A region from mshare_create() is unnamed; MSHAREFS_LINK names it.
 * linkat() cannot: the fd lives on the kernel's own mount of msharefs, and
 * links across mounts give -EXDEV.
 *
 * read() of a region fd returns its stats as text, "key: value" lines (the
 * fields of struct mshare_stat, then "pids:" and the attached processes'
 * ids, space-separated, as MSHAREFS_GET_PIDS gives them) and then one
 * "mapping:" line per mapping in the region.  write() gives -EINVAL.
 */
#ifndef _UAPI_LINUX_MSHAREFS_H
#define _UAPI_LINUX_MSHAREFS_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MSHAREFS_MAGIC		0x4d534852	/* "MSHR" */

/*
 * MSHAREFS_CREATE_MAPPING: map @size bytes at @region_offset of the region,
 * as mmap(..., @prot, @flags, @fd, @offset) would.  @flags must hold
 * MAP_SHARED | MAP_FIXED (MAP_FIXED_NOREPLACE and MAP_POPULATE are taken);
 * @fd == -1 maps anonymous shared memory, with MAP_HUGETLB (and a
 * MAP_HUGE_* size) in huge pages.  Needs a writable region fd; works
 * without attaching.  Same ABI as the mshare v3 proposal.
 */
struct mshare_create {
	__u64 region_offset;
	__u64 size;
	__u64 offset;
	__u32 prot;
	__u32 flags;
	__u32 fd;
};

/* MSHAREFS_UNMAP: unmap [@region_offset, +@size) of the region. */
struct mshare_unmap {
	__u64 region_offset;
	__u64 size;
};

/*
 * MSHAREFS_LINK: give the region of this fd, which has no name (it comes
 * from mshare_create(), or its names were all unlinked), the name @name in
 * msharefs, owned by the caller's fsuid/fsgid, with permissions @mode & 0777
 * less the umask (other mode bits are ignored; "." and ".." give -EINVAL).
 * The fd must be open for writing (-EACCES), the caller
 * needs write permission on the msharefs root, the name must be free
 * (-EEXIST), and a region that has a name already gets -EBUSY: link(2)
 * gives it more.
 */
struct mshare_link {
	__u32 mode;
	__u32 __reserved;	/* must be 0 */
	char name[256];		/* NUL-terminated, no '/' */
};

/* MSHAREFS_GET_STAT: the region's figures, in bytes unless named. */
struct mshare_stat {
	__u64 size;		/* the region's size; 0 until set */
	__u64 attachments;	/* attached VMAs, in all processes */
	__u64 mappings;		/* mappings inside the region */
	__u64 resident;		/* resident pages mapped by the region, bytes */
	__u64 pgtable;		/* page tables the region holds */
	/*
	 * Measured from the region's page tables: the PMD and PTE tables
	 * that each attachment would need for what the region has mapped in
	 * its window (a PTE table per 2 MiB with any PTE table in the region,
	 * a PMD table per 1 GiB that has any entry), summed over the
	 * attachments, less what the region holds (pgtable); 0 if that is
	 * not positive.
	 */
	__u64 pgtable_saved;
	__u64 processes;	/* distinct processes attached */
	__u64 __reserved;
};

/*
 * MSHAREFS_GET_PIDS: the processes attached to the region (one entry per
 * process, however many attachments it has), as thread-group ids in the
 * caller's pid namespace (processes outside it are not listed).  @pids
 * points to @nr __s32 entries; on return @nr holds the number of attached
 * processes, which may be more than were written.
 */
struct mshare_pids {
	__u64 pids;		/* user pointer to __s32[nr] */
	__u32 nr;		/* in: capacity; out: processes attached */
	__u32 __reserved;	/* must be 0 */
};

#define MSHAREFS_CREATE_MAPPING	_IOW('x', 0, struct mshare_create)
#define MSHAREFS_UNMAP		_IOW('x', 1, struct mshare_unmap)
#define MSHAREFS_LINK		_IOW('x', 2, struct mshare_link)
#define MSHAREFS_GET_STAT	_IOR('x', 3, struct mshare_stat)
#define MSHAREFS_GET_PIDS	_IOWR('x', 4, struct mshare_pids)

#endif /* _UAPI_LINUX_MSHAREFS_H */

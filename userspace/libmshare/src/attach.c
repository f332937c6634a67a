/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libmshare: attaching regions and changing what is mapped inside them.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "internal.h"

#define PROT_ALL	(PROT_READ | PROT_WRITE | PROT_EXEC)
#define HUGE_BITS	((unsigned int)MAP_HUGE_MASK << MAP_HUGE_SHIFT)
#define MAP_ALLOWED	(MAP_SHARED | MAP_FIXED | MAP_FIXED_NOREPLACE | \
			 MAP_POPULATE | MAP_HUGETLB | HUGE_BITS)

static int is_aligned(uintptr_t v, uint64_t align)
{
	return !(v & (align - 1));
}

/*
 * Does anything of this process overlap [@lo, @hi)?  1, 0, or -1 if
 * /proc/self/maps cannot tell.  Only for error paths.
 */
static int range_in_use(uintptr_t lo, uintptr_t hi)
{
	unsigned long s, e;
	char line[512];
	int used = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	while (!used && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < hi && e > lo)
			used = 1;
		/* a line longer than the buffer: skip its rest */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	fclose(f);
	return used;
}

/*
 * Attach [@off, @off + @len) of the region behind @fd (@len 0: to its
 * end) at @addr; both checked against the region's size here, so that a
 * bad window is EINVAL before the kernel is asked.
 */
static int attach(int fd, size_t off, size_t len, void *addr, int prot,
		  void **out)
{
	struct mshare_stat st;
	int ret, fl, mflags = MAP_SHARED;
	void *p;

	if (!out || (prot & ~PROT_ALL) || !(prot & PROT_READ))
		return -EINVAL;
	if (addr && !is_aligned((uintptr_t)addr, MSHARE_ALIGN))
		return -EINVAL;
	if (!is_aligned(off, MSHARE_ALIGN) || !is_aligned(len, MSHARE_ALIGN))
		return -EINVAL;
	ret = mshare__get_stat(fd, &st);
	if (ret)
		return ret;
	if (!st.size || st.size > SIZE_MAX)
		return -EINVAL;		/* a named region whose size is not set */
	if (off >= st.size || len > st.size - off)
		return -EINVAL;		/* the window is not inside the region */
	if (!len)
		len = (size_t)(st.size - off);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return mshare__neg_errno();
	if ((fl & O_ACCMODE) == O_RDONLY)
		prot &= ~PROT_WRITE;	/* a read-only fd attaches read-only */
	if (addr)
		mflags |= MAP_FIXED_NOREPLACE;
	p = mmap(addr, len, prot, mflags, fd, (off_t)off);
	if (p == MAP_FAILED) {
		ret = mshare__neg_errno();
		/*
		 * The kernel refuses a region mapped over (part of) another
		 * attachment with EINVAL before MAP_FIXED_NOREPLACE's check:
		 * report what the caller asked about, a range not free.
		 */
		if (addr && ret == -EINVAL &&
		    range_in_use((uintptr_t)addr, (uintptr_t)addr + len) == 1)
			ret = -EEXIST;
		return ret;
	}
	if (addr && p != addr) {
		/* A kernel that ignores MAP_FIXED_NOREPLACE: do not keep it */
		munmap(p, len);
		return -EEXIST;
	}
	*out = p;
	return 0;
}

MSHARE_API int mshare_attach(int fd, void *addr, int prot, void **out)
{
	MSHARE_KEEP_ERRNO;

	return attach(fd, 0, 0, addr, prot, out);
}

MSHARE_API int mshare_attach_window(int fd, size_t off, size_t len,
				    void *addr, int prot, void **out)
{
	MSHARE_KEEP_ERRNO;

	if (!len)
		return -EINVAL;
	return attach(fd, off, len, addr, prot, out);
}

MSHARE_API int mshare_detach(void *addr, size_t size)
{
	MSHARE_KEEP_ERRNO;

	if (!addr || !size || !is_aligned((uintptr_t)addr, MSHARE_ALIGN) ||
	    !is_aligned(size, MSHARE_ALIGN))
		return -EINVAL;
	if (munmap(addr, size))
		return mshare__neg_errno();
	return 0;
}

/* Shared checks of the mapping functions; 0 or -EINVAL. */
static int check_range(size_t region_off, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);

	if (pg <= 0)
		pg = 4096;
	if (!len || region_off + len < region_off ||
	    !is_aligned(region_off, (uint64_t)pg) ||
	    !is_aligned(len, (uint64_t)pg))
		return -EINVAL;
	return 0;
}

static int check_map_args(size_t region_off, size_t len, int prot, int flags,
			  int file_fd, off_t file_off)
{
	if (check_range(region_off, len))
		return -EINVAL;
	if (prot & ~PROT_ALL)
		return -EINVAL;
	if ((unsigned int)flags & ~(unsigned int)MAP_ALLOWED)
		return -EINVAL;
	if (file_fd < -1)
		return -EBADF;
	if (file_fd >= 0 && (flags & (MAP_HUGETLB | HUGE_BITS)))
		return -EINVAL;		/* huge pages come with the file */
	if (file_off < 0 || (file_fd == -1 && file_off))
		return -EINVAL;
	return 0;
}

MSHARE_API int mshare_map(int fd, size_t region_off, size_t len, int prot,
			  int flags, int file_fd, off_t file_off)
{
	MSHARE_KEEP_ERRNO;
	struct mshare_create mc;
	int ret;

	ret = check_map_args(region_off, len, prot, flags, file_fd, file_off);
	if (ret)
		return ret;
	ret = mshare__check_fs(fd);	/* never another driver's ioctl */
	if (ret)
		return ret;
	memset(&mc, 0, sizeof(mc));
	mc.region_offset = region_off;
	mc.size = len;
	mc.offset = (uint64_t)file_off;
	mc.prot = (uint32_t)prot;
	mc.flags = (uint32_t)(flags | MAP_SHARED | MAP_FIXED);
	mc.fd = (uint32_t)file_fd;
	if (ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc))
		return errno == ENOTTY ? -EINVAL : mshare__neg_errno();
	return 0;
}

MSHARE_API int mshare_map_at(void *base, size_t region_off, size_t len,
			     int prot, int flags, int file_fd, off_t file_off)
{
	MSHARE_KEEP_ERRNO;
	char *addr;
	void *p;
	int ret;

	if (!base || !is_aligned((uintptr_t)base, MSHARE_ALIGN))
		return -EINVAL;
	ret = check_map_args(region_off, len, prot, flags, file_fd, file_off);
	if (ret)
		return ret;
	addr = (char *)base + region_off;
	if (!(flags & MAP_FIXED_NOREPLACE))
		flags |= MAP_FIXED;
	flags |= MAP_SHARED;
	if (file_fd == -1)
		flags |= MAP_ANONYMOUS;
	p = mmap(addr, len, prot, flags, file_fd, file_off);
	if (p == MAP_FAILED)
		return mshare__neg_errno();
	if (p != addr) {
		munmap(p, len);
		return -EEXIST;
	}
	return 0;
}

MSHARE_API int mshare_unmap(int fd, size_t region_off, size_t len)
{
	MSHARE_KEEP_ERRNO;
	struct mshare_unmap mu;
	int ret;

	if (check_range(region_off, len))
		return -EINVAL;
	ret = mshare__check_fs(fd);
	if (ret)
		return ret;
	memset(&mu, 0, sizeof(mu));
	mu.region_offset = region_off;
	mu.size = len;
	if (ioctl(fd, MSHAREFS_UNMAP, &mu))
		return errno == ENOTTY ? -EINVAL : mshare__neg_errno();
	return 0;
}

MSHARE_API int mshare_unmap_at(void *base, size_t region_off, size_t len)
{
	MSHARE_KEEP_ERRNO;

	if (!base || !is_aligned((uintptr_t)base, MSHARE_ALIGN) ||
	    check_range(region_off, len))
		return -EINVAL;
	if (munmap((char *)base + region_off, len))
		return mshare__neg_errno();
	return 0;
}

MSHARE_API int mshare_protect_at(void *base, size_t region_off, size_t len,
				 int prot)
{
	MSHARE_KEEP_ERRNO;

	if (!base || !is_aligned((uintptr_t)base, MSHARE_ALIGN) ||
	    check_range(region_off, len) || (prot & ~PROT_ALL))
		return -EINVAL;
	if (mprotect((char *)base + region_off, len, prot))
		return mshare__neg_errno();
	return 0;
}

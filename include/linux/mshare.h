/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mshare: the hooks that the core mm calls.  The implementation is in
 * mm/mshare/; see Documentation there and include/uapi/linux/mshare.h.
 */
#ifndef _LINUX_MSHARE_H
#define _LINUX_MSHARE_H

#include <linux/jump_label.h>
#include <linux/mm_types.h>
#include <linux/sched/coredump.h>

struct mmu_gather;
struct pt_regs;

#ifdef CONFIG_MSHARE

/* Is @mm the address space of an mshare region (one that no task runs in)? */
static inline bool mm_is_mshare(const struct mm_struct *mm)
{
	return test_bit(MMF_MSHARE, &mm->flags);
}

vm_fault_t mshare_fault(struct vm_area_struct *vma, unsigned long address,
			unsigned int flags, struct pt_regs *regs);
void mshare_unmap_vma(struct mmu_gather *tlb, struct vm_area_struct *vma,
		      unsigned long start, unsigned long end);
bool __mshare_mmap_inside(struct mm_struct *mm, struct file *file,
			  unsigned long addr, unsigned long len,
			  unsigned long prot, unsigned long flags,
			  vm_flags_t vm_flags, unsigned long pgoff,
			  unsigned long *ret);
bool __mshare_munmap_inside(struct mm_struct *mm, unsigned long start,
			    size_t len, int *ret);
bool __mshare_mprotect_inside(struct mm_struct *mm, unsigned long start,
			      size_t len, unsigned long prot, int pkey,
			      int *ret);
bool __mshare_madvise_inside(struct mm_struct *mm, unsigned long start,
			     size_t len, int behavior, int *ret);
bool __mshare_msync_inside(struct mm_struct *mm, unsigned long start,
			   size_t len, int flags, int *ret);
bool __mshare_mlock_inside(struct mm_struct *mm, unsigned long start,
			   size_t len, vm_flags_t flags, int *ret);
void mshare_flush_tlb(struct mm_struct *mm);

/* Set once the first region is created; gates the futex lookup. */
DECLARE_STATIC_KEY_FALSE(mshare_in_use);
struct mm_struct *__mshare_futex_mm(struct mm_struct *mm,
				    unsigned long *address);

/*
 * A fixed mmap() whose range meets an attachment: made in the region if it
 * lies inside the attachment (returns true with the result in *@ret).
 */
static inline bool mshare_mmap_inside(struct mm_struct *mm, struct file *file,
				      unsigned long addr, unsigned long len,
				      unsigned long prot, unsigned long flags,
				      vm_flags_t vm_flags, unsigned long pgoff,
				      unsigned long *ret)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return false;
	return __mshare_mmap_inside(mm, file, addr, len, prot, flags, vm_flags,
				    pgoff, ret);
}

/*
 * munmap(), mprotect(), madvise(), msync() and mlock() of a range strictly
 * inside an attachment act on the region: they return true with the result
 * in *@ret.
 * A range that partly covers an attachment gets -EINVAL.  Otherwise they
 * return false and the caller goes on as usual.
 */
static inline bool mshare_munmap_inside(struct mm_struct *mm,
					unsigned long start, size_t len,
					int *ret)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return false;
	return __mshare_munmap_inside(mm, start, len, ret);
}

static inline bool mshare_mprotect_inside(struct mm_struct *mm,
					  unsigned long start, size_t len,
					  unsigned long prot, int pkey,
					  int *ret)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return false;
	return __mshare_mprotect_inside(mm, start, len, prot, pkey, ret);
}

static inline bool mshare_madvise_inside(struct mm_struct *mm,
					 unsigned long start, size_t len,
					 int behavior, int *ret)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return false;
	return __mshare_madvise_inside(mm, start, len, behavior, ret);
}

static inline bool mshare_msync_inside(struct mm_struct *mm,
				       unsigned long start, size_t len,
				       int flags, int *ret)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return false;
	return __mshare_msync_inside(mm, start, len, flags, ret);
}

bool __mshare_range_meets_attachment(struct mm_struct *mm,
				     unsigned long start, unsigned long end);

/*
 * Does [@start, @end) of @mm meet an attachment?  For calls that a region
 * cannot take from one sharer (mbind()).  The caller holds @mm's mmap_lock.
 */
static inline bool mshare_range_meets_attachment(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return false;
	return __mshare_range_meets_attachment(mm, start, end);
}

/* mlock() (@flags with VM_LOCKED) or munlock() (@flags 0) */
static inline bool mshare_mlock_inside(struct mm_struct *mm,
				       unsigned long start, size_t len,
				       vm_flags_t flags, int *ret)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return false;
	return __mshare_mlock_inside(mm, start, len, flags, ret);
}

/*
 * A shared futex on an anonymous page is keyed by (mm, address).  Inside an
 * attachment that must be the region's mm and address, which every sharer
 * has in common.  Returns that mm, with a reference to drop with mmdrop(),
 * and translates *@address; or NULL if @address is in no attachment.
 */
static inline struct mm_struct *mshare_futex_mm(struct mm_struct *mm,
						unsigned long *address)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return NULL;
	return __mshare_futex_mm(mm, address);
}

/*
 * Between the region core (mm/mshare) and msharefs (fs/msharefs), which
 * gives regions their inodes, names and file operations.
 */
struct mshare_region;
struct mshare_create;
struct mshare_stat;
struct seq_buf;

struct mshare_region *mshare_region_alloc(void);
void mshare_region_free(struct mshare_region *r);
int mshare_region_set_size(struct mshare_region *r, loff_t size);
unsigned long mshare_region_size(struct mshare_region *r);
int mshare_region_mmap(struct file *file, struct vm_area_struct *vma);
unsigned long mshare_get_unmapped_area(struct file *file, unsigned long addr,
				       unsigned long len, unsigned long pgoff,
				       unsigned long flags);
long mshare_region_create_mapping(struct mshare_region *r,
				  const struct mshare_create *mc);
long mshare_region_unmap(struct mshare_region *r, u64 offset, u64 size);
void mshare_region_stat(struct mshare_region *r, struct mshare_stat *st);
void mshare_region_show(struct mshare_region *r, struct seq_buf *s);
int mshare_region_fsync(struct mshare_region *r, loff_t start, loff_t end,
			int datasync);

/* fs/msharefs */
bool is_mshare_file(struct file *file);
struct mshare_region *mshare_file_region(struct file *file);
struct file *msharefs_create_unnamed(unsigned long size, int flags);

#else /* !CONFIG_MSHARE */

static inline bool mm_is_mshare(const struct mm_struct *mm)
{
	return false;
}

static inline vm_fault_t mshare_fault(struct vm_area_struct *vma,
				      unsigned long address, unsigned int flags,
				      struct pt_regs *regs)
{
	return VM_FAULT_SIGBUS;
}

static inline void mshare_unmap_vma(struct mmu_gather *tlb,
				    struct vm_area_struct *vma,
				    unsigned long start, unsigned long end)
{
}

static inline bool mshare_mmap_inside(struct mm_struct *mm, struct file *file,
				      unsigned long addr, unsigned long len,
				      unsigned long prot, unsigned long flags,
				      vm_flags_t vm_flags, unsigned long pgoff,
				      unsigned long *ret)
{
	return false;
}

static inline void mshare_flush_tlb(struct mm_struct *mm)
{
}

static inline struct mm_struct *mshare_futex_mm(struct mm_struct *mm,
						unsigned long *address)
{
	return NULL;
}

static inline bool mshare_munmap_inside(struct mm_struct *mm,
					unsigned long start, size_t len,
					int *ret)
{
	return false;
}

static inline bool mshare_mprotect_inside(struct mm_struct *mm,
					  unsigned long start, size_t len,
					  unsigned long prot, int pkey,
					  int *ret)
{
	return false;
}

static inline bool mshare_madvise_inside(struct mm_struct *mm,
					 unsigned long start, size_t len,
					 int behavior, int *ret)
{
	return false;
}

static inline bool mshare_msync_inside(struct mm_struct *mm,
				       unsigned long start, size_t len,
				       int flags, int *ret)
{
	return false;
}

static inline bool mshare_mlock_inside(struct mm_struct *mm,
				       unsigned long start, size_t len,
				       vm_flags_t flags, int *ret)
{
	return false;
}

static inline bool mshare_range_meets_attachment(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	return false;
}

#endif /* CONFIG_MSHARE */
#endif /* _LINUX_MSHARE_H */

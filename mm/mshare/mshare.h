/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mshare internals.
 *
 * A region is an mm_struct that no task runs in (MMF_MSHARE).  It holds its
 * own VMAs, at region addresses [MSHARE_BASE, MSHARE_BASE + size), and its
 * own page tables.  A process attaches it with mmap() of the region's file:
 * the attachment is an ordinary VMA of the process, marked VM_MSHARE, whose
 * PUD entries point at the region's PMD tables.  Those PMD tables (and the
 * PUD and P4D tables above them) live as long as the region; only PTE tables
 * come and go under them.
 *
 * Locking order:
 *   process mmap_lock (or the attachment's per-VMA lock)
 *     region mmap_lock (its own lockdep class; never taken the other way)
 *       region page-table locks
 *     process PUD lock (mm->page_table_lock), never nested in a region lock
 */
#ifndef _MM_MSHARE_H
#define _MM_MSHARE_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mshare.h>

/* Region address of offset 0.  Anything PUD-aligned above mmap_min_addr. */
#define MSHARE_BASE	PUD_SIZE
#define MSHARE_MAX_SIZE	((TASK_SIZE_MAX & PUD_MASK) - MSHARE_BASE)

struct mshare_region {
	struct mm_struct *mm;		/* the region's address space */
	unsigned long size;		/* bytes, a multiple of PUD_SIZE; 0 until set */
	atomic_t nr_attach;		/* attachment VMAs, in all processes */
	kuid_t uid;			/* charged for size (vm.mshare_max_bytes) */
	struct list_head user_node;	/* in the user's regions, once sized */
};

unsigned long mshare_user_locked_elsewhere(struct mshare_region *r);

void mshare_populate(struct mm_struct *rmm, unsigned long start,
		     unsigned long end);
int mshare_link_all(struct vm_area_struct *vma);

/* An attachment's region: msharefs keeps it in the region inode. */
static inline struct mshare_region *mshare_vma_region(struct vm_area_struct *vma)
{
	return file_inode(vma->vm_file)->i_private;
}

/* May attachment @vma change the region?  Writable, of a writable fd. */
static inline bool mshare_may_change(struct vm_area_struct *vma)
{
	return (vma->vm_flags & VM_WRITE) && (vma->vm_file->f_mode & FMODE_WRITE);
}

/* The region address that @addr in attachment @vma stands for. */
static inline unsigned long mshare_region_addr(struct vm_area_struct *vma,
					       unsigned long addr)
{
	return MSHARE_BASE + (addr - vma->vm_start);
}

#endif /* _MM_MSHARE_H */

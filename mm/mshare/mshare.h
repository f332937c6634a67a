/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mshare internals.
 *
 * A region is an mm_struct that no task runs in (MMF_MSHARE).  It holds its
 * own VMAs, at region addresses [MSHARE_BASE, MSHARE_BASE + size), and its
 * own page tables.  A process attaches it with mmap() of the region's file:
 * the attachment is an ordinary VMA of the process, marked VM_MSHARE, whose
 * PUD entries point at the region's PMD tables.  It maps all of the region,
 * or a window of it: [off, off + len) of the region, both multiples of
 * PUD_SIZE, from mmap()'s offset (the VMA's vm_pgoff) and length.  Those PMD tables (and the
 * PUD and P4D tables above them) live as long as the region; only PTE tables
 * come and go under them.
 *
 * Every attachment is on its region's list of sharers, which TLB flushes,
 * mmu-notifier invalidations and accounting of the region walk: see
 * sharers.c, and its lock order.
 *
 * Locking order:
 *   process mmap_lock (or the attachment's per-VMA lock)
 *     region mmap_lock (its own lockdep class; never taken the other way)
 *       region page-table locks
 *         region->sharers_lock (a flush)
 *     process PUD lock (mm->page_table_lock), never nested in a region lock
 */
#ifndef _MM_MSHARE_H
#define _MM_MSHARE_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
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
	struct mem_cgroup *memcg;	/* the creator's, for khugepaged */
	/* The sharers (see sharers.c) */
	spinlock_t sharers_lock;	/* sharers, inflight */
	struct list_head sharers;	/* struct mshare_sharer */
	int inflight;			/* invalidations between start and end */
	struct mmu_notifier mn;		/* forwards to the sharers' notifiers */
	struct rcu_head rcu;
};

/* An attachment, as its region sees it: vm_private_data of the VMA. */
struct mshare_sharer {
	struct list_head node;		/* in region->sharers */
	struct hlist_node mm_node;	/* in mshare_mms, by mm */
	struct mm_struct *mm;		/* the sharer's */
	struct mshare_region *region;
	unsigned long start, end;	/* the attachment, in mm */
	unsigned long rstart;		/* the region address that start maps */
};

extern struct xarray mshare_regions;
int mshare_sharers_init(struct mshare_region *r);
void mshare_sharers_exit(struct mshare_region *r);
int mshare_sharer_add(struct vm_area_struct *vma, gfp_t gfp);
void mshare_sharer_del(struct vm_area_struct *vma);
unsigned int mshare_region_pids(struct mshare_region *r, pid_t *pids,
				unsigned int nr);
unsigned int mshare_region_sharers_at(struct mshare_region *r,
				      unsigned long raddr);

unsigned long mshare_user_locked_elsewhere(struct mshare_region *r);

void mshare_populate(struct mm_struct *rmm, unsigned long start,
		     unsigned long end);
int mshare_link_all(struct vm_area_struct *vma);
void mshare_unlink_all(struct vm_area_struct *vma);
pud_t mshare_region_pud(struct mm_struct *rmm, unsigned long raddr);

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

/*
 * The region address that @addr in attachment @vma stands for.  An
 * attachment maps the region from the file offset it was made at (its
 * window, a multiple of PUD_SIZE), which is the VMA's vm_pgoff.
 */
static inline unsigned long mshare_region_addr(struct vm_area_struct *vma,
					       unsigned long addr)
{
	return MSHARE_BASE + (vma->vm_pgoff << PAGE_SHIFT) +
	       (addr - vma->vm_start);
}

#endif /* _MM_MSHARE_H */

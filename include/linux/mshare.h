/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mshare: the hooks that the core mm calls.  The implementation is in
 * mm/mshare/; see Documentation there and include/uapi/linux/mshare.h.
 */
#ifndef _LINUX_MSHARE_H
#define _LINUX_MSHARE_H

#include <linux/jump_label.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/coredump.h>

struct arch_tlbflush_unmap_batch;
struct mmu_gather;
struct pt_regs;

#ifdef CONFIG_MSHARE

/* Is @mm the address space of an mshare region (one that no task runs in)? */
static inline bool mm_is_mshare(const struct mm_struct *mm)
{
	return test_bit(MMF_MSHARE, &mm->flags);
}

/* Set once the first region is created; gates every mshare hook. */
DECLARE_STATIC_KEY_FALSE(mshare_in_use);

/*
 * The boundary between a process and a region lives in the page tables.
 * Every PMD table of a region carries its owner, the region's mm, in
 * ptdesc->__page_mapping, which no page table uses otherwise and which is
 * NULL for every other one (page->mapping is NULL on allocation, and a
 * region's tables are unmarked before they are freed).  Not pt_mm: that
 * shares its word with hugetlb's pt_share_count, which would then see a
 * region's table as shared.  A process's PUD entry that points at such a
 * table was linked by an attachment; the generic walkers that change page
 * tables do not go through it (zap, change_protection, fork's copy, mremap,
 * free_pgtables, walk_page_range), whatever the VMA's flags say.  Readers that must see
 * region memory cross deliberately, as the region: GUP (through the
 * region's VMA), pagemap and mincore (walk_page_range with mshare_read).
 */
/* The region that owns page table @ptdesc, if that is not @mm; or NULL. */
static inline struct mm_struct *mshare_table_foreign(struct mm_struct *mm,
						     struct ptdesc *ptdesc)
{
	struct mm_struct *owner;

	owner = (struct mm_struct *)READ_ONCE(ptdesc->__page_mapping);
	return owner == mm ? NULL : owner;
}

/*
 * The region that owns the PMD table @pud points to, if that is not @mm:
 * @mm then reaches the region through an attachment.  NULL otherwise.
 */
static inline struct mm_struct *mshare_pud_foreign(struct mm_struct *mm,
						   pud_t pud)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return NULL;
	if (!pud_present(pud) || pud_leaf(pud))
		return NULL;
	return mshare_table_foreign(mm, virt_to_ptdesc(pud_pgtable(pud)));
}

/*
 * DEBUG_VM tripwire: is @pmd, an entry of a PMD table, in a region's table
 * while @mm is not that region?  Then a walker of a sharer's mm is about to
 * lock (and change) the region's PTEs through an attachment.  @pmd may be a
 * copy on the stack: only a table in the direct map can be a region's.
 */
static inline bool mshare_pmd_foreign(struct mm_struct *mm, pmd_t *pmd)
{
	if (!IS_ENABLED(CONFIG_DEBUG_VM) ||
	    !static_branch_unlikely(&mshare_in_use))
		return false;
	return virt_addr_valid(pmd) &&
	       mshare_table_foreign(mm, virt_to_ptdesc(pmd));
}

vm_fault_t mshare_fault(struct vm_area_struct *vma, unsigned long address,
			unsigned int flags, struct pt_regs *regs);
void mshare_unlink_pud(struct mmu_gather *tlb, pud_t *pud,
		       unsigned long addr);
pmd_t *mshare_huge_pmd_alloc(struct mm_struct *rmm, pud_t *pud,
			     unsigned long addr);

/*
 * hugetlb's lookup of PMD entry @pmd of @mm (huge_pte_offset()): does it
 * point to a PTE table that a region kept?  Such a table is empty (see
 * mshare_huge_pmd_alloc()) and holds no hugetlb entry, so every hugetlb
 * walker (unmap, teardown, mprotect, GUP, page walks, rmap) must see none
 * there, never take the table for a huge page.  Under a hugetlb VMA of a
 * region the entry is none, huge, a swap entry or an empty kept table, and
 * only mshare_huge_pmd_alloc() changes a table there (to none, under the
 * PMD and PTE locks), so a lockless read is stable enough: a table read
 * here is a hole either way.
 */
static inline bool mshare_huge_pmd_kept_table(struct mm_struct *mm,
					      pmd_t *pmd)
{
	pmd_t v;

	if (!mm_is_mshare(mm))
		return false;
	v = pmdp_get_lockless(pmd);
	return pmd_present(v) && !pmd_leaf(v);
}

struct vm_area_struct *mshare_lock_region_vma(struct vm_area_struct *vma,
					      unsigned long addr,
					      unsigned long *raddr);
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
void mshare_flush_tlb_range(struct mm_struct *rmm, unsigned long start,
			    unsigned long end, unsigned int stride_shift,
			    bool freed_tables);
void mshare_tlbbatch_add_pending(struct arch_tlbflush_unmap_batch *batch,
				 struct mm_struct *rmm, unsigned long uaddr);
bool mshare_tlbbatch_should_defer(struct mm_struct *rmm);
bool mshare_mm_attached(struct mm_struct *mm);
unsigned long __mshare_mm_rss(struct mm_struct *mm, bool share);
int mshare_vma_sharers(struct vm_area_struct *vma);

/*
 * Region pages that @mm reaches through its attachments: once per
 * attachment, as RSS counts a page per PTE (RssMshare, in VmRSS), or with
 * @share, each attachment's share (divided by the region's attachments:
 * OOM badness).  Never sleeps.
 */
static inline unsigned long mshare_mm_rss(struct mm_struct *mm, bool share)
{
	if (!static_branch_unlikely(&mshare_in_use))
		return 0;
	return __mshare_mm_rss(mm, share);
}

struct mem_cgroup *mshare_mm_memcg(struct mm_struct *rmm);
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
struct mshare_pids;
long mshare_region_get_pids(struct mshare_region *r,
			    struct mshare_pids __user *arg);
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

static inline struct mm_struct *mshare_pud_foreign(struct mm_struct *mm,
						   pud_t pud)
{
	return NULL;
}

static inline bool mshare_pmd_foreign(struct mm_struct *mm, pmd_t *pmd)
{
	return false;
}

static inline struct mem_cgroup *mshare_mm_memcg(struct mm_struct *rmm)
{
	return NULL;
}

static inline void mshare_unlink_pud(struct mmu_gather *tlb, pud_t *pud,
				     unsigned long addr)
{
}

static inline pmd_t *mshare_huge_pmd_alloc(struct mm_struct *rmm, pud_t *pud,
					   unsigned long addr)
{
	return NULL;
}

static inline bool mshare_huge_pmd_kept_table(struct mm_struct *mm,
					      pmd_t *pmd)
{
	return false;
}

static inline struct vm_area_struct *
mshare_lock_region_vma(struct vm_area_struct *vma, unsigned long addr,
		       unsigned long *raddr)
{
	return NULL;
}

static inline bool mshare_mmap_inside(struct mm_struct *mm, struct file *file,
				      unsigned long addr, unsigned long len,
				      unsigned long prot, unsigned long flags,
				      vm_flags_t vm_flags, unsigned long pgoff,
				      unsigned long *ret)
{
	return false;
}

static inline unsigned long mshare_mm_rss(struct mm_struct *mm, bool share)
{
	return 0;
}

static inline void mshare_flush_tlb_range(struct mm_struct *rmm,
					  unsigned long start,
					  unsigned long end,
					  unsigned int stride_shift,
					  bool freed_tables)
{
}

static inline void
mshare_tlbbatch_add_pending(struct arch_tlbflush_unmap_batch *batch,
			    struct mm_struct *rmm, unsigned long uaddr)
{
}

static inline bool mshare_tlbbatch_should_defer(struct mm_struct *rmm)
{
	return false;
}

static inline bool mshare_mm_attached(struct mm_struct *mm)
{
	return false;
}

static inline int mshare_vma_sharers(struct vm_area_struct *vma)
{
	return 1;
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

/*
 * Advice that madvise() of a whole attachment applies to the attachment
 * VMA itself, for the calling process alone: whether fork() copies it
 * (MADV_DONTFORK, MADV_DOFORK), whether a core dump holds it
 * (MADV_DONTDUMP, MADV_DODUMP), and MADV_WIPEONFORK and MADV_KEEPONFORK,
 * which madvise_vma_behavior() judges as for any shared file mapping.
 * Every other advice is refused on an attachment VMA: mshare hands it to
 * the region instead (see mm/mshare/ops.c).
 */
static inline bool mshare_attachment_advice(int behavior)
{
	switch (behavior) {
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_DONTDUMP:
	case MADV_DODUMP:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
		return true;
	default:
		return false;
	}
}

#endif /* _LINUX_MSHARE_H */
